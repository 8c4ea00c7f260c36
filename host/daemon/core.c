/*
 * leadscored core; see core.h.
 *
 * Durability and throughput: every event is applied by ONE writer thread
 * on one SQLite connection.  The writer takes every queued request at
 * once, applies their events inside a single transaction (a savepoint per
 * event, so a refused event leaves no trace), commits once (WAL, fsync
 * with durable=true) and only then answers the requests: an event is
 * acknowledged only after its commit, and the fsync cost is shared by
 * every event of the group.
 *
 * Plugin calls: the writer, the job workers and report readers take
 * `plock` for reading around plugin calls; reload and rescore take it
 * for writing (never concurrent with events, as plugin.h requires).
 * Per-contact serialization: the writer is the only thread delivering
 * events; reports lock the contact's stripe, as the writer does.
 */
#include "core.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "event_json.h"
#include "loader.h"
#include "log.h"
#include "mailchimp/mailchimp.h"
#include "mcimport.h"
#include "store.h"

#define N_STRIPES 64
#define N_BUCKETS 14
#define MAX_KINDS 32

static const double bucket_le[N_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,    0.025,  0.05,    0.1,    0.25,  1.0,   5.0};

struct histo {
    atomic_uint_fast64_t b[N_BUCKETS + 1];
    atomic_uint_fast64_t sum_ns;
    atomic_uint_fast64_t count;
};

struct kind_stat {
    char kind[64];
    uint64_t ok, retry, failed;
};

/* The thread's context for host services called by the plugin. */
struct call_ctx {
    struct core *core;
    struct store *store;     /* this thread's connection */
    const char *contact;     /* the event's contact, or NULL */
    const char *cause;       /* history cause */
    bool state_written;
    bool jobs_enqueued;
    bool job;                /* a worker running job handlers */
};

static _Thread_local struct call_ctx *tls;

struct core {
    struct dconfig *cfg;
    pthread_mutex_t cfg_mu;
    char *plugin_path;
    struct hl_plugin *plugin;
    pthread_rwlock_t plock;
    pthread_mutex_t stripes[N_STRIPES];

    struct store *wstore; /* writer */
    struct store *mstore; /* main thread: create, reload, shutdown */
    struct store *rstore; /* queries */
    pthread_mutex_t rmu;
    struct store *astore; /* services called outside a known thread */
    pthread_mutex_t amu;

    /* Writer queue. */
    pthread_mutex_t qmu;
    pthread_cond_t qcond;
    struct core_batch *qhead, *qtail;
    bool stopping, refusing, busy;
    pthread_cond_t idle;
    pthread_cond_t ckcond;
    pthread_t checkpointer;
    bool checkpointer_started;
    pthread_t writer;
    bool writer_started;
    struct hl_event_decoder *dec;

    /* Jobs. */
    pthread_mutex_t jmu;
    pthread_cond_t jcond;
    bool jobs_kick;
    pthread_t *workers;
    size_t n_workers;
    pthread_mutex_t kind_mu[MAX_KINDS];
    struct kind_stat kstats[MAX_KINDS];
    size_t n_kstats;
    pthread_mutex_t kstat_mu;

    /* Metrics. */
    atomic_uint_fast64_t events[CORE_SRC_COUNT][3];
    atomic_uint_fast64_t auth_failures[CORE_SRC_COUNT];
    atomic_uint_fast64_t rate_limited;
    atomic_uint_fast64_t too_large;
    atomic_uint_fast64_t transitions;
    atomic_uint_fast64_t evaluations;
    atomic_uint_fast64_t refreshes; /* evaluations by the score sweep */
    atomic_bool refresh_now;        /* a reload asks for a sweep at once */
    atomic_bool have_aliases;       /* contact_aliases is not empty */
    atomic_uint_fast64_t commits;
    atomic_uint_fast64_t commit_failures;
    atomic_uint_fast64_t reloads_ok, reloads_failed;
    atomic_uint_fast64_t rescores_ok, rescores_failed;
    struct histo scoring, commit, request;
    int64_t started_ms;

    /* The periodic Mailchimp activity import, or NULL. */
    struct mcimport *imp;
    struct mcimport_stats istats;
    atomic_bool imp_configured;
};

int64_t core_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void histo_add(struct histo *h, int64_t ns)
{
    double s = (double)ns / 1e9;
    size_t i = 0;
    while (i < N_BUCKETS && s > bucket_le[i]) {
        i++;
    }
    atomic_fetch_add(&h->b[i], 1);
    atomic_fetch_add(&h->sum_ns, (uint_fast64_t)(ns > 0 ? ns : 0));
    atomic_fetch_add(&h->count, 1);
}

static pthread_mutex_t *stripe(struct core *c, const char *id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    return &c->stripes[h % N_STRIPES];
}

/* ---- Host services ------------------------------------------------------ */

static struct store *ctx_store(struct core *c, bool *locked)
{
    *locked = false;
    if (tls != NULL && tls->store != NULL) {
        return tls->store;
    }
    pthread_mutex_lock(&c->amu);
    *locked = true;
    return c->astore;
}

static void ctx_release(struct core *c, bool locked)
{
    if (locked) {
        pthread_mutex_unlock(&c->amu);
    }
}

static void svc_log(void *ud, enum lsc_log_level level, const char *msg)
{
    (void)ud;
    log_msg(level, "plugin: %s", msg);
}

static const char *svc_config_get(void *ud, const char *key)
{
    struct core *c = ud;
    if (strcmp(key, "connectors_read") == 0) {
        /* a job's props_write() becomes an event (svc_props_write) */
        return "1";
    }
    return dconfig_get(c->cfg, key);
}

static const char *svc_data_dir(void *ud)
{
    struct core *c = ud;
    return c->cfg->data_dir;
}

static int64_t svc_now_ms(void *ud)
{
    (void)ud;
    return core_now_ms();
}

static void svc_diagnostic(void *ud, const struct lsc_diagnostic *d)
{
    (void)ud;
    log_msg(d->severity, "%s:%d:%d: %s%s%s", d->file ? d->file : "?",
            d->line, d->column, d->json_path ? d->json_path : "",
            d->json_path && *d->json_path ? ": " : "",
            d->message ? d->message : "");
}

static enum lsc_status svc_contact_props(void *ud, const char *contact_id,
                                         void (*fn)(void *,
                                                    const struct lsc_prop *,
                                                    size_t),
                                         void *fn_ud)
{
    struct core *c = ud;
    bool locked;
    struct store *s = ctx_store(c, &locked);
    enum lsc_status st = store_contact_exists(s, contact_id);
    struct store_props p = {0};
    if (st == LSC_OK) {
        st = store_props_load(s, contact_id, &p);
    }
    ctx_release(c, locked);
    if (st == LSC_OK) {
        fn(fn_ud, p.props, p.n);
        store_props_free(&p);
    }
    return st;
}

/* A property value as JSON (new reference); NULL when out of memory or
 * not representable (a non-finite number, JSON text that does not
 * parse). */
static json_t *value_json(const struct lsc_value *v)
{
    switch (v->type) {
    case LSC_VAL_STRING:
        return json_stringn(v->u.str.ptr, v->u.str.len);
    case LSC_VAL_NUMBER:
        return json_real(v->u.num);
    case LSC_VAL_BOOL:
        return json_boolean(v->u.boolean);
    case LSC_VAL_JSON:
        return json_loadb(v->u.str.ptr, v->u.str.len, 0, NULL);
    case LSC_VAL_NULL:
        return json_null();
    }
    return NULL;
}

/* A read-path event (the properties a job read from a CRM), owned by
 * the writer's done callback. */
struct read_event {
    struct core_batch b;
    struct core_line line;
    char *json;
};

static void read_event_done(void *ud, struct core_batch *b)
{
    struct read_event *r = ud;
    if (b->status != LSC_OK || b->rejected > 0) {
        log_msg(LSC_LOG_WARN, "properties read for a contact were not "
                "applied: %s", b->status != LSC_OK
                                   ? lsc_status_str(b->status)
                                   : r->line.reason);
    }
    free(r->json);
    free(r);
}

/* props_write() from a job handler: the properties were read from a CRM
 * (the read path).  They go through the writer as a contact.updated
 * event at the wall clock, like any other event (event log, per-contact
 * order, re-scoring, write-back).  Asynchronous: a worker never waits
 * for the writer (which a rescore may hold while workers finish). */
static enum lsc_status submit_read_event(struct core *c,
                                         const char *contact_id,
                                         const struct lsc_prop *props,
                                         size_t n)
{
    json_t *pr = json_object();
    for (size_t i = 0; pr != NULL && i < n; i++) {
        json_t *x = value_json(&props[i].value);
        if (x == NULL) {
            json_decref(pr);
            return LSC_ERR_INVALID_ARG;
        }
        json_object_set_new(pr, props[i].key, x);
    }
    char ts[40];
    hl_time_format(core_now_ms(), ts, sizeof ts);
    json_t *ev = pr ? json_pack("{s:s, s:s, s:s, s:o}", "contact", contact_id,
                                "type", "contact.updated", "ts", ts, "props",
                                pr)
                    : NULL;
    struct read_event *r = calloc(1, sizeof *r);
    char *line = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (r == NULL || line == NULL) {
        free(r);
        free(line);
        return LSC_ERR_NOMEM;
    }
    r->json = line;
    r->line = (struct core_line){.json = line, .len = strlen(line),
                                 .existing_only = true};
    r->b = (struct core_batch){.source = CORE_SRC_HUBSPOT,
                               .lines = &r->line,
                               .n = 1,
                               .done = read_event_done,
                               .ud = r};
    /* refused while stopping: the job is retried after the restart
     * instead of the read being lost */
    return core_submit(c, &r->b) ? LSC_OK : LSC_ERR_RETRYABLE;
}

