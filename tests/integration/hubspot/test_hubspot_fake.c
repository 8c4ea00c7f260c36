/*
 * Integration tests of the HubSpot connector against fake_hubspot:
 * first connect (PKCE, state, loopback redirect), expiry and refresh, a
 * revoked refresh token, backfill with interruption and resume, partial
 * batch failure, a burst under the rate limit, an outage then recovery.
 *
 * Usage: test_hubspot_integration PATH/TO/fake_hubspot
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "connectors.h"
#include "core/http.h"
#include "hs_harness.h"

static const char *FAKE_EXE;

#define OAUTH_AUTH                                                        \
    "{\"type\": \"oauth\", \"client_id\": \"fake-client-id\", "             \
    "\"client_secret_env\": \"LSC_IT_CLIENT_SECRET\", \"redirect_port\": 0}"
#define STATIC_AUTH "{\"type\": \"service_key\", \"token_env\": \"LSC_IT_TOKEN\"}"
/* the fake's arguments for the token LSC_IT_TOKEN holds (setup_env) */
#define IT_TOKEN "pat-na1-it-static-token-0001"
#define STATIC_TOKEN_ARGS "--static-token", IT_TOKEN
#define FAST_LIMITS                                                        \
    ",\n  \"limits\": {\"backoff_base_ms\": 10, \"backoff_cap_ms\": 100, "   \
    "\"max_attempts\": 8, \"timeout_ms\": 3000, \"connect_timeout_ms\": 1000"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup_env(void **state)
{
    (void)state;
    setenv("LSC_IT_CLIENT_SECRET", "fake-client-secret", 1);
    setenv("LSC_IT_TOKEN", IT_TOKEN, 1);
    return 0;
}

/* The whole connect flow (the browser part is in the harness); tamper:
 * the browser comes back with another state.  Returns connect_finish's
 * status. */
static enum lsc_status connect_flow(struct connectors *c, bool tamper)
{
    char url[4096];
    char err[256] = "";
    enum lsc_status rc = harness_connect(c, tamper, url, sizeof url, err,
                                         sizeof err);
    assert_non_null(strstr(url, "/oauth/authorize?client_id=fake-client-id"));
    assert_non_null(strstr(url, "&code_challenge_method=S256"));
    assert_non_null(strstr(url, "scope=oauth%20crm.objects.contacts.read%20"
                                "crm.objects.contacts.write%20"
                                "crm.schemas.contacts.write"));
    if (rc != LSC_OK) {
        fprintf(stderr, "# connect: %s\n", err);
    }
    return rc;
}

static json_t *form_of(json_t *req)
{
    const char *b = json_string_value(json_object_get(req, "body"));
    json_t *o = json_object();
    char *copy = strdup(b ? b : "");
    for (char *tok = strtok(copy, "&"); tok; tok = strtok(NULL, "&")) {
        char *eq = strchr(tok, '=');
        if (eq != NULL) {
            *eq = '\0';
            json_object_set_new(o, tok, json_string(eq + 1));
        }
    }
    free(copy);
    return o;
}

static int count_grant(struct harness *h, const char *grant)
{
    json_t *reqs = fake_requests(&h->fake, "/oauth/2026-03/token");
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        json_t *f = form_of(r);
        const char *g = json_string_value(json_object_get(f, "grant_type"));
        n += g != NULL && strcmp(g, grant) == 0;
        json_decref(f);
    }
    json_decref(reqs);
    return n;
}

/* A connectors instance on h's current mapping file (a restart, or a
 * changed mapping); the caller owns it (connectors_destroy). */
static struct connectors *create_on(struct harness *h)
{
    struct connectors *c = NULL;
    char err[256] = "";
    assert_int_equal(connectors_create(&h->api, h->mapping, NULL, &c, err,
                                       sizeof err),
                     LSC_OK);
    return c;
}

/* A harness on the fake (args NULL-terminated, may be NULL), its
 * mapping (harness_mapping) and a connectors instance on it; both are
 * the caller's (finish). */
static struct connectors *start(struct harness **hp, const char *const *args,
                                const char *auth_json, const char *extra)
{
    struct harness *h = calloc(1, sizeof *h);
    assert_non_null(h);
    assert_true(harness_start(h, FAKE_EXE, args));
    harness_mapping(h, auth_json, extra);
    *hp = h;
    return create_on(h);
}

/* start() with the static token, then connectors_setup (the properties
 * the write path needs), which must succeed. */
static struct connectors *start_setup(struct harness **hp,
                                      const char *const *args,
                                      const char *extra)
{
    struct connectors *c = start(hp, args, STATIC_AUTH, extra);
    char err[256] = "";
    assert_int_equal(connectors_setup(c, err, sizeof err), LSC_OK);
    return c;
}

static void finish(struct harness *h, struct connectors *c)
{
    connectors_destroy(c);
    harness_stop(h);
    free(h);
}

static void test_first_connect(void **state)
{
    (void)state;
    struct harness *h;
    struct connectors *c = start(&h, NULL, OAUTH_AUTH, NULL);
    char status[512];
    connectors_status(c, status, sizeof status);
    assert_non_null(strstr(status, "hubspot: not connected"));

    /* a forged state is refused before any code exchange */
    assert_int_equal(connect_flow(c, true), LSC_ERR_AUTH);
    assert_int_equal(count_grant(h, "authorization_code"), 0);

    assert_int_equal(connect_flow(c, false), LSC_OK);
    json_t *tok = fake_requests(&h->fake, "/oauth/2026-03/token");
    assert_int_equal(json_array_size(tok), 1);
    json_t *r0 = json_array_get(tok, 0);
    json_t *f = form_of(r0);
    assert_string_equal(json_string_value(json_object_get(f, "grant_type")),
                        "authorization_code");
    assert_int_equal(strlen(json_string_value(json_object_get(f,
                                                              "code_verifier"))),
                     64);
    assert_non_null(strstr(json_string_value(json_object_get(f, "redirect_uri")),
                           "http%3A%2F%2Flocalhost%3A"));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r0, "headers"), "Content-Type")),
                        "application/x-www-form-urlencoded");
    json_decref(f);
    json_decref(tok);
    /* confirmed by reading the account's contact properties with the new
     * token; the mapped inputs exist, so no warning */
    json_t *reads = fake_requests(&h->fake, "/crm/properties/2026-03/contacts");
    assert_int_equal(json_array_size(reads), 1);
    const char *auth = json_string_value(json_object_get(
        json_object_get(json_array_get(reads, 0), "headers"), "Authorization"));
    assert_non_null(strstr(auth, "Bearer fake-at-"));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reads, 0),
                                                        "status")),
                     200);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(reads, 0), "method")),
                        "GET");
    json_decref(reads);
    for (int i = 0; i < h->n_logs; i++) {
        assert_null(strstr(h->logs[i], "does not exist in this HubSpot"));
    }

    /* the tokens are stored 0600 and not in any log line */
    char path[300];
    snprintf(path, sizeof path, "%s/hubspot-credentials.json", h->dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    connectors_status(c, status, sizeof status);
    assert_non_null(strstr(status, "hubspot: connected (OAuth, API 2026-03, "
                                   "access token until"));
    for (int i = 0; i < h->n_logs; i++) {
        assert_null(strstr(h->logs[i], "fake-at-"));
        assert_null(strstr(h->logs[i], "fake-rt-"));
        assert_null(strstr(h->logs[i], "fake-client-secret"));
    }
    finish(h, c);
}

static void enqueue_score(struct connectors *c, const char *id, int score,
                          const char *tier, int64_t at)
{
    char err[256];
    const struct connectors_reason reasons[] = {{"title-cto", 15, 0}};
    const struct connectors_group groups[] = {{"fit", 40}, {"engagement", 47}};
    struct connectors_score s = {.contact_id = id, .score = score,
                                 .tier = tier, .groups = groups,
                                 .n_groups = 2, .reasons = reasons,
                                 .n_reasons = 1, .at_ms = at};
    assert_int_equal(connectors_on_score(c, &s, err, sizeof err), LSC_OK);
}

