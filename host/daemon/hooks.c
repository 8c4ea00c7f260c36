/* Incoming webhooks: signatures and mapping; see hooks.h. */
#include "hooks.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include "event_json.h"

static void put_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s", msg);
    }
}

enum lsc_status hooks_hubspot_uri(const char *uri, char *out, size_t outlen)
{
    static const char keep[] = ":/?@!$'()*,;";
    size_t o = 0;
    for (size_t i = 0; uri[i] != '\0'; i++) {
        char c = uri[i];
        if (c == '%' && isxdigit((unsigned char)uri[i + 1]) &&
            isxdigit((unsigned char)uri[i + 2])) {
            char hex[3] = {uri[i + 1], uri[i + 2], 0};
            char d = (char)strtol(hex, NULL, 16);
            if (d != '\0' && strchr(keep, d) != NULL) {
                c = d;
                i += 2;
            }
        }
        if (o + 1 >= outlen) {
            return LSC_ERR_INVALID_ARG;
        }
        out[o++] = c;
    }
    if (outlen == 0) {
        return LSC_ERR_INVALID_ARG;
    }
    out[o] = '\0';
    return LSC_OK;
}

static enum lsc_status hmac_parts(const char *secret, const void *const *part,
                                  const size_t *plen, size_t nparts,
                                  unsigned char *mac, unsigned *maclen)
{
    /* EVP_MAC (OpenSSL 3): one context, several updates. */
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    enum lsc_status ret = LSC_ERR_INTERNAL;
    if (ctx != NULL) {
        OSSL_PARAM params[2] = {
            OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
            OSSL_PARAM_construct_end(),
        };
        size_t outl = 0;
        if (EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret),
                         params) == 1) {
            ret = LSC_OK;
            for (size_t i = 0; i < nparts && ret == LSC_OK; i++) {
                if (plen[i] > 0 &&
                    EVP_MAC_update(ctx, part[i], plen[i]) != 1) {
                    ret = LSC_ERR_INTERNAL;
                }
            }
            if (ret == LSC_OK &&
                EVP_MAC_final(ctx, mac, &outl, EVP_MAX_MD_SIZE) != 1) {
                ret = LSC_ERR_INTERNAL;
            }
            *maclen = (unsigned)outl;
        }
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return ret;
}

enum lsc_status hooks_sign_hubspot(const char *secret, const char *method,
                                   const char *uri, const void *body,
                                   size_t len, const char *ts, char *out,
                                   size_t outlen)
{
    const void *parts[4] = {method, uri, body, ts};
    size_t plen[4] = {strlen(method), strlen(uri), len, strlen(ts)};
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    if (outlen < 45) {
        return LSC_ERR_INVALID_ARG;
    }
    enum lsc_status st = hmac_parts(secret, parts, plen, 4, mac, &maclen);
    if (st == LSC_OK) {
        EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
    }
    return st;
}

static bool parse_i64(const char *s, int64_t *v)
{
    if (s == NULL || *s == '\0') {
        return false;
    }
    char *end = NULL;
    long long x = strtoll(s, &end, 10);
    if (*end != '\0') {
        return false;
    }
    *v = (int64_t)x;
    return true;
}

