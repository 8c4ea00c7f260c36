#!/usr/bin/env bash
# The installed daemon config points at the installed models: `meson
# install` into a scratch DESTDIR, read etc/leadscore/leadscored.json and
# check every "models" path exists there and the daemon accepts the config
# (with data_dir and the plugin moved into the scratch tree).  TAP.
# Arguments: BUILD_DIR.
set -euo pipefail
build=$1
dest=$(mktemp -d /tmp/lsc-install.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dest"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { echo "not ok - $*"; exit 1; }

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$dest/install.log" 2>&1 ||
    fail "meson install: $(tail -n 5 "$dest/install.log")"
ok "meson install --destdir"
conf=$(find "$dest" -path '*/leadscore/leadscored.json' | head -n 1)
[ -n "$conf" ] && ok "installed config: ${conf#"$dest"}" || fail "no installed leadscored.json"
models=$(grep -o '"models": *\[[^]]*\]' "$conf" | grep -o '"/[^"]*"' | tr -d '"')
[ -n "$models" ] || fail "no absolute models path in $conf"
for m in $models; do
    [ -f "$dest$m" ] && ok "model $m is installed" || fail "model $m is not where meson installed the models"
done
grep -q '@[A-Z]*@' "$conf" && fail "unsubstituted placeholder in $conf"
ok "no placeholder left"

# The daemon starts on it (models read from the scratch tree).
daemon=$(find "$dest" -name leadscored -type f -perm -u+x | head -n 1)
plugin=$(find "$dest" -name leadscore.so | head -n 1)
[ -n "$daemon" ] && [ -n "$plugin" ] || fail "installed daemon or plugin missing"
sed -e "s|\"$(dirname "$(echo "$models" | head -n 1)")|\"$dest$(dirname "$(echo "$models" | head -n 1)")|" \
    -e "s|\"data_dir\": \"[^\"]*\"|\"data_dir\": \"$dest/data\", \"plugin\": \"$plugin\"|" \
    -e 's|"listen": "[^"]*"|"listen": "127.0.0.1:0"|' "$conf" >"$dest/conf.json"
LEADSCORE_API_TOKEN=t "$daemon" --config "$dest/conf.json" --port-file "$dest/port" >"$dest/log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -s "$dest/port" ] && break; sleep 0.05; done
[ -s "$dest/port" ] && ok "leadscored starts with the installed config" ||
    fail "leadscored did not start: $(cat "$dest/log")"
kill -TERM "$pid"; wait "$pid" || fail "exit status $?"
pid=""
ok "clean exit"
echo "1..$n"
