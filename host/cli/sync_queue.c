/*
 * The CLI's durable job queue (see sync_queue.h).
 */
#include "sync_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"

/* Extra wait before a retry round, to batch jittered retries. */
#define CLI_JOBQ_GATHER_MS 150

struct cli_jobq_pending {
    char *kind;
    char *key;
    void *payload;
    size_t len;
};

struct cli_jobq_props {
    char *contact;
    struct lsc_prop *props; /* keys and strings malloc()ed */
    size_t n;
};

static void rp_free(struct cli_jobq_props *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free((char *)r->props[i].key);
        if (r->props[i].value.type == LSC_VAL_STRING ||
            r->props[i].value.type == LSC_VAL_JSON) {
            free((char *)r->props[i].value.u.str.ptr);
        }
    }
    free(r->props);
    free(r->contact);
}

int64_t cli_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool cli_join_paths(char **joined, const char *arg)
{
    size_t old = *joined != NULL ? strlen(*joined) : 0;
    char *s = realloc(*joined, old + strlen(arg) + 2);
    if (s == NULL) {
        return false;
    }
    *joined = s;
    char *o = s + old;
    if (old > 0) {
        *o++ = '\n';
    }
    for (const char *p = arg; *p != '\0'; p++) {
        *o++ = *p == ',' ? '\n' : *p;
    }
    *o = '\0';
    return true;
}

static void pend_clear(struct cli_jobq *q)
{
    for (size_t i = 0; i < q->n_pend; i++) {
        free(q->pend[i].kind);
        free(q->pend[i].key);
        free(q->pend[i].payload);
    }
    q->n_pend = 0;
}

/* job_enqueue service: held until the event is applied.  The batch
 * host's clock is the stream's (often the past), so not_before is the
 * wall clock: the job is due now. */
static enum lsc_status q_enqueue(void *ud, const char *kind, const char *key,
                                 const void *payload, size_t len,
                                 int64_t not_before_ms)
{
    (void)not_before_ms;
    struct cli_jobq *q = ud;
    if (kind == NULL || (payload == NULL && len > 0)) {
        return LSC_ERR_INVALID_ARG;
    }
    if (q->n_pend == q->cap_pend) {
        size_t cap = q->cap_pend ? q->cap_pend * 2 : 8;
        struct cli_jobq_pending *v = realloc(q->pend, cap * sizeof *v);
        if (v == NULL) {
            return LSC_ERR_NOMEM;
        }
        q->pend = v;
        q->cap_pend = cap;
    }
    struct cli_jobq_pending *p = &q->pend[q->n_pend];
    p->kind = strdup(kind);
    p->key = key != NULL ? strdup(key) : NULL;
    p->payload = malloc(len + 1);
    p->len = len;
    if (p->kind == NULL || (key != NULL && p->key == NULL) ||
        p->payload == NULL) {
        free(p->kind);
        free(p->key);
        free(p->payload);
        return LSC_ERR_NOMEM;
    }
    if (len > 0) {
        memcpy(p->payload, payload, len);
    }
    q->n_pend++;
    return LSC_OK;
}

static void q_event_done(void *ud, bool applied)
{
    struct cli_jobq *q = ud;
    int64_t now = cli_wall_ms();
    for (size_t i = 0; applied && i < q->n_pend; i++) {
        struct cli_jobq_pending *p = &q->pend[i];
        if (store_job_enqueue(q->store, p->kind, p->key, p->payload, p->len,
                              now, now, NULL) != LSC_OK) {
            if (!q->failed) {
                cli_error("cannot queue a %s job: %s", p->kind,
                          store_errmsg(q->store));
            }
            q->failed = true;
        } else {
            q->enqueued++;
        }
    }
    pend_clear(q);
}