enum lsc_status hooks_verify_hubspot(const char *secret, const char *method,
                                     const char *uri, const void *body,
                                     size_t len, const char *ts,
                                     const char *signature, int64_t now_ms,
                                     int64_t max_age_ms, char *err,
                                     size_t errlen)
{
    if (signature == NULL || *signature == '\0') {
        put_err(err, errlen, "missing X-HubSpot-Signature-v3 header");
        return LSC_ERR_AUTH;
    }
    int64_t t = 0;
    if (ts == NULL || !parse_i64(ts, &t)) {
        put_err(err, errlen, "missing or malformed "
                "X-HubSpot-Request-Timestamp header");
        return LSC_ERR_AUTH;
    }
    if (now_ms - t > max_age_ms || t - now_ms > max_age_ms) {
        if (err != NULL && errlen > 0) {
            snprintf(err, errlen, "stale X-HubSpot-Request-Timestamp (more "
                     "than %" PRId64 " s from now, hubspot.max_age)",
                     max_age_ms / 1000);
        }
        return LSC_ERR_AUTH;
    }
    char want[64];
    enum lsc_status st =
        hooks_sign_hubspot(secret, method, uri, body, len, ts, want,
                           sizeof want);
    if (st != LSC_OK) {
        put_err(err, errlen, "cannot compute HMAC-SHA256");
        return st;
    }
    size_t wl = strlen(want);
    if (strlen(signature) != wl || CRYPTO_memcmp(want, signature, wl) != 0) {
        put_err(err, errlen, "X-HubSpot-Signature-v3 does not match");
        return LSC_ERR_AUTH;
    }
    return LSC_OK;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static enum lsc_status mc_mac(const char *secret, int64_t t, const void *body,
                              size_t len, char *hexout)
{
    char tb[32];
    int tl = snprintf(tb, sizeof tb, "%" PRId64 ".", t);
    const void *parts[2] = {tb, body};
    size_t plen[2] = {(size_t)tl, len};
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    enum lsc_status st = hmac_parts(secret, parts, plen, 2, mac, &maclen);
    if (st == LSC_OK) {
        hex(mac, maclen, hexout);
    }
    return st;
}

enum lsc_status hooks_sign_mailchimp(const char *secret, int64_t t,
                                     const void *body, size_t len, char *out,
                                     size_t outlen)
{
    char h[2 * EVP_MAX_MD_SIZE + 1];
    enum lsc_status st = mc_mac(secret, t, body, len, h);
    if (st == LSC_OK) {
        snprintf(out, outlen, "t=%" PRId64 ",v1=%s", t, h);
    }
    return st;
}

enum lsc_status hooks_verify_mailchimp(const char *secret, const char *header,
                                       const void *body, size_t len,
                                       int64_t now_ms, char *err,
                                       size_t errlen)
{
    if (header == NULL || *header == '\0') {
        put_err(err, errlen, "missing X-Mailchimp-Signature header");
        return LSC_ERR_AUTH;
    }
    int64_t t = 0;
    bool have_t = false;
    char v1[129] = "";
    /* Comma-separated key=value pairs, in any order. */
    const char *p = header;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 2 && strncmp(p, "t=", 2) == 0 && n < 40) {
            char tmp[40];
            memcpy(tmp, p + 2, n - 2);
            tmp[n - 2] = '\0';
            have_t = parse_i64(tmp, &t);
        } else if (n > 3 && strncmp(p, "v1=", 3) == 0 && n - 3 < sizeof v1) {
            memcpy(v1, p + 3, n - 3);
            v1[n - 3] = '\0';
        }
        p += n;
    }
    if (!have_t || v1[0] == '\0') {
        put_err(err, errlen, "malformed X-Mailchimp-Signature header "
                "(want t=<seconds>,v1=<hex>)");
        return LSC_ERR_AUTH;
    }
    int64_t now_s = now_ms / 1000;
    if (now_s - t > 300 || t - now_s > 300) {
        put_err(err, errlen, "stale X-Mailchimp-Signature timestamp "
                "(more than 300 s from now)");
        return LSC_ERR_AUTH;
    }
    char want[2 * EVP_MAX_MD_SIZE + 1];
    if (mc_mac(secret, t, body, len, want) != LSC_OK) {
        put_err(err, errlen, "cannot compute HMAC-SHA256");
        return LSC_ERR_INTERNAL;
    }
    for (char *c = v1; *c; c++) {
        *c = (char)tolower((unsigned char)*c);
    }
    size_t wl = strlen(want);
    if (strlen(v1) != wl || CRYPTO_memcmp(want, v1, wl) != 0) {
        put_err(err, errlen, "X-Mailchimp-Signature does not match");
        return LSC_ERR_AUTH;
    }
    return LSC_OK;
}

