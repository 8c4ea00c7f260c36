/*
 * The CLI's input feed (feed.h): a bounded line reader and a ring of
 * decoded batches filled ahead of the caller, by a reader thread when
 * there is one.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "feed.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contacts.h"
#include "dedup.h"
#include "event_json.h"

/* ---- Bounded line reader ------------------------------------------------
 * getline() would hold a line of any length in memory.  This reads
 * through its own block buffer and copies each line out (as getline
 * does from the stdio buffer), but keeps at most `max` bytes of one:
 * the rest of a longer line is read and dropped. */

#define READ_BLOCK ((size_t)64 << 10)

struct line_reader {
    int fd;
    int error; /* errno of a failed read, else 0 */
    char *buf; /* READ_BLOCK bytes; [pos, end) not yet returned */
    size_t pos, end;
    size_t max;
    bool eof;
    /* The reader thread: before a read() that would block, call
     * before_wait, then wait for input or for stop_fd to be readable
     * (the caller stops early: the end of input).  -1: read() at once. */
    int stop_fd;
    void (*before_wait)(void *ud);
    void *ud;
};

/* Grow *line to hold `need` bytes; false when out of memory. */
static bool line_reserve(char **line, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return true;
    }
    size_t c = *cap > 0 ? *cap : 256;
    while (c < need) {
        c *= 2;
    }
    char *p = realloc(*line, c);
    if (p == NULL) {
        return false;
    }
    *line = p;
    *cap = c;
    return true;
}

/* Before a read(): false when the caller stopped while there was no
 * input (a pipe that stays open would keep read() waiting forever). */
static bool wait_input(struct line_reader *r)
{
    struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN},
                          {.fd = r->stop_fd, .events = POLLIN}};
    if (poll(p, 1, 0) != 0) {
        return true; /* input, end of input or an error for read() */
    }
    r->before_wait(r->ud);
    for (;;) {
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return true; /* let read() say what is wrong */
        }
        return p[1].revents == 0;
    }
}

/* The next line (with its '\n', NUL-terminated) into *line: its length,
 * or -1 at the end of input (or a read error: r->error), or -2 when out of
 * memory.  A line longer than r->max comes back empty with *too_long. */
static ssize_t line_next(struct line_reader *r, char **line, size_t *cap,
                         bool *too_long)
{
    size_t len = 0;
    bool got = false;
    *too_long = false;
    for (;;) {
        if (r->pos == r->end) {
            if (r->eof) {
                break;
            }
            if (r->stop_fd >= 0 && !wait_input(r)) {
                r->eof = true;
                break;
            }
            /* read(), not fread(): return what a pipe has now, as
             * getline did, rather than wait for a full block. */
            ssize_t got_n;
            do {
                got_n = read(r->fd, r->buf, READ_BLOCK);
            } while (got_n < 0 && errno == EINTR);
            r->pos = 0;
            r->end = got_n > 0 ? (size_t)got_n : 0;
            if (got_n <= 0) {
                r->eof = true;
                r->error = got_n < 0 ? errno : 0;
                break;
            }
        }
        got = true;
        const char *start = r->buf + r->pos;
        size_t avail = r->end - r->pos;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl != NULL ? (size_t)(nl - start) + 1 : avail;
        r->pos += take;
        if (!*too_long) {
            /* The newline does not count towards the limit. */
            size_t body = len + take - (nl != NULL ? 1 : 0);
            if (body > r->max) {
                *too_long = true;
                len = 0;
            } else {
                if (!line_reserve(line, cap, len + take + 1)) {
                    return -2;
                }
                memcpy(*line + len, start, take);
                len += take;
            }
        }
        if (nl != NULL) {
            break;
        }
    }
    if (!got) {
        return -1;
    }
    if (!line_reserve(line, cap, len + 1)) {
        return -2;
    }
    (*line)[len] = '\0';
    return (ssize_t)len;
}

/* As line_next, but a line that lies whole in the read buffer is not
 * copied: *view points to it there, valid until the next call (a line
 * across two reads is copied into *line, and *view points there).  Not
 * NUL-terminated. */
