#!/bin/sh
# The plugin exports exactly one function, lsc_plugin_entry, and no data:
# everything else is hidden (TAP output).
so=${1:?usage: check_exports.sh leadscore.so}
echo "1..2"
# Defined dynamic symbols; 'A' entries are version-node names, not code.
syms=$(nm -D --defined-only "$so" | awk '$2 != "A" { print $2 " " $3 }')
funcs=$(printf '%s\n' "$syms" | awk '$1 ~ /^[TtWi]$/ { print $2 }')
other=$(printf '%s\n' "$syms" | awk 'NF && $1 !~ /^[TtWi]$/ { print $2 }')
if [ "$funcs" = "lsc_plugin_entry" ]; then
    echo "ok 1 - exactly one exported function: lsc_plugin_entry"
else
    echo "not ok 1 - exported functions: $(echo $funcs)"
fi
if [ -z "$other" ]; then
    echo "ok 2 - no exported data symbols"
else
    echo "not ok 2 - exported data symbols: $(echo $other)"
fi
