/*
 * The Mailchimp mapping validator when strdup() or calloc() fails: every
 * failure is refused (a status, never a crash), and an accepted mapping
 * has every string and list it names (see ../oom_wrap.h).
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

#include "../oom_wrap.h"

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

static enum lsc_status parse(void)
{
    struct mailchimp_config c;
    size_t nerr = 0;
    enum lsc_status st = mailchimp_config_parse(
        mapping, strlen(mapping), "o.json", NULL, NULL, &c, &nerr);
    if (st != LSC_OK) {
        return st;
    }
    /* a failure the validator can do without (positions) */
    assert_string_equal(c.auth, "oauth");
    assert_string_equal(c.client_id, "cid");
    assert_string_equal(c.list_id, "L1");
    assert_string_equal(c.score_tag, "SC");
    assert_string_equal(c.api_base, "https://mc.example");
    assert_int_equal(c.n_tiers, 1);
    assert_string_equal(c.tiers[0].tag, "t-hot");
    assert_int_equal(c.n_campaign_types, 1);
    assert_string_equal(c.campaign_types[0].leadscore, "newsletter");
    assert_int_equal(c.n_actions, 1);
    assert_string_equal(c.actions[0].tier, "hot");
    assert_string_equal(c.actions[0].webhook_url, "https://h.example/x");
    assert_string_equal(c.actions[0].webhook_secret_env, "HOOK");
    mailchimp_config_destroy(&c);
    return LSC_OK;
}

static void test_each_strdup_failure(void **state)
{
    (void)state;
    oom_fail_each(&oom_strdup, 21, parse);
}

/* The tiers, campaign_types and actions arrays (and positions). */
static void test_each_calloc_failure(void **state)
{
    (void)state;
    oom_fail_each(&oom_calloc, 3, parse);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_strdup_failure),
        cmocka_unit_test(test_each_calloc_failure),
    };
    return cmocka_run_group_tests_name("mailchimp_config_oom", tests, NULL,
                                       NULL);
}
