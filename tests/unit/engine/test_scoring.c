/* Scoring clauses of ../shared/docs/scoring-model.md section 3, driven
 * through the plugin's public descriptor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "testhost.h"

static int setup_t(void **state)
{
    struct testhost *th = calloc(1, sizeof *th);
    th_init(th, th_tempfile(MODEL_T));
    if (th_create(th) != LSC_OK) {
        fprintf(stderr, "create: %s\n", th->err);
        return -1;
    }
    *state = th;
    return 0;
}

static int teardown(void **state)
{
    th_finish(*state);
    free(*state);
    th_tempfiles_remove();
    return 0;
}

static int teardown_files(void **state)
{
    (void)state;
    th_tempfiles_remove();
    return 0;
}

static struct lsc_prop sprop(const char *k, const char *v)
{
    struct lsc_prop p = {.key = k, .value = {.type = LSC_VAL_STRING}};
    p.value.u.str.ptr = v;
    p.value.u.str.len = strlen(v);
    return p;
}

static const struct lsc_report_rule *rule(const struct th_report *r,
                                          const char *id)
{
    for (size_t i = 0; i < r->n_rules; i++) {
        if (strcmp(r->rules[i].rule, id) == 0) {
            return &r->rules[i];
        }
    }
    return NULL;
}

static void test_scoring_model_logged(void **state)
{
    struct testhost *th = *state;
    assert_non_null(strstr(th->last_log, "model 't' ("));
    assert_non_null(strstr(th->last_log, "): 3 groups, 13 rules, 3 tiers"));
}

static void test_scoring_fit_and_group_max(void **state)
{
    struct testhost *th = *state;
    th_set_num(th, "c1", "size", 250);
    th_set_str(th, "c1", "vip", "YES"); /* case-insensitive */
    th_set_str(th, "c1", "email", "a@b.c");
    assert_int_equal(th_created(th, "c1", T0), LSC_OK);
    /* 20 + 20 = 40, capped at the group's max 30 */
    assert_int_equal(th_score(th, "c1", T0), 30);
    const struct th_report *r = th_rep(th, 0);
    assert_double_equal(r->groups[0].raw, 40, 1e-12);
    assert_double_equal(r->groups[0].value, 30, 1e-12);
    assert_double_equal(r->groups[0].max, 30, 0);
    assert_true(isnan(r->groups[1].max));
    assert_double_equal(r->groups[1].half_life_s, 864000, 0);
    /* first tier of a new contact: a transition from null */
    assert_int_equal(th->n_t, 1);
    assert_true(th->t[0].from_null);
    assert_string_equal(th->t[0].to, "warm");
    assert_int_equal(th->t[0].score, 30);
    assert_true(th->t[0].primary);
    /* props written for the primary */
    struct th_contact *c = th_contact(th, "c1");
    assert_true(c->has_score);
    assert_double_equal(c->score, 30, 0);
    assert_string_equal(c->tier, "warm");
}

static void test_scoring_fit_only_on_contact_events(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "c1", "email", "a@b.c");
    assert_int_equal(th_created(th, "c1", T0), LSC_OK);
    assert_int_equal(th_score(th, "c1", T0), 0);
    /* a property change without an event is not seen by the event path;
     * an update event recomputes the fit */
    th_set_num(th, "c1", "size", 100);
    assert_int_equal(th_event(th, LSC_EVENT_CONTACT_UPDATED, "c1",
                              "contact.updated", T0 + 1, INT64_MIN, NULL, 0),
                     LSC_OK);
    assert_int_equal(th_score(th, "c1", T0 + 1), 20);
    struct th_contact *c = th_contact(th, "c1");
    assert_double_equal(c->score, 20, 0);
}

static void test_scoring_unknown_contact_empty_when(void **state)
{
    struct testhost *th = *state;
    /* an activity for an unknown contact: no properties, so the
     * not_exists fit rule holds (1 point) */
    assert_int_equal(th_activity(th, "c9", "ping", T0, NULL, 0), LSC_OK);
    assert_int_equal(th_score(th, "c9", T0), 3); /* 1 + 1.5 = 2.5 -> 3 */
    assert_non_null(rule(th_rep(th, 0), "anon"));
}

static void test_scoring_once(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0);
    for (int i = 0; i < 3; i++) {
        th_activity(th, "c", "form", T0 + i * T_DAY, NULL, 0);
    }
    assert_int_equal(th_score(th, "c", T0 + 5 * T_DAY), 5);
    const struct lsc_report_rule *r = rule(th_rep(th, 0), "once");
    assert_non_null(r);
    assert_int_equal(r->awards, 1);
    assert_int_equal(r->last_award_ms, T0);
}

