/* The state blob: round trip, corruption and foreign blobs refused with
 * LSC_ERR_CORRUPT (and nothing applied), lengths never trusted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "state.h"
#include "testhost.h"

static int setup_t(void **state)
{
    struct testhost *th = calloc(1, sizeof *th);
    th_init(th, th_tempfile(MODEL_T));
    if (th_create(th) != LSC_OK) {
        return -1;
    }
    /* a contact with fit, two award records and a tier */
    th_set_num(th, "c", "size", 100);
    th_created(th, "c", T0);
    th_activity(th, "c", "email_open", T0, NULL, 0);
    th_activity(th, "c", "ping", T0 + 1, NULL, 0);
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

/* Delivers an activity with `blob` as the stored state; the host keeps
 * its own copy untouched when the plugin refuses. */
static enum lsc_status with_blob(struct testhost *th, const void *blob,
                                 size_t len)
{
    struct th_contact *c = th_contact(th, "c");
    unsigned char *saved = c->state;
    size_t saved_len = c->state_len;
    unsigned char *copy = malloc(len ? len : 1);
    memcpy(copy, blob, len);
    c->state = copy;
    c->state_len = len;
    size_t n_t = th->n_t;
    enum lsc_status rc = th_activity(th, "c", "ping", T0 + 2, NULL, 0);
    if (rc != LSC_OK) {
        assert_int_equal(th->n_t, n_t); /* nothing announced */
        assert_ptr_equal(c->state, copy);
    }
    free(c->state);
    c->state = saved;
    c->state_len = saved_len;
    return rc;
}

static void test_state_layout(void **state)
{
    struct testhost *th = *state;
    struct th_contact *c = th_contact(th, "c");
    /* header + one section with its fit cache (props hash, one byte of
     * the three fit rules: "big" and "anon" hold), fit 21 (tag + f32), two
     * groups with an f32 accumulator and an i48 time, two single awards
     * (key, tag, f32 sum, i48 time); 208 bytes in version 1 */
    assert_int_equal(c->state_len, 8 + 28 + 10 + (5 + 11 + 11) + 2 * 15);
    uint16_t version;
    memcpy(&version, c->state + 4, 2);
    assert_int_equal(version, 3);
    assert_int_equal(c->state[8 + 27], 0x04 | 1); /* fit cache, i48 */
    assert_int_equal(c->state[8 + 28 + 8], 1);
    assert_int_equal(c->state[8 + 28 + 9], 0x05);
    uint32_t magic;
    memcpy(&magic, c->state, 4);
    assert_int_equal(magic, STATE_MAGIC);
    assert_memory_equal(c->state, "LSC1", 4);
    /* unchanged blob accepted */
    unsigned char *b = malloc(c->state_len);
    memcpy(b, c->state, c->state_len);
    assert_int_equal(with_blob(th, b, c->state_len), LSC_OK);
    free(b);
}

static void test_state_truncations_refused(void **state)
{
    struct testhost *th = *state;
    struct th_contact *c = th_contact(th, "c");
    size_t len = c->state_len;
    unsigned char *b = malloc(len + 8);
    memcpy(b, c->state, len);
    for (size_t n = 1; n < len; n++) {
        assert_int_equal(with_blob(th, b, n), LSC_ERR_CORRUPT);
    }
    /* a trailing byte */
    b[len] = 0;
    assert_int_equal(with_blob(th, b, len + 1), LSC_ERR_CORRUPT);
    free(b);
    assert_true(strstr(th->err, "corrupt") != NULL);
}

