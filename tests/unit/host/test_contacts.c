/*
 * Unit tests: in-memory contact store and dedup set (host/lib).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "contacts.h"
#include "dedup.h"

#define HL_TEST_LONG 256

static struct lsc_prop str_prop(const char *k, const char *v)
{
    return (struct lsc_prop){k, {.type = LSC_VAL_STRING,
                                 .u.str = {v, strlen(v)}}};
}

static struct lsc_prop num_prop(const char *k, double v)
{
    return (struct lsc_prop){k, {.type = LSC_VAL_NUMBER, .u.num = v}};
}

static struct lsc_prop null_prop(const char *k)
{
    return (struct lsc_prop){k, {.type = LSC_VAL_NULL}};
}

static const struct lsc_prop *find(const struct lsc_prop *p, size_t n,
                                   const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p[i].key, key) == 0) {
            return &p[i];
        }
    }
    return NULL;
}

static void test_contacts_upsert_find(void **state)
{
    struct hl_contacts *cs = hl_contacts_create();
    struct hl_contact *c, *d;
    bool created;
    assert_int_equal(hl_contacts_upsert(cs, "c-1", &c, &created), LSC_OK);
    assert_true(created);
    assert_string_equal(hl_contact_id(c), "c-1");
    assert_true(hl_contact_wake(c) == INT64_MAX);
    assert_int_equal(hl_contacts_upsert(cs, "c-1", &d, &created), LSC_OK);
    assert_false(created);
    assert_ptr_equal(c, d);
    assert_ptr_equal(hl_contacts_find(cs, "c-1"), c);
    assert_null(hl_contacts_find(cs, "c-2"));
    assert_int_equal(hl_contacts_count(cs), 1);
    hl_contacts_destroy(cs);
    hl_contacts_destroy(NULL);
}

static void test_contacts_merge_and_null_removes(void **state)
{
    struct hl_contacts *cs = hl_contacts_create();
    struct hl_contact *c;
    hl_contacts_upsert(cs, "c-1", &c, NULL);
    struct lsc_prop first[] = {str_prop("email", "a@b.com"),
                               num_prop("employees", 250),
                               str_prop("title", "VP")};
    assert_int_equal(hl_contacts_merge(cs, c, first, 3), LSC_OK);
    hl_contacts_commit(cs);
    struct lsc_prop second[] = {null_prop("email"), str_prop("title", "CEO"),
                                {"vip", {.type = LSC_VAL_BOOL,
                                         .u.boolean = true}},
                                null_prop("never-set")};
    assert_int_equal(hl_contacts_merge(cs, c, second, 4), LSC_OK);
    hl_contacts_commit(cs);
    const struct lsc_prop *p;
    size_t n;
    assert_int_equal(hl_contacts_props(cs, c, &p, &n), LSC_OK);
    assert_int_equal(n, 3);
    assert_null(find(p, n, "email"));
    assert_true(find(p, n, "employees")->value.u.num == 250);
    const struct lsc_prop *t = find(p, n, "title");
    assert_int_equal(t->value.type, LSC_VAL_STRING);
    assert_string_equal(t->value.u.str.ptr, "CEO");
    assert_int_equal(t->value.u.str.len, 3);
    assert_true(find(p, n, "vip")->value.u.boolean);
    /* Order: existing keys keep their place, new keys are appended. */
    assert_string_equal(p[0].key, "employees");
    assert_string_equal(p[1].key, "title");
    assert_string_equal(p[2].key, "vip");
    hl_contacts_destroy(cs);
}

static void test_contacts_rollback_restores(void **state)
{
    struct hl_contacts *cs = hl_contacts_create();
    struct hl_contact *c;
    hl_contacts_upsert(cs, "c-1", &c, NULL);
    struct lsc_prop a[] = {str_prop("k", "old")};
    hl_contacts_merge(cs, c, a, 1);
    hl_contacts_commit(cs);
    struct lsc_prop b[] = {str_prop("k", "new"), str_prop("j", "x")};
    hl_contacts_merge(cs, c, b, 2);
    hl_contacts_rollback(cs);
    const struct lsc_prop *p;
    size_t n;
    hl_contacts_props(cs, c, &p, &n);
    assert_int_equal(n, 1);
    assert_string_equal(p[0].value.u.str.ptr, "old");
    hl_contacts_rollback(cs); /* nothing left to undo */
    hl_contacts_props(cs, c, &p, &n);
    assert_int_equal(n, 1);
    hl_contacts_destroy(cs);
}

