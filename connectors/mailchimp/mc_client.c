/*
 * Mailchimp client: authentication, the connection limit, retries, and
 * the operations (setup, write-back, job handler, backfill).  Activity
 * import is in mc_import.c.  API facts: ../shared/docs/crm-apis.md 2.
 */
#include "mc_client.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/retry.h"
#include "core/secrets.h"

/* Blocks the calling (worker) thread for ms. */
static void sleep_ms(int64_t ms)
{
    http_sleep_ms(ms);
}

/* Wall clock, Unix ms. */
int64_t mc_now_ms(void)
{
    return http_now_ms();
}

/* ---- create / destroy --------------------------------------------------- */

enum lsc_status mailchimp_create(const struct mailchimp_config *cfg,
                                 const struct mailchimp_credentials *cred,
                                 struct mailchimp **out, char *err,
                                 size_t errlen)
{
    *out = NULL;
    if (cfg == NULL || cred == NULL || cfg->list_id == NULL ||
        (cred->api_key == NULL) == (cred->oauth_token == NULL)) {
        snprintf(err, errlen, "mailchimp: need a list id and exactly one of "
                              "an API key or an OAuth token");
        return LSC_ERR_INVALID_ARG;
    }
    char dc[32] = "";
    if (cred->api_key != NULL) {
        enum lsc_status st =
            mailchimp_dc_from_key(cred->api_key, dc, sizeof dc, err, errlen);
        if (st != LSC_OK) {
            return st;
        }
    } else if (cred->dc != NULL) {
        if (!mailchimp_dc_valid(cred->dc)) {
            snprintf(err, errlen, "mailchimp: the stored data center is not "
                                  "like \"us19\"; run `leadscore connect "
                                  "mailchimp` again");
            return LSC_ERR_CONFIG;
        }
        snprintf(dc, sizeof dc, "%s", cred->dc);
    }
    if (cfg->api_base == NULL && dc[0] == '\0') {
        snprintf(err, errlen, "mailchimp: no data center for the OAuth "
                              "token; run `leadscore connect mailchimp`");
        return LSC_ERR_CONFIG;
    }
    struct mailchimp *mc = calloc(1, sizeof *mc);
    if (mc == NULL) {
        snprintf(err, errlen, "mailchimp: out of memory");
        return LSC_ERR_NOMEM;
    }
    if (mailchimp_config_copy(&mc->cfg, cfg) != LSC_OK) {
        free(mc);
        snprintf(err, errlen, "mailchimp: out of memory");
        return LSC_ERR_NOMEM;
    }
    if (cfg->api_base != NULL) {
        snprintf(mc->api_base, sizeof mc->api_base, "%s", cfg->api_base);
    } else {
        snprintf(mc->api_base, sizeof mc->api_base,
                 "https://%s.api.mailchimp.com/3.0", dc);
    }
    size_t n = strlen(mc->api_base);
    while (n > 0 && mc->api_base[n - 1] == '/') {
        mc->api_base[--n] = '\0';
    }
    if (mc->cfg.max_connections < 1 ||
        mc->cfg.max_connections > MAILCHIMP_MAX_CONNECTIONS) {
        mc->cfg.max_connections = MAILCHIMP_MAX_CONNECTIONS;
    }
    /* The activity import (the daemon's child process, or `leadscore
     * import`) runs beside the writers with one connection at a time
     * (its requests are sequential): it keeps one slot of the budget, so
     * the user's connections never exceed max_connections. */
    mc->slots = mc->cfg.max_connections;
    if (mc->cfg.activity_import && mc->slots > 1) {
        mc->slots--;
    }
    if (mc->cfg.timeout_ms <= 0 || mc->cfg.timeout_ms > MAILCHIMP_TIMEOUT_MS) {
        mc->cfg.timeout_ms = MAILCHIMP_TIMEOUT_MS;
    }
    if (mc->cfg.max_attempts < 1) {
        mc->cfg.max_attempts = 1;
    }
    /* The header value: Basic anystring:KEY, or Bearer TOKEN. */
    if (cred->api_key != NULL) {
        size_t kl = strlen(cred->api_key) + sizeof "leadscore:";
        char *plain = malloc(kl);
        size_t b64len = 4 * ((kl + 2) / 3) + 1;
        mc->authz = malloc(b64len + 8);
        if (plain != NULL && mc->authz != NULL) {
            int pl = snprintf(plain, kl, "leadscore:%s", cred->api_key);
            memcpy(mc->authz, "Basic ", 6);
            EVP_EncodeBlock((unsigned char *)mc->authz + 6,
                            (const unsigned char *)plain, pl);
            OPENSSL_cleanse(plain, kl);
        }
        free(plain);
    } else {
        size_t tl = strlen(cred->oauth_token) + 8;
        mc->authz = malloc(tl);
        if (mc->authz != NULL) {
            snprintf(mc->authz, tl, "Bearer %s", cred->oauth_token);
        }
    }
    enum lsc_status hst = LSC_ERR_NOMEM;
    if (mc->authz == NULL ||
        (hst = mc_http_create(mc->cfg.timeout_ms, &mc->http, err, errlen)) !=
            LSC_OK) {
        mailchimp_config_destroy(&mc->cfg);
        free(mc->authz);
        free(mc);
        if (hst == LSC_ERR_NOMEM) {
            snprintf(err, errlen, "mailchimp: out of memory");
        }
        return hst;
    }
    pthread_mutex_init(&mc->mu, NULL);
    pthread_cond_init(&mc->cv, NULL);
    *out = mc;
    return LSC_OK;
}

