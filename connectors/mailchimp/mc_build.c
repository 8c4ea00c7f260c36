/*
 * Mailchimp request bodies (pure).  Shapes from ../shared/docs/crm-apis.md
 * 2.3 (members), 2.4 (merge fields), 2.5 (tags), 2.6 (batches).  Every
 * function returns a malloc()ed compact JSON string the caller frees, or
 * NULL when out of memory or given invalid arguments.
 */
#include "mailchimp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Steals `j`; returns malloc()ed text or NULL. */
static char *dump(json_t *j)
{
    if (j == NULL) {
        return NULL;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

/* A JSON number: an integer when the value is integral (Mailchimp number
 * merge fields take either). New reference. */
static json_t *number(double v)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 9e15) {
        return json_integer((json_int_t)v);
    }
    return json_real(isfinite(v) ? v : 0.0);
}

/* Adds a {"name":..,"status":..} entry unless the name is already there. */
static int add_tag(json_t *arr, const char *name, const char *status)
{
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it) {
        const char *have = json_string_value(json_object_get(it, "name"));
        if (have != NULL && strcmp(have, name) == 0) {
            return 0;
        }
    }
    return json_array_append_new(arr, json_pack("{s:s,s:s}", "name", name,
                                                 "status", status));
}

char *mailchimp_build_tags(const char *active, const char *const *inactive,
                           size_t n_inactive, bool is_syncing)
{
    json_t *arr = json_array();
    if (arr == NULL) {
        return NULL;
    }
    int rc = 0;
    if (active != NULL) {
        rc |= add_tag(arr, active, "active");
    }
    for (size_t i = 0; i < n_inactive && inactive != NULL; i++) {
        if (inactive[i] != NULL && inactive[i][0] != '\0') {
            rc |= add_tag(arr, inactive[i], "inactive");
        }
    }
    if (rc != 0) {
        json_decref(arr);
        return NULL;
    }
    return dump(json_pack("{s:o,s:b}", "tags", arr, "is_syncing",
                          is_syncing));
}

/* New reference: {"SCORE":n[,"TIER":"t"]}. */
static json_t *merge_fields(const char *score_tag, double score,
                            const char *tier_tag, const char *tier)
{
    json_t *mf = json_object();
    if (mf == NULL) {
        return NULL;
    }
    if (json_object_set_new(mf, score_tag, number(score)) != 0 ||
        (tier != NULL &&
         json_object_set_new(mf, tier_tag, json_string(tier)) != 0)) {
        json_decref(mf);
        return NULL;
    }
    return mf;
}

char *mailchimp_build_member_patch(const char *score_tag, double score,
                                   const char *tier_tag, const char *tier)
{
    if (score_tag == NULL || (tier != NULL && tier_tag == NULL)) {
        return NULL;
    }
    json_t *mf = merge_fields(score_tag, score, tier_tag, tier);
    if (mf == NULL) {
        return NULL;
    }
    return dump(json_pack("{s:o}", "merge_fields", mf));
}

char *mailchimp_build_member_put(const char *email, const char *status_if_new,
                                 const char *score_tag, double score,
                                 const char *tier_tag, const char *tier)
{
    if (email == NULL || status_if_new == NULL || score_tag == NULL ||
        (tier != NULL && tier_tag == NULL)) {
        return NULL;
    }
    json_t *mf = merge_fields(score_tag, score, tier_tag, tier);
    if (mf == NULL) {
        return NULL;
    }
    return dump(json_pack("{s:s,s:s,s:o}", "email_address", email,
                          "status_if_new", status_if_new, "merge_fields",
                          mf));
}

char *mailchimp_build_merge_field(const char *name, const char *type,
                                  const char *tag)
{
    if (name == NULL || type == NULL || tag == NULL) {
        return NULL;
    }
    return dump(json_pack("{s:s,s:s,s:s,s:b,s:b}", "name", name, "type", type,
                          "tag", tag, "required", 0, "public", 0));
}

char *mailchimp_build_batch(const struct mailchimp_batch_op *ops, size_t n)
{
    json_t *arr = json_array();
    if (arr == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (ops[i].method == NULL || ops[i].path == NULL) {
            json_decref(arr);
            return NULL;
        }
        json_t *op = json_pack("{s:s,s:s}", "method", ops[i].method, "path",
                               ops[i].path);
        if (op == NULL) {
            json_decref(arr);
            return NULL;
        }
        if (ops[i].operation_id != NULL) {
            json_object_set_new(op, "operation_id",
                                json_string(ops[i].operation_id));
        }
        if (ops[i].body != NULL) {
            json_object_set_new(op, "body", json_string(ops[i].body));
        }
        if (ops[i].params != NULL) {
            json_t *q = json_loads(ops[i].params, 0, NULL);
            if (!json_is_object(q)) {
                json_decref(q);
                json_decref(op);
                json_decref(arr);
                return NULL;
            }
            json_object_set_new(op, "params", q);
        }
        if (json_array_append_new(arr, op) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return dump(json_pack("{s:o}", "operations", arr));
}
