/*
 * Unit tests of the connector core: classification, backoff, Retry-After,
 * token bucket, PKCE (RFC 7636 appendix B), state, credentials files,
 * redaction, HMAC vectors, URL policy, JSON positions, the shared
 * mapping validation (diagnostics, unknown keys, actions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "core/http.h"
#include "core/mapping.h"
#include "jsonpos.h"
#include "core/oauth.h"
#include "core/outcome.h"
#include "core/ratelimit.h"
#include "core/retry.h"
#include "core/secrets.h"
#include "core/webhook.h"

/* python3: hmac.new(b"whsec_test", b"1763805600.{\"contact\":\"101\"}",
 * hashlib.sha256).hexdigest() */
#define WEBHOOK_DOC_VECTOR \
    "cbf92a825b8118b174eee940a4cd2bf5c503415fc716a5e8aa2f2466062d1d2e"

static struct http_response resp_of(long status, const char *body,
                                    const char *headers)
{
    struct http_response r;
    memset(&r, 0, sizeof r);
    r.status = status;
    r.body = body ? strdup(body) : NULL;
    r.body_len = body ? strlen(body) : 0;
    r.headers = headers ? strdup(headers) : NULL;
    r.headers_len = headers ? strlen(headers) : 0;
    return r;
}

static void test_outcome_classes(void **state)
{
    (void)state;
    assert_int_equal(outcome_http_status_class(200), LSC_OK);
    assert_int_equal(outcome_http_status_class(207), LSC_OK);
    assert_int_equal(outcome_http_status_class(204), LSC_OK);
    static const long retry[] = {408, 423, 429, 477, 500, 502, 503, 504};
    for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++) {
        assert_int_equal(outcome_http_status_class(retry[i]),
                         LSC_ERR_RETRYABLE);
    }
    static const long perm[] = {400, 403, 404, 405, 409, 414, 422};
    for (size_t i = 0; i < sizeof perm / sizeof perm[0]; i++) {
        assert_int_equal(outcome_http_status_class(perm[i]),
                         LSC_ERR_PERMANENT);
    }
    assert_int_equal(outcome_http_status_class(401), LSC_ERR_AUTH);
}