void mailchimp_destroy(struct mailchimp *mc)
{
    if (mc == NULL) {
        return;
    }
    if (mc->authz != NULL) {
        OPENSSL_cleanse(mc->authz, strlen(mc->authz));
        free(mc->authz);
    }
    free(mc->state_path);
    for (int k = 0; k < mc->n_shared; k++) {
        close(mc->shared_fd[k]);
    }
    mailchimp_config_destroy(&mc->cfg);
    http_client_destroy(mc->http);
    pthread_cond_destroy(&mc->cv);
    pthread_mutex_destroy(&mc->mu);
    free(mc);
}

void mc_reauth_set(struct mailchimp *mc, const char *why)
{
    pthread_mutex_lock(&mc->mu);
    bool first = !mc->reauth;
    mc->reauth = true;
    mc->reauth_on_disk = mc->reauth_on_disk || mc->state_path != NULL;
    pthread_mutex_unlock(&mc->mu);
    if (!first || mc->state_path == NULL) {
        return;
    }
    /* A later run (and `connect --status`) must see it too: the state
     * lives until credentials work again (mailchimp_setup). */
    char at[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) != NULL) {
        strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    json_t *j = json_pack("{s:s,s:s,s:s}", "state", "reauth_needed", "since",
                          at, "reason", why != NULL ? why : "");
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char e[256];
    if (text == NULL ||
        secrets_write_file(mc->state_path, text, strlen(text), e,
                           sizeof e) != LSC_OK) {
        /* the in-memory state still stops the writes of this run */
    }
    free(text);
}

/* Credentials worked: leaves the re-authorize state, here and on disk. */
static void reauth_clear(struct mailchimp *mc)
{
    pthread_mutex_lock(&mc->mu);
    mc->reauth = false;
    bool on_disk = mc->reauth_on_disk;
    mc->reauth_on_disk = false;
    pthread_mutex_unlock(&mc->mu);
    if (on_disk && mc->state_path != NULL) {
        remove(mc->state_path);
    }
}

bool mailchimp_needs_reauth(const struct mailchimp *mc)
{
    struct mailchimp *m = (struct mailchimp *)mc;
    pthread_mutex_lock(&m->mu);
    bool r = m->reauth;
    pthread_mutex_unlock(&m->mu);
    return r;
}

void mailchimp_stats_get(const struct mailchimp *mc,
                         struct mailchimp_stats *out)
{
    struct mailchimp *m = (struct mailchimp *)mc;
    pthread_mutex_lock(&m->mu);
    *out = m->stats;
    pthread_mutex_unlock(&m->mu);
}

/* Increments one of mc->stats under the lock. */
void mc_count(struct mailchimp *mc, uint64_t *counter)
{
    pthread_mutex_lock(&mc->mu);
    (*counter)++;
    pthread_mutex_unlock(&mc->mu);
}

/* ---- one call with the connection limit and retries --------------------- */

/* Exponential backoff with full jitter (the core's retry policy), at
 * least 1 ms. */
int64_t mc_backoff_ms(struct mailchimp *mc, int64_t base, unsigned attempt,
                      int64_t cap)
{
    (void)mc;
    struct retry_policy p;
    retry_policy_default(&p);
    p.base_ms = base > 0 ? base : 1;
    p.cap_ms = cap;
    int64_t d = retry_delay_ms(&p, attempt > 0 ? attempt : 1, -1,
                               retry_random());
    return d > 0 ? d : 1;
}

/* "Equal jitter": uniform in [ceiling/2, ceiling], so the delays of
 * one job never shrink and a long outage is waited out, not burnt
 * through in a few seconds. */
int64_t mc_job_backoff_ms(int64_t base, unsigned attempt, int64_t cap,
                          uint64_t rnd)
{
    int64_t c = base > 0 ? base : 1;
    for (unsigned i = 1; i < attempt && c < cap; i++) {
        c *= 2;
    }
    if (c > cap) {
        c = cap > 0 ? cap : 1;
    }
    int64_t half = c / 2;
    return half + (int64_t)(rnd % (uint64_t)(c - half + 1));
}

enum lsc_status mailchimp_share_connections(struct mailchimp *mc,
                                            const char *dir, char *err,
                                            size_t errlen)
{
    /* FNV-1a of the API base: one budget per data center (or fake). */
    uint32_t h = 2166136261u;
    for (const char *p = mc->api_base; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 16777619u;
    }
    int n = mc->cfg.max_connections;
    for (int k = 0; k < n; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/mailchimp-conn-%08x-%d.lock", dir,
                 (unsigned)h, k);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open %s: %s", path,
                     strerror(errno));
            for (int j = 0; j < k; j++) {
                close(mc->shared_fd[j]);
            }
            return LSC_ERR_IO;
        }
        mc->shared_fd[k] = fd;
    }
    /* A file system without flock (some network mounts) must not make
     * every request wait forever: refuse here, the caller goes on alone. */
    int fl = flock(mc->shared_fd[0], LOCK_EX | LOCK_NB);
    if (fl != 0 && errno != EWOULDBLOCK) {
        snprintf(err, errlen, "cannot lock files in %s: %s", dir,
                 strerror(errno));
        for (int k = 0; k < n; k++) {
            close(mc->shared_fd[k]);
        }
        return LSC_ERR_IO;
    }
    if (fl == 0) {
        flock(mc->shared_fd[0], LOCK_UN);
    }
    mc->n_shared = n;
    return LSC_OK;
}

/* One of the shared lock files no other thread or process holds: its
 * index, -1 when all are held right now, -2 when locking failed for
 * another reason (the request then goes without). */
static int take_shared(struct mailchimp *mc)
{
    for (int k = 0; k < mc->n_shared; k++) {
        pthread_mutex_lock(&mc->mu);
        bool mine = !mc->shared_busy[k];
        mc->shared_busy[k] = true;
        pthread_mutex_unlock(&mc->mu);
        if (!mine) {
            continue; /* another thread of ours has it */
        }
        int rc = flock(mc->shared_fd[k], LOCK_EX | LOCK_NB);
        int e = errno;
        if (rc == 0) {
            return k;
        }
        pthread_mutex_lock(&mc->mu);
        mc->shared_busy[k] = false;
        pthread_mutex_unlock(&mc->mu);
        if (e != EWOULDBLOCK) {
            return -2;
        }
    }
    return -1;
}

