/*
 * Unit tests of the leadscored store (host/store): schema migrations from
 * every earlier version, outbox coalescing/retry/dead-letter, dedup
 * retention, properties, state and score history.
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
#include <sqlite3.h>

#include "store.h"

struct fx {
    char dir[64];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/lsc-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct store *open_store(struct fx *f)
{
    struct store *s = NULL;
    char err[256] = "";
    struct store_options o = {.durable = false};
    enum lsc_status st = store_open(f->dir, &o, &s, err, sizeof err);
    if (st != LSC_OK) {
        fail_msg("store_open: %s", err);
    }
    return s;
}

static void test_store_migrates_from_every_version(void **state)
{
    struct fx *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, STORE_DB_NAME);
    for (int from = 0; from <= STORE_SCHEMA_VERSION; from++) {
        unlink(path);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        char err[256] = "";
        if (from > 0) {
            assert_int_equal(store_migrate(db, from, err, sizeof err),
                             LSC_OK);
        }
        assert_int_equal(store_schema_version(db), from);
        sqlite3_close(db);
        struct store *s = open_store(f);
        assert_int_equal(store_schema_version(store_db(s)),
                         STORE_SCHEMA_VERSION);
        /* The migrated schema works. */
        bool dup = true;
        assert_int_equal(store_seen_add(s, "x", 1, &dup), LSC_OK);
        assert_false(dup);
        store_close(s);
        /* Opening again is a no-op. */
        s = open_store(f);
        assert_int_equal(store_seen_add(s, "x", 2, &dup), LSC_OK);
        assert_true(dup);
        store_close(s);
    }
}

/* Rows of every v1 table, as an older daemon wrote them. */
static const char v1_rows[] =
    "INSERT INTO contacts VALUES ('c-1', 10, 20, 42, 'warm');"
    "INSERT INTO contact_props VALUES ('c-1', 'job_title', 1, 'CTO', NULL);"
    "INSERT INTO plugin_state VALUES ('c-1', x'01020304', 5000);"
    "INSERT INTO events(event_id, contact_id, type, ts_ms, received_ms, "
    "  source, json) VALUES ('e-1', 'c-1', 'email_open', 1, 2, 'api', "
    "  '{\"contact\":\"c-1\",\"type\":\"email_open\",\"ts\":1,"
    "\"id\":\"e-1\"}');"
    "INSERT INTO seen_ids VALUES ('e-1', 2);"
    "INSERT INTO score_history(contact_id, at_ms, model, score, from_tier, "
    "  to_tier, cause) VALUES ('c-1', 20, 'm', 42, NULL, 'warm', "
    "  'email_open e-1');"
    "INSERT INTO dead_letters(at_ms, source, reason, body) VALUES "
    "  (3, 'api', 'malformed', 'nope');"
    "INSERT INTO outbox(kind, key, payload, not_before_ms, enqueued_ms) "
    "  VALUES ('k.push', 'c-1', '42', 7000, 6000);"
    "INSERT INTO outbox_dead(kind, key, payload, enqueued_ms, attempts, "
    "  dead_ms, reason) VALUES ('k.push', 'c-2', '1', 1, 3, 4, 'gave up');";

static int64_t count_rows(sqlite3 *db, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", table);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* The tables of a database with their row counts. */
struct table_counts {
    char name[16][32];
    int64_t rows[16];
    size_t n;
};

static void table_counts(sqlite3 *db, struct table_counts *tc)
{
    memset(tc, 0, sizeof *tc);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_master "
                                        "WHERE type = 'table' AND name NOT "
                                        "LIKE 'sqlite_%' ORDER BY name",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_true(tc->n < 16);
        snprintf(tc->name[tc->n], sizeof tc->name[tc->n], "%s",
                 (const char *)sqlite3_column_text(st, 0));
        tc->n++;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < tc->n; i++) {
        tc->rows[i] = count_rows(db, tc->name[i]);
    }
}

