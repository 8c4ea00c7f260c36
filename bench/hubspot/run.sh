#!/usr/bin/env bash
# HubSpot write-back benchmark (docs/performance.md, "HubSpot write-back"):
#
#   bench/hubspot/run.sh [CONTACTS]      (default 100000)
#
# Builds leadscore, the plugin and the fake HubSpot server in build-hsbench
# (buildtype=release; HSBENCH_BUILD_DIR overrides), generates an event
# stream that changes the score of every one of CONTACTS contacts (some
# several times: only the latest value counts), starts the fake with
# HubSpot's limit shape on a tightened window (100 requests per 1 s
# instead of per 10 s; HSBENCH_RATE_MAX / HSBENCH_INTERVAL_MS override),
# writes a mapping whose limits match, runs `leadscore sync` and reads the
# fake's request log:
#   - write phase: first batch update received .. last one received, plus
#     one interval (the limit admits RATE_MAX * (span / interval + 1)
#     requests in a span: a perfect client scores 1.0);
#   - ceiling: 100 inputs per request x RATE_MAX requests per interval;
#   - achieved/ceiling, the share of requests answered 429;
#   - lost updates: contacts whose stored score/tier differ from the last
#     value of the stream (read back from the fake).
# Needs the build tools, jq, curl and awk (no Python).
set -euo pipefail
cd "$(dirname "$0")/../.."

contacts=${1:-100000}
rate_max=${HSBENCH_RATE_MAX:-100}
interval_ms=${HSBENCH_INTERVAL_MS:-1000}
B=${HSBENCH_BUILD_DIR:-build-hsbench}
W=$B/hsbench-run

opts=(--buildtype=release -Dc_args=-Wno-error=format-truncation)
if [ ! -f "$B/build.ninja" ]; then
    meson setup "$B" "${opts[@]}" >/dev/null
fi
meson compile -C "$B" plugin/leadscore:shared_module \
    host/cli/leadscore:executable \
    tests/fakes/hubspot/fake_hubspot:executable >/dev/null
LS=$B/host/cli/leadscore
FAKE=$B/tests/fakes/hubspot/fake_hubspot
export LEADSCORE_PLUGIN=$PWD/$B/plugin/leadscore.so

rm -rf "$W"
mkdir -p "$W"
FPID=""
cleanup() {
    [ -n "$FPID" ] && kill "$FPID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

cat >"$W/model.json" <<'JSON'
{
  "schema": "leadscore.model/1",
  "name": "hsbench",
  "scale_max": 100,
  "groups": [
    {"name": "fit", "max": 40},
    {"name": "engagement", "max": 60}
  ],
  "rules": [
    {"id": "exec", "group": "fit", "points": 20,
     "when": [{"field": "title", "op": "contains_any", "value": ["ceo", "vp"]}]},
    {"id": "open", "group": "engagement", "points": 5, "event": "email_open"}
  ],
  "tiers": [
    {"name": "cold", "min": 0},
    {"name": "warm", "min": 20},
    {"name": "hot", "min": 60}
  ]
}
JSON

# Contacts 101..100+N (the fake's ids).  Contact i: a VP when i % 3 != 0
# (20 points), i % 4 email opens (5 points each, one hour apart): every
# contact gets a score; 3 in 4 change more than once.  expected.tsv: id,
# score, tier of the stream's last value.
awk -v n="$contacts" -v expf="$W/expected.tsv" 'BEGIN {
    for (i = 101; i < 101 + n; i++)
        printf "{\"contact\": \"%d\", \"type\": \"contact.created\", " \
               "\"ts\": \"2026-11-01T10:00:00Z\", \"props\": " \
               "{\"title\": \"%s\"}}\n", i, i % 3 ? "VP Sales" : "Engineer"
    for (r = 0; r < 3; r++)
        for (i = 101; i < 101 + n; i++)
            if (r < i % 4)
                printf "{\"contact\": \"%d\", \"type\": \"email_open\", " \
                       "\"ts\": \"2026-11-01T%02d:00:00Z\", " \
                       "\"id\": \"o-%d-%d\"}\n", i, 11 + r, i, r
    for (i = 101; i < 101 + n; i++) {
        s = (i % 3 ? 20 : 0) + 5 * (i % 4)
        tier = s >= 60 ? "hot" : s >= 20 ? "warm" : "cold"
        printf "%d\t%d\t%s\n", i, s, tier >expf
    }
}' >"$W/events.jsonl"

mkfifo "$W/fake.in"
"$FAKE" --static-token pat-na1-hsbench-token --contacts "$contacts" \
    --rate-max "$rate_max" --rate-interval-ms "$interval_ms" \
    --log "$W/requests.log" <"$W/fake.in" >"$W/fake.port" 2>"$W/fake.err" &
FPID=$!
exec {fakefd}>"$W/fake.in"
for _ in $(seq 1 200); do
    grep -q PORT "$W/fake.port" 2>/dev/null && break
    sleep 0.05
done
port=$(awk '/PORT/ {print $2}' "$W/fake.port")
[ -n "$port" ] || { echo "fake_hubspot did not start" >&2; exit 1; }
URL=http://127.0.0.1:$port

