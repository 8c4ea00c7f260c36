/*
 * Connector core: proactive request limiter, one per provider account.
 *
 * A token bucket of `capacity` tokens in which every token spent comes
 * back `interval_ms` after it was spent.  Unlike a bucket refilled at a
 * constant rate (which lets 2x capacity through in one window), this
 * never exceeds `capacity` requests in any rolling window of
 * `interval_ms`: exactly HubSpot's TEN_SECONDLY_ROLLING policy.
 *
 * When a token is taken, the request has not reached the server yet, and
 * the time it takes to get there varies (scheduling, network): a token
 * comes back after interval_ms plus a 5 % margin (at least 20 ms), so
 * that jitter cannot push a request into the server's previous window.
 * Once its response is back (ratelimit_observe) and no other request is
 * in flight, the token is re-dated to the response's arrival, which is
 * no earlier than the server's count: it then comes back interval_ms
 * (+ 2 ms of clock rounding) after that, without the margin.  A client
 * sending one request at a time so gets `capacity` requests through
 * every interval_ms plus one round trip.
 *
 * It is fed by the provider's headers (X-HubSpot-RateLimit-Max,
 * -Remaining, -Interval-Milliseconds): the capacity follows Max, and when
 * the server says fewer requests remain than we think, the difference is
 * marked spent now.  A 429 empties the bucket until a given time.
 *
 * Threads: all functions lock the limiter's mutex.
 */
#ifndef LSC_CONNECTORS_CORE_RATELIMIT_H
#define LSC_CONNECTORS_CORE_RATELIMIT_H

#include <stdint.h>

#include <leadscore/plugin.h>

#define RATELIMIT_MAX_CAPACITY 2000

struct ratelimit;

/* capacity 1..RATELIMIT_MAX_CAPACITY, interval_ms >= 1.  Caller owns the
 * result (ratelimit_destroy). NULL on bad arguments or NOMEM. */
struct ratelimit *ratelimit_create(int capacity, int64_t interval_ms);
void ratelimit_destroy(struct ratelimit *rl); /* NULL ok */

/* Takes a token at now_ms and returns 0, or returns the ms to wait until
 * one is free (no token taken). */
int64_t ratelimit_try(struct ratelimit *rl, int64_t now_ms);

/* Blocks (monotonic clock) until a token is taken or max_wait_ms passed.
 * LSC_OK or LSC_ERR_TIMEOUT. */
enum lsc_status ratelimit_acquire(struct ratelimit *rl, int64_t max_wait_ms);

/* Feeds the server's view; any value < 0 means the header was absent.
 * Call it after every request that took a token, when its response (or
 * its failure) is back, with now_ms of ratelimit_now_ms(). */
void ratelimit_observe(struct ratelimit *rl, long max, long remaining,
                       long interval_ms, int64_t now_ms);

/* After a 429: no token before until_ms. */
void ratelimit_block_until(struct ratelimit *rl, int64_t until_ms);

/* Tokens available at now_ms (for tests and status). */
int ratelimit_available(struct ratelimit *rl, int64_t now_ms);

/* The clock ratelimit_acquire uses (monotonic ms). */
int64_t ratelimit_now_ms(void);

#endif
