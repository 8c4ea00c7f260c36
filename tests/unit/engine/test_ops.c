/* Every condition op: match, missing field, wrong type, numeric strings,
 * ASCII case-insensitivity (../shared/docs/scoring-model.md, Conditions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "model.h"

static struct model *one(const char *cond)
{
    char text[2048], err[256];
    snprintf(text, sizeof text,
             "{\"schema\":\"leadscore.model/1\",\"name\":\"o\","
             "\"groups\":[{\"name\":\"g\"}],\"rules\":[{\"id\":\"r\","
             "\"group\":\"g\",\"points\":1,\"when\":[%s]}],"
             "\"tiers\":[{\"name\":\"t\",\"min\":0}]}",
             cond);
    struct model *m = NULL;
    enum lsc_status rc = model_load_text("ops", text, strlen(text), NULL, &m,
                                         err, sizeof err);
    if (rc != LSC_OK) {
        fail_msg("%s: %s", cond, err);
    }
    return m;
}

static struct lsc_prop S(const char *k, const char *v)
{
    struct lsc_prop p = {.key = k, .value = {.type = LSC_VAL_STRING}};
    p.value.u.str.ptr = v;
    p.value.u.str.len = strlen(v);
    return p;
}

static struct lsc_prop N(const char *k, double x)
{
    struct lsc_prop p = {.key = k, .value = {.type = LSC_VAL_NUMBER}};
    p.value.u.num = x;
    return p;
}

static struct lsc_prop B(const char *k, bool b)
{
    struct lsc_prop p = {.key = k, .value = {.type = LSC_VAL_BOOL}};
    p.value.u.boolean = b;
    return p;
}

static struct lsc_prop NUL(const char *k)
{
    return (struct lsc_prop){.key = k, .value = {.type = LSC_VAL_NULL}};
}

static struct lsc_prop J(const char *k, const char *json)
{
    struct lsc_prop p = S(k, json);
    p.value.type = LSC_VAL_JSON;
    return p;
}

static bool h1(struct model *m, struct lsc_prop p)
{
    return engine_rule_holds(&m->rules[0], &p, 1);
}

static bool h0(struct model *m)
{
    struct lsc_prop other = S("other", "x");
    return engine_rule_holds(&m->rules[0], &other, 1);
}

static void test_ops_eq_ne(void **state)
{
    (void)state;
    struct model *m = one("{\"field\":\"f\",\"op\":\"eq\",\"value\":\"NewsLetter\"}");
    assert_true(h1(m, S("f", "newsletter")));
    assert_true(h1(m, S("f", "NEWSLETTER")));
    assert_false(h1(m, S("f", "newsletters")));
    assert_false(h0(m));
    assert_false(h1(m, NUL("f")));
    assert_false(h1(m, N("f", 1)));
    model_destroy(m);
    m = one("{\"field\":\"f\",\"op\":\"ne\",\"value\":\"a\"}");
    assert_true(h1(m, S("f", "b")));
    assert_false(h1(m, S("f", "A")));
    assert_false(h0(m));          /* missing: false even for ne */
    assert_false(h1(m, N("f", 3))); /* wrong type: false */
    model_destroy(m);
    m = one("{\"field\":\"f\",\"op\":\"eq\",\"value\":42}");
    assert_true(h1(m, N("f", 42)));
    assert_true(h1(m, S("f", "42.0"))); /* numeric string */
    assert_false(h1(m, S("f", " 42")));
    assert_false(h1(m, S("f", "42abc")));
    assert_false(h1(m, B("f", true)));
    model_destroy(m);
    m = one("{\"field\":\"f\",\"op\":\"eq\",\"value\":true}");
    assert_true(h1(m, B("f", true)));
    assert_false(h1(m, B("f", false)));
    assert_false(h1(m, S("f", "true")));
    model_destroy(m);
}