static void test_outcome_transport_and_reason(void **state)
{
    (void)state;
    struct outcome o;
    struct http_response r = resp_of(0, NULL, NULL);
    snprintf(r.error, sizeof r.error, "Could not resolve host: x");
    outcome_classify(LSC_ERR_RETRYABLE, &r, 0, &o);
    assert_int_equal(o.status, LSC_ERR_RETRYABLE);
    assert_non_null(strstr(o.reason, "resolve"));
    outcome_classify(LSC_ERR_TIMEOUT, &r, 0, &o);
    assert_int_equal(o.status, LSC_ERR_RETRYABLE);
    outcome_classify(LSC_ERR_INVALID_ARG, &r, 0, &o);
    assert_int_equal(o.status, LSC_ERR_PERMANENT);
    http_response_finish(&r);

    r = resp_of(400,
                "{\"status\":\"error\",\"message\":\"Property values were "
                "not valid\\nsecond line\",\"correlationId\":\"aeb5\","
                "\"category\":\"VALIDATION_ERROR\"}",
                NULL);
    outcome_classify(LSC_OK, &r, 0, &o);
    assert_int_equal(o.status, LSC_ERR_PERMANENT);
    assert_string_equal(o.reason, "HTTP 400 VALIDATION_ERROR: Property values "
                                  "were not valid second line "
                                  "[correlationId aeb5]");
    http_response_finish(&r);

    r = resp_of(429,
                "{\"status\":\"error\",\"message\":\"You have reached your "
                "ten_secondly_rolling limit.\",\"errorType\":\"RATE_LIMIT\","
                "\"policyName\":\"TEN_SECONDLY_ROLLING\"}",
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\n\r\n");
    outcome_classify(LSC_OK, &r, 0, &o);
    assert_int_equal(o.status, LSC_ERR_RETRYABLE);
    assert_true(o.rate_limited);
    assert_false(o.daily_limit);
    assert_int_equal(o.retry_after_ms, 3000);
    assert_non_null(strstr(o.reason, "TEN_SECONDLY_ROLLING"));
    http_response_finish(&r);

    r = resp_of(400,
                "{\"error\":\"invalid_grant\",\"error_description\":\"bad "
                "refresh token\",\"status\":\"BAD_REFRESH_TOKEN\"}",
                NULL);
    outcome_classify(LSC_OK, &r, 0, &o);
    assert_int_equal(o.status, LSC_ERR_AUTH);
    http_response_finish(&r);

    r = resp_of(502, "<html>bad gateway</html>", NULL);
    outcome_classify(LSC_OK, &r, 0, &o);
    assert_int_equal(o.status, LSC_ERR_RETRYABLE);
    assert_string_equal(o.reason, "HTTP 502");
    http_response_finish(&r);
}

static void test_retry_after_header(void **state)
{
    (void)state;
    struct http_response r = resp_of(
        503, NULL, "HTTP/1.1 503 x\r\nretry-after:  120 \r\n\r\n");
    assert_int_equal(http_response_retry_after_ms(&r, 0), 120000);
    http_response_finish(&r);
    /* an HTTP date 90 s after now */
    r = resp_of(503, NULL,
                "HTTP/1.1 503 x\r\nRetry-After: Sun, 22 Nov 2026 10:01:30 "
                "GMT\r\n\r\n");
    int64_t now = (int64_t)1795341600 * 1000; /* 2026-11-22T10:00:00Z */
    assert_int_equal(http_response_retry_after_ms(&r, now), 90000);
    http_response_finish(&r);
    r = resp_of(503, NULL, "HTTP/1.1 503 x\r\nRetry-After: soon\r\n\r\n");
    assert_int_equal(http_response_retry_after_ms(&r, 0), -1);
    http_response_finish(&r);
    r = resp_of(503, NULL, "HTTP/1.1 503 x\r\n\r\n");
    assert_int_equal(http_response_retry_after_ms(&r, 0), -1);
    http_response_finish(&r);
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    struct retry_policy p;
    retry_policy_default(&p);
    p.base_ms = 1000;
    p.cap_ms = 60000;
    /* full jitter: delay within [0, min(cap, base*2^(n-1))] */
    for (uint32_t n = 1; n <= 20; n++) {
        int64_t ceiling = 1000;
        for (uint32_t i = 1; i < n && ceiling < 60000; i++) {
            ceiling *= 2;
        }
        if (ceiling > 60000) {
            ceiling = 60000;
        }
        int64_t maxseen = 0;
        for (int k = 0; k < 200; k++) {
            int64_t d = retry_delay_ms(&p, n, -1, retry_random());
            assert_true(d >= 0 && d <= ceiling);
            if (d > maxseen) {
                maxseen = d;
            }
        }
        assert_true(maxseen > ceiling / 4); /* it does spread */
        /* extremes of the random source */
        assert_int_equal(retry_delay_ms(&p, n, -1, 0), 0);
        assert_int_equal(retry_delay_ms(&p, n, -1, (uint64_t)ceiling), ceiling);
    }
    /* Retry-After is a floor */
    assert_int_equal(retry_delay_ms(&p, 1, 30000, 0), 30000);
    assert_int_equal(retry_delay_ms(&p, 1, 0, 500), 500);
}

static void test_retry_fill_result(void **state)
{
    (void)state;
    struct retry_policy p;
    retry_policy_default(&p);
    p.max_attempts = 3;
    p.max_total_ms = 3600 * 1000;
    struct outcome o = {.status = LSC_ERR_RETRYABLE, .retry_after_ms = 5000};
    snprintf(o.reason, sizeof o.reason, "HTTP 503");
    struct lsc_job_result r = {.struct_size = sizeof r};
    retry_fill_result(&p, 1, 0, 1000, &o, &r);
    assert_int_equal(r.status, LSC_ERR_RETRYABLE);
    assert_true(r.retry_after_ms >= 5000);
    retry_fill_result(&p, 3, 0, 1000, &o, &r);
    assert_int_equal(r.status, LSC_ERR_PERMANENT);
    assert_non_null(strstr(r.reason, "gave up after 3 attempts"));
    assert_non_null(strstr(r.reason, "HTTP 503"));
    /* bounded in time */
    retry_fill_result(&p, 1, 0, 3600 * 1000, &o, &r);
    assert_int_equal(r.status, LSC_ERR_PERMANENT);
    o.status = LSC_ERR_PERMANENT;
    snprintf(o.reason, sizeof o.reason, "HTTP 400 VALIDATION_ERROR: x");
    retry_fill_result(&p, 1, 0, 0, &o, &r);
    assert_int_equal(r.status, LSC_ERR_PERMANENT);
    assert_string_equal(r.reason, "HTTP 400 VALIDATION_ERROR: x");
    o.status = LSC_OK;
    retry_fill_result(&p, 1, 0, 0, &o, &r);
    assert_int_equal(r.status, LSC_OK);
}


static void test_token_bucket_settles_on_response(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_create(10, 1000);
    assert_non_null(rl);
    int64_t t = 5000;
    /* one request at a time: each token is re-dated to its response
     * (3 ms later) and comes back 1000 + 2 ms after that */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(ratelimit_try(rl, t + 10 * i), 0);
        ratelimit_observe(rl, -1, -1, -1, t + 10 * i + 3);
    }
    assert_int_equal(ratelimit_try(rl, t + 100), 905);
    assert_int_equal(ratelimit_try(rl, t + 1004), 1);
    assert_int_equal(ratelimit_try(rl, t + 1005), 0);
    assert_int_equal(ratelimit_try(rl, t + 1006), 9);
    ratelimit_destroy(rl);

    /* two in flight: a response cannot be told apart, both keep the
     * margin (1000 + 50 ms from the spend) */
    rl = ratelimit_create(2, 1000);
    assert_int_equal(ratelimit_try(rl, 0), 0);
    assert_int_equal(ratelimit_try(rl, 1), 0);
    ratelimit_observe(rl, -1, -1, -1, 10);
    ratelimit_observe(rl, -1, -1, -1, 11);
    assert_int_equal(ratelimit_try(rl, 20), 1030);
    assert_int_equal(ratelimit_try(rl, 1050), 0);
    /* the new spend is alone in flight again: settled */
    ratelimit_observe(rl, -1, -1, -1, 1060);
    assert_int_equal(ratelimit_try(rl, 1061), 0);
    ratelimit_observe(rl, -1, -1, -1, 1070);
    assert_int_equal(ratelimit_try(rl, 1100), 962);
    assert_int_equal(ratelimit_try(rl, 2062), 0);
    ratelimit_destroy(rl);

    /* a token taken whose request never went out (no observe) stays
     * unsettled: later responses do not settle anything while it counts */
    rl = ratelimit_create(3, 1000);
    assert_int_equal(ratelimit_try(rl, 0), 0);  /* lost */
    assert_int_equal(ratelimit_try(rl, 5), 0);
    ratelimit_observe(rl, -1, -1, -1, 8);
    assert_int_equal(ratelimit_try(rl, 9), 0);
    assert_int_equal(ratelimit_try(rl, 10), 1040); /* the lost one: 0+1050 */
    assert_int_equal(ratelimit_available(rl, 1050), 1);
    assert_int_equal(ratelimit_available(rl, 1055), 2);
    ratelimit_destroy(rl);

    /* Remaining is compared as of the spend: a spend that left our window
     * between the request's spend and its response is no other app's */
    rl = ratelimit_create(2, 1000);
    assert_int_equal(ratelimit_try(rl, 0), 0);
    ratelimit_observe(rl, 2, 1, 1000, 2);  /* back in 1004 */
    assert_int_equal(ratelimit_try(rl, 10), 0);
    ratelimit_observe(rl, 2, 0, 1000, 12); /* back in 1014 */
    assert_int_equal(ratelimit_try(rl, 1004), 0);
    /* the server counted the second request too (0 left) when this one
     * arrived; it left our window at 1014, before the response at 1016 */
    ratelimit_observe(rl, 2, 0, 1000, 1016);
    assert_int_equal(ratelimit_try(rl, 1017), 0);
    ratelimit_destroy(rl);
    /* requests of another app still count */
    rl = ratelimit_create(3, 1000);
    assert_int_equal(ratelimit_try(rl, 0), 0);
    ratelimit_observe(rl, 3, 0, 1000, 5);
    assert_int_equal(ratelimit_available(rl, 6), 0);
    assert_int_equal(ratelimit_available(rl, 1007), 3);
    ratelimit_destroy(rl);
}
static void test_token_bucket_rolling(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_create(10, 1000);
    assert_non_null(rl);
    int64_t t = 5000;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(ratelimit_try(rl, t + i), 0);
    }
    /* the 11th waits until the first spend is one interval (+ 5 %
     * margin) old */
    assert_int_equal(ratelimit_try(rl, t + 10), 1040);
    assert_int_equal(ratelimit_available(rl, t + 10), 0);
    assert_int_equal(ratelimit_try(rl, t + 1049), 1);
    assert_int_equal(ratelimit_try(rl, t + 1050), 0);
    /* any window of 1000 ms holds at most 10 spends, over a long run */
    int64_t spends[400];
    int ns = 0;
    for (int64_t now = t + 1051; now < t + 6000 && ns < 400; now += 7) {
        if (ratelimit_try(rl, now) == 0) {
            spends[ns++] = now;
        }
    }
    for (int i = 0; i + 10 < ns; i++) {
        assert_true(spends[i + 10] - spends[i] >= 1000);
    }
    ratelimit_destroy(rl);

    /* the server's headers: fewer remaining than we think */
    rl = ratelimit_create(100, 10000);
    ratelimit_observe(rl, 100, 3, 10000, 0);
    assert_int_equal(ratelimit_available(rl, 0), 3);
    /* a smaller Max with 97 spent in the window: nothing left */
    ratelimit_observe(rl, 50, -1, -1, 0);
    assert_int_equal(ratelimit_available(rl, 0), 0);
    ratelimit_block_until(rl, 2000);
    assert_int_equal(ratelimit_available(rl, 1000), 0);
    assert_int_equal(ratelimit_try(rl, 1000), 1000);
    assert_int_equal(ratelimit_available(rl, 10501), 50);
    ratelimit_destroy(rl);
    assert_null(ratelimit_create(0, 10));
    ratelimit_destroy(NULL);
}

