/*
 * Mailchimp pure helpers: subscriber hash, email normalization, data
 * center from an API key, merge tag check.  See ../shared/docs/crm-apis.md
 * sections 2.1, 2.3 and 2.4.
 */
#include "mailchimp.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* Copies msg into the caller-owned err buffer (may be NULL). */
static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s", msg);
    }
}

/* Borrowed `email`; writes into caller-owned `out`. */
enum lsc_status mailchimp_email_normalize(const char *email, char *out,
                                          size_t outlen)
{
    if (email == NULL || out == NULL || outlen == 0) {
        return LSC_ERR_INVALID_ARG;
    }
    const char *b = email;
    while (*b != '\0' && isspace((unsigned char)*b)) {
        b++;
    }
    size_t n = strlen(b);
    while (n > 0 && isspace((unsigned char)b[n - 1])) {
        n--;
    }
    if (n == 0 || n >= outlen || memchr(b, '@', n) == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (char)tolower((unsigned char)b[i]);
    }
    out[n] = '\0';
    return LSC_OK;
}

/* Borrowed `email`; caller-owned `out` (>= 33 bytes) and `err`. */
enum lsc_status mailchimp_subscriber_hash(const char *email, char *out,
                                          size_t outlen, char *err,
                                          size_t errlen)
{
    char norm[512];
    if (out == NULL || outlen < MAILCHIMP_HASH_LEN + 1) {
        set_err(err, errlen, "subscriber hash: output buffer too small");
        return LSC_ERR_INVALID_ARG;
    }
    if (mailchimp_email_normalize(email, norm, sizeof norm) != LSC_OK) {
        set_err(err, errlen, "subscriber hash: not an email address");
        return LSC_ERR_INVALID_ARG;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(norm, strlen(norm), md, &mdlen, EVP_md5(), NULL) != 1 ||
        mdlen != 16) {
        set_err(err, errlen, "subscriber hash: MD5 unavailable in OpenSSL");
        return LSC_ERR_INTERNAL;
    }
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[MAILCHIMP_HASH_LEN] = '\0';
    return LSC_OK;
}

bool mailchimp_dc_valid(const char *dc)
{
    if (dc == NULL) {
        return false;
    }
    size_t i = 0, letters, digits;
    while (dc[i] >= 'a' && dc[i] <= 'z') {
        i++;
    }
    letters = i;
    while (dc[i] >= '0' && dc[i] <= '9') {
        i++;
    }
    digits = i - letters;
    return dc[i] == '\0' && letters >= 2 && letters <= 4 && digits >= 1 &&
           digits <= 3;
}

/* Borrowed `key` (never copied into err); caller-owned `dc`, `err`. */
enum lsc_status mailchimp_dc_from_key(const char *key, char *dc, size_t dclen,
                                      char *err, size_t errlen)
{
    const char *dash = key != NULL ? strrchr(key, '-') : NULL;
    if (dash == NULL || dash == key) {
        set_err(err, errlen,
                "the Mailchimp API key has no data-center suffix (-usN)");
        return LSC_ERR_CONFIG;
    }
    const char *s = dash + 1;
    size_t n = strlen(s);
    if (!mailchimp_dc_valid(s) || n >= dclen) {
        set_err(err, errlen,
                "the Mailchimp API key's data-center suffix is not like "
                "-us6");
        return LSC_ERR_CONFIG;
    }
    memcpy(dc, s, n + 1);
    return LSC_OK;
}

bool mailchimp_merge_tag_valid(const char *tag)
{
    if (tag == NULL) {
        return false;
    }
    size_t n = strlen(tag);
    if (n == 0 || n > MAILCHIMP_MERGE_TAG_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tag[i];
        if (!(isupper(c) || isdigit(c) || c == '_')) {
            return false;
        }
    }
    return true;
}
