/*
 * A batch session: the plugin, the in-memory contacts and the stream
 * clock, fed one JSON Lines file in one pass.
 *
 * Effects a handler makes (state_put, emit_transition) are buffered and
 * applied only when it returns LSC_OK, property merges are undone when
 * it refuses: a refused line changes no state (section 1 of
 * ../shared/docs/scoring-model.md).
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Wake heap: contacts that asked for an EVALUATE later -------------- */

struct cli_wake {
    int64_t at;
    struct hl_contact *c; /* records never move; erased ones wake never */
};

static void heap_swap(struct cli_wake *v, size_t a, size_t b)
{
    struct cli_wake t = v[a];
    v[a] = v[b];
    v[b] = t;
}

static void heap_sift_up(struct cli_wake *v, size_t i)
{
    while (i > 0 && v[(i - 1) / 2].at > v[i].at) {
        heap_swap(v, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_sift_down(struct cli_wake *v, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
#if defined(__GNUC__)
        /* The next level's candidates (both children's children) while
         * this one is compared: the heap of a million contacts is far
         * bigger than the cache, and each level is a miss. */
        if (4 * i + 6 < n) {
            __builtin_prefetch(&v[4 * i + 3]);
            __builtin_prefetch(&v[4 * i + 6]);
        }
#endif
        if (l < n && v[l].at < v[m].at) {
            m = l;
        }
        if (r < n && v[r].at < v[m].at) {
            m = r;
        }
        if (m == i) {
            return;
        }
        heap_swap(v, i, m);
        i = m;
    }
}

/* Drop entries that no longer match their contact's wake time. */
static void heap_compact(struct cli_session *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_wakes; i++) {
        if (hl_contact_wake(s->wakes[i].c) == s->wakes[i].at) {
            s->wakes[k++] = s->wakes[i];
        }
    }
    s->n_wakes = k;
    for (size_t i = k / 2; i-- > 0;) {
        heap_sift_down(s->wakes, k, i);
    }
}

static bool heap_push(struct cli_session *s, int64_t at, struct hl_contact *c)
{
    if (s->n_wakes == s->wakes_cap) {
        if (s->n_wakes > 1024 &&
            s->n_wakes > 2 * hl_contacts_count(s->contacts)) {
            heap_compact(s);
        }
        if (s->n_wakes == s->wakes_cap) {
            size_t cap = s->wakes_cap ? s->wakes_cap * 2 : 1024;
            struct cli_wake *v = realloc(s->wakes, cap * sizeof *v);
            if (v == NULL) {
                return false;
            }
            s->wakes = v;
            s->wakes_cap = cap;
            hl_hugepage_hint(v, cap * sizeof *v);
        }
    }
    s->wakes[s->n_wakes] = (struct cli_wake){at, c};
    heap_sift_up(s->wakes, s->n_wakes++);
    return true;
}

/* ---- Services ----------------------------------------------------------- */

static const char *level_name(enum lsc_log_level level)
{
    switch (level) {
    case LSC_LOG_ERROR: return "error";
    case LSC_LOG_WARN: return "warning";
    case LSC_LOG_INFO: return "info";
    case LSC_LOG_DEBUG: return "debug";
    }
    return "log";
}

/* `msg` with every file_alias_from shown as file_alias_to. */
static void put_aliased(const struct cli_session *s, FILE *f, const char *msg)
{
    const char *from = s->file_alias_from;
    size_t n = from != NULL ? strlen(from) : 0;
    const char *hit;
    while (n > 0 && (hit = strstr(msg, from)) != NULL) {
        fwrite(msg, 1, (size_t)(hit - msg), f);
        fputs(s->file_alias_to, f);
        msg = hit + n;
    }
    fputs(msg, f);
}

static void svc_log(void *ud, enum lsc_log_level level, const char *msg)
{
    struct cli_session *s = ud;
    if (level == LSC_LOG_INFO && s->info_out != NULL) {
        put_aliased(s, s->info_out, msg);
        fputc('\n', s->info_out);
        return;
    }
    if (level <= LSC_LOG_WARN || s->g->verbose >= (level == LSC_LOG_INFO ? 1 : 2)) {
        fprintf(stderr, "leadscore: %s: ", level_name(level));
        put_aliased(s, stderr, msg);
        fputc('\n', stderr);
    }
}

static const char *svc_config_get(void *ud, const char *key)
{
    struct cli_session *s = ud;
    for (size_t i = 0; i < s->n_config; i++) {
        if (strcmp(s->config_keys[i], key) == 0) {
            return s->config_values[i];
        }
    }
    return NULL;
}

static int64_t svc_now_ms(void *ud)
{
    struct cli_session *s = ud;
    if (s->reporting) {
        return s->eval_ms;
    }
    return s->clock_ms != INT64_MIN ? s->clock_ms : 0;
}

static void svc_diagnostic(void *ud, const struct lsc_diagnostic *d)
{
    struct cli_session *s = ud;
    const char *file = d->file != NULL ? d->file : "";
    if (s->file_alias_from != NULL && strcmp(file, s->file_alias_from) == 0) {
        file = s->file_alias_to;
    }
    if (d->severity <= LSC_LOG_ERROR) {
        s->diag_errors++;
    } else {
        s->diag_warnings++;
    }
    if (d->line > 0) {
        fprintf(stderr, "%s:%d:%d: ", file, d->line, d->column);
    } else {
        fprintf(stderr, "%s: ", file);
    }
    if (d->severity > LSC_LOG_ERROR) {
        fprintf(stderr, "%s: ", level_name(d->severity));
    }
    if (d->json_path != NULL && d->json_path[0] != '\0') {
        fprintf(stderr, "%s: ", d->json_path);
    }
    fprintf(stderr, "%s\n", d->message != NULL ? d->message : "");
}

static enum lsc_status svc_contact_props(void *ud, const char *contact_id,
                                         void (*fn)(void *,
                                                    const struct lsc_prop *,
                                                    size_t),
                                         void *fn_ud)
{
    struct cli_session *s = ud;
    /* Nearly always the contact being delivered or reported: skip the
     * hash lookup. */
    struct hl_contact *near = s->cur != NULL ? s->cur : s->report_cur;
    struct hl_contact *c =
        near != NULL && strcmp(hl_contact_id(near), contact_id) == 0
            ? near
            : hl_contacts_find(s->contacts, contact_id);
    if (c == NULL) {
        return LSC_ERR_NOT_FOUND;
    }
    const struct lsc_prop *props;
    size_t n;
    enum lsc_status st = hl_contacts_props(s->contacts, c, &props, &n);
    if (st == LSC_OK) {
        fn(fn_ud, props, n);
    }
    return st;
}

/* The CLI has no CRM to write to: it prints reports instead.  From a job
 * handler (no contact being delivered: jobs run only while no event is)
 * the properties were read from a CRM for the contact: the queue
 * re-scores it with them. */
static enum lsc_status svc_props_write(void *ud, const char *contact_id,
                                       const struct lsc_prop *props, size_t n)
{
    struct cli_session *s = ud;
    if (s->cur == NULL && s->job_props != NULL) {
        return s->job_props(s->job_ud, contact_id, props, n);
    }
    return LSC_OK;
}

static enum lsc_status svc_state_put(void *ud, const char *contact_id,
                                     const void *blob, size_t len,
                                     int64_t wake_ms)
{
    struct cli_session *s = ud;
    if (s->cur == NULL || strcmp(hl_contact_id(s->cur), contact_id) != 0) {
        return LSC_ERR_INVALID_ARG; /* only the contact being delivered */
    }
    if (len > s->state_cap) {
        unsigned char *b = realloc(s->state_buf, len);
        if (b == NULL) {
            return LSC_ERR_NOMEM;
        }
        s->state_buf = b;
        s->state_cap = len;
    }
    if (len > 0) {
        memcpy(s->state_buf, blob, len);
    }
    s->state_len = len;
    s->state_wake = wake_ms;
    s->state_pending = true;
    return LSC_OK;
}

static enum lsc_status svc_emit_transition(void *ud,
                                           const struct lsc_transition *t)
{
    struct cli_session *s = ud;
    s->n_transitions++;
    if (s->transitions == NULL) {
        return LSC_OK;
    }
    struct hl_buf *b = &s->transitions_pending;
    char at[40];
    hl_buf_puts(b, "{\"contact\":");
    hl_buf_json_str(b, t->contact_id, strlen(t->contact_id));
    hl_buf_puts(b, ",\"model\":");
    hl_buf_json_str(b, t->model, t->model != NULL ? strlen(t->model) : 0);
    hl_buf_puts(b, ",\"from\":");
    hl_buf_json_str(b, t->from, t->from != NULL ? strlen(t->from) : 0);
    hl_buf_puts(b, ",\"to\":");
    hl_buf_json_str(b, t->to, strlen(t->to));
    hl_buf_printf(b, ",\"score\":%d,\"at\":\"%s\"}\n", t->score,
                  hl_time_format(t->at_ms, at, sizeof at));
    return b->oom ? LSC_ERR_NOMEM : LSC_OK;
}

static enum lsc_status svc_job_enqueue(void *ud, const char *kind,
                                       const char *key, const void *payload,
                                       size_t len, int64_t not_before_ms)
{
    struct cli_session *s = ud;
    return s->job_enqueue(s->job_ud, kind, key, payload, len, not_before_ms);
}

static const char *svc_data_dir(void *ud)
{
    struct cli_session *s = ud;
    return s->data_dir;
}

/* ---- Session ------------------------------------------------------------ */

bool cli_session_init(struct cli_session *s, struct cli_global *g)
{
    memset(s, 0, sizeof *s);
    s->g = g;
    s->clock_ms = INT64_MIN;
    s->contacts = hl_contacts_create();
    s->dedup = hl_dedup_create();
    bool ok = s->contacts != NULL && s->dedup != NULL;
    hl_buf_init(&s->transitions_pending);
    return ok;
}

void cli_session_config(struct cli_session *s, const char *key,
                        const char *value)
{
    for (size_t i = 0; i < s->n_config; i++) {
        if (strcmp(s->config_keys[i], key) == 0) {
            s->config_values[i] = value;
            return;
        }
    }
    if (s->n_config < CLI_MAX_CONFIG) {
        s->config_keys[s->n_config] = key;
        s->config_values[s->n_config++] = value;
    }
}

int cli_session_load(struct cli_session *s, enum lsc_status *create_status)
{
    char path[4096];
    char err[1024];
    hl_plugin_default_path(s->g->plugin, path, sizeof path);
    enum lsc_status st = hl_plugin_open(path, &s->plugin, err, sizeof err);
    if (create_status != NULL) {
        *create_status = st;
    }
    if (st != LSC_OK) {
        cli_error("%s", err);
        return CLI_EXIT_PLUGIN;
    }
    struct hl_services svc = {
        .ud = s,
        .host_name = "leadscore-cli",
        .log = svc_log,
        .config_get = svc_config_get,
        .now_ms = svc_now_ms,
        .diagnostic = svc_diagnostic,
        .contact_props = svc_contact_props,
        .props_write = svc_props_write,
        .state_put = svc_state_put,
        .emit_transition = svc_emit_transition,
        .job_enqueue = s->job_enqueue != NULL ? svc_job_enqueue : NULL,
        .data_dir = s->data_dir != NULL ? svc_data_dir : NULL,
    };
    st = hl_plugin_create(s->plugin, &svc, err, sizeof err);
    if (create_status != NULL) {
        *create_status = st;
    }
    if (st != LSC_OK) {
        if (s->diag_errors == 0) {
            fputs("leadscore: ", stderr);
            put_aliased(s, stderr, err);
            fputc('\n', stderr);
        }
        hl_plugin_close(s->plugin);
        s->plugin = NULL;
        return s->diag_errors > 0 ? CLI_EXIT_INPUT : CLI_EXIT_PLUGIN;
    }
    return CLI_EXIT_OK;
}

int cli_session_load_models(struct cli_session *s, const char *models)
{
    cli_session_config(s, "models", models);
    return cli_session_load(s, NULL) == CLI_EXIT_OK ? CLI_EXIT_OK
                                                    : CLI_EXIT_PLUGIN;
}

/* `paths` joined with "\n" (malloc()ed), or NULL when out of memory. */
static char *join_lines(const char *const *paths, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++) {
        len += strlen(paths[i]) + 1;
    }
    char *joined = malloc(len);
    if (joined == NULL) {
        return NULL;
    }
    char *o = joined;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            *o++ = '\n';
        }
        size_t k = strlen(paths[i]);
        memcpy(o, paths[i], k);
        o += k;
    }
    *o = '\0';
    return joined;
}

