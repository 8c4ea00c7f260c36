/*
 * Adapter from the Mailchimp code to the connector core's HTTP client
 * (see mc_http.h).
 */
#include "mc_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MC_HTTP_MAX_RESPONSE (64u * 1024u * 1024u)

enum lsc_status mc_http_create(long timeout_ms, struct http_client **out,
                               char *err, size_t errlen)
{
    struct http_client_opts o = {
        .timeout_ms = timeout_ms,
        .max_response_bytes = MC_HTTP_MAX_RESPONSE,
    };
    return http_client_create(&o, out, err, errlen);
}

char *mc_http_escape(const char *s)
{
    return http_escape(s != NULL ? s : "");
}

void mc_http_resp_free(struct mc_http_resp *resp)
{
    if (resp != NULL) {
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
    }
}

enum lsc_status mc_http_send(struct http_client *c,
                             const struct mc_http_req *req,
                             struct mc_http_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->retry_after_ms = -1;
    struct http_header h[2];
    size_t nh = 0;
    if (req->authorization != NULL) {
        h[nh++] = (struct http_header){"Authorization", req->authorization};
    }
    h[nh++] = (struct http_header){"Accept", "application/json"};
    struct http_request hr = {
        .method = req->method,
        .url = req->url,
        .headers = h,
        .n_headers = nh,
        .body = req->body,
        .body_len = req->body_len,
        .content_type = req->content_type,
        .timeout_ms = req->timeout_ms,
    };
    struct http_response r;
    enum lsc_status st = http_client_request(c, &hr, &r);
    resp->status = st == LSC_OK ? r.status : 0;
    resp->timed_out = r.timed_out;
    snprintf(resp->error, sizeof resp->error, "%s", r.error);
    if (st == LSC_OK) {
        http_response_header(&r, "X-Request-Id", resp->request_id,
                             sizeof resp->request_id);
        resp->retry_after_ms = http_response_retry_after_ms(&r, http_now_ms());
        resp->body = r.body; /* ownership moves to resp */
        resp->body_len = r.body_len;
        r.body = NULL;
    }
    http_response_finish(&r);
    return st;
}
