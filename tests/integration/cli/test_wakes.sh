#!/bin/sh
# Without a --transitions file a score run delivers each contact's wakes
# (EVALUATEs for decay) just before its next event or its report; with
# one, in time order across contacts.  Both must give the same reports
# and counts (TAP).
#   test_wakes.sh LEADSCORE BENCH_GEN
ls=${1:?usage: test_wakes.sh LEADSCORE BENCH_GEN}
gen=${2:?}
here=$(cd "$(dirname "$0")" && pwd)
root=${LSC_SOURCE_ROOT:-$here/../../..}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

model="$root/bench/model-50.json"
shadow="$root/config/models/b2b-saas.json"
# 3,000 contacts, 30,000 events over 90 days: decay makes many contacts
# fall a tier between their events.
"$gen" 3000 30000 7 "$tmp/ev.jsonl" >/dev/null || { echo "Bail out! bench-gen"; exit 1; }

# compare NAME ARGS...: the same score run with and without --transitions.
compare() {
    what=$1; shift
    "$ls" score --stats "$@" "$tmp/ev.jsonl" >"$tmp/lazy" 2>"$tmp/lazy.err"
    rc1=$?
    "$ls" score --stats --transitions "$tmp/tr" "$@" "$tmp/ev.jsonl" \
        >"$tmp/ordered" 2>"$tmp/ordered.err"
    rc2=$?
    if [ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] && [ -s "$tmp/lazy" ] &&
        cmp -s "$tmp/lazy" "$tmp/ordered" &&
        cmp -s "$tmp/lazy.err" "$tmp/ordered.err"; then
        ok "$what: same reports and counts"
    else
        not_ok "$what: reports or counts differ (exit $rc1/$rc2)"
        diff "$tmp/ordered" "$tmp/lazy" | head -6 | sed 's/^/# /'
        diff "$tmp/ordered.err" "$tmp/lazy.err" | head -4 | sed 's/^/# /'
    fi
}

compare "at the end of the stream" --model "$model"
compare "--as-of after the stream" --model "$model" --as-of 2026-06-01T00:00:00Z
compare "--as-of inside the stream" --model "$model" --as-of 2026-02-15T00:00:00Z
compare "with a shadow model, csv" --model "$model" --model "$shadow" --format csv
# The wakes must matter for this to test anything: decay transitions.
if [ "$(grep -v '"from":null' "$tmp/tr" | grep -c '"to":"cold"')" -gt 100 ]; then
    ok "the stream has tier drops by decay"
else
    not_ok "the stream has tier drops by decay"
fi

echo "1..$n"
[ "$fails" -eq 0 ]
