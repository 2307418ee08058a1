/*
 * The twofactord protocol (docs/protocol.md), client side, for the PAM module.
 *
 * MUSTs kept here:
 * - nothing is sent before the socket's peer (SO_PEERCRED) is root or the daemon's user;
 * - every read and write is bounded by one deadline per exchange, so a silent daemon cannot hang
 *   the login; a length prefix is checked before any body is buffered;
 * - an answer that breaks docs/protocol.md in any way is an error, never a success;
 * - request buffers that held a password or a code, and answer buffers, which may hold a secret (even an
 *   answer cut short), are wiped before they are freed.
 */
#ifndef TFD_CLIENT_H
#define TFD_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum tfd_status {
    TFD_OK = 0,
    TFD_UNREACHABLE,   /* no socket, nobody listening, connect failed */
    TFD_UNTRUSTED,     /* the peer is neither root nor the daemon's user */
    TFD_TIMEOUT,       /* no complete answer before the deadline */
    TFD_PROTOCOL,      /* the peer broke docs/protocol.md, or closed early */
    TFD_INVALID_INPUT, /* a value breaks a field limit; nothing was sent */
    TFD_BUSY,          /* the daemon refused the connection busy (past its connection cap); detail holds its words */
    TFD_TOO_MANY,      /* the daemon refused the connection: this user's own share is full; detail holds its words */
};

enum tfd_code_kind { TFD_CODE_NONE = 0, TFD_CODE_TOTP = 1, TFD_CODE_RECOVERY = 2 };

enum tfd_answer_type {
    TFD_ANSWER_ERROR = 0x80,
    TFD_ANSWER_LOGIN_RESULT = 0x90,
    TFD_ANSWER_RECOVERY_CODES = 0x94, /* ok, after an enrollment: the new recovery codes, shown once */
    TFD_ANSWER_RECOVERY_LOGIN = 0x95, /* ok, with a recovery code: how many are left */
    TFD_ANSWER_ENROLL_SCREEN = 0xA0,
};

enum tfd_outcome { TFD_OK_OUTCOME = 0, TFD_CODE_NEEDED = 1, TFD_ENROLL = 2, TFD_DENIED = 3, TFD_LOCKED = 4 };

/* The error codes the module treats specially (docs/protocol.md, "Error codes"). */
enum {
    TFD_ERR_MALFORMED = 1,
    TFD_ERR_NOT_PERMITTED = 6,
    TFD_ERR_NO_SUCH_ACCOUNT = 7,
    TFD_ERR_BUSY = 14,
    TFD_ERR_TOO_MANY_REQUESTS = 31
};

struct tfd_answer {
    int type;               /* enum tfd_answer_type */
    int outcome;            /* LoginResult */
    uint32_t retry_after;   /* LoginResult locked */
    unsigned error_code;    /* Error */
    char text[1025];        /* Error message, or the otpauth URI of enroll */
    char *screen;           /* EnrollScreen: the QR code as text lines; RecoveryCodes: one code a line
                               (malloc'd, may be NULL) */
    unsigned recovery_left; /* RecoveryLogin */
};

struct tfd_connection {
    int fd;
    int timeout_ms;
    uint32_t next_id;
    uid_t peer_uid;
    int hello_pending;      /* the Hello was sent; its answer is read before the first request's */
    uint32_t hello_id;
    char detail[256];       /* why the last call failed, for syslog; never holds a secret */
};

/*
 * Connects, checks the peer (uid 0 or trusted_uid; pass (uid_t)-1 for root only) and sends the Hello, whose
 * answer the first request reads before its own: one round trip fewer. A refused Hello fails that request.
 */
enum tfd_status tfd_open(struct tfd_connection *c, const char *path, int timeout_seconds, uid_t trusted_uid);
void tfd_close(struct tfd_connection *c);

/*
 * LoginFrom (0x11), or LoginFromInvoker (0x13) when invoker is not 0. code is NULL or "" for none.
 * invoker is the process's real uid (getuid()): inside su or sudo the user who ran them, 0 in sshd or login.
 */
enum tfd_status tfd_login_from(struct tfd_connection *c, const char *user, const char *password, const char *code,
                               const char *service, const char *rhost, uid_t invoker, struct tfd_answer *answer);
/* CodeCheck (0x12), or CodeCheckFromInvoker (0x14) when invoker is not 0. code is NULL or "" for none. */
enum tfd_status tfd_code_check(struct tfd_connection *c, const char *user, const char *code, const char *service,
                               const char *rhost, uid_t invoker, struct tfd_answer *answer);

void tfd_answer_free(struct tfd_answer *answer);

#endif
