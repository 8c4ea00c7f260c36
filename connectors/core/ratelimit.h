/*
 * Connector core: proactive request limiter, one per provider account.
 *
 * A token bucket of `capacity` tokens in which every token spent comes
 * back `interval_ms` after it was spent.  Unlike a bucket refilled at a
 * constant rate (which lets 2x capacity through in one window), this
 * never exceeds `capacity` requests in any rolling window of
 * `interval_ms`: exactly HubSpot's TEN_SECONDLY_ROLLING policy.  A token
 * comes back after interval_ms plus a 5 % margin (at least 20 ms), so
 * network jitter between our spend and the server's count cannot push a
 * request into the server's previous window.
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

/* Feeds the server's view; any value < 0 means the header was absent. */
void ratelimit_observe(struct ratelimit *rl, long max, long remaining,
                       long interval_ms, int64_t now_ms);

/* After a 429: no token before until_ms. */
void ratelimit_block_until(struct ratelimit *rl, int64_t until_ms);

/* Tokens available at now_ms (for tests and status). */
int ratelimit_available(struct ratelimit *rl, int64_t now_ms);

/* The clock ratelimit_acquire uses (monotonic ms). */
int64_t ratelimit_now_ms(void);

#endif
