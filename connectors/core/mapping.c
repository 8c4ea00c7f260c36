/*
 * Connector core: the shared part of the mapping validators (see
 * mapping.h).
 */
#include "mapping.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jsonpos.h"
#include "suggest.h"

static void emit(struct mapping_ctx *v, enum lsc_log_level sev,
                 const char *path, int line, int col, const char *fmt,
                 va_list ap) CLOG_PRINTF(6, 0);

/* Counts, keeps the first error and sends the diagnostic. */
static void emit(struct mapping_ctx *v, enum lsc_log_level sev,
                 const char *path, int line, int col, const char *fmt,
                 va_list ap)
{
    char msg[MAPPING_MSG_MAX];
    size_t n = v->msg_size > 0 && v->msg_size < sizeof msg ? v->msg_size
                                                           : sizeof msg;
    vsnprintf(msg, n, fmt, ap);
    if (sev == LSC_LOG_ERROR) {
        if (v->errors == 0) {
            snprintf(v->first, sizeof v->first, "%.80s:%d:%d: %.60s: %.90s",
                     v->file, line, col, path[0] ? path : "(root)", msg);
        }
        v->errors++;
    }
    if (v->diag == NULL) {
        return;
    }
    struct lsc_diagnostic d = {.struct_size = sizeof d,
                               .severity = sev,
                               .file = v->file,
                               .line = line,
                               .column = col,
                               .json_path = path,
                               .message = msg};
    v->diag(v->ud, &d);
}

void mapping_report(struct mapping_ctx *v, enum lsc_log_level sev,
                    const char *path, const char *fmt, ...)
{
    int line = 0;
    int col = 0;
    if (v->where == MAPPING_AT_KEY_OR_PARENT) {
        jsonpos_find_nearest(v->pos, path, true, &line, &col);
    } else {
        jsonpos_find(v->pos, path, false, &line, &col);
    }
    va_list ap;
    va_start(ap, fmt);
    emit(v, sev, path, line, col, fmt, ap);
    va_end(ap);
}

void mapping_report_at(struct mapping_ctx *v, enum lsc_log_level sev,
                       const char *path, int line, int col,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(v, sev, path, line, col, fmt, ap);
    va_end(ap);
}

void mapping_join(char *out, size_t outlen, const char *a, const char *b)
{
    snprintf(out, outlen, "%s%s%s", a, a[0] ? "." : "", b);
}

void mapping_unknown_keys(struct mapping_ctx *v, json_t *obj,
                          const char *path, const char *const *known)
{
    const char *k;
    json_t *val;
    json_object_foreach(obj, k, val) {
        bool ok = false;
        for (size_t i = 0; known[i] != NULL && !ok; i++) {
            ok = strcmp(k, known[i]) == 0;
        }
        if (!ok) {
            char p[256];
            mapping_join(p, sizeof p, path, k);
            char h[96];
            lsc_hint(h, sizeof h, k, known, SIZE_MAX);
            mapping_report(v, LSC_LOG_WARN, p,
                           "unknown key \"%s\" is ignored%s", k, h);
        }
        (void)val;
    }
}

json_t *mapping_actions(struct mapping_ctx *v, json_t *root)
{
    json_t *a = json_object_get(root, "actions");
    if (a != NULL && !json_is_array(a)) {
        mapping_report(v, LSC_LOG_ERROR, "actions", "must be an array");
        return NULL;
    }
    return a;
}

json_t *mapping_action(struct mapping_ctx *v, json_t *actions, size_t i,
                       char *path, size_t pathlen)
{
    /* Both connectors' keys: the hint for a typo must not depend on the
     * connector. */
    static const char *const known[] = {"on", "tier", "write_tier", "tag",
                                        "webhook", NULL};
    json_t *x = json_array_get(actions, i);
    snprintf(path, pathlen, "actions[%zu]", i);
    if (!json_is_object(x)) {
        mapping_report(v, LSC_LOG_ERROR, path, "must be an object");
        return NULL;
    }
    mapping_unknown_keys(v, x, path, known);
    return x;
}

bool mapping_action_on(struct mapping_ctx *v, const char *path,
                       const char *on, bool *leave)
{
    bool enter = strcmp(on, "enter") == 0;
    if (enter || strcmp(on, "leave") == 0) {
        *leave = !enter;
        return true;
    }
    char q[96];
    snprintf(q, sizeof q, "%s.on", path);
    mapping_report(v, LSC_LOG_ERROR, q,
                   "\"%s\" is not a transition; hint: \"enter\" or "
                   "\"leave\"", on);
    return false;
}

void mapping_model_tier(struct mapping_ctx *v, const char *path,
                        const char *tier, const char *effect)
{
    if (v->model_tiers == NULL || tier == NULL) {
        return;
    }
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < v->n_model_tiers; i++) {
        if (strcmp(v->model_tiers[i], tier) == 0) {
            return;
        }
        int n = snprintf(list + used, sizeof list - used, "%s\"%s\"",
                         i > 0 ? ", " : "", v->model_tiers[i]);
        if (n < 0 || (size_t)n >= sizeof list - used) {
            break;
        }
        used += (size_t)n;
    }
    mapping_report(v, LSC_LOG_WARN, path,
                   "the model has no tier \"%s\": %s; hint: the model's "
                   "tiers are %s", tier, effect, list);
}

bool mapping_env_name_ok(const char *s)
{
    /* Upper case only: a lower-case or mixed value is more likely a secret
     * pasted in than a variable name, and one rule for both connectors. */
    if (s == NULL || s[0] == '\0' || isdigit((unsigned char)s[0])) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) &&
            *p != '_') {
            return false;
        }
    }
    return true;
}

bool mapping_env_name_check(struct mapping_ctx *v, const char *path,
                            const char *name, const char *what)
{
    if (mapping_env_name_ok(name)) {
        return true;
    }
    mapping_report(v, LSC_LOG_ERROR, path,
                   "not an environment variable name (A-Z, 0-9, _); hint: "
                   "the name of the variable holding the %s, never the %s "
                   "itself",
                   what, what);
    return false;
}