/* Waits for one of the max_connections request slots (and, when shared,
 * one of the lock files); returns the file's index or -1. */
static int acquire(struct mailchimp *mc)
{
    pthread_mutex_lock(&mc->mu);
    while (mc->in_flight >= mc->slots) {
        pthread_cond_wait(&mc->cv, &mc->mu);
    }
    mc->in_flight++;
    mc->stats.requests++;
    if ((uint64_t)mc->in_flight > mc->stats.max_in_flight) {
        mc->stats.max_in_flight = (uint64_t)mc->in_flight;
    }
    pthread_mutex_unlock(&mc->mu);
    if (mc->n_shared == 0) {
        return -1;
    }
    int k;
    for (int spin = 0; (k = take_shared(mc)) == -1; spin++) {
        sleep_ms(spin < 10 ? 5 : 25); /* another process has them all */
    }
    return k >= 0 ? k : -1;
}

/* Frees what acquire() took. */
static void release(struct mailchimp *mc, int shared)
{
    if (shared >= 0) {
        flock(mc->shared_fd[shared], LOCK_UN);
    }
    pthread_mutex_lock(&mc->mu);
    if (shared >= 0) {
        mc->shared_busy[shared] = false;
    }
    mc->in_flight--;
    pthread_cond_signal(&mc->cv);
    pthread_mutex_unlock(&mc->mu);
}

/* True when the problem+json body of r (borrowed) has this title. */
static bool title_is(const struct mc_http_resp *r, const char *title)
{
    if (r->body == NULL) {
        return false;
    }
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    const char *t = json_string_value(json_object_get(j, "title"));
    bool eq = t != NULL && strcmp(t, title) == 0;
    json_decref(j);
    return eq;
}

/* Borrowed method, path (after /3.0), body.  On LSC_OK `resp` holds a
 * final answer the caller frees (2xx, or a 4xx that is not about
 * credentials nor throttling); otherwise resp is freed and err says why
 * (RETRYABLE/TIMEOUT with *retry_after_ms, AUTH). */
enum lsc_status mc_call(struct mailchimp *mc, const char *method,
                        const char *path, const char *body,
                        struct mc_http_resp *resp, int64_t *retry_after_ms,
                        char *err, size_t errlen)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", mc->api_base, path);
    if (retry_after_ms != NULL) {
        *retry_after_ms = 0;
    }
    enum lsc_status last = LSC_ERR_RETRYABLE;
    for (int attempt = 1; attempt <= mc->cfg.max_attempts; attempt++) {
        if (mailchimp_needs_reauth(mc)) {
            snprintf(err, errlen,
                     "Mailchimp re-authorization needed (credentials were "
                     "refused); run `leadscore connect mailchimp`");
            return LSC_ERR_AUTH;
        }
        struct mc_http_req req = {
            .method = method,
            .url = url,
            .body = body,
            .body_len = body != NULL ? strlen(body) : 0,
            .authorization = mc->authz,
            .timeout_ms = mc->cfg.timeout_ms,
        };
        int shared = acquire(mc);
        enum lsc_status st = mc_http_send(mc->http, &req, resp);
        release(mc, shared);
        int64_t wait = -1;
        if (st == LSC_ERR_INVALID_ARG) {
            snprintf(err, errlen, "%s %s: %s", method, path, resp->error);
            return LSC_ERR_PERMANENT;
        }
        if (st != LSC_OK) {
            snprintf(err, errlen, "%s %s: %s", method, path,
                     resp->timed_out ? "timed out (the call may still run "
                                       "at Mailchimp)"
                                     : resp->error);
            last = st == LSC_ERR_TIMEOUT ? LSC_ERR_TIMEOUT
                                         : LSC_ERR_RETRYABLE;
        } else {
            long s = resp->status;
            bool throttled = s == 429 || (s == 403 && resp->body_len == 0);
            if (throttled) {
                mc_count(mc, &mc->stats.throttled);
            }
            if (s == 401 || (s == 403 && (title_is(resp, "API Key Invalid") ||
                                          title_is(resp, "User Disabled")))) {
                char why[200];
                mailchimp_problem_reason(s, resp->body, resp->body_len,
                                         resp->request_id, why, sizeof why);
                snprintf(err, errlen,
                         "Mailchimp re-authorization needed: %s; run "
                         "`leadscore connect mailchimp` or fix the API key",
                         why);
                mc_reauth_set(mc, why);
                mc_http_resp_free(resp);
                return LSC_ERR_AUTH;
            }
            if (!throttled && s != 408 && s < 500) {
                /* an answer past authentication: the credentials work
                 * (again), so a persisted refusal no longer holds */
                if (mc->reauth_on_disk) {
                    reauth_clear(mc);
                }
                return LSC_OK;
            }
            char why[200];
            mailchimp_problem_reason(s, resp->body, resp->body_len,
                                     resp->request_id, why, sizeof why);
            snprintf(err, errlen, "%s %s: %s", method, path, why);
            wait = resp->retry_after_ms;
            last = LSC_ERR_RETRYABLE;
        }
        mc_http_resp_free(resp);
        /* Only the server's Retry-After goes to the caller: our in-call
         * delay must not replace the job's own, longer backoff. */
        if (retry_after_ms != NULL) {
            *retry_after_ms = wait > 0 ? wait : 0;
        }
        int64_t back = mc_backoff_ms(mc, mc->cfg.backoff_base_ms,
                                     (unsigned)attempt, 30000);
        if (wait < back) {
            wait = back;
        }
        if (attempt == mc->cfg.max_attempts || wait > 30000) {
            break;
        }
        sleep_ms(wait);
    }
    return last;
}

