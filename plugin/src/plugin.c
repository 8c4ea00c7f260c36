/* The plugin instance: reads its configuration, loads the models, and
 * glues the host's handlers to the engine (see plugin.h). */
#include "plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "model.h"
#include "state.h"
#include "sync.h"

struct plugin {
    const struct lsc_host_api *host; /* borrowed until destroy */
    struct model *models[STATE_MAX_MODELS]; /* owned; [0] is the primary */
    size_t n_models;
    char *score_prop; /* owned */
    char *tier_prop;  /* owned */
    struct sync *sync; /* connectors (owned), NULL when none: no cost */
};

/* Destroys models[0..n) (owned) and clears the slots. */
static void models_free(struct model **models, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        model_destroy(models[i]);
        models[i] = NULL;
    }
}

/* Loads every file listed in config "models" (or "model") into models
 * (caller-owned array, entries owned by the caller on success).  Loads all
 * files even after a failure so that every problem is reported. */
static enum lsc_status models_load(const struct lsc_host_api *h,
                                   struct model **models, size_t *n,
                                   char *err, size_t errlen)
{
    const char *cfg = h->config_get(h->host, "models");
    if (cfg == NULL || cfg[0] == '\0') {
        cfg = h->config_get(h->host, "model");
    }
    *n = 0;
    if (cfg == NULL) {
        log_err(err, errlen,
                "no model configured; hint: set 'models' to one or more "
                "model file paths, one per line");
        return LSC_ERR_CONFIG;
    }
    enum lsc_status st = LSC_OK;
    const char *s = cfg;
    while (*s != '\0') {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        const char *b = s;
        s = e ? e + 1 : s + len;
        while (len > 0 && (*b == ' ' || *b == '\t')) {
            b++;
            len--;
        }
        while (len > 0 && (b[len - 1] == ' ' || b[len - 1] == '\t' ||
                           b[len - 1] == '\r')) {
            len--;
        }
        if (len == 0) {
            continue;
        }
        if (*n == STATE_MAX_MODELS) {
            log_err(err, errlen, "at most %d models may be loaded",
                    STATE_MAX_MODELS);
            st = LSC_ERR_CONFIG;
            break;
        }
        char *path = strndup(b, len);
        if (path == NULL) {
            st = LSC_ERR_NOMEM;
            break;
        }
        struct model *m = NULL;
        char e2[512];
        enum lsc_status rc = model_load(path, h, &m, e2, sizeof e2);
        free(path);
        if (rc != LSC_OK) {
            if (st == LSC_OK) {
                st = rc;
                log_err(err, errlen, "%s", e2);
            }
            continue;
        }
        for (size_t i = 0; i < *n; i++) {
            if (strcmp(models[i]->name, m->name) == 0 && st == LSC_OK) {
                log_err(err, errlen,
                        "%s: a model named '%s' is already loaded from %s",
                        m->file, m->name, models[i]->file);
                st = LSC_ERR_CONFIG;
            }
        }
        models[(*n)++] = m;
    }
    if (st == LSC_OK && *n == 0) {
        log_err(err, errlen, "no model configured; hint: set 'models'");
        st = LSC_ERR_CONFIG;
    }
    if (st != LSC_OK) {
        models_free(models, *n);
        *n = 0;
    }
    return st;
}

/* The one-line summary per model that `leadscore validate` prints.
 * Everything borrowed. */
static void models_log(const struct lsc_host_api *h, struct model **models,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        PLOG_INFO(h, "model '%s' (%s): %zu groups, %zu rules, %zu tiers",
                  models[i]->name, models[i]->file, models[i]->n_groups,
                  models[i]->n_rules, models[i]->n_tiers);
    }
}

/* Copies the CRM property names (defaults when unset) into new strings
 * owned by the caller. */
static enum lsc_status props_names(const struct lsc_host_api *h,
                                   char **score, char **tier)
{
    const char *s = h->config_get(h->host, "score_property");
    const char *t = h->config_get(h->host, "tier_property");
    *score = strdup(s && *s ? s : "leadscore_score");
    *tier = strdup(t && *t ? t : "leadscore_tier");
    if (*score == NULL || *tier == NULL) {
        free(*score);
        free(*tier);
        return LSC_ERR_NOMEM;
    }
    return LSC_OK;
}

/* ---- events -------------------------------------------------------------- */

struct fitctx {
    struct plugin *p;
    struct state *st;
    bool *holds; /* report only: per model, per rule; may be NULL */
};