static const char *contact_prop(struct harness *h, const char *id,
                                const char *prop, char *out, size_t outlen)
{
    char q[64];
    snprintf(q, sizeof q, "contact?id=%s", id);
    json_t *c = fake_get(&h->fake, q);
    const char *v = json_string_value(json_object_get(
        json_object_get(c, "properties"), prop));
    snprintf(out, outlen, "%s", v ? v : "");
    json_decref(c);
    return out;
}

/* The slot of the job enqueued last (-1 when the queue is empty). */
static int newest_slot(const struct harness *h)
{
    int slot = -1;
    for (int i = 0; i < HQ_MAX; i++) {
        slot = h->q[i].used ? i : slot;
    }
    return slot;
}

/* The queued job in slot as the host hands it to run_jobs (first
 * attempt); it borrows the slot's strings. */
static struct lsc_job job_of_slot(struct harness *h, int slot,
                                  int64_t enqueued_ms)
{
    struct lsc_job job = {.struct_size = sizeof job, .id = h->q[slot].id,
                          .kind = h->q[slot].kind, .key = h->q[slot].key,
                          .payload = h->q[slot].payload,
                          .payload_len = h->q[slot].len, .attempt = 1,
                          .enqueued_ms = enqueued_ms};
    return job;
}

static void test_expiry_and_refresh(void **state)
{
    (void)state;
    const char *args[] = {"--token-lifetime", "3", NULL};
    struct harness *h;
    char err[256] = "";
    struct connectors *c = start(
        &h, args, OAUTH_AUTH, FAST_LIMITS ", \"refresh_before_expiry_s\": 1}");
    assert_int_equal(connect_flow(c, false), LSC_OK);
    assert_int_equal(connectors_setup(c, err, sizeof err), LSC_OK);
    fake_control(&h->fake, "clear", NULL);

    /* proactive: within 1 s of expiry the token is refreshed first */
    sleep_ms(2200);
    enqueue_score(c, "101", 50, "warm", wall_ms());
    assert_int_equal(harness_drain(h, c, 10000), 0);
    assert_int_equal(h->n_done, 1);
    json_t *all = fake_get(&h->fake, "requests");
    json_t *reqs = json_object_get(all, "requests");
    assert_int_equal(json_array_size(reqs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0),
                                                          "path")),
                        "/oauth/2026-03/token");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 1),
                                                        "status")),
                     200);
    json_decref(all);

    /* reactive: a 401 refreshes once and retries */
    fake_control(&h->fake, "clear", NULL);
    fake_control(&h->fake, "expire", NULL);
    enqueue_score(c, "101", 60, "warm", wall_ms());
    assert_int_equal(harness_drain(h, c, 10000), 0);
    assert_int_equal(h->n_done, 2);
    all = fake_get(&h->fake, "requests");
    reqs = json_object_get(all, "requests");
    assert_int_equal(json_array_size(reqs), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 0),
                                                        "status")),
                     401);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 1),
                                                          "path")),
                        "/oauth/2026-03/token");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 2),
                                                        "status")),
                     200);
    json_decref(all);
    char v[64];
    assert_string_equal(contact_prop(h, "101", "leadscore_score", v, sizeof v),
                        "60");
    finish(h, c);
}

static void test_revoked_refresh_token(void **state)
{
    (void)state;
    struct harness *h;
    char err[256] = "";
    struct connectors *c = start(&h, NULL, OAUTH_AUTH, FAST_LIMITS "}");
    assert_int_equal(connect_flow(c, false), LSC_OK);
    assert_int_equal(connectors_setup(c, err, sizeof err), LSC_OK);
    fake_control(&h->fake, "revoke", NULL);
    enqueue_score(c, "102", 70, "hot", wall_ms());
    /* one run: paused, kept, not dead-lettered */
    assert_int_equal(harness_drain(h, c, 500), 1);
    assert_int_equal(h->n_dead, 0);
    int slot = newest_slot(h);
    assert_true(h->q[slot].not_before_ms - wall_ms() >
                CONNECTORS_PAUSE_MS - 5000);
    assert_int_equal(count_grant(h, "refresh_token"), 1);
    char status[512];
    connectors_status(c, status, sizeof status);
    assert_non_null(strstr(status, "re-authorization needed"));
    connectors_destroy(c);

    /* a restart remembers it and does not hammer the token endpoint */
    char path[300];
    char *text = NULL;
    snprintf(path, sizeof path, "%s/hubspot-credentials.json", h->dir);
    FILE *f = fopen(path, "r");
    text = calloc(1, 8192);
    assert_true(fread(text, 1, 8191, f) > 0);
    fclose(f);
    assert_non_null(strstr(text, "\"reauth_needed\""));
    free(text);
    c = create_on(h);
    h->q[slot].not_before_ms = 0;
    assert_int_equal(harness_drain(h, c, 300), 1);
    assert_int_equal(count_grant(h, "refresh_token"), 1);

    /* connecting again resumes the queue: nothing was lost */
    assert_int_equal(connect_flow(c, false), LSC_OK);
    h->q[slot].not_before_ms = 0;
    assert_int_equal(harness_drain(h, c, 10000), 0);
    assert_int_equal(h->n_dead, 0);
    char v[64];
    assert_string_equal(contact_prop(h, "102", "leadscore_score", v, sizeof v),
                        "70");
    finish(h, c);
}

struct bf {
    json_t *seen;      /* id -> times */
    const char *fail_at;
    bool failed;
    int with_title;
};

static enum lsc_status bf_sink(void *ud, const char *id,
                               const struct lsc_prop *p, size_t n)
{
    struct bf *b = ud;
    if (b->fail_at != NULL && !b->failed && strcmp(id, b->fail_at) == 0) {
        b->failed = true;
        return LSC_ERR_IO; /* the host stops half-way through a page */
    }
    json_t *x = json_object_get(b->seen, id);
    json_object_set_new(b->seen, id,
                        json_integer(x ? json_integer_value(x) + 1 : 1));
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p[i].key, "title") == 0 &&
            p[i].value.type == LSC_VAL_STRING) {
            b->with_title++;
        }
        assert_string_not_equal(p[i].key, "jobtitle"); /* renamed */
    }
    return LSC_OK;
}

static void test_backfill_resume(void **state)
{
    (void)state;
    const char *args[] = {"--contacts", "250", STATIC_TOKEN_ARGS, NULL};
    struct harness *h;
    char err[256] = "";
    struct connectors *c = start(&h, args, STATIC_AUTH, FAST_LIMITS "}");
    struct bf b = {.seen = json_object(), .fail_at = "250"};
    bool done = false;
    size_t got = 0;
    assert_int_equal(connectors_backfill_step(c, false, bf_sink, &b, &done,
                                              &got, err, sizeof err),
                     LSC_OK);
    assert_false(done);
    assert_int_equal(got, 100);
    assert_int_not_equal(connectors_backfill_step(c, false, bf_sink, &b, &done,
                                                  &got, err, sizeof err),
                         LSC_OK);
    assert_true(b.failed);
    connectors_destroy(c); /* the process stops */

    c = create_on(h);
    int steps = 0;
    while (!done && steps++ < 10) {
        assert_int_equal(connectors_backfill_step(c, false, bf_sink, &b, &done,
                                                  &got, err, sizeof err),
                         LSC_OK);
    }
    assert_true(done);
    assert_int_equal(json_object_size(b.seen), 250);
    assert_int_equal(b.with_title, 250 + 49); /* 201..249 twice */
    /* pages 1 and 3 exactly once */
    assert_int_equal(json_integer_value(json_object_get(b.seen, "101")), 1);
    assert_int_equal(json_integer_value(json_object_get(b.seen, "350")), 1);
    json_t *reqs = fake_requests(&h->fake, "/crm/objects/2026-03/contacts");
    assert_int_equal(json_array_size(reqs), 4);
    const char *after[4] = {NULL, "cur_100", "cur_100", "cur_200"};
    for (size_t i = 0; i < 4; i++) {
        json_t *q = json_object_get(json_array_get(reqs, i), "query");
        const char *a = json_string_value(json_object_get(q, "after"));
        if (after[i] == NULL) {
            assert_null(a);
        } else {
            assert_string_equal(a, after[i]);
        }
        assert_string_equal(json_string_value(json_object_get(q, "limit")),
                            "100");
    }
    json_decref(reqs);
    char status[512];
    connectors_status(c, status, sizeof status);
    assert_non_null(strstr(status, "backfill: done, 3 pages, 250 contacts"));
    /* done stays done */
    assert_int_equal(connectors_backfill_step(c, false, bf_sink, &b, &done,
                                              &got, err, sizeof err),
                     LSC_OK);
    assert_true(done);
    json_decref(b.seen);
    finish(h, c);
}

