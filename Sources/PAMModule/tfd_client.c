/* The client half of docs/protocol.md in C; see tfd_client.h for the rules it keeps. */
#define _GNU_SOURCE
#include "tfd_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST_BODY 1024
#define MAX_RESPONSE_BODY 65536
#define MIN_BODY 5

/* A request body under construction; `failed` is set when a field breaks its limit. */
struct writer {
    unsigned char bytes[4 + MAX_REQUEST_BODY];
    size_t length;
    int failed;
};

static void put_u8(struct writer *w, unsigned value) {
    if (w->length + 1 > sizeof w->bytes) { w->failed = 1; return; }
    w->bytes[w->length++] = (unsigned char)value;
}

static void put_u16(struct writer *w, unsigned value) {
    put_u8(w, (value >> 8) & 0xFF);
    put_u8(w, value & 0xFF);
}

static void put_u32(struct writer *w, uint32_t value) {
    put_u16(w, value >> 16);
    put_u16(w, value & 0xFFFF);
}

/* A str field of at most `maximum` bytes (docs/protocol.md, "Field types"). */
static void put_str(struct writer *w, const char *text, size_t minimum, size_t maximum) {
    size_t length = text ? strlen(text) : 0;
    if (length < minimum || length > maximum || w->length + 2 + length > sizeof w->bytes) { w->failed = 1; return; }
    put_u16(w, (unsigned)length);
    if (length) memcpy(w->bytes + w->length, text, length);
    w->length += length;
}

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes. */
static enum tfd_status wait_for(struct tfd_connection *c, short events, long long deadline) {
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return TFD_TIMEOUT;
        struct pollfd p = {.fd = c->fd, .events = events};
        int ready = poll(&p, 1, (int)left);
        if (ready > 0) return TFD_OK;
        if (ready == 0) return TFD_TIMEOUT;
        if (errno != EINTR) return TFD_PROTOCOL;
    }
}