static enum lsc_status svc_props_write(void *ud, const char *contact_id,
                                       const struct lsc_prop *props, size_t n)
{
    struct core *c = ud;
    if (tls != NULL && tls->job) {
        return submit_read_event(c, contact_id, props, n);
    }
    bool locked;
    struct store *s = ctx_store(c, &locked);
    enum lsc_status st = store_contact_exists(s, contact_id);
    /* The score and tier live in the contacts row (with their history);
     * the other properties are merged into contact_props.  Keeping the
     * two hot keys out of contact_props saves a random page write per
     * event. */
    int score = -1;
    const char *tier = NULL;
    char tbuf[128];
    for (size_t i = 0; st == LSC_OK && i < n; i++) {
        if (strcmp(props[i].key, "leadscore_score") == 0 &&
            props[i].value.type == LSC_VAL_NUMBER) {
            score = (int)lround(props[i].value.u.num);
        } else if (strcmp(props[i].key, "leadscore_tier") == 0 &&
                   props[i].value.type == LSC_VAL_STRING) {
            snprintf(tbuf, sizeof tbuf, "%s", props[i].value.u.str.ptr);
            tier = tbuf;
        } else {
            st = store_props_merge(s, contact_id, &props[i], 1);
        }
    }

    if (st == LSC_OK && (score >= 0 || tier != NULL)) {
        st = store_score_set(s, contact_id, score, tier, core_now_ms(),
                             tls && tls->cause ? tls->cause : "plugin");
    }
    ctx_release(c, locked);
    return st;
}

static enum lsc_status svc_state_put(void *ud, const char *contact_id,
                                     const void *blob, size_t len,
                                     int64_t wake_ms)
{
    struct core *c = ud;
    bool locked;
    struct store *s = ctx_store(c, &locked);
    enum lsc_status st = store_state_put(s, contact_id, blob, len, wake_ms);
    if (tls != NULL && tls->contact != NULL &&
        strcmp(tls->contact, contact_id) == 0) {
        tls->state_written = true;
    }
    ctx_release(c, locked);
    return st;
}

static enum lsc_status svc_emit_transition(void *ud,
                                           const struct lsc_transition *t)
{
    struct core *c = ud;
    bool locked;
    struct store *s = ctx_store(c, &locked);
    enum lsc_status st = store_transition_add(
        s, t->contact_id, t->model, t->from, t->to, t->score, t->at_ms,
        tls && tls->cause ? tls->cause : "evaluate");
    if (st == LSC_OK && t->primary) {
        /* The primary model's tier is the contact's tier (a plugin that
         * also props_write()s leadscore_tier adds no second row). */
        st = store_score_set(s, t->contact_id, t->score, t->to, t->at_ms,
                             NULL);
        if (st == LSC_OK) {
            sqlite3_exec(store_db(s),
                         "DELETE FROM score_history WHERE id = "
                         "last_insert_rowid() AND cause = ''",
                         NULL, NULL, NULL);
        }
    }
    ctx_release(c, locked);
    atomic_fetch_add(&c->transitions, 1);
    return st == LSC_ERR_NOT_FOUND ? LSC_OK : st;
}

static enum lsc_status svc_job_enqueue(void *ud, const char *kind,
                                       const char *key, const void *payload,
                                       size_t len, int64_t not_before_ms)
{
    struct core *c = ud;
    bool locked;
    struct store *s = ctx_store(c, &locked);
    enum lsc_status st = store_job_enqueue(s, kind, key, payload, len,
                                           not_before_ms, core_now_ms(),
                                           NULL);
    ctx_release(c, locked);
    if (tls != NULL) {
        tls->jobs_enqueued = true;
    } else {
        pthread_mutex_lock(&c->jmu);
        c->jobs_kick = true;
        pthread_cond_broadcast(&c->jcond);
        pthread_mutex_unlock(&c->jmu);
    }
    return st;
}

static struct hl_services services(struct core *c)
{
    struct hl_services s = {
        .ud = c,
        .host_name = "leadscored",
        .log = svc_log,
        .config_get = svc_config_get,
        .data_dir = svc_data_dir,
        .now_ms = svc_now_ms,
        .diagnostic = svc_diagnostic,
        .contact_props = svc_contact_props,
        .props_write = svc_props_write,
        .state_put = svc_state_put,
        .emit_transition = svc_emit_transition,
        .job_enqueue = svc_job_enqueue,
    };
    return s;
}

/* ---- Applying events ---------------------------------------------------- */

/* Trim trailing whitespace; returns the new length. */
static size_t rtrim(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
                     s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    return n;
}

static const char *const src_name[CORE_SRC_COUNT] = {
    "api", "hubspot", "mailchimp", "mailchimp_activity", "replay"};

/* Whether the n bytes at s contain the NUL-free string k. */
static bool contains(const char *s, size_t n, const char *k)
{
    size_t kl = strlen(k);
    for (size_t i = 0; i + kl <= n; i++) {
        if (s[i] == k[0] && memcmp(s + i, k, kl) == 0) {
            return true;
        }
    }
    return false;
}

/* Record the line's "aliases" (other ids of the contact, e.g. a changed
 * address) for `id`.  A malformed list is ignored: the event itself was
 * valid. */
static enum lsc_status record_aliases(struct core *c, struct store *s,
                                      const char *json, size_t len,
                                      const char *id)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *a = json_object_get(root, "aliases");
    enum lsc_status st = LSC_OK;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *al = json_string_value(v);
        if (al != NULL && *al != '\0' &&
            json_string_length(v) <= HL_CONTACT_ID_MAX &&
            strcmp(al, id) != 0 && st == LSC_OK) {
            st = store_alias_put(s, al, id);
            atomic_store(&c->have_aliases, true);
        }
    }
    json_decref(root);
    return st;
}

/*
 * Apply one event line on store `s` with plugin `p` (inside an open
 * transaction).  Fills line->status/reason.  Returns LSC_ERR_IO only for
 * a storage failure (the whole transaction must be abandoned).
 */
static enum lsc_status apply_line(struct core *c, struct hl_plugin *p,
                                  struct store *s,
                                  struct hl_event_decoder *dec,
                                  enum core_source src, struct core_line *ln,
                                  int64_t now, bool dedup, bool log_event)
{
    struct lsc_event ev;
    size_t len = rtrim(ln->json, ln->len);
    ln->event_id[0] = '\0';
    if (ln->reject != NULL) {
        snprintf(ln->reason, sizeof ln->reason, "%s", ln->reject);
        ln->status = CORE_LINE_REJECTED;
        return store_dead_letter_add(s, src_name[src], ln->reason, ln->json,
                                     len, now);
    }
    if (hl_event_decode(dec, ln->json, len, &ev, ln->reason,
                        sizeof ln->reason) != LSC_OK) {
        ln->status = CORE_LINE_REJECTED;
        return store_dead_letter_add(s, src_name[src], ln->reason, ln->json,
                                     len, now);
    }
    if (ev.event_id != NULL) {
        snprintf(ln->event_id, sizeof ln->event_id, "%s", ev.event_id);
    }
    /* An alias (a contact's former or other id) names that contact. */
    char canon[HL_CONTACT_ID_MAX + 1];
    if (atomic_load(&c->have_aliases)) {
        enum lsc_status as = store_alias_get(s, ev.contact_id, canon,
                                             sizeof canon);
        if (as == LSC_OK) {
            ev.contact_id = canon;
        } else if (as != LSC_ERR_NOT_FOUND) {
            return LSC_ERR_IO;
        }
    }
    if (store_savepoint(s) != LSC_OK) {
        return LSC_ERR_IO;
    }
    if (dedup && ev.event_id != NULL) {
        bool dup = false;
        if (store_seen_add(s, ev.event_id, now, &dup) != LSC_OK) {
            store_rollback_to(s);
            return LSC_ERR_IO;
        }
        if (dup) {
            store_release(s);
            ln->status = CORE_LINE_DUPLICATE;
            return LSC_OK;
        }
    }
    if (ln->existing_only) {
        enum lsc_status ex = store_contact_exists(s, ev.contact_id);
        if (ex != LSC_OK) {
            store_rollback_to(s);
            if (ex != LSC_ERR_NOT_FOUND) {
                return LSC_ERR_IO;
            }
            snprintf(ln->reason, sizeof ln->reason,
                     "the contact no longer exists");
            ln->status = CORE_LINE_REJECTED;
            return LSC_OK;
        }
    }
    pthread_mutex_t *mu = stripe(c, ev.contact_id);
    pthread_mutex_lock(mu);
    enum lsc_status st = LSC_OK;
    if (ev.kind != LSC_EVENT_CONTACT_DELETED) {
        st = store_contact_ensure(s, ev.contact_id, now, NULL);
        if (st == LSC_OK && (ev.kind == LSC_EVENT_CONTACT_CREATED ||
                             ev.kind == LSC_EVENT_CONTACT_UPDATED)) {
            st = store_props_merge(s, ev.contact_id, ev.props, ev.n_props);
        }
    }
    void *blob = NULL;
    size_t blen = 0;
    if (st == LSC_OK) {
        st = store_state_get(s, ev.contact_id, &blob, &blen);
    }
    if (st != LSC_OK) {
        pthread_mutex_unlock(mu);
        store_rollback_to(s);
        return LSC_ERR_IO;
    }
    ev.state = blob;
    ev.state_len = blen;
    ev.now_ms = now;
    char cause[160];
    snprintf(cause, sizeof cause, "%s%s%s", ev.type,
             ev.event_id ? " " : "", ev.event_id ? ev.event_id : "");
    struct call_ctx *saved = tls;
    struct call_ctx ctx = {.core = c, .store = s, .contact = ev.contact_id,
                           .cause = cause};
    tls = &ctx;
    int64_t t0 = mono_ns();
    enum lsc_status pst = hl_plugin_event(p, &ev, ln->reason,
                                          sizeof ln->reason);
    histo_add(&c->scoring, mono_ns() - t0);
    tls = saved;
    if (saved != NULL && ctx.jobs_enqueued) {
        saved->jobs_enqueued = true;
    }
    free(blob);
    if (pst == LSC_OK) {
        if (ev.kind == LSC_EVENT_CONTACT_DELETED) {
            st = store_contact_delete(s, ev.contact_id);
        } else if (contains(ln->json, len, "\"aliases\"")) {
            st = record_aliases(c, s, ln->json, len, ev.contact_id);
        }
        if (st == LSC_OK && log_event) {
            st = store_event_append(s, ev.event_id, ev.contact_id, ev.type,
                                    ev.ts_ms, now, src_name[src], ln->json,
                                    len, NULL);
        }
        if (st == LSC_OK) {
            st = store_release(s);
        }
        pthread_mutex_unlock(mu);
        if (st != LSC_OK) {
            store_rollback_to(s);
            return LSC_ERR_IO;
        }
        ln->status = CORE_LINE_ACCEPTED;
        return LSC_OK;
    }
    pthread_mutex_unlock(mu);
    store_rollback_to(s);
    if (ln->reason[0] == '\0') {
        snprintf(ln->reason, sizeof ln->reason, "refused by the plugin: %s",
                 lsc_status_str(pst));
    }
    ln->status = CORE_LINE_REJECTED;
    return store_dead_letter_add(s, src_name[src], ln->reason, ln->json, len,
                                 now);
}

