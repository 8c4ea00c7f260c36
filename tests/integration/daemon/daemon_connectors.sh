#!/usr/bin/env bash
# leadscored with the real plugin and real connector mappings against the
# fake HubSpot and Mailchimp: events posted to the daemon reach the CRM
# records through the outbox, an outage loses nothing, and the periodic
# Mailchimp activity import scores each activity once.  One scenario per
# run (TAP).
# Arguments: LEADSCORED PROBE FAKE_PLUGIN LEADSCORE FAKE_HS FAKE_MC PLUGIN
#            SCENARIO
. "$(dirname "$0")/lib.sh"
LEADSCORE=$4
FAKE_HS=$5
FAKE_MC=$6
PLUGIN=$7
SCENARIO=$8
FPIDS=""
cleanup_all() {
    for p in $FPIDS; do
        kill "$p" 2>/dev/null || true
    done
    cleanup
}
trap cleanup_all EXIT

# start_fake EXE NAME ARGS...: sets NAME_URL (stdin held open: EOF stops
# the fake).
start_fake() {
    local exe=$1 name=$2
    shift 2
    mkfifo "$TMP/$name.in"
    "$exe" "$@" <"$TMP/$name.in" >"$TMP/$name.port" 2>"$TMP/$name.log" &
    FPIDS="$FPIDS $!"
    exec {fd}>"$TMP/$name.in"
    local i
    for i in $(seq 1 200); do
        grep -q PORT "$TMP/$name.port" 2>/dev/null && break
        sleep 0.05
    done
    local port
    port=$(awk '/PORT/ {print $2}' "$TMP/$name.port")
    [ -n "$port" ] || fail "$name did not start"
    eval "${name}_URL=http://127.0.0.1:$port"
}

export LSC_TEST_HS_TOKEN=pat-na1-test-secret-token
export LSC_TEST_MC_KEY=fakekey0123456789-us1
DATA=$TMP/data
CLI_DATA=$TMP/cli

cat >"$TMP/model.json" <<'JSON'
{
  "schema": "leadscore.model/1",
  "name": "daemon-connectors",
  "scale_max": 100,
  "groups": [{"name": "fit", "max": 40}, {"name": "engagement", "max": 60}],
  "rules": [
    {"id": "exec", "group": "fit", "points": 20,
     "when": [{"field": "title", "op": "contains_any", "value": ["ceo", "vp"]}]},
    {"id": "open", "group": "engagement", "points": 5, "event": "email_open"},
    {"id": "click", "group": "engagement", "points": 10, "event": "email_click"},
    {"id": "demo", "group": "engagement", "points": 50, "event": "demo_request", "once": true}
  ],
  "tiers": [{"name": "cold", "min": 0}, {"name": "warm", "min": 20},
            {"name": "hot", "min": 60}]
}
JSON

hs_mapping() {
    cat >"$TMP/hs.json" <<JSON
{"schema": "leadscore.connector/1", "connector": "hubspot",
 "api": {"base_url": "$hs_URL", "authorize_url": "$hs_URL/oauth/authorize"},
 "auth": {"type": "service_key", "token_env": "LSC_TEST_HS_TOKEN"},
 "inputs": {"jobtitle": "title"},
 "outputs": {"score": "leadscore_score", "tier": "leadscore_tier"},
 "tiers": ["hot", "warm", "cold"],
 "limits": {"backoff_base_ms": 1000, "backoff_cap_ms": 2000, "max_attempts": 10}}
JSON
}

mc_mapping() { # mc_mapping [max_attempts]
    cat >"$TMP/mc.json" <<JSON
{"schema": "leadscore.connector/1", "connector": "mailchimp",
 "api": {"base_url": "$mc_URL/3.0"},
 "auth": {"type": "api_key", "api_key_env": "LSC_TEST_MC_KEY"},
 "audience": {"list_id": "L1"},
 "tiers": {"cold": "leadscore-cold", "warm": "leadscore-warm", "hot": "leadscore-hot"},
 "activity": {"campaign_types": {"regular": "newsletter"}},
 "limits": {"max_attempts": ${1:-3}, "backoff_base_ms": 50}}
JSON
}

