/*
 * HubSpot connector: the mapping file and its validator (see hubspot.h
 * and config/connectors/README.md).
 */
#include "hubspot.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/http.h"
#include "core/mapping.h"
#include "jsonpos.h"

static char *dupv(struct mapping_ctx *v, const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    char *d = strdup(s);
    if (d == NULL) {
        v->oom = true;
    }
    return d;
}

/* HubSpot internal property names: lower case, digits, underscores. */
static bool prop_name_ok(const char *s)
{
    if (s == NULL || !islower((unsigned char)s[0]) || strlen(s) > 100) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
            *p != '_') {
            return false;
        }
    }
    return true;
}

/* Optional string member; reports a type error. */
static const char *get_str(struct mapping_ctx *v, json_t *obj,
                           const char *path, const char *key, bool required)
{
    char p[256];
    mapping_join(p, sizeof p, path, key);
    json_t *x = json_object_get(obj, key);
    if (x == NULL || json_is_null(x)) {
        if (required) {
            mapping_report(v, LSC_LOG_ERROR, path[0] ? path : "",
                           "missing \"%s\"", key);
        }
        return NULL;
    }
    if (!json_is_string(x) || json_string_length(x) == 0) {
        mapping_report(v, LSC_LOG_ERROR, p, "must be a non-empty string");
        return NULL;
    }
    return json_string_value(x);
}

static long long get_int(struct mapping_ctx *v, json_t *obj, const char *path,
                         const char *key, long long def, long long lo,
                         long long hi, const char *hint)
{
    char p[256];
    mapping_join(p, sizeof p, path, key);
    json_t *x = json_object_get(obj, key);
    if (x == NULL) {
        return def;
    }
    if (!json_is_integer(x)) {
        mapping_report(v, LSC_LOG_ERROR, p, "must be an integer");
        return def;
    }
    long long n = json_integer_value(x);
    if (n < lo || n > hi) {
        mapping_report(v, LSC_LOG_ERROR, p,
                       "%lld is out of range %lld..%lld%s%s", n, lo, hi,
                       hint ? "; hint: " : "", hint ? hint : "");
        return def;
    }
    return n;
}

static void check_url(struct mapping_ctx *v, const char *path, const char *url)
{
    if (url != NULL && !http_url_allowed(url)) {
        mapping_report(v, LSC_LOG_ERROR, path,
                       "\"%s\" is not an https:// URL (plain http:// is "
                       "allowed only to 127.0.0.1 or localhost)", url);
    }
}

static void parse_api(struct mapping_ctx *v, json_t *root,
                      struct hubspot_config *c)
{
    json_t *api = json_object_get(root, "api");
    if (api != NULL && !json_is_object(api)) {
        mapping_report(v, LSC_LOG_ERROR, "api", "must be an object");
        api = NULL;
    }
    static const char *const known[] = {"base_url", "version", "token_url",
                                        "authorize_url", NULL};
    if (api != NULL) {
        mapping_unknown_keys(v, api, "api", known);
    }
    const char *base = api ? get_str(v, api, "api", "base_url", false) : NULL;
    const char *ver = api ? get_str(v, api, "api", "version", false) : NULL;
    const char *tok = api ? get_str(v, api, "api", "token_url", false) : NULL;
    const char *az = api ? get_str(v, api, "api", "authorize_url", false)
                         : NULL;
    check_url(v, "api.base_url", base);
    check_url(v, "api.token_url", tok);
    check_url(v, "api.authorize_url", az);
    if (ver != NULL && strcmp(ver, "2026-03") != 0 && strcmp(ver, "v3") != 0) {
        mapping_report(v, LSC_LOG_ERROR, "api.version",
                       "unknown API version \"%s\"; hint: use \"2026-03\" "
                       "(default) or \"v3\"", ver);
        ver = NULL;
    }
    c->base_url = dupv(v, base ? base : HUBSPOT_DEFAULT_BASE_URL);
    size_t bl = c->base_url ? strlen(c->base_url) : 0;
    while (bl > 0 && c->base_url[bl - 1] == '/') {
        c->base_url[--bl] = '\0';
    }
    c->api_version = dupv(v, ver ? ver : HUBSPOT_DEFAULT_VERSION);
    c->authorize_url = dupv(v, az ? az : HUBSPOT_DEFAULT_AUTHORIZE_URL);
    if (tok != NULL) {
        c->token_url = dupv(v, tok);
    } else if (c->base_url != NULL && c->api_version != NULL) {
        char p[64];
        hubspot_path(c->api_version, HUBSPOT_EP_TOKEN, p, sizeof p);
        size_t n = bl + strlen(p) + 1;
        c->token_url = malloc(n);
        if (c->token_url == NULL) {
            v->oom = true;
        } else {
            snprintf(c->token_url, n, "%s%s", c->base_url, p);
        }
    }
}

