#!/usr/bin/env bash
# leadscored over HTTP: ingestion, de-duplication, malformed and oversized
# bodies, HubSpot and Mailchimp webhooks with signatures, the contact API,
# metrics, reload with a broken model, rescore, SIGTERM.  TAP output.
. "$(dirname "$0")/lib.sh"

DATA=$TMP/data
MODEL=$TMP/model.json
echo '{"name":"m1","points":{"email_open":5},"default":1,"tiers":[["cold",0],["mql",10],["sql",20]]}' >"$MODEL"
write_config "$TMP/config.json" "$DATA" "$MODEL"
start_daemon "$TMP/config.json"

expect "healthz" "$(curl -s "$URL/healthz")" '"status":"ok"'
r=$(curl -s -o /dev/null -w '%{http_code}' --data-binary '{}' "$URL/v1/events")
expect "no token: 401" "$r" "401"
r=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' --data-binary '{}' "$URL/v1/events")
expect "wrong token: 401" "$r" "401"

r=$(post /v1/events '{"contact":"c-1","type":"email_open","ts":"2026-11-01T10:00:00Z","id":"e-1"}')
expect "one event accepted" "$r" '200 {"accepted":1,"duplicate":0,"rejected":0'

batch='{"contact":"c-1","type":"email_open","ts":1793527200,"id":"e-2"}
{"contact":"c-1","type":"email_open","ts":1793527200,"id":"e-1"}
{"contact":"c-2","type":"page_view","ts":"2026-11-01T10:00:00Z"}
{"contact":"c-3","ts":"2026-11-01T10:00:00Z"}
not json'
r=$(post /v1/events "$batch")
expect "batch counts" "$r" '200 {"accepted":2,"duplicate":1,"rejected":2'
expect "batch names the duplicate" "$r" '"duplicates":[{"line":2,"id":"e-1"}]'
expect "batch names the missing field" "$r" '{"line":4,"reason":"'
expect "reason names type" "$r" "'type'"

r=$(post /v1/events '{"contact":"c-1","type":"email_open","ts":1793527200,"id":"e-2"}')
expect "redelivery is a duplicate" "$r" '"accepted":0,"duplicate":1'

r=$(post /v1/events '{"contact":"c-9","type":"contact.updated","ts":1793527200,"props":{"fail":true}}')
expect "plugin refusal: 400 with its reason" "$r" "400 "
expect "plugin refusal reason" "$r" "property 'fail' is set"

r=$(post /v1/events '{"contact": 12}')
expect "malformed: 400" "$r" '400 {"accepted":0,"duplicate":0,"rejected":1'
r=$(post /v1/events '')
expect "empty body: 400" "$r" '400 {"error":"empty body'

head -c 70000 /dev/zero | tr '\0' 'x' >"$TMP/big"
r=$(post /v1/events "@$TMP/big")
expect "oversized body: 413" "$r" '413 {"error":"body larger than 65536 bytes"}'
expect "413 counted" "$(curl -s "$URL/metrics")" 'leadscored_too_large_total 1'
expect "413 logged" "$(cat "$TMP/daemon.log")" 'refused /v1/events from 127.0.0.1: 413 body larger than 65536 bytes'
expect "401 logged" "$(cat "$TMP/daemon.log")" 'refused /v1/events from 127.0.0.1: 401 missing or wrong bearer token'

r=$(post /v1/events '{
  "contact": "c-4",
  "type": "email_open",
  "ts": "2026-11-01T10:00:00Z"
}' -H 'Content-Type: application/json')
expect "pretty-printed single event" "$r" '200 {"accepted":1'

dl=$(sql "SELECT count(*) FROM dead_letters")
[ "$dl" -ge 4 ] && ok "rejected input is dead-lettered ($dl)" || fail "dead letters: $dl"
n=$(sql "SELECT count(*) FROM events WHERE event_id = 'e-1'")
[ "$n" = 1 ] && ok "e-1 logged once" || fail "e-1 logged $n times"

r=$(get /v1/contacts/c-1)
expect "contact score" "$r" '"score":10'
expect "contact tier" "$r" '"tier":"mql"'
expect "contact history" "$r" '"history":[{'
expect "contact explanation" "$r" '"why":[{"rule":"points"'
r=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer t0k' "$URL/v1/contacts/nobody")
expect "unknown contact: 404" "$r" "404"
r=$(get '/v1/contacts?min_score=1&limit=2')
expect "list first page" "$r" '"contacts":[{"contact":"c-1","score":10'
cursor=$(echo "$r" | sed -n 's/.*"next_cursor":"\([^"]*\)".*/\1/p')
[ -n "$cursor" ] && ok "list has a cursor" || fail "no cursor in $r"
r=$(get "/v1/contacts?min_score=1&limit=2&cursor=$cursor")
expect "list second page" "$r" '"contacts":[{"contact":"c-'
r=$(get '/v1/contacts?tier=mql')
expect "list by tier" "$r" '"contact":"c-1"'

