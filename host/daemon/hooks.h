/*
 * Incoming webhooks: signature verification (HubSpot v3, Mailchimp
 * X-Mailchimp-Signature) and the mapping of deliveries to leadscore
 * events (canonical JSON lines of ../shared/docs/scoring-model.md
 * section 1).  Pure functions: no I/O, no clock (callers pass now).
 */
#ifndef LSC_DAEMON_HOOKS_H
#define LSC_DAEMON_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

/* Percent-escapes HubSpot decodes in requestUri before signing
 * (%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B, either case).
 * Writes into out (caller-owned); LSC_ERR_INVALID_ARG when too small. */
enum lsc_status hooks_hubspot_uri(const char *uri, char *out, size_t outlen);

/*
 * HubSpot v3: base64(HMAC-SHA256(secret, method + uri + body + ts)),
 * compared in constant time with `signature`; `ts` is the
 * X-HubSpot-Request-Timestamp header (ms).  Missing headers, a timestamp
 * older than max_age_ms (or as far in the future) or a wrong signature
 * give LSC_ERR_AUTH with the reason in err.  `uri` is used as given
 * (normalize it with hooks_hubspot_uri first).
 */
enum lsc_status hooks_verify_hubspot(const char *secret, const char *method,
                                     const char *uri, const void *body,
                                     size_t len, const char *ts,
                                     const char *signature, int64_t now_ms,
                                     int64_t max_age_ms, char *err,
                                     size_t errlen);

/* The v3 signature itself into out (>= 45 bytes); tests and clients. */
enum lsc_status hooks_sign_hubspot(const char *secret, const char *method,
                                   const char *uri, const void *body,
                                   size_t len, const char *ts, char *out,
                                   size_t outlen);

/*
 * Mailchimp: header "t=<unix s>,v1=<hex HMAC-SHA256(secret, t + '.' +
 * raw body)>", |now - t| <= 300 s.  LSC_ERR_AUTH with a reason.
 */
enum lsc_status hooks_verify_mailchimp(const char *secret, const char *header,
                                       const void *body, size_t len,
                                       int64_t now_ms, char *err,
                                       size_t errlen);
/* The header value for t (seconds) into out (>= 80 bytes). */
enum lsc_status hooks_sign_mailchimp(const char *secret, int64_t t,
                                     const void *body, size_t len, char *out,
                                     size_t outlen);

/* The result of mapping one delivery: events as canonical JSON lines and
 * the items that could not be mapped, with reasons.  Owned by the
 * caller; free with hooks_result_free(). */
struct hooks_result {
    char **lines;   /* malloc'ed JSON objects, one per event */
    size_t n_lines;
    char **rejects; /* malloc'ed one-line reasons */
    size_t n_rejects;
    size_t ignored; /* deliveries that carry no contact event */
};
void hooks_result_free(struct hooks_result *r);

/*
 * A HubSpot delivery (a JSON array of events, or one object):
 * contact.creation -> contact.created, contact.propertyChange ->
 * contact.updated {propertyName: propertyValue}, contact.deletion ->
 * contact.deleted; contact = objectId, ts = occurredAt, id =
 * "hubspot:<portalId>:<subscriptionId>:<eventId>" (a missing portalId or
 * subscriptionId reads 0).  Other subscription types are ignored.
 * LSC_ERR_PARSE (reason in err) when the body is not a JSON array/object.
 */
enum lsc_status hooks_map_hubspot(const char *body, size_t len,
                                  struct hooks_result *out, char *err,
                                  size_t errlen);

/*
 * A Mailchimp delivery (application/x-www-form-urlencoded): subscribe,
 * unsubscribe, profile, upemail, cleaned, campaign.  Contact = lowercase
 * data[email] (data[old_email] for upemail, whose event lists the new
 * address in "aliases" unless by_id), or data[id] when by_id; cleaned's
 * email_bounce carries "bounce" (hard, abuse).  Ids are "mailchimp:<first 32 hex of SHA-256(body)>:<n>" so a
 * redelivery is a duplicate.  LSC_ERR_PARSE for a missing or unknown type.
 */
enum lsc_status hooks_map_mailchimp(const char *body, size_t len, bool by_id,
                                    struct hooks_result *out, char *err,
                                    size_t errlen);

/* Decode application/x-www-form-urlencoded `s` (len bytes) and call fn
 * for each key/value (NUL-terminated, borrowed for the call). */
enum lsc_status hooks_form_parse(const char *s, size_t len,
                                 void (*fn)(void *ud, const char *key,
                                            const char *value),
                                 void *ud);

#endif
