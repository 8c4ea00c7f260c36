#!/bin/sh
# Run the documented minimal host against a plugin and a model; it must
# print a report.  Any failure fails: there is no skip.
host=${1:?usage: run_minimal_host.sh minimal_host PLUGIN MODEL}
plugin=${2:?}
model=${3:?}
out=$("$host" "$plugin" "$model" 2>"${TMPDIR:-/tmp}/minimal_host.$$.err")
rc=$?
err=$(cat "${TMPDIR:-/tmp}/minimal_host.$$.err"); rm -f "${TMPDIR:-/tmp}/minimal_host.$$.err"
printf '%s\n' "$out"
printf '%s\n' "$err" >&2
[ $rc -eq 0 ] || exit 1
printf '%s\n' "$out" | grep -q '^[^ ]* c-1: score [0-9]*, tier ' || exit 1
