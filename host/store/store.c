/*
 * SQLite store for leadscored; see store.h.
 *
 * Schema versions live in `migrations` below: migrations[i] brings a
 * database from user_version i to i + 1.  Never edit a released step;
 * append a new one and bump STORE_SCHEMA_VERSION.
 */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

/* ---- Schema ------------------------------------------------------------- */

static const char *const migrations[STORE_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE contacts ("
    "  id TEXT PRIMARY KEY,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  score INTEGER NOT NULL DEFAULT -1,"
    "  tier TEXT"
    ") WITHOUT ROWID;"
    "CREATE INDEX contacts_hot ON contacts(tier, score DESC, id);"
    "CREATE TABLE contact_props ("
    "  contact_id TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  vtype INTEGER NOT NULL,"  /* enum lsc_value_type */
    "  vtext BLOB,"
    "  vnum REAL,"
    "  PRIMARY KEY (contact_id, key)"
    ") WITHOUT ROWID;"
    "CREATE TABLE plugin_state ("
    "  contact_id TEXT PRIMARY KEY,"
    "  blob BLOB NOT NULL,"
    "  wake_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX plugin_state_wake ON plugin_state(wake_ms);"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  event_id TEXT,"
    "  contact_id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  ts_ms INTEGER NOT NULL,"
    "  received_ms INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  json TEXT NOT NULL"
    ");"

    "CREATE TABLE seen_ids ("
    "  event_id TEXT PRIMARY KEY,"
    "  seen_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX seen_ids_time ON seen_ids(seen_ms);"
    "CREATE TABLE score_history ("
    "  id INTEGER PRIMARY KEY,"
    "  contact_id TEXT NOT NULL,"
    "  at_ms INTEGER NOT NULL,"
    "  model TEXT,"
    "  score INTEGER NOT NULL,"
    "  from_tier TEXT,"
    "  to_tier TEXT,"
    "  cause TEXT NOT NULL"
    ");"
    "CREATE INDEX score_history_contact ON score_history(contact_id, id);"
    "CREATE TABLE dead_letters ("
    "  id INTEGER PRIMARY KEY,"
    "  at_ms INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  body BLOB"
    ");"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL,"
    "  key TEXT,"
    "  payload BLOB,"
    "  not_before_ms INTEGER NOT NULL,"
    "  enqueued_ms INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  started INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT"
    ");"
    "CREATE INDEX outbox_due ON outbox(kind, started, not_before_ms, id);"
    "CREATE UNIQUE INDEX outbox_coalesce ON outbox(kind, key)"
    "  WHERE key IS NOT NULL AND started = 0;"
    "CREATE TABLE outbox_dead ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  key TEXT,"
    "  payload BLOB,"
    "  enqueued_ms INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  dead_ms INTEGER NOT NULL,"
    "  reason TEXT NOT NULL"
    ");",
    /* 1 -> 2: the claim walks the due jobs of a kind in id order through
     * an index instead of sorting every due job (a temp B-tree per claim,
     * ~5 ms per 100k queued); the next-due lookup gets its own.  Both are
     * partial on started = 0, so starting and finishing a job touch
     * fewer index entries than outbox_due did. */
    "DROP INDEX outbox_due;"
    "CREATE INDEX outbox_claim ON outbox(kind, id, not_before_ms)"
    "  WHERE started = 0;"
    "CREATE INDEX outbox_next ON outbox(not_before_ms) WHERE started = 0;",
    /* 2 -> 3: other ids of a contact (a Mailchimp address change), so
     * later events for the new address reach the same contact. */
    "CREATE TABLE contact_aliases ("
    "  alias TEXT PRIMARY KEY,"
    "  contact_id TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX contact_aliases_contact ON contact_aliases(contact_id);",
};

/* Prepared statements, indexes into struct store.stmt. */
enum stmt_id {
    ST_SEEN_ADD,
    ST_SEEN_PRUNE,
    ST_CONTACT_ENSURE,
    ST_CONTACT_EXISTS,
    ST_PROPS_LOAD,
    ST_PROP_SET,
    ST_PROP_DEL,
    ST_STATE_GET,
    ST_STATE_PUT,
    ST_STATE_DEL,
    ST_WAKE_DUE,
    ST_STATE_PAGE,
    ST_ALIAS_PUT,
    ST_ALIAS_GET,
    ST_CONTACT_GET,
    ST_SCORE_UPDATE,
    ST_HISTORY_ADD,
    ST_HISTORY,
    ST_EVENT_APPEND,
    ST_EVENTS_SCAN,
    ST_EVENT_COUNT,
    ST_DEAD_ADD,
    ST_JOB_COALESCE,
    ST_JOB_INSERT,
    ST_JOB_CLAIM_SEL,
    ST_JOB_START,
    ST_JOB_DELETE,
    ST_JOB_RETRY,
    ST_JOB_TO_DEAD,
    ST_JOB_ATTEMPTS,
    ST_JOB_UNCOUNT,
    ST_JOB_SUPERSEDED,
    ST_OUTBOX_DEPTH,
    ST_OUTBOX_DEAD,
    ST_OUTBOX_NEXT,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_SEEN_ADD] = "INSERT OR IGNORE INTO seen_ids(event_id, seen_ms) "
                    "VALUES (?1, ?2)",
    [ST_SEEN_PRUNE] = "DELETE FROM seen_ids WHERE seen_ms < ?1",
    [ST_CONTACT_ENSURE] = "INSERT OR IGNORE INTO contacts(id, created_ms, "
                          "updated_ms) VALUES (?1, ?2, ?2)",
    [ST_CONTACT_EXISTS] = "SELECT 1 FROM contacts WHERE id = ?1",
    [ST_PROPS_LOAD] = "SELECT key, vtype, vtext, vnum FROM contact_props "
                      "WHERE contact_id = ?1 ORDER BY key",
    [ST_PROP_SET] = "INSERT OR REPLACE INTO contact_props(contact_id, key, "
                    "vtype, vtext, vnum) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_PROP_DEL] = "DELETE FROM contact_props WHERE contact_id = ?1 AND "
                    "key = ?2",
    [ST_STATE_GET] = "SELECT blob FROM plugin_state WHERE contact_id = ?1",
    [ST_STATE_PUT] = "INSERT OR REPLACE INTO plugin_state(contact_id, blob, "
                     "wake_ms) VALUES (?1, ?2, ?3)",
    [ST_STATE_DEL] = "DELETE FROM plugin_state WHERE contact_id = ?1",
    [ST_ALIAS_PUT] = "INSERT OR REPLACE INTO contact_aliases(alias, "
                     "contact_id) VALUES (?1, ?2)",
    [ST_ALIAS_GET] = "SELECT contact_id FROM contact_aliases WHERE alias = ?1",
    [ST_STATE_PAGE] = "SELECT p.contact_id, coalesce(c.score, -1) "
                       "FROM plugin_state p LEFT JOIN contacts c "
                       "ON c.id = p.contact_id WHERE p.contact_id > ?1 "
                       "ORDER BY p.contact_id LIMIT ?2",
    [ST_WAKE_DUE] = "SELECT contact_id, wake_ms FROM plugin_state "
                    "WHERE wake_ms <= ?1 ORDER BY wake_ms LIMIT ?2",
    [ST_CONTACT_GET] = "SELECT id, score, tier, updated_ms FROM contacts "
                       "WHERE id = ?1",
    [ST_SCORE_UPDATE] = "UPDATE contacts SET score = ?2, tier = ?3, "
                        "updated_ms = ?4 WHERE id = ?1",
    [ST_HISTORY_ADD] = "INSERT INTO score_history(contact_id, at_ms, model, "
                       "score, from_tier, to_tier, cause) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_HISTORY] = "SELECT at_ms, model, score, from_tier, to_tier, cause "
                   "FROM score_history WHERE contact_id = ?1 "
                   "ORDER BY id DESC LIMIT ?2",
    [ST_EVENT_APPEND] = "INSERT INTO events(event_id, contact_id, type, "
                        "ts_ms, received_ms, source, json) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_EVENTS_SCAN] = "SELECT seq, json FROM events WHERE seq > ?1 "
                       "ORDER BY seq LIMIT ?2",
    [ST_EVENT_COUNT] = "SELECT count(*) FROM events WHERE event_id = ?1",
    [ST_DEAD_ADD] = "INSERT INTO dead_letters(at_ms, source, reason, body) "
                    "VALUES (?1, ?2, ?3, ?4)",
    [ST_JOB_COALESCE] = "UPDATE outbox SET payload = ?3, not_before_ms = ?4 "
                        "WHERE kind = ?1 AND key = ?2 AND started = 0 "
                        "RETURNING id",
    [ST_JOB_INSERT] = "INSERT INTO outbox(kind, key, payload, not_before_ms, "
                      "enqueued_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_JOB_CLAIM_SEL] = "SELECT id, kind, key, payload, attempts, "
                         "enqueued_ms FROM outbox WHERE kind = ?1 AND "
                         "started = 0 AND not_before_ms <= ?2 "
                         "ORDER BY id LIMIT ?3",
    [ST_JOB_START] = "UPDATE outbox SET started = 1, attempts = attempts + 1 "
                     "WHERE id = ?1",
    [ST_JOB_DELETE] = "DELETE FROM outbox WHERE id = ?1",
    [ST_JOB_RETRY] = "UPDATE outbox SET started = 0, not_before_ms = ?2, "
                     "last_error = ?3 WHERE id = ?1",
    [ST_JOB_TO_DEAD] = "INSERT INTO outbox_dead(id, kind, key, payload, "
                       "enqueued_ms, attempts, dead_ms, reason) "
                       "SELECT id, kind, key, payload, enqueued_ms, attempts, "
                       "?2, ?3 FROM outbox WHERE id = ?1",
    [ST_JOB_ATTEMPTS] = "SELECT attempts FROM outbox WHERE id = ?1",
    [ST_JOB_UNCOUNT] = "UPDATE outbox SET attempts = max(attempts - 1, 0) "
                       "WHERE id = ?1",
    [ST_JOB_SUPERSEDED] = "SELECT 1 FROM outbox AS o, outbox AS p "
                          "WHERE o.id = ?1 AND o.key IS NOT NULL AND "
                          "p.kind = o.kind AND p.key = o.key AND "
                          "p.started = 0 AND p.id != o.id",
    [ST_OUTBOX_DEPTH] = "SELECT count(*) FROM outbox",
    [ST_OUTBOX_DEAD] = "SELECT count(*) FROM outbox_dead",
    [ST_OUTBOX_NEXT] = "SELECT min(not_before_ms) FROM outbox "
                       "WHERE started = 0",
    [ST_SAVEPOINT] = "SAVEPOINT ev",
    [ST_RELEASE] = "RELEASE ev",
    [ST_ROLLBACK_TO] = "ROLLBACK TO ev",
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a,
                    const char *b)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, fmt, a, b);
    }
}

