/*
 * The leadscored store: one SQLite database (WAL mode) under the data
 * directory holding contacts and their properties, the plugin's
 * per-contact state blobs, the append-only event log, seen event ids,
 * score history, dead letters and the durable job queue (outbox).
 *
 * One struct store is one SQLite connection: use it from one thread at a
 * time.  Threads that need the database open their own store; SQLite
 * (WAL, busy timeout) arbitrates between them.
 *
 * Ownership: every pointer argument is borrowed for the call; strings and
 * blobs handed to the store are copied into the database.  Pointers the
 * store hands to a callback are borrowed for that callback only.
 */
#ifndef LSC_HOST_STORE_H
#define LSC_HOST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 3

/* The database file name inside the data directory. */
#define STORE_DB_NAME "leadscored.db"

struct store;
struct sqlite3;

struct store_options {
    /* synchronous=FULL (every commit is fsync'ed) when true, NORMAL
     * otherwise (a commit may be lost on power failure, never on a
     * process crash). */
    bool durable;
    int busy_timeout_ms; /* 0: 10000 */
    bool read_only;      /* a reader connection: no migrations */
    /* No automatic WAL checkpoint at commit (the writer): another
     * connection calls store_checkpoint() instead. */
    bool no_autocheckpoint;
};

/* Open (create, migrate) the store in `dir` (created when missing).  On
 * success *out owns the connection; close it with store_close().  On
 * failure writes a one-line reason into err. */
enum lsc_status store_open(const char *dir, const struct store_options *opt,
                           struct store **out, char *err, size_t errlen);

/* Close the connection.  Accepts NULL. */
void store_close(struct store *s);

/* A passive WAL checkpoint (copies committed pages back into the
 * database without blocking the writer).  *wal_pages (may be NULL)
 * receives the WAL size in pages. */
enum lsc_status store_checkpoint(struct store *s, int *wal_pages);

/* The underlying connection, borrowed (tests, ad-hoc queries). */
struct sqlite3 *store_db(struct store *s);

/* ---- Migrations --------------------------------------------------------- */

/* Bring `db` from its current user_version up to `target` (1 ..
 * STORE_SCHEMA_VERSION), each step in its own transaction.  A database
 * newer than this build is refused with LSC_ERR_CONFIG. */
enum lsc_status store_migrate(struct sqlite3 *db, int target, char *err,
                              size_t errlen);

/* The schema version of an open database, or -1 on error. */
int store_schema_version(struct sqlite3 *db);

/* ---- Transactions ------------------------------------------------------- */

enum lsc_status store_begin(struct store *s);   /* BEGIN IMMEDIATE */
enum lsc_status store_commit(struct store *s);
void store_rollback(struct store *s);
/* A savepoint around one event, so a refused event leaves no trace. */
enum lsc_status store_savepoint(struct store *s);
enum lsc_status store_release(struct store *s);
void store_rollback_to(struct store *s);

/* The last SQLite error message, borrowed until the next call. */
const char *store_errmsg(struct store *s);

/* ---- De-duplication ----------------------------------------------------- */

/* Record `event_id` as seen at now_ms.  *dup is true (and nothing
 * changes) when it was already seen. */
enum lsc_status store_seen_add(struct store *s, const char *event_id,
                               int64_t now_ms, bool *dup);
/* Forget ids seen before `before_ms` (the retention window). */
enum lsc_status store_seen_prune(struct store *s, int64_t before_ms,
                                 uint64_t *removed);

/* ---- Contacts, properties, plugin state --------------------------------- */

/* A contact's properties loaded from the store; owned by the caller, free
 * with store_props_free(). */
struct store_props {
    struct lsc_prop *props;
    size_t n;
    char *arena; /* keys and string values */
};
void store_props_free(struct store_props *p);

/* Create the contact when missing.  *created tells which (may be NULL). */
enum lsc_status store_contact_ensure(struct store *s, const char *id,
                                     int64_t now_ms, bool *created);
