/*
 * Mailchimp Marketing API 3.0 connector (internal to leadscore).
 *
 * Facts about the API: ../shared/docs/crm-apis.md section 2.  User docs:
 * docs/connectors/mailchimp.md.
 *
 * Layers, bottom up:
 *   - pure helpers (mc_hash.c, mc_build.c, mc_parse.c): subscriber hash,
 *     data center, request bodies, response parsers.  No I/O; unit-tested.
 *   - mapping configuration (mc_config.c): config/connectors/mailchimp.json,
 *     with a validator reporting struct lsc_diagnostic.
 *   - the client (mc_client.c): one struct mailchimp per configured
 *     audience; HTTP through mc_http.c, at most `max_connections`
 *     requests in flight, 120 s timeout.
 *   - operations: setup (merge fields), score write-back (member + tier
 *     tags), activity import (reports -> activity events), OAuth connect.
 *
 * Ownership: every function says who owns what.  Strings returned through
 * `char **` are malloc()ed and the caller frees them with free().  Error
 * text goes to a caller-owned buffer `err` of `errlen` bytes (one line,
 * never a secret).
 *
 * Threads: a struct mailchimp may be used from several threads at once
 * (job handlers run concurrently); it holds no per-call state.
 */
#ifndef LSC_CONNECTORS_MAILCHIMP_H
#define LSC_CONNECTORS_MAILCHIMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <leadscore/plugin.h>

#define MAILCHIMP_HASH_LEN 32          /* hex characters of the MD5 */
#define MAILCHIMP_MERGE_TAG_MAX 10     /* see crm-apis.md 2.4 */
#define MAILCHIMP_MEMBER_TAG_MAX 100   /* see crm-apis.md 2.5 */
#define MAILCHIMP_BATCH_SUBSCRIBE_MAX 500
#define MAILCHIMP_MAX_CONNECTIONS 10   /* per user, crm-apis.md 2.7 */
#define MAILCHIMP_TIMEOUT_MS 120000    /* per call, crm-apis.md 2.7 */
#define MAILCHIMP_SCHEMA "leadscore.connector/1"
#define MAILCHIMP_JOB_KIND "mailchimp.write"

/* ---- Pure helpers (mc_hash.c) ------------------------------------------ */

/* Subscriber hash: lowercase hex MD5 (OpenSSL EVP) of the trimmed,
 * lower-cased (ASCII) email.  `out` is caller-owned, at least 33 bytes.
 * LSC_ERR_INVALID_ARG for an empty address or one without '@'. */
enum lsc_status mailchimp_subscriber_hash(const char *email, char *out,
                                          size_t outlen, char *err,
                                          size_t errlen);

/* Normalized email (trimmed, ASCII lower case) into caller-owned `out`. */
enum lsc_status mailchimp_email_normalize(const char *email, char *out,
                                          size_t outlen);

/* Data center of an API key: the suffix after the last '-' ("us6"), into
 * caller-owned `dc`.  LSC_ERR_CONFIG when the key has no valid suffix. */
enum lsc_status mailchimp_dc_from_key(const char *key, char *dc,
                                      size_t dclen, char *err, size_t errlen);

/* True for a data center name: 2..4 lowercase letters then 1..3 digits
 * ("us6", "us21").  It becomes part of the API host name, so nothing
 * else (dots, slashes, '@', upper case) is accepted. */
bool mailchimp_dc_valid(const char *dc);

/* True for a merge tag Mailchimp accepts: 1..10 of [A-Z0-9_]. */
bool mailchimp_merge_tag_valid(const char *tag);

/* ---- Request builders (mc_build.c): malloc()ed JSON, caller frees ------- */

/* Tag change for one member: `active` is set active, every name in
 * `inactive` (n_inactive, may be NULL) that differs from `active` is set
 * inactive; duplicates are dropped.  `active` may be NULL (only removals).
 * Body of POST /lists/{id}/members/{hash}/tags. */
char *mailchimp_build_tags(const char *active, const char *const *inactive,
                           size_t n_inactive, bool is_syncing);

/* Merge-field values: {"merge_fields":{SCORE_TAG:score,TIER_TAG:"tier"}},
 * for PATCH /lists/{id}/members/{hash}.  `tier` may be NULL (omitted). */
char *mailchimp_build_member_patch(const char *score_tag, double score,
                                   const char *tier_tag, const char *tier);

