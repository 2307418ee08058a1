#ifndef CSPAWNCLOSEFROM_H
#define CSPAWNCLOSEFROM_H

#include <spawn.h>

/// glibc's posix_spawn_file_actions_addclosefrom_np (glibc 2.34), which Swift's Glibc module does not
/// import: the child closes every descriptor from `from` up, at the moment it starts.
int spawn_file_actions_add_close_from(posix_spawn_file_actions_t *actions, int from);

#endif