static ssize_t line_view(struct line_reader *r, char **line, size_t *cap,
                         const char **view, bool *too_long)
{
    if (r->pos < r->end) {
        const char *start = r->buf + r->pos;
        const char *nl = memchr(start, '\n', r->end - r->pos);
        if (nl != NULL && (size_t)(nl - start) <= r->max) {
            size_t take = (size_t)(nl - start) + 1;
            r->pos += take;
            *too_long = false;
            *view = start;
            return (ssize_t)take;
        }
    }
    ssize_t n = line_next(r, line, cap, too_long);
    *view = *line;
    return n;
}

static bool is_blank(const char *text, ssize_t n)
{
    ssize_t i = 0;
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' ||
                     text[i] == '\n')) {
        i++;
    }
    return i == n;
}

/* ---- The ring of batches -------------------------------------------------
 * Batch b lives in slot b % n_slots.  Each line is decoded as soon as it
 * is read, from the read buffer itself when the line lies whole in it;
 * its event is copied into the line and the parsed JSON released at once
 * (while it is still in cache).  Without a thread, the caller reads the
 * batches it wants ahead itself.  With one, the reader fills slots while
 * the caller applies earlier ones.  A side that has to wait sleeps until
 * the other is FEED_WAKE batches further on, not one: a wake-up per batch
 * would cost the reader more than it saves (with FEED_WAKE half of
 * FEED_SLOTS; at 8 slots the two threads fell into lock step).
 */
#define FEED_SLOTS 256
#define FEED_WAKE 128
/* Bytes of input lines the reader may hold decoded ahead of the caller:
 * 2,048 lines near the longest allowed would otherwise be gigabytes. */
#ifndef FEED_BYTES /* the unit test sets a small one */
#define FEED_BYTES ((uint64_t)64 << 20)
#endif
/* Batches the reader may always hold, over the budget or not: more than
 * a caller reads ahead (cli_feed_get caps `ahead` below it), so that the
 * two never wait for each other. */
#define FEED_MIN_AHEAD 8
/* A line buffer or event copy grown past this is not kept for reuse. */
#define FEED_KEEP ((size_t)64 << 10)
/* Without a thread only the batches read ahead are kept: the lines are
 * then few enough to stay in cache. */
#define FEED_SLOTS_INLINE 8

struct feed_slot {
    struct cli_feed_line line[CLI_FEED_BATCH];
    size_t n;     /* lines read: < CLI_FEED_BATCH only in the last batch */
    uint64_t bytes; /* with a thread: the lengths of its lines */
};

struct cli_feed {
    struct line_reader rd;
    struct feed_slot *slot; /* n_alloc of them, the first n_slots used */
    size_t n_slots, n_alloc;
    bool threaded;

    struct hl_event_decoder *dec; /* the reader's (the caller's without
                                     a thread) */

    /* Without a thread: batches read, and whether the last one was. */
    uint64_t read;
    bool end;

    /* With one.  produced/released are batch counts; a sleeper stores
     * the count it waits for in *_wake_at (0: awake) before it checks
     * again under the lock, so a store on the other side is never
     * missed (all these atomics are sequentially consistent). */
    pthread_t thread;
    int stop_pipe[2]; /* closing [1] wakes a reader waiting for input */
    pthread_mutex_t mu;
    pthread_cond_t cv_reader, cv_user;
    _Atomic uint64_t produced, released;
    _Atomic uint64_t reader_wake_at, user_wake_at;
    _Atomic uint64_t user_need; /* while user_wake_at is set: the count
                                   the caller can go on with */
    _Atomic uint64_t held; /* bytes of the batches read, not released */
    atomic_bool done, stop;
};

static struct feed_slot *slot_of(struct cli_feed *f, uint64_t b)
{
    return &f->slot[b % f->n_slots];
}

/* A decoded line: the hashes the caller would compute, once. */
static void decode_line(struct cli_feed_line *l, const char *text,
                        struct hl_event_decoder *d)
{
    l->h.exact = false;
    l->st = hl_event_decode(d, text, (size_t)l->n, &l->ev, l->err,
                            sizeof l->err);
    if (l->st != LSC_OK) {
        return;
    }
    const struct lsc_event *ev = &l->ev;
    l->h.activity = ev->kind == LSC_EVENT_ACTIVITY;
    l->h.contact_hash = hl_contacts_hash(ev->contact_id);
    if (ev->event_id != NULL) {
        l->h.event_hash = hl_dedup_hash(ev->event_id, strlen(ev->event_id));
    }
    l->h.exact = true;
}

