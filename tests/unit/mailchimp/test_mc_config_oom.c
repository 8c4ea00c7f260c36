/*
 * The Mailchimp mapping validator when strdup() or calloc() fails: every
 * failure is refused (a status, never a crash), and an accepted mapping
 * has every string and list it names.  Linked with -Wl,--wrap=strdup and
 * -Wl,--wrap=calloc so that the n-th such call made by the connector (or
 * the static libraries it links) fails.
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
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

/* One counter per wrapped function; fail_at -1: none fails. */
struct failer {
    long fail_at;
    long calls;
};
static struct failer dup_f = {-1, 0};
static struct failer calloc_f = {-1, 0};

static int fails_now(struct failer *f)
{
    return f->calls++ == f->fail_at;
}

char *__wrap_strdup(const char *s)
{
    return fails_now(&dup_f) ? NULL : __real_strdup(s);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fails_now(&calloc_f) ? NULL : __real_calloc(n, size);
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

static enum lsc_status parse(struct mailchimp_config *c)
{
    size_t nerr = 0;
    dup_f.calls = 0;
    calloc_f.calls = 0;
    return mailchimp_config_parse(mapping, strlen(mapping), "o.json", NULL,
                                  NULL, c, &nerr);
}

/* Fails each call counted by f in turn: a refusal, or all of it. */
static void fail_each(struct failer *f, long min_calls)
{
    struct mailchimp_config c;
    f->fail_at = -1;
    assert_int_equal(parse(&c), LSC_OK);
    mailchimp_config_destroy(&c);
    long total = f->calls;
    assert_true(total >= min_calls);
    for (f->fail_at = 0; f->fail_at < total; f->fail_at++) {
        enum lsc_status st = parse(&c);
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
        assert_string_equal(c.tiers[0].tag, "t-hot");
        assert_int_equal(c.n_campaign_types, 1);
        assert_string_equal(c.campaign_types[0].leadscore, "newsletter");
        assert_int_equal(c.n_actions, 1);
        assert_string_equal(c.actions[0].tier, "hot");
        assert_string_equal(c.actions[0].webhook_url, "https://h.example/x");
        assert_string_equal(c.actions[0].webhook_secret_env, "HOOK");
        mailchimp_config_destroy(&c);
    }
    f->fail_at = -1;
}

static void test_each_strdup_failure(void **state)
{
    (void)state;
    fail_each(&dup_f, 21);
}

/* The tiers, campaign_types and actions arrays (and positions). */
static void test_each_calloc_failure(void **state)
{
    (void)state;
    fail_each(&calloc_f, 3);
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