static void test_contacts_state_and_erase(void **state)
{
    struct hl_contacts *cs = hl_contacts_create();
    struct hl_contact *c;
    hl_contacts_upsert(cs, "c-1", &c, NULL);
    assert_int_equal(hl_contacts_set_state(cs, c, "abc", 3, 42), LSC_OK);
    size_t len;
    const void *s = hl_contact_state(c, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "abc", 3);
    assert_true(hl_contact_wake(c) == 42);
    assert_int_equal(hl_contacts_set_state(cs, c, NULL, 0, INT64_MAX),
                     LSC_OK);
    assert_null(hl_contact_state(c, &len));
    hl_contacts_set_state(cs, c, "xy", 2, 1);
    hl_contacts_erase(cs, c);
    assert_null(hl_contacts_find(cs, "c-1"));
    assert_int_equal(hl_contacts_count(cs), 0);
    /* A later event starts from nothing. */
    bool created;
    hl_contacts_upsert(cs, "c-1", &c, &created);
    assert_true(created);
    assert_null(hl_contact_state(c, &len));
    const struct lsc_prop *p;
    size_t n;
    hl_contacts_props(cs, c, &p, &n);
    assert_int_equal(n, 0);
    hl_contacts_destroy(cs);
}

static void test_contacts_many_sorted_and_erased(void **state)
{
    struct hl_contacts *cs = hl_contacts_create();
    enum { N = 20000 };
    char id[32];
    for (int i = N - 1; i >= 0; i--) {
        struct hl_contact *c;
        snprintf(id, sizeof id, "c-%06d", i);
        assert_int_equal(hl_contacts_upsert(cs, id, &c, NULL), LSC_OK);
        struct lsc_prop p[] = {num_prop("i", i)};
        hl_contacts_merge(cs, c, p, 1);
    }
    hl_contacts_commit(cs);
    /* Erase every third: the table must keep finding the others. */
    for (int i = 0; i < N; i += 3) {
        snprintf(id, sizeof id, "c-%06d", i);
        hl_contacts_erase(cs, hl_contacts_find(cs, id));
    }
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "c-%06d", i);
        struct hl_contact *c = hl_contacts_find(cs, id);
        if ((i % 3 == 0) != (c == NULL)) {
            fail_msg("contact %s %s", id, c == NULL ? "lost" : "not erased");
        }
        if (c != NULL) {
            const struct lsc_prop *p;
            size_t n;
            hl_contacts_props(cs, c, &p, &n);
            assert_true(n == 1 && p[0].value.u.num == i);
        }
    }
    struct hl_contact **all;
    size_t n;
    assert_int_equal(hl_contacts_sorted(cs, &all, &n), LSC_OK);
    assert_int_equal(n, N - (N + 2) / 3);
    for (size_t i = 1; i < n; i++) {
        assert_true(strcmp(hl_contact_id(all[i - 1]), hl_contact_id(all[i])) <
                    0);
    }
    free(all);
    assert_true(hl_contacts_memory(cs) > 0);
    hl_contacts_destroy(cs);
}

static void test_contacts_hashed_variants_and_long_ids(void **state)
{
    struct hl_contacts *cs = hl_contacts_create();
    char long_id[HL_TEST_LONG + 1];
    memset(long_id, 'x', HL_TEST_LONG);
    long_id[HL_TEST_LONG] = '\0';
    /* Ids around the inline limit and a 256-byte one. */
    static const size_t lens[] = {1, 22, 23, 24, 25, 100, HL_TEST_LONG};
    struct hl_contact *recs[7];
    for (size_t i = 0; i < 7; i++) {
        char id[HL_TEST_LONG + 1];
        memcpy(id, long_id, lens[i]);
        id[lens[i]] = '\0';
        id[0] = (char)('a' + i);
        uint64_t h = hl_contacts_hash(id);
        hl_contacts_prefetch(cs, h, 0);
        hl_contacts_prefetch(cs, h, 1);
        hl_contacts_prefetch(cs, h, 2); /* unknown: a no-op */
        bool created;
        assert_int_equal(hl_contacts_upsert_h(cs, id, h, &recs[i], &created),
                         LSC_OK);
        assert_true(created);
        assert_string_equal(hl_contact_id(recs[i]), id);
        assert_ptr_equal(hl_contacts_find_h(cs, id, h), recs[i]);
        assert_ptr_equal(hl_contacts_find(cs, id), recs[i]);
        assert_int_equal(hl_contacts_set_state(cs, recs[i], "s", 1, 5),
                         LSC_OK);
        hl_contacts_prefetch(cs, h, 1);
        hl_contacts_prefetch(cs, h, 2);
    }
    for (size_t i = 0; i < 7; i++) {
        char id[HL_TEST_LONG + 1];
        memcpy(id, long_id, lens[i]);
        id[lens[i]] = '\0';
        id[0] = (char)('a' + i);
        struct hl_contact *c;
        bool created;
        assert_int_equal(hl_contacts_upsert(cs, id, &c, &created), LSC_OK);
        assert_false(created);
        assert_ptr_equal(c, recs[i]);
    }
    /* Erase a long and a short one; the others stay found. */
    hl_contacts_erase(cs, recs[6]);
    hl_contacts_erase(cs, recs[0]);
    assert_int_equal(hl_contact_wake(recs[0]), INT64_MAX);
    assert_null(hl_contacts_find(cs, "a"));
    assert_int_equal(hl_contacts_count(cs), 5);
    for (size_t i = 1; i < 6; i++) {
        assert_ptr_equal(hl_contacts_find(cs, hl_contact_id(recs[i])),
                         recs[i]);
    }
    hl_contacts_destroy(cs);
}