/* contact_props callback: props are borrowed for this call only, so the
 * fit sums (and, for reports, which fit rules hold) are computed here.
 * A model whose fit cache says these very properties gave its sums keeps
 * them: the rules would hold as they did. */
static void fit_cb(void *ud, const struct lsc_prop *props, size_t n)
{
    struct fitctx *c = ud;
    uint64_t hash = engine_props_hash(props, n);
    size_t off = 0;
    for (size_t i = 0; i < c->p->n_models; i++) {
        const struct model *m = c->p->models[i];
        struct state_model *sm = &c->st->m[i];
        bool *holds = c->holds != NULL ? c->holds + off : NULL;
        off += m->n_rules;
        if (sm->need_fit && sm->fit_cached && sm->props_hash == hash) {
            sm->need_fit = false;
            for (size_t k = 0; holds != NULL && k < m->n_fit_rules; k++) {
                holds[m->fit_rules[k]] = (sm->fit_holds >> k & 1u) != 0;
            }
        } else if (sm->need_fit) {
            /* the sums and which rules hold in one pass */
            engine_fit(m, sm, props, n, hash, holds);
        } else if (holds != NULL) {
            for (size_t k = 0; k < m->n_fit_rules; k++) {
                uint32_t r = m->fit_rules[k];
                holds[r] = engine_rule_holds(&m->rules[r], props, n);
            }
        }
    }
}

/* Recomputes fit sums (for models with need_fit) from the contact's
 * current properties; an unknown contact has none. */
static enum lsc_status refit(struct plugin *p, struct state *st,
                             const char *contact, bool *holds)
{
    const struct lsc_host_api *h = p->host;
    struct fitctx c = {p, st, holds};
    enum lsc_status rc = LSC_ERR_NOT_FOUND;
    if (h->contact_props != NULL) {
        rc = h->contact_props(h->host, contact, fit_cb, &c);
    }
    if (rc == LSC_ERR_NOT_FOUND) {
        fit_cb(&c, NULL, 0);
        rc = LSC_OK;
    }
    return rc;
}

/* Emits the transition (every model) and writes the primary's changed
 * score/tier properties.  Everything borrowed; the host copies. */
static enum lsc_status announce(struct plugin *p, const struct lsc_event *ev,
                                size_t i, struct state_model *sm, int score,
                                long prev, long tier, int64_t at)
{
    const struct lsc_host_api *h = p->host;
    const struct model *m = p->models[i];
    enum lsc_status rc = LSC_OK;
    if (tier != prev && h->emit_transition != NULL) {
        struct lsc_transition t = {
            .struct_size = sizeof t,
            .contact_id = ev->contact_id,
            .model = m->name,
            .primary = i == 0,
            .from = prev >= 0 ? m->tiers[prev].name : NULL,
            .to = m->tiers[tier].name,
            .score = score,
            .at_ms = at,
        };
        rc = h->emit_transition(h->host, &t);
        if (rc == LSC_OK && i == 0 && p->sync != NULL) {
            char e[256] = "";
            rc = sync_on_transition(p->sync, m, sm, &t, e, sizeof e);
            if (rc != LSC_OK) {
                PLOG_WARN(h, "contact %s: connectors: %s", ev->contact_id, e);
            }
        }
    }
    if (rc == LSC_OK && i == 0 && p->sync != NULL &&
        (sm->fresh || score != sm->score || tier != prev)) {
        /* only enqueues (committed with the event); never the shadows */
        char e[256] = "";
        rc = sync_on_change(p->sync, m, sm, ev->contact_id, score,
                            m->tiers[tier].name,
                            tier != prev && prev >= 0 ? m->tiers[prev].name
                                                      : NULL,
                            at, e, sizeof e);
        if (rc != LSC_OK) {
            PLOG_WARN(h, "contact %s: connectors: %s", ev->contact_id, e);
        }
    }
    if (rc == LSC_OK && i == 0 && h->props_write != NULL) {
        struct lsc_prop w[2];
        size_t n = 0;
        if (sm->fresh || score != sm->score) {
            w[n].key = p->score_prop;
            w[n].value.type = LSC_VAL_NUMBER;
            w[n].value.u.num = score;
            n++;
        }
        if (tier != prev) {
            w[n].key = p->tier_prop;
            w[n].value.type = LSC_VAL_STRING;
            w[n].value.u.str.ptr = m->tiers[tier].name;
            w[n].value.u.str.len = strlen(m->tiers[tier].name);
            n++;
        }
        if (n > 0) {
            rc = h->props_write(h->host, ev->contact_id, w, n);
        }
    }
    return rc;
}

