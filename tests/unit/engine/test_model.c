/* Model validation: every problem reported with its JSON path, line and
 * column, hints for near misses, and create() refusing the model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "testhost.h"

static const struct th_diag *diag(const struct testhost *th, const char *path)
{
    for (size_t i = 0; i < th->n_d; i++) {
        if (strcmp(th->d[i].path, path) == 0) {
            return &th->d[i];
        }
    }
    print_error("no diagnostic for %s\n", path);
    return NULL;
}

/* line:column of the first occurrence of needle in text (ASCII). */
static void locate(const char *text, const char *needle, int *line, int *col)
{
    const char *p = strstr(text, needle);
    assert_non_null(p);
    *line = 1;
    *col = 1;
    for (const char *q = text; q < p; q++) {
        if (*q == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void expect(const struct testhost *th, const char *path, int line,
                   int col, const char *msg_part);

/* The diagnostic for `path` points at `needle` in `text`. */
static void expect_at(const struct testhost *th, const char *text,
                      const char *path, const char *needle,
                      const char *msg_part)
{
    int line, col;
    locate(text, needle, &line, &col);
    expect(th, path, line, col, msg_part);
}

static void expect(const struct testhost *th, const char *path, int line,
                   int col, const char *msg_part)
{
    const struct th_diag *d = diag(th, path);
    assert_non_null(d);
    if (strstr(d->msg, msg_part) == NULL) {
        print_error("%s: '%s' lacks '%s'\n", path, d->msg, msg_part);
    }
    assert_non_null(strstr(d->msg, msg_part));
    if (line > 0) {
        if (d->line != line || d->col != col) {
            print_error("%s: at %d:%d, expected %d:%d\n", path, d->line,
                        d->col, line, col);
        }
        assert_int_equal(d->line, line);
        assert_int_equal(d->col, col);
    }
}

static const char broken[] =
    "{\n"
    "  \"schema\": \"leadscore.model/1\",\n"
    "  \"name\": \"broken\",\n"
    "  \"groups\": [\n"
    "    {\"name\": \"fit\", \"halflife\": \"30d\"},\n"
    "    {\"name\": \"engagement\", \"half_life\": \"30x\"}\n"
    "  ],\n"
    "  \"rules\": [\n"
    "    {\"id\": \"a\", \"group\": \"fit\", \"points\": 1,\n"
    "     \"when\": [{\"field\": \"t\", \"op\": \"contain_any\", \"value\": [\"x\"]}]},\n"
    "    {\"id\": \"a\", \"group\": \"engagment\", \"points\": \"5\", \"event\": \"e\"},\n"
    "    {\"id\": \"b\", \"group\": \"fit\", \"points\": 1, \"once\": true}\n"
    "  ],\n"
    "  \"tiers\": [{\"name\": \"cold\", \"min\": 5}, {\"name\": \"hot\", \"min\": 3}],\n"
    "  \"hysteresis\": -1\n"
    "}\n";

static void test_model_every_problem_positioned(void **state)
{
    (void)state;
    struct testhost th;
    const char *f = th_tempfile(broken);
    th_init(&th, f);
    assert_int_equal(th_create(&th), LSC_ERR_CONFIG);
    char want[256];
    snprintf(want, sizeof want, "%s: 10 problems in the model", f);
    assert_string_equal(th.err, want);
    assert_int_equal(th.n_d, 10);
    assert_string_equal(th.d[0].file, f);
    for (size_t i = 1; i < th.n_d; i++) { /* in file order */
        assert_true(th.d[i - 1].line < th.d[i].line ||
                    (th.d[i - 1].line == th.d[i].line &&
                     th.d[i - 1].col < th.d[i].col));
    }
    /* hand-checked: the key of line 5 starts at column 21 */
    expect(&th, "groups[0].halflife", 5, 21,
           "unknown key 'halflife'; hint: did you mean 'half_life'?");
    const char *b = broken;
    expect_at(&th, b, "groups[1].half_life", "\"30x\"", "invalid duration '30x'");
    expect_at(&th, b, "rules[0].when[0].op", "\"contain_any\"",
              "unknown op 'contain_any'; hint: did you mean 'contains_any'?");
    expect_at(&th, b, "rules[1].group", "\"engagment\"",
              "no group named 'engagment'; hint: did you mean 'engagement'?");
    expect_at(&th, b, "rules[1].points", "\"5\"", "must be a number, not a string");
    expect_at(&th, b, "rules[1].id", "\"a\", \"group\": \"engagment",
              "duplicate rule id 'a' (first at rules[0])");
    expect_at(&th, b, "rules[2].once", "\"once\"", "applies only to activity rules");
    expect_at(&th, b, "tiers[0].min", "5}", "first tier's min must be 0");
    expect_at(&th, b, "tiers[1].min", "3}]", "strictly increasing");
    expect_at(&th, b, "hysteresis", "-1", ">= 0");
    th_finish(&th);
}

static void test_model_json_syntax_error(void **state)
{
    (void)state;
    struct testhost th;
    const char *f = th_tempfile("{\n  \"schema\": \"leadscore.model/1\",\n"
                                "  \"name\": \"x\"\n  \"groups\": []\n}\n");
    th_init(&th, f);
    assert_int_equal(th_create(&th), LSC_ERR_CONFIG);
    assert_int_equal(th.n_d, 1);
    assert_int_equal(th.d[0].line, 4);
    assert_true(th.d[0].col > 0);
    assert_non_null(strstr(th.d[0].msg, "invalid JSON"));
    assert_non_null(strstr(th.err, ":4:"));
    th_finish(&th);
}

static void test_model_duplicate_key(void **state)
{
    (void)state;
    struct testhost th;
    th_init(&th, th_tempfile("{\"name\": \"a\",\n \"name\": \"b\"}"));
    assert_int_equal(th_create(&th), LSC_ERR_CONFIG);
    assert_int_equal(th.n_d, 1);
    assert_int_equal(th.d[0].line, 2);
    assert_non_null(strstr(th.d[0].msg, "duplicate"));
    th_finish(&th);
}

static void test_model_top_level_problems(void **state)
{
    (void)state;
    struct testhost th;
    static const char t[] =
        "{\"schema\": \"leadscore.model/2\", \"name\": \"\",\n"
        " \"groups\": [], \"rule\": [], \"scale_max\": 0}";
    th_init(&th, th_tempfile(t));
    assert_int_equal(th_create(&th), LSC_ERR_CONFIG);
    expect(&th, "schema", 1, 12, "unsupported schema 'leadscore.model/2'");
    expect_at(&th, t, "name", "\"\",", "must not be empty");
    expect_at(&th, t, "groups", "[]", "1 to 64 groups");
    expect_at(&th, t, "rule", "\"rule\"",
              "unknown key 'rule'; hint: did you mean 'rules'?");
    expect_at(&th, t, "scale_max", "0}", "integer > 0");
    expect(&th, "", 1, 1, "missing required key 'tiers'");
    assert_int_equal(th.n_d, 6);
    th_finish(&th);
}

static void test_model_condition_values(void **state)
{
    (void)state;
    struct testhost th;
    static const char t[] =
        "{\"schema\":\"leadscore.model/1\",\"name\":\"v\",\n"
        "\"groups\":[{\"name\":\"g\",\"max\":\"10\"}],\n"
        "\"rules\":[\n"
        "{\"id\":\"r0\",\"group\":\"g\",\"points\":1,\"when\":[\n"
        " {\"field\":\"a\",\"op\":\"between\",\"value\":[5,1]},\n"
        " {\"field\":\"a\",\"op\":\"exists\",\"value\":1},\n"
        " {\"field\":\"a\",\"op\":\"in\",\"value\":\"x\"},\n"
        " {\"field\":\"a\",\"op\":\"gt\",\"value\":\"5\"},\n"
        " {\"field\":\"a\",\"op\":\"contains_any\",\"value\":[1]},\n"
        " {\"op\":\"eq\",\"value\":1},\n"
        " {\"field\":\"a\",\"op\":\"eq\"},\n"
        " {\"field\":\"a\",\"op\":\"frobnicate\",\"value\":1}]},\n"
        "{\"id\":\"r1\",\"group\":\"g\",\"points\":1,\"event\":\"e\","
        "\"max_awards\":0,\"cooldown\":\"-1d\"}],\n"
        "\"tiers\":[{\"name\":\"t\",\"min\":0},{\"name\":\"t\",\"min\":1}]}";
    th_init(&th, th_tempfile(t));
    assert_int_equal(th_create(&th), LSC_ERR_CONFIG);
    expect_at(&th, t, "groups[0].max", "\"10\"", "'max' must be a number");
    expect_at(&th, t, "rules[0].when[0].value", "[5,1]", "lo is above hi");
    expect_at(&th, t, "rules[0].when[1].value", "\"value\":1}", "takes no value");
    expect_at(&th, t, "rules[0].when[2].value", "\"x\"", "needs an array");
    expect_at(&th, t, "rules[0].when[3].value", "\"5\"", "needs a number");
    expect(&th, "rules[0].when[4].value[0]", 9, 44, "must be a string");
    expect_at(&th, t, "rules[0].when[5]", "{\"op\"", "missing required key 'field'");
    expect_at(&th, t, "rules[0].when[6]", "{\"field\":\"a\",\"op\":\"eq\"}",
              "missing required key 'value'");
    expect_at(&th, t, "rules[0].when[7].op", "\"frobnicate\"",
              "unknown op 'frobnicate'; hint: one of");
    expect_at(&th, t, "rules[1].max_awards", "0,", "integer >= 1");
    expect_at(&th, t, "rules[1].cooldown", "\"-1d\"", "positive");
    expect_at(&th, t, "tiers[1].name", "\"t\",\"min\":1", "duplicate tier name 't'");
    assert_int_equal(th.n_d, 12);
    th_finish(&th);
}

static void test_model_missing_file(void **state)
{
    (void)state;
    struct testhost th;
    th_init(&th, "/nonexistent/model.json");
    assert_int_equal(th_create(&th), LSC_ERR_CONFIG);
    assert_int_equal(th.n_d, 1);
    assert_non_null(strstr(th.d[0].msg, "cannot open"));
    assert_non_null(strstr(th.err, "/nonexistent/model.json"));
    th_finish(&th);
    /* no models key at all */
    th_init(&th, NULL);
    assert_int_equal(th_create(&th), LSC_ERR_CONFIG);
    assert_non_null(strstr(th.err, "models"));
    th_finish(&th);
}

static void test_model_durations_compiled(void **state)
{
    (void)state;
    static const char text[] =
        "{\"schema\":\"leadscore.model/1\",\"name\":\"d\",\"groups\":["
        "{\"name\":\"a\",\"half_life\":\"90m\"},{\"name\":\"b\",\"half_life\":\"36h\"},"
        "{\"name\":\"c\",\"half_life\":45},{\"name\":\"e\",\"half_life\":\"1.5s\"}],"
        "\"rules\":[{\"id\":\"x\",\"group\":\"a\",\"points\":1,\"event\":\"v\","
        "\"once\":true,\"max_awards\":5},{\"id\":\"y\",\"group\":\"a\",\"points\":1,"
        "\"event\":\"v\",\"max_awards\":5,\"cooldown\":\"2d\"},"
        "{\"id\":\"z\",\"group\":\"b\",\"points\":2}],"
        "\"tiers\":[{\"name\":\"t\",\"min\":0}]}";
    struct model *m = NULL;
    char err[256];
    assert_int_equal(model_load_text("d", text, sizeof text - 1, NULL, &m, err,
                                     sizeof err),
                     LSC_OK);
    assert_int_equal(m->groups[0].half_life_ms, 90 * 60000);
    assert_int_equal(m->groups[1].half_life_ms, 36 * 3600000LL);
    assert_int_equal(m->groups[2].half_life_ms, 45000);
    assert_int_equal(m->groups[3].half_life_ms, 1500);
    assert_int_equal(m->rules[0].max_awards, 1); /* once wins */
    assert_int_equal(m->rules[1].max_awards, 5);
    assert_int_equal(m->rules[1].cooldown_ms, 2 * T_DAY);
    assert_int_equal(m->n_fit_rules, 1);
    assert_int_equal(m->scale_max, 100);
    const struct model_evtype *e = model_find_event(m, "v");
    assert_non_null(e);
    assert_int_equal(e->n_rules, 2);
    assert_null(model_find_event(m, "V")); /* event types are exact */
    assert_int_equal(model_rule_by_hash(m, m->rules[1].id_hash), 1);
    assert_int_equal(model_rule_by_hash(m, m->rules[2].id_hash), -1);
    model_destroy(m);
    model_destroy(NULL);
}

static int teardown_files(void **state)
{
    (void)state;
    th_tempfiles_remove();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_every_problem_positioned),
        cmocka_unit_test(test_model_json_syntax_error),
        cmocka_unit_test(test_model_duplicate_key),
        cmocka_unit_test(test_model_top_level_problems),
        cmocka_unit_test(test_model_condition_values),
        cmocka_unit_test(test_model_missing_file),
        cmocka_unit_test(test_model_durations_compiled),
    };
    return cmocka_run_group_tests_name("engine_model", tests, NULL,
                                       teardown_files);
}