static void test_state_damaged_fields_refused(void **state)
{
    struct testhost *th = *state;
    struct th_contact *c = th_contact(th, "c");
    size_t len = c->state_len;
    unsigned char *b = malloc(len);
    const size_t sec = 8, fit = sec + 28, grp = fit + 10,
                 awd = grp + 5 + 11 + 11;
    struct {
        size_t off;
        unsigned char val;
    } cases[] = {
        {0, 'X'},            /* magic */
        {4, 1},              /* version 1: the old layout is refused */
        {4, 4},              /* version 4 */
        {6, 2},              /* two sections announced */
        {sec + 26, 200},     /* n_groups 200 > 64 */
        {sec + 27, 3 | 4},   /* time width 3 */
        {sec + 27, 8 | 4 | 1}, /* flags: reserved bit */
        {fit + 8, 2},        /* fit cache of 2 bytes for 3 fit rules */
        {fit + 8, 9},        /* fit cache of 9 bytes */
        {fit + 9, 0x0d},     /* a 4th fit rule holds */
        {sec + 24, 0xff},    /* n_awards overruns */
        {grp, 0x21},         /* group tag: reserved bit */
        {grp, 0x03},         /* group tag: fit tag 3 */
        {awd + 4, 0x41},     /* award tag: reserved bit */
        {awd + 4, 0x03},     /* award tag: sum tag 3 */
        {awd + 4, 0x0d},     /* award tag: acc tag 3 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(b, c->state, len);
        b[cases[i].off] = cases[i].val;
        assert_int_equal(with_blob(th, b, len), LSC_ERR_CORRUPT);
    }
    /* unsorted award records */
    memcpy(b, c->state, len);
    memcpy(b + awd, c->state + awd + 15, 15);
    memcpy(b + awd + 15, c->state + awd, 15);
    assert_int_equal(with_blob(th, b, len), LSC_ERR_CORRUPT);
    /* a NaN in a group accumulator (the f32 of group 1) */
    memcpy(b, c->state, len);
    float nan = NAN;
    memcpy(b + grp + 6, &nan, 4);
    assert_int_equal(with_blob(th, b, len), LSC_ERR_CORRUPT);
    /* an award count of 0 (tag: one count byte, then the sum's first
     * byte read as the count, and the record one byte too long) */
    memcpy(b, c->state, len);
    b[awd + 4] = 0x11;
    assert_int_equal(with_blob(th, b, len), LSC_ERR_CORRUPT);
    /* same fingerprint, different group count */
    memcpy(b, c->state, len);
    b[sec + 26] = 2;
    assert_int_equal(with_blob(th, b, len), LSC_ERR_CORRUPT);
    free(b);
}

static void test_state_random_garbage(void **state)
{
    struct testhost *th = *state;
    struct th_contact *c = th_contact(th, "c");
    size_t len = c->state_len;
    unsigned char *b = malloc(len);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 2000; i++) {
        memcpy(b, c->state, len);
        /* flip 1..4 random bytes: accepted (a plausible blob) or refused,
         * never a crash or an out-of-bounds read (ASan) */
        for (int k = 0; k < 1 + i % 4; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b[x % len] ^= (unsigned char)(x >> 32 | 1);
        }
        enum lsc_status rc = with_blob(th, b, len);
        assert_true(rc == LSC_OK || rc == LSC_ERR_CORRUPT);
    }
    free(b);
}

static void test_state_foreign_model_section_dropped(void **state)
{
    struct testhost *th = *state;
    struct th_contact *c = th_contact(th, "c");
    size_t len = c->state_len;
    unsigned char *b = malloc(len);
    memcpy(b, c->state, len);
    b[8] ^= 1; /* another model's key: its section is not ours to read */
    size_t n_t = th->n_t;
    assert_int_equal(with_blob(th, b, len), LSC_OK);
    /* the loaded model starts from nothing: a transition from null */
    assert_int_equal(th->n_t, n_t + 1);
    assert_true(th->t[n_t].from_null);
    free(b);
}

/* Times far apart or far out take the wider encodings; every one reads
 * back exactly (the award times come back in the report). */
static void test_state_time_widths(void **state)
{
    struct testhost *th = *state;
    static const int64_t far[][2] = {
        {T0, T0 + 40 * T_DAY},                   /* u32 offsets */
        {T0, T0 + 60 * T_DAY},                   /* i48 */
        {-((int64_t)1 << 46), (int64_t)1 << 46}, /* i48, negative */
        {-((int64_t)1 << 50), (int64_t)1 << 50}, /* i64 */
        {INT64_MIN + 1, INT64_MAX - 1},          /* i64, the extremes */
    };
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        char id[8];
        snprintf(id, sizeof id, "w%zu", i);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(
                th_activity(th, id, "ping", far[i][0] + k, NULL, 0), LSC_OK);
            assert_int_equal(
                th_activity(th, id, "email_open", far[i][1] - k, NULL, 0),
                LSC_OK);
        }
        /* five times (two groups, three rules): u32 offsets and their
         * base are smaller than i48 when they fit */
        assert_int_equal(th_activity(th, id, "half", far[i][0], NULL, 0),
                         LSC_OK);
        static const unsigned char width[] = {0, 1, 1, 2, 2};
        assert_int_equal(th_contact(th, id)->state[8 + 27] & 3, width[i]);
        assert_int_equal(th_restart(th), LSC_OK);
        assert_int_equal(th_report(th, id, far[i][1]), LSC_OK);
        const struct th_report *r = th_rep(th, 0);
        bool open = false, ping = false;
        for (size_t k = 0; k < r->n_rules; k++) {
            if (strcmp(r->rule_ids[k], "open") == 0) {
                assert_int_equal(r->rules[k].last_award_ms, far[i][1]);
                assert_int_equal(r->rules[k].awards, 3);
                open = true;
            } else if (strcmp(r->rule_ids[k], "ping") == 0) {
                assert_int_equal(r->rules[k].last_award_ms, far[i][0] + 2);
                assert_true(r->rules[k].awarded == 4.5);
                ping = true;
            }
        }
        assert_true(open && ping);
    }
}

