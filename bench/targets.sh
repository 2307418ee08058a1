#!/bin/sh
# The targets of issue 9 that bench/compare.sh's side-by-side rows do not measure, in the same run: password
# logins against the machine's raw scrypt rate, `twofactor login` as a whole process, the idle daemon's memory,
# 1,000 idle connections, and a million accounts. Appends one JSON line per figure to RESULTS, each with a
# "target" key that compare.sh's report reads.
#
# usage: bench/targets.sh BIN_DIR WORK_DIR RESULTS [SECONDS]
set -eu
bin=$1
work=$2
results=$3
seconds=${4:-10}
. "$(dirname "$0")/lib.sh"
daemon=""
cleanup() {
    [ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    return 0
}
trap cleanup EXIT INT TERM

# Adds "target" and "label" to the one JSON object on standard input; prints nothing when the load generator
# printed none (it failed and said why), so the report says "not measured".
tagged() {
    python3 -c '
import json, sys
text = sys.stdin.read().strip()
if text:
    row = json.loads(text)
    row.update(target=sys.argv[1], label=sys.argv[2])
    print(json.dumps(row))
' "$1" "$2"
}

echo "== password logins against raw scrypt (twofactor-bench login measures both)" >&2
# The default cost (2^17) is the configured one; 2^10 is the lowest the daemon takes, where the rest of a
# login weighs most. 2^17 derives about 4 hashes a second on two threads, so it runs longer.
"$bin/twofactor-bench" login --daemon "$bin/twofactord" --preload --accounts 64 --connections 4 \
    --seconds 30 --scrypt-log-n 17 --raw-scrypt-seconds 10 --json |
    tagged password-logins "twofactor-bench login, scrypt 2^17, 4 conn" | tee -a "$results"
"$bin/twofactor-bench" login --daemon "$bin/twofactord" --preload --accounts 1024 --connections 16 \
    --seconds "$seconds" --scrypt-log-n 10 --raw-scrypt-seconds 3 --json |
    tagged password-logins "twofactor-bench login, scrypt 2^10, 16 conn" | tee -a "$results"

echo "== the idle daemon, 1,000 idle connections, twofactor login as a whole process" >&2
start_twofactord "$bin" targets "$work" --scrypt-log-n 10 --max-connections 1200
python3 - "$bin" "$work/targets-socket" "$daemon" <<'PY' | tee -a "$results"
import json, resource, secrets, socket, statistics, subprocess, sys, time

bin_dir, path, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])

def rss_kib():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

time.sleep(2)
print(json.dumps({"target": "idle", "label": "daemon idle", "rss_kib": rss_kib()}))

# Unix connections that send nothing; an operator's peer (root) is refused only past --max-connections.
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
held = []
for _ in range(1000):
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(path)
    held.append(connection)
time.sleep(3)
rss = rss_kib()
still_open = 0
for connection in held:
    connection.setblocking(False)
    try:
        still_open += connection.recv(1) != b""
    except BlockingIOError:
        still_open += 1
    connection.close()
print(json.dumps({"target": "idle-connections", "label": "daemon with 1,000 idle connections", "rss_kib": rss,
                  "open": still_open}))

# A 2FA-off account, so the login is start, connect, one scrypt at 2^10, one synced commit, answer, exit.
password = ("bench-login-" + secrets.token_hex(8) + "\n").encode()
subprocess.run([bin_dir + "/twofactorctl", "--socket", path, "--password-stdin", "user", "add", "lena"],
               input=password, stdout=subprocess.DEVNULL, check=True)

def timed(argv, stdin=b""):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

def medians(argv, stdin=b"", runs=30, warmups=3):
    for _ in range(warmups):
        timed(argv, stdin)
    samples = [timed(argv, stdin) for _ in range(runs)]
    return statistics.median(s[0] for s in samples) * 1000, statistics.median(s[1] for s in samples) * 1000

login_wall, login_cpu = medians([bin_dir + "/twofactor", "login", "--socket", path, "lena"], password)
# What starting any process costs this harness, measured the same way in the same run. Not interleaved with
# the logins: so interleaved, /bin/true took a fifth longer (likely sharing the cores with the end of each login).
true_wall, true_cpu = medians(["/bin/true"])
print(json.dumps({"target": "login-process", "label": "twofactor login, whole process (30 runs, medians)",
                  "wall_ms": round(login_wall, 2), "cpu_ms": round(login_cpu, 2),
                  "true_wall_ms": round(true_wall, 2), "true_cpu_ms": round(true_cpu, 2)}))
PY
kill -TERM "$daemon" && wait "$daemon" || true
daemon=""

echo "== a million accounts (--preload), against the 16,384-account row of this run" >&2
# The store of a million accounts takes about 2 GB under /tmp, where the load generator keeps its daemon's state.
free_kib=$(df -Pk /tmp | awk 'NR == 2 { print $4 }')
if [ "$free_kib" -lt 3000000 ]; then
    echo "skipped: /tmp has $((free_kib / 1024)) MiB free, and a million accounts need about 2 GB" >&2
    exit 0
fi
"$bin/twofactor-bench" verify --daemon "$bin/twofactord" --preload --accounts 1000000 --connections 32 \
    --seconds "$seconds" --json |
    tagged million-accounts "twofactor-bench verify, 32 conn, 1000000 accounts" | tee -a "$results"