static void test_scoring_max_awards_and_when(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0);
    struct lsc_prop yes = sprop("url", "/PRICING/enterprise");
    struct lsc_prop no = sprop("url", "/blog");
    th_activity(th, "c", "view", T0, &no, 1);
    assert_int_equal(th_score(th, "c", T0), 0);
    for (int i = 0; i < 4; i++) {
        th_activity(th, "c", "view", T0 + i, &yes, 1);
    }
    assert_int_equal(th_score(th, "c", T0 + 10), 6);
    assert_int_equal(rule(th_rep(th, 0), "max2")->awards, 2);
    assert_double_equal(rule(th_rep(th, 0), "max2")->awarded, 6, 0);
}

static void test_scoring_cooldown_out_of_order(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0 - 10 * T_DAY);
    th_activity(th, "c", "tick", T0, NULL, 0);              /* awarded */
    th_activity(th, "c", "tick", T0 - 12 * T_HOUR, NULL, 0); /* too close */
    th_activity(th, "c", "tick", T0 - T_DAY, NULL, 0);  /* |-1d| >= 1d: ok */
    /* t_last is the latest awarded timestamp (T0), not the last applied */
    th_activity(th, "c", "tick", T0 + 23 * T_HOUR, NULL, 0); /* too close */
    th_activity(th, "c", "tick", T0 + T_DAY, NULL, 0);        /* awarded */
    th_activity(th, "c", "tick", T0 + T_DAY + 1, NULL, 0);    /* too close */
    assert_int_equal(th_score(th, "c", T0 + 2 * T_DAY), 3);
    const struct lsc_report_rule *r = rule(th_rep(th, 0), "cool");
    assert_int_equal(r->awards, 3);
    assert_int_equal(r->last_award_ms, T0 + T_DAY);
}

static void test_scoring_once_with_cooldown(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0);
    th_activity(th, "c", "tock", T0, NULL, 0);
    th_activity(th, "c", "tock", T0 + 2 * T_HOUR, NULL, 0); /* once wins */
    assert_int_equal(th_score(th, "c", T0 + 3 * T_HOUR), 1);
}

static void test_scoring_decay_several_times(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0);
    th_activity(th, "c", "email_open", T0, NULL, 0);
    th_report(th, "c", T0);
    assert_double_equal(th_rep(th, 0)->total, 10, 1e-12);
    th_report(th, "c", T0 + 10 * T_DAY);
    assert_double_equal(th_rep(th, 0)->total, 5, 1e-12);
    assert_double_equal(rule(th_rep(th, 0), "open")->points, 5, 1e-12);
    assert_double_equal(rule(th_rep(th, 0), "open")->awarded, 10, 0);
    th_report(th, "c", T0 + 20 * T_DAY);
    assert_double_equal(th_rep(th, 0)->total, 2.5, 1e-12);
    th_report(th, "c", T0 + 5 * T_DAY);
    assert_double_equal(th_rep(th, 0)->total, 10 * pow(2, -0.5), 1e-12);
    /* before the award (T < t): worth p */
    th_report(th, "c", T0 - T_DAY);
    assert_double_equal(th_rep(th, 0)->total, 10, 1e-12);
}

static void test_scoring_decay_out_of_order_awards(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0);
    th_activity(th, "c", "email_open", T0 + 10 * T_DAY, NULL, 0);
    th_activity(th, "c", "email_open", T0, NULL, 0);
    th_report(th, "c", T0 + 20 * T_DAY);
    /* 10 * 2^-1 + 10 * 2^-2 */
    assert_double_equal(th_rep(th, 0)->total, 7.5, 1e-12);
    assert_double_equal(rule(th_rep(th, 0), "open")->points, 7.5, 1e-12);
    assert_int_equal(rule(th_rep(th, 0), "open")->awards, 2);
}

static void test_scoring_clamp_both_ends(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "lo", "email", "x@y");
    th_created(th, "lo", T0);
    th_activity(th, "lo", "unsub", T0, NULL, 0);
    assert_int_equal(th_score(th, "lo", T0), 0);
    assert_double_equal(th_rep(th, 0)->total, -50, 0);
    th_set_str(th, "hi", "email", "x@y");
    th_created(th, "hi", T0);
    th_activity(th, "hi", "huge", T0, NULL, 0);
    assert_int_equal(th_score(th, "hi", T0), 100);
    assert_string_equal(th_rep(th, 0)->tier, "hot");
}