# ---- HubSpot ----
hs_body='[{"eventId":101,"subscriptionId":1,"portalId":33,"occurredAt":1793527200000,"subscriptionType":"contact.propertyChange","objectId":555,"propertyName":"job_title","propertyValue":"CTO"}]'
printf '%s' "$hs_body" >"$TMP/hs"
port=$(cat "$TMP/port")
hs_post() { # TS SIG
    curl -s -o "$TMP/resp" -w '%{http_code}' -H "X-HubSpot-Request-Timestamp: $1" \
        -H "X-HubSpot-Signature-v3: $2" -H 'Content-Type: application/json' \
        --data-binary "@$TMP/hs" "$URL/webhooks/hubspot" >"$TMP/code" || true
    echo "$(cat "$TMP/code") $(cat "$TMP/resp")"
}
now_ms=$(($(date +%s) * 1000))
sig=$("$PROBE" sign-hubspot hs-secret POST "http://127.0.0.1:$port/webhooks/hubspot" "$TMP/hs" "$now_ms")
expect "hubspot valid signature" "$(hs_post "$now_ms" "$sig")" '200 {"accepted":1'
expect "hubspot redelivery is a duplicate" "$(hs_post "$now_ms" "$sig")" '"duplicate":1'
# eventId is not unique across subscriptions or accounts: same eventId 101,
# another subscription / portal and contact, are new events.
printf '%s' '[{"eventId":101,"subscriptionId":2,"portalId":33,"occurredAt":1793527200000,"subscriptionType":"contact.propertyChange","objectId":556,"propertyName":"job_title","propertyValue":"CEO"},{"eventId":101,"subscriptionId":1,"portalId":34,"occurredAt":1793527200000,"subscriptionType":"contact.creation","objectId":557}]' >"$TMP/hs2"
cp "$TMP/hs" "$TMP/hs1"; cp "$TMP/hs2" "$TMP/hs"
sig2=$("$PROBE" sign-hubspot hs-secret POST "http://127.0.0.1:$port/webhooks/hubspot" "$TMP/hs" "$now_ms")
expect "hubspot same eventId, other subscription/portal: both applied" "$(hs_post "$now_ms" "$sig2")" '200 {"accepted":2,"duplicate":0'
expect "hubspot redelivery of those: duplicates" "$(hs_post "$now_ms" "$sig2")" '"accepted":0,"duplicate":2'
expect "hubspot: the other subscription's change applied" "$(get /v1/contacts/556)" '"job_title":"CEO"'
cp "$TMP/hs1" "$TMP/hs"
expect "hubspot forged" "$(hs_post "$now_ms" "AAAA$sig")" '401 {"error":"X-HubSpot-Signature-v3 does not match"}'
old=$((now_ms - 400000))
sig_old=$("$PROBE" sign-hubspot hs-secret POST "http://127.0.0.1:$port/webhooks/hubspot" "$TMP/hs" "$old")
expect "hubspot stale" "$(hs_post "$old" "$sig_old")" '401 {"error":"stale'
r=$(curl -s -w ' %{http_code}' --data-binary "@$TMP/hs" "$URL/webhooks/hubspot")
expect "hubspot missing signature" "$r" 'missing X-HubSpot-Signature-v3 header'
expect "hubspot missing signature: 401" "$r" ' 401'
r=$(get /v1/contacts/555)
expect "hubspot property stored" "$r" '"job_title":"CTO"'
printf 'garbage' >"$TMP/hs"
sig=$("$PROBE" sign-hubspot hs-secret POST "http://127.0.0.1:$port/webhooks/hubspot" "$TMP/hs" "$now_ms")
expect "hubspot malformed body" "$(hs_post "$now_ms" "$sig")" '400 {"error":"body is not JSON'

