/*
 * leadscored HTTP front end on libmicrohttpd (internal polling threads,
 * suspend/resume): requests that write events are suspended while the
 * writer commits them and resumed with the answer, so a few threads
 * serve many concurrent connections.
 */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "hooks.h"
#include "log.h"

#define N_RATE 1024

struct bucket {
    char addr[48];
    double tokens;
    int64_t last_ms;
};

struct http {
    struct core *core;
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t rate_mu;
    struct bucket rate[N_RATE];
    /* Refusal log lines, at most one a second per status (a flood of bad
     * requests must not flood the journal); the rest are counted. */
    atomic_int_fast64_t refusal_log_ms[4];
    atomic_uint_fast64_t refusal_quiet[4];
};

struct conn {
    struct http *h;
    struct MHD_Connection *mc;
    char *uri;     /* raw request target, with the query */
    char *body;
    size_t len, cap;
    bool started, too_big, submitted;
    atomic_bool done;
    int64_t t0_ns;
    struct core_batch batch;
    struct hooks_result hr;  /* webhook events, owns the lines */
    char **own;              /* /v1/events compact single event */
    size_t ignored;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *mc)
{
    struct conn *cn = calloc(1, sizeof *cn);
    if (cn != NULL) {
        cn->h = cls;
        cn->mc = mc;
        cn->uri = strdup(uri);
        cn->t0_ns = mono_ns();
    }
    return cn;
}

static void completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)mc;
    (void)toe;
    struct conn *cn = *con_cls;
    if (cn == NULL) {
        return;
    }
    free(cn->uri);
    free(cn->body);
    free(cn->batch.lines);
    hooks_result_free(&cn->hr);
    if (cn->own != NULL) {
        free(cn->own[0]);
        free(cn->own);
    }
    free(cn);
    *con_cls = NULL;
}

static enum MHD_Result reply(struct MHD_Connection *mc, unsigned code,
                             const char *ctype, char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    if (code == 429) {
        MHD_add_response_header(r, "Retry-After", "1");
    }
    enum MHD_Result ret = MHD_queue_response(mc, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* {"error": reason} with the status. */
static enum MHD_Result reply_err(struct MHD_Connection *mc, unsigned code,
                                 const char *reason)
{
    json_t *o = json_pack("{s:s}", "error", reason);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL) {
        return MHD_NO;
    }
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (t != NULL) {
        t[n] = '\n';
        t[n + 1] = '\0';
        s = t;
    }
    return reply(mc, code, "application/json", s);
}

static enum MHD_Result reply_json(struct MHD_Connection *mc, unsigned code,
                                  char *json)
{
    return reply(mc, code, "application/json", json);
}

static void client_addr(struct MHD_Connection *mc, char *addr, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(addr, n, "?");
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)
                                    ->sin_addr,
                      addr, (socklen_t)n);
        } else if (sa->sa_family == AF_INET6) {
            inet_ntop(AF_INET6,
                      &((const struct sockaddr_in6 *)(const void *)sa)
                           ->sin6_addr,
                      addr, (socklen_t)n);
        }
    }
}

/* Log a request refused before its content is trusted: status, route
 * (never the Mailchimp URL secret nor a token), client, reason. */
static void log_refused(struct http *h, struct MHD_Connection *mc,
                        unsigned code, const char *url, const char *why)
{
    int k = code == 401 ? 0 : code == 429 ? 1 : code == 413 ? 2 : 3;
    int64_t now = core_now_ms();
    int64_t last = atomic_load(&h->refusal_log_ms[k]);
    if (now - last < 1000 ||
        !atomic_compare_exchange_strong(&h->refusal_log_ms[k], &last, now)) {
        atomic_fetch_add(&h->refusal_quiet[k], 1);
        return;
    }
    uint64_t quiet = atomic_exchange(&h->refusal_quiet[k], 0);
    char addr[48];
    client_addr(mc, addr, sizeof addr);
    const char *route = strncmp(url, "/webhooks/mailchimp/", 20) == 0
                            ? "/webhooks/mailchimp/<url_secret>"
                            : url;
    char more[64] = "";
    if (quiet > 0) {
        snprintf(more, sizeof more, " (and %" PRIu64 " more not logged)",
                 quiet);
    }
    log_msg(code == 429 || code == 413 ? LSC_LOG_INFO : LSC_LOG_WARN,
            "refused %.200s from %s: %u %s%s", route, addr, code, why, more);
}