/* The prepared statement `id`, reset and unbound; borrowed. */
static sqlite3_stmt *stmt(struct store *s, enum stmt_id id)
{
    sqlite3_stmt *st = s->stmt[id];
    if (st == NULL) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1,
                               SQLITE_PREPARE_PERSISTENT, &st,
                               NULL) != SQLITE_OK) {
            return NULL;
        }
        s->stmt[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static enum lsc_status step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? LSC_OK : LSC_ERR_IO;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    }
}

static enum lsc_status exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? LSC_OK
                                                                 : LSC_ERR_IO;
}

int store_schema_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
        SQLITE_OK) {
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

enum lsc_status store_migrate(sqlite3 *db, int target, char *err,
                              size_t errlen)
{
    if (target < 1 || target > STORE_SCHEMA_VERSION) {
        set_err(err, errlen, "no schema version %s%s", "", "");
        return LSC_ERR_INVALID_ARG;
    }
    int v = store_schema_version(db);
    if (v < 0) {
        set_err(err, errlen, "cannot read the schema version: %s%s",
                sqlite3_errmsg(db), "");
        return LSC_ERR_IO;
    }
    if (v > STORE_SCHEMA_VERSION) {
        char buf[64];
        snprintf(buf, sizeof buf, "%d > %d", v, STORE_SCHEMA_VERSION);
        set_err(err, errlen,
                "the database schema is newer than this build (%s)%s", buf,
                "");
        return LSC_ERR_CONFIG;
    }
    for (; v < target; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if (exec(db, "BEGIN IMMEDIATE") != LSC_OK ||
            exec(db, migrations[v]) != LSC_OK || exec(db, pragma) != LSC_OK) {
            set_err(err, errlen, "schema migration failed: %s%s",
                    sqlite3_errmsg(db), "");
            exec(db, "ROLLBACK");
            return LSC_ERR_IO;
        }
        if (exec(db, "COMMIT") != LSC_OK) {
            set_err(err, errlen, "schema migration commit failed: %s%s",
                    sqlite3_errmsg(db), "");
            exec(db, "ROLLBACK");
            return LSC_ERR_IO;
        }
    }
    return LSC_OK;
}

enum lsc_status store_open(const char *dir, const struct store_options *opt,
                           struct store **out, char *err, size_t errlen)
{
    struct store_options dflt = {.durable = true};
    if (opt == NULL) {
        opt = &dflt;
    }
    *out = NULL;
    if (dir == NULL || *dir == '\0') {
        set_err(err, errlen, "no data directory configured%s%s", "", "");
        return LSC_ERR_CONFIG;
    }
    if (!opt->read_only && mkdir(dir, 0750) != 0 && errno != EEXIST) {
        set_err(err, errlen, "cannot create data directory %s: %s", dir,
                strerror(errno));
        return LSC_ERR_IO;
    }
    size_t plen = strlen(dir) + sizeof STORE_DB_NAME + 2;
    char *path = malloc(plen);
    struct store *s = calloc(1, sizeof *s);
    if (path == NULL || s == NULL) {
        free(path);
        free(s);
        return LSC_ERR_NOMEM;
    }
    snprintf(path, plen, "%s/%s", dir, STORE_DB_NAME);
    int flags = SQLITE_OPEN_NOMUTEX |
                (opt->read_only ? SQLITE_OPEN_READONLY
                                : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "cannot open %s: %s", path,
                s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        free(path);
        store_close(s);
        return LSC_ERR_IO;
    }
    sqlite3_busy_timeout(s->db, opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms
                                                         : 10000);
    enum lsc_status st = LSC_OK;
    if (!opt->read_only) {
        if (exec(s->db, "PRAGMA journal_mode=WAL") != LSC_OK) {
            set_err(err, errlen, "cannot enable WAL on %s: %s", path,
                    sqlite3_errmsg(s->db));
            st = LSC_ERR_IO;
        } else {
            st = store_migrate(s->db, STORE_SCHEMA_VERSION, err, errlen);
        }
    } else if (store_schema_version(s->db) != STORE_SCHEMA_VERSION) {
        set_err(err, errlen, "%s has schema version %s", path,
                "other than this build's");
        st = LSC_ERR_CONFIG;
    }
    if (st == LSC_OK) {
        exec(s->db, opt->durable ? "PRAGMA synchronous=FULL"
                                 : "PRAGMA synchronous=NORMAL");
        exec(s->db, "PRAGMA foreign_keys=OFF");
        exec(s->db, "PRAGMA cache_size=-32000");
        if (opt->no_autocheckpoint) {
            sqlite3_wal_autocheckpoint(s->db, 0);
        }
    }
    free(path);
    if (st != LSC_OK) {
        store_close(s);
        return st;
    }
    *out = s;
    return LSC_OK;
}

enum lsc_status store_checkpoint(struct store *s, int *wal_pages)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                       &log, &done);
    if (wal_pages != NULL) {
        *wal_pages = log;
    }
    /* PASSIVE only: RESTART/TRUNCATE would block the writer.  SQLite
     * rewinds the WAL by itself once every frame is checkpointed. */
    (void)done;
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? LSC_OK : LSC_ERR_IO;
}

