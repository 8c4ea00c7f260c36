/*
 * HubSpot connector: the client for one account (see hubspot.h).
 */
#include "hubspot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/http.h"
#include "core/outcome.h"
#include "core/ratelimit.h"
#include "core/secrets.h"

struct hubspot_client {
    const struct hubspot_config *cfg; /* borrowed */
    struct clog log;
    struct secrets_redactor *redactor;
    struct http_client *http;
    struct ratelimit *rl;
    struct oauth_session *auth;
    char *cred_path;
    char *checkpoint_path;
};

struct hubspot_connect {
    struct oauth_listener *listener;
    char state[OAUTH_STATE_LEN + 1];
    char verifier[OAUTH_VERIFIER_LEN + 1];
    char redirect_uri[96];
};

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p != NULL) {
        snprintf(p, n, "%s/%s", dir, name);
    }
    return p;
}

enum lsc_status hubspot_client_create(const struct hubspot_config *cfg,
                                      const char *data_dir,
                                      const struct clog *log,
                                      struct hubspot_client **out, char *err,
                                      size_t errlen)
{
    *out = NULL;
    struct hubspot_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    enum lsc_status rc = LSC_OK;
    c->cfg = cfg;
    c->redactor = secrets_redactor_create();
    c->rl = ratelimit_create(cfg->rate_max, cfg->rate_interval_ms);
    c->cred_path = join_path(data_dir ? data_dir : ".", cfg->credentials_file);
    c->checkpoint_path = join_path(data_dir ? data_dir : ".",
                                   "hubspot-backfill.json");
    if (c->redactor == NULL || c->rl == NULL || c->cred_path == NULL ||
        c->checkpoint_path == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = LSC_ERR_NOMEM;
        goto fail;
    }
    if (log != NULL) {
        c->log = *log;
    }
    c->log.redactor = c->redactor;
    if (c->log.prefix == NULL) {
        c->log.prefix = "hubspot";
    }
    struct http_client_opts ho = {.connect_timeout_ms = cfg->connect_timeout_ms,
                                  .timeout_ms = cfg->timeout_ms};
    rc = http_client_create(&ho, &c->http, err, errlen);
    if (rc != LSC_OK) {
        goto fail;
    }
    if (cfg->auth == HUBSPOT_AUTH_STATIC) {
        const char *tok = secrets_env(cfg->token_env);
        if (tok == NULL) {
            snprintf(err, errlen,
                     "environment variable %s (auth.token_env) is not set",
                     cfg->token_env ? cfg->token_env : "(none)");
            rc = LSC_ERR_CONFIG;
            goto fail;
        }
        rc = oauth_session_create_static(tok, c->redactor, &c->auth, err,
                                         errlen);
    } else {
        char redirect[96];
        snprintf(redirect, sizeof redirect,
                 "http://localhost:%d/oauth-callback", cfg->redirect_port);
        struct oauth_config oc = {
            .token_url = cfg->token_url,
            .client_id = cfg->client_id,
            .client_secret = secrets_env(cfg->client_secret_env),
            .redirect_uri = redirect,
            .store_path = c->cred_path,
            .skew_ms = cfg->refresh_skew_ms,
        };
        if (oc.client_secret == NULL) {
            CLOG_WARN(&c->log,
                      "environment variable %s (auth.client_secret_env) is "
                      "not set: connecting and refreshing will fail",
                      cfg->client_secret_env ? cfg->client_secret_env
                                             : "(none)");
        }
        rc = oauth_session_create(&oc, c->http, c->redactor, &c->auth, err,
                                  errlen);
    }
    if (rc != LSC_OK) {
        goto fail;
    }
    *out = c;
    return LSC_OK;
fail:
    hubspot_client_destroy(c);
    return rc;
}

void hubspot_client_destroy(struct hubspot_client *c)
{
    if (c == NULL) {
        return;
    }
    oauth_session_destroy(c->auth);
    http_client_destroy(c->http);
    ratelimit_destroy(c->rl);
    secrets_redactor_destroy(c->redactor);
    free(c->cred_path);
    free(c->checkpoint_path);
    free(c);
}