/* `s` (len bytes and its NUL) into the store at *at. */
static const char *put(char **at, const char *s, size_t len)
{
    char *d = *at;
    memcpy(d, s, len + 1);
    *at += len + 1;
    return d;
}

static bool is_string(const struct lsc_value *v)
{
    return v->type == LSC_VAL_STRING || v->type == LSC_VAL_JSON;
}

/* The event's strings and props copied into the line, so that the
 * parsed line can be released at once (while it is still in cache) and
 * the caller reads a few packed bytes instead of jansson's tree. */
static bool copy_event(struct cli_feed_line *l)
{
    struct lsc_event *ev = &l->ev;
    size_t clen = strlen(ev->contact_id), tlen = strlen(ev->type);
    size_t elen = ev->event_id != NULL ? strlen(ev->event_id) : 0;
    size_t need = clen + tlen + elen + 3;
    for (size_t i = 0; i < ev->n_props; i++) {
        need += strlen(ev->props[i].key) + 1;
        if (is_string(&ev->props[i].value)) {
            need += ev->props[i].value.u.str.len + 1;
        }
    }
    if (need > l->store_cap) {
        char *p = realloc(l->store, need);
        if (p == NULL) {
            return false;
        }
        l->store = p;
        l->store_cap = need;
    }
    if (ev->n_props > l->props_cap) {
        struct lsc_prop *p = realloc(l->props, ev->n_props * sizeof *p);
        if (p == NULL) {
            return false;
        }
        l->props = p;
        l->props_cap = ev->n_props;
    }
    char *at = l->store;
    ev->contact_id = put(&at, ev->contact_id, clen);
    ev->type = put(&at, ev->type, tlen);
    if (ev->event_id != NULL) {
        ev->event_id = put(&at, ev->event_id, elen);
    }
    for (size_t i = 0; i < ev->n_props; i++) {
        struct lsc_prop *d = &l->props[i];
        *d = ev->props[i];
        d->key = put(&at, d->key, strlen(d->key));
        if (is_string(&d->value)) {
            d->value.u.str.ptr =
                put(&at, d->value.u.str.ptr, d->value.u.str.len);
        }
    }
    ev->props = ev->n_props > 0 ? l->props : NULL;
    return true;
}

/* Read batch b into its slot, decoding each line: false after the last
 * batch.  `reader`: on the reader thread (which counts what it holds). */
static bool fill_batch(struct cli_feed *f, uint64_t b, bool reader)
{
    struct feed_slot *sl = slot_of(f, b);
    size_t k = 0;
    uint64_t bytes = 0;
    for (; k < CLI_FEED_BATCH; k++) {
        struct cli_feed_line *l = &sl->line[k];
        const char *text = NULL;
        l->n = line_view(&f->rd, &l->text, &l->cap, &text, &l->too_long);
        if (l->n < 0) {
            if (l->n == -2) {
                k++; /* an out-of-memory line is reported */
            }
            break;
        }
        l->h = (struct cli_hint){0};
        l->blank = is_blank(text, l->n);
        bytes += (uint64_t)l->n;
        if (!l->too_long && !l->blank) {
            decode_line(l, text, f->dec);
            if (l->st == LSC_OK && !copy_event(l)) {
                l->st = LSC_ERR_NOMEM;
                snprintf(l->err, sizeof l->err, "out of memory");
            }
        }
        if (l->cap > FEED_KEEP) { /* decoded: the text is not needed */
            free(l->text);
            l->text = NULL;
            l->cap = 0;
        }
    }
    sl->n = k;
    sl->bytes = bytes;
    if (reader) {
        atomic_fetch_add(&f->held, bytes);
    }
    return k == CLI_FEED_BATCH;
}

static void wake(struct cli_feed *f, pthread_cond_t *cv)
{
    pthread_mutex_lock(&f->mu);
    pthread_cond_signal(cv);
    pthread_mutex_unlock(&f->mu);
}

/* The input has nothing more for now: a caller asleep until the reader
 * is far ahead gets what is there instead (input from a pipe that
 * pauses is applied as it comes, not FEED_WAKE batches late). */
