/*
 * Unit tests of the Mailchimp mapping validator: the shipped example is
 * valid, and every problem is reported with line, column and JSON path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailchimp/mailchimp.h"

struct diags {
    int n;
    int errors;
    struct {
        int sev, line, col;
        char path[128];
        char msg[256];
        char file[128];
    } d[32];
};

static void on_diag(void *ud, const struct lsc_diagnostic *d)
{
    struct diags *x = ud;
    if (d->severity == LSC_LOG_ERROR) {
        x->errors++;
    }
    if (x->n < 32) {
        x->d[x->n].sev = (int)d->severity;
        x->d[x->n].line = d->line;
        x->d[x->n].col = d->column;
        snprintf(x->d[x->n].path, sizeof x->d[0].path, "%s", d->json_path);
        snprintf(x->d[x->n].msg, sizeof x->d[0].msg, "%s", d->message);
        snprintf(x->d[x->n].file, sizeof x->d[0].file, "%s", d->file);
    }
    x->n++;
}

static int find(const struct diags *x, const char *path)
{
    for (int i = 0; i < x->n && i < 32; i++) {
        if (strcmp(x->d[i].path, path) == 0) {
            return i;
        }
    }
    return -1;
}

static void test_example_is_valid(void **state)
{
    (void)state;
    const char *root = getenv("LSC_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/config/connectors/mailchimp.json",
             root != NULL ? root : ".");
    struct diags x = {0};
    struct mailchimp_config c;
    size_t nerr = 99;
    assert_int_equal(mailchimp_config_load(path, on_diag, &x, &c, &nerr),
                     LSC_OK);
    assert_int_equal(nerr, 0);
    assert_int_equal(x.n, 0);
    assert_string_equal(c.list_id, "a1b2c3d4e5");
    assert_string_equal(c.score_tag, "LSCORE");
    assert_string_equal(c.tier_tag, "LTIER");
    assert_int_equal(c.unknown_members, MAILCHIMP_UNKNOWN_SKIP);
    assert_int_equal(c.n_tiers, 3);
    assert_int_equal(c.max_connections, 10);
    assert_int_equal(c.timeout_ms, 120000);
    assert_string_equal(mailchimp_config_campaign_type(&c, "rss"),
                        "newsletter");
    assert_string_equal(mailchimp_config_campaign_type(&c, "other"), "other");
    char tag[128];
    mailchimp_config_tier_tag(&c, "mql", tag, sizeof tag);
    assert_string_equal(tag, "leadscore-mql");
    mailchimp_config_tier_tag(&c, "vip", tag, sizeof tag);
    assert_string_equal(tag, "leadscore-vip");
    struct mailchimp_config copy;
    assert_int_equal(mailchimp_config_copy(&copy, &c), LSC_OK);
    assert_string_equal(copy.tiers[2].tag, c.tiers[2].tag);
    mailchimp_config_destroy(&copy);
    mailchimp_config_destroy(&c);
}

static const char *bad =
    "{\n"
    "  \"schema\": \"leadscore.connector/2\",\n"
    "  \"connector\": \"hubspot\",\n"
    "  \"audience\": {\"list_id\": \"a1-b2\"},\n"
    "  \"fields\": {\n"
    "    \"score\": {\"tag\": \"LEADSCORE123\"},\n"
    "    \"tier\": {\"tag\": \"lt\"}\n"
    "  },\n"
    "  \"unknown_members\": {\"action\": \"subscribe\",\n"
    "                      \"status_if_new\": \"subscribed\"},\n"
    "  \"tiers\": {\"mql\": \"hot\", \"sql\": \"hot\"},\n"
    "  \"limits\": {\"max_connections\": 25, \"timeout_ms\": 300000},\n"
    "  \"activity\": {\"lookback_days\": \"30\", \"lookback_dayz\": 3},\n"
    "  \"api\": {\"base_url\": \"http://example.com/3.0\"},\n"
    "  \"colour\": \"blue\"\n"
    "}\n";

static void test_every_problem_reported(void **state)
{
    (void)state;
    struct diags x = {0};
    struct mailchimp_config c;
    size_t nerr = 0;
    assert_int_equal(mailchimp_config_parse(bad, strlen(bad), "m.json",
                                            on_diag, &x, &c, &nerr),
                     LSC_ERR_CONFIG);
    assert_null(c.list_id);
    int i = find(&x, "schema");
    assert_true(i >= 0);
    assert_int_equal(x.d[i].line, 2);
    assert_int_equal(x.d[i].col, 13);
    assert_string_equal(x.d[i].file, "m.json");
    i = find(&x, "connector");
    assert_true(i >= 0);
    assert_int_equal(x.d[i].line, 3);
    i = find(&x, "audience.list_id");
    assert_true(i >= 0);
    assert_int_equal(x.d[i].line, 4);
    assert_int_equal(x.d[i].col, 27);
    i = find(&x, "fields.score.tag");
    assert_true(i >= 0);
    assert_int_equal(x.d[i].line, 6);
    assert_non_null(strstr(x.d[i].msg, "hint"));
    assert_true(find(&x, "fields.tier.tag") >= 0);
    i = find(&x, "unknown_members.action");
    assert_true(i >= 0);
    assert_int_equal(x.d[i].line, 9);
    i = find(&x, "unknown_members.status_if_new");
    assert_true(i >= 0);
    assert_int_equal(x.d[i].sev, LSC_LOG_WARN);
    assert_int_equal(x.d[i].line, 10);
    i = find(&x, "tiers.sql");
    assert_true(i >= 0);
    assert_non_null(strstr(x.d[i].msg, "already used"));
    i = find(&x, "limits.max_connections");
    assert_true(i >= 0);
    assert_int_equal(x.d[i].line, 12);
    assert_non_null(strstr(x.d[i].msg, "10 simultaneous"));
    assert_true(find(&x, "limits.timeout_ms") >= 0);
    assert_true(find(&x, "activity.lookback_days") >= 0);
    i = find(&x, "activity.lookback_dayz");
    assert_true(i >= 0);
    assert_int_equal(x.d[i].sev, LSC_LOG_WARN);
    assert_non_null(strstr(x.d[i].msg, "hint: did you mean 'lookback_days'?"));
    assert_true(find(&x, "api.base_url") >= 0);
    i = find(&x, "colour");
    assert_true(i >= 0);
    assert_int_equal(x.d[i].sev, LSC_LOG_WARN);
    assert_int_equal(x.d[i].line, 15);
    assert_null(strstr(x.d[i].msg, "hint")); /* nothing near "colour" */
    assert_int_equal(x.errors, (int)nerr);
    assert_int_equal(nerr, 11);
}