struct secrets_redactor *hubspot_client_redactor(struct hubspot_client *c)
{
    return c->redactor;
}

static long header_long(const struct http_response *r, const char *name)
{
    char v[32];
    if (!http_response_header(r, name, v, sizeof v) || v[0] == '\0') {
        return -1;
    }
    char *end;
    long n = strtol(v, &end, 10);
    return (*end == '\0' && n >= 0) ? n : -1;
}

void hubspot_call(struct hubspot_client *c, const char *method,
                  const char *url, const char *body,
                  struct http_response *resp, struct outcome *o)
{
    char token[HUBSPOT_TOKEN_MAX];
    char err[256];
    memset(resp, 0, sizeof *resp);
    for (int attempt = 0; attempt < 2; attempt++) {
        memset(o, 0, sizeof *o);
        o->retry_after_ms = -1;
        if (ratelimit_acquire(c->rl, c->cfg->rate_max_wait_ms) != LSC_OK) {
            o->status = LSC_ERR_RETRYABLE;
            o->rate_limited = true;
            int64_t w = ratelimit_try(c->rl, ratelimit_now_ms());
            if (w == 0) {
                w = 1; /* got one after all: give it back by waiting */
            }
            o->retry_after_ms = w;
            snprintf(o->reason, sizeof o->reason,
                     "local rate limit: no request slot for %lld ms",
                     (long long)w);
            return;
        }
        enum lsc_status ts = oauth_session_access_token(
            c->auth, http_now_ms(), token, sizeof token, err, sizeof err);
        if (ts != LSC_OK) {
            o->status = ts == LSC_ERR_AUTH ? LSC_ERR_AUTH : LSC_ERR_RETRYABLE;
            snprintf(o->reason, sizeof o->reason, "%s", err);
            return;
        }
        char auth[HUBSPOT_TOKEN_MAX + 16];
        snprintf(auth, sizeof auth, "Bearer %s", token);
        struct http_header h[2] = {{"Authorization", auth},
                                   {"Accept", "application/json"}};
        struct http_request req = {
            .method = method,
            .url = url,
            .headers = h,
            .n_headers = 2,
            .body = body,
            .body_len = body ? strlen(body) : 0,
        };
        enum lsc_status tr = http_client_request(c->http, &req, resp);
        explicit_bzero(auth, sizeof auth);
        int64_t now = http_now_ms();
        ratelimit_observe(c->rl, header_long(resp, "X-HubSpot-RateLimit-Max"),
                          header_long(resp, "X-HubSpot-RateLimit-Remaining"),
                          header_long(resp,
                                      "X-HubSpot-RateLimit-Interval-Milliseconds"),
                          ratelimit_now_ms());
        outcome_classify(tr, resp, now, o);
        CLOG_DEBUG(&c->log, "%s %s -> %ld", method, url, resp->status);
        if (o->rate_limited) {
            /* Without Retry-After, the server's own window (its interval
             * header) says when a request fits again; the mapping's
             * interval is only a guess. */
            long iv = header_long(resp,
                                  "X-HubSpot-RateLimit-Interval-Milliseconds");
            int64_t wait = o->retry_after_ms >= 0 ? o->retry_after_ms
                           : iv > 0              ? (int64_t)iv
                                                 : c->cfg->rate_interval_ms;
            if (o->daily_limit && o->retry_after_ms < 0) {
                wait = 3600 * 1000; /* until the daily reset; re-checked */
            }
            if (o->retry_after_ms < 0) {
                o->retry_after_ms = wait;
            }
            ratelimit_block_until(c->rl, ratelimit_now_ms() + wait);
            CLOG_WARN(&c->log, "rate limited (%s); pausing %lld ms",
                      o->reason, (long long)wait);
        }
        if (o->status == LSC_ERR_AUTH && resp->status == 401 && attempt == 0 &&
            !oauth_session_is_static(c->auth)) {
            CLOG_INFO(&c->log, "401 from HubSpot: refreshing the access token "
                      "and retrying once");
            oauth_session_invalidate(c->auth, token);
            http_response_finish(resp);
            continue;
        }
        break;
    }
    explicit_bzero(token, sizeof token);
    if (o->status == LSC_ERR_AUTH && resp->status == 401 &&
        !oauth_session_is_static(c->auth)) {
        snprintf(o->reason + strlen(o->reason),
                 sizeof o->reason - strlen(o->reason), " (after refresh)");
    }
}