static void test_pkce_rfc7636_vector(void **state)
{
    (void)state;
    char ch[64];
    /* RFC 7636 appendix B */
    assert_int_equal(oauth_pkce_challenge(
                         "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch,
                         sizeof ch),
                     LSC_OK);
    assert_string_equal(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    char v[OAUTH_VERIFIER_LEN + 1];
    assert_int_equal(oauth_random_string(v, OAUTH_VERIFIER_LEN), LSC_OK);
    assert_int_equal(strlen(v), OAUTH_VERIFIER_LEN);
    assert_int_equal(strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
                               "tuvwxyz0123456789-._~"),
                     OAUTH_VERIFIER_LEN);
}

static void test_state(void **state)
{
    (void)state;
    char a[OAUTH_STATE_LEN + 1];
    char b[OAUTH_STATE_LEN + 1];
    assert_int_equal(oauth_random_string(a, OAUTH_STATE_LEN), LSC_OK);
    assert_int_equal(oauth_random_string(b, OAUTH_STATE_LEN), LSC_OK);
    assert_string_not_equal(a, b);
    assert_true(oauth_state_equal(a, a));
    assert_false(oauth_state_equal(a, b));
    assert_false(oauth_state_equal(a, ""));
    assert_false(oauth_state_equal("", ""));
    assert_false(oauth_state_equal(a, NULL));
    char code[64];
    char st[64];
    char err[128];
    assert_int_equal(oauth_parse_redirect("/oauth-callback?code=ab%2Fc&state=s1",
                                          code, sizeof code, st, sizeof st,
                                          err, sizeof err),
                     LSC_OK);
    assert_string_equal(code, "ab/c");
    assert_string_equal(st, "s1");
    assert_int_equal(oauth_parse_redirect("/cb?error=access_denied&state=x",
                                          code, sizeof code, st, sizeof st,
                                          err, sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "access_denied"));
    assert_int_equal(oauth_parse_redirect("/cb?code=x", code, sizeof code, st,
                                          sizeof st, err, sizeof err),
                     LSC_ERR_PARSE);
}

