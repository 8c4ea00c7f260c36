/*
 * The `leadscore` command-line host: shared declarations.
 *
 * Every command is one file (cmd_<name>.c) exporting one function of
 * type cli_cmd_fn, listed in the table in main.c.  Commands that replay
 * an event stream through the plugin use struct cli_session (session.c).
 */
#ifndef LSC_CLI_H
#define LSC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <leadscore/plugin.h>

#include "contacts.h"
#include "dedup.h"
#include "event_json.h"
#include "feed.h"
#include "loader.h"
#include "output.h"

/* Exit codes, documented in docs/cli.md and leadscore(1). */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_INPUT = 1,   /* rejected input lines, or an invalid file */
    CLI_EXIT_USAGE = 2,   /* bad command line */
    CLI_EXIT_PLUGIN = 3,  /* plugin or model could not be loaded */
    CLI_EXIT_IO = 4,      /* a file could not be read or written */
    CLI_EXIT_INTERNAL = 5 /* out of memory, plugin failure at run time */
};

/* Options given before the command, borrowed from argv. */
/* Longest input line (bytes, newline excluded) by default: 1 MiB. */
#define CLI_MAX_LINE_DEFAULT ((size_t)1 << 20)

struct cli_global {
    const char *plugin; /* --plugin PATH, or NULL */
    int verbose;        /* -v: plugin INFO and DEBUG lines on stderr */
    size_t max_line;    /* --max-line BYTES; 0 = CLI_MAX_LINE_DEFAULT */
    int threads;        /* --threads 1|2; 0: 2 when two CPUs are there */
};

/* A command: argv[0] is the command name; returns an enum cli_exit. */
typedef int (*cli_cmd_fn)(int argc, char **argv, struct cli_global *g);

int cmd_validate(int argc, char **argv, struct cli_global *g);
int cmd_score(int argc, char **argv, struct cli_global *g);
int cmd_explain(int argc, char **argv, struct cli_global *g);
int cmd_compare(int argc, char **argv, struct cli_global *g);
int cmd_sync(int argc, char **argv, struct cli_global *g);
int cmd_connect(int argc, char **argv, struct cli_global *g);
int cmd_setup(int argc, char **argv, struct cli_global *g);
int cmd_backfill(int argc, char **argv, struct cli_global *g);
int cmd_import(int argc, char **argv, struct cli_global *g);
int cmd_rescore(int argc, char **argv, struct cli_global *g);

/* "leadscore: <message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Handle a global option (--plugin, -v) met inside a command's getopt
 * loop: returns true when `opt` was one. */
bool cli_global_option(struct cli_global *g, int opt, const char *arg);

/* getopt_long ids of the global options, shared by every command. */
#define CLI_OPT_PLUGIN 0x100
#define CLI_OPT_VERBOSE 'v'

/* The last entries of a command's getopt_long table (with "vh" in its
 * short options): the global options and -h, --help. */
#define CLI_OPTIONS_END                                  \
    {"plugin", required_argument, NULL, CLI_OPT_PLUGIN}, \
    {"verbose", no_argument, NULL, CLI_OPT_VERBOSE},     \
    {"help", no_argument, NULL, 'h'},                    \
    {0}

/* The end of a command's option switch, for an option it does not take
 * itself: a global option is taken (true: parsing goes on); -h prints
 * usage on stdout, anything else on stderr, and false is returned with
 * the exit code (CLI_EXIT_OK, CLI_EXIT_USAGE) in *rc. */
bool cli_common_option(struct cli_global *g, int opt, const char *arg,
                       void (*usage)(FILE *), int *rc);

/* ---- Sessions: a plugin fed by an event stream -------------------------- */

#define CLI_MAX_CONFIG 8

/* Called for every model's report of a contact (primary first; `index`
 * 0 = primary; `r` borrowed for the call), then once more with index
 * CLI_REPORT_END and r NULL when the contact is done. */
#define CLI_REPORT_END SIZE_MAX
typedef void (*cli_report_fn)(void *ud, size_t index,
                              const struct lsc_report *r);

struct cli_session {
    struct cli_global *g;
    struct hl_plugin *plugin;
    struct hl_contacts *contacts;
    struct hl_dedup *dedup;

    const char *config_keys[CLI_MAX_CONFIG];
    const char *config_values[CLI_MAX_CONFIG]; /* borrowed */
    size_t n_config;

    int64_t clock_ms;         /* stream clock; INT64_MIN before any event */
    int64_t eval_ms;          /* what now_ms() answers while reporting */
    bool reporting;
    struct hl_contact *report_cur; /* the contact being reported */
    const char *only_contact; /* deliver only this contact's events */

    /* Effects of the event being delivered, applied on LSC_OK. */
    struct hl_contact *cur;
    bool state_pending;
    unsigned char *state_buf;
    size_t state_len, state_cap;
    int64_t state_wake;
    struct hl_buf transitions_pending;
    FILE *transitions;        /* --transitions, or NULL */

    /* validate: plugin INFO lines go here (stdout). */
    FILE *info_out;
    size_t diag_errors, diag_warnings;
    /* validate -: the plugin reads stdin's copy at file_alias_from; the
     * messages show file_alias_to ("<stdin>") instead.  NULL: none. */
    const char *file_alias_from, *file_alias_to;