void hubspot_call_retry(struct hubspot_client *c, const char *method,
                        const char *url, const char *body,
                        int64_t max_total_ms, struct http_response *resp,
                        struct outcome *o)
{
    int64_t start = http_mono_ms();
    for (uint32_t n = 1;; n++) {
        hubspot_call(c, method, url, body, resp, o);
        if (o->status != LSC_ERR_RETRYABLE ||
            n >= c->cfg->retry.max_attempts) {
            return;
        }
        int64_t d = retry_delay_ms(&c->cfg->retry, n, o->retry_after_ms,
                                   retry_random());
        if (http_mono_ms() - start + d > max_total_ms) {
            return;
        }
        CLOG_INFO(&c->log, "%s %s: %s; retrying in %lld ms", method, url,
                  o->reason, (long long)d);
        http_response_finish(resp);
        http_sleep_ms(d);
    }
}

/* POSTs a definition; 409 means it exists (then PATCHes options when
 * given). */
static enum lsc_status create_or_keep(struct hubspot_client *c,
                                      const char *url, const char *body,
                                      const char *patch_url,
                                      const char *patch_body,
                                      const char *what, char *err,
                                      size_t errlen)
{
    struct http_response resp;
    struct outcome o;
    hubspot_call_retry(c, "POST", url, body, 60000, &resp, &o);
    long st = resp.status;
    http_response_finish(&resp);
    if (o.status == LSC_OK) {
        CLOG_INFO(&c->log, "created %s", what);
        return LSC_OK;
    }
    if (st != 409) {
        snprintf(err, errlen, "creating %s: %s", what, o.reason);
        return o.status;
    }
    if (patch_url == NULL || patch_body == NULL) {
        CLOG_INFO(&c->log, "%s exists already", what);
        return LSC_OK;
    }
    hubspot_call_retry(c, "PATCH", patch_url, patch_body, 60000, &resp, &o);
    http_response_finish(&resp);
    if (o.status != LSC_OK) {
        snprintf(err, errlen, "updating the options of %s: %s", what,
                 o.reason);
        return o.status;
    }
    CLOG_INFO(&c->log, "%s exists already; options updated", what);
    return LSC_OK;
}

enum lsc_status hubspot_setup(struct hubspot_client *c, char *err,
                              size_t errlen)
{
    const struct hubspot_config *cfg = c->cfg;
    char *url = hubspot_url(cfg, HUBSPOT_EP_GROUPS, NULL);
    char *body = hubspot_build_group(cfg);
    enum lsc_status rc = LSC_ERR_NOMEM;
    snprintf(err, errlen, "out of memory");
    if (url != NULL && body != NULL) {
        char what[160];
        snprintf(what, sizeof what, "property group %s", cfg->group_name);
        rc = create_or_keep(c, url, body, NULL, NULL, what, err, errlen);
    }
    free(url);
    free(body);
    for (int k = 0; rc == LSC_OK && k < HUBSPOT_PROP_COUNT; k++) {
        const char *name = hubspot_prop_name(cfg, (enum hubspot_prop_kind)k);
        if (name == NULL) {
            continue;
        }
        char sfx[160];
        snprintf(sfx, sizeof sfx, "/%s", name);
        char *purl = hubspot_url(cfg, HUBSPOT_EP_PROPERTIES, NULL);
        char *pbody = hubspot_build_property(cfg, (enum hubspot_prop_kind)k,
                                             false);
        char *patch_url = hubspot_url(cfg, HUBSPOT_EP_PROPERTIES, sfx);
        char *patch_body = hubspot_build_property(
            cfg, (enum hubspot_prop_kind)k, true);
        if (purl == NULL || pbody == NULL || patch_url == NULL) {
            rc = LSC_ERR_NOMEM;
            snprintf(err, errlen, "out of memory");
        } else {
            char what[160];
            snprintf(what, sizeof what, "property %s", name);
            rc = create_or_keep(c, purl, pbody, patch_url, patch_body, what,
                                err, errlen);
        }
        free(purl);
        free(pbody);
        free(patch_url);
        free(patch_body);
    }
    return rc;
}