/* Upsert body for PUT /lists/{id}/members/{hash}: email_address,
 * status_if_new (required by the spec) and merge_fields. */
char *mailchimp_build_member_put(const char *email, const char *status_if_new,
                                 const char *score_tag, double score,
                                 const char *tier_tag, const char *tier);

/* Merge-field creation body for POST /lists/{id}/merge-fields:
 * {"name":name,"type":type,"tag":tag,"public":false,"required":false}. */
char *mailchimp_build_merge_field(const char *name, const char *type,
                                  const char *tag);

/* One operation of POST /batches; `body` is embedded as a JSON string. */
struct mailchimp_batch_op {
    const char *method;       /* "PUT", "PATCH", "POST" */
    const char *path;         /* relative to /3.0 */
    const char *operation_id; /* may be NULL */
    const char *body;         /* JSON text, may be NULL */
    const char *params;       /* query parameters as a JSON object text,
                                 may be NULL */
};
char *mailchimp_build_batch(const struct mailchimp_batch_op *ops, size_t n);

/* ---- Response parsers (mc_parse.c) -------------------------------------- */

/* One-line reason from an error answer: "HTTP 400 Invalid Resource: Your
 * merge fields were invalid. (LSCORE: Please enter a number)
 * [request 995c...]".  Works for problem+json, other JSON and no body.
 * `request_id` (may be NULL) is the X-Request-Id header, else `instance`
 * from the body is used.  Writes into caller-owned `out`. */
void mailchimp_problem_reason(long http_status, const char *body,
                              size_t body_len, const char *request_id,
                              char *out, size_t outlen);

/* The same without the "[request ...]" part, which differs for every
 * operation: failures of a batch are grouped by this text. */
void mailchimp_problem_summary(long http_status, const char *body,
                               size_t body_len, char *out, size_t outlen);

/* OAuth metadata answer (GET /oauth2/metadata).  dc and api_endpoint go
 * into caller-owned buffers.  LSC_ERR_AUTH when the body carries an
 * "error" key (Mailchimp answers 200 for a bad token), LSC_ERR_PARSE when
 * dc or api_endpoint is missing. */
enum lsc_status mailchimp_parse_metadata(const char *body, size_t len,
                                         char *dc, size_t dclen,
                                         char *api_endpoint, size_t eplen,
                                         char *err, size_t errlen);

/* OAuth token answer: access_token into *token (malloc()ed, caller frees). */
enum lsc_status mailchimp_parse_token(const char *body, size_t len,
                                      char **token, char *err, size_t errlen);

/* Merge fields present in GET /lists/{id}/merge-fields: sets *has_a /
 * *has_b when a field with tag `tag_a` / `tag_b` exists; fills the type
 * found (caller-owned, may be NULL) so setup can report a mismatch.
 * *total_items and *on_page (may be NULL) get the audience's total and
 * the number of fields in this page, for paging. */
enum lsc_status mailchimp_parse_merge_fields(const char *body, size_t len,
                                             const char *tag_a, bool *has_a,
                                             char *type_a, size_t type_a_len,
                                             const char *tag_b, bool *has_b,
                                             char *type_b, size_t type_b_len,
                                             size_t *total_items,
                                             size_t *on_page, char *err,
                                             size_t errlen);

/* Batch-subscribe answer (POST /lists/{id}). */
struct mailchimp_batch_result {
    long total_created;
    long total_updated;
    long error_count;
    char first_error[200]; /* "a@b.c: reason", or "" */
};
enum lsc_status mailchimp_parse_batch_subscribe(const char *body, size_t len,
                                                struct mailchimp_batch_result
                                                    *out,
                                                char *err, size_t errlen);

/* Results archive of a finished batch (mc_batchres.c).  Called once per
 * operation result; `operation_id` and `response` (the operation's answer
 * body, JSON text, may be NULL) are borrowed for the call.  Anything but
 * LSC_OK stops the parse and is returned. */
typedef enum lsc_status (*mailchimp_batch_op_result_fn)(
    void *ud, const char *operation_id, long status_code,
    const char *response, size_t response_len);

/* Reads the gzipped tar at response_body_url (`gz`, borrowed): every
 * regular file is a JSON array of {status_code, operation_id, response}.
 * *n_results (may be NULL) gets the number of results.  LSC_ERR_PARSE
 * for data that is not gzip, a broken tar or a file that is not such an
 * array (err says which). */