struct wake_list {
    char **ids;
    size_t n, cap;
};

static void wake_collect(void *ud, const char *id, int64_t wake_ms)
{
    (void)wake_ms;
    struct wake_list *w = ud;
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        char **v = realloc(w->ids, nc * sizeof *v);
        if (v == NULL) {
            return;
        }
        w->ids = v;
        w->cap = nc;
    }
    char *d = strdup(id);
    if (d != NULL) {
        w->ids[w->n++] = d;
    }
}

/* Deliver LSC_EVENT_EVALUATE to one contact whose wake time passed. */
static enum lsc_status evaluate_one(struct core *c, struct store *s,
                                    const char *id, int64_t now)
{
    void *blob = NULL;
    size_t blen = 0;
    if (store_savepoint(s) != LSC_OK) {
        return LSC_ERR_IO;
    }
    pthread_mutex_t *mu = stripe(c, id);
    pthread_mutex_lock(mu);
    enum lsc_status st = store_state_get(s, id, &blob, &blen);
    if (st != LSC_OK) {
        pthread_mutex_unlock(mu);
        store_rollback_to(s);
        return st;
    }
    struct lsc_event ev = {
        .struct_size = sizeof ev,
        .kind = LSC_EVENT_EVALUATE,
        .contact_id = id,
        .type = "evaluate",
        .ts_ms = now,
        .state = blob,
        .state_len = blen,
        .now_ms = now,
    };
    struct call_ctx *saved = tls;
    struct call_ctx ctx = {.core = c, .store = s, .contact = id,
                           .cause = "evaluate (decay)"};
    tls = &ctx;
    char err[256] = "";
    int64_t t0 = mono_ns();
    enum lsc_status pst = hl_plugin_event(c->plugin, &ev, err, sizeof err);
    histo_add(&c->scoring, mono_ns() - t0);
    tls = saved;
    if (saved != NULL && ctx.jobs_enqueued) {
        saved->jobs_enqueued = true;
    }
    if (pst == LSC_OK && !ctx.state_written && blen > 0) {
        /* The plugin did not ask for another wake-up. */
        st = store_state_put(s, id, blob, blen, INT64_MAX);
    }
    if (pst != LSC_OK) {
        store_rollback_to(s);
        log_msg(LSC_LOG_WARN, "evaluate %s refused: %s; retrying in 1 h", id,
                err);
        if (blen > 0) {
            st = store_state_put(s, id, blob, blen, now + 3600000);
        }
    } else if (st == LSC_OK) {
        st = store_release(s);
    } else {
        store_rollback_to(s);
    }
    pthread_mutex_unlock(mu);
    free(blob);
    atomic_fetch_add(&c->evaluations, 1);
    return st;
}

/* ---- Keeping stored scores current -------------------------------------
 * The plugin asks for a wake-up only when a tier is due to change, so a
 * decaying score would stay as stored until then.  The sweep reads each
 * contact's report (read-only, no write) and delivers an EVALUATE only to
 * those whose primary score moved, which stores the new score. */

#define REFRESH_PAGE 500

struct refresh_item {
    char *id;
    int score;
};
struct refresh_list {
    struct refresh_item *v;
    size_t n, cap;
};

static void refresh_collect(void *ud, const char *id, int score)
{
    struct refresh_list *l = ud;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        struct refresh_item *v = realloc(l->v, nc * sizeof *v);
        if (v == NULL) {
            return;
        }
        l->v = v;
        l->cap = nc;
    }
    char *d = strdup(id);
    if (d != NULL) {
        l->v[l->n].id = d;
        l->v[l->n].score = score;
        l->n++;
    }
}

struct primary_ud {
    bool set;
    int score;
};

static void primary_sink(void *ud, const struct lsc_report *r)
{
    struct primary_ud *p = ud;
    if (!p->set) { /* the primary model comes first */
        p->set = true;
        p->score = r->score;
    }
}

/* The primary model's score of `id` at `now`; false when unknown. */
static bool report_score(struct core *c, struct store *s, const char *id,
                         int64_t now, int *score)
{
    void *blob = NULL;
    size_t blen = 0;
    bool ok = false;
    pthread_mutex_t *mu = stripe(c, id);
    pthread_mutex_lock(mu);
    if (store_state_get(s, id, &blob, &blen) == LSC_OK && blen > 0) {
        struct lsc_event ev = {
            .struct_size = sizeof ev, .kind = LSC_EVENT_EVALUATE,
            .contact_id = id, .type = "evaluate", .ts_ms = now,
            .state = blob, .state_len = blen, .now_ms = now,
        };
        struct primary_ud p = {0};
        char err[256] = "";
        ok = hl_plugin_report(c->plugin, &ev, primary_sink, &p, err,
                              sizeof err) == LSC_OK &&
             p.set;
        *score = p.score;
    }
    pthread_mutex_unlock(mu);
    free(blob);
    return ok;
}

/* Timers run by the writer inside its transaction. */
struct timers {
    int64_t next_wake, next_tick, next_prune, next_refresh;
    char refresh_after[HL_CONTACT_ID_MAX + 1]; /* sweep cursor */
    /* the running sweep: contacts read, re-evaluated, time spent */
    uint64_t sweep_read, sweep_moved;
    int64_t sweep_ns;
};

/* One page of the score sweep. */
static enum lsc_status refresh_page(struct core *c, struct timers *t,
                                    int64_t now)
{
    struct refresh_list l = {0};
    int64_t t0 = mono_ns();
    enum lsc_status st = store_state_page(c->wstore, t->refresh_after,
                                          REFRESH_PAGE, refresh_collect, &l);
    t->sweep_read += l.n;
    for (size_t i = 0; i < l.n; i++) {
        int sc;
        /* score < 0: the plugin never stored one; nothing to keep current */
        if (st == LSC_OK && l.v[i].score >= 0 &&
            report_score(c, c->wstore, l.v[i].id, now, &sc) &&
            sc != l.v[i].score) {
            st = evaluate_one(c, c->wstore, l.v[i].id, now);
            /* A plugin that writes its score under another property
             * (score_property) leaves the row as it was: store the
             * report's score, or the next sweep would evaluate again. */
            if (st == LSC_OK) {
                st = store_score_set(c->wstore, l.v[i].id, sc, NULL, now,
                                     "evaluate (decay)");
                if (st == LSC_ERR_NOT_FOUND) {
                    st = LSC_OK; /* deleted by the plugin meanwhile */
                }
            }
            atomic_fetch_add(&c->refreshes, 1);
            t->sweep_moved++;
        }
        if (i + 1 == l.n) {
            snprintf(t->refresh_after, sizeof t->refresh_after, "%s",
                     l.v[i].id);
        }
        free(l.v[i].id);
    }
    bool full = l.n >= REFRESH_PAGE;
    free(l.v);
    t->sweep_ns += mono_ns() - t0;
    if (!full) {
        if (t->sweep_read > 0) {
            log_msg(LSC_LOG_DEBUG, "score sweep: %" PRIu64 " contacts read, "
                    "%" PRIu64 " re-evaluated, %.1f ms in the writer",
                    t->sweep_read, t->sweep_moved, t->sweep_ns / 1e6);
        }
        t->sweep_read = t->sweep_moved = 0;
        t->sweep_ns = 0;
        t->refresh_after[0] = '\0';
        t->next_refresh = now + c->cfg->score_refresh_ms;
    } else {
        t->next_refresh = now; /* more to do: the next loop goes on */
    }
    return st;
}

static enum lsc_status run_timers(struct core *c, struct timers *t,
                                  int64_t now)
{
    enum lsc_status st = LSC_OK;
    if (now >= t->next_wake) {
        struct wake_list w = {0};
        st = store_wake_due(c->wstore, now, 1000, wake_collect, &w);
        for (size_t i = 0; i < w.n; i++) {
            if (st == LSC_OK) {
                st = evaluate_one(c, c->wstore, w.ids[i], now);
            }
            free(w.ids[i]);
        }
        free(w.ids);
        /* A full page means more are due: come back at once. */
        t->next_wake = w.n >= 1000 ? now : now + c->cfg->wake_scan_ms;
    }
    int64_t iv = hl_plugin_tick_interval(c->plugin);
    if (iv > 0 && now >= t->next_tick) {
        if (t->next_tick != 0) {
            hl_plugin_tick(c->plugin, now);
        }
        t->next_tick = now + iv;
    }
    if (atomic_exchange(&c->refresh_now, false)) {
        t->refresh_after[0] = '\0';
        t->next_refresh = now;
    }
    if (st == LSC_OK && c->cfg->score_refresh_ms > 0 &&
        now >= t->next_refresh) {
        st = refresh_page(c, t, now);
    }
    if (now >= t->next_prune) {
        uint64_t n = 0;
        if (store_seen_prune(c->wstore, now - c->cfg->dedup_retention_ms,
                             &n) == LSC_OK &&
            n > 0) {
            log_msg(LSC_LOG_INFO, "forgot %" PRIu64 " event ids older than "
                    "the retention window", n);
        }
        t->next_prune = now + 60000;
    }
    return st;
}

static int64_t timers_next(const struct timers *t, struct core *c)
{
    int64_t n = t->next_wake < t->next_prune ? t->next_wake : t->next_prune;
    if (hl_plugin_tick_interval(c->plugin) > 0 && t->next_tick < n) {
        n = t->next_tick;
    }
    if (c->cfg->score_refresh_ms > 0 && t->next_refresh < n) {
        n = t->next_refresh;
    }
    return n;
}

