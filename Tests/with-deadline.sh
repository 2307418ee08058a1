#!/bin/sh
# with-deadline.sh DEADLINE swift test ARGS...
#
# Runs the tests with Swift Testing's event stream on. When they have not finished after DEADLINE
# (timeout(1)'s syntax), it stops them and names every test that started and never ended. `swift test`
# prints its test process's output only when that process ends, so a hung test would otherwise use up
# CI's whole time and leave no word of which test it was.
set -u
deadline=$1
shift
events=$(mktemp)
started=$(mktemp)
ended=$(mktemp)
trap 'rm -f "$events" "$started" "$ended"' EXIT

# In a session of its own, without a controlling terminal, as in CI: run from a terminal, the tools the
# tests start would otherwise read their secrets from /dev/tty instead of the input the tests give them.
timeout --foreground --kill-after=30s "$deadline" setsid --wait "$@" \
    --event-stream-output-path "$events" --event-stream-version 0
status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    # The test process outlives swift test: stop it, the daemons it started and its throwaway
    # PostgreSQL clusters (PostgresCluster), which it would have stopped at its end.
    if pkill -KILL -f "$(pwd)/\.build[^/]*/.*PackageTests\.xctest" 2>/dev/null; then
        pkill -KILL -f "$(pwd)/\.build[^/]*/.*/twofactord " 2>/dev/null
        pkill -QUIT -f "postgres -D /tmp/tfd-pg-" 2>/dev/null
    fi
    sed -n 's/.*"kind":"testStarted".*"testID":"\([^"]*\)".*/\1/p' "$events" | sort >"$started"
    sed -n 's/.*"kind":"testEnded".*"testID":"\([^"]*\)".*/\1/p' "$events" | sort >"$ended"
    echo "The tests did not finish within $deadline and were stopped. Started and never ended:" >&2
    comm -23 "$started" "$ended" | sed -e 's|\\/|/|g' -e 's/^/  /' >&2
fi
exit "$status"
