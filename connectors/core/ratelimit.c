/*
 * Connector core: rolling-window token bucket (see ratelimit.h).
 *
 * spent[] is a ring of the times the last `capacity` tokens were spent,
 * oldest at head; a token is free when fewer than `capacity` of them are
 * still within their window.  A spend is settled when its response came
 * back: its time is then the response's, which is no earlier than the
 * server's count of the request.
 */
#include "ratelimit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

/* Both clocks count whole milliseconds: a settled spend's window is the
 * server's plus the two truncations. */
#define SETTLED_SLACK_MS 2

struct ratelimit {
    pthread_mutex_t lock;
    int capacity;
    int64_t interval_ms;
    int64_t spent[RATELIMIT_MAX_CAPACITY]; /* ring, oldest at head */
    bool settled[RATELIMIT_MAX_CAPACITY];
    int head;
    int count;
    int unsettled; /* spends in the ring whose response is not back */
    int64_t blocked_until;
    int64_t scratch[RATELIMIT_MAX_CAPACITY];
};

int64_t ratelimit_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct ratelimit *ratelimit_create(int capacity, int64_t interval_ms)
{
    if (capacity < 1 || capacity > RATELIMIT_MAX_CAPACITY ||
        interval_ms < 1) {
        return NULL;
    }
    struct ratelimit *rl = calloc(1, sizeof *rl);
    if (rl == NULL) {
        return NULL;
    }
    pthread_mutex_init(&rl->lock, NULL);
    rl->capacity = capacity;
    rl->interval_ms = interval_ms;
    return rl;
}