static bool rate_ok(struct http *h, struct MHD_Connection *mc)
{
    core_cfg_lock(h->core); /* a reload may swap the config */
    const struct dconfig *cfg = core_config(h->core);
    double rate = cfg->rate, burst = cfg->burst;
    core_cfg_unlock(h->core);
    if (rate <= 0) {
        return true;
    }
    char addr[48];
    client_addr(mc, addr, sizeof addr);
    uint32_t hh = 2166136261u;
    for (const char *p = addr; *p; p++) {
        hh = (hh ^ (unsigned char)*p) * 16777619u;
    }
    int64_t now = core_now_ms();
    pthread_mutex_lock(&h->rate_mu);
    struct bucket *b = &h->rate[hh % N_RATE];
    if (strcmp(b->addr, addr) != 0) {
        snprintf(b->addr, sizeof b->addr, "%s", addr);
        b->tokens = burst;
        b->last_ms = now;
    }
    b->tokens += (double)(now - b->last_ms) * rate / 1000.0;
    if (b->tokens > burst) {
        b->tokens = burst;
    }
    b->last_ms = now;
    bool ok = b->tokens >= 1.0;
    if (ok) {
        b->tokens -= 1.0;
    }
    pthread_mutex_unlock(&h->rate_mu);
    return ok;
}

static bool token_ok(struct http *h, struct MHD_Connection *mc)
{
    const char *a = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                "Authorization");
    core_cfg_lock(h->core);
    const struct dconfig *cfg = core_config(h->core);
    bool ok = cfg->n_tokens == 0; /* no tokens: open (logged at start) */
    if (!ok && a != NULL && strncasecmp(a, "Bearer ", 7) == 0) {
        a += 7;
        size_t n = strlen(a);
        for (size_t i = 0; i < cfg->n_tokens; i++) {
            size_t tn = strlen(cfg->tokens[i]);
            ok |= tn == n && CRYPTO_memcmp(a, cfg->tokens[i], n) == 0;
        }
    }
    core_cfg_unlock(h->core);
    return ok;
}

/* ---- Event answers ------------------------------------------------------ */

static void batch_done(void *ud, struct core_batch *b)
{
    (void)b;
    struct conn *cn = ud;
    atomic_store(&cn->done, true);
    MHD_resume_connection(cn->mc);
}

static enum MHD_Result answer_batch(struct conn *cn)
{
    struct core_batch *b = &cn->batch;
    core_observe_request(cn->h->core, mono_ns() - cn->t0_ns);
    if (b->status == LSC_ERR_UNSUPPORTED) {
        return reply_err(cn->mc, 503, "shutting down");
    }
    if (b->status != LSC_OK) {
        return reply_err(cn->mc, 503, "storage failure: nothing was "
                         "committed, send again");
    }
    json_t *dups = json_array(), *rej = json_array();
    for (size_t i = 0; i < b->n; i++) {
        const struct core_line *l = &b->lines[i];
        if (l->status == CORE_LINE_DUPLICATE) {
            json_array_append_new(dups, json_pack("{s:I, s:s}", "line",
                                                  (json_int_t)i + 1, "id",
                                                  l->event_id));
        } else if (l->status == CORE_LINE_REJECTED) {
            json_array_append_new(rej, json_pack("{s:I, s:s}", "line",
                                                 (json_int_t)i + 1, "reason",
                                                 l->reason));
        }
    }
    json_t *o = json_pack("{s:I, s:I, s:I, s:o, s:o}", "accepted",
                          (json_int_t)b->accepted, "duplicate",
                          (json_int_t)b->duplicates, "rejected",
                          (json_int_t)b->rejected, "duplicates", dups,
                          "errors", rej);
    if (cn->ignored > 0) {
        json_object_set_new(o, "ignored", json_integer((json_int_t)cn->ignored));
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL) {
        return MHD_NO;
    }
    /* 400 when every event was refused: the sender must fix something. */
    unsigned code = b->n > 0 && b->rejected == b->n ? 400 : 200;
    return reply_json(cn->mc, code, s);
}

