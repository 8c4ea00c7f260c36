/* leadscored configuration file; see config.h. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *const known_keys[] = {
    "listen", "data_dir", "plugin", "models", "connectors", "tokens",
    "hubspot", "mailchimp", "limits", "dedup_retention", "durable", "http",
    "jobs", "log_level", "plugin_config", "wake_scan", "score_refresh",
    NULL,
};

int64_t dconfig_duration_ms(const char *s)
{
    if (s == NULL || *s == '\0') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || !isfinite(v) || v < 0) {
        return -1;
    }
    double mul = 1000.0;
    if (strcmp(end, "ms") == 0) {
        mul = 1.0;
    } else if (strcmp(end, "s") == 0 || *end == '\0') {
        mul = 1000.0;
    } else if (strcmp(end, "m") == 0) {
        mul = 60e3;
    } else if (strcmp(end, "h") == 0) {
        mul = 3600e3;
    } else if (strcmp(end, "d") == 0) {
        mul = 86400e3;
    } else {
        return -1;
    }
    double ms = v * mul;
    return ms > 9e15 ? -1 : (int64_t)ms;
}

/* A resolved copy of `p` relative to `base` (the config's directory). */
static char *resolve(const char *base, const char *p)
{
    if (p[0] == '/' || base == NULL) {
        return strdup(p);
    }
    size_t n = strlen(base) + strlen(p) + 2;
    char *r = malloc(n);
    if (r != NULL) {
        snprintf(r, n, "%s/%s", base, p);
    }
    return r;
}

/* A string value, expanding "env:NAME".  *ok false on a wrong type or a
 * missing variable (why says which). */
static char *get_str(json_t *o, const char *key, bool *ok, char *why,
                     size_t whylen)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v)) {
        snprintf(why, whylen, "'%s' must be a string", key);
        *ok = false;
        return NULL;
    }
    const char *s = json_string_value(v);
    if (strncmp(s, "env:", 4) == 0) {
        const char *e = getenv(s + 4);
        if (e == NULL) {
            snprintf(why, whylen, "'%s' names environment variable %s, "
                     "which is not set", key, s + 4);
            *ok = false;
            return NULL;
        }
        s = e;
    }
    return strdup(s);
}

static bool get_num(json_t *o, const char *key, double *out, double lo,
                    double hi, char *why, size_t whylen)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return true;
    }
    if (!json_is_number(v) || json_number_value(v) < lo ||
        json_number_value(v) > hi) {
        snprintf(why, whylen, "'%s' must be a number in [%g, %g]", key, lo,
                 hi);
        return false;
    }
    *out = json_number_value(v);
    return true;
}

static bool get_bool(json_t *o, const char *key, bool *out, char *why,
                     size_t whylen)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return true;
    }
    if (!json_is_boolean(v)) {
        snprintf(why, whylen, "'%s' must be true or false", key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static bool get_dur(json_t *o, const char *key, int64_t *out, char *why,
                    size_t whylen)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return true;
    }
    int64_t ms = -1;
    if (json_is_string(v)) {
        ms = dconfig_duration_ms(json_string_value(v));
    } else if (json_is_number(v) && json_number_value(v) >= 0 &&
               json_number_value(v) < 9e12) {
        ms = (int64_t)(json_number_value(v) * 1000.0);
    }
    if (ms < 0) {
        snprintf(why, whylen, "'%s' must be a duration (\"30d\", \"90m\", "
                 "\"15s\") or seconds", key);
        return false;
    }
    *out = ms;
    return true;
}