/* ---- Mapping ------------------------------------------------------------ */

void hooks_result_free(struct hooks_result *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_lines; i++) {
        free(r->lines[i]);
    }
    for (size_t i = 0; i < r->n_rejects; i++) {
        free(r->rejects[i]);
    }
    free(r->lines);
    free(r->rejects);
    memset(r, 0, sizeof *r);
}

static bool push(char ***v, size_t *n, char *s)
{
    if (s == NULL) {
        return false;
    }
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (nv == NULL) {
        free(s);
        return false;
    }
    nv[(*n)++] = s;
    *v = nv;
    return true;
}

static void reject(struct hooks_result *r, const char *fmt, size_t i,
                   const char *what)
{
    char buf[256];
    snprintf(buf, sizeof buf, fmt, i, what);
    push(&r->rejects, &r->n_rejects, strdup(buf));
}

/* Emit an event object (stolen). */
static void emit(struct hooks_result *r, json_t *ev)
{
    push(&r->lines, &r->n_lines,
         json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_SORT_KEYS));
    json_decref(ev);
}

/* The id of a JSON number or string as text into buf; false otherwise. */
static bool id_text(json_t *v, char *buf, size_t n)
{
    if (json_is_integer(v)) {
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return true;
    }
    if (json_is_string(v) && json_string_length(v) > 0 &&
        json_string_length(v) < n) {
        snprintf(buf, n, "%s", json_string_value(v));
        return true;
    }
    return false;
}

static void map_hubspot_one(json_t *e, size_t i, struct hooks_result *r)
{
    if (!json_is_object(e)) {
        reject(r, "event [%zu]: %s", i, "not a JSON object");
        return;
    }
    json_t *typ = json_object_get(e, "subscriptionType");
    if (typ == NULL) {
        typ = json_object_get(e, "eventType");
    }
    if (!json_is_string(typ)) {
        reject(r, "event [%zu]: %s", i,
               "missing 'subscriptionType' (or 'eventType')");
        return;
    }
    const char *t = json_string_value(typ);
    const char *kind = NULL;
    if (strcmp(t, "contact.creation") == 0) {
        kind = "contact.created";
    } else if (strcmp(t, "contact.propertyChange") == 0) {
        kind = "contact.updated";
    } else if (strcmp(t, "contact.deletion") == 0) {
        kind = "contact.deleted";
    } else {
        r->ignored++;
        return;
    }
    char contact[64], eid[64];
    if (!id_text(json_object_get(e, "objectId"), contact, sizeof contact)) {
        reject(r, "event [%zu]: %s", i, "missing or malformed 'objectId'");
        return;
    }
    if (!id_text(json_object_get(e, "eventId"), eid, sizeof eid)) {
        reject(r, "event [%zu]: %s", i, "missing or malformed 'eventId'");
        return;
    }
    json_t *at = json_object_get(e, "occurredAt");
    if (!json_is_number(at)) {
        reject(r, "event [%zu]: %s", i, "missing or malformed 'occurredAt'");
        return;
    }
    json_t *props = json_object();
    if (strcmp(kind, "contact.updated") == 0) {
        json_t *pn = json_object_get(e, "propertyName");
        json_t *pv = json_object_get(e, "propertyValue");
        if (!json_is_string(pn) || json_string_length(pn) == 0) {
            json_decref(props);
            reject(r, "event [%zu]: %s", i, "missing 'propertyName'");
            return;
        }
        /* HubSpot sends values as strings; "" means cleared. */
        json_object_set(props, json_string_value(pn),
                        json_is_string(pv) && json_string_length(pv) > 0
                            ? pv
                            : json_null());
    }
    /* eventId alone is not unique (crm-apis.md 1.7): key on account,
     * subscription and event, so only a true redelivery repeats it. */
    char portal[64] = "0", sub[64] = "0";
    json_t *pj = json_object_get(e, "portalId");
    json_t *sj = json_object_get(e, "subscriptionId");
    if ((pj != NULL && !id_text(pj, portal, sizeof portal)) ||
        (sj != NULL && !id_text(sj, sub, sizeof sub))) {
        json_decref(props);
        reject(r, "event [%zu]: %s", i,
               "malformed 'portalId' or 'subscriptionId'");
        return;
    }
    char idbuf[224];
    snprintf(idbuf, sizeof idbuf, "hubspot:%s:%s:%s", portal, sub, eid);
    json_t *ev = json_pack("{s:s, s:s, s:f, s:s, s:o}", "contact", contact,
                           "type", kind, "ts",
                           json_number_value(at) / 1000.0, "id", idbuf,
                           "props", props);
    if (ev == NULL) {
        reject(r, "event [%zu]: %s", i, "out of memory");
        return;
    }
    emit(r, ev);
}

