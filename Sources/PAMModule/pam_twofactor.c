/*
 * pam_twofactor.so: asks twofactord (docs/protocol.md) for the password and TOTP code of a login.
 *
 * MUSTs of this module:
 * - PAM_SUCCESS only after the daemon answered `ok` to this login; every other path (daemon down,
 *   slow, untrusted, garbage, cancelled conversation, empty code, bad option) returns an error;
 * - PAM_AUTHINFO_UNAVAIL only when the daemon could not decide; anything typed that the protocol refuses
 *   (not UTF-8, too long), and the user's own share of the daemon kept full (tooManyRequests; under su, the
 *   invoker's), is PAM_AUTH_ERR, as a wrong code is, so no stack that skips an outage skips it;
 * - never tell the user which factor was wrong: whenever the daemon answers codeNeeded, ask for a
 *   code, and answer every refusal with the same message;
 * - the socket path comes from the module's arguments only, never from the environment;
 * - passwords and codes are wiped after use and never logged;
 * - with require_group=, a member of a listed group (primary or supplementary) is asked exactly as
 *   without it, and unknown to the daemon is denied even with nullok; everyone else passes through
 *   (PAM_IGNORE), and every pass-through is logged with its reason, so that a list matching nobody shows;
 * - with PAM_SILENT the module shows no message (it still asks its questions, and still logs): an
 *   enrollment, whose QR code and recovery codes are messages, is refused and logged instead, one that a
 *   single_prompt code would finish too;
 * - a process whose real uid is not root (su, sudo, run by a local user) reports that uid as the
 *   invoker (LoginFromInvoker, CodeCheckFromInvoker), so that its failures lock out no one else.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "tfd_client.h"

#define EXPORT __attribute__((visibility("default")))
#define DEFAULT_SOCKET "/run/twofactord/socket"
#define DEFAULT_DAEMON_USER "twofactord"

struct options {
    const char *socket;
    const char *daemon_user;
    const char *require_group; /* comma-separated group names; NULL: everyone is asked */
    int timeout;
    int use_first_pass, try_first_pass, single_prompt, code_only, nullok, digits;
    int silent; /* the application passed PAM_SILENT */
};

/* A PAM_TEXT_INFO (`error` 0) or PAM_ERROR_MSG message, unless the application asked for silence. */
static void say(pam_handle_t *pamh, const struct options *o, int error, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
static void say(pam_handle_t *pamh, const struct options *o, int error, const char *format, ...) {
    if (o->silent) return;
    va_list arguments;
    va_start(arguments, format);
    if (error) pam_verror(pamh, format, arguments);
    else pam_vinfo(pamh, format, arguments);
    va_end(arguments);
}

/* Parses the module arguments; any unknown or malformed one is a configuration error (fail closed). */
static int parse_options(pam_handle_t *pamh, int argc, const char **argv, struct options *o) {
    *o = (struct options){.socket = DEFAULT_SOCKET, .daemon_user = DEFAULT_DAEMON_USER, .timeout = 10, .digits = 6};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (strncmp(a, "socket=", 7) == 0 && a[7] == '/') o->socket = a + 7;
        else if (strncmp(a, "daemon_user=", 12) == 0 && a[12]) o->daemon_user = a + 12;
        else if (strncmp(a, "require_group=", 14) == 0 && a[14] && a[14] != ',' && !strstr(a, ",,") &&
                 a[strlen(a) - 1] != ',' && strlen(a + 14) < 256)
            o->require_group = a + 14;
        else if (strncmp(a, "timeout=", 8) == 0) {
            long value = strtol(a + 8, &end, 10);
            if (!a[8] || *end || value < 1 || value > 600) goto bad;
            o->timeout = (int)value;
        } else if (strncmp(a, "digits=", 7) == 0) {
            long value = strtol(a + 7, &end, 10);
            if (!a[7] || *end || value < 6 || value > 8) goto bad;
            o->digits = (int)value;
        } else if (strcmp(a, "use_first_pass") == 0) o->use_first_pass = 1;
        else if (strcmp(a, "try_first_pass") == 0) o->try_first_pass = 1;
        else if (strcmp(a, "single_prompt") == 0) o->single_prompt = 1;
        else if (strcmp(a, "code_only") == 0) o->code_only = 1;
        else if (strcmp(a, "nullok") == 0) o->nullok = 1;
        else goto bad;
        continue;
    bad:
        pam_syslog(pamh, LOG_ERR, "unknown or malformed option '%s': see pam_twofactor(8); denying", a);
        return 0;
    }
    if (o->nullok && !o->code_only) {
        pam_syslog(pamh, LOG_ERR, "nullok needs code_only (the daemon tells only privileged callers which "
                                  "accounts exist); denying");
        return 0;
    }
    if (o->code_only && (o->use_first_pass || o->try_first_pass || o->single_prompt)) {
        pam_syslog(pamh, LOG_ERR, "code_only asks for no password: drop use_first_pass, try_first_pass and "
                                  "single_prompt; denying");
        return 0;
    }
    return 1;
}

