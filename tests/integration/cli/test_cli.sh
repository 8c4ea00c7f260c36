#!/bin/sh
# Integration tests of the leadscore CLI (TAP).
#   test_cli.sh LEADSCORE TOY_PLUGIN FAILING_PLUGIN
# The real plugin comes from $LEADSCORE_PLUGIN, data from this directory
# and $LSC_SOURCE_ROOT/config.
ls=${1:?usage: test_cli.sh LEADSCORE TOY_PLUGIN}
toy=${2:?}
failing=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
root=${LSC_SOURCE_ROOT:-$here/../../..}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"
    [ -f "$tmp/out" ] && sed 's/^/# out: /' "$tmp/out" | head -20
    [ -f "$tmp/err" ] && sed 's/^/# err: /' "$tmp/err" | head -20
}
# run EXPECTED_RC DESCRIPTION -- COMMAND...: run, keep stdout/stderr.
run() {
    want=$1; what=$2; shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$what (exit $rc)"; else not_ok "$what: exit $rc, expected $want"; fi
}
# expect FILE PATTERN DESCRIPTION: grep -E in out/err.
expect() {
    if grep -Eq -- "$2" "$tmp/$1"; then ok "$3"; else not_ok "$3 ('$2' not in std$1)"; fi
}
same() {
    if cmp -s "$tmp/$1" "$2"; then ok "$3"; else
        not_ok "$3"; diff -u "$2" "$tmp/$1" | sed 's/^/# /' | head -30; fi
}

small="$here/small-model.json"
events="$here/small-events.jsonl"

# ---- help, version, usage errors ---------------------------------------
run 0 "--help" -- "$ls" --help
expect out '^usage: leadscore' "--help prints the usage"
for cmd in validate score explain compare; do
    run 0 "$cmd --help" -- "$ls" "$cmd" --help
    expect out "^usage: leadscore $cmd" "$cmd --help prints its usage"