bool cli_jobq_limit_option(struct cli_jobq_limits *l, const char *cmd,
                           int opt, const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (opt == CLI_OPT_MAX_ATTEMPTS) {
        if (*end != '\0' || v < 1 || v > 1000) {
            cli_error("%s: --max-attempts must be 1..1000", cmd);
            return false;
        }
        l->max_attempts = v;
    } else {
        if (*end != '\0' || v < 0 || v > 86400) {
            cli_error("%s: --max-wait must be 0..86400 seconds", cmd);
            return false;
        }
        l->max_wait_s = v;
    }
    return true;
}

int cli_jobq_open(struct cli_jobq *q, struct cli_session *s,
                  const char *data_dir, const struct cli_jobq_limits *l,
                  bool durable)
{
    memset(q, 0, sizeof *q);
    q->max_attempts = (uint32_t)l->max_attempts;
    q->max_wait_ms = l->max_wait_s * 1000;
    char err[512];
    struct store_options opt = {.durable = durable};
    if (store_open(data_dir, &opt, &q->store, err, sizeof err) != LSC_OK) {
        cli_error("cannot open the job queue in %s: %s", data_dir, err);
        return CLI_EXIT_IO;
    }
    uint64_t n = 0;
    store_job_requeue_started(q->store, &n); /* left by an interrupted run */
    s->job_enqueue = q_enqueue;
    s->event_done = q_event_done;
    s->job_ud = q;
    s->data_dir = data_dir;
    return CLI_EXIT_OK;
}

/* job_props: called on a job handler's thread. */
static enum lsc_status q_job_props(void *ud, const char *contact_id,
                                   const struct lsc_prop *props, size_t n)
{
    struct cli_jobq *q = ud;
    struct cli_jobq_props r = {.contact = strdup(contact_id),
                               .props = calloc(n + 1, sizeof *r.props)};
    bool ok = r.contact != NULL && r.props != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        struct lsc_prop *d = &r.props[r.n];
        *d = props[i];
        d->key = strdup(props[i].key);
        ok = d->key != NULL;
        if (ok && (props[i].value.type == LSC_VAL_STRING ||
                   props[i].value.type == LSC_VAL_JSON)) {
            char *v = malloc(props[i].value.u.str.len + 1);
            ok = v != NULL;
            if (ok) {
                memcpy(v, props[i].value.u.str.ptr, props[i].value.u.str.len);
                v[props[i].value.u.str.len] = '\0';
                d->value.u.str.ptr = v;
            } else {
                free((char *)d->key);
            }
        }
        r.n += ok;
    }
    pthread_mutex_lock(&q->rp_lock);
    if (ok && q->n_rp == q->cap_rp) {
        size_t cap = q->cap_rp ? q->cap_rp * 2 : 64;
        struct cli_jobq_props *v = realloc(q->rp, cap * sizeof *v);
        ok = v != NULL;
        if (ok) {
            q->rp = v;
            q->cap_rp = cap;
        }
    }
    if (ok) {
        q->rp[q->n_rp++] = r;
    }
    pthread_mutex_unlock(&q->rp_lock);
    if (!ok) {
        rp_free(&r);
        return LSC_ERR_NOMEM; /* the job retries */
    }
    return LSC_OK;
}

void cli_jobq_read_path(struct cli_jobq *q, struct cli_session *s)
{
    q->rp_lock_ok = pthread_mutex_init(&q->rp_lock, NULL) == 0;
    if (q->rp_lock_ok) {
        s->job_props = q_job_props;
    }
}

/* Applies the properties read since the last call (main thread, no batch
 * out). */