/* Reason for a final non-2xx answer; frees nothing. */
void mc_reason(const char *what, const struct mc_http_resp *r, char *err,
               size_t errlen)
{
    char why[220];
    mailchimp_problem_reason(r->status, r->body, r->body_len, r->request_id,
                             why, sizeof why);
    snprintf(err, errlen, "%s: %s", what, why);
}

/* ---- setup -------------------------------------------------------------- */

static enum lsc_status create_field(struct mailchimp *mc, const char *name,
                                    const char *type, const char *tag,
                                    char *err, size_t errlen)
{
    char path[256];
    snprintf(path, sizeof path, "/lists/%s/merge-fields", mc->cfg.list_id);
    char *body = mailchimp_build_merge_field(name, type, tag);
    if (body == NULL) {
        snprintf(err, errlen, "mailchimp setup: out of memory");
        return LSC_ERR_NOMEM;
    }
    struct mc_http_resp r;
    enum lsc_status st = mc_call(mc, "POST", path, body, &r, NULL, err,
                                 errlen);
    free(body);
    if (st != LSC_OK) {
        return st;
    }
    if (r.status != 200) {
        char what[64];
        snprintf(what, sizeof what, "creating merge field %s", tag);
        mc_reason(what, &r, err, errlen);
        st = LSC_ERR_PERMANENT;
    }
    mc_http_resp_free(&r);
    return st;
}

enum lsc_status mailchimp_setup(struct mailchimp *mc, int *created,
                                char *err, size_t errlen)
{
    if (created != NULL) {
        *created = 0;
    }
    /* setup is how credentials are checked again after a refusal
     * (`leadscore connect mailchimp`): it tries even if this client has
     * seen one */
    pthread_mutex_lock(&mc->mu);
    mc->reauth = false;
    pthread_mutex_unlock(&mc->mu);
    bool has_s = false, has_t = false;
    char ts[32] = "", tt[32] = "";
    /* Paged with count/offset until total_items are seen (a server may
     * answer fewer than `count`). */
    size_t offset = 0, total = 0;
    enum lsc_status st = LSC_OK;
    do {
        char path[256];
        snprintf(path, sizeof path,
                 "/lists/%s/merge-fields?count=1000&offset=%zu",
                 mc->cfg.list_id, offset);
        struct mc_http_resp r;
        st = mc_call(mc, "GET", path, NULL, &r, NULL, err, errlen);
        if (st != LSC_OK) {
            return st;
        }
        if (r.status != 200) {
            mc_reason("reading the audience's merge fields", &r, err,
                      errlen);
            mc_http_resp_free(&r);
            return LSC_ERR_PERMANENT;
        }

        bool ps, pt;
        size_t on_page = 0;
        st = mailchimp_parse_merge_fields(r.body, r.body_len,
                                          mc->cfg.score_tag, &ps, ts,
                                          has_s ? 0 : sizeof ts,
                                          mc->cfg.tier_tag, &pt, tt,
                                          has_t ? 0 : sizeof tt, &total,
                                          &on_page, err, errlen);
        mc_http_resp_free(&r);
        if (st != LSC_OK) {
            return st;
        }
        has_s = has_s || ps;
        has_t = has_t || pt;
        if (on_page == 0) {
            break; /* an overstated total_items would loop forever */
        }
        offset += on_page;
    } while (offset < total);
    if (has_s && strcmp(ts, "number") != 0) {
        snprintf(err, errlen,
                 "merge field %s already exists with type \"%s\", not "
                 "\"number\"; choose another tag in fields.score.tag",
                 mc->cfg.score_tag, ts);
        return LSC_ERR_CONFIG;
    }
    if (has_t && strcmp(tt, "text") != 0) {
        snprintf(err, errlen,
                 "merge field %s already exists with type \"%s\", not "
                 "\"text\"; choose another tag in fields.tier.tag",
                 mc->cfg.tier_tag, tt);
        return LSC_ERR_CONFIG;
    }
    if (!has_s) {
        st = create_field(mc, mc->cfg.score_name, "number", mc->cfg.score_tag,
                          err, errlen);
        if (st != LSC_OK) {
            return st;
        }
        if (created != NULL) {
            (*created)++;
        }
    }
    if (!has_t) {
        st = create_field(mc, mc->cfg.tier_name, "text", mc->cfg.tier_tag,
                          err, errlen);
        if (st != LSC_OK) {
            return st;
        }
        if (created != NULL) {
            (*created)++;
        }
    }
    return LSC_OK;
}

/* ---- write-back ----------------------------------------------------------- */

/* Tag body for a tier change: `to` active, `from` and every configured
 * tier tag inactive.  Covers coalesced jobs that skipped a transition.
 * malloc()ed. */
char *mc_tags_body(const struct mailchimp *mc, const char *to,
                   const char *from)
{
    size_t n = mc->cfg.n_tiers + 1;
    char(*names)[MAILCHIMP_MEMBER_TAG_MAX + 16] = calloc(n, sizeof *names);
    const char **off = calloc(n, sizeof *off);
    char active[MAILCHIMP_MEMBER_TAG_MAX + 16];
    char *body = NULL;
    if (names != NULL && off != NULL) {
        size_t k = 0;
        mailchimp_config_tier_tag(&mc->cfg, to, active, sizeof active);
        if (from != NULL && strcmp(from, to) != 0) {
            mailchimp_config_tier_tag(&mc->cfg, from, names[k],
                                      sizeof names[k]);
            off[k] = names[k];
            k++;
        }
        for (size_t i = 0; i < mc->cfg.n_tiers; i++) {
            off[k++] = mc->cfg.tiers[i].tag;
        }
        body = mailchimp_build_tags(active, off, k,
                                    !mc->cfg.tags_trigger_automations);
    }
    free(names);
    free(off);
    return body;
}