/* A string array into a malloc'ed vector. */
static bool get_strv(json_t *o, const char *key, const char *base,
                     char ***out, size_t *n, char *why, size_t whylen)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return true;
    }
    if (json_is_string(v)) {
        json_t *a = json_array();
        json_array_append(a, v);
        bool r = true;
        json_object_set_new(o, key, a);
        r = get_strv(o, key, base, out, n, why, whylen);
        return r;
    }
    if (!json_is_array(v)) {
        snprintf(why, whylen, "'%s' must be an array of strings", key);
        return false;
    }
    size_t cnt = json_array_size(v);
    char **vec = calloc(cnt + 1, sizeof *vec);
    if (vec == NULL) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || json_string_length(e) == 0) {
            snprintf(why, whylen, "'%s[%zu]' must be a non-empty string", key,
                     i);
            for (size_t j = 0; j < i; j++) {
                free(vec[j]);
            }
            free(vec);
            return false;
        }
        const char *s = json_string_value(e);
        if (base == NULL && strncmp(s, "env:", 4) == 0 && getenv(s + 4)) {
            s = getenv(s + 4);
        }
        vec[i] = base ? resolve(base, s) : strdup(s);
    }
    *out = vec;
    *n = cnt;
    return true;
}

static void free_strv(char **v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

void dconfig_destroy(struct dconfig *c)
{
    if (c == NULL) {
        return;
    }
    free(c->path);
    free(c->listen_host);
    free(c->data_dir);
    free(c->plugin);
    free_strv(c->models, c->n_models);
    free(c->models_joined);
    free(c->connectors);
    free(c->mc_import_mapping);
    free(c->mc_import_checkpoint);
    free_strv(c->tokens, c->n_tokens);
    free(c->hubspot_secret);
    free(c->hubspot_public_url);
    free(c->mc_url_secret);
    free(c->mc_signing_secret);
    free_strv(c->kv, c->n_kv);
    free(c);
}

/* "connectors": one mapping path or an array of them, resolved, joined
 * with newlines (the plugin reads one path per line). */
static bool get_connectors(struct dconfig *c, json_t *root, const char *base,
                           char *why, size_t whylen)
{
    char **v = NULL;
    size_t n = 0;
    if (!get_strv(root, "connectors", base, &v, &n, why, whylen)) {
        return false;
    }
    size_t len = 1;
    for (size_t i = 0; i < n; i++) {
        len += strlen(v[i]) + 1;
    }
    if (n > 0) {
        c->connectors = calloc(1, len);
        for (size_t i = 0; c->connectors != NULL && i < n; i++) {
            if (i > 0) {
                strcat(c->connectors, "\n");
            }
            strcat(c->connectors, v[i]);
        }
    }
    free_strv(v, n);
    return n == 0 || c->connectors != NULL;
}

/* The first mapping in c->connectors whose "connector" is "mailchimp",
 * malloc'ed, or NULL. */
static char *find_mailchimp_mapping(const struct dconfig *c)
{
    const char *p = c->connectors;
    while (p != NULL && *p != '\0') {
        size_t l = strcspn(p, "\n");
        char *path = strndup(p, l);
        json_t *j = path ? json_load_file(path, 0, NULL) : NULL;
        const char *k = json_string_value(json_object_get(j, "connector"));
        bool mc = k != NULL && strcmp(k, "mailchimp") == 0;
        json_decref(j);
        if (mc) {
            return path;
        }
        free(path);
        p += l;
        p += *p == '\n';
    }
    return NULL;
}

/* mailchimp.activity_import: {"enabled", "mapping", "interval",
 * "checkpoint", "batch"}; the mapping defaults to the Mailchimp one of
 * "connectors".  "enabled": false leaves mc_import_mapping NULL. */
static bool get_activity_import(struct dconfig *c, json_t *ai,
                                const char *base, char *why, size_t whylen)
{
    static const char *const keys[] = {"enabled", "mapping", "interval",
                                       "checkpoint", "batch", NULL};
    if (!json_is_object(ai)) {
        snprintf(why, whylen, "'mailchimp.activity_import' must be an object");
        return false;
    }
    const char *key;
    json_t *val;
    json_object_foreach(ai, key, val) {
        bool known = false;
        for (size_t i = 0; keys[i] != NULL; i++) {
            known = known || strcmp(keys[i], key) == 0;
        }
        if (!known) {
            snprintf(why, whylen, "unknown key 'mailchimp.activity_import.%s'",
                     key);
            return false;
        }
    }
    bool ok = true, enabled = true;
    if (!get_bool(ai, "enabled", &enabled, why, whylen)) {
        return false;
    }
    if (!enabled) {
        return true;
    }
    char *s = get_str(ai, "mapping", &ok, why, whylen);
    if (!ok) {
        return false;
    }
    if (s != NULL) {
        c->mc_import_mapping = resolve(base, s);
        free(s);
    } else {
        c->mc_import_mapping = find_mailchimp_mapping(c);
        if (c->mc_import_mapping == NULL) {
            snprintf(why, whylen, "'mailchimp.activity_import.mapping' is "
                     "required: no Mailchimp mapping in 'connectors'");
            return false;
        }
    }
    c->mc_import_interval_ms = 15 * 60000;
    if (!get_dur(ai, "interval", &c->mc_import_interval_ms, why, whylen)) {
        return false;
    }
    if (c->mc_import_interval_ms < 1000) {
        snprintf(why, whylen, "'mailchimp.activity_import.interval' must be "
                 "at least 1s");
        return false;
    }
    double b = 500;
    if (!get_num(ai, "batch", &b, 1, 100000, why, whylen)) {
        return false;
    }
    c->mc_import_batch = (size_t)b;
    s = get_str(ai, "checkpoint", &ok, why, whylen);
    if (!ok) {
        return false;
    }
    /* Kept as written: a relative path is under data_dir, which
     * --data-dir may still change (the importer resolves it). */
    c->mc_import_checkpoint = s != NULL ? s
                                        : strdup("mailchimp-activity."
                                                 "checkpoint");
    return c->mc_import_checkpoint != NULL;
}

static bool parse_listen(struct dconfig *c, const char *s, char *why,
                         size_t whylen)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s) {
        snprintf(why, whylen, "'listen' must be HOST:PORT (\"127.0.0.1:8080\")");
        return false;
    }
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535 || end == colon + 1) {
        snprintf(why, whylen, "'listen': bad port '%s'", colon + 1);
        return false;
    }
    free(c->listen_host);
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        c->listen_host = strndup(s + 1, hl - 2); /* "[::1]:8080" */
    } else {
        c->listen_host = strndup(s, hl);
    }
    c->listen_port = (uint16_t)port;
    return c->listen_host != NULL;
}

