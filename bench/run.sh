#!/usr/bin/env bash
# Benchmarks of docs/performance.md, in one command:
#
#   bench/run.sh [quick|full]
#
#   quick: 10,000 contacts, 100,000 events (seconds)
#   full:  1,000,000 contacts, 10,000,000 events (minutes, ~1.2 GB of data)
#
# Builds what it needs in build-bench (buildtype=release; BENCH_BUILD_DIR
# overrides the directory, e.g. to keep parallel builds apart), writes the data
# under bench/data/ (git-ignored), pins the single-threaded runs to CPU 0.
# Reports (a) engine-only events/s, (b) `leadscore score` wall time over
# a parse-only jansson pass of the same file, (c) peak RSS of the score run.
# The targets are on one core: (b) is `leadscore score` on CPU 0 alone
# (one thread).  It is measured a second time as it runs by default on
# two CPUs (a reader thread parses while the main thread scores), for the
# record: that figure is not the target's.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-quick}
case "$mode" in
quick) contacts=10000 events=100000 ;;
full) contacts=1000000 events=10000000 ;;
*) echo "usage: bench/run.sh [quick|full]" >&2; exit 2 ;;
esac
seed=42
B=${BENCH_BUILD_DIR:-build-bench}
model=bench/model-50.json
data=bench/data/$mode.jsonl
pin=(taskset -c 0)
pin2=(taskset -c 0,1)
command -v taskset >/dev/null || pin=() pin2=()
cpus=$(nproc)

# -O3 makes GCC's format-truncation analysis stricter than the plain
# builds, and the project turns -Werror=format on: keep it a warning here.
opts=(--buildtype=release -Dtests=disabled -Dc_args=-Wno-error=format-truncation)
if [ ! -f "$B/build.ninja" ]; then
    meson setup "$B" "${opts[@]}" >/dev/null
else
    meson configure "$B" "${opts[@]}" >/dev/null
fi
meson compile -C "$B" plugin/leadscore:shared_module \
    host/cli/leadscore:executable bench-gen bench-parse-only bench-engine \
    >/dev/null
plugin=$B/plugin/leadscore.so
export LEADSCORE_PLUGIN=$plugin

mkdir -p bench/data
if [ ! -s "$data" ]; then
    echo "generating $data ($contacts contacts, $events events, seed $seed)"
    "$B/bench/bench-gen" "$contacts" "$events" "$seed" "$data"
fi
echo "data: $data, $(wc -l <"$data") lines, $(du -h "$data" | cut -f1)"

# (a) engine only, typed events already in memory
echo "== (a) engine only"
"${pin[@]}" "$B/bench/bench-engine" "$plugin" "$model" "$contacts" "$events" "$seed" \
    | tee "bench/data/engine-$mode.txt"
eps=$(sed -n 's/.*: \([0-9]*\) events\/s$/\1/p' "bench/data/engine-$mode.txt")

# timed NAME CMD...: wall seconds and peak RSS (KiB) via GNU time
timed() {
    local name=$1
    shift
    /usr/bin/time -f "%e %M" -o "bench/data/time-$name-$mode.txt" "$@"
}

echo "== (b) end to end vs parse only"
cat "$data" >/dev/null # warm the page cache for both runs
timed parse "${pin[@]}" "$B/bench/bench-parse-only" "$data"
# Exit status 1 only means some lines were rejected (listed on stderr):
# the run still scored everything else, so its time stands.
if [ "$cpus" -ge 2 ]; then
    timed score "${pin2[@]}" "$B/host/cli/leadscore" score --model "$model" \
        "$data" >/dev/null 2>"bench/data/score-stderr-$mode.txt" || true
    tail -n 1 "bench/data/score-stderr-$mode.txt"
fi
timed score1 "${pin[@]}" "$B/host/cli/leadscore" score --model "$model" "$data" \
    >/dev/null 2>"bench/data/score1-stderr-$mode.txt" || true
tail -n 1 "bench/data/score1-stderr-$mode.txt"
[ "$cpus" -ge 2 ] || cp "bench/data/time-score1-$mode.txt" "bench/data/time-score-$mode.txt"
read -r parse_s parse_kb <"bench/data/time-parse-$mode.txt"
read -r score_s score_kb < <(grep -v '^Command' "bench/data/time-score-$mode.txt")
read -r score1_s score1_kb < <(grep -v '^Command' "bench/data/time-score1-$mode.txt")
ratio=$(awk -v a="$score_s" -v b="$parse_s" 'BEGIN { printf "%.2f", a / b }')
ratio1=$(awk -v a="$score1_s" -v b="$parse_s" 'BEGIN { printf "%.2f", a / b }')
echo "parse only: ${parse_s} s; leadscore score: ${score1_s} s on 1 CPU, ratio ${ratio1}; ${score_s} s on $([ "$cpus" -ge 2 ] && echo "2 CPUs" || echo "1 CPU"), ratio ${ratio}"

echo "== (c) peak RSS of leadscore score (one core)"
rss_mib=$(awk -v k="$score1_kb" 'BEGIN { printf "%.1f", k / 1024 }')
echo "peak RSS: ${rss_mib} MiB"

echo
echo "summary ($mode, $(date -u +%Y-%m-%dT%H:%M:%SZ)):"
printf '  (a) engine only      %s events/s   (target >= 2000000)\n' "$eps"
printf '  (b) score / parse    %s            (target <= 1.3, one core; %s on 2 CPUs)\n' "$ratio1" "$ratio"
printf '  (c) peak RSS         %s MiB      (target <= 600 for full)\n' "$rss_mib"
