/*
 * pam-bench: drives one PAM service in a loop (pam_start_confdir, pam_authenticate, pam_end) and reports
 * checks per second and latency percentiles as one JSON line. Built by `make bench-compare`, which uses the
 * same harness for every module it compares (pam_google_authenticator, pam_oath, pam_twofactor).
 *
 * The harness computes each code itself (RFC 6238, HMAC-SHA1, 6 digits) for the user it logs in; the
 * conversation answers every prompt with that code (a prompt naming a password gets --password instead).
 * Each user can use one code per period (every module under test refuses a replayed code), so the users
 * are taken round-robin and a user whose code for this period was used waits for the next period.
 *
 * With --hotp the codes are RFC 4226 counter codes instead (counters from 0, one per login), for modules
 * whose time-based mode has no short period (pam_oath's TOTP steps are 30 s at least).
 *
 * usage: pam-bench --confdir DIR --service NAME (--user-prefix P --users N --secret HEX | --secrets-file F)
 *                  [--period S] [--seconds S] [--jobs J] [--password PW] [--label TEXT] [--hotp 1]
 * A secrets file has one "user hex-secret" line per user (twofactor-bench --export-secrets writes one).
 */
#define _GNU_SOURCE
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <security/pam_appl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct conv_data {
    const char *password;
    char code[16];
};

static int converse(int count, const struct pam_message **messages, struct pam_response **responses, void *data) {
    struct conv_data *conv = data;
    struct pam_response *answers = calloc((size_t)count, sizeof *answers);
    if (!answers) return PAM_BUF_ERR;
    for (int i = 0; i < count; i++) {
        int style = messages[i]->msg_style;
        if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON) continue;
        const char *answer = conv->code;
        if (conv->password && strcasestr(messages[i]->msg, "password") && !strcasestr(messages[i]->msg, "one-time"))
            answer = conv->password;
        answers[i].resp = strdup(answer);
    }
    *responses = answers;
    return PAM_SUCCESS;
}

static void totp(const unsigned char *secret, int secret_length, uint64_t step, char out[16]) {
    unsigned char counter[8];
    for (int i = 7; i >= 0; i--) { counter[i] = (unsigned char)(step & 0xff); step >>= 8; }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha1(), secret, secret_length, counter, sizeof counter, digest, &length);
    int offset = digest[length - 1] & 0x0f;
    uint32_t value = ((uint32_t)(digest[offset] & 0x7f) << 24) | ((uint32_t)digest[offset + 1] << 16) |
                     ((uint32_t)digest[offset + 2] << 8) | digest[offset + 3];
    snprintf(out, 16, "%06u", value % 1000000);
}

static int parse_hex(const char *hex, unsigned char *out, int capacity) {
    int length = 0;
    for (const char *p = hex; p[0] && p[1] && length < capacity; p += 2) {
        unsigned int byte;
        if (sscanf(p, "%2x", &byte) != 1) return -1;
        out[length++] = (unsigned char)byte;
    }
    return length;
}

struct bench_user {
    char name[128];
    unsigned char secret[64];
    int secret_length;
};

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int compare_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Shared between the jobs: each job's latencies (microseconds), successes and failures. */
struct job_result {
    long ok, failed, waits;
};