static void parse_auth(struct mapping_ctx *v, json_t *root,
                       struct hubspot_config *c)
{
    json_t *a = json_object_get(root, "auth");
    if (!json_is_object(a)) {
        mapping_report(v, LSC_LOG_ERROR, a ? "auth" : "",
                       a ? "must be an object" : "missing \"auth\"");
        return;
    }
    static const char *const known[] = {"type", "client_id",
                                        "client_secret_env", "token_env",
                                        "redirect_port", "credentials_file",
                                        NULL};
    mapping_unknown_keys(v, a, "auth", known);
    const char *type = get_str(v, a, "auth", "type", true);
    if (type == NULL) {
        return;
    }
    const char *cid = get_str(v, a, "auth", "client_id", false);
    const char *cse = get_str(v, a, "auth", "client_secret_env", false);
    const char *te = get_str(v, a, "auth", "token_env", false);
    const char *cf = get_str(v, a, "auth", "credentials_file", false);
    c->redirect_port = (int)get_int(v, a, "auth", "redirect_port", 8976, 0,
                                    65535, NULL);
    if (strcmp(type, "oauth") == 0) {
        c->auth = HUBSPOT_AUTH_OAUTH;
        if (cid == NULL) {
            mapping_report(v, LSC_LOG_ERROR, "auth",
                           "OAuth needs \"client_id\" (the app's client id)");
        }
        if (cse == NULL) {
            mapping_report(v, LSC_LOG_ERROR, "auth",
                           "OAuth needs \"client_secret_env\"; hint: the "
                           "client secret is read from that environment "
                           "variable, never from this file");
        }
    } else if (strcmp(type, "private_app") == 0 ||
               strcmp(type, "service_key") == 0) {
        c->auth = HUBSPOT_AUTH_STATIC;
        if (te == NULL) {
            mapping_report(v, LSC_LOG_ERROR, "auth",
                           "\"%s\" needs \"token_env\", the environment "
                           "variable holding the token", type);
        }
    } else {
        mapping_report(v, LSC_LOG_ERROR, "auth.type",
                       "unknown auth type \"%s\"; hint: \"oauth\", "
                       "\"private_app\" or \"service_key\"", type);
    }
    if (cse != NULL) {
        mapping_env_name_check(v, "auth.client_secret_env", cse, "secret");
    }
    if (te != NULL) {
        mapping_env_name_check(v, "auth.token_env", te, "token");
    }
    if (cf != NULL && (strchr(cf, '/') != NULL || cf[0] == '.')) {
        mapping_report(v, LSC_LOG_ERROR, "auth.credentials_file",
                       "must be a plain file name (it lives in the data "
                       "directory)");
        cf = NULL;
    }
    c->client_id = dupv(v, cid);
    c->client_secret_env = dupv(v, cse);
    c->token_env = dupv(v, te);
    c->credentials_file = dupv(v, cf ? cf : "hubspot-credentials.json");
}

