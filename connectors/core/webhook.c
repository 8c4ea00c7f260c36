/*
 * Connector core: outgoing webhook bodies and signatures (see webhook.h).
 */
#include "webhook.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

enum lsc_status webhook_hmac_sha256_hex(const void *key, size_t keylen,
                                        const void *msg, size_t msglen,
                                        char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    if (outlen < 65) {
        return LSC_ERR_INVALID_ARG;
    }
    if (HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, mac, &ml) == NULL ||
        ml != 32) {
        return LSC_ERR_INTERNAL;
    }
    to_hex(mac, 32, out);
    return LSC_OK;
}

void webhook_delivery_id(const char *contact, const char *model,
                         const char *from, const char *to, int64_t at_ms,
                         char *out, size_t outlen)
{
    unsigned char md[32];
    unsigned int ml = 0;
    char at[32];
    snprintf(at, sizeof at, "%lld", (long long)at_ms);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const char *parts[5] = {contact ? contact : "", model ? model : "",
                            from ? from : "", to ? to : "", at};
    char hex[65];
    if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
        for (size_t i = 0; i < 5; i++) {
            /* length-prefixed so ("ab","c") != ("a","bc") */
            unsigned char l[4];
            size_t n = strlen(parts[i]);
            l[0] = (unsigned char)(n >> 24);
            l[1] = (unsigned char)(n >> 16);
            l[2] = (unsigned char)(n >> 8);
            l[3] = (unsigned char)n;
            EVP_DigestUpdate(ctx, l, 4);
            EVP_DigestUpdate(ctx, parts[i], n);
        }
        EVP_DigestFinal_ex(ctx, md, &ml);
    }
    EVP_MD_CTX_free(ctx);
    if (ml != 32) {
        memset(md, 0, sizeof md);
    }
    to_hex(md, 32, hex);
    snprintf(out, outlen, "%.*s", WEBHOOK_DELIVERY_ID_LEN, hex);
}

void webhook_format_time(int64_t ms, char *out, size_t outlen)
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)s * 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, frac);
}

/* points rounded to 2 decimals: an integer when whole, else a real that
 * prints with at most 2 decimals (JSON_REAL_PRECISION at dump time). */
static json_t *points_json(double v)
{
    double x = v * 100.0;
    if (!(x < 1e15 && x > -1e15)) { /* also NaN */
        return json_real(isfinite(v) ? v : 0.0);
    }
    long long k = (long long)(x < 0 ? x - 0.5 : x + 0.5);
    if (k % 100 == 0) {
        return json_integer((json_int_t)(k / 100));
    }
    return json_real((double)k / 100.0);
}

char *webhook_build_body(const char *contact, const char *from,
                         const char *to, int score,
                         const struct webhook_reason *reasons,
                         size_t n_reasons, int64_t at_ms,
                         const char *delivery_id)
{
    char at[WEBHOOK_TIME_MAX];
    webhook_format_time(at_ms, at, sizeof at);
    json_t *r = json_array();
    for (size_t i = 0; r != NULL && i < n_reasons; i++) {
        json_array_append_new(
            r, json_pack("{s:s, s:o, s:I}", "rule", reasons[i].rule, "points",
                         points_json(reasons[i].points), "awards",
                         (json_int_t)reasons[i].awards));
    }
    json_t *o = json_pack("{s:s, s:o, s:s, s:i, s:o, s:s, s:s}", "contact",
                          contact, "from",
                          from ? json_string(from) : json_null(), "to", to,
                          "score", score, "reasons",
                          r ? r : json_array(), "at", at, "delivery_id",
                          delivery_id);
    if (o == NULL) {
        return NULL;
    }
    /* 15 significant digits: 14.11 prints as 14.11, not 14.109999... */
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS |
                                JSON_REAL_PRECISION(15));
    json_decref(o);
    return s;
}

enum lsc_status webhook_signature(const char *secret, int64_t ts_s,
                                  const char *body, size_t body_len,
                                  char *out, size_t outlen)
{
    char tsb[32];
    int tl = snprintf(tsb, sizeof tsb, "%lld.", (long long)ts_s);
    size_t ml = (size_t)tl + body_len;
    unsigned char *msg = OPENSSL_malloc(ml + 1);
    if (msg == NULL) {
        return LSC_ERR_NOMEM;
    }
    memcpy(msg, tsb, (size_t)tl);
    memcpy(msg + tl, body, body_len);
    char hex[65];
    enum lsc_status st =
        webhook_hmac_sha256_hex(secret, strlen(secret), msg, ml, hex,
                                sizeof hex);
    OPENSSL_free(msg);
    if (st != LSC_OK) {
        return st;
    }
    if ((size_t)snprintf(out, outlen, "t=%lld,v1=%s", (long long)ts_s, hex) >=
        outlen) {
        return LSC_ERR_INVALID_ARG;
    }
    return LSC_OK;
}