/* LSC_ERR_NOT_FOUND when the contact does not exist. */
enum lsc_status store_contact_exists(struct store *s, const char *id);
/* Load the properties into *out (caller frees with store_props_free). */
enum lsc_status store_props_load(struct store *s, const char *id,
                                 struct store_props *out);
/* Merge: a LSC_VAL_NULL value removes the key. */
enum lsc_status store_props_merge(struct store *s, const char *id,
                                  const struct lsc_prop *props, size_t n);
/* Erase the contact, its properties and state (history is kept). */
enum lsc_status store_contact_delete(struct store *s, const char *id);

/* Record `alias` as another id of contact `id` (replacing an older one). */
enum lsc_status store_alias_put(struct store *s, const char *alias,
                                const char *id);
/* The contact `alias` names, copied into id[n]; LSC_ERR_NOT_FOUND when it
 * is no alias. */
enum lsc_status store_alias_get(struct store *s, const char *alias, char *id,
                                size_t n);
/* Whether any alias is recorded (lets callers skip the look-up). */
bool store_has_aliases(struct store *s);

/* Load the plugin's state blob: *blob is malloc'ed (caller frees) or NULL
 * when none is stored. */
enum lsc_status store_state_get(struct store *s, const char *id,
                                void **blob, size_t *len);
/* Store (len > 0) or erase (len == 0) the blob and its wake time. */
enum lsc_status store_state_put(struct store *s, const char *id,
                                const void *blob, size_t len,
                                int64_t wake_ms);
/* Call fn for up to `limit` contacts whose wake_ms <= now_ms, earliest
 * first.  The id is borrowed for the call. */
enum lsc_status store_wake_due(struct store *s, int64_t now_ms, size_t limit,
                               void (*fn)(void *ud, const char *id,
                                          int64_t wake_ms),
                               void *ud);

/* Call fn for up to `limit` contacts holding plugin state whose id sorts
 * after `after_id` ("" for the first page), in id order, with their stored
 * score (-1: never scored).  The id is borrowed for the call. */
enum lsc_status store_state_page(struct store *s, const char *after_id,
                                 size_t limit,
                                 void (*fn)(void *ud, const char *id,
                                            int score),
                                 void *ud);

/* ---- Scores ------------------------------------------------------------- */

/* Record the contact's current score or tier (either may be absent:
 * score < 0 / tier NULL keep the stored one) and append a history row
 * when it changed.  `cause` names the event ("email_open #id"). */
enum lsc_status store_score_set(struct store *s, const char *id, int score,
                                const char *tier, int64_t at_ms,
                                const char *cause);
/* Append a transition (from/to tiers under `model`) to the history. */
enum lsc_status store_transition_add(struct store *s, const char *id,
                                     const char *model, const char *from,
                                     const char *to, int score,
                                     int64_t at_ms, const char *cause);

struct store_contact_row {
    const char *id;
    int score; /* -1: never scored */
    const char *tier; /* or NULL */
    int64_t updated_ms;
};
/* The contact's score row; LSC_ERR_NOT_FOUND when missing. */
enum lsc_status store_contact_get(struct store *s, const char *id,
                                  void (*fn)(void *ud,
                                             const struct store_contact_row *r),
                                  void *ud);

struct store_history_row {
    int64_t at_ms;
    const char *model; /* NULL for the score property */
    int score;
    const char *from; /* or NULL */
    const char *to;   /* or NULL */
    const char *cause;
};
/* The last `limit` history rows of a contact, newest first. */
enum lsc_status store_history(struct store *s, const char *id, size_t limit,
                              void (*fn)(void *ud,
                                         const struct store_history_row *r),
                              void *ud);

/* Hot-lead listing: contacts with `tier` (NULL: any) and score >=
 * min_score, ordered by score descending then id, starting after the
 * cursor (cursor_score, cursor_id; cursor_id NULL for the first page). */
enum lsc_status store_contacts_list(struct store *s, const char *tier,
                                    int min_score, int cursor_score,
                                    const char *cursor_id, size_t limit,
                                    void (*fn)(void *ud,
                                               const struct store_contact_row *r),
                                    void *ud);

