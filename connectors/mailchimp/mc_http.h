/*
 * The Mailchimp connector's view of HTTP: one blocking request, one
 * answer.  Implemented in mc_http.c on libcurl as a minimal adapter until
 * the shared connector core's HTTP layer lands; only this file and
 * mc_http.c change when it does (mc_client.c calls nothing else).
 */
#ifndef LSC_CONNECTORS_MAILCHIMP_HTTP_H
#define LSC_CONNECTORS_MAILCHIMP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

/* Borrowed for the duration of mc_http_send(). */
struct mc_http_req {
    const char *method;        /* "GET", "PUT", "PATCH", "POST" */
    const char *url;           /* https://, or http:// on loopback only */
    const char *body;          /* may be NULL */
    size_t body_len;
    const char *content_type;  /* NULL: application/json when body */
    const char *authorization; /* header value ("Basic ...", "Bearer ...",
                                  "OAuth ..."); a secret, never logged */
    long timeout_ms;           /* whole request */
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

/* Sends the request.  LSC_OK when an HTTP answer (any status) arrived;
 * LSC_ERR_TIMEOUT or LSC_ERR_RETRYABLE for transport failures (text in
 * resp->error); LSC_ERR_INVALID_ARG for a refused URL (plain http off
 * loopback).  Thread-safe: one curl easy handle per call. */
enum lsc_status mc_http_send(const struct mc_http_req *req,
                             struct mc_http_resp *resp);
void mc_http_resp_free(struct mc_http_resp *resp); /* NULL ok */

/* Process-wide libcurl setup, reference-counted by libcurl; pair them
 * (create/destroy of a client). */
enum lsc_status mc_http_global_init(void);
void mc_http_global_cleanup(void);

/* True for http://127.0.0.1, http://localhost, http://[::1] URLs. */
bool mc_http_is_loopback(const char *url);

/* Percent-encodes `s` for a query or form value.  malloc()ed. */
char *mc_http_escape(const char *s);

#endif
