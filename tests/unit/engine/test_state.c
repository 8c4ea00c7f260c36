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
    /* header + one section (3 groups, 2 awards) */
    assert_int_equal(c->state_len, 16 + 40 + 3 * 24 + 2 * 40);
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
    /* a trailing byte, even with a matching length field */
    b[len] = 0;
    uint32_t total = (uint32_t)len + 1;
    memcpy(b + 8, &total, 4);
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
    const size_t sec = 16, grp = sec + 40, awd = grp + 3 * 24;
    struct {
        size_t off;
        unsigned char val;
    } cases[] = {
        {0, 'X'},            /* magic */
        {4, 2},              /* version 2 */
        {6, 2},              /* two sections announced */
        {8, 0xff},           /* total length */
        {12, 1},             /* reserved */
        {sec + 28, 200},     /* n_groups 200 > 64 */
        {sec + 30, 1},       /* flags */
        {sec + 32, 0xff},    /* n_awards overruns */
        {sec + 36, 1},       /* reserved */
        {awd + 8, 0},        /* first award count 0 */
        {awd + 12, 1},       /* award reserved */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(b, c->state, len);
        b[cases[i].off] = cases[i].val;
        if (cases[i].off == sec + 32) {
            b[sec + 33] = 0xff;
        }
        assert_int_equal(with_blob(th, b, len), LSC_ERR_CORRUPT);
    }
    /* unsorted award records */
    memcpy(b, c->state, len);
    memcpy(b + awd, c->state + awd + 40, 40);
    memcpy(b + awd + 40, c->state + awd, 40);
    assert_int_equal(with_blob(th, b, len), LSC_ERR_CORRUPT);
    /* a NaN in a group accumulator */
    memcpy(b, c->state, len);
    double nan = NAN;
    memcpy(b + grp + 8, &nan, 8);
    assert_int_equal(with_blob(th, b, len), LSC_ERR_CORRUPT);
    /* same fingerprint, different group count */
    memcpy(b, c->state, len);
    b[sec + 28] = 2;
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
    b[16] ^= 1; /* another model's key: its section is not ours to read */
    size_t n_t = th->n_t;
    assert_int_equal(with_blob(th, b, len), LSC_OK);
    /* the loaded model starts from nothing: a transition from null */
    assert_int_equal(th->n_t, n_t + 1);
    assert_true(th->t[n_t].from_null);
    free(b);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
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
    };
    return cmocka_run_group_tests_name("engine_state", tests, NULL, NULL);
}
