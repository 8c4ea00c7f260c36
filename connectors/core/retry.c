/*
 * Connector core: backoff with full jitter (see retry.h).
 */
#include "retry.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

void retry_policy_default(struct retry_policy *p)
{
    p->max_attempts = 10;
    p->base_ms = 1000;
    p->cap_ms = 300000;
    p->max_total_ms = 24LL * 3600 * 1000;
}

uint64_t retry_random(void)
{
    uint64_t r;
    if (RAND_bytes((unsigned char *)&r, sizeof r) == 1) {
        return r;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)ts.tv_sec;
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    return r;
}

int64_t retry_delay_ms(const struct retry_policy *p, uint32_t failed,
                       int64_t retry_after_ms, uint64_t rnd)
{
    if (failed < 1) {
        failed = 1;
    }
    int64_t ceiling = p->base_ms;
    for (uint32_t i = 1; i < failed && ceiling < p->cap_ms; i++) {
        ceiling *= 2;
    }
    if (ceiling > p->cap_ms) {
        ceiling = p->cap_ms;
    }
    int64_t d = ceiling > 0 ? (int64_t)(rnd % ((uint64_t)ceiling + 1)) : 0;
    if (retry_after_ms >= 0 && d < retry_after_ms) {
        d = retry_after_ms;
    }
    return d;
}

void retry_fill_result(const struct retry_policy *p, uint32_t attempt,
                       int64_t enqueued_ms, int64_t now_ms,
                       const struct outcome *o, struct lsc_job_result *r)
{
    r->retry_after_ms = 0;
    r->reason[0] = '\0';
    if (o->status == LSC_OK) {
        r->status = LSC_OK;
        return;
    }
    if (o->status == LSC_ERR_RETRYABLE || o->status == LSC_ERR_TIMEOUT) {
        int64_t d = retry_delay_ms(p, attempt, o->retry_after_ms,
                                   retry_random());
        int64_t elapsed = now_ms - enqueued_ms;
        if (attempt >= p->max_attempts || elapsed + d > p->max_total_ms) {
            r->status = LSC_ERR_PERMANENT;
            snprintf(r->reason, sizeof r->reason,
                     "gave up after %u attempts over %lld s: %.190s",
                     (unsigned)attempt, (long long)(elapsed / 1000),
                     o->reason);
            return;
        }
        r->status = LSC_ERR_RETRYABLE;
        r->retry_after_ms = d;
        snprintf(r->reason, sizeof r->reason, "%s", o->reason);
        return;
    }
    r->status = o->status == LSC_ERR_AUTH ? LSC_ERR_AUTH : LSC_ERR_PERMANENT;
    snprintf(r->reason, sizeof r->reason, "%s", o->reason);
}

void retry_fill_paused(const struct lsc_host_api *host, int64_t delay_ms,
                       const char *why, struct lsc_job_result *r)
{
    bool deferred_ok = host != NULL &&
                       host->abi_major == LSC_PLUGIN_ABI_MAJOR &&
                       host->abi_minor >= 1;
    r->status = deferred_ok ? LSC_DEFERRED : LSC_ERR_RETRYABLE;
    r->retry_after_ms = delay_ms;
    snprintf(r->reason, sizeof r->reason, "%s", why);
}
