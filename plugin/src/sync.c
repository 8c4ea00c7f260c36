/* Connector glue (see sync.h): the only plugin file that knows the
 * connectors.  The event side only enqueues; the host's workers run the
 * jobs through sync_run_jobs. */
#include "sync.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "connectors.h"
#include "engine.h"
#include "log.h"
#include "mailchimp/mailchimp.h"
#include "model.h"
#include "state.h"

/* Mailchimp jobs per handler call (the client runs up to
 * max_connections of them at once). */
#define SYNC_MAILCHIMP_BATCH 50

struct sync {
    const struct lsc_host_api *host; /* borrowed */
    struct connectors *conn;         /* HubSpot + webhooks, or NULL */
    struct mailchimp *mc;            /* or NULL */
    unsigned need;                   /* CONNECTORS_NEED_* of conn */
};

/* The "connector" member of a mapping into out ("" when absent or the
 * file is not JSON: the validators then explain, with positions). */
static void peek_kind(const char *path, char *out, size_t outlen)
{
    json_t *j = json_load_file(path, 0, NULL);
    const char *c = json_string_value(json_object_get(j, "connector"));
    snprintf(out, outlen, "%s", c != NULL ? c : "");
    json_decref(j);
}

/* Calls fn(ud, path) for each non-blank line of `files`; stops at the
 * first status other than LSC_OK unless keep_going. */
static enum lsc_status each_file(const char *files, bool keep_going,
                                 enum lsc_status (*fn)(void *ud,
                                                       const char *path),
                                 void *ud)
{
    enum lsc_status worst = LSC_OK;
    const char *p = files;
    while (p != NULL && *p != '\0') {
        size_t l = strcspn(p, "\n");
        const char *b = p;
        p += l;
        if (*p == '\n') {
            p++;
        }
        while (l > 0 && (*b == ' ' || *b == '\t')) {
            b++;
            l--;
        }
        while (l > 0 && (b[l - 1] == ' ' || b[l - 1] == '\t' ||
                         b[l - 1] == '\r')) {
            l--;
        }
        if (l == 0) {
            continue;
        }
        char path[4096];
        if (l >= sizeof path) {
            return LSC_ERR_CONFIG;
        }
        memcpy(path, b, l);
        path[l] = '\0';
        enum lsc_status rc = fn(ud, path);
        if (rc != LSC_OK) {
            if (worst == LSC_OK) {
                worst = rc;
            }
            if (!keep_going) {
                break;
            }
        }
    }
    return worst;
}

bool sync_configured(const struct lsc_host_api *h)
{
    const char *v = h->config_get(h->host, "connectors");
    return v != NULL && v[strspn(v, " \t\r\n")] != '\0';
}

/* ---- validation (no secrets, no network) -------------------------------- */

struct vctx {
    const struct lsc_host_api *h;
    char *err;
    size_t errlen;
    const char *const *tiers; /* the model's, or NULL */
    size_t n_tiers;
};

static void mc_diag(void *ud, const struct lsc_diagnostic *d)
{
    const struct lsc_host_api *h = ud;
    if (h->diagnostic != NULL) {
        h->diagnostic(h->host, d);
    }
}

static enum lsc_status validate_one(void *ud, const char *path)
{
    struct vctx *v = ud;
    char kind[64];
    char e[512] = "";
    enum lsc_status rc;
    peek_kind(path, kind, sizeof kind);
    if (strcmp(kind, "mailchimp") == 0) {
        struct mailchimp_config cfg;
        size_t nerr = 0;
        rc = mailchimp_config_load_for_model(path, v->tiers, v->n_tiers,
                                             mc_diag, (void *)v->h, &cfg,
                                             &nerr);
        if (rc == LSC_OK) {
            mailchimp_config_destroy(&cfg);
        } else {
            snprintf(e, sizeof e, "%s: %zu problem(s) in the mapping", path,
                     nerr);
        }
    } else {
        rc = connectors_validate_file(v->h, path, v->tiers, v->n_tiers, e,
                                      sizeof e);
    }
    if (rc == LSC_OK) {
        PLOG_INFO(v->h, "connector mapping '%s' (%s): valid", path, kind);
    } else if (v->err[0] == '\0') {
        log_err(v->err, v->errlen, "%s", e);
    }
    return rc == LSC_ERR_IO || rc == LSC_ERR_NOMEM ? rc : rc == LSC_OK
                                                              ? LSC_OK
                                                              : LSC_ERR_CONFIG;
}

/* The model's tier names (borrowed), NULL-terminated; free() the array.
 * NULL when out of memory. */
