#define _GNU_SOURCE
#include "CSpawnCloseFrom.h"

int spawn_file_actions_add_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