static void test_partial_batch_failure(void **state)
{
    (void)state;
    const char *args[] = {"--contacts", "10", STATIC_TOKEN_ARGS, NULL};
    struct harness *h;
    struct connectors *c = start_setup(&h, args, FAST_LIMITS "}");
    fake_control(&h->fake, "fail_ids",
                 "{\"ids\":[\"103\"],\"category\":\"VALIDATION_ERROR\"}");
    const char *ids[] = {"101", "102", "103", "104", "105", "999"};
    int64_t at = wall_ms();
    for (int i = 0; i < 6; i++) {
        enqueue_score(c, ids[i], 10 + i, "cold", at);
    }
    fake_control(&h->fake, "clear", NULL);
    assert_int_equal(harness_drain(h, c, 5000), 0);
    assert_int_equal(h->n_done, 4);
    assert_int_equal(h->n_dead, 2);
    bool saw103 = false;
    bool saw999 = false;
    for (int i = 0; i < 2; i++) {
        if (strcmp(h->dead_key[i], "hubspot:103") == 0) {
            saw103 = strstr(h->dead_reason[i], "VALIDATION_ERROR") != NULL;
        }
        if (strcmp(h->dead_key[i], "hubspot:999") == 0) {
            saw999 = strstr(h->dead_reason[i], "OBJECT_NOT_FOUND") != NULL;
        }
    }
    assert_true(saw103);
    assert_true(saw999);
    json_t *ups = fake_requests(&h->fake, "/batch/update");
    assert_int_equal(json_array_size(ups), 1); /* one call for six inputs */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ups, 0),
                                                        "status")),
                     207);
    json_decref(ups);

    /* a retryable per-input error: only that input is sent again */
    fake_control(&h->fake, "fail_ids",
                 "{\"ids\":[\"102\"],\"category\":\"RATE_LIMITS\"}");
    enqueue_score(c, "101", 77, "hot", at + 1);
    enqueue_score(c, "102", 78, "hot", at + 1);
    fake_control(&h->fake, "clear", NULL);
    assert_int_equal(harness_drain(h, c, 300), 1); /* 102 waits */
    int64_t wait = -1;
    for (int i = 0; i < HQ_MAX; i++) {
        if (h->q[i].used) {
            wait = h->q[i].not_before_ms - wall_ms();
            h->q[i].not_before_ms = 0; /* the host's clock moves on */
        }
    }
    assert_true(wait > 9000); /* RATE_LIMITS: a whole 10 s window */
    fake_control(&h->fake, "fail_ids", "{\"ids\":[]}");
    assert_int_equal(harness_drain(h, c, 5000), 0);
    ups = fake_requests(&h->fake, "/batch/update");
    assert_true(json_array_size(ups) >= 2);
    json_t *last = json_loads(json_string_value(json_object_get(
                                  json_array_get(ups, json_array_size(ups) - 1),
                                  "body")),
                              0, NULL);
    json_t *inputs = json_object_get(last, "inputs");
    assert_int_equal(json_array_size(inputs), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(inputs, 0), "id")),
                        "102");
    json_decref(last);
    json_decref(ups);
    char v[64];
    assert_string_equal(contact_prop(h, "102", "leadscore_score", v, sizeof v),
                        "78");
    assert_string_equal(contact_prop(h, "101", "leadscore_score", v, sizeof v),
                        "77");
    finish(h, c);
}

/* A tier value HubSpot's enumeration lacks makes it refuse the whole
 * batch (400 VALIDATION_ERROR INVALID_OPTION, no input named): only that
 * input is dead-lettered, the valid ones are written. */
static void test_invalid_option_keeps_valid_inputs(void **state)
{
    (void)state;
    const char *args[] = {"--contacts", "10", STATIC_TOKEN_ARGS, NULL};
    struct harness *h;
    struct connectors *c = start_setup(&h, args, FAST_LIMITS "}");
    int64_t at = wall_ms();
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", 101 + i);
        enqueue_score(c, id, 30 + i, i == 3 ? "lukewarm" : "warm", at);
    }
    fake_control(&h->fake, "clear", NULL);
    assert_int_equal(harness_drain(h, c, 10000), 0);
    assert_int_equal(h->n_done, 5);
    assert_int_equal(h->n_dead, 1);
    assert_string_equal(h->dead_key[0], "hubspot:104");
    assert_non_null(strstr(h->dead_reason[0], "INVALID_OPTION"));
    char v[64];
    for (int i = 0; i < 6; i++) {
        char id[16];
        char want[16];
        snprintf(id, sizeof id, "%d", 101 + i);
        snprintf(want, sizeof want, "%d", i == 3 ? 0 : 30 + i);
        contact_prop(h, id, "leadscore_score", v, sizeof v);
        if (i == 3) {
            assert_string_equal(v, "");
        } else {
            assert_string_equal(v, want);
        }
    }
    /* the first call carried all six and was refused as a whole */
    json_t *ups = fake_requests(&h->fake, "/batch/update");
    assert_true(json_array_size(ups) > 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ups, 0),
                                                        "status")),
                     400);
    json_decref(ups);
    finish(h, c);
}

static void test_burst_under_rate_limit(void **state)
{
    (void)state;
    const char *args[] = {"--contacts", "30", "--rate-max", "10",
                          "--rate-interval-ms", "1000", STATIC_TOKEN_ARGS,
                          NULL};
    struct harness *h;
    struct connectors *c = start_setup(
        &h, args, FAST_LIMITS ", \"requests_per_interval\": 10, "
                              "\"interval_ms\": 1000, \"batch_size\": 1}");
    sleep_ms(1000); /* let setup's requests leave the window */
    fake_control(&h->fake, "clear", NULL);
    int64_t t0 = wall_ms();
    for (int i = 0; i < 25; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", 101 + i);
        enqueue_score(c, id, i, "cold", t0);
    }
    /* one job per call (batch_size 1): 25 requests */
    for (int i = 0; i < HQ_MAX; i++) {
        if (h->q[i].used) {
            struct lsc_job job = job_of_slot(h, i, t0);
            struct lsc_job_result r = {.struct_size = sizeof r};
            assert_int_equal(connectors_run_jobs(c, &job, &r, 1), LSC_OK);
            if (r.status != LSC_OK) {
                fail_msg("job %s: %s", job.key, r.reason);
            }
        }
    }
    int64_t took = wall_ms() - t0;
    json_t *all = fake_get(&h->fake, "requests");
    assert_int_equal(json_integer_value(json_object_get(all, "throttled")), 0);
    assert_true(json_integer_value(json_object_get(all, "max_in_window")) <= 10);
    assert_int_equal(json_array_size(json_object_get(all, "requests")), 25);
    json_decref(all);
    assert_true(took >= 1900); /* 25 requests at 10/s need two waits */
    finish(h, c);
}

/* A 429 without Retry-After: the pause is the server's window (its
 * X-HubSpot-RateLimit-Interval-Milliseconds, 400 ms), not the mapping's
 * interval_ms (10 s). */