/* The normalized address (into email) and subscriber hash of a contact;
 * false when it has no usable address, so nothing is sent for it. */
static bool member_key(const char *addr, char *email, size_t emaillen,
                       char hash[MAILCHIMP_HASH_LEN + 1])
{
    return mailchimp_email_normalize(addr, email, emaillen) == LSC_OK &&
           mailchimp_subscriber_hash(email, hash, MAILCHIMP_HASH_LEN + 1,
                                     NULL, 0) == LSC_OK;
}

enum lsc_status mailchimp_write(struct mailchimp *mc,
                                const struct mailchimp_write *w,
                                enum mailchimp_write_outcome *outcome,
                                int64_t *retry_after_ms, char *err,
                                size_t errlen)
{
    enum mailchimp_write_outcome oc = MAILCHIMP_WRITE_UPDATED;
    if (retry_after_ms != NULL) {
        *retry_after_ms = 0;
    }
    char hash[MAILCHIMP_HASH_LEN + 1];
    char email[320];
    if (w == NULL || !member_key(w->email, email, sizeof email, hash)) {
        snprintf(err, errlen, "mailchimp write: the contact has no usable "
                              "email address");
        return LSC_ERR_PERMANENT;
    }
    char path[256], mpath[300];
    snprintf(path, sizeof path, "/lists/%s/members/%s", mc->cfg.list_id,
             hash);
    /* We send only our own merge fields: without the flag an audience with
     * another required field refuses the write (crm-apis.md 2.3). */
    snprintf(mpath, sizeof mpath, "%s%s", path, MC_SKIP_MERGE_VALIDATION);
    char *body = mailchimp_build_member_patch(mc->cfg.score_tag, w->score,
                                              mc->cfg.tier_tag, w->tier);
    if (body == NULL) {
        snprintf(err, errlen, "mailchimp write: out of memory");
        return LSC_ERR_NOMEM;
    }
    struct mc_http_resp r;
    enum lsc_status st =
        mc_call(mc, "PATCH", mpath, body, &r, retry_after_ms, err, errlen);
    free(body);
    if (st != LSC_OK) {
        return st;
    }
    long status = r.status;
    if (status == 404) {
        mc_http_resp_free(&r);
        if (mc->cfg.unknown_members == MAILCHIMP_UNKNOWN_SKIP) {
            mc_count(mc, &mc->stats.skipped_unknown);
            if (outcome != NULL) {
                *outcome = MAILCHIMP_WRITE_SKIPPED_UNKNOWN;
            }
            snprintf(err, errlen, "skipped: not a member of audience %s "
                                  "(unknown_members is \"skip\")",
                     mc->cfg.list_id);
            return LSC_OK;
        }
        body = mailchimp_build_member_put(email, mc->cfg.create_status,
                                          mc->cfg.score_tag, w->score,
                                          mc->cfg.tier_tag, w->tier);
        if (body == NULL) {
            snprintf(err, errlen, "mailchimp write: out of memory");
            return LSC_ERR_NOMEM;
        }
        st = mc_call(mc, "PUT", mpath, body, &r, retry_after_ms, err,
                     errlen);
        free(body);
        if (st != LSC_OK) {
            return st;
        }
        status = r.status;
        oc = MAILCHIMP_WRITE_CREATED;
    }
    if (status != 200) {
        mc_reason("updating the member", &r, err, errlen);
        mc_http_resp_free(&r);
        return LSC_ERR_PERMANENT;
    }
    mc_http_resp_free(&r);
    if (w->tier != NULL) {
        char tpath[300];
        snprintf(tpath, sizeof tpath, "%s/tags", path);
        body = mc_tags_body(mc, w->tier, w->from_tier);
        if (body == NULL) {
            snprintf(err, errlen, "mailchimp write: out of memory");
            return LSC_ERR_NOMEM;
        }
        st = mc_call(mc, "POST", tpath, body, &r, retry_after_ms, err,
                     errlen);
        free(body);
        if (st != LSC_OK) {
            return st;
        }
        if (r.status != 204 && r.status != 200) {
            mc_reason("setting the tier tags", &r, err, errlen);
            mc_http_resp_free(&r);
            return LSC_ERR_PERMANENT;
        }
        mc_http_resp_free(&r);
    }
    mc_count(mc, oc == MAILCHIMP_WRITE_CREATED ? &mc->stats.created
                                               : &mc->stats.written);
    if (outcome != NULL) {
        *outcome = oc;
    }
    if (errlen > 0) {
        err[0] = '\0';
    }
    return LSC_OK;
}

/* ---- job payloads and the job handler ------------------------------------ */