done
# Every command and every option a --help names is documented in
# docs/cli.md and in the man page (where "-" is written "\-").
cli_md="$root/docs/cli.md"
man="$root/docs/man/leadscore.1"
"$ls" --help > "$tmp/help"
cmds=$(sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p' "$tmp/help")
undocumented=""
for cmd in $cmds; do
    grep -q "^### $cmd\b" "$cli_md" || undocumented="$undocumented cli.md:$cmd"
    grep -Eq "^\.BI? $cmd\b" "$man" || undocumented="$undocumented man:$cmd"
    "$ls" "$cmd" --help > "$tmp/help-$cmd" 2>&1
    for o in $(grep -oE -- '--[a-z][a-z-]*' "$tmp/help-$cmd" "$tmp/help" | sed 's/.*://' | sort -u); do
        grep -qF -- "\`$o" "$cli_md" || grep -qF -- "$o " "$cli_md" ||
            undocumented="$undocumented cli.md:$cmd:$o"
        grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$man" ||
            undocumented="$undocumented man:$cmd:$o"
    done
done
if [ -z "$undocumented" ]; then ok "every command and option in --help is in docs/cli.md and the man page"
else not_ok "undocumented:$undocumented"; fi
expect_help() { if grep -Eq -- "$2" "$tmp/help"; then ok "$1"; else not_ok "$1"; fi; }
expect_help "top-level help: backfill covers mailchimp too" '^  backfill .*hubspot.*mailchimp'
run 0 "--version" -- "$ls" --version
expect out '^leadscore [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI 1\.[0-9]+\)$' "--version names the ABI"
run 2 "unknown command" -- "$ls" frobnicate
expect err "unknown command 'frobnicate'" "unknown command is named"
run 2 "score without --model" -- "$ls" score "$events"
run 2 "bad --format" -- "$ls" score --model "$small" --format xml "$events"
run 2 "bad --as-of" -- "$ls" score --model "$small" --as-of yesterday "$events"
expect err "--as-of: 'yesterday' is not an RFC 3339 time or Unix seconds" "--as-of error names the option"

# ---- plugin problems ----------------------------------------------------
run 3 "missing plugin" -- "$ls" --plugin "$tmp/none.so" score --model "$small" "$events"
expect err "cannot load plugin $tmp/none.so" "missing plugin is named"
run 3 "plugin whose create() fails: score" -- "$ls" --plugin "$failing" score --model "$small" "$events"
run 3 "plugin whose create() fails: validate, the same code" -- "$ls" --plugin "$failing" validate "$small"
expect err "create\(\) failed: the license file has expired" "validate names the plugin's reason"
run 3 "missing plugin: validate" -- "$ls" --plugin "$tmp/none.so" validate "$small"
run 4 "missing events file" -- "$ls" score --model "$small" "$tmp/none.jsonl"
expect err "cannot open $tmp/none.jsonl" "missing events file is named"

# Default plugin path: the build-tree fallback only inside a build tree.
run 0 "--version from the build tree" -- env -u LEADSCORE_PLUGIN "$ls" --version
expect out '^plugin .*/plugin/leadscore\.so: leadscore ' "the build tree's plugin is found without installing"
# /usr/local/bin/leadscore would find /usr/plugin/leadscore.so.
mkdir -p "$tmp/inst/usr/local/bin" "$tmp/inst/usr/plugin" "$tmp/bt/host/cli" "$tmp/bt/plugin" "$tmp/bt/meson-private"
cp "$ls" "$tmp/inst/usr/local/bin/leadscore"
cp "$toy" "$tmp/inst/usr/plugin/leadscore.so"
run 0 "--version of an installed binary" -- env -u LEADSCORE_PLUGIN "$tmp/inst/usr/local/bin/leadscore" --version
if grep -q "$tmp/inst" "$tmp/out"; then not_ok "installed binary ignores <exe>/../../plugin"
else ok "installed binary ignores <exe>/../../plugin"; fi
cp "$ls" "$tmp/bt/host/cli/leadscore"
cp "$toy" "$tmp/bt/plugin/leadscore.so"
run 0 "--version in another build tree" -- env -u LEADSCORE_PLUGIN "$tmp/bt/host/cli/leadscore" --version
expect out "^plugin $tmp/bt/host/cli/\.\./\.\./plugin/leadscore\.so: " "a build tree (meson-private/) uses its own plugin"

# ---- rejected lines (toy plugin) ---------------------------------------
cat > "$tmp/mixed.jsonl" <<'JSONL'
{"contact":"c-1","type":"email_open","ts":"2026-11-01T10:00:00Z"}
not json
{"contact":"c-1","type":"poison","ts":"2026-11-01T10:00:00Z"}

{"type":"email_open","ts":0}
{"contact":"c-2","type":"email_open","ts":"2026-11-01T10:00:00+02:00"}
JSONL
run 1 "rejected lines exit 1" -- "$ls" --plugin "$toy" score --model "$small" "$tmp/mixed.jsonl"
expect err "^$tmp/mixed.jsonl:2: invalid JSON" "bad JSON reported with its line number"
expect err "^$tmp/mixed.jsonl:3: poisoned event refused" "plugin refusal reported with its line number"
expect err "^$tmp/mixed.jsonl:5: field 'contact': required" "missing field named with its line number"
expect err "5 events read, 2 applied, 0 duplicates, 3 rejected, 2 contacts" "summary printed when lines were rejected"
expect out '^\{"contact":"c-1","score":10,' "the run goes on after rejected lines"
expect out '^\{"contact":"c-2",' "contacts after rejected lines are scored"

# ---- over-long lines ----------------------------------------------------
# A line over --max-line is rejected and skipped; the run goes on.  The
# other lines are exactly at the limit (the newline does not count).
short='{"contact":"c-9","type":"email_open","ts":0}'
max=${#short}
{ printf '%s\n' "$short"; printf '{"contact":"c-8","type":"email_open","ts":0,"x":1}\n'; printf '%s' "$short"; } > "$tmp/long.jsonl"
run 1 "line over --max-line exits 1" -- "$ls" --plugin "$toy" --max-line "$max" score --model "$small" "$tmp/long.jsonl"
expect err "^$tmp/long.jsonl:2: line longer than $max bytes$" "over-long line named with the limit"
if [ "$(grep -c 'line longer' "$tmp/err")" -eq 1 ]; then ok "lines at the limit are accepted"; else not_ok "lines at the limit are accepted"; fi
expect err "3 events read, 2 applied, .* 1 rejected" "over-long line counted as rejected"
expect out '^\{"contact":"c-9",' "the run goes on after an over-long line"
if grep -q 'c-8' "$tmp/out"; then not_ok "over-long line not applied"; else ok "over-long line not applied"; fi
run 2 "bad --max-line" -- "$ls" --max-line 0 score --model "$small" "$events"

# ---- reader thread ---------------------------------------------------------
# --threads 2 reads and parses on a second thread; whatever the input, the
# output, the messages and the transitions are those of --threads 1.  The
# stream is long enough to wrap the feed's ring of batches many times and
# mixes every kind of line: events, duplicates, blank, invalid, too long.
awk 'BEGIN {
    for (i = 0; i < 6000; i++) {
        c = "c-" (i * 7919) % 150; t = 1793527200 + i * 60
        r = i % 97
        if (r == 3) print ""
        else if (r == 5) print "{\"contact\": broken"
        else if (r == 7) printf "{\"contact\":\"%s\",\"type\":\"email_open\",\"ts\":%d,\"pad\":\"%0300d\"}\n", c, t, 0
        else if (r == 11) print "   "
        else if (r % 10 == 0) printf "{\"contact\":\"%s\",\"type\":\"contact.updated\",\"ts\":%d,\"props\":{\"title\":\"%s\"}}\n", c, t, (i % 3 ? "VP Sales" : "Intern")
        else if (r == 17) printf "{\"contact\":\"%s\",\"type\":\"contact.updated\",\"ts\":%d,\"props\":{\"title\":\"\\u0056P\\u0000 Sales\",\"tags\":[1,\"a\",{\"b\":null}],\"n\":1.5,\"ok\":true,\"none\":null}}\n", c, t
        else if (r == 19) printf "{\"contact\":\"c-\\u0031%d\",\"type\":\"demo_request\",\"ts\":%d,\"id\":\"e\\u002d%d\"}\n", i % 10, t, i % 30
        else if (r == 13) printf "{\"contact\":\"%s\",\"type\":\"demo_request\",\"ts\":%d,\"id\":\"d-%d\"}\n", c, t, i % 50
        else printf "{\"contact\":\"%s\",\"type\":\"email_open\",\"ts\":%d,\"id\":\"m-%d\"}\n", c, t, i % 4000
    }
}' > "$tmp/stream.jsonl"
for t in 1 2; do
    "$ls" --threads "$t" --max-line 200 score --stats --model "$small" \
        --transitions "$tmp/tr-$t.txt" "$tmp/stream.jsonl" >"$tmp/out-$t" 2>"$tmp/err-$t"
    echo $? >"$tmp/rc-$t"
done
if cmp -s "$tmp/out-1" "$tmp/out-2" && cmp -s "$tmp/err-1" "$tmp/err-2" &&
   cmp -s "$tmp/tr-1.txt" "$tmp/tr-2.txt" && cmp -s "$tmp/rc-1" "$tmp/rc-2"; then
    ok "--threads 2 gives the output, messages and transitions of --threads 1"
else
    not_ok "--threads 2 differs from --threads 1"
    diff "$tmp/err-1" "$tmp/err-2" | head -10 | sed 's/^/# /'
fi
if [ "$(cat "$tmp/rc-1")" -eq 1 ] && grep -q 'line longer than 200 bytes' "$tmp/err-1" &&
   grep -q ': invalid JSON\|JSON' "$tmp/err-1" && [ -s "$tmp/tr-1.txt" ] &&
   [ "$(wc -l <"$tmp/out-1")" -eq 150 ]; then
    ok "the mixed stream rejects lines, scores 150 contacts and has transitions"
else
    not_ok "the mixed stream rejects lines, scores 150 contacts and has transitions"
fi
"$ls" --threads 2 --max-line 200 score --stats --model "$small" - \
    <"$tmp/stream.jsonl" >"$tmp/out" 2>"$tmp/err-stdin"
sed 's|^<stdin>:|'"$tmp/stream.jsonl"':|' "$tmp/err-stdin" >"$tmp/err"
same out "$tmp/out-1" "--threads 2 on a pipe: the same scores"
same err "$tmp/err-1" "--threads 2 on a pipe: the same messages"
run 2 "--threads 3 is refused" -- "$ls" --threads 3 score --model "$small" "$events"
expect err "threads: '3' is not 1 or 2" "--threads error names the option"
# Default limit 1 MiB; a 200 MB line must not be held in memory.  Feed it
# through a FIFO and read the peak RSS while the run waits for more input.
"$ls" score --model "$small" "$events" > "$tmp/expected-small.jsonl"
mkfifo "$tmp/fifo"
"$ls" score --stats --model "$small" "$tmp/fifo" >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3>"$tmp/fifo"
{ printf '{"contact":"'; head -c 200000000 /dev/zero | tr '\0' a; printf '"}\n'; cat "$events"; } >&3
sleep 1
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
exec 3>&-
wait $pid
rc=$?
if [ "$rc" -eq 1 ]; then ok "200 MB line: exit 1"; else not_ok "200 MB line: exit $rc, expected 1"; fi
expect err "^$tmp/fifo:1: line longer than 1048576 bytes$" "200 MB line rejected at the default limit"
expect err "10 events read, 8 applied, 1 duplicates, 1 rejected, 2 contacts" "the events after the long line are applied"
same out "$tmp/expected-small.jsonl" "same reports as without the long line"
if [ -n "$hwm" ] && [ "$hwm" -lt 120000 ]; then ok "200 MB line: peak RSS ${hwm} KiB"
else not_ok "200 MB line: peak RSS ${hwm:-?} KiB (limit 120000)"; fi

# ---- validate -----------------------------------------------------------
run 0 "validate a good model" -- "$ls" validate "$small"
expect out "model 'small' \\($small\\): 2 groups, 3 rules, 2 tiers" "validate prints the summary"
run 1 "validate a bad model" -- "$ls" validate "$here/bad-model.json"
expect err "^$here/bad-model.json:7:[0-9]+: rules\\[0\\]\\.when\\[0\\]\\.op: unknown op 'oops'" "diagnostic as file:line:col: path: message"
run 1 "validate good and bad" -- "$ls" validate "$small" "$here/bad-model.json"
# jansson reports column 0 at end of input; positions are 1-based.
printf '{\n  "schema": "leadscore.model/1",\n  "groups": [\n' > "$tmp/trunc.json"
run 1 "validate a truncated model" -- "$ls" validate "$tmp/trunc.json"
expect err "^$tmp/trunc.json:4:1: invalid JSON: " "syntax error at end of file has a 1-based column"
printf '' > "$tmp/empty.json"
run 1 "validate an empty file" -- "$ls" validate "$tmp/empty.json"
expect err "^$tmp/empty.json:1:1: invalid JSON: " "empty file: 1:1"
printf '{"a":\n  nope}\n' > "$tmp/word.json"
run 1 "validate a bad token" -- "$ls" validate "$tmp/word.json"
expect err "^$tmp/word.json:2:[1-9][0-9]*: invalid JSON: " "bad token keeps jansson's column"
run 1 "validate three bad files" -- "$ls" validate "$tmp/trunc.json" "$tmp/empty.json" "$tmp/word.json"
if grep -q ':0: ' "$tmp/err"; then not_ok "no line or column 0"; else ok "no line or column 0"; fi
run 0 "validate - reads stdin" -- sh -c "\"$ls\" validate - < \"$small\""
expect out "model 'small' \\(<stdin>\\): 2 groups, 3 rules, 2 tiers" "stdin model summary names <stdin>"
run 1 "validate - with a bad model" -- sh -c "\"$ls\" validate - < \"$here/bad-model.json\""
expect err "^<stdin>:7:[0-9]+: rules\\[0\\]\\.when\\[0\\]\\.op: unknown op 'oops'" "stdin diagnostics show <stdin>:LINE:COL"
if grep -q '/proc/self/fd' "$tmp/err"; then not_ok "no temporary path in messages"; else ok "no temporary path in messages"; fi
run 1 "validate a file and stdin" -- sh -c "\"$ls\" validate \"$small\" - < \"$tmp/trunc.json\""
expect err "^<stdin>:4:1: invalid JSON: " "stdin syntax error with its position"
run 4 "validate a missing file" -- "$ls" validate "$tmp/nope.json"
run 0 "validate the shipped models" -- "$ls" validate "$root"/config/models/*.json
run 0 "the shipped mappings fit the shipped model" -- "$ls" validate --model "$root/config/models/b2b-saas.json" "$root"/config/connectors/*.json
expect out "connector mapping '.*hubspot.json' \(hubspot\): valid" "the HubSpot mapping is checked"
expect out "model 'b2b-saas'" "the model is checked too"
if grep -q warning "$tmp/err"; then not_ok "no warning for the shipped mappings"; else ok "no warning for the shipped mappings"; fi
cat > "$tmp/mc.json" <<'JSON'
{
  "schema": "leadscore.connector/1", "connector": "mailchimp",
  "audience": {"list_id": "a1b2c3"},
  "tiers": {"cold": "c", "hot": "h"},
  "actions": [{"on": "enter", "tier": "sqll",
               "webhook": {"url": "https://h.example/x", "secret_env": "S"}}]
}
JSON
run 0 "Mailchimp tiers the model lacks are warnings" -- "$ls" validate --model "$root/config/models/b2b-saas.json" "$tmp/mc.json"
expect err "^$tmp/mc.json:4:33: warning: tiers.hot: the model has no tier \"hot\": its tag is never set; hint: the model's tiers are \"cold\", \"mql\", \"sql\"$" "a tier tag the model lacks, at its line and column"
expect err "^$tmp/mc.json:5:39: warning: actions\[0\].tier: the model has no tier \"sqll\": this action never fires" "an action on a tier the model lacks"
run 0 "the same mapping alone" -- "$ls" validate "$tmp/mc.json"
if grep -q warning "$tmp/err"; then not_ok "alone: no model, no tier warnings"; else ok "alone: no model, no tier warnings"; fi
sed 's/"tiers": \["sql", "mql", "cold"\]/"tiers": ["sql", "cold"]/' "$root/config/connectors/hubspot.json" > "$tmp/hs.json"
run 0 "a mapping alone: its tiers are not known to be wrong" -- "$ls" validate "$tmp/hs.json"
run 1 "a mapping lacking a model tier" -- "$ls" validate --model "$root/config/models/b2b-saas.json" "$tmp/hs.json"
expect err "^$tmp/hs.json:[0-9]+:3: tiers: lacks the model's tier \"mql\"" "names the file, line, column and tier"
run 3 "sync refuses the same mapping" -- "$ls" sync --model "$root/config/models/b2b-saas.json" --config "$tmp/hs.json" --data-dir "$tmp/sync-data" "$events"
expect err "create\(\) failed: $tmp/hs.json:[0-9]+:3: tiers: lacks the model's tier \"mql\"" "with the same message"
run 2 "one --model only" -- "$ls" validate --model "$small" --model "$small" "$tmp/hs.json"

# ---- score with the real plugin ----------------------------------------
cat > "$tmp/expected.jsonl" <<'JSONL'
{"contact":"a","score":5,"tier":"cold","groups":{"fit":0,"engagement":5},"top":[{"rule":"open","points":5,"awards":1}]}
{"contact":"b","score":50,"tier":"mql","groups":{"fit":20,"engagement":30},"top":[{"rule":"demo","points":30,"awards":1},{"rule":"exec","points":20}]}
JSONL
run 0 "score a small stream" -- "$ls" score --model "$small" --transitions "$tmp/tr.jsonl" "$events"
same out "$tmp/expected.jsonl" "score prints section-4 JSON sorted by contact"
if [ -s "$tmp/err" ]; then not_ok "no summary without --stats"; else ok "no summary without --stats"; fi
cp "$tmp/tr.jsonl" "$tmp/out"
expect out '^\{"contact":"b","model":"small","from":null,"to":"cold","score":20,"at":"2026-11-01T10:00:00Z"\}$' "transition from null"
expect out '^\{"contact":"b","model":"small","from":"cold","to":"mql","score":50,"at":"2026-11-02T08:00:00Z"\}$' "transition to mql at the stream clock"
run 0 "score from stdin with --stats" -- sh -c "\"$ls\" score --stats --model \"$small\" - < \"$events\""
same out "$tmp/expected.jsonl" "stdin gives the same output"
expect err "9 events read, 8 applied, 1 duplicates, 0 rejected, 2 contacts" "--stats counts duplicates"
run 0 "csv" -- "$ls" score --format csv --model "$small" "$events"
expect out '^contact,score,tier,fit,engagement,top$' "csv header"
expect out '^b,50,mql,20,30,demo:30;exec:20$' "csv row"
run 0 "table" -- "$ls" score --format table --model "$small" "$events"
expect out '^CONTACT +SCORE +TIER +REASONS$' "table header"
expect out '^b +50 +mql +demo \+30 \(1 award\), exec \+20$' "table row"
printf '%s\n' '{"contact":"x\ny\u001b[2J","type":"email_open","ts":"2026-11-01T10:00:00Z"}' > "$tmp/ctl.jsonl"
run 0 "table with control characters in an id" -- "$ls" score --format table --model "$small" "$tmp/ctl.jsonl"
expect out '^x\\ny\\x1b\[2J +[0-9]+ ' "table escapes a newline and ESC in the id"
if [ "$(wc -l < "$tmp/out")" -eq 2 ] && ! grep -q "$(printf '\033')" "$tmp/out"; then
    ok "table: one row, no raw ESC"; else not_ok "table: one row, no raw ESC"; fi
run 0 "shadow model" -- "$ls" score --model "$small" --model "$root/config/models/b2b-saas.json" "$events"
expect out '^\{"contact":"a",.*\],"shadows":\{"b2b-saas":\{"score":[0-9]+,"tier":"[a-z]+"\}\}\}$' "shadows member after the primary fields"
run 0 "--as-of in the past" -- "$ls" score --model "$small" --as-of 2026-11-01T12:00:00Z "$events"
run 0 "explain" -- "$ls" explain --model "$small" --contact b "$events"
expect out "^Score 50 of 100, tier mql\\.$" "explain states score and tier"
expect out "demo +\\+30  1 award" "explain lists the rule's awards"
run 1 "explain an unknown contact" -- "$ls" explain --model "$small" --contact zz "$events"
run 0 "compare" -- "$ls" compare --model "$small" --model "$root/config/models/b2b-saas.json" "$events"
expect out '^TIER +A +B$' "compare prints tier counts"

echo "1..$n"
[ "$fails" -eq 0 ]