static void test_429_uses_server_interval(void **state)
{
    (void)state;
    const char *args[] = {"--contacts", "5", "--rate-interval-ms", "400",
                          STATIC_TOKEN_ARGS, NULL};
    struct harness *h;
    struct connectors *c =
        start_setup(&h, args, FAST_LIMITS ", \"interval_ms\": 10000}");
    fake_control(&h->fake, "fail", "{\"count\":1,\"status\":429}");
    int64_t t0 = wall_ms();
    enqueue_score(c, "101", 42, "warm", t0);
    int slot = newest_slot(h);
    assert_true(slot >= 0);
    struct lsc_job job = job_of_slot(h, slot, t0);
    struct lsc_job_result r = {.struct_size = sizeof r};
    assert_int_equal(connectors_run_jobs(c, &job, &r, 1), LSC_OK);
    assert_int_equal(r.status, LSC_ERR_RETRYABLE);
    assert_true(r.retry_after_ms >= 400);
    assert_true(r.retry_after_ms < 2000);
    /* and the client's own pause ends with the server's window too */
    assert_int_equal(harness_drain(h, c, 5000), 0);
    assert_true(wall_ms() - t0 < 3000);
    char v[64];
    assert_string_equal(contact_prop(h, "101", "leadscore_score", v, sizeof v),
                        "42");
    finish(h, c);
}

/* The server fails for a while (503, dropped connections, 423, 429 with
 * Retry-After), then recovers: every latest value arrives, none is lost,
 * and no value HubSpot acknowledged is sent again. */
static void test_outage_then_recovery(void **state)
{
    (void)state;
    const char *args[] = {"--contacts", "20", STATIC_TOKEN_ARGS, NULL};
    struct harness *h;
    struct connectors *c =
        start_setup(&h, args, FAST_LIMITS ", \"batch_size\": 5}");
    int64_t at = wall_ms();
    static const char *const faults[] = {
        "{\"count\":3,\"status\":503}",
        "{\"count\":2,\"drop\":true}",
        "{\"count\":2,\"status\":423}",
        "{\"count\":1,\"status\":429,\"retry_after\":0}",
        "{\"count\":1,\"status\":0,\"delay_ms\":4000}", /* > timeout_ms 3000 */
    };
    int expected[20];
    for (size_t round = 0; round < 5; round++) {
        fake_control(&h->fake, "fail", faults[round]);
        for (int i = 0; i < 20; i++) {
            char id[16];
            snprintf(id, sizeof id, "%d", 101 + i);
            /* two updates per round: the host keeps only the latest */
            enqueue_score(c, id, (int)round * 10 + i, "warm", at++);
            expected[i] = (int)round * 10 + i + 1;
            enqueue_score(c, id, expected[i], "warm", at++);
        }
        assert_int_equal(harness_drain(h, c, 20000), 0);
    }
    assert_int_equal(h->n_dead, 0);
    for (int i = 0; i < 20; i++) {
        char id[16];
        char v[64];
        char want[16];
        snprintf(id, sizeof id, "%d", 101 + i);
        snprintf(want, sizeof want, "%d", expected[i]);
        assert_string_equal(contact_prop(h, id, "leadscore_score", v, sizeof v),
                            want);
    }
    /* acknowledged (contact, score) pairs were each sent exactly once */
    json_t *ups = fake_requests(&h->fake, "/batch/update");
    json_t *acked = json_object();
    size_t i;
    json_t *r;
    json_array_foreach(ups, i, r) {
        if (json_integer_value(json_object_get(r, "status")) != 200 ||
            !json_is_true(json_object_get(r, "delivered"))) {
            continue; /* not acknowledged to the client */
        }
        json_t *b = json_loads(json_string_value(json_object_get(r, "body")),
                               0, NULL);
        size_t k;
        json_t *in;
        json_array_foreach(json_object_get(b, "inputs"), k, in) {
            char pair[64];
            snprintf(pair, sizeof pair, "%s=%s",
                     json_string_value(json_object_get(in, "id")),
                     json_string_value(json_object_get(
                         json_object_get(in, "properties"),
                         "leadscore_score")));
            assert_null(json_object_get(acked, pair));
            json_object_set_new(acked, pair, json_true());
        }
        json_decref(b);
    }
    assert_true(json_object_size(acked) >= 20);
    json_decref(acked);
    json_decref(ups);
    /* the same value again is not even enqueued */
    int before = harness_queued(h);
    enqueue_score(c, "101", expected[0], "warm", at++);
    assert_int_equal(harness_queued(h), before);
    /* a new scoring time alone is not a new value */
    enqueue_score(c, "101", expected[0], "warm", at + 3600 * 1000);
    assert_int_equal(harness_queued(h), before);
    enqueue_score(c, "101", expected[0] + 1, "warm", at++);
    assert_int_equal(harness_queued(h), before + 1);
    finish(h, c);
}

/* The webhook action: a signed POST whose signature verifies with the
 * secret (computed here with OpenSSL, independently of the connector),
 * the same delivery id on every attempt, retried through a failure. */
static void test_webhook_action(void **state)
{
    (void)state;
    struct harness *h = calloc(1, sizeof *h);
    const char *args[] = {"--contacts", "5", STATIC_TOKEN_ARGS, NULL};
    assert_true(harness_start(h, FAKE_EXE, args));
    setenv("LSC_IT_HOOK_SECRET", "whsec_it_0123456789", 1);
    char extra[512];
    snprintf(extra, sizeof extra,
             FAST_LIMITS "},\n  \"actions\": [{\"on\": \"enter\", \"tier\": "
             "\"hot\", \"webhook\": {\"url\": \"%s/hook/leadscore\", "
             "\"secret_env\": \"LSC_IT_HOOK_SECRET\"}}]",
             h->fake.base);
    harness_mapping(h, STATIC_AUTH, extra);
    char err[256] = "";
    struct connectors *c = create_on(h);
    const struct connectors_reason reasons[] = {{"title-cto", 15, 0}};
    struct lsc_transition t = {.struct_size = sizeof t, .contact_id = "101",
                               .model = "b2b", .primary = true,
                               .from = "warm", .to = "hot", .score = 88,
                               .at_ms = 1763805600123};
    assert_int_equal(connectors_on_transition(c, &t, reasons, 1, err,
                                              sizeof err),
                     LSC_OK);
    fake_control(&h->fake, "fail", "{\"count\":2,\"status\":503}");
    assert_int_equal(harness_drain(h, c, 10000), 0);
    assert_int_equal(h->n_dead, 0);
    json_t *hooks = fake_requests(&h->fake, "/hook/leadscore");
    assert_int_equal(json_array_size(hooks), 3); /* 503, 503, 200 */
    size_t i;
    json_t *r;
    const char *first_id = NULL;
    json_array_foreach(hooks, i, r) {
        json_t *hd = json_object_get(r, "headers");
        const char *sig = json_string_value(json_object_get(
            hd, "X-Leadscore-Signature"));
        const char *did = json_string_value(json_object_get(
            hd, "X-Leadscore-Delivery"));
        const char *body = json_string_value(json_object_get(r, "body"));
        assert_non_null(sig);
        assert_non_null(did);
        assert_string_equal(json_string_value(json_object_get(hd,
                                                              "Content-Type")),
                            "application/json");
        long long ts = 0;
        char v1[80] = "";
        assert_int_equal(sscanf(sig, "t=%lld,v1=%64s", &ts, v1), 2);
        assert_true(llabs(ts - (long long)time(NULL)) < 60);
        char msg[2048];
        int ml = snprintf(msg, sizeof msg, "%lld.%s", ts, body);
        unsigned char mac[32];
        unsigned int maclen = 0;
        HMAC(EVP_sha256(), "whsec_it_0123456789", 19, (unsigned char *)msg,
             (size_t)ml, mac, &maclen);
        char hex[65];
        for (int k = 0; k < 32; k++) {
            snprintf(hex + 2 * k, 3, "%02x", mac[k]);
        }
        assert_string_equal(hex, v1);
        json_t *b = json_loads(body, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(b, "delivery_id")),
                            did);
        assert_string_equal(json_string_value(json_object_get(b, "contact")),
                            "101");
        assert_string_equal(json_string_value(json_object_get(b, "from")),
                            "warm");
        assert_string_equal(json_string_value(json_object_get(b, "to")), "hot");
        assert_int_equal(json_integer_value(json_object_get(b, "score")), 88);
        assert_string_equal(json_string_value(json_object_get(b, "at")),
                            "2025-11-22T10:00:00.123Z");
        json_t *rs = json_object_get(b, "reasons");
        assert_int_equal(json_array_size(rs), 1);
        json_t *r0 = json_array_get(rs, 0);
        assert_string_equal(json_string_value(json_object_get(r0, "rule")),
                            "title-cto");
        assert_int_equal(json_integer_value(json_object_get(r0, "points")),
                         15);
        assert_int_equal(json_integer_value(json_object_get(r0, "awards")), 0);
        json_decref(b);
        if (first_id == NULL) {
            first_id = did;
        }
        assert_string_equal(did, first_id); /* stable across attempts */
        assert_null(strstr(body, "whsec_"));
    }
    json_decref(hooks);
    for (int k = 0; k < h->n_logs; k++) {
        assert_null(strstr(h->logs[k], "whsec_it_0123456789"));
    }
    finish(h, c);
}

