/* The in-test host, see testhost.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "testhost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct testhost *TH(void *h) { return h; }

static void s_log(void *h, enum lsc_log_level lvl, const char *msg)
{
    (void)lvl;
    snprintf(TH(h)->last_log, sizeof TH(h)->last_log, "%s", msg);
    TH(h)->n_logs++;
}

static const char *s_config(void *h, const char *key)
{
    struct testhost *th = TH(h);
    for (size_t i = 0; i < th->n_cfg; i++) {
        if (strcmp(th->cfg_key[i], key) == 0) {
            return th->cfg_val[i];
        }
    }
    return NULL;
}

static int64_t s_now(void *h) { return TH(h)->clock; }

static void s_diag(void *h, const struct lsc_diagnostic *d)
{
    struct testhost *th = TH(h);
    if (th->n_d < 64) {
        struct th_diag *x = &th->d[th->n_d++];
        snprintf(x->file, sizeof x->file, "%s", d->file);
        x->line = d->line;
        x->col = d->column;
        snprintf(x->path, sizeof x->path, "%s", d->json_path);
        snprintf(x->msg, sizeof x->msg, "%s", d->message);
    }
}

struct th_contact *th_contact(struct testhost *th, const char *id)
{
    for (size_t i = 0; i < th->n_c; i++) {
        if (strcmp(th->c[i].id, id) == 0) {
            return &th->c[i];
        }
    }
    return NULL;
}

static struct th_contact *contact_get(struct testhost *th, const char *id)
{
    struct th_contact *c = th_contact(th, id);
    if (c != NULL) {
        return c;
    }
    if (th->n_c == th->cap_c) {
        th->cap_c = th->cap_c ? 2 * th->cap_c : 16;
        th->c = realloc(th->c, th->cap_c * sizeof *th->c);
    }
    c = &th->c[th->n_c++];
    memset(c, 0, sizeof *c);
    c->id = strdup(id);
    c->wake = INT64_MAX;
    return c;
}

static void contact_free(struct th_contact *c)
{
    for (size_t i = 0; i < c->n_props; i++) {
        free((char *)c->props[i].key);
        if (c->props[i].value.type == LSC_VAL_STRING) {
            free((char *)c->props[i].value.u.str.ptr);
        }
    }
    free(c->state);
    free(c->id);
}

static void contact_erase(struct testhost *th, const char *id)
{
    for (size_t i = 0; i < th->n_c; i++) {
        if (strcmp(th->c[i].id, id) == 0) {
            contact_free(&th->c[i]);
            th->c[i] = th->c[--th->n_c];
            return;
        }
    }
}

static enum lsc_status s_props(void *h, const char *id,
                               void (*fn)(void *, const struct lsc_prop *,
                                          size_t),
                               void *ud)
{
    struct th_contact *c = th_contact(TH(h), id);
    if (c == NULL) {
        return LSC_ERR_NOT_FOUND;
    }
    fn(ud, c->props, c->n_props);
    return LSC_OK;
}

static enum lsc_status s_write(void *h, const char *id,
                               const struct lsc_prop *p, size_t n)
{
    struct th_contact *c = contact_get(TH(h), id);
    TH(h)->n_props_writes++;
    for (size_t i = 0; i < n; i++) {
        if (p[i].value.type == LSC_VAL_NUMBER) {
            c->score = p[i].value.u.num;
            c->has_score = true;
        } else if (p[i].value.type == LSC_VAL_STRING) {
            snprintf(c->tier, sizeof c->tier, "%s", p[i].value.u.str.ptr);
        }
    }
    return LSC_OK;
}

static enum lsc_status s_put(void *h, const char *id, const void *blob,
                             size_t len, int64_t wake)
{
    struct testhost *th = TH(h);
    (void)id;
    free(th->pend_blob);
    th->pend_blob = NULL;
    if (len > 0) {
        th->pend_blob = malloc(len);
        memcpy(th->pend_blob, blob, len);
    }
    th->pend_len = len;
    th->pend_wake = wake;
    th->pending = true;
    return LSC_OK;
}

static enum lsc_status s_transition(void *h, const struct lsc_transition *t)
{
    struct testhost *th = TH(h);
    if (th->n_t == th->cap_t) {
        th->cap_t = th->cap_t ? 2 * th->cap_t : 16;
        th->t = realloc(th->t, th->cap_t * sizeof *th->t);
    }
    struct th_transition *x = &th->t[th->n_t++];
    memset(x, 0, sizeof *x);
    snprintf(x->contact, sizeof x->contact, "%s", t->contact_id);
    snprintf(x->model, sizeof x->model, "%s", t->model);
    x->primary = t->primary;
    x->from_null = t->from == NULL;
    snprintf(x->from, sizeof x->from, "%s", t->from ? t->from : "");
    snprintf(x->to, sizeof x->to, "%s", t->to);
    x->score = t->score;
    x->at = t->at_ms;
    return LSC_OK;
}

static enum lsc_status s_reg_event(void *h, enum lsc_event_kind k,
                                   lsc_event_fn fn)
{
    if ((int)k < 0 || (int)k >= 8) {
        return LSC_ERR_UNSUPPORTED;
    }
    TH(h)->ev[k] = fn;
    return LSC_OK;
}

static enum lsc_status s_reg_report(void *h, lsc_report_fn fn)
{
    TH(h)->report = fn;
    return LSC_OK;
}

static enum lsc_status s_reg_reload(void *h, lsc_reload_fn fn)
{
    TH(h)->reload = fn;
    return LSC_OK;
}

void th_init(struct testhost *th, const char *models)
{
    memset(th, 0, sizeof *th);
    th->api = (struct lsc_host_api){
        .struct_size = sizeof th->api,
        .abi_major = LSC_PLUGIN_ABI_MAJOR,
        .abi_minor = LSC_PLUGIN_ABI_MINOR,
        .host = th,
        .host_name = "engine-test",
        .log = s_log,
        .config_get = s_config,
        .now_ms = s_now,
        .diagnostic = s_diag,
        .contact_props = s_props,
        .props_write = s_write,
        .state_put = s_put,
        .emit_transition = s_transition,
        .register_event = s_reg_event,
        .register_report = s_reg_report,
        .register_reload = s_reg_reload,
    };
    th->clock = INT64_MIN;
    if (models != NULL) {
        th_config(th, "models", models);
    }
}

void th_config(struct testhost *th, const char *key, const char *val)
{
    for (size_t i = 0; i < th->n_cfg; i++) {
        if (strcmp(th->cfg_key[i], key) == 0) {
            free(th->cfg_val[i]);
            th->cfg_val[i] = strdup(val);
            return;
        }
    }
    th->cfg_key[th->n_cfg] = key;
    th->cfg_val[th->n_cfg++] = strdup(val);
}

enum lsc_status th_create(struct testhost *th)
{
    th->desc = lsc_plugin_entry(LSC_PLUGIN_ABI_MAJOR, LSC_PLUGIN_ABI_MINOR);
    enum lsc_status rc = lsc_plugin_check(th->desc, th->err, sizeof th->err);
    if (rc != LSC_OK) {
        return rc;
    }
    return th->desc->create(&th->api, &th->plugin, th->err, sizeof th->err);
}

enum lsc_status th_restart(struct testhost *th)
{
    th->desc->destroy(th->plugin);
    th->plugin = NULL;
    memset(th->ev, 0, sizeof th->ev);
    th->report = NULL;
    th->reload = NULL;
    return th->desc->create(&th->api, &th->plugin, th->err, sizeof th->err);
}

void th_finish(struct testhost *th)
{
    if (th->desc != NULL) {
        th->desc->destroy(th->plugin);
    }
    for (size_t i = 0; i < th->n_c; i++) {
        contact_free(&th->c[i]);
    }
    for (size_t i = 0; i < th->n_cfg; i++) {
        free(th->cfg_val[i]);
    }
    free(th->c);
    free(th->t);
    free(th->pend_blob);
}

static void prop_set(struct testhost *th, const char *id, const char *key,
                     struct lsc_value v)
{
    struct th_contact *c = contact_get(th, id);
    size_t i = 0;
    while (i < c->n_props && strcmp(c->props[i].key, key) != 0) {
        i++;
    }
    if (i == c->n_props) {
        c->props[c->n_props].key = strdup(key);
        c->n_props++;
    } else if (c->props[i].value.type == LSC_VAL_STRING) {
        free((char *)c->props[i].value.u.str.ptr);
    }
    c->props[i].value = v;
}

void th_set_str(struct testhost *th, const char *id, const char *key,
                const char *val)
{
    struct lsc_value v = {.type = LSC_VAL_STRING};
    v.u.str.ptr = strdup(val);
    v.u.str.len = strlen(val);
    prop_set(th, id, key, v);
}

void th_set_num(struct testhost *th, const char *id, const char *key,
                double val)
{
    struct lsc_value v = {.type = LSC_VAL_NUMBER};
    v.u.num = val;
    prop_set(th, id, key, v);
}

enum lsc_status th_event(struct testhost *th, enum lsc_event_kind kind,
                         const char *id, const char *type, int64_t ts_ms,
                         int64_t now_ms, const struct lsc_prop *props,
                         size_t n)
{
    if (ts_ms > th->clock) {
        th->clock = ts_ms;
    }
    struct th_contact *c = contact_get(th, id);
    struct lsc_event ev = {
        .struct_size = sizeof ev,
        .kind = kind,
        .contact_id = id,
        .type = type,
        .ts_ms = ts_ms,
        .props = props,
        .n_props = n,
        .state = c->state,
        .state_len = c->state_len,
        .now_ms = now_ms != INT64_MIN ? now_ms : th->clock,
    };
    th->pending = false;
    size_t mark = th->n_t;
    enum lsc_status rc = th->ev[kind](th->plugin, &ev, th->err,
                                      sizeof th->err);
    if (rc != LSC_OK) {
        th->n_t = mark; /* discarded like a real host does */
        return rc;
    }
    if (kind == LSC_EVENT_CONTACT_DELETED) {
        contact_erase(th, id);
        return rc;
    }
    if (th->pending) {
        free(c->state);
        c->state = th->pend_blob;
        c->state_len = th->pend_len;
        c->wake = th->pend_wake;
        th->pend_blob = NULL;
    }
    return rc;
}

