/*
 * JSON Lines event decoding with jansson, and RFC 3339 times.
 *
 * Speed matters (millions of lines): strings point into the parsed
 * json_t, which the decoder keeps until the next line, and the props
 * array is reused, so a line costs jansson's own allocations only.
 */
#include "event_json.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct hl_event_decoder {
    json_t *root;           /* the last line; owns the strings in ev */
    struct lsc_prop *props; /* reused */
    size_t props_cap;
    char **json_text;       /* compact text of array/object values */
    size_t n_json, json_cap;
};

struct hl_event_decoder *hl_event_decoder_create(void)
{
    return calloc(1, sizeof(struct hl_event_decoder));
}

static void release_line(struct hl_event_decoder *d)
{
    json_decref(d->root);
    d->root = NULL;
    for (size_t i = 0; i < d->n_json; i++) {
        free(d->json_text[i]);
    }
    d->n_json = 0;
}

void hl_event_decoder_destroy(struct hl_event_decoder *d)
{
    if (d == NULL) {
        return;
    }
    release_line(d);
    free(d->props);
    free(d->json_text);
    free(d);
}

/* ---- Times -------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Read exactly n digits at *s; advance. */
static bool digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (c - '0');
    }
    *s += n;
    *out = v;
    return true;
}

/* Range hl_time_parse accepts: 0000-01-01 .. 9999-12-31, in ms. */
#define MIN_MS (-62167219200000LL)
#define MAX_MS (253402300799999LL)

static enum lsc_status parse_rfc3339(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec;
    if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) ||
        *s++ != '-' || !digits(&s, 2, &d)) {
        return LSC_ERR_PARSE;
    }
    if (*s != 'T' && *s != 't' && *s != ' ') {
        return LSC_ERR_PARSE;
    }
    s++;
    if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) ||
        *s++ != ':' || !digits(&s, 2, &sec)) {
        return LSC_ERR_PARSE;
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 || mi > 59 ||
        sec > 60) {
        return LSC_ERR_PARSE;
    }
    int64_t frac_ms = 0;
    if (*s == '.' || *s == ',') {
        s++;
        if (*s < '0' || *s > '9') {
            return LSC_ERR_PARSE;
        }
        /* Keep four digits to round to the nearest millisecond. */
        int64_t scaled = 0;
        int n = 0;
        while (*s >= '0' && *s <= '9') {
            if (n < 4) {
                scaled = scaled * 10 + (*s - '0');
                n++;
            }
            s++;
        }
        while (n < 4) {
            scaled *= 10;
            n++;
        }
        frac_ms = (scaled + 5) / 10;
    }
    int64_t offset_s = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s == '-' ? -1 : 1;
        int oh, om;
        s++;
        if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) ||
            oh > 23 || om > 59) {
            return LSC_ERR_PARSE;
        }
        offset_s = sign * (int64_t)(oh * 3600 + om * 60);
    } else {
        return LSC_ERR_PARSE;
    }
    if (*s != '\0') {
        return LSC_ERR_PARSE;
    }
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
                h * 3600 + mi * 60 + sec - offset_s;
    int64_t r = t * 1000 + frac_ms;
    if (r < MIN_MS - 86400000LL || r > MAX_MS + 86400000LL) {
        return LSC_ERR_PARSE;
    }
    *ms = r;
    return LSC_OK;
}

enum lsc_status hl_time_from_seconds(double seconds, int64_t *ms)
{
    if (!isfinite(seconds)) {
        return LSC_ERR_PARSE;
    }
    double v = round(seconds * 1000.0);
    if (v < (double)MIN_MS || v > (double)MAX_MS) {
        return LSC_ERR_PARSE;
    }
    *ms = (int64_t)v;
    return LSC_OK;
}