# daemon_config CONNECTORS_JSON [MAILCHIMP_JSON]
daemon_config() {
    local mc=${2:-"{}"}
    cat >"$TMP/config.json" <<JSON
{
  "listen": "127.0.0.1:0",
  "data_dir": "$DATA",
  "plugin": "$PLUGIN",
  "models": ["$TMP/model.json"],
  "connectors": $1,
  "tokens": ["t0k"],
  "mailchimp": $mc,
  "durable": true,
  "jobs": {"workers": 1, "max_attempts": 10},
  "log_level": "info"
}
JSON
}

metric() { # metric NAME_WITH_LABELS: the value, 0 when absent
    local v
    v=$(curl -s "$URL/metrics" | awk -v k="$1" '$1 == k {print $2}')
    echo "${v:-0}"
}
metric_ge() { [ "$(metric "$1")" -ge "$2" ]; }
wait_long() { # wait_long CMD...: up to 30 s
    local i
    for i in $(seq 1 300); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 1
}

hs_contact_is() { # hs_contact_is ID SCORE TIER
    curl -sf "$hs_URL/_fake/contact?id=$1" |
        jq -e --arg s "$2" --arg t "$3" \
            '.properties.leadscore_score == $s and .properties.leadscore_tier == $t'
}
mc_member_is() { # mc_member_is EMAIL SCORE TIER
    curl -sf "$mc_URL/_fake/member?list=L1&email=$1" |
        jq -e --argjson s "$2" --arg t "$3" \
            '.merge_fields.LSCORE == $s and .merge_fields.LTIER == $t'
}

