/*
 * The CLI's durable job queue for `sync` and `backfill`: the plugin's
 * job_enqueue service backed by the SQLite outbox of host/store (a file
 * in the data directory), and a runner that hands due jobs to the
 * plugin's job handlers until the queue is drained.
 *
 * Jobs enqueued while an event is delivered are held until the session
 * says the event was applied (cli_session.event_done), then written to
 * the outbox; a refused event's jobs are dropped.  Coalescing by (kind,
 * key) is the store's: a queued job not started yet is replaced.
 */
#ifndef LSC_CLI_SYNC_QUEUE_H
#define LSC_CLI_SYNC_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>

#include "cli.h"

#define CLI_DATA_DIR_DEFAULT "./leadscore-data"

struct store;
struct cli_jobq_pending;
struct cli_jobq_props;

struct cli_jobq {
    struct store *store;
    struct cli_jobq_pending *pend; /* jobs of the event being delivered */
    size_t n_pend, cap_pend;
    bool in_tx;
    bool failed;           /* an enqueue could not be stored */
    uint32_t max_attempts; /* per job, across runs */
    int64_t max_wait_ms;   /* longest the runner waits for a retry */
    bool progress;         /* a progress line on stderr (a terminal) */
    /* read path: properties job handlers wrote (props_write), applied
     * as contact.updated events between two kinds' runs */
    struct cli_jobq_props *rp;
    size_t n_rp, cap_rp;
    pthread_mutex_t rp_lock;
    bool rp_lock_ok;
    /* figures of this run */
    uint64_t enqueued, runs, sent, retried, dead, left;
    uint64_t skipped;        /* sent jobs whose reason says "skipped: " */
    char skip_reason[256];   /* the first such reason, without "skipped: " */
};

/* sync's and backfill's --max-attempts N and --max-wait SECONDS. */
struct cli_jobq_limits {
    long max_attempts; /* runs of a job before it is dead-lettered */
    long max_wait_s;   /* longest wait for a retry */
};
#define CLI_JOBQ_LIMITS_DEFAULT {.max_attempts = 10, .max_wait_s = 60}

/* The getopt_long ids of those two options. */
#define CLI_OPT_MAX_ATTEMPTS 'A'
#define CLI_OPT_MAX_WAIT 'W'

/* Take --max-attempts (1..1000) or --max-wait (0..86400) into *l; an
 * invalid value is printed as "CMD: --max-... must be ..." and false
 * returned. */
bool cli_jobq_limit_option(struct cli_jobq_limits *l, const char *cmd,
                           int opt, const char *arg);

/* Open the outbox in data_dir (created when missing) with the limits
 * `l` (copied) and hook it into the session (job_enqueue, event_done,
 * data_dir).  durable false: a commit survives a crash or an interrupt,
 * not a power failure (cheap per-event commits for backfill).  Returns a
 * CLI exit code; prints the reason. */
int cli_jobq_open(struct cli_jobq *q, struct cli_session *s,
                  const char *data_dir, const struct cli_jobq_limits *l,
                  bool durable);

/* Group the enqueues that follow into one transaction (speed); commit
 * makes them durable. */
int cli_jobq_begin(struct cli_jobq *q);
int cli_jobq_commit(struct cli_jobq *q);

/* Read path: a props_write() from a job handler is kept (copied) and,
 * after that kind's batches are done, applied to the session as a
 * contact.updated event at the stream clock, so the contact is re-scored
 * (its new write-backs are queued, replacing those not sent yet).  Call
 * after cli_jobq_open; the plugin is told with the configuration key
 * connectors_read. */
void cli_jobq_read_path(struct cli_jobq *q, struct cli_session *s);

/* Run due jobs through the plugin's handlers, honouring retry_after_ms
 * and max_attempts, until the queue is empty, only unrunnable jobs
 * remain, or the next retry is more than max_wait_ms away.  Dead-lettered
 * jobs are printed on stderr with their reason.  Returns a CLI exit
 * code (CLI_EXIT_OK even when jobs were dead-lettered). */
int cli_jobq_drain(struct cli_jobq *q, struct cli_session *s);

/* "sync: N jobs sent, R retried, D dead-lettered, L left queued". */
void cli_jobq_summary(const struct cli_jobq *q, FILE *f);

void cli_jobq_close(struct cli_jobq *q); /* rolls back an open tx */

/* A minimal host for the admin commands that call the connectors
 * directly (connect, setup, backfill, import): logs and diagnostics on
 * stderr, the data directory.  `api.host` points back to the struct. */
struct cli_admin {
    struct lsc_host_api api;
    const char *data_dir;
    int verbose;
    size_t diag_errors;
};
void cli_admin_init(struct cli_admin *a, const char *data_dir, int verbose);

/* The "connector" of a mapping file ("" when absent or not JSON). */
void cli_mapping_kind(const char *path, char *out, size_t outlen);

/* Wall-clock Unix milliseconds. */
int64_t cli_wall_ms(void);

/* Append the comma-separated paths of `arg` to *joined as lines
 * (malloc()ed, grows).  False when out of memory. */
bool cli_join_paths(char **joined, const char *arg);

#endif