static void test_syntax_and_missing(void **state)
{
    (void)state;
    struct diags x = {0};
    struct mailchimp_config c;
    size_t nerr = 0;
    const char *t = "{\n  \"schema\": \"leadscore.connector/1\",\n  ,\n}";
    assert_int_equal(mailchimp_config_parse(t, strlen(t), "s.json", on_diag,
                                            &x, &c, &nerr),
                     LSC_ERR_CONFIG);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.d[0].line, 3);
    assert_true(x.d[0].col > 0);
    assert_non_null(strstr(x.d[0].msg, "not valid JSON"));

    struct diags y = {0};
    const char *m = "{\"schema\":\"leadscore.connector/1\"}";
    assert_int_equal(mailchimp_config_parse(m, strlen(m), "m.json", on_diag,
                                            &y, &c, &nerr),
                     LSC_ERR_CONFIG);
    assert_int_equal(nerr, 2); /* connector and audience */
    assert_non_null(strstr(y.d[0].msg, "\"connector\""));
    assert_int_equal(y.d[0].line, 1);

    struct diags z = {0};
    assert_int_equal(mailchimp_config_load("/nonexistent/mc.json", on_diag,
                                           &z, &c, &nerr),
                     LSC_ERR_IO);
    assert_int_equal(z.n, 1);
    assert_non_null(strstr(z.d[0].msg, "cannot read"));
}