/* Connects to the loopback of `family` at port, sends the browser's GET
 * and returns the socket (the listener answers it in wait). */
static int browser_send(int family, int port, const char *target)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t al;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        al = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        al = sizeof *a;
    }
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, al), 0);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: localhost:%d\r\n\r\n", target,
                     port);
    assert_int_equal(write(fd, req, (size_t)n), n);
    return fd;
}

static void expect_redirect(struct oauth_listener *l, int family, int port)
{
    const char *t = family == AF_INET6 ? "/oauth-callback?code=c6&state=s6"
                                       : "/oauth-callback?code=c4&state=s4";
    int fd = browser_send(family, port, t);
    char target[256];
    char err[256] = "";
    assert_int_equal(oauth_listener_wait(l, 5000, target, sizeof target, err,
                                         sizeof err),
                     LSC_OK);
    assert_string_equal(target, t);
    char page[512];
    ssize_t got = read(fd, page, sizeof page - 1);
    assert_true(got > 0);
    page[got] = '\0';
    assert_non_null(strstr(page, "200 OK"));
    close(fd);
}

/* redirect URIs are http://localhost:PORT/...: the listener answers on
 * 127.0.0.1 and, when the host has it, ::1 at the same port */
static void test_loopback_listener_both_stacks(void **state)
{
    (void)state;
    struct oauth_listener *l = NULL;
    int port = 0;
    char err[256] = "";
    assert_int_equal(oauth_listener_open(0, &l, &port, err, sizeof err),
                     LSC_OK);
    assert_true(port > 0);
    expect_redirect(l, AF_INET, port);
    bool v6 = oauth_listener_has_ipv6(l);
    if (v6) {
        expect_redirect(l, AF_INET6, port);
    }
    oauth_listener_close(l);
    if (!v6) {
        /* only acceptable when this machine really has no ::1 */
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                                 .sin6_addr = in6addr_loopback};
        bool bound = fd >= 0 &&
                     bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0) {
            close(fd);
        }
        assert_false(bound);
        skip(); /* no IPv6 loopback on this machine */
    }
}

