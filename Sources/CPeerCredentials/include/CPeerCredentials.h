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

#endif