enum lsc_status th_activity(struct testhost *th, const char *id,
                            const char *type, int64_t ts_ms,
                            const struct lsc_prop *props, size_t n)
{
    return th_event(th, LSC_EVENT_ACTIVITY, id, type, ts_ms, INT64_MIN, props,
                    n);
}

enum lsc_status th_created(struct testhost *th, const char *id, int64_t ts)
{
    contact_get(th, id);
    return th_event(th, LSC_EVENT_CONTACT_CREATED, id, "contact.created", ts,
                    INT64_MIN, NULL, 0);
}

enum lsc_status th_evaluate(struct testhost *th, const char *id, int64_t at)
{
    return th_event(th, LSC_EVENT_EVALUATE, id, "evaluate", at, at, NULL, 0);
}

enum lsc_status th_deleted(struct testhost *th, const char *id, int64_t ts)
{
    return th_event(th, LSC_EVENT_CONTACT_DELETED, id, "contact.deleted", ts,
                    INT64_MIN, NULL, 0);
}

static void sink(void *ud, const struct lsc_report *r)
{
    struct testhost *th = ud;
    if (th->n_reports >= 4) {
        return;
    }
    struct th_report *x = &th->reports[th->n_reports++];
    memset(x, 0, sizeof *x);
    snprintf(x->model, sizeof x->model, "%s", r->model);
    x->primary = r->primary;
    x->score = r->score;
    snprintf(x->tier, sizeof x->tier, "%s", r->tier);
    x->total = r->total;
    x->n_groups = r->n_groups < 8 ? r->n_groups : 8;
    for (size_t i = 0; i < x->n_groups; i++) {
        x->groups[i] = r->groups[i];
        snprintf(x->group_names[i], 32, "%s", r->groups[i].name);
        x->groups[i].name = x->group_names[i];
    }
    x->n_rules = r->n_rules < TH_MAX_REPORT_RULES ? r->n_rules
                                                   : TH_MAX_REPORT_RULES;
    for (size_t i = 0; i < x->n_rules; i++) {
        x->rules[i] = r->rules[i];
        snprintf(x->rule_ids[i], 64, "%s", r->rules[i].rule);
        x->rules[i].rule = x->rule_ids[i];
        x->rules[i].group = NULL;
    }
}