/*
 * The NSS lookups of require_group, with a buffer grown until the entry fits: 1 found, 0 no such entry,
 * -1 the lookup failed (a directory service down, an entry too large to read), which must not pass for
 * "not a member", or a member would skip the second factor.
 */
#define LOOKUP_BUFFER_LIMIT (1 << 20)

static int lookup_user(const char *name, struct passwd *entry, char **buffer) {
    for (size_t size = 4096; size <= LOOKUP_BUFFER_LIMIT; size *= 2) {
        char *grown = realloc(*buffer, size);
        if (!grown) return -1;
        *buffer = grown;
        struct passwd *found = NULL;
        int error = getpwnam_r(name, entry, *buffer, size, &found);
        if (error == ERANGE) continue;
        if (error == 0 || error == ENOENT) return found ? 1 : 0;
        return -1;
    }
    return -1;
}

static int lookup_group(const char *name, struct group *entry, char **buffer) {
    for (size_t size = 16384; size <= LOOKUP_BUFFER_LIMIT; size *= 2) {
        char *grown = realloc(*buffer, size);
        if (!grown) return -1;
        *buffer = grown;
        struct group *found = NULL;
        int error = getgrnam_r(name, entry, *buffer, size, &found);
        if (error == ERANGE) continue;
        if (error == 0 || error == ENOENT) return found ? 1 : 0;
        return -1;
    }
    return -1;
}

/*
 * Whether `user` is a member (primary or supplementary) of one of the comma-separated groups in
 * `groups`: 1 yes, 0 no, -1 a lookup failed (the caller denies). When not 1, `reason` says why, for the log
 * (no such user, no such group, not a member, which lookup failed).
 */
static int in_required_group(const char *user, const char *groups, char *reason, size_t capacity) {
    struct passwd entry;
    char *buffer = NULL;
    int user_found = lookup_user(user, &entry, &buffer);
    if (user_found <= 0) {
        free(buffer);
        if (user_found < 0) {
            snprintf(reason, capacity, "cannot look up the Unix user (NSS failed)");
            return -1;
        }
        snprintf(reason, capacity, "no Unix user of that name, so in none of the groups %s", groups);
        return 0;
    }
    gid_t primary = entry.pw_gid;
    int count = 64;
    gid_t list[64];
    gid_t *member_of = list;
    gid_t *allocated = NULL;
    if (getgrouplist(user, primary, member_of, &count) == -1) {
        allocated = count > 0 ? calloc((size_t)count, sizeof *allocated) : NULL;
        if (!allocated || getgrouplist(user, primary, allocated, &count) == -1) {
            free(allocated);
            free(buffer);
            snprintf(reason, capacity, "cannot list the Unix groups of the user (NSS failed)");
            return -1;
        }
        member_of = allocated;
    }
    free(buffer);
    buffer = NULL;
    char names[512];
    snprintf(names, sizeof names, "%s", groups);
    char missing[512] = "";
    int member = 0;
    char *save = NULL;
    for (char *name = strtok_r(names, ",", &save); name && member == 0; name = strtok_r(NULL, ",", &save)) {
        struct group group;
        int group_found = lookup_group(name, &group, &buffer);
        if (group_found < 0) {
            snprintf(reason, capacity, "cannot look up the group %s (NSS failed, or too large to read)", name);
            member = -1;
            break;
        }
        if (group_found == 0) {
            size_t used = strlen(missing);
            snprintf(missing + used, sizeof missing - used, "%s%s", used ? "," : "", name);
            continue;
        }
        if (group.gr_gid == primary) member = 1;
        for (int i = 0; i < count && !member; i++)
            if (member_of[i] == group.gr_gid) member = 1;
    }
    free(buffer);
    free(allocated);
    if (member == 0) {
        if (*missing)
            snprintf(reason, capacity, "not in group(s) %s (no such group: %s)", groups, missing);
        else
            snprintf(reason, capacity, "not in group(s) %s", groups);
    }
    return member;
}