void store_close(struct store *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->stmt[i]);
    }
    sqlite3_close(s->db);
    free(s);
}

sqlite3 *store_db(struct store *s) { return s->db; }

const char *store_errmsg(struct store *s) { return sqlite3_errmsg(s->db); }

enum lsc_status store_begin(struct store *s)
{
    return exec(s->db, "BEGIN IMMEDIATE");
}

enum lsc_status store_commit(struct store *s)
{
    return exec(s->db, "COMMIT");
}

void store_rollback(struct store *s) { exec(s->db, "ROLLBACK"); }

/* Savepoints run once per event: prepared, not parsed each time. */
static enum lsc_status run_stmt(struct store *s, enum stmt_id id)
{
    sqlite3_stmt *st = stmt(s, id);
    return st != NULL ? step_done(st) : LSC_ERR_IO;
}

enum lsc_status store_savepoint(struct store *s)
{
    return run_stmt(s, ST_SAVEPOINT);
}

enum lsc_status store_release(struct store *s)
{
    return run_stmt(s, ST_RELEASE);
}

void store_rollback_to(struct store *s)
{
    run_stmt(s, ST_ROLLBACK_TO);
    run_stmt(s, ST_RELEASE);
}

/* ---- De-duplication ----------------------------------------------------- */

enum lsc_status store_seen_add(struct store *s, const char *event_id,
                               int64_t now_ms, bool *dup)
{
    sqlite3_stmt *st = stmt(s, ST_SEEN_ADD);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, event_id);
    sqlite3_bind_int64(st, 2, now_ms);
    if (step_done(st) != LSC_OK) {
        return LSC_ERR_IO;
    }
    *dup = sqlite3_changes(s->db) == 0;
    return LSC_OK;
}