static enum MHD_Result submit(struct conn *cn)
{
    cn->submitted = true;
    cn->batch.done = batch_done;
    cn->batch.ud = cn;
    MHD_suspend_connection(cn->mc);
    core_submit(cn->h->core, &cn->batch);
    return MHD_YES;
}

static bool alloc_lines(struct conn *cn, size_t n)
{
    cn->batch.lines = calloc(n ? n : 1, sizeof *cn->batch.lines);
    cn->batch.n = 0;
    return cn->batch.lines != NULL;
}

/* A whole request refused after authentication: dead-letter it (the
 * writer records it; the answer does not wait). */
struct dead_req {
    struct core_batch b;
    char reason[256];
    char *body;
};

static void dead_done(void *ud, struct core_batch *b)
{
    (void)b;
    struct dead_req *d = ud;
    free(d->body);
    free(d);
}

static void dead_letter(struct conn *cn, enum core_source src,
                        const char *reason)
{
    struct dead_req *d = calloc(1, sizeof *d);
    if (d == NULL) {
        return;
    }
    d->body = malloc(cn->len + 1);
    if (d->body != NULL && cn->len > 0) {
        memcpy(d->body, cn->body, cn->len);
    }
    snprintf(d->reason, sizeof d->reason, "%s", reason);
    d->b.source = src;
    d->b.dead_reason = d->reason;
    d->b.dead_body = d->body;
    d->b.dead_len = d->body ? cn->len : 0;
    d->b.done = dead_done;
    d->b.ud = d;
    core_submit(cn->h->core, &d->b);
}

/* POST /v1/events: one JSON event or JSON Lines. */
static enum MHD_Result post_events(struct conn *cn)
{
    cn->batch.source = CORE_SRC_API;
    if (cn->len == 0) {
        return reply_err(cn->mc, 400, "empty body: send one JSON event or "
                         "JSON Lines");
    }
    if (memchr(cn->body, '\0', cn->len) != NULL) {
        dead_letter(cn, CORE_SRC_API, "body contains a NUL byte");
        return reply_err(cn->mc, 400, "body contains a NUL byte");
    }
    size_t lines = 1;
    for (size_t i = 0; i < cn->len; i++) {
        lines += cn->body[i] == '\n';
    }
    /* A pretty-printed single event: one JSON object across lines. */
    const char *ct = MHD_lookup_connection_value(cn->mc, MHD_HEADER_KIND,
                                                 "Content-Type");
    if (lines > 1 && (ct == NULL || strstr(ct, "ndjson") == NULL)) {
        json_t *one = json_loadb(cn->body, cn->len, 0, NULL);
        if (json_is_object(one)) {
            cn->own = calloc(1, sizeof *cn->own);
            if (cn->own != NULL) {
                cn->own[0] = json_dumps(one, JSON_COMPACT);
            }
            json_decref(one);
            if (cn->own == NULL || cn->own[0] == NULL ||
                !alloc_lines(cn, 1)) {
                return reply_err(cn->mc, 500, "out of memory");
            }
            cn->batch.lines[0].json = cn->own[0];
            cn->batch.lines[0].len = strlen(cn->own[0]);
            cn->batch.n = 1;
            return submit(cn);
        }
        json_decref(one);
    }
    if (!alloc_lines(cn, lines)) {
        return reply_err(cn->mc, 500, "out of memory");
    }
    size_t start = 0;
    for (size_t i = 0; i <= cn->len; i++) {
        if (i == cn->len || cn->body[i] == '\n') {
            size_t l = i - start;
            const char *p = cn->body + start;
            bool blank = true;
            for (size_t k = 0; k < l && blank; k++) {
                blank = isspace((unsigned char)p[k]) != 0;
            }
            if (!blank) {
                cn->batch.lines[cn->batch.n].json = p;
                cn->batch.lines[cn->batch.n].len = l;
                cn->batch.n++;
            }
            start = i + 1;
        }
    }
    if (cn->batch.n == 0) {
        return reply_err(cn->mc, 400, "no event in the body");
    }
    return submit(cn);
}