cat >"$W/hubspot.json" <<JSON
{
  "schema": "leadscore.connector/1",
  "connector": "hubspot",
  "api": {"base_url": "$URL", "authorize_url": "$URL/oauth/authorize"},
  "auth": {"type": "service_key", "token_env": "LSC_HSBENCH_TOKEN"},
  "inputs": {"jobtitle": "title"},
  "outputs": {"score": "leadscore_score", "tier": "leadscore_tier",
              "fit": "leadscore_fit", "engagement": "leadscore_engagement",
              "reasons": "leadscore_reasons",
              "scored_at": "leadscore_scored_at"},
  "tiers": ["hot", "warm", "cold"],
  "limits": {"requests_per_interval": $rate_max, "interval_ms": $interval_ms,
             "batch_size": 100, "max_attempts": 10,
             "backoff_base_ms": 100, "backoff_cap_ms": $interval_ms}
}
JSON
export LSC_HSBENCH_TOKEN=pat-na1-hsbench-token
"$LS" setup --config "$W/hubspot.json" --data-dir "$W/data" \
    >"$W/setup.out" 2>"$W/setup.err" || { cat "$W/setup.err" >&2; exit 1; }
skip=$(wc -l <"$W/requests.log")

echo "hsbench: $contacts contacts, $(wc -l <"$W/events.jsonl") events," \
    "limit $rate_max requests per $interval_ms ms, build $B"
t0=$(date +%s%N)
set +e
# HSBENCH_WRAP: a command prefix for the sync run (e.g. "strace -c -f")
${HSBENCH_WRAP:-} "$LS" sync --model "$W/model.json" --config "$W/hubspot.json" \
    --data-dir "$W/data" --max-wait 120 "$W/events.jsonl" \
    >"$W/sync.out" 2>"$W/sync.err"
src=$?
set -e
t1=$(date +%s%N)
cat "$W/sync.out"
[ "$src" = 0 ] || { echo "sync exit $src" >&2; tail -n 5 "$W/sync.err" >&2; }
curl -sf "$URL/_fake/contacts" >"$W/contacts.json"

# The run's API requests (after setup's): one TSV line per request:
# path, status, arrival ms, inputs (batch updates).
tail -n +"$((skip + 1))" "$W/requests.log" |
    jq -r 'select(.path | startswith("/crm/")) |
           [.path, .status, .ms,
            (if (.path | endswith("/contacts/batch/update"))
             then (.body | fromjson | .inputs | length) else 0 end)] | @tsv' \
    >"$W/requests.tsv"
# Contacts whose stored score or tier differ from the stream's last value.
jq -r '.contacts[] | [.id, .properties.leadscore_score // "",
                      .properties.leadscore_tier // ""] | @tsv' \
    "$W/contacts.json" >"$W/have.tsv"
lost=$(awk -F'\t' 'NR == FNR { s[$1] = $2; t[$1] = $3; next }
                   !(($1 in s) && s[$1] == $2 && t[$1] == $3) { n++ }
                   END { print n + 0 }' "$W/have.tsv" "$W/expected.tsv")

awk -F'\t' -v rate_max="$rate_max" -v interval="$interval_ms" \
    -v total_ms="$(( (t1 - t0) / 1000000 ))" -v lost="$lost" \
    -v want="$(wc -l <"$W/expected.tsv")" '
    { api++ }
    $2 == 429 { n429++ }
    $1 ~ /\/contacts\/batch\/update$/ {
        if (!upd++) t_first = $3
        t_last = $3
        if ($2 == 200 || $2 == 207) { ok++; inputs += $4 }
    }
    END {
        span = t_last - t_first; if (span < 1) span = 1
        ceiling = 100 * rate_max * 1000.0 / interval  # contacts per second
        # every request after the first window burst is paced by the
        # limit: (requests - rate_max) requests in span ms is the steady rate
        steady = (ok - rate_max) * 100 * 1000.0 / span
        # the limit admits at most rate_max requests in any window: from
        # the first to the last request that is rate_max * (span / interval
        # + 1) requests
        whole = inputs * 1000.0 / (span + interval)
        printf "hsbench: sync wall time %.2f s; write phase %.2f s (first " \
               "to last batch update)\n", total_ms / 1000, span / 1000
        printf "hsbench: %d batch updates (%d accepted, mean %.1f inputs), " \
               "%d inputs; %d API requests, %d answered 429 (%.2f %%)\n",
               upd, ok, inputs / (ok > 0 ? ok : 1), inputs, api, n429,
               100.0 * n429 / (api > 0 ? api : 1)
        printf "hsbench: ceiling %.0f contacts/s; achieved %.0f contacts/s " \
               "over the write phase -> ratio %.3f; steady state (after the " \
               "first window) %.0f contacts/s -> ratio %.3f\n", ceiling,
               whole, whole / ceiling, steady, steady / ceiling
        printf "hsbench: lost updates %d of %d contacts\n", lost, want
    }' "$W/requests.tsv"
[ "$lost" = 0 ]