enum lsc_status hl_time_parse(const char *s, int64_t *ms)
{
    if (s == NULL || s[0] == '\0') {
        return LSC_ERR_PARSE;
    }
    /* Numbers: optional '-', digits, optional fraction, nothing else. */
    const char *p = s;
    if (*p == '-') {
        p++;
    }
    if (*p >= '0' && *p <= '9') {
        const char *q = p;
        while (*q >= '0' && *q <= '9') {
            q++;
        }
        if (*q == '\0' || *q == '.') {
            if (*q == '.') {
                q++;
                if (*q < '0' || *q > '9') {
                    return LSC_ERR_PARSE;
                }
                while (*q >= '0' && *q <= '9') {
                    q++;
                }
            }
            if (*q != '\0') {
                return LSC_ERR_PARSE;
            }
            return hl_time_from_seconds(strtod(s, NULL), ms);
        }
    }
    return parse_rfc3339(s, ms);
}

char *hl_time_format(int64_t ms, char *buf, size_t buflen)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (msec != 0) {
        snprintf(buf, buflen, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                 (long long)y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
                 (int)(rem % 60), msec);
    } else {
        snprintf(buf, buflen, "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                 (long long)y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
                 (int)(rem % 60));
    }
    return buf;
}

/* ---- Events ------------------------------------------------------------- */

enum lsc_event_kind hl_event_kind_of(const char *type)
{
    if (strncmp(type, "contact.", 8) != 0) {
        return LSC_EVENT_ACTIVITY;
    }
    if (strcmp(type + 8, "created") == 0) {
        return LSC_EVENT_CONTACT_CREATED;
    }
    if (strcmp(type + 8, "updated") == 0) {
        return LSC_EVENT_CONTACT_UPDATED;
    }
    if (strcmp(type + 8, "deleted") == 0) {
        return LSC_EVENT_CONTACT_DELETED;
    }
    return (enum lsc_event_kind)0;
}

static enum lsc_status fail(char *err, size_t errlen, const char *fmt,
                            const char *field)
{
    snprintf(err, errlen, fmt, field);
    return LSC_ERR_PARSE;
}

/* A string member without embedded NUL; *len gets its length. */
static const char *string_member(json_t *v, size_t *len)
{
    const char *s = json_string_value(v);
    *len = json_string_length(v);
    if (s == NULL || strlen(s) != *len) {
        return NULL;
    }
    return s;
}

static enum lsc_status decode_props(struct hl_event_decoder *d, json_t *obj,
                                    struct lsc_event *ev, char *err,
                                    size_t errlen)
{
    size_t n = json_object_size(obj);
    if (n > d->props_cap) {
        size_t cap = d->props_cap ? d->props_cap : 16;
        while (cap < n) {
            cap *= 2;
        }
        struct lsc_prop *p = realloc(d->props, cap * sizeof *p);
        if (p == NULL) {
            snprintf(err, errlen, "out of memory");
            return LSC_ERR_NOMEM;
        }
        d->props = p;
        d->props_cap = cap;
    }
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        struct lsc_prop *p = &d->props[i++];
        p->key = key;
        switch (json_typeof(v)) {
        case JSON_STRING:
            p->value.type = LSC_VAL_STRING;
            p->value.u.str.ptr = json_string_value(v);
            p->value.u.str.len = json_string_length(v);
            break;
        case JSON_INTEGER:
            p->value.type = LSC_VAL_NUMBER;
            p->value.u.num = (double)json_integer_value(v);
            break;
        case JSON_REAL:
            p->value.type = LSC_VAL_NUMBER;
            p->value.u.num = json_real_value(v);
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            p->value.type = LSC_VAL_BOOL;
            p->value.u.boolean = json_is_true(v);
            break;
        case JSON_NULL:
            p->value.type = LSC_VAL_NULL;
            break;
        case JSON_ARRAY:
        case JSON_OBJECT: {
            if (d->n_json == d->json_cap) {
                size_t cap = d->json_cap ? d->json_cap * 2 : 8;
                char **t = realloc(d->json_text, cap * sizeof *t);
                if (t == NULL) {
                    snprintf(err, errlen, "out of memory");
                    return LSC_ERR_NOMEM;
                }
                d->json_text = t;
                d->json_cap = cap;
            }
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                           JSON_PRESERVE_ORDER);
            if (text == NULL) {
                snprintf(err, errlen, "out of memory");
                return LSC_ERR_NOMEM;
            }
            d->json_text[d->n_json++] = text;
            p->value.type = LSC_VAL_JSON;
            p->value.u.str.ptr = text;
            p->value.u.str.len = strlen(text);
            break;
        }
        }
    }
    ev->props = i > 0 ? d->props : NULL;
    ev->n_props = i;
    return LSC_OK;
}