/* Submit the mapped webhook events (and the unmappable items, which are
 * dead-lettered by the writer). */
static enum MHD_Result submit_hooks(struct conn *cn, enum core_source src)
{
    cn->batch.source = src;
    cn->ignored = cn->hr.ignored;
    if (!alloc_lines(cn, cn->hr.n_lines + cn->hr.n_rejects)) {
        return reply_err(cn->mc, 500, "out of memory");
    }
    for (size_t i = 0; i < cn->hr.n_lines; i++) {
        struct core_line *l = &cn->batch.lines[cn->batch.n++];
        l->json = cn->hr.lines[i];
        l->len = strlen(cn->hr.lines[i]);
    }
    for (size_t i = 0; i < cn->hr.n_rejects; i++) {
        struct core_line *l = &cn->batch.lines[cn->batch.n++];
        l->json = cn->body ? cn->body : "";
        l->len = cn->len;
        l->reject = cn->hr.rejects[i];
    }
    return submit(cn);
}

static enum MHD_Result post_hubspot(struct conn *cn)
{
    struct http *h = cn->h;
    core_cfg_lock(h->core);
    const struct dconfig *cfg = core_config(h->core);
    char *secret = cfg->hubspot_secret ? strdup(cfg->hubspot_secret) : NULL;
    char *pub = cfg->hubspot_public_url ? strdup(cfg->hubspot_public_url)
                                        : NULL;
    int64_t max_age = cfg->hubspot_max_age_ms;
    core_cfg_unlock(h->core);
    if (secret == NULL) {
        free(pub);
        return reply_err(cn->mc, 404, "the HubSpot webhook is not "
                         "configured");
    }
    /* requestUri: the public URL HubSpot called (config), else
     * http://<Host><target>. */
    char uri[8192], norm[8192];
    if (pub != NULL) {
        const char *q = strchr(cn->uri, '?');
        snprintf(uri, sizeof uri, "%s%s", pub, q ? q : "");
    } else {
        const char *host = MHD_lookup_connection_value(cn->mc,
                                                       MHD_HEADER_KIND,
                                                       "Host");
        snprintf(uri, sizeof uri, "http://%s%s", host ? host : "",
                 cn->uri);
    }
    free(pub);
    char err[256];
    enum lsc_status st = hooks_hubspot_uri(uri, norm, sizeof norm);
    if (st == LSC_OK) {
        st = hooks_verify_hubspot(
            secret, "POST", norm, cn->body ? cn->body : "", cn->len,
            MHD_lookup_connection_value(cn->mc, MHD_HEADER_KIND,
                                        "X-HubSpot-Request-Timestamp"),
            MHD_lookup_connection_value(cn->mc, MHD_HEADER_KIND,
                                        "X-HubSpot-Signature-v3"),
            core_now_ms(), max_age, err, sizeof err);
    } else {
        snprintf(err, sizeof err, "request URI too long");
    }
    free(secret);
    if (st != LSC_OK) {
        core_count_auth_failure(h->core, CORE_SRC_HUBSPOT);
        log_msg(LSC_LOG_WARN, "hubspot webhook refused: %s", err);
        return reply_err(cn->mc, 401, err);
    }
    st = hooks_map_hubspot(cn->body ? cn->body : "", cn->len, &cn->hr, err,
                           sizeof err);
    if (st != LSC_OK) {
        dead_letter(cn, CORE_SRC_HUBSPOT, err);
        return reply_err(cn->mc, 400, err);
    }
    return submit_hooks(cn, CORE_SRC_HUBSPOT);
}