enum lsc_status store_seen_prune(struct store *s, int64_t before_ms,
                                 uint64_t *removed)
{
    sqlite3_stmt *st = stmt(s, ST_SEEN_PRUNE);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    sqlite3_bind_int64(st, 1, before_ms);
    if (step_done(st) != LSC_OK) {
        return LSC_ERR_IO;
    }
    if (removed != NULL) {
        *removed = (uint64_t)sqlite3_changes(s->db);
    }
    return LSC_OK;
}

/* ---- Contacts ----------------------------------------------------------- */

enum lsc_status store_contact_ensure(struct store *s, const char *id,
                                     int64_t now_ms, bool *created)
{
    sqlite3_stmt *st = stmt(s, ST_CONTACT_ENSURE);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    if (step_done(st) != LSC_OK) {
        return LSC_ERR_IO;
    }
    if (created != NULL) {
        *created = sqlite3_changes(s->db) > 0;
    }
    return LSC_OK;
}

enum lsc_status store_contact_exists(struct store *s, const char *id)
{
    sqlite3_stmt *st = stmt(s, ST_CONTACT_EXISTS);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        return LSC_OK;
    }
    return rc == SQLITE_DONE ? LSC_ERR_NOT_FOUND : LSC_ERR_IO;
}

void store_props_free(struct store_props *p)
{
    if (p == NULL) {
        return;
    }
    free(p->props);
    free(p->arena);
    p->props = NULL;
    p->arena = NULL;
    p->n = 0;
}

enum lsc_status store_props_load(struct store *s, const char *id,
                                 struct store_props *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = stmt(s, ST_PROPS_LOAD);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, id);
    /* Two passes over an in-memory copy would be cleaner; one pass with a
     * growing arena keeps it to one query.  Offsets are fixed up after. */
    size_t cap = 0, used = 0, ncap = 0;
    size_t *koff = NULL, *voff = NULL;
    enum lsc_status ret = LSC_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == ncap) {
            ncap = ncap ? ncap * 2 : 8;
            struct lsc_prop *np = realloc(out->props, ncap * sizeof *np);
            size_t *nk = realloc(koff, ncap * sizeof *nk);
            if (np != NULL) {
                out->props = np;
            }
            if (nk != NULL) {
                koff = nk;
            }
            size_t *nv = realloc(voff, ncap * sizeof *nv);
            if (nv != NULL) {
                voff = nv;
            }
            if (np == NULL || nk == NULL || nv == NULL) {
                ret = LSC_ERR_NOMEM;
                break;
            }
        }
        const char *key = (const char *)sqlite3_column_text(st, 0);
        size_t klen = (size_t)sqlite3_column_bytes(st, 0);
        int vtype = sqlite3_column_int(st, 1);
        const void *vtext = sqlite3_column_blob(st, 2);
        size_t vlen = (size_t)sqlite3_column_bytes(st, 2);
        size_t need = used + klen + 1 + vlen + 1;
        if (need > cap) {
            size_t ncap2 = cap ? cap * 2 : 256;
            while (ncap2 < need) {
                ncap2 *= 2;
            }
            char *na = realloc(out->arena, ncap2);
            if (na == NULL) {
                ret = LSC_ERR_NOMEM;
                break;
            }
            out->arena = na;
            cap = ncap2;
        }
        struct lsc_prop *p = &out->props[out->n];
        memset(p, 0, sizeof *p);
        koff[out->n] = used;
        memcpy(out->arena + used, key ? key : "", klen);
        out->arena[used + klen] = '\0';
        used += klen + 1;
        voff[out->n] = used;
        if (vlen > 0) {
            memcpy(out->arena + used, vtext, vlen);
        }
        out->arena[used + vlen] = '\0';
        used += vlen + 1;
        p->value.type = (enum lsc_value_type)vtype;
        switch (p->value.type) {
        case LSC_VAL_STRING:
        case LSC_VAL_JSON:
            p->value.u.str.len = vlen;
            break;
        case LSC_VAL_NUMBER:
            p->value.u.num = sqlite3_column_double(st, 3);
            break;
        case LSC_VAL_BOOL:
            p->value.u.boolean = sqlite3_column_int(st, 3) != 0;
            break;
        case LSC_VAL_NULL:
            break;
        }
        out->n++;
    }
    sqlite3_reset(st);
    if (ret == LSC_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        ret = LSC_ERR_IO;
    }
    if (ret == LSC_OK) {
        for (size_t i = 0; i < out->n; i++) {
            out->props[i].key = out->arena + koff[i];
            if (out->props[i].value.type == LSC_VAL_STRING ||
                out->props[i].value.type == LSC_VAL_JSON) {
                out->props[i].value.u.str.ptr = out->arena + voff[i];
            }
        }
    } else {
        store_props_free(out);
    }
    free(koff);
    free(voff);
    return ret;
}