static void test_authorize_url_and_forms(void **state)
{
    (void)state;
    char *u = oauth_authorize_url("https://app.hubspot.com/oauth/authorize",
                                  "cid", "http://127.0.0.1:8976/cb",
                                  "oauth crm.objects.contacts.read", NULL,
                                  "st", "CH");
    assert_string_equal(u, "https://app.hubspot.com/oauth/authorize?client_id="
                           "cid&redirect_uri=http%3A%2F%2F127.0.0.1%3A8976%2F"
                           "cb&scope=oauth%20crm.objects.contacts.read&state="
                           "st&code_challenge=CH&code_challenge_method=S256");
    free(u);
    char *f = oauth_form_code("cid", "s&cret", "http://x/cb", "c0de", "ver");
    assert_string_equal(f, "grant_type=authorization_code&client_id=cid&"
                           "client_secret=s%26cret&redirect_uri=http%3A%2F%2Fx"
                           "%2Fcb&code=c0de&code_verifier=ver");
    free(f);
    f = oauth_form_refresh("cid", "sec", "rt");
    assert_string_equal(f, "grant_type=refresh_token&client_id=cid&"
                           "client_secret=sec&refresh_token=rt");
    free(f);
    struct oauth_tokens t;
    char err[128];
    const char *b = "{\"access_token\":\"AT\",\"refresh_token\":\"RT\","
                    "\"expires_in\":1800,\"token_type\":\"bearer\"}";
    assert_int_equal(oauth_parse_token(b, strlen(b), 1000, NULL, &t, err,
                                       sizeof err),
                     LSC_OK);
    assert_string_equal(t.access_token, "AT");
    assert_string_equal(t.refresh_token, "RT");
    assert_int_equal(t.expires_at_ms, 1000 + 1800000);
    assert_false(oauth_tokens_due(&t, 1000, 300000));
    assert_true(oauth_tokens_due(&t, 1000 + 1500000, 300000));
    oauth_tokens_clear(&t);
    b = "{\"access_token\":\"AT2\",\"expires_in\":60}";
    assert_int_equal(oauth_parse_token(b, strlen(b), 0, "KEEP", &t, err,
                                       sizeof err),
                     LSC_OK);
    assert_string_equal(t.refresh_token, "KEEP");
    oauth_tokens_clear(&t);
    assert_int_equal(oauth_parse_token("{}", 2, 0, NULL, &t, err, sizeof err),
                     LSC_ERR_PARSE);
}

static char tmpdir[256];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lsc-core-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static void test_credentials_file(void **state)
{
    (void)state;
    char path[512];
    char err[256];
    snprintf(path, sizeof path, "%s/creds.json", tmpdir);
    mode_t old = umask(0);
    assert_int_equal(secrets_write_file(path, "{\"a\":1}", 7, err, sizeof err),
                     LSC_OK);
    umask(old);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* replace: atomically, and no temporary file stays behind */
    assert_int_equal(secrets_write_file(path, "{\"a\":2}", 7, err, sizeof err),
                     LSC_OK);
    assert_int_equal(count_files(tmpdir), 1);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(secrets_read_file(path, &data, &len, err, sizeof err),
                     LSC_OK);
    assert_string_equal(data, "{\"a\":2}");
    free(data);
    /* a failing write leaves the old file untouched */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/missing-dir/creds.json", tmpdir);
    assert_int_equal(secrets_write_file(bad, "x", 1, err, sizeof err),
                     LSC_ERR_IO);
    assert_int_equal(count_files(tmpdir), 1);
    /* a file others can read is refused */
    chmod(path, 0644);
    assert_int_equal(secrets_read_file(path, &data, &len, err, sizeof err),
                     LSC_ERR_IO);
    assert_non_null(strstr(err, "chmod 600"));
    assert_null(data);
    snprintf(bad, sizeof bad, "%s/none.json", tmpdir);
    assert_int_equal(secrets_read_file(bad, &data, &len, err, sizeof err),
                     LSC_ERR_NOT_FOUND);
}

static void test_redaction(void **state)
{
    (void)state;
    struct secrets_redactor *r = secrets_redactor_create();
    secrets_redactor_add(r, "pat-na1-0123456789abcdef");
    secrets_redactor_add(r, "ab"); /* too short: ignored */
    char out[256];
    secrets_redact(r, "token pat-na1-0123456789abcdef twice "
                      "pat-na1-0123456789abcdef ab",
                   out, sizeof out);
    assert_string_equal(out, "token [REDACTED] twice [REDACTED] ab");
    secrets_redact(r, "Authorization: Bearer unknown-token-xyz, next", out,
                   sizeof out);
    assert_string_equal(out, "Authorization: Bearer [REDACTED], next");
    secrets_redact(NULL, "grant_type=refresh_token&refresh_token=abc&x=1",
                   out, sizeof out);
    assert_string_equal(out, "grant_type=refresh_token&refresh_token=[REDACTED]&x=1");
    char small[16];
    secrets_redact(r, "pat-na1-0123456789abcdef", small, sizeof small);
    assert_null(strstr(small, "0123"));
    secrets_redactor_destroy(r);
    secrets_redactor_destroy(NULL);
}

