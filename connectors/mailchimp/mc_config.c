/*
 * Mailchimp connector mapping (config/connectors/mailchimp.json, schema
 * "leadscore.connector/1", "connector": "mailchimp"): defaults, loading, and a
 * validator that reports every problem with file, line, column and JSON
 * path (struct lsc_diagnostic).  The format is documented in
 * docs/connectors/mailchimp.md.
 *
 * jansson does not keep positions of values, so a small scanner walks
 * the text once and records where each JSON path starts.
 */
#include "mailchimp.h"

#include "core/mapping.h"
#include "jsonpos.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- defaults, copy, destroy -------------------------------------------- */

static int sdup(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL) {
        return 0;
    }
    *dst = strdup(src);
    return *dst == NULL ? -1 : 0;
}

enum lsc_status mailchimp_config_init(struct mailchimp_config *c)
{
    memset(c, 0, sizeof *c);
    int rc = sdup(&c->auth, "api_key") | sdup(&c->api_key_env,
                                              "MAILCHIMP_API_KEY") |
             sdup(&c->credentials_file, "mailchimp-oauth.json") |
             sdup(&c->client_secret_env, "MAILCHIMP_CLIENT_SECRET") |
             sdup(&c->score_tag, "LSCORE") | sdup(&c->score_name,
                                                  "Lead score") |
             sdup(&c->tier_tag, "LTIER") | sdup(&c->tier_name, "Lead tier") |
             sdup(&c->email_property, "email") |
             sdup(&c->contact_id_from, "email") |
             sdup(&c->create_status, "transactional");
    c->unknown_members = MAILCHIMP_UNKNOWN_SKIP;
    c->tags_trigger_automations = true;
    c->max_connections = MAILCHIMP_MAX_CONNECTIONS;
    c->timeout_ms = MAILCHIMP_TIMEOUT_MS;
    c->max_attempts = 3;
    c->activity_import = true;
    c->activity_lookback_days = 30;
    c->activity_overlap_minutes = 60;
    c->backoff_base_ms = 500;
    c->job_backoff_base_ms = 30000;
    c->job_backoff_cap_ms = 3600000;
    c->redirect_port = 3000;
    return rc != 0 ? LSC_ERR_NOMEM : LSC_OK;
}

void mailchimp_config_destroy(struct mailchimp_config *c)
{
    if (c == NULL) {
        return;
    }
    char **strs[] = {&c->list_id,        &c->auth,          &c->api_key_env,
                     &c->client_id,      &c->client_secret_env,
                     &c->credentials_file, &c->api_base,    &c->login_base,
                     &c->score_tag,      &c->score_name,    &c->tier_tag,
                     &c->tier_name,      &c->email_property,
                     &c->contact_id_from, &c->create_status};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (size_t i = 0; i < c->n_tiers; i++) {
        free(c->tiers[i].tier);
        free(c->tiers[i].tag);
    }
    free(c->tiers);
    c->tiers = NULL;
    c->n_tiers = 0;
    for (size_t i = 0; i < c->n_campaign_types; i++) {
        free(c->campaign_types[i].mailchimp);
        free(c->campaign_types[i].leadscore);
    }
    free(c->campaign_types);
    c->campaign_types = NULL;
    c->n_campaign_types = 0;
    for (size_t i = 0; i < c->n_actions; i++) {
        free(c->actions[i].tier);
        free(c->actions[i].webhook_url);
        free(c->actions[i].webhook_secret_env);
    }
    free(c->actions);
    c->actions = NULL;
    c->n_actions = 0;
}

