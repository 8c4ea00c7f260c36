#!/usr/bin/env bash
# Golden tests: run the `leadscore` CLI on example data and compare with
# expectations derived by hand from the scoring contract (DERIVATION.md).
#
#   run.sh example | example-default | as-of | malformed | models
#
# `top` lists every rule that holds or has awards (the scoring contract,
# section 4); the CLI takes --top N, so most cases pass --top 1000 and
# test the engine; example-default runs the exact README command.
#
# Environment (set by meson's test_env): LSC_SOURCE_ROOT, LSC_BUILD_ROOT,
# LEADSCORE_PLUGIN.  LEADSCORE_CLI overrides the binary.
set -uo pipefail

src=${LSC_SOURCE_ROOT:?LSC_SOURCE_ROOT is not set}
bld=${LSC_BUILD_ROOT:?LSC_BUILD_ROOT is not set}
cli=${LEADSCORE_CLI:-$bld/host/cli/leadscore}
here=$src/tests/golden
model=$src/config/models/b2b-saas.json
challenger=$src/config/models/b2b-saas-challenger.json
events=$src/config/events/example.jsonl

if [ ! -x "$cli" ]; then
    echo "run.sh: no CLI at $cli" >&2
    exit 77 # meson: skipped
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect_same WHAT EXPECTED ACTUAL
expect_same() {
    if ! diff -u "$2" "$3" >"$tmp/diff"; then
        echo "FAIL: $1 differs from $2 (- expected, + got):"
        head -n 60 "$tmp/diff"
        fail=1
    else
        echo "ok: $1"
    fi
}

# run_cli OUT ERR TRANSITIONS ARGS...: sets $rc
top=(--top 1000)
run_cli() {
    local out=$1 err=$2 tr=$3
    shift 3
    "$cli" score "${top[@]}" --transitions "$tr" "$@" >"$out" 2>"$err"
    rc=$?
}

case "${1:-}" in
example-default)
    # Exactly `leadscore score --model M EVENTS`, as in the README: every
    # rule in `top`, no --top option.
    "$cli" score --model "$model" "$events" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq 0 ] || { echo "FAIL: exit code $rc, want 0"; cat "$tmp/err"; fail=1; }
    expect_same "scores (default options)" "$here/expected/example.jsonl" "$tmp/out"
    ;;
example)
    run_cli "$tmp/out" "$tmp/err" "$tmp/tr" --model "$model" "$events"
    [ "$rc" -eq 0 ] || { echo "FAIL: exit code $rc, want 0"; cat "$tmp/err"; fail=1; }
    [ -s "$tmp/err" ] && { echo "FAIL: unexpected stderr:"; head "$tmp/err"; fail=1; }
    expect_same "scores" "$here/expected/example.jsonl" "$tmp/out"
    expect_same "transitions" "$here/expected/example.transitions.jsonl" "$tmp/tr"
    ;;
as-of)
    # Three days after the last event: more decay, no tier leaves its band.
    run_cli "$tmp/out" "$tmp/err" "$tmp/tr" --model "$model" \
        --as-of 2026-03-05T12:00:00Z "$events"
    [ "$rc" -eq 0 ] || { echo "FAIL: exit code $rc, want 0"; cat "$tmp/err"; fail=1; }
    expect_same "scores at --as-of" "$here/expected/example.as-of.jsonl" "$tmp/out"
    expect_same "transitions" "$here/expected/example.transitions.jsonl" "$tmp/tr"
    ;;
malformed)
    in=$here/cases/malformed.jsonl
    run_cli "$tmp/out" "$tmp/err" "$tmp/tr" --model "$model" "$in"
    [ "$rc" -eq 1 ] || { echo "FAIL: exit code $rc, want 1"; fail=1; }
    # Only the line numbers of the rejections are asserted, not the wording.
    grep -oE "malformed\.jsonl:[0-9]+: " "$tmp/err" | cut -d: -f2 | sort -n -u \
        >"$tmp/rejected"
    expect_same "rejected lines" "$here/expected/malformed.rejected" "$tmp/rejected"
    expect_same "scores of the valid lines" "$here/expected/malformed.jsonl" "$tmp/out"
    expect_same "transitions" "$here/expected/malformed.transitions.jsonl" "$tmp/tr"
    ;;
models)
    for m in "$model" "$challenger"; do
        if "$cli" validate "$m" >"$tmp/out" 2>&1; then
            echo "ok: $(basename "$m") is valid"
        else
            echo "FAIL: leadscore validate $(basename "$m"):"
            cat "$tmp/out"
            fail=1
        fi
    done
    # The challenger runs as a shadow on the same events: one line per
    # contact still, each with a "shadows" member for the challenger.
    run_cli "$tmp/out" "$tmp/err" "$tmp/tr" --model "$model" --model "$challenger" "$events"
    [ "$rc" -eq 0 ] || { echo "FAIL: exit code $rc with a shadow model"; cat "$tmp/err"; fail=1; }
    n=$(grep -c '"shadows":{"b2b-saas-challenger":{' "$tmp/out")
    want=$(wc -l <"$here/expected/example.jsonl")
    [ "$n" -eq "$want" ] || { echo "FAIL: $n lines with a shadow, want $want"; fail=1; }
    # The primary's part of each line is unchanged by the shadow.
    sed -E 's/,"shadows":\{.*\}\}$/}/' "$tmp/out" >"$tmp/primary"
    expect_same "primary scores with a shadow" "$here/expected/example.jsonl" "$tmp/primary"
    ;;
*)
    echo "usage: run.sh example|example-default|as-of|malformed|models" >&2
    exit 2
    ;;
esac
exit $fail