enum lsc_status store_props_merge(struct store *s, const char *id,
                                  const struct lsc_prop *props, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct lsc_prop *p = &props[i];
        sqlite3_stmt *st;
        if (p->value.type == LSC_VAL_NULL) {
            st = stmt(s, ST_PROP_DEL);
            if (st == NULL) {
                return LSC_ERR_IO;
            }
            bind_text(st, 1, id);
            bind_text(st, 2, p->key);
        } else {
            st = stmt(s, ST_PROP_SET);
            if (st == NULL) {
                return LSC_ERR_IO;
            }
            bind_text(st, 1, id);
            bind_text(st, 2, p->key);
            sqlite3_bind_int(st, 3, (int)p->value.type);
            switch (p->value.type) {
            case LSC_VAL_STRING:
            case LSC_VAL_JSON:
                sqlite3_bind_blob(st, 4, p->value.u.str.ptr,
                                  (int)p->value.u.str.len, SQLITE_STATIC);
                break;
            case LSC_VAL_NUMBER:
                sqlite3_bind_double(st, 5, p->value.u.num);
                break;
            case LSC_VAL_BOOL:
                sqlite3_bind_int(st, 5, p->value.u.boolean ? 1 : 0);
                break;
            case LSC_VAL_NULL:
                break;
            }
        }
        if (step_done(st) != LSC_OK) {
            return LSC_ERR_IO;
        }
    }
    return LSC_OK;
}

enum lsc_status store_contact_delete(struct store *s, const char *id)
{
    static const char *const sql[] = {
        "DELETE FROM contacts WHERE id = ?1",
        "DELETE FROM contact_props WHERE contact_id = ?1",
        "DELETE FROM plugin_state WHERE contact_id = ?1",
        "DELETE FROM contact_aliases WHERE contact_id = ?1",
    };
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL) != SQLITE_OK) {
            return LSC_ERR_IO;
        }
        bind_text(st, 1, id);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            return LSC_ERR_IO;
        }
    }
    return LSC_OK;
}

enum lsc_status store_alias_put(struct store *s, const char *alias,
                                const char *id)
{
    sqlite3_stmt *st = stmt(s, ST_ALIAS_PUT);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, alias);
    bind_text(st, 2, id);
    return step_done(st);
}

enum lsc_status store_alias_get(struct store *s, const char *alias, char *id,
                                size_t n)
{
    sqlite3_stmt *st = stmt(s, ST_ALIAS_GET);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, alias);
    int rc = sqlite3_step(st);
    enum lsc_status ret = rc == SQLITE_ROW    ? LSC_OK
                          : rc == SQLITE_DONE ? LSC_ERR_NOT_FOUND
                                              : LSC_ERR_IO;
    if (rc == SQLITE_ROW) {
        snprintf(id, n, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_reset(st);
    return ret;
}

bool store_has_aliases(struct store *s)
{
    sqlite3_stmt *st = NULL;
    bool any = false;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM contact_aliases LIMIT 1", -1,
                           &st, NULL) == SQLITE_OK) {
        any = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return any;
}

enum lsc_status store_state_get(struct store *s, const char *id, void **blob,
                                size_t *len)
{
    *blob = NULL;
    *len = 0;
    sqlite3_stmt *st = stmt(s, ST_STATE_GET);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    enum lsc_status ret = LSC_OK;
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (n > 0) {
            *blob = malloc(n);
            if (*blob == NULL) {
                ret = LSC_ERR_NOMEM;
            } else {
                memcpy(*blob, sqlite3_column_blob(st, 0), n);
                *len = n;
            }
        }
    } else if (rc != SQLITE_DONE) {
        ret = LSC_ERR_IO;
    }
    sqlite3_reset(st);
    return ret;
}

enum lsc_status store_state_put(struct store *s, const char *id,
                                const void *blob, size_t len,
                                int64_t wake_ms)
{
    sqlite3_stmt *st = stmt(s, len > 0 ? ST_STATE_PUT : ST_STATE_DEL);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, id);
    if (len > 0) {
        sqlite3_bind_blob(st, 2, blob, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, wake_ms);
    }
    return step_done(st);
}

enum lsc_status store_wake_due(struct store *s, int64_t now_ms, size_t limit,
                               void (*fn)(void *ud, const char *id,
                                          int64_t wake_ms),
                               void *ud)
{
    sqlite3_stmt *st = stmt(s, ST_WAKE_DUE);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn(ud, (const char *)sqlite3_column_text(st, 0),
           sqlite3_column_int64(st, 1));
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? LSC_OK : LSC_ERR_IO;
}

enum lsc_status store_state_page(struct store *s, const char *after_id,
                                 size_t limit,
                                 void (*fn)(void *ud, const char *id,
                                            int score),
                                 void *ud)
{
    sqlite3_stmt *st = stmt(s, ST_STATE_PAGE);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, after_id ? after_id : "");
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn(ud, (const char *)sqlite3_column_text(st, 0),
           sqlite3_column_int(st, 1));
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? LSC_OK : LSC_ERR_IO;
}

/* ---- Scores ------------------------------------------------------------- */

static enum lsc_status history_add(struct store *s, const char *id,
                                   const char *model, const char *from,
                                   const char *to, int score, int64_t at_ms,
                                   const char *cause)
{
    sqlite3_stmt *st = stmt(s, ST_HISTORY_ADD);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, at_ms);
    bind_text(st, 3, model);
    sqlite3_bind_int(st, 4, score);
    bind_text(st, 5, from);
    bind_text(st, 6, to);
    bind_text(st, 7, cause ? cause : "");
    return step_done(st);
}