enum lsc_status mailchimp_config_copy(struct mailchimp_config *dst,
                                      const struct mailchimp_config *src)
{
    *dst = *src;
    dst->tiers = NULL;
    dst->campaign_types = NULL;
    dst->n_tiers = 0;
    dst->n_campaign_types = 0;
    dst->actions = NULL;
    dst->n_actions = 0;
    int rc = sdup(&dst->list_id, src->list_id) |
             sdup(&dst->auth, src->auth) |
             sdup(&dst->api_key_env, src->api_key_env) |
             sdup(&dst->credentials_file, src->credentials_file) |
             sdup(&dst->client_id, src->client_id) |
             sdup(&dst->client_secret_env, src->client_secret_env) |
             sdup(&dst->api_base, src->api_base) |
             sdup(&dst->login_base, src->login_base) |
             sdup(&dst->score_tag, src->score_tag) |
             sdup(&dst->score_name, src->score_name) |
             sdup(&dst->tier_tag, src->tier_tag) |
             sdup(&dst->tier_name, src->tier_name) |
             sdup(&dst->email_property, src->email_property) |
             sdup(&dst->contact_id_from, src->contact_id_from) |
             sdup(&dst->create_status, src->create_status);
    if (src->n_tiers > 0) {
        dst->tiers = calloc(src->n_tiers, sizeof *dst->tiers);
        rc |= dst->tiers == NULL ? -1 : 0;
        for (size_t i = 0; dst->tiers != NULL && i < src->n_tiers; i++) {
            rc |= sdup(&dst->tiers[i].tier, src->tiers[i].tier) |
                  sdup(&dst->tiers[i].tag, src->tiers[i].tag);
            dst->n_tiers = i + 1;
        }
    }
    if (src->n_actions > 0) {
        dst->actions = calloc(src->n_actions, sizeof *dst->actions);
        rc |= dst->actions == NULL ? -1 : 0;
        for (size_t i = 0; dst->actions != NULL && i < src->n_actions; i++) {
            dst->actions[i].on_leave = src->actions[i].on_leave;
            rc |= sdup(&dst->actions[i].tier, src->actions[i].tier) |
                  sdup(&dst->actions[i].webhook_url,
                       src->actions[i].webhook_url) |
                  sdup(&dst->actions[i].webhook_secret_env,
                       src->actions[i].webhook_secret_env);
            dst->n_actions = i + 1;
        }
    }
    if (src->n_campaign_types > 0) {
        dst->campaign_types =
            calloc(src->n_campaign_types, sizeof *dst->campaign_types);
        rc |= dst->campaign_types == NULL ? -1 : 0;
        for (size_t i = 0;
             dst->campaign_types != NULL && i < src->n_campaign_types; i++) {
            rc |= sdup(&dst->campaign_types[i].mailchimp,
                       src->campaign_types[i].mailchimp) |
                  sdup(&dst->campaign_types[i].leadscore,
                       src->campaign_types[i].leadscore);
            dst->n_campaign_types = i + 1;
        }
    }
    if (rc != 0) {
        mailchimp_config_destroy(dst);
        return LSC_ERR_NOMEM;
    }
    return LSC_OK;
}

void mailchimp_config_tier_tag(const struct mailchimp_config *c,
                               const char *tier, char *out, size_t outlen)
{
    for (size_t i = 0; i < c->n_tiers; i++) {
        if (strcmp(c->tiers[i].tier, tier) == 0) {
            snprintf(out, outlen, "%s", c->tiers[i].tag);
            return;
        }
    }
    snprintf(out, outlen, "leadscore-%s", tier);
}

const char *mailchimp_config_campaign_type(const struct mailchimp_config *c,
                                           const char *type)
{
    for (size_t i = 0; type != NULL && i < c->n_campaign_types; i++) {
        if (strcmp(c->campaign_types[i].mailchimp, type) == 0) {
            return c->campaign_types[i].leadscore;
        }
    }
    return type;
}

/* ---- validation --------------------------------------------------------- */

/* Object member `key` of `parent` (NULL when absent).  Reports a wrong
 * type. */
static json_t *get_obj(struct mapping_ctx *v, json_t *parent,
                       const char *path, const char *key, char *sub,
                       size_t subn)
{
    mapping_join(sub, subn, path, key);
    json_t *o = json_object_get(parent, key);
    if (o != NULL && !json_is_object(o)) {
        mapping_report(v, LSC_LOG_ERROR, sub, "must be an object");
        return NULL;
    }
    return o;
}

/* Optional string; on success replaces *dst.  Out of memory is an error:
 * callers read *dst once this returns true. */
static bool get_str(struct mapping_ctx *v, json_t *parent, const char *path,
                    const char *key, char **dst, bool required)
{
    char p[256];
    mapping_join(p, sizeof p, path, key);
    json_t *s = json_object_get(parent, key);
    if (s == NULL) {
        if (required) {
            mapping_report(v, LSC_LOG_ERROR, path[0] ? path : "",
                           "missing required key \"%s\"", key);
        }
        return false;
    }
    if (!json_is_string(s) || json_string_length(s) == 0) {
        mapping_report(v, LSC_LOG_ERROR, p, "must be a non-empty string");
        return false;
    }
    if (dst != NULL) {
        char *d = strdup(json_string_value(s));
        if (d == NULL) {
            mapping_report(v, LSC_LOG_ERROR, p, "out of memory");
            return false;
        }
        free(*dst);
        *dst = d;
    }
    return true;
}