/* ---- Event log and dead letters ----------------------------------------- */

/* Append one accepted event (its canonical JSON line) to the log. */
enum lsc_status store_event_append(struct store *s, const char *event_id,
                                   const char *contact_id, const char *type,
                                   int64_t ts_ms, int64_t received_ms,
                                   const char *source, const char *json,
                                   size_t json_len, int64_t *seq);
/* Replay the log in order from seq > after_seq, up to `limit` rows (0: all).
 * fn returns false to stop.  *last receives the last seq delivered. */
enum lsc_status store_events_scan(struct store *s, int64_t after_seq,
                                  size_t limit,
                                  bool (*fn)(void *ud, int64_t seq,
                                             const char *json, size_t len),
                                  void *ud, int64_t *last);
/* Number of events in the log with the given id (tests, audits). */
enum lsc_status store_event_count(struct store *s, const char *event_id,
                                  int64_t *count);

/* Keep rejected input with the reason; `body` is truncated to 64 KiB. */
enum lsc_status store_dead_letter_add(struct store *s, const char *source,
                                      const char *reason, const void *body,
                                      size_t len, int64_t now_ms);

/* ---- Outbox (durable jobs) ---------------------------------------------- */

/* Enqueue a job.  With a non-NULL key, a job of the same kind and key
 * that has not started yet is replaced (payload, not_before), keeping its
 * id and first enqueue time.  *id (may be NULL) receives the job id. */
enum lsc_status store_job_enqueue(struct store *s, const char *kind,
                                  const char *key, const void *payload,
                                  size_t len, int64_t not_before_ms,
                                  int64_t now_ms, uint64_t *id);

/* A claimed job; owned by the caller, free with store_jobs_free(). */
struct store_job {
    uint64_t id;
    char *kind;
    char *key; /* or NULL */
    void *payload;
    size_t payload_len;
    uint32_t attempt; /* 1 on the first run */
    int64_t enqueued_ms;
};
void store_jobs_free(struct store_job *jobs, size_t n);

/* Claim up to max due jobs of `kind` (not_before <= now, not started),
 * in id order: marks them started and increments their attempt count.
 * *out is malloc'ed (caller frees with store_jobs_free). */
enum lsc_status store_job_claim(struct store *s, const char *kind,
                                size_t max, int64_t now_ms,
                                struct store_job **out, size_t *n);
/* Jobs left started by a crashed process become due again. */
enum lsc_status store_job_requeue_started(struct store *s, uint64_t *n);

/* Record a job's outcome: LSC_OK deletes it; LSC_ERR_RETRYABLE makes it
 * due again at now + retry_after_ms unless it reached max_attempts, then
 * it is dead-lettered; LSC_DEFERRED makes it due again at now +
 * retry_after_ms and gives back the attempt its claim counted (never
 * dead-lettered); anything else dead-letters it with `reason`. */
enum lsc_status store_job_finish(struct store *s, uint64_t id,
                                 enum lsc_status status,
                                 int64_t retry_after_ms, const char *reason,
                                 uint32_t max_attempts, int64_t now_ms);

/* One job's outcome for store_job_finish_many. */
struct store_job_result {
    uint64_t id;
    enum lsc_status status;
    int64_t retry_after_ms;
    const char *reason; /* or NULL */
    bool dead;          /* out: the job was dead-lettered */
};

/* store_job_finish for each of n results, all in one transaction: every
 * outcome is recorded or (on error, rolled back) none, and the jobs stay
 * started until requeued.  Fills res[i].dead. */
enum lsc_status store_job_finish_many(struct store *s,
                                      struct store_job_result *res, size_t n,
                                      uint32_t max_attempts, int64_t now_ms);

/* Jobs waiting or running, and dead-lettered jobs. */
enum lsc_status store_outbox_depth(struct store *s, int64_t *pending,
                                   int64_t *dead);
/* Earliest not_before of a pending job of any kind, or INT64_MAX. */
enum lsc_status store_outbox_next_due(struct store *s, int64_t *due_ms);

#endif /* LSC_HOST_STORE_H */