enum lsc_status mailchimp_batch_results_parse(
    const void *gz, size_t len, mailchimp_batch_op_result_fn fn, void *ud,
    size_t *n_results, char *err, size_t errlen);

/* ---- Activity (mc_activity.c) ------------------------------------------- */

/* One imported email activity, ready for the engine.  Every pointer is
 * borrowed for the duration of the sink call only. */
struct mailchimp_activity {
    const char *contact_id;    /* mapped contact id (default: the email) */
    const char *email;         /* normalized */
    const char *type;          /* "email_open", "email_click", "email_bounce" */
    int64_t ts_ms;
    const char *event_id;      /* stable, see mailchimp_event_id() */
    const char *campaign_id;
    const char *campaign_type; /* mapped campaign type, or NULL if unknown */
    const char *url;           /* clicks, else NULL */
    const char *bounce_type;   /* bounces ("hard", "soft"), else NULL;
                                  the event attribute "bounce" */
    const struct lsc_prop *props; /* campaign_id, campaign_type, url, ... */
    size_t n_props;
    const char *jsonl;         /* the same event as one JSON line (no
                                  newline), format of scoring-model.md 1 */
};

/* Return LSC_OK to continue; anything else stops the import (the
 * checkpoint then does not advance). */
typedef enum lsc_status (*mailchimp_activity_sink_fn)(
    void *ud, const struct mailchimp_activity *a);

/* What the parser needs to know about the page it reads. */
struct mailchimp_activity_ctx {
    const char *campaign_id;   /* required */
    const char *campaign_type; /* mapped type, or NULL */
    int64_t since_ms;          /* keep activities at or after this
                                  (INT64_MIN: all) */
    bool contact_is_hash;      /* contact id = subscriber hash, else the
                                  normalized email */
};

/* Parse one page of GET /reports/{campaign_id}/email-activity and call
 * `sink` for every activity kept by ctx->since_ms, in page order.
 * *n_emails gets the number of email records on the page, *total_items
 * the collection size, *max_ts_ms the latest activity time seen (left
 * unchanged when none).  Pure: used by the importer and by unit tests.
 * A sink status other than LSC_OK stops the parse and is returned. */
enum lsc_status mailchimp_parse_email_activity(
    const char *body, size_t len, const struct mailchimp_activity_ctx *ctx,
    mailchimp_activity_sink_fn sink, void *ud, size_t *n_emails,
    size_t *total_items, int64_t *max_ts_ms, char *err, size_t errlen);

/* Stable event id of one activity: "mc-" + 32 hex of SHA-256 over
 * campaign id, email id, action, timestamp (ms) and url.  Caller-owned
 * out, >= 36 bytes. */
void mailchimp_event_id(const char *campaign_id, const char *email_id,
                        const char *action, int64_t ts_ms, const char *url,
                        char *out, size_t outlen);

/* RFC 3339 / ISO 8601 time ("2026-11-01T10:00:00+00:00") to Unix ms. */
enum lsc_status mailchimp_parse_time(const char *s, int64_t *ms);
/* Unix ms to "YYYY-MM-DDTHH:MM:SS+00:00" into caller-owned out (>= 26). */
void mailchimp_format_time(int64_t ms, char *out, size_t outlen);

/* ---- Mapping configuration (mc_config.c) -------------------------------- */

enum mailchimp_unknown {
    MAILCHIMP_UNKNOWN_SKIP = 0,   /* default: count, never subscribe */
    MAILCHIMP_UNKNOWN_CREATE = 1, /* PUT with status_if_new */
};

struct mailchimp_tier_tag {
    char *tier; /* engine tier name */
    char *tag;  /* Mailchimp member tag (<= 100 chars) */
};

struct mailchimp_campaign_type {
    char *mailchimp; /* "regular", "rss", ... */
    char *leadscore; /* "newsletter", ... */
};

/* An "actions" entry: the signed webhook on entering or leaving a tier
 * (docs/connectors/webhook-action.md); run by the connectors facade. */
struct mailchimp_action {
    bool on_leave;            /* "leave"; else "enter" */
    char *tier;
    char *webhook_url;
    char *webhook_secret_env; /* env var holding the signing secret */
};

/* Parsed mapping.  Owned by whoever called mailchimp_config_load();
 * free with mailchimp_config_destroy(). */
