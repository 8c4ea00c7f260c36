/*
 * Writes the synthetic workload (workload.h) as JSON Lines, the input of
 * `leadscore score` and parse_only.
 *
 *   gen CONTACTS EVENTS SEED OUT.jsonl
 */
#include "workload.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t arg(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s) {
        fprintf(stderr, "gen: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

/* RFC 3339 UTC; the date part is cached, it changes rarely. */
static void put_time(FILE *f, int64_t ms)
{
    static int64_t day = -1;
    static char date[16];
    int64_t s = ms / 1000, d = s / 86400, r = s % 86400;
    if (d != day) {
        time_t t = (time_t)s;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
        day = d;
    }
    fprintf(f, "\"%sT%02d:%02d:%02dZ\"", date, (int)(r / 3600),
            (int)(r / 60 % 60), (int)(r % 60));
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: gen CONTACTS EVENTS SEED OUT.jsonl\n");
        return 2;
    }
    uint64_t contacts = arg(argv[1], "CONTACTS");
    uint64_t events = arg(argv[2], "EVENTS");
    uint64_t seed = arg(argv[3], "SEED");
    FILE *f = fopen(argv[4], "w");
    if (f == NULL) {
        fprintf(stderr, "gen: %s: %s\n", argv[4], strerror(errno));
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    struct wl w;
    struct wl_event e;
    char id[16];
    wl_init(&w, contacts, events, seed);
    uint64_t n = 0;
    while (wl_next(&w, &e)) {
        wl_contact_id(e.contact, id, sizeof id);
        fprintf(f, "{\"contact\":\"%s\",\"type\":\"%s\",\"ts\":", id, e.type);
        if (n % 5 == 4) { /* a fifth of the times as Unix seconds */
            fprintf(f, "%" PRId64, e.ts_ms / 1000);
        } else {
            put_time(f, e.ts_ms);
        }
        if (n % 4 == 0) { /* a delivery id on some events */
            fprintf(f, ",\"id\":\"ev-%" PRIu64 "\"", n);
        }
        if (e.n_props > 0) {
            fputs(",\"props\":{", f);
            for (size_t i = 0; i < e.n_props; i++) {
                const struct wl_prop *p = &e.props[i];
                fprintf(f, "%s\"%s\":", i > 0 ? "," : "", p->key);
                switch (p->type) {
                case WL_NULL: fputs("null", f); break;
                case WL_STR: fprintf(f, "\"%s\"", p->str); break;
                case WL_NUM: fprintf(f, "%.0f", p->num); break;
                }
            }
            fputc('}', f);
        }
        fputs("}\n", f);
        n++;
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "gen: write error\n");
        return 1;
    }
    return 0;
}
