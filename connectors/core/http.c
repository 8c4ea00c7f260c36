/*
 * Connector core: HTTP on libcurl (see http.h for the policy).
 */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include <leadscore/version.h>

struct http_client {
    pthread_mutex_t lock;
    CURL *pool[HTTP_POOL_SIZE]; /* idle handles, NULL slots are free */
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_response;
    char *ca_file;
};

struct sink {
    char *buf;
    size_t len;
    size_t cap;
    size_t limit;
    bool too_large;
};

const char *http_user_agent(void)
{
    return "leadscore/" LSC_VERSION_STRING;
}

int64_t http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t http_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_sleep_ms(int64_t ms)
{
    if (ms <= 0) {
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

enum lsc_status http_client_create(const struct http_client_opts *opts,
                                   struct http_client **out, char *err,
                                   size_t errlen)
{
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        return LSC_ERR_INTERNAL;
    }
    struct http_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        curl_global_cleanup();
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->connect_timeout_ms = HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
    c->max_response = HTTP_DEFAULT_MAX_RESPONSE;
    if (opts != NULL) {
        if (opts->connect_timeout_ms > 0) {
            c->connect_timeout_ms = opts->connect_timeout_ms;
        }
        if (opts->timeout_ms > 0) {
            c->timeout_ms = opts->timeout_ms;
        }
        if (opts->max_response_bytes > 0) {
            c->max_response = opts->max_response_bytes;
        }
        if (opts->ca_file != NULL) {
            c->ca_file = strdup(opts->ca_file);
            if (c->ca_file == NULL) {
                http_client_destroy(c);
                snprintf(err, errlen, "out of memory");
                return LSC_ERR_NOMEM;
            }
        }
    }
    *out = c;
    return LSC_OK;
}

void http_client_destroy(struct http_client *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < HTTP_POOL_SIZE; i++) {
        if (c->pool[i] != NULL) {
            curl_easy_cleanup(c->pool[i]);
        }
    }
    pthread_mutex_destroy(&c->lock);
    free(c->ca_file);
    free(c);
    curl_global_cleanup();
}

static CURL *take_handle(struct http_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < HTTP_POOL_SIZE; i++) {
        if (c->pool[i] != NULL) {
            h = c->pool[i];
            c->pool[i] = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (h == NULL) {
        h = curl_easy_init();
    } else {
        curl_easy_reset(h); /* keeps the connection and session caches */
    }
    return h;
}

static void give_handle(struct http_client *c, CURL *h)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < HTTP_POOL_SIZE; i++) {
        if (c->pool[i] == NULL) {
            c->pool[i] = h;
            h = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (h != NULL) {
        curl_easy_cleanup(h);
    }
}

static size_t sink_write(const char *data, size_t n, struct sink *s)
{
    if (s->len + n > s->limit) {
        s->too_large = true;
        return 0; /* aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap == 0 ? 4096 : s->cap;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        char *nb = realloc(s->buf, cap);
        if (nb == NULL) {
            return 0;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    return sink_write(data, size * nmemb, ud);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    size_t n = size * nmemb;
    struct sink *s = ud;
    /* A new status line (redirects are off, but 100-continue) restarts. */
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        s->len = 0;
        if (s->buf != NULL) {
            s->buf[0] = '\0';
        }
    }
    return sink_write(data, n, ud);
}

bool http_url_is_loopback(const char *url)
{
    const char *p;
    if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        p = url + 8;
    } else {
        return false;
    }
    if (memchr(p, '@', strcspn(p, "/?#")) != NULL) {
        return false; /* userinfo: refuse to guess */
    }
    size_t hl = strcspn(p, ":/?#");
    if (p[0] == '[') {
        return strncmp(p, "[::1]", 5) == 0 &&
               (p[5] == '\0' || p[5] == ':' || p[5] == '/');
    }
    if (hl == 9 && strncasecmp(p, "localhost", 9) == 0) {
        return true;
    }
    if (strncmp(p, "127.", 4) != 0) {
        return false;
    }
    /* 127.a.b.c with digits and dots only */
    for (size_t i = 0; i < hl; i++) {
        if (!isdigit((unsigned char)p[i]) && p[i] != '.') {
            return false;
        }
    }
    return true;
}

bool http_url_allowed(const char *url)
{
    if (url == NULL) {
        return false;
    }
    if (strncasecmp(url, "https://", 8) == 0 && url[8] != '\0') {
        return true;
    }
    return strncasecmp(url, "http://", 7) == 0 && http_url_is_loopback(url);
}

char *http_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (out == NULL) {
        return NULL;
    }
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

void http_response_finish(struct http_response *resp)
{
    if (resp == NULL) {
        return;
    }
    free(resp->body);
    free(resp->headers);
    resp->body = NULL;
    resp->headers = NULL;
    resp->body_len = 0;
    resp->headers_len = 0;
}

bool http_response_header(const struct http_response *resp, const char *name,
                          char *out, size_t outlen)
{
    if (resp == NULL || resp->headers == NULL || outlen == 0) {
        return false;
    }
    size_t nl = strlen(name);
    const char *p = resp->headers;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            const char *end = p + ll;
            while (v < end && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (end > v && (end[-1] == '\r' || end[-1] == ' ')) {
                end--;
            }
            size_t vl = (size_t)(end - v);
            if (vl >= outlen) {
                vl = outlen - 1;
            }
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        if (eol == NULL) {
            break;
        }
        p = eol + 1;
    }
    return false;
}