struct mailchimp_config {
    char *list_id;
    char *auth;              /* auth.type: "api_key" or "oauth" */
    char *api_key_env;       /* env var holding the key (default
                                MAILCHIMP_API_KEY) */
    char *client_id;         /* OAuth app (connect only), may be NULL */
    char *client_secret_env; /* env var with the OAuth client secret
                                (default MAILCHIMP_CLIENT_SECRET) */
    int redirect_port;       /* loopback port for connect (default 3000) */
    char *credentials_file;  /* OAuth token file, relative to data_dir */
    char *api_base;          /* override ("http://127.0.0.1:PORT/3.0"),
                                else from the dc */
    char *login_base;        /* override of https://login.mailchimp.com */
    char *score_tag;         /* default LSCORE */
    char *score_name;        /* default "Lead score" */
    char *tier_tag;          /* default LTIER */
    char *tier_name;         /* default "Lead tier" */
    char *email_property;    /* contact property with the email: "email" */
    char *contact_id_from;   /* activity: "email" (default) or
                                "subscriber_hash" */
    enum mailchimp_unknown unknown_members;
    char *create_status;     /* status_if_new with UNKNOWN_CREATE:
                                "subscribed", "pending", "transactional",
                                "unsubscribed" (default "transactional") */
    bool tags_trigger_automations; /* false -> is_syncing:true */
    struct mailchimp_tier_tag *tiers;
    size_t n_tiers;
    struct mailchimp_campaign_type *campaign_types;
    size_t n_campaign_types;
    int max_connections;     /* 1..10, default 10 */
    long timeout_ms;         /* 1..120000, default 120000 */
    int max_attempts;        /* per request inside one job run, default 3 */
    bool activity_import;    /* default true */
    int activity_lookback_days; /* campaigns sent in the last N days are
                                   scanned (default 30) */
    int activity_overlap_minutes; /* re-read this much before the
                                     checkpoint (default 60); duplicates
                                     keep their ids and are dropped */
    long backoff_base_ms;    /* first in-call retry delay (default 500) */
    long job_backoff_base_ms; /* first delay of a failed job (default 30 s) */
    long job_backoff_cap_ms;  /* its ceiling (default 1 h) */
    struct mailchimp_action *actions;
    size_t n_actions;
};

/* Every field at its default (strings allocated).  LSC_ERR_NOMEM leaves
 * nothing to free beyond mailchimp_config_destroy(). */
enum lsc_status mailchimp_config_init(struct mailchimp_config *c);
/* Deep copy of src into dst (dst's old content is not freed). */
enum lsc_status mailchimp_config_copy(struct mailchimp_config *dst,
                                      const struct mailchimp_config *src);
void mailchimp_config_destroy(struct mailchimp_config *c); /* NULL ok */

/* A mapped campaign type ("regular" -> "newsletter"), else `type` itself
 * (borrowed from c or from the argument). */
const char *mailchimp_config_campaign_type(const struct mailchimp_config *c,
                                           const char *type);

/* The member tag for a tier: the configured one, else "leadscore-<tier>"
 * written into caller-owned out. */
void mailchimp_config_tier_tag(const struct mailchimp_config *c,
                               const char *tier, char *out, size_t outlen);

/* Diagnostic sink (same shape as host->diagnostic). */
typedef void (*mailchimp_diag_fn)(void *ud, const struct lsc_diagnostic *d);

/* Validate and load a mapping from JSON text.  Every problem is reported
 * through `diag` (may be NULL) with file, line, column and JSON path.
 * On success *out is filled (caller owns it, free with
 * mailchimp_config_destroy); on failure it is left cleared.  Returns
 * LSC_ERR_CONFIG when at least one error was reported, and the number of
 * errors in *n_errors (may be NULL). */
enum lsc_status mailchimp_config_parse(const char *text, size_t len,
                                       const char *file,
                                       mailchimp_diag_fn diag, void *ud,
                                       struct mailchimp_config *out,
                                       size_t *n_errors);

/* Same from a file; an unreadable file is one diagnostic (line 0). */
enum lsc_status mailchimp_config_load(const char *path,
                                      mailchimp_diag_fn diag, void *ud,
                                      struct mailchimp_config *out,
                                      size_t *n_errors);

/* mailchimp_config_load() that also warns about "tiers" entries and
 * actions naming a tier the model (its n tier names, borrowed) lacks:
 * `leadscore validate --model`. */
