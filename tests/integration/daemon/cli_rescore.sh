#!/usr/bin/env bash
# `leadscore rescore` against a running leadscored: starts a rescore with
# the token from the environment, waits for it, and the daemon's scores
# follow the edited model.  Arguments: LEADSCORED PROBE FAKE_PLUGIN LEADSCORE.
. "$(dirname "$0")/lib.sh"
CLI=$4

DATA=$TMP/data
MODEL=$TMP/model.json
echo '{"name":"m1","points":{"email_open":5},"default":1,"tiers":[["cold",0],["mql",10],["sql",20]]}' >"$MODEL"
write_config "$TMP/config.json" "$DATA" "$MODEL"
start_daemon "$TMP/config.json"

post /v1/events '{"contact":"c-1","type":"email_open","ts":1793527200,"id":"e-1"}
{"contact":"c-1","type":"email_open","ts":1793527201,"id":"e-2"}' >/dev/null
expect "scored under the first model" "$(get /v1/contacts/c-1)" '"score":10'

# The admin edits the model in place, then rescores.
echo '{"name":"m1","points":{"email_open":7},"default":1,"tiers":[["cold",0],["mql",10],["sql",20]]}' >"$MODEL"

set +e
out=$(LEADSCORED_TOKEN=nope "$CLI" rescore --daemon "$URL" 2>&1); rc=$?
set -e
expect "wrong token: exit 1" "$rc" "1"
expect "wrong token: says so" "$out" "refused the token"
expect "wrong token: the token is not printed" "$([[ "$out" == *nope* ]] && echo leaked || echo clean)" "clean"

set +e
out=$(LEADSCORED_TOKEN=t0k "$CLI" rescore --daemon "$URL/" --wait 20 2>&1); rc=$?
set -e
expect "rescore --wait: exit 0" "$rc" "0"
expect "rescore --wait: finished" "$out" "rescore finished"
expect "scores follow the edited model (2 opens x 7)" "$(get /v1/contacts/c-1)" '"score":14'

stop_daemon
set +e
out=$(LEADSCORED_TOKEN=t0k "$CLI" rescore --daemon "$URL" 2>&1); rc=$?
set -e
expect "no daemon: exit 4" "$rc" "4"
echo "1..$n_ok"
