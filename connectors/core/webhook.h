/*
 * Connector core: the generic outgoing webhook action (see
 * docs/connectors/webhook-action.md).
 *
 *   POST <url>
 *   Content-Type: application/json
 *   X-Leadscore-Delivery: <delivery_id>
 *   X-Leadscore-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
 *                          "<t>.<raw body>")>
 *   {"contact":..,"from":..|null,"to":..,"score":n,
 *    "reasons":[{"rule":..,"points":x,"awards":n},..],
 *    "at":"<RFC 3339 UTC>","delivery_id":".."}
 *
 * delivery_id is stable for one transition (hex SHA-256 of contact,
 * model, from, to and at, first 32 characters), so a receiver can
 * de-duplicate retries.
 */
#ifndef LSC_CONNECTORS_CORE_WEBHOOK_H
#define LSC_CONNECTORS_CORE_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

#define WEBHOOK_SIGNATURE_HEADER "X-Leadscore-Signature"
#define WEBHOOK_DELIVERY_HEADER "X-Leadscore-Delivery"
#define WEBHOOK_DELIVERY_ID_LEN 32

/* Lowercase hex HMAC-SHA256(key, msg) into out (>= 65 bytes). */
enum lsc_status webhook_hmac_sha256_hex(const void *key, size_t keylen,
                                        const void *msg, size_t msglen,
                                        char *out, size_t outlen);

/* The stable delivery id of a transition into out (>= 33 bytes).
 * from may be NULL. */
void webhook_delivery_id(const char *contact, const char *model,
                         const char *from, const char *to, int64_t at_ms,
                         char *out, size_t outlen);

/* A contributing rule: current points and number of awards (0: fit). */
struct webhook_reason {
    const char *rule;
    double points;
    uint32_t awards;
};

/* Body as documented above; reasons may be NULL when n_reasons is 0.
 * points are rounded to 2 decimals (an integer when whole).
 * malloc()ed compact JSON with sorted keys, caller frees; NULL on NOMEM. */
char *webhook_build_body(const char *contact, const char *from,
                         const char *to, int score,
                         const struct webhook_reason *reasons,
                         size_t n_reasons, int64_t at_ms,
                         const char *delivery_id);

/* Header value "t=<ts_s>,v1=<hex>" into out (>= 96 bytes). */
enum lsc_status webhook_signature(const char *secret, int64_t ts_s,
                                  const char *body, size_t body_len,
                                  char *out, size_t outlen);

/* RFC 3339 UTC with milliseconds ("2026-11-22T10:00:00.000Z") into out
 * (25 bytes for years 0..9999; WEBHOOK_TIME_MAX fits any int fields, so
 * the compiler can prove no truncation). */
#define WEBHOOK_TIME_MAX 96
void webhook_format_time(int64_t ms, char *out, size_t outlen);

#endif
