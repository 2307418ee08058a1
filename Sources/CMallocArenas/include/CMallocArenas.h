#ifndef TWOFACTORD_CMALLOCARENAS_H
#define TWOFACTORD_CMALLOCARENAS_H

/// Caps the malloc arenas glibc creates at `arenas`: `mallopt(M_ARENA_MAX, arenas)`, which Swift's
/// Glibc module cannot call because it leaves out <malloc.h>. Returns 1 when glibc took the setting,
/// 0 when it refused it.
int twofactord_set_malloc_arena_max(int arenas);

#endif
