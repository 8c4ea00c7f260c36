/*
 * HubSpot connector: paths and request bodies (pure).  Shapes follow
 * ../shared/docs/crm-apis.md sections 1.3 and 1.4 and HubSpot's OpenAPI
 * schemas (BatchReadInputSimplePublicObjectId, BatchInputSimplePublic-
 * ObjectBatchInput, PropertyCreate, OptionInput, PropertyGroupCreate).
 */
#include "hubspot.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/http.h"

void hubspot_path(const char *version, enum hubspot_endpoint ep, char *out,
                  size_t outlen)
{
    bool dated = version == NULL || strcmp(version, "v3") != 0;
    const char *v = dated ? (version ? version : HUBSPOT_DEFAULT_VERSION)
                          : "v3";
    char objects[64];
    char props[64];
    if (dated) {
        snprintf(objects, sizeof objects, "/crm/objects/%s/contacts", v);
        snprintf(props, sizeof props, "/crm/properties/%s/contacts", v);
    } else {
        snprintf(objects, sizeof objects, "/crm/v3/objects/contacts");
        snprintf(props, sizeof props, "/crm/v3/properties/contacts");
    }
    switch (ep) {
    case HUBSPOT_EP_CONTACTS:
        snprintf(out, outlen, "%s", objects);
        break;
    case HUBSPOT_EP_BATCH_READ:
        snprintf(out, outlen, "%s/batch/read", objects);
        break;
    case HUBSPOT_EP_BATCH_UPDATE:
        snprintf(out, outlen, "%s/batch/update", objects);
        break;
    case HUBSPOT_EP_PROPERTIES:
        snprintf(out, outlen, "%s", props);
        break;
    case HUBSPOT_EP_GROUPS:
        snprintf(out, outlen, "%s/groups", props);
        break;
    case HUBSPOT_EP_TOKEN:
        snprintf(out, outlen, "/oauth/%s/token", v);
        break;
    }
}

char *hubspot_url(const struct hubspot_config *c, enum hubspot_endpoint ep,
                  const char *suffix)
{
    char p[96];
    hubspot_path(c->api_version, ep, p, sizeof p);
    size_t n = strlen(c->base_url) + strlen(p) + (suffix ? strlen(suffix) : 0) +
               1;
    char *u = malloc(n);
    if (u != NULL) {
        snprintf(u, n, "%s%s%s", c->base_url, p, suffix ? suffix : "");
    }
    return u;
}

char *hubspot_scopes(const struct hubspot_config *c)
{
    (void)c;
    /* read for batch read/list and confirm, write for batch update,
     * schemas write for setup (crm-apis.md 1.1). */
    return strdup("oauth crm.objects.contacts.read crm.objects.contacts.write "
                  "crm.schemas.contacts.write");
}

static char *dump(json_t *j)
{
    if (j == NULL) {
        return NULL;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

char *hubspot_build_group(const struct hubspot_config *c)
{
    return dump(json_pack("{s:s, s:s, s:i}", "name", c->group_name, "label",
                          c->group_label, "displayOrder", -1));
}

const char *hubspot_prop_name(const struct hubspot_config *c,
                              enum hubspot_prop_kind k)
{
    switch (k) {
    case HUBSPOT_PROP_SCORE: return c->prop_score;
    case HUBSPOT_PROP_TIER: return c->prop_tier;
    case HUBSPOT_PROP_FIT: return c->prop_fit;
    case HUBSPOT_PROP_ENGAGEMENT: return c->prop_engagement;
    case HUBSPOT_PROP_REASONS: return c->prop_reasons;
    case HUBSPOT_PROP_SCORED_AT: return c->prop_scored_at;
    case HUBSPOT_PROP_TAGS: return c->prop_tags;
    case HUBSPOT_PROP_COUNT: break;
    }
    return NULL;
}

/* "hot-lead" -> "Hot-lead" */
static json_t *option(const char *value, int order)
{
    char label[128];
    snprintf(label, sizeof label, "%s", value);
    label[0] = (char)toupper((unsigned char)label[0]);
    return json_pack("{s:s, s:s, s:i, s:b}", "label", label, "value", value,
                     "displayOrder", order, "hidden", 0);
}

static json_t *tier_options(const struct hubspot_config *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < c->n_tiers; i++) {
        json_array_append_new(a, option(c->tiers[i], (int)i));
    }
    return a;
}

static json_t *tag_options(const struct hubspot_config *c)
{
    json_t *a = json_array();
    int order = 0;
    for (size_t i = 0; a != NULL && i < c->n_actions; i++) {
        const char *t = c->actions[i].tag;
        if (t == NULL) {
            continue;
        }
        bool seen = false;
        for (size_t j = 0; j < i; j++) {
            seen = seen || (c->actions[j].tag != NULL &&
                            strcmp(c->actions[j].tag, t) == 0);
        }
        if (!seen) {
            json_array_append_new(a, option(t, order++));
        }
    }
    return a;
}

char *hubspot_build_property(const struct hubspot_config *c,
                             enum hubspot_prop_kind k, bool only_options)
{
    const char *name = hubspot_prop_name(c, k);
    if (name == NULL) {
        return NULL;
    }
    const char *label = "";
    const char *type = "number";
    const char *field = "number";
    const char *desc = "";
    json_t *options = NULL;
    switch (k) {
    case HUBSPOT_PROP_SCORE:
        label = "Lead score";
        desc = "leadscore: the contact's score (0..scale max)";
        break;
    case HUBSPOT_PROP_TIER:
        label = "Lead tier";
        type = "enumeration";
        field = "select";
        desc = "leadscore: the contact's tier";
        options = tier_options(c);
        break;
    case HUBSPOT_PROP_FIT:
        label = "Lead fit";
        desc = "leadscore: points from who the contact is";
        break;
    case HUBSPOT_PROP_ENGAGEMENT:
        label = "Lead engagement";
        desc = "leadscore: points from what the contact did";
        break;
    case HUBSPOT_PROP_REASONS:
        label = "Lead score reasons";
        type = "string";
        field = "textarea";
        desc = "leadscore: the rules that contribute most";
        break;
    case HUBSPOT_PROP_SCORED_AT:
        label = "Lead scored at";
        type = "datetime";
        field = "date";
        desc = "leadscore: when the score was computed";
        break;
    case HUBSPOT_PROP_TAGS:
        label = "Lead score tags";
        type = "enumeration";
        field = "checkbox";
        desc = "leadscore: tags set by tier actions";
        options = tag_options(c);
        break;
    case HUBSPOT_PROP_COUNT:
        return NULL;
    }
    if (only_options) {
        if (options == NULL) {
            return NULL;
        }
        return dump(json_pack("{s:o}", "options", options));
    }
    /* Only PropertyCreate fields of both the v3 and the 2026-03 schemas:
     * no numberDisplayHint (v3's schema lacks it; the default display is
     * what a score wants anyway). */
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "name", name,
                          "label", label, "groupName", c->group_name, "type",
                          type, "fieldType", field, "description", desc,
                          "formField", 0);
    if (o != NULL && options != NULL) {
        json_object_set_new(o, "options", options);
        options = NULL;
    }
    json_decref(options);
    return dump(o);
}