enum lsc_status mailchimp_config_load_for_model(const char *path,
                                                const char *const *tiers,
                                                size_t n,
                                                mailchimp_diag_fn diag,
                                                void *ud,
                                                struct mailchimp_config *out,
                                                size_t *n_errors);

/* ---- The client (mc_client.c) ------------------------------------------- */

struct mailchimp;

/* Credentials: exactly one of api_key / oauth_token.  Copied. */
struct mailchimp_credentials {
    const char *api_key;     /* "<key>-usN" */
    const char *oauth_token; /* with dc (from the metadata endpoint) */
    const char *dc;          /* needed with oauth_token unless api_base */
};

/* Create a client for `cfg` (copied) and `cred` (copied; kept in memory
 * only, never logged).  *out is owned by the caller; free with
 * mailchimp_destroy(). */
enum lsc_status mailchimp_create(const struct mailchimp_config *cfg,
                                 const struct mailchimp_credentials *cred,
                                 struct mailchimp **out, char *err,
                                 size_t errlen);
void mailchimp_destroy(struct mailchimp *mc); /* NULL ok */

/* Shares the 10-connection budget with every client, in any process, that
 * names the same directory (borrowed) for the same API base: each request
 * then also holds one of limits.max_connections lock files there
 * (mailchimp-conn-<hash>-<k>.lock, flock: freed by the kernel when a
 * process dies), waiting while all are held.  Call once, before any
 * request.  LSC_ERR_IO (reason in err) when the files cannot be opened. */
enum lsc_status mailchimp_share_connections(struct mailchimp *mc,
                                            const char *dir, char *err,
                                            size_t errlen);

/* True once the API refused the credentials (401, or 403 "User
 * Disabled"/"API Key Invalid"): the connector is in "re-authorize needed"
 * state and every write answers LSC_ERR_AUTH without a request.  The
 * state is also persisted (mailchimp_reauth_state()); any answer past
 * authentication (e.g. mailchimp_setup() from `connect mailchimp`)
 * clears both. */
bool mailchimp_needs_reauth(const struct mailchimp *mc);

/* Counters since create (for the daemon's metrics and tests). */
struct mailchimp_stats {
    uint64_t requests;          /* HTTP requests sent */
    uint64_t throttled;         /* 429 answers */
    uint64_t written;           /* members updated */
    uint64_t created;           /* members created (UNKNOWN_CREATE) */
    uint64_t skipped_unknown;   /* members not in the audience, skipped */
    uint64_t max_in_flight;     /* highest number of concurrent requests */
};
void mailchimp_stats_get(const struct mailchimp *mc,
                         struct mailchimp_stats *out);

/* Setup: create the score (number) and tier (text) merge fields when
 * missing.  Idempotent.  *created (may be NULL) gets how many were
 * created. */
enum lsc_status mailchimp_setup(struct mailchimp *mc, int *created,
                                char *err, size_t errlen);

/* One score write-back. */
struct mailchimp_write {
    const char *email;     /* required */
    double score;
    const char *tier;      /* new tier, may be NULL (score only) */
    const char *from_tier; /* previous tier, may be NULL */
};

enum mailchimp_write_outcome {
    MAILCHIMP_WRITE_UPDATED = 0,
    MAILCHIMP_WRITE_CREATED = 1,
    MAILCHIMP_WRITE_SKIPPED_UNKNOWN = 2,
};

/* Write score and tier to the member; on a tier set, the new tier's tag
 * goes active and the previous one's (and every other configured tier
 * tag's) inactive.  Retries transient failures up to max_attempts inside
 * the call.  Returns LSC_OK (outcome in *outcome, may be NULL),
 * LSC_ERR_RETRYABLE (with *retry_after_ms, may be NULL), LSC_ERR_AUTH or
 * LSC_ERR_PERMANENT, each with a one-line reason (X-Request-Id included
 * when the server gave one). */
enum lsc_status mailchimp_write(struct mailchimp *mc,
                                const struct mailchimp_write *w,
                                enum mailchimp_write_outcome *outcome,
                                int64_t *retry_after_ms, char *err,
                                size_t errlen);

/* Job payload for the plugin's durable queue: compact JSON
 * {"email":..,"score":..,"tier":..,"from":..}.  *out malloc()ed. */
enum lsc_status mailchimp_job_payload(const struct mailchimp_write *w,
                                      char **out, size_t *len);

/* Job handler body: runs every job (payloads from mailchimp_job_payload)
 * and fills results[i].  Register it for MAILCHIMP_JOB_KIND. */
