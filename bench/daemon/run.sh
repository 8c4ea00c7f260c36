#!/usr/bin/env bash
# Loopback load test of leadscored with durable (fsync'ed) group commits.
#   bench/daemon/run.sh [BUILD_DIR] [DURATION_S]
# Starts the daemon on a free port with a temporary data directory, the
# real engine (leadscore.so) and config/models/b2b-saas.json, then runs
# wrk (Debian package "wrk") with $CONNS (default 128) connections: one event per request,
# then 10 events per request.  Prints accepted events/s (from the answers'
# "accepted" counts; non-2xx answers are errors), latency percentiles and
# the load average, and checks the store holds every accepted event.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
dur=${2:-10}
# wrk and sqlite3 are Debian packages: install them when missing, as
# build.sh does for the build dependencies.
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if [ ${#missing[@]} -gt 0 ]; then
    echo "run.sh: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
tmp=$(mktemp -d /tmp/lsc-bench.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
cat >"$tmp/config.json" <<JSON
{"listen": "127.0.0.1:0", "data_dir": "$tmp/data",
 "plugin": "$build/plugin/leadscore.so",
 "models": ["$src/config/models/b2b-saas.json"],
 "tokens": ["bench"], "durable": true, "log_level": "warn",
 "http": {"threads": 2}, "jobs": {"workers": 1}}
JSON
"$build/host/daemon/leadscored" --config "$tmp/config.json" --port-file "$tmp/port" 2>"$tmp/log" &
pid=$!
for _ in $(seq 1 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { cat "$tmp/log"; exit 1; }
url="http://127.0.0.1:$(cat "$tmp/port")"
conns=${CONNS:-128}
echo "leadscored on $url, $(nproc) cores, $conns connections, durable commits, ${dur}s per run"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
sent=0
for b in 1 10; do
    BATCH=$b RUN="r$b" TOKEN=bench wrk -t2 -c"$conns" -d"${dur}s" --latency -s "$here/events.lua" "$url" |
        grep RESULT | tee "$tmp/result"
    r=$(sed 's/.* accepted=\([0-9]*\).*/\1/' "$tmp/result")
    sent=$((sent + r))
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
curl -s "$url/metrics" | awk '
    /^leadscored_commits_total/ {c = $2}
    /^leadscored_commit_seconds_sum/ {s = $2}
    /^leadscored_events_total\{source="api",result="accepted"\}/ {e = $2}
    END {printf "commits: %d, %.1f events per commit, %.2f ms per commit (apply + fsync)\n", c, e / c, 1000 * s / c}'
kill -TERM "$pid"; wait "$pid"; pid=""
n=$(sqlite3 "$tmp/data/leadscored.db" 'SELECT count(*) FROM events' 2>/dev/null || echo "?")
echo "events in the store: $n (acknowledged as accepted: $sent)"
if [ "$n" != "?" ] && [ "$n" -lt "$sent" ]; then
    echo "LOST: the store holds fewer events than were acknowledged" >&2
    exit 1
fi