int64_t http_response_retry_after_ms(const struct http_response *resp,
                                     int64_t now_ms)
{
    char v[128];
    if (!http_response_header(resp, "Retry-After", v, sizeof v) ||
        v[0] == '\0') {
        return -1;
    }
    int64_t ms;
    char *end;
    errno = 0;
    long long secs = strtoll(v, &end, 10);
    if (end != v && *end == '\0' && errno == 0) {
        if (secs < 0) {
            return -1;
        }
        ms = secs > 86400 ? 86400000 : (int64_t)secs * 1000;
    } else {
        time_t t = curl_getdate(v, NULL);
        if (t == (time_t)-1) {
            return -1;
        }
        ms = (int64_t)t * 1000 - now_ms;
    }
    if (ms < 0) {
        ms = 0;
    }
    if (ms > 86400000) {
        ms = 86400000;
    }
    return ms;
}

enum lsc_status http_client_request(struct http_client *c,
                                    const struct http_request *req,
                                    struct http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    if (c == NULL || req == NULL || req->method == NULL) {
        snprintf(resp->error, sizeof resp->error, "invalid request");
        return LSC_ERR_INVALID_ARG;
    }
    if (!http_url_allowed(req->url)) {
        snprintf(resp->error, sizeof resp->error,
                 "refused URL: only https:// (or http:// to a loopback "
                 "address) is allowed");
        return LSC_ERR_INVALID_ARG;
    }
    CURL *h = take_handle(c);
    if (h == NULL) {
        snprintf(resp->error, sizeof resp->error, "out of memory");
        return LSC_ERR_NOMEM;
    }
    struct sink body = {.limit = c->max_response};
    struct sink hdrs = {.limit = 64 * 1024};
    struct curl_slist *hl = NULL;
    enum lsc_status st = LSC_OK;
    char line[1024];
    char errbuf[CURL_ERROR_SIZE] = "";

    for (size_t i = 0; i < req->n_headers; i++) {
        /* sized to fit: tokens have no documented maximum length */
        size_t ll = strlen(req->headers[i].name) +
                    strlen(req->headers[i].value) + 3;
        char *hline = malloc(ll);
        if (hline == NULL) {
            st = LSC_ERR_NOMEM;
            goto out;
        }
        snprintf(hline, ll, "%s: %s", req->headers[i].name,
                 req->headers[i].value);
        struct curl_slist *n = curl_slist_append(hl, hline);
        explicit_bzero(hline, ll); /* may hold an Authorization value */
        free(hline);
        if (n == NULL) {
            st = LSC_ERR_NOMEM;
            goto out;
        }
        hl = n;
    }
    if (req->body != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s",
                 req->content_type ? req->content_type : "application/json");
        struct curl_slist *n = curl_slist_append(hl, line);
        if (n == NULL) {
            st = LSC_ERR_NOMEM;
            goto out;
        }
        hl = n;
    }
    {
        struct curl_slist *n = curl_slist_append(hl, "Expect:");
        if (n == NULL) {
            st = LSC_ERR_NOMEM;
            goto out;
        }
        hl = n;
    }

    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS,
                     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, http_user_agent());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms : c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)c->max_response);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (c->ca_file != NULL) {
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    }
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
    }

    CURLcode rc = curl_easy_perform(h);
    resp->transport_code = (int)rc;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    if (rc != CURLE_OK) {
        if (body.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
            snprintf(resp->error, sizeof resp->error,
                     "response too large (limit %zu bytes)", c->max_response);
            st = LSC_ERR_PERMANENT;
        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            resp->timed_out = true;
            /* curl's text may fill its CURL_ERROR_SIZE buffer: cut it
             * so the prefix fits resp->error. */
            snprintf(resp->error, sizeof resp->error, "timed out: %.*s",
                     (int)(sizeof resp->error - sizeof "timed out: "),
                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
            st = LSC_ERR_TIMEOUT;
        } else if (rc == CURLE_OUT_OF_MEMORY) {
            snprintf(resp->error, sizeof resp->error, "out of memory");
            st = LSC_ERR_NOMEM;
        } else if (rc == CURLE_UNSUPPORTED_PROTOCOL ||
                   rc == CURLE_URL_MALFORMAT) {
            snprintf(resp->error, sizeof resp->error, "bad URL: %s",
                     curl_easy_strerror(rc));
            st = LSC_ERR_INVALID_ARG;
        } else {
            snprintf(resp->error, sizeof resp->error, "%s",
                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
            st = LSC_ERR_RETRYABLE;
        }
        resp->status = 0;
        free(body.buf);
        body.buf = NULL;
        body.len = 0;
    }
out:
    curl_slist_free_all(hl);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    give_handle(c, h);
    if (st == LSC_ERR_NOMEM && resp->error[0] == '\0') {
        snprintf(resp->error, sizeof resp->error, "out of memory");
    }
    resp->body = body.buf;
    resp->body_len = body.len;
    resp->headers = hdrs.buf;
    resp->headers_len = hdrs.len;
    return st;
}