/* The HTTP layer's policy against a real server: User-Agent, response
 * size limit, total timeout, refused plain-http non-loopback URL. */
static void test_http_policy(void **state)
{
    (void)state;
    struct harness *h = calloc(1, sizeof *h);
    const char *args[] = {"--contacts", "50", "--static-token", "tok-1234",
                          NULL};
    assert_true(harness_start(h, FAKE_EXE, args));
    struct http_client *hc = NULL;
    char err[256];
    struct http_client_opts o = {.timeout_ms = 500, .max_response_bytes = 1024};
    assert_int_equal(http_client_create(&o, &hc, err, sizeof err), LSC_OK);
    char url[256];
    snprintf(url, sizeof url, "%s/crm/objects/2026-03/contacts?limit=100",
             h->fake.base);
    struct http_header hd[] = {{"Authorization", "Bearer tok-1234"}};
    struct http_request req = {.method = "GET", .url = url, .headers = hd,
                               .n_headers = 1};
    struct http_response resp;
    assert_int_equal(http_client_request(hc, &req, &resp), LSC_ERR_PERMANENT);
    assert_non_null(strstr(resp.error, "response too large"));
    http_response_finish(&resp);
    fake_control(&h->fake, "fail", "{\"count\":1,\"status\":0,"
                                   "\"delay_ms\":1500}");
    snprintf(url, sizeof url, "%s/crm/objects/2026-03/contacts?limit=1",
             h->fake.base);
    assert_int_equal(http_client_request(hc, &req, &resp), LSC_ERR_TIMEOUT);
    assert_true(resp.timed_out);
    http_response_finish(&resp);
    assert_int_equal(http_client_request(hc, &req, &resp), LSC_OK);
    assert_int_equal(resp.status, 200);
    char v[32];
    assert_true(http_response_header(&resp, "x-hubspot-ratelimit-max", v,
                                     sizeof v));
    assert_string_equal(v, "100");
    http_response_finish(&resp);
    json_t *reqs = fake_requests(&h->fake, "/crm/");
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(r, "headers"), "User-Agent")),
                            "leadscore/" LSC_TEST_VERSION);
    }
    json_decref(reqs);
    req.url = "http://example.com/";
    assert_int_equal(http_client_request(hc, &req, &resp),
                     LSC_ERR_INVALID_ARG);
    http_response_finish(&resp);
    http_client_destroy(hc);
    harness_stop(h);
    free(h);
}

static bool has_log(const struct harness *h, const char *needle)
{
    for (int i = 0; i < h->n_logs; i++) {
        if (strstr(h->logs[i], needle) != NULL) {
            return true;
        }
    }
    return false;
}

/* connect warns about mapped inputs the account does not have */
static void test_confirm_warns_missing_inputs(void **state)
{
    (void)state;
    struct harness *h = calloc(1, sizeof *h);
    const char *args[] = {"--contacts", "5", STATIC_TOKEN_ARGS, NULL};
    assert_true(harness_start(h, FAKE_EXE, args));
    harness_mapping(h, STATIC_AUTH, NULL);
    /* add two inputs the fake's account lacks */
    assert_true(harness_mapping_insert(h, "\"numemployees\": \"employees\"",
                                       ", \"annual_budget\": \"budget\", "
                                       "\"hs_lead_sourc\": \"source\""));
    char err[256] = "";
    struct connectors *c = create_on(h);
    assert_int_equal(connectors_confirm(c, err, sizeof err), LSC_OK);
    int budget = 0, source = 0, known = 0;
    for (int i = 0; i < h->n_logs; i++) {
        if (strstr(h->logs[i], "does not exist in this HubSpot") == NULL) {
            continue;
        }
        budget += strstr(h->logs[i], "'annual_budget' (model field "
                                     "'budget')") != NULL;
        source += strstr(h->logs[i], "'hs_lead_sourc'") != NULL;
        known += strstr(h->logs[i], "'jobtitle'") != NULL ||
                 strstr(h->logs[i], "'numemployees'") != NULL;
    }
    assert_int_equal(budget, 1);
    assert_int_equal(source, 1);
    assert_int_equal(known, 0);
    assert_true(has_log(h, "2 of 4 mapped inputs found"));
    json_t *reads = fake_requests(&h->fake, "/crm/properties/2026-03/contacts");
    assert_int_equal(json_array_size(reads), 1);
    json_decref(reads);
    connectors_destroy(c);

    /* a missing id property is not a missing input */
    harness_mapping(h, STATIC_AUTH,
                    ",\n  \"contacts\": {\"id_property\": \"no_such_id\"}");
    c = create_on(h);
    h->n_logs = 0;
    assert_int_equal(connectors_confirm(c, err, sizeof err), LSC_OK);
    assert_true(has_log(h, "contacts.id_property 'no_such_id' does not "
                           "exist"));
    assert_true(has_log(h, "2 of 2 mapped inputs found"));
    finish(h, c);
}

/* ---- read path -------------------------------------------------------------- */

static bool has_write(struct harness *h, const char *contact, const char *a,
                      const char *b)
{
    size_t cl = strlen(contact);
    for (int i = 0; i < h->n_writes; i++) {
        if (strncmp(h->writes[i], contact, cl) == 0 &&
            h->writes[i][cl] == '|' && strstr(h->writes[i], a) != NULL &&
            (b == NULL || strstr(h->writes[i], b) != NULL)) {
            return true;
        }
    }
    return false;
}

/* Batch reads of the mapped inputs for contacts whose events lack them:
 * at most 100 ids per call, the properties named, contacts HubSpot does
 * not have finished without a write; by email with idProperty. */