static void test_scoring_rounding_half_up(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0);
    th_activity(th, "c", "half", T0, NULL, 0);
    assert_int_equal(th_score(th, "c", T0), 1); /* 0.5 -> 1 */
    th_activity(th, "c", "ping", T0, NULL, 0);
    assert_int_equal(th_score(th, "c", T0), 2); /* 2.0 */
    th_activity(th, "c", "half", T0, NULL, 0);
    assert_int_equal(th_score(th, "c", T0), 3); /* 2.5 -> 3 */
    th_activity(th, "c", "complaint", T0, NULL, 0);
    assert_int_equal(th_score(th, "c", T0), 0); /* -7.5 -> clamp 0 */
    th_set_str(th, "d", "email", "x@y");
    th_created(th, "d", T0);
    th_activity(th, "d", "ping", T0, NULL, 0);
    th_activity(th, "d", "complaint", T0, NULL, 0);
    th_activity(th, "d", "huge", T0, NULL, 0);
    th_report(th, "d", T0); /* 1.5 - 10 + 500 */
    assert_double_equal(th_rep(th, 0)->total, 491.5, 0);
}

static void test_scoring_hysteresis_and_wake(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0);
    th_activity(th, "c", "email_open", T0, NULL, 0);
    assert_int_equal(th->n_t, 1); /* null -> cold */
    th_activity(th, "c", "email_open", T0, NULL, 0);
    /* upgrade is immediate */
    assert_int_equal(th->n_t, 2);
    assert_string_equal(th->t[1].from, "cold");
    assert_string_equal(th->t[1].to, "warm");
    assert_int_equal(th->t[1].score, 20);
    struct th_contact *c = th_contact(th, "c");
    assert_string_equal(c->tier, "warm");
    /* drop when 20 * 2^(-x/10d) < 14.5: x = 10d * log2(20/14.5) */
    double x = 10.0 * T_DAY * log2(20 / 14.5);
    assert_true(c->wake <= T0 + (int64_t)x + 1);
    assert_true(c->wake >= T0 + (int64_t)x - 1000);
    /* 16 and 15 stay warm (>= 20 - 5) */
    assert_int_equal(th_evaluate(th, "c", T0 + 3 * T_DAY + T_DAY / 5), LSC_OK);
    assert_int_equal(th->n_t, 2);
    assert_int_equal(th_score(th, "c", T0 + 3 * T_DAY + T_DAY / 5), 16);
    assert_string_equal(th_rep(th, 0)->tier, "warm");
    th_evaluate(th, "c", T0 + 4 * T_DAY + T_DAY / 2);
    assert_int_equal(th_score(th, "c", T0 + 4 * T_DAY + T_DAY / 2), 15);
    assert_int_equal(th->n_t, 2);
    /* the report is read-only but applies hysteresis against the stored
     * tier; at 14 the tier drops */
    assert_int_equal(th_score(th, "c", T0 + 5 * T_DAY), 14);
    assert_string_equal(th_rep(th, 0)->tier, "cold");
    assert_int_equal(th->n_t, 2);
    int64_t wake = th_contact(th, "c")->wake;
    assert_int_equal(th_evaluate(th, "c", wake), LSC_OK);
    assert_int_equal(th->n_t, 3);
    assert_string_equal(th->t[2].from, "warm");
    assert_string_equal(th->t[2].to, "cold");
    assert_int_equal(th->t[2].score, 14);
    assert_int_equal(th->t[2].at, wake);
    assert_string_equal(th_contact(th, "c")->tier, "cold");
    /* nothing left that decay could change: at cold, 0 is the floor */
    assert_int_equal(th_contact(th, "c")->wake, INT64_MAX);
}

static void test_scoring_negative_decay_wakes_upgrade(void **state)
{
    struct testhost *th = *state;
    th_set_num(th, "c", "size", 100); /* fit 20 */
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0);
    th_activity(th, "c", "complaint", T0, NULL, 0); /* 20 - 10 = 10 cold */
    assert_string_equal(th_contact(th, "c")->tier, "cold");
    int64_t wake = th_contact(th, "c")->wake;
    /* 20 - 10 * 2^(-x/10d) >= 19.5: x = 10d * log2(20) */
    double x = 10.0 * T_DAY * log2(20);
    assert_true(wake <= T0 + (int64_t)x + 1 && wake >= T0 + (int64_t)x - 1000);
    th_evaluate(th, "c", wake - 1);
    assert_string_equal(th_contact(th, "c")->tier, "cold");
    th_evaluate(th, "c", wake);
    assert_string_equal(th_contact(th, "c")->tier, "warm");
}

