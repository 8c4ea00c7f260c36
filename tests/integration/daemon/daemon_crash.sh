#!/usr/bin/env bash
# Crash test: kill -9 leadscored while a client streams events, restart
# it, and check that every acknowledged event is in the store exactly
# once and that, once the client has re-sent what was not acknowledged,
# the scores equal those of an uninterrupted run; then SIGTERM while three
# clients stream: exit 0 and every acknowledged event stored.  TAP output.
. "$(dirname "$0")/lib.sh"

MODEL=$TMP/model.json
echo '{"name":"m1","points":{"email_open":5,"page_view":2},"default":1,"tiers":[["cold",0],["mql",100],["sql",200]]}' >"$MODEL"
BATCHES=150
PER=20
mkdir -p "$TMP/b"
for b in $(seq 1 $BATCHES); do
    for j in $(seq 1 $PER); do
        t=email_open; [ $((j % 3)) = 0 ] && t=page_view
        echo "{\"contact\":\"c-$(( (b * 7 + j) % 40 ))\",\"type\":\"$t\",\"ts\":$((1793527200 + b)),\"id\":\"k-$b-$j\"}"
    done >"$TMP/b/$b"
done

# send FROM TO ACKFILE: post batches; append the acknowledged ones.
send() {
    local b code
    for b in $(seq "$1" "$2"); do
        code=$(curl -s -o "$TMP/send.out" -w '%{http_code}' --max-time 10 \
            -H 'Authorization: Bearer t0k' -H 'Content-Type: application/x-ndjson' \
            --data-binary "@$TMP/b/$b" "$URL/v1/events" 2>/dev/null) || code=000
        if [ "$code" = 200 ] && grep -q '"rejected":0' "$TMP/send.out"; then
            echo "$b" >>"$3"
        fi
    done
}

# fresh_daemon NAME: a daemon on a new data dir $TMP/NAME (config
# $TMP/NAME.json); DATA names it for sql.
fresh_daemon() {
    DATA=$TMP/$1
    write_config "$TMP/$1.json" "$DATA" "$MODEL"
    start_daemon "$TMP/$1.json"
}

# missing_acked ACKED IDS LOGGED: prints how many events of the batches
# listed in ACKED are not in the store; their ids are left sorted in IDS,
# the store's in LOGGED.
missing_acked() {
    sed 's/.*"id":"\([^"]*\)".*/\1/' $(sed "s|^|$TMP/b/|" "$1") | sort >"$2"
    sql "SELECT event_id FROM events ORDER BY event_id" | sort >"$3"
    comm -23 "$2" "$3" | wc -l
}

# ---- Interrupted run ----
fresh_daemon crash
: >"$TMP/acked"
send 1 $BATCHES "$TMP/acked" &
CLIENT=$!
wait_for sh -c "[ \$(wc -l <'$TMP/acked') -ge 30 ]" || fail "client made no progress"
kill -9 "$DPID"
wait "$DPID" 2>/dev/null || true
DPID=""
wait "$CLIENT" || true
acked=$(wc -l <"$TMP/acked")
[ "$acked" -lt $BATCHES ] && ok "killed mid-stream after $acked of $BATCHES batches acknowledged" \
    || fail "the kill came too late (all batches acknowledged)"

# Every acknowledged event is in the log exactly once.
missing=$(missing_acked "$TMP/acked" "$TMP/acked_ids" "$TMP/logged_ids")
[ "$missing" = 0 ] && ok "every acknowledged event survived the crash ($(wc -l <"$TMP/acked_ids"))" \
    || fail "$missing acknowledged events lost"
dups=$(sql "SELECT count(*) FROM (SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1)")
[ "$dups" = 0 ] && ok "no event logged twice" || fail "$dups events logged twice"

# Restart; the client sends everything again (its unacknowledged batches
# and, harmlessly, the acknowledged ones: duplicates).
start_daemon "$TMP/crash.json"
: >"$TMP/acked2"
send 1 $BATCHES "$TMP/acked2"
[ "$(wc -l <"$TMP/acked2")" = $BATCHES ] && ok "every batch acknowledged after the restart" \
    || fail "only $(wc -l <"$TMP/acked2") batches acknowledged after restart"
stop_daemon
n=$(sql "SELECT count(*) || ' ' || count(DISTINCT event_id) FROM events")
[ "$n" = "$((BATCHES * PER)) $((BATCHES * PER))" ] && ok "each event exactly once ($n)" \
    || fail "events/distinct: $n"
sql "SELECT id, score, tier FROM contacts ORDER BY id" >"$TMP/scores_crash"

# ---- Uninterrupted run ----
fresh_daemon clean
: >"$TMP/acked3"
send 1 $BATCHES "$TMP/acked3"
stop_daemon
sql "SELECT id, score, tier FROM contacts ORDER BY id" >"$TMP/scores_clean"
[ -s "$TMP/scores_clean" ] || fail "no scores"
if diff "$TMP/scores_clean" "$TMP/scores_crash" >"$TMP/diff"; then
    ok "scores equal those of an uninterrupted run ($(wc -l <"$TMP/scores_clean") contacts)"
else
    fail "scores differ: $(head -5 "$TMP/diff")"
fi

# ---- SIGTERM while three clients stream: a graceful drain ----
fresh_daemon term
: >"$TMP/tacked"
send 1 50 "$TMP/tacked" & C1=$!
send 51 100 "$TMP/tacked" & C2=$!
send 101 $BATCHES "$TMP/tacked" & C3=$!
wait_for sh -c "[ \$(wc -l <'$TMP/tacked') -ge 20 ]" || fail "clients made no progress"
stop_daemon  # SIGTERM; fails unless it exits 0 within 10 s
wait "$C1" || true; wait "$C2" || true; wait "$C3" || true
tacked=$(wc -l <"$TMP/tacked")
[ "$tacked" -lt $BATCHES ] && ok "SIGTERM mid-stream after $tacked of $BATCHES batches acknowledged, exit 0" \
    || fail "SIGTERM came too late (all batches acknowledged)"
missing=$(missing_acked "$TMP/tacked" "$TMP/tacked_ids" "$TMP/tlogged_ids")
[ "$missing" = 0 ] && ok "every event acknowledged before SIGTERM is stored ($(wc -l <"$TMP/tacked_ids"))" \
    || fail "$missing acknowledged events lost on SIGTERM"
# Nothing half-applied: the store holds whole batches only.
partial=$(sql "SELECT count(*) FROM (SELECT substr(event_id, 1, instr(substr(event_id, 3), '-') + 1) AS b, count(*) AS n FROM events GROUP BY b HAVING n != $PER)")
[ "$partial" = 0 ] && ok "no batch half-stored" || fail "$partial batches half-stored"
echo "1..$n_ok"
