/*
 * Shared by the HubSpot integration and contract tests: a temporary data
 * directory, a mapping pointing at the fake, and a minimal host with an
 * in-memory job queue (coalescing by kind+key for jobs not started yet,
 * retries after retry_after_ms, dead letters kept for inspection).
 */
#ifndef LSC_TESTS_HS_HARNESS_H
#define LSC_TESTS_HS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

#include "connectors.h"
#include "fake_proc.h"

#define HQ_MAX 1024

struct hq_job {
    bool used;
    char kind[32];
    char key[160];
    char *payload;
    size_t len;
    uint64_t id;
    uint32_t attempt;      /* runs so far, LSC_DEFERRED ones not counted */
    uint32_t n_deferred;   /* runs answered LSC_DEFERRED */
    int64_t enqueued_ms;
    int64_t not_before_ms;
};

struct harness {
    struct fake_proc fake;
    char dir[128];
    char mapping[256];
    struct lsc_host_api api;
    struct hq_job q[HQ_MAX];
    uint64_t next_id;
    int n_done;
    int n_dead;
    char dead_reason[64][256];
    char dead_key[64][160];
    int n_logs;
    char logs[512][1100];
    /* props_write calls (the read path): "contact|field=value|..." */
    int n_writes;
    char writes[400][256];
};

/* Starts the fake (extra args NULL-terminated, may be NULL) and a temp
 * dir.  false on failure. */
bool harness_start(struct harness *h, const char *fake_exe,
                   const char *const *extra);
void harness_stop(struct harness *h);

/* Writes the mapping: auth_json is the "auth" object's text, extra is
 * appended inside the root object (e.g. ",\"limits\":{..}"). */
void harness_mapping(struct harness *h, const char *auth_json,
                     const char *extra);
/* Inserts text into the mapping file right after the first `after`.
 * false when the file has no `after` (or cannot be rewritten). */
bool harness_mapping_insert(struct harness *h, const char *after,
                            const char *text);

/* Runs every ready job (batches per kind up to max_batch) until the queue
 * is empty or max_ms passed (sleeping at most 50 ms at a time).  Returns
 * the number of jobs still queued. */
int harness_drain(struct harness *h, struct connectors *c, int64_t max_ms);
int harness_queued(const struct harness *h);

/* `leadscore connect hubspot` with a scripted browser: begin, GET the
 * authorize URL (the fake answers 302 to the loopback redirect), GET the
 * redirect (state replaced by a forged one when tamper), finish.  The
 * authorize URL is copied into url.  Returns finish's status (begin's on
 * its failure). */
enum lsc_status harness_connect(struct connectors *c, bool tamper, char *url,
                                size_t urllen, char *err, size_t errlen);

#endif