static void test_state_evaluate_and_report_refuse_corrupt(void **state)
{
    struct testhost *th = *state;
    struct th_contact *c = th_contact(th, "c");
    c->state[0] ^= 0xff;
    assert_int_equal(th_evaluate(th, "c", T0 + 5), LSC_ERR_CORRUPT);
    assert_int_equal(th_report(th, "c", T0 + 5), LSC_ERR_CORRUPT);
    assert_int_equal(th->n_reports, 0);
    c->state[0] ^= 0xff;
    assert_int_equal(th_report(th, "c", T0 + 5), LSC_OK);
}

/* The blob of contact c in version 2: no fit cache.  *len gets its size;
 * the caller frees it. */
static unsigned char *as_version2(const struct th_contact *c, size_t *len)
{
    const size_t fit = 8 + 28;
    unsigned char *b = malloc(c->state_len);
    memcpy(b, c->state, fit);
    memcpy(b + fit, c->state + fit + 10, c->state_len - fit - 10);
    *len = c->state_len - 10;
    uint16_t v2 = 2;
    memcpy(b + 4, &v2, 2);
    b[8 + 27] &= 3;
    return b;
}

/* Version 2 blobs (a daemon's store from before the fit cache) are read,
 * with the same results, and written back as version 3; a version 2
 * blob cannot carry a fit cache. */
static void test_state_version2_read(void **state)
{
    struct testhost *th = *state;
    struct th_contact *c = th_contact(th, "c");
    int want = th_score(th, "c", T0 + 5);
    size_t len;
    unsigned char *b = as_version2(c, &len);
    assert_int_equal(with_blob(th, b, len), LSC_OK);
    b[8 + 27] |= 4;
    assert_int_equal(with_blob(th, b, len), LSC_ERR_CORRUPT);
    b[8 + 27] &= 3;
    free(c->state);
    c->state = b;
    c->state_len = len;
    assert_int_equal(th_score(th, "c", T0 + 5), want);
    assert_int_equal(th_activity(th, "c", "ping", T0 + 6, NULL, 0), LSC_OK);
    uint16_t version;
    memcpy(&version, c->state + 4, 2);
    assert_int_equal(version, 3);
    assert_int_equal(th_score(th, "c", T0 + 6), want + 2); /* 1.5 more */
}

/* The fit cache holds only for the very properties it was computed
 * from: properties changed behind the plugin's back (no event) are read
 * again by the report, and so is a contact whose cache was dropped. */
static void test_state_fit_cache_checks_props(void **state)
{
    struct testhost *th = *state;
    struct th_contact *c = th_contact(th, "c");
    assert_int_equal(th_report(th, "c", T0 + 5), LSC_OK);
    const struct th_report *r = th_rep(th, 0);
    int cached = r->score;
    size_t n_rules = r->n_rules;
    /* without its cache the same report */
    size_t len;
    unsigned char *b = as_version2(c, &len);
    unsigned char *keep = c->state;
    size_t keep_len = c->state_len;
    c->state = b;
    c->state_len = len;
    assert_int_equal(th_report(th, "c", T0 + 5), LSC_OK);
    assert_int_equal(th_rep(th, 0)->score, cached);
    assert_int_equal(th_rep(th, 0)->n_rules, n_rules);
    c->state = keep;
    c->state_len = keep_len;
    free(b);
    /* with the same properties the report takes the cache's word for
     * which rules hold (the sums come from the blob as always): here a
     * cache edited to say "vip" holds too */
    c->state[8 + 28 + 9] |= 0x02;
    assert_int_equal(th_report(th, "c", T0 + 5), LSC_OK);
    assert_int_equal(th_rep(th, 0)->n_rules, n_rules + 1);
    c->state[8 + 28 + 9] &= (unsigned char)~0x02;
    /* "big" (20) no longer holds: the fit group drops from 21 to 1 */
    th_set_num(th, "c", "size", 5);
    assert_int_equal(th_report(th, "c", T0 + 5), LSC_OK);
    assert_int_equal(th_rep(th, 0)->score, cached - 20);
    assert_int_equal(th_rep(th, 0)->n_rules, n_rules - 1);
    for (size_t k = 0; k < th_rep(th, 0)->n_rules; k++) {
        assert_string_not_equal(th_rep(th, 0)->rule_ids[k], "big");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_version2_read, setup_t,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_state_fit_cache_checks_props,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_state_layout, setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_state_truncations_refused,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_state_damaged_fields_refused,
                                        setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_state_random_garbage, setup_t,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_state_foreign_model_section_dropped, setup_t, teardown),
        cmocka_unit_test_setup_teardown(
            test_state_evaluate_and_report_refuse_corrupt, setup_t, teardown),
        cmocka_unit_test_setup_teardown(test_state_time_widths, setup_t,
                                        teardown),
    };
    return cmocka_run_group_tests_name("engine_state", tests, NULL, NULL);
}