static void *writer_main(void *arg)
{
    struct core *c = arg;
    struct call_ctx ctx = {.core = c, .store = c->wstore};
    tls = &ctx;
    struct timers t = {0};
    t.next_wake = core_now_ms();
    t.next_prune = t.next_wake;
    for (;;) {
        pthread_mutex_lock(&c->qmu);
        while (c->qhead == NULL && !c->stopping) {
            int64_t due = timers_next(&t, c);
            int64_t now = core_now_ms();
            if (now >= due) {
                break;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait = due - now;
            if (wait > 1000) {
                wait = 1000;
            }
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&c->qcond, &c->qmu, &ts);
        }
        /* Take a group of requests, up to batch_max events. */
        struct core_batch *group = NULL, **tail = &group;
        size_t events = 0;
        while (c->qhead != NULL &&
               (events == 0 || events + c->qhead->n <= c->cfg->batch_max)) {
            struct core_batch *b = c->qhead;
            c->qhead = b->next;
            b->next = NULL;
            *tail = b;
            tail = &b->next;
            events += b->n;
        }
        if (c->qhead == NULL) {
            c->qtail = NULL;
        }
        bool stop = c->stopping && group == NULL && c->qhead == NULL;
        c->busy = group != NULL;
        pthread_mutex_unlock(&c->qmu);
        if (stop) {
            break;
        }
        int64_t now = core_now_ms();
        pthread_rwlock_rdlock(&c->plock);
        int64_t t0 = mono_ns();
        enum lsc_status st = store_begin(c->wstore);
        ctx.jobs_enqueued = false;
        for (struct core_batch *b = group; st == LSC_OK && b; b = b->next) {
            b->accepted = b->duplicates = b->rejected = 0;
            if (b->dead_reason != NULL) {
                st = store_dead_letter_add(c->wstore, src_name[b->source],
                                           b->dead_reason, b->dead_body,
                                           b->dead_len, now);
            }
            for (size_t i = 0; st == LSC_OK && i < b->n; i++) {
                st = apply_line(c, c->plugin, c->wstore, c->dec, b->source,
                                &b->lines[i], now, true, true);
            }
        }
        if (st == LSC_OK) {
            st = run_timers(c, &t, now);
        }
        if (st == LSC_OK) {
            st = store_commit(c->wstore);
        }
        if (st != LSC_OK) {
            log_msg(LSC_LOG_ERROR, "commit failed, %zu events not "
                    "acknowledged: %s", events, store_errmsg(c->wstore));
            store_rollback(c->wstore);
            atomic_fetch_add(&c->commit_failures, 1);
            /* Run the timers again later, not in a tight loop. */
            t.next_wake = now + 1000;
        } else {
            atomic_fetch_add(&c->commits, 1);
        }
        histo_add(&c->commit, mono_ns() - t0);
        pthread_rwlock_unlock(&c->plock);
        if (ctx.jobs_enqueued && st == LSC_OK) {
            pthread_mutex_lock(&c->jmu);
            c->jobs_kick = true;
            pthread_cond_broadcast(&c->jcond);
            pthread_mutex_unlock(&c->jmu);
        }
        struct core_batch *b = group;
        while (b != NULL) {
            struct core_batch *next = b->next;
            b->status = st;
            if (st == LSC_OK) {
                for (size_t i = 0; i < b->n; i++) {
                    enum core_line_status ls = b->lines[i].status;
                    if (ls == CORE_LINE_ACCEPTED) {
                        b->accepted++;
                    } else if (ls == CORE_LINE_DUPLICATE) {
                        b->duplicates++;
                    } else {
                        b->rejected++;
                    }
                }
                atomic_fetch_add(&c->events[b->source][0], b->accepted);
                atomic_fetch_add(&c->events[b->source][1], b->duplicates);
                atomic_fetch_add(&c->events[b->source][2], b->rejected);
            }
            b->done(b->ud, b);
            b = next;
        }
        pthread_mutex_lock(&c->qmu);
        c->busy = false;
        pthread_cond_broadcast(&c->idle);
        pthread_mutex_unlock(&c->qmu);
    }
    tls = NULL;
    return NULL;
}

bool core_submit(struct core *c, struct core_batch *b)
{
    b->next = NULL;
    pthread_mutex_lock(&c->qmu);
    if (c->refusing) {
        pthread_mutex_unlock(&c->qmu);
        b->status = LSC_ERR_UNSUPPORTED;
        b->done(b->ud, b);
        return false;
    }
    if (c->qtail != NULL) {
        c->qtail->next = b;
    } else {
        c->qhead = b;
    }
    c->qtail = b;
    pthread_cond_signal(&c->qcond);
    pthread_mutex_unlock(&c->qmu);
    return true;
}

bool core_drain(struct core *c, int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->qmu);
    int rc = 0;
    while ((c->qhead != NULL || c->busy) && rc == 0) {
        rc = pthread_cond_timedwait(&c->idle, &c->qmu, &ts);
    }
    bool idle = c->qhead == NULL && !c->busy;
    pthread_mutex_unlock(&c->qmu);
    return idle;
}

void core_refuse(struct core *c)
{
    pthread_mutex_lock(&c->qmu);
    c->refusing = true;
    pthread_mutex_unlock(&c->qmu);
}

/* ---- Jobs --------------------------------------------------------------- */

static void kind_count(struct core *c, const char *kind, enum lsc_status st)
{
    pthread_mutex_lock(&c->kstat_mu);
    size_t i = 0;
    while (i < c->n_kstats && strcmp(c->kstats[i].kind, kind) != 0) {
        i++;
    }
    if (i == c->n_kstats && i < MAX_KINDS) {
        snprintf(c->kstats[i].kind, sizeof c->kstats[i].kind, "%s", kind);
        c->n_kstats++;
    }
    if (i < MAX_KINDS) {
        if (st == LSC_OK) {
            c->kstats[i].ok++;
        } else if (st == LSC_ERR_RETRYABLE || st == LSC_DEFERRED) {
            c->kstats[i].retry++;
        } else {
            c->kstats[i].failed++;
        }
    }
    pthread_mutex_unlock(&c->kstat_mu);
}

/* Run the due jobs of one kind; returns how many ran. */
static size_t run_kind(struct core *c, struct store *s,
                       const struct hl_job_kind *k)
{
    struct store_job *jobs = NULL;
    size_t n = 0;
    int64_t now = core_now_ms();
    if (store_job_claim(s, k->kind, k->max_batch, now, &jobs, &n) != LSC_OK ||
        n == 0) {
        return 0;
    }
    struct lsc_job *lj = calloc(n, sizeof *lj);
    struct lsc_job_result *res = calloc(n, sizeof *res);
    if (lj == NULL || res == NULL) {
        free(lj);
        free(res);
        for (size_t i = 0; i < n; i++) {
            store_job_finish(s, jobs[i].id, LSC_ERR_RETRYABLE, 1000,
                             "out of memory", c->cfg->job_max_attempts, now);
        }
        store_jobs_free(jobs, n);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        lj[i] = (struct lsc_job){
            .struct_size = sizeof lj[i],
            .id = jobs[i].id,
            .kind = jobs[i].kind,
            .key = jobs[i].key,
            .payload = jobs[i].payload,
            .payload_len = jobs[i].payload_len,
            .attempt = jobs[i].attempt,
            .enqueued_ms = jobs[i].enqueued_ms,
        };
        res[i].struct_size = sizeof res[i];
    }
    enum lsc_status rst = hl_plugin_run_jobs(c->plugin, k->kind, lj, res, n);
    now = core_now_ms();
    for (size_t i = 0; i < n; i++) {
        enum lsc_status js = rst == LSC_OK ? res[i].status
                                           : LSC_ERR_RETRYABLE;
        int64_t after = rst == LSC_OK ? res[i].retry_after_ms : 1000;
        res[i].reason[sizeof res[i].reason - 1] = '\0';
        const char *why = rst == LSC_OK ? res[i].reason
                                        : "the job handler failed the batch";
        if (js == LSC_ERR_RETRYABLE && after <= 0) {
            /* Exponential backoff when the handler gives no delay. */
            after = 1000LL << (jobs[i].attempt < 16 ? jobs[i].attempt : 16);
        }
        if (store_job_finish(s, jobs[i].id, js, after, why,
                             c->cfg->job_max_attempts, now) != LSC_OK) {
            log_msg(LSC_LOG_ERROR, "job %" PRIu64 ": cannot record result: %s",
                    jobs[i].id, store_errmsg(s));
        }
        if (js == LSC_OK && strncmp(why, "skipped: ", 9) == 0) {
            /* done without a write (e.g. not a member of the audience):
             * say so, since the admin chose "skip and count" */
            log_msg(LSC_LOG_INFO, "job %" PRIu64 " (%s): %s", jobs[i].id,
                    k->kind, why);
        }
        if (js != LSC_OK) {
            log_msg(js == LSC_ERR_RETRYABLE || js == LSC_DEFERRED
                        ? LSC_LOG_WARN
                        : LSC_LOG_ERROR,
                    "job %" PRIu64 " (%s, attempt %u): %s: %s", jobs[i].id,
                    k->kind, jobs[i].attempt, lsc_status_str(js), why);
        }
        kind_count(c, k->kind, js);
    }
    free(lj);
    free(res);
    store_jobs_free(jobs, n);
    return n;
}

struct worker_arg {
    struct core *c;
    struct store *s;
};

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    struct core *c = wa->c;
    struct call_ctx ctx = {.core = c, .store = wa->s, .job = true};
    tls = &ctx;
    for (;;) {
        pthread_mutex_lock(&c->qmu);
        bool stop = c->stopping;
        pthread_mutex_unlock(&c->qmu);
        if (stop) {
            break;
        }
        size_t ran = 0;
        pthread_rwlock_rdlock(&c->plock);
        size_t nk = 0;
        const struct hl_job_kind *kinds = hl_plugin_job_kinds(c->plugin, &nk);
        for (size_t i = 0; i < nk && i < MAX_KINDS; i++) {
            if (pthread_mutex_trylock(&c->kind_mu[i]) == 0) {
                ran += run_kind(c, wa->s, &kinds[i]);
                pthread_mutex_unlock(&c->kind_mu[i]);
            }
        }
        int64_t due = INT64_MAX;
        store_outbox_next_due(wa->s, &due);
        pthread_rwlock_unlock(&c->plock);
        if (ran > 0) {
            continue;
        }
        pthread_mutex_lock(&c->jmu);
        if (!c->jobs_kick) {
            int64_t now = core_now_ms();
            int64_t wait = due > now ? due - now : 50;
            if (wait > 1000) {
                wait = 1000;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)wait * 1000000L;
            while (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&c->jcond, &c->jmu, &ts);
        }
        c->jobs_kick = false;
        pthread_mutex_unlock(&c->jmu);
    }
    tls = NULL;
    store_close(wa->s);
    free(wa);
    return NULL;
}