static void apply_read_props(struct cli_jobq *q, struct cli_session *s)
{
    if (!q->rp_lock_ok) {
        return;
    }
    pthread_mutex_lock(&q->rp_lock);
    struct cli_jobq_props *v = q->rp;
    size_t n = q->n_rp;
    q->rp = NULL;
    q->n_rp = q->cap_rp = 0;
    pthread_mutex_unlock(&q->rp_lock);
    int64_t at = cli_session_eval_time(s, INT64_MIN);
    for (size_t i = 0; i < n; i++) {
        if (hl_contacts_find(s->contacts, v[i].contact) == NULL) {
            /* a read left by an earlier run: this run has none of the
             * contact's events, and scoring the inputs alone would
             * replace the score that run queued */
            rp_free(&v[i]);
            continue;
        }
        struct lsc_event ev = {
            .struct_size = sizeof ev,
            .kind = LSC_EVENT_CONTACT_UPDATED,
            .contact_id = v[i].contact,
            .type = "contact.updated",
            .ts_ms = at,
            .props = v[i].props,
            .n_props = v[i].n,
            .now_ms = at,
        };
        char err[512];
        /* not a line of the input: out of the input's figures */
        enum lsc_status st = cli_session_apply_read(s, &ev, err, sizeof err);
        if (st != LSC_OK) {
            fprintf(stderr, "leadscore: contact %s: the properties read "
                    "from HubSpot were refused: %s\n", v[i].contact, err);
        }
        rp_free(&v[i]);
    }
    free(v);
}

int cli_jobq_begin(struct cli_jobq *q)
{
    if (store_begin(q->store) != LSC_OK) {
        cli_error("job queue: %s", store_errmsg(q->store));
        return CLI_EXIT_IO;
    }
    q->in_tx = true;
    return CLI_EXIT_OK;
}

int cli_jobq_commit(struct cli_jobq *q)
{
    q->in_tx = false;
    if (store_commit(q->store) != LSC_OK) {
        cli_error("job queue: cannot commit: %s", store_errmsg(q->store));
        return CLI_EXIT_IO;
    }
    return q->failed ? CLI_EXIT_IO : CLI_EXIT_OK;
}

/* One claimed batch of jobs of one kind. */
struct jobq_batch {
    struct cli_session *s;
    const struct hl_job_kind *k;
    struct store_job *sj;
    size_t n;
    struct lsc_job *jobs;
    struct lsc_job_result *res;
    enum lsc_status rc;
    pthread_t thread;
    bool running;
};

static void batch_free(struct jobq_batch *b)
{
    free(b->jobs);
    free(b->res);
    store_jobs_free(b->sj, b->n);
    b->sj = NULL;
    b->jobs = NULL;
    b->res = NULL;
    b->n = 0;
}

/* Claims the next due batch of b->k into b (b->n 0: none).  false on a
 * store error or out of memory (printed). */
static bool batch_claim(struct cli_jobq *q, struct jobq_batch *b)
{
    b->n = 0;
    b->sj = NULL;
    if (store_job_claim(q->store, b->k->kind, b->k->max_batch, cli_wall_ms(),
                        &b->sj, &b->n) != LSC_OK) {
        cli_error("job queue: %s", store_errmsg(q->store));
        return false;
    }
    if (b->n == 0) {
        return true;
    }
    b->jobs = calloc(b->n, sizeof *b->jobs);
    b->res = calloc(b->n, sizeof *b->res);
    if (b->jobs == NULL || b->res == NULL) {
        batch_free(b);
        cli_error("out of memory");
        return false;
    }
    for (size_t i = 0; i < b->n; i++) {
        b->jobs[i] = (struct lsc_job){
            .struct_size = sizeof b->jobs[i],
            .id = b->sj[i].id,
            .kind = b->sj[i].kind,
            .key = b->sj[i].key,
            .payload = b->sj[i].payload,
            .payload_len = b->sj[i].payload_len,
            .attempt = b->sj[i].attempt,
            .enqueued_ms = b->sj[i].enqueued_ms,
        };
    }
    return true;
}

static void *batch_run(void *arg)
{
    struct jobq_batch *b = arg;
    b->rc = hl_plugin_run_jobs(b->s->plugin, b->k->kind, b->jobs, b->res,
                               b->n);
    return NULL;
}