# ---- Mailchimp ----
r=$(curl -s -w ' %{http_code}' "$URL/webhooks/mailchimp/mcurl")
expect "mailchimp URL check (GET)" "$r" '200'
r=$(curl -s -w ' %{http_code}' -X POST "$URL/webhooks/mailchimp/mcurl")
expect "mailchimp URL check (empty POST)" "$r" '200'
r=$(curl -s -o /dev/null -w '%{http_code}' "$URL/webhooks/mailchimp/wrong")
expect "mailchimp wrong URL secret" "$r" '404'
expect "wrong URL secret logged without it" "$(cat "$TMP/daemon.log")" 'refused /webhooks/mailchimp/<url_secret> from 127.0.0.1: 404 wrong url_secret'
form='type=subscribe&fired_at=2026-11-01+10%3A00%3A00&data%5Bid%5D=8a25ff1d98&data%5Bemail%5D=Ann%40Example.com&data%5Bmerges%5D%5BFNAME%5D=Ann'
r=$(curl -s -w ' %{http_code}' --data-binary "$form" -H 'Content-Type: application/x-www-form-urlencoded' "$URL/webhooks/mailchimp/mcurl")
expect "mailchimp subscribe (no signature)" "$r" '{"accepted":2'
r=$(get /v1/contacts/ann@example.com)
expect "mailchimp contact" "$r" '"first_name":"Ann"'
form2='type=unsubscribe&fired_at=2026-11-01+11%3A00%3A00&data%5Baction%5D=unsub&data%5Breason%5D=manual&data%5Bemail%5D=ann%40example.com'
printf '%s' "$form2" >"$TMP/mc"
t=$(date +%s)
h=$("$PROBE" sign-mailchimp mc-sign "$t" "$TMP/mc")
r=$(curl -s -w ' %{http_code}' -H "X-Mailchimp-Signature: $h" --data-binary "@$TMP/mc" "$URL/webhooks/mailchimp/mcurl")
expect "mailchimp signed unsubscribe" "$r" '{"accepted":2'
r=$(curl -s -w ' %{http_code}' -H "X-Mailchimp-Signature: t=$t,v1=00ff" --data-binary "@$TMP/mc" "$URL/webhooks/mailchimp/mcurl")
expect "mailchimp forged signature" "$r" '401'
r=$(curl -s -w ' %{http_code}' --data-binary 'type=boom' "$URL/webhooks/mailchimp/mcurl")
expect "mailchimp unknown type" "$r" "unknown type 'boom'"

# ---- Reload ----
echo '{"name":"m1","points":' >"$MODEL"   # broken
kill -HUP "$DPID"
wait_for sh -c "curl -s $URL/metrics | grep -q 'leadscored_reloads_total{result=\"failed\"} 1'" \
    || fail "broken reload not counted"
ok "reload with a broken model is refused"
r=$(post /v1/events '{"contact":"c-5","type":"email_open","ts":1793527200}')
expect "old model still scores after the refused reload" "$r" '"accepted":1'
expect "old model points" "$(get /v1/contacts/c-5)" '"score":5'
echo '{"name":"m2","points":{"email_open":7},"default":1,"tiers":[["cold",0],["mql",10],["sql",20]]}' >"$MODEL"
kill -HUP "$DPID"
wait_for sh -c "curl -s $URL/metrics | grep -q 'leadscored_reloads_total{result=\"ok\"} 1'" \
    || fail "good reload not counted"
post /v1/events '{"contact":"c-5","type":"email_open","ts":1793527200}' >/dev/null
expect "new model after the reload" "$(get /v1/contacts/c-5)" '"score":12'

# ---- Rescore: replay the log under the current model (7 per open) ----
r=$(post /v1/admin/rescore '')
expect "rescore started" "$r" "202"
wait_for sh -c "curl -s $URL/metrics | grep -q 'leadscored_rescores_total{result=\"ok\"} 1'" \
    || fail "rescore did not finish"
expect "rescored c-1 (2 opens x 7)" "$(get /v1/contacts/c-1)" '"score":14'
expect "rescored c-5" "$(get /v1/contacts/c-5)" '"score":14'
r=$(post /v1/events '{"contact":"c-1","type":"email_open","ts":1793527200}')
expect "ingestion after rescore" "$(get /v1/contacts/c-1)" '"score":21'

# ---- Rescore while ingestion continues ----
stream() {
    local b j
    for b in $(seq 1 40); do
        for j in $(seq 1 10); do
            echo "{\"contact\":\"r-$((j % 7))\",\"type\":\"email_open\",\"ts\":1793527200,\"id\":\"r-$b-$j\"}"
        done >"$TMP/rb"
        curl -s -o /dev/null -H 'Authorization: Bearer t0k' --data-binary "@$TMP/rb" "$URL/v1/events"
    done
}
stream &
SPID=$!
post /v1/admin/rescore '' >/dev/null
wait_for sh -c "curl -s $URL/metrics | grep -q 'leadscored_rescores_total{result=\"ok\"} 2'" \
    || fail "second rescore did not finish"