static void test_read_path(void **state)
{
    (void)state;
    const char *args[] = {"--contacts", "260", STATIC_TOKEN_ARGS, NULL};
    struct harness *h;
    char err[256] = "";
    struct connectors *c = start(&h, args, STATIC_AUTH, FAST_LIMITS "}");
    /* off unless the host enables it */
    assert_int_equal(connectors_on_event(c, "101", err, sizeof err), LSC_OK);
    assert_int_equal(harness_queued(h), 0);
    connectors_set_read_inputs(c, true);
    char id[32];
    for (int i = 101; i <= 250; i++) {
        snprintf(id, sizeof id, "%d", i);
        assert_int_equal(connectors_on_event(c, id, err, sizeof err), LSC_OK);
    }
    assert_int_equal(connectors_on_event(c, "999001", err, sizeof err),
                     LSC_OK);
    assert_int_equal(connectors_on_event(c, "999002", err, sizeof err),
                     LSC_OK);
    assert_int_equal(connectors_on_event(c, "101", err, sizeof err), LSC_OK);
    assert_int_equal(harness_queued(h), 152); /* 101 once */
    assert_int_equal(harness_drain(h, c, 20000), 0);
    assert_int_equal(h->n_dead, 0);
    json_t *reads = fake_requests(&h->fake, "/contacts/batch/read");
    assert_int_equal(json_array_size(reads), 2);
    size_t total = 0;
    size_t i;
    json_t *r;
    json_array_foreach(reads, i, r) {
        json_t *b = json_loads(json_string_value(json_object_get(r, "body")),
                               0, NULL);
        size_t ni = json_array_size(json_object_get(b, "inputs"));
        assert_true(ni >= 1 && ni <= 100);
        total += ni;
        json_t *pr = json_object_get(b, "properties");
        assert_int_equal(json_array_size(pr), 2);
        assert_string_equal(json_string_value(json_array_get(pr, 0)),
                            "jobtitle");
        assert_string_equal(json_string_value(json_array_get(pr, 1)),
                            "numemployees");
        assert_null(json_object_get(b, "idProperty"));
        assert_int_equal(json_integer_value(json_object_get(r, "status")),
                         i == 1 ? 207 : 200); /* 999001/2 in the second */
        json_decref(b);
    }
    json_decref(reads);
    assert_int_equal(total, 152);
    /* the fake seeds 101 + k with title (CTO, Engineer, Student, VP Sales,
     * Marketing Manager)[k % 5] and (37 k) % 900 + 5 employees */
    assert_int_equal(h->n_writes, 150);
    assert_true(has_write(h, "104", "|title=VP Sales", "|employees=116"));
    assert_true(has_write(h, "101", "|title=CTO", "|employees=5"));
    assert_true(has_write(h, "250", "|title=Marketing Manager", NULL));
    assert_false(has_write(h, "999001", "|", NULL));
    assert_false(has_write(h, "999002", "|", NULL));
    connectors_destroy(c);

    /* by email (idProperty), 40 per call, a 503 on the way */
    harness_mapping(h, STATIC_AUTH,
                    ",\n  \"contacts\": {\"id_property\": \"email\"},\n"
                    "  \"limits\": {\"batch_size\": 40, \"backoff_base_ms\": "
                    "10, \"backoff_cap_ms\": 50}");
    c = create_on(h);
    connectors_set_read_inputs(c, true);
    fake_control(&h->fake, "clear", NULL);
    h->n_writes = 0;
    for (int k = 101; k <= 190; k++) {
        snprintf(id, sizeof id, k == 101 ? "C%d@Example.com" : "c%d@example.com",
                 k);
        assert_int_equal(connectors_on_event(c, id, err, sizeof err), LSC_OK);
    }
    fake_control(&h->fake, "fail", "{\"count\":1,\"status\":503}");
    assert_int_equal(harness_drain(h, c, 20000), 0);
    assert_int_equal(h->n_dead, 0);
    reads = fake_requests(&h->fake, "/contacts/batch/read");
    /* 40 (503) + 40 + 10, then the 40 again as their jittered retries
     * come due: every contact read once successfully */
    size_t ok_inputs = 0, failed = 0;
    json_array_foreach(reads, i, r) {
        json_t *b = json_loads(json_string_value(json_object_get(r, "body")),
                               0, NULL);
        size_t ni = json_array_size(json_object_get(b, "inputs"));
        assert_true(ni >= 1 && ni <= 40);
        if (json_integer_value(json_object_get(r, "status")) == 200) {
            ok_inputs += ni;
        } else {
            failed++;
        }
        assert_string_equal(json_string_value(json_object_get(b,
                                                              "idProperty")),
                            "email");
        json_t *pr = json_object_get(b, "properties");
        assert_string_equal(json_string_value(json_array_get(pr, 2)), "email");
        json_decref(b);
    }
    json_decref(reads);
    assert_int_equal(failed, 1);
    assert_int_equal(ok_inputs, 90);
    assert_int_equal(h->n_writes, 90);
    /* the job's own contact id, whatever the case HubSpot answers in */
    assert_true(has_write(h, "C101@Example.com", "|title=CTO", NULL));
    assert_true(has_write(h, "c104@example.com", "|title=VP Sales", NULL));
    connectors_destroy(c);

    /* a read job run by a host that did not enable the read path (a
     * queue shared with a sync run): done, nothing read or written */
    c = create_on(h);
    fake_control(&h->fake, "clear", NULL);
    h->n_writes = 0;
    const char *pl = "{\"v\":1,\"c\":\"c105@example.com\"}";
    assert_int_equal(h->api.job_enqueue(h, CONNECTORS_JOB_HUBSPOT_READ,
                                        "hubspot:read:c105@example.com", pl,
                                        strlen(pl), 0),
                     LSC_OK);
    assert_int_equal(harness_drain(h, c, 5000), 0);
    assert_int_equal(h->n_dead, 0);
    reads = fake_requests(&h->fake, "/contacts/batch/read");
    assert_int_equal(json_array_size(reads), 0);
    json_decref(reads);
    assert_int_equal(h->n_writes, 0);
    finish(h, c);
}

/* contact_props of a contact that has every mapped input: counts the
 * checks connectors_on_event makes */
static int seen_checks;

static enum lsc_status all_inputs(void *host, const char *contact_id,
                                  void (*fn)(void *ud,
                                             const struct lsc_prop *props,
                                             size_t n),
                                  void *ud)
{
    (void)host;
    (void)contact_id;
    struct lsc_prop p[2] = {
        {.key = "title", .value = {.type = LSC_VAL_STRING,
                                   .u.str = {.ptr = "CTO", .len = 3}}},
        {.key = "employees", .value = {.type = LSC_VAL_NUMBER, .u.num = 5}}};
    seen_checks++;
    fn(ud, p, 2);
    return LSC_OK;
}

/* The contacts already checked are remembered up to a bound, then
 * forgotten: a daemon meeting ever more contacts does not grow without
 * end. */
static void test_read_seen_bounded(void **state)
{
    (void)state;
    const char *args[] = {"--contacts", "1", STATIC_TOKEN_ARGS, NULL};
    struct harness *h;
    char err[256] = "";
    struct connectors *c = start(&h, args, STATIC_AUTH, NULL);
    h->api.contact_props = all_inputs; /* the api is borrowed */
    connectors_set_read_inputs(c, true);
    seen_checks = 0;
    char id[32];
    for (unsigned i = 0; i < CONNECTORS_READ_SEEN_MAX; i++) {
        snprintf(id, sizeof id, "c%u", i);
        assert_int_equal(connectors_on_event(c, id, err, sizeof err), LSC_OK);
    }
    assert_int_equal(seen_checks, (int)CONNECTORS_READ_SEEN_MAX);
    assert_int_equal(connectors_on_event(c, "c0", err, sizeof err), LSC_OK);
    assert_int_equal(seen_checks, (int)CONNECTORS_READ_SEEN_MAX); /* known */
    /* one more contact: the others are forgotten, c0 is checked again */
    assert_int_equal(connectors_on_event(c, "one-more", err, sizeof err),
                     LSC_OK);
    assert_int_equal(connectors_on_event(c, "c0", err, sizeof err), LSC_OK);
    assert_int_equal(seen_checks, (int)CONNECTORS_READ_SEEN_MAX + 2);
    assert_int_equal(connectors_on_event(c, "c0", err, sizeof err), LSC_OK);
    assert_int_equal(seen_checks, (int)CONNECTORS_READ_SEEN_MAX + 2);
    assert_int_equal(harness_queued(h), 0); /* nothing was missing */
    finish(h, c);
}

/* props_write refusing contact 102 once; the others go to the harness */
static enum lsc_status (*harness_props_write)(void *, const char *,
                                              const struct lsc_prop *,
                                              size_t);
static int refused_102;

static enum lsc_status refuse_102_once(void *host, const char *contact_id,
                                       const struct lsc_prop *props,
                                       size_t n)
{
    if (strcmp(contact_id, "102") == 0 && refused_102 == 0) {
        refused_102++;
        return LSC_ERR_IO;
    }
    return harness_props_write(host, contact_id, props, n);
}

static int writes_of(struct harness *h, const char *contact)
{
    size_t cl = strlen(contact);
    int n = 0;
    for (int i = 0; i < h->n_writes; i++) {
        n += strncmp(h->writes[i], contact, cl) == 0 &&
             h->writes[i][cl] == '|';
    }
    return n;
}

/* The host refusing one contact's properties retries that contact's
 * read alone: the others of the batch are applied once. */
