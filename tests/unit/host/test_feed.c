/*
 * Unit tests: the CLI's input feed (host/cli/feed.c), with and without
 * its reader thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "contacts.h"
#include "dedup.h"
#include "feed.h"

#define MAX_LINE 300

/* A stream of every kind of line; `valid` gets the number of events. */
static FILE *mixed_stream(size_t lines, size_t *valid)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    *valid = 0;
    for (size_t i = 0; i < lines; i++) {
        switch (i % 23) {
        case 3:
            fputs("\n", f);
            break;
        case 5:
            fputs(" \t \r\n", f);
            break;
        case 7:
            fputs("{\"contact\": nope}\n", f);
            break;
        case 9:
            fprintf(f, "{\"contact\":\"c-%zu\",\"type\":\"x\",\"ts\":0,"
                       "\"pad\":\"%0400d\"}\n", i, 0);
            break;
        case 11:
            fprintf(f, "{\"contact\":\"c-\\u0031%zu\",\"type\":"
                       "\"contact.updated\",\"ts\":\"2026-11-01T10:00:0%zuZ\","
                       "\"props\":{\"title\":\"V\\u0000P\",\"n\":%zu,"
                       "\"ok\":false,\"none\":null,\"list\":[1,{\"a\":2}]}}\n",
                    i % 7, i % 10, i);
            (*valid)++;
            break;
        case 13:
            fprintf(f, "{\"type\":\"page_view\",\"ts\":1}\n"); /* no contact */
            break;
        default:
            fprintf(f, "{\"contact\":\"c-%zu\",\"type\":\"email_open\","
                       "\"ts\":%zu,\"id\":\"e-%zu\",\"props\":{\"url\":"
                       "\"/p/%zu\"}}\n", i % 101, 1793527200 + i, i, i);
            (*valid)++;
        }
    }
    fputs("{\"contact\":\"last\",\"type\":\"email_open\",\"ts\":9}", f);
    (*valid)++;
    fflush(f);
    rewind(f);
    return f;
}

/* One line of a batch as text: everything the caller reads of it. */
static void describe(const struct cli_feed_line *l, char *out, size_t cap)
{
    int n = snprintf(out, cap, "n=%zd long=%d blank=%d", l->n, l->too_long,
                     l->blank);
    if (l->n < 0 || l->too_long || l->blank) {
        return;
    }
    if (l->st != LSC_OK) {
        snprintf(out + n, cap - (size_t)n, " st=%d err=%s", l->st, l->err);
        return;
    }
    const struct lsc_event *ev = &l->ev;
    n += snprintf(out + n, cap - (size_t)n,
                  " kind=%d contact=%s type=%s ts=%lld id=%s act=%d",
                  ev->kind, ev->contact_id, ev->type, (long long)ev->ts_ms,
                  ev->event_id != NULL ? ev->event_id : "-", l->h.activity);
    for (size_t i = 0; i < ev->n_props && (size_t)n < cap; i++) {
        const struct lsc_value *v = &ev->props[i].value;
        n += snprintf(out + n, cap - (size_t)n, " %s:%d", ev->props[i].key,
                      v->type);
        if (v->type == LSC_VAL_STRING || v->type == LSC_VAL_JSON) {
            /* every byte, NULs included */
            for (size_t k = 0; k < v->u.str.len && (size_t)n + 3 < cap; k++) {
                n += snprintf(out + n, cap - (size_t)n, "%02x",
                              (unsigned char)v->u.str.ptr[k]);
            }
            assert_int_equal(v->u.str.ptr[v->u.str.len], '\0');
        } else if (v->type == LSC_VAL_NUMBER) {
            n += snprintf(out + n, cap - (size_t)n, "=%g", v->u.num);
        }
    }
    /* The hashes a caller uses instead of hashing the ids again. */
    assert_true(l->h.exact);
    assert_true(l->h.contact_hash == hl_contacts_hash(ev->contact_id));
    if (ev->event_id != NULL) {
        assert_true(l->h.event_hash ==
                    hl_dedup_hash(ev->event_id, strlen(ev->event_id)));
    }
}

/* Every line the feed gives, described, one per line, into a string. */
static char *drain(int fd, bool threaded, size_t *events)
{
    struct cli_feed *feed = cli_feed_open(fd, MAX_LINE, threaded);
    assert_non_null(feed);
    size_t cap = 1 << 20, len = 0;
    char *all = malloc(cap);
    assert_non_null(all);
    *events = 0;
    for (uint64_t j = 0;; j++) {
        struct cli_feed_line *l;
        size_t n = cli_feed_get(feed, j, 3, &l);
        if (n == 0) {
            break;
        }
        /* Read ahead: the next batches are there to peek at. */
        const struct cli_feed_line *next;
        if (n == CLI_FEED_BATCH) {
            (void)cli_feed_peek(feed, j + 1, &next);
        }
        for (size_t k = 0; k < n; k++) {
            char d[4096];
            describe(&l[k], d, sizeof d);
            size_t dl = strlen(d);
            if (len + dl + 2 > cap) {
                cap *= 2;
                all = realloc(all, cap);
                assert_non_null(all);
            }
            memcpy(all + len, d, dl);
            len += dl;
            all[len++] = '\n';
            if (l[k].n >= 0 && !l[k].too_long && !l[k].blank &&
                l[k].st == LSC_OK) {
                (*events)++;
            }
        }
        cli_feed_release(feed, j);
        if (n < CLI_FEED_BATCH) {
            break;
        }
    }
    all[len] = '\0';
    assert_int_equal(cli_feed_close(feed), 0);
    return all;
}