static void test_hmac_vectors(void **state)
{
    (void)state;
    char hex[65];
    /* RFC 4231 test case 2 */
    assert_int_equal(webhook_hmac_sha256_hex("Jefe", 4,
                                             "what do ya want for nothing?",
                                             28, hex, sizeof hex),
                     LSC_OK);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739"
                             "839dec58b964ec3843");
    /* the webhook scheme: HMAC over "<t>.<body>" */
    char sig[128];
    assert_int_equal(webhook_signature("Jefe", 1700000000, "{}", 2, sig,
                                       sizeof sig),
                     LSC_OK);
    assert_int_equal(webhook_hmac_sha256_hex("Jefe", 4, "1700000000.{}", 13,
                                             hex, sizeof hex),
                     LSC_OK);
    char want[128];
    snprintf(want, sizeof want, "t=1700000000,v1=%s", hex);
    assert_string_equal(sig, want);
    /* the vector documented in docs/connectors/webhook-action.md */
    assert_int_equal(webhook_signature("whsec_test", 1763805600,
                                       "{\"contact\":\"101\"}", 17, sig,
                                       sizeof sig),
                     LSC_OK);
    assert_string_equal(sig, "t=1763805600,v1=" WEBHOOK_DOC_VECTOR);
}

static void test_webhook_body_and_id(void **state)
{
    (void)state;
    char a[40];
    char b[40];
    webhook_delivery_id("101", "b2b", "warm", "hot", 1763805600000, a, sizeof a);
    webhook_delivery_id("101", "b2b", "warm", "hot", 1763805600000, b, sizeof b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), WEBHOOK_DELIVERY_ID_LEN);
    webhook_delivery_id("101", "b2b", NULL, "hot", 1763805600000, b, sizeof b);
    assert_string_not_equal(a, b);
    /* points rounded to 2 decimals: whole ones as integers, 14.109999..
     * printed as 14.11, a negative fit rule kept */
    const struct webhook_reason reasons[] = {{"demo-request", 25, 1},
                                             {"pricing-page", 14.109999, 2},
                                             {"free-mail", -10, 0}};
    char *body = webhook_build_body("101", NULL, "hot", 87, reasons, 3,
                                    1763805600123, a);
    char want[512];
    snprintf(want, sizeof want,
             "{\"at\":\"2025-11-22T10:00:00.123Z\",\"contact\":\"101\","
             "\"delivery_id\":\"%s\",\"from\":null,\"reasons\":["
             "{\"awards\":1,\"points\":25,\"rule\":\"demo-request\"},"
             "{\"awards\":2,\"points\":14.11,\"rule\":\"pricing-page\"},"
             "{\"awards\":0,\"points\":-10,\"rule\":\"free-mail\"}],"
             "\"score\":87,\"to\":\"hot\"}",
             a);
    assert_string_equal(body, want);
    free(body);
    body = webhook_build_body("101", "warm", "hot", 87, NULL, 0, 0, a);
    assert_non_null(strstr(body, "\"reasons\":[]"));
    free(body);
}

static void test_url_policy(void **state)
{
    (void)state;
    assert_true(http_url_allowed("https://api.hubapi.com/x"));
    assert_true(http_url_allowed("http://127.0.0.1:8080/x"));
    assert_true(http_url_allowed("http://localhost/x"));
    assert_true(http_url_allowed("http://[::1]:90/x"));
    assert_false(http_url_allowed("http://api.hubapi.com/x"));
    assert_false(http_url_allowed("http://127.0.0.1.evil.com/x"));
    assert_false(http_url_allowed("http://127.0.0.1@evil.com/x"));
    assert_false(http_url_allowed("ftp://127.0.0.1/x"));
    assert_false(http_url_allowed("https://"));
    assert_false(http_url_allowed(NULL));
    assert_string_equal(http_user_agent(), "leadscore/" LSC_TEST_VERSION);
    char *e = http_escape("a b/c~");
    assert_string_equal(e, "a%20b%2Fc~");
    free(e);
    /* refused before any network I/O */
    struct http_client *c = NULL;
    char err[128];
    assert_int_equal(http_client_create(NULL, &c, err, sizeof err), LSC_OK);
    struct http_request req = {.method = "GET", .url = "http://example.com/"};
    struct http_response resp;
    assert_int_equal(http_client_request(c, &req, &resp), LSC_ERR_INVALID_ARG);
    http_response_finish(&resp);
    http_client_destroy(c);
    http_client_destroy(NULL);
}