static void test_read_refused_one(void **state)
{
    (void)state;
    const char *args[] = {"--contacts", "5", STATIC_TOKEN_ARGS, NULL};
    struct harness *h;
    char err[256] = "";
    struct connectors *c = start(&h, args, STATIC_AUTH, FAST_LIMITS "}");
    harness_props_write = h->api.props_write; /* the api is borrowed */
    h->api.props_write = refuse_102_once;
    refused_102 = 0;
    connectors_set_read_inputs(c, true);
    const char *ids[] = {"101", "102", "103"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(connectors_on_event(c, ids[i], err, sizeof err),
                         LSC_OK);
    }
    assert_int_equal(harness_drain(h, c, 10000), 0);
    assert_int_equal(h->n_dead, 0);
    assert_int_equal(refused_102, 1);
    assert_int_equal(writes_of(h, "101"), 1);
    assert_int_equal(writes_of(h, "102"), 1);
    assert_int_equal(writes_of(h, "103"), 1);
    json_t *reads = fake_requests(&h->fake, "/contacts/batch/read");
    assert_int_equal(json_array_size(reads), 2);
    json_t *b = json_loads(json_string_value(json_object_get(
                               json_array_get(reads, 1), "body")),
                           0, NULL);
    json_t *in = json_object_get(b, "inputs");
    assert_int_equal(json_array_size(in), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(in, 0), "id")),
                        "102");
    json_decref(b);
    json_decref(reads);
    finish(h, c);
}

/* Two host contacts whose emails differ only in case are one HubSpot
 * record, which HubSpot refuses twice in one batch: the later job waits
 * for the next batch, and both are delivered in order (writes; reads:
 * each contact gets the properties). */
static void test_email_case_one_record(void **state)
{
    (void)state;
    const char *args[] = {"--contacts", "5", STATIC_TOKEN_ARGS, NULL};
    struct harness *h;
    char err[256] = "";
    struct connectors *c = start_setup(
        &h, args,
        ",\n  \"contacts\": {\"id_property\": \"email\"}" FAST_LIMITS "}");
    fake_control(&h->fake, "clear", NULL);
    int64_t now = wall_ms();
    enqueue_score(c, "C101@Example.com", 50, "warm", now);
    enqueue_score(c, "c101@example.com", 60, "hot", now + 1);
    assert_int_equal(harness_drain(h, c, 10000), 0);
    assert_int_equal(h->n_dead, 0);
    assert_int_equal(h->n_done, 2);
    char v[32];
    assert_string_equal(contact_prop(h, "101", "leadscore_score", v,
                                     sizeof v),
                        "60");
    json_t *ups = fake_requests(&h->fake, "/contacts/batch/update");
    assert_int_equal(json_array_size(ups), 2);
    json_decref(ups);
    /* the read path: each of the two contacts gets the inputs */
    connectors_set_read_inputs(c, true);
    assert_int_equal(connectors_on_event(c, "C101@Example.com", err,
                                         sizeof err),
                     LSC_OK);
    assert_int_equal(connectors_on_event(c, "c101@example.com", err,
                                         sizeof err),
                     LSC_OK);
    assert_int_equal(harness_drain(h, c, 10000), 0);
    assert_int_equal(h->n_dead, 0);
    assert_int_equal(writes_of(h, "C101@Example.com"), 1);
    assert_int_equal(writes_of(h, "c101@example.com"), 1);
    finish(h, c);
}

/* ---- the fake refuses what HubSpot refuses --------------------------------- */

/* One request to the fake as a hand-written client would send it.
 * ctype NULL: no Content-Type at all.  Returns the parsed answer (or
 * NULL), *status the HTTP status, *location a 302's target. */
static json_t *raw_call(struct harness *h, const char *method,
                        const char *path, const char *ctype,
                        const char *body, const char *token, long *status,
                        char *location, size_t loclen)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[1024];
    snprintf(url, sizeof url, "%s%s", h->fake.base, path);
    struct curl_slist *hd = NULL;
    char line[512];
    if (token != NULL) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        hd = curl_slist_append(hd, line);
    }
    snprintf(line, sizeof line, "Content-Type:%s%s", ctype ? " " : "",
             ctype ? ctype : ""); /* "Content-Type:" removes it */
    hd = curl_slist_append(hd, line);
    struct fake_buf b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fake_buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (location != NULL) {
        char *l = NULL;
        curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &l);
        snprintf(location, loclen, "%s", l ? l : "");
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
    json_t *j = b.p ? json_loads(b.p, 0, NULL) : NULL;
    free(b.p);
    return j;
}

/* raw_call when only the HTTP status matters (the answer is dropped). */
static long raw_status(struct harness *h, const char *method,
                       const char *path, const char *ctype, const char *body,
                       const char *token)
{
    long st = 0;
    json_decref(raw_call(h, method, path, ctype, body, token, &st, NULL, 0));
    return st;
}

/* HubSpot's error shape: status "error", a message, a correlation id and
 * the category; returns the message. */
static const char *expect_error(json_t *j, const char *category)
{
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")),
                        "error");
    assert_string_equal(json_string_value(json_object_get(j, "category")),
                        category);
    assert_true(json_string_length(json_object_get(j, "correlationId")) > 8);
    const char *m = json_string_value(json_object_get(j, "message"));
    assert_non_null(m);
    return m;
}

/* A refused property value: 400 VALIDATION_ERROR, the code in the message
 * and in errors[0] with the property's name. */
static void expect_bad_value(struct harness *h, const char *prop,
                             const char *value, const char *code)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"inputs\":[{\"id\":\"101\",\"properties\":{\"%s\":\"%s\"}}]}",
             prop, value);
    long st = 0;
    json_t *j = raw_call(h, "POST", "/crm/objects/2026-03/contacts/batch/update",
                         "application/json", body, "tok-strict", &st, NULL, 0);
    assert_int_equal(st, 400);
    const char *m = expect_error(j, "VALIDATION_ERROR");
    assert_non_null(strstr(m, "Property values were not valid"));
    assert_non_null(strstr(m, code));
    json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e0, "code")), code);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(e0, "context"),
                                            "propertyName"),
                            0)),
                        prop);
    json_decref(j);
}

