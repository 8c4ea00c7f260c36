/*
 * The HubSpot mapping validator when strdup(), calloc() or malloc()
 * fails: every failure is refused (a status, never a crash), and an
 * accepted mapping has everything it names (see ../oom_wrap.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hubspot/hubspot.h"

#define OOM_WRAP_MALLOC
#include "../oom_wrap.h"

/* Inputs, group lists, tiers and actions: what later checks compare. */
static const char mapping[] =
    "{\"schema\": \"leadscore.connector/1\", \"connector\": \"hubspot\",\n"
    " \"auth\": {\"type\": \"oauth\", \"client_id\": \"cid\",\n"
    "          \"client_secret_env\": \"CS\"},\n"
    " \"contacts\": {\"id_property\": \"ext_id\"},\n"
    " \"inputs\": {\"jobtitle\": \"title\", \"country\": \"country\"},\n"
    " \"outputs\": {\"score\": \"ls_score\", \"tier\": \"ls_tier\",\n"
    "             \"fit\": {\"property\": \"ls_fit\",\n"
    "                     \"groups\": [\"fit\", \"firmo\"]},\n"
    "             \"tags\": \"ls_tags\"},\n"
    " \"tiers\": [\"hot\", \"warm\"],\n"
    " \"actions\": [{\"on\": \"enter\", \"tier\": \"warm\", \"tag\": \"t1\",\n"
    "   \"webhook\": {\"url\": \"https://h.example/x\",\n"
    "                \"secret_env\": \"HOOK\"}}]}\n";

static enum lsc_status parse(void)
{
    struct hubspot_config c;
    char err[256];
    enum lsc_status st = hubspot_config_parse("o.json", mapping,
                                              strlen(mapping), NULL, NULL,
                                              &c, err, sizeof err);
    if (st != LSC_OK) {
        return st;
    }
    assert_string_equal(c.client_id, "cid");
    assert_string_equal(c.client_secret_env, "CS");
    assert_string_equal(c.id_property, "ext_id");
    assert_non_null(c.token_url);
    assert_non_null(c.scopes);
    assert_int_equal(c.n_inputs, 2);
    assert_string_equal(c.prop_tags, "ls_tags");
    assert_int_equal(c.n_fit_groups, 2);
    assert_string_equal(c.fit_groups[1], "firmo");
    assert_int_equal(c.n_engagement_groups, 1);
    assert_int_equal(c.n_tiers, 2);
    assert_string_equal(c.tiers[1], "warm");
    assert_int_equal(c.n_actions, 1);
    assert_string_equal(c.actions[0].tag, "t1");
    assert_string_equal(c.actions[0].webhook_secret_env, "HOOK");
    hubspot_config_finish(&c);
    return LSC_OK;
}

static void test_each_strdup_failure(void **state)
{
    (void)state;
    oom_fail_each(&oom_strdup, 20, parse);
}

static void test_each_calloc_failure(void **state)
{
    (void)state;
    oom_fail_each(&oom_calloc, 5, parse);
}

/* the derived token URL */
static void test_each_malloc_failure(void **state)
{
    (void)state;
    oom_fail_each(&oom_malloc, 1, parse);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_strdup_failure),
        cmocka_unit_test(test_each_calloc_failure),
        cmocka_unit_test(test_each_malloc_failure),
    };
    return cmocka_run_group_tests_name("hubspot_config_oom", tests, NULL,
                                       NULL);
}
