/*
 * The Mailchimp connector's view of HTTP: one blocking request, one
 * answer, on the connector core's client (connectors/core/http.h), which
 * enforces HTTPS (plain http only to loopback), TLS verification,
 * timeouts, the User-Agent and handle reuse.  This adapter adds what the
 * Mailchimp code reads from every answer: X-Request-Id and Retry-After.
 */
#ifndef LSC_CONNECTORS_MAILCHIMP_HTTP_H
#define LSC_CONNECTORS_MAILCHIMP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

#include "core/http.h"

/* Borrowed for the duration of mc_http_send(). */
struct mc_http_req {
    const char *method;        /* "GET", "PUT", "PATCH", "POST" */
    const char *url;           /* https://, or http:// on loopback only */
    const char *body;          /* may be NULL */
    size_t body_len;
    const char *content_type;  /* NULL: application/json when body */
    const char *authorization; /* header value ("Basic ...", "Bearer ...",
                                  "OAuth ..."); a secret, never logged */
    long timeout_ms;           /* whole request; 0: the client's */
};

/* Filled by mc_http_send(); free with mc_http_resp_free(). */
struct mc_http_resp {
    long status;               /* 0 when no HTTP answer arrived */
    char *body;                /* malloc()ed, NUL-terminated, may be NULL */
    size_t body_len;
    char request_id[96];       /* X-Request-Id, or "" */
    int64_t retry_after_ms;    /* Retry-After in ms, or -1 */
    bool timed_out;            /* transport: the timeout fired */
    char error[256];           /* transport failure text, or "" */
};

/* A core HTTP client for Mailchimp: `timeout_ms` per request (120 s at
 * most at Mailchimp), answers up to 64 MiB (activity pages of 1000
 * emails).  Caller owns *out (http_client_destroy). */
enum lsc_status mc_http_create(long timeout_ms, struct http_client **out,
                               char *err, size_t errlen);

/* Sends the request.  LSC_OK when an HTTP answer (any status) arrived;
 * LSC_ERR_TIMEOUT or LSC_ERR_RETRYABLE for transport failures (text in
 * resp->error); LSC_ERR_INVALID_ARG for a refused URL; LSC_ERR_PERMANENT
 * for an over-size answer; LSC_ERR_NOMEM.  Thread-safe. */
enum lsc_status mc_http_send(struct http_client *c,
                             const struct mc_http_req *req,
                             struct mc_http_resp *resp);
void mc_http_resp_free(struct mc_http_resp *resp); /* NULL ok */

/* Percent-encodes `s` for a query or form value.  malloc()ed. */
char *mc_http_escape(const char *s);

#endif
