/*
 * Connector core: rolling-window token bucket (see ratelimit.h).
 *
 * spent[] is a ring of the times the last `capacity` tokens were spent;
 * a token is free when fewer than `capacity` spends lie within the last
 * interval.
 */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ratelimit {
    pthread_mutex_t lock;
    int capacity;
    int64_t interval_ms;
    int64_t spent[RATELIMIT_MAX_CAPACITY]; /* ring, oldest at head */
    int head;
    int count;
    int64_t blocked_until;
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

/* The window we keep: the server's plus a margin for the time between
 * our spend and the request's arrival, which varies from request to
 * request (5 %, at least 20 ms). */
static int64_t window(const struct ratelimit *rl)
{
    int64_t m = rl->interval_ms / 20;
    return rl->interval_ms + (m < 20 ? 20 : m);
}

/* Drops spends older than the window. Lock held. */
static void expire(struct ratelimit *rl, int64_t now)
{
    while (rl->count > 0 && rl->spent[rl->head] + window(rl) <= now) {
        rl->head = (rl->head + 1) % RATELIMIT_MAX_CAPACITY;
        rl->count--;
    }
}

static void push(struct ratelimit *rl, int64_t t)
{
    if (rl->count == RATELIMIT_MAX_CAPACITY) {
        rl->head = (rl->head + 1) % RATELIMIT_MAX_CAPACITY;
        rl->count--;
    }
    rl->spent[(rl->head + rl->count) % RATELIMIT_MAX_CAPACITY] = t;
    rl->count++;
}

static int64_t try_locked(struct ratelimit *rl, int64_t now)
{
    if (now < rl->blocked_until) {
        return rl->blocked_until - now;
    }
    expire(rl, now);
    if (rl->count < rl->capacity) {
        push(rl, now);
        return 0;
    }
    /* the (count - capacity + 1)-th oldest spend must expire */
    int idx = (rl->head + rl->count - rl->capacity) % RATELIMIT_MAX_CAPACITY;
    int64_t w = rl->spent[idx] + window(rl) - now;
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
    if (remaining >= 0) {
        expire(rl, now_ms);
        int ours = rl->capacity - rl->count;
        /* the server counts requests we did not make (other apps) */
        for (int i = (int)remaining; i < ours; i++) {
            push(rl, now_ms);
        }
    }
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
    int a = now_ms < rl->blocked_until ? 0 : rl->capacity - rl->count;
    pthread_mutex_unlock(&rl->lock);
    return a < 0 ? 0 : a;
}
