/*
 * Internals shared by mc_client.c, mc_import.c and mc_oauth.c.  Not for
 * use outside connectors/mailchimp/.
 */
#ifndef LSC_CONNECTORS_MAILCHIMP_CLIENT_H
#define LSC_CONNECTORS_MAILCHIMP_CLIENT_H

#include <pthread.h>

#include "mailchimp.h"
#include "mc_http.h"

struct mailchimp {
    struct mailchimp_config cfg; /* own copy */
    char api_base[256];          /* ".../3.0", no trailing slash */
    char *authz;                 /* Authorization value; secret */
    struct http_client *http;    /* connector core client, owned */
    pthread_mutex_t mu;          /* guards everything below */
    pthread_cond_t cv;           /* a connection slot was freed */
    int in_flight;
    int slots;        /* in-flight limit of this client (see create) */
    /* Lock files shared with other processes (mailchimp_share_connections):
     * a request also holds one of them; n_shared 0: not shared. */
    int shared_fd[MAILCHIMP_MAX_CONNECTIONS];
    bool shared_busy[MAILCHIMP_MAX_CONNECTIONS]; /* held by this client */
    int n_shared;
    bool reauth;
    char *state_path; /* persisted "re-authorize needed" (NULL: none) */
    bool reauth_on_disk; /* that file exists (as far as we know) */
    bool host_defers; /* the host takes LSC_DEFERRED (ABI >= 1.1) */
    struct mailchimp_stats stats;
};

/* Query of every member PUT/PATCH: we write only our merge fields. */
#define MC_SKIP_MERGE_VALIDATION "?skip_merge_validation=true"

int64_t mc_now_ms(void);
void mc_count(struct mailchimp *mc, uint64_t *counter);
int64_t mc_backoff_ms(struct mailchimp *mc, int64_t base, unsigned attempt,
                      int64_t cap);
/* A failed job's delay before attempt+1: in [c/2, c] with
 * c = min(cap, base * 2^(attempt-1)); rnd is the random source. */
int64_t mc_job_backoff_ms(int64_t base, unsigned attempt, int64_t cap,
                          uint64_t rnd);
enum lsc_status mc_call(struct mailchimp *mc, const char *method,
                        const char *path, const char *body,
                        struct mc_http_resp *resp, int64_t *retry_after_ms,
                        char *err, size_t errlen);
/* Sets the re-authorize state and, the first time, persists it with the
 * reason (no secret) in mc->state_path. */
void mc_reauth_set(struct mailchimp *mc, const char *why);
void mc_reason(const char *what, const struct mc_http_resp *r, char *err,
               size_t errlen);
char *mc_tags_body(const struct mailchimp *mc, const char *to,
                   const char *from);

#endif