static void test_ops_in_not_in(void **state)
{
    (void)state;
    struct model *m = one("{\"field\":\"f\",\"op\":\"in\",\"value\":[\"DE\",\"fr\",7]}");
    assert_true(h1(m, S("f", "de")));
    assert_true(h1(m, S("f", "FR")));
    assert_true(h1(m, N("f", 7)));
    assert_true(h1(m, S("f", "7")));
    assert_false(h1(m, S("f", "us")));
    assert_false(h0(m));
    assert_false(h1(m, B("f", true)));
    model_destroy(m);
    m = one("{\"field\":\"f\",\"op\":\"not_in\",\"value\":[\"de\",\"fr\"]}");
    assert_true(h1(m, S("f", "us")));
    assert_false(h1(m, S("f", "De")));
    assert_false(h0(m));
    assert_false(h1(m, N("f", 1)));  /* wrong type */
    assert_false(h1(m, J("f", "[]")));
    model_destroy(m);
}

static void test_ops_contains_prefix_suffix(void **state)
{
    (void)state;
    struct model *m = one("{\"field\":\"t\",\"op\":\"contains_any\",\"value\":[\"ceo\",\"VP\"]}");
    assert_true(h1(m, S("t", "Co-CEO and founder")));
    assert_true(h1(m, S("t", "svp sales")));
    assert_false(h1(m, S("t", "engineer")));
    assert_false(h0(m));
    assert_false(h1(m, N("t", 1)));
    model_destroy(m);
    m = one("{\"field\":\"u\",\"op\":\"prefix\",\"value\":\"/Pricing\"}");
    assert_true(h1(m, S("u", "/pricing/teams")));
    assert_true(h1(m, S("u", "/PRICING")));
    assert_false(h1(m, S("u", "/pric")));
    assert_false(h1(m, S("u", "/blog/pricing")));
    assert_false(h0(m));
    assert_false(h1(m, B("u", true)));
    model_destroy(m);
    /* prefixes of under, exactly and over 8 bytes (the first 8 compare
     * as one word, the rest byte by byte) */
    m = one("{\"field\":\"u\",\"op\":\"prefix\",\"value\":\"/Docs\"}");
    assert_true(h1(m, S("u", "/DOCS")));
    assert_true(h1(m, S("u", "/docs/api/v2")));
    assert_false(h1(m, S("u", "/doc")));
    assert_false(h1(m, S("u", "/dacs/api")));
    model_destroy(m);
    m = one("{\"field\":\"u\",\"op\":\"prefix\",\"value\":\"/pricing\"}");
    assert_true(h1(m, S("u", "/Pricing")));
    assert_true(h1(m, S("u", "/pricing/x")));
    assert_false(h1(m, S("u", "/pricin")));
    model_destroy(m);
    m = one("{\"field\":\"u\",\"op\":\"prefix\",\"value\":\"/Pricing/Enterprise\"}");
    assert_true(h1(m, S("u", "/pricing/enterprise?q=1")));
    assert_true(h1(m, S("u", "/PRICING/ENTERPRISE")));
    assert_false(h1(m, S("u", "/pricing/enterpris")));
    assert_false(h1(m, S("u", "/pricing/entErprize")));
    assert_false(h1(m, S("u", "/pricinx/enterprise")));
    model_destroy(m);
    m = one("{\"field\":\"u\",\"op\":\"suffix\",\"value\":\".PDF\"}");
    assert_true(h1(m, S("u", "guide.pdf")));
    assert_false(h1(m, S("u", "pdf")));
    assert_false(h0(m));
    assert_false(h1(m, N("u", 1)));
    model_destroy(m);
}