void hubspot_batch_update(struct hubspot_client *c,
                          const struct hubspot_update *u, size_t n,
                          struct hubspot_input_result *res, struct outcome *o)
{
    char *body = hubspot_build_batch_update(u, n, c->cfg->id_property);
    char *url = hubspot_url(c->cfg, HUBSPOT_EP_BATCH_UPDATE, NULL);
    if (body == NULL || url == NULL) {
        memset(o, 0, sizeof *o);
        o->status = LSC_ERR_RETRYABLE;
        snprintf(o->reason, sizeof o->reason,
                 n > HUBSPOT_BATCH_MAX ? "more than 100 inputs"
                                       : "out of memory");
        if (n > HUBSPOT_BATCH_MAX) {
            o->status = LSC_ERR_INVALID_ARG;
        }
        free(body);
        free(url);
        return;
    }
    struct http_response resp;
    hubspot_call(c, "POST", url, body, &resp, o);
    if (o->status == LSC_OK) {
        const char **ids = calloc(n, sizeof *ids);
        char err[200];
        if (ids == NULL) {
            o->status = LSC_ERR_RETRYABLE;
            snprintf(o->reason, sizeof o->reason, "out of memory");
        } else {
            for (size_t i = 0; i < n; i++) {
                ids[i] = u[i].id;
            }
            enum lsc_status pr = hubspot_parse_batch_result(
                resp.status, resp.body, resp.body_len, ids, n,
                c->cfg->id_property == NULL, res, err, sizeof err);
            if (pr != LSC_OK) {
                /* the write may have happened: retrying is idempotent */
                o->status = LSC_ERR_RETRYABLE;
                snprintf(o->reason, sizeof o->reason, "%s", err);
            }
            free(ids);
        }
        if (resp.status == 207) {
            size_t bad = 0;
            for (size_t i = 0; i < n; i++) {
                bad += res[i].status != LSC_OK;
            }
            CLOG_WARN(&c->log, "batch update: %zu of %zu inputs failed", bad,
                      n);
        }
    } else {
        CLOG_WARN(&c->log, "batch update of %zu contacts: %s", n, o->reason);
    }
    http_response_finish(&resp);
    free(body);
    free(url);
}

enum lsc_status hubspot_batch_read(struct hubspot_client *c,
                                   const char *const *ids, size_t n,
                                   const char *const *props, size_t n_props,
                                   hubspot_contact_fn fn, void *ud,
                                   struct outcome *o)
{
    char *body = hubspot_build_batch_read(ids, n, props, n_props,
                                          c->cfg->id_property);
    char *url = hubspot_url(c->cfg, HUBSPOT_EP_BATCH_READ, NULL);
    enum lsc_status rc;
    if (body == NULL || url == NULL) {
        memset(o, 0, sizeof *o);
        o->status = LSC_ERR_NOMEM;
        snprintf(o->reason, sizeof o->reason, "cannot build the request");
        free(body);
        free(url);
        return LSC_ERR_NOMEM;
    }
    struct http_response resp;
    hubspot_call(c, "POST", url, body, &resp, o);
    rc = o->status;
    if (o->status == LSC_OK) {
        char err[200];
        rc = hubspot_parse_contacts(resp.body, resp.body_len, fn, ud, NULL,
                                    err, sizeof err);
        if (rc != LSC_OK) {
            o->status = LSC_ERR_RETRYABLE;
            snprintf(o->reason, sizeof o->reason, "%s", err);
        }
    }
    http_response_finish(&resp);
    free(body);
    free(url);
    return rc;
}

