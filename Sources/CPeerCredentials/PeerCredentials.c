#define _GNU_SOURCE
#include <sys/socket.h>
#include "CPeerCredentials.h"

_Static_assert(sizeof(struct ucred) == sizeof(twofactord_ucred), "twofactord_ucred must match struct ucred");
_Static_assert(__builtin_offsetof(struct ucred, uid) == __builtin_offsetof(twofactord_ucred, uid), "uid offset");
_Static_assert(__builtin_offsetof(struct ucred, gid) == __builtin_offsetof(twofactord_ucred, gid), "gid offset");

#ifdef SO_PEERPIDFD
_Static_assert(SO_PEERPIDFD == TWOFACTORD_SO_PEERPIDFD, "SO_PEERPIDFD number");
#endif
