/*
 * Formatting of struct lsc_report for people and programs: the JSON
 * object of section 4 of ../shared/docs/scoring-model.md, CSV and a
 * table row.  Everything is appended to a growable buffer so callers
 * choose where it goes (stdout, a socket, a test's expected string).
 */
#ifndef LSC_HOST_OUTPUT_H
#define LSC_HOST_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <leadscore/plugin.h>

/* A growable byte buffer, NUL-terminated.  init/finish (caller memory). */
struct hl_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    bool oom;   /* an append failed: the content is truncated */
};

void hl_buf_init(struct hl_buf *b);
void hl_buf_finish(struct hl_buf *b);      /* frees data; accepts NULL */
void hl_buf_reset(struct hl_buf *b);       /* len = 0, keeps memory */
void hl_buf_append(struct hl_buf *b, const void *p, size_t n);
void hl_buf_puts(struct hl_buf *b, const char *s);
void hl_buf_printf(struct hl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal, quotes included (escapes ", \, control bytes). */
void hl_buf_json_str(struct hl_buf *b, const char *s, size_t len);
/* A number rounded to 2 decimals, without trailing zeros: 38.17, 25, 0. */
void hl_buf_num2(struct hl_buf *b, double v);
/* Text for a terminal: `s` with control bytes (C0, DEL and the UTF-8
 * C1 range) escaped as \n, \r, \t or \xNN and "\" as "\\", left-aligned
 * and padded with spaces to `width` columns (bytes) when shorter.
 * hl_text_width() is the escaped length. */
void hl_buf_text(struct hl_buf *b, const char *s, int width);
size_t hl_text_width(const char *s);
/* Write the content to f; false on a write error. */
bool hl_buf_write(const struct hl_buf *b, FILE *f);

/*
 * JSON (one line, no newline):
 * {"contact":ID,"score":N,"tier":T,"groups":{G:V,...},
 *  "top":[{"rule":R,"points":P[,"awards":K]},...]}
 * `top` lists the first max_top rules of the report (already sorted by
 * |points|); "awards" only for activity rules.
 *
 * For shadow models: hl_output_json_open() writes the object without the
 * closing brace, hl_output_json_shadow() adds one shadow model
 * (",\"shadows\":{" before the first, index 0), hl_output_json_close()
 * closes both.  hl_output_json() = open + close.
 */
void hl_output_json_open(struct hl_buf *b, const struct lsc_report *r,
                         size_t max_top);
void hl_output_json_shadow(struct hl_buf *b, size_t index,
                           const struct lsc_report *r);
void hl_output_json_close(struct hl_buf *b, size_t n_shadows);
void hl_output_json(struct hl_buf *b, const struct lsc_report *r,
                    size_t max_top);

/*
 * CSV (RFC 4180 quoting, one "\n" per record).
 * Header: contact,score,tier,<one column per group>,top, then for each
 * shadow model <model>.score,<model>.tier (hl_output_csv_header_shadow).
 * Row: group values rounded to 2 decimals; `top` as "rule:points;..."
 * (at most max_top), then hl_output_csv_shadow() per shadow model.
 * hl_output_csv_end() ends a header or a row.
 */
void hl_output_csv_header(struct hl_buf *b, const struct lsc_report *r);
void hl_output_csv_header_shadow(struct hl_buf *b, const char *model);
void hl_output_csv_row(struct hl_buf *b, const struct lsc_report *r,
                       size_t max_top);
void hl_output_csv_shadow(struct hl_buf *b, const struct lsc_report *r);
void hl_output_csv_end(struct hl_buf *b);

/*
 * Table for people: a header and one row per contact, columns CONTACT
 * (padded to id_width), SCORE, TIER (padded to tier_width), REASONS: the
 * top 3 rules as "decision-maker +15, pricing-page +14.11 (2 awards)".
 * Ids, tiers and rule names go through hl_buf_text(): a control byte in
 * the data cannot move the cursor or end a row.
 */
void hl_output_table_header(struct hl_buf *b, int id_width, int tier_width);
void hl_output_table_row(struct hl_buf *b, const struct lsc_report *r,
                         int id_width, int tier_width);

#endif /* LSC_HOST_OUTPUT_H */