/* ---- Backfill ----------------------------------------------------------- */

struct checkpoint {
    char *after;
    long pages;
    long contacts;
    bool done;
    bool started;
};

static void checkpoint_load(struct hubspot_client *c, struct checkpoint *cp)
{
    memset(cp, 0, sizeof *cp);
    char *text = NULL;
    size_t len = 0;
    char err[200];
    if (secrets_read_file(c->checkpoint_path, &text, &len, err, sizeof err) !=
        LSC_OK) {
        return;
    }
    json_t *j = json_loadb(text, len, 0, NULL);
    free(text);
    if (!json_is_object(j)) {
        CLOG_WARN(&c->log, "%s is damaged; the backfill starts over",
                  c->checkpoint_path);
        json_decref(j);
        return;
    }
    const char *a = json_string_value(json_object_get(j, "after"));
    cp->after = a ? strdup(a) : NULL;
    cp->pages = (long)json_integer_value(json_object_get(j, "pages"));
    cp->contacts = (long)json_integer_value(json_object_get(j, "contacts"));
    cp->done = json_is_true(json_object_get(j, "done"));
    cp->started = true;
    json_decref(j);
}

static enum lsc_status checkpoint_save(struct hubspot_client *c,
                                       const struct checkpoint *cp, char *err,
                                       size_t errlen)
{
    json_t *j = json_pack("{s:s, s:o, s:I, s:I, s:b}", "schema",
                          "leadscore.checkpoint/1", "after",
                          cp->after ? json_string(cp->after) : json_null(),
                          "pages", (json_int_t)cp->pages, "contacts",
                          (json_int_t)cp->contacts, "done", cp->done);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
                   : NULL;
    json_decref(j);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    enum lsc_status rc = secrets_write_file(c->checkpoint_path, text,
                                            strlen(text), err, errlen);
    free(text);
    return rc;
}

struct rename_ctx {
    const struct hubspot_config *cfg;
    hubspot_contact_fn fn;
    void *ud;
    size_t delivered;
};

static enum lsc_status rename_props(void *ud, const char *id,
                                    const struct lsc_prop *props, size_t n)
{
    struct rename_ctx *r = ud;
    struct lsc_prop *out = calloc(n + 1, sizeof *out);
    if (out == NULL) {
        return LSC_ERR_NOMEM;
    }
    size_t k = 0;
    const char *cid = r->cfg->id_property ? NULL : id;
    for (size_t i = 0; i < n; i++) {
        if (r->cfg->id_property != NULL &&
            strcmp(props[i].key, r->cfg->id_property) == 0 &&
            props[i].value.type == LSC_VAL_STRING) {
            cid = props[i].value.u.str.ptr;
        }
        for (size_t m = 0; m < r->cfg->n_inputs; m++) {
            if (strcmp(props[i].key, r->cfg->inputs[m].property) == 0) {
                out[k] = props[i];
                out[k].key = r->cfg->inputs[m].field;
                k++;
            }
        }
    }
    enum lsc_status rc = LSC_OK;
    if (cid != NULL && cid[0] != '\0') {
        rc = r->fn(r->ud, cid, out, k);
        if (rc == LSC_OK) {
            r->delivered++;
        }
    }
    free(out);
    return rc;
}

