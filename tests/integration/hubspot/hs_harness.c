/*
 * Test harness for the HubSpot connector (see hs_harness.h).
 */
#include "hs_harness.h"

#include <dirent.h>
#include <pthread.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void h_log(void *host, enum lsc_log_level level, const char *msg)
{
    struct harness *h = host;
    (void)level;
    if (h->n_logs < 512) {
        snprintf(h->logs[h->n_logs++], sizeof h->logs[0], "%s", msg);
    }
}

static enum lsc_status h_props_write(void *host, const char *contact_id,
                                     const struct lsc_prop *props, size_t n)
{
    struct harness *h = host;
    if (h->n_writes >= 400) {
        return LSC_ERR_NOMEM;
    }
    char *w = h->writes[h->n_writes++];
    size_t o = (size_t)snprintf(w, 256, "%s", contact_id);
    for (size_t i = 0; i < n && o < 256; i++) {
        if (props[i].value.type == LSC_VAL_STRING) {
            o += (size_t)snprintf(w + o, 256 - o, "|%s=%s", props[i].key,
                                  props[i].value.u.str.ptr);
        } else {
            o += (size_t)snprintf(w + o, 256 - o, "|%s:%d", props[i].key,
                                  (int)props[i].value.type);
        }
    }
    return LSC_OK;
}

static int64_t h_now(void *host)
{
    (void)host;
    return wall_ms();
}

static const char *h_data_dir(void *host)
{
    return ((struct harness *)host)->dir;
}

static enum lsc_status h_enqueue(void *host, const char *kind, const char *key,
                                 const void *payload, size_t len,
                                 int64_t not_before)
{
    struct harness *h = host;
    struct hq_job *slot = NULL;
    for (int i = 0; key != NULL && i < HQ_MAX; i++) {
        struct hq_job *j = &h->q[i];
        if (j->used && j->attempt == 0 && strcmp(j->kind, kind) == 0 &&
            strcmp(j->key, key) == 0) {
            slot = j; /* coalesce: replace the job that has not started */
            free(j->payload);
            break;
        }
    }
    if (slot == NULL) {
        for (int i = 0; i < HQ_MAX; i++) {
            if (!h->q[i].used) {
                slot = &h->q[i];
                break;
            }
        }
        if (slot == NULL) {
            return LSC_ERR_NOMEM;
        }
        memset(slot, 0, sizeof *slot);
        slot->used = true;
        slot->id = ++h->next_id;
        slot->enqueued_ms = wall_ms();
        snprintf(slot->kind, sizeof slot->kind, "%s", kind);
        snprintf(slot->key, sizeof slot->key, "%s", key ? key : "");
    }
    slot->payload = malloc(len + 1);
    memcpy(slot->payload, payload, len);
    slot->payload[len] = '\0';
    slot->len = len;
    slot->not_before_ms = not_before;
    return LSC_OK;
}

bool harness_start(struct harness *h, const char *fake_exe,
                   const char *const *extra)
{
    memset(h, 0, sizeof *h);
    snprintf(h->dir, sizeof h->dir, "/tmp/lsc-hs-XXXXXX");
    if (mkdtemp(h->dir) == NULL) {
        return false;
    }
    h->api = (struct lsc_host_api){
        .struct_size = sizeof h->api,
        .abi_major = LSC_PLUGIN_ABI_MAJOR,
        .abi_minor = LSC_PLUGIN_ABI_MINOR,
        .host = h,
        .host_name = "hs-test",
        .log = h_log,
        .data_dir = h_data_dir,
        .now_ms = h_now,
        .job_enqueue = h_enqueue,
        .props_write = h_props_write,
    };
    return fake_start(&h->fake, fake_exe, extra);
}