# Seed the audience and one campaign with a's two opens and a click and
# b's bounce, 90 to 60 minutes ago.
ago() { date -u -d "@$(($(date +%s) - $1 * 60))" +%Y-%m-%dT%H:%M:%S+00:00; }
mc_seed_activity() {
    BOUNCE_TS=$(ago 60)
    curl -sf -XPOST -d "{\"lists\":[\"L1\"],
      \"members\":[{\"list\":\"L1\",\"email\":\"a@example.com\",\"status\":\"subscribed\"},
                   {\"list\":\"L1\",\"email\":\"b@example.com\",\"status\":\"subscribed\"}],
      \"campaigns\":[{\"id\":\"c1\",\"type\":\"regular\",\"list_id\":\"L1\",\"send_time\":\"$(ago 120)\",
        \"activity\":[{\"email\":\"a@example.com\",\"action\":\"open\",\"timestamp\":\"$(ago 90)\"},
                      {\"email\":\"a@example.com\",\"action\":\"open\",\"timestamp\":\"$(ago 80)\"},
                      {\"email\":\"a@example.com\",\"action\":\"click\",\"timestamp\":\"$(ago 70)\",\"url\":\"https://example.com/pricing\"},
                      {\"email\":\"b@example.com\",\"action\":\"bounce\",\"timestamp\":\"$BOUNCE_TS\",\"type\":\"hard\"}]}]}" \
        "$mc_URL/_fake/seed" >/dev/null || fail "seed"
}

mc_start() { # mc_start [max_attempts]
    start_fake "$FAKE_MC" mc --api-key "$LSC_TEST_MC_KEY"
    mc_mapping "$@"
    curl -sf -XPOST -d '{"lists":["L1"]}' "$mc_URL/_fake/seed" >/dev/null
    "$LEADSCORE" setup --config "$TMP/mc.json" --data-dir "$CLI_DATA" \
        >"$TMP/mcsetup.out" 2>&1 || fail "mailchimp setup: $(cat "$TMP/mcsetup.out")"
    curl -sf -XPOST "$mc_URL/_fake/clear" >/dev/null
}

hs_start() {
    start_fake "$FAKE_HS" hs --static-token "$LSC_TEST_HS_TOKEN" --contacts 250
    hs_mapping
    "$LEADSCORE" setup --config "$TMP/hs.json" --data-dir "$CLI_DATA" \
        >"$TMP/hssetup.out" 2>&1 || fail "hubspot setup: $(cat "$TMP/hssetup.out")"
    curl -sf -XPOST "$hs_URL/_fake/clear" >/dev/null
}

case "$SCENARIO" in
read_path)
    # activity only: the mapped input (jobtitle -> title) is read from
    # HubSpot by a hubspot.read job and comes back through the writer as a
    # contact.updated event; the fake seeds 104 as "VP Sales", 102 as
    # "Engineer"
    hs_start
    daemon_config "[\"$TMP/hs.json\"]"
    start_daemon "$TMP/config.json"
    r=$(post /v1/events '{"contact":"104","type":"email_open","ts":"2026-11-01T10:00:00Z","id":"o-104"}
{"contact":"102","type":"email_open","ts":"2026-11-01T10:00:00Z","id":"o-102"}')
    expect "events accepted" "$r" '200 {"accepted":2'
    wait_long hs_contact_is 104 25 warm || fail "104: $(curl -s "$hs_URL/_fake/contact?id=104")"
    wait_long hs_contact_is 102 5 cold || fail "102: $(curl -s "$hs_URL/_fake/contact?id=102")"
    ok "the title read from HubSpot is scored: 104 (VP Sales) 25 warm, 102 (Engineer) 5 cold"
    reads=$(curl -sf "$hs_URL/_fake/requests" |
        jq -c '[.requests[] | select(.path | endswith("/contacts/batch/read")) | .body | fromjson]')
    echo "$reads" | jq -e 'length >= 1 and all(.properties == ["jobtitle"])
        and ([.[].inputs[].id] | sort | unique == ["102", "104"])' >/dev/null ||
        fail "batch reads: $reads"
    metric_ge 'leadscored_jobs_total{kind="hubspot.read",result="ok"}' 1 || fail "read job metric"
    metric_ge 'leadscored_events_total{source="hubspot",result="accepted"}' 2 ||
        fail "the read events were not counted"
    ok "one batch read of the mapped input; the results counted as HubSpot events"
    # the first write waits for the read (CONNECTORS_READ_GRACE_MS), so
    # the re-scored value replaced it: each contact written once (102's
    # value did not change: its first write goes when the wait ends)
    ups=$(curl -sf "$hs_URL/_fake/requests" |
        jq -c '[.requests[] | select(.path | endswith("/contacts/batch/update")) | .body | fromjson | .inputs[].id]')
    echo "$ups" | jq -e 'sort == ["102", "104"]' >/dev/null || fail "writes: $ups"
    ok "each contact written once, with the value re-scored from the read"
    # a contact seen again is not read again
    r=$(post /v1/events '{"contact":"104","type":"email_open","ts":"2026-11-01T11:00:00Z","id":"o-104b"}')
    expect "event accepted" "$r" '200 {"accepted":1'
    wait_long hs_contact_is 104 30 warm || fail "104 again: $(curl -s "$hs_URL/_fake/contact?id=104")"
    n=$(curl -sf "$hs_URL/_fake/requests" | jq '[.requests[] | select(.path | endswith("/contacts/batch/read"))] | length')
    [ "$n" = "$(echo "$reads" | jq length)" ] || fail "read again: $n"
    ok "a contact already read is not read again"
    # deleted before its read ran: what is read does not bring it back
    r=$(post /v1/events '{"contact":"105","type":"email_open","ts":"2026-11-01T10:00:00Z","id":"o-105"}
{"contact":"105","type":"contact.deleted","ts":"2026-11-01T10:00:01Z","id":"d-105"}')
    expect "events accepted" "$r" '200 {"accepted":2'
    wait_long metric_ge 'leadscored_events_total{source="hubspot",result="rejected"}' 1 ||
        fail "the read of a deleted contact was applied: $(get /v1/contacts/105)"
    get /v1/contacts/105 | grep -q '"score"' && fail "105 is back: $(get /v1/contacts/105)"
    ok "a contact deleted before its read ran stays deleted"
    stop_daemon
    ;;
writeback)
    hs_start
    mc_start
    curl -sf -XPOST -d '{"members":[{"list":"L1","email":"c101@example.com","status":"subscribed"}]}' \
        "$mc_URL/_fake/seed" >/dev/null
    daemon_config "[\"$TMP/hs.json\", \"$TMP/mc.json\"]"
    start_daemon "$TMP/config.json"
    grep -q "connectors: HubSpot on, Mailchimp on" "$TMP/daemon.log" ||
        fail "both mappings not loaded"
    ok "the daemon hands both mappings (a 'connectors' array) to the plugin"
    r=$(post /v1/events '{"contact":"101","type":"contact.created","ts":"2026-11-01T10:00:00Z","id":"e-1","props":{"title":"VP Sales","email":"c101@example.com"}}
{"contact":"101","type":"demo_request","ts":"2026-11-01T11:00:00Z","id":"e-2"}')
    expect "events accepted" "$r" '200 {"accepted":2'
    wait_long hs_contact_is 101 70 hot || fail "HubSpot contact: $(curl -s "$hs_URL/_fake/contact?id=101")"
    ok "POST /v1/events: score 70 and tier hot on the HubSpot contact"
    wait_long mc_member_is c101@example.com 70 hot ||
        fail "Mailchimp member: $(curl -s "$mc_URL/_fake/member?list=L1&email=c101@example.com")"
    curl -sf "$mc_URL/_fake/member?list=L1&email=c101@example.com" |
        jq -e '[.tags[].name] | index("leadscore-hot") != null' >/dev/null || fail "tier tag"
    ok "... and merge fields and tier tag on the Mailchimp member"
    wait_for metric_ge 'leadscored_jobs_total{kind="hubspot.write",result="ok"}' 1 || fail "hubspot job metric"
    wait_for metric_ge 'leadscored_jobs_total{kind="mailchimp.write",result="ok"}' 1 || fail "mailchimp job metric"
    wait_for test "$(metric leadscored_outbox_depth)" = 0 || fail "outbox not empty"
    [ "$(metric leadscored_outbox_dead)" = 0 ] || fail "dead jobs"
    ok "the jobs ran through the store outbox (jobs_total ok, outbox empty, none dead)"
    post /v1/events '{"contact":"102","type":"contact.created","ts":"2026-11-01T10:00:00Z","id":"e-3","props":{"title":"VP Sales","email":"c102@example.com"}}' >/dev/null
    wait_long grep -q "(mailchimp.write): skipped: not a member of audience L1" "$TMP/daemon.log" ||
        fail "skipped member not logged"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$mc_URL/_fake/member?list=L1&email=c102@example.com")" != 200 ] ||
        fail "a member was created"
    ok "a contact not in the audience is skipped (nobody subscribed) and logged"
    stop_daemon
    ok "SIGTERM: exit 0"
    ;;
recover)
    hs_start
    daemon_config "[\"$TMP/hs.json\"]"
    start_daemon "$TMP/config.json"
    # 6 failing calls, fewer than a job's 10 attempts (one per run; a
    # batch fails as a unit): the jobs go back to the outbox and run again
    curl -sf -XPOST -d '{"count":6,"status":503}' "$hs_URL/_fake/fail" >/dev/null
    for i in $(seq 101 250); do
        echo "{\"contact\":\"$i\",\"type\":\"contact.created\",\"ts\":\"2026-11-01T10:00:00Z\",\"id\":\"c-$i\",\"props\":{\"title\":\"VP Sales\"}}"
    done >"$TMP/ev.jsonl"
    r=$(post /v1/events "@$TMP/ev.jsonl")
    expect "150 events accepted" "$r" '200 {"accepted":150'
    all_written() {
        [ "$(curl -sf "$hs_URL/_fake/contacts" |
            jq '[.contacts[] | select(.properties.leadscore_tier == "warm")] | length')" = 150 ]
    }
    wait_long all_written || fail "not all 150 contacts written"
    [ "$(curl -sf "$hs_URL/_fake/requests" | jq '[.requests[] | select(.status == 503)] | length')" -ge 6 ] ||
        fail "no failure was injected"
    metric_ge 'leadscored_connector_errors_total{kind="hubspot.write",error="retryable"}' 1 ||
        fail "no retryable error counted"
    [ "$(metric leadscored_outbox_dead)" = 0 ] || fail "dead-lettered jobs"
    ok "503s then recovery: all 150 contacts written, retries counted, nothing dead"
    # An outage across a restart: the queued job survives in the outbox.
    retries=$(metric 'leadscored_connector_errors_total{kind="hubspot.write",error="retryable"}')
    curl -sf -XPOST -d '{"count":100000,"status":503}' "$hs_URL/_fake/fail" >/dev/null
    r=$(post /v1/events '{"contact":"102","type":"demo_request","ts":"2026-11-02T11:00:00Z","id":"d-2"}')
    expect "event accepted during the outage" "$r" '200 {"accepted":1'
    wait_long metric_ge 'leadscored_connector_errors_total{kind="hubspot.write",error="retryable"}' $((retries + 1)) ||
        fail "the outage was not seen"
    stop_daemon
    [ "$(sql "SELECT count(*) FROM outbox")" -ge 1 ] || fail "the job is not in the outbox"
    ok "stopped during the outage: the write stays queued in the outbox"
    curl -sf -XPOST -d '{"count":0}' "$hs_URL/_fake/fail" >/dev/null
    start_daemon "$TMP/config.json"
    wait_long hs_contact_is 102 70 hot || fail "queued write lost: $(curl -s "$hs_URL/_fake/contact?id=102")"
    ok "after the restart and recovery the queued write goes out"
    stop_daemon
    ;;
import)
    mc_start
    mc_seed_activity
    daemon_config "[\"$TMP/mc.json\"]" '{"activity_import": {"interval": "2s"}}'
    start_daemon "$TMP/config.json"
    wait_long metric_ge 'leadscored_import_runs_total{connector="mailchimp",result="ok"}' 1 ||
        fail "no import ran"
    [ "$(sql "SELECT count(*) FROM events WHERE source = 'mailchimp_activity'")" = 4 ] ||
        fail "events: $(sql "SELECT type, event_id FROM events")"
    [ "$(sql "SELECT count(*) FROM events WHERE type = 'email_open' AND contact_id = 'a@example.com'")" = 2 ] ||
        fail "opens"
    [ "$(sql "SELECT count(*) FROM events WHERE type = 'email_bounce' AND contact_id = 'b@example.com'")" = 1 ] ||
        fail "bounce"
    click=$(sql "SELECT json FROM events WHERE type = 'email_click'")
    echo "$click" | jq -e '.props.campaign_id == "c1" and .props.campaign_type == "newsletter" and (.id | startswith("mc-"))' \
        >/dev/null || fail "click event: $click"
    ok "the first import turns 2 opens, a click and a bounce into events (campaign_id, mapped campaign_type, mc- ids)"
    c=$(get /v1/contacts/a@example.com)
    echo "$c" | jq -e '.score == 20 and .tier == "warm"' >/dev/null || fail "contact: $c"
    ok "the imported activity is scored: a@example.com 20, warm"
    wait_long mc_member_is a@example.com 20 warm ||
        fail "member: $(curl -s "$mc_URL/_fake/member?list=L1&email=a@example.com")"
    ok "the member's merge fields get the new score and tier"
    cp=$(cat "$DATA/mailchimp-activity.checkpoint")
    want=$(date -u -d "$BOUNCE_TS" +%s)000
    [ "$cp" = "$want" ] || fail "checkpoint $cp, expected $want"
    [ "$(metric 'leadscored_import_checkpoint_seconds{connector="mailchimp"}')" = $((cp / 1000)) ] ||
        fail "checkpoint metric"
    ok "the checkpoint (file and metric) is the latest activity time"
    wait_long metric_ge 'leadscored_import_runs_total{connector="mailchimp",result="ok"}' 2 ||
        fail "no second import"
    [ "$(sql "SELECT count(*) FROM events WHERE source = 'mailchimp_activity'")" = 4 ] ||
        fail "the second run added events"
    [ "$(metric 'leadscored_events_total{source="mailchimp_activity",result="duplicate"}')" -ge 4 ] ||
        fail "the overlap was not re-read as duplicates"
    get /v1/contacts/a@example.com | jq -e '.score == 20' >/dev/null || fail "score changed"
    ok "the next interval re-reads the overlap window: 4 duplicates, nothing counted twice"
    curl -sf -XPOST -d "{\"campaigns\":[{\"id\":\"c2\",\"type\":\"regular\",\"list_id\":\"L1\",\"send_time\":\"$(ago 20)\",
        \"activity\":[{\"email\":\"a@example.com\",\"action\":\"open\",\"timestamp\":\"$(ago 10)\"}]}]}" \
        "$mc_URL/_fake/seed" >/dev/null
    wait_long mc_member_is a@example.com 25 warm || fail "new open not imported"
    [ "$(sql "SELECT count(*) FROM events WHERE source = 'mailchimp_activity'")" = 5 ] || fail "events after c2"
    ok "a new open in a later campaign adds exactly one event; the member shows 25"
    runs=$(metric 'leadscored_import_runs_total{connector="mailchimp",result="ok"}')
    wait_long metric_ge 'leadscored_import_runs_total{connector="mailchimp",result="ok"}' $((runs + 1)) ||
        fail "no run after c2"
    cp=$(cat "$DATA/mailchimp-activity.checkpoint")
    want=$(date -u -d "@$((cp / 1000 - 3600))" +%Y-%m-%dT%H:%M:%S+00:00)
    since=$(curl -sf "$mc_URL/_fake/requests" |
        jq -r '[.requests[] | select(.path == "/3.0/reports/c1/email-activity")] | last | .query.since')
    [ "$since" = "$want" ] || fail "since=$since, expected $want (checkpoint $cp - 60 min)"
    ok "later runs ask only for activity since the checkpoint minus the 60 min overlap"
    stop_daemon
    ;;
import_failures)
    mc_start 1
    mc_seed_activity
    curl -sf -XPOST -d '{"count":100000,"status":503}' "$mc_URL/_fake/fail" >/dev/null
    daemon_config "[\"$TMP/mc.json\"]" '{"activity_import": {"interval": "1s"}}'
    start_daemon "$TMP/config.json"
    err() { echo "leadscored_connector_errors_total{kind=\"mailchimp.import\",error=\"$1\"}"; }
    wait_long metric_ge "$(err unavailable)" 1 || fail "503 not counted"
    [ ! -e "$DATA/mailchimp-activity.checkpoint" ] || fail "checkpoint written after a failure"
    grep -q "mailchimp activity import failed (unavailable)" "$TMP/daemon.log" || fail "not logged"
    expect "the daemon still answers" "$(curl -s "$URL/healthz")" '"status":"ok"'
    ok "Mailchimp down: logged, counted as unavailable, no checkpoint"
    curl -sf -XPOST -d '{"count":100000,"status":429,"title":"Too Many Requests"}' "$mc_URL/_fake/fail" >/dev/null
    wait_long metric_ge "$(err rate_limited)" 1 || fail "429 not counted"
    ok "429: counted as rate_limited"
    curl -sf -XPOST -d '{"count":100000,"status":401,"title":"API Key Invalid"}' "$mc_URL/_fake/fail" >/dev/null
    wait_long metric_ge "$(err auth)" 1 || fail "401 not counted"
    grep -q "failed (auth).*re-authorization" "$TMP/daemon.log" || fail "auth not logged"
    ok "a refused key: counted as auth, logged with the hint"
    [ "$(sql "SELECT count(*) FROM events")" = 0 ] || fail "events from failed runs"
    curl -sf -XPOST -d '{"count":0}' "$mc_URL/_fake/fail" >/dev/null
    # the refusal is kept (mailchimp.md): imports stay paused until the
    # admin reconnects, which clears it for the running daemon too
    "$LEADSCORE" connect mailchimp --config "$TMP/mc.json" --data-dir "$DATA" \
        >"$TMP/connect.out" 2>&1 || fail "connect mailchimp: $(cat "$TMP/connect.out")"
    wait_long metric_ge 'leadscored_import_runs_total{connector="mailchimp",result="ok"}' 1 ||
        fail "no recovery"
    [ "$(sql "SELECT count(*) FROM events WHERE source = 'mailchimp_activity'")" = 4 ] || fail "events after recovery"
    [ -s "$DATA/mailchimp-activity.checkpoint" ] || fail "no checkpoint after recovery"
    [ "$(metric 'leadscored_import_runs_total{connector="mailchimp",result="failed"}')" -ge 3 ] ||
        fail "failed runs not counted"
    ok "after connect mailchimp the next interval recovers: all 4 events, checkpoint written"
    stop_daemon
    ;;
import_sigterm)
    mc_start
    mc_seed_activity
    # Every Mailchimp answer takes 20 s: the import is stuck in a call.
    curl -sf -XPOST -d '{"delay_ms":20000}' "$mc_URL/_fake/config" >/dev/null
    daemon_config "[\"$TMP/mc.json\"]" '{"activity_import": {"interval": "1s"}}'
    start_daemon "$TMP/config.json"
    child() { ps -eo args | grep -F -- "--internal-mailchimp-activity-import $TMP/mc.json" | grep -v grep; }
    wait_for child || fail "no import process"
    sleep 0.5
    t0=$(date +%s%N)
    stop_daemon
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    [ "$ms" -lt 3000 ] || fail "SIGTERM took $ms ms"
    ok "SIGTERM during an import: the daemon exits 0 in $ms ms"
    child && fail "the import process outlived the daemon"
    [ ! -e "$DATA/mailchimp-activity.checkpoint" ] || fail "checkpoint moved"
    ok "the import process is gone and the checkpoint did not move"
    ;;
