/*
 * leadscored: the periodic Mailchimp email-activity import
 * (mailchimp.activity_import in the config; docs/daemon.md).
 *
 * A thread runs the import every interval.  The network part runs in a
 * child process (this binary in a hidden mode, mcimport_child_main):
 * the connector's HTTP calls cannot be interrupted, and a child can be
 * killed at once on SIGTERM.  The child writes the events as JSON Lines
 * on a pipe and ends with one "#end" line; the thread feeds the lines to
 * the core in batches (the path of POST /v1/events: event log, dedup by
 * event id, scoring, jobs), waits for each commit, and writes the
 * checkpoint only when the whole run was committed.
 */
#ifndef LSC_DAEMON_MCIMPORT_H
#define LSC_DAEMON_MCIMPORT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

struct core;
struct mcimport;

/* The first argument of the hidden child mode. */
#define MCIMPORT_CHILD_FLAG "--internal-mailchimp-activity-import"

/* Why a run failed (leadscored_connector_errors_total{error=...}). */
enum mcimport_err {
    MCIMPORT_ERR_RATE_LIMITED, /* 429 (or 403 without a body) to the end */
    MCIMPORT_ERR_UNAVAILABLE,  /* transport failure, timeout, 5xx */
    MCIMPORT_ERR_AUTH,         /* key or token refused, not connected */
    MCIMPORT_ERR_FINAL,        /* other answers, bad data, child crash */
    MCIMPORT_ERR_COMMIT,       /* the store refused the events */
    MCIMPORT_ERR_COUNT
};

const char *mcimport_err_name(enum mcimport_err e);

/* Counters, owned by the core so they survive a restart of the
 * importer on reload.  Updated by the import thread. */
struct mcimport_stats {
    atomic_uint_fast64_t runs_ok, runs_failed;
    atomic_uint_fast64_t errors[MCIMPORT_ERR_COUNT];
    atomic_int_fast64_t last_success_ms; /* 0: never */
    atomic_int_fast64_t checkpoint_ms;   /* 0: none yet */
};

struct mcimport_settings {
    const char *mapping;    /* the Mailchimp mapping */
    const char *checkpoint; /* resolved path of the checkpoint file */
    const char *data_dir;   /* credentials (OAuth) */
    int64_t interval_ms;
    size_t batch;           /* events per submitted batch */
};

/* Start the thread (first run at once).  Everything is copied; `stats`
 * and `c` are borrowed until mcimport_stop().  *out owned by the
 * caller. */
enum lsc_status mcimport_start(struct core *c,
                               const struct mcimport_settings *s,
                               struct mcimport_stats *stats,
                               struct mcimport **out, char *err,
                               size_t errlen);

/* Stop promptly: kills a running child (its uncommitted events are
 * dropped and the checkpoint stays), waits for a batch already
 * submitted, joins the thread.  NULL ok.  The core must still accept
 * or refuse batches while this runs. */
void mcimport_stop(struct mcimport *m);

/* The hidden child mode: argv = exe FLAG MAPPING DATA_DIR SINCE_MS|none.
 * Writes event lines then "#end <status> <checkpoint|none> <events>
 * <throttled> <reason>" on stdout.  Returns the exit code. */
int mcimport_child_main(int argc, char **argv);

#endif
