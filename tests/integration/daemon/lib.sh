# Shared helpers of the daemon integration tests (sourced).
# Arguments of every test: LEADSCORED PROBE FAKE_PLUGIN.
set -euo pipefail
LEADSCORED=$1
PROBE=$2
FAKE=$3
TMP=$(mktemp -d /tmp/lsc-daemon-test.XXXXXX)
DPID=""
n_ok=0
cleanup() {
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        kill -9 "$DPID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "not ok - $*"; echo "--- daemon log:"; tail -n 30 "$TMP/daemon.log" 2>/dev/null || true; exit 1; }
ok() { n_ok=$((n_ok + 1)); echo "ok $n_ok - $*"; }

# wait_for CMD...: retry for up to 10 s (50 ms steps).
wait_for() {
    local i
    for i in $(seq 1 200); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    return 1
}

# write_config FILE DATADIR MODEL
write_config() {
    cat >"$1" <<JSON
{
  "listen": "127.0.0.1:0",
  "data_dir": "$2",
  "plugin": "$FAKE",
  "models": ["$3"],
  "tokens": ["t0k"],
  "hubspot": {"client_secret": "hs-secret"},
  "mailchimp": {"url_secret": "mcurl", "signing_secret": "mc-sign"},
  "limits": {"max_body_bytes": 65536},
  "durable": true,
  "wake_scan": "100ms",
  "jobs": {"workers": 1, "max_attempts": 3},
  "log_level": "info"
}
JSON
}

# start_daemon CONFIG: sets DPID and URL.
start_daemon() {
    rm -f "$TMP/port"
    "$LEADSCORED" --config "$1" --port-file "$TMP/port" >>"$TMP/daemon.log" 2>&1 &
    DPID=$!
    wait_for test -s "$TMP/port" || fail "daemon did not start"
    URL="http://127.0.0.1:$(cat "$TMP/port")"
}

stop_daemon() {
    kill -TERM "$DPID"
    local i
    for i in $(seq 1 200); do
        kill -0 "$DPID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$DPID" 2>/dev/null; then fail "daemon did not stop on SIGTERM"; fi
    wait "$DPID" || fail "daemon exited with status $?"
    DPID=""
}

# post PATH BODY [curl args...]: prints "<code> <body>".
post() {
    local path=$1 body=$2; shift 2
    curl -s -o "$TMP/resp" -w '%{http_code}' -H 'Authorization: Bearer t0k' \
        --data-binary "$body" "$@" "$URL$path" >"$TMP/code" || true
    echo "$(cat "$TMP/code") $(cat "$TMP/resp")"
}

get() {
    curl -s -H 'Authorization: Bearer t0k' "$URL$1"
}

expect() { # expect WHAT ACTUAL SUBSTRING
    if [[ "$2" == *"$3"* ]]; then ok "$1"; else fail "$1: got '$2', expected '*$3*'"; fi
}

sql() { "$PROBE" sql "$DATA" "$1"; }