static bool caller_can_go_on(struct cli_feed *f)
{
    return atomic_load(&f->user_wake_at) != 0 &&
           atomic_load(&f->produced) >= atomic_load(&f->user_need);
}

static void reader_idle(void *ud)
{
    struct cli_feed *f = ud;
    if (caller_can_go_on(f)) {
        wake(f, &f->cv_user);
    }
}

static bool room(struct cli_feed *f, uint64_t b, uint64_t need)
{
    uint64_t r = atomic_load(&f->released);
    return r >= need &&
           (atomic_load(&f->held) <= FEED_BYTES || b < r + FEED_MIN_AHEAD);
}

static void *reader_main(void *arg)
{
    struct cli_feed *f = arg;
    for (uint64_t b = 0;; b++) {
        /* Room for batch b: batch b - FEED_SLOTS released, and the
         * bytes held under the budget (unless the caller holds none). */
        uint64_t need = b >= FEED_SLOTS ? b - FEED_SLOTS + 1 : 0;
        if (!room(f, b, need)) {
            pthread_mutex_lock(&f->mu);
            for (;;) {
                uint64_t r = atomic_load(&f->released);
                atomic_store(&f->reader_wake_at,
                             r < need ? need + FEED_WAKE : r + 1);
                if (room(f, b, need) || atomic_load(&f->stop)) {
                    break;
                }
                /* A caller asleep until the reader is far ahead would
                 * wait forever if the budget stops the reader first. */
                if (caller_can_go_on(f)) {
                    pthread_cond_signal(&f->cv_user); /* mu is held */
                }
                pthread_cond_wait(&f->cv_reader, &f->mu);
            }
            atomic_store(&f->reader_wake_at, 0);
            pthread_mutex_unlock(&f->mu);
        }
        if (atomic_load(&f->stop)) {
            break;
        }
        bool more = fill_batch(f, b, true);
        atomic_store(&f->produced, b + 1);
        if (!more) {
            atomic_store(&f->done, true);
        }
        uint64_t w = atomic_load(&f->user_wake_at);
        if (w != 0 && (b + 1 >= w || !more)) {
            wake(f, &f->cv_user);
        }
        if (!more) {
            break;
        }
    }
    return NULL;
}

static bool start_reader(struct cli_feed *f)
{
    if (pipe2(f->stop_pipe, O_CLOEXEC) != 0) {
        return false;
    }
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        return false;
    }
    if (pthread_cond_init(&f->cv_reader, NULL) != 0) {
        pthread_mutex_destroy(&f->mu);
        return false;
    }
    if (pthread_cond_init(&f->cv_user, NULL) != 0) {
        pthread_cond_destroy(&f->cv_reader);
        pthread_mutex_destroy(&f->mu);
        return false;
    }
    /* Signals stay with the caller's thread: the reader blocks them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    f->rd.stop_fd = f->stop_pipe[0];
    f->rd.before_wait = reader_idle;
    f->rd.ud = f;
    int rc = pthread_create(&f->thread, NULL, reader_main, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        f->rd.stop_fd = -1;
        pthread_cond_destroy(&f->cv_user);
        pthread_cond_destroy(&f->cv_reader);
        pthread_mutex_destroy(&f->mu);
        return false;
    }
    return true;
}

struct cli_feed *cli_feed_open(int fd, size_t max_line, bool threaded)
{
    struct cli_feed *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return NULL;
    }
    f->rd.fd = fd;
    f->rd.max = max_line;
    f->rd.stop_fd = -1;
    f->stop_pipe[0] = f->stop_pipe[1] = -1;
    f->rd.buf = malloc(READ_BLOCK);
    f->n_alloc = threaded ? FEED_SLOTS : FEED_SLOTS_INLINE;
    f->slot = calloc(f->n_alloc, sizeof *f->slot);
    f->dec = hl_event_decoder_create();
    if (f->rd.buf == NULL || f->slot == NULL || f->dec == NULL) {
        cli_feed_close(f);
        return NULL;
    }
    f->n_slots = f->n_alloc; /* before the reader starts: it reads it */
    f->threaded = threaded && start_reader(f);
    if (!f->threaded) {
        f->n_slots = FEED_SLOTS_INLINE;
    }
    return f;
}