enum lsc_status hooks_map_hubspot(const char *body, size_t len,
                                  struct hooks_result *out, char *err,
                                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (err != NULL) {
            snprintf(err, errlen, "body is not JSON: %d:%d: %s", je.line,
                     je.column, je.text);
        }
        return LSC_ERR_PARSE;
    }
    if (json_is_array(root)) {
        size_t i;
        json_t *e;
        json_array_foreach(root, i, e) {
            map_hubspot_one(e, i, out);
        }
    } else if (json_is_object(root)) {
        map_hubspot_one(root, 0, out);
    } else {
        json_decref(root);
        put_err(err, errlen, "body must be a JSON array of events");
        return LSC_ERR_PARSE;
    }
    json_decref(root);
    return LSC_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode in place; returns the new length. */
static size_t url_decode(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            s[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n + 0 && hexval(s[i + 1]) >= 0 &&
                   hexval(s[i + 2]) >= 0) {
            s[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    return o;
}

enum lsc_status hooks_form_parse(const char *s, size_t len,
                                 void (*fn)(void *ud, const char *key,
                                            const char *value),
                                 void *ud)
{
    char *buf = malloc(len + 1);
    if (buf == NULL) {
        return LSC_ERR_NOMEM;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *p = buf;
    char *end = buf + len;
    while (p < end) {
        char *amp = memchr(p, '&', (size_t)(end - p));
        char *stop = amp ? amp : end;
        *stop = '\0';
        char *eq = memchr(p, '=', (size_t)(stop - p));
        if (stop > p) {
            char *v = eq ? eq + 1 : stop;
            if (eq) {
                *eq = '\0';
            }
            url_decode(p, strlen(p));
            url_decode(v, strlen(v));
            fn(ud, p, v);
        }
        p = stop + 1;
    }
    free(buf);
    return LSC_OK;
}

struct mc_form {
    json_t *data;   /* "data[x]" -> x */
    json_t *merges; /* "data[merges][X]" -> X */
    char *type;
    char *fired_at;
};

static void mc_field(void *ud, const char *key, const char *value)
{
    struct mc_form *f = ud;
    if (strcmp(key, "type") == 0) {
        free(f->type);
        f->type = strdup(value);
    } else if (strcmp(key, "fired_at") == 0) {
        free(f->fired_at);
        f->fired_at = strdup(value);
    } else if (strncmp(key, "data[merges][", 13) == 0) {
        char name[128];
        size_t n = strcspn(key + 13, "]");
        if (n > 0 && n < sizeof name && key[13 + n + 1] == '\0') {
            memcpy(name, key + 13, n);
            name[n] = '\0';
            json_object_set_new(f->merges, name, json_string(value));
        }
    } else if (strncmp(key, "data[", 5) == 0) {
        char name[128];
        size_t n = strcspn(key + 5, "]");
        if (n > 0 && n < sizeof name && key[5 + n + 1] == '\0') {
            memcpy(name, key + 5, n);
            name[n] = '\0';
            json_object_set_new(f->data, name, json_string(value));
        }
    }
}

static const char *dstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) && json_string_length(v) > 0
               ? json_string_value(v)
               : NULL;
}

/* contact.updated props from the merge fields: FNAME -> first_name,
 * LNAME -> last_name, EMAIL skipped, others mc_<lowercase tag>. */
static void merges_to_props(json_t *merges, json_t *props)
{
    const char *k;
    json_t *v;
    json_object_foreach(merges, k, v) {
        if (strcmp(k, "EMAIL") == 0 || json_string_length(v) == 0) {
            continue;
        }
        char name[140];
        if (strcmp(k, "FNAME") == 0) {
            snprintf(name, sizeof name, "first_name");
        } else if (strcmp(k, "LNAME") == 0) {
            snprintf(name, sizeof name, "last_name");
        } else {
            snprintf(name, sizeof name, "mc_%s", k);
            for (char *c = name; *c; c++) {
                *c = (char)tolower((unsigned char)*c);
            }
        }
        json_object_set(props, name, v);
    }
}

enum lsc_status hooks_map_mailchimp(const char *body, size_t len, bool by_id,
                                    struct hooks_result *out, char *err,
                                    size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct mc_form f = {.data = json_object(), .merges = json_object()};
    enum lsc_status st = LSC_OK;
    json_t *base = NULL;
    char *alias = NULL; /* upemail: the new address */
    if (f.data == NULL || f.merges == NULL ||
        hooks_form_parse(body, len, mc_field, &f) != LSC_OK) {
        st = LSC_ERR_NOMEM;
        goto out;
    }
    static const char *const types[] = {"subscribe", "unsubscribe", "profile",
                                        "upemail", "cleaned", "campaign"};
    bool known = false;
    for (size_t i = 0; f.type && i < 6; i++) {
        known = known || strcmp(f.type, types[i]) == 0;
    }
    if (!known) {
        if (err != NULL) {
            snprintf(err, errlen, "field 'type': %s%s%s",
                     f.type ? "unknown type '" : "missing",
                     f.type ? f.type : "", f.type ? "'" : "");
        }
        st = LSC_ERR_PARSE;
        goto out;
    }
    if (strcmp(f.type, "campaign") == 0) {
        out->ignored = 1; /* a campaign event names no contact */
        goto out;
    }
    /* Time: "2009-03-26 21:35:57" is UTC. */
    int64_t ts_ms = 0;
    char tbuf[64];
    snprintf(tbuf, sizeof tbuf, "%sZ", f.fired_at ? f.fired_at : "");
    if (f.fired_at == NULL || hl_time_parse(tbuf, &ts_ms) != LSC_OK) {
        if (hl_time_parse(f.fired_at ? f.fired_at : "", &ts_ms) != LSC_OK) {
            put_err(err, errlen, "field 'fired_at': expected "
                    "\"YYYY-MM-DD HH:MM:SS\" (UTC)");
            st = LSC_ERR_PARSE;
            goto out;
        }
    }
    bool up = strcmp(f.type, "upemail") == 0;
    const char *email = dstr(f.data, up ? "old_email" : "email");
    const char *mid = dstr(f.data, up ? "new_id" : "id");
    const char *who = by_id ? mid : email;
    if (who == NULL) {
        if (err != NULL) {
            snprintf(err, errlen, "field 'data[%s]': missing",
                     by_id ? (up ? "new_id" : "id")
                           : (up ? "old_email" : "email"));
        }
        st = LSC_ERR_PARSE;
        goto out;
    }
    char contact[HL_CONTACT_ID_MAX + 1];
    if (strlen(who) > HL_CONTACT_ID_MAX) {
        put_err(err, errlen, "the contact id is longer than 256 bytes");
        st = LSC_ERR_PARSE;
        goto out;
    }
    snprintf(contact, sizeof contact, "%s", who);
    if (!by_id) {
        for (char *c = contact; *c; c++) {
            *c = (char)tolower((unsigned char)*c);
        }
    }
    unsigned char dg[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)body, len, dg);
    char dh[2 * SHA256_DIGEST_LENGTH + 1];
    hex(dg, 16, dh);

    json_t *props = json_object();
    const char *activity = NULL;
    json_t *attrs = json_object();
    if (email != NULL && !up) {
        json_object_set_new(props, "email", json_string(email));
    }
    if (mid != NULL) {
        json_object_set_new(props, "mailchimp_id", json_string(mid));
    }
    if (strcmp(f.type, "subscribe") == 0) {
        json_object_set_new(props, "mailchimp_status",
                            json_string("subscribed"));
        merges_to_props(f.merges, props);
        activity = "subscribe";
    } else if (strcmp(f.type, "unsubscribe") == 0) {
        json_object_set_new(props, "mailchimp_status",
                            json_string("unsubscribed"));
        activity = "unsubscribe";
        static const char *const keep[] = {"action", "reason", "campaign_id"};
        for (size_t i = 0; i < 3; i++) {
            if (dstr(f.data, keep[i])) {
                json_object_set(attrs, keep[i],
                                json_object_get(f.data, keep[i]));
            }
        }
    } else if (strcmp(f.type, "profile") == 0) {
        merges_to_props(f.merges, props);
    } else if (up) {
        const char *ne = dstr(f.data, "new_email");
        if (ne != NULL) {
            json_object_set_new(props, "email", json_string(ne));
        }
        /* Contacts keyed by address: the new one becomes an alias of this
         * contact, so later deliveries for it reach the same contact. */
        if (ne != NULL && !by_id && strlen(ne) <= HL_CONTACT_ID_MAX) {
            char al[HL_CONTACT_ID_MAX + 1];
            snprintf(al, sizeof al, "%s", ne);
            for (char *c = al; *c; c++) {
                *c = (char)tolower((unsigned char)*c);
            }
            if (strcmp(al, contact) != 0) {
                alias = strdup(al);
            }
        }
    } else { /* cleaned */
        json_object_set_new(props, "mailchimp_status",
                            json_string("cleaned"));
        activity = "email_bounce";
        const char *why = dstr(f.data, "reason");
        /* "bounce", as the bundled models and the activity import use */
        json_object_set_new(attrs, "bounce",
                            json_string(why && strcmp(why, "hard") == 0
                                            ? "hard"
                                            : (why ? why : "hard")));
        json_object_set_new(attrs, "reason",
                            json_string(why ? why : "unknown"));
    }
    char idbuf[96];
    snprintf(idbuf, sizeof idbuf, "mailchimp:%s:1", dh);
    base = json_pack("{s:s, s:s, s:I, s:s, s:o}", "contact", contact, "type",
                     "contact.updated", "ts", (json_int_t)(ts_ms / 1000),
                     "id", idbuf, "props", props);
    if (base != NULL && alias != NULL) {
        json_object_set_new(base, "aliases", json_pack("[s]", alias));
    }
    if (base != NULL) {
        /* Keep the ms: RFC 3339 text. */
        char t3339[40];
        json_object_set_new(base, "ts",
                            json_string(hl_time_format(ts_ms, t3339,
                                                       sizeof t3339)));
        emit(out, base);
        base = NULL;
    }
    if (activity != NULL) {
        char t3339[40];
        snprintf(idbuf, sizeof idbuf, "mailchimp:%s:2", dh);
        json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:O}", "contact", contact,
                               "type", activity, "ts",
                               hl_time_format(ts_ms, t3339, sizeof t3339),
                               "id", idbuf, "props", attrs);
        if (ev != NULL) {
            emit(out, ev);
        }
    }
    json_decref(attrs);
out:
    free(alias);
    json_decref(f.data);
    json_decref(f.merges);
    free(f.type);
    free(f.fired_at);
    if (st != LSC_OK) {
        hooks_result_free(out);
    }
    return st;
}