enum lsc_status store_score_set(struct store *s, const char *id, int score,
                                const char *tier, int64_t at_ms,
                                const char *cause)
{
    sqlite3_stmt *st = stmt(s, ST_CONTACT_GET);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? LSC_ERR_NOT_FOUND : LSC_ERR_IO;
    }
    int old_score = sqlite3_column_int(st, 1);
    const char *ot = (const char *)sqlite3_column_text(st, 2);
    char old_tier[128] = "";
    bool had_tier = ot != NULL;
    if (had_tier) {
        snprintf(old_tier, sizeof old_tier, "%s", ot);
    }
    sqlite3_reset(st);
    int new_score = score >= 0 ? score : old_score;
    const char *new_tier = tier != NULL ? tier : (had_tier ? old_tier : NULL);
    bool tier_changed = tier != NULL && (!had_tier || strcmp(tier, old_tier));
    if (new_score == old_score && !tier_changed) {
        return LSC_OK;
    }
    st = stmt(s, ST_SCORE_UPDATE);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, id);
    sqlite3_bind_int(st, 2, new_score);
    bind_text(st, 3, new_tier);
    sqlite3_bind_int64(st, 4, at_ms);
    if (step_done(st) != LSC_OK) {
        return LSC_ERR_IO;
    }
    return history_add(s, id, NULL, had_tier ? old_tier : NULL, new_tier,
                       new_score, at_ms, cause);
}

enum lsc_status store_transition_add(struct store *s, const char *id,
                                     const char *model, const char *from,
                                     const char *to, int score,
                                     int64_t at_ms, const char *cause)
{
    return history_add(s, id, model ? model : "", from, to, score, at_ms,
                       cause);
}

static void fill_row(sqlite3_stmt *st, struct store_contact_row *r)
{
    r->id = (const char *)sqlite3_column_text(st, 0);
    r->score = sqlite3_column_int(st, 1);
    r->tier = (const char *)sqlite3_column_text(st, 2);
    r->updated_ms = sqlite3_column_int64(st, 3);
}

enum lsc_status store_contact_get(struct store *s, const char *id,
                                  void (*fn)(void *ud,
                                             const struct store_contact_row *r),
                                  void *ud)
{
    sqlite3_stmt *st = stmt(s, ST_CONTACT_GET);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        struct store_contact_row r;
        fill_row(st, &r);
        fn(ud, &r);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        return LSC_OK;
    }
    return rc == SQLITE_DONE ? LSC_ERR_NOT_FOUND : LSC_ERR_IO;
}

enum lsc_status store_history(struct store *s, const char *id, size_t limit,
                              void (*fn)(void *ud,
                                         const struct store_history_row *r),
                              void *ud)
{
    sqlite3_stmt *st = stmt(s, ST_HISTORY);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_history_row r = {
            .at_ms = sqlite3_column_int64(st, 0),
            .model = (const char *)sqlite3_column_text(st, 1),
            .score = sqlite3_column_int(st, 2),
            .from = (const char *)sqlite3_column_text(st, 3),
            .to = (const char *)sqlite3_column_text(st, 4),
            .cause = (const char *)sqlite3_column_text(st, 5),
        };
        fn(ud, &r);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? LSC_OK : LSC_ERR_IO;
}

enum lsc_status store_contacts_list(struct store *s, const char *tier,
                                    int min_score, int cursor_score,
                                    const char *cursor_id, size_t limit,
                                    void (*fn)(void *ud,
                                               const struct store_contact_row *r),
                                    void *ud)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id, score, tier, updated_ms FROM contacts "
             "WHERE score >= ?1 %s %s ORDER BY score DESC, id LIMIT ?5",
             tier ? "AND tier = ?2" : "",
             cursor_id ? "AND (score < ?3 OR (score = ?3 AND id > ?4))" : "");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        return LSC_ERR_IO;
    }
    sqlite3_bind_int(st, 1, min_score);
    if (tier) {
        bind_text(st, 2, tier);
    }
    if (cursor_id) {
        sqlite3_bind_int(st, 3, cursor_score);
        bind_text(st, 4, cursor_id);
    }
    sqlite3_bind_int64(st, 5, (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_contact_row r;
        fill_row(st, &r);
        fn(ud, &r);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? LSC_OK : LSC_ERR_IO;
}

/* ---- Event log, dead letters -------------------------------------------- */

enum lsc_status store_event_append(struct store *s, const char *event_id,
                                   const char *contact_id, const char *type,
                                   int64_t ts_ms, int64_t received_ms,
                                   const char *source, const char *json,
                                   size_t json_len, int64_t *seq)
{
    sqlite3_stmt *st = stmt(s, ST_EVENT_APPEND);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, event_id);
    bind_text(st, 2, contact_id);
    bind_text(st, 3, type);
    sqlite3_bind_int64(st, 4, ts_ms);
    sqlite3_bind_int64(st, 5, received_ms);
    bind_text(st, 6, source);
    sqlite3_bind_text(st, 7, json, (int)json_len, SQLITE_STATIC);
    if (step_done(st) != LSC_OK) {
        return LSC_ERR_IO;
    }
    if (seq != NULL) {
        *seq = sqlite3_last_insert_rowid(s->db);
    }
    return LSC_OK;
}

enum lsc_status store_events_scan(struct store *s, int64_t after_seq,
                                  size_t limit,
                                  bool (*fn)(void *ud, int64_t seq,
                                             const char *json, size_t len),
                                  void *ud, int64_t *last)
{
    sqlite3_stmt *st = stmt(s, ST_EVENTS_SCAN);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
    int rc;
    int64_t seq = after_seq;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        seq = sqlite3_column_int64(st, 0);
        if (!fn(ud, seq, (const char *)sqlite3_column_text(st, 1),
                (size_t)sqlite3_column_bytes(st, 1))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    if (last != NULL) {
        *last = seq;
    }
    return rc == SQLITE_DONE ? LSC_OK : LSC_ERR_IO;
}

enum lsc_status store_event_count(struct store *s, const char *event_id,
                                  int64_t *count)
{
    sqlite3_stmt *st = stmt(s, ST_EVENT_COUNT);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, event_id);
    int rc = sqlite3_step(st);
    *count = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? LSC_OK : LSC_ERR_IO;
}