enum lsc_status hl_event_decode(struct hl_event_decoder *d, const char *line,
                                size_t len, struct lsc_event *ev, char *err,
                                size_t errlen)
{
    release_line(d);
    memset(ev, 0, sizeof *ev);
    ev->struct_size = sizeof *ev;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        len--;
    }
    json_error_t jerr;
    d->root = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
    if (d->root == NULL) {
        snprintf(err, errlen, "invalid JSON at column %d: %s", jerr.column,
                 jerr.text);
        return LSC_ERR_PARSE;
    }
    if (!json_is_object(d->root)) {
        snprintf(err, errlen, "expected a JSON object");
        return LSC_ERR_PARSE;
    }
    /* One pass over the members instead of a hashed lookup per field
     * (jansson keeps one value per key, the one json_object_get() would
     * return).  The length picks the only candidate name. */
    enum { F_CONTACT, F_TYPE, F_TS, F_ID, F_PROPS, F_N };
    static const char *const names[F_N] = {"contact", "type", "ts", "id",
                                           "props"};
    json_t *f[F_N] = {NULL};
    for (void *it = json_object_iter(d->root); it != NULL;
         it = json_object_iter_next(d->root, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        int k = klen == 7   ? F_CONTACT
                : klen == 4 ? F_TYPE
                : klen == 5 ? F_PROPS
                : klen == 2 ? (key[0] == 't' ? F_TS : F_ID)
                            : -1;
        if (k >= 0 && memcmp(key, names[k], klen) == 0) {
            f[k] = json_object_iter_value(it);
        }
    }
    json_t *v = f[F_CONTACT];
    size_t n;
    if (v == NULL) {
        return fail(err, errlen, "field '%s': required", "contact");
    }
    ev->contact_id = string_member(v, &n);
    if (ev->contact_id == NULL || n < 1 || n > HL_CONTACT_ID_MAX) {
        return fail(err, errlen,
                    "field '%s': expected a string of 1 to 256 bytes "
                    "without NUL",
                    "contact");
    }
    v = f[F_TYPE];
    if (v == NULL) {
        return fail(err, errlen, "field '%s': required", "type");
    }
    ev->type = string_member(v, &n);
    if (ev->type == NULL || n == 0) {
        return fail(err, errlen,
                    "field '%s': expected a non-empty string without NUL",
                    "type");
    }
    ev->kind = hl_event_kind_of(ev->type);
    if (ev->kind == 0) {
        snprintf(err, errlen,
                 "field 'type': unknown contact event '%.64s' (expected "
                 "contact.created, contact.updated or contact.deleted)",
                 ev->type);
        return LSC_ERR_PARSE;
    }
    v = f[F_TS];
    if (v == NULL) {
        return fail(err, errlen, "field '%s': required", "ts");
    }
    enum lsc_status st = LSC_ERR_PARSE;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        /* A numeric string is not a JSON number: only RFC 3339 here. */
        if (strlen(s) == json_string_length(v)) {
            st = parse_rfc3339(s, &ev->ts_ms);
        }
    } else if (json_is_number(v)) {
        st = hl_time_from_seconds(json_number_value(v), &ev->ts_ms);
    }
    if (st != LSC_OK) {
        return fail(err, errlen,
                    "field '%s': expected an RFC 3339 time or Unix seconds",
                    "ts");
    }
    v = f[F_ID];
    if (v != NULL && !json_is_null(v)) {
        ev->event_id = string_member(v, &n);
        if (ev->event_id == NULL || n == 0) {
            return fail(err, errlen,
                        "field '%s': expected a non-empty string", "id");
        }
    }
    v = f[F_PROPS];
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_object(v)) {
            return fail(err, errlen, "field '%s': expected an object",
                        "props");
        }
        st = decode_props(d, v, ev, err, errlen);
        if (st != LSC_OK) {
            return st;
        }
    }
    return LSC_OK;
}
