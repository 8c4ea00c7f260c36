/* Model loading, validation and compilation, see model.h. */
#include "model.h"

#include "jsonpos.h"
#include "suggest.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- problems ----------------------------------------------------------- */

struct problem {
    char *path;
    char *msg;
    bool at_key; /* point at the key (unknown key) rather than the value */
};

struct loader {
    const char *file;
    struct problem *p;
    size_t n, cap;
    bool oom;
    struct model *m;
};

static void problem(struct loader *L, bool at_key, const char *path,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void problem(struct loader *L, bool at_key, const char *path,
                    const char *fmt, ...)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 16;
        struct problem *p = realloc(L->p, cap * sizeof *p);
        if (p == NULL) {
            L->oom = true;
            return;
        }
        L->p = p;
        L->cap = cap;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *a = strdup(path);
    char *b = strdup(msg);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        L->oom = true;
        return;
    }
    L->p[L->n++] = (struct problem){a, b, at_key};
}

/* path helpers: child member / element paths in a fixed buffer */
/* Paths longer than the buffer are cut: they only label diagnostics. */
static void member(char *out, size_t n, const char *path, const char *key)
{
    int r = snprintf(out, n, "%s%s%s", path, path[0] ? "." : "", key);
    if (r < 0 || (size_t)r >= n) {
        out[n - 1] = '\0';
    }
}

static void element(char *out, size_t n, const char *path, size_t i)
{
    int r = snprintf(out, n, "%s[%zu]", path, i);
    if (r < 0 || (size_t)r >= n) {
        out[n - 1] = '\0';
    }
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Reports keys of obj not in `allowed`. */
static void check_keys(struct loader *L, json_t *obj, const char *path,
                       const char *const *allowed, size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (size_t i = 0; i < n && !ok; i++) {
            ok = strcmp(key, allowed[i]) == 0;
        }
        if (!ok) {
            char p[1024], h[128];
            member(p, sizeof p, path, key);
            lsc_hint(h, sizeof h, key, allowed, n);
            problem(L, true, p, "unknown key '%s'%s", key, h);
        }
    }
}

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Fetches obj.key; reports a missing required key. NULL when absent. */
static json_t *get(struct loader *L, json_t *obj, const char *path,
                   const char *key, bool required)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL && required) {
        problem(L, false, path, "missing required key '%s'", key);
    }
    return v;
}

static bool want_string(struct loader *L, json_t *v, const char *path,
                        const char *what)
{
    if (!json_is_string(v)) {
        problem(L, false, path, "%s must be a string, not %s", what, jtype(v));
        return false;
    }
    if (json_string_length(v) == 0) {
        problem(L, false, path, "%s must not be empty", what);
        return false;
    }
    return true;
}

static bool want_number(struct loader *L, json_t *v, const char *path,
                        const char *what)
{
    if (!json_is_number(v)) {
        problem(L, false, path, "%s must be a number, not %s", what, jtype(v));
        return false;
    }
    return true;
}

/* Parses "90m", "36h", "30d", "45s", "1.5h" or a number of seconds. */
static bool parse_duration(struct loader *L, json_t *v, const char *path,
                           int64_t *ms)
{
    double sec;
    if (json_is_number(v)) {
        sec = json_number_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        double unit = 0;
        if (end != s && errno == 0 && end[0] != '\0' && end[1] == '\0') {
            switch (end[0]) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            case 'd': unit = 86400; break;
            default: break;
            }
        }
        if (unit == 0 || s[0] == ' ' || !isfinite(x)) {
            problem(L, false, path,
                    "invalid duration '%s'; hint: a positive number followed "
                    "by s, m, h or d (\"90m\", \"36h\", \"30d\"), or a number "
                    "of seconds",
                    s);
            return false;
        }
        sec = x * unit;
    } else {
        problem(L, false, path,
                "a duration must be a string like \"30d\" or a number of "
                "seconds, not %s",
                jtype(v));
        return false;
    }
    /* one millisecond .. about 1000 years */
    if (!(sec > 0) || sec > 3.2e10 || llround(sec * 1000.0) < 1) {
        problem(L, false, path, "a duration must be positive (at least 1ms)");
        return false;
    }
    *ms = (int64_t)llround(sec * 1000.0);
    return true;
}