static uid_t daemon_uid(const char *name) {
    struct passwd entry, *found = NULL;
    char buffer[4096];
    if (getpwnam_r(name, &entry, buffer, sizeof buffer, &found) != 0 || !found) return (uid_t)-1;
    return found->pw_uid;
}

static void wipe_free(char *secret) {
    if (!secret) return;
    explicit_bzero(secret, strlen(secret));
    free(secret);
}

/* Asks one question through the conversation; NULL when it was cancelled or failed. */
static char *ask(pam_handle_t *pamh, int style, const char *prompt) {
    char *answer = NULL;
    if (pam_prompt(pamh, style, &answer, "%s", prompt) != PAM_SUCCESS) {
        wipe_free(answer);
        return NULL;
    }
    return answer;
}

/* The secret= parameter of an otpauth URI, base32, in groups of four for typing. */
static void grouped_secret(const char *uri, char *out, size_t capacity) {
    const char *start = strstr(uri, "?secret=");
    if (!start) start = strstr(uri, "&secret=");
    size_t n = 0;
    out[0] = 0;
    if (!start) return;
    start += 8;
    for (size_t i = 0; start[i] && start[i] != '&' && n + 2 < capacity; i++) {
        if (i > 0 && i % 4 == 0) out[n++] = ' ';
        out[n++] = start[i];
    }
    out[n] = 0;
}

/*
 * Shows the enrollment (QR code, secret, URI) through PAM_TEXT_INFO (never with PAM_SILENT: see converse), in the
 * words of the twofactor clients (LoginTexts.enrollmentRequired, EnrollmentScreen.render; LoginTextTests compares).
 */
static void show_enrollment(pam_handle_t *pamh, const char *user, const struct tfd_answer *a) {
    char secret[256];
    grouped_secret(a->text, secret, sizeof secret);
    pam_info(pamh, "Two-factor authentication is required for '%s'.", user);
    pam_info(pamh, "Scan this QR code with your authenticator app:\n");
    if (a->screen && *a->screen) pam_info(pamh, "%s", a->screen);
    if (*secret) pam_info(pamh, "Or enter this secret by hand (time-based): %s", secret);
    pam_info(pamh, "URI: %s", a->text);
    explicit_bzero(secret, sizeof secret);
}

/*
 * The PAM answer for a daemon that refused this user's request or connection because the user's own share of it is
 * full (tooManyRequests; under su, the invoker's): the user's doing, so a refusal, never an outage.
 */
static int too_many(pam_handle_t *pamh, const struct options *o, const char *user, const char *detail) {
    pam_syslog(pamh, LOG_NOTICE, "user %s: twofactord refused: %s; denying", user, detail);
    say(pamh, o, 1, "Too many of your requests are waiting for the two-factor login service; try again once they "
                    "are answered.");
    return PAM_AUTH_ERR;
}

/* The PAM answer for a daemon that could not be asked. */
static int unavailable(pam_handle_t *pamh, const struct options *o, const struct tfd_connection *c,
                       enum tfd_status s) {
    if (s == TFD_BUSY) {
        /* Past its connection cap: the daemon's own words, as the twofactor command shows them. */
        pam_syslog(pamh, LOG_ERR, "twofactord is busy: %s", c->detail);
        say(pamh, o, 1, "The two-factor login service is busy; try again in a moment.");
        return PAM_AUTHINFO_UNAVAIL;
    }
    pam_syslog(pamh, s == TFD_UNTRUSTED ? LOG_CRIT : LOG_ERR, "twofactord unavailable: %s", c->detail);
    say(pamh, o, 1, "The two-factor login service is unavailable; try again later or ask the administrator.");
    return s == TFD_INVALID_INPUT ? PAM_AUTH_ERR : PAM_AUTHINFO_UNAVAIL;
}

