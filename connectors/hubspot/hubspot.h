/*
 * HubSpot connector (internal to leadscore).
 *
 * API facts: ../shared/docs/crm-apis.md section 1.  User docs:
 * docs/connectors/hubspot.md.  Mapping file: config/connectors/hubspot.json
 * (schema "leadscore.connector/1").
 *
 * Layers:
 *   - hs_config.c: the mapping file, validated with every problem
 *     reported as a struct lsc_diagnostic (file, line, column, path);
 *   - hs_build.c / hs_parse.c: pure request builders and answer parsers;
 *   - hs_client.c: struct hubspot_client, one per HubSpot account: HTTP
 *     (connector core), rate limiter, OAuth session or static token,
 *     setup, batch read/update, contact paging for backfill with a
 *     checkpoint, the `connect` flow.
 *
 * Ownership: strings returned through char * are malloc()ed; the caller
 * frees them.  Error text goes to caller-owned err/errlen buffers (one
 * line, never a secret).
 */
#ifndef LSC_CONNECTORS_HUBSPOT_H
#define LSC_CONNECTORS_HUBSPOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

#include "core/clog.h"
#include "core/oauth.h"
#include "core/retry.h"

#define HUBSPOT_SCHEMA "leadscore.connector/1"
#define HUBSPOT_BATCH_MAX 100
#define HUBSPOT_DEFAULT_BASE_URL "https://api.hubapi.com"
#define HUBSPOT_DEFAULT_AUTHORIZE_URL "https://app.hubspot.com/oauth/authorize"
#define HUBSPOT_DEFAULT_VERSION "2026-03"
#define HUBSPOT_TOKEN_MAX 2048

/* ---- Mapping configuration (hs_config.c) -------------------------------- */

enum hubspot_auth {
    HUBSPOT_AUTH_OAUTH = 0,
    HUBSPOT_AUTH_STATIC = 1, /* private app token or Service Key */
};

enum hubspot_action_on {
    HUBSPOT_ON_ENTER = 0,
    HUBSPOT_ON_LEAVE = 1,
};

struct hubspot_input {
    char *property; /* HubSpot contact property */
    char *field;    /* model field it feeds */
};

struct hubspot_action {
    enum hubspot_action_on on;
    char *tier;
    bool write_tier;        /* write the tier property at once */
    char *tag;              /* add (enter) / remove (leave) in tags prop */
    char *webhook_url;      /* POST the signed transition, or NULL */
    char *webhook_secret_env; /* env var holding the signing secret */
};

struct hubspot_config {
    char *path;              /* as given */
    char *base_url;          /* https://api.hubapi.com */
    char *api_version;       /* "2026-03" or "v3" */
    char *token_url;         /* default base_url/oauth/<version>/token */
    char *authorize_url;     /* default HUBSPOT_DEFAULT_AUTHORIZE_URL */
    enum hubspot_auth auth;
    char *client_id;         /* oauth */
    char *client_secret_env; /* oauth: env var with the client secret */
    char *token_env;         /* static: env var with the token */
    int redirect_port;       /* loopback port for connect (0: any) */
    char *scopes;            /* space-separated, derived from the mapping */
    char *credentials_file;  /* relative to the data dir */
    char *id_property;       /* NULL: contact ids are record ids */
    struct hubspot_input *inputs;
    size_t n_inputs;
    char *group_name;
    char *group_label;
    char *prop_score;        /* required */
    char *prop_tier;         /* required */
    char *prop_fit;          /* optional (NULL) */
    char *prop_engagement;
    /* Model groups whose contributions add up to the fit and engagement
     * values (defaults {"fit"} and {"engagement"}); groups the model does
     * not have are skipped. */
    char **fit_groups;
    size_t n_fit_groups;
    char **engagement_groups;
    size_t n_engagement_groups;
    bool fit_groups_explicit;        /* named in the mapping */
    bool engagement_groups_explicit;
    char *prop_reasons;
    char *prop_scored_at;
    char *prop_tags;         /* multi-checkbox for tag actions, optional */
    char **tiers;            /* model tiers, the tier property's options */
    size_t n_tiers;
    int tiers_line, tiers_col; /* where "tiers" is in the file (0: unknown) */
    bool sync_scores;        /* write score/tier on every change */
    int rate_max;            /* requests per rate_interval_ms (100) */
    int64_t rate_interval_ms; /* 10000 */
    int64_t rate_max_wait_ms; /* how long a job waits for a token (10000) */
    int batch_size;          /* 1..100 */
    long timeout_ms;
    long connect_timeout_ms;
    int64_t refresh_skew_ms;
    struct retry_policy retry;
    struct hubspot_action *actions;
    size_t n_actions;
};

typedef void (*hubspot_diag_fn)(void *ud, const struct lsc_diagnostic *d);