enum lsc_status mailchimp_job_run(struct mailchimp *mc,
                                  const struct lsc_job *jobs,
                                  struct lsc_job_result *results, size_t n);

/* What a backfill batch did, from its status and its results archive. */
#define MAILCHIMP_BACKFILL_REASONS 8
struct mailchimp_backfill_result {
    long errored;         /* errored_operations of the batch status */
    bool results_read;    /* the archive was read; the counts below are
                             from it (else only `errored` is known) */
    char results_error[256]; /* why the archive could not be read, or "" */
    long written;         /* members whose write answered 200 */
    long skipped_unknown; /* 404 under unknown_members "skip": not in the
                             audience (their tag operation's 404 is part
                             of the same skip) */
    long failed;          /* members with any other non-2xx operation */
    long missing;         /* members with an operation absent from the
                             archive */
    /* Distinct failure reasons ("HTTP 400 Invalid Resource: ..."), each
     * with how many members and one example address. */
    struct {
        char reason[200];
        char example[128];
        long count;
    } reasons[MAILCHIMP_BACKFILL_REASONS];
    size_t n_reasons;
    long other_reasons;   /* failures whose reason did not fit the table */
};

/* Bulk backfill through POST /batches (PATCH, or PUT with status_if_new
 * under UNKNOWN_CREATE, plus tag operations), polled to completion within
 * `wait_ms`, then the results archive is read into *res (may be NULL).
 * *batch_id (caller-owned, >= 64 bytes, may be NULL) receives the batch
 * id.  A batch that disappears while polled (404) is LSC_ERR_PERMANENT at
 * once.  An archive that cannot be read leaves res->results_read false
 * (LSC_OK: the writes themselves were done). */
enum lsc_status mailchimp_backfill(struct mailchimp *mc,
                                   const struct mailchimp_write *w, size_t n,
                                   char *batch_id, size_t batch_id_len,
                                   struct mailchimp_backfill_result *res,
                                   int64_t wait_ms, char *err, size_t errlen);

/* Activity import: every sent campaign of the audience (sent within the
 * look-back window), every activity at or after *checkpoint_ms
 * (INT64_MIN: everything), paged with count/offset.  Events go to `sink`
 * campaign by campaign.  On success *checkpoint_ms advances to the
 * latest activity time seen (re-importing from it repeats only events
 * with the same stable ids, which the host drops as duplicates).
 * `now_ms` anchors the look-back window. */
enum lsc_status mailchimp_import_activity(struct mailchimp *mc,
                                          int64_t *checkpoint_ms,
                                          int64_t now_ms,
                                          mailchimp_activity_sink_fn sink,
                                          void *ud, size_t *n_events,
                                          char *err, size_t errlen);

/* The same, writing each event as one JSON line to `out` (borrowed), for
 * `leadscore import mailchimp-activity`.  The checkpoint advances only
 * when every line was written. */
enum lsc_status mailchimp_import_activity_jsonl(struct mailchimp *mc,
                                                FILE *out,
                                                int64_t *checkpoint_ms,
                                                int64_t now_ms,
                                                size_t *n_events, char *err,
                                                size_t errlen);

/* Checkpoint file helpers (one decimal number).  A missing file gives
 * INT64_MIN. */
enum lsc_status mailchimp_checkpoint_read(const char *path, int64_t *ms,
                                          char *err, size_t errlen);
enum lsc_status mailchimp_checkpoint_write(const char *path, int64_t ms,
                                           char *err, size_t errlen);

/* ---- OAuth connect flow (mc_oauth.c), for `leadscore connect mailchimp` -- */

struct mailchimp_oauth_app {
    const char *client_id;
    const char *client_secret; /* never logged */
    const char *redirect_uri;  /* must match the registered one exactly */
    const char *login_base;    /* NULL: https://login.mailchimp.com */
};

/* Authorize URL for the browser, with `state` (caller-generated, checked
 * on the redirect).  *url malloc()ed. */
enum lsc_status mailchimp_oauth_authorize_url(
    const struct mailchimp_oauth_app *app, const char *state, char **url);

/* Exchange the code, then read the metadata endpoint: *token (malloc()ed,
 * caller frees, never log it), dc and api_endpoint into caller-owned
 * buffers.  LSC_ERR_AUTH for a refused code or a token the metadata
 * endpoint calls invalid. */