static void test_scoring_delete_and_recreate(void **state)
{
    struct testhost *th = *state;
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0);
    th_activity(th, "c", "form", T0, NULL, 0);
    assert_int_equal(th_score(th, "c", T0), 5);
    assert_int_equal(th_deleted(th, "c", T0 + 1), LSC_OK);
    assert_null(th_contact(th, "c"));
    /* deleting again, or a contact never seen: a quiet no-op that stores
     * nothing (a host may refuse state for a contact it does not hold) */
    assert_int_equal(th_deleted(th, "c", T0 + 1), LSC_OK);
    assert_false(th->pending);
    assert_int_equal(th_deleted(th, "nobody", T0 + 1), LSC_OK);
    assert_false(th->pending);
    assert_null(th_contact(th, "nobody"));
    size_t n = th->n_t;
    /* a later event starts from nothing: once can award again */
    th_activity(th, "c", "form", T0 + 2, NULL, 0);
    assert_int_equal(th_score(th, "c", T0 + 2), 6); /* 5 + anon 1 */
    assert_int_equal(th->n_t, n + 1);
    assert_true(th->t[n].from_null);
    /* an evaluation of an unknown contact stores nothing */
    assert_int_equal(th_evaluate(th, "ghost", T0), LSC_OK);
    assert_int_equal(th_contact(th, "ghost")->state_len, 0);
}

static void test_scoring_report_order(void **state)
{
    struct testhost *th = *state;
    th_set_num(th, "c", "size", 500);
    th_set_str(th, "c", "email", "x@y");
    th_created(th, "c", T0);
    th_activity(th, "c", "ping", T0, NULL, 0);
    th_activity(th, "c", "half", T0, NULL, 0);
    th_activity(th, "c", "complaint", T0, NULL, 0);
    th_activity(th, "c", "email_open", T0, NULL, 0);
    th_report(th, "c", T0);
    const struct th_report *r = th_rep(th, 0);
    assert_int_equal(r->n_rules, 5);
    /* |20|, |-10| and |10| (by id: minus < open), 1.5, 0.5 */
    assert_string_equal(r->rules[0].rule, "big");
    assert_true(r->rules[0].fit);
    assert_int_equal(r->rules[0].awards, 0);
    assert_true(r->rules[0].last_award_ms == INT64_MIN);
    assert_string_equal(r->rules[1].rule, "minus");
    assert_double_equal(r->rules[1].points, -10, 0);
    assert_string_equal(r->rules[2].rule, "open");
    assert_string_equal(r->rules[3].rule, "ping");
    assert_string_equal(r->rules[4].rule, "half");
    assert_false(r->rules[4].fit);
    assert_int_equal(r->rules[4].last_award_ms, T0);
    assert_true(r->primary);
    assert_string_equal(r->model, "t");
}

static void test_scoring_shadow_models(void **state)
{
    (void)state;
    struct testhost th;
    char cfg[256];
    const char *a = th_tempfile(MODEL_T);
    const char *b = th_tempfile(MODEL_B2B);
    snprintf(cfg, sizeof cfg, "%s\n  %s  \n", a, b);
    th_init(&th, cfg);
    th_config(&th, "score_property", "my_score");
    assert_int_equal(th_create(&th), LSC_OK);
    th_set_str(&th, "c", "job_title", "VP Sales");
    th_created(&th, "c", T0);
    assert_int_equal(th.n_t, 2);
    assert_true(th.t[0].primary);
    assert_string_equal(th.t[0].model, "t");
    assert_false(th.t[1].primary);
    assert_string_equal(th.t[1].model, "b2b-default");
    assert_int_equal(th.n_props_writes, 1); /* primary only */
    th_report(&th, "c", T0);
    assert_int_equal(th.n_reports, 2);
    assert_int_equal(th.reports[0].score, 1);
    assert_int_equal(th.reports[1].score, 15);
    /* a contact event that changes nothing writes nothing */
    th_event(&th, LSC_EVENT_CONTACT_UPDATED, "c", "contact.updated", T0 + 1,
             INT64_MIN, NULL, 0);
    assert_int_equal(th.n_props_writes, 1);
    th_finish(&th);
}