static bool has_index(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT 1 FROM sqlite_master WHERE "
                                        "type = 'index' AND name = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static void history_count(void *ud, const struct store_history_row *r)
{
    int *n = ud;
    if (r->score == 42 && strcmp(r->cause, "email_open e-1") == 0) {
        (*n)++;
    }
}

/* A database at each earlier version, holding rows in every table, keeps
 * them through the migration, and gets the current indexes. */
static void test_store_migration_keeps_data(void **state)
{
    struct fx *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, STORE_DB_NAME);
    for (int from = 1; from < STORE_SCHEMA_VERSION; from++) {
        unlink(path);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        char err[256] = "";
        assert_int_equal(store_migrate(db, from, err, sizeof err), LSC_OK);
        assert_int_equal(sqlite3_exec(db, v1_rows, NULL, NULL, NULL),
                         SQLITE_OK);
        struct table_counts before;
        table_counts(db, &before);
        /* A table added by a later migration step needs rows here too. */
        for (size_t i = 0; i < before.n; i++) {
            if (before.rows[i] == 0) {
                fail_msg("v%d table %s holds no row in this test", from,
                         before.name[i]);
            }
        }
        sqlite3_close(db);

        struct store *s = open_store(f);
        sqlite3 *mdb = store_db(s);
        assert_int_equal(store_schema_version(mdb), STORE_SCHEMA_VERSION);
        for (size_t i = 0; i < before.n; i++) {
            assert_int_equal(count_rows(mdb, before.name[i]),
                             before.rows[i]);
        }
        /* v2 indexes (and the one they replace is gone). */
        assert_true(has_index(mdb, "outbox_claim"));
        assert_true(has_index(mdb, "outbox_next"));
        assert_false(has_index(mdb, "outbox_due"));
        assert_true(has_index(mdb, "contacts_hot"));
        assert_true(has_index(mdb, "plugin_state_wake"));
        assert_true(has_index(mdb, "contact_aliases_contact"));

        /* The data reads back through the store. */
        assert_int_equal(store_contact_exists(s, "c-1"), LSC_OK);
        struct store_props p = {0};
        assert_int_equal(store_props_load(s, "c-1", &p), LSC_OK);
        assert_int_equal(p.n, 1);
        assert_string_equal(p.props[0].key, "job_title");
        assert_int_equal(p.props[0].value.type, LSC_VAL_STRING);
        assert_int_equal(p.props[0].value.u.str.len, 3);
        assert_memory_equal(p.props[0].value.u.str.ptr, "CTO", 3);
        store_props_free(&p);
        void *blob = NULL;
        size_t len = 0;
        assert_int_equal(store_state_get(s, "c-1", &blob, &len), LSC_OK);
        assert_int_equal(len, 4);
        assert_memory_equal(blob, "\x01\x02\x03\x04", 4);
        free(blob);
        bool dup = false;
        assert_int_equal(store_seen_add(s, "e-1", 10, &dup), LSC_OK);
        assert_true(dup);
        int hist = 0;
        assert_int_equal(store_history(s, "c-1", 10, history_count, &hist),
                         LSC_OK);
        assert_int_equal(hist, 1);
        int64_t pending = -1, dead = -1;
        assert_int_equal(store_outbox_depth(s, &pending, &dead), LSC_OK);
        assert_int_equal(pending, 1);
        assert_int_equal(dead, 1);
        int64_t due = 0;
        assert_int_equal(store_outbox_next_due(s, &due), LSC_OK);
        assert_int_equal(due, 7000);
        store_close(s);
    }
}

static void test_store_refuses_newer_schema(void **state)
{
    struct fx *f = *state;
    struct store *s = open_store(f);
    assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA user_version = 99",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    store_close(s);
    char err[256] = "";
    struct store_options o = {0};
    assert_int_equal(store_open(f->dir, &o, &s, err, sizeof err),
                     LSC_ERR_CONFIG);
    assert_null(s);
    assert_non_null(strstr(err, "newer"));
}

static void test_store_migration_failure_rolls_back(void **state)
{
    struct fx *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, STORE_DB_NAME);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    /* A table in the way makes step 0 -> 1 fail; nothing may change. */
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE contacts(x)", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    char err[256] = "";
    assert_int_equal(store_migrate(db, 1, err, sizeof err), LSC_ERR_IO);
    assert_int_equal(store_schema_version(db), 0);
    assert_non_null(strstr(err, "migration"));
    sqlite3_close(db);
}