static void parse_inputs(struct mapping_ctx *v, json_t *root,
                         struct hubspot_config *c)
{
    json_t *in = json_object_get(root, "inputs");
    if (in == NULL) {
        return;
    }
    if (!json_is_object(in)) {
        mapping_report(v, LSC_LOG_ERROR, "inputs",
                       "must be an object {\"hubspot_property\": "
                       "\"model_field\"}");
        return;
    }
    c->inputs = calloc(json_object_size(in) + 1, sizeof *c->inputs);
    if (c->inputs == NULL) {
        v->oom = true;
        return;
    }
    const char *k;
    json_t *val;
    json_object_foreach(in, k, val) {
        char p[256];
        snprintf(p, sizeof p, "inputs.%s", k);
        if (!prop_name_ok(k)) {
            mapping_report(v, LSC_LOG_ERROR, p,
                           "\"%s\" is not a HubSpot internal property name "
                           "(lower case letters, digits, _)", k);
            continue;
        }
        if (!json_is_string(val) || json_string_length(val) == 0) {
            mapping_report(v, LSC_LOG_ERROR, p,
                           "must name the model field it feeds (a string)");
            continue;
        }
        /* A failed copy is not stored: later checks compare every input
         * (v->oom already refuses the mapping). */
        char *prop = dupv(v, k);
        char *field = dupv(v, json_string_value(val));
        if (prop == NULL || field == NULL) {
            free(prop);
            free(field);
            continue;
        }
        c->inputs[c->n_inputs].property = prop;
        c->inputs[c->n_inputs].field = field;
        c->n_inputs++;
    }
}

static const char *const out_keys[HUBSPOT_PROP_COUNT] = {
    "score", "tier", "fit", "engagement", "reasons", "scored_at", "tags"};

/* Group names of an object-form fit/engagement output ("groups": [..])
 * into *out (caller frees with the config).  Returns the property name. */
static const char *parse_group_output(struct mapping_ctx *v, json_t *x,
                                      const char *path, char ***out,
                                      size_t *n, bool *explicit_groups)
{
    static const char *const known[] = {"property", "groups", NULL};
    mapping_unknown_keys(v, x, path, known);
    const char *name = get_str(v, x, path, "property", true);
    json_t *g = json_object_get(x, "groups");
    char p[96];
    snprintf(p, sizeof p, "%s.groups", path);
    if (g == NULL) {
        return name;
    }
    if (!json_is_array(g) || json_array_size(g) == 0) {
        mapping_report(v, LSC_LOG_ERROR, p,
                       "must be a non-empty array of model group names; hint: "
                       "[\"fit\"]");
        return name;
    }
    *out = calloc(json_array_size(g), sizeof **out);
    if (*out == NULL) {
        v->oom = true;
        return name;
    }
    *explicit_groups = true;
    size_t i;
    json_t *e;
    json_array_foreach(g, i, e) {
        char q[128];
        snprintf(q, sizeof q, "%s[%zu]", p, i);
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            json_string_length(e) > 100) {
            mapping_report(v, LSC_LOG_ERROR, q,
                           "must be a model group name (1..100 characters)");
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < *n; j++) {
            dup = dup || strcmp((*out)[j], json_string_value(e)) == 0;
        }
        if (dup) {
            mapping_report(v, LSC_LOG_ERROR, q, "group \"%s\" is listed twice",
                           json_string_value(e));
            continue;
        }
        /* not stored on failure: the duplicate check compares each */
        char *d = dupv(v, json_string_value(e));
        if (d != NULL) {
            (*out)[(*n)++] = d;
        }
    }
    return name;
}

/* The default group list {name} when the mapping gave none. */
static void default_groups(struct mapping_ctx *v, char ***out, size_t *n,
                           const char *name)
{
    if (*out != NULL) {
        return;
    }
    *out = calloc(1, sizeof **out);
    if (*out == NULL || ((*out)[0] = dupv(v, name)) == NULL) {
        v->oom = true;
        return;
    }
    *n = 1;
}