static void test_create_mapping(void **state)
{
    (void)state;
    const char *t =
        "{\"schema\":\"leadscore.connector/1\",\"connector\":\"mailchimp\","
        "\"audience\":{\"list_id\":\"L1\"},\"unknown_members\":"
        "{\"action\":\"create\",\"status_if_new\":\"pending\"},"
        "\"limits\":{\"max_connections\":3},\"tiers\":[\"cold\",\"hot\"],"
        "\"api\":{\"base_url\":\"http://127.0.0.1:8080/3.0\"}}";
    struct mailchimp_config c;
    size_t nerr = 1;
    assert_int_equal(mailchimp_config_parse(t, strlen(t), "c.json", NULL,
                                            NULL, &c, &nerr),
                     LSC_OK);
    assert_int_equal(nerr, 0);
    assert_int_equal(c.unknown_members, MAILCHIMP_UNKNOWN_CREATE);
    assert_string_equal(c.create_status, "pending");
    assert_int_equal(c.max_connections, 3);
    assert_string_equal(c.api_base, "http://127.0.0.1:8080/3.0");
    assert_string_equal(c.score_tag, "LSCORE");
    assert_int_equal(c.n_tiers, 2);
    assert_string_equal(c.tiers[1].tag, "leadscore-hot");
    mailchimp_config_destroy(&c);

    /* "connector" is the one key naming the connector: "type" is not. */
    const char *t2 = "{\"schema\":\"leadscore.connector/1\",\"type\":"
                     "\"mailchimp\",\"audience\":{\"list_id\":\"L1\"}}";
    assert_int_equal(mailchimp_config_parse(t2, strlen(t2), "t.json", NULL,
                                            NULL, &c, &nerr),
                     LSC_ERR_CONFIG);
    assert_int_equal(nerr, 1); /* missing "connector" ("type": a warning) */
    const char *h = "{\"schema\":\"leadscore.connector/1\",\"connector\":"
                    "\"mailchimp\",\"audience\":{\"list_id\":\"L1\"}}";
    assert_int_equal(mailchimp_config_parse(h, strlen(h), "h.json", NULL,
                                            NULL, &c, &nerr),
                     LSC_OK);
    assert_string_equal(c.client_secret_env, "MAILCHIMP_CLIENT_SECRET");
    assert_int_equal(c.redirect_port, 3000);
    mailchimp_config_destroy(&c);
}

/* "actions": webhooks on tier changes, copied with the mapping; HubSpot's
 * tag / write_tier and a bad secret variable are errors. */
