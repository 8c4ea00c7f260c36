/*
 * HubSpot connector: answer parsers (pure).  Every field is optional in
 * HubSpot's error bodies (crm-apis.md 1.6): parse defensively.
 */
#include "hubspot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Is one 207 error retryable? */
static bool error_retryable(json_t *e)
{
    const char *cat = jstr(e, "category");
    if (cat != NULL && (strcmp(cat, "RATE_LIMITS") == 0 ||
                        strcmp(cat, "LOCKED") == 0 ||
                        strcmp(cat, "INTERNAL_ERROR") == 0 ||
                        strcmp(cat, "TIMEOUT") == 0)) {
        return true;
    }
    json_t *st = json_object_get(e, "status");
    long s = 0;
    if (json_is_integer(st)) {
        s = (long)json_integer_value(st);
    } else if (json_is_string(st)) {
        s = strtol(json_string_value(st), NULL, 10);
    }
    return s == 429 || s == 423 || s == 408 || (s >= 500 && s < 600);
}

static void error_reason(json_t *e, char *out, size_t outlen)
{
    const char *cat = jstr(e, "category");
    const char *msg = jstr(e, "message");
    snprintf(out, outlen, "%s: %s", cat ? cat : "error",
             msg ? msg : "(no message)");
    for (char *p = out; *p; p++) {
        if ((unsigned char)*p < 0x20) {
            *p = ' ';
        }
    }
}

static bool json_array_has_id(json_t *arr, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        if (json_is_string(x) && strcmp(json_string_value(x), id) == 0) {
            return true;
        }
    }
    return false;
}

enum lsc_status hubspot_parse_batch_result(long http_status, const char *body,
                                           size_t len,
                                           const char *const *ids, size_t n,
                                           bool by_record_id,
                                           struct hubspot_input_result *res,
                                           char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        res[i].status = LSC_OK;
        res[i].rate_limited = false;
        res[i].reason[0] = '\0';
    }
    if (http_status != 207 && http_status != 200) {
        snprintf(err, errlen, "not a batch answer (HTTP %ld)", http_status);
        return LSC_ERR_INVALID_ARG;
    }
    json_error_t je;
    json_t *j = json_loadb(body ? body : "", body ? len : 0, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        if (http_status == 200) {
            return LSC_OK; /* success needs no body */
        }
        snprintf(err, errlen, "207 answer is not JSON: %d:%d: %s", je.line,
                 je.column, je.text);
        return LSC_ERR_PARSE;
    }
    json_t *errors = json_object_get(j, "errors");
    json_t *results = json_object_get(j, "results");
    size_t k;
    json_t *e;
    bool named_any = false;
    json_array_foreach(errors, k, e) {
        json_t *ctx = json_object_get(e, "context");
        json_t *eids = json_object_get(ctx, "ids");
        if (!json_is_array(eids)) {
            eids = json_object_get(ctx, "id");
        }
        for (size_t i = 0; i < n; i++) {
            if (json_is_array(eids) && json_array_has_id(eids, ids[i])) {
                res[i].status = error_retryable(e) ? LSC_ERR_RETRYABLE
                                                   : LSC_ERR_PERMANENT;
                const char *cat = jstr(e, "category");
                res[i].rate_limited = cat != NULL &&
                                      strcmp(cat, "RATE_LIMITS") == 0;
                error_reason(e, res[i].reason, sizeof res[i].reason);
                named_any = true;
            }
        }
    }
    if (http_status == 207 && by_record_id && json_is_array(results)) {
        json_t *first = json_array_size(errors) > 0
                            ? json_array_get(errors, 0)
                            : NULL;
        for (size_t i = 0; i < n; i++) {
            if (res[i].status != LSC_OK) {
                continue;
            }
            bool found = false;
            size_t r;
            json_t *x;
            json_array_foreach(results, r, x) {
                const char *id = jstr(x, "id");
                if (id != NULL && strcmp(id, ids[i]) == 0) {
                    found = true;
                    break;
                }
            }
            if (!found) {
                res[i].status = first && error_retryable(first)
                                    ? LSC_ERR_RETRYABLE
                                    : LSC_ERR_PERMANENT;
                if (first) {
                    error_reason(first, res[i].reason, sizeof res[i].reason);
                } else {
                    snprintf(res[i].reason, sizeof res[i].reason,
                             "not in the batch results");
                }
            }
        }
    } else if (http_status == 207 && !named_any &&
               json_array_size(errors) > 0) {
        /* errors we cannot attribute: retry all rather than lose any */
        for (size_t i = 0; i < n; i++) {
            res[i].status = LSC_ERR_RETRYABLE;
            error_reason(json_array_get(errors, 0), res[i].reason,
                         sizeof res[i].reason);
        }
    }
    json_decref(j);
    return LSC_OK;
}

enum lsc_status hubspot_parse_contacts(const char *body, size_t len,
                                       hubspot_contact_fn fn, void *ud,
                                       char **next_after, char *err,
                                       size_t errlen)
{
    if (next_after != NULL) {
        *next_after = NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(body ? body : "", body ? len : 0, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, errlen, "contacts answer is not JSON: %d:%d: %s",
                 je.line, je.column, je.text);
        return LSC_ERR_PARSE;
    }
    json_t *results = json_object_get(j, "results");
    if (!json_is_array(results)) {
        json_decref(j);
        snprintf(err, errlen, "contacts answer lacks results[]");
        return LSC_ERR_PARSE;
    }
    enum lsc_status rc = LSC_OK;
    size_t i;
    json_t *x;
    json_array_foreach(results, i, x) {
        const char *id = jstr(x, "id");
        json_t *props = json_object_get(x, "properties");
        if (id == NULL) {
            continue;
        }
        size_t np = json_is_object(props) ? json_object_size(props) : 0;
        struct lsc_prop *pv = calloc(np + 1, sizeof *pv);
        if (pv == NULL) {
            rc = LSC_ERR_NOMEM;
            snprintf(err, errlen, "out of memory");
            break;
        }
        size_t k = 0;
        const char *key;
        json_t *val;
        json_object_foreach(props, key, val) {
            pv[k].key = key;
            if (json_is_string(val)) {
                pv[k].value.type = LSC_VAL_STRING;
                pv[k].value.u.str.ptr = json_string_value(val);
                pv[k].value.u.str.len = json_string_length(val);
            } else {
                pv[k].value.type = LSC_VAL_NULL;
            }
            k++;
        }
        rc = fn(ud, id, pv, k);
        free(pv);
        if (rc != LSC_OK) {
            snprintf(err, errlen, "contact %s refused: %s", id,
                     lsc_status_str(rc));
            break;
        }
    }
    if (rc == LSC_OK && next_after != NULL) {
        const char *after =
            jstr(json_object_get(json_object_get(j, "paging"), "next"),
                 "after");
        if (after != NULL) {
            *next_after = strdup(after);
            if (*next_after == NULL) {
                rc = LSC_ERR_NOMEM;
            }
        }
    }
    json_decref(j);
    return rc;
}