static void test_fake_refuses_malformed(void **state)
{
    (void)state;
    struct harness *h = calloc(1, sizeof *h);
    const char *args[] = {"--contacts", "20", "--static-token", "tok-strict",
                          NULL};
    assert_true(harness_start(h, FAKE_EXE, args));
    setenv("LSC_IT_STRICT_TOKEN", "tok-strict", 1);
    harness_mapping(h, "{\"type\": \"service_key\", \"token_env\": "
                       "\"LSC_IT_STRICT_TOKEN\"}",
                    FAST_LIMITS "},\n  \"actions\": [{\"on\": \"enter\", "
                    "\"tier\": \"hot\", \"tag\": \"hot-lead\"}]");
    char err[256] = "";
    struct connectors *c = create_on(h);
    /* the connector's own requests pass the strict checks */
    assert_int_equal(connectors_setup(c, err, sizeof err), LSC_OK);
    const char *upd = "/crm/objects/2026-03/contacts/batch/update";
    const char *ok_body =
        "{\"inputs\":[{\"id\":\"101\",\"properties\":{\"leadscore_score\":"
        "\"87\",\"leadscore_tier\":\"hot\",\"leadscore_scored_at\":"
        "\"1764979200000\"}}]}";
    long st = 0;
    json_t *j;

    /* 415: a body that is not declared JSON */
    j = raw_call(h, "POST", upd, "text/plain", ok_body, "tok-strict", &st,
                 NULL, 0);
    assert_int_equal(st, 415);
    expect_error(j, "VALIDATION_ERROR");
    json_decref(j);
    assert_int_equal(raw_status(h, "POST", upd, NULL, ok_body, "tok-strict"),
                     415);
    /* 400: not JSON */
    j = raw_call(h, "POST", upd, "application/json", "{\"inputs\": [",
                 "tok-strict", &st, NULL, 0);
    assert_int_equal(st, 400);
    assert_non_null(strstr(expect_error(j, "VALIDATION_ERROR"),
                           "Invalid input JSON on line 1"));
    json_decref(j);
    /* 400: the same record twice in one batch, for update and read */
    j = raw_call(h, "POST", upd, "application/json",
                 "{\"inputs\":[{\"id\":\"101\",\"properties\":{}},"
                 "{\"id\":\"101\",\"properties\":{}}]}",
                 "tok-strict", &st, NULL, 0);
    assert_int_equal(st, 400);
    assert_non_null(strstr(expect_error(j, "VALIDATION_ERROR"),
                           "Duplicate IDs found in batch input: [\"101\"]"));
    json_decref(j);
    assert_int_equal(
        raw_status(h, "POST", "/crm/objects/2026-03/contacts/batch/read",
                   "application/json",
                   "{\"inputs\":[{\"id\":\"c102@example.com\"},{\"id\":"
                   "\"C102@example.com\"}],\"properties\":[],"
                   "\"propertiesWithHistory\":[],\"idProperty\":\"email\"}",
                   "tok-strict"),
        400);
    /* 400: values that do not fit the property definitions */
    expect_bad_value(h, "leadscore_tier", "lukewarm", "INVALID_OPTION");
    expect_bad_value(h, "leadscore_tags", "hot-lead;vip", "INVALID_OPTION");
    expect_bad_value(h, "leadscore_score", "87 points", "INVALID_DECIMAL");
    expect_bad_value(h, "leadscore_scored_at", "yesterday", "INVALID_DATE");
    expect_bad_value(h, "leadscore_scored_at", "2026-13-01T00:00:00Z",
                     "INVALID_DATE");
    expect_bad_value(h, "no_such_property", "1", "PROPERTY_DOESNT_EXIST");
    /* 400: a field PropertyCreate does not have */
    j = raw_call(h, "POST", "/crm/properties/2026-03/contacts",
                 "application/json",
                 "{\"name\":\"x_score\",\"label\":\"X\",\"groupName\":"
                 "\"leadscore\",\"type\":\"number\",\"fieldType\":\"number\","
                 "\"numberDisplayHint\":\"unformatted\"}",
                 "tok-strict", &st, NULL, 0);
    assert_int_equal(st, 400);
    assert_non_null(strstr(expect_error(j, "VALIDATION_ERROR"),
                           "numberDisplayHint"));
    json_decref(j);
    assert_int_equal(
        raw_status(h, "PATCH",
                   "/crm/properties/2026-03/contacts/leadscore_tier",
                   "application/json", "{\"numberDisplayHint\":\"formatted\"}",
                   "tok-strict"),
        400);
    /* ... and the same request shaped right is taken (200/201) */
    assert_int_equal(
        raw_status(h, "POST", upd, "application/json", ok_body, "tok-strict"),
        200);
    j = raw_call(h, "POST", upd, "application/json; charset=UTF-8",
                 "{\"inputs\":[{\"id\":\"102\",\"properties\":{"
                 "\"leadscore_scored_at\":\"2026-12-06T10:00:00.000Z\","
                 "\"leadscore_tags\":\"hot-lead\"}}]}",
                 "tok-strict", &st, NULL, 0);
    assert_int_equal(st, 200);
    json_decref(j);

    /* 403: a token without the write scope; reading still works */
    assert_int_equal(fake_control(&h->fake, "scopes",
                                  "{\"scopes\":\"oauth "
                                  "crm.objects.contacts.read\"}"),
                     200);
    j = raw_call(h, "POST", upd, "application/json", ok_body, "tok-strict",
                 &st, NULL, 0);
    assert_int_equal(st, 403);
    expect_error(j, "MISSING_SCOPES");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(j, "context"),
                                            "missingScopes"),
                            0)),
                        "crm.objects.contacts.write");
    json_decref(j);
    assert_int_equal(raw_status(h, "GET",
                                "/crm/objects/2026-03/contacts?limit=1", NULL,
                                NULL, "tok-strict"),
                     200);
    fake_control(&h->fake, "scopes", "{\"scopes\":null}");

    /* OAuth: plain http redirect URIs only for localhost; a token gets the
     * scopes asked for; an expired one is told apart from a wrong one */
    char loc[2048];
    j = raw_call(h, "GET",
                 "/oauth/authorize?client_id=fake-client-id&redirect_uri="
                 "http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=oauth",
                 NULL, NULL, NULL, &st, loc, sizeof loc);
    assert_int_equal(st, 400);
    json_decref(j);
    j = raw_call(h, "GET",
                 "/oauth/authorize?client_id=fake-client-id&redirect_uri="
                 "http%3A%2F%2Flocalhost%3A9%2Fcb&scope=oauth%20"
                 "crm.objects.contacts.read&state=s1",
                 NULL, NULL, NULL, &st, loc, sizeof loc);
    assert_int_equal(st, 302);
    json_decref(j);
    const char *code = strstr(loc, "code=");
    assert_non_null(code);
    char form[512];
    snprintf(form, sizeof form,
             "grant_type=authorization_code&client_id=fake-client-id&"
             "client_secret=fake-client-secret&redirect_uri=http%%3A%%2F%%2F"
             "localhost%%3A9%%2Fcb&code=%.*s",
             (int)strcspn(code + 5, "&"), code + 5);
    assert_int_equal(raw_status(h, "POST", "/oauth/2026-03/token",
                                "application/json", form, NULL),
                     415); /* the token endpoint takes a form */
    j = raw_call(h, "POST", "/oauth/2026-03/token",
                 "application/x-www-form-urlencoded", form, NULL, &st, NULL,
                 0);
    assert_int_equal(st, 200);
    char at[128];
    snprintf(at, sizeof at, "%s",
             json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    j = raw_call(h, "POST", upd, "application/json", ok_body, at, &st, NULL,
                 0);
    assert_int_equal(st, 403); /* read scope only */
    expect_error(j, "MISSING_SCOPES");
    json_decref(j);
    assert_int_equal(raw_status(h, "GET",
                                "/crm/objects/2026-03/contacts?limit=1", NULL,
                                NULL, at),
                     200);
    fake_control(&h->fake, "expire", NULL);
    j = raw_call(h, "GET", "/crm/objects/2026-03/contacts?limit=1", NULL,
                 NULL, at, &st, NULL, 0);
    assert_int_equal(st, 401);
    assert_non_null(strstr(expect_error(j, "EXPIRED_AUTHENTICATION"),
                           "expired"));
    json_decref(j);
    j = raw_call(h, "GET", "/crm/objects/2026-03/contacts?limit=1", NULL,
                 NULL, "not-a-token", &st, NULL, 0);
    assert_int_equal(st, 401);
    expect_error(j, "INVALID_AUTHENTICATION");
    json_decref(j);

    /* the connector's write path still passes end to end */
    enqueue_score(c, "103", 91, "hot", wall_ms());
    assert_int_equal(harness_drain(h, c, 10000), 0);
    assert_int_equal(h->n_dead, 0);
    char v[64];
    assert_string_equal(contact_prop(h, "103", "leadscore_tier", v, sizeof v),
                        "hot");
    finish(h, c);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/fake_hubspot\n", argv[0]);
        return 2;
    }
    FAKE_EXE = argv[1];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_connect),
        cmocka_unit_test(test_expiry_and_refresh),
        cmocka_unit_test(test_revoked_refresh_token),
        cmocka_unit_test(test_backfill_resume),
        cmocka_unit_test(test_partial_batch_failure),
        cmocka_unit_test(test_invalid_option_keeps_valid_inputs),
        cmocka_unit_test(test_burst_under_rate_limit),
        cmocka_unit_test(test_429_uses_server_interval),
        cmocka_unit_test(test_outage_then_recovery),
        cmocka_unit_test(test_webhook_action),
        cmocka_unit_test(test_http_policy),
        cmocka_unit_test(test_fake_refuses_malformed),
        cmocka_unit_test(test_confirm_warns_missing_inputs),
        cmocka_unit_test(test_read_path),
        cmocka_unit_test(test_read_seen_bounded),
        cmocka_unit_test(test_read_refused_one),
        cmocka_unit_test(test_email_case_one_record),
    };
    int rc = cmocka_run_group_tests_name("hubspot_integration", tests,
                                         setup_env, NULL);
    curl_global_cleanup();
    return rc;
}