enum lsc_status store_dead_letter_add(struct store *s, const char *source,
                                      const char *reason, const void *body,
                                      size_t len, int64_t now_ms)
{
    sqlite3_stmt *st = stmt(s, ST_DEAD_ADD);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    if (len > 65536) {
        len = 65536;
    }
    sqlite3_bind_int64(st, 1, now_ms);
    bind_text(st, 2, source);
    bind_text(st, 3, reason);
    if (body != NULL) {
        sqlite3_bind_blob(st, 4, body, (int)len, SQLITE_STATIC);
    }
    return step_done(st);
}

/* ---- Outbox ------------------------------------------------------------- */

enum lsc_status store_job_enqueue(struct store *s, const char *kind,
                                  const char *key, const void *payload,
                                  size_t len, int64_t not_before_ms,
                                  int64_t now_ms, uint64_t *id)
{
    if (kind == NULL || *kind == '\0' || (len > 0 && payload == NULL) ||
        len > INT_MAX) {
        return LSC_ERR_INVALID_ARG;
    }
    sqlite3_stmt *st;
    if (key != NULL) {
        st = stmt(s, ST_JOB_COALESCE);
        if (st == NULL) {
            return LSC_ERR_IO;
        }
        bind_text(st, 1, kind);
        bind_text(st, 2, key);
        sqlite3_bind_blob(st, 3, len ? payload : "", (int)len,
                          SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, not_before_ms);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if (id != NULL) {
                *id = (uint64_t)sqlite3_column_int64(st, 0);
            }
            sqlite3_step(st);
            sqlite3_reset(st);
            return LSC_OK;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            return LSC_ERR_IO;
        }
    }
    st = stmt(s, ST_JOB_INSERT);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    bind_text(st, 1, kind);
    bind_text(st, 2, key);
    sqlite3_bind_blob(st, 3, len ? payload : "", (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, not_before_ms);
    sqlite3_bind_int64(st, 5, now_ms);
    if (step_done(st) != LSC_OK) {
        return LSC_ERR_IO;
    }
    if (id != NULL) {
        *id = (uint64_t)sqlite3_last_insert_rowid(s->db);
    }
    return LSC_OK;
}

void store_jobs_free(struct store_job *jobs, size_t n)
{
    if (jobs == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(jobs[i].kind);
        free(jobs[i].key);
        free(jobs[i].payload);
    }
    free(jobs);
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? strdup(t) : NULL;
}

enum lsc_status store_job_claim(struct store *s, const char *kind,
                                size_t max, int64_t now_ms,
                                struct store_job **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0) {
        return LSC_OK;
    }
    struct store_job *jobs = calloc(max, sizeof *jobs);
    if (jobs == NULL) {
        return LSC_ERR_NOMEM;
    }
    if (store_begin(s) != LSC_OK) {
        free(jobs);
        return LSC_ERR_IO;
    }
    sqlite3_stmt *st = stmt(s, ST_JOB_CLAIM_SEL);
    enum lsc_status ret = st ? LSC_OK : LSC_ERR_IO;
    size_t k = 0;
    if (st != NULL) {
        bind_text(st, 1, kind);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
        int rc;
        while (k < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_job *j = &jobs[k++];
            j->id = (uint64_t)sqlite3_column_int64(st, 0);
            j->kind = dup_col(st, 1);
            j->key = dup_col(st, 2);
            j->payload_len = (size_t)sqlite3_column_bytes(st, 3);
            j->payload = malloc(j->payload_len + 1);
            if (j->payload != NULL && j->payload_len > 0) {
                memcpy(j->payload, sqlite3_column_blob(st, 3), j->payload_len);
            }
            j->attempt = (uint32_t)sqlite3_column_int(st, 4) + 1;
            j->enqueued_ms = sqlite3_column_int64(st, 5);
            if (j->kind == NULL || j->payload == NULL) {
                ret = LSC_ERR_NOMEM;
            }
        }
        sqlite3_reset(st);
    }
    for (size_t i = 0; ret == LSC_OK && i < k; i++) {
        sqlite3_stmt *up = stmt(s, ST_JOB_START);
        if (up == NULL) {
            ret = LSC_ERR_IO;
            break;
        }
        sqlite3_bind_int64(up, 1, (sqlite3_int64)jobs[i].id);
        ret = step_done(up);
    }
    if (ret == LSC_OK) {
        ret = store_commit(s);
    }
    if (ret != LSC_OK) {
        store_rollback(s);
        store_jobs_free(jobs, k);
        return ret;
    }
    if (k == 0) {
        free(jobs);
        jobs = NULL;
    }
    *out = jobs;
    *n = k;
    return LSC_OK;
}

enum lsc_status store_job_requeue_started(struct store *s, uint64_t *n)
{
    /* A started job whose (kind, key) now has a newer unstarted job is
     * superseded: drop it instead of violating the coalescing index. */
    if (exec(s->db,
             "DELETE FROM outbox AS o WHERE started = 1 AND key IS NOT NULL "
             "AND EXISTS (SELECT 1 FROM outbox AS p WHERE p.kind = o.kind "
             "AND p.key = o.key AND p.started = 0)") != LSC_OK ||
        exec(s->db, "UPDATE outbox SET started = 0 WHERE started = 1") !=
            LSC_OK) {
        return LSC_ERR_IO;
    }
    if (n != NULL) {
        *n = (uint64_t)sqlite3_changes(s->db);
    }
    return LSC_OK;
}

/* A job run again after retry_after_ms, or dropped when a newer
 * unstarted job with the same kind+key supersedes it (the retry would
 * send stale data). */
static enum lsc_status requeue_one(struct store *s, uint64_t id,
                                   int64_t retry_after_ms, const char *why,
                                   int64_t now_ms)
{
    sqlite3_stmt *sup = stmt(s, ST_JOB_SUPERSEDED);
    if (sup == NULL) {
        return LSC_ERR_IO;
    }
    sqlite3_bind_int64(sup, 1, (sqlite3_int64)id);
    bool superseded = sqlite3_step(sup) == SQLITE_ROW;
    sqlite3_reset(sup);
    sqlite3_stmt *st = stmt(s, superseded ? ST_JOB_DELETE : ST_JOB_RETRY);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    if (!superseded) {
        sqlite3_bind_int64(st, 2,
                           now_ms + (retry_after_ms > 0 ? retry_after_ms : 0));
        bind_text(st, 3, why);
    }
    return step_done(st);
}