wait "$SPID"
bad=$(sql "SELECT c.id FROM contacts c JOIN (SELECT contact_id, count(*) AS n FROM events WHERE contact_id LIKE 'r-%' GROUP BY contact_id) e ON e.contact_id = c.id WHERE c.score != 7 * e.n")
n=$(sql "SELECT count(*) FROM events WHERE contact_id LIKE 'r-%'")
[ -z "$bad" ] && [ "$n" = 400 ] && ok "rescore during ingestion: every score = 7 x its events ($n events)" \
    || fail "rescore during ingestion: wrong scores for: $bad (events: $n)"

# ---- Wake schedule: the plugin asks for an EVALUATE 200 ms later ----
echo '{"name":"m3","points":{"email_open":7},"default":1,"wake_after_ms":200,"tiers":[["cold",0],["mql",10],["sql",20]]}' >"$MODEL"
kill -HUP "$DPID"
wait_for sh -c "curl -s $URL/metrics | grep -q 'leadscored_reloads_total{result=\"ok\"} 2'" \
    || fail "third reload not counted"
post /v1/events '{"contact":"c-w","type":"email_open","ts":1793527200}' >/dev/null
wait_for sh -c "curl -s -H 'Authorization: Bearer t0k' $URL/v1/contacts/c-w | grep -q '\"score\":1007'" \
    || fail "no EVALUATE at the wake time: $(get /v1/contacts/c-w)"
ok "EVALUATE delivered at the plugin's wake time"
expect "evaluation in the history" "$(get /v1/contacts/c-w)" '"cause":"evaluate (decay)"'

# ---- Metrics, outbox ----
m=$(curl -s "$URL/metrics")
expect "metrics: accepted" "$m" 'leadscored_events_total{source="api",result="accepted"}'
expect "metrics: histogram" "$m" 'leadscored_scoring_seconds_bucket{le="+Inf"}'
wait_for sh -c "curl -s $URL/metrics | grep -q '^leadscored_outbox_depth 0'" \
    || fail "outbox did not drain"
ok "outbox drained by the job worker"
expect "metrics: jobs" "$(curl -s "$URL/metrics")" 'leadscored_jobs_total{kind="fake.push",result="ok"}'

# ---- A job that keeps failing: retried, then dead-lettered ----
post /v1/events '{"contact":"c-j","type":"job_retry","ts":1793527200}' >/dev/null
wait_for sh -c "curl -s $URL/metrics | grep -q '^leadscored_outbox_dead 1'" \
    || fail "the failing job was not dead-lettered: $(curl -s $URL/metrics | grep -E 'outbox|connector')"
ok "a failing job is retried, then dead-lettered"
expect "connector errors by kind" "$(curl -s "$URL/metrics")" 'leadscored_connector_errors_total{kind="fake.push",error="retryable"} 3'
expect "dead job reason" "$(sql "SELECT attempts, reason FROM outbox_dead")" $'3\tgave up after 3 attempts: HTTP 503'

# ---- Rate limit per client (applied by a reload) ----
sed -i 's/"limits": {"max_body_bytes": 65536}/"limits": {"max_body_bytes": 65536, "rate_per_client": 1, "burst": 2}/' "$TMP/config.json"
kill -HUP "$DPID"
wait_for sh -c "curl -s $URL/metrics | grep -q 'leadscored_reloads_total{result=\"ok\"} 3'" \
    || fail "rate-limit reload not counted"
codes=""
for i in 1 2 3 4; do
    codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer t0k' "$URL/v1/contacts/c-1")"
done
expect "rate limit: 429 after the burst" "$codes" "429"
expect "rate limited counted" "$(curl -s "$URL/metrics")" 'leadscored_rate_limited_total '
expect "429 logged" "$(cat "$TMP/daemon.log")" 'refused /v1/contacts/c-1 from 127.0.0.1: 429 rate limit exceeded'

stop_daemon
ok "SIGTERM: clean exit"
grep -q '^<6>' "$TMP/daemon.log" && ok "journald priority prefixes" || fail "no <N> prefixes"
if grep -q 'hs-secret\|mc-sign' "$TMP/daemon.log"; then fail "a secret was logged"; fi
ok "no secret in the log"
echo "1..$n_ok"
