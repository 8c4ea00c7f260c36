/*
 * leadscore connectors: the small API the plugin and the CLI call.
 *
 * The plugin (inside create()):
 *     connectors_create(host, host->config_get(host->host, "connectors"),
 *                       NULL, &conn, err, errlen);
 *     connectors_register_jobs(conn, my_job_trampoline);
 *   where my_job_trampoline(plugin, jobs, results, n) calls
 *     connectors_run_jobs(plugin->conn, jobs, results, n);
 *   in event handlers, after a score is computed:
 *     connectors_on_score(conn, &score, err, errlen);     (enqueues, never
 *                                                          blocks on I/O)
 *     connectors_on_transition(conn, &transition, reasons, n, err, errlen);
 *   in destroy(): connectors_destroy(conn).
 * The CLI: connectors_setup(), connectors_backfill_step() in a loop,
 * connectors_connect_begin()/_finish(), connectors_status().
 *
 * Jobs (durable, run by the host's workers through connectors_run_jobs):
 *   "hubspot.write"   key "hubspot:<contact>": latest score/tier/fit/
 *                     engagement/reasons/scored_at of a contact (coalesced
 *                     by the host: only the latest value is sent), up to
 *                     100 per batch update; the payload holds the strings
 *                     sent (version 2; version 1 numbers still accepted);
 *   "hubspot.action"  key "hubspot:action:<delivery id>": tier write and
 *                     tag add/remove of one transition;
 *   "webhook.deliver" key "webhook:<delivery id>": one signed POST;
 *   "hubspot.read"    key "hubspot:read:<contact>" (read path, when
 *                     enabled): batch read of the mapped input
 *                     properties, up to batch_size (<= 100) contacts
 *                     per call; the values found, renamed to model
 *                     fields, go to host->props_write() from the job
 *                     handler, which a host enabling the read path
 *                     applies as a contact.updated event (re-scoring
 *                     the contact).
 * A value equal to the last one HubSpot acknowledged for the contact is
 * not enqueued again (while nothing else is pending for it); the value is
 * score, tier and the fit, engagement and reasons strings, not the
 * scoring time (a new scored_at alone is no reason to write).
 *
 * Ownership: `host` is borrowed and must outlive the connectors; every
 * other argument is borrowed for the call.  Error text goes into
 * caller-owned err/errlen buffers.
 *
 * Threads: on_score/on_transition may run concurrently for different
 * contacts; run_jobs concurrently for different kinds.
 */
#ifndef LSC_CONNECTORS_H
#define LSC_CONNECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

#define CONNECTORS_JOB_HUBSPOT_WRITE "hubspot.write"
#define CONNECTORS_JOB_HUBSPOT_ACTION "hubspot.action"
#define CONNECTORS_JOB_WEBHOOK "webhook.deliver"
#define CONNECTORS_JOB_HUBSPOT_READ "hubspot.read"
/* The first write of a contact whose event queued a read of its inputs
 * waits this long (a host honouring not_before), so the re-scored value
 * replaces it before it is sent. */
#define CONNECTORS_READ_GRACE_MS 3000
/* connectors_on_event remembers at most this many checked contacts; the
 * next one makes it forget them all (memory stays bounded). */
#define CONNECTORS_READ_SEEN_MAX (1u << 20)
/* A paused connector (re-authorization needed) asks for its jobs again
 * after this long, without spending their retry budget. */
#define CONNECTORS_PAUSE_MS (5 * 60 * 1000)

struct connectors;

/* A model group's contribution (after its max) at the evaluation time. */
struct connectors_group {
    const char *name;
    double value;
};

/* One contributing rule: its current points (fit points, or the worth of
 * its awards after decay) and number of awards (0: a fit rule). */
struct connectors_reason {
    const char *rule;
    double points;
    uint32_t awards;
};