/* ---- Create / destroy --------------------------------------------------- */

static enum lsc_status open_conn(struct core *c, struct store **s, char *err,
                                 size_t errlen)
{
    struct store_options o = {.durable = c->cfg->durable,
                              .no_autocheckpoint = s == &c->wstore};
    return store_open(c->cfg->data_dir, &o, s, err, errlen);
}

/* WAL checkpoints off the writer thread: the writer never copies pages
 * back into the database itself, so its commits stay short. */
static void *checkpointer_main(void *arg)
{
    struct core *c = arg;
    struct store *s = NULL;
    char err[256];
    if (open_conn(c, &s, err, sizeof err) != LSC_OK) {
        log_msg(LSC_LOG_ERROR, "checkpointer: %s", err);
        return NULL;
    }
    pthread_mutex_lock(&c->qmu);
    while (!c->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->ckcond, &c->qmu, &ts);
        if (c->stopping) {
            break;
        }
        pthread_mutex_unlock(&c->qmu);
        store_checkpoint(s, NULL);
        pthread_mutex_lock(&c->qmu);
    }
    pthread_mutex_unlock(&c->qmu);
    store_checkpoint(s, NULL);
    store_close(s);
    return NULL;
}

/* ---- Periodic imports --------------------------------------------------- */

static void mapping_diag(void *ud, const struct lsc_diagnostic *d)
{
    (void)ud;
    svc_diagnostic(NULL, d);
}

/* Check the import's mapping (no network): *enabled false when the
 * config has no import or the mapping turns it off. */
static enum lsc_status import_check(const struct dconfig *cfg, bool *enabled,
                                    char *err, size_t errlen)
{
    *enabled = false;
    if (cfg->mc_import_mapping == NULL) {
        return LSC_OK;
    }
    struct mailchimp_config mc;
    size_t nerr = 0;
    if (mailchimp_config_load(cfg->mc_import_mapping, mapping_diag, NULL, &mc,
                              &nerr) != LSC_OK) {
        snprintf(err, errlen, "mailchimp.activity_import: %zu problem(s) in "
                 "the mapping %s", nerr, cfg->mc_import_mapping);
        return LSC_ERR_CONFIG;
    }
    *enabled = mc.activity_import;
    if (!mc.activity_import) {
        log_msg(LSC_LOG_INFO, "mailchimp activity import: off "
                "(\"activity\": {\"import\": false} in %s)",
                cfg->mc_import_mapping);
    }
    mailchimp_config_destroy(&mc);
    return LSC_OK;
}

static enum lsc_status imports_start(struct core *c, const struct dconfig *cfg,
                                     char *err, size_t errlen)
{
    bool on = false;
    enum lsc_status st = import_check(cfg, &on, err, errlen);
    if (st != LSC_OK || !on) {
        return st;
    }
    char cp[4096];
    if (cfg->mc_import_checkpoint[0] == '/') {
        snprintf(cp, sizeof cp, "%s", cfg->mc_import_checkpoint);
    } else {
        snprintf(cp, sizeof cp, "%s/%s", cfg->data_dir,
                 cfg->mc_import_checkpoint);
    }
    struct mcimport_settings s = {
        .mapping = cfg->mc_import_mapping,
        .checkpoint = cp,
        .data_dir = cfg->data_dir,
        .interval_ms = cfg->mc_import_interval_ms,
        .batch = cfg->mc_import_batch < cfg->batch_max ? cfg->mc_import_batch
                                                       : cfg->batch_max,
    };
    int64_t cp_ms = INT64_MIN;
    char cerr[256];
    if (mailchimp_checkpoint_read(cp, &cp_ms, cerr, sizeof cerr) == LSC_OK &&
        cp_ms != INT64_MIN) {
        atomic_store(&c->istats.checkpoint_ms, cp_ms); /* from a past run */
    }
    st = mcimport_start(c, &s, &c->istats, &c->imp, err, errlen);
    if (st == LSC_OK) {
        atomic_store(&c->imp_configured, true);
        log_msg(LSC_LOG_INFO, "mailchimp activity import every %.0f s from "
                "%s (checkpoint %s)", (double)s.interval_ms / 1000.0,
                s.mapping, cp);
    }
    return st;
}

enum lsc_status core_start_imports(struct core *c, char *err, size_t errlen)
{
    if (c->imp != NULL) {
        return LSC_OK;
    }
    return imports_start(c, c->cfg, err, errlen);
}

void core_stop_imports(struct core *c)
{
    mcimport_stop(c->imp);
    c->imp = NULL;
}

static bool str_differ(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

static bool import_changed(const struct dconfig *a, const struct dconfig *b)
{
    return str_differ(a->mc_import_mapping, b->mc_import_mapping) ||
           str_differ(a->mc_import_checkpoint, b->mc_import_checkpoint) ||
           a->mc_import_interval_ms != b->mc_import_interval_ms ||
           a->mc_import_batch != b->mc_import_batch;
}

enum lsc_status core_create(struct dconfig *cfg, const char *plugin_path,
                            struct core **out, char *err, size_t errlen)
{
    *out = NULL;
    struct core *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return LSC_ERR_NOMEM;
    }
    c->cfg = cfg;
    c->started_ms = core_now_ms();
    pthread_mutex_init(&c->cfg_mu, NULL);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&c->plock, &ra);
    pthread_rwlockattr_destroy(&ra);
    for (size_t i = 0; i < N_STRIPES; i++) {
        pthread_mutex_init(&c->stripes[i], NULL);
    }
    for (size_t i = 0; i < MAX_KINDS; i++) {
        pthread_mutex_init(&c->kind_mu[i], NULL);
    }
    pthread_mutex_init(&c->rmu, NULL);
    pthread_mutex_init(&c->amu, NULL);
    pthread_mutex_init(&c->qmu, NULL);
    pthread_cond_init(&c->qcond, NULL);
    pthread_cond_init(&c->idle, NULL);
    pthread_cond_init(&c->ckcond, NULL);
    pthread_mutex_init(&c->jmu, NULL);
    pthread_cond_init(&c->jcond, NULL);
    pthread_mutex_init(&c->kstat_mu, NULL);
    *out = c; /* core_destroy() can clean up from here on */

    char buf[4096];
    const char *pp = hl_plugin_default_path(plugin_path ? plugin_path
                                                        : cfg->plugin,
                                            buf, sizeof buf);
    c->plugin_path = strdup(pp);
    enum lsc_status st = open_conn(c, &c->wstore, err, errlen);
    if (st == LSC_OK) {
        atomic_store(&c->have_aliases, store_has_aliases(c->wstore));
    }
    if (st == LSC_OK) {
        st = open_conn(c, &c->mstore, err, errlen);
    }
    if (st == LSC_OK) {
        st = open_conn(c, &c->rstore, err, errlen);
    }
    if (st == LSC_OK) {
        st = open_conn(c, &c->astore, err, errlen);
    }
    uint64_t requeued = 0;
    if (st == LSC_OK &&
        store_job_requeue_started(c->wstore, &requeued) == LSC_OK &&
        requeued > 0) {
        log_msg(LSC_LOG_INFO, "%" PRIu64 " interrupted jobs queued again",
                requeued);
    }
    c->dec = st == LSC_OK ? hl_event_decoder_create() : NULL;
    if (st == LSC_OK && c->dec == NULL) {
        st = LSC_ERR_NOMEM;
    }
    if (st == LSC_OK) {
        struct hl_services svc = services(c);
        struct call_ctx ctx = {.core = c, .store = c->mstore};
        tls = &ctx;
        st = hl_plugin_load(c->plugin_path, &svc, &c->plugin, err, errlen);
        tls = NULL;
    }
    if (st == LSC_OK) {
        if (pthread_create(&c->writer, NULL, writer_main, c) != 0) {
            snprintf(err, errlen, "cannot start the writer thread");
            st = LSC_ERR_INTERNAL;
        } else {
            c->writer_started = true;
        }
    }
    if (st == LSC_OK) {
        c->checkpointer_started =
            pthread_create(&c->checkpointer, NULL, checkpointer_main, c) == 0;
    }
    c->workers = calloc(cfg->job_workers + 1, sizeof *c->workers);
    for (unsigned i = 0; st == LSC_OK && i < cfg->job_workers; i++) {
        struct worker_arg *wa = calloc(1, sizeof *wa);
        if (wa == NULL) {
            st = LSC_ERR_NOMEM;
            break;
        }
        wa->c = c;
        st = open_conn(c, &wa->s, err, errlen);
        if (st == LSC_OK &&
            pthread_create(&c->workers[i], NULL, worker_main, wa) == 0) {
            c->n_workers++;
        } else {
            store_close(wa->s);
            free(wa);
            if (st == LSC_OK) {
                st = LSC_ERR_INTERNAL;
            }
        }
    }
    if (st != LSC_OK) {
        c->cfg = NULL; /* still the caller's */
        core_destroy(c);
        *out = NULL;
        return st;
    }
    return LSC_OK;
}