static void test_store_outbox_coalesces_unstarted(void **state)
{
    struct fx *f = *state;
    struct store *s = open_store(f);
    uint64_t a = 0, b = 0, c = 0, d = 0;
    assert_int_equal(store_job_enqueue(s, "push", "c-1", "v1", 2, 0, 10, &a),
                     LSC_OK);
    assert_int_equal(store_job_enqueue(s, "push", "c-1", "v2", 2, 5, 11, &b),
                     LSC_OK);
    assert_int_equal(a, b);
    /* Other kind, other key, no key: separate jobs. */
    assert_int_equal(store_job_enqueue(s, "other", "c-1", "x", 1, 0, 12, &c),
                     LSC_OK);
    assert_int_equal(store_job_enqueue(s, "push", NULL, "y", 1, 0, 12, &d),
                     LSC_OK);
    assert_true(c != a && d != a && c != d);
    int64_t pending = 0, dead = 0;
    assert_int_equal(store_outbox_depth(s, &pending, &dead), LSC_OK);
    assert_int_equal(pending, 3);

    struct store_job *jobs = NULL;
    size_t n = 0;
    assert_int_equal(store_job_claim(s, "push", 10, 100, &jobs, &n), LSC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(jobs[0].id, a);
    assert_int_equal(jobs[0].payload_len, 2);
    assert_memory_equal(jobs[0].payload, "v2", 2);
    assert_string_equal(jobs[0].key, "c-1");
    assert_int_equal(jobs[0].attempt, 1);
    assert_int_equal(jobs[0].enqueued_ms, 10);
    assert_null(jobs[1].key);
    store_jobs_free(jobs, n);

    /* A started job is not replaced: a new one is queued. */
    uint64_t e = 0;
    assert_int_equal(store_job_enqueue(s, "push", "c-1", "v3", 2, 0, 13, &e),
                     LSC_OK);
    assert_true(e != a);
    /* The superseded started job is dropped instead of retried. */
    assert_int_equal(store_job_finish(s, a, LSC_ERR_RETRYABLE, 0, "503",
                                      5, 101),
                     LSC_OK);
    assert_int_equal(store_job_finish(s, d, LSC_OK, 0, NULL, 5, 101), LSC_OK);
    assert_int_equal(store_outbox_depth(s, &pending, &dead), LSC_OK);
    assert_int_equal(pending, 2); /* e and c */
    assert_int_equal(dead, 0);
    store_close(s);
}

static void test_store_outbox_retry_and_dead_letter(void **state)
{
    struct fx *f = *state;
    struct store *s = open_store(f);
    uint64_t a = 0, b = 0;
    assert_int_equal(store_job_enqueue(s, "k", "x", "p", 1, 50, 0, &a),
                     LSC_OK);
    assert_int_equal(store_job_enqueue(s, "k", NULL, "q", 1, 0, 0, &b),
                     LSC_OK);
    int64_t due = 0;
    assert_int_equal(store_outbox_next_due(s, &due), LSC_OK);
    assert_int_equal(due, 0);
    struct store_job *jobs = NULL;
    size_t n = 0;
    /* not_before: only b is due at 10. */
    assert_int_equal(store_job_claim(s, "k", 10, 10, &jobs, &n), LSC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].id, b);
    store_jobs_free(jobs, n);
    /* A permanent failure dead-letters with the reason. */
    assert_int_equal(store_job_finish(s, b, LSC_ERR_PERMANENT, 0,
                                      "HTTP 400: bad property", 3, 11),
                     LSC_OK);
    /* Retry until max_attempts. */
    int64_t now = 50;
    for (uint32_t attempt = 1; attempt <= 3; attempt++) {
        assert_int_equal(store_job_claim(s, "k", 10, now, &jobs, &n), LSC_OK);
        assert_int_equal(n, 1);
        assert_int_equal(jobs[0].attempt, attempt);
        store_jobs_free(jobs, n);
        /* Not due again before retry_after. */
        assert_int_equal(store_job_finish(s, a, LSC_ERR_RETRYABLE, 1000,
                                          "HTTP 503", 3, now),
                         LSC_OK);
        assert_int_equal(store_job_claim(s, "k", 10, now + 999, &jobs, &n),
                         LSC_OK);
        assert_int_equal(n, 0);
        now += 1000;
    }
    int64_t pending = 0, dead = 0;
    assert_int_equal(store_outbox_depth(s, &pending, &dead), LSC_OK);
    assert_int_equal(pending, 0);
    assert_int_equal(dead, 2);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(store_db(s),
                                        "SELECT reason, attempts FROM "
                                        "outbox_dead ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0),
                        "gave up after 3 attempts: HTTP 503");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0),
                        "HTTP 400: bad property");
    sqlite3_finalize(st);
    store_close(s);
}