/* Rules listed in the reasons property and the webhook body. */
#define CONNECTORS_TOP_REASONS 3
/* Bytes of the reasons property at most: well below HubSpot's limit for
 * a string property, and short enough to read on a contact record. */
#define CONNECTORS_REASONS_MAX 1000

/* One computed score of the primary model, borrowed for the call.  The
 * connector sums the groups its mapping names into fit and engagement. */
struct connectors_score {
    const char *contact_id;
    int score;
    const char *tier;
    const struct connectors_group *groups; /* every group, may be NULL */
    size_t n_groups;
    /* top contributors, most important first (|points| descending), at
     * most CONNECTORS_TOP_REASONS used; may be NULL */
    const struct connectors_reason *reasons;
    size_t n_reasons;
    int64_t at_ms;           /* evaluation time */
};

/* What the configured outputs and actions need from the plugin. */
#define CONNECTORS_NEED_GROUPS 0x1u      /* fit/engagement mapped */
#define CONNECTORS_NEED_REASONS 0x2u     /* the reasons property mapped */
#define CONNECTORS_NEED_HOOK_REASONS 0x4u /* a webhook action exists */
unsigned connectors_needs(const struct connectors *c);

/* `groups` (borrowed) are the primary model's group names: logs a warning
 * for every fit/engagement group the mapping names that the model lacks,
 * and for a mapped fit/engagement property none of whose groups exist
 * (it is then not written). */
void connectors_check_groups(struct connectors *c, const char *model,
                             const char *const *groups, size_t n);

/* The reasons property's text: "rule +15; rule +14.11 (2 awards); ..."
 * (at most CONNECTORS_TOP_REASONS rules, points rounded to 2 decimals,
 * cut to CONNECTORS_REASONS_MAX bytes at a rule boundary, a single
 * over-long rule id at a UTF-8 boundary).  out needs outlen >= 1.
 * Returns strlen(out). */
size_t connectors_format_reasons(const struct connectors_reason *r, size_t n,
                                 char *out, size_t outlen);

/* A number with at most 2 decimals and no trailing zeros ("40", "40.5",
 * "-3.25"), as written to HubSpot number properties. */
void connectors_format_num(double v, char *out, size_t outlen);

/* Builds the connectors from `mapping_files`: the plugin's `connectors`
 * configuration value, file paths one per line (NULL or "": no
 * connector).  A file whose "connector" is "hubspot" is loaded and
 * validated (problems go to host->diagnostic); files of other connectors
 * (mailchimp) are left to them.  Secrets come from the environment
 * variables the mapping names.  data_dir NULL: the host's data_dir(),
 * else ".".  *out is caller-owned (connectors_destroy). */
enum lsc_status connectors_create(const struct lsc_host_api *host,
                                  const char *mapping_files,
                                  const char *data_dir,
                                  struct connectors **out, char *err,
                                  size_t errlen);

/* `leadscore validate FILE`: checks one mapping file without connecting
 * or reading secrets; every problem goes to host->diagnostic.  With
 * `tiers` (a model's n tier names, borrowed; NULL: no model) also what
 * connectors_check_tiers() checks, reported the same way.
 * LSC_ERR_UNSUPPORTED for a connector these sources do not handle. */
enum lsc_status connectors_validate_file(const struct lsc_host_api *host,
                                         const char *path,
                                         const char *const *tiers, size_t n,
                                         char *err, size_t errlen);
void connectors_destroy(struct connectors *c); /* NULL ok */

/* Registers `fn` (a trampoline to connectors_run_jobs) for every job kind
 * with host->register_job.  Only during the plugin's create(). */
enum lsc_status connectors_register_jobs(struct connectors *c, lsc_job_fn fn);

enum lsc_status connectors_on_score(struct connectors *c,
                                    const struct connectors_score *s,
                                    char *err, size_t errlen);

/* Read path.  Enabled only by a host that applies props_write() made
 * from a job handler as a contact.updated event (plugin configuration
 * key "connectors_read"); off by default, and without mapped inputs. */