    /* Counters for --stats. */
    uint64_t lines, applied, duplicates, rejected, refused, skipped;
    uint64_t read_refused; /* cli_session_apply_read() refusals */
    uint64_t n_transitions;

    /* Pending wake times (a min-heap, stale entries dropped lazily).
     * lazy_wakes: nobody sees the order of tier changes across contacts
     * (no --transitions file, no jobs), so a contact's wakes are run just
     * before its next event or its report instead: same results, no heap
     * and no evaluation at a random time (a cache miss each). */
    bool lazy_wakes;
    struct cli_wake *wakes;
    size_t n_wakes, wakes_cap;

    cli_report_fn report_fn;
    void *report_ud;
    size_t report_index;

    /* sync, backfill: the plugin's job queue and data directory (NULL:
     * not offered to the plugin).  event_done(job_ud, applied) follows
     * every delivery, so jobs enqueued by a refused event are dropped. */
    enum lsc_status (*job_enqueue)(void *ud, const char *kind,
                                   const char *key, const void *payload,
                                   size_t len, int64_t not_before_ms);
    void (*event_done)(void *ud, bool applied);
    /* sync: a props_write() a job handler makes (no event being
     * delivered), for the queue to apply as a contact.updated event
     * (the read path); NULL: dropped like the others. */
    enum lsc_status (*job_props)(void *ud, const char *contact_id,
                                 const struct lsc_prop *props, size_t n);
    void *job_ud;
    const char *data_dir;

    char *models_joined; /* cli_session_start's `models` value (owned) */
};

/* Zero the session and create its store and dedup set.  Returns
 * false when out of memory. */
bool cli_session_init(struct cli_session *s, struct cli_global *g);

/* Add a configuration key for the plugin; value borrowed (must outlive
 * the session). */
void cli_session_config(struct cli_session *s, const char *key,
                        const char *value);

/*
 * Load and create the plugin.  Returns CLI_EXIT_OK, or CLI_EXIT_PLUGIN
 * (cannot load, or create() refused: the reason is printed), or
 * CLI_EXIT_INPUT when create() failed after reporting file diagnostics
 * (*create_status gets create()'s status; may be NULL).
 */
int cli_session_load(struct cli_session *s, enum lsc_status *create_status);

/*
 * Give the plugin `models` (borrowed; "\n" between paths) and load it, for
 * a command that scores: a model with errors cannot score anything, so
 * every failure of cli_session_load is CLI_EXIT_PLUGIN (reason printed).
 * Set other configuration keys and the job queue before.
 */
int cli_session_load_models(struct cli_session *s, const char *models);

/*
 * score, explain, compare: cli_session_init, then cli_session_load_models
 * with the --model paths (borrowed) joined by "\n" into a copy the session
 * owns.  Returns CLI_EXIT_OK, CLI_EXIT_INTERNAL ("out of memory") or
 * CLI_EXIT_PLUGIN.  Call cli_session_finish whatever it returns.
 */
int cli_session_start(struct cli_session *s, struct cli_global *g,
                      const char *const *models, size_t n_models);

/* Replay a JSON Lines file ("-" = stdin).  Rejected lines are reported
 * on stderr as "NAME:LINE: message"; a line longer than g->max_line bytes
 * is rejected ("line longer than N bytes") and skipped without being
 * kept in memory.  Returns CLI_EXIT_OK or CLI_EXIT_IO / CLI_EXIT_INTERNAL. */
int cli_session_feed(struct cli_session *s, const char *path);

/* Apply one event built by the caller (backfill): dedup, merge, deliver,
 * as a line of cli_session_feed.  LSC_OK when applied, else the refusal
 * with its reason in err. */
enum lsc_status cli_session_apply(struct cli_session *s,
                                  struct lsc_event *ev, char *err,
                                  size_t errlen);

/* Apply a re-scoring that is not an input event (sync's read path:
 * properties read from a CRM): as cli_session_apply(), but out of the
 * input's figures (events read, applied, rejected); a refusal counts in
 * read_refused. */
enum lsc_status cli_session_apply_read(struct cli_session *s,
                                       struct lsc_event *ev, char *err,
                                       size_t errlen);

/*
 * For each contact sorted by id (or only `only_contact`): deliver an
 * EVALUATE at `as_of_ms` (INT64_MIN: the final stream clock), then ask
 * the report handler, calling fn for each model's report.  Returns
 * CLI_EXIT_OK or CLI_EXIT_INTERNAL.
 */
int cli_session_report(struct cli_session *s, int64_t as_of_ms,
                       cli_report_fn fn, void *ud);

/* The evaluation time cli_session_report uses for `as_of_ms`. */
int64_t cli_session_eval_time(const struct cli_session *s, int64_t as_of_ms);

/* Print the run summary to stderr. */
void cli_session_stats(const struct cli_session *s);

/* Close the plugin, free everything.  Accepts NULL. */
void cli_session_finish(struct cli_session *s);

/* Parse --as-of (RFC 3339 or Unix seconds); prints an error and returns
 * false when invalid. */
bool cli_parse_time(const char *opt, const char *arg, int64_t *ms);

#endif /* LSC_CLI_H */