void core_destroy(struct core *c)
{
    if (c == NULL) {
        return;
    }
    /* Before the writer stops: the importer may wait for a commit. */
    core_stop_imports(c);
    pthread_mutex_lock(&c->qmu);
    c->refusing = true;
    c->stopping = true;
    pthread_cond_broadcast(&c->qcond);
    pthread_cond_broadcast(&c->ckcond);
    pthread_mutex_unlock(&c->qmu);
    pthread_mutex_lock(&c->jmu);
    pthread_cond_broadcast(&c->jcond);
    pthread_mutex_unlock(&c->jmu);
    if (c->writer_started) {
        pthread_join(c->writer, NULL); /* drains the queue first */
    }
    for (size_t i = 0; i < c->n_workers; i++) {
        pthread_join(c->workers[i], NULL);
    }
    if (c->checkpointer_started) {
        pthread_join(c->checkpointer, NULL);
    }
    free(c->workers);
    if (c->plugin != NULL) {
        /* The shutdown handler may still enqueue jobs: commit them. */
        struct call_ctx ctx = {.core = c, .store = c->mstore};
        tls = &ctx;
        bool tx = store_begin(c->mstore) == LSC_OK;
        hl_plugin_close(c->plugin);
        if (tx && store_commit(c->mstore) != LSC_OK) {
            store_rollback(c->mstore);
        }
        tls = NULL;
    }
    hl_event_decoder_destroy(c->dec);
    store_close(c->wstore);
    store_close(c->mstore);
    store_close(c->rstore);
    store_close(c->astore);
    dconfig_destroy(c->cfg);
    free(c->plugin_path);
    for (size_t i = 0; i < N_STRIPES; i++) {
        pthread_mutex_destroy(&c->stripes[i]);
    }
    for (size_t i = 0; i < MAX_KINDS; i++) {
        pthread_mutex_destroy(&c->kind_mu[i]);
    }
    pthread_rwlock_destroy(&c->plock);
    pthread_mutex_destroy(&c->cfg_mu);
    pthread_mutex_destroy(&c->rmu);
    pthread_mutex_destroy(&c->amu);
    pthread_mutex_destroy(&c->qmu);
    pthread_cond_destroy(&c->qcond);
    pthread_cond_destroy(&c->idle);
    pthread_cond_destroy(&c->ckcond);
    pthread_mutex_destroy(&c->jmu);
    pthread_cond_destroy(&c->jcond);
    pthread_mutex_destroy(&c->kstat_mu);
    free(c);
}

const struct dconfig *core_config(struct core *c) { return c->cfg; }
void core_cfg_lock(struct core *c) { pthread_mutex_lock(&c->cfg_mu); }
void core_cfg_unlock(struct core *c) { pthread_mutex_unlock(&c->cfg_mu); }

/* ---- Reload ------------------------------------------------------------- */

enum lsc_status core_reload(struct core *c, char *err, size_t errlen)
{
    struct dconfig *next = NULL;
    enum lsc_status st = dconfig_load(c->cfg->path, &next, err, errlen);
    bool imp_on = false;
    if (st == LSC_OK) {
        st = import_check(next, &imp_on, err, errlen);
        if (st != LSC_OK) {
            dconfig_destroy(next);
        }
    }
    if (st != LSC_OK) {
        atomic_fetch_add(&c->reloads_failed, 1);
        return st;
    }
    if (strcmp(next->data_dir, c->cfg->data_dir) != 0 ||
        strcmp(next->listen_host, c->cfg->listen_host) != 0 ||
        next->listen_port != c->cfg->listen_port) {
        log_msg(LSC_LOG_WARN, "reload: data_dir and listen take effect at "
                "the next restart");
    }
    /* Keep the running data dir, listen address and thread counts. */
    free(next->data_dir);
    next->data_dir = strdup(c->cfg->data_dir);
    next->job_workers = c->cfg->job_workers;
    next->http_threads = c->cfg->http_threads;
    pthread_rwlock_wrlock(&c->plock);
    pthread_mutex_lock(&c->qmu); /* the writer reads cfg between batches */
    pthread_mutex_lock(&c->cfg_mu);
    struct dconfig *old = c->cfg;
    c->cfg = next;
    pthread_mutex_unlock(&c->cfg_mu);
    pthread_mutex_unlock(&c->qmu);
    struct call_ctx ctx = {.core = c, .store = c->mstore};
    tls = &ctx;
    bool tx = store_begin(c->mstore) == LSC_OK;
    st = hl_plugin_reload(c->plugin, err, errlen);
    if (tx) {
        if (st == LSC_OK) {
            store_commit(c->mstore);
        } else {
            store_rollback(c->mstore);
        }
    }
    tls = NULL;
    pthread_mutex_lock(&c->qmu);
    pthread_mutex_lock(&c->cfg_mu);
    if (st != LSC_OK) {
        c->cfg = old; /* the plugin kept its old configuration too */
        old = next;
    }
    pthread_mutex_unlock(&c->cfg_mu);
    pthread_mutex_unlock(&c->qmu);
    pthread_rwlock_unlock(&c->plock);
    if (st == LSC_OK && (import_changed(old, c->cfg) ||
                         (c->imp != NULL) != imp_on)) {
        /* The import thread reads nothing of the config: restart it. */
        core_stop_imports(c);
        char ierr[512] = "";
        if (imports_start(c, c->cfg, ierr, sizeof ierr) != LSC_OK) {
            log_msg(LSC_LOG_ERROR, "reload: the mailchimp activity import "
                    "did not start: %s", ierr);
        }
    }
    dconfig_destroy(old);
    log_set_level(c->cfg->log_level);
    if (st == LSC_OK) {
        /* New models score differently: bring stored scores up to date. */
        atomic_store(&c->refresh_now, true);
        pthread_mutex_lock(&c->qmu);
        pthread_cond_broadcast(&c->qcond);
        pthread_mutex_unlock(&c->qmu);
    }
    atomic_fetch_add(st == LSC_OK ? &c->reloads_ok : &c->reloads_failed, 1);
    return st;
}

/* ---- Queries ------------------------------------------------------------ */

struct report_ud {
    json_t *models;
};

static void report_sink(void *ud, const struct lsc_report *r)
{
    struct report_ud *ru = ud;
    json_t *groups = json_object();
    for (size_t i = 0; i < r->n_groups; i++) {
        json_object_set_new(groups, r->groups[i].name,
                            json_real(round(r->groups[i].value * 100) / 100));
    }
    json_t *rules = json_array();
    for (size_t i = 0; i < r->n_rules; i++) {
        const struct lsc_report_rule *u = &r->rules[i];
        json_t *o = json_pack("{s:s, s:s, s:b, s:f}", "rule", u->rule,
                              "group", u->group ? u->group : "", "fit",
                              u->fit, "points", round(u->points * 100) / 100);
        if (o != NULL && !u->fit) {
            json_object_set_new(o, "awards", json_integer(u->awards));
            if (u->last_award_ms != INT64_MIN) {
                char t[40];
                json_object_set_new(o, "last_award",
                                    json_string(hl_time_format(
                                        u->last_award_ms, t, sizeof t)));
            }
        }
        json_array_append_new(rules, o);
    }
    json_t *m = json_pack("{s:s, s:b, s:i, s:s?, s:f, s:i, s:o, s:o}",
                          "model", r->model ? r->model : "", "primary",
                          r->primary, "score", r->score, "tier", r->tier,
                          "total", r->total, "scale_max", r->scale_max,
                          "groups", groups, "rules", rules);
    json_array_append_new(ru->models, m);
}

static void row_to_json(void *ud, const struct store_contact_row *r)
{
    json_t *o = ud;
    json_object_set_new(o, "contact", json_string(r->id));
    json_object_set_new(o, "score",
                        r->score >= 0 ? json_integer(r->score) : json_null());
    json_object_set_new(o, "tier", r->tier ? json_string(r->tier)
                                           : json_null());
    char t[40];
    json_object_set_new(o, "updated",
                        json_string(hl_time_format(r->updated_ms, t,
                                                   sizeof t)));
}

static void history_to_json(void *ud, const struct store_history_row *r)
{
    char t[40];
    json_t *o = json_pack("{s:s, s:i, s:s?, s:s?, s:s}", "at",
                          hl_time_format(r->at_ms, t, sizeof t), "score",
                          r->score, "from", r->from, "to", r->to, "cause",
                          r->cause ? r->cause : "");
    if (o != NULL && r->model != NULL && *r->model) {
        json_object_set_new(o, "model", json_string(r->model));
    }
    json_array_append_new(ud, o);
}

enum lsc_status core_contact_json(struct core *c, const char *id,
                                  size_t history, char **json)
{
    *json = NULL;
    json_t *o = json_object();
    json_t *hist = json_array();
    json_t *models = json_array();
    pthread_mutex_lock(&c->rmu);
    struct call_ctx ctx = {.core = c, .store = c->rstore};
    struct call_ctx *saved = tls;
    tls = &ctx;
    /* One read transaction: a consistent snapshot. */
    sqlite3_exec(store_db(c->rstore), "BEGIN", NULL, NULL, NULL);
    char canon[HL_CONTACT_ID_MAX + 1];
    if (atomic_load(&c->have_aliases) &&
        store_alias_get(c->rstore, id, canon, sizeof canon) == LSC_OK) {
        id = canon; /* an alias: the contact it names */
    }
    enum lsc_status st = store_contact_get(c->rstore, id, row_to_json, o);
    struct store_props props = {0};
    void *blob = NULL;
    size_t blen = 0;
    if (st == LSC_OK) {
        st = store_history(c->rstore, id, history, history_to_json, hist);
    }
    if (st == LSC_OK) {
        st = store_props_load(c->rstore, id, &props);
    }
    if (st == LSC_OK) {
        st = store_state_get(c->rstore, id, &blob, &blen);
    }
    if (st == LSC_OK) {
        int64_t now = core_now_ms();
        struct lsc_event ev = {
            .struct_size = sizeof ev, .kind = LSC_EVENT_EVALUATE,
            .contact_id = id, .type = "evaluate", .ts_ms = now,
            .state = blob, .state_len = blen, .now_ms = now,
        };
        struct report_ud ru = {.models = models};
        char err[256] = "";
        pthread_rwlock_rdlock(&c->plock);
        pthread_mutex_t *mu = stripe(c, id);
        pthread_mutex_lock(mu);
        enum lsc_status rs = hl_plugin_report(c->plugin, &ev, report_sink,
                                              &ru, err, sizeof err);
        pthread_mutex_unlock(mu);
        pthread_rwlock_unlock(&c->plock);
        if (rs != LSC_OK) {
            json_object_set_new(o, "report_error",
                                json_string(rs == LSC_ERR_UNSUPPORTED
                                                ? "the plugin has no report "
                                                  "handler"
                                                : err));
        }
        json_t *pj = json_object();
        for (size_t i = 0; i < props.n; i++) {
            json_t *jv = value_json(&props.props[i].value);
            json_object_set_new(pj, props.props[i].key,
                                jv ? jv : json_null());
        }
        json_object_set_new(o, "props", pj);
    }
    sqlite3_exec(store_db(c->rstore), "COMMIT", NULL, NULL, NULL);
    tls = saved;
    pthread_mutex_unlock(&c->rmu);
    store_props_free(&props);
    free(blob);
    if (st == LSC_OK) {
        json_t *primary = json_array_get(models, 0);
        if (primary != NULL) {
            /* score and tier as of now, from the report that gives groups
             * and why; the stored (list) value may lag by score_refresh. */
            json_object_set(o, "stored_score", json_object_get(o, "score"));
            json_object_set(o, "score", json_object_get(primary, "score"));
            json_t *pt = json_object_get(primary, "tier");
            if (pt != NULL) {
                json_object_set(o, "tier", pt);
            }
            json_object_set(o, "groups", json_object_get(primary, "groups"));
            json_object_set(o, "why", json_object_get(primary, "rules"));
        }
        json_object_set(o, "models", models);
        json_object_set(o, "history", hist);
        *json = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
        if (*json == NULL) {
            st = LSC_ERR_NOMEM;
        }
    }
    json_decref(o);
    json_decref(hist);
    json_decref(models);
    return st;
}

