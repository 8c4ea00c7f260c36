#!/usr/bin/env bash
# End to end: the real `leadscore` CLI with the real plugin against the
# fake HubSpot and Mailchimp servers.  One scenario per run (TAP).
# Arguments: LEADSCORE FAKE_HUBSPOT FAKE_MAILCHIMP SCENARIO
set -euo pipefail
LEADSCORE=$1
FAKE_HS=$2
FAKE_MC=$3
SCENARIO=$4
TMP=$(mktemp -d /tmp/lsc-sync-test.XXXXXX)
FPID=""
MPID=""
n_ok=0
cleanup() {
    for p in $FPID $MPID; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
    echo "not ok - $*"
    for f in "$TMP"/*.out "$TMP"/*.err; do
        [ -f "$f" ] && { echo "--- $f"; grep -m3 dead-lettered "$f" || true; tail -n 20 "$f"; }
    done
    exit 1
}
ok() { n_ok=$((n_ok + 1)); echo "ok $n_ok - $*"; }
L() { "$LEADSCORE" "$@"; }

# start_fake EXE VAR ARGS...: runs it with a pipe on stdin, sets VAR to
# http://127.0.0.1:PORT
start_fake() {
    local exe=$1 name=$2
    shift 2
    mkfifo "$TMP/$name.in"
    "$exe" "$@" <"$TMP/$name.in" >"$TMP/$name.port" 2>"$TMP/$name.log" &
    local pid=$!
    exec {fd}>"$TMP/$name.in" # hold the pipe open: EOF stops the fake
    local i
    for i in $(seq 1 200); do
        grep -q PORT "$TMP/$name.port" 2>/dev/null && break
        sleep 0.05
    done
    local port
    port=$(awk '/PORT/ {print $2}' "$TMP/$name.port")
    [ -n "$port" ] || fail "$name did not start"
    eval "${name}_URL=http://127.0.0.1:$port"
    if [ "$name" = hs ]; then FPID=$pid; else MPID=$pid; fi
}

cat >"$TMP/model.json" <<'JSON'
{
  "schema": "leadscore.model/1",
  "name": "sync-test",
  "scale_max": 100,
  "groups": [
    {"name": "fit", "max": 40},
    {"name": "engagement", "max": 60}
  ],
  "rules": [
    {"id": "exec", "group": "fit", "points": 20,
     "when": [{"field": "title", "op": "contains_any", "value": ["ceo", "vp"]}]},
    {"id": "open", "group": "engagement", "points": 5, "event": "email_open"},
    {"id": "demo", "group": "engagement", "points": 50, "event": "demo_request", "once": true}
  ],
  "tiers": [
    {"name": "cold", "min": 0},
    {"name": "warm", "min": 20},
    {"name": "hot", "min": 60}
  ]
}
JSON

hs_mapping() { # hs_mapping FILE [extra limits json]
    cat >"$1" <<JSON
{
  "schema": "leadscore.connector/1",
  "connector": "hubspot",
  "api": {"base_url": "$hs_URL", "authorize_url": "$hs_URL/oauth/authorize"},
  "auth": {"type": "service_key", "token_env": "LSC_TEST_HS_TOKEN"},
  "inputs": {"jobtitle": "title"},
  "outputs": {"score": "leadscore_score", "tier": "leadscore_tier",
              "fit": {"property": "leadscore_fit", "groups": ["fit"]},
              "engagement": "leadscore_engagement",
              "reasons": "leadscore_reasons", "scored_at": "leadscore_scored_at",
              "tags": "leadscore_tags"},
  "tiers": ["hot", "warm", "cold"],
  "limits": {"backoff_base_ms": 50, "backoff_cap_ms": 200,
             "max_attempts": 10},
  "actions": [
    {"on": "enter", "tier": "hot", "write_tier": true, "tag": "hot-lead",
     "webhook": {"url": "$hs_URL/hook", "secret_env": "LSC_TEST_HOOK_SECRET"}},
    {"on": "leave", "tier": "hot", "tag": "hot-lead"}
  ]
}
JSON
}

export LSC_TEST_HS_TOKEN=pat-na1-test-secret-token
export LSC_TEST_HOOK_SECRET=whsec-test-secret
export LSC_TEST_MC_KEY=fakekey0123456789-us1
DATA="$TMP/data"

# Events: contacts 101..250 (150: two batch updates), 101 reaches hot.
events() {
    local i
    for i in $(seq 101 250); do
        created "$i" "VP Sales" "c$i@example.com"
    done
    echo '{"contact":"101","type":"demo_request","ts":"2026-11-01T11:00:00Z","id":"d-1"}'
}

requests() { curl -sf "$hs_URL/_fake/requests"; }
mc_requests() { curl -sf "$mc_URL/_fake/requests"; }

# free_port: a loopback port nothing listens on, below the kernel's
# ephemeral range (32768+) so no client connection holds it either.
free_port() {
    local p i
    for i in $(seq 1 100); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    fail "no free port"
}

# paused_runs MAPPING EXPECT: 12 runs of the queue, each with the waiting
# jobs made due (as if their pause had passed); each run's summary must
# match EXPECT and nothing may be dead-lettered.
paused_runs() {
    for run in $(seq 1 12); do
        sqlite3 "$DATA/leadscored.db" "UPDATE outbox SET not_before_ms = 0"
        L sync --model "$TMP/model.json" --config "$1" --data-dir "$DATA" \
            - </dev/null >"$TMP/run.out" 2>"$TMP/run.err" || true
        grep -q "$2" "$TMP/run.out" || fail "run $run: $(cat "$TMP/run.out")"
    done
    [ "$(sqlite3 "$DATA/leadscored.db" "SELECT count(*) FROM outbox_dead")" = 0 ] ||
        fail "dead letters"
}

# oauth_connect NAME: `leadscore connect hubspot` with a scripted browser
# (GET of the printed authorize URL); output in $TMP/NAME.out/.err
oauth_connect() {
    L connect hubspot --config "$TMP/hs.json" --data-dir "$DATA" --timeout 20 \
        >"$TMP/$1.out" 2>"$TMP/$1.err" &
    local cpid=$! i url
    for i in $(seq 1 100); do
        grep -q "^http" "$TMP/$1.out" 2>/dev/null && break
        sleep 0.05
    done
    url=$(grep "^http" "$TMP/$1.out" || true)
    if [ -z "$url" ]; then
        wait $cpid || true
        fail "$1: no authorize URL"
    fi
    curl -s -L "$url" >/dev/null || true # the browser
    wait $cpid || fail "$1: connect exit $?"
}

# mc_mapping [EXTRA]: the Mailchimp mapping on the fake's audience L1
# to $TMP/mc.json; EXTRA (top-level members, without the leading comma)
# goes after "audience".
mc_mapping() {
    {
        printf '%s\n' '{"schema": "leadscore.connector/1", "connector": "mailchimp",' \
            " \"api\": {\"base_url\": \"$mc_URL/3.0\"}," \
            ' "auth": {"type": "api_key", "api_key_env": "LSC_TEST_MC_KEY"},'
        printf ' "audience": {"list_id": "L1"}'
        [ $# = 0 ] || printf ',\n %s' "$1"
        printf '}\n'
    } >"$TMP/mc.json"
}

# hs_oauth_mapping PORT [INPUTS]: a HubSpot OAuth mapping (client cid,
# the loopback redirect on PORT) to $TMP/hs.json; INPUTS is an optional
# "inputs" member line.
hs_oauth_mapping() {
    {
        printf '%s\n' '{"schema": "leadscore.connector/1", "connector": "hubspot",' \
            " \"api\": {\"base_url\": \"$hs_URL\", \"authorize_url\": \"$hs_URL/oauth/authorize\"}," \
            ' "auth": {"type": "oauth", "client_id": "cid", "client_secret_env": "LSC_TEST_CS",' \
            "          \"redirect_port\": $1, \"credentials_file\": \"hs-cred.json\"},"
        [ $# -lt 2 ] || printf ' %s\n' "$2"
        printf '%s\n' ' "outputs": {"score": "leadscore_score", "tier": "leadscore_tier"},' \
            ' "tiers": ["hot", "warm", "cold"]}'
    } >"$TMP/hs.json"
}

# fake_post URL WHAT [BODY]: POST to a fake's control endpoint /_fake/WHAT
fake_post() {
    if [ $# -gt 2 ]; then
        curl -sf -XPOST -d "$3" "$1/_fake/$2" >/dev/null
    else
        curl -sf -XPOST "$1/_fake/$2" >/dev/null
    fi
}

# hs_contact ID / mc_member EMAIL: the record as the fake holds it
hs_contact() { curl -sf "$hs_URL/_fake/contact?id=$1"; }
mc_member() { curl -sf "$mc_URL/_fake/member?list=L1&email=$1"; }

# run_rc CMD...: runs CMD without stopping the script on its failure;
# its exit status is left in rc
run_rc() {
    rc=0
    "$@" || rc=$?
}

# sync_to NAME CONFIG ARGS...: `leadscore sync` of the test model with
# CONFIG, stdout/stderr to $TMP/NAME.out/.err; returns its exit status.
sync_to() {
    local name=$1 config=$2
    shift 2
    L sync --model "$TMP/model.json" --config "$config" --data-dir "$DATA" \
        "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
}

# status_to NAME CONFIG: `leadscore connect --status`, all output to
# $TMP/NAME.out; returns its exit status.
status_to() {
    L connect --status --config "$2" --data-dir "$DATA" >"$TMP/$1.out" 2>&1
}

# check_signature SIG BODY: SIG is X-Leadscore-Signature, t=<unix>,v1=<hex
# HMAC-SHA256 of "<t>.<body>"> with $LSC_TEST_HOOK_SECRET
check_signature() {
    local sig_t sig_v1 want
    sig_t=$(echo "$1" | tr ',' '\n' | sed -n 's/^t=//p')
    sig_v1=$(echo "$1" | tr ',' '\n' | sed -n 's/^v1=//p')
    want=$(printf '%s.%s' "$sig_t" "$2" |
        openssl dgst -sha256 -hmac "$LSC_TEST_HOOK_SECRET" -r | cut -d' ' -f1)
    [ -n "$sig_v1" ] && [ "$want" = "$sig_v1" ] || fail "bad signature $1"
}

# created ID TITLE [EMAIL]: a contact.created event line at 10:00
created() {
    if [ $# -gt 2 ]; then
        echo "{\"contact\":\"$1\",\"type\":\"contact.created\",\"ts\":\"2026-11-01T10:00:00Z\",\"props\":{\"title\":\"$2\",\"email\":\"$3\"}}"
    else
        echo "{\"contact\":\"$1\",\"type\":\"contact.created\",\"ts\":\"2026-11-01T10:00:00Z\",\"props\":{\"title\":\"$2\"}}"
    fi
}

hs_start() {
    start_fake "$FAKE_HS" hs --static-token "$LSC_TEST_HS_TOKEN" --contacts "${1:-250}"
    hs_mapping "$TMP/hs.json"
    L setup --config "$TMP/hs.json" --data-dir "$DATA" >"$TMP/setup.out" 2>"$TMP/setup.err" ||
        fail "setup"
    fake_post "$hs_URL" clear
}

case "$SCENARIO" in
hubspot_write)
    hs_start
    events >"$TMP/ev.jsonl"
    sync_to sync "$TMP/hs.json" "$TMP/ev.jsonl" || fail "sync exit $?"
    grep -q "0 dead-lettered, 0 left queued" "$TMP/sync.out" || fail "summary"
    ok "sync exits 0 with nothing dead-lettered"
    requests | jq -e '[.requests[] | select(.path | endswith("/contacts/batch/update"))
        | .body | fromjson | .inputs | length] | (max <= 100) and (add >= 150)' >/dev/null ||
        fail "batch update sizes"
    ok "batch updates carry <= 100 inputs, all 150 contacts"
    requests | jq -e '[.requests[] | select(.path | endswith("/contacts/batch/update"))
        | .body | fromjson | .inputs[] | .properties[] | type] | all(. == "string")' >/dev/null ||
        fail "values not strings"
    ok "every property value is sent as a string"
    c=$(hs_contact 101)
    echo "$c" | jq -e '.properties.leadscore_score == "70" and .properties.leadscore_tier == "hot"' >/dev/null ||
        fail "contact 101: $c"
    c=$(hs_contact 180)
    echo "$c" | jq -e '.properties.leadscore_score == "20" and .properties.leadscore_tier == "warm"' >/dev/null ||
        fail "contact 180: $c"
    ok "score and tier properties on the contact records"
    # By hand from the model: 101 is a VP (exec: fit 20) with a demo at
    # 11:00 (engagement 50), scored when the demo arrived; 180 only holds
    # exec, scored at its creation (10:00); nothing decays.
    # 2026-11-01T11:00:00Z = 1793530800 s, 10:00 = 1793527200 s.
    c=$(hs_contact 101)
    echo "$c" | jq -e '.properties | .leadscore_fit == "20" and .leadscore_engagement == "50"
        and .leadscore_reasons == "demo +50 (1 award); exec +20"
        and .leadscore_scored_at == "1793530800000"' >/dev/null ||
        fail "contact 101 outputs: $c"
    c=$(hs_contact 180)
    echo "$c" | jq -e '.properties | .leadscore_fit == "20" and .leadscore_engagement == "0"
        and .leadscore_reasons == "exec +20"
        and .leadscore_scored_at == "1793527200000"' >/dev/null ||
        fail "contact 180 outputs: $c"
    ok "fit, engagement, top reasons and scored-at (epoch ms) on the contact records"
    # 101 was written twice (warm at 10:00, hot at 11:00): the last batch
    # update of 101 carries the latest value, every output a string
    requests | jq -e '[.requests[] | select(.path | endswith("/contacts/batch/update"))
        | .body | fromjson | .inputs[] | select(.id == "101") | .properties
        | select(.leadscore_score != null)] | last
        | .leadscore_score == "70" and .leadscore_reasons == "demo +50 (1 award); exec +20"' >/dev/null ||
        fail "last write of 101"
    ok "the latest value of 101 is the one written last"
    # the same events again: nothing new to send (coalesced, acknowledged)
    sync_to again "$TMP/hs.json" - </dev/null || fail "empty sync"
    grep -q "0 jobs enqueued" "$TMP/again.out" || fail "empty sync enqueued"
    ok "an empty stream drains an empty queue"
    ;;
read_path)
    # activity only: the mapped input (jobtitle -> title) comes from
    # HubSpot by batch read; the fake seeds 101 + k with the title
    # (CTO, Engineer, Student, VP Sales, Marketing Manager)[k % 5]
    hs_start 151
    {
        echo '{"contact":"101","type":"contact.created","ts":"2026-11-01T09:00:00Z","props":{"title":"CEO"}}'
        for i in $(seq 101 251); do
            echo "{\"contact\":\"$i\",\"type\":\"email_open\",\"ts\":\"2026-11-01T10:00:00Z\",\"id\":\"o-$i\"}"
        done
    } >"$TMP/ev.jsonl"
    sync_to sync "$TMP/hs.json" --stats "$TMP/ev.jsonl" || fail "sync exit $?"
    grep -q "0 dead-lettered, 0 left queued" "$TMP/sync.out" || fail "summary"
    # the re-scorings with what was read are not events of the input
    grep -q "152 events read, 152 applied, 0 duplicates, 0 rejected" "$TMP/sync.err" ||
        fail "stats: $(cat "$TMP/sync.err")"
    reads=$(requests | jq -c '[.requests[] | select(.path | endswith("/contacts/batch/read")) | .body | fromjson]')
    echo "$reads" | jq -e 'length == 2 and ([.[].inputs | length] | sort == [50, 100])
        and all(.properties == ["jobtitle"])' >/dev/null || fail "batch reads: $reads"
    echo "$reads" | jq -e '[.[].inputs[].id] | (index("101") == null) and (index("102") != null)
        and (index("251") != null) and (length == 150)' >/dev/null ||
        fail "read ids: $reads"
    ok "contacts whose events lack a mapped input are batch-read (100 + 50), the one with it is not"
    c=$(hs_contact 104)
    echo "$c" | jq -e '.properties | .leadscore_score == "25" and .leadscore_tier == "warm"
        and .leadscore_reasons == "exec +20; open +5 (1 award)"' >/dev/null || fail "104 (VP Sales): $c"
    c=$(hs_contact 102)
    echo "$c" | jq -e '.properties | .leadscore_score == "5" and .leadscore_tier == "cold"' >/dev/null ||
        fail "102 (Engineer): $c"
    c=$(hs_contact 101)
    echo "$c" | jq -e '.properties | .leadscore_score == "25"' >/dev/null || fail "101 (CEO from the event): $c"
    ok "the read title is scored: 104 (VP Sales) warm with exec, 102 (Engineer) cold"
    requests | jq -e '[.requests[] | select(.path | endswith("/contacts/batch/update"))
        | .body | fromjson | .inputs[] | select(.id == "104")] | length == 1' >/dev/null ||
        fail "104 written more than once"
    ok "reads run before the writes: each contact is written once, with the re-scored value"
    ;;
webhook)
    hs_start
    events >"$TMP/ev.jsonl"
    sync_to sync "$TMP/hs.json" "$TMP/ev.jsonl" || fail "sync exit $?"
    hook=$(requests | jq -c '[.requests[] | select(.path == "/hook")]')
    [ "$(echo "$hook" | jq length)" = 1 ] || fail "one webhook expected: $hook"
    body=$(echo "$hook" | jq -r '.[0].body')
    sig=$(echo "$hook" | jq -r '.[0].headers | to_entries[] | select(.key | ascii_downcase == "x-leadscore-signature") | .value')
    echo "$body" | jq -e '.contact == "101" and .to == "hot" and .from == "warm" and .score == 70' >/dev/null ||
        fail "webhook body $body"
    # the top contributors at the change, by hand: the demo award, then exec
    echo "$body" | jq -e '.reasons == [{"rule": "demo", "points": 50, "awards": 1},
                                       {"rule": "exec", "points": 20, "awards": 0}]' >/dev/null ||
        fail "webhook reasons: $body"
    ok "the webhook body carries the top reasons {rule, points, awards}"
    check_signature "$sig" "$body"
    ok "entering hot sends one signed webhook (HMAC verified)"
    c=$(hs_contact 101)
    echo "$c" | jq -e '.properties.leadscore_tags == "hot-lead"' >/dev/null || fail "tag: $c"
    ok "the hot-lead tag action is applied"
    ;;
recover)
    hs_start
    events >"$TMP/ev.jsonl"
    # 6 failing calls, fewer than the 10 attempts a job has (a batch
    # fails as a unit, so more could exhaust one batch in any order)
    fake_post "$hs_URL" fail '{"count":6,"status":503}'
    L -v sync --model "$TMP/model.json" --config "$TMP/hs.json" --data-dir "$DATA" \
        "$TMP/ev.jsonl" >"$TMP/sync.out" 2>"$TMP/sync.err" || fail "sync exit $?"
    grep -q "0 dead-lettered, 0 left queued" "$TMP/sync.out" || fail "summary"
    [ "$(requests | jq '[.requests[] | select(.status == 503)] | length')" -ge 1 ] ||
        fail "no failure was injected"
    for id in 101 150 250; do
        hs_contact "$id" | jq -e '.properties.leadscore_score != null' >/dev/null ||
            fail "contact $id lost"
    done
    n=$(for id in $(seq 101 250); do hs_contact "$id"; done |
        jq -s '[.[] | select(.properties.leadscore_tier != null)] | length')
    [ "$n" = 150 ] || fail "only $n of 150 contacts written"
    ok "503s then recovery: all 150 contacts written, nothing dead-lettered"
    # a server that stays down: with a first retry later than --max-wait
    # the job stays queued (not dead-lettered) for the next run
    sed 's/"backoff_base_ms": 50, "backoff_cap_ms": 200/"backoff_base_ms": 1500, "backoff_cap_ms": 3000/' \
        "$TMP/hs.json" >"$TMP/hs-slow.json"
    mv "$TMP/hs-slow.json" "$TMP/hs.json"
    fake_post "$hs_URL" fail '{"count":100000,"status":503}'
    echo '{"contact":"102","type":"demo_request","ts":"2026-11-02T11:00:00Z","id":"d-2"}' >"$TMP/ev2.jsonl"
    run_rc sync_to down "$TMP/hs.json" --max-wait 1 "$TMP/ev2.jsonl"
    [ $rc = 1 ] || fail "down: exit $rc"
    grep -q "left queued" "$TMP/down.out" || fail "down summary"
    grep -q "0 dead-lettered" "$TMP/down.out" || fail "down: dead-lettered"
    fake_post "$hs_URL" fail '{"count":0}'
    sync_to up "$TMP/hs.json" - </dev/null || fail "resume exit $?"
    grep -q "0 left queued" "$TMP/up.out" || fail "resume summary"
    hs_contact 102 | jq -e '.properties.leadscore_score == "50"' >/dev/null ||
        fail "queued write lost across runs"
    ok "jobs left by a run against a dead server go out on the next run"
    ;;
mailchimp_tags)
    start_fake "$FAKE_MC" mc --api-key "$LSC_TEST_MC_KEY"
    fake_post "$mc_URL" seed '{"lists":["L1"],"members":[{"list":"L1","email":"c101@example.com","status":"subscribed"},{"list":"L1","email":"c102@example.com","status":"subscribed"}]}'
    cat >"$TMP/mc.json" <<JSON
{
  "schema": "leadscore.connector/1",
  "connector": "mailchimp",
  "api": {"base_url": "$mc_URL/3.0"},
  "auth": {"type": "api_key", "api_key_env": "LSC_TEST_MC_KEY"},
  "audience": {"list_id": "L1"},
  "tiers": {"cold": "leadscore-cold", "warm": "leadscore-warm", "hot": "leadscore-hot"}
}
JSON
    L setup --config "$TMP/mc.json" --data-dir "$DATA" >"$TMP/setup.out" 2>"$TMP/setup.err" ||
        fail "mailchimp setup"
    ok "setup creates the merge fields"
    printf '%s\n' \
        '{"contact":"101","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"Intern","email":"c101@example.com"}}' \
        '{"contact":"102","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"CEO","email":"c102@example.com"}}' \
        >"$TMP/ev1.jsonl"
    sync_to s1 "$TMP/mc.json" "$TMP/ev1.jsonl" || fail "sync 1"
    m=$(mc_member c101@example.com)
    echo "$m" | jq -e '[.tags[].name] | index("leadscore-cold") != null' >/dev/null || fail "cold tag: $m"
    ok "a new contact gets its tier tag"
    printf '%s\n' \
        '{"contact":"101","type":"contact.updated","ts":"2026-11-01T10:30:00Z","props":{"title":"CEO"}}' \
        '{"contact":"101","type":"demo_request","ts":"2026-11-01T11:00:00Z","id":"d-1"}' >"$TMP/ev2.jsonl"
    sync_to s2 "$TMP/mc.json" "$TMP/ev1.jsonl" "$TMP/ev2.jsonl" && fail "two files accepted"
    cat "$TMP/ev1.jsonl" "$TMP/ev2.jsonl" | sync_to s2 "$TMP/mc.json" - || fail "sync 2"
    m=$(mc_member c101@example.com)
    echo "$m" | jq -e '[.tags[].name] | (index("leadscore-hot") != null) and (index("leadscore-cold") == null)' >/dev/null ||
        fail "tier tags not flipped: $m"
    echo "$m" | jq -e '.merge_fields.LTIER == "hot"' >/dev/null || fail "merge field: $m"
    ok "a transition to hot flips the tier tags and the merge field"
    # c103 is not in the audience: under "skip" the job succeeds, counted
    echo '{"contact":"103","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"CEO","email":"c103@example.com"}}' >"$TMP/ev3.jsonl"
    sync_to s3 "$TMP/mc.json" "$TMP/ev3.jsonl" || fail "sync 3"
    grep -q "^sync: 1 jobs enqueued, 1 sent, 0 retried, 0 dead-lettered, 0 left queued" "$TMP/s3.out" ||
        fail "summary: $(cat "$TMP/s3.out")"
    grep -q '^sync: 1 of them skipped (not a member of audience L1 (unknown_members is "skip"))' "$TMP/s3.out" ||
        fail "skipped member not reported: $(cat "$TMP/s3.out")"
    grep -q "skipped" "$TMP/s2.out" && fail "skips reported for members that exist: $(cat "$TMP/s2.out")"
    mc_member c103@example.com >/dev/null &&
        fail "unknown member c103 was created"
    ok "a contact not in the audience is skipped and the sync summary counts it"
    ;;
import)
    start_fake "$FAKE_MC" mc --api-key "$LSC_TEST_MC_KEY"
    now=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
    acts=""
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        acts="$acts{\"email\":\"a@example.com\",\"action\":\"open\",\"timestamp\":\"$now\"},"
    done
    fake_post "$mc_URL" seed "{\"lists\":[\"L1\"],\"members\":[{\"list\":\"L1\",\"email\":\"a@example.com\",\"status\":\"subscribed\"}],\"campaigns\":[{\"id\":\"c1\",\"type\":\"regular\",\"list_id\":\"L1\",\"send_time\":\"$now\",\"activity\":[${acts%,}]}]}"
    mc_mapping '"tiers": {"cold": "leadscore-cold", "warm": "leadscore-warm", "hot": "leadscore-hot"}'
    L setup --config "$TMP/mc.json" --data-dir "$DATA" >/dev/null 2>&1 || fail "setup"
    L import mailchimp-activity --config "$TMP/mc.json" --data-dir "$DATA" \
        >"$TMP/import.out" 2>"$TMP/import.err" || fail "import exit $?"
    [ "$(grep -c '"type":"email_open"' "$TMP/import.out")" -ge 1 ] || fail "no events"
    [ -s "$DATA/mailchimp-activity.checkpoint" ] || fail "no checkpoint"
    ok "import writes JSON Lines events and a checkpoint"
    L import mailchimp-activity --config "$TMP/mc.json" --data-dir "$DATA" |
        sync_to sync "$TMP/mc.json" - || fail "import | sync"
    m=$(mc_member a@example.com)
    # 12 identical opens share one stable id: one award of 5 points
    echo "$m" | jq -e '.merge_fields.LSCORE == 5 and .merge_fields.LTIER == "cold" and ([.tags[].name] | index("leadscore-cold") != null)' >/dev/null ||
        fail "member after import | sync: $m"
    ok "import | sync writes the score back to the member"
    ;;
backfill_mailchimp)
    start_fake "$FAKE_MC" mc --api-key "$LSC_TEST_MC_KEY"
    # c201 was hot and has cooled; c203 is not in the audience
    fake_post "$mc_URL" seed '{"lists":["L1"],"members":[{"list":"L1","email":"c201@example.com","status":"subscribed","tags":["leadscore-hot"]},{"list":"L1","email":"c202@example.com","status":"subscribed"}]}'
    # no "tiers" section: the tags come from the model's tier names
    mc_mapping
    L setup --config "$TMP/mc.json" --data-dir "$DATA" >/dev/null 2>&1 || fail "setup"
    fake_post "$mc_URL" clear
    printf '%s\n' \
        '{"contact":"201","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"Intern","email":"C201@Example.com "}}' \
        '{"contact":"202","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"CEO","email":"c202@example.com"}}' \
        '{"contact":"202","type":"demo_request","ts":"2026-11-01T11:00:00Z","id":"d-1"}' \
        '{"contact":"203","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"VP","email":"c203@example.com"}}' \
        '{"contact":"204","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"VP"}}' \
        >"$TMP/ev.jsonl"
    run_rc L backfill mailchimp --model "$TMP/model.json" --config "$TMP/mc.json" \
        --data-dir "$DATA" "$TMP/ev.jsonl" >"$TMP/bf.out" 2>"$TMP/bf.err"
    [ $rc = 0 ] || fail "backfill exit $rc"
    grep -q "3 members in 1 batches: 2 written, 1 skipped (not in the audience), 0 failed, 1 contacts without an email skipped" "$TMP/bf.out" ||
        fail "summary: $(cat "$TMP/bf.out")"
    ! grep -q "failed:" "$TMP/bf.out" || fail "failure reasons listed: $(cat "$TMP/bf.out")"
    ok "backfill mailchimp: one batch; from its results archive the unknown member is counted skipped, exit 0 under skip"
    reqs=$(mc_requests)
    echo "$reqs" | jq -e '[.requests[] | select(.method == "POST" and .path == "/3.0/batches")] | length == 1' >/dev/null ||
        fail "not one POST /batches: $reqs"
    echo "$reqs" | jq -e '[.requests[] | select(.path | test("/members/"))] | length == 0' >/dev/null ||
        fail "per-member calls besides the batch: $reqs"
    ok "the writes go out as one batch operation, no per-member calls"
    m=$(mc_member c202@example.com)
    echo "$m" | jq -e '.merge_fields.LSCORE == 70 and .merge_fields.LTIER == "hot" and ([.tags[].name] | index("leadscore-hot") != null)' >/dev/null ||
        fail "c202: $m"
    m=$(mc_member c201@example.com)
    echo "$m" | jq -e '.merge_fields.LSCORE == 0 and .merge_fields.LTIER == "cold" and ([.tags[].name] | (index("leadscore-cold") != null and index("leadscore-hot") == null))' >/dev/null ||
        fail "c201: $m"
    ok "merge fields written; the old tier tag of a cooled member is cleared"
    mc_member c203@example.com >/dev/null &&
        fail "unknown member c203 was created"
    ok "a contact not in the audience is skipped, nobody subscribed"
    # operations refused inside the batch: counted failed with the reason
    fake_post "$mc_URL" seed '{"merge_fields":[{"list":"L1","tag":"LTNUM","name":"Tier as a number","type":"number"}]}'
    jq '.fields = {"tier": {"tag": "LTNUM"}}' "$TMP/mc.json" >"$TMP/mc-num.json"
    run_rc L backfill mailchimp --model "$TMP/model.json" --config "$TMP/mc-num.json" \
        --data-dir "$DATA" "$TMP/ev.jsonl" >"$TMP/bf2.out" 2>"$TMP/bf2.err"
    [ $rc = 1 ] || fail "backfill with refused operations: exit $rc: $(cat "$TMP/bf2.out" "$TMP/bf2.err")"
    grep -q "3 members in 1 batches: 0 written, 1 skipped (not in the audience), 2 failed" "$TMP/bf2.out" ||
        fail "summary: $(cat "$TMP/bf2.out")"
    grep -q "failed: 2 x HTTP 400 Invalid Resource: Your merge fields were invalid. (LTNUM: Please enter a number) (e.g. c20[12]@example.com)" "$TMP/bf2.out" ||
        fail "reason: $(cat "$TMP/bf2.out")"
    ok "backfill mailchimp: operations refused in the batch are counted failed with their reason, exit 1"
    # An audience with another required merge field (COMPANY) c301 lacks.
    # skip_merge_validation goes in the operation's params; the fake, like
    # the batch guide, uses params for GET only, so the member is refused:
    # counted failed with the reason, c302 (has COMPANY) written.
    fake_post "$mc_URL" seed '{"lists":["L2"],"merge_fields":[{"list":"L2","tag":"COMPANY","name":"Company","type":"text","required":true}],"members":[{"list":"L2","email":"c301@example.com","status":"subscribed"},{"list":"L2","email":"c302@example.com","status":"subscribed","merge_fields":{"COMPANY":"Acme"}}]}'
    jq '.audience.list_id = "L2"' "$TMP/mc.json" >"$TMP/mc-l2.json"
    L setup --config "$TMP/mc-l2.json" --data-dir "$DATA" >/dev/null 2>&1 || fail "setup L2"
    fake_post "$mc_URL" clear
    printf '%s\n' \
        '{"contact":"301","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"CEO","email":"c301@example.com"}}' \
        '{"contact":"302","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"CEO","email":"c302@example.com"}}' \
        >"$TMP/ev3.jsonl"
    run_rc L backfill mailchimp --model "$TMP/model.json" --config "$TMP/mc-l2.json" \
        --data-dir "$DATA" "$TMP/ev3.jsonl" >"$TMP/bf3.out" 2>"$TMP/bf3.err"
    [ $rc = 1 ] || fail "backfill with a required field: exit $rc: $(cat "$TMP/bf3.out" "$TMP/bf3.err")"
    grep -q "2 members in 1 batches: 1 written, 0 skipped (not in the audience), 1 failed" "$TMP/bf3.out" ||
        fail "summary: $(cat "$TMP/bf3.out")"
    grep -q "failed: 1 x HTTP 400 Invalid Resource: .*COMPANY: Please enter a value.* (e.g. c301@example.com)" "$TMP/bf3.out" ||
        fail "reason: $(cat "$TMP/bf3.out")"
    ops=$(mc_requests | jq -c '[.requests[] | select(.path == "/3.0/batches" and .method == "POST") | .body | fromjson | .operations[] | select(.method == "PATCH")]')
    echo "$ops" | jq -e 'length == 2 and all(.params.skip_merge_validation == "true" and (.path | contains("?") | not))' >/dev/null ||
        fail "member operations: $ops"
    ok "batch member operations carry skip_merge_validation in params, not in path; a member refused for a required merge field is counted failed with the reason"
    ;;
mailchimp_retry)
    start_fake "$FAKE_MC" mc --api-key "$LSC_TEST_MC_KEY"
    fake_post "$mc_URL" seed '{"lists":["L1"],"members":[{"list":"L1","email":"c101@example.com","status":"subscribed"},{"list":"L1","email":"c102@example.com","status":"subscribed"},{"list":"L1","email":"c103@example.com","status":"subscribed"}]}'
    # one request per job run, so the job-level backoff decides the pace
    mc_mapping '"limits": {"max_attempts": 1, "backoff_base_ms": 20,
            "job_backoff_base_ms": 100, "job_backoff_cap_ms": 2000}'
    L setup --config "$TMP/mc.json" --data-dir "$DATA" >/dev/null 2>&1 || fail "setup"
    fake_post "$mc_URL" clear
    for i in 101 102 103; do
        created "$i" CEO "c$i@example.com"
    done >"$TMP/ev.jsonl"
    # Mailchimp answers 503 for 3 s, then recovers
    fake_post "$mc_URL" fail '{"for_ms":3000,"status":503}'
    sync_to sync "$TMP/mc.json" "$TMP/ev.jsonl" || fail "sync exit $?"
    grep -q "3 jobs enqueued, 3 sent, .* 0 dead-lettered, 0 left queued" "$TMP/sync.out" ||
        fail "summary: $(cat "$TMP/sync.out")"
    for i in 101 102 103; do
        m=$(mc_member "c$i@example.com")
        echo "$m" | jq -e '.merge_fields.LSCORE == 20' >/dev/null || fail "c$i lost: $m"
    done
    ok "a 3 s outage (503) is waited out by the job backoff: all 3 writes arrive, none dead-lettered"
    reqs=$(mc_requests)
    # the member writes of one contact: their times, and the gaps between them
    gaps=$(echo "$reqs" | jq -c '[.requests[] | select((.method == "PATCH" or .method == "PUT") and (.path | test("/members/[0-9a-f]+$")))]
        | group_by(.path)[0] | [.[].t_ms] | [range(1; length) as $i | .[$i] - .[$i - 1]]')
    echo "$gaps" | jq -e 'length >= 4' >/dev/null || fail "too few retries: $gaps"
    echo "$gaps" | jq -e '.[-1] >= 2 * .[0]' >/dev/null || fail "retry delays do not grow: $gaps"
    echo "$gaps" | jq -e 'add >= 2500' >/dev/null || fail "retries did not cover the outage: $gaps"
    ok "the retry delays grow ($gaps ms)"
    ;;
mailchimp_reauth)
    start_fake "$FAKE_MC" mc --api-key "$LSC_TEST_MC_KEY"
    fake_post "$mc_URL" seed '{"lists":["L1"],"members":[{"list":"L1","email":"c101@example.com","status":"subscribed"}]}'
    mc_mapping '"limits": {"max_connections": 1}'
    L setup --config "$TMP/mc.json" --data-dir "$DATA" >/dev/null 2>&1 || fail "setup"
    good_key=$LSC_TEST_MC_KEY
    export LSC_TEST_MC_KEY=revokedkey000000000-us1 # refused by the fake (401)
    echo '{"contact":"101","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"CEO","email":"c101@example.com"}}' >"$TMP/ev.jsonl"
    sync_to s1 "$TMP/mc.json" "$TMP/ev.jsonl" || true
    grep -q "0 dead-lettered, 1 left queued" "$TMP/s1.out" || fail "s1: $(cat "$TMP/s1.out")"
    status_to st1 "$TMP/mc.json" || fail "status"
    grep -q "^mailchimp: re-authorization needed (since .*API Key Invalid.*; run \`leadscore connect mailchimp --config" "$TMP/st1.out" ||
        fail "status after the refusal: $(cat "$TMP/st1.out")"
    if grep -q "^mailchimp: API key from" "$TMP/st1.out" || grep -q -e revokedkey -e "$good_key" "$TMP/st1.out"; then
        fail "status: $(cat "$TMP/st1.out")"
    fi
    ok "a refused API key: the write stays queued and connect --status (a new process) says re-authorization needed"
    fake_post "$mc_URL" clear
    # two new contacts: due jobs (101's waits 15 minutes), run one after
    # the other (max_connections 1)
    printf '%s\n' \
        '{"contact":"102","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"CEO","email":"c102@example.com"}}' \
        '{"contact":"103","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"CEO","email":"c103@example.com"}}' \
        >"$TMP/ev2.jsonl"
    sync_to s2 "$TMP/mc.json" "$TMP/ev2.jsonl" || true
    n=$(mc_requests | jq '.requests | length')
    [ "$n" = 1 ] || fail "the next run sent $n requests with refused credentials (1 expected: the refusal stops the other job)"
    grep -q "3 left queued" "$TMP/s2.out" || fail "s2: $(cat "$TMP/s2.out")"
    status_to st1b "$TMP/mc.json" || fail "status"
    grep -q "^mailchimp: re-authorization needed" "$TMP/st1b.out" || fail "state lost: $(cat "$TMP/st1b.out")"
    ok "the next run is refused once and keeps the state"
    # a paused write uses no attempt, so none is dead-lettered
    paused_runs "$TMP/mc.json" "0 dead-lettered, 3 left queued"
    ok "12 runs while re-authorization is needed dead-letter nothing"
    export LSC_TEST_MC_KEY=$good_key
    L connect mailchimp --config "$TMP/mc.json" --data-dir "$DATA" >"$TMP/c.out" 2>"$TMP/c.err" ||
        fail "connect: $(cat "$TMP/c.out" "$TMP/c.err")"
    status_to st2 "$TMP/mc.json" || fail "status 2"
    grep -q "^mailchimp: API key from \$LSC_TEST_MC_KEY (data center us1)" "$TMP/st2.out" ||
        fail "status after connect: $(cat "$TMP/st2.out")"
    ok "a successful connect mailchimp clears the state"
    ;;
mailchimp_webhook)
    # the fake HubSpot is only the webhook receiver here (it records /hook)
    start_fake "$FAKE_HS" hs --static-token x
    start_fake "$FAKE_MC" mc --api-key "$LSC_TEST_MC_KEY"
    fake_post "$mc_URL" seed '{"lists":["L1"],"members":[{"list":"L1","email":"c101@example.com","status":"subscribed"}]}'
    mc_mapping '"actions": [
   {"on": "enter", "tier": "hot",
    "webhook": {"url": "'"$hs_URL"'/hook", "secret_env": "LSC_TEST_HOOK_SECRET"}}
 ]'
    L validate "$TMP/mc.json" >"$TMP/v.out" 2>"$TMP/v.err" || fail "validate: $(cat "$TMP/v.err")"
    if grep -q "unknown key" "$TMP/v.err"; then fail "actions ignored: $(cat "$TMP/v.err")"; fi
    L setup --config "$TMP/mc.json" --data-dir "$DATA" >/dev/null 2>&1 || fail "setup"
    printf '%s\n' \
        '{"contact":"101","type":"contact.created","ts":"2026-11-01T10:00:00Z","props":{"title":"CEO","email":"c101@example.com"}}' \
        '{"contact":"101","type":"demo_request","ts":"2026-11-01T11:00:00Z","id":"d-1"}' >"$TMP/ev.jsonl"
    sync_to sync "$TMP/mc.json" "$TMP/ev.jsonl" || fail "sync exit $?"
    grep -q "0 dead-lettered, 0 left queued" "$TMP/sync.out" || fail "summary: $(cat "$TMP/sync.out")"
    hook=$(requests | jq -c '[.requests[] | select(.path == "/hook")]')
    [ "$(echo "$hook" | jq length)" = 1 ] || fail "one webhook expected: $hook"
    body=$(echo "$hook" | jq -r '.[0].body')
    echo "$body" | jq -e '.contact == "101" and .to == "hot" and .from == "warm" and .score == 70 and
        .reasons == [{"rule": "demo", "points": 50, "awards": 1}, {"rule": "exec", "points": 20, "awards": 0}]' >/dev/null ||
        fail "webhook body $body"
    sig=$(echo "$hook" | jq -r '.[0].headers | to_entries[] | select(.key | ascii_downcase == "x-leadscore-signature") | .value')
    check_signature "$sig" "$body"
    m=$(mc_member c101@example.com)
    echo "$m" | jq -e '.merge_fields.LTIER == "hot"' >/dev/null || fail "member: $m"
    ok "a Mailchimp mapping's webhook action: one signed delivery on entering hot, with the reasons; the member is written too"
    jq '.actions[0].tag = "hot-lead"' "$TMP/mc.json" >"$TMP/mc-tag.json"
    run_rc L validate "$TMP/mc-tag.json" >"$TMP/v2.out" 2>"$TMP/v2.err"
    [ $rc = 1 ] || fail "a tag action accepted: exit $rc"
    grep -q 'actions\[0\].tag: HubSpot only' "$TMP/v2.err" || fail "tag message: $(cat "$TMP/v2.err")"
    ok "a HubSpot-only tag action in a Mailchimp mapping is refused with the reason"
    ;;
mailchimp_budget)
    # the user's 10 connections: the fake answers 429 beyond them
    start_fake "$FAKE_MC" mc --api-key "$LSC_TEST_MC_KEY" --max-conn 10
    now=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
    members=$(for i in $(seq 101 200); do printf '{"list":"L1","email":"c%s@example.com","status":"subscribed"},' "$i"; done)
    camps=$(for c in 1 2 3 4 5 6 7 8; do printf '{"id":"c%s","type":"regular","list_id":"L1","send_time":"%s","activity":[{"email":"c101@example.com","action":"open","timestamp":"%s"}]},' "$c" "$now" "$now"; done)
    fake_post "$mc_URL" seed "{\"lists\":[\"L1\"],\"members\":[${members%,}],\"campaigns\":[${camps%,}]}"
    mc_mapping
    L setup --config "$TMP/mc.json" --data-dir "$DATA" >/dev/null 2>&1 || fail "setup"
    for i in $(seq 101 200); do
        created "$i" CEO "c$i@example.com"
    done >"$TMP/ev.jsonl"
    fake_post "$mc_URL" config '{"delay_ms":150}'
    fake_post "$mc_URL" clear
    # the writers of one process and an activity import in another, at once
    sync_to sync "$TMP/mc.json" "$TMP/ev.jsonl" &
    spid=$!
    sleep 0.5
    L import mailchimp-activity --config "$TMP/mc.json" --data-dir "$TMP/import-data" \
        >"$TMP/import.out" 2>"$TMP/import.err" || fail "import exit $?"
    wait $spid || fail "sync exit $?"
    st=$(mc_requests | jq -c '{max_in_flight, throttled}')
    echo "$st" | jq -e '.throttled == 0 and .max_in_flight <= 10' >/dev/null ||
        fail "over the 10-connection budget: $st"
    # both really ran together: 9 writers + the import's 1
    echo "$st" | jq -e '.max_in_flight == 10' >/dev/null || fail "no overlap: $st"
    grep -q "100 jobs enqueued, 100 sent, 0 retried" "$TMP/sync.out" || fail "sync: $(cat "$TMP/sync.out")"
    [ "$(grep -c '"type":"email_open"' "$TMP/import.out")" = 8 ] || fail "import: $(cat "$TMP/import.out")"
    ok "sync's writers and a concurrent activity import stay within the user's 10 connections ($st)"
    ;;
validate)
    start_fake "$FAKE_HS" hs --static-token x
    hs_mapping "$TMP/good.json"
    L validate "$TMP/good.json" >"$TMP/good.out" 2>"$TMP/good.err" || fail "valid mapping refused"
    printf '{\n  "schema": "leadscore.connector/1",\n  "connector": "hubspot",\n  "auth": {"type": "service_key"},\n  "tiers": ["hot"]\n}\n' >"$TMP/bad.json"
    run_rc L validate "$TMP/bad.json" >"$TMP/bad.out" 2>"$TMP/bad.err"
    [ $rc = 1 ] || fail "exit $rc"
    grep -q "bad.json:4:3: auth: " "$TMP/bad.err" || fail "no line:col: $(cat "$TMP/bad.err")"
    ok "validate on a broken HubSpot mapping: file:line:col: path: message, exit 1"
    printf '{\n "schema": "leadscore.connector/1",\n "type": "mailchimp",\n "audience": {"list_id": "a-b"}\n}\n' >"$TMP/badmc.json"
    run_rc L validate "$TMP/badmc.json" >"$TMP/badmc.out" 2>"$TMP/badmc.err"
    [ $rc = 1 ] || fail "mailchimp exit $rc"
    grep -q 'missing "connector"\|"connector"' "$TMP/badmc.err" || fail "type alias accepted"
    ok "\"type\" no longer names the connector"
    # tiers (the tier property's options) must cover the model's tiers
    sed 's/"tiers": \["hot", "warm", "cold"\]/"tiers": ["hot", "warm"]/' "$TMP/good.json" >"$TMP/few.json"
    run_rc sync_to few "$TMP/few.json" - </dev/null
    [ $rc != 0 ] || fail "sync accepted tiers without cold"
    grep -q 'few.json:12:3: tiers: lacks the model.s tier "cold".*hint: ' "$TMP/few.err" ||
        fail "tiers not cross-checked: $(cat "$TMP/few.err")"
    ok "sync refuses a HubSpot mapping whose tiers lack a model tier, with file:line:col and a hint"
    ;;
status)
    start_fake "$FAKE_HS" hs --static-token "$LSC_TEST_HS_TOKEN" --contacts 5
    hs_mapping "$TMP/hs.json"
    cat >"$TMP/mc.json" <<JSON
{"schema": "leadscore.connector/1", "connector": "mailchimp",
 "api": {"base_url": "http://127.0.0.1:9/3.0"},
 "auth": {"type": "api_key", "api_key_env": "LSC_TEST_MC_KEY"},
 "audience": {"list_id": "L1"}}
JSON
    L connect hubspot --config "$TMP/hs.json" --data-dir "$DATA" >"$TMP/connect.out" 2>"$TMP/connect.err" ||
        fail "connect"
    grep -q "confirmed" "$TMP/connect.out" || fail "not confirmed"
    if grep -q "does not exist" "$TMP/connect.err"; then fail "warned about an existing input"; fi
    ok "connect hubspot with a static token confirms and sets up"
    # a mapped input the account lacks is a warning, not a failure
    sed 's/"inputs": {"jobtitle": "title"}/"inputs": {"jobtitle": "title", "annual_budget": "budget"}/' \
        "$TMP/hs.json" >"$TMP/hs-typo.json"
    L connect hubspot --config "$TMP/hs-typo.json" --data-dir "$DATA" >"$TMP/connect2.out" 2>"$TMP/connect2.err" ||
        fail "connect with a missing input"
    grep -q "warning: hubspot: inputs: the mapped property 'annual_budget' (model field 'budget') does not exist" \
        "$TMP/connect2.err" || fail "no warning: $(cat "$TMP/connect2.err")"
    if grep -q "'jobtitle'" "$TMP/connect2.err"; then fail "jobtitle reported missing"; fi
    ok "connect hubspot warns about a mapped input the account does not have"
    status_to status "$TMP/hs.json,$TMP/mc.json" || fail "status"
    grep -q "^hubspot: connected" "$TMP/status.out" || fail "status hubspot"
    grep -q "^mailchimp: API key" "$TMP/status.out" || fail "status mailchimp"
    if grep -q -e "$LSC_TEST_HS_TOKEN" -e "$LSC_TEST_MC_KEY" -e "0123456789" "$TMP/status.out"; then
        fail "a secret in the status output"
    fi
    ok "connect --status shows both connectors and no secret"
    ;;
oauth)
    start_fake "$FAKE_HS" hs --client-id cid --client-secret csecret --contacts 5
    port=$(free_port)
    hs_oauth_mapping "$port"
    export LSC_TEST_CS=csecret
    oauth_connect connect
    [ "$(stat -c %a "$DATA/hs-cred.json")" = 600 ] || fail "credentials mode"
    ok "OAuth connect: state checked, code exchanged, tokens stored 0600"
    status_to status "$TMP/hs.json" ||
        fail "status"
    grep -q "connected (OAuth" "$TMP/status.out" || fail "status: $(cat "$TMP/status.out")"
    tok=$(jq -r '.access_token // empty' "$DATA/hs-cred.json")
    if [ -n "$tok" ] && grep -qF "$tok" "$TMP/status.out" "$TMP/connect.out" "$TMP/connect.err"; then
        fail "the access token was printed"
    fi
    ok "status says connected (OAuth) and prints no token"
    ;;
reauth)
    # A revoked OAuth grant pauses the queue without using its attempts;
    # `connect hubspot` runs the OAuth flow again and the queue drains.
    start_fake "$FAKE_HS" hs --client-id cid --client-secret csecret --contacts 5
    port=$(free_port)
    hs_oauth_mapping "$port" '"inputs": {"jobtitle": "title"},'
    export LSC_TEST_CS=csecret
    oauth_connect connect1
    fake_post "$hs_URL" revoke
    for i in $(seq 101 105); do
        created "$i" "VP Sales"
    done >"$TMP/ev.jsonl"
    sync_to sync "$TMP/hs.json" "$TMP/ev.jsonl" || true
    grep -q "5 jobs enqueued, 0 sent, .* 0 dead-lettered, 5 left queued" "$TMP/sync.out" ||
        fail "first sync: $(cat "$TMP/sync.out")"
    status_to st1 "$TMP/hs.json" || true
    grep -q "re-authorization needed" "$TMP/st1.out" || fail "status: $(cat "$TMP/st1.out")"
    ok "after a revoke the 5 writes are paused and kept"
    paused_runs "$TMP/hs.json" "0 sent, 5 retried, 0 dead-lettered, 5 left queued"
    ok "12 paused runs of the queue dead-letter nothing"
    oauth_connect connect2
    grep -q "hubspot: connected" "$TMP/connect2.out" ||
        fail "connect again: $(cat "$TMP/connect2.out" "$TMP/connect2.err")"
    ok "connect hubspot runs the OAuth flow again after a revoke"
    sqlite3 "$DATA/leadscored.db" "UPDATE outbox SET not_before_ms = 0"
    sync_to drain "$TMP/hs.json" - </dev/null || fail "drain exit $?"
    grep -q "5 sent, 0 retried, 0 dead-lettered, 0 left queued" "$TMP/drain.out" ||
        fail "drain: $(cat "$TMP/drain.out")"
    for i in $(seq 101 105); do
        c=$(hs_contact "$i")
        echo "$c" | jq -e '.properties.leadscore_score == "20" and .properties.leadscore_tier == "warm"' >/dev/null ||
            fail "contact $i: $c"
    done
    ok "the kept queue drains after connecting again"
    ;;
static_401)
    # A wrong static token: the writes are paused (kept, no attempt used)
    # and `connect --status` says so with the reason
    hs_start 5
    for i in 101 102 103; do
        created "$i" "VP Sales"
    done >"$TMP/ev.jsonl"
    LSC_TEST_HS_TOKEN=pat-na1-wrong-token sync_to sync "$TMP/hs.json" "$TMP/ev.jsonl" || true
    grep -q "0 dead-lettered, 3 left queued" "$TMP/sync.out" || fail "sync: $(cat "$TMP/sync.out")"
    status_to status "$TMP/hs.json" || true
    grep -q "3 hubspot.write job(s) paused: paused: .*401.*hint: " "$TMP/status.out" ||
        fail "status: $(cat "$TMP/status.out")"
    if grep -q "pat-na1-wrong-token" "$TMP/status.out" "$TMP/sync.err"; then fail "token printed"; fi
    ok "a wrong static token pauses the writes, and connect --status shows why"
    sqlite3 "$DATA/leadscored.db" "UPDATE outbox SET not_before_ms = 0"
    sync_to drain "$TMP/hs.json" - </dev/null || fail "drain exit $?"
    grep -q "3 sent, 0 retried, 0 dead-lettered, 0 left queued" "$TMP/drain.out" ||
        fail "drain: $(cat "$TMP/drain.out")"
    ok "with the right token the kept writes go out"
    ;;
backfill)
    hs_start 250
    # 3 pages; the first two answers are slow so the run can be killed
    # while page 2 is on the wire
    fake_post "$hs_URL" fail '{"count":2,"status":0,"delay_ms":700}'
    L backfill hubspot --model "$TMP/model.json" --config "$TMP/hs.json" \
        --data-dir "$DATA" >"$TMP/bf1.out" 2>"$TMP/bf1.err" &
    bpid=$!
    # kill once page 1 is checkpointed (page 2 answers 700 ms later); a
    # fixed sleep was too short on a loaded machine
    for _ in $(seq 150); do
        status_to poll "$TMP/hs.json" || true
        grep -q "backfill: in progress, 1 pages" "$TMP/poll.out" && break
        sleep 0.1
    done
    kill -9 $bpid 2>/dev/null || true
    wait $bpid 2>/dev/null || true
    status_to st1 "$TMP/hs.json" || true
    grep -q "backfill: in progress, 1 pages, 100 contacts" "$TMP/st1.out" ||
        fail "after the kill: $(cat "$TMP/st1.out")"
    ok "killed after page 1: the checkpoint says 1 page, 100 contacts"
    L backfill hubspot --model "$TMP/model.json" --config "$TMP/hs.json" \
        --data-dir "$DATA" >"$TMP/bf2.out" 2>"$TMP/bf2.err" || fail "resume exit $?"
    grep -q "150 contacts scored in 2 pages" "$TMP/bf2.out" || fail "resume: $(cat "$TMP/bf2.out")"
    ok "the second run resumes at page 2 (150 contacts)"
    n=$(for id in $(seq 101 350); do hs_contact "$id" || true; done |
        jq -s '[.[] | select(.properties.leadscore_score != null)] | length')
    [ "$n" = 250 ] || fail "only $n of 250 contacts scored"
    ok "all 250 contacts carry a score (page 1 writes from the queue)"
    L backfill hubspot --model "$TMP/model.json" --config "$TMP/hs.json" \
        --data-dir "$DATA" --restart >"$TMP/bf3.out" 2>"$TMP/bf3.err" || fail "restart exit $?"
    grep -q "250 contacts scored in 3 pages" "$TMP/bf3.out" || fail "restart: $(cat "$TMP/bf3.out")"
    ok "--restart pages from the first contact again"
    ;;
*)
    fail "unknown scenario $SCENARIO"
    ;;
esac
echo "1..$n_ok"