/* The event handler for every kind: decode the contact's blob (borrowed
 * from the host), apply the event, re-evaluate each model's tier at the
 * clock, and hand a new blob (copied by state_put) back.  No heap use for
 * contacts whose state fits the stack buffers. */
static enum lsc_status on_event(void *plugin, const struct lsc_event *ev,
                                char *err, size_t errlen)
{
    struct plugin *p = plugin;
    const struct lsc_host_api *h = p->host;
    if (ev == NULL || ev->contact_id == NULL ||
        !LSC_HAS_FIELD(struct lsc_event, ev, state_len)) {
        log_err(err, errlen, "malformed event");
        return LSC_ERR_INVALID_ARG;
    }
    if (ev->kind == LSC_EVENT_CONTACT_DELETED) {
        /* Nothing stored (unknown or already deleted): a quiet no-op, as
         * a host may not accept state for a contact it does not hold. */
        if (ev->state == NULL || ev->state_len == 0) {
            return LSC_OK;
        }
        /* nothing remains: a later event starts from nothing */
        return h->state_put(h->host, ev->contact_id, NULL, 0, INT64_MAX);
    }
    int64_t at = ev->ts_ms;
    if (ev->kind != LSC_EVENT_EVALUATE &&
        LSC_HAS_FIELD(struct lsc_event, ev, now_ms)) {
        at = ev->now_ms;
    }
    if (ev->kind == LSC_EVENT_EVALUATE &&
        (ev->state == NULL || ev->state_len == 0)) {
        return LSC_OK; /* never seen or deleted: nothing to evaluate */
    }
    if (p->sync != NULL && ev->kind != LSC_EVENT_EVALUATE) {
        sync_on_event(p->sync, ev->contact_id); /* only enqueues */
    }
    const struct model *const *models = (const struct model *const *)p->models;
    struct state st;
    enum lsc_status rc = state_decode(&st, models, p->n_models, ev->state,
                                      ev->state_len, err, errlen);
    if (rc != LSC_OK) {
        return rc;
    }
    bool contact_ev = ev->kind == LSC_EVENT_CONTACT_CREATED ||
                      ev->kind == LSC_EVENT_CONTACT_UPDATED;
    bool need = false;
    for (size_t i = 0; i < p->n_models; i++) {
        if (st.m[i].stale) {
            engine_rebuild(p->models[i], &st.m[i]);
        }
        st.m[i].need_fit |= contact_ev;
        need |= st.m[i].need_fit;
    }
    unsigned char stackbuf[8192];
    unsigned char *buf = stackbuf;
    if (need && (rc = refit(p, &st, ev->contact_id, NULL)) != LSC_OK) {
        log_err(err, errlen, "cannot read the contact's properties: %s",
                lsc_status_str(rc));
        goto out;
    }
    /* An activity that awards nothing and changes no score or tier leaves
     * the blob as it is: no state_put, so the host keeps the blob and the
     * wake it has, which is still a lower bound (same groups, same tier). */
    bool same = ev->kind == LSC_EVENT_ACTIVITY && !need && !st.dropped;
    if (ev->kind == LSC_EVENT_ACTIVITY && ev->type != NULL) {
        for (size_t i = 0; i < p->n_models; i++) {
            same &= !st.m[i].stale &&
                    engine_activity(p->models[i], &st.m[i], ev->type,
                                    ev->props, ev->props ? ev->n_props : 0,
                                    ev->ts_ms) == 0;
        }
    }
    int scores[STATE_MAX_MODELS];
    long prevs[STATE_MAX_MODELS], tiers[STATE_MAX_MODELS];
    for (size_t i = 0; i < p->n_models; i++) {
        const struct model *m = p->models[i];
        struct state_model *sm = &st.m[i];
        scores[i] = engine_score(m, engine_total(m, sm, at, NULL, NULL));
        prevs[i] = sm->fresh ? -1 : engine_tier_index(m, sm->tier_key);
        tiers[i] = engine_tier(m, scores[i], prevs[i]);
        same &= !sm->fresh && scores[i] == sm->score && tiers[i] == prevs[i];
    }
    if (same) {
        goto out;
    }
    int64_t wake = INT64_MAX;
    for (size_t i = 0; i < p->n_models; i++) {
        const struct model *m = p->models[i];
        struct state_model *sm = &st.m[i];
        int score = scores[i];
        long prev = prevs[i], tier = tiers[i];
        rc = announce(p, ev, i, sm, score, prev, tier, at);
        if (rc != LSC_OK) {
            log_err(err, errlen, "the host refused the score: %s",
                    lsc_status_str(rc));
            goto out;
        }
        sm->score = score;
        sm->tier_key = m->tiers[tier].key;
        sm->fresh = false;
        int64_t w = engine_wake(m, sm, at, tier);
        wake = w < wake ? w : wake;
    }
    size_t max = state_max_size(&st, models);
    if (max > sizeof stackbuf && (buf = malloc(max)) == NULL) {
        rc = LSC_ERR_NOMEM;
        log_err(err, errlen, "out of memory");
        goto out;
    }
    size_t size = state_encode(&st, models, buf);
    rc = h->state_put(h->host, ev->contact_id, buf, size, wake);
    if (rc != LSC_OK) {
        log_err(err, errlen, "the host refused the state: %s",
                lsc_status_str(rc));
    }
out:
    if (buf != stackbuf) {
        free(buf);
    }
    state_finish(&st);
    return rc;
}