/* Copies a and b for the list entry at path into *da and *db, or reports
 * "out of memory" there and leaves both NULL; have false: the list itself
 * could not be allocated. */
static bool dup_pair(struct mapping_ctx *v, const char *path, bool have,
                     const char *a, const char *b, char **da, char **db)
{
    *da = have ? strdup(a) : NULL;
    *db = have ? strdup(b) : NULL;
    if (*da == NULL || *db == NULL) {
        free(*da);
        free(*db);
        *da = NULL;
        *db = NULL;
        mapping_report(v, LSC_LOG_ERROR, path, "out of memory");
        return false;
    }
    return true;
}

/* Optional integer in [lo, hi] into *dst; reports anything else. */
static void get_int(struct mapping_ctx *v, json_t *parent, const char *path,
                    const char *key, long lo, long hi, const char *hint,
                    long *dst)
{
    char p[256];
    mapping_join(p, sizeof p, path, key);
    json_t *j = json_object_get(parent, key);
    if (j == NULL) {
        return;
    }
    if (!json_is_integer(j) || json_integer_value(j) < lo ||
        json_integer_value(j) > hi) {
        mapping_report(v, LSC_LOG_ERROR, p,
                       "must be an integer from %ld to %ld%s%s", lo, hi,
                       hint != NULL ? "; hint: " : "",
                       hint != NULL ? hint : "");
        return;
    }
    *dst = (long)json_integer_value(j);
}

/* Optional boolean into *dst; reports anything else. */
static void get_bool(struct mapping_ctx *v, json_t *parent, const char *path,
                     const char *key, bool *dst)
{
    char p[256];
    mapping_join(p, sizeof p, path, key);
    json_t *j = json_object_get(parent, key);
    if (j == NULL) {
        return;
    }
    if (!json_is_boolean(j)) {
        mapping_report(v, LSC_LOG_ERROR, p, "must be true or false");
        return;
    }
    *dst = json_is_true(j);
}