static void parse_outputs(struct mapping_ctx *v, json_t *root,
                          struct hubspot_config *c)
{
    json_t *o = json_object_get(root, "outputs");
    if (!json_is_object(o)) {
        mapping_report(v, LSC_LOG_ERROR, o ? "outputs" : "",
                       o ? "must be an object" : "missing \"outputs\"");
        return;
    }
    static const char *const known[] = {"group", "score", "tier", "fit",
                                        "engagement", "reasons", "scored_at",
                                        "tags", "sync_scores", NULL};
    mapping_unknown_keys(v, o, "outputs", known);
    char **slots[HUBSPOT_PROP_COUNT] = {
        &c->prop_score, &c->prop_tier, &c->prop_fit, &c->prop_engagement,
        &c->prop_reasons, &c->prop_scored_at, &c->prop_tags};
    for (int k = 0; k < HUBSPOT_PROP_COUNT; k++) {
        char p[64];
        snprintf(p, sizeof p, "outputs.%s", out_keys[k]);
        json_t *x = json_object_get(o, out_keys[k]);
        const char *name;
        if ((k == HUBSPOT_PROP_FIT || k == HUBSPOT_PROP_ENGAGEMENT) &&
            json_is_object(x)) {
            /* {"property": .., "groups": [..]}: which model groups */
            bool fit = k == HUBSPOT_PROP_FIT;
            name = parse_group_output(
                v, x, p, fit ? &c->fit_groups : &c->engagement_groups,
                fit ? &c->n_fit_groups : &c->n_engagement_groups,
                fit ? &c->fit_groups_explicit
                    : &c->engagement_groups_explicit);
            snprintf(p, sizeof p, "outputs.%s.property", out_keys[k]);
        } else if ((k == HUBSPOT_PROP_FIT || k == HUBSPOT_PROP_ENGAGEMENT) &&
                   x != NULL && !json_is_null(x) && !json_is_string(x)) {
            mapping_report(v, LSC_LOG_ERROR, p,
                           "must be a property name or {\"property\": NAME, "
                           "\"groups\": [GROUP, ...]}");
            name = NULL;
        } else {
            name = get_str(v, o, "outputs", out_keys[k],
                           k <= HUBSPOT_PROP_TIER);
        }
        if (name == NULL) {
            continue;
        }
        if (!prop_name_ok(name)) {
            mapping_report(v, LSC_LOG_ERROR, p,
                           "\"%s\" is not a valid HubSpot property name "
                           "(lower case letters, digits, _; starts with a "
                           "letter)", name);
            continue;
        }
        if (strncmp(name, "hs_", 3) == 0) {
            mapping_report(v, LSC_LOG_ERROR, p,
                           "\"%s\": the hs_ prefix is reserved for HubSpot's "
                           "own properties", name);
            continue;
        }
        for (int j = 0; j < k; j++) {
            if (*slots[j] != NULL && strcmp(*slots[j], name) == 0) {
                mapping_report(v, LSC_LOG_ERROR, p,
                               "\"%s\" is already used for outputs.%s", name,
                               out_keys[j]);
            }
        }
        for (size_t i = 0; i < c->n_inputs; i++) {
            if (strcmp(c->inputs[i].property, name) == 0) {
                mapping_report(v, LSC_LOG_ERROR, p,
                               "\"%s\" is also an input; hint: writing a "
                               "score into a property the model reads makes a "
                               "feedback loop", name);
            }
        }
        *slots[k] = dupv(v, name);
    }
    default_groups(v, &c->fit_groups, &c->n_fit_groups, "fit");
    default_groups(v, &c->engagement_groups, &c->n_engagement_groups,
                   "engagement");
    json_t *sync = json_object_get(o, "sync_scores");
    c->sync_scores = true;
    if (sync != NULL) {
        if (!json_is_boolean(sync)) {
            mapping_report(v, LSC_LOG_ERROR, "outputs.sync_scores",
                           "must be true or false");
        } else {
            c->sync_scores = json_is_true(sync);
        }
    }
    json_t *g = json_object_get(o, "group");
    const char *gn = "leadscore";
    const char *gl = "Lead scoring";
    if (g != NULL) {
        if (!json_is_object(g)) {
            mapping_report(v, LSC_LOG_ERROR, "outputs.group",
                           "must be an object {\"name\":..,\"label\":..}");
        } else {
            static const char *const gk[] = {"name", "label", NULL};
            mapping_unknown_keys(v, g, "outputs.group", gk);
            const char *n = get_str(v, g, "outputs.group", "name", false);
            const char *l = get_str(v, g, "outputs.group", "label", false);
            if (n != NULL && !prop_name_ok(n)) {
                mapping_report(v, LSC_LOG_ERROR, "outputs.group.name",
                               "\"%s\" is not a valid group name", n);
            } else if (n != NULL) {
                gn = n;
            }
            if (l != NULL) {
                gl = l;
            }
        }
    }
    c->group_name = dupv(v, gn);
    c->group_label = dupv(v, gl);
}