/* ---- reports ------------------------------------------------------------- */

/* |points| descending, then rule id: the report's documented order. */
static int cmp_rule(const void *a, const void *b)
{
    const struct lsc_report_rule *x = a, *y = b;
    double ax = x->points < 0 ? -x->points : x->points;
    double ay = y->points < 0 ? -y->points : y->points;
    if (ax != ay) {
        return ax > ay ? -1 : 1;
    }
    return strcmp(x->rule, y->rule);
}

/* Sorts by cmp_rule: insertion for the usual dozen lines (qsort's
 * setup cost more than the sort), qsort beyond. */
static void sort_rules(struct lsc_report_rule *v, size_t n)
{
    if (n > 32) {
        qsort(v, n, sizeof *v, cmp_rule);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct lsc_report_rule x = v[i];
        size_t j = i;
        while (j > 0 && cmp_rule(&v[j - 1], &x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* The report handler: read-only; builds each model's report in memory owned
 * here and lends it to `sink` for the call. */
static enum lsc_status on_report(void *plugin, const struct lsc_event *ev,
                                 lsc_report_sink_fn sink, void *ud, char *err,
                                 size_t errlen)
{
    struct plugin *p = plugin;
    if (ev == NULL || ev->contact_id == NULL || sink == NULL ||
        !LSC_HAS_FIELD(struct lsc_event, ev, state_len)) {
        log_err(err, errlen, "malformed report request");
        return LSC_ERR_INVALID_ARG;
    }
    const struct model *const *models = (const struct model *const *)p->models;
    struct state st;
    enum lsc_status rc = state_decode(&st, models, p->n_models, ev->state,
                                      ev->state_len, err, errlen);
    if (rc != LSC_OK) {
        return rc;
    }
    size_t n_rules = 0, n_groups = 0, n_lines = 0;
    for (size_t i = 0; i < p->n_models; i++) {
        n_rules += models[i]->n_rules;
        n_groups = n_groups > models[i]->n_groups ? n_groups
                                                  : models[i]->n_groups;
        size_t l = models[i]->n_fit_rules + st.m[i].n_awards;
        n_lines = n_lines > l ? n_lines : l;
        if (st.m[i].stale) {
            engine_rebuild(models[i], &st.m[i]);
        }
        st.m[i].need_fit = true; /* the report reads the current props */
    }
    /* Stack buffers for the usual model (no allocation per report, and
     * safe when reports run concurrently); the heap for big ones. */
    bool holds_stack[1024];
    struct lsc_report_rule lines_stack[128];
    double value[2 * MODEL_MAX_GROUPS];
    struct lsc_report_group groups[MODEL_MAX_GROUPS];
    bool *holds = n_rules < 1024 ? holds_stack
                                 : malloc((n_rules + 1) * sizeof *holds);
    struct lsc_report_rule *lines =
        n_lines < 128 ? lines_stack : malloc((n_lines + 1) * sizeof *lines);
    if (holds != NULL) {
        memset(holds, 0, (n_rules + 1) * sizeof *holds);
    }
    if (holds == NULL || lines == NULL) {
        rc = LSC_ERR_NOMEM;
        log_err(err, errlen, "out of memory");
        goto out;
    }
    if ((rc = refit(p, &st, ev->contact_id, holds)) != LSC_OK) {
        log_err(err, errlen, "cannot read the contact's properties: %s",
                lsc_status_str(rc));
        goto out;
    }
    double *raw = value + n_groups;
    int64_t at = ev->ts_ms;
    size_t off = 0;
    for (size_t i = 0; i < p->n_models; i++) {
        const struct model *m = models[i];
        const struct state_model *sm = &st.m[i];
        double total = engine_total(m, sm, at, value, raw);
        int score = engine_score(m, total);
        long prev = sm->fresh ? -1 : engine_tier_index(m, sm->tier_key);
        long tier = engine_tier(m, score, prev);
        for (size_t g = 0; g < m->n_groups; g++) {
            groups[g] = (struct lsc_report_group){
                .name = m->groups[g].name,
                .value = value[g],
                .raw = raw[g],
                .max = m->groups[g].has_max ? m->groups[g].max : NAN,
                .half_life_s = (double)m->groups[g].half_life_ms / 1000.0,
            };
        }
        size_t nl = 0;
        for (size_t k = 0; k < m->n_fit_rules; k++) {
            const struct model_rule *r = &m->rules[m->fit_rules[k]];
            if (holds[off + m->fit_rules[k]]) {
                lines[nl++] = (struct lsc_report_rule){
                    .rule = r->id,
                    .group = m->groups[r->group].name,
                    .fit = true,
                    .points = r->points,
                    .awarded = r->points,
                    .awards = 0,
                    .last_award_ms = INT64_MIN,
                };
            }
        }
        for (uint32_t k = 0; k < sm->n_awards; k++) {
            const struct state_award *a = &sm->awards[k];
            long ri = model_rule_by_hash(m, a->hash);
            if (ri < 0) {
                continue;
            }
            const struct model_rule *r = &m->rules[ri];
            lines[nl++] = (struct lsc_report_rule){
                .rule = r->id,
                .group = m->groups[r->group].name,
                .fit = false,
                .points = engine_worth(a->acc, a->last, at,
                                       m->groups[r->group].half_life_ms),
                .awarded = a->sum,
                .awards = a->count,
                .last_award_ms = a->last,
            };
        }
        sort_rules(lines, nl);
        struct lsc_report r = {
            .struct_size = sizeof r,
            .contact_id = ev->contact_id,
            .model = m->name,
            .primary = i == 0,
            .at_ms = at,
            .score = score,
            .tier = m->tiers[tier].name,
            .total = total,
            .scale_max = m->scale_max,
            .groups = groups,
            .n_groups = m->n_groups,
            .rules = lines,
            .n_rules = nl,
        };
        sink(ud, &r);
        off += m->n_rules;
    }
out:
    if (holds != holds_stack) {
        free(holds);
    }
    if (lines != lines_stack) {
        free(lines);
    }
    state_finish(&st);
    return rc;
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Re-reads the configuration; the new models replace the old ones only when
 * all of them load.  Never concurrent with events (the host's contract). */
static enum lsc_status on_reload(void *plugin, char *err, size_t errlen)
{
    struct plugin *p = plugin;
    struct model *models[STATE_MAX_MODELS];
    size_t n;
    enum lsc_status rc = models_load(p->host, models, &n, err, errlen);
    if (rc != LSC_OK) {
        PLOG_ERR(p->host, "reload refused, the loaded models stay: %s", err);
        return rc;
    }
    char *score, *tier;
    if (props_names(p->host, &score, &tier) != LSC_OK) {
        models_free(models, n);
        log_err(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    models_free(p->models, p->n_models);
    memcpy(p->models, models, n * sizeof *models);
    p->n_models = n;
    free(p->score_prop);
    free(p->tier_prop);
    p->score_prop = score;
    p->tier_prop = tier;
    models_log(p->host, p->models, p->n_models);
    return LSC_OK;
}

void plugin_destroy(void *plugin)
{
    struct plugin *p = plugin;
    if (p == NULL) {
        return;
    }
    sync_destroy(p->sync);
    models_free(p->models, p->n_models);
    free(p->score_prop);
    free(p->tier_prop);
    free(p);
}

/* Job handler: every connector job kind goes to the connector glue. */
static enum lsc_status on_job(void *plugin, const struct lsc_job *jobs,
                              struct lsc_job_result *results, size_t n)
{
    struct plugin *p = plugin;
    return sync_run_jobs(p->sync, jobs, results, n);
}

enum lsc_status plugin_create(const struct lsc_host_api *h, void **out,
                              char *err, size_t errlen)
{
    if (out == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (h == NULL) {
        log_err(err, errlen, "no host API");
        return LSC_ERR_INVALID_ARG;
    }
    if (h->abi_major != LSC_PLUGIN_ABI_MAJOR ||
        !LSC_HAS_FIELD(struct lsc_host_api, h, register_shutdown)) {
        log_err(err, errlen,
                "host speaks ABI %u.%u (struct size %zu), the plugin needs "
                "ABI %u.x",
                (unsigned)h->abi_major, (unsigned)h->abi_minor,
                h->struct_size, (unsigned)LSC_PLUGIN_ABI_MAJOR);
        return LSC_ERR_ABI;
    }
    if (h->config_get == NULL || h->state_put == NULL ||
        h->register_event == NULL) {
        log_err(err, errlen,
                "the host lacks config_get, state_put or register_event");
        return LSC_ERR_UNSUPPORTED;
    }
    struct plugin *p = calloc(1, sizeof *p);
    if (p == NULL) {
        log_err(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    p->host = h;
    const char *mv = h->config_get(h->host, "models");
    if ((mv == NULL || mv[0] == '\0') &&
        h->config_get(h->host, "model") == NULL && sync_configured(h)) {
        /* mappings without a model: `leadscore validate MAPPING` */
        enum lsc_status vrc = sync_validate(h, NULL, err, errlen);
        if (vrc != LSC_OK) {
            plugin_destroy(p);
            return vrc;
        }
        *out = p;
        return LSC_OK;
    }
    enum lsc_status rc = models_load(h, p->models, &p->n_models, err, errlen);
    if (rc != LSC_OK) {
        goto fail;
    }
    const char *cv = h->config_get(h->host, "connectors_validate");
    if (cv != NULL && strcmp(cv, "1") == 0 && sync_configured(h)) {
        /* `leadscore validate --model M MAPPING`: the mappings against
         * the model, nothing registered, nothing connected */
        if ((rc = sync_validate(h, p->models[0], err, errlen)) != LSC_OK) {
            goto fail;
        }
        models_log(h, p->models, p->n_models);
        *out = p;
        return LSC_OK;
    }
    if ((rc = props_names(h, &p->score_prop, &p->tier_prop)) != LSC_OK) {
        log_err(err, errlen, "out of memory");
        goto fail;
    }
    static const enum lsc_event_kind kinds[] = {
        LSC_EVENT_CONTACT_CREATED, LSC_EVENT_CONTACT_UPDATED,
        LSC_EVENT_CONTACT_DELETED, LSC_EVENT_ACTIVITY};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if ((rc = h->register_event(h->host, kinds[i], on_event)) != LSC_OK) {
            log_err(err, errlen, "cannot register event kind %d: %s",
                    (int)kinds[i], lsc_status_str(rc));
            goto fail;
        }
    }
    /* optional: an old host without evaluate, reports or reload */
    rc = h->register_event(h->host, LSC_EVENT_EVALUATE, on_event);
    if (rc != LSC_OK && rc != LSC_ERR_UNSUPPORTED) {
        log_err(err, errlen, "cannot register evaluate: %s",
                lsc_status_str(rc));
        goto fail;
    }
    if (h->register_report != NULL &&
        (rc = h->register_report(h->host, on_report)) != LSC_OK &&
        rc != LSC_ERR_UNSUPPORTED) {
        log_err(err, errlen, "cannot register the report handler: %s",
                lsc_status_str(rc));
        goto fail;
    }
    if (h->register_reload != NULL &&
        (rc = h->register_reload(h->host, on_reload)) != LSC_OK &&
        rc != LSC_ERR_UNSUPPORTED) {
        log_err(err, errlen, "cannot register the reload handler: %s",
                lsc_status_str(rc));
        goto fail;
    }
    if ((rc = sync_create(h, p->models[0], &p->sync, err, errlen)) != LSC_OK ||
        (p->sync != NULL && (rc = sync_register(p->sync, on_job)) != LSC_OK)) {
        goto fail;
    }
    models_log(h, p->models, p->n_models);
    *out = p;
    return LSC_OK;
fail:
    plugin_destroy(p);
    return rc;
}