static void test_actions(void **state)
{
    (void)state;
    const char *t =
        "{\"schema\":\"leadscore.connector/1\",\"connector\":\"mailchimp\","
        "\"audience\":{\"list_id\":\"L1\"},\"actions\":["
        "{\"on\":\"enter\",\"tier\":\"hot\",\"webhook\":{\"url\":"
        "\"https://h.example/x\",\"secret_env\":\"HOOK_SECRET\"}},"
        "{\"on\":\"leave\",\"tier\":\"hot\",\"webhook\":{\"url\":"
        "\"http://127.0.0.1:9/y\",\"secret_env\":\"HOOK_SECRET\"}}]}";
    struct mailchimp_config c, d;
    size_t nerr = 1;
    assert_int_equal(mailchimp_config_parse(t, strlen(t), "a.json", NULL,
                                            NULL, &c, &nerr),
                     LSC_OK);
    assert_int_equal(c.n_actions, 2);
    assert_false(c.actions[0].on_leave);
    assert_true(c.actions[1].on_leave);
    assert_string_equal(c.actions[0].webhook_url, "https://h.example/x");
    assert_int_equal(mailchimp_config_copy(&d, &c), LSC_OK);
    mailchimp_config_destroy(&c);
    assert_int_equal(d.n_actions, 2);
    assert_string_equal(d.actions[1].webhook_url, "http://127.0.0.1:9/y");
    assert_string_equal(d.actions[1].webhook_secret_env, "HOOK_SECRET");
    mailchimp_config_destroy(&d);

    static const char *const wrong[] = {
        "{\"on\":\"enter\",\"tier\":\"hot\",\"tag\":\"x\",\"webhook\":"
        "{\"url\":\"https://h.example/x\",\"secret_env\":\"S\"}}",
        "{\"on\":\"arrive\",\"tier\":\"hot\",\"webhook\":"
        "{\"url\":\"https://h.example/x\",\"secret_env\":\"S\"}}",
        "{\"on\":\"enter\",\"tier\":\"hot\",\"webhook\":"
        "{\"url\":\"http://h.example/x\",\"secret_env\":\"S\"}}",
        "{\"on\":\"enter\",\"tier\":\"hot\",\"webhook\":"
        "{\"url\":\"https://h.example/x\",\"secret_env\":\"A-B\"}}",
        "{\"on\":\"enter\",\"tier\":\"hot\"}",
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        char m[512];
        snprintf(m, sizeof m,
                 "{\"schema\":\"leadscore.connector/1\",\"connector\":"
                 "\"mailchimp\",\"audience\":{\"list_id\":\"L1\"},"
                 "\"actions\":[%s]}",
                 wrong[i]);
        assert_int_equal(mailchimp_config_parse(m, strlen(m), "b.json", NULL,
                                                NULL, &c, &nerr),
                         LSC_ERR_CONFIG);
        assert_true(nerr >= 1);
    }
}

/* x holds exactly `want`, in order, each as "E|W line:col path: msg". */
static void expect_diags(const struct diags *x, const char *const *want,
                         int n)
{
    assert_int_equal(x->n, n);
    for (int i = 0; i < n; i++) {
        char got[512];
        snprintf(got, sizeof got, "%s %d:%d %s: %s",
                 x->d[i].sev == LSC_LOG_ERROR ? "E" : "W", x->d[i].line,
                 x->d[i].col, x->d[i].path, x->d[i].msg);
        assert_string_equal(got, want[i]);
    }
}

/* Mapping t is refused with n_errors errors and exactly the diagnostics
 * `want`. */
static void expect_refused(const char *t, size_t n_errors,
                           const char *const *want, int n)
{
    struct diags x = {0};
    struct mailchimp_config c;
    size_t nerr = 0;
    assert_int_equal(mailchimp_config_parse(t, strlen(t), "a.json", on_diag,
                                            &x, &c, &nerr),
                     LSC_ERR_CONFIG);
    assert_int_equal(nerr, n_errors);
    expect_diags(&x, want, n);
}

/* A mapping whose only action is `action` is refused with exactly the
 * one error `want`. */
static void expect_one_error(const char *action, const char *want)
{
    char t[512];
    snprintf(t, sizeof t,
             "{\"schema\":\"leadscore.connector/1\","
             "\"connector\":\"mailchimp\",\"audience\":{\"list_id\":\"L1\"},"
             "\"actions\":[%s]}",
             action);
    expect_refused(t, 1, &want, 1);
}

/* The diagnostics of the "actions" walk shared with HubSpot
 * (core/mapping.c), at the values they are about. */