struct list_ud {
    json_t *arr;
    int last_score;
    char last_id[HL_CONTACT_ID_MAX + 1];
    size_t n;
};

static void list_row(void *ud, const struct store_contact_row *r)
{
    struct list_ud *l = ud;
    json_t *o = json_object();
    row_to_json(o, r);
    json_array_append_new(l->arr, o);
    l->last_score = r->score;
    snprintf(l->last_id, sizeof l->last_id, "%s", r->id);
    l->n++;
}

enum lsc_status core_contacts_json(struct core *c, const char *tier,
                                   int min_score, size_t limit,
                                   const char *cursor, char **json,
                                   char *err, size_t errlen)
{
    *json = NULL;
    int cs = 0;
    const char *cid = NULL;
    if (cursor != NULL && *cursor != '\0') {
        /* cursor = "<score>:<id>" of the last row of the previous page. */
        char *end = NULL;
        long v = strtol(cursor, &end, 10);
        if (end == cursor || *end != ':' || v < -1 || v > 1000000) {
            snprintf(err, errlen, "malformed cursor");
            return LSC_ERR_INVALID_ARG;
        }
        cs = (int)v;
        cid = end + 1;
    }
    struct list_ud l = {.arr = json_array()};
    pthread_mutex_lock(&c->rmu);
    enum lsc_status st = store_contacts_list(c->rstore, tier, min_score, cs,
                                             cid, limit, list_row, &l);
    pthread_mutex_unlock(&c->rmu);
    if (st != LSC_OK) {
        json_decref(l.arr);
        snprintf(err, errlen, "store error");
        return st;
    }
    char next[HL_CONTACT_ID_MAX + 32];
    snprintf(next, sizeof next, "%d:%s", l.last_score, l.last_id);
    json_t *o = json_pack("{s:o, s:s?}", "contacts", l.arr, "next_cursor",
                          l.n == limit && limit > 0 ? next : NULL);
    *json = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return *json ? LSC_OK : LSC_ERR_NOMEM;
}

void core_count_auth_failure(struct core *c, enum core_source src)
{
    atomic_fetch_add(&c->auth_failures[src], 1);
}

void core_count_rate_limited(struct core *c)
{
    atomic_fetch_add(&c->rate_limited, 1);
}

void core_count_too_large(struct core *c)
{
    atomic_fetch_add(&c->too_large, 1);
}

void core_observe_request(struct core *c, int64_t ns)
{
    histo_add(&c->request, ns);
}

/* ---- Metrics ------------------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void bprintf(struct buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL,
                          b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return;
        }
        if (b->p != NULL && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->len + (size_t)n + 1) {
            nc *= 2;
        }
        char *np = realloc(b->p, nc);
        if (np == NULL) {
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

static void histo_print(struct buf *b, const char *name, const char *help,
                        struct histo *h)
{
    bprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        cum += atomic_load(&h->b[i]);
        bprintf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bucket_le[i],
                cum);
    }
    cum += atomic_load(&h->b[N_BUCKETS]);
    bprintf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
    bprintf(b, "%s_sum %.9f\n%s_count %" PRIu64 "\n", name,
            (double)atomic_load(&h->sum_ns) / 1e9, name,
            (uint64_t)atomic_load(&h->count));
}

char *core_metrics(struct core *c)
{
    struct buf b = {0};
    static const char *const res[3] = {"accepted", "duplicate", "rejected"};
    bprintf(&b, "# HELP leadscored_events_total Events received, by source "
            "and result.\n# TYPE leadscored_events_total counter\n");
    for (int s = 0; s < CORE_SRC_REPLAY; s++) {
        for (int r = 0; r < 3; r++) {
            bprintf(&b, "leadscored_events_total{source=\"%s\",result=\"%s\"}"
                    " %" PRIu64 "\n", src_name[s], res[r],
                    (uint64_t)atomic_load(&c->events[s][r]));
        }
    }
    bprintf(&b, "# HELP leadscored_auth_failures_total Requests refused for "
            "a bad token or signature.\n# TYPE leadscored_auth_failures_total"
            " counter\n");
    for (int s = 0; s < CORE_SRC_REPLAY; s++) {
        if (s == CORE_SRC_MAILCHIMP_ACTIVITY) {
            continue; /* no request to authenticate */
        }
        bprintf(&b, "leadscored_auth_failures_total{source=\"%s\"} %" PRIu64
                "\n", src_name[s],
                (uint64_t)atomic_load(&c->auth_failures[s]));
    }
    bprintf(&b, "# HELP leadscored_rate_limited_total Requests answered 429."
            "\n# TYPE leadscored_rate_limited_total counter\n"
            "leadscored_rate_limited_total %" PRIu64 "\n"
            "# HELP leadscored_too_large_total Requests answered 413 (body "
            "over limits.max_body_bytes).\n"
            "# TYPE leadscored_too_large_total counter\n"
            "leadscored_too_large_total %" PRIu64 "\n",
            (uint64_t)atomic_load(&c->rate_limited),
            (uint64_t)atomic_load(&c->too_large));
    histo_print(&b, "leadscored_scoring_seconds",
                "Time in the plugin's event handler per event.", &c->scoring);
    histo_print(&b, "leadscored_commit_seconds",
                "Time to apply and commit one group of events.", &c->commit);
    histo_print(&b, "leadscored_request_seconds",
                "POST /v1/events and webhooks, receipt to durable answer.",
                &c->request);
    int64_t pending = -1, dead = -1;
    pthread_mutex_lock(&c->rmu);
    store_outbox_depth(c->rstore, &pending, &dead);
    pthread_mutex_unlock(&c->rmu);
    bprintf(&b, "# HELP leadscored_outbox_depth Jobs waiting or running.\n"
            "# TYPE leadscored_outbox_depth gauge\nleadscored_outbox_depth "
            "%" PRId64 "\n# HELP leadscored_outbox_dead Dead-lettered jobs.\n"
            "# TYPE leadscored_outbox_dead gauge\nleadscored_outbox_dead %"
            PRId64 "\n", pending, dead);
    /* Each family's samples follow its TYPE line, as the format wants. */
    pthread_mutex_lock(&c->kstat_mu);
    bprintf(&b, "# HELP leadscored_jobs_total Successful job runs by kind."
            "\n# TYPE leadscored_jobs_total counter\n");
    for (size_t i = 0; i < c->n_kstats; i++) {
        bprintf(&b, "leadscored_jobs_total{kind=\"%s\",result=\"ok\"} %"
                PRIu64 "\n", c->kstats[i].kind, c->kstats[i].ok);
    }
    bprintf(&b, "# HELP leadscored_connector_errors_total Failed job runs "
            "by kind (retryable or final).\n"
            "# TYPE leadscored_connector_errors_total counter\n");
    for (size_t i = 0; i < c->n_kstats; i++) {
        const struct kind_stat *k = &c->kstats[i];
        bprintf(&b, "leadscored_connector_errors_total{kind=\"%s\","
                "error=\"retryable\"} %" PRIu64 "\n", k->kind, k->retry);
        bprintf(&b, "leadscored_connector_errors_total{kind=\"%s\","
                "error=\"final\"} %" PRIu64 "\n", k->kind, k->failed);
    }
    pthread_mutex_unlock(&c->kstat_mu);
    bool imp = atomic_load(&c->imp_configured);
    for (int e = 0; imp && e < MCIMPORT_ERR_COUNT; e++) {
        bprintf(&b, "leadscored_connector_errors_total{kind=\"mailchimp."
                "import\",error=\"%s\"} %" PRIu64 "\n",
                mcimport_err_name((enum mcimport_err)e),
                (uint64_t)atomic_load(&c->istats.errors[e]));
    }
    if (imp) {
        bprintf(&b, "# HELP leadscored_import_runs_total Periodic connector "
                "imports by result.\n"
                "# TYPE leadscored_import_runs_total counter\n"
                "leadscored_import_runs_total{connector=\"mailchimp\","
                "result=\"ok\"} %" PRIu64 "\n"
                "leadscored_import_runs_total{connector=\"mailchimp\","
                "result=\"failed\"} %" PRIu64 "\n"
                "# HELP leadscored_import_last_success_seconds End of the "
                "last successful import (0: none yet).\n"
                "# TYPE leadscored_import_last_success_seconds gauge\n"
                "leadscored_import_last_success_seconds{connector="
                "\"mailchimp\"} %" PRId64 "\n"
                "# HELP leadscored_import_checkpoint_seconds Time of the "
                "latest imported activity (0: none yet).\n"
                "# TYPE leadscored_import_checkpoint_seconds gauge\n"
                "leadscored_import_checkpoint_seconds{connector="
                "\"mailchimp\"} %" PRId64 "\n",
                (uint64_t)atomic_load(&c->istats.runs_ok),
                (uint64_t)atomic_load(&c->istats.runs_failed),
                (int64_t)atomic_load(&c->istats.last_success_ms) / 1000,
                (int64_t)atomic_load(&c->istats.checkpoint_ms) / 1000);
    }
    bprintf(&b, "# HELP leadscored_transitions_total Tier changes "
            "announced by the plugin.\n"
            "# TYPE leadscored_transitions_total counter\n"
            "leadscored_transitions_total %" PRIu64 "\n"
            "# HELP leadscored_evaluations_total EVALUATE events delivered "
            "(wake times and the score sweep).\n"
            "# TYPE leadscored_evaluations_total counter\n"
            "leadscored_evaluations_total %" PRIu64 "\n"
            "# HELP leadscored_score_refreshes_total Contacts re-evaluated "
            "by the score sweep because their score moved.\n"
            "# TYPE leadscored_score_refreshes_total counter\n"
            "leadscored_score_refreshes_total %" PRIu64 "\n"
            "# HELP leadscored_commits_total Writer transactions committed."
            "\n# TYPE leadscored_commits_total counter\n"
            "leadscored_commits_total %" PRIu64 "\n"
            "# HELP leadscored_commit_failures_total Writer transactions "
            "rolled back (their events not acknowledged).\n"
            "# TYPE leadscored_commit_failures_total counter\n"
            "leadscored_commit_failures_total %" PRIu64 "\n"
            "# HELP leadscored_reloads_total Configuration reloads by "
            "result.\n# TYPE leadscored_reloads_total counter\n"
            "leadscored_reloads_total{result=\"ok\"} %" PRIu64 "\n"
            "leadscored_reloads_total{result=\"failed\"} %" PRIu64 "\n"
            "# HELP leadscored_rescores_total Rescores by result.\n"
            "# TYPE leadscored_rescores_total counter\n"
            "leadscored_rescores_total{result=\"ok\"} %" PRIu64 "\n"
            "leadscored_rescores_total{result=\"failed\"} %" PRIu64 "\n"
            "# HELP leadscored_start_time_seconds Process start time.\n"
            "# TYPE leadscored_start_time_seconds gauge\n"
            "leadscored_start_time_seconds %" PRId64 "\n",
            (uint64_t)atomic_load(&c->transitions),
            (uint64_t)atomic_load(&c->evaluations),
            (uint64_t)atomic_load(&c->refreshes),
            (uint64_t)atomic_load(&c->commits),
            (uint64_t)atomic_load(&c->commit_failures),
            (uint64_t)atomic_load(&c->reloads_ok),
            (uint64_t)atomic_load(&c->reloads_failed),
            (uint64_t)atomic_load(&c->rescores_ok),
            (uint64_t)atomic_load(&c->rescores_failed),
            c->started_ms / 1000);
    return b.p;
}