static void parse_tiers(struct mapping_ctx *v, json_t *root,
                        struct hubspot_config *c)
{
    json_t *t = json_object_get(root, "tiers");
    if (!json_is_array(t) || json_array_size(t) == 0) {
        mapping_report(v, LSC_LOG_ERROR, t ? "tiers" : "",
                       t ? "must be a non-empty array of tier names"
                         : "missing \"tiers\" (the model's tiers, used as "
                           "the tier property's options)");
        return;
    }
    c->tiers = calloc(json_array_size(t), sizeof *c->tiers);
    if (c->tiers == NULL) {
        v->oom = true;
        return;
    }
    jsonpos_find_nearest(v->pos, "tiers", true, &c->tiers_line,
                         &c->tiers_col);
    size_t i;
    json_t *x;
    json_array_foreach(t, i, x) {
        char p[64];
        snprintf(p, sizeof p, "tiers[%zu]", i);
        if (!json_is_string(x) || json_string_length(x) == 0 ||
            json_string_length(x) > 100) {
            mapping_report(v, LSC_LOG_ERROR, p,
                           "must be a tier name (1..100 chars)");
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < c->n_tiers; j++) {
            dup = dup || strcmp(c->tiers[j], json_string_value(x)) == 0;
        }
        if (dup) {
            mapping_report(v, LSC_LOG_ERROR, p, "duplicate tier \"%s\"",
                           json_string_value(x));
            continue;
        }
        /* not stored on failure: has_tier() compares each */
        char *d = dupv(v, json_string_value(x));
        if (d != NULL) {
            c->tiers[c->n_tiers++] = d;
        }
    }
}