enum lsc_status th_report(struct testhost *th, const char *id, int64_t at)
{
    struct th_contact *c = th_contact(th, id);
    struct lsc_event ev = {
        .struct_size = sizeof ev,
        .kind = LSC_EVENT_EVALUATE,
        .contact_id = id,
        .type = "evaluate",
        .ts_ms = at,
        .state = c ? c->state : NULL,
        .state_len = c ? c->state_len : 0,
        .now_ms = at,
    };
    th->n_reports = 0;
    return th->report(th->plugin, &ev, sink, th, th->err, sizeof th->err);
}

int th_score(struct testhost *th, const char *id, int64_t at)
{
    if (th_report(th, id, at) != LSC_OK || th->n_reports == 0) {
        return -1;
    }
    return th->reports[0].score;
}

const struct th_report *th_rep(struct testhost *th, size_t model)
{
    return model < th->n_reports ? &th->reports[model] : NULL;
}

static char tmp_paths[32][64];
static unsigned tmp_n;

void th_tempfiles_remove(void)
{
    for (unsigned i = 0; i < tmp_n && i < 32; i++) {
        unlink(tmp_paths[i]);
    }
    tmp_n = 0;
}

const char *th_tempfile(const char *text)
{
    if (tmp_n >= 32) {
        return NULL;
    }
    char *p = tmp_paths[tmp_n++];
    const char *dir = getenv("TMPDIR");
    snprintf(p, 64, "%s/lsc-engine-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(p);
    if (fd < 0) {
        return NULL;
    }
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return NULL;
    }
    close(fd);
    return p;
}

void th_assert_near(double a, double b, double eps, const char *file,
                    int line)
{
    if (!(fabs(a - b) <= eps)) {
        print_error("%.17g != %.17g (eps %g)\n", a, b, eps);
        _fail(file, line);
    }
}