enum lsc_status dconfig_load(const char *path, struct dconfig **out,
                             char *err, size_t errlen)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column,
                 je.text);
        return LSC_ERR_CONFIG;
    }
    struct dconfig *c = calloc(1, sizeof *c);
    char why[300] = "";
    char *base = NULL;
    bool ok = c != NULL && json_is_object(root);
    if (c == NULL) {
        json_decref(root);
        return LSC_ERR_NOMEM;
    }
    if (!ok) {
        snprintf(why, sizeof why, "the top level must be an object");
    }
    const char *slash = strrchr(path, '/');
    base = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    c->path = strdup(path);
    c->listen_host = strdup("127.0.0.1");
    c->listen_port = 8080;
    c->hubspot_max_age_ms = 300000;
    c->max_body = 1 << 20;
    c->rate = 0;
    c->burst = 0;
    c->dedup_retention_ms = 30LL * 86400 * 1000;
    c->durable = true;
    c->http_threads = 2;
    c->job_workers = 1;
    c->job_max_attempts = 10;
    c->batch_max = 4096;
    c->wake_scan_ms = 1000;
    c->score_refresh_ms = 60000;
    c->log_level = LSC_LOG_INFO;

    const char *key;
    json_t *val;
    if (ok) {
        json_object_foreach(root, key, val) {
            bool known = false;
            for (size_t i = 0; known_keys[i] != NULL; i++) {
                known = known || strcmp(known_keys[i], key) == 0;
            }
            if (!known) {
                snprintf(why, sizeof why, "unknown key '%s'", key);
                ok = false;
                break;
            }
        }
    }
    char *s = NULL;
    if (ok && (s = get_str(root, "listen", &ok, why, sizeof why)) != NULL) {
        ok = parse_listen(c, s, why, sizeof why);
        free(s);
    }
    if (ok && (s = get_str(root, "data_dir", &ok, why, sizeof why)) != NULL) {
        c->data_dir = resolve(base, s);
        free(s);
    }
    if (ok && (s = get_str(root, "plugin", &ok, why, sizeof why)) != NULL) {
        c->plugin = resolve(base, s);
        free(s);
    }
    ok = ok && get_connectors(c, root, base, why, sizeof why);
    ok = ok && get_strv(root, "models", base, &c->models, &c->n_models, why,
                        sizeof why);
    ok = ok && get_strv(root, "tokens", NULL, &c->tokens, &c->n_tokens, why,
                        sizeof why);
    if (ok && c->n_models > 0) {
        size_t n = 1;
        for (size_t i = 0; i < c->n_models; i++) {
            n += strlen(c->models[i]) + 1;
        }
        c->models_joined = calloc(1, n);
        for (size_t i = 0; c->models_joined && i < c->n_models; i++) {
            if (i > 0) {
                strcat(c->models_joined, "\n");
            }
            strcat(c->models_joined, c->models[i]);
        }
    }
    json_t *hs = json_object_get(root, "hubspot");
    if (ok && hs != NULL) {
        if (!json_is_object(hs)) {
            snprintf(why, sizeof why, "'hubspot' must be an object");
            ok = false;
        } else {
            c->hubspot_secret = get_str(hs, "client_secret", &ok, why,
                                        sizeof why);
            if (ok) {
                c->hubspot_public_url = get_str(hs, "public_url", &ok, why,
                                                sizeof why);
            }
            ok = ok && get_dur(hs, "max_age", &c->hubspot_max_age_ms, why,
                               sizeof why);
        }
    }
    json_t *mc = json_object_get(root, "mailchimp");
    if (ok && mc != NULL) {
        if (!json_is_object(mc)) {
            snprintf(why, sizeof why, "'mailchimp' must be an object");
            ok = false;
        } else {
            c->mc_url_secret = get_str(mc, "url_secret", &ok, why, sizeof why);
            if (ok) {
                c->mc_signing_secret = get_str(mc, "signing_secret", &ok, why,
                                               sizeof why);
            }
            ok = ok && get_bool(mc, "require_signature",
                                &c->mc_require_signature, why, sizeof why);
            if (ok && (s = get_str(mc, "contact_id_from", &ok, why,
                                   sizeof why)) != NULL) {
                if (strcmp(s, "id") == 0) {
                    c->mc_contact_by_id = true;
                } else if (strcmp(s, "email") != 0) {
                    snprintf(why, sizeof why, "'mailchimp.contact_id_from' "
                             "must be \"email\" or \"id\"");
                    ok = false;
                }
                free(s);
            }
            json_t *ai = json_object_get(mc, "activity_import");
            if (ok && ai != NULL) {
                ok = get_activity_import(c, ai, base, why, sizeof why);
            }
            if (ok && c->mc_require_signature && !c->mc_signing_secret) {
                snprintf(why, sizeof why, "'mailchimp.require_signature' "
                         "needs 'signing_secret'");
                ok = false;
            }
        }
    }
    json_t *lim = json_object_get(root, "limits");
    if (ok && lim != NULL) {
        double mb = (double)c->max_body;
        ok = json_is_object(lim) &&
             get_num(lim, "max_body_bytes", &mb, 1024, 1 << 30, why,
                     sizeof why) &&
             get_num(lim, "rate_per_client", &c->rate, 0, 1e9, why,
                     sizeof why) &&
             get_num(lim, "burst", &c->burst, 0, 1e9, why, sizeof why);
        c->max_body = (size_t)mb;
        if (!json_is_object(lim)) {
            snprintf(why, sizeof why, "'limits' must be an object");
        }
    }
    if (c->burst < c->rate) {
        c->burst = c->rate;
    }
    ok = ok && get_dur(root, "dedup_retention", &c->dedup_retention_ms, why,
                       sizeof why);
    ok = ok && get_dur(root, "wake_scan", &c->wake_scan_ms, why, sizeof why);
    ok = ok && get_dur(root, "score_refresh", &c->score_refresh_ms, why,
                       sizeof why);
    ok = ok && get_bool(root, "durable", &c->durable, why, sizeof why);
    json_t *http = json_object_get(root, "http");
    if (ok && http != NULL) {
        double th = c->http_threads, bm = (double)c->batch_max;
        ok = json_is_object(http) &&
             get_num(http, "threads", &th, 1, 64, why, sizeof why) &&
             get_num(http, "batch_max", &bm, 1, 100000, why, sizeof why);
        c->http_threads = (unsigned)th;
        c->batch_max = (size_t)bm;
    }
    json_t *jobs = json_object_get(root, "jobs");
    if (ok && jobs != NULL) {
        double w = c->job_workers, ma = c->job_max_attempts;
        ok = json_is_object(jobs) &&
             get_num(jobs, "workers", &w, 0, 64, why, sizeof why) &&
             get_num(jobs, "max_attempts", &ma, 1, 1000, why, sizeof why);
        c->job_workers = (unsigned)w;
        c->job_max_attempts = (uint32_t)ma;
    }
    if (ok && (s = get_str(root, "log_level", &ok, why, sizeof why)) != NULL) {
        static const char *const lv[] = {"error", "warn", "info", "debug"};
        bool found = false;
        for (int i = 0; i < 4; i++) {
            if (strcmp(s, lv[i]) == 0) {
                c->log_level = (enum lsc_log_level)i;
                found = true;
            }
        }
        if (!found) {
            snprintf(why, sizeof why,
                     "'log_level' must be error, warn, info or debug");
            ok = false;
        }
        free(s);
    }
    json_t *pc = json_object_get(root, "plugin_config");
    if (ok && pc != NULL) {
        if (!json_is_object(pc)) {
            snprintf(why, sizeof why, "'plugin_config' must be an object");
            ok = false;
        } else {
            c->kv = calloc(2 * json_object_size(pc) + 1, sizeof *c->kv);
            json_object_foreach(pc, key, val) {
                if (!json_is_string(val)) {
                    snprintf(why, sizeof why,
                             "'plugin_config.%s' must be a string", key);
                    ok = false;
                    break;
                }
                c->kv[c->n_kv++] = strdup(key);
                c->kv[c->n_kv++] = strdup(json_string_value(val));
            }
        }
    }
    if (ok && c->data_dir == NULL) {
        snprintf(why, sizeof why, "'data_dir' is required");
        ok = false;
    }
    free(base);
    json_decref(root);
    if (!ok) {
        snprintf(err, errlen, "%s: %s", path, why);
        dconfig_destroy(c);
        return LSC_ERR_CONFIG;
    }
    *out = c;
    return LSC_OK;
}

const char *dconfig_get(const struct dconfig *c, const char *key)
{
    if (strcmp(key, "model") == 0) {
        return c->n_models > 0 ? c->models[0] : NULL;
    }
    if (strcmp(key, "models") == 0) {
        return c->models_joined;
    }
    if (strcmp(key, "connectors") == 0) {
        return c->connectors;
    }
    if (strcmp(key, "data_dir") == 0) {
        return c->data_dir;
    }
    for (size_t i = 0; i + 1 < c->n_kv; i += 2) {
        if (strcmp(c->kv[i], key) == 0) {
            return c->kv[i + 1];
        }
    }
    return NULL;
}