enum lsc_status hubspot_backfill_step(struct hubspot_client *c, bool restart,
                                      hubspot_contact_fn fn, void *ud,
                                      bool *done, size_t *delivered,
                                      char *err, size_t errlen)
{
    struct checkpoint cp;
    *done = false;
    if (delivered != NULL) {
        *delivered = 0;
    }
    if (restart) {
        memset(&cp, 0, sizeof cp);
    } else {
        checkpoint_load(c, &cp);
    }
    if (cp.done) {
        *done = true;
        free(cp.after);
        return LSC_OK;
    }
    char *q = hubspot_build_list_query(c->cfg, 100, cp.after);
    char *url = q ? hubspot_url(c->cfg, HUBSPOT_EP_CONTACTS, q) : NULL;
    free(q);
    if (url == NULL) {
        free(cp.after);
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    struct http_response resp;
    struct outcome o;
    hubspot_call_retry(c, "GET", url, NULL, 120000, &resp, &o);
    free(url);
    enum lsc_status rc = o.status;
    if (rc != LSC_OK) {
        snprintf(err, errlen, "listing contacts: %s", o.reason);
        http_response_finish(&resp);
        free(cp.after);
        return rc;
    }
    struct rename_ctx r = {.cfg = c->cfg, .fn = fn, .ud = ud};
    char *next = NULL;
    rc = hubspot_parse_contacts(resp.body, resp.body_len, rename_props, &r,
                                &next, err, errlen);
    http_response_finish(&resp);
    if (rc == LSC_OK) {
        free(cp.after);
        cp.after = next;
        cp.pages++;
        cp.contacts += (long)r.delivered;
        cp.done = next == NULL;
        rc = checkpoint_save(c, &cp, err, errlen);
        *done = cp.done;
        if (delivered != NULL) {
            *delivered = r.delivered;
        }
        CLOG_INFO(&c->log, "backfill: page %ld, %zu contacts%s", cp.pages,
                  r.delivered, cp.done ? ", done" : "");
    } else {
        free(next);
    }
    free(cp.after);
    return rc;
}

/* ---- Connect ------------------------------------------------------------ */

enum lsc_status hubspot_connect_begin(struct hubspot_client *c,
                                      struct hubspot_connect **out,
                                      char **url, char *err, size_t errlen)
{
    *out = NULL;
    *url = NULL;
    if (oauth_session_is_static(c->auth)) {
        snprintf(err, errlen, "auth.type is a static token: nothing to "
                 "connect; hint: set the token's environment variable");
        return LSC_ERR_INVALID_ARG;
    }
    struct hubspot_connect *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    int port = 0;
    enum lsc_status rc = oauth_listener_open(c->cfg->redirect_port,
                                             &h->listener, &port, err, errlen);
    char challenge[OAUTH_CHALLENGE_LEN + 1];
    if (rc == LSC_OK) {
        snprintf(h->redirect_uri, sizeof h->redirect_uri,
                 "http://localhost:%d/oauth-callback", port);
        rc = oauth_random_string(h->state, OAUTH_STATE_LEN);
    }
    if (rc == LSC_OK) {
        rc = oauth_random_string(h->verifier, OAUTH_VERIFIER_LEN);
    }
    if (rc == LSC_OK) {
        rc = oauth_pkce_challenge(h->verifier, challenge, sizeof challenge);
    }
    if (rc == LSC_OK) {
        rc = oauth_session_set_redirect_uri(c->auth, h->redirect_uri);
    }
    if (rc == LSC_OK) {
        *url = oauth_authorize_url(c->cfg->authorize_url, c->cfg->client_id,
                                   h->redirect_uri, c->cfg->scopes, NULL,
                                   h->state, challenge);
        if (*url == NULL) {
            rc = LSC_ERR_NOMEM;
        }
    }
    if (rc != LSC_OK) {
        if (err[0] == '\0') {
            snprintf(err, errlen, "%s", lsc_status_str(rc));
        }
        hubspot_connect_free(h);
        return rc;
    }
    *out = h;
    return LSC_OK;
}

enum lsc_status hubspot_connect_finish(struct hubspot_client *c,
                                       struct hubspot_connect *h,
                                       int64_t timeout_ms, char *err,
                                       size_t errlen)
{
    char target[4096];
    char code[1024];
    char state[256];
    enum lsc_status rc = oauth_listener_wait(h->listener, timeout_ms, target,
                                             sizeof target, err, errlen);
    if (rc != LSC_OK) {
        return rc;
    }
    rc = oauth_parse_redirect(target, code, sizeof code, state, sizeof state,
                              err, errlen);
    explicit_bzero(target, sizeof target);
    if (rc != LSC_OK) {
        return rc;
    }
    if (!oauth_state_equal(h->state, state)) {
        explicit_bzero(code, sizeof code);
        snprintf(err, errlen, "the redirect's state does not match: refused "
                 "(possible cross-site request forgery)");
        return LSC_ERR_AUTH;
    }
    secrets_redactor_add(c->redactor, code);
    rc = oauth_session_exchange_code(c->auth, code, h->verifier, http_now_ms(),
                                     err, errlen);
    explicit_bzero(code, sizeof code);
    if (rc != LSC_OK) {
        return rc;
    }
    CLOG_INFO(&c->log, "connected; tokens stored in %s", c->cred_path);
    return hubspot_confirm(c, err, errlen);
}

void hubspot_connect_free(struct hubspot_connect *h)
{
    if (h == NULL) {
        return;
    }
    oauth_listener_close(h->listener);
    explicit_bzero(h->verifier, sizeof h->verifier);
    free(h);
}

/* Whether `name` is among the results[].name of a properties list. */
static bool listed(json_t *results, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(results, i, p) {
        const char *n = json_string_value(json_object_get(p, "name"));
        if (n != NULL && strcmp(n, name) == 0) {
            return true;
        }
    }
    return false;
}

enum lsc_status hubspot_confirm(struct hubspot_client *c, char *err,
                                size_t errlen)
{
    /* the account's contact properties: proves the token works and tells
     * whether the mapped inputs exist (a typo there scores nothing) */
    char *url = hubspot_url(c->cfg, HUBSPOT_EP_PROPERTIES, NULL);
    if (url == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    struct http_response resp;
    struct outcome o;
    hubspot_call_retry(c, "GET", url, NULL, 30000, &resp, &o);
    free(url);
    if (o.status != LSC_OK) {
        http_response_finish(&resp);
        snprintf(err, errlen, "reading contact properties: %s", o.reason);
        return o.status;
    }
    json_t *j = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
    http_response_finish(&resp);
    json_t *results = json_object_get(j, "results");
    if (!json_is_array(results)) {
        json_decref(j);
        snprintf(err, errlen, "reading contact properties: the answer has "
                 "no results list");
        return LSC_ERR_PARSE;
    }
    size_t n = 0; /* missing inputs */
    for (size_t i = 0; i < c->cfg->n_inputs; i++) {
        const struct hubspot_input *in = &c->cfg->inputs[i];
        if (!listed(results, in->property)) {
            CLOG_WARN(&c->log, "inputs: the mapped property '%s' (model "
                      "field '%s') does not exist in this HubSpot account; "
                      "contacts will have no '%s'; hint: check the internal "
                      "name in Settings > Properties", in->property,
                      in->field, in->field);
            n++;
        }
    }
    CLOG_INFO(&c->log, "confirmed: %zu contact properties, %zu of %zu "
              "mapped inputs found", json_array_size(results),
              c->cfg->n_inputs - n, c->cfg->n_inputs);
    if (c->cfg->id_property != NULL &&
        !listed(results, c->cfg->id_property)) {
        CLOG_WARN(&c->log, "contacts.id_property '%s' does not exist in "
                  "this HubSpot account", c->cfg->id_property);
    }
    json_decref(j);
    return LSC_OK;
}

void hubspot_status(struct hubspot_client *c, struct hubspot_status *st)
{
    memset(st, 0, sizeof *st);
    st->auth = c->cfg->auth;
    st->state = oauth_session_state(c->auth);
    st->expires_at_ms = oauth_session_expires_at(c->auth);
    struct checkpoint cp;
    checkpoint_load(c, &cp);
    st->backfill_done = cp.done;
    st->backfill_pages = cp.pages;
    st->backfill_contacts = cp.contacts;
    st->backfill_started = cp.started;
    free(cp.after);
}