void ratelimit_destroy(struct ratelimit *rl)
{
    if (rl == NULL) {
        return;
    }
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

/* The window of a spend not settled: the server's plus a margin for the
 * time between our spend and the request's arrival, which varies from
 * request to request (5 %, at least 20 ms). */
static int64_t window(const struct ratelimit *rl)
{
    int64_t m = rl->interval_ms / 20;
    return rl->interval_ms + (m < 20 ? 20 : m);
}

static int slot(int i) { return i % RATELIMIT_MAX_CAPACITY; }

/* When the spend in ring slot i stops counting. */
static int64_t expiry(const struct ratelimit *rl, int i)
{
    return rl->spent[i] + (rl->settled[i] ? rl->interval_ms + SETTLED_SLACK_MS
                                          : window(rl));
}

static void drop_head(struct ratelimit *rl)
{
    if (!rl->settled[rl->head]) {
        rl->unsettled--;
    }
    rl->head = slot(rl->head + 1);
    rl->count--;
}

/* Drops spends out of their window from the head. Lock held. */
static void expire(struct ratelimit *rl, int64_t now)
{
    while (rl->count > 0 && expiry(rl, rl->head) <= now) {
        drop_head(rl);
    }
}

/* Spends still counting at now (a settled one behind an older unsettled
 * one may be out of its window before the head is). Lock held. */
static int active(const struct ratelimit *rl, int64_t now)
{
    int n = 0;
    for (int i = 0; i < rl->count; i++) {
        n += expiry(rl, slot(rl->head + i)) > now;
    }
    return n;
}

static void push(struct ratelimit *rl, int64_t t, bool settled)
{
    if (rl->count == RATELIMIT_MAX_CAPACITY) {
        drop_head(rl);
    }
    int i = slot(rl->head + rl->count);
    rl->spent[i] = t;
    rl->settled[i] = settled;
    rl->count++;
    rl->unsettled += !settled;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t try_locked(struct ratelimit *rl, int64_t now)
{
    if (now < rl->blocked_until) {
        return rl->blocked_until - now;
    }
    expire(rl, now);
    int n = active(rl, now);
    if (n < rl->capacity) {
        push(rl, now, false);
        return 0;
    }
    /* the (n - capacity + 1)-th spend to leave its window must leave */
    int k = 0;
    for (int i = 0; i < rl->count; i++) {
        int64_t e = expiry(rl, slot(rl->head + i));
        if (e > now) {
            rl->scratch[k++] = e;
        }
    }
    qsort(rl->scratch, (size_t)k, sizeof rl->scratch[0], cmp_i64);
    int64_t w = rl->scratch[n - rl->capacity] - now;
    return w > 0 ? w : 1;
}

int64_t ratelimit_try(struct ratelimit *rl, int64_t now_ms)
{
    pthread_mutex_lock(&rl->lock);
    int64_t w = try_locked(rl, now_ms);
    pthread_mutex_unlock(&rl->lock);
    return w;
}

enum lsc_status ratelimit_acquire(struct ratelimit *rl, int64_t max_wait_ms)
{
    int64_t start = ratelimit_now_ms();
    for (;;) {
        int64_t now = ratelimit_now_ms();
        int64_t w = ratelimit_try(rl, now);
        if (w == 0) {
            return LSC_OK;
        }
        if (now - start + w > max_wait_ms) {
            return LSC_ERR_TIMEOUT;
        }
        struct timespec ts = {.tv_sec = (time_t)(w / 1000),
                              .tv_nsec = (long)(w % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* A response came back at now: with a single spend in flight (not
 * settled, still in its window) it is that spend's, which moves to now
 * (the ring's newest: the ring stays in time order) and *spent_at gets
 * its spend time.  With several in flight we cannot tell which; they keep
 * the margin until they leave the window. Lock held. */
static void settle(struct ratelimit *rl, int64_t now, int64_t *spent_at)
{
    int j = -1, n = 0;
    for (int i = 0; i < rl->count && rl->unsettled > 0; i++) {
        int k = slot(rl->head + i);
        if (!rl->settled[k] && expiry(rl, k) > now) {
            j = i;
            n++;
        }
    }
    if (n != 1) {
        return;
    }
    int64_t t = rl->spent[slot(rl->head + j)];
    for (; j + 1 < rl->count; j++) {
        rl->spent[slot(rl->head + j)] = rl->spent[slot(rl->head + j + 1)];
        rl->settled[slot(rl->head + j)] = rl->settled[slot(rl->head + j + 1)];
    }
    int last = slot(rl->head + rl->count - 1);
    rl->spent[last] = now > t ? now : t;
    rl->settled[last] = true;
    rl->unsettled--;
    *spent_at = t;
}

void ratelimit_observe(struct ratelimit *rl, long max, long remaining,
                       long interval_ms, int64_t now_ms)
{
    pthread_mutex_lock(&rl->lock);
    if (interval_ms > 0) {
        rl->interval_ms = interval_ms;
    }
    if (max > 0) {
        rl->capacity = max > RATELIMIT_MAX_CAPACITY ? RATELIMIT_MAX_CAPACITY
                                                     : (int)max;
    }
    int64_t asof = now_ms;
    settle(rl, now_ms, &asof);
    if (remaining >= 0) {
        /* Remaining is the server's count when the request arrived, no
         * earlier than its spend: compare it with ours then, not now (a
         * spend that left our window since would look like a request
         * of another app, and hold a token for a window). */
        int ours = rl->capacity - active(rl, asof);
        /* the server counts requests we did not make (other apps) */
        for (int i = (int)remaining; i < ours; i++) {
            push(rl, now_ms, true);
        }
    }
    expire(rl, now_ms);
    pthread_mutex_unlock(&rl->lock);
}

void ratelimit_block_until(struct ratelimit *rl, int64_t until_ms)
{
    pthread_mutex_lock(&rl->lock);
    if (until_ms > rl->blocked_until) {
        rl->blocked_until = until_ms;
    }
    pthread_mutex_unlock(&rl->lock);
}

int ratelimit_available(struct ratelimit *rl, int64_t now_ms)
{
    pthread_mutex_lock(&rl->lock);
    expire(rl, now_ms);
    int a = now_ms < rl->blocked_until ? 0
                                       : rl->capacity - active(rl, now_ms);
    pthread_mutex_unlock(&rl->lock);
    return a < 0 ? 0 : a;
}