/* The length of a recovery code as shown (four groups of four base32 characters and three dashes). */
#define RECOVERY_CODE_LENGTH 19

/* A recovery code in its shown shape, K7QF-2M3D-XR4T-6BWC, letters in either case. */
static int recovery_code_shaped(const char *text) {
    for (size_t i = 0; i < RECOVERY_CODE_LENGTH; i++) {
        char c = text[i];
        int base32 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
        if (i % 5 == 4 ? c != '-' : !base32) return 0;
    }
    return 1;
}

/*
 * Moves the code at the end of a single_prompt entry into `code`; 0 when there is none. The code is the last `digits`
 * characters when they are all digits ("password123456"), or a recovery code in its shown shape after a space
 * ("password K7QF-2M3D-XR4T-6BWC"), the space going with it. Never both: a recovery code ends in a dash and four
 * characters. `twofactor pam --single-prompt` splits alike (splitTrailingCode).
 */
static int split_code(char *entry, int digits, char code[RECOVERY_CODE_LENGTH + 1]) {
    size_t length = strlen(entry);
    if (length > RECOVERY_CODE_LENGTH && entry[length - RECOVERY_CODE_LENGTH - 1] == ' ' &&
        recovery_code_shaped(entry + length - RECOVERY_CODE_LENGTH)) {
        memcpy(code, entry + length - RECOVERY_CODE_LENGTH, RECOVERY_CODE_LENGTH + 1);
        explicit_bzero(entry + length - RECOVERY_CODE_LENGTH - 1, RECOVERY_CODE_LENGTH + 1);
        return 1;
    }
    if (length < (size_t)digits) return 0;
    for (size_t i = length - (size_t)digits; i < length; i++)
        if (!isdigit((unsigned char)entry[i])) return 0;
    memcpy(code, entry + length - digits, (size_t)digits + 1);
    explicit_bzero(entry + length - digits, (size_t)digits);
    return 1;
}

/*
 * The conversation with the daemon for one login. `password` is NULL in code_only mode.
 * Sends the first request with `first_code` (may be NULL), then asks for a code whenever the
 * daemon answers codeNeeded or enroll, at most twice.
 */