static void test_action_diagnostics(void **state)
{
    (void)state;
    const char *t =
        "{\n"
        "  \"schema\": \"leadscore.connector/1\", \"connector\": \"mailchimp\",\n"
        "  \"audience\": {\"list_id\": \"L1\"},\n"
        "  \"actions\": [{\"on\": \"arrive\", \"tier\": \"hot\", \"tire\": 1,\n"
        "               \"webhook\": {\"url\": \"https://h.example/x\",\n"
        "                           \"secret_env\": \"S\"}},\n"
        "              7]\n"
        "}\n";
    static const char *const want[] = {
        "W 4:55 actions[0].tire: unknown key \"tire\" is ignored; hint: did "
        "you mean 'tier'?",
        "E 4:22 actions[0].on: \"arrive\" is not a transition; hint: "
        "\"enter\" or \"leave\"",
        "E 7:15 actions[1]: must be an object",
    };
    expect_refused(t, 2, want, 3);

    const char *u =
        "{\"schema\":\"leadscore.connector/1\",\"connector\":\"mailchimp\","
        "\"audience\":{\"list_id\":\"L1\"},\"actions\":{}}";
    static const char *const want_array[] = {
        "E 1:97 actions: must be an array",
    };
    expect_refused(u, 1, want_array, 1);

    /* An empty "on" is one problem, reported as HubSpot reports it. */
    expect_one_error("{\"on\":\"\",\"tier\":\"hot\",\"webhook\":{\"url\":"
                     "\"https://h.example/x\",\"secret_env\":\"S\"}}",
                     "E 1:104 actions[0].on: must be a non-empty string");
    /* secret_env follows HubSpot's rule: upper case, digits and _. */
    expect_one_error("{\"on\":\"enter\",\"tier\":\"hot\",\"webhook\":{\"url\":"
                     "\"https://h.example/x\","
                     "\"secret_env\":\"hook_Secret\"}}",
                     "E 1:177 actions[0].webhook.secret_env: not an "
                     "environment variable name (A-Z, 0-9, _); hint: the "
                     "name of the variable holding the secret, never the "
                     "secret itself");
}

/* auth.*_env follow the same rule (the key's variable also names the
 * re-authorisation file), and a key pasted in is not repeated. */
static void test_auth_env_names(void **state)
{
    (void)state;
    const char *t =
        "{\"schema\":\"leadscore.connector/1\",\"connector\":\"mailchimp\",\n"
        "\"audience\":{\"list_id\":\"L1\"},\n"
        "\"auth\":{\"type\":\"api_key\",\n"
        "  \"api_key_env\":\"0123abcdef-us6\",\n"
        "  \"client_secret_env\":\"../secret\"}}\n";
    static const char *const want[] = {
        "E 4:17 auth.api_key_env: not an environment variable name (A-Z, "
        "0-9, _); hint: the name of the variable holding the key, never "
        "the key itself",
        "E 5:23 auth.client_secret_env: not an environment variable name "
        "(A-Z, 0-9, _); hint: the name of the variable holding the secret, "
        "never the secret itself",
    };
    expect_refused(t, 2, want, 2); /* exact messages: no key in them */

    /* The defaults and upper-case names stay accepted. */
    const char *u =
        "{\"schema\":\"leadscore.connector/1\",\"connector\":\"mailchimp\","
        "\"audience\":{\"list_id\":\"L1\"},\"auth\":{\"type\":\"oauth\","
        "\"client_id\":\"1\",\"client_secret_env\":\"MC_SECRET_2\"}}";
    struct diags x = {0};
    struct mailchimp_config c;
    size_t nerr = 9;
    assert_int_equal(mailchimp_config_parse(u, strlen(u), "a.json", on_diag,
                                            &x, &c, &nerr),
                     LSC_OK);
    assert_int_equal(nerr, 0);
    assert_string_equal(c.api_key_env, "MAILCHIMP_API_KEY");
    assert_string_equal(c.client_secret_env, "MC_SECRET_2");
    mailchimp_config_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_is_valid),
        cmocka_unit_test(test_every_problem_reported),
        cmocka_unit_test(test_syntax_and_missing),
        cmocka_unit_test(test_create_mapping),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_action_diagnostics),
        cmocka_unit_test(test_auth_env_names),
    };
    return cmocka_run_group_tests_name("mailchimp_config", tests, NULL, NULL);
}
