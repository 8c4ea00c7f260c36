/*
 * Unit tests of the leadscored config file (host/daemon/config.c):
 * defaults, relative paths, "env:" secrets, durations, refusals naming
 * the key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char path[64];

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/lsc-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void test_config_defaults_and_paths(void **state)
{
    (void)state;
    write_file("{\"data_dir\": \"data\", \"models\": [\"m/a.json\", "
               "\"/abs/b.json\"], \"tokens\": \"tok\"}");
    struct dconfig *c = NULL;
    char err[256] = "";
    assert_int_equal(dconfig_load(path, &c, err, sizeof err), LSC_OK);
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 8080);
    assert_string_equal(c->data_dir, "/tmp/data");
    assert_string_equal(dconfig_get(c, "model"), "/tmp/m/a.json");
    assert_string_equal(dconfig_get(c, "models"),
                        "/tmp/m/a.json\n/abs/b.json");
    assert_int_equal(c->n_tokens, 1);
    assert_true(c->durable);
    assert_int_equal(c->dedup_retention_ms, 30LL * 86400 * 1000);
    assert_null(c->hubspot_secret);
    assert_null(dconfig_get(c, "score_property"));
    assert_int_equal(c->score_refresh_ms, 60000);
    dconfig_destroy(c);
    /* score_refresh: a duration; 0 turns the sweep off. */
    write_file("{\"data_dir\": \"data\", \"score_refresh\": \"15s\"}");
    assert_int_equal(dconfig_load(path, &c, err, sizeof err), LSC_OK);
    assert_int_equal(c->score_refresh_ms, 15000);
    dconfig_destroy(c);
    write_file("{\"data_dir\": \"data\", \"score_refresh\": 0}");
    assert_int_equal(dconfig_load(path, &c, err, sizeof err), LSC_OK);
    assert_int_equal(c->score_refresh_ms, 0);
    dconfig_destroy(c);
}

static void test_config_env_secrets_and_plugin_keys(void **state)
{
    (void)state;
    setenv("LSC_TEST_SECRET", "s3cr3t", 1);
    write_file("{\"data_dir\": \"/d\", \"listen\": \"[::1]:0\","
               " \"hubspot\": {\"client_secret\": \"env:LSC_TEST_SECRET\","
               " \"max_age\": \"90s\"}, \"dedup_retention\": \"36h\","
               " \"plugin_config\": {\"score_property\": \"hs_score\"}}");
    struct dconfig *c = NULL;
    char err[256] = "";
    assert_int_equal(dconfig_load(path, &c, err, sizeof err), LSC_OK);
    assert_string_equal(c->hubspot_secret, "s3cr3t");
    assert_int_equal(c->hubspot_max_age_ms, 90000);
    assert_int_equal(c->dedup_retention_ms, 36LL * 3600 * 1000);
    assert_string_equal(c->listen_host, "::1");
    assert_int_equal(c->listen_port, 0);
    assert_string_equal(dconfig_get(c, "score_property"), "hs_score");
    dconfig_destroy(c);

    unsetenv("LSC_TEST_SECRET");
    write_file("{\"data_dir\": \"/d\", \"hubspot\": {\"client_secret\":"
               " \"env:LSC_TEST_SECRET\"}}");
    assert_int_equal(dconfig_load(path, &c, err, sizeof err), LSC_ERR_CONFIG);
    assert_non_null(strstr(err, "LSC_TEST_SECRET, which is not set"));
}

static void test_config_refusals_name_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"data_dir\": \"/d\", \"lisen\": \"x\"}", "unknown key 'lisen'"},
        {"{\"models\": []}", "'data_dir' is required"},
        {"{\"data_dir\": \"/d\", \"listen\": \"nope\"}", "'listen'"},
        {"{\"data_dir\": \"/d\", \"dedup_retention\": \"3w\"}",
         "'dedup_retention' must be a duration"},
        {"{\"data_dir\": \"/d\", \"limits\": {\"max_body_bytes\": 5}}",
         "'max_body_bytes'"},
        {"{\"data_dir\": \"/d\", \"mailchimp\": {\"require_signature\": "
         "true}}", "needs 'signing_secret'"},
        {"{\"data_dir\": \"/d\", \"tokens\": [1]}", "'tokens[0]'"},
        {"{\"data_dir\": \"/d\", \"score_refresh\": \"soon\"}",
         "'score_refresh' must be a duration"},
        {"{\"data_dir\": \"/d\",", "1:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(cases[i].text);
        struct dconfig *c = NULL;
        char err[256] = "";
        assert_int_equal(dconfig_load(path, &c, err, sizeof err),
                         LSC_ERR_CONFIG);
        assert_null(c);
        if (strstr(err, cases[i].want) == NULL) {
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
        }
    }
}

/* "connectors" as an array (joined one per line for the plugin) and the
 * activity import, whose mapping defaults to the Mailchimp one. */