void connectors_set_read_inputs(struct connectors *c, bool on);
/* For every event of a contact (event handler, never blocks on the
 * network): the first time a contact is seen, checks its stored
 * properties for every mapped input's model field and, when one is
 * missing (or null), enqueues a "hubspot.read" job.  A contact is
 * checked once per connectors instance (again after
 * CONNECTORS_READ_SEEN_MAX other contacts).  The contact's score write
 * that follows on the same thread is enqueued CONNECTORS_READ_GRACE_MS
 * later. */
enum lsc_status connectors_on_event(struct connectors *c,
                                    const char *contact_id, char *err,
                                    size_t errlen);

/* Runs the configured actions of a transition of the primary model
 * (t->primary false: ignored). */
enum lsc_status connectors_on_transition(struct connectors *c,
                                         const struct lsc_transition *t,
                                         const struct connectors_reason *reasons,
                                         size_t n_reasons, char *err,
                                         size_t errlen);

/* The job handler body: fills results[i] for jobs[i] (all of one kind). */
enum lsc_status connectors_run_jobs(struct connectors *c,
                                    const struct lsc_job *jobs,
                                    struct lsc_job_result *results, size_t n);

/* `leadscore setup hubspot`: property group and properties. */
enum lsc_status connectors_setup(struct connectors *c, char *err,
                                 size_t errlen);

/* One backfill page: fn(ud, contact id, props renamed to model fields, n)
 * per contact; the checkpoint advances only when every fn call returned
 * LSC_OK.  Call until *done. */
typedef enum lsc_status (*connectors_contact_fn)(void *ud, const char *id,
                                                 const struct lsc_prop *props,
                                                 size_t n);
enum lsc_status connectors_backfill_step(struct connectors *c, bool restart,
                                         connectors_contact_fn fn, void *ud,
                                         bool *done, size_t *delivered,
                                         char *err, size_t errlen);

/* `leadscore connect hubspot`: begin prints *url (malloc()ed, caller
 * frees) for the browser; finish waits for the loopback redirect. */
struct connectors_connect;
enum lsc_status connectors_connect_begin(struct connectors *c,
                                         struct connectors_connect **h,
                                         char **url, char *err,
                                         size_t errlen);
enum lsc_status connectors_connect_finish(struct connectors *c,
                                          struct connectors_connect *h,
                                          int64_t timeout_ms, char *err,
                                          size_t errlen);
void connectors_connect_free(struct connectors_connect *h); /* NULL ok */

/* True when a HubSpot mapping is loaded; *connected (may be NULL) tells
 * whether it has credentials (a static token, or OAuth done) -- also when
 * HubSpot refused them: the connector then pauses its jobs. */
bool connectors_has_hubspot(struct connectors *c, bool *connected);

/* LSC_ERR_CONFIG (reason "FILE:LINE:COL: ..." with a hint in err) when
 * the HubSpot mapping's "tiers" (the tier property's options) lack one
 * of the model's n tiers: HubSpot would refuse every write of that tier.
 * LSC_OK without a HubSpot mapping. */
enum lsc_status connectors_check_tiers(struct connectors *c,
                                       const char *const *tiers, size_t n,
                                       char *err, size_t errlen);

/* True when HubSpot uses OAuth and its grant was refused (revoked, or
 * the refresh failed): only the OAuth flow again resumes the queue. */
bool connectors_hubspot_reauth_needed(struct connectors *c);

/* Confirms the HubSpot credentials by reading the account's contact
 * properties, warning (host log) about mapped input properties the
 * account does not have (`leadscore connect hubspot` with a static
 * token; the OAuth flow does the same after the code exchange). */
enum lsc_status connectors_confirm(struct connectors *c, char *err,
                                   size_t errlen);

/* `leadscore connect --status`: one line per connector into out. */
void connectors_status(struct connectors *c, char *out, size_t outlen);

#endif