static void test_scoring_reload_keeps_history(void **state)
{
    (void)state;
    struct testhost th;
    const char *a = th_tempfile(MODEL_T);
    th_init(&th, a);
    assert_int_equal(th_create(&th), LSC_OK);
    th_set_str(&th, "c", "email", "x@y");
    th_created(&th, "c", T0);
    th_activity(&th, "c", "form", T0, NULL, 0);
    th_activity(&th, "c", "ping", T0, NULL, 0);
    assert_int_equal(th_score(&th, "c", T0), 7); /* 5 + 1.5 = 6.5 */
    /* a broken reload keeps the old model */
    th_config(&th, "models", th_tempfile("{\"schema\": 1}"));
    assert_int_equal(th.reload(th.plugin, th.err, sizeof th.err),
                     LSC_ERR_CONFIG);
    assert_int_equal(th_score(&th, "c", T0), 7);
    /* a reload that drops rule "ping" and keeps "once" */
    char *m2 = strdup(MODEL_T);
    char *p = strstr(m2, "\"id\":\"ping\"");
    memcpy(p, "\"id\":\"pong\"", 11);
    th_config(&th, "models", th_tempfile(m2));
    free(m2);
    assert_int_equal(th.reload(th.plugin, th.err, sizeof th.err), LSC_OK);
    assert_int_equal(th_score(&th, "c", T0), 5);
    th_activity(&th, "c", "form", T0 + 1, NULL, 0); /* still capped */
    assert_int_equal(th_score(&th, "c", T0 + 1), 5);
    assert_int_equal(rule(th_rep(&th, 0), "once")->awards, 1);
    th_finish(&th);
}

static void test_scoring_descriptor_and_host_checks(void **state)
{
    (void)state;
    struct testhost th;
    th_init(&th, th_tempfile(MODEL_T));
    const struct lsc_plugin_desc *d =
        lsc_plugin_entry(LSC_PLUGIN_ABI_MAJOR, LSC_PLUGIN_ABI_MINOR);
    assert_int_equal(lsc_plugin_check(d, th.err, sizeof th.err), LSC_OK);
    assert_true(d->flags & LSC_PLUGIN_F_CONCURRENT);
    assert_string_equal(d->name, "leadscore");
    d->destroy(NULL);
    void *p = (void *)1;
    th.api.abi_major = 2;
    th.api.abi_minor = 0; /* a 2.0 host (this header is 1.1) */
    assert_int_equal(d->create(&th.api, &p, th.err, sizeof th.err),
                     LSC_ERR_ABI);
    assert_null(p);
    assert_non_null(strstr(th.err, "ABI 2.0"));
    th.api.abi_minor = LSC_PLUGIN_ABI_MINOR;
    th.api.abi_major = LSC_PLUGIN_ABI_MAJOR;
    th.api.struct_size = offsetof(struct lsc_host_api, register_event);
    assert_int_equal(d->create(&th.api, &p, th.err, sizeof th.err),
                     LSC_ERR_ABI);
    th.api.struct_size = sizeof th.api;
    th.api.state_put = NULL;
    assert_int_equal(d->create(&th.api, &p, th.err, sizeof th.err),
                     LSC_ERR_UNSUPPORTED);
    assert_null(p);
    th_finish(&th);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scoring_model_logged, setup_t,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scoring_fit_and_group_max,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(
            test_scoring_fit_only_on_contact_events, setup_t, teardown),
        cmocka_unit_test_setup_teardown(
            test_scoring_unknown_contact_empty_when, setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_scoring_once, setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_scoring_max_awards_and_when,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_scoring_cooldown_out_of_order,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_scoring_once_with_cooldown,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_scoring_decay_several_times,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(
            test_scoring_decay_out_of_order_awards, setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_scoring_clamp_both_ends, setup_t,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scoring_rounding_half_up,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_scoring_hysteresis_and_wake,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(
            test_scoring_negative_decay_wakes_upgrade, setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_scoring_delete_and_recreate,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_scoring_report_order, setup_t,
                                        teardown),
        cmocka_unit_test_teardown(test_scoring_shadow_models, teardown_files),
        cmocka_unit_test_teardown(test_scoring_reload_keeps_history,
                                  teardown_files),
        cmocka_unit_test_teardown(test_scoring_descriptor_and_host_checks,
                                  teardown_files),
    };
    return cmocka_run_group_tests_name("engine_scoring", tests, NULL, NULL);
}