int main(int argc, char **argv) {
    const char *confdir = NULL, *service = NULL, *prefix = "user", *secret_hex = NULL, *password = NULL;
    const char *label = NULL, *secrets_file = NULL;
    int users = 1, period = 30, jobs = 1, hotp = 0;
    double seconds = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--confdir")) confdir = v;
        else if (!strcmp(o, "--service")) service = v;
        else if (!strcmp(o, "--user-prefix")) prefix = v;
        else if (!strcmp(o, "--users")) users = atoi(v);
        else if (!strcmp(o, "--secret")) secret_hex = v;
        else if (!strcmp(o, "--period")) period = atoi(v);
        else if (!strcmp(o, "--seconds")) seconds = atof(v);
        else if (!strcmp(o, "--jobs")) jobs = atoi(v);
        else if (!strcmp(o, "--password")) password = v;
        else if (!strcmp(o, "--label")) label = v;
        else if (!strcmp(o, "--hotp")) hotp = atoi(v);
        else if (!strcmp(o, "--secrets-file")) secrets_file = v;
        else { fprintf(stderr, "pam-bench: unknown option %s\n", o); return 2; }
    }
    struct bench_user *table = NULL;
    if (secrets_file) {
        FILE *file = fopen(secrets_file, "r");
        if (!file) { perror(secrets_file); return 2; }
        char name[128], hex[160];
        int capacity = 0;
        users = 0;
        while (fscanf(file, "%127s %159s", name, hex) == 2) {
            if (users == capacity) {
                capacity = capacity ? capacity * 2 : 256;
                table = realloc(table, sizeof *table * (size_t)capacity);
            }
            snprintf(table[users].name, sizeof table[users].name, "%s", name);
            table[users].secret_length = parse_hex(hex, table[users].secret, sizeof table[users].secret);
            if (table[users].secret_length <= 0) { fprintf(stderr, "pam-bench: bad secret in %s\n", secrets_file); return 2; }
            users++;
        }
        fclose(file);
    } else if (secret_hex) {
        table = calloc((size_t)(users > 0 ? users : 1), sizeof *table);
        for (int i = 0; i < users; i++) {
            snprintf(table[i].name, sizeof table[i].name, "%s%d", prefix, i);
            table[i].secret_length = parse_hex(secret_hex, table[i].secret, sizeof table[i].secret);
            if (table[i].secret_length <= 0) { fprintf(stderr, "pam-bench: --secret must be hex\n"); return 2; }
        }
    }
    if (!confdir || !service || !table || users < 1 || period < 1 || jobs < 1 || jobs > users) {
        fprintf(stderr, "usage: pam-bench --confdir DIR --service NAME (--users N --secret HEX [--user-prefix P] | "
                        "--secrets-file F) [--period S] [--seconds S] [--jobs J] [--password PW] [--label TEXT] "
                        "[--hotp 1]\n");
        return 2;
    }

    /* Up to this many latencies per job are kept (enough for 10 s at 50,000/s). */
    const long capacity = 1 << 20;
    size_t shared_size = (size_t)jobs * (sizeof(struct job_result) + (size_t)capacity * sizeof(uint32_t));
    void *shared = mmap(NULL, shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) { perror("mmap"); return 1; }
    struct job_result *results = shared;
    uint32_t *latencies = (uint32_t *)(results + jobs);

    /* Every code of the period that is running now may have been used already (by the previous run against the
     * same users, or by the enrollment that created them), and each module rightly refuses it as a replay: start
     * with the next period, whose codes are all fresh. */
    if (!hotp) {
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        long long next_period = ((long long)wall.tv_sec / period + 1) * period;
        double wait = (double)(next_period - wall.tv_sec) - (double)wall.tv_nsec / 1e9 + 0.02;
        struct timespec pause = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&pause, NULL);
    }
    double start = now_seconds();
    for (int job = 0; job < jobs; job++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid > 0) continue;
        struct job_result *mine = &results[job];
        uint32_t *mine_latencies = latencies + (long)job * capacity;
        int count = (users - job + jobs - 1) / jobs; /* users job, job+jobs, ... */
        uint64_t *last_step = calloc((size_t)count, sizeof *last_step);
        int next = 0;
        struct conv_data data = {.password = password};
        struct pam_conv conv = {.conv = converse, .appdata_ptr = &data};
        char user[256];
        while (now_seconds() - start < seconds) {
            uint64_t step = (uint64_t)time(NULL) / (uint64_t)period;
            if (hotp) {
                step = last_step[next]++;
            } else {
                int tried = 0;
                while (tried < count && last_step[next] == step) { next = (next + 1) % count; tried++; }
                if (tried == count) { mine->waits++; usleep(1000); continue; }
                last_step[next] = step;
            }
            struct bench_user *who = &table[job + next * jobs];
            snprintf(user, sizeof user, "%s", who->name);
            totp(who->secret, who->secret_length, step, data.code);
            double begin = now_seconds();
            pam_handle_t *handle = NULL;
            int rc = pam_start_confdir(service, user, &conv, confdir, &handle);
            if (rc == PAM_SUCCESS) rc = pam_authenticate(handle, 0);
            if (handle) pam_end(handle, rc);
            double took = now_seconds() - begin;
            if (rc == PAM_SUCCESS) {
                if (mine->ok < capacity) mine_latencies[mine->ok] = (uint32_t)(took * 1e6);
                mine->ok++;
            } else {
                mine->failed++;
                if (mine->failed <= 3) fprintf(stderr, "pam-bench: %s: %s\n", user, pam_strerror(NULL, rc));
            }
            next = (next + 1) % count;
        }
        _exit(0);
    }
    for (int job = 0; job < jobs; job++) wait(NULL);
    double elapsed = now_seconds() - start;

    long ok = 0, failed = 0, waits = 0, kept = 0;
    for (int job = 0; job < jobs; job++) {
        ok += results[job].ok;
        failed += results[job].failed;
        waits += results[job].waits;
    }
    uint32_t *all = malloc(sizeof(uint32_t) * (size_t)(ok > 0 ? ok : 1));
    for (int job = 0; job < jobs; job++) {
        long n = results[job].ok < capacity ? results[job].ok : capacity;
        memcpy(all + kept, latencies + (long)job * capacity, sizeof(uint32_t) * (size_t)n);
        kept += n;
    }
    qsort(all, (size_t)kept, sizeof *all, compare_u32);
#define PCT(q) (kept ? all[(long)((double)(kept - 1) * (q))] : 0)
    printf("{\"label\":\"%s\",\"service\":\"%s\",\"jobs\":%d,\"users\":%d,\"checks_per_s\":%.1f,\"p50_us\":%u,"
           "\"p99_us\":%u,\"p999_us\":%u,\"ok\":%ld,\"errors\":%ld,\"account_waits_ms\":%ld}\n",
           label ? label : service, service, jobs, users, (double)ok / elapsed, PCT(0.50), PCT(0.99), PCT(0.999), ok,
           failed, waits);
    return failed > 0 ? 1 : 0;
}