static void test_store_outbox_requeues_after_crash(void **state)
{
    struct fx *f = *state;
    struct store *s = open_store(f);
    uint64_t a = 0;
    assert_int_equal(store_job_enqueue(s, "k", "x", "p", 1, 0, 0, &a),
                     LSC_OK);
    struct store_job *jobs = NULL;
    size_t n = 0;
    assert_int_equal(store_job_claim(s, "k", 1, 1, &jobs, &n), LSC_OK);
    store_jobs_free(jobs, n);
    store_close(s); /* "crash" while running */
    s = open_store(f);
    uint64_t requeued = 0;
    assert_int_equal(store_job_requeue_started(s, &requeued), LSC_OK);
    assert_int_equal(requeued, 1);
    assert_int_equal(store_job_claim(s, "k", 1, 2, &jobs, &n), LSC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].id, a);
    assert_int_equal(jobs[0].attempt, 2);
    store_jobs_free(jobs, n);
    store_close(s);
}


/* Claims every due job of `kind` at now; returns how many (ids in ids). */
static size_t claim_ids(struct store *s, const char *kind, int64_t now,
                        uint64_t *ids, size_t max)
{
    struct store_job *jobs = NULL;
    size_t n = 0;
    assert_int_equal(store_job_claim(s, kind, max, now, &jobs, &n), LSC_OK);
    for (size_t i = 0; i < n; i++) {
        ids[i] = jobs[i].id;
    }
    store_jobs_free(jobs, n);
    return n;
}