static void test_contacts_state_sizes(void **state)
{
    struct hl_contacts *cs = hl_contacts_create();
    struct hl_contact *c;
    hl_contacts_upsert(cs, "c-1", &c, NULL);
    unsigned char blob[600];
    for (size_t i = 0; i < sizeof blob; i++) {
        blob[i] = (unsigned char)(i * 7);
    }
    /* Growing and shrinking by small and large steps, each read back. */
    static const size_t sizes[] = {1, 2, 24, 25, 40, 41, 39, 400, 401, 405,
                                   390, 600, 3, 599};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        blob[0] = (unsigned char)i;
        assert_int_equal(hl_contacts_set_state(cs, c, blob, sizes[i],
                                               (int64_t)i),
                         LSC_OK);
        size_t len;
        const void *got = hl_contact_state(c, &len);
        assert_int_equal(len, sizes[i]);
        assert_memory_equal(got, blob, len);
        assert_int_equal(hl_contact_wake(c), (int64_t)i);
    }
    hl_contacts_destroy(cs);
}

static void test_dedup_set(void **state)
{
    struct hl_dedup *d = hl_dedup_create();
    bool added;
    assert_false(hl_dedup_contains(d, "e-1", 3));
    assert_int_equal(hl_dedup_add(d, "e-1", 3, &added), LSC_OK);
    assert_true(added);
    assert_true(hl_dedup_contains(d, "e-1", 3));
    assert_int_equal(hl_dedup_add(d, "e-1", 3, &added), LSC_OK);
    assert_false(added);
    assert_false(hl_dedup_contains(d, "e-2", 3));
    char id[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(id, sizeof id, "evt-%d", i);
        assert_int_equal(hl_dedup_add(d, id, (size_t)n, NULL), LSC_OK);
    }
    assert_int_equal(hl_dedup_count(d), 100001);
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(id, sizeof id, "evt-%d", i);
        assert_true(hl_dedup_contains(d, id, (size_t)n));
        n = snprintf(id, sizeof id, "other-%d", i);
        assert_false(hl_dedup_contains(d, id, (size_t)n));
    }
    /* The hashed variants agree with the plain ones. */
    uint64_t h = hl_dedup_hash("evt-7", 5);
    hl_dedup_prefetch(d, h);
    assert_true(hl_dedup_contains_h(d, h));
    h = hl_dedup_hash("new-1", 5);
    assert_false(hl_dedup_contains_h(d, h));
    assert_int_equal(hl_dedup_add_h(d, h, &added), LSC_OK);
    assert_true(added);
    assert_true(hl_dedup_contains(d, "new-1", 5));
    hl_dedup_destroy(d);
    hl_dedup_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contacts_upsert_find),
        cmocka_unit_test(test_contacts_merge_and_null_removes),
        cmocka_unit_test(test_contacts_rollback_restores),
        cmocka_unit_test(test_contacts_state_and_erase),
        cmocka_unit_test(test_contacts_many_sorted_and_erased),
        cmocka_unit_test(test_contacts_hashed_variants_and_long_ids),
        cmocka_unit_test(test_contacts_state_sizes),
        cmocka_unit_test(test_dedup_set),
    };
    return cmocka_run_group_tests_name("host_contacts", tests, NULL, NULL);
}