static enum MHD_Result mailchimp(struct conn *cn, const char *method,
                                 const char *secret_in_url)
{
    struct http *h = cn->h;
    core_cfg_lock(h->core);
    const struct dconfig *cfg = core_config(h->core);
    char *url_secret = cfg->mc_url_secret ? strdup(cfg->mc_url_secret) : NULL;
    char *sign = cfg->mc_signing_secret ? strdup(cfg->mc_signing_secret)
                                        : NULL;
    bool require = cfg->mc_require_signature;
    bool by_id = cfg->mc_contact_by_id;
    core_cfg_unlock(h->core);
    enum MHD_Result ret;
    size_t ul = url_secret ? strlen(url_secret) : 0;
    if (url_secret == NULL || strlen(secret_in_url) != ul ||
        CRYPTO_memcmp(secret_in_url, url_secret, ul) != 0) {
        core_count_auth_failure(h->core, CORE_SRC_MAILCHIMP);
        log_refused(h, cn->mc, 404, "/webhooks/mailchimp/",
                    "wrong url_secret");
        ret = reply_err(cn->mc, 404, "not found");
        goto out;
    }
    /* Mailchimp checks the URL with a GET or an empty POST. */
    if (strcmp(method, "GET") == 0 || cn->len == 0) {
        ret = reply_json(cn->mc, 200, strdup("{\"ok\":true}\n"));
        goto out;
    }
    const char *sig = MHD_lookup_connection_value(cn->mc, MHD_HEADER_KIND,
                                                  "X-Mailchimp-Signature");
    char err[256];
    if (sign != NULL && (sig != NULL || require)) {
        if (hooks_verify_mailchimp(sign, sig, cn->body, cn->len,
                                   core_now_ms(), err,
                                   sizeof err) != LSC_OK) {
            core_count_auth_failure(h->core, CORE_SRC_MAILCHIMP);
            log_msg(LSC_LOG_WARN, "mailchimp webhook refused: %s", err);
            ret = reply_err(cn->mc, 401, err);
            goto out;
        }
    }
    if (hooks_map_mailchimp(cn->body, cn->len, by_id, &cn->hr, err,
                            sizeof err) != LSC_OK) {
        dead_letter(cn, CORE_SRC_MAILCHIMP, err);
        ret = reply_err(cn->mc, 400, err);
        goto out;
    }
    ret = submit_hooks(cn, CORE_SRC_MAILCHIMP);
out:
    free(url_secret);
    free(sign);
    return ret;
}

/* Percent-decode a path segment into out; false when malformed. */
static bool path_decode(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (c == '%') {
            if (!isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2])) {
                return false;
            }
            char hx[3] = {s[i + 1], s[i + 2], 0};
            c = (char)strtol(hx, NULL, 16);
            i += 2;
        }
        if (c == '\0' || o + 1 >= outlen) {
            return false;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return o > 0;
}

static enum MHD_Result get_contact(struct conn *cn, const char *rest)
{
    char id[257 * 3];
    if (!path_decode(rest, id, sizeof id) || strlen(id) > 256) {
        return reply_err(cn->mc, 400, "malformed contact id");
    }
    const char *hs = MHD_lookup_connection_value(cn->mc,
                                                 MHD_GET_ARGUMENT_KIND,
                                                 "history");
    size_t hist = hs ? (size_t)strtoul(hs, NULL, 10) : 20;
    if (hist > 1000) {
        hist = 1000;
    }
    char *json = NULL;
    enum lsc_status st = core_contact_json(cn->h->core, id, hist, &json);
    if (st == LSC_ERR_NOT_FOUND) {
        return reply_err(cn->mc, 404, "no such contact");
    }
    if (st != LSC_OK) {
        return reply_err(cn->mc, 500, lsc_status_str(st));
    }
    return reply_json(cn->mc, 200, json);
}

