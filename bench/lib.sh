# Shared by bench/compare.sh and bench/targets.sh (sourced, not run).

# start_twofactord BIN_DIR NAME WORK [FLAG...]: starts "$BIN_DIR/twofactord" on WORK/NAME-socket with the state
# in WORK/NAME-state and its log in WORK/NAME.log, waits until it listens, and sets `daemon` to its pid.
start_twofactord() {
    start_bin=$1 start_name=$2 start_work=$3
    shift 3
    "$start_bin/twofactord" --socket "$start_work/$start_name-socket" --state-dir "$start_work/$start_name-state" \
        "$@" > "$start_work/$start_name.log" 2>&1 &
    daemon=$!
    start_tries=0
    while [ ! -S "$start_work/$start_name-socket" ]; do
        start_tries=$((start_tries + 1))
        if [ $start_tries -gt 100 ]; then
            echo "twofactord did not start:" >&2
            cat "$start_work/$start_name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
}
