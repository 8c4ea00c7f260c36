/*
 * Decoding of one JSON Lines event (section 1 of ../shared/docs/scoring-model.md)
 * into a typed struct lsc_event, and RFC 3339 / Unix-seconds times.
 */
#ifndef LSC_HOST_EVENT_JSON_H
#define LSC_HOST_EVENT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

/* Maximum length of a contact id in bytes (section 1). */
#define HL_CONTACT_ID_MAX 256

/*
 * A decoder owns the storage of the last decoded event (the parsed JSON,
 * the props array, compact JSON text of array/object values) and reuses
 * it from one line to the next.  One decoder per thread.
 */
struct hl_event_decoder;

/* Returns NULL when out of memory.  Owned by the caller. */
struct hl_event_decoder *hl_event_decoder_create(void);

/* Accepts NULL. */
void hl_event_decoder_destroy(struct hl_event_decoder *d);

/*
 * Decode one line (`len` bytes, need not be NUL-terminated; a trailing
 * "\n" or "\r\n" is allowed).  On success fills *ev (struct_size, kind,
 * contact_id, type, ts_ms, event_id, props, n_props; state, state_len
 * and now_ms are zeroed for the host to set).  Every pointer in *ev is
 * owned by the decoder and valid until the next decode or destroy.
 * `props` values: JSON string, number, true/false, null map to the same
 * lsc_value types; arrays and objects to LSC_VAL_JSON (compact text).
 *
 * Kind: "contact.created|updated|deleted" map to the contact kinds;
 * another "contact.*" type is refused; every other type is an activity.
 *
 * On failure returns LSC_ERR_PARSE with a one-line reason naming the
 * field, e.g. "field 'ts': expected an RFC 3339 time or Unix seconds".
 */
enum lsc_status hl_event_decode(struct hl_event_decoder *d, const char *line,
                                size_t len, struct lsc_event *ev, char *err,
                                size_t errlen);

/*
 * Parse a time: RFC 3339 ("2026-11-01T10:00:00Z", "...T10:00:00.250+02:00",
 * 't'/' ' separator and 'z' accepted) or Unix seconds ("1793527200",
 * "1793527200.5", optionally negative).  Writes Unix milliseconds (rounded
 * to the nearest ms) to *ms.  LSC_ERR_PARSE on anything else or when out
 * of range (years 0000..9999).
 */
enum lsc_status hl_time_parse(const char *s, int64_t *ms);

/* Unix seconds (a JSON number) to ms, rounded; LSC_ERR_PARSE when not
 * finite or out of the range hl_time_parse accepts. */
enum lsc_status hl_time_from_seconds(double seconds, int64_t *ms);

/*
 * Format Unix ms as RFC 3339 UTC: "2026-11-01T10:00:00Z", with ".250"
 * when the milliseconds are not zero.  buf needs 32 bytes; returns buf.
 */
char *hl_time_format(int64_t ms, char *buf, size_t buflen);

/* The event kind for an event type string, or 0 for an unknown
 * "contact.*" type. */
enum lsc_event_kind hl_event_kind_of(const char *type);

#endif /* LSC_HOST_EVENT_JSON_H */