/* Threaded: wait until batch `last` is read or the input ended. */
static void wait_produced(struct cli_feed *f, uint64_t last)
{
    if (atomic_load(&f->produced) > last || atomic_load(&f->done)) {
        return;
    }
    pthread_mutex_lock(&f->mu);
    /* Reachable: the reader may fill up to released + FEED_SLOTS. */
    uint64_t at = last + 1 + FEED_WAKE;
    uint64_t room = atomic_load(&f->released) + FEED_SLOTS;
    atomic_store(&f->user_need, last + 1);
    atomic_store(&f->user_wake_at, at < room ? at : room);
    while (atomic_load(&f->produced) <= last && !atomic_load(&f->done)) {
        pthread_cond_wait(&f->cv_user, &f->mu);
    }
    atomic_store(&f->user_wake_at, 0);
    pthread_mutex_unlock(&f->mu);
}

/* Batch j's lines, when it has been read; else 0. */
static size_t batch(struct cli_feed *f, uint64_t j,
                    struct cli_feed_line **lines)
{
    uint64_t read = f->threaded ? atomic_load(&f->produced) : f->read;
    if (j >= read) {
        return 0;
    }
    *lines = slot_of(f, j)->line;
    return slot_of(f, j)->n;
}

size_t cli_feed_get(struct cli_feed *f, uint64_t j, unsigned ahead,
                    struct cli_feed_line **lines)
{
    unsigned most = f->threaded ? FEED_MIN_AHEAD - 1
                                : (unsigned)f->n_slots - 1;
    if (ahead > most) {
        ahead = most;
    }
    if (f->threaded) {
        wait_produced(f, j + ahead);
    } else {
        while (!f->end && f->read <= j + ahead) {
            f->end = !fill_batch(f, f->read, false);
            f->read++;
        }
    }
    return batch(f, j, lines);
}

size_t cli_feed_peek(struct cli_feed *f, uint64_t j,
                     const struct cli_feed_line **lines)
{
    struct cli_feed_line *l = NULL;
    size_t n = batch(f, j, &l);
    if (n > 0) {
        *lines = l;
    }
    return n;
}

void cli_feed_release(struct cli_feed *f, uint64_t j)
{
    struct feed_slot *sl = slot_of(f, j);
    for (size_t k = 0; k < sl->n; k++) {
        struct cli_feed_line *l = &sl->line[k];
        if (l->store_cap > FEED_KEEP) { /* not kept for reuse */
            free(l->store);
            l->store = NULL;
            l->store_cap = 0;
        }
    }
    if (!f->threaded) {
        return;
    }
    atomic_fetch_sub(&f->held, sl->bytes);
    atomic_store(&f->released, j + 1);
    uint64_t w = atomic_load(&f->reader_wake_at);
    if (w != 0 && j + 1 >= w) {
        wake(f, &f->cv_reader);
    }
}

int cli_feed_close(struct cli_feed *f)
{
    if (f == NULL) {
        return 0;
    }
    if (f->threaded) {
        pthread_mutex_lock(&f->mu);
        atomic_store(&f->stop, true);
        pthread_cond_signal(&f->cv_reader);
        pthread_mutex_unlock(&f->mu);
        close(f->stop_pipe[1]); /* a reader waiting for input stops */
        f->stop_pipe[1] = -1;
        pthread_join(f->thread, NULL);
        pthread_cond_destroy(&f->cv_user);
        pthread_cond_destroy(&f->cv_reader);
        pthread_mutex_destroy(&f->mu);
    }
    for (int i = 0; i < 2; i++) {
        if (f->stop_pipe[i] >= 0) {
            close(f->stop_pipe[i]);
        }
    }
    int error = f->rd.error;
    for (size_t i = 0; f->slot != NULL && i < f->n_alloc; i++) {
        for (size_t k = 0; k < CLI_FEED_BATCH; k++) {
            struct cli_feed_line *l = &f->slot[i].line[k];
            free(l->text);
            free(l->store);
            free(l->props);
        }
    }
    hl_event_decoder_destroy(f->dec);
    free(f->slot);
    free(f->rd.buf);
    free(f);
    return error;
}

bool cli_feed_threads_useful(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        return false;
    }
    return CPU_COUNT(&set) >= 2;
}
