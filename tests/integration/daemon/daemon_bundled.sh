#!/usr/bin/env bash
# leadscored with the real plugin and the bundled model: a Mailchimp
# `cleaned` webhook (reason hard) triggers the model's hard-bounce rule;
# mailchimp.require_signature refuses unsigned deliveries over HTTP.  TAP.  Arguments: LEADSCORED PROBE FAKE_PLUGIN PLUGIN_SO MODEL.
. "$(dirname "$0")/lib.sh"
PLUGIN=$4
MODEL=$5
DATA=$TMP/data
cat >"$TMP/config.json" <<JSON
{"listen": "127.0.0.1:0", "data_dir": "$DATA", "plugin": "$PLUGIN",
 "models": ["$MODEL"], "tokens": ["t0k"], "durable": false,
 "mailchimp": {"url_secret": "mcurl"}, "log_level": "info"}
JSON
start_daemon "$TMP/config.json"

mc() { curl -s -w ' %{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$1" "$URL/webhooks/mailchimp/mcurl"; }
r=$(mc 'type=subscribe&fired_at=2026-11-01+10%3A00%3A00&data%5Bid%5D=8a25ff1d98&data%5Bemail%5D=bo%40example.com')
expect "subscribe accepted" "$r" '{"accepted":2'
r=$(mc 'type=cleaned&fired_at=2026-11-01+11%3A00%3A00&data%5Blist_id%5D=a6b5da1054&data%5Bcampaign_id%5D=4fjk2ma9xd&data%5Breason%5D=hard&data%5Bemail%5D=bo%40example.com')
expect "cleaned accepted" "$r" '{"accepted":2'
c=$(get /v1/contacts/bo@example.com)
expect "hard bounce rule applied" "$c" '{"rule":"hard-bounce","group":"disqualifiers","fit":false,"points":-'
expect "contact cleaned" "$c" '"mailchimp_status":"cleaned"'
# An abuse report is not a hard bounce.
r=$(mc 'type=cleaned&fired_at=2026-11-01+11%3A00%3A00&data%5Breason%5D=abuse&data%5Bemail%5D=ab%40example.com')
expect "abuse cleaned accepted" "$r" '{"accepted":2'
c=$(get /v1/contacts/ab@example.com)
[[ "$c" != *'hard-bounce'* ]] && ok "abuse: no hard-bounce award" || fail "abuse awarded hard-bounce: $c"
# upemail: the new address becomes an alias; later deliveries for it
# reach the same contact (also after a rescore, which replays the log).
r=$(mc 'type=upemail&fired_at=2026-11-01+12%3A00%3A00&data%5Bnew_id%5D=51aa6c6a04&data%5Bold_email%5D=bo%40example.com&data%5Bnew_email%5D=Bo2%40Example.com')
expect "upemail accepted" "$r" '{"accepted":1'
r=$(mc 'type=profile&fired_at=2026-11-01+13%3A00%3A00&data%5Bemail%5D=bo2%40example.com&data%5Bmerges%5D%5BFNAME%5D=Bonnie')
expect "profile for the new address accepted" "$r" '{"accepted":1'
c=$(get /v1/contacts/bo2@example.com)
expect "the new address names the old contact" "$c" '"contact":"bo@example.com"'
expect "its properties merged there" "$c" '"first_name":"Bonnie"'
expect "with the new address as email" "$c" '"email":"bo2@example.com"'
expect "the hard bounce kept" "$c" '"rule":"hard-bounce"'
n=$(sql "SELECT count(*) FROM contacts WHERE id = 'bo2@example.com'")
[ "$n" = 0 ] && ok "no second contact for the new address" || fail "second contact: $n"
post /v1/admin/rescore '' >/dev/null
wait_for sh -c "curl -s $URL/metrics | grep -q 'leadscored_rescores_total{result=\"ok\"} 1'" ||
    fail "rescore did not finish"
r=$(mc 'type=profile&fired_at=2026-11-01+14%3A00%3A00&data%5Bemail%5D=bo2%40example.com&data%5Bmerges%5D%5BLNAME%5D=Smith')
expect "after a rescore: accepted" "$r" '{"accepted":1'
c=$(get /v1/contacts/bo@example.com)
expect "after a rescore: still one contact" "$c" '"last_name":"Smith"'
expect "after a rescore: earlier fields kept" "$c" '"first_name":"Bonnie"'
n=$(sql "SELECT count(*) FROM contacts WHERE id = 'bo2@example.com'")
[ "$n" = 0 ] && ok "after a rescore: no second contact" || fail "second contact after rescore: $n"
stop_daemon
ok "SIGTERM: clean exit"

# mailchimp.require_signature: an unsigned delivery is refused over HTTP.
sed -i 's|"mailchimp": {"url_secret": "mcurl"}|"mailchimp": {"url_secret": "mcurl", "signing_secret": "mc-sign", "require_signature": true}|' "$TMP/config.json"
start_daemon "$TMP/config.json"
form='type=profile&fired_at=2026-11-01+12%3A00%3A00&data%5Bemail%5D=bo%40example.com&data%5Bmerges%5D%5BFNAME%5D=Bo'
printf '%s' "$form" >"$TMP/mc"
r=$(mc "$form")
expect "require_signature: unsigned delivery refused" "$r" '401'
expect "require_signature: reason" "$r" 'X-Mailchimp-Signature'
t=$(date +%s)
h=$("$PROBE" sign-mailchimp mc-sign "$t" "$TMP/mc")
r=$(curl -s -w ' %{http_code}' -H "X-Mailchimp-Signature: $h" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$TMP/mc" "$URL/webhooks/mailchimp/mcurl")
expect "require_signature: signed delivery accepted" "$r" '{"accepted":1'
expect "the signed profile applied" "$(get /v1/contacts/bo@example.com)" '"first_name":"Bo"'
expect "unsigned counted as an auth failure" "$(curl -s "$URL/metrics")" 'leadscored_auth_failures_total{source="mailchimp"} 1'
r=$(mc 'type=upemail&fired_at=2026-11-01+12%3A00%3A00&data%5Bold_email%5D=bo%40example.com&data%5Bnew_email%5D=b2%40example.com')
expect "require_signature: unsigned upemail refused too" "$r" '401'
stop_daemon
ok "SIGTERM: clean exit"
echo "1..$n_ok"
