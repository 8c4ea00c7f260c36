/*
 * The Mailchimp mapping validator when strdup() fails: every failure is
 * refused (a status, never a crash), and an accepted mapping has every
 * string it names.  Linked with -Wl,--wrap=strdup so that the n-th copy
 * made by the connector fails.
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

char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);

static long fail_at = -1; /* index of the call that fails; -1: none */
static long calls;

char *__wrap_strdup(const char *s)
{
    if (calls++ == fail_at) {
        return NULL;
    }
    return __real_strdup(s);
}

static const char mapping[] =
    "{\"schema\": \"leadscore.connector/1\", \"connector\": \"mailchimp\",\n"
    " \"auth\": {\"type\": \"oauth\", \"client_id\": \"cid\"},\n"
    " \"audience\": {\"list_id\": \"L1\"},\n"
    " \"fields\": {\"score\": {\"tag\": \"SC\", \"name\": \"Score\"}},\n"
    " \"tiers\": {\"hot\": \"t-hot\"},\n"
    " \"activity\": {\"campaign_types\": {\"regular\": \"newsletter\"}},\n"
    " \"api\": {\"base_url\": \"https://mc.example\"},\n"
    " \"actions\": [{\"on\": \"enter\", \"tier\": \"hot\", \"webhook\":\n"
    "   {\"url\": \"https://h.example/x\", \"secret_env\": \"HOOK\"}}]}\n";

static void test_each_strdup_failure(void **state)
{
    (void)state;
    struct mailchimp_config c;
    size_t nerr = 0;
    fail_at = -1;
    calls = 0;
    assert_int_equal(mailchimp_config_parse(mapping, strlen(mapping), "o.json",
                                            NULL, NULL, &c, &nerr),
                     LSC_OK);
    mailchimp_config_destroy(&c);
    long total = calls;
    assert_true(total > 20);
    for (fail_at = 0; fail_at < total; fail_at++) {
        calls = 0;
        enum lsc_status st = mailchimp_config_parse(
            mapping, strlen(mapping), "o.json", NULL, NULL, &c, &nerr);
        if (st != LSC_OK) {
            assert_true(st == LSC_ERR_NOMEM || st == LSC_ERR_CONFIG);
            continue;
        }
        /* a failure the validator can do without (positions) */
        assert_string_equal(c.auth, "oauth");
        assert_string_equal(c.client_id, "cid");
        assert_string_equal(c.list_id, "L1");
        assert_string_equal(c.score_tag, "SC");
        assert_string_equal(c.api_base, "https://mc.example");
        assert_int_equal(c.n_tiers, 1);
        assert_int_equal(c.n_campaign_types, 1);
        assert_int_equal(c.n_actions, 1);
        assert_string_equal(c.actions[0].tier, "hot");
        assert_string_equal(c.actions[0].webhook_url, "https://h.example/x");
        assert_string_equal(c.actions[0].webhook_secret_env, "HOOK");
        mailchimp_config_destroy(&c);
    }
    fail_at = -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_strdup_failure),
    };
    return cmocka_run_group_tests_name("mailchimp_config_oom", tests, NULL,
                                       NULL);
}
