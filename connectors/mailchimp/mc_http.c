/*
 * Minimal libcurl adapter behind mc_http.h (see there for why it exists).
 * Policy: HTTPS only except loopback, TLS peer and host verification on,
 * no redirects, no signals, a whole-request timeout, a User-Agent.
 */
#include "mc_http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "leadscore/version.h"

#ifndef LSC_VERSION_STRING
#define LSC_VERSION_STRING "0.1.0"
#endif

struct sink {
    char *buf;
    size_t len;
    size_t cap;
    bool overflow;
};

#define MC_HTTP_MAX_BODY (64u << 20)

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (s->len + n + 1 > s->cap) {
        size_t cap = (s->len + n + 1) * 2;
        char *nb = cap <= MC_HTTP_MAX_BODY ? realloc(s->buf, cap) : NULL;
        if (nb == NULL) {
            s->overflow = true;
            return 0;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct mc_http_resp *r = ud;
    size_t n = size * nmemb;
    char line[256];
    size_t l = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, ptr, l);
    line[l] = '\0';
    while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == '\n')) {
        line[--l] = '\0';
    }
    char *colon = strchr(line, ':');
    if (colon == NULL) {
        return n;
    }
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    if (strcasecmp(line, "X-Request-Id") == 0) {
        snprintf(r->request_id, sizeof r->request_id, "%s", v);
    } else if (strcasecmp(line, "Retry-After") == 0 &&
               isdigit((unsigned char)*v)) {
        r->retry_after_ms = strtoll(v, NULL, 10) * 1000;
    }
    return n;
}

bool mc_http_is_loopback(const char *u)
{
    static const char *const ok[] = {"http://127.0.0.1", "http://localhost",
                                     "http://[::1]"};
    for (size_t i = 0; u != NULL && i < 3; i++) {
        size_t n = strlen(ok[i]);
        if (strncmp(u, ok[i], n) == 0 &&
            (u[n] == ':' || u[n] == '/' || u[n] == '\0')) {
            return true;
        }
    }
    return false;
}

char *mc_http_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *o = malloc(3 * n + 1);
    if (o == NULL) {
        return NULL;
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            o[j++] = (char)c;
        } else {
            o[j++] = '%';
            o[j++] = hex[c >> 4];
            o[j++] = hex[c & 15];
        }
    }
    o[j] = '\0';
    return o;
}

enum lsc_status mc_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK
               ? LSC_OK
               : LSC_ERR_INTERNAL;
}

void mc_http_global_cleanup(void)
{
    curl_global_cleanup();
}

void mc_http_resp_free(struct mc_http_resp *resp)
{
    if (resp != NULL) {
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
    }
}

enum lsc_status mc_http_send(const struct mc_http_req *req,
                             struct mc_http_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->retry_after_ms = -1;
    if (req->url == NULL ||
        (strncmp(req->url, "https://", 8) != 0 &&
         !mc_http_is_loopback(req->url))) {
        snprintf(resp->error, sizeof resp->error,
                 "refusing a non-HTTPS URL outside loopback");
        return LSC_ERR_INVALID_ARG;
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(resp->error, sizeof resp->error, "curl_easy_init failed");
        return LSC_ERR_RETRYABLE;
    }
    struct sink sk = {0};
    struct curl_slist *hdrs = NULL;
    char line[2048];
    char errbuf[CURL_ERROR_SIZE] = "";
    if (req->authorization != NULL) {
        snprintf(line, sizeof line, "Authorization: %s", req->authorization);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (req->body != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s",
                 req->content_type != NULL ? req->content_type
                                           : "application/json");
        hdrs = curl_slist_append(hdrs, line);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS,
                         req->body != NULL ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body != NULL ? req->body_len : 0));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT,
                     "leadscore/" LSC_VERSION_STRING " (mailchimp connector)");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0
                                                ? req->timeout_ms
                                                : 120000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sk);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(h);
    enum lsc_status st = LSC_OK;
    if (rc != CURLE_OK) {
        resp->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        snprintf(resp->error, sizeof resp->error, "%s",
                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        st = resp->timed_out ? LSC_ERR_TIMEOUT : LSC_ERR_RETRYABLE;
        free(sk.buf);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->body = sk.buf;
        resp->body_len = sk.len;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return st;
}
