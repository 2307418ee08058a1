#include <malloc.h>
#include "CMallocArenas.h"

int twofactord_set_malloc_arena_max(int arenas) {
    return mallopt(M_ARENA_MAX, arenas);
}