/* Many times around the ring: the thread gives what one thread gives,
 * line for line, and every event of the stream. */
static void test_threaded_same_as_inline(void **state)
{
    (void)state;
    size_t valid, e1, e2;
    FILE *f = mixed_stream(30000, &valid);
    char *one = drain(fileno(f), false, &e1);
    rewind(f);
    lseek(fileno(f), 0, SEEK_SET);
    char *two = drain(fileno(f), true, &e2);
    fclose(f);
    assert_int_equal(e1, valid);
    assert_int_equal(e2, valid);
    assert_string_equal(one, two);
    assert_non_null(strstr(one, "long=1"));
    assert_non_null(strstr(one, "err=field 'contact': required"));
    assert_non_null(strstr(one, "contact=c-13 type=contact.updated"));
    free(one);
    free(two);
}

/* Long lines: the reader holds at most its byte budget (64 KiB in this
 * build) beyond the few batches it always may, and neither side waits
 * for the other forever, though every batch is over the budget. */
static void test_long_lines_bounded(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    char *pad = malloc(20001);
    assert_non_null(pad);
    memset(pad, 'x', 20000);
    pad[20000] = '\0';
    for (int i = 0; i < 400; i++) {
        fprintf(f, "{\"contact\":\"c-%d\",\"type\":\"page_view\",\"ts\":%d,"
                   "\"props\":{\"pad\":\"%s\"}}\n", i, i, pad);
    }
    free(pad);
    fflush(f);
    lseek(fileno(f), 0, SEEK_SET);
    alarm(60);
    struct cli_feed *feed = cli_feed_open(fileno(f), 30000, true);
    assert_non_null(feed);
    size_t events = 0;
    for (uint64_t j = 0;; j++) {
        struct cli_feed_line *l;
        size_t n = cli_feed_get(feed, j, 3, &l);
        if (n == 0) {
            break;
        }
        if (j == 5 || j == 20) {
            usleep(50 * 1000); /* let the reader run as far as it may */
            uint64_t ahead = 0;
            const struct cli_feed_line *p;
            while (cli_feed_peek(feed, j + 1 + ahead, &p) > 0) {
                ahead++;
            }
            assert_in_range(ahead, 3, 8);
        }
        for (size_t k = 0; k < n; k++) {
            assert_int_equal(l[k].st, LSC_OK);
            assert_int_equal(l[k].ev.n_props, 1);
            assert_int_equal(l[k].ev.props[0].value.u.str.len, 20000);
            events++;
        }
        cli_feed_release(feed, j);
        if (n < CLI_FEED_BATCH) {
            break;
        }
    }
    assert_int_equal(events, 400);
    assert_int_equal(cli_feed_close(feed), 0);
    alarm(0);
    fclose(f);
}

static void test_empty_input(void **state)
{
    (void)state;
    for (int t = 0; t < 2; t++) {
        FILE *f = tmpfile();
        assert_non_null(f);
        size_t events;
        char *all = drain(fileno(f), t == 1, &events);
        assert_string_equal(all, "");
        assert_int_equal(events, 0);
        free(all);
        fclose(f);
    }
}

/* A caller that stops early while the reader waits on a pipe that stays
 * open: closing must not wait for input that never comes. */
static void test_close_early_on_open_pipe(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    for (int i = 0; i < 100; i++) {
        char line[128];
        int n = snprintf(line, sizeof line,
                         "{\"contact\":\"c-%d\",\"type\":\"email_open\","
                         "\"ts\":%d}\n", i, i);
        assert_int_equal(write(p[1], line, (size_t)n), n);
    }
    alarm(20); /* a hang fails the test instead of the suite */
    struct cli_feed *feed = cli_feed_open(p[0], MAX_LINE, true);
    assert_non_null(feed);
    struct cli_feed_line *l;
    assert_int_equal(cli_feed_get(feed, 0, 3, &l), CLI_FEED_BATCH);
    assert_int_equal(l[0].st, LSC_OK);
    assert_string_equal(l[0].ev.contact_id, "c-0");
    cli_feed_release(feed, 0);
    assert_int_equal(cli_feed_close(feed), 0);
    alarm(0);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threaded_same_as_inline),
        cmocka_unit_test(test_long_lines_bounded),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_close_early_on_open_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