static enum tfd_status write_all(struct tfd_connection *c, const unsigned char *bytes, size_t length,
                                 long long deadline) {
    size_t offset = 0;
    while (offset < length) {
        enum tfd_status s = wait_for(c, POLLOUT, deadline);
        if (s != TFD_OK) return s;
        ssize_t sent = send(c->fd, bytes + offset, length - offset, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) offset += (size_t)sent;
        else if (sent < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        else {
            snprintf(c->detail, sizeof c->detail, "send: %s", strerror(errno));
            return TFD_PROTOCOL;
        }
    }
    return TFD_OK;
}

static enum tfd_status read_exactly(struct tfd_connection *c, unsigned char *bytes, size_t length,
                                    long long deadline) {
    size_t offset = 0;
    while (offset < length) {
        enum tfd_status s = wait_for(c, POLLIN, deadline);
        if (s != TFD_OK) return s;
        ssize_t got = recv(c->fd, bytes + offset, length - offset, MSG_DONTWAIT);
        if (got > 0) offset += (size_t)got;
        else if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        else {
            snprintf(c->detail, sizeof c->detail, "the daemon closed the connection before answering");
            return TFD_PROTOCOL;
        }
    }
    return TFD_OK;
}

/* A decoding cursor over one response body. */
struct reader {
    const unsigned char *bytes;
    size_t length, offset;
    int failed;
};

static unsigned get_u8(struct reader *r) {
    if (r->offset + 1 > r->length) { r->failed = 1; return 0; }
    return r->bytes[r->offset++];
}

static unsigned get_u16(struct reader *r) { unsigned high = get_u8(r); return high << 8 | get_u8(r); }

static uint32_t get_u32(struct reader *r) { uint32_t high = get_u16(r); return high << 16 | get_u16(r); }

/* A str of minimum..maximum bytes without NUL; returns a pointer into the body and its length. */
static const unsigned char *get_str(struct reader *r, size_t minimum, size_t maximum, size_t *length) {
    *length = get_u16(r);
    if (r->failed || *length < minimum || *length > maximum || r->offset + *length > r->length ||
        memchr(r->bytes + r->offset, 0, *length)) {
        r->failed = 1;
        return NULL;
    }
    const unsigned char *start = r->bytes + r->offset;
    r->offset += *length;
    return start;
}

static void copy_text(char *out, size_t capacity, const unsigned char *bytes, size_t length) {
    if (length >= capacity) length = capacity - 1;
    if (length) memcpy(out, bytes, length);
    out[length] = 0;
}

/* Decodes the answer to request `id`; anything outside docs/protocol.md is TFD_PROTOCOL. */
static enum tfd_status decode(struct tfd_connection *c, const unsigned char *body, size_t length, uint32_t id,
                              struct tfd_answer *a) {
    struct reader r = {.bytes = body, .length = length};
    unsigned type = get_u8(&r);
    uint32_t answer_id = get_u32(&r);
    size_t n = 0;
    const unsigned char *s;
    memset(a, 0, sizeof *a);
    a->type = (int)type;
    switch (type) {
    case TFD_ANSWER_ERROR:
        a->error_code = get_u16(&r);
        s = get_str(&r, 0, 1024, &n);
        if (s) copy_text(a->text, sizeof a->text, s, n);
        /* The daemon answers a frame it could not read with id 0. */
        if (answer_id != id && answer_id != 0) r.failed = 1;
        break;
    case TFD_ANSWER_LOGIN_RESULT:
        a->outcome = (int)get_u8(&r);
        a->retry_after = get_u32(&r);
        s = get_str(&r, 0, 1024, &n);
        if (s) copy_text(a->text, sizeof a->text, s, n);
        if (a->outcome > TFD_LOCKED || (a->outcome != TFD_LOCKED && a->retry_after != 0) ||
            ((a->outcome == TFD_ENROLL) != (n > 0)) || answer_id != id)
            r.failed = 1;
        break;
    case TFD_ANSWER_RECOVERY_CODES: {
        a->outcome = TFD_OK_OUTCOME;
        unsigned count = get_u8(&r);
        size_t capacity = 16 * (2 + 32 + 1) + 1, used = 0;
        if (count < 1 || count > 16 || (a->screen = calloc(1, capacity)) == NULL) r.failed = 1;
        for (unsigned i = 0; i < count && !r.failed; i++) {
            s = get_str(&r, 1, 32, &n);
            if (!s) break;
            used += (size_t)snprintf(a->screen + used, capacity - used, "  %.*s\n", (int)n, (const char *)s);
        }
        if (answer_id != id) r.failed = 1;
        break;
    }
    case TFD_ANSWER_RECOVERY_LOGIN:
        a->outcome = TFD_OK_OUTCOME;
        a->recovery_left = get_u8(&r);
        if (answer_id != id) r.failed = 1;
        break;
    case TFD_ANSWER_ENROLL_SCREEN:
        a->outcome = TFD_ENROLL;
        s = get_str(&r, 1, 1024, &n);
        if (s) copy_text(a->text, sizeof a->text, s, n);
        s = get_str(&r, 0, 32768, &n);
        if (s && (a->screen = malloc(n + 1)) != NULL) copy_text(a->screen, n + 1, s, n);
        else if (s) r.failed = 1;
        if (answer_id != id) r.failed = 1;
        break;
    default:
        r.failed = 1;
    }
    if (r.failed || r.offset != r.length) {
        tfd_answer_free(a);
        snprintf(c->detail, sizeof c->detail, "the daemon's answer (type 0x%02x) breaks docs/protocol.md", type);
        return TFD_PROTOCOL;
    }
    return TFD_OK;
}

/* Frames `w` (type and fields after the 5-byte header slot) with a fresh id, sends it and wipes it. */
static enum tfd_status send_frame(struct tfd_connection *c, struct writer *w, unsigned char type, uint32_t *id,
                                  long long deadline) {
    *id = c->next_id++;
    size_t body_length = w->length - 4;
    if (w->failed || body_length > MAX_REQUEST_BODY) {
        snprintf(c->detail, sizeof c->detail, "a value is longer than the protocol allows");
        explicit_bzero(w->bytes, sizeof w->bytes);
        return TFD_INVALID_INPUT;
    }
    w->bytes[0] = (unsigned char)(body_length >> 24);
    w->bytes[1] = (unsigned char)(body_length >> 16);
    w->bytes[2] = (unsigned char)(body_length >> 8);
    w->bytes[3] = (unsigned char)body_length;
    w->bytes[4] = type;
    w->bytes[5] = (unsigned char)(*id >> 24);
    w->bytes[6] = (unsigned char)(*id >> 16);
    w->bytes[7] = (unsigned char)(*id >> 8);
    w->bytes[8] = (unsigned char)*id;
    enum tfd_status s = write_all(c, w->bytes, w->length, deadline);
    explicit_bzero(w->bytes, sizeof w->bytes);
    return s;
}

/* Reads one answer's body into a new buffer the caller frees. */
static enum tfd_status read_frame(struct tfd_connection *c, long long deadline, unsigned char **body,
                                  uint32_t *length) {
    unsigned char header[4];
    *body = NULL;
    enum tfd_status s = read_exactly(c, header, 4, deadline);
    if (s != TFD_OK) return s;
    *length = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 | (uint32_t)header[2] << 8 | header[3];
    if (*length < MIN_BODY || *length > MAX_RESPONSE_BODY) {
        snprintf(c->detail, sizeof c->detail, "the daemon sent a frame length of %u", *length);
        return TFD_PROTOCOL;
    }
    if ((*body = malloc(*length)) == NULL) return TFD_PROTOCOL;
    s = read_exactly(c, *body, *length, deadline);
    if (s != TFD_OK) {
        /* What arrived of an answer cut short may be part of a secret (an otpauth URI, recovery codes). */
        explicit_bzero(*body, *length);
        free(*body);
        *body = NULL;
    }
    return s;
}

/*
 * TFD_BUSY or TFD_TOO_MANY when `body` is the daemon's refusal of the whole connection (Error busy or
 * tooManyRequests, id 0 or `id`), with its message in `detail`; otherwise TFD_OK, and `detail` as it was.
 */
static enum tfd_status refusal(struct tfd_connection *c, const unsigned char *body, uint32_t length, uint32_t id) {
    char kept[sizeof c->detail];
    memcpy(kept, c->detail, sizeof kept);
    struct tfd_answer a;
    enum tfd_status s = TFD_OK;
    if (decode(c, body, length, id, &a) == TFD_OK && a.type == TFD_ANSWER_ERROR) {
        if (a.error_code == TFD_ERR_BUSY) s = TFD_BUSY;
        if (a.error_code == TFD_ERR_TOO_MANY_REQUESTS) s = TFD_TOO_MANY;
    }
    if (s != TFD_OK) copy_text(c->detail, sizeof c->detail, (const unsigned char *)a.text, strlen(a.text));
    else memcpy(c->detail, kept, sizeof kept);
    tfd_answer_free(&a);
    return s;
}

/*
 * A daemon that refuses a connection (past its connection cap) answers (Error busy or tooManyRequests, id 0)
 * and closes before reading anything, so a send can fail while that answer waits to be read: then that answer
 * is the reason, not the send.
 */
static enum tfd_status after_failed_send(struct tfd_connection *c, enum tfd_status failed, long long deadline) {
    if (failed != TFD_PROTOCOL) return failed;
    char kept[sizeof c->detail];
    memcpy(kept, c->detail, sizeof kept);
    unsigned char *body;
    uint32_t length;
    if (read_frame(c, deadline, &body, &length) == TFD_OK) {
        enum tfd_status refused = refusal(c, body, length, 0);
        free(body);
        if (refused != TFD_OK) return refused;
    }
    memcpy(c->detail, kept, sizeof kept);
    return failed;
}

/* The Hello goes out with the first request (tfd_open only sends it), so its answer comes first. */
static enum tfd_status read_hello_answer(struct tfd_connection *c, long long deadline) {
    if (!c->hello_pending) return TFD_OK;
    c->hello_pending = 0;
    unsigned char *body;
    uint32_t length;
    enum tfd_status s = read_frame(c, deadline, &body, &length);
    if (s != TFD_OK) return s;
    uint32_t id = (uint32_t)body[1] << 24 | (uint32_t)body[2] << 16 | (uint32_t)body[3] << 8 | body[4];
    /* HelloReply: type 0x81, the Hello's id, version 1. */
    enum tfd_status refused = body[0] == TFD_ANSWER_ERROR ? refusal(c, body, length, c->hello_id) : TFD_OK;
    if (refused != TFD_OK) {
        s = refused;
    } else if (body[0] != 0x81 || length != 7 || id != c->hello_id || body[5] != 0 || body[6] != 1) {
        snprintf(c->detail, sizeof c->detail, "the daemon refused protocol version 1 (answer type 0x%02x)", body[0]);
        s = TFD_PROTOCOL;
    }
    free(body);
    return s;
}

/* Sends the frame in `w` and reads its answer (after the Hello's, the first time). */
static enum tfd_status exchange(struct tfd_connection *c, struct writer *w, unsigned char type,
                                struct tfd_answer *a) {
    memset(a, 0, sizeof *a);
    long long deadline = now_ms() + c->timeout_ms;
    uint32_t id;
    enum tfd_status s = send_frame(c, w, type, &id, deadline);
    if (s != TFD_OK) s = after_failed_send(c, s, deadline);
    if (s == TFD_OK) s = read_hello_answer(c, deadline);
    unsigned char *body = NULL;
    uint32_t length = 0;
    if (s == TFD_OK) s = read_frame(c, deadline, &body, &length);
    if (s == TFD_OK) s = decode(c, body, length, id, a);
    /* An answer may carry recovery codes or the otpauth URI (the secret): it leaves no copy in freed memory. */
    if (body) explicit_bzero(body, length);
    free(body);
    if (s == TFD_TIMEOUT) snprintf(c->detail, sizeof c->detail, "no answer within %d ms", c->timeout_ms);
    return s;
}

enum tfd_status tfd_open(struct tfd_connection *c, const char *path, int timeout_seconds, uid_t trusted_uid) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->next_id = 1;
    c->timeout_ms = timeout_seconds * 1000;
    if (strlen(path) >= sizeof address.sun_path) {
        snprintf(c->detail, sizeof c->detail, "the socket path is too long");
        return TFD_INVALID_INPUT;
    }
    strcpy(address.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(c->detail, sizeof c->detail, "socket: %s", strerror(errno));
        return TFD_UNREACHABLE;
    }
    /* Bounds a connect to a full backlog; reads and writes use their own deadline. */
    struct timeval tv = {.tv_sec = timeout_seconds};
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(c->fd, (struct sockaddr *)&address, sizeof address) != 0) {
        snprintf(c->detail, sizeof c->detail, "connect to %s: %s", path, strerror(errno));
        tfd_close(c);
        return TFD_UNREACHABLE;
    }
    struct ucred peer;
    socklen_t peer_length = sizeof peer;
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_length) != 0 || peer_length != sizeof peer) {
        snprintf(c->detail, sizeof c->detail, "cannot read the peer of %s: %s", path, strerror(errno));
        tfd_close(c);
        return TFD_UNTRUSTED;
    }
    c->peer_uid = peer.uid;
    if (peer.uid != 0 && (trusted_uid == (uid_t)-1 || peer.uid != trusted_uid)) {
        snprintf(c->detail, sizeof c->detail,
                 "the process listening on %s runs as uid %u, which is neither root nor the daemon's user "
                 "(daemon_user=): refusing to send it anything",
                 path, (unsigned)peer.uid);
        tfd_close(c);
        return TFD_UNTRUSTED;
    }
    struct writer w = {.length = 9};
    const unsigned char magic[4] = {'T', 'F', 'A', 'D'};
    for (int i = 0; i < 4; i++) put_u8(&w, magic[i]);
    put_u16(&w, 1);
    put_u16(&w, 1);
    long long deadline = now_ms() + c->timeout_ms;
    enum tfd_status s = send_frame(c, &w, 0x01, &c->hello_id, deadline);
    if (s != TFD_OK) s = after_failed_send(c, s, deadline);
    if (s != TFD_OK) {
        tfd_close(c);
        return s;
    }
    c->hello_pending = 1;
    return TFD_OK;
}