/* ---- Rescore ------------------------------------------------------------ */

struct replay_ud {
    struct core *c;
    struct hl_plugin *p;
    struct store *s;
    struct hl_event_decoder *dec;
    uint64_t n;
    enum lsc_status st;
};

static bool replay_one(void *ud, int64_t seq, const char *json, size_t len)
{
    (void)seq;
    struct replay_ud *r = ud;
    struct core_line ln = {.json = json, .len = len};
    r->st = apply_line(r->c, r->p, r->s, r->dec, CORE_SRC_REPLAY, &ln,
                       core_now_ms(), false, false);
    r->n++;
    if (ln.status == CORE_LINE_REJECTED) {
        log_msg(LSC_LOG_WARN, "rescore: event refused under the new model: "
                "%s", ln.reason);
    }
    return r->st == LSC_OK;
}

/* Replay log rows after *seq into the shadow store, in transactions of
 * 5000 events. */
static enum lsc_status replay_range(struct replay_ud *r, struct store *log,
                                    int64_t *seq)
{
    for (;;) {
        int64_t last = *seq;
        if (store_begin(r->s) != LSC_OK) {
            return LSC_ERR_IO;
        }
        uint64_t before = r->n;
        enum lsc_status st = store_events_scan(log, *seq, 5000, replay_one, r,
                                               &last);
        if (st == LSC_OK) {
            st = r->st;
        }
        if (st == LSC_OK) {
            st = store_commit(r->s);
        }
        if (st != LSC_OK) {
            store_rollback(r->s);
            return st;
        }
        *seq = last;
        if (r->n - before < 5000) {
            return LSC_OK;
        }
    }
}

static enum lsc_status exec_sql(sqlite3 *db, const char *sql, char *err,
                                size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "rescore swap failed: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return LSC_ERR_IO;
    }
    return LSC_OK;
}

enum lsc_status core_rescore(struct core *c, struct dconfig *cfg,
                             uint64_t *events, char *err, size_t errlen)
{
    /* The shadow store: a fresh database next to the live one. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/rescore.tmp", c->cfg->data_dir);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s/%s", dir, STORE_DB_NAME);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/%s-wal", dir, STORE_DB_NAME);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/%s-shm", dir, STORE_DB_NAME);
    unlink(cmd);
    struct store *shadow = NULL, *logr = NULL;
    struct store_options o = {.durable = false};
    enum lsc_status st = store_open(dir, &o, &shadow, err, errlen);
    if (st == LSC_OK) {
        st = store_open(c->cfg->data_dir, &o, &logr, err, errlen);
    }
    /* A second plugin instance, configured by `cfg`, writing to the
     * shadow store. */
    struct dconfig *live = c->cfg;
    struct hl_plugin *np = NULL;
    struct call_ctx ctx = {.core = c, .store = shadow};
    if (st == LSC_OK) {
        /* config_get reads c->cfg: point it at the new config while the
         * new instance is created (events keep flowing: the live plugin
         * read its config at create/reload time). */
        pthread_rwlock_wrlock(&c->plock);
        pthread_mutex_lock(&c->qmu);
        pthread_mutex_lock(&c->cfg_mu);
        c->cfg = cfg;
        pthread_mutex_unlock(&c->cfg_mu);
        pthread_mutex_unlock(&c->qmu);
        tls = &ctx;
        struct hl_services svc = services(c);
        st = hl_plugin_load(c->plugin_path, &svc, &np, err, errlen);
        tls = NULL;
        pthread_mutex_lock(&c->qmu);
        pthread_mutex_lock(&c->cfg_mu);
        c->cfg = live;
        pthread_mutex_unlock(&c->cfg_mu);
        pthread_mutex_unlock(&c->qmu);
        pthread_rwlock_unlock(&c->plock);
    }
    struct replay_ud r = {.c = c, .p = np, .s = shadow,
                          .dec = hl_event_decoder_create()};
    int64_t seq = 0;
    if (st == LSC_OK && r.dec == NULL) {
        st = LSC_ERR_NOMEM;
    }
    /* Phase 1, concurrent with ingestion: the log as it is now. */
    if (st == LSC_OK) {
        tls = &ctx;
        st = replay_range(&r, logr, &seq);
        tls = NULL;
    }
    /* Phase 2, events paused: the tail, then swap. */
    if (st == LSC_OK) {
        pthread_rwlock_wrlock(&c->plock);
        tls = &ctx;
        st = replay_range(&r, logr, &seq);
        tls = NULL;
        sqlite3 *db = store_db(c->wstore);
        char sql[4400];
        snprintf(sql, sizeof sql, "ATTACH DATABASE '%s/%s' AS shadow", dir,
                 STORE_DB_NAME);
        if (st == LSC_OK) {
            st = exec_sql(db, sql, err, errlen);
        }
        if (st == LSC_OK) {
            st = exec_sql(
                db,
                "BEGIN IMMEDIATE;"
                "INSERT INTO score_history(contact_id, at_ms, model, score, "
                "  from_tier, to_tier, cause) "
                "  SELECT m.id, CAST(strftime('%s','now') AS INTEGER)*1000, "
                "  NULL, s.score, m.tier, s.tier, 'rescore' "
                "  FROM main.contacts m JOIN shadow.contacts s ON s.id = m.id "
                "  WHERE s.score IS NOT m.score OR s.tier IS NOT m.tier;"
                "UPDATE main.contacts SET "
                "  score = (SELECT s.score FROM shadow.contacts s "
                "           WHERE s.id = main.contacts.id), "
                "  tier = (SELECT s.tier FROM shadow.contacts s "
                "          WHERE s.id = main.contacts.id) "
                "  WHERE id IN (SELECT id FROM shadow.contacts);"
                "DELETE FROM main.plugin_state;"
                "INSERT INTO main.plugin_state SELECT * FROM "
                "  shadow.plugin_state;"
                "DELETE FROM main.contact_props;"
                "INSERT INTO main.contact_props SELECT * FROM "
                "  shadow.contact_props;"
                "INSERT INTO main.outbox(kind, key, payload, not_before_ms, "
                "  enqueued_ms) SELECT kind, key, payload, not_before_ms, "
                "  enqueued_ms FROM shadow.outbox WHERE key IS NULL OR "
                "  NOT EXISTS (SELECT 1 FROM main.outbox o WHERE "
                "  o.kind = shadow.outbox.kind AND o.key = shadow.outbox.key "
                "  AND o.started = 0);"
                "COMMIT;",
                err, errlen);
            if (st != LSC_OK) {
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            }
            sqlite3_exec(db, "DETACH DATABASE shadow", NULL, NULL, NULL);
        }
        if (st == LSC_OK) {
            /* The new instance becomes the live one. */
            struct hl_plugin *oldp = c->plugin;
            pthread_mutex_lock(&c->qmu);
            pthread_mutex_lock(&c->cfg_mu);
            c->cfg = cfg;
            c->plugin = np;
            pthread_mutex_unlock(&c->cfg_mu);
            pthread_mutex_unlock(&c->qmu);
            struct call_ctx mctx = {.core = c, .store = c->mstore};
            tls = &mctx;
            hl_plugin_close(oldp);
            tls = NULL;
            np = NULL;
            cfg = live; /* freed below */
        }
        pthread_rwlock_unlock(&c->plock);
    }
    if (np != NULL) {
        tls = &ctx;
        hl_plugin_close(np);
        tls = NULL;
    }
    dconfig_destroy(cfg); /* the old config on success, else the new one */
    hl_event_decoder_destroy(r.dec);
    store_close(logr);
    store_close(shadow);
    snprintf(cmd, sizeof cmd, "%s/%s", dir, STORE_DB_NAME);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/%s-wal", dir, STORE_DB_NAME);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/%s-shm", dir, STORE_DB_NAME);
    unlink(cmd);
    rmdir(dir);
    if (events != NULL) {
        *events = r.n;
    }
    atomic_fetch_add(st == LSC_OK ? &c->rescores_ok : &c->rescores_failed, 1);
    return st;
}