enum lsc_status mailchimp_job_payload(const struct mailchimp_write *w,
                                      char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (w == NULL || w->email == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    json_t *j = json_pack("{s:s,s:f}", "email", w->email, "score", w->score);
    if (j == NULL) {
        return LSC_ERR_NOMEM;
    }
    if (w->tier != NULL) {
        json_object_set_new(j, "tier", json_string(w->tier));
    }
    if (w->from_tier != NULL) {
        json_object_set_new(j, "from", json_string(w->from_tier));
    }
    *out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (*out == NULL) {
        return LSC_ERR_NOMEM;
    }
    *len = strlen(*out);
    return LSC_OK;
}

struct job_pool {
    struct mailchimp *mc;
    const struct lsc_job *jobs;
    struct lsc_job_result *results;
    size_t n;
    size_t next;
    pthread_mutex_t mu;
};

/* Runs one job (borrowed) and fills its result (caller-owned). */
static void run_one(struct mailchimp *mc, const struct lsc_job *job,
                    struct lsc_job_result *res)
{
    char err[256] = "";
    json_t *j = json_loadb(job->payload, job->payload_len, 0, NULL);
    struct mailchimp_write w = {
        .email = json_string_value(json_object_get(j, "email")),
        .score = json_number_value(json_object_get(j, "score")),
        .tier = json_string_value(json_object_get(j, "tier")),
        .from_tier = json_string_value(json_object_get(j, "from")),
    };
    int64_t retry = 0;
    enum lsc_status st;
    if (w.email == NULL) {
        snprintf(err, sizeof err, "mailchimp job %llu: malformed payload",
                 (unsigned long long)job->id);
        st = LSC_ERR_PERMANENT;
    } else {
        st = mailchimp_write(mc, &w, NULL, &retry, err, sizeof err);
    }
    json_decref(j);
    res->retry_after_ms = 0;
    switch (st) {
    case LSC_OK:
        res->status = LSC_OK;
        break;
    case LSC_ERR_AUTH:
        /* Keep the queue: retry after re-authorization.  A host that
         * takes LSC_DEFERRED (ABI 1.1) does not count the wait as an
         * attempt, so a long wait never dead-letters the write. */
        res->status = LSC_ERR_RETRYABLE;
#if LSC_PLUGIN_ABI_MINOR >= 1
        if (mc->host_defers) {
            res->status = LSC_DEFERRED;
        }
#endif
        res->retry_after_ms = 15 * 60 * 1000;
        break;
    case LSC_ERR_RETRYABLE:
    case LSC_ERR_TIMEOUT:
        res->status = LSC_ERR_RETRYABLE;
        res->retry_after_ms =
            retry > 0 ? retry
                      : mc_job_backoff_ms(mc->cfg.job_backoff_base_ms,
                                          job->attempt > 0 ? job->attempt
                                                           : 1,
                                          mc->cfg.job_backoff_cap_ms,
                                          retry_random());
        break;
    case LSC_ERR_NOMEM:
        res->status = LSC_ERR_RETRYABLE;
        res->retry_after_ms = 1000;
        break;
    case LSC_ERR_ABI:
    case LSC_ERR_CONFIG:
    case LSC_ERR_CORRUPT:
    case LSC_ERR_INTERNAL:
    case LSC_ERR_INVALID_ARG:
    case LSC_ERR_IO:
    case LSC_ERR_NOT_FOUND:
    case LSC_ERR_PARSE:
    case LSC_ERR_PERMANENT:
    case LSC_ERR_UNSUPPORTED:
    case LSC_DEFERRED: /* a job result code, never a write's */
        res->status = LSC_ERR_PERMANENT;
        break;
    }
    snprintf(res->reason, sizeof res->reason, "%s", err);
}

/* Worker of mailchimp_job_run(): takes jobs by index until none left;
 * arg is the borrowed struct job_pool. */
static void *pool_worker(void *arg)
{
    struct job_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n) {
            return NULL;
        }
        run_one(p->mc, &p->jobs[i], &p->results[i]);
    }
}