static void parse_limits(struct mapping_ctx *v, json_t *root,
                         struct hubspot_config *c)
{
    retry_policy_default(&c->retry);
    c->rate_max = 100;
    c->rate_interval_ms = 10000;
    c->rate_max_wait_ms = 10000;
    c->batch_size = HUBSPOT_BATCH_MAX;
    c->timeout_ms = 30000;
    c->connect_timeout_ms = 10000;
    c->refresh_skew_ms = OAUTH_DEFAULT_SKEW_MS;
    json_t *l = json_object_get(root, "limits");
    if (l == NULL) {
        return;
    }
    if (!json_is_object(l)) {
        mapping_report(v, LSC_LOG_ERROR, "limits", "must be an object");
        return;
    }
    static const char *const known[] = {
        "requests_per_interval", "interval_ms", "max_wait_ms", "batch_size",
        "timeout_ms", "connect_timeout_ms", "max_attempts", "backoff_base_ms",
        "backoff_cap_ms", "give_up_after_s", "refresh_before_expiry_s", NULL};
    mapping_unknown_keys(v, l, "limits", known);
    c->rate_max = (int)get_int(v, l, "limits", "requests_per_interval", 100,
                               1, 1000,
                               "HubSpot allows 100-250 per 10 s by plan");
    c->rate_interval_ms = get_int(v, l, "limits", "interval_ms", 10000, 100,
                                  600000, NULL);
    c->rate_max_wait_ms = get_int(v, l, "limits", "max_wait_ms", 10000, 0,
                                  120000, NULL);
    c->batch_size = (int)get_int(v, l, "limits", "batch_size", 100, 1,
                                 HUBSPOT_BATCH_MAX,
                                 "HubSpot batch calls take at most 100 "
                                 "inputs");
    c->timeout_ms = (long)get_int(v, l, "limits", "timeout_ms", 30000, 100,
                                  600000, NULL);
    c->connect_timeout_ms = (long)get_int(v, l, "limits",
                                          "connect_timeout_ms", 10000, 100,
                                          120000, NULL);
    c->retry.max_attempts = (uint32_t)get_int(v, l, "limits", "max_attempts",
                                              10, 1, 100, NULL);
    c->retry.base_ms = get_int(v, l, "limits", "backoff_base_ms", 1000, 1,
                               3600000, NULL);
    c->retry.cap_ms = get_int(v, l, "limits", "backoff_cap_ms", 300000, 1,
                              86400000, NULL);
    c->retry.max_total_ms = get_int(v, l, "limits", "give_up_after_s", 86400,
                                    1, 30 * 86400, NULL) * 1000;
    c->refresh_skew_ms = get_int(v, l, "limits", "refresh_before_expiry_s",
                                 300, 0, 1500, NULL) * 1000;
    if (c->retry.cap_ms < c->retry.base_ms) {
        mapping_report(v, LSC_LOG_ERROR, "limits.backoff_cap_ms",
                       "must be at least backoff_base_ms");
    }
}

static bool has_tier(const struct hubspot_config *c, const char *t)
{
    for (size_t i = 0; i < c->n_tiers; i++) {
        if (strcmp(c->tiers[i], t) == 0) {
            return true;
        }
    }
    return false;
}

static void parse_actions(struct mapping_ctx *v, json_t *root,
                          struct hubspot_config *c)
{
    json_t *a = mapping_actions(v, root);
    if (a == NULL) {
        return;
    }
    c->actions = calloc(json_array_size(a) + 1, sizeof *c->actions);
    if (c->actions == NULL) {
        v->oom = true;
        return;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        char p[64];
        json_t *x = mapping_action(v, a, i, p, sizeof p);
        if (x == NULL) {
            continue;
        }
        struct hubspot_action *ac = &c->actions[c->n_actions];
        const char *on = get_str(v, x, p, "on", true);
        const char *tier = get_str(v, x, p, "tier", true);
        bool bad = on == NULL || tier == NULL;
        bool leave = false;
        if (on != NULL && !mapping_action_on(v, p, on, &leave)) {
            bad = true;
        }
        ac->on = leave ? HUBSPOT_ON_LEAVE : HUBSPOT_ON_ENTER;
        char q[96];
        if (tier != NULL && c->n_tiers > 0 && !has_tier(c, tier)) {
            snprintf(q, sizeof q, "%s.tier", p);
            mapping_report(v, LSC_LOG_ERROR, q,
                           "unknown tier \"%s\" (not in tiers)", tier);
            bad = true;
        }
        json_t *wt = json_object_get(x, "write_tier");
        if (wt != NULL && !json_is_boolean(wt)) {
            snprintf(q, sizeof q, "%s.write_tier", p);
            mapping_report(v, LSC_LOG_ERROR, q, "must be true or false");
        }
        ac->write_tier = json_is_true(wt);
        const char *tag = get_str(v, x, p, "tag", false);
        if (tag != NULL && c->prop_tags == NULL) {
            snprintf(q, sizeof q, "%s.tag", p);
            mapping_report(v, LSC_LOG_ERROR, q,
                           "a tag action needs outputs.tags (the "
                           "multi-checkbox property that holds the tags)");
        }
        if (tag != NULL && strchr(tag, ';') != NULL) {
            snprintf(q, sizeof q, "%s.tag", p);
            mapping_report(v, LSC_LOG_ERROR, q,
                           "\"%s\": a tag may not contain ';' (HubSpot's "
                           "checkbox separator)", tag);
            tag = NULL;
        }
        json_t *wh = json_object_get(x, "webhook");
        const char *url = NULL;
        const char *sec = NULL;
        if (wh != NULL) {
            snprintf(q, sizeof q, "%s.webhook", p);
            if (!json_is_object(wh)) {
                mapping_report(v, LSC_LOG_ERROR, q,
                               "must be {\"url\":..,\"secret_env\":..}");
            } else {
                static const char *const wk[] = {"url", "secret_env", NULL};
                mapping_unknown_keys(v, wh, q, wk);
                url = get_str(v, wh, q, "url", true);
                sec = get_str(v, wh, q, "secret_env", true);
                char r[128];
                snprintf(r, sizeof r, "%s.url", q);
                check_url(v, r, url);
                if (sec != NULL) {
                    snprintf(r, sizeof r, "%s.secret_env", q);
                    mapping_env_name_check(v, r, sec, "secret");
                }
            }
        }
        if (!ac->write_tier && tag == NULL && wh == NULL) {
            mapping_report(v, LSC_LOG_WARN, p,
                           "the action does nothing; hint: set write_tier, "
                           "tag or webhook");
        }
        if (bad) {
            continue;
        }
        ac->tier = dupv(v, tier);
        ac->tag = dupv(v, tag);
        ac->webhook_url = dupv(v, url);
        ac->webhook_secret_env = dupv(v, sec);
        c->n_actions++;
    }
}