import_reload)
    mc_start
    mc_seed_activity
    daemon_config "[\"$TMP/mc.json\"]" '{"activity_import": {"enabled": false}}'
    start_daemon "$TMP/config.json"
    sleep 1
    [ "$(sql "SELECT count(*) FROM events")" = 0 ] || fail "import ran while disabled"
    curl -s "$URL/metrics" | grep -q leadscored_import_runs_total && fail "import metrics while off"
    ok "\"enabled\": false: no import, no import metrics"
    daemon_config "[\"$TMP/mc.json\"]" '{"activity_import": {"interval": "1h"}}'
    kill -HUP "$DPID"
    wait_long metric_ge 'leadscored_import_runs_total{connector="mailchimp",result="ok"}' 1 ||
        fail "no import after SIGHUP"
    [ "$(sql "SELECT count(*) FROM events WHERE source = 'mailchimp_activity'")" = 4 ] || fail "events"
    ok "SIGHUP with the import enabled starts it at once"
    echo '{"schema": "leadscore.connector/1", "connector": "mailchimp", "audience": {"list_id": "L1"}, "limits": {"max_connections": 11}}' >"$TMP/bad-mc.json"
    daemon_config "[\"$TMP/mc.json\"]" "{\"activity_import\": {\"mapping\": \"$TMP/bad-mc.json\"}}"
    kill -HUP "$DPID"
    wait_for metric_ge 'leadscored_reloads_total{result="failed"}' 1 || fail "broken mapping reloaded"
    expect "the daemon still answers" "$(curl -s "$URL/healthz")" '"status":"ok"'
    ok "a reload with a broken import mapping is refused; the old import stays"
    stop_daemon
    ;;