static const char **tier_names(const struct model *m)
{
    const char **t = calloc(m->n_tiers + 1, sizeof *t);
    for (size_t i = 0; t != NULL && i < m->n_tiers; i++) {
        t[i] = m->tiers[i].name;
    }
    return t;
}

enum lsc_status sync_validate(const struct lsc_host_api *h,
                              const struct model *primary, char *err,
                              size_t errlen)
{
    struct vctx v = {h, err, errlen, NULL, 0};
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    const char **tiers = NULL;
    if (primary != NULL) {
        if ((tiers = tier_names(primary)) == NULL) {
            log_err(err, errlen, "out of memory");
            return LSC_ERR_NOMEM;
        }
        v.tiers = tiers;
        v.n_tiers = primary->n_tiers;
    }
    enum lsc_status rc = each_file(h->config_get(h->host, "connectors"), true,
                                   validate_one, &v);
    free(tiers);
    return rc;
}

/* ---- create / destroy --------------------------------------------------- */

struct cctx {
    struct sync *s;
    const char *const *tiers;
    size_t n_tiers;
    size_t n_hubspot;
    char *err;
    size_t errlen;
    bool mc_actions; /* the Mailchimp mapping has webhook actions */
};

static enum lsc_status open_one(void *ud, const char *path)
{
    struct cctx *c = ud;
    const struct lsc_host_api *h = c->s->host;
    char kind[64];
    peek_kind(path, kind, sizeof kind);
    if (strcmp(kind, "hubspot") == 0) {
        if (++c->n_hubspot > 1) {
            log_err(c->err, c->errlen,
                    "%s: a second HubSpot mapping; one per plugin", path);
            return LSC_ERR_CONFIG;
        }
        return LSC_OK; /* connectors_create() loads it */
    }
    if (strcmp(kind, "mailchimp") != 0) {
        /* unknown or missing connector: the validator reports it */
        struct vctx v = {h, c->err, c->errlen, NULL, 0};
        validate_one(&v, path);
        if (c->err[0] == '\0') {
            log_err(c->err, c->errlen, "%s: unknown connector \"%s\"", path,
                    kind);
        }
        return LSC_ERR_CONFIG;
    }
    if (c->s->mc != NULL) {
        log_err(c->err, c->errlen,
                "%s: a second Mailchimp mapping; one per plugin", path);
        return LSC_ERR_CONFIG;
    }
    char e[512];
    enum lsc_status rc = mailchimp_open(h, path, NULL, &c->s->mc, e, sizeof e);
    if (rc == LSC_ERR_AUTH) {
        PLOG_WARN(h, "Mailchimp (%s) is not connected yet, running without "
                  "it; hint: leadscore connect mailchimp --config %s",
                  path, path);
        return LSC_OK;
    }
    if (rc != LSC_OK) {
        log_err(c->err, c->errlen, "%s", e);
        return rc;
    }
    c->mc_actions = mailchimp_config_of(c->s->mc)->n_actions > 0;
    rc = mailchimp_add_tiers(c->s->mc, c->tiers, c->n_tiers);
    if (rc != LSC_OK) {
        log_err(c->err, c->errlen, "out of memory");
    }
    return rc;
}