enum lsc_status mailchimp_oauth_exchange(const struct mailchimp_oauth_app *app,
                                         const char *code, char **token,
                                         char *dc, size_t dclen,
                                         char *api_endpoint, size_t eplen,
                                         char *err, size_t errlen);

/* Only the metadata step, for a token obtained elsewhere or to check a
 * stored one (LSC_ERR_AUTH when revoked). */
enum lsc_status mailchimp_oauth_metadata(const char *login_base,
                                         const char *token, char *dc,
                                         size_t dclen, char *api_endpoint,
                                         size_t eplen, char *err,
                                         size_t errlen);

/* Store the OAuth token with its data center in `path`, mode 0600,
 * atomically (the core's secrets_write_file()). */
enum lsc_status mailchimp_credentials_save(const char *path,
                                           const char *token, const char *dc,
                                           const char *api_endpoint,
                                           char *err, size_t errlen);
/* Load them back: *token malloc()ed (caller frees), dc into caller-owned
 * buffer.  Refuses a file readable by group or others. */
enum lsc_status mailchimp_credentials_load(const char *path, char **token,
                                           char *dc, size_t dclen, char *err,
                                           size_t errlen);

/* ---- Glue for the plugin, CLI and facade (mc_glue.c) -------------------- */

/* Loads the mapping at `mapping_path` (problems go to host->diagnostic;
 * host may be NULL), takes the API key from the environment variable the
 * mapping names, or the OAuth token from the credentials file in
 * `data_dir` (NULL: host->data_dir()), and creates the client.
 * LSC_ERR_AUTH when OAuth is configured but not connected yet.  *out is
 * caller-owned (mailchimp_destroy). */
enum lsc_status mailchimp_open(const struct lsc_host_api *host,
                               const char *mapping_path, const char *data_dir,
                               struct mailchimp **out, char *err,
                               size_t errlen);

/* Whether cfg's credentials are in the persisted "re-authorize needed"
 * state (set when the API refused them, cleared when a request gets
 * through again, e.g. by `leadscore connect mailchimp`); why gets "since
 * <time>: <reason>" (no secret).  data_dir NULL: ".". */
enum lsc_status mailchimp_reauth_state(const struct mailchimp_config *cfg,
                                       const char *data_dir, bool *needed,
                                       char *why, size_t whylen);

/* The client's mapping (borrowed, valid until mailchimp_destroy). */
const struct mailchimp_config *mailchimp_config_of(const struct mailchimp *mc);

/* Adds the model's tier names (borrowed, copied) so a tier change clears
 * every other tier's tag even when the mapping lists none.  Call before
 * any concurrent use (the plugin's create()). */
enum lsc_status mailchimp_add_tiers(struct mailchimp *mc,
                                    const char *const *tiers, size_t n);

/* From an event handler: reads the contact's email (mapping
 * contact.email_property) through host->contact_props and enqueues a
 * MAILCHIMP_JOB_KIND job with key "mailchimp:<contact_id>" (coalesced:
 * only the latest value is sent).  Pass the tier on every call (the job
 * then also sets the tier tags) and `from_tier` on a transition.  With
 * contact.id_from "email", a contact id with an '@' and no email property
 * (made by the activity import) is its own email.  A
 * contact without an email is skipped (*enqueued false, LSC_OK).  Never
 * blocks on the network. */
enum lsc_status mailchimp_enqueue(const struct lsc_host_api *host,
                                  struct mailchimp *mc,
                                  const char *contact_id, double score,
                                  const char *tier, const char *from_tier,
                                  int64_t not_before_ms, bool *enqueued,
                                  char *err, size_t errlen);

/* `leadscore connect mailchimp`: listens on 127.0.0.1:auth.redirect_port,
 * calls show_url(ud, url) with the authorize URL (the redirect URI is
 * http://127.0.0.1:<port>/oauth/callback: register exactly that), waits
 * at most timeout_ms for the redirect, checks the state, exchanges the
 * code (client secret from auth.client_secret_env), reads the data
 * center, and saves the token in data_dir/auth.credentials_file (0600).
 * dc gets the data center. */
enum lsc_status mailchimp_connect(const struct mailchimp_config *cfg,
                                  const char *data_dir, int64_t timeout_ms,
                                  void (*show_url)(void *ud, const char *url),
                                  void *ud, char *dc, size_t dclen,
                                  char *err, size_t errlen);

#endif /* LSC_CONNECTORS_MAILCHIMP_H */