enum lsc_status mailchimp_job_run(struct mailchimp *mc,
                                  const struct lsc_job *jobs,
                                  struct lsc_job_result *results, size_t n)
{
    if (mc == NULL || (n > 0 && (jobs == NULL || results == NULL))) {
        return LSC_ERR_INVALID_ARG;
    }
    struct job_pool p = {mc, jobs, results, n, 0, PTHREAD_MUTEX_INITIALIZER};
    size_t nt = n < (size_t)mc->slots ? n : (size_t)mc->slots;
    pthread_t th[MAILCHIMP_MAX_CONNECTIONS];
    size_t started = 0;
    for (size_t i = 1; i < nt; i++) {
        if (pthread_create(&th[started], NULL, pool_worker, &p) == 0) {
            started++;
        }
    }
    pool_worker(&p);
    for (size_t i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_mutex_destroy(&p.mu);
    return LSC_OK;
}

/* ---- bulk backfill through POST /batches ---------------------------------- */

/* Per input write: what its member and tag operations answered. */
struct op_state {
    long member; /* HTTP status, 0: not in the archive, -1: no op sent */
    long tags;
    char *fail_body;  /* first non-2xx answer body, copied (NULL: none) */
    size_t fail_len;
    long fail_status; /* its status */
};

struct results_ctx {
    struct op_state *ops; /* one per input write */
    size_t n;
};

/* Records one operation result ("leadscore-<i>-member|tags"). */
static enum lsc_status on_result(void *ud, const char *oid, long status,
                                 const char *response, size_t len)
{
    struct results_ctx *c = ud;
    size_t i;
    char kind[16];
    int used = 0;
    if (oid == NULL ||
        sscanf(oid, "leadscore-%zu-%15[a-z]%n", &i, kind, &used) != 2 ||
        oid[used] != '\0' || i >= c->n) {
        return LSC_OK; /* not ours */
    }
    bool member = strcmp(kind, "member") == 0;
    if (!member && strcmp(kind, "tags") != 0) {
        return LSC_OK;
    }
    struct op_state *o = &c->ops[i];
    *(member ? &o->member : &o->tags) = status;
    if ((status < 200 || status > 299) && o->fail_body == NULL) {
        o->fail_body = malloc(len + 1);
        if (o->fail_body == NULL) {
            return LSC_ERR_NOMEM;
        }
        memcpy(o->fail_body, response != NULL ? response : "", len);
        o->fail_body[len] = '\0';
        o->fail_len = len;
        o->fail_status = status;
    }
    return LSC_OK;
}

/* Adds one failure of input i to the reasons table. */
static void add_reason(struct mailchimp_backfill_result *res,
                       const char *email, long status, const char *body,
                       size_t len)
{
    char why[200];
    if (status == 0) {
        snprintf(why, sizeof why, "no result in the batch archive");
    } else {
        mailchimp_problem_summary(status, body, len, why, sizeof why);
    }
    for (size_t k = 0; k < res->n_reasons; k++) {
        if (strcmp(res->reasons[k].reason, why) == 0) {
            res->reasons[k].count++;
            return;
        }
    }
    if (res->n_reasons == MAILCHIMP_BACKFILL_REASONS) {
        res->other_reasons++;
        return;
    }
    size_t k = res->n_reasons++;
    snprintf(res->reasons[k].reason, sizeof res->reasons[k].reason, "%s",
             why);
    char norm[320] = "";
    if (email != NULL &&
        mailchimp_email_normalize(email, norm, sizeof norm) != LSC_OK) {
        norm[0] = '\0';
    }
    /* an example only: a long address is cut to fit */
    snprintf(res->reasons[k].example, sizeof res->reasons[k].example, "%.*s",
             (int)sizeof res->reasons[k].example - 1, norm);
    res->reasons[k].count = 1;
}

/* Downloads the results archive (a pre-signed URL: no Authorization) and
 * counts per member: written, skipped (404 under "skip"), failed with
 * reasons.  Returns LSC_OK unless out of memory; an unreadable archive
 * only leaves res->results_read false. */
static enum lsc_status read_results(struct mailchimp *mc,
                                    const struct mailchimp_write *w,
                                    size_t n, const char *url,
                                    struct mailchimp_backfill_result *res)
{
    if (url[0] == '\0') {
        snprintf(res->results_error, sizeof res->results_error,
                 "the finished batch has no response_body_url");
        return LSC_OK;
    }
    struct mc_http_req req = {.method = "GET",
                              .url = url,
                              .timeout_ms = mc->cfg.timeout_ms};
    struct mc_http_resp r;
    enum lsc_status st = LSC_ERR_RETRYABLE;
    for (int attempt = 1; attempt <= mc->cfg.max_attempts; attempt++) {
        st = mc_http_send(mc->http, &req, &r);
        mc_count(mc, &mc->stats.requests);
        if (st == LSC_OK && r.status == 200) {
            break;
        }
        if (st == LSC_OK) {
            mailchimp_problem_reason(r.status, NULL, 0, NULL,
                                     res->results_error,
                                     sizeof res->results_error);
            st = r.status >= 500 ? LSC_ERR_RETRYABLE : LSC_ERR_PERMANENT;
            mc_http_resp_free(&r);
        } else {
            snprintf(res->results_error, sizeof res->results_error, "%s",
                     r.error);
        }
        if (st == LSC_ERR_PERMANENT || st == LSC_ERR_INVALID_ARG ||
            attempt == mc->cfg.max_attempts) {
            return LSC_OK;
        }
        sleep_ms(mc_backoff_ms(mc, mc->cfg.backoff_base_ms,
                               (unsigned)attempt, 10000));
    }
    if (st != LSC_OK) {
        return LSC_OK;
    }
    struct results_ctx c = {.n = n};
    c.ops = calloc(n + 1, sizeof *c.ops);
    if (c.ops == NULL) {
        st = LSC_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        /* mailchimp_backfill() sent nothing for an input without an
         * address. */
        char email[320], hash[MAILCHIMP_HASH_LEN + 1];
        bool sent = member_key(w[i].email, email, sizeof email, hash);
        c.ops[i].member = sent ? 0 : -1;
        c.ops[i].tags = sent && w[i].tier != NULL ? 0 : -1;
    }
    char perr[200] = "";
    st = mailchimp_batch_results_parse(r.body, r.body_len, on_result, &c,
                                       NULL, perr, sizeof perr);
    if (st != LSC_OK) {
        snprintf(res->results_error, sizeof res->results_error, "%s", perr);
        st = st == LSC_ERR_NOMEM ? st : LSC_OK;
        goto done;
    }
    bool skip = mc->cfg.unknown_members == MAILCHIMP_UNKNOWN_SKIP;
    for (size_t i = 0; i < n; i++) {
        struct op_state o = c.ops[i];
        if (o.member == -1) {
            continue; /* no address: no operation was sent */
        }
        if (o.member == 404 && skip) {
            res->skipped_unknown++;
            continue;
        }
        bool m_ok = o.member >= 200 && o.member <= 299;
        bool t_ok = o.tags == -1 || (o.tags >= 200 && o.tags <= 299);
        if (m_ok && t_ok) {
            res->written++;
            continue;
        }
        if (o.member == 0 || o.tags == 0) {
            res->missing++;
        } else {
            res->failed++;
        }
        add_reason(res, w[i].email, o.fail_body != NULL ? o.fail_status : 0,
                   o.fail_body, o.fail_len);
    }
    res->results_read = true;
done:
    for (size_t i = 0; c.ops != NULL && i < n; i++) {
        free(c.ops[i].fail_body);
    }
    free(c.ops);
    mc_http_resp_free(&r);
    return st;
}


enum lsc_status mailchimp_backfill(struct mailchimp *mc,
                                   const struct mailchimp_write *w, size_t n,
                                   char *batch_id, size_t batch_id_len,
                                   struct mailchimp_backfill_result *res,
                                   int64_t wait_ms, char *err, size_t errlen)
{
    if (res != NULL) {
        memset(res, 0, sizeof *res);
    }
    if (batch_id != NULL && batch_id_len > 0) {
        batch_id[0] = '\0';
    }
    struct mailchimp_batch_op *ops = calloc(2 * n + 1, sizeof *ops);
    char **owned = calloc(6 * n + 1, sizeof *owned);
    size_t nops = 0, nown = 0;
    enum lsc_status st = LSC_OK;
    if (ops == NULL || owned == NULL) {
        st = LSC_ERR_NOMEM;
        goto out;
    }
    bool create = mc->cfg.unknown_members == MAILCHIMP_UNKNOWN_CREATE;
    for (size_t i = 0; i < n; i++) {
        char hash[MAILCHIMP_HASH_LEN + 1], email[320], buf[300];
        if (!member_key(w[i].email, email, sizeof email, hash)) {
            continue; /* no address: nothing to write */
        }
        /* The query goes in `params`, the operation's documented field
         * for it; a query inside `path` is shown nowhere.  The guide says
         * params serves GET only: if Mailchimp drops it here, a member
         * missing a required merge field is refused and counted failed
         * with that reason (docs/connectors/mailchimp.md). */
        snprintf(buf, sizeof buf, "/lists/%s/members/%s", mc->cfg.list_id,
                 hash);
        char *path = strdup(buf);
        char *body = create
                         ? mailchimp_build_member_put(
                               email, mc->cfg.create_status,
                               mc->cfg.score_tag, w[i].score,
                               mc->cfg.tier_tag, w[i].tier)
                         : mailchimp_build_member_patch(
                               mc->cfg.score_tag, w[i].score,
                               mc->cfg.tier_tag, w[i].tier);
        owned[nown++] = path;
        owned[nown++] = body;
        if (path == NULL || body == NULL) {
            st = LSC_ERR_NOMEM;
            goto out;
        }
        /* operation_id names the input (index) in the results archive. */
        snprintf(buf, sizeof buf, "leadscore-%zu-member", i);
        char *oid = strdup(buf);
        owned[nown++] = oid;
        if (oid == NULL) {
            st = LSC_ERR_NOMEM;
            goto out;
        }
        ops[nops++] = (struct mailchimp_batch_op){
            create ? "PUT" : "PATCH", path, oid, body,
            "{\"skip_merge_validation\":\"true\"}"};
        if (w[i].tier != NULL) {
            snprintf(buf, sizeof buf, "/lists/%s/members/%s/tags",
                     mc->cfg.list_id, hash);
            char *tpath = strdup(buf);
            char *tbody = mc_tags_body(mc, w[i].tier, w[i].from_tier);
            owned[nown++] = tpath;
            owned[nown++] = tbody;
            if (tpath == NULL || tbody == NULL) {
                st = LSC_ERR_NOMEM;
                goto out;
            }
            snprintf(buf, sizeof buf, "leadscore-%zu-tags", i);
            char *toid = strdup(buf);
            owned[nown++] = toid;
            if (toid == NULL) {
                st = LSC_ERR_NOMEM;
                goto out;
            }
            ops[nops++] =
                (struct mailchimp_batch_op){"POST", tpath, toid, tbody, NULL};
        }
    }
    char *batch = mailchimp_build_batch(ops, nops);
    if (batch == NULL) {
        st = LSC_ERR_NOMEM;
        goto out;
    }
    struct mc_http_resp r;
    st = mc_call(mc, "POST", "/batches", batch, &r, NULL, err, errlen);
    free(batch);
    if (st != LSC_OK) {
        goto out;
    }
    if (r.status != 200) {
        mc_reason("starting the batch", &r, err, errlen);
        mc_http_resp_free(&r);
        st = LSC_ERR_PERMANENT;
        goto out;
    }
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    mc_http_resp_free(&r);
    const char *id = json_string_value(json_object_get(j, "id"));
    char bid[64];
    snprintf(bid, sizeof bid, "%s", id != NULL ? id : "");
    json_decref(j);
    if (bid[0] == '\0') {
        snprintf(err, errlen, "starting the batch: no batch id in answer");
        st = LSC_ERR_PARSE;
        goto out;
    }
    if (batch_id != NULL && batch_id_len > 0) {
        snprintf(batch_id, batch_id_len, "%s", bid);
    }
    int64_t deadline = mc_now_ms() + wait_ms;
    char results_url[2048] = "";
    for (unsigned poll = 1;; poll++) {
        char path[128];
        snprintf(path, sizeof path, "/batches/%s", bid);
        st = mc_call(mc, "GET", path, NULL, &r, NULL, err, errlen);
        if (st != LSC_OK) {
            goto out;
        }
        if (r.status == 404) {
            /* Deleted, or older than the 7 days Mailchimp keeps batches:
             * polling again cannot bring it back. */
            char why[200];
            mailchimp_problem_reason(r.status, r.body, r.body_len,
                                     r.request_id, why, sizeof why);
            snprintf(err, errlen,
                     "batch %s is gone (GET /batches/%s: %s); it was deleted "
                     "or has expired, so its outcome is unknown: run the "
                     "backfill again",
                     bid, bid, why);
            mc_http_resp_free(&r);
            st = LSC_ERR_PERMANENT;
            goto out;
        }
        if (r.status != 200) {
            char what[128];
            snprintf(what, sizeof what, "polling batch %s", bid);
            mc_reason(what, &r, err, errlen);
            mc_http_resp_free(&r);
            st = LSC_ERR_PERMANENT;
            goto out;
        }
        j = json_loadb(r.body, r.body_len, 0, NULL);
        mc_http_resp_free(&r);
        const char *status = json_string_value(json_object_get(j, "status"));
        bool done = status != NULL && strcmp(status, "finished") == 0;
        if (done) {
            if (res != NULL) {
                res->errored = (long)json_integer_value(
                    json_object_get(j, "errored_operations"));
            }
            const char *u = json_string_value(
                json_object_get(j, "response_body_url"));
            snprintf(results_url, sizeof results_url, "%s",
                     u != NULL ? u : "");
        }
        json_decref(j);
        if (done) {
            break;
        }
        if (mc_now_ms() >= deadline) {
            snprintf(err, errlen,
                     "batch %s still running; check it later with GET "
                     "/batches/%s",
                     bid, bid);
            st = LSC_ERR_TIMEOUT;
            goto out;
        }
        sleep_ms(mc_backoff_ms(mc, 200, poll, 10000));
    }
    if (res != NULL) {
        st = read_results(mc, w, n, results_url, res);
    }
out:
    if (st == LSC_ERR_NOMEM) {
        snprintf(err, errlen, "mailchimp backfill: out of memory");
    }
    for (size_t i = 0; owned != NULL && i < nown; i++) {
        free(owned[i]);
    }
    free(owned);
    free(ops);
    return st;
}
