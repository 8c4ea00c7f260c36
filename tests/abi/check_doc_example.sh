#!/bin/sh
# docs/plugin-api.md embeds tests/abi/minimal_host.c: the first ```c block
# after the marker line must be byte-identical to the file (TAP output).
doc=${1:?usage: check_doc_example.sh plugin-api.md minimal_host.c}
src=${2:?}
echo "1..1"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
awk '/<!-- example: tests\/abi\/minimal_host.c -->/ { marker = 1; next }
     marker && !inside && /^```c$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "$doc" > "$tmp"
if [ -s "$tmp" ] && cmp -s "$tmp" "$src"; then
    echo "ok 1 - the example in $(basename "$doc") is $(basename "$src")"
else
    echo "not ok 1 - the example in $(basename "$doc") differs from $(basename "$src")"
    diff -u "$src" "$tmp" | sed 's/^/# /' | head -40
fi
