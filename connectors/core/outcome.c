/*
 * Connector core: classification of HTTP attempts (see outcome.h).
 */
#include "outcome.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

enum lsc_status outcome_http_status_class(long s)
{
    if (s >= 200 && s < 300) {
        return LSC_OK;
    }
    if (s == 401) {
        return LSC_ERR_AUTH;
    }
    if (s == 408 || s == 423 || s == 429 || s == 477 || (s >= 500 && s < 600)) {
        return LSC_ERR_RETRYABLE;
    }
    return LSC_ERR_PERMANENT;
}

/* Copies src into out replacing control characters (keeps one line). */
static void one_line(char *out, size_t outlen, const char *src)
{
    size_t o = 0;
    for (const char *p = src; *p && o + 1 < outlen; p++) {
        out[o++] = ((unsigned char)*p < 0x20) ? ' ' : *p;
    }
    out[o] = '\0';
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void outcome_error_reason(long status, const char *body, size_t len,
                          char *out, size_t outlen)
{
    char tmp[512];
    json_t *j = NULL;
    if (body != NULL && len > 0) {
        j = json_loadb(body, len, 0, NULL);
    }
    if (json_is_object(j)) {
        const char *category = jstr(j, "category");
        const char *msg = jstr(j, "message");
        const char *corr = jstr(j, "correlationId");
        const char *oerr = jstr(j, "error");
        const char *odesc = jstr(j, "error_description");
        const char *title = jstr(j, "title");
        const char *detail = jstr(j, "detail");
        const char *policy = jstr(j, "policyName");
        const char *etype = jstr(j, "errorType");
        if (msg != NULL || category != NULL) {
            snprintf(tmp, sizeof tmp, "HTTP %ld %s: %s%s%s%s%s", status,
                     category ? category : (etype ? etype : "error"),
                     msg ? msg : "", policy ? " (" : "",
                     policy ? policy : "", policy ? ")" : "", "");
            if (corr != NULL) {
                size_t l = strlen(tmp);
                snprintf(tmp + l, sizeof tmp - l, " [correlationId %s]", corr);
            }
        } else if (oerr != NULL) {
            snprintf(tmp, sizeof tmp, "HTTP %ld %s%s%s", status, oerr,
                     odesc ? ": " : "", odesc ? odesc : "");
        } else if (title != NULL) {
            snprintf(tmp, sizeof tmp, "HTTP %ld %s%s%s", status, title,
                     detail ? ": " : "", detail ? detail : "");
        } else {
            snprintf(tmp, sizeof tmp, "HTTP %ld", status);
        }
    } else if (body != NULL && len > 0 && len < 200 && body[0] != '<') {
        snprintf(tmp, sizeof tmp, "HTTP %ld: %.*s", status, (int)len, body);
    } else {
        snprintf(tmp, sizeof tmp, "HTTP %ld", status);
    }
    json_decref(j);
    one_line(out, outlen, tmp);
}

void outcome_classify(enum lsc_status transport,
                      const struct http_response *resp, int64_t now_ms,
                      struct outcome *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after_ms = -1;
    if (transport != LSC_OK) {
        switch (transport) {
        case LSC_ERR_TIMEOUT:
        case LSC_ERR_RETRYABLE:
        case LSC_ERR_NOMEM:
            out->status = LSC_ERR_RETRYABLE;
            break;
        case LSC_OK:
        case LSC_ERR_INVALID_ARG:
        case LSC_ERR_ABI:
        case LSC_ERR_CONFIG:
        case LSC_ERR_IO:
        case LSC_ERR_PERMANENT:
        case LSC_ERR_PARSE:
        case LSC_ERR_UNSUPPORTED:
        case LSC_ERR_INTERNAL:
        case LSC_ERR_NOT_FOUND:
        case LSC_ERR_CORRUPT:
        case LSC_ERR_AUTH:
        case LSC_DEFERRED:
        default:
            out->status = LSC_ERR_PERMANENT;
            break;
        }
        one_line(out->reason, sizeof out->reason,
                 resp && resp->error[0] ? resp->error
                                        : lsc_status_str(transport));
        return;
    }
    out->http_status = resp->status;
    out->status = outcome_http_status_class(resp->status);
    out->retry_after_ms = http_response_retry_after_ms(resp, now_ms);
    if (out->status == LSC_OK) {
        snprintf(out->reason, sizeof out->reason, "HTTP %ld", resp->status);
        return;
    }
    outcome_error_reason(resp->status, resp->body, resp->body_len,
                         out->reason, sizeof out->reason);
    if (resp->status == 429) {
        out->rate_limited = true;
        out->daily_limit = resp->body != NULL &&
                           strstr(resp->body, "\"DAILY\"") != NULL;
    }
    if (resp->status == 400 && resp->body != NULL &&
        strstr(resp->body, "\"invalid_grant\"") != NULL) {
        out->status = LSC_ERR_AUTH;
    }
}
