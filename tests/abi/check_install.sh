#!/bin/sh
# What a host author gets from `meson install`: install into a scratch
# DESTDIR, compile the documented minimal host against the installed
# header with pkg-config alone, and run it on the installed plugin and
# example model (TAP output).
build=${1:?usage: check_install.sh BUILD_DIR minimal_host.c}
src=${2:?}
cc=${CC:-cc}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
echo "1..4"

if meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$dest/install.log" 2>&1; then
    echo "ok 1 - meson install --destdir"
else
    echo "not ok 1 - meson install --destdir"; sed 's/^/# /' "$dest/install.log"; exit 0
fi

pc=$(find "$dest" -name leadscore.pc | head -n 1)
export PKG_CONFIG_LIBDIR="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$dest"
cflags=$(pkg-config --cflags leadscore 2>&1)
plugindir=$(pkg-config --variable=plugindir leadscore 2>/dev/null)
case $plugindir in "$dest"*) ;; *) plugindir=$dest$plugindir ;; esac
if [ -n "$pc" ] && [ -f "$plugindir/leadscore.so" ] \
   && [ -f "$(echo "$cflags" | sed 's/^-I//; s/ .*//')/leadscore/plugin.h" ]; then
    echo "ok 2 - leadscore.pc points at the installed header and plugin"
else
    echo "not ok 2 - leadscore.pc: cflags '$cflags', plugindir '$plugindir'"; exit 0
fi

# shellcheck disable=SC2086
if $cc -std=c17 -Wall -Wextra -Werror $cflags -o "$dest/host" "$src" -ldl 2>"$dest/cc.log"; then
    echo "ok 3 - the minimal host compiles from the installed header alone"
else
    echo "not ok 3 - compile"; sed 's/^/# /' "$dest/cc.log"; exit 0
fi

model=$(find "$dest" -path '*/models/b2b-saas.json' | head -n 1)
out=$("$dest/host" "$plugindir/leadscore.so" "$model" 2>&1)
if printf '%s\n' "$out" | grep -q '^[^ ]* c-1: score [0-9]*, tier '; then
    echo "ok 4 - it scores with the installed plugin and model"
else
    echo "not ok 4 - run"; printf '%s\n' "$out" | sed 's/^/# /'
fi