/* Parses and validates a mapping.  Every problem goes to diag (may be
 * NULL) with file, line, column and JSON path; returns LSC_ERR_CONFIG
 * when any has severity ERROR (err gets the first one and a count).
 * *out is caller-owned storage filled on LSC_OK (release with
 * hubspot_config_finish()). */
enum lsc_status hubspot_config_parse(const char *path, const char *text,
                                     size_t len, hubspot_diag_fn diag,
                                     void *ud, struct hubspot_config *out,
                                     char *err, size_t errlen);
/* Reads the file then hubspot_config_parse(). */
enum lsc_status hubspot_config_load(const char *path, hubspot_diag_fn diag,
                                    void *ud, struct hubspot_config *out,
                                    char *err, size_t errlen);
void hubspot_config_finish(struct hubspot_config *c); /* NULL ok */

/* ---- Paths and builders (hs_build.c) ------------------------------------ */

enum hubspot_endpoint {
    HUBSPOT_EP_CONTACTS = 0,        /* /crm/objects/<v>/contacts */
    HUBSPOT_EP_BATCH_READ = 1,      /* .../contacts/batch/read */
    HUBSPOT_EP_BATCH_UPDATE = 2,    /* .../contacts/batch/update */
    HUBSPOT_EP_PROPERTIES = 3,      /* /crm/properties/<v>/contacts */
    HUBSPOT_EP_GROUPS = 4,          /* .../contacts/groups */
    HUBSPOT_EP_TOKEN = 5,           /* /oauth/<v>/token */
};

/* Path (no base URL) for the API version ("2026-03" or "v3") into out. */
void hubspot_path(const char *version, enum hubspot_endpoint ep, char *out,
                  size_t outlen);
/* base_url + path; malloc()ed. */
char *hubspot_url(const struct hubspot_config *c, enum hubspot_endpoint ep,
                  const char *suffix /* "/name" or "?q", may be NULL */);

/* Scopes the mapping needs, space-separated; malloc()ed. */
char *hubspot_scopes(const struct hubspot_config *c);

char *hubspot_build_group(const struct hubspot_config *c);

enum hubspot_prop_kind {
    HUBSPOT_PROP_SCORE = 0,
    HUBSPOT_PROP_TIER,
    HUBSPOT_PROP_FIT,
    HUBSPOT_PROP_ENGAGEMENT,
    HUBSPOT_PROP_REASONS,
    HUBSPOT_PROP_SCORED_AT,
    HUBSPOT_PROP_TAGS,
    HUBSPOT_PROP_COUNT
};
/* The configured property name of a kind, or NULL when not mapped. */
const char *hubspot_prop_name(const struct hubspot_config *c,
                              enum hubspot_prop_kind k);
/* Property definition (POST /crm/properties/<v>/contacts); NULL when the
 * kind is not mapped.  `options` only for PATCH of enumerations: with
 * only_options the body is {"options":[..]}. */
char *hubspot_build_property(const struct hubspot_config *c,
                             enum hubspot_prop_kind k, bool only_options);

/* {"inputs":[{"id":..}],"properties":[..][,"idProperty":..]} */
char *hubspot_build_batch_read(const char *const *ids, size_t n,
                               const char *const *props, size_t n_props,
                               const char *id_property);

struct hubspot_kv {
    const char *name;
    const char *value; /* a string: HubSpot property values are strings */
};
struct hubspot_update {
    const char *id;
    const struct hubspot_kv *props;
    size_t n_props;
};
/* {"inputs":[{"id":..,["idProperty":..,]"properties":{..}}]}; NULL when
 * n is 0 or above HUBSPOT_BATCH_MAX. */
char *hubspot_build_batch_update(const struct hubspot_update *u, size_t n,
                                 const char *id_property);

/* Query for the contact list: "?limit=100&properties=a,b[&after=..]". */
char *hubspot_build_list_query(const struct hubspot_config *c, int limit,
                               const char *after);

/* ---- Parsers (hs_parse.c) ----------------------------------------------- */

/* Per-input outcome of a batch call (200 or 207). */
struct hubspot_input_result {
    enum lsc_status status; /* LSC_OK, LSC_ERR_RETRYABLE, LSC_ERR_PERMANENT */
    bool rate_limited;      /* category RATE_LIMITS: wait a whole window */
    char reason[200];
};
/* Fills res[i] for ids[i].  For 207: inputs named in errors[].context.ids
 * fail with that error's category/message; with `by_record_id`, inputs
 * missing from results[] (and not named) fail too.  Retryable categories:
 * RATE_LIMITS, and errors whose status is 429/5xx/423.  LSC_ERR_PARSE on a
 * malformed body. */
enum lsc_status hubspot_parse_batch_result(long http_status, const char *body,
                                           size_t len,
                                           const char *const *ids, size_t n,
                                           bool by_record_id,
                                           struct hubspot_input_result *res,
                                           char *err, size_t errlen);

/* Contact objects from a list or batch-read answer; every pointer is
 * borrowed for the duration of the callback. */
