/*
 * Mailchimp response parsers (pure): problem+json reasons, OAuth token and
 * metadata, merge fields, batch subscribe, times.  Facts:
 * ../shared/docs/crm-apis.md 2.1, 2.2, 2.4, 2.6, 2.8.
 */
#include "mailchimp.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Formats one line into the caller-owned err buffer (may be NULL). */
static void set_err(char *err, size_t errlen, const char *fmt, const char *a)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, fmt, a != NULL ? a : "");
    }
}

/* Copies `s` into out[*pos..] replacing control characters by spaces,
 * so reasons stay on one line. */
static void append(char *out, size_t outlen, size_t *pos, const char *s)
{
    for (; s != NULL && *s != '\0' && *pos + 1 < outlen; s++) {
        unsigned char c = (unsigned char)*s;
        out[(*pos)++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[*pos < outlen ? *pos : outlen - 1] = '\0';
}

/* Borrowed body and request_id; caller-owned out.  The "[request ...]"
 * part only when with_request. */
static void problem_text(long http_status, const char *body,
                         size_t body_len, const char *request_id,
                         bool with_request, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0) {
        return;
    }
    out[0] = '\0';
    size_t pos = 0;
    char head[32];
    snprintf(head, sizeof head, "HTTP %ld", http_status);
    append(out, outlen, &pos, head);

    json_t *root = NULL;
    if (body != NULL && body_len > 0) {
        root = json_loadb(body, body_len, 0, NULL);
    }
    const char *instance = NULL;
    if (json_is_object(root)) {
        const char *title = json_string_value(json_object_get(root, "title"));
        const char *detail =
            json_string_value(json_object_get(root, "detail"));
        const char *error = json_string_value(json_object_get(root, "error"));
        instance = json_string_value(json_object_get(root, "instance"));
        if (title != NULL) {
            append(out, outlen, &pos, " ");
            append(out, outlen, &pos, title);
        } else if (error != NULL) {
            append(out, outlen, &pos, " ");
            append(out, outlen, &pos, error);
        }
        if (detail != NULL && detail[0] != '\0') {
            append(out, outlen, &pos, ": ");
            append(out, outlen, &pos, detail);
        }
        json_t *errors = json_object_get(root, "errors");
        if (json_is_array(errors) && json_array_size(errors) > 0) {
            size_t i;
            json_t *e;
            append(out, outlen, &pos, " (");
            json_array_foreach(errors, i, e) {
                const char *f = json_string_value(json_object_get(e, "field"));
                const char *m =
                    json_string_value(json_object_get(e, "message"));
                if (i > 0) {
                    append(out, outlen, &pos, "; ");
                }
                if (f != NULL && f[0] != '\0') {
                    append(out, outlen, &pos, f);
                    append(out, outlen, &pos, ": ");
                }
                append(out, outlen, &pos, m != NULL ? m : "invalid");
            }
            append(out, outlen, &pos, ")");
        }
    } else if (body_len == 0) {
        append(out, outlen, &pos, " (no body)");
    } else {
        append(out, outlen, &pos, " (body is not JSON)");
    }
    const char *rid = request_id != NULL && request_id[0] != '\0'
                          ? request_id
                          : instance;
    if (with_request && rid != NULL && rid[0] != '\0') {
        append(out, outlen, &pos, " [request ");
        append(out, outlen, &pos, rid);
        append(out, outlen, &pos, "]");
    }
    json_decref(root);
}

void mailchimp_problem_reason(long http_status, const char *body,
                              size_t body_len, const char *request_id,
                              char *out, size_t outlen)
{
    problem_text(http_status, body, body_len, request_id, true, out,
                 outlen);
}

void mailchimp_problem_summary(long http_status, const char *body,
                               size_t body_len, char *out, size_t outlen)
{
    problem_text(http_status, body, body_len, NULL, false, out, outlen);
}

/* Borrowed body; caller-owned dc, api_endpoint, err. */
enum lsc_status mailchimp_parse_metadata(const char *body, size_t len,
                                         char *dc, size_t dclen,
                                         char *api_endpoint, size_t eplen,
                                         char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(body != NULL ? body : "", len, 0, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        set_err(err, errlen, "OAuth metadata: answer is not a JSON object%s",
                NULL);
        return LSC_ERR_PARSE;
    }
    enum lsc_status st = LSC_OK;
    json_t *e = json_object_get(root, "error");
    const char *d = json_string_value(json_object_get(root, "dc"));
    const char *ep = json_string_value(json_object_get(root, "api_endpoint"));
    if (e != NULL) {
        const char *es = json_string_value(e);
        set_err(err, errlen,
                "Mailchimp refused the OAuth token (%s); re-authorize with "
                "`leadscore connect mailchimp`",
                es != NULL ? es : "error");
        st = LSC_ERR_AUTH;
    } else if (d == NULL || d[0] == '\0') {
        set_err(err, errlen, "OAuth metadata: no \"dc\" in the answer%s",
                NULL);
        st = LSC_ERR_PARSE;
    } else if (!mailchimp_dc_valid(d) || strlen(d) >= dclen) {
        /* It becomes the API host name: refuse rather than connect to
         * whatever the answer names.  Not echoed (it may be anything). */
        set_err(err, errlen,
                "OAuth metadata: \"dc\" is not a Mailchimp data center "
                "(letters then digits, like \"us19\"); refusing it%s",
                NULL);
        st = LSC_ERR_PARSE;
    } else {
        snprintf(dc, dclen, "%s", d);
        if (api_endpoint != NULL && eplen > 0) {
            if (ep != NULL && strlen(ep) < eplen) {
                snprintf(api_endpoint, eplen, "%s", ep);
            } else {
                snprintf(api_endpoint, eplen, "https://%s.api.mailchimp.com",
                         d);
            }
        }
    }
    json_decref(root);
    return st;
}

/* Borrowed body; *token malloc()ed for the caller. */
enum lsc_status mailchimp_parse_token(const char *body, size_t len,
                                      char **token, char *err, size_t errlen)
{
    *token = NULL;
    json_t *root = json_loadb(body != NULL ? body : "", len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        set_err(err, errlen, "OAuth token: answer is not a JSON object%s",
                NULL);
        return LSC_ERR_PARSE;
    }
    const char *t = json_string_value(json_object_get(root, "access_token"));
    const char *e = json_string_value(json_object_get(root, "error"));
    enum lsc_status st = LSC_OK;
    if (e != NULL) {
        set_err(err, errlen, "Mailchimp refused the authorization code (%s)",
                e);
        st = LSC_ERR_AUTH;
    } else if (t == NULL || t[0] == '\0') {
        set_err(err, errlen, "OAuth token: no access_token%s", NULL);
        st = LSC_ERR_PARSE;
    } else if ((*token = strdup(t)) == NULL) {
        st = LSC_ERR_NOMEM;
    }
    json_decref(root);
    return st;
}

enum lsc_status mailchimp_parse_merge_fields(const char *body, size_t len,
                                             const char *tag_a, bool *has_a,
                                             char *type_a, size_t type_a_len,
                                             const char *tag_b, bool *has_b,
                                             char *type_b, size_t type_b_len,
                                             size_t *total_items,
                                             size_t *on_page, char *err,
                                             size_t errlen)
{
    *has_a = false;
    *has_b = false;
    json_t *root = json_loadb(body != NULL ? body : "", len, 0, NULL);
    json_t *arr = json_object_get(root, "merge_fields");
    if (!json_is_array(arr)) {
        json_decref(root);
        set_err(err, errlen, "merge fields: no \"merge_fields\" array%s",
                NULL);
        return LSC_ERR_PARSE;
    }
    if (total_items != NULL) {
        json_t *t = json_object_get(root, "total_items");
        *total_items = json_is_integer(t) ? (size_t)json_integer_value(t)
                                          : json_array_size(arr);
    }
    if (on_page != NULL) {
        *on_page = json_array_size(arr);
    }
    size_t i;
    json_t *f;
    json_array_foreach(arr, i, f) {
        const char *tag = json_string_value(json_object_get(f, "tag"));
        const char *type = json_string_value(json_object_get(f, "type"));
        if (tag == NULL) {
            continue;
        }
        if (tag_a != NULL && strcmp(tag, tag_a) == 0) {
            *has_a = true;
            if (type_a != NULL && type_a_len > 0) {
                snprintf(type_a, type_a_len, "%s", type != NULL ? type : "");
            }
        }
        if (tag_b != NULL && strcmp(tag, tag_b) == 0) {
            *has_b = true;
            if (type_b != NULL && type_b_len > 0) {
                snprintf(type_b, type_b_len, "%s", type != NULL ? type : "");
            }
        }
    }
    json_decref(root);
    return LSC_OK;
}

enum lsc_status mailchimp_parse_batch_subscribe(
    const char *body, size_t len, struct mailchimp_batch_result *out,
    char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *root = json_loadb(body != NULL ? body : "", len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        set_err(err, errlen, "batch subscribe: answer is not an object%s",
                NULL);
        return LSC_ERR_PARSE;
    }
    out->total_created =
        (long)json_integer_value(json_object_get(root, "total_created"));
    out->total_updated =
        (long)json_integer_value(json_object_get(root, "total_updated"));
    out->error_count =
        (long)json_integer_value(json_object_get(root, "error_count"));
    json_t *errors = json_object_get(root, "errors");
    if (json_is_array(errors) && json_array_size(errors) > 0) {
        json_t *e = json_array_get(errors, 0);
        const char *a = json_string_value(json_object_get(e, "email_address"));
        const char *m = json_string_value(json_object_get(e, "error"));
        snprintf(out->first_error, sizeof out->first_error, "%s: %s",
                 a != NULL ? a : "?", m != NULL ? m : "error");
        if (out->error_count == 0) {
            out->error_count = (long)json_array_size(errors);
        }
    }
    json_decref(root);
    return LSC_OK;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n decimal digits of s into *v. */
static bool digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

enum lsc_status mailchimp_parse_time(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, se;
    if (s == NULL || strlen(s) < 19 || !digits(s, 4, &y) || s[4] != '-' ||
        !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se) || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || se > 60) {
        return LSC_ERR_PARSE;
    }
    const char *p = s + 19;
    int frac_ms = 0;
    if (*p == '.') {
        int scale = 100;
        p++;
        if (!isdigit((unsigned char)*p)) {
            return LSC_ERR_PARSE;
        }
        while (isdigit((unsigned char)*p)) {
            frac_ms += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    int off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        int sign = *p == '-' ? -1 : 1;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om)) {
            return LSC_ERR_PARSE;
        }
        off_min = sign * (oh * 60 + om);
        p += 6;
    } else if (*p != '\0') {
        return LSC_ERR_PARSE;
    }
    if (*p != '\0') {
        return LSC_ERR_PARSE;
    }
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se -
                   (int64_t)off_min * 60;
    *ms = secs * 1000 + frac_ms;
    return LSC_OK;
}

void mailchimp_format_time(int64_t ms, char *out, size_t outlen)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t z = (secs >= 0 ? secs : secs - 86399) / 86400;
    int64_t sod = secs - z * 86400;
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    const int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    snprintf(out, outlen, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d+00:00", y,
             m, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}