static int64_t count_where(struct store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_store_outbox_finish_many_mixed(void **state)
{
    struct fx *f = *state;
    struct store *s = open_store(f);
    uint64_t ok = 0, retry = 0, perm = 0, spent = 0, stale = 0, newer = 0;
    uint64_t ids[8];
    /* `spent` has one attempt behind it when the batch runs. */
    assert_int_equal(store_job_enqueue(s, "k", "spent", "s", 1, 0, 0, &spent),
                     LSC_OK);
    assert_int_equal(claim_ids(s, "k", 1, ids, 8), 1);
    assert_int_equal(store_job_finish(s, spent, LSC_ERR_RETRYABLE, 0, "503",
                                      2, 1),
                     LSC_OK);
    assert_int_equal(store_job_enqueue(s, "k", "ok", "o", 1, 0, 2, &ok),
                     LSC_OK);
    assert_int_equal(store_job_enqueue(s, "k", "retry", "r", 1, 0, 2, &retry),
                     LSC_OK);
    assert_int_equal(store_job_enqueue(s, "k", NULL, "p", 1, 0, 2, &perm),
                     LSC_OK);
    assert_int_equal(store_job_enqueue(s, "k", "stale", "v1", 2, 0, 2,
                                       &stale),
                     LSC_OK);
    assert_int_equal(claim_ids(s, "k", 10, ids, 8), 5);
    /* a newer value for `stale` arrives while the batch is out */
    assert_int_equal(store_job_enqueue(s, "k", "stale", "v2", 2, 0, 11,
                                       &newer),
                     LSC_OK);
    assert_true(newer != stale);

    struct store_job_result res[] = {
        {.id = ok, .status = LSC_OK, .dead = true},
        {.id = retry, .status = LSC_ERR_RETRYABLE, .retry_after_ms = 500,
         .reason = "HTTP 503"},
        {.id = perm, .status = LSC_ERR_PERMANENT, .reason = "HTTP 400: bad"},
        {.id = spent, .status = LSC_ERR_RETRYABLE, .reason = "HTTP 502"},
        {.id = stale, .status = LSC_ERR_RETRYABLE, .retry_after_ms = 10},
    };
    assert_int_equal(store_job_finish_many(s, res, 5, 2, 100), LSC_OK);
    assert_false(res[0].dead);
    assert_false(res[1].dead);
    assert_true(res[2].dead);
    assert_true(res[3].dead); /* second attempt of 2 */
    assert_false(res[4].dead); /* superseded: dropped, not dead */

    int64_t pending = 0, dead = 0;
    assert_int_equal(store_outbox_depth(s, &pending, &dead), LSC_OK);
    assert_int_equal(pending, 2); /* retry and newer */
    assert_int_equal(dead, 2);
    assert_int_equal(count_where(s, "SELECT count(*) FROM outbox_dead WHERE "
                                    "reason = 'HTTP 400: bad' OR reason = "
                                    "'gave up after 2 attempts: HTTP 502'"),
                     2);
    /* the retry is due at 100 + 500, the newer value at once */
    assert_int_equal(claim_ids(s, "k", 599, ids, 8), 1);
    assert_int_equal(ids[0], newer);
    assert_int_equal(claim_ids(s, "k", 600, ids, 8), 1);
    assert_int_equal(ids[0], retry);
    assert_int_equal(count_where(s, "SELECT attempts FROM outbox WHERE "
                                    "last_error = 'HTTP 503'"),
                     2);
    store_close(s);
}

static void test_store_outbox_finish_many_atomic(void **state)
{
    struct fx *f = *state;
    struct store *s = open_store(f);
    uint64_t a = 0, b = 0, c = 0;
    uint64_t ids[4];
    assert_int_equal(store_job_enqueue(s, "k", "a", "a", 1, 0, 0, &a), LSC_OK);
    assert_int_equal(store_job_enqueue(s, "k", "b", "b", 1, 0, 0, &b), LSC_OK);
    assert_int_equal(store_job_enqueue(s, "k", "c", "c", 1, 0, 0, &c), LSC_OK);
    assert_int_equal(claim_ids(s, "k", 10, ids, 4), 3);
    /* A dead letter already filed under b's id makes b's step fail after
     * a's delete ran: nothing of the batch may stay recorded. */
    char sql[160];
    snprintf(sql, sizeof sql,
             "INSERT INTO outbox_dead(id, kind, payload, enqueued_ms, "
             "attempts, dead_ms, reason) VALUES (%llu, 'x', '', 0, 1, 0, "
             "'in the way')",
             (unsigned long long)b);
    assert_int_equal(sqlite3_exec(store_db(s), sql, NULL, NULL, NULL),
                     SQLITE_OK);
    struct store_job_result res[] = {
        {.id = a, .status = LSC_OK},
        {.id = b, .status = LSC_ERR_PERMANENT, .reason = "HTTP 400"},
        {.id = c, .status = LSC_OK},
    };
    assert_int_equal(store_job_finish_many(s, res, 3, 5, 1), LSC_ERR_IO);
    assert_false(res[1].dead);
    assert_int_equal(count_where(s, "SELECT count(*) FROM outbox WHERE "
                                    "started = 1"),
                     3);
    assert_int_equal(count_where(s, "SELECT count(*) FROM outbox_dead"), 1);
    /* the connection is usable (no transaction left open) */
    assert_int_equal(store_job_finish(s, c, LSC_OK, 0, NULL, 5, 2), LSC_OK);
    /* a crash now: the rest is requeued, none lost, none acknowledged */
    store_close(s);
    s = open_store(f);
    uint64_t requeued = 0;
    assert_int_equal(store_job_requeue_started(s, &requeued), LSC_OK);
    assert_int_equal(requeued, 2);
    assert_int_equal(claim_ids(s, "k", 10, ids, 4), 2);
    assert_int_equal(ids[0], a);
    assert_int_equal(ids[1], b);
    assert_int_equal(sqlite3_exec(store_db(s),
                                  "DELETE FROM outbox_dead", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    res[0].status = LSC_OK;
    assert_int_equal(store_job_finish_many(s, res, 2, 5, 3), LSC_OK);
    assert_true(res[1].dead);
    int64_t pending = 0, dead = 0;
    assert_int_equal(store_outbox_depth(s, &pending, &dead), LSC_OK);
    assert_int_equal(pending, 0);
    assert_int_equal(dead, 1);
    assert_int_equal(store_job_finish_many(s, NULL, 0, 5, 3), LSC_OK);
    store_close(s);
}
static void test_store_dedup_retention(void **state)
{
    struct fx *f = *state;
    struct store *s = open_store(f);
    bool dup = false;
    assert_int_equal(store_seen_add(s, "e-1", 1000, &dup), LSC_OK);
    assert_false(dup);
    assert_int_equal(store_seen_add(s, "e-2", 5000, &dup), LSC_OK);
    assert_int_equal(store_seen_add(s, "e-1", 6000, &dup), LSC_OK);
    assert_true(dup);
    uint64_t removed = 0;
    /* Retention: forget what was seen before 2000. */
    assert_int_equal(store_seen_prune(s, 2000, &removed), LSC_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(store_seen_add(s, "e-2", 7000, &dup), LSC_OK);
    assert_true(dup);
    assert_int_equal(store_seen_add(s, "e-1", 7000, &dup), LSC_OK);
    assert_false(dup);
    store_close(s);
}

static void test_store_props_state_history(void **state)
{
    struct fx *f = *state;
    struct store *s = open_store(f);
    bool created = false;
    assert_int_equal(store_contact_ensure(s, "c-1", 1, &created), LSC_OK);
    assert_true(created);
    assert_int_equal(store_contact_ensure(s, "c-1", 2, &created), LSC_OK);
    assert_false(created);
    struct lsc_prop p[4] = {
        {.key = "email", .value = {.type = LSC_VAL_STRING,
                                   .u.str = {"a@b.c", 5}}},
        {.key = "n", .value = {.type = LSC_VAL_NUMBER, .u.num = 42.5}},
        {.key = "ok", .value = {.type = LSC_VAL_BOOL, .u.boolean = true}},
        {.key = "tags", .value = {.type = LSC_VAL_JSON,
                                  .u.str = {"[1,2]", 5}}},
    };
    assert_int_equal(store_props_merge(s, "c-1", p, 4), LSC_OK);
    struct lsc_prop rm = {.key = "n", .value = {.type = LSC_VAL_NULL}};
    assert_int_equal(store_props_merge(s, "c-1", &rm, 1), LSC_OK);
    struct store_props sp;
    assert_int_equal(store_props_load(s, "c-1", &sp), LSC_OK);
    assert_int_equal(sp.n, 3);
    assert_string_equal(sp.props[0].key, "email");
    assert_string_equal(sp.props[0].value.u.str.ptr, "a@b.c");
    assert_string_equal(sp.props[1].key, "ok");
    assert_true(sp.props[1].value.u.boolean);
    assert_int_equal(sp.props[2].value.type, LSC_VAL_JSON);
    store_props_free(&sp);

    assert_int_equal(store_state_put(s, "c-1", "blob", 4, 500), LSC_OK);
    void *blob = NULL;
    size_t len = 0;
    assert_int_equal(store_state_get(s, "c-1", &blob, &len), LSC_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(blob, "blob", 4);
    free(blob);

    assert_int_equal(store_score_set(s, "c-1", 10, "cold", 3, "a"), LSC_OK);
    assert_int_equal(store_score_set(s, "c-1", 10, "cold", 4, "b"), LSC_OK);
    assert_int_equal(store_score_set(s, "c-1", 55, "mql", 5, "c"), LSC_OK);
    int64_t cnt = 0;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(store_db(s),
                                        "SELECT count(*) FROM score_history",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    cnt = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(cnt, 2);

    /* Aliases: another id of c-1, replaced by a newer one, gone with it. */
    char canon[64];
    assert_false(store_has_aliases(s));
    assert_int_equal(store_alias_get(s, "c-1-new", canon, sizeof canon),
                     LSC_ERR_NOT_FOUND);
    assert_int_equal(store_alias_put(s, "c-1-new", "c-0"), LSC_OK);
    assert_int_equal(store_alias_put(s, "c-1-new", "c-1"), LSC_OK);
    assert_true(store_has_aliases(s));
    assert_int_equal(store_alias_get(s, "c-1-new", canon, sizeof canon),
                     LSC_OK);
    assert_string_equal(canon, "c-1");

    assert_int_equal(store_contact_delete(s, "c-1"), LSC_OK);
    assert_int_equal(store_contact_exists(s, "c-1"), LSC_ERR_NOT_FOUND);
    assert_int_equal(store_alias_get(s, "c-1-new", canon, sizeof canon),
                     LSC_ERR_NOT_FOUND);
    assert_int_equal(store_state_get(s, "c-1", &blob, &len), LSC_OK);
    assert_null(blob);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_migrates_from_every_version,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_migration_keeps_data,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_refuses_newer_schema,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_migration_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_outbox_coalesces_unstarted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_outbox_retry_and_dead_letter, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_outbox_requeues_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_outbox_finish_many_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store_outbox_finish_many_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_dedup_retention, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_props_state_history, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