static void test_config_connectors_and_activity_import(void **state)
{
    (void)state;
    char mc[96];
    snprintf(mc, sizeof mc, "%s-mc.json", path);
    FILE *f = fopen(mc, "w");
    assert_non_null(f);
    fputs("{\"connector\": \"mailchimp\"}", f);
    fclose(f);
    const char *base = strrchr(mc, '/') + 1;
    char text[512];
    snprintf(text, sizeof text,
             "{\"data_dir\": \"/d\", \"connectors\": [\"hs.json\", \"%s\"],"
             " \"mailchimp\": {\"activity_import\": {\"interval\": \"90s\"}}}",
             base);
    write_file(text);
    struct dconfig *c = NULL;
    char err[256] = "";
    assert_int_equal(dconfig_load(path, &c, err, sizeof err), LSC_OK);
    char want[192];
    snprintf(want, sizeof want, "/tmp/hs.json\n%s", mc);
    assert_string_equal(dconfig_get(c, "connectors"), want);
    assert_string_equal(c->mc_import_mapping, mc);
    assert_int_equal(c->mc_import_interval_ms, 90000);
    assert_string_equal(c->mc_import_checkpoint,
                        "mailchimp-activity.checkpoint");
    assert_int_equal(c->mc_import_batch, 500);
    dconfig_destroy(c);

    /* An explicit mapping; the default interval; no import without the
     * key. */
    write_file("{\"data_dir\": \"/d\", \"connectors\": \"a.json\","
               " \"mailchimp\": {\"activity_import\": {\"mapping\": \"m.json\","
               " \"checkpoint\": \"/var/cp\", \"batch\": 7}}}");
    assert_int_equal(dconfig_load(path, &c, err, sizeof err), LSC_OK);
    assert_string_equal(dconfig_get(c, "connectors"), "/tmp/a.json");
    assert_string_equal(c->mc_import_mapping, "/tmp/m.json");
    assert_int_equal(c->mc_import_interval_ms, 15 * 60000);
    assert_string_equal(c->mc_import_checkpoint, "/var/cp");
    assert_int_equal(c->mc_import_batch, 7);
    dconfig_destroy(c);
    write_file("{\"data_dir\": \"/d\", \"connectors\": [\"a.json\"]}");
    assert_int_equal(dconfig_load(path, &c, err, sizeof err), LSC_OK);
    assert_null(c->mc_import_mapping);
    dconfig_destroy(c);
    write_file("{\"data_dir\": \"/d\", \"mailchimp\": {\"activity_import\":"
               " {\"enabled\": false, \"interval\": \"1h\"}}}");
    assert_int_equal(dconfig_load(path, &c, err, sizeof err), LSC_OK);
    assert_null(c->mc_import_mapping);
    dconfig_destroy(c);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"{\"data_dir\": \"/d\", \"mailchimp\": {\"activity_import\": {}}}",
         "'mailchimp.activity_import.mapping' is required"},
        {"{\"data_dir\": \"/d\", \"mailchimp\": {\"activity_import\": "
         "{\"mapping\": \"m\", \"interval\": \"500ms\"}}}", "at least 1s"},
        {"{\"data_dir\": \"/d\", \"mailchimp\": {\"activity_import\": "
         "{\"mapping\": \"m\", \"every\": \"1m\"}}}",
         "unknown key 'mailchimp.activity_import.every'"},
        {"{\"data_dir\": \"/d\", \"mailchimp\": {\"activity_import\": true}}",
         "must be an object"},
        {"{\"data_dir\": \"/d\", \"connectors\": [1]}", "'connectors[0]'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(bad[i].text);
        c = NULL;
        assert_int_equal(dconfig_load(path, &c, err, sizeof err),
                         LSC_ERR_CONFIG);
        assert_null(c);
        if (strstr(err, bad[i].want) == NULL) {
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].want);
        }
    }
    unlink(mc);
}

static void test_config_durations(void **state)
{
    (void)state;
    assert_int_equal(dconfig_duration_ms("250ms"), 250);
    assert_int_equal(dconfig_duration_ms("15s"), 15000);
    assert_int_equal(dconfig_duration_ms("90m"), 5400000);
    assert_int_equal(dconfig_duration_ms("30d"), 2592000000LL);
    assert_int_equal(dconfig_duration_ms("2.5"), 2500);
    assert_int_equal(dconfig_duration_ms("-1s"), -1);
    assert_int_equal(dconfig_duration_ms("d"), -1);
    assert_int_equal(dconfig_duration_ms(""), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_defaults_and_paths, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_config_env_secrets_and_plugin_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_refusals_name_the_key,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_config_connectors_and_activity_import, setup, teardown),
        cmocka_unit_test(test_config_durations),
    };
    return cmocka_run_group_tests_name("daemon_config", tests, NULL, NULL);
}