void harness_stop(struct harness *h)
{
    fake_stop(&h->fake);
    for (int i = 0; i < HQ_MAX; i++) {
        free(h->q[i].payload);
        h->q[i].payload = NULL;
    }
    DIR *d = opendir(h->dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", h->dir, e->d_name);
            unlink(p);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(h->dir);
}

void harness_mapping(struct harness *h, const char *auth_json,
                     const char *extra)
{
    snprintf(h->mapping, sizeof h->mapping, "%s/hubspot.json", h->dir);
    FILE *f = fopen(h->mapping, "w");
    fprintf(f,
            "{\n  \"schema\": \"leadscore.connector/1\",\n"
            "  \"connector\": \"hubspot\",\n"
            "  \"api\": {\"base_url\": \"%s\", \"authorize_url\": "
            "\"%s/oauth/authorize\"},\n"
            "  \"auth\": %s,\n"
            "  \"inputs\": {\"jobtitle\": \"title\", \"numemployees\": "
            "\"employees\"},\n"
            "  \"outputs\": {\"score\": \"leadscore_score\", \"tier\": "
            "\"leadscore_tier\", \"fit\": \"leadscore_fit\", \"engagement\": "
            "\"leadscore_engagement\", \"reasons\": \"leadscore_reasons\", "
            "\"scored_at\": \"leadscore_scored_at\", \"tags\": "
            "\"leadscore_tags\"},\n"
            "  \"tiers\": [\"hot\", \"warm\", \"cold\"]%s\n}\n",
            h->fake.base, h->fake.base, auth_json, extra ? extra : "");
    fclose(f);
}

bool harness_mapping_insert(struct harness *h, const char *after,
                            const char *text)
{
    FILE *f = fopen(h->mapping, "r");
    if (f == NULL) {
        return false;
    }
    char old[8192];
    size_t n = fread(old, 1, sizeof old - 1, f);
    fclose(f);
    old[n] = '\0';
    char *at = strstr(old, after);
    if (at == NULL) {
        return false;
    }
    at += strlen(after);
    f = fopen(h->mapping, "w");
    if (f == NULL) {
        return false;
    }
    fprintf(f, "%.*s%s%s", (int)(at - old), old, text, at);
    return fclose(f) == 0;
}

int harness_queued(const struct harness *h)
{
    int n = 0;
    for (int i = 0; i < HQ_MAX; i++) {
        n += h->q[i].used;
    }
    return n;
}

int harness_drain(struct harness *h, struct connectors *c, int64_t max_ms)
{
    int64_t end = wall_ms() + max_ms;
    static const char *const kinds[] = {CONNECTORS_JOB_HUBSPOT_READ,
                                        CONNECTORS_JOB_HUBSPOT_WRITE,
                                        CONNECTORS_JOB_HUBSPOT_ACTION,
                                        CONNECTORS_JOB_WEBHOOK};
    while (harness_queued(h) > 0 && wall_ms() < end) {
        bool ran = false;
        for (size_t k = 0; k < 4; k++) {
            struct lsc_job jobs[100];
            struct lsc_job_result res[100];
            struct hq_job *src[100];
            size_t n = 0;
            int64_t now = wall_ms();
            /* enqueue order = id order */
            for (;;) {
                struct hq_job *best = NULL;
                for (int i = 0; i < HQ_MAX; i++) {
                    struct hq_job *j = &h->q[i];
                    bool taken = false;
                    for (size_t t = 0; t < n; t++) {
                        taken = taken || src[t] == j;
                    }
                    if (j->used && !taken && strcmp(j->kind, kinds[k]) == 0 &&
                        j->not_before_ms <= now &&
                        (best == NULL || j->id < best->id)) {
                        best = j;
                    }
                }
                if (best == NULL || n == 100) {
                    break;
                }
                src[n] = best;
                best->attempt++;
                jobs[n] = (struct lsc_job){
                    .struct_size = sizeof jobs[n], .id = best->id,
                    .kind = best->kind, .key = best->key,
                    .payload = best->payload, .payload_len = best->len,
                    .attempt = best->attempt,
                    .enqueued_ms = best->enqueued_ms};
                res[n] = (struct lsc_job_result){
                    .struct_size = sizeof res[n],
                    .status = LSC_ERR_INTERNAL};
                n++;
            }
            if (n == 0) {
                continue;
            }
            ran = true;
            enum lsc_status rc = connectors_run_jobs(c, jobs, res, n);
            for (size_t i = 0; i < n; i++) {
                struct hq_job *j = src[i];
                enum lsc_status st = rc == LSC_OK ? res[i].status
                                                  : LSC_ERR_RETRYABLE;
                if (st == LSC_OK) {
                    h->n_done++;
                } else if (st == LSC_ERR_RETRYABLE || st == LSC_DEFERRED) {
                    /* a deferred run is not an attempt */
                    j->attempt -= st == LSC_DEFERRED;
                    j->n_deferred += st == LSC_DEFERRED;
                    j->not_before_ms = wall_ms() + res[i].retry_after_ms;
                    continue;
                } else {
                    if (h->n_dead < 64) {
                        snprintf(h->dead_reason[h->n_dead], 256, "%s",
                                 res[i].reason);
                        snprintf(h->dead_key[h->n_dead], 160, "%s", j->key);
                    }
                    h->n_dead++;
                    fprintf(stderr, "# dead-lettered %s: %s\n", j->key,
                            res[i].reason);
                }
                free(j->payload);
                memset(j, 0, sizeof *j);
            }
        }
        if (!ran) {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return harness_queued(h);
}

/* ---- the browser side of the connect flow -------------------------------- */

static size_t hdr_cb(char *d, size_t s, size_t n, void *ud)
{
    char *loc = ud;
    size_t len = s * n;
    if (len > 10 && strncasecmp(d, "Location: ", 10) == 0) {
        size_t l = len - 10;
        while (l > 0 && (d[10 + l - 1] == '\r' || d[10 + l - 1] == '\n')) {
            l--;
        }
        snprintf(loc, 2048, "%.*s", (int)l, d + 10);
    }
    return len;
}

static size_t sink(char *d, size_t s, size_t n, void *ud)
{
    (void)d;
    (void)ud;
    return s * n;
}

/* GETs url without following; returns the status and the Location. */
static long browser_get(const char *url, char *location)
{
    CURL *h = curl_easy_init();
    long st = 0;
    location[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, hdr_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, location);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    }
    curl_easy_cleanup(h);
    return st;
}

struct finish_arg {
    struct connectors *c;
    struct connectors_connect *h;
    enum lsc_status rc;
    char err[256];
};

static void *finish_thread(void *p)
{
    struct finish_arg *a = p;
    a->rc = connectors_connect_finish(a->c, a->h, 10000, a->err, sizeof a->err);
    return NULL;
}

enum lsc_status harness_connect(struct connectors *c, bool tamper, char *url,
                                size_t urllen, char *err, size_t errlen)
{
    struct connectors_connect *h = NULL;
    char *u = NULL;
    url[0] = '\0';
    enum lsc_status rc = connectors_connect_begin(c, &h, &u, err, errlen);
    if (rc != LSC_OK) {
        return rc;
    }
    snprintf(url, urllen, "%s", u);
    struct finish_arg a = {.c = c, .h = h};
    pthread_t t;
    pthread_create(&t, NULL, finish_thread, &a);
    char location[2048];
    char unused[2048];
    if (browser_get(u, location) == 302) {
        char *st = strstr(location, "&state=");
        if (tamper && st != NULL) {
            snprintf(st, 64, "&state=forged");
        }
        (void)browser_get(location, unused);
    } /* else finish gives up after its 10 s timeout */
    pthread_join(t, NULL);
    connectors_connect_free(h);
    free(u);
    snprintf(err, errlen, "%s", a.err);
    return a.rc;
}