enum lsc_status sync_create(const struct lsc_host_api *h,
                            const struct model *primary, struct sync **out,
                            char *err, size_t errlen)
{
    *out = NULL;
    if (!sync_configured(h)) {
        return LSC_OK;
    }
    if (h->job_enqueue == NULL || h->register_job == NULL) {
        log_err(err, errlen, "connectors are configured but the host has no "
                "job queue (job_enqueue, register_job)");
        return LSC_ERR_UNSUPPORTED;
    }
    struct sync *s = calloc(1, sizeof *s);
    if (s == NULL) {
        log_err(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    s->host = h;
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    const char **tiers = tier_names(primary);
    if (tiers == NULL) {
        free(s);
        log_err(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    const char *files = h->config_get(h->host, "connectors");
    struct cctx c = {s, tiers, primary->n_tiers, 0, err, errlen, false};
    enum lsc_status rc = each_file(files, false, open_one, &c);
    /* the facade also delivers the Mailchimp mapping's webhook actions */
    if (rc == LSC_OK && (c.n_hubspot > 0 || c.mc_actions)) {
        rc = connectors_create(h, files, NULL, &s->conn, err, errlen);
        if (rc == LSC_OK) {
            rc = connectors_check_tiers(s->conn, tiers, primary->n_tiers,
                                        err, errlen);
        }
        bool connected = false;
        if (rc == LSC_OK && connectors_has_hubspot(s->conn, &connected) &&
            !connected) {
            PLOG_WARN(h, "HubSpot is not connected yet, running without it; "
                      "hint: leadscore connect hubspot --config MAPPING");
            connectors_destroy(s->conn);
            s->conn = NULL;
        }
    }
    free(tiers);
    if (rc != LSC_OK) {
        sync_destroy(s);
        return rc;
    }
    if (s->conn != NULL) {
        s->need = connectors_needs(s->conn);
        /* the read path needs a host that re-scores a contact whose
         * properties a job handler writes (docs/plugin-api.md) */
        const char *rd = h->config_get(h->host, "connectors_read");
        if (rd != NULL && (strcmp(rd, "1") == 0 || strcmp(rd, "true") == 0)) {
            connectors_set_read_inputs(s->conn, true);
        }
        const char *names[MODEL_MAX_GROUPS];
        size_t ng = primary->n_groups < MODEL_MAX_GROUPS ? primary->n_groups
                                                         : MODEL_MAX_GROUPS;
        for (size_t i = 0; i < ng; i++) {
            names[i] = primary->groups[i].name;
        }
        connectors_check_groups(s->conn, primary->name, names, ng);
    }
    PLOG_INFO(h, "connectors: HubSpot %s, Mailchimp %s",
              connectors_has_hubspot(s->conn, NULL) ? "on" : "off",
              s->mc ? "on" : "off");
    if (s->conn == NULL && s->mc == NULL) {
        sync_destroy(s); /* nothing to forward: zero cost per event */
        return LSC_OK;
    }
    *out = s;
    return LSC_OK;
}

void sync_destroy(struct sync *s)
{
    if (s == NULL) {
        return;
    }
    connectors_destroy(s->conn);
    mailchimp_destroy(s->mc);
    free(s);
}

enum lsc_status sync_register(struct sync *s, lsc_job_fn fn)
{
    enum lsc_status rc = LSC_OK;
    if (s->conn != NULL) {
        rc = connectors_register_jobs(s->conn, fn);
    }
    if (rc == LSC_OK && s->mc != NULL) {
        rc = s->host->register_job(s->host->host, MAILCHIMP_JOB_KIND, fn,
                                   SYNC_MAILCHIMP_BATCH);
    }
    return rc;
}

/* ---- jobs and events ---------------------------------------------------- */

enum lsc_status sync_run_jobs(struct sync *s, const struct lsc_job *jobs,
                              struct lsc_job_result *results, size_t n)
{
    if (n == 0) {
        return LSC_OK;
    }
    if (strcmp(jobs[0].kind, MAILCHIMP_JOB_KIND) == 0) {
        if (s->mc == NULL) {
            return LSC_ERR_UNSUPPORTED;
        }
        return mailchimp_job_run(s->mc, jobs, results, n);
    }
    if (s->conn == NULL) {
        return LSC_ERR_UNSUPPORTED;
    }
    return connectors_run_jobs(s->conn, jobs, results, n);
}

/* ---- what a score shows: group values and top reasons --------------------- */

/* The primary model's view of a contact at `at`, for the connectors:
 * the same numbers as the report handler (docs/plugin-api.md) without
 * building the whole report. */
struct view {
    struct connectors_group groups[MODEL_MAX_GROUPS];
    size_t n_groups;
    struct connectors_reason top[CONNECTORS_TOP_REASONS];
    size_t n_top;
};

/* The report's order: |points| descending, then rule id. */
static bool before(const char *rule, double points,
                   const struct connectors_reason *r)
{
    double a = fabs(points), b = fabs(r->points);
    return a != b ? a > b : strcmp(rule, r->rule) < 0;
}

/* Keeps the CONNECTORS_TOP_REASONS best lines, sorted.  A line worth
 * less than 0.005 (it would print as 0) says nothing and is left out. */
static void top_add(struct view *v, const char *rule, double points,
                    uint32_t awards)
{
    if (!(fabs(points) >= 0.005)) {
        return;
    }
    size_t pos = v->n_top;
    while (pos > 0 && before(rule, points, &v->top[pos - 1])) {
        pos--;
    }
    if (pos >= CONNECTORS_TOP_REASONS) {
        return;
    }
    size_t last = v->n_top < CONNECTORS_TOP_REASONS
                      ? v->n_top
                      : CONNECTORS_TOP_REASONS - 1;
    memmove(&v->top[pos + 1], &v->top[pos], (last - pos) * sizeof v->top[0]);
    v->top[pos] = (struct connectors_reason){rule, points, awards};
    if (v->n_top < CONNECTORS_TOP_REASONS) {
        v->n_top++;
    }
}

struct holds_ctx {
    const struct model *m;
    struct view *v;
};

/* contact_props callback: the fit rules that hold (props borrowed). */
static void holds_cb(void *ud, const struct lsc_prop *props, size_t n)
{
    struct holds_ctx *c = ud;
    const struct model *m = c->m;
    for (size_t k = 0; k < m->n_fit_rules; k++) {
        const struct model_rule *r = &m->rules[m->fit_rules[k]];
        if (engine_rule_holds(r, props, n)) {
            top_add(c->v, r->id, r->points, 0);
        }
    }
}

/* Fills what `need` asks for.  Group values come from the state alone;
 * reasons read the contact's properties once (fit rules) and the awards. */
static enum lsc_status view_build(struct sync *s, const struct model *m,
                                  const struct state_model *sm,
                                  const char *contact, int64_t at,
                                  bool groups, bool reasons, struct view *v)
{
    v->n_groups = 0;
    v->n_top = 0;
    if (groups && m->n_groups <= MODEL_MAX_GROUPS) {
        double value[MODEL_MAX_GROUPS];
        engine_total(m, sm, at, value, NULL);
        for (size_t g = 0; g < m->n_groups; g++) {
            v->groups[g] = (struct connectors_group){m->groups[g].name,
                                                     value[g]};
        }
        v->n_groups = m->n_groups;
    }
    if (!reasons) {
        return LSC_OK;
    }
    const struct lsc_host_api *h = s->host;
    struct holds_ctx hc = {m, v};
    enum lsc_status rc = LSC_ERR_NOT_FOUND;
    if (m->n_fit_rules > 0 && h->contact_props != NULL) {
        rc = h->contact_props(h->host, contact, holds_cb, &hc);
    }
    if (rc == LSC_ERR_NOT_FOUND) {
        holds_cb(&hc, NULL, 0); /* no properties: as the engine sees it */
        rc = LSC_OK;
    }
    for (uint32_t k = 0; rc == LSC_OK && k < sm->n_awards; k++) {
        const struct state_award *a = &sm->awards[k];
        long ri = model_rule_by_hash(m, a->hash);
        if (ri < 0) {
            continue;
        }
        const struct model_rule *r = &m->rules[ri];
        top_add(v, r->id,
                engine_worth(a->acc, a->last, at,
                             m->groups[r->group].half_life_ms),
                a->count);
    }
    return rc;
}

enum lsc_status sync_on_change(struct sync *s, const struct model *m,
                               const struct state_model *sm,
                               const char *contact_id, int score,
                               const char *tier, const char *from,
                               int64_t at_ms, char *err, size_t errlen)
{
    enum lsc_status rc = LSC_OK;
    if (s->conn != NULL) {
        struct view v;
        rc = view_build(s, m, sm, contact_id, at_ms,
                        (s->need & CONNECTORS_NEED_GROUPS) != 0,
                        (s->need & CONNECTORS_NEED_REASONS) != 0, &v);
        if (rc != LSC_OK) {
            log_err(err, errlen, "cannot read the contact's properties: %s",
                    lsc_status_str(rc));
            return rc;
        }
        struct connectors_score cs = {
            .contact_id = contact_id,
            .score = score,
            .tier = tier,
            .groups = v.groups,
            .n_groups = v.n_groups,
            .reasons = v.top,
            .n_reasons = v.n_top,
            .at_ms = at_ms,
        };
        rc = connectors_on_score(s->conn, &cs, err, errlen);
    }
    if (rc == LSC_OK && s->mc != NULL) {
        /* the tier on every call keeps the tags right; `from` on a change
         * flips the previous tier's tag off */
        rc = mailchimp_enqueue(s->host, s->mc, contact_id, score, tier, from,
                               at_ms, NULL, err, errlen);
    }
    return rc;
}

enum lsc_status sync_on_transition(struct sync *s, const struct model *m,
                                   const struct state_model *sm,
                                   const struct lsc_transition *t, char *err,
                                   size_t errlen)
{
    if (s->conn == NULL || !t->primary) {
        return LSC_OK;
    }
    struct view v = {.n_top = 0};
    if (s->need & CONNECTORS_NEED_HOOK_REASONS) {
        enum lsc_status rc = view_build(s, m, sm, t->contact_id, t->at_ms,
                                        false, true, &v);
        if (rc != LSC_OK) {
            log_err(err, errlen, "cannot read the contact's properties: %s",
                    lsc_status_str(rc));
            return rc;
        }
    }
    return connectors_on_transition(s->conn, t, v.top, v.n_top, err, errlen);
}

void sync_on_event(struct sync *s, const char *contact_id)
{
    if (s->conn == NULL) {
        return;
    }
    char e[256] = "";
    if (connectors_on_event(s->conn, contact_id, e, sizeof e) != LSC_OK) {
        /* the score is still right for what is known: warn, go on */
        PLOG_WARN(s->host, "contact %s: HubSpot read path: %s", contact_id,
                  e);
    }
}
