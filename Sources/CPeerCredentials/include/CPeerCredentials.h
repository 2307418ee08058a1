#ifndef TWOFACTORD_CPEERCREDENTIALS_H
#define TWOFACTORD_CPEERCREDENTIALS_H
#include <sys/types.h>

/// The layout of Linux's `struct ucred`, which glibc only declares under `_GNU_SOURCE`
/// and which Swift's Glibc module therefore lacks. `getsockopt(SOL_SOCKET, SO_PEERCRED)`
/// fills it with the pid, uid and gid of the process that connected.
typedef struct twofactord_ucred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
} twofactord_ucred;

/// `SO_PEERPIDFD` (Linux 6.5): a pidfd of the process that connected, the one SO_PEERCRED names.
/// Debian 12's kernel headers predate it, so its number is given here; older kernels answer ENOPROTOOPT.
#define TWOFACTORD_SO_PEERPIDFD 77

#endif