/* Runs b on a thread of its own (inline when none can be started). */
static void batch_start(struct jobq_batch *b)
{
    b->running = pthread_create(&b->thread, NULL, batch_run, b) == 0;
    if (!b->running) {
        batch_run(b);
    }
}

static void batch_wait(struct jobq_batch *b)
{
    if (b->running) {
        pthread_join(b->thread, NULL);
        b->running = false;
    }
}

/* Records the results of a run batch in the store (one transaction for
 * the whole batch) and the figures. */
static void batch_finish(struct cli_jobq *q, struct jobq_batch *b)
{
    int64_t now = cli_wall_ms();
    struct store_job_result *fr = calloc(b->n, sizeof *fr);
    for (size_t i = 0; i < b->n; i++) {
        struct lsc_job_result *r = &b->res[i];
        if (b->rc != LSC_OK) {
            /* the handler failed as a whole: every job retries */
            r->status = LSC_ERR_RETRYABLE;
            r->retry_after_ms = 1000;
            snprintf(r->reason, sizeof r->reason, "job handler: %s",
                     lsc_status_str(b->rc));
        }
        r->reason[sizeof r->reason - 1] = '\0';
        if (fr != NULL) {
            fr[i] = (struct store_job_result){
                .id = b->sj[i].id,
                .status = r->status,
                .retry_after_ms =
                    r->retry_after_ms > 0 ? r->retry_after_ms : 0,
                .reason = r->reason,
            };
        }
    }
    /* Out of memory: nothing is recorded, the jobs stay started and the
     * next run delivers them again (at least once). */
    if (fr == NULL ||
        store_job_finish_many(q->store, fr, b->n, q->max_attempts, now) !=
            LSC_OK) {
        cli_error("job queue: cannot record %zu results: %s", b->n,
                  fr == NULL ? "out of memory" : store_errmsg(q->store));
    }
    for (size_t i = 0; i < b->n; i++) {
        struct lsc_job_result *r = &b->res[i];
        int64_t after = r->retry_after_ms > 0 ? r->retry_after_ms : 0;
        q->runs++;
        if (r->status == LSC_OK) {
            q->sent++;
            /* done without a write (e.g. Mailchimp: not in the audience) */
            if (strncmp(r->reason, "skipped: ", 9) == 0 && q->skipped++ == 0) {
                snprintf(q->skip_reason, sizeof q->skip_reason, "%s",
                         r->reason + 9);
            }
        } else if (fr != NULL && fr[i].dead) {
            q->dead++;
            fprintf(stderr, "leadscore: dead-lettered %s job %llu (%s) "
                    "after %u attempt(s): %s\n", b->k->kind,
                    (unsigned long long)b->sj[i].id,
                    b->sj[i].key != NULL ? b->sj[i].key : "no key",
                    (unsigned)b->sj[i].attempt, r->reason);
        } else {
            q->retried++;
            if (b->s->g->verbose > 0) {
                fprintf(stderr, "leadscore: %s job %llu retries in %lld "
                        "ms: %s\n", b->k->kind,
                        (unsigned long long)b->sj[i].id, (long long)after,
                        r->reason);
            }
        }
    }
    free(fr);
    if (q->progress) {
        fprintf(stderr, "\rleadscore: %llu jobs sent, %llu retried, "
                "%llu dead-lettered ",
                (unsigned long long)q->sent, (unsigned long long)q->retried,
                (unsigned long long)q->dead);
    }
}

/* Claims and runs the due jobs of one kind, batch after batch.  Returns
 * how many ran, or -1 on a store error.
 *
 * A pipeline: while one batch is out (the handler's requests, on a
 * thread of its own), this thread records the previous batch's results
 * and claims the next one, so the store's work does not add to the time
 * between two requests.  The handler of a kind still runs one batch at a
 * time, and only this thread touches the store.  A job claimed while
 * another batch is out cannot share its key: claimed jobs are started,
 * and nothing is enqueued while a batch is out (the read path's
 * re-scoring enqueues only between two kinds' runs). */