int cli_session_start(struct cli_session *s, struct cli_global *g,
                      const char *const *models, size_t n_models)
{
    bool ok = cli_session_init(s, g);
    s->models_joined = join_lines(models, n_models);
    if (!ok || s->models_joined == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    return cli_session_load_models(s, s->models_joined);
}

/* Deliver `ev` for contact `c` (may be NULL for a deleted unknown
 * contact), applying the buffered effects on success. */
static enum lsc_status deliver(struct cli_session *s, struct hl_contact *c,
                               struct lsc_event *ev, char *err, size_t errlen)
{
    if (c != NULL) {
        ev->state = hl_contact_state(c, &ev->state_len);
        if (ev->state_len == 0) {
            ev->state = NULL;
        }
    }
    s->cur = c;
    s->state_pending = false;
    hl_buf_reset(&s->transitions_pending);
    enum lsc_status st = hl_plugin_event(s->plugin, ev, err, errlen);
    s->cur = NULL;
    if (s->event_done != NULL) {
        s->event_done(s->job_ud, st == LSC_OK); /* its jobs commit or go */
    }
    if (st != LSC_OK) {
        return st;
    }
    if (s->state_pending && c != NULL) {
        int64_t old_wake = hl_contact_wake(c);
        st = hl_contacts_set_state(s->contacts, c, s->state_buf,
                                   s->state_len, s->state_wake);
        if (st != LSC_OK) {
            snprintf(err, errlen, "cannot store the contact's state: %s",
                     lsc_status_str(st));
            return st;
        }
        if (!s->lazy_wakes && s->state_wake != INT64_MAX &&
            s->state_wake != old_wake && !heap_push(s, s->state_wake, c)) {
            snprintf(err, errlen, "out of memory");
            return LSC_ERR_NOMEM;
        }
    }
    if (s->transitions != NULL && s->transitions_pending.len > 0) {
        hl_buf_write(&s->transitions_pending, s->transitions);
    }
    return LSC_OK;
}

/* Deliver an EVALUATE at `at` to contact c. */
static enum lsc_status evaluate(struct cli_session *s, struct hl_contact *c,
                                int64_t at, char *err, size_t errlen)
{
    struct lsc_event ev = {
        .struct_size = sizeof ev,
        .kind = LSC_EVENT_EVALUATE,
        .contact_id = hl_contact_id(c),
        .type = "evaluate",
        .ts_ms = at,
        .now_ms = at,
    };
    return deliver(s, c, &ev, err, errlen);
}

/* Deliver the EVALUATEs due at or before `until`, in time order. */
static void run_wakes(struct cli_session *s, int64_t until)
{
    char err[512];
    while (s->n_wakes > 0 && s->wakes[0].at <= until) {
        struct cli_wake w = s->wakes[0];
        s->wakes[0] = s->wakes[--s->n_wakes];
        heap_sift_down(s->wakes, s->n_wakes, 0);
#if defined(__GNUC__)
        if (s->n_wakes > 0) {
            /* the next one's record, read while this one is evaluated */
            __builtin_prefetch(s->wakes[0].c);
        }
#endif
        struct hl_contact *c = w.c;
        if (hl_contact_wake(c) != w.at) {
            continue; /* stale: the contact moved on or was deleted */
        }
        if (s->only_contact != NULL &&
            strcmp(hl_contact_id(c), s->only_contact) != 0) {
            continue;
        }
        if (evaluate(s, c, w.at, err, sizeof err) != LSC_OK) {
            cli_error("contact %s: evaluation at its wake time failed: %s",
                      hl_contact_id(c), err);
        }
    }
}

/* lazy_wakes: deliver contact c's EVALUATEs due at or before `until`
 * (the ones run_wakes would have delivered by then). */
static void run_contact_wakes(struct cli_session *s, struct hl_contact *c,
                              int64_t until)
{
    char err[512];
    int64_t at;
    while ((at = hl_contact_wake(c)) <= until) {
        if (evaluate(s, c, at, err, sizeof err) != LSC_OK) {
            cli_error("contact %s: evaluation at its wake time failed: %s",
                      hl_contact_id(c), err);
        }
        if (hl_contact_wake(c) == at) {
            /* failed or kept its wake: run once, as the heap would */
            hl_contact_set_wake(c, INT64_MAX);
        }
    }
}

/* One decoded event: dedup, merge, deliver.  Returns LSC_OK when applied
 * (or skipped), else the refusal with err set.  `hint`: the line's hints
 * (exact: its hashes are the ids'), or NULL.  `input`: an event of the
 * input, counted as applied. */
static enum lsc_status apply(struct cli_session *s, struct lsc_event *ev,
                             const struct cli_hint *hint, bool input, char *err,
                             size_t errlen)
{
    /* Each id is hashed once (or not at all when the line's hint has it):
     * dedup check and add, contact lookup. */
    uint64_t ev_hash = 0;
    if (ev->event_id != NULL) {
        ev_hash = hint != NULL && hint->exact
                      ? hint->event_hash
                      : hl_dedup_hash(ev->event_id, strlen(ev->event_id));
    }
    if (ev->event_id != NULL && hl_dedup_contains_h(s->dedup, ev_hash)) {
        s->duplicates++;
        return LSC_OK;
    }
    int64_t now = s->clock_ms > ev->ts_ms ? s->clock_ms : ev->ts_ms;
    if (s->only_contact != NULL &&
        strcmp(ev->contact_id, s->only_contact) != 0) {
        s->clock_ms = now;
        s->skipped++;
        return LSC_OK;
    }
    if (!s->lazy_wakes && (now > s->clock_ms || s->clock_ms == INT64_MIN)) {
        run_wakes(s, now);
    }
    ev->now_ms = now;
    struct hl_contact *c = NULL;
    bool created = false;
    bool merged = false;
    enum lsc_status st = LSC_OK;
    uint64_t c_hash = hint != NULL && hint->exact
                          ? hint->contact_hash
                          : hl_contacts_hash(ev->contact_id);
    if (ev->kind == LSC_EVENT_CONTACT_DELETED) {
        c = hl_contacts_find_h(s->contacts, ev->contact_id, c_hash);
        if (c != NULL && s->lazy_wakes) {
            run_contact_wakes(s, c, now);
        }
    } else {
        st = hl_contacts_upsert_h(s->contacts, ev->contact_id, c_hash, &c,
                                  &created);
        if (st == LSC_OK && !created && s->lazy_wakes) {
            run_contact_wakes(s, c, now); /* before this event's merge */
        }
        if (st == LSC_OK && (ev->kind == LSC_EVENT_CONTACT_CREATED ||
                             ev->kind == LSC_EVENT_CONTACT_UPDATED)) {
            st = hl_contacts_merge(s->contacts, c, ev->props, ev->n_props);
            merged = st == LSC_OK;
        }
        if (st != LSC_OK) {
            snprintf(err, errlen, "%s", lsc_status_str(st));
            if (created) {
                hl_contacts_erase(s->contacts, c);
            }
            return st;
        }
    }
    /* Let the clock answer now_ms() with this event's time. */
    int64_t old_clock = s->clock_ms;
    s->clock_ms = now;
    st = deliver(s, c, ev, err, errlen);
    if (st != LSC_OK) {
        s->clock_ms = old_clock;
        if (merged) {
            hl_contacts_rollback(s->contacts);
        }
        if (created) {
            hl_contacts_erase(s->contacts, c);
        }
        return st;
    }
    hl_contacts_commit(s->contacts);
    if (ev->kind == LSC_EVENT_CONTACT_DELETED && c != NULL) {
        hl_contacts_erase(s->contacts, c);
    }
    if (ev->event_id != NULL &&
        hl_dedup_add_h(s->dedup, ev_hash, NULL) != LSC_OK) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    if (input) {
        s->applied++;
    }
    return LSC_OK;
}

enum lsc_status cli_session_apply(struct cli_session *s,
                                  struct lsc_event *ev, char *err,
                                  size_t errlen)
{
    s->lines++;
    enum lsc_status st = apply(s, ev, NULL, true, err, errlen);
    if (st != LSC_OK) {
        s->rejected++;
    }
    return st;
}

enum lsc_status cli_session_apply_read(struct cli_session *s,
                                       struct lsc_event *ev, char *err,
                                       size_t errlen)
{
    enum lsc_status st = apply(s, ev, NULL, false, err, errlen);
    if (st != LSC_OK) {
        s->read_refused++;
    }
    return st;
}

/*
 * Read-ahead.  With a million contacts every step of a lookup (table
 * slot, record, state and properties) is a cache miss of several hundred
 * ns, and a prefetch instruction waits for its line much as a load does:
 * prefetching one line ahead still paid each miss nearly in full.  So
 * lines are read and decoded FEED_AHEAD batches before they are
 * applied, and the prefetches of a whole batch are issued together
 * (their misses overlap): before batch j is applied, the slots of batch
 * j + 3, the records of batch j + 2 and the state and properties of
 * batch j + 1.  A batch is then applied line by line, in order.
 */
#define FEED_AHEAD 3

static void feed_prefetch(const struct cli_session *s, struct cli_feed *f,
                          uint64_t b, int stage)
{
    const struct cli_feed_line *l;
    size_t n = cli_feed_peek(f, b, &l);
    for (size_t k = 0; k < n; k++) {
        if (l[k].n < 0 || !l[k].h.exact) { /* no line, or not an event */
            continue;
        }
        hl_contacts_prefetch(s->contacts, l[k].h.contact_hash,
                             stage == 2 && l[k].h.activity ? 3 : stage);
        if (stage == 0 && l[k].ev.event_id != NULL) {
            hl_dedup_prefetch(s->dedup, l[k].h.event_hash);
        }
    }
}

int cli_session_feed(struct cli_session *s, const char *path)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "r");
    if (f == NULL) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return CLI_EXIT_IO;
    }
    /* Once lazy, a session stays so; only from an empty heap. */
    if (s->transitions == NULL && s->job_enqueue == NULL &&
        s->event_done == NULL && s->n_wakes == 0) {
        s->lazy_wakes = true;
    }
    size_t max_line = s->g->max_line > 0 ? s->g->max_line
                                         : CLI_MAX_LINE_DEFAULT;
    bool threaded = s->g->threads == 0 ? cli_feed_threads_useful()
                                       : s->g->threads > 1;
    struct cli_feed *feed = cli_feed_open(fileno(f), max_line, threaded);
    if (feed == NULL) {
        if (!is_stdin) {
            fclose(f);
        }
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    uint64_t lineno = 0;
    int rc = CLI_EXIT_OK;
    char err[1024];
    for (uint64_t j = 0; rc == CLI_EXIT_OK; j++) {
        struct cli_feed_line *l;
        size_t n_lines = cli_feed_get(feed, j, FEED_AHEAD, &l);
        if (n_lines == 0) {
            break;
        }
        feed_prefetch(s, feed, j + 3, 0);
        feed_prefetch(s, feed, j + 2, 1);
        feed_prefetch(s, feed, j + 1, 2);
        for (size_t k = 0; k < n_lines; k++) {
            lineno++;
            if (l[k].n == -2) {
                cli_error("%s:%llu: out of memory", name,
                          (unsigned long long)lineno);
                rc = CLI_EXIT_INTERNAL;
                break;
            }
            if (l[k].too_long) {
                s->lines++;
                s->rejected++;
                fprintf(stderr, "%s:%llu: line longer than %zu bytes\n", name,
                        (unsigned long long)lineno, max_line);
                continue;
            }
            if (l[k].blank) {
                continue; /* not an event; skipped quietly */
            }
            s->lines++;
            enum lsc_status st = l[k].st;
            const char *msg = l[k].err;
            if (st == LSC_OK) {
                st = apply(s, &l[k].ev, &l[k].h, true, err, sizeof err);
                msg = err;
            }
            if (st == LSC_ERR_NOMEM) {
                cli_error("%s:%llu: out of memory", name,
                          (unsigned long long)lineno);
                rc = CLI_EXIT_INTERNAL;
                break;
            }
            if (st != LSC_OK) {
                s->rejected++;
                fprintf(stderr, "%s:%llu: %s\n", name,
                        (unsigned long long)lineno, msg);
            }
        }
        cli_feed_release(feed, j);
        if (n_lines < CLI_FEED_BATCH) {
            break; /* the end of input (or out of memory) */
        }
    }
    int read_error = cli_feed_close(feed);
    if (read_error != 0) {
        cli_error("cannot read %s: %s", name, strerror(read_error));
        rc = CLI_EXIT_IO;
    }
    if (!is_stdin) {
        fclose(f);
    }
    return rc;
}

