/*
 * Connector core: what an HTTP attempt means (the Fluent Bit rule of
 * ../shared/docs/style-guide.md section B).
 *
 *   success    2xx (207 is success at this level; batch callers parse
 *              the per-input errors)
 *   retryable  transport failures (connect, DNS, TLS, reset), timeouts,
 *              408, 423, 429, 477, 5xx
 *   auth       401 (the caller may refresh once and retry), and OAuth
 *              invalid_grant answers (re-authorize)
 *   permanent  every other 4xx, and anything else
 *
 * The reason is one line built from the provider's error body
 * (HubSpot {message, category, correlationId}, OAuth {error,
 * error_description}, RFC 7807 {title, detail}), never containing
 * request headers.
 */
#ifndef LSC_CONNECTORS_CORE_OUTCOME_H
#define LSC_CONNECTORS_CORE_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

#include "http.h"

struct outcome {
    enum lsc_status status;  /* LSC_OK, LSC_ERR_RETRYABLE, LSC_ERR_AUTH,
                                LSC_ERR_PERMANENT */
    long http_status;        /* 0 for transport failures */
    int64_t retry_after_ms;  /* from Retry-After, or -1 */
    bool rate_limited;       /* a 429 */
    bool daily_limit;        /* a 429 with policyName DAILY */
    char reason[256];        /* one line */
};

/* Classifies one attempt: `transport` is what http_client_request()
 * returned, `resp` what it filled (borrowed).  now_ms anchors an HTTP-date
 * Retry-After.  Fills caller-owned *out. */
void outcome_classify(enum lsc_status transport,
                      const struct http_response *resp, int64_t now_ms,
                      struct outcome *out);

/* The class of a bare HTTP status: LSC_OK, LSC_ERR_RETRYABLE,
 * LSC_ERR_AUTH (401) or LSC_ERR_PERMANENT. */
enum lsc_status outcome_http_status_class(long http_status);

/* One-line reason from an error body (any of the shapes above, or none)
 * into caller-owned out: "HTTP 400 VALIDATION_ERROR: Property values were
 * not valid ... [correlationId aeb5...]". */
void outcome_error_reason(long http_status, const char *body, size_t len,
                          char *out, size_t outlen);

#endif