char *hubspot_build_batch_read(const char *const *ids, size_t n,
                               const char *const *props, size_t n_props,
                               const char *id_property)
{
    if (n == 0 || n > HUBSPOT_BATCH_MAX) {
        return NULL;
    }
    json_t *in = json_array();
    json_t *pr = json_array();
    for (size_t i = 0; in != NULL && i < n; i++) {
        json_array_append_new(in, json_pack("{s:s}", "id", ids[i]));
    }
    for (size_t i = 0; pr != NULL && i < n_props; i++) {
        /* each property once (the id property may also be a mapped input) */
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++) {
            seen = strcmp(props[k], props[i]) == 0;
        }
        if (!seen) {
            json_array_append_new(pr, json_string(props[i]));
        }
    }
    json_t *o = json_pack("{s:o, s:o, s:[]}", "inputs", in, "properties", pr,
                          "propertiesWithHistory");
    if (o != NULL && id_property != NULL) {
        json_object_set_new(o, "idProperty", json_string(id_property));
    }
    return dump(o);
}

char *hubspot_build_batch_update(const struct hubspot_update *u, size_t n,
                                 const char *id_property)
{
    if (n == 0 || n > HUBSPOT_BATCH_MAX) {
        return NULL;
    }
    json_t *in = json_array();
    for (size_t i = 0; in != NULL && i < n; i++) {
        json_t *p = json_object();
        for (size_t k = 0; p != NULL && k < u[i].n_props; k++) {
            json_object_set_new(p, u[i].props[k].name,
                                json_string(u[i].props[k].value
                                                ? u[i].props[k].value
                                                : ""));
        }
        json_t *e = json_pack("{s:s}", "id", u[i].id);
        if (e != NULL && id_property != NULL) {
            json_object_set_new(e, "idProperty", json_string(id_property));
        }
        if (e != NULL && p != NULL) {
            json_object_set_new(e, "properties", p);
            p = NULL;
        }
        json_decref(p);
        json_array_append_new(in, e);
    }
    return dump(json_pack("{s:o}", "inputs", in));
}

char *hubspot_build_list_query(const struct hubspot_config *c, int limit,
                               const char *after)
{
    size_t cap = 64;
    for (size_t i = 0; i < c->n_inputs; i++) {
        cap += strlen(c->inputs[i].property) + 1;
    }
    char *ea = after ? http_escape(after) : NULL;
    if (after != NULL && ea == NULL) {
        return NULL;
    }
    cap += ea ? strlen(ea) + 8 : 0;
    cap += c->id_property ? strlen(c->id_property) + 1 : 0;
    char *q = malloc(cap);
    if (q == NULL) {
        free(ea);
        return NULL;
    }
    size_t o = (size_t)snprintf(q, cap, "?limit=%d&archived=false", limit);
    const char *sep = "&properties=";
    if (c->id_property != NULL) {
        o += (size_t)snprintf(q + o, cap - o, "%s%s", sep, c->id_property);
        sep = ",";
    }
    for (size_t i = 0; i < c->n_inputs; i++) {
        o += (size_t)snprintf(q + o, cap - o, "%s%s", sep,
                              c->inputs[i].property);
        sep = ",";
    }
    if (ea != NULL) {
        snprintf(q + o, cap - o, "&after=%s", ea);
    }
    free(ea);
    return q;
}