static void test_ops_numeric(void **state)
{
    (void)state;
    struct model *m = one("{\"field\":\"n\",\"op\":\"gt\",\"value\":10}");
    assert_true(h1(m, N("n", 11)));
    assert_false(h1(m, N("n", 10)));
    assert_true(h1(m, S("n", "10.5")));
    assert_true(h1(m, S("n", "1e2")));
    assert_false(h1(m, S("n", "11 ")));
    assert_false(h1(m, S("n", "eleven")));
    assert_false(h1(m, S("n", "inf")));
    assert_false(h1(m, S("n", "")));
    assert_false(h1(m, B("n", true)));
    assert_false(h0(m));
    model_destroy(m);
    m = one("{\"field\":\"n\",\"op\":\"gte\",\"value\":10}");
    assert_true(h1(m, N("n", 10)));
    assert_false(h1(m, N("n", 9.99)));
    model_destroy(m);
    m = one("{\"field\":\"n\",\"op\":\"lt\",\"value\":10}");
    assert_true(h1(m, S("n", "-3")));
    assert_false(h1(m, N("n", 10)));
    assert_false(h0(m));
    model_destroy(m);
    m = one("{\"field\":\"n\",\"op\":\"lte\",\"value\":10}");
    assert_true(h1(m, N("n", 10)));
    assert_false(h1(m, S("n", "10.01")));
    model_destroy(m);
    m = one("{\"field\":\"n\",\"op\":\"between\",\"value\":[10,20]}");
    assert_true(h1(m, N("n", 10)));
    assert_true(h1(m, N("n", 20)));
    assert_true(h1(m, S("n", "15")));
    assert_false(h1(m, N("n", 20.5)));
    assert_false(h1(m, S("n", "x")));
    assert_false(h0(m));
    model_destroy(m);
}

static void test_ops_exists(void **state)
{
    (void)state;
    struct model *m = one("{\"field\":\"f\",\"op\":\"exists\"}");
    assert_true(h1(m, S("f", "")));
    assert_true(h1(m, N("f", 0)));
    assert_true(h1(m, J("f", "{}")));
    assert_false(h1(m, NUL("f")));
    assert_false(h0(m));
    model_destroy(m);
    m = one("{\"field\":\"f\",\"op\":\"not_exists\"}");
    assert_false(h1(m, S("f", "")));
    assert_true(h1(m, NUL("f")));
    assert_true(h0(m));
    assert_true(engine_rule_holds(&m->rules[0], NULL, 0));
    model_destroy(m);
}

static void test_ops_email_domain(void **state)
{
    (void)state;
    struct model *m = one("{\"field\":\"e\",\"op\":\"email_domain_in\",\"value\":[\"gmail.com\"]}");
    assert_true(h1(m, S("e", "Jo@GMail.com")));
    assert_true(h1(m, S("e", "\"a@b\"@gmail.com"))); /* after the last @ */
    assert_false(h1(m, S("e", "jo@gmail.com.evil")));
    assert_false(h1(m, S("e", "gmail.com")));
    assert_false(h1(m, N("e", 1)));
    assert_false(h0(m));
    model_destroy(m);
}

static void test_ops_all_conditions_must_hold(void **state)
{
    (void)state;
    struct model *m = one("{\"field\":\"a\",\"op\":\"eq\",\"value\":\"x\"},"
                          "{\"field\":\"b\",\"op\":\"gt\",\"value\":1}");
    struct lsc_prop both[2] = {S("a", "X"), N("b", 2)};
    assert_true(engine_rule_holds(&m->rules[0], both, 2));
    both[1] = N("b", 0);
    assert_false(engine_rule_holds(&m->rules[0], both, 2));
    model_destroy(m);
    /* an empty when always holds */
    m = one("");
    assert_true(engine_rule_holds(&m->rules[0], NULL, 0));
    model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_eq_ne),
        cmocka_unit_test(test_ops_in_not_in),
        cmocka_unit_test(test_ops_contains_prefix_suffix),
        cmocka_unit_test(test_ops_numeric),
        cmocka_unit_test(test_ops_exists),
        cmocka_unit_test(test_ops_email_domain),
        cmocka_unit_test(test_ops_all_conditions_must_hold),
    };
    return cmocka_run_group_tests_name("engine_ops", tests, NULL, NULL);
}
