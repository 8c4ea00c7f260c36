/*
 * Report formatting: JSON (section 4 of the scoring contract), CSV, table.
 */
#include "output.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- Buffer ------------------------------------------------------------- */

void hl_buf_init(struct hl_buf *b)
{
    *b = (struct hl_buf){0};
}

void hl_buf_finish(struct hl_buf *b)
{
    if (b == NULL) {
        return;
    }
    free(b->data);
    *b = (struct hl_buf){0};
}

void hl_buf_reset(struct hl_buf *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

static bool reserve(struct hl_buf *b, size_t extra)
{
    if (b->oom) {
        return false;
    }
    if (b->len + extra + 1 <= b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (d == NULL) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void hl_buf_append(struct hl_buf *b, const void *p, size_t n)
{
    if (!reserve(b, n)) {
        return;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
}

void hl_buf_puts(struct hl_buf *b, const char *s)
{
    hl_buf_append(b, s, strlen(s));
}

/* hl_buf_append with the usual case (room left) inline: a report is
 * dozens of short pieces. */
static inline void app(struct hl_buf *b, const void *p, size_t n)
{
    if (b->len + n < b->cap && !b->oom) {
        if (n > 0) {
            memcpy(b->data + b->len, p, n);
        }
        b->len += n;
        b->data[b->len] = '\0';
        return;
    }
    hl_buf_append(b, p, n);
}

/* A string literal, its length known at compile time. */
#define LIT(b, s) app((b), (s), sizeof(s) - 1)

void hl_buf_printf(struct hl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hl_buf_json_str(struct hl_buf *b, const char *s, size_t len)
{
    if (s == NULL) {
        LIT(b, "null");
        return;
    }
    app(b, "\"", 1);
    size_t start = 0, i = 0;
    /* Eight bytes a step over the usual plain text (rule and group names,
     * ids): a byte below 0x20, '"' or '\\' stops it (a borrow can only
     * flag a byte above a real hit, so a clean word is clean). */
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        const uint64_t ones = 0x0101010101010101ULL;
        const uint64_t high = 0x8080808080808080ULL;
        uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
        uint64_t hit = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
                       ((bs - ones) & ~bs);
        if ((hit & high) != 0) {
            break;
        }
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        app(b, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"': LIT(b, "\\\""); break;
        case '\\': LIT(b, "\\\\"); break;
        case '\n': LIT(b, "\\n"); break;
        case '\r': LIT(b, "\\r"); break;
        case '\t': LIT(b, "\\t"); break;
        default: hl_buf_printf(b, "\\u%04x", c); break;
        }
    }
    app(b, s + start, len - start);
    app(b, "\"", 1);
}

static void str(struct hl_buf *b, const char *s)
{
    hl_buf_json_str(b, s, s != NULL ? strlen(s) : 0);
}

/* Decimal digits of v at the end of buf (no sign); returns the start. */
static char *utoa_end(unsigned long long v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

static void put_int(struct hl_buf *b, long long v)
{
    char tmp[24];
    char *end = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                 : (unsigned long long)v;
    char *p = utoa_end(u, end);
    if (v < 0) {
        *--p = '-';
    }
    app(b, p, (size_t)(end - p));
}

/* The "%.2f" way, kept for values too large for the integer path. */
static void num2_printf(struct hl_buf *b, double v)
{
    char tmp[64]; /* as before: huge values keep their old text */
    snprintf(tmp, sizeof tmp, "%.2f", round(v * 100.0) / 100.0);
    char *dot = strchr(tmp, '.');
    if (dot != NULL) {
        char *end = tmp + strlen(tmp);
        while (end > dot + 1 && end[-1] == '0') {
            *--end = '\0';
        }
        if (end == dot + 1) {
            *dot = '\0';
        }
    }
    hl_buf_puts(b, strcmp(tmp, "-0") == 0 ? "0" : tmp);
}

void hl_buf_num2(struct hl_buf *b, double v)
{
    if (!isfinite(v)) {
        LIT(b, "null");
        return;
    }
    /* For |k / 100| < 1e11 the double nearest to k / 100 is within
     * 0.0001 of it, so "%.2f" prints k / 100 exactly: format k. */
    double k = round(v * 100.0);
    if (fabs(k) >= 1e13) {
        num2_printf(b, v);
        return;
    }
    long long h = (long long)k;
    unsigned long long u = h < 0 ? 0ULL - (unsigned long long)h
                                 : (unsigned long long)h;
    char tmp[32];
    char *end = tmp + sizeof tmp;
    char *p;
    unsigned frac = (unsigned)(u % 100);
    if (frac == 0) {
        p = utoa_end(u / 100, end);
    } else {
        char *e = end;
        if (frac % 10 == 0) {
            *--e = (char)('0' + frac / 10);
        } else {
            *--e = (char)('0' + frac % 10);
            *--e = (char)('0' + frac / 10);
        }
        *--e = '.';
        p = utoa_end(u / 100, e);
    }
    if (h < 0) {
        *--p = '-'; /* -0 never gets here: h == 0 prints "0" */
    }
    app(b, p, (size_t)(end - p));
}

/* Bytes hl_buf_text() escapes at s[i] (0 if none): C0, DEL, backslash,
 * and U+0080..U+009F (0xC2 0x80..0x9F). */
static size_t text_escape_len(const unsigned char *s, size_t i)
{
    unsigned char c = s[i];
    if (c < 0x20 || c == 0x7f || c == '\\') {
        return 1;
    }
    if (c == 0xc2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
        return 2;
    }
    return 0;
}

size_t hl_text_width(const char *s)
{
    const unsigned char *u = (const unsigned char *)(s != NULL ? s : "");
    size_t w = 0;
    for (size_t i = 0; u[i] != '\0'; i++) {
        size_t e = text_escape_len(u, i);
        if (e == 0) {
            w++;
        } else if (u[i] == '\n' || u[i] == '\r' || u[i] == '\t' ||
                   u[i] == '\\') {
            w += 2;
        } else {
            w += 4 * e;
            i += e - 1;
        }
    }
    return w;
}

void hl_buf_text(struct hl_buf *b, const char *s, int width)
{
    const unsigned char *u = (const unsigned char *)(s != NULL ? s : "");
    size_t w = 0;
    size_t run = 0; /* start of the bytes not yet appended */
    size_t i = 0;
    for (; u[i] != '\0'; i++) {
        size_t e = text_escape_len(u, i);
        if (e == 0) {
            w++;
            continue;
        }
        app(b, u + run, i - run);
        char esc[9];
        size_t n;
        switch (u[i]) {
        case '\n':
            n = (size_t)snprintf(esc, sizeof esc, "\\n");
            break;
        case '\r':
            n = (size_t)snprintf(esc, sizeof esc, "\\r");
            break;
        case '\t':
            n = (size_t)snprintf(esc, sizeof esc, "\\t");
            break;
        case '\\':
            n = (size_t)snprintf(esc, sizeof esc, "\\\\");
            break;
        default:
            if (e == 2) {
                n = (size_t)snprintf(esc, sizeof esc, "\\x%02x\\x%02x", u[i],
                                     u[i + 1]);
            } else {
                n = (size_t)snprintf(esc, sizeof esc, "\\x%02x", u[i]);
            }
            break;
        }
        app(b, esc, n);
        w += n;
        i += e - 1;
        run = i + 1;
    }
    app(b, u + run, i - run);
    for (; width > 0 && w < (size_t)width; w++) {
        app(b, " ", 1);
    }
}

bool hl_buf_write(const struct hl_buf *b, FILE *f)
{
    if (b->oom) {
        return false;
    }
    return b->len == 0 || fwrite(b->data, 1, b->len, f) == b->len;
}

/* ---- JSON --------------------------------------------------------------- */

void hl_output_json_open(struct hl_buf *b, const struct lsc_report *r,
                         size_t max_top)
{
    LIT(b, "{\"contact\":");
    str(b, r->contact_id);
    LIT(b, ",\"score\":");
    put_int(b, r->score);
    LIT(b, ",\"tier\":");
    str(b, r->tier);
    LIT(b, ",\"groups\":{");
    for (size_t i = 0; i < r->n_groups; i++) {
        if (i > 0) {
            LIT(b, ",");
        }
        str(b, r->groups[i].name);
        LIT(b, ":");
        hl_buf_num2(b, r->groups[i].value);
    }
    LIT(b, "},\"top\":[");
    for (size_t i = 0; i < r->n_rules && i < max_top; i++) {
        const struct lsc_report_rule *rule = &r->rules[i];
        if (i > 0) {
            LIT(b, ",");
        }
        LIT(b, "{\"rule\":");
        str(b, rule->rule);
        LIT(b, ",\"points\":");
        hl_buf_num2(b, rule->points);
        if (!rule->fit) {
            LIT(b, ",\"awards\":");
            put_int(b, rule->awards);
        }
        LIT(b, "}");
    }
    LIT(b, "]");
}

void hl_output_json_shadow(struct hl_buf *b, size_t index,
                           const struct lsc_report *r)
{
    hl_buf_puts(b, index == 0 ? ",\"shadows\":{" : ",");
    str(b, r->model);
    hl_buf_printf(b, ":{\"score\":%d,\"tier\":", r->score);
    str(b, r->tier);
    LIT(b, "}");
}

void hl_output_json_close(struct hl_buf *b, size_t n_shadows)
{
    hl_buf_puts(b, n_shadows > 0 ? "}}" : "}");
}

void hl_output_json(struct hl_buf *b, const struct lsc_report *r,
                    size_t max_top)
{
    hl_output_json_open(b, r, max_top);
    hl_output_json_close(b, 0);
}

/* ---- CSV ---------------------------------------------------------------- */

static void csv_field(struct hl_buf *b, const char *s)
{
    if (s == NULL) {
        return;
    }
    if (strpbrk(s, ",\"\r\n") == NULL) {
        hl_buf_puts(b, s);
        return;
    }
    LIT(b, "\"");
    for (const char *p = s; *p != '\0'; p++) {
        app(b, p, 1);
        if (*p == '"') {
            app(b, p, 1);
        }
    }
    LIT(b, "\"");
}

void hl_output_csv_header(struct hl_buf *b, const struct lsc_report *r)
{
    LIT(b, "contact,score,tier");
    for (size_t i = 0; i < r->n_groups; i++) {
        LIT(b, ",");
        csv_field(b, r->groups[i].name);
    }
    LIT(b, ",top");
}

void hl_output_csv_header_shadow(struct hl_buf *b, const char *model)
{
    struct hl_buf name;
    hl_buf_init(&name);
    hl_buf_printf(&name, "%s.score", model);
    LIT(b, ",");
    csv_field(b, name.data);
    hl_buf_reset(&name);
    hl_buf_printf(&name, "%s.tier", model);
    LIT(b, ",");
    csv_field(b, name.data);
    hl_buf_finish(&name);
}

void hl_output_csv_row(struct hl_buf *b, const struct lsc_report *r,
                       size_t max_top)
{
    csv_field(b, r->contact_id);
    hl_buf_printf(b, ",%d,", r->score);
    csv_field(b, r->tier);
    for (size_t i = 0; i < r->n_groups; i++) {
        LIT(b, ",");
        hl_buf_num2(b, r->groups[i].value);
    }
    struct hl_buf top;
    hl_buf_init(&top);
    for (size_t i = 0; i < r->n_rules && i < max_top; i++) {
        if (i > 0) {
            hl_buf_puts(&top, ";");
        }
        hl_buf_printf(&top, "%s:", r->rules[i].rule);
        hl_buf_num2(&top, r->rules[i].points);
    }
    LIT(b, ",");
    csv_field(b, top.data != NULL ? top.data : "");
    hl_buf_finish(&top);
}

void hl_output_csv_shadow(struct hl_buf *b, const struct lsc_report *r)
{
    hl_buf_printf(b, ",%d,", r->score);
    csv_field(b, r->tier);
}

void hl_output_csv_end(struct hl_buf *b)
{
    LIT(b, "\n");
}

/* ---- Table -------------------------------------------------------------- */

void hl_output_table_header(struct hl_buf *b, int id_width, int tier_width)
{
    hl_buf_printf(b, "%-*s  %5s  %-*s  %s\n", id_width, "CONTACT", "SCORE",
                  tier_width, "TIER", "REASONS");
}

void hl_output_table_row(struct hl_buf *b, const struct lsc_report *r,
                         int id_width, int tier_width)
{
    hl_buf_text(b, r->contact_id, id_width);
    hl_buf_printf(b, "  %5d  ", r->score);
    hl_buf_text(b, r->tier != NULL ? r->tier : "-", tier_width);
    LIT(b, "  ");
    if (r->n_rules == 0) {
        LIT(b, "-");
    }
    for (size_t i = 0; i < r->n_rules && i < 3; i++) {
        const struct lsc_report_rule *rule = &r->rules[i];
        if (i > 0) {
            LIT(b, ", ");
        }
        hl_buf_text(b, rule->rule, 0);
        hl_buf_printf(b, " %s", rule->points < 0 ? "" : "+");
        hl_buf_num2(b, rule->points);
        if (!rule->fit) {
            hl_buf_printf(b, " (%u award%s)", (unsigned)rule->awards,
                          rule->awards == 1 ? "" : "s");
        }
    }
    LIT(b, "\n");
}