static enum MHD_Result list_contacts(struct conn *cn)
{
    struct MHD_Connection *mc = cn->mc;
    const char *tier = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND,
                                                   "tier");
    const char *ms = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND,
                                                 "min_score");
    const char *lim = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND,
                                                  "limit");
    const char *cur = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND,
                                                  "cursor");
    char *end = NULL;
    long min_score = 0, limit = 50;
    if (ms != NULL) {
        min_score = strtol(ms, &end, 10);
        if (*ms == '\0' || *end != '\0') {
            return reply_err(mc, 400, "min_score must be an integer");
        }
    }
    if (lim != NULL) {
        limit = strtol(lim, &end, 10);
        if (*lim == '\0' || *end != '\0' || limit < 1 || limit > 1000) {
            return reply_err(mc, 400, "limit must be an integer in "
                             "1..1000");
        }
    }
    char *json = NULL, err[128];
    if (core_contacts_json(cn->h->core, tier && *tier ? tier : NULL,
                           (int)min_score, (size_t)limit, cur, &json, err,
                           sizeof err) != LSC_OK) {
        return reply_err(mc, 400, err);
    }
    return reply_json(mc, 200, json);
}

static enum MHD_Result route(struct conn *cn, const char *url,
                             const char *method)
{
    struct MHD_Connection *mc = cn->mc;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (strcmp(url, "/healthz") == 0) {
        return get ? reply_json(mc, 200, strdup("{\"status\":\"ok\"}\n"))
                   : reply_err(mc, 405, "use GET");
    }
    if (strcmp(url, "/metrics") == 0) {
        char *m = core_metrics(cn->h->core);
        return get && m ? reply(mc, 200, "text/plain; version=0.0.4", m)
                        : (free(m), reply_err(mc, 405, "use GET"));
    }
    if (strncmp(url, "/webhooks/mailchimp/", 20) == 0) {
        if (!get && !post) {
            return reply_err(mc, 405, "use GET or POST");
        }
        if (!rate_ok(cn->h, mc)) {
            core_count_rate_limited(cn->h->core);
            log_refused(cn->h, mc, 429, url, "rate limit exceeded");
            return reply_err(mc, 429, "rate limit exceeded");
        }
        return mailchimp(cn, method, url + 20);
    }
    if (strcmp(url, "/webhooks/hubspot") == 0) {
        if (!post) {
            return reply_err(mc, 405, "use POST");
        }
        if (!rate_ok(cn->h, mc)) {
            core_count_rate_limited(cn->h->core);
            log_refused(cn->h, mc, 429, url, "rate limit exceeded");
            return reply_err(mc, 429, "rate limit exceeded");
        }
        return post_hubspot(cn);
    }
    if (strncmp(url, "/v1/", 4) != 0) {
        return reply_err(mc, 404, "no such endpoint");
    }
    if (!token_ok(cn->h, mc)) {
        core_count_auth_failure(cn->h->core, CORE_SRC_API);
        log_refused(cn->h, mc, 401, url, "missing or wrong bearer token");
        return reply_err(mc, 401, "missing or wrong bearer token");
    }
    if (!rate_ok(cn->h, mc)) {
        core_count_rate_limited(cn->h->core);
        log_refused(cn->h, mc, 429, url, "rate limit exceeded");
        return reply_err(mc, 429, "rate limit exceeded");
    }
    if (strcmp(url, "/v1/events") == 0) {
        return post ? post_events(cn) : reply_err(mc, 405, "use POST");
    }
    if (strcmp(url, "/v1/contacts") == 0) {
        return get ? list_contacts(cn) : reply_err(mc, 405, "use GET");
    }
    if (strncmp(url, "/v1/contacts/", 13) == 0 && url[13] != '\0') {
        return get ? get_contact(cn, url + 13) : reply_err(mc, 405,
                                                           "use GET");
    }
    if (strcmp(url, "/v1/admin/rescore") == 0) {
        if (!post) {
            return reply_err(mc, 405, "use POST");
        }
        http_request_rescore();
        return reply_json(mc, 202, strdup("{\"status\":\"rescore "
                                          "started\"}\n"));
    }
    return reply_err(mc, 404, "no such endpoint");
}

