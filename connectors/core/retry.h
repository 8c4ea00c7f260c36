/*
 * Connector core: retries with exponential backoff and full jitter.
 *
 * Delay before attempt n+1 (n >= 1 failed attempts so far):
 *   ceiling = min(cap_ms, base_ms * 2^(n-1))
 *   delay   = uniform random in [0, ceiling]            (full jitter)
 *   if the server sent Retry-After: delay = max(delay, retry_after)
 * A job is dead-lettered (with the last reason) when n reaches
 * max_attempts, or when the next attempt would start later than
 * max_total_ms after the first enqueue.
 */
#ifndef LSC_CONNECTORS_CORE_RETRY_H
#define LSC_CONNECTORS_CORE_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

#include "outcome.h"

struct retry_policy {
    uint32_t max_attempts;  /* >= 1; default 10 */
    int64_t base_ms;        /* default 1000 */
    int64_t cap_ms;         /* default 300000 (5 min) */
    int64_t max_total_ms;   /* default 24 h */
};

void retry_policy_default(struct retry_policy *p);

/* A uniform 64-bit random number (OpenSSL RAND_bytes; falls back to a
 * time-seeded xorshift if the RNG fails). */
uint64_t retry_random(void);

/* The delay after `failed` failed attempts (>= 1) using `rnd` as the
 * random source; retry_after_ms < 0 means none. */
int64_t retry_delay_ms(const struct retry_policy *p, uint32_t failed,
                       int64_t retry_after_ms, uint64_t rnd);

/* Fills a job result from an outcome: LSC_OK → done; retryable (also
 * LSC_ERR_TIMEOUT) → LSC_ERR_RETRYABLE with a delay, unless the policy's
 * bounds are exhausted → LSC_ERR_PERMANENT "gave up after N attempts
 * over S s: <reason>"; anything else → dead-letter with the reason.
 * `attempt` is the job's attempt number (1 = first run), enqueued_ms its
 * first enqueue.  Caller-owned *r. */
void retry_fill_result(const struct retry_policy *p, uint32_t attempt,
                       int64_t enqueued_ms, int64_t now_ms,
                       const struct outcome *o, struct lsc_job_result *r);

/* The result of a job a paused connector (re-authorization needed) did
 * not try: due again after delay_ms.  LSC_DEFERRED, which uses none of
 * the host's attempts, when the host speaks plugin ABI 1.1 or later;
 * LSC_ERR_RETRYABLE for an older host (it would dead-letter
 * LSC_DEFERRED).  `why` is copied into r->reason. */
void retry_fill_paused(const struct lsc_host_api *host, int64_t delay_ms,
                       const char *why, struct lsc_job_result *r);

#endif