enum lsc_status hubspot_config_parse(const char *path, const char *text,
                                     size_t len, hubspot_diag_fn diag,
                                     void *ud, struct hubspot_config *out,
                                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* HubSpot points at keys (or the nearest parent) and cuts messages at
     * 320 bytes. */
    struct mapping_ctx v = {.file = path ? path : "(mapping)",
                            .diag = diag,
                            .ud = ud,
                            .where = MAPPING_AT_KEY_OR_PARENT,
                            .msg_size = 320};
    v.pos = jsonpos_create(text, len);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    enum lsc_status rc = LSC_OK;
    if (root == NULL) {
        mapping_report_at(&v, LSC_LOG_ERROR, "", je.line, je.column, "%s",
                          je.text);
        snprintf(err, errlen, "%s:%d:%d: %s", v.file, je.line, je.column,
                 je.text);
        rc = LSC_ERR_CONFIG;
        goto out;
    }
    if (!json_is_object(root)) {
        mapping_report(&v, LSC_LOG_ERROR, "",
                       "the mapping must be a JSON object");
        goto done;
    }
    static const char *const known[] = {"schema", "connector", "api",
                                        "auth",
                                        "contacts", "inputs", "outputs",
                                        "tiers", "limits", "actions",
                                        "description", NULL};
    mapping_unknown_keys(&v, root, "", known);
    const char *schema = get_str(&v, root, "", "schema", true);
    if (schema != NULL && strcmp(schema, HUBSPOT_SCHEMA) != 0) {
        mapping_report(&v, LSC_LOG_ERROR, "schema",
                       "unsupported schema \"%s\"; hint: \"%s\"", schema,
                       HUBSPOT_SCHEMA);
    }
    /* "connector" names the connector in every mapping. */
    const char *conn = get_str(&v, root, "", "connector", true);
    if (conn != NULL && strcmp(conn, "hubspot") != 0) {
        mapping_report(&v, LSC_LOG_ERROR, "connector",
                       "this file is for connector \"%s\", not \"hubspot\"",
                       conn);
    }
    out->path = dupv(&v, v.file);
    parse_api(&v, root, out);
    parse_auth(&v, root, out);
    json_t *contacts = json_object_get(root, "contacts");
    if (contacts != NULL) {
        static const char *const ck[] = {"id_property", NULL};
        if (!json_is_object(contacts)) {
            mapping_report(&v, LSC_LOG_ERROR, "contacts", "must be an object");
        } else {
            mapping_unknown_keys(&v, contacts, "contacts", ck);
            const char *idp = get_str(&v, contacts, "contacts",
                                      "id_property", false);
            if (idp != NULL && !prop_name_ok(idp)) {
                mapping_report(&v, LSC_LOG_ERROR, "contacts.id_property",
                               "\"%s\" is not a property name", idp);
            } else {
                out->id_property = dupv(&v, idp);
            }
        }
    }
    parse_inputs(&v, root, out);
    parse_outputs(&v, root, out);
    parse_tiers(&v, root, out);
    parse_limits(&v, root, out);
    parse_actions(&v, root, out);
    if (!v.oom) {
        out->scopes = hubspot_scopes(out);
        if (out->scopes == NULL) {
            v.oom = true;
        }
    }
done:
    if (v.oom) {
        snprintf(err, errlen, "out of memory");
        rc = LSC_ERR_NOMEM;
    } else if (v.errors > 0) {
        snprintf(err, errlen, "%s (%zu error%s)", v.first, v.errors,
                 v.errors == 1 ? "" : "s");
        rc = LSC_ERR_CONFIG;
    }
out:
    json_decref(root);
    jsonpos_destroy(v.pos);
    if (rc != LSC_OK) {
        hubspot_config_finish(out);
    }
    return rc;
}

