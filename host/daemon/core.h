/*
 * leadscored core: hosts the plugin (through host/lib's loader), owns
 * the single writer thread that applies events in grouped transactions,
 * the job worker threads that run the outbox, the wake_ms / tick
 * schedule, reloads, the contact queries and the metrics.
 *
 * Threads: core_submit() and the query functions may be called from any
 * thread; core_reload() and core_destroy() from the main thread only.
 */
#ifndef LSC_DAEMON_CORE_H
#define LSC_DAEMON_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

#include "config.h"

struct core;

/* CORE_SRC_MAILCHIMP: its webhook; CORE_SRC_MAILCHIMP_ACTIVITY: the
 * periodic email-activity import (mcimport.h). */
enum core_source { CORE_SRC_API, CORE_SRC_HUBSPOT, CORE_SRC_MAILCHIMP,
                   CORE_SRC_MAILCHIMP_ACTIVITY, CORE_SRC_REPLAY,
                   CORE_SRC_COUNT };

enum core_line_status { CORE_LINE_ACCEPTED, CORE_LINE_DUPLICATE,
                        CORE_LINE_REJECTED };

/* One event of a batch.  `json`/`len`: borrowed from the submitter;
 * `reject` (borrowed, may be NULL): a reason found before submission:
 * the writer only dead-letters the line.  Results are filled by the
 * writer. */
struct core_line {
    const char *json;
    size_t len;
    const char *reject;
    /* only for a contact the store has (else rejected, not dead-lettered):
     * properties read for it from a CRM must not bring back one deleted
     * meanwhile */
    bool existing_only;
    enum core_line_status status;
    char event_id[128]; /* the id, for duplicates ("" when none) */
    char reason[256];   /* rejected: why */
};

/*
 * A batch of events from one request, owned by the submitter, which keeps
 * it alive until `done` runs (on the writer thread, after the commit).
 * On return `status` is LSC_OK when the results were durably committed,
 * else (LSC_ERR_IO...) nothing of the batch is acknowledged.
 */
struct core_batch {
    enum core_source source;
    struct core_line *lines;
    size_t n;
    /* A whole-request dead letter (reason + body, borrowed), or NULL. */
    const char *dead_reason;
    const void *dead_body;
    size_t dead_len;
    void (*done)(void *ud, struct core_batch *b);
    void *ud;
    /* Filled by the writer. */
    enum lsc_status status;
    size_t accepted, duplicates, rejected;
    struct core_batch *next; /* queue link, private */
};

/*
 * Open the store, load and create the plugin, start the writer, worker
 * and schedule threads.  Takes ownership of cfg on success.  On failure
 * a one-line reason in err (and cfg is still the caller's).
 */
enum lsc_status core_create(struct dconfig *cfg, const char *plugin_path,
                            struct core **out, char *err, size_t errlen);

/* Drain the queue (every submitted batch completes), stop the threads,
 * call the plugin's shutdown handler, destroy it, close the store.
 * Accepts NULL. */
void core_destroy(struct core *c);

/* Start the periodic connector imports (mailchimp.activity_import) after
 * core_create() (not for an offline rescore): checks the mapping (a
 * refused one is LSC_ERR_CONFIG with the reason in err) and starts the
 * import thread.  Main thread. */
enum lsc_status core_start_imports(struct core *c, char *err, size_t errlen);

/* Stop the periodic connector imports (mailchimp.activity_import):
 * a running one is interrupted, its checkpoint stays.  Idempotent; main
 * thread.  core_destroy() calls it too. */
void core_stop_imports(struct core *c);

/* Queue a batch for the writer.  Returns false when the daemon is
 * stopping and refuses new work; b->done() has then run already with
 * LSC_ERR_UNSUPPORTED. */
bool core_submit(struct core *c, struct core_batch *b);

/* Stop accepting: later core_submit() calls complete at once with
 * LSC_ERR_UNSUPPORTED. */
void core_refuse(struct core *c);

/* Wait (at most timeout_ms) until every submitted batch completed.
 * True when idle. */
bool core_drain(struct core *c, int64_t timeout_ms);

/* The active configuration, borrowed until the next core_reload(); call
 * from the main thread, or under core_cfg_lock()/core_cfg_unlock(). */
const struct dconfig *core_config(struct core *c);
void core_cfg_lock(struct core *c);
void core_cfg_unlock(struct core *c);

/*
 * Reload: load the config file again and call the plugin's reload
 * handler with the new configuration, with events and jobs paused.  On
 * any failure the old configuration and models stay.
 */
enum lsc_status core_reload(struct core *c, char *err, size_t errlen);

/* JSON of one contact (score, tier, per-model report, last `history`
 * score changes): malloc'ed, caller frees.  LSC_ERR_NOT_FOUND. */
enum lsc_status core_contact_json(struct core *c, const char *id,
                                  size_t history, char **json);

/* JSON page of contacts: {"contacts":[...],"next_cursor":...}. */
enum lsc_status core_contacts_json(struct core *c, const char *tier,
                                   int min_score, size_t limit,
                                   const char *cursor, char **json,
                                   char *err, size_t errlen);

/* Prometheus text exposition; malloc'ed, caller frees. */
char *core_metrics(struct core *c);

/* Counters the HTTP layer bumps. */
void core_count_auth_failure(struct core *c, enum core_source src);
void core_count_rate_limited(struct core *c);
void core_count_too_large(struct core *c);
void core_observe_request(struct core *c, int64_t ns);

/*
 * Rescore: replay the whole event log under the models of `cfg` with a
 * second plugin instance while ingestion continues, then swap it in:
 * the tail of the log that arrived meanwhile is replayed with events
 * paused, the recomputed states and scores replace the stored ones in
 * one transaction, and the new instance becomes the live one.  *events
 * (may be NULL) receives the number of events replayed.  Takes ownership
 * of cfg (it becomes the live configuration on success).
 */
enum lsc_status core_rescore(struct core *c, struct dconfig *cfg,
                             uint64_t *events, char *err, size_t errlen);

int64_t core_now_ms(void);

#endif