static long run_kind(struct cli_jobq *q, struct cli_session *s,
                     const struct hl_job_kind *k)
{
    long ran = 0;
    struct jobq_batch b[3] = {{.s = s, .k = k}, {.s = s, .k = k},
                              {.s = s, .k = k}};
    struct jobq_batch *cur = &b[0], *prev = NULL, *next;
    bool ok = batch_claim(q, cur);
    while (ok && cur->n > 0) {
        batch_start(cur);
        if (prev != NULL) {
            batch_finish(q, prev);
            ran += (long)prev->n;
            batch_free(prev);
        }
        next = prev != NULL ? prev : &b[1 + (cur == &b[1])];
        ok = batch_claim(q, next);
        batch_wait(cur);
        prev = cur;
        cur = next;
    }
    if (prev != NULL) {
        batch_finish(q, prev);
        ran += (long)prev->n;
        batch_free(prev);
    }
    batch_free(cur);
    return ok ? ran : -1;
}

/* PRAGMA synchronous of the queue's connection (2 FULL, 1 NORMAL), -1 on
 * error. */
static int synchronous_level(struct cli_jobq *q)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(store_db(q->store), "PRAGMA synchronous", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

int cli_jobq_drain(struct cli_jobq *q, struct cli_session *s)
{
    /* A batch costs two commits (claim, results).  Synced
     * (synchronous=FULL) they take ~10 ms per batch here, as long as a
     * whole request cycle, which kept the drain at 0.87 of HubSpot's
     * limit (one fsync per job before batching: a quarter).  While
     * draining, commits are not synced (WAL, synchronous=NORMAL): they
     * survive a crash of the process, and a power failure can only undo
     * the latest finishes, whose jobs then run again (delivery is at least
     * once anyway: a crash between a request and its finish does the
     * same; batch updates write the latest value, webhooks carry their
     * delivery id).  The enqueues were committed before with the caller's
     * setting, which is restored afterwards. */
    int sync_level = synchronous_level(q);
    if (sync_level > 1) {
        sqlite3_exec(store_db(q->store), "PRAGMA synchronous=NORMAL", NULL,
                     NULL, NULL);
    }
    size_t nk = 0;
    const struct hl_job_kind *kinds = hl_plugin_job_kinds(s->plugin, &nk);
    int64_t deadline = cli_wall_ms() + q->max_wait_ms;
    int rc = CLI_EXIT_OK;
    for (;;) {
        long ran = 0;
        for (size_t i = 0; i < nk; i++) {
            long r = run_kind(q, s, &kinds[i]);
            if (r < 0) {
                rc = CLI_EXIT_IO;
                goto out;
            }
            ran += r;
            /* no batch is out: re-scoring may enqueue (hubspot.read runs
             * before the writes, which then carry the new values) */
            apply_read_props(q, s);
        }
        int64_t pending = 0, dead = 0, next = INT64_MAX;
        if (store_outbox_depth(q->store, &pending, &dead) != LSC_OK ||
            store_outbox_next_due(q->store, &next) != LSC_OK) {
            cli_error("job queue: %s", store_errmsg(q->store));
            rc = CLI_EXIT_IO;
            goto out;
        }
        q->left = (uint64_t)pending;
        if (pending == 0) {
            break;
        }
        int64_t now = cli_wall_ms();
        if (ran == 0 && next <= now) {
            cli_error("%lld queued job(s) are of kinds this configuration "
                      "does not run; they stay queued", (long long)pending);
            break;
        }
        if (next > deadline) {
            cli_error("%lld job(s) stay queued for a later retry; run "
                      "`leadscore sync` again to resume", (long long)pending);
            break;
        }
        /* wait a little past the next due job so retries spread by
         * jitter go out together: fewer, fuller batches */
        sleep_ms((next > now ? next - now : 0) + CLI_JOBQ_GATHER_MS);
    }
out:
    if (sync_level > 1) {
        sqlite3_exec(store_db(q->store), "PRAGMA synchronous=FULL", NULL,
                     NULL, NULL);
    }
    if (q->progress) {
        fputc('\n', stderr);
    }
    return rc;
}

void cli_jobq_summary(const struct cli_jobq *q, FILE *f)
{
    fprintf(f, "sync: %llu jobs enqueued, %llu sent, %llu retried, %llu "
            "dead-lettered, %llu left queued\n",
            (unsigned long long)q->enqueued, (unsigned long long)q->sent,
            (unsigned long long)q->retried, (unsigned long long)q->dead,
            (unsigned long long)q->left);
    if (q->skipped > 0) {
        fprintf(f, "sync: %llu of them skipped (%s)\n",
                (unsigned long long)q->skipped, q->skip_reason);
    }
}

void cli_jobq_close(struct cli_jobq *q)
{
    if (q == NULL) {
        return;
    }
    if (q->in_tx) {
        store_rollback(q->store);
    }
    pend_clear(q);
    free(q->pend);
    for (size_t i = 0; i < q->n_rp; i++) {
        rp_free(&q->rp[i]);
    }
    free(q->rp);
    if (q->rp_lock_ok) {
        pthread_mutex_destroy(&q->rp_lock);
    }
    store_close(q->store);
    memset(q, 0, sizeof *q);
}

/* ---- The admin host ------------------------------------------------------ */

static void admin_log(void *host, enum lsc_log_level level, const char *msg)
{
    struct cli_admin *a = host;
    if (level <= LSC_LOG_WARN ||
        a->verbose >= (level == LSC_LOG_INFO ? 1 : 2)) {
        fprintf(stderr, "leadscore: %s%s\n",
                level == LSC_LOG_ERROR  ? "error: "
                : level == LSC_LOG_WARN ? "warning: "
                                        : "",
                msg);
    }
}

static void admin_diag(void *host, const struct lsc_diagnostic *d)
{
    struct cli_admin *a = host;
    if (d->severity <= LSC_LOG_ERROR) {
        a->diag_errors++;
    }
    if (d->line > 0) {
        fprintf(stderr, "%s:%d:%d: ", d->file ? d->file : "", d->line,
                d->column);
    } else {
        fprintf(stderr, "%s: ", d->file ? d->file : "");
    }
    if (d->severity > LSC_LOG_ERROR) {
        fputs("warning: ", stderr);
    }
    if (d->json_path != NULL && d->json_path[0] != '\0') {
        fprintf(stderr, "%s: ", d->json_path);
    }
    fprintf(stderr, "%s\n", d->message ? d->message : "");
}

static const char *admin_data_dir(void *host)
{
    return ((struct cli_admin *)host)->data_dir;
}

static int64_t admin_now(void *host)
{
    (void)host;
    return cli_wall_ms();
}

void cli_admin_init(struct cli_admin *a, const char *data_dir, int verbose)
{
    memset(a, 0, sizeof *a);
    a->data_dir = data_dir;
    a->verbose = verbose;
    a->api.struct_size = sizeof a->api;
    a->api.abi_major = LSC_PLUGIN_ABI_MAJOR;
    a->api.abi_minor = LSC_PLUGIN_ABI_MINOR;
    a->api.host = a;
    a->api.host_name = "leadscore-cli";
    a->api.log = admin_log;
    a->api.data_dir = admin_data_dir;
    a->api.now_ms = admin_now;
    a->api.diagnostic = admin_diag;
}

void cli_mapping_kind(const char *path, char *out, size_t outlen)
{
    json_t *j = json_load_file(path, 0, NULL);
    const char *c = json_string_value(json_object_get(j, "connector"));
    snprintf(out, outlen, "%s", c != NULL ? c : "");
    json_decref(j);
}