static size_t max_body(struct http *h)
{
    core_cfg_lock(h->core);
    size_t m = core_config(h->core)->max_body;
    core_cfg_unlock(h->core);
    return m;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *mc,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct conn *cn = *con_cls;
    if (cn == NULL) {
        return MHD_NO;
    }
    cn->mc = mc;
    if (!cn->started) {
        cn->started = true;
        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                     "Content-Length");
        size_t max = max_body(cn->h);
        if (cl != NULL && strtoull(cl, NULL, 10) > max) {
            cn->too_big = true;
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t max = max_body(cn->h);
        if (!cn->too_big && cn->len + *upload_size > max) {
            cn->too_big = true;
        }
        if (!cn->too_big) {
            if (cn->len + *upload_size + 1 > cn->cap) {
                size_t nc = cn->cap ? cn->cap : 4096;
                while (nc < cn->len + *upload_size + 1) {
                    nc *= 2;
                }
                char *nb = realloc(cn->body, nc);
                if (nb == NULL) {
                    return MHD_NO;
                }
                cn->body = nb;
                cn->cap = nc;
            }
            memcpy(cn->body + cn->len, upload, *upload_size);
            cn->len += *upload_size;
            cn->body[cn->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cn->submitted) {
        return atomic_load(&cn->done) ? answer_batch(cn) : MHD_YES;
    }
    if (cn->too_big) {
        char why[96];
        snprintf(why, sizeof why, "body larger than %zu bytes",
                 max_body(cn->h));
        core_count_too_large(cn->h->core);
        log_refused(cn->h, mc, 413, url, why);
        return reply_err(mc, 413, why);
    }
    return route(cn, url, method);
}

enum lsc_status http_start(struct core *core, const char *host,
                           uint16_t port, unsigned threads,
                           struct http **out, char *err, size_t errlen)
{
    *out = NULL;
    struct http *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return LSC_ERR_NOMEM;
    }
    h->core = core;
    pthread_mutex_init(&h->rate_mu, NULL);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_EPOLL;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "listen: '%s' is not an IP address", host);
        pthread_mutex_destroy(&h->rate_mu);
        free(h);
        return LSC_ERR_CONFIG;
    }
    h->d = MHD_start_daemon(
        flags, port, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 1),
        MHD_OPTION_URI_LOG_CALLBACK, uri_log, h,
        MHD_OPTION_NOTIFY_COMPLETED, completed, h,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%u (in use, or not "
                 "allowed)", host, (unsigned)port);
        pthread_mutex_destroy(&h->rate_mu);
        free(h);
        return LSC_ERR_IO;
    }
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : port;
    *out = h;
    return LSC_OK;
}

uint16_t http_port(const struct http *h) { return h->port; }

void http_quiesce(struct http *h)
{
    if (h != NULL && h->d != NULL) {
        MHD_socket s = MHD_quiesce_daemon(h->d);
        if (s != MHD_INVALID_SOCKET) {
            close(s);
        }
    }
}

unsigned http_connections(const struct http *h)
{
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return di ? di->num_connections : 0;
}

void http_stop(struct http *h)
{
    if (h == NULL) {
        return;
    }
    MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->rate_mu);
    free(h);
}