static void test_jsonpos(void **state)
{
    (void)state;
    const char *t = "{\n  \"a\": 1,\n  \"b\": [\n    {\"c\": \"x\"},\n    2\n  ]\n}";
    struct jsonpos *p = jsonpos_create(t, strlen(t));
    assert_non_null(p);
    int l;
    int c;
    /* Validators locate a member at its key. */
    assert_true(jsonpos_find_nearest(p, "a", true, &l, &c));
    assert_int_equal(l, 2);
    assert_int_equal(c, 3);
    assert_true(jsonpos_find_nearest(p, "b[0].c", true, &l, &c));
    assert_int_equal(l, 4);
    assert_int_equal(c, 6);
    assert_true(jsonpos_find_nearest(p, "b[1]", true, &l, &c));
    assert_int_equal(l, 5);
    assert_int_equal(c, 5);
    /* an absent member falls back to its parent */
    assert_true(jsonpos_find_nearest(p, "b[0].zzz", true, &l, &c));
    assert_int_equal(l, 4);
    assert_int_equal(c, 5);
    /* ... and an absent top-level member at the root. */
    assert_true(jsonpos_find_nearest(p, "nope", true, &l, &c));
    assert_int_equal(l, 1);
    assert_int_equal(c, 1);
    assert_false(jsonpos_find(p, "nope", true, &l, &c));
    jsonpos_destroy(p);
}

/* Diagnostics a mapping_ctx sent, copied (the originals are borrowed). */
struct seen {
    int n;
    struct {
        int sev, line, col;
        char path[64];
        char msg[MAPPING_MSG_MAX];
    } d[8];
};

static void keep(void *ud, const struct lsc_diagnostic *d)
{
    struct seen *s = ud;
    assert_true(s->n < 8);
    assert_string_equal(d->file, "m.json");
    s->d[s->n].sev = (int)d->severity;
    s->d[s->n].line = d->line;
    s->d[s->n].col = d->column;
    snprintf(s->d[s->n].path, sizeof s->d[0].path, "%s", d->json_path);
    snprintf(s->d[s->n].msg, sizeof s->d[0].msg, "%s", d->message);
    s->n++;
}

static const char mapping_text[] =
    "{\n"
    "  \"a\": {\"b\": 1},\n"
    "  \"actions\": [{\"on\": \"up\", \"tire\": 1}, 3]\n"
    "}";

/* Where a diagnostic points, the message cut, the error count and the
 * first error, in both placements. */
static void test_mapping_report(void **state)
{
    (void)state;
    struct jsonpos *pos = jsonpos_create(mapping_text, strlen(mapping_text));
    assert_non_null(pos);
    struct seen s = {0};
    struct mapping_ctx v = {.file = "m.json", .pos = pos, .diag = keep,
                            .ud = &s, .where = MAPPING_AT_KEY_OR_PARENT,
                            .msg_size = 8};
    mapping_report(&v, LSC_LOG_WARN, "a.b", "warn %d", 1);
    mapping_report(&v, LSC_LOG_ERROR, "a.zz", "0123456789");
    mapping_report(&v, LSC_LOG_ERROR, "", "root");
    assert_int_equal(s.n, 3);
    /* the key "b", then a missing member at its parent's key */
    assert_int_equal(s.d[0].line, 2);
    assert_int_equal(s.d[0].col, 9);
    assert_string_equal(s.d[0].msg, "warn 1");
    assert_int_equal(s.d[1].line, 2);
    assert_int_equal(s.d[1].col, 3);
    assert_string_equal(s.d[1].path, "a.zz");
    assert_string_equal(s.d[1].msg, "0123456"); /* cut at msg_size */
    assert_int_equal(v.errors, 2);
    assert_string_equal(v.first, "m.json:2:3: a.zz: 0123456");

    /* at the value; a missing path is 0:0 */
    memset(&s, 0, sizeof s);
    v = (struct mapping_ctx){.file = "m.json", .pos = pos, .diag = keep,
                             .ud = &s, .where = MAPPING_AT_VALUE};
    mapping_report(&v, LSC_LOG_ERROR, "a.b", "%s", "x");
    mapping_report(&v, LSC_LOG_ERROR, "a.zz", "y");
    mapping_report_at(&v, LSC_LOG_ERROR, "", 7, 9, "z");
    assert_int_equal(s.n, 3);
    assert_int_equal(s.d[0].line, 2);
    assert_int_equal(s.d[0].col, 14);
    assert_int_equal(s.d[1].line, 0);
    assert_int_equal(s.d[1].col, 0);
    assert_int_equal(s.d[2].line, 7);
    assert_int_equal(s.d[2].col, 9);
    assert_int_equal(v.errors, 3);
    assert_string_equal(v.first, "m.json:2:14: a.b: x");

    /* no callback: still counted; the root is "(root)" in the summary */
    v = (struct mapping_ctx){.file = "m.json", .pos = pos};
    mapping_report(&v, LSC_LOG_ERROR, "", "%s", "only counted");
    assert_int_equal(v.errors, 1);
    assert_string_equal(v.first, "m.json:1:1: (root): only counted");

    char p[16];
    mapping_join(p, sizeof p, "", "k");
    assert_string_equal(p, "k");
    mapping_join(p, sizeof p, "a.b", "k");
    assert_string_equal(p, "a.b.k");
    jsonpos_destroy(pos);
}