/* One job's outcome (see store_job_finish), inside the caller's
 * transaction.  *dead (may be NULL) tells whether it was dead-lettered. */
static enum lsc_status finish_one(struct store *s, uint64_t id,
                                  enum lsc_status status,
                                  int64_t retry_after_ms, const char *reason,
                                  uint32_t max_attempts, int64_t now_ms,
                                  bool *dead_out)
{
    enum lsc_status ret = LSC_OK;
    bool dead = false;
    char why[300];
    snprintf(why, sizeof why, "%s",
             reason && *reason ? reason : lsc_status_str(status));
    if (status == LSC_OK) {
        sqlite3_stmt *st = stmt(s, ST_JOB_DELETE);
        ret = st ? LSC_OK : LSC_ERR_IO;
        if (st) {
            sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
            ret = step_done(st);
        }
    } else if (status == LSC_DEFERRED) {
        /* Not tried (a paused connector): give back the attempt the
         * claim counted, so waiting never dead-letters a job. */
        sqlite3_stmt *u = stmt(s, ST_JOB_UNCOUNT);
        if (u == NULL) {
            return LSC_ERR_IO;
        }
        sqlite3_bind_int64(u, 1, (sqlite3_int64)id);
        ret = step_done(u);
        if (ret == LSC_OK) {
            ret = requeue_one(s, id, retry_after_ms, why, now_ms);
        }
    } else if (status == LSC_ERR_RETRYABLE) {
        /* Attempts so far. */
        sqlite3_stmt *q = stmt(s, ST_JOB_ATTEMPTS);
        int attempts = 0;
        if (q == NULL) {
            return LSC_ERR_IO;
        }
        sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
        if (sqlite3_step(q) == SQLITE_ROW) {
            attempts = sqlite3_column_int(q, 0);
        }
        sqlite3_reset(q);
        if (max_attempts > 0 && (uint32_t)attempts >= max_attempts) {
            dead = true;
            char tmp[sizeof why];
            snprintf(tmp, sizeof tmp, "gave up after %d attempts: %.250s",
                     attempts, why);
            snprintf(why, sizeof why, "%s", tmp);
        } else {
            ret = requeue_one(s, id, retry_after_ms, why, now_ms);
        }
    } else {
        dead = true;
    }
    if (ret == LSC_OK && dead) {
        sqlite3_stmt *st = stmt(s, ST_JOB_TO_DEAD);
        ret = st ? LSC_OK : LSC_ERR_IO;
        if (st) {
            sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
            sqlite3_bind_int64(st, 2, now_ms);
            bind_text(st, 3, why);
            ret = step_done(st);
        }
        if (ret == LSC_OK) {
            st = stmt(s, ST_JOB_DELETE);
            ret = st ? LSC_OK : LSC_ERR_IO;
            if (st) {
                sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
                ret = step_done(st);
            }
        }
    }
    if (dead_out != NULL) {
        *dead_out = ret == LSC_OK && dead;
    }
    return ret;
}

enum lsc_status store_job_finish(struct store *s, uint64_t id,
                                 enum lsc_status status,
                                 int64_t retry_after_ms, const char *reason,
                                 uint32_t max_attempts, int64_t now_ms)
{
    enum lsc_status ret = store_begin(s);
    if (ret != LSC_OK) {
        return ret;
    }
    ret = finish_one(s, id, status, retry_after_ms, reason, max_attempts,
                     now_ms, NULL);
    if (ret == LSC_OK) {
        ret = store_commit(s);
    }
    if (ret != LSC_OK) {
        store_rollback(s);
    }
    return ret;
}

enum lsc_status store_job_finish_many(struct store *s,
                                      struct store_job_result *res, size_t n,
                                      uint32_t max_attempts, int64_t now_ms)
{
    if (n == 0) {
        return LSC_OK;
    }
    if (res == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    enum lsc_status ret = store_begin(s);
    if (ret != LSC_OK) {
        return ret;
    }
    for (size_t i = 0; ret == LSC_OK && i < n; i++) {
        ret = finish_one(s, res[i].id, res[i].status, res[i].retry_after_ms,
                         res[i].reason, max_attempts, now_ms, &res[i].dead);
    }
    if (ret == LSC_OK) {
        ret = store_commit(s);
    }
    if (ret != LSC_OK) {
        /* all or nothing: every job stays started, as claimed */
        store_rollback(s);
        for (size_t i = 0; i < n; i++) {
            res[i].dead = false;
        }
    }
    return ret;
}

static enum lsc_status count_one(struct store *s, enum stmt_id id,
                                 int64_t *v, int64_t dflt)
{
    sqlite3_stmt *st = stmt(s, id);
    if (st == NULL) {
        return LSC_ERR_IO;
    }
    int rc = sqlite3_step(st);
    *v = dflt;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *v = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? LSC_OK : LSC_ERR_IO;
}

enum lsc_status store_outbox_depth(struct store *s, int64_t *pending,
                                   int64_t *dead)
{
    enum lsc_status r = count_one(s, ST_OUTBOX_DEPTH, pending, 0);
    if (r == LSC_OK && dead != NULL) {
        r = count_one(s, ST_OUTBOX_DEAD, dead, 0);
    }
    return r;
}

enum lsc_status store_outbox_next_due(struct store *s, int64_t *due_ms)
{
    return count_one(s, ST_OUTBOX_NEXT, due_ms, INT64_MAX);
}