config)
    mc_start
    daemon_config "[]" '{"activity_import": {"interval": "1s"}}'
    set +e
    "$LEADSCORED" --config "$TMP/config.json" >"$TMP/bad.out" 2>&1
    rc=$?
    set -e
    [ $rc = 1 ] || fail "exit $rc"
    grep -q "'mailchimp.activity_import.mapping' is required" "$TMP/bad.out" || fail "$(cat "$TMP/bad.out")"
    ok "an import without a Mailchimp mapping is refused with the key's name"
    echo '{"schema": "leadscore.connector/1", "connector": "mailchimp", "audience": {"list_id": "L1"}, "limits": {"max_connections": 11}}' >"$TMP/bad-mc.json"
    daemon_config "[]" "{\"activity_import\": {\"mapping\": \"$TMP/bad-mc.json\"}}"
    set +e
    "$LEADSCORED" --config "$TMP/config.json" >"$TMP/bad.out" 2>&1
    rc=$?
    set -e
    [ $rc = 1 ] || fail "exit $rc"
    grep -q "limits.max_connections" "$TMP/bad.out" || fail "$(cat "$TMP/bad.out")"
    grep -q "problem(s) in the mapping" "$TMP/bad.out" || fail "$(cat "$TMP/bad.out")"
    ok "a broken import mapping stops the start, with file:line:col diagnostics"
    ;;
*)
    fail "unknown scenario $SCENARIO"
    ;;
esac
echo "1..$n_ok"