/* The "actions" walk: not an array, not an object, unknown keys with a
 * hint, and the transition. */
static void test_mapping_actions(void **state)
{
    (void)state;
    struct jsonpos *pos = jsonpos_create(mapping_text, strlen(mapping_text));
    json_t *root = json_loads(mapping_text, 0, NULL);
    assert_non_null(root);
    struct seen s = {0};
    struct mapping_ctx v = {.file = "m.json", .pos = pos, .diag = keep,
                            .ud = &s, .where = MAPPING_AT_KEY_OR_PARENT};

    json_t *none = json_object();
    assert_null(mapping_actions(&v, none));
    assert_int_equal(s.n, 0);
    json_decref(none);

    json_t *a = mapping_actions(&v, root);
    assert_non_null(a);
    char p[64];
    json_t *x = mapping_action(&v, a, 0, p, sizeof p);
    assert_non_null(x);
    assert_string_equal(p, "actions[0]");
    assert_int_equal(s.n, 1);
    assert_int_equal(s.d[0].sev, LSC_LOG_WARN);
    assert_string_equal(s.d[0].path, "actions[0].tire");
    assert_string_equal(s.d[0].msg, "unknown key \"tire\" is ignored; hint: "
                                    "did you mean 'tier'?");
    assert_int_equal(s.d[0].line, 3);
    assert_int_equal(s.d[0].col, 28);

    bool leave = true;
    assert_false(mapping_action_on(&v, p, "up", &leave));
    assert_true(leave); /* untouched */
    assert_int_equal(s.n, 2);
    assert_string_equal(s.d[1].path, "actions[0].on");
    assert_string_equal(s.d[1].msg, "\"up\" is not a transition; hint: "
                                    "\"enter\" or \"leave\"");
    assert_true(mapping_action_on(&v, p, "enter", &leave));
    assert_false(leave);
    assert_true(mapping_action_on(&v, p, "leave", &leave));
    assert_true(leave);

    assert_null(mapping_action(&v, a, 1, p, sizeof p));
    assert_string_equal(p, "actions[1]");
    assert_int_equal(s.n, 3);
    assert_int_equal(s.d[2].sev, LSC_LOG_ERROR);
    assert_string_equal(s.d[2].path, "actions[1]");
    assert_string_equal(s.d[2].msg, "must be an object");

    json_t *bad = json_pack("{s:i}", "actions", 3);
    assert_null(mapping_actions(&v, bad));
    assert_int_equal(s.n, 4);
    assert_string_equal(s.d[3].path, "actions");
    assert_string_equal(s.d[3].msg, "must be an array");
    assert_int_equal(v.errors, 3);
    json_decref(bad);
    json_decref(root);
    jsonpos_destroy(pos);
}

/* The environment variable names both connectors accept. */
static void test_mapping_env_name(void **state)
{
    (void)state;
    static const char *const ok[] = {"HOOK", "LEADSCORE_WEBHOOK_SECRET",
                                     "_X", "A1", "_"};
    static const char *const bad[] = {"", "hook", "Hook_SECRET", "1HOOK",
                                      "A-B", "A B", "S\u00e9"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_true(mapping_env_name_ok(ok[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(mapping_env_name_ok(bad[i]));
    }
    assert_false(mapping_env_name_ok(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcome_classes),
        cmocka_unit_test(test_outcome_transport_and_reason),
        cmocka_unit_test(test_retry_after_header),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_retry_fill_result),
        cmocka_unit_test(test_token_bucket_rolling),
        cmocka_unit_test(test_token_bucket_settles_on_response),
        cmocka_unit_test(test_pkce_rfc7636_vector),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_authorize_url_and_forms),
        cmocka_unit_test(test_loopback_listener_both_stacks),
        cmocka_unit_test_setup_teardown(test_credentials_file, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_hmac_vectors),
        cmocka_unit_test(test_webhook_body_and_id),
        cmocka_unit_test(test_url_policy),
        cmocka_unit_test(test_jsonpos),
        cmocka_unit_test(test_mapping_report),
        cmocka_unit_test(test_mapping_actions),
        cmocka_unit_test(test_mapping_env_name),
    };
    return cmocka_run_group_tests_name("connector_core", tests, NULL, NULL);
}