static char *lowered(const char *s, size_t len)
{
    char *r = malloc(len + 1);
    if (r == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        r[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    r[len] = '\0';
    return r;
}

static char *dup_or_oom(struct loader *L, const char *s)
{
    char *r = strdup(s);
    if (r == NULL) {
        L->oom = true;
    }
    return r;
}

/* ---- conditions --------------------------------------------------------- */

static const char *const op_names[] = {
    [MOP_EQ] = "eq",
    [MOP_NE] = "ne",
    [MOP_IN] = "in",
    [MOP_NOT_IN] = "not_in",
    [MOP_CONTAINS_ANY] = "contains_any",
    [MOP_PREFIX] = "prefix",
    [MOP_SUFFIX] = "suffix",
    [MOP_GT] = "gt",
    [MOP_GTE] = "gte",
    [MOP_LT] = "lt",
    [MOP_LTE] = "lte",
    [MOP_BETWEEN] = "between",
    [MOP_EXISTS] = "exists",
    [MOP_NOT_EXISTS] = "not_exists",
    [MOP_EMAIL_DOMAIN_IN] = "email_domain_in",
};

/* A scalar literal: string (lowered), number or boolean. */
static bool scalar(struct loader *L, json_t *v, const char *path,
                   bool strings_only, struct model_value *out)
{
    memset(out, 0, sizeof *out);
    if (json_is_string(v)) {
        out->type = LSC_VAL_STRING;
        out->len = json_string_length(v);
        out->str = lowered(json_string_value(v), out->len);
        if (out->str == NULL) {
            L->oom = true;
            return false;
        }
        out->head = model_head(out->str, out->len);
        return true;
    }
    if (!strings_only && json_is_number(v)) {
        out->type = LSC_VAL_NUMBER;
        out->num = json_number_value(v);
        return true;
    }
    if (!strings_only && json_is_boolean(v)) {
        out->type = LSC_VAL_BOOL;
        out->boolean = json_is_true(v);
        return true;
    }
    problem(L, false, path, "must be %s, not %s",
            strings_only ? "a string" : "a string, number or boolean",
            jtype(v));
    return false;
}

static void cond_compile(struct loader *L, json_t *c, const char *path,
                         struct model_cond *out)
{
    static const char *const keys[] = {"field", "op", "value"};
    char p[1024];
    if (!json_is_object(c)) {
        problem(L, false, path, "a condition must be an object, not %s",
                jtype(c));
        return;
    }
    check_keys(L, c, path, keys, N_OF(keys));
    json_t *f = get(L, c, path, "field", true);
    if (f != NULL) {
        member(p, sizeof p, path, "field");
        if (want_string(L, f, p, "'field'")) {
            out->field = dup_or_oom(L, json_string_value(f));
        }
    }
    json_t *op = get(L, c, path, "op", true);
    if (op == NULL) {
        return;
    }
    member(p, sizeof p, path, "op");
    if (!want_string(L, op, p, "'op'")) {
        return;
    }
    const char *name = json_string_value(op);
    size_t k = 0;
    while (k < N_OF(op_names) && strcmp(op_names[k], name) != 0) {
        k++;
    }
    if (k == N_OF(op_names)) {
        char h[128];
        lsc_hint(h, sizeof h, name, op_names, N_OF(op_names));
        if (h[0] == '\0') {
            snprintf(h, sizeof h,
                     "; hint: one of eq, ne, in, not_in, contains_any, "
                     "prefix, suffix, gt, gte, lt, lte, between, exists, "
                     "not_exists, email_domain_in");
        }
        problem(L, false, p, "unknown op '%s'%s", name, h);
        return;
    }
    out->op = (enum model_op)k;
    json_t *v = json_object_get(c, "value");
    member(p, sizeof p, path, "value");
    if (out->op == MOP_EXISTS || out->op == MOP_NOT_EXISTS) {
        if (v != NULL) {
            problem(L, true, p, "op '%s' takes no value", name);
        }
        return;
    }
    if (v == NULL) {
        problem(L, false, path, "missing required key 'value' for op '%s'",
                name);
        return;
    }
    switch (out->op) {
    case MOP_EQ:
    case MOP_NE:
    case MOP_PREFIX:
    case MOP_SUFFIX: {
        bool so = out->op == MOP_PREFIX || out->op == MOP_SUFFIX;
        out->vals = calloc(1, sizeof *out->vals);
        if (out->vals == NULL) {
            L->oom = true;
            return;
        }
        if (scalar(L, v, p, so, &out->vals[0])) {
            out->n_vals = 1;
        }
        return;
    }
    case MOP_IN:
    case MOP_NOT_IN:
    case MOP_CONTAINS_ANY:
    case MOP_EMAIL_DOMAIN_IN: {
        bool so = out->op == MOP_CONTAINS_ANY ||
                  out->op == MOP_EMAIL_DOMAIN_IN;
        if (!json_is_array(v)) {
            problem(L, false, p, "op '%s' needs an array%s, not %s", name,
                    so ? " of strings" : "", jtype(v));
            return;
        }
        size_t n = json_array_size(v);
        out->vals = calloc(n ? n : 1, sizeof *out->vals);
        if (out->vals == NULL) {
            L->oom = true;
            return;
        }
        for (size_t i = 0; i < n; i++) {
            char e[1024];
            element(e, sizeof e, p, i);
            if (scalar(L, json_array_get(v, i), e, so,
                       &out->vals[out->n_vals])) {
                out->n_vals++;
            }
        }
        return;
    }
    case MOP_GT:
    case MOP_GTE:
    case MOP_LT:
    case MOP_LTE:
        if (!json_is_number(v)) {
            problem(L, false, p, "op '%s' needs a number, not %s", name,
                    jtype(v));
            return;
        }
        out->lo = json_number_value(v);
        return;
    case MOP_BETWEEN:
        if (!json_is_array(v) || json_array_size(v) != 2 ||
            !json_is_number(json_array_get(v, 0)) ||
            !json_is_number(json_array_get(v, 1))) {
            problem(L, false, p, "op 'between' needs [lo, hi], two numbers");
            return;
        }
        out->lo = json_number_value(json_array_get(v, 0));
        out->hi = json_number_value(json_array_get(v, 1));
        if (out->lo > out->hi) {
            problem(L, false, p, "between [%g, %g]: lo is above hi", out->lo,
                    out->hi);
        }
        return;
    case MOP_EXISTS:
    case MOP_NOT_EXISTS:
        return;
    }
}

/* ---- the model ---------------------------------------------------------- */

static void groups_compile(struct loader *L, json_t *root)
{
    static const char *const keys[] = {"name", "max", "half_life"};
    struct model *m = L->m;
    json_t *gs = get(L, root, "", "groups", true);
    if (gs == NULL) {
        return;
    }
    if (!json_is_array(gs)) {
        problem(L, false, "groups", "'groups' must be an array, not %s",
                jtype(gs));
        return;
    }
    size_t n = json_array_size(gs);
    if (n < 1 || n > MODEL_MAX_GROUPS) {
        problem(L, false, "groups", "a model has 1 to %d groups, not %zu",
                MODEL_MAX_GROUPS, n);
        if (n == 0) {
            return;
        }
    }
    m->groups = calloc(n, sizeof *m->groups);
    if (m->groups == NULL) {
        L->oom = true;
        return;
    }
    m->n_groups = n;
    for (size_t i = 0; i < n; i++) {
        char path[64], p[1024];
        element(path, sizeof path, "groups", i);
        json_t *g = json_array_get(gs, i);
        struct model_group *mg = &m->groups[i];
        if (!json_is_object(g)) {
            problem(L, false, path, "a group must be an object, not %s",
                    jtype(g));
            continue;
        }
        check_keys(L, g, path, keys, N_OF(keys));
        json_t *v = get(L, g, path, "name", true);
        member(p, sizeof p, path, "name");
        if (v != NULL && want_string(L, v, p, "a group name")) {
            for (size_t j = 0; j < i; j++) {
                if (m->groups[j].name != NULL &&
                    strcmp(m->groups[j].name, json_string_value(v)) == 0) {
                    problem(L, false, p,
                            "duplicate group name '%s' (first at groups[%zu])",
                            json_string_value(v), j);
                }
            }
            mg->name = dup_or_oom(L, json_string_value(v));
        }
        if ((v = get(L, g, path, "max", false)) != NULL) {
            member(p, sizeof p, path, "max");
            if (want_number(L, v, p, "'max'")) {
                mg->max = json_number_value(v);
                mg->has_max = true;
            }
        }
        if ((v = get(L, g, path, "half_life", false)) != NULL) {
            member(p, sizeof p, path, "half_life");
            parse_duration(L, v, p, &mg->half_life_ms);
        }
    }
}

static void tiers_compile(struct loader *L, json_t *root)
{
    static const char *const keys[] = {"name", "min"};
    struct model *m = L->m;
    json_t *ts = get(L, root, "", "tiers", true);
    if (ts == NULL) {
        return;
    }
    if (!json_is_array(ts)) {
        problem(L, false, "tiers", "'tiers' must be an array, not %s",
                jtype(ts));
        return;
    }
    size_t n = json_array_size(ts);
    if (n < 1 || n > MODEL_MAX_TIERS) {
        problem(L, false, "tiers", "a model has 1 to %d tiers, not %zu",
                MODEL_MAX_TIERS, n);
        if (n == 0) {
            return;
        }
    }
    m->tiers = calloc(n, sizeof *m->tiers);
    if (m->tiers == NULL) {
        L->oom = true;
        return;
    }
    m->n_tiers = n;
    bool have_prev = false;
    double prev = 0;
    for (size_t i = 0; i < n; i++) {
        char path[64], p[1024];
        element(path, sizeof path, "tiers", i);
        json_t *t = json_array_get(ts, i);
        struct model_tier *mt = &m->tiers[i];
        if (!json_is_object(t)) {
            problem(L, false, path, "a tier must be an object, not %s",
                    jtype(t));
            continue;
        }
        check_keys(L, t, path, keys, N_OF(keys));
        json_t *v = get(L, t, path, "name", true);
        member(p, sizeof p, path, "name");
        if (v != NULL && want_string(L, v, p, "a tier name")) {
            for (size_t j = 0; j < i; j++) {
                if (m->tiers[j].name != NULL &&
                    strcmp(m->tiers[j].name, json_string_value(v)) == 0) {
                    problem(L, false, p,
                            "duplicate tier name '%s' (first at tiers[%zu])",
                            json_string_value(v), j);
                }
            }
            mt->name = dup_or_oom(L, json_string_value(v));
            mt->key = model_key32(json_string_value(v),
                                  json_string_length(v));
            mt->key += mt->key == 0; /* 0 means "no tier" in the blob */
            for (size_t j = 0; j < i; j++) {
                if (m->tiers[j].name != NULL && m->tiers[j].key == mt->key &&
                    strcmp(m->tiers[j].name, json_string_value(v)) != 0) {
                    problem(L, false, p,
                            "tier name '%s' collides with '%s' in the state "
                            "hash; hint: rename one of them",
                            json_string_value(v), m->tiers[j].name);
                }
            }
        }
        v = get(L, t, path, "min", true);
        member(p, sizeof p, path, "min");
        if (v != NULL && want_number(L, v, p, "'min'")) {
            mt->min = json_number_value(v);
            if (i == 0 && mt->min != 0) {
                problem(L, false, p, "the first tier's min must be 0, not %g",
                        mt->min);
            } else if (have_prev && !(mt->min > prev)) {
                problem(L, false, p,
                        "tier mins must be strictly increasing (%g after %g)",
                        mt->min, prev);
            }
            prev = mt->min;
            have_prev = true;
        }
    }
}

static long group_index(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->n_groups; i++) {
        if (m->groups[i].name != NULL && strcmp(m->groups[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static void rule_compile(struct loader *L, json_t *r, const char *path,
                         size_t idx)
{
    static const char *const keys[] = {"id",   "group", "points",
                                       "event", "when", "once",
                                       "max_awards", "cooldown"};
    struct model *m = L->m;
    struct model_rule *mr = &m->rules[idx];
    char p[1024];
    if (!json_is_object(r)) {
        problem(L, false, path, "a rule must be an object, not %s", jtype(r));
        return;
    }
    check_keys(L, r, path, keys, N_OF(keys));
    json_t *v = get(L, r, path, "id", true);
    member(p, sizeof p, path, "id");
    if (v != NULL && want_string(L, v, p, "a rule id")) {
        mr->id = dup_or_oom(L, json_string_value(v));
        mr->id_hash =
            model_key32(json_string_value(v), json_string_length(v));
    }
    v = get(L, r, path, "group", true);
    member(p, sizeof p, path, "group");
    if (v != NULL && want_string(L, v, p, "'group'")) {
        long g = group_index(m, json_string_value(v));
        if (g < 0) {
            const char *names[MODEL_MAX_GROUPS];
            size_t nn = 0;
            for (size_t i = 0; i < m->n_groups; i++) {
                if (m->groups[i].name != NULL) {
                    names[nn++] = m->groups[i].name;
                }
            }
            char h[128];
            lsc_hint(h, sizeof h, json_string_value(v), names, nn);
            problem(L, false, p, "no group named '%s'%s",
                    json_string_value(v), h);
        } else {
            mr->group = (uint32_t)g;
        }
    }
    v = get(L, r, path, "points", true);
    member(p, sizeof p, path, "points");
    if (v != NULL && want_number(L, v, p, "'points'")) {
        mr->points = json_number_value(v);
    }
    json_t *ev = get(L, r, path, "event", false);
    member(p, sizeof p, path, "event");
    if (ev != NULL && want_string(L, ev, p, "'event'")) {
        mr->event = dup_or_oom(L, json_string_value(ev));
    }
    static const char *const act_only[] = {"once", "max_awards", "cooldown"};
    for (size_t i = 0; i < N_OF(act_only); i++) {
        if (ev == NULL && json_object_get(r, act_only[i]) != NULL) {
            member(p, sizeof p, path, act_only[i]);
            problem(L, true, p,
                    "'%s' applies only to activity rules; hint: add "
                    "\"event\" or remove '%s'",
                    act_only[i], act_only[i]);
        }
    }
    if ((v = json_object_get(r, "once")) != NULL && ev != NULL) {
        member(p, sizeof p, path, "once");
        if (!json_is_boolean(v)) {
            problem(L, false, p, "'once' must be true or false, not %s",
                    jtype(v));
        } else if (json_is_true(v)) {
            mr->max_awards = 1;
        }
    }
    if ((v = json_object_get(r, "max_awards")) != NULL && ev != NULL) {
        member(p, sizeof p, path, "max_awards");
        double x = json_is_number(v) ? json_number_value(v) : 0;
        if (!json_is_number(v) || x < 1 || x != floor(x) || x > 4e9) {
            problem(L, false, p, "'max_awards' must be an integer >= 1");
        } else if (mr->max_awards == 0 || (uint32_t)x < mr->max_awards) {
            mr->max_awards = (uint32_t)x;
        }
    }
    if ((v = json_object_get(r, "cooldown")) != NULL && ev != NULL) {
        member(p, sizeof p, path, "cooldown");
        parse_duration(L, v, p, &mr->cooldown_ms);
    }
    json_t *when = json_object_get(r, "when");
    if (when != NULL) {
        member(p, sizeof p, path, "when");
        if (!json_is_array(when)) {
            problem(L, false, p, "'when' must be an array of conditions, not %s",
                    jtype(when));
            return;
        }
        size_t n = json_array_size(when);
        mr->conds = calloc(n ? n : 1, sizeof *mr->conds);
        if (mr->conds == NULL) {
            L->oom = true;
            return;
        }
        mr->n_conds = n;
        for (size_t i = 0; i < n; i++) {
            char cp[1024];
            element(cp, sizeof cp, p, i);
            cond_compile(L, json_array_get(when, i), cp, &mr->conds[i]);
        }
    }
}

static int cmp_byhash(const void *a, const void *b)
{
    const struct model_byhash *x = a, *y = b;
    if (x->hash != y->hash) {
        return x->hash < y->hash ? -1 : 1;
    }
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static void rules_compile(struct loader *L, json_t *root)
{
    struct model *m = L->m;
    json_t *rs = get(L, root, "", "rules", false);
    if (rs == NULL) {
        return;
    }
    if (!json_is_array(rs)) {
        problem(L, false, "rules", "'rules' must be an array, not %s",
                jtype(rs));
        return;
    }
    size_t n = json_array_size(rs);
    if (n > MODEL_MAX_RULES) {
        problem(L, false, "rules", "a model has at most %d rules, not %zu",
                MODEL_MAX_RULES, n);
        return;
    }
    m->rules = calloc(n ? n : 1, sizeof *m->rules);
    if (m->rules == NULL) {
        L->oom = true;
        return;
    }
    m->n_rules = n;
    for (size_t i = 0; i < n; i++) {
        char path[64];
        element(path, sizeof path, "rules", i);
        rule_compile(L, json_array_get(rs, i), path, i);
    }
    /* duplicate ids: sort (hash, index) and compare neighbours */
    struct model_byhash *all = calloc(n ? n : 1, sizeof *all);
    if (all == NULL) {
        L->oom = true;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->rules[i].id != NULL) {
            all[k++] = (struct model_byhash){m->rules[i].id_hash, (uint32_t)i};
        }
    }
    qsort(all, k, sizeof *all, cmp_byhash);
    size_t first = 0;
    for (size_t i = 1; i < k; i++) {
        if (all[i].hash != all[first].hash) {
            first = i;
            continue;
        }
        uint32_t a = all[first].rule, b = all[i].rule;
        char path[64];
        snprintf(path, sizeof path, "rules[%u].id", b);
        if (strcmp(m->rules[a].id, m->rules[b].id) == 0) {
            problem(L, false, path, "duplicate rule id '%s' (first at rules[%u])",
                    m->rules[b].id, a);
        } else {
            problem(L, false, path,
                    "rule id '%s' collides with '%s' in the state hash; "
                    "hint: rename one of them",
                    m->rules[b].id, m->rules[a].id);
        }
    }
    free(all);
}

/* The activity-type table's hash: the length and two 8-byte words, not
 * a byte loop (one lookup per event; types differ early or late). */
static uint64_t type_hash(const char *s, size_t n)
{
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    } else {
        for (size_t i = 0; i < n; i++) {
            a |= (uint64_t)(unsigned char)s[i] << (8 * i);
        }
    }
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ULL) ^ n) * 0xFF51AFD7ED558CCDULL;
    return h ^ h >> 29;
}

/* Builds the per-type rule table and the fit / by-hash indexes. */
static bool index_rules(struct model *m)
{
    size_t n_act = 0;
    for (size_t i = 0; i < m->n_rules; i++) {
        n_act += m->rules[i].event != NULL;
    }
    m->n_activity_rules = n_act;
    m->fit_rules = calloc(m->n_rules - n_act + 1, sizeof *m->fit_rules);
    m->by_hash = calloc(n_act + 1, sizeof *m->by_hash);
    m->evtab_store = calloc(n_act + 1, sizeof *m->evtab_store);
    size_t cap = 8;
    while (cap < n_act * 2) {
        cap *= 2;
    }
    m->evtab = calloc(cap, sizeof *m->evtab);
    m->evtab_cap = cap;
    if (m->fit_rules == NULL || m->by_hash == NULL ||
        m->evtab_store == NULL || m->evtab == NULL) {
        return false;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->n_rules; i++) {
        struct model_rule *r = &m->rules[i];
        if (r->event == NULL) {
            m->fit_rules[m->n_fit_rules++] = (uint32_t)i;
            continue;
        }
        m->by_hash[k++] = (struct model_byhash){r->id_hash, (uint32_t)i};
        size_t len = strlen(r->event);
        uint64_t h = type_hash(r->event, len);
        size_t s = (size_t)h & (cap - 1);
        while (m->evtab[s].type != NULL &&
               (m->evtab[s].hash != h || strcmp(m->evtab[s].type, r->event))) {
            s = (s + 1) & (cap - 1);
        }
        m->evtab[s].type = r->event;
        m->evtab[s].hash = h;
        m->evtab[s].len = len;
        m->evtab[s].n_rules++;
    }
    qsort(m->by_hash, k, sizeof *m->by_hash, cmp_byhash);
    /* number the distinct condition fields (load time: a scan of the
     * distinct names so far) */
    size_t n_conds = 0;
    for (size_t i = 0; i < m->n_rules; i++) {
        n_conds += m->rules[i].n_conds;
    }
    const char **names = calloc(n_conds + 1, sizeof *names);
    if (names == NULL) {
        return false;
    }
    for (size_t i = 0; i < m->n_rules; i++) {
        for (size_t j = 0; j < m->rules[i].n_conds; j++) {
            struct model_cond *c = &m->rules[i].conds[j];
            size_t f = 0;
            while (f < m->n_fields && strcmp(names[f], c->field) != 0) {
                f++;
            }
            if (f == m->n_fields) {
                names[m->n_fields++] = c->field;
            }
            c->field_id = (uint32_t)f;
        }
    }
    free(names);
    /* slice the shared store, then fill in rule order */
    size_t off = 0;
    for (size_t s = 0; s < cap; s++) {
        if (m->evtab[s].type != NULL) {
            m->evtab[s].rules = m->evtab_store + off;
            off += m->evtab[s].n_rules;
            if (m->evtab[s].n_rules > m->max_rules_per_event) {
                m->max_rules_per_event = m->evtab[s].n_rules;
            }
            m->evtab[s].n_rules = 0;
        }
    }
    for (size_t i = 0; i < m->n_rules; i++) {
        if (m->rules[i].event != NULL) {
            struct model_evtype *e =
                (struct model_evtype *)model_find_event(m, m->rules[i].event);
            e->rules[e->n_rules++] = (uint32_t)i;
        }
    }
    return true;
}

static void compile(struct loader *L, json_t *root)
{
    static const char *const keys[] = {"schema", "name",  "scale_max",
                                       "groups", "rules", "tiers",
                                       "hysteresis"};
    struct model *m = L->m;
    if (!json_is_object(root)) {
        problem(L, false, "", "a model must be a JSON object, not %s",
                jtype(root));
        return;
    }
    check_keys(L, root, "", keys, N_OF(keys));
    json_t *v = get(L, root, "", "schema", true);
    if (v != NULL) {
        if (!json_is_string(v) ||
            strcmp(json_string_value(v), MODEL_SCHEMA) != 0) {
            problem(L, false, "schema",
                    "unsupported schema %s%s%s; hint: this plugin reads "
                    "\"" MODEL_SCHEMA "\"",
                    json_is_string(v) ? "'" : "",
                    json_is_string(v) ? json_string_value(v) : jtype(v),
                    json_is_string(v) ? "'" : "");
        }
    }
    v = get(L, root, "", "name", true);
    if (v != NULL && want_string(L, v, "name", "'name'")) {
        m->name = dup_or_oom(L, json_string_value(v));
        m->key = model_hash(json_string_value(v), json_string_length(v));
    }
    m->scale_max = 100;
    if ((v = get(L, root, "", "scale_max", false)) != NULL) {
        double x = json_is_number(v) ? json_number_value(v) : 0;
        if (!json_is_number(v) || x < 1 || x != floor(x) || x > 1e9) {
            problem(L, false, "scale_max",
                    "'scale_max' must be an integer > 0");
        } else {
            m->scale_max = (int)x;
        }
    }
    if ((v = get(L, root, "", "hysteresis", false)) != NULL) {
        if (!json_is_number(v) || json_number_value(v) < 0) {
            problem(L, false, "hysteresis", "'hysteresis' must be a number >= 0");
        } else {
            m->hysteresis = json_number_value(v);
        }
    }
    groups_compile(L, root);
    rules_compile(L, root);
    tiers_compile(L, root);
}

struct placed {
    int line, col;
    size_t idx;
};

static int cmp_placed(const void *a, const void *b)
{
    const struct placed *x = a, *y = b;
    if (x->line != y->line) {
        return x->line < y->line ? -1 : 1;
    }
    if (x->col != y->col) {
        return x->col < y->col ? -1 : 1;
    }
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sends every problem to host->diagnostic with its line:column, in file
 * order (the checks run in key order, readers scan top to bottom). */
static void report_problems(struct loader *L, const char *text, size_t len,
                            const struct lsc_host_api *host)
{
    if (host == NULL || host->diagnostic == NULL) {
        return;
    }
    struct jsonpos *jp = jsonpos_create(text, len);
    struct placed *pl = calloc(L->n, sizeof *pl);
    for (size_t i = 0; pl != NULL && i < L->n; i++) {
        jsonpos_find(jp, L->p[i].path, L->p[i].at_key, &pl[i].line,
                     &pl[i].col);
        pl[i].idx = i;
    }
    if (pl != NULL) {
        qsort(pl, L->n, sizeof *pl, cmp_placed);
    }
    for (size_t k = 0; k < L->n; k++) {
        size_t i = pl != NULL ? pl[k].idx : k;
        struct lsc_diagnostic d = {
            .struct_size = sizeof d,
            .severity = LSC_LOG_ERROR,
            .file = L->file,
            .line = pl != NULL ? pl[k].line : 0,
            .column = pl != NULL ? pl[k].col : 0,
            .json_path = L->p[i].path,
            .message = L->p[i].msg,
        };
        host->diagnostic(host->host, &d);
    }
    free(pl);
    jsonpos_destroy(jp);
}

static void diag_one(const struct lsc_host_api *host, const char *file,
                     int line, int col, const char *msg)
{
    if (host == NULL || host->diagnostic == NULL) {
        return;
    }
    struct lsc_diagnostic d = {
        .struct_size = sizeof d,
        .severity = LSC_LOG_ERROR,
        .file = file,
        .line = line,
        .column = col,
        .json_path = "",
        .message = msg,
    };
    host->diagnostic(host->host, &d);
}

enum lsc_status model_load_text(const char *file, const char *text,
                                size_t len, const struct lsc_host_api *host,
                                struct model **out, char *err, size_t errlen)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        char msg[256];
        snprintf(msg, sizeof msg, "invalid JSON: %s", je.text);
        int line = je.line > 0 ? je.line : 1;
        int col = jsonpos_error_column(text, len, je.column, je.position);
        diag_one(host, file, line, col, msg);
        log_err(err, errlen, "%s:%d:%d: invalid JSON: %s", file, line, col,
                je.text);
        return LSC_ERR_CONFIG;
    }
    struct loader L = {.file = file};
    L.m = calloc(1, sizeof *L.m);
    enum lsc_status st = LSC_OK;
    if (L.m == NULL) {
        st = LSC_ERR_NOMEM;
        goto out;
    }
    compile(&L, root);
    if (L.oom) {
        st = LSC_ERR_NOMEM;
        log_err(err, errlen, "%s: out of memory", file);
        goto out;
    }
    if (L.n > 0) {
        report_problems(&L, text, len, host);
        if (L.n == 1) {
            log_err(err, errlen, "%s: 1 problem in the model: %s%s%s", file,
                    L.p[0].path, L.p[0].path[0] ? ": " : "", L.p[0].msg);
        } else {
            log_err(err, errlen, "%s: %zu problems in the model", file, L.n);
        }
        st = LSC_ERR_CONFIG;
        goto out;
    }
    L.m->file = strdup(file);
    L.m->fingerprint = model_hash(text, len);
    if (L.m->file == NULL || !index_rules(L.m)) {
        st = LSC_ERR_NOMEM;
        log_err(err, errlen, "%s: out of memory", file);
        goto out;
    }
    *out = L.m;
    L.m = NULL;
out:
    for (size_t i = 0; i < L.n; i++) {
        free(L.p[i].path);
        free(L.p[i].msg);
    }
    free(L.p);
    model_destroy(L.m);
    json_decref(root);
    return st;
}

enum lsc_status model_load(const char *file, const struct lsc_host_api *host,
                           struct model **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(file, "rb");
    if (f == NULL) {
        char msg[256];
        snprintf(msg, sizeof msg, "cannot open the model: %s",
                 strerror(errno));
        diag_one(host, file, 0, 0, msg);
        log_err(err, errlen, "%s: %s", file, msg);
        return LSC_ERR_CONFIG;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    enum lsc_status st = LSC_OK;
    for (;;) {
        if (len == cap) {
            if (cap >= (size_t)64 << 20) {
                diag_one(host, file, 0, 0, "the model is larger than 64 MiB");
                log_err(err, errlen, "%s: the model is larger than 64 MiB",
                        file);
                st = LSC_ERR_CONFIG;
                goto out;
            }
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                st = LSC_ERR_NOMEM;
                log_err(err, errlen, "%s: out of memory", file);
                goto out;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        log_err(err, errlen, "%s: read error", file);
        diag_one(host, file, 0, 0, "read error");
        st = LSC_ERR_IO;
        goto out;
    }
    st = model_load_text(file, buf, len, host, out, err, errlen);
out:
    free(buf);
    fclose(f);
    return st;
}

void model_destroy(struct model *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->n_groups; i++) {
        free(m->groups[i].name);
    }
    for (size_t i = 0; i < m->n_tiers; i++) {
        free(m->tiers[i].name);
    }
    for (size_t i = 0; i < m->n_rules; i++) {
        struct model_rule *r = &m->rules[i];
        for (size_t j = 0; j < r->n_conds; j++) {
            struct model_cond *c = &r->conds[j];
            for (size_t k = 0; k < c->n_vals; k++) {
                free(c->vals[k].str);
            }
            free(c->vals);
            free(c->field);
        }
        free(r->conds);
        free(r->id);
        free(r->event);
    }
    free(m->groups);
    free(m->tiers);
    free(m->rules);
    free(m->fit_rules);
    free(m->by_hash);
    free(m->evtab);
    free(m->evtab_store);
    free(m->name);
    free(m->file);
    free(m);
}

uint64_t model_head(const char *s, size_t len)
{
    uint64_t h = 0;
    for (size_t i = 0; i < len && i < 8; i++) {
        h |= (uint64_t)(unsigned char)s[i] << (8 * i);
    }
    return h;
}

uint64_t model_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint32_t model_key32(const void *p, size_t n)
{
    uint64_t h = model_hash(p, n);
    return (uint32_t)(h ^ (h >> 32));
}

const struct model_evtype *model_find_event(const struct model *m,
                                            const char *type)
{
    size_t len = strlen(type);
    uint64_t h = type_hash(type, len);
    size_t s = (size_t)h & (m->evtab_cap - 1);
    while (m->evtab[s].type != NULL) {
        if (m->evtab[s].hash == h && m->evtab[s].len == len &&
            memcmp(m->evtab[s].type, type, len) == 0) {
            return &m->evtab[s];
        }
        s = (s + 1) & (m->evtab_cap - 1);
    }
    return NULL;
}

long model_rule_by_hash(const struct model *m, uint32_t h)
{
    size_t lo = 0, hi = m->n_activity_rules;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->by_hash[mid].hash < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < m->n_activity_rules && m->by_hash[lo].hash == h) {
        return (long)m->by_hash[lo].rule;
    }
    return -1;
}