int64_t cli_session_eval_time(const struct cli_session *s, int64_t as_of_ms)
{
    if (as_of_ms != INT64_MIN) {
        return as_of_ms;
    }
    return s->clock_ms != INT64_MIN ? s->clock_ms : 0;
}

static void report_sink(void *ud, const struct lsc_report *r)
{
    struct cli_session *s = ud;
    s->report_fn(s->report_ud, s->report_index++, r);
}

#define REPORT_BATCH 16

int cli_session_report(struct cli_session *s, int64_t as_of_ms,
                       cli_report_fn fn, void *ud)
{
    int64_t at = cli_session_eval_time(s, as_of_ms);
    run_wakes(s, at);
    struct hl_contact **all;
    size_t n;
    if (hl_contacts_sorted(s->contacts, &all, &n) != LSC_OK) {
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    s->reporting = true;
    s->eval_ms = at;
    s->report_fn = fn;
    s->report_ud = ud;
    int rc = CLI_EXIT_OK;
    char err[1024];
    /* Every contact was last evaluated at or before the clock, and its
     * wake is a lower bound of its next tier change: when the wake is
     * after `at`, the EVALUATE could only rewrite the score in the blob,
     * which the report does not read.  Not with jobs: a score change
     * enqueues a connector update. */
    bool skip_quiet = at >= s->clock_ms && s->job_enqueue == NULL;
    for (size_t k = 0; k < 2 * REPORT_BATCH && k < n; k++) {
        hl_contact_prefetch(all[k], 0);
    }
    for (size_t i = 0; i < n; i++) {
        struct hl_contact *c = all[i];
        /* In id order the records are scattered: fetch them ahead, a
         * batch at a time so the misses overlap (as in the feed), the
         * records two batches ahead, their state and properties one. */
        if (i % REPORT_BATCH == 0) {
            for (size_t k = i + 2 * REPORT_BATCH;
                 k < i + 3 * REPORT_BATCH && k < n; k++) {
                hl_contact_prefetch(all[k], 0);
            }
            for (size_t k = i + REPORT_BATCH; k < i + 2 * REPORT_BATCH && k < n;
                 k++) {
                hl_contact_prefetch(all[k], 1);
            }
        }
        if (s->only_contact != NULL &&
            strcmp(hl_contact_id(c), s->only_contact) != 0) {
            continue;
        }
        if (s->lazy_wakes) {
            /* what run_wakes() above and during the feed would have run */
            run_contact_wakes(s, c, at > s->clock_ms ? at : s->clock_ms);
        }
        if (skip_quiet && hl_contact_wake(c) > at) {
            /* no tier change before the wake: nothing to commit */
        } else if (evaluate(s, c, at, err, sizeof err) != LSC_OK) {
            cli_error("contact %s: evaluation failed: %s", hl_contact_id(c),
                      err);
            rc = CLI_EXIT_INTERNAL;
            continue;
        }
        struct lsc_event ev = {
            .struct_size = sizeof ev,
            .kind = LSC_EVENT_EVALUATE,
            .contact_id = hl_contact_id(c),
            .type = "evaluate",
            .ts_ms = at,
            .now_ms = at,
        };
        ev.state = hl_contact_state(c, &ev.state_len);
        if (ev.state_len == 0) {
            ev.state = NULL;
        }
        s->report_index = 0;
        s->report_cur = c; /* its properties are read: no lookup */
        if (hl_plugin_report(s->plugin, &ev, report_sink, s, err,
                             sizeof err) != LSC_OK) {
            cli_error("contact %s: no report: %s", hl_contact_id(c), err);
            rc = CLI_EXIT_INTERNAL;
        }
        s->report_cur = NULL;
        fn(ud, CLI_REPORT_END, NULL);
    }
    s->reporting = false;
    free(all);
    return rc;
}

void cli_session_stats(const struct cli_session *s)
{
    fprintf(stderr,
            "leadscore: %llu events read, %llu applied, %llu duplicates, "
            "%llu rejected, %zu contacts, %llu transitions\n",
            (unsigned long long)s->lines, (unsigned long long)s->applied,
            (unsigned long long)s->duplicates,
            (unsigned long long)s->rejected, hl_contacts_count(s->contacts),
            (unsigned long long)s->n_transitions);
}

void cli_session_finish(struct cli_session *s)
{
    if (s == NULL) {
        return;
    }
    hl_plugin_close(s->plugin);
    hl_contacts_destroy(s->contacts);
    hl_dedup_destroy(s->dedup);
    hl_buf_finish(&s->transitions_pending);
    free(s->state_buf);
    free(s->wakes);
    free(s->models_joined);
    memset(s, 0, sizeof *s);
}

bool cli_parse_time(const char *opt, const char *arg, int64_t *ms)
{
    if (hl_time_parse(arg, ms) != LSC_OK) {
        cli_error("%s: '%s' is not an RFC 3339 time or Unix seconds", opt,
                  arg);
        return false;
    }
    return true;
}