enum lsc_status hubspot_config_load(const char *path, hubspot_diag_fn diag,
                                    void *ud, struct hubspot_config *out,
                                    char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s", path);
        return LSC_ERR_IO;
    }
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "out of memory");
                return LSC_ERR_NOMEM;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) {
            break;
        }
        if (len > 4 * 1024 * 1024) {
            free(buf);
            fclose(f);
            snprintf(err, errlen, "%s is too large", path);
            return LSC_ERR_CONFIG;
        }
    }
    fclose(f);
    enum lsc_status rc = hubspot_config_parse(path, buf ? buf : "", len, diag,
                                              ud, out, err, errlen);
    free(buf);
    return rc;
}

void hubspot_config_finish(struct hubspot_config *c)
{
    if (c == NULL) {
        return;
    }
    free(c->path);
    free(c->base_url);
    free(c->api_version);
    free(c->token_url);
    free(c->authorize_url);
    free(c->client_id);
    free(c->client_secret_env);
    free(c->token_env);
    free(c->scopes);
    free(c->credentials_file);
    free(c->id_property);
    for (size_t i = 0; c->inputs && i < c->n_inputs; i++) {
        free(c->inputs[i].property);
        free(c->inputs[i].field);
    }
    free(c->inputs);
    free(c->group_name);
    free(c->group_label);
    free(c->prop_score);
    free(c->prop_tier);
    free(c->prop_fit);
    free(c->prop_engagement);
    free(c->prop_reasons);
    free(c->prop_scored_at);
    free(c->prop_tags);
    for (size_t i = 0; c->fit_groups && i < c->n_fit_groups; i++) {
        free(c->fit_groups[i]);
    }
    free(c->fit_groups);
    for (size_t i = 0; c->engagement_groups && i < c->n_engagement_groups;
         i++) {
        free(c->engagement_groups[i]);
    }
    free(c->engagement_groups);
    for (size_t i = 0; c->tiers && i < c->n_tiers; i++) {
        free(c->tiers[i]);
    }
    free(c->tiers);
    for (size_t i = 0; c->actions && i < c->n_actions; i++) {
        free(c->actions[i].tier);
        free(c->actions[i].tag);
        free(c->actions[i].webhook_url);
        free(c->actions[i].webhook_secret_env);
    }
    free(c->actions);
    memset(c, 0, sizeof *c);
}