void tfd_close(struct tfd_connection *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/* 6 to 8 digits are a TOTP code; anything else typed at the code prompt is a recovery code. */
static void put_code(struct writer *w, const char *code) {
    int has_code = code && *code;
    size_t length = has_code ? strlen(code) : 0;
    int digits = length >= 6 && length <= 8;
    for (size_t i = 0; digits && i < length; i++) digits = code[i] >= '0' && code[i] <= '9';
    put_u8(w, !has_code ? TFD_CODE_NONE : digits ? TFD_CODE_TOTP : TFD_CODE_RECOVERY);
    put_str(w, has_code ? code : "", has_code ? 1 : 0, 32);
}

/* The origin fields; the trailing invokerUID only when there is an invoker (1 to 4294967294). */
static void put_origin(struct writer *w, const char *service, const char *rhost, uid_t invoker) {
    put_str(w, service, 0, 64);
    put_str(w, rhost, 0, 255);
    if (invoker == (uid_t)-1) w->failed = 1;
    else if (invoker != 0) put_u32(w, (uint32_t)invoker);
}

enum tfd_status tfd_login_from(struct tfd_connection *c, const char *user, const char *password, const char *code,
                               const char *service, const char *rhost, uid_t invoker, struct tfd_answer *answer) {
    struct writer w = {.length = 9};
    put_str(&w, user, 1, 64);
    put_str(&w, password, 0, 256);
    put_code(&w, code);
    put_origin(&w, service, rhost, invoker);
    return exchange(c, &w, invoker ? 0x13 : 0x11, answer);
}

enum tfd_status tfd_code_check(struct tfd_connection *c, const char *user, const char *code, const char *service,
                               const char *rhost, uid_t invoker, struct tfd_answer *answer) {
    struct writer w = {.length = 9};
    put_str(&w, user, 1, 64);
    put_code(&w, code);
    put_origin(&w, service, rhost, invoker);
    return exchange(c, &w, invoker ? 0x14 : 0x12, answer);
}

void tfd_answer_free(struct tfd_answer *answer) {
    if (answer->screen) explicit_bzero(answer->screen, strlen(answer->screen));
    free(answer->screen);
    answer->screen = NULL;
    explicit_bzero(answer->text, sizeof answer->text);
}