/* True when s is in the NULL-terminated set. */
static bool one_of(const char *s, const char *const *set)
{
    for (size_t i = 0; s != NULL && set[i] != NULL; i++) {
        if (strcmp(s, set[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* True for plain-http loopback URLs (allowed for tests). */
static bool loopback_http(const char *u)
{
    static const char *const ok[] = {"http://127.0.0.1", "http://localhost",
                                     "http://[::1]"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(ok[i]);
        if (strncmp(u, ok[i], n) == 0 &&
            (u[n] == ':' || u[n] == '/' || u[n] == '\0')) {
            return true;
        }
    }
    return false;
}

/* An optional base URL: https://, or http:// on loopback. */
static void check_base(struct mapping_ctx *v, json_t *o, const char *path,
                       const char *key, char **dst)
{
    char p[256];
    mapping_join(p, sizeof p, path, key);
    if (get_str(v, o, path, key, dst, false) &&
        strncmp(*dst, "https://", 8) != 0 && !loopback_http(*dst)) {
        mapping_report(v, LSC_LOG_ERROR, p, "must be an https:// URL "
                       "(plain http only on loopback)");
    }
}

/* "actions": the signed webhook on tier transitions, as in a HubSpot
 * mapping; tag and write_tier are HubSpot's (our tier tags follow
 * "tiers"). */
static void parse_actions(struct mapping_ctx *v, json_t *root,
                          struct mailchimp_config *c)
{
    json_t *a = mapping_actions(v, root);
    if (a == NULL) {
        return;
    }
    c->actions = calloc(json_array_size(a) + 1, sizeof *c->actions);
    if (c->actions == NULL) {
        mapping_report(v, LSC_LOG_ERROR, "actions", "out of memory");
        return;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        char p[64], q[96], r[128];
        json_t *x = mapping_action(v, a, i, p, sizeof p);
        if (x == NULL) {
            continue;
        }
        if (json_object_get(x, "tag") != NULL ||
            json_object_get(x, "write_tier") != NULL) {
            snprintf(q, sizeof q, "%s.%s", p,
                     json_object_get(x, "tag") != NULL ? "tag" : "write_tier");
            mapping_report(v, LSC_LOG_ERROR, q,
                           "HubSpot only; the Mailchimp tier tags follow "
                           "\"tiers\"");
        }
        struct mailchimp_action ac = {0};
        /* An "on" get_str() refused (missing, empty, not a string) is
         * reported once, as HubSpot does; only a non-empty string is
         * checked as a transition. */
        bool on_ok = get_str(v, x, p, "on", NULL, true);
        bool bad = !get_str(v, x, p, "tier", &ac.tier, true) || !on_ok;
        snprintf(q, sizeof q, "%s.tier", p);
        mapping_model_tier(v, q, ac.tier, "this action never fires");
        const char *on = json_string_value(json_object_get(x, "on"));
        if (on_ok && !mapping_action_on(v, p, on, &ac.on_leave)) {
            bad = true;
        }
        snprintf(q, sizeof q, "%s.webhook", p);
        json_t *wh = get_obj(v, x, p, "webhook", q, sizeof q);
        if (json_object_get(x, "webhook") == NULL) {
            mapping_report(v, LSC_LOG_ERROR, p,
                           "missing required key \"webhook\"");
            bad = true;
        } else if (wh == NULL) {
            bad = true;
        } else {
            static const char *const wk[] = {"url", "secret_env", NULL};
            mapping_unknown_keys(v, wh, q, wk);
            check_base(v, wh, q, "url", &ac.webhook_url);
            bad |= ac.webhook_url == NULL;
            if (json_object_get(wh, "url") == NULL) {
                mapping_report(v, LSC_LOG_ERROR, q,
                               "missing required key \"url\"");
            }
            bad |= !get_str(v, wh, q, "secret_env", &ac.webhook_secret_env,
                            true);
            if (ac.webhook_secret_env != NULL) {
                snprintf(r, sizeof r, "%s.secret_env", q);
                bad |= !mapping_env_name_check(v, r, ac.webhook_secret_env,
                                               "secret");
            }
        }
        if (bad) {
            free(ac.tier);
            free(ac.webhook_url);
            free(ac.webhook_secret_env);
            continue;
        }
        c->actions[c->n_actions++] = ac;
    }
}

/* Checks every key of the mapping `root` (borrowed) and fills c. */
static void validate(struct mapping_ctx *v, json_t *root,
                     struct mailchimp_config *c)
{
    static const char *const top[] = {"schema", "connector", "name",
                                      "auth", "audience", "fields",
                                      "contact", "unknown_members", "tiers",
                                      "tags", "activity", "limits", "api",
                                      "actions", "description", NULL};
    char p[256];
    mapping_unknown_keys(v, root, "", top);

    json_t *schema = json_object_get(root, "schema");
    if (schema == NULL) {
        mapping_report(v, LSC_LOG_ERROR, "",
                       "missing required key \"schema\"; hint: "
                       "\"schema\": \"" MAILCHIMP_SCHEMA "\"");
    } else if (!json_is_string(schema) ||
               strcmp(json_string_value(schema), MAILCHIMP_SCHEMA) != 0) {
        mapping_report(v, LSC_LOG_ERROR, "schema",
                       "must be \"" MAILCHIMP_SCHEMA "\"");
    }
    /* "connector" names the connector in every mapping. */
    json_t *type = json_object_get(root, "connector");
    if (type == NULL) {
        mapping_report(v, LSC_LOG_ERROR, "",
                       "missing required key \"connector\"; hint: "
                       "\"connector\": \"mailchimp\"");
    } else if (!json_is_string(type) ||
               strcmp(json_string_value(type), "mailchimp") != 0) {
        mapping_report(v, LSC_LOG_ERROR, "connector",
                       "must be \"mailchimp\" for this connector");
    }
    if (json_object_get(root, "name") != NULL) {
        get_str(v, root, "", "name", NULL, false);
    }

    json_t *auth = get_obj(v, root, "", "auth", p, sizeof p);
    if (auth != NULL) {
        static const char *const k[] = {"type", "api_key_env", "client_id",
                                        "client_secret_env", "redirect_port",
                                        "credentials_file", NULL};
        static const char *const methods[] = {"api_key", "oauth", NULL};
        mapping_unknown_keys(v, auth, "auth", k);
        if (get_str(v, auth, "auth", "type", &c->auth, false) &&
            !one_of(c->auth, methods)) {
            mapping_report(v, LSC_LOG_ERROR, "auth.type",
                           "must be \"api_key\" or \"oauth\"");
        }
        get_str(v, auth, "auth", "api_key_env", &c->api_key_env, false);
        get_str(v, auth, "auth", "client_id", &c->client_id, false);
        get_str(v, auth, "auth", "client_secret_env", &c->client_secret_env,
                false);
        /* HubSpot's rule; the key's variable name also names the
         * re-authorisation file: no path, no key pasted in. */
        if (json_is_string(json_object_get(auth, "api_key_env")) &&
            c->api_key_env != NULL) {
            mapping_env_name_check(v, "auth.api_key_env", c->api_key_env,
                                   "key");
        }
        if (json_is_string(json_object_get(auth, "client_secret_env")) &&
            c->client_secret_env != NULL) {
            mapping_env_name_check(v, "auth.client_secret_env",
                                   c->client_secret_env, "secret");
        }
        long port = c->redirect_port;
        get_int(v, auth, "auth", "redirect_port", 1, 65535, NULL, &port);
        c->redirect_port = (int)port;
        get_str(v, auth, "auth", "credentials_file", &c->credentials_file,
                false);
        json_t *cf = json_object_get(auth, "credentials_file");
        if (json_is_string(cf) && json_string_value(cf)[0] == '/') {
            mapping_report(v, LSC_LOG_WARN, "auth.credentials_file",
                           "absolute path; hint: a name relative to the "
                           "plugin's data directory keeps the 0600 file in "
                           "one place");
        }
    }

    json_t *aud = get_obj(v, root, "", "audience", p, sizeof p);
    if (aud == NULL && json_object_get(root, "audience") == NULL) {
        mapping_report(v, LSC_LOG_ERROR, "",
                       "missing required key \"audience\"; hint: "
                       "\"audience\": {\"list_id\": \"...\"} (Audience > "
                       "Settings > Audience name and defaults)");
    }
    if (aud != NULL) {
        static const char *const k[] = {"list_id", NULL};
        mapping_unknown_keys(v, aud, "audience", k);
        if (get_str(v, aud, "audience", "list_id", &c->list_id, true)) {
            for (const char *s = c->list_id; *s != '\0'; s++) {
                if (!isalnum((unsigned char)*s)) {
                    mapping_report(v, LSC_LOG_ERROR, "audience.list_id",
                                   "an audience id has only letters and "
                                   "digits (like \"a1b2c3d4e5\")");
                    break;
                }
            }
        }
    }

    json_t *fields = get_obj(v, root, "", "fields", p, sizeof p);
    if (fields != NULL) {
        static const char *const k[] = {"score", "tier", NULL};
        static const char *const fk[] = {"tag", "name", NULL};
        mapping_unknown_keys(v, fields, "fields", k);
        const char *names[] = {"score", "tier"};
        char **tags[] = {&c->score_tag, &c->tier_tag};
        char **labels[] = {&c->score_name, &c->tier_name};
        for (int i = 0; i < 2; i++) {
            char fp[64];
            json_t *f = get_obj(v, fields, "fields", names[i], fp, sizeof fp);
            if (f == NULL) {
                continue;
            }
            mapping_unknown_keys(v, f, fp, fk);
            char tp[96];
            mapping_join(tp, sizeof tp, fp, "tag");
            if (get_str(v, f, fp, "tag", tags[i], false) &&
                !mailchimp_merge_tag_valid(*tags[i])) {
                mapping_report(v, LSC_LOG_ERROR, tp,
                               "a merge tag is 1 to 10 characters of A-Z, 0-9 "
                               "and _; hint: \"%s\"",
                               i == 0 ? "LSCORE" : "LTIER");
            }
            get_str(v, f, fp, "name", labels[i], false);
        }
        if (strcmp(c->score_tag, c->tier_tag) == 0) {
            mapping_report(v, LSC_LOG_ERROR, "fields.tier.tag",
                           "the score and tier merge tags must differ");
        }
    }

    json_t *contact = get_obj(v, root, "", "contact", p, sizeof p);
    if (contact != NULL) {
        static const char *const k[] = {"email_property", "id_from", NULL};
        static const char *const ids[] = {"email", "subscriber_hash", NULL};
        mapping_unknown_keys(v, contact, "contact", k);
        get_str(v, contact, "contact", "email_property", &c->email_property,
                false);
        if (get_str(v, contact, "contact", "id_from", &c->contact_id_from,
                    false) &&
            !one_of(c->contact_id_from, ids)) {
            mapping_report(v, LSC_LOG_ERROR, "contact.id_from",
                           "must be \"email\" or \"subscriber_hash\"");
        }
    }

    json_t *um = get_obj(v, root, "", "unknown_members", p, sizeof p);
    if (um != NULL) {
        static const char *const k[] = {"action", "status_if_new", NULL};
        static const char *const acts[] = {"skip", "create", NULL};
        static const char *const sts[] = {"subscribed", "unsubscribed",
                                          "pending", "transactional", NULL};
        mapping_unknown_keys(v, um, "unknown_members", k);
        char *action = NULL;
        if (get_str(v, um, "unknown_members", "action", &action, false)) {
            if (!one_of(action, acts)) {
                mapping_report(v, LSC_LOG_ERROR, "unknown_members.action",
                               "must be \"skip\" (default) or \"create\"");
            } else {
                c->unknown_members = strcmp(action, "create") == 0
                                         ? MAILCHIMP_UNKNOWN_CREATE
                                         : MAILCHIMP_UNKNOWN_SKIP;
            }
        }
        free(action);
        if (get_str(v, um, "unknown_members", "status_if_new",
                    &c->create_status, false)) {
            if (!one_of(c->create_status, sts)) {
                mapping_report(v, LSC_LOG_ERROR,
                               "unknown_members.status_if_new",
                               "must be one of subscribed, unsubscribed, "
                               "pending, transactional");
            } else if (strcmp(c->create_status, "subscribed") == 0) {
                mapping_report(v, LSC_LOG_WARN,
                               "unknown_members.status_if_new",
                               "\"subscribed\" adds people who never opted in "
                               "to your marketing; hint: \"pending\" sends a "
                               "confirmation email, \"transactional\" adds "
                               "them without marketing consent");
            }
        }
    }

    json_t *tiers = json_object_get(root, "tiers");
    if (json_is_array(tiers)) {
        /* HubSpot's form: the model's tier names; tags get the default
         * "leadscore-<tier>". */
        size_t n = json_array_size(tiers);
        c->tiers = n > 0 ? calloc(n, sizeof *c->tiers) : NULL;
        size_t i;
        json_t *t;
        json_array_foreach(tiers, i, t) {
            char tp[64];
            snprintf(tp, sizeof tp, "tiers[%zu]", i);
            if (!json_is_string(t) || json_string_length(t) == 0 ||
                json_string_length(t) > MAILCHIMP_MEMBER_TAG_MAX - 10) {
                mapping_report(v, LSC_LOG_ERROR, tp,
                               "must be a tier name (1..90 characters)");
                continue;
            }
            char tag[MAILCHIMP_MEMBER_TAG_MAX + 16];
            snprintf(tag, sizeof tag, "leadscore-%s", json_string_value(t));
            char *tier;
            char *tg;
            if (!dup_pair(v, tp, c->tiers != NULL, json_string_value(t), tag,
                          &tier, &tg)) {
                continue;
            }
            c->tiers[c->n_tiers].tier = tier;
            c->tiers[c->n_tiers].tag = tg;
            c->n_tiers++;
        }
        tiers = NULL;
    } else if (tiers != NULL && !json_is_object(tiers)) {
        mapping_report(v, LSC_LOG_ERROR, "tiers",
                       "must be an object {tier: tag} or an array of tier "
                       "names");
        tiers = NULL;
    }
    if (tiers != NULL) {
        size_t n = json_object_size(tiers);
        c->tiers = n > 0 ? calloc(n, sizeof *c->tiers) : NULL;
        const char *k;
        json_t *t;
        json_object_foreach(tiers, k, t) {
            char tp[256];
            mapping_join(tp, sizeof tp, "tiers", k);
            mapping_model_tier(v, tp, k, "its tag is never set");
            if (!json_is_string(t) || json_string_length(t) == 0 ||
                json_string_length(t) > MAILCHIMP_MEMBER_TAG_MAX) {
                mapping_report(v, LSC_LOG_ERROR, tp,
                               "a tier's tag is a string of 1 to 100 "
                               "characters");
                continue;
            }
            for (size_t i = 0; i < c->n_tiers; i++) {
                if (strcmp(c->tiers[i].tag, json_string_value(t)) == 0) {
                    mapping_report(v, LSC_LOG_ERROR, tp,
                                   "tag \"%s\" is already used by tier "
                                   "\"%s\"; each tier needs its own tag to be "
                                   "its own segment", json_string_value(t),
                                   c->tiers[i].tier);
                }
            }
            /* No array (calloc failed) refuses the mapping, as in the
             * array form: dropping the tier would give it the default
             * tag. */
            char *tier;
            char *tag;
            if (!dup_pair(v, tp, c->tiers != NULL, k, json_string_value(t),
                          &tier, &tag)) {
                continue;
            }
            c->tiers[c->n_tiers].tier = tier;
            c->tiers[c->n_tiers].tag = tag;
            c->n_tiers++;
        }
    }

    json_t *tags = get_obj(v, root, "", "tags", p, sizeof p);
    if (tags != NULL) {
        static const char *const k[] = {"trigger_automations", NULL};
        mapping_unknown_keys(v, tags, "tags", k);
        get_bool(v, tags, "tags", "trigger_automations",
                 &c->tags_trigger_automations);
    }

    json_t *act = get_obj(v, root, "", "activity", p, sizeof p);
    if (act != NULL) {
        static const char *const k[] = {"import", "lookback_days",
                                        "overlap_minutes", "campaign_types",
                                        NULL};
        mapping_unknown_keys(v, act, "activity", k);
        get_bool(v, act, "activity", "import", &c->activity_import);
        long l = c->activity_lookback_days;
        get_int(v, act, "activity", "lookback_days", 1, 3650, NULL, &l);
        c->activity_lookback_days = (int)l;
        l = c->activity_overlap_minutes;
        get_int(v, act, "activity", "overlap_minutes", 0, 10080, NULL, &l);
        c->activity_overlap_minutes = (int)l;
        json_t *ct = get_obj(v, act, "activity", "campaign_types", p,
                             sizeof p);
        if (ct != NULL) {
            size_t n = json_object_size(ct);
            c->campaign_types = n > 0 ? calloc(n, sizeof *c->campaign_types)
                                      : NULL;
            const char *key;
            json_t *val;
            json_object_foreach(ct, key, val) {
                char tp[256];
                mapping_join(tp, sizeof tp, "activity.campaign_types", key);
                if (!json_is_string(val) || json_string_length(val) == 0) {
                    mapping_report(v, LSC_LOG_ERROR, tp,
                                   "must be a non-empty string (the "
                                   "campaign_type your model's rules test)");
                    continue;
                }
                /* No array (calloc failed) refuses the mapping: dropping
                 * the type would hand the model Mailchimp's name. */
                char *mk;
                char *lk;
                if (!dup_pair(v, tp, c->campaign_types != NULL, key,
                              json_string_value(val), &mk, &lk)) {
                    continue;
                }
                size_t i = c->n_campaign_types++;
                c->campaign_types[i].mailchimp = mk;
                c->campaign_types[i].leadscore = lk;
            }
        }
    }

    json_t *lim = get_obj(v, root, "", "limits", p, sizeof p);
    if (lim != NULL) {
        static const char *const k[] = {"max_connections", "timeout_ms",
                                        "max_attempts", "backoff_base_ms",
                                        "job_backoff_base_ms",
                                        "job_backoff_cap_ms", NULL};
        mapping_unknown_keys(v, lim, "limits", k);
        long l = c->max_connections;
        get_int(v, lim, "limits", "max_connections", 1,
                MAILCHIMP_MAX_CONNECTIONS,
                "Mailchimp allows 10 simultaneous connections per user, "
                "shared by every app of that user",
                &l);
        c->max_connections = (int)l;
        l = c->timeout_ms;
        get_int(v, lim, "limits", "timeout_ms", 100, MAILCHIMP_TIMEOUT_MS,
                "Mailchimp ends every call at 120 s", &l);
        c->timeout_ms = l;
        l = c->max_attempts;
        get_int(v, lim, "limits", "max_attempts", 1, 10, NULL, &l);
        c->max_attempts = (int)l;
        l = c->backoff_base_ms;
        get_int(v, lim, "limits", "backoff_base_ms", 1, 60000, NULL, &l);
        c->backoff_base_ms = l;
        l = c->job_backoff_base_ms;
        get_int(v, lim, "limits", "job_backoff_base_ms", 1, 3600000, NULL,
                &l);
        c->job_backoff_base_ms = l;
        l = c->job_backoff_cap_ms;
        get_int(v, lim, "limits", "job_backoff_cap_ms", 1, 86400000, NULL,
                &l);
        c->job_backoff_cap_ms = l;
        if (c->job_backoff_cap_ms < c->job_backoff_base_ms) {
            mapping_report(v, LSC_LOG_ERROR, "limits.job_backoff_cap_ms",
                           "must be at least job_backoff_base_ms");
        }
    }

    parse_actions(v, root, c);

    json_t *ep = get_obj(v, root, "", "api", p, sizeof p);
    if (ep != NULL) {
        static const char *const k[] = {"base_url", "login_url", NULL};
        mapping_unknown_keys(v, ep, "api", k);
        check_base(v, ep, "api", "base_url", &c->api_base);
        check_base(v, ep, "api", "login_url", &c->login_base);
    }
}

static enum lsc_status parse(const char *text, size_t len, const char *file,
                             const char *const *tiers, size_t n_tiers,
                             mailchimp_diag_fn diag, void *ud,
                             struct mailchimp_config *out, size_t *n_errors)
{
    /* Mailchimp points at values (0:0 for a missing one) and cuts
     * messages at 512 bytes. */
    struct mapping_ctx v = {.file = file != NULL ? file : "",
                            .diag = diag,
                            .ud = ud,
                            .where = MAPPING_AT_VALUE,
                            .msg_size = 512,
                            .model_tiers = tiers,
                            .n_model_tiers = n_tiers};
    struct mailchimp_config c;
    enum lsc_status st = mailchimp_config_init(&c);
    if (st != LSC_OK) {
        mailchimp_config_destroy(&c);
        memset(out, 0, sizeof *out);
        return st;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        mapping_report_at(&v, LSC_LOG_ERROR, "", je.line > 0 ? je.line : 0,
                          je.column > 0 ? je.column : 0, "not valid JSON: %s",
                          je.text);
    } else if (!json_is_object(root)) {
        v.pos = jsonpos_create(text, len);
        mapping_report(&v, LSC_LOG_ERROR, "",
                       "the mapping must be a JSON object");
    } else {
        v.pos = jsonpos_create(text, len);
        validate(&v, root, &c);
    }
    json_decref(root);
    jsonpos_destroy(v.pos);
    if (n_errors != NULL) {
        *n_errors = v.errors;
    }
    if (v.errors > 0) {
        mailchimp_config_destroy(&c);
        memset(out, 0, sizeof *out);
        return LSC_ERR_CONFIG;
    }
    *out = c;
    return LSC_OK;
}

enum lsc_status mailchimp_config_parse(const char *text, size_t len,
                                       const char *file,
                                       mailchimp_diag_fn diag, void *ud,
                                       struct mailchimp_config *out,
                                       size_t *n_errors)
{
    return parse(text, len, file, NULL, 0, diag, ud, out, n_errors);
}

enum lsc_status mailchimp_config_load(const char *path,
                                      mailchimp_diag_fn diag, void *ud,
                                      struct mailchimp_config *out,
                                      size_t *n_errors)
{
    return mailchimp_config_load_for_model(path, NULL, 0, diag, ud, out,
                                           n_errors);
}

enum lsc_status mailchimp_config_load_for_model(const char *path,
                                                const char *const *tiers,
                                                size_t n_tiers,
                                                mailchimp_diag_fn diag,
                                                void *ud,
                                                struct mailchimp_config *out,
                                                size_t *n_errors)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    if (fp != NULL) {
        size_t cap = 0;
        for (;;) {
            if (len + 4096 > cap) {
                cap = (len + 4096) * 2;
                char *nb = cap <= (8u << 20) ? realloc(buf, cap) : NULL;
                if (nb == NULL) {
                    break;
                }
                buf = nb;
            }
            size_t n = fread(buf + len, 1, cap - len, fp);
            len += n;
            if (n == 0) {
                break;
            }
        }
        bool bad = ferror(fp) != 0 || !feof(fp);
        fclose(fp);
        if (bad) {
            free(buf);
            buf = NULL;
        }
    }
    if (buf == NULL) {
        int e = errno;
        if (n_errors != NULL) {
            *n_errors = 1;
        }
        if (diag != NULL) {
            char msg[256];
            snprintf(msg, sizeof msg, "cannot read the mapping: %s",
                     fp == NULL ? strerror(e) : "read error or too large");
            struct lsc_diagnostic d = {.struct_size = sizeof d,
                                       .severity = LSC_LOG_ERROR,
                                       .file = path,
                                       .json_path = "",
                                       .message = msg};
            diag(ud, &d);
        }
        return LSC_ERR_IO;
    }
    enum lsc_status st =
        parse(buf, len, path, tiers, n_tiers, diag, ud, out, n_errors);
    free(buf);
    return st;
}