typedef enum lsc_status (*hubspot_contact_fn)(void *ud, const char *id,
                                              const struct lsc_prop *props,
                                              size_t n);
/* Calls fn for each results[] object with its properties (strings; JSON
 * null becomes LSC_VAL_NULL); *next_after (malloc()ed, or NULL at the
 * end) gets paging.next.after.  Stops at the first fn error and returns
 * it. */
enum lsc_status hubspot_parse_contacts(const char *body, size_t len,
                                       hubspot_contact_fn fn, void *ud,
                                       char **next_after, char *err,
                                       size_t errlen);

/* ---- Client (hs_client.c) ----------------------------------------------- */

struct hubspot_client;

/* Creates the client for one account.  cfg is copied by reference: it
 * must outlive the client.  data_dir (borrowed during the call) holds the
 * credentials file and the backfill checkpoint.  log is copied (its
 * pointers borrowed for the client's life).  Secrets come from the
 * environment variables the mapping names. */
enum lsc_status hubspot_client_create(const struct hubspot_config *cfg,
                                      const char *data_dir,
                                      const struct clog *log,
                                      struct hubspot_client **out, char *err,
                                      size_t errlen);
void hubspot_client_destroy(struct hubspot_client *c); /* NULL ok */

/* The client's redactor (to redact other lines with the same secrets). */
struct secrets_redactor *hubspot_client_redactor(struct hubspot_client *c);

/* One API call with auth, rate limiting, one refresh-and-retry on 401
 * and header feedback into the limiter.  No retry otherwise: *o tells the
 * outcome.  resp is caller storage (http_response_finish()).  body may be
 * NULL. */
void hubspot_call(struct hubspot_client *c, const char *method,
                  const char *url, const char *body,
                  struct http_response *resp, struct outcome *o);
/* The same with up to cfg->retry.max_attempts attempts, waiting the
 * backoff in between, for at most max_total_ms (interactive commands). */
void hubspot_call_retry(struct hubspot_client *c, const char *method,
                        const char *url, const char *body,
                        int64_t max_total_ms, struct http_response *resp,
                        struct outcome *o);

/* Creates the property group and properties (409 = exists; enumeration
 * options are then PATCHed).  Idempotent. */
enum lsc_status hubspot_setup(struct hubspot_client *c, char *err,
                              size_t errlen);

/* Batch update, n <= 100; fills res[i].  The call-level outcome goes to
 * *o (LSC_OK when res is meaningful). */
void hubspot_batch_update(struct hubspot_client *c,
                          const struct hubspot_update *u, size_t n,
                          struct hubspot_input_result *res, struct outcome *o);

/* Batch read of `props` for ids (n <= 100); fn per contact found. */
enum lsc_status hubspot_batch_read(struct hubspot_client *c,
                                   const char *const *ids, size_t n,
                                   const char *const *props, size_t n_props,
                                   hubspot_contact_fn fn, void *ud,
                                   struct outcome *o);

/* Backfill: one page of contacts (mapped input properties renamed to
 * model fields) to fn, then the checkpoint (in the data dir) advances.
 * *done when the last page was delivered.  Resumes after the last
 * checkpointed page.  restart: forget the checkpoint first. */
enum lsc_status hubspot_backfill_step(struct hubspot_client *c, bool restart,
                                      hubspot_contact_fn fn, void *ud,
                                      bool *done, size_t *delivered,
                                      char *err, size_t errlen);

/* ---- Connect flow ------------------------------------------------------- */

struct hubspot_connect;

/* Opens the loopback listener (cfg->redirect_port), makes state and PKCE
 * verifier and the authorize URL (*url, malloc()ed).  *out caller-owned. */
enum lsc_status hubspot_connect_begin(struct hubspot_client *c,
                                      struct hubspot_connect **out,
                                      char **url, char *err, size_t errlen);
/* Waits for the redirect, checks state, exchanges the code, stores the
 * tokens, then confirms (hubspot_confirm). */
enum lsc_status hubspot_connect_finish(struct hubspot_client *c,
                                       struct hubspot_connect *h,
                                       int64_t timeout_ms, char *err,
                                       size_t errlen);
void hubspot_connect_free(struct hubspot_connect *h); /* NULL ok */

/* Confirms the credentials by reading the account's contact properties
 * (GET /crm/properties/<v>/contacts) and warns (log) about each mapped
 * input property, and the id property, the account does not have.  A
 * missing one is not an error: the mapping may name a property created
 * later. */
enum lsc_status hubspot_confirm(struct hubspot_client *c, char *err,
                                size_t errlen);

struct hubspot_status {
    enum hubspot_auth auth;
    enum oauth_state state;
    int64_t expires_at_ms;   /* INT64_MAX: never */
    bool backfill_done;
    long backfill_pages;
    long backfill_contacts;
    bool backfill_started;
};
void hubspot_status(struct hubspot_client *c, struct hubspot_status *st);

#endif