static int converse(pam_handle_t *pamh, const struct options *o, struct tfd_connection *c, const char *user,
                    const char *password, const char *first_code, const char *service, const char *rhost) {
    /*
     * In su or sudo (setuid root) the real uid is the user who ran them, which that user cannot change;
     * in sshd, login or cron it is 0. The daemon throttles such a login by that user, so that guessing
     * through `su victim` cannot lock the victim out of sshd.
     */
    uid_t invoker = getuid();
    /*
     * Under PAM_SILENT a single_prompt code waits for the second request: sent at once, it would finish the
     * enrollment an earlier login offered a pending account, whose recovery codes are messages. Sent alone, the
     * password is answered `enroll` for that account, refused below as at the code prompt, and `codeNeeded` for
     * every other one that needs a code (a wrong password too), which the held code then answers without asking.
     */
    int hold = o->silent && password && first_code;
    char *code = first_code && !hold ? strdup(first_code) : NULL;
    int result = PAM_AUTH_ERR;
    for (int round = 0; round < 3; round++) {
        struct tfd_answer a;
        enum tfd_status s = password ? tfd_login_from(c, user, password, code, service, rhost, invoker, &a)
                                     : tfd_code_check(c, user, code, service, rhost, invoker, &a);
        int had_code = code && *code;
        wipe_free(code);
        code = NULL;
        if (s == TFD_INVALID_INPUT) {
            /* What was typed breaks a field limit (a code over 32 bytes, a password over 256): a refusal. */
            pam_syslog(pamh, LOG_NOTICE, "user %s: %s; denying", user, c->detail);
            say(pamh, o, 1, "Login refused.");
            break;
        }
        if (s == TFD_TOO_MANY) { result = too_many(pamh, o, user, c->detail); break; }
        if (s != TFD_OK) { result = unavailable(pamh, o, c, s); break; }
        if (a.type == TFD_ANSWER_ERROR && a.error_code == TFD_ERR_BUSY) {
            /* Busy for this request (every worker taken), told as the connection cap is. */
            snprintf(c->detail, sizeof c->detail, "%.*s", (int)sizeof c->detail - 1, a.text);
            result = unavailable(pamh, o, c, TFD_BUSY);
            tfd_answer_free(&a);
            break;
        }
        if (a.type == TFD_ANSWER_ERROR && a.error_code == TFD_ERR_TOO_MANY_REQUESTS) {
            result = too_many(pamh, o, user, a.text);
            tfd_answer_free(&a);
            break;
        }
        if (a.type == TFD_ANSWER_ERROR) {
            pam_syslog(pamh, LOG_NOTICE, "twofactord refused user %s: error %u: %s", user, a.error_code, a.text);
            if (a.error_code == TFD_ERR_NO_SUCH_ACCOUNT && o->code_only)
                result = o->nullok ? PAM_IGNORE : PAM_USER_UNKNOWN;
            /* malformed: what was typed is not UTF-8. Like notPermitted, the user's doing and no outage, which a
               stack may skip (authinfo_unavail=ignore). */
            else if (a.error_code == TFD_ERR_NOT_PERMITTED || a.error_code == TFD_ERR_MALFORMED) result = PAM_AUTH_ERR;
            else result = PAM_AUTHINFO_UNAVAIL;
            if (result != PAM_IGNORE) say(pamh, o, 1, "Login refused.");
            tfd_answer_free(&a);
            break;
        }
        if (a.outcome == TFD_OK_OUTCOME) {
            /* The words of the twofactor clients (LoginTexts.enrolled, .recoveryLogin; LoginTextTests compares). The
               recovery codes are shown even under PAM_SILENT, which reaches them only when another login offered an
               enrollment between this one's two requests: dropped, they would be lost. */
            if (a.type == TFD_ANSWER_RECOVERY_CODES && a.screen)
                pam_info(pamh, "Two-factor authentication is now on for '%s'.\n\n"
                               "Recovery codes: each works once in place of a code from the app. Keep them somewhere "
                               "safe;\nthey are not shown again.\n\n%s", user, a.screen);
            if (a.type == TFD_ANSWER_RECOVERY_LOGIN && a.recovery_left <= 3)
                say(pamh, o, 0, "Logged in with a recovery code; %u remain. Get a new set with "
                                "`twofactorctl 2fa recovery-codes --as %s`.", a.recovery_left, user);
            else if (a.type == TFD_ANSWER_RECOVERY_LOGIN)
                say(pamh, o, 0, "Logged in with a recovery code; %u remain.", a.recovery_left);
            result = PAM_SUCCESS;
            tfd_answer_free(&a);
            break;
        }
        if (a.outcome == TFD_LOCKED) {
            /* 4294967295: the hard lock (docs/protocol.md, LoginResult), which no wait ends. The words of the
               twofactor clients (LoginTexts.locked), the same for every name, one without an account too. */
            if (a.retry_after == UINT32_MAX)
                say(pamh, o, 1, "Too many failed attempts: locked until an admin or operator runs "
                                "`twofactorctl unlock %s`.", user);
            else
                say(pamh, o, 1, "Too many failed attempts: try again in %u seconds, or have an admin or operator "
                                "run `twofactorctl unlock %s`.", (unsigned)a.retry_after, user);
            result = PAM_MAXTRIES;
            tfd_answer_free(&a);
            break;
        }
        if (a.outcome == TFD_DENIED || (a.outcome == TFD_CODE_NEEDED && had_code)) {
            say(pamh, o, 1, "Login refused.");
            tfd_answer_free(&a);
            break;
        }
        if (a.outcome == TFD_ENROLL && o->silent) {
            /* The QR code and the recovery codes are messages, which PAM_SILENT forbids. */
            pam_syslog(pamh, LOG_NOTICE, "user %s must enroll, which needs messages, but the application passed "
                       "PAM_SILENT; denying", user);
            tfd_answer_free(&a);
            break;
        }
        if (a.outcome == TFD_ENROLL) show_enrollment(pamh, user, &a);
        tfd_answer_free(&a);
        if (hold) {
            hold = 0;
            code = strdup(first_code);
            if (!code) { result = PAM_BUF_ERR; break; }
            continue;
        }
        code = ask(pamh, PAM_PROMPT_ECHO_OFF, "Verification code: ");
        if (!code) { result = PAM_CONV_ERR; break; }
        /* People copy codes as "123 456"; the daemon wants the characters alone. */
        size_t kept = 0, typed = strlen(code);
        for (size_t i = 0; i < typed; i++)
            if (code[i] != ' ') code[kept++] = code[i];
        /* What was typed past the kept digits is wiped too: wipe_free stops at the first NUL. */
        explicit_bzero(code + kept, typed - kept);
        if (!*code) { say(pamh, o, 1, "Login refused."); break; }
    }
    wipe_free(code);
    return result;
}

EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    struct options o;
    if (!parse_options(pamh, argc, argv, &o)) return PAM_SERVICE_ERR;
    o.silent = (flags & PAM_SILENT) != 0;

    const char *user = NULL;
    if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || !user || !*user) return PAM_USER_UNKNOWN;
    if (o.require_group) {
        char reason[1024];
        int member = in_required_group(user, o.require_group, reason, sizeof reason);
        if (member < 0) {
            pam_syslog(pamh, LOG_ERR, "user %s: %s (require_group); denying", user, reason);
            return PAM_AUTHINFO_UNAVAIL;
        }
        if (!member) {
            /* The rollout's edge: logged every time, so that a group list matching nobody is seen. */
            pam_syslog(pamh, LOG_NOTICE, "user %s passes through without a second factor: %s (require_group)", user,
                       reason);
            return PAM_IGNORE;
        }
        /* A member must pass: unknown to the daemon is denied, whatever nullok says. */
        o.nullok = 0;
    }
    const void *item = NULL;
    const char *service = pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS && item ? item : "";
    item = NULL;
    const char *rhost = pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS && item ? item : "";

    char *entry = NULL;
    if (!o.code_only) {
        item = NULL;
        if ((o.use_first_pass || o.try_first_pass) && pam_get_item(pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS && item)
            entry = strdup(item);
        if (!entry && o.use_first_pass) {
            pam_syslog(pamh, LOG_ERR, "use_first_pass: no earlier module set a password; denying");
            return PAM_AUTH_ERR;
        }
        if (!entry) {
            entry = ask(pamh, PAM_PROMPT_ECHO_OFF, o.single_prompt ? "Password and verification code: " : "Password: ");
            if (!entry) return PAM_CONV_ERR;
            /* Later modules may use_first_pass; a combined entry is not a password they could use. */
            if (!o.single_prompt) pam_set_item(pamh, PAM_AUTHTOK, entry);
        }
    }

    /* Every attempt that reaches the daemon, or fails to, ends with its verdict in the log. */
    int result;
    struct tfd_connection c;
    enum tfd_status s = tfd_open(&c, o.socket, o.timeout, daemon_uid(o.daemon_user));
    if (s != TFD_OK) {
        result = unavailable(pamh, &o, &c, s);
    } else {
        char code[RECOVERY_CODE_LENGTH + 1] = {0};
        int has_code = o.single_prompt && entry && split_code(entry, o.digits, code);
        result = converse(pamh, &o, &c, user, o.code_only ? NULL : entry, has_code ? code : NULL, service, rhost);
        explicit_bzero(code, sizeof code);
        tfd_close(&c);
    }
    wipe_free(entry);
    pam_syslog(pamh, result == PAM_SUCCESS ? LOG_INFO : LOG_NOTICE, "user %s: %s", user, pam_strerror(pamh, result));
    return result;
}

/* Credentials are the business of other modules; the decision was made in pam_sm_authenticate. */
EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}
