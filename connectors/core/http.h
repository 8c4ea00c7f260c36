/*
 * Connector core: HTTP on libcurl.
 *
 * One struct http_client per connector instance.  It keeps a small pool
 * of curl easy handles so connections (and TLS sessions) are reused, and
 * a request never uses a handle another thread holds.  Policy enforced
 * for every request:
 *   - TLS peer and host verification always on (no option turns it off);
 *   - https:// only, except http:// to a loopback address (127.0.0.0/8,
 *     [::1], localhost) for tests and the local fake servers;
 *   - connect timeout and total timeout;
 *   - User-Agent: leadscore/<version>;
 *   - CURLOPT_NOSIGNAL (we run on host threads);
 *   - a response body larger than max_response_bytes is cut off and the
 *     request fails (LSC_ERR_PERMANENT, "response too large").
 * Secrets: request headers are never logged by this layer; the caller
 * passes the Authorization value as a header and must not log it.
 *
 * Ownership: every pointer in struct http_request is borrowed for the
 * call.  struct http_response is caller-owned storage filled by the call;
 * its body and headers are malloc()ed and released by
 * http_response_finish().
 *
 * Threads: http_client_request() may be called from several threads at
 * once on one client.
 */
#ifndef LSC_CONNECTORS_CORE_HTTP_H
#define LSC_CONNECTORS_CORE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define HTTP_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_MAX_RESPONSE (8u * 1024u * 1024u)
#define HTTP_POOL_SIZE 4

struct http_client_opts {
    long connect_timeout_ms;     /* 0: HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;             /* 0: HTTP_DEFAULT_TIMEOUT_MS */
    size_t max_response_bytes;   /* 0: HTTP_DEFAULT_MAX_RESPONSE */
    const char *ca_file;         /* NULL: the system store; copied */
};

struct http_header {
    const char *name;  /* "Authorization" */
    const char *value; /* borrowed */
};

struct http_request {
    const char *method;        /* "GET", "POST", "PATCH", "PUT", "DELETE" */
    const char *url;           /* absolute */
    const struct http_header *headers; /* may be NULL when n_headers 0 */
    size_t n_headers;
    const char *body;          /* may be NULL */
    size_t body_len;
    const char *content_type;  /* NULL: application/json when body set */
    long timeout_ms;           /* 0: the client's */
};

struct http_response {
    long status;               /* HTTP status, 0 when none arrived */
    char *body;                /* malloc()ed, NUL-terminated, or NULL */
    size_t body_len;
    char *headers;             /* malloc()ed raw header block, or NULL */
    size_t headers_len;
    int transport_code;        /* CURLcode, 0 = none */
    bool timed_out;            /* the connect or total timeout fired */
    char error[256];           /* transport failure text, or "" */
};

struct http_client;

/* Creates a client.  opts may be NULL (defaults).  On failure returns
 * NULL status in *out stays NULL and err gets a reason.  The caller owns
 * the client and frees it with http_client_destroy(). */
enum lsc_status http_client_create(const struct http_client_opts *opts,
                                   struct http_client **out, char *err,
                                   size_t errlen);
void http_client_destroy(struct http_client *c); /* NULL ok */

/* Performs one request.  Returns LSC_OK when an HTTP answer arrived (any
 * status: classify it with outcome_classify()); LSC_ERR_TIMEOUT or
 * LSC_ERR_RETRYABLE for transport failures (connect, DNS, TLS, reset);
 * LSC_ERR_INVALID_ARG for a URL the policy refuses (plain http off
 * loopback, another scheme); LSC_ERR_PERMANENT for an over-size answer;
 * LSC_ERR_NOMEM.  `resp` is always initialized; release it with
 * http_response_finish() whatever the result. */
enum lsc_status http_client_request(struct http_client *c,
                                    const struct http_request *req,
                                    struct http_response *resp);

void http_response_finish(struct http_response *resp); /* NULL ok */

/* Value of response header `name` (case-insensitive) copied into
 * caller-owned out; false when absent. */
bool http_response_header(const struct http_response *resp, const char *name,
                          char *out, size_t outlen);

/* Retry-After (delta seconds or an HTTP date) in ms relative to now_ms,
 * or -1 when absent or unparsable.  Clamped to [0, 24 h]. */
int64_t http_response_retry_after_ms(const struct http_response *resp,
                                     int64_t now_ms);

/* True when the URL is acceptable under the policy above. */
bool http_url_allowed(const char *url);
/* True for http(s)://127.x.x.x, [::1] or localhost URLs. */
bool http_url_is_loopback(const char *url);

/* Percent-encodes s (RFC 3986 unreserved kept) for a query or form
 * value.  malloc()ed, caller frees; NULL on NOMEM. */
char *http_escape(const char *s);

/* The User-Agent this build sends ("leadscore/0.1.0"). Static. */
const char *http_user_agent(void);

/* Wall clock, Unix ms (CLOCK_REALTIME). */
int64_t http_now_ms(void);
/* Monotonic clock in ms. */
int64_t http_mono_ms(void);
/* Sleeps ms (bounded by the caller), restarting on EINTR. */
void http_sleep_ms(int64_t ms);

#endif
