/*
 * Integration tests of the Mailchimp glue the plugin and the CLI call:
 * mailchimp_open() from a mapping file and host services, enqueueing a
 * write-back through host->job_enqueue, the model's tiers, and the OAuth
 * connect flow on a loopback listener.  argv[1] is the fake's path.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "fake_proc.h"
#include "mailchimp/mailchimp.h"

static const char *fake_exe;

/* ---- a minimal host ------------------------------------------------------ */

struct host {
    struct lsc_host_api api;
    char dir[64];
    int n_diag;
    char diag[4][256];
    int n_jobs;
    char kind[8][64];
    char key[8][128];
    char payload[8][512];
};

static void h_diag(void *h, const struct lsc_diagnostic *d)
{
    struct host *x = h;
    if (x->n_diag < 4) {
        snprintf(x->diag[x->n_diag], sizeof x->diag[0], "%s:%d:%d: %s: %s",
                 d->file, d->line, d->column, d->json_path, d->message);
    }
    x->n_diag++;
}

static const char *h_dir(void *h)
{
    return ((struct host *)h)->dir;
}

static enum lsc_status h_props(void *h, const char *id,
                               void (*fn)(void *, const struct lsc_prop *,
                                          size_t),
                               void *ud)
{
    (void)h;
    if (strcmp(id, "c-1") == 0) {
        struct lsc_prop p[2] = {
            {"job_title", {.type = LSC_VAL_STRING,
                           .u.str = {"CTO", 3}}},
            {"email", {.type = LSC_VAL_STRING,
                       .u.str = {" Jane@Example.com", 17}}},
        };
        fn(ud, p, 2);
        return LSC_OK;
    }
    if (strcmp(id, "c-2") == 0) {
        fn(ud, NULL, 0);
        return LSC_OK;
    }
    return LSC_ERR_NOT_FOUND;
}

static enum lsc_status h_enqueue(void *h, const char *kind, const char *key,
                                 const void *payload, size_t len,
                                 int64_t not_before)
{
    (void)not_before;
    struct host *x = h;
    if (x->n_jobs < 8) {
        snprintf(x->kind[x->n_jobs], sizeof x->kind[0], "%s", kind);
        snprintf(x->key[x->n_jobs], sizeof x->key[0], "%s", key);
        snprintf(x->payload[x->n_jobs], sizeof x->payload[0], "%.*s",
                 (int)len, (const char *)payload);
    }
    x->n_jobs++;
    return LSC_OK;
}

static void host_init(struct host *x)
{
    memset(x, 0, sizeof *x);
    x->api.struct_size = sizeof x->api;
    x->api.abi_major = LSC_PLUGIN_ABI_MAJOR;
    x->api.host = x;
    x->api.host_name = "test-host";
    x->api.diagnostic = h_diag;
    x->api.data_dir = h_dir;
    x->api.contact_props = h_props;
    x->api.job_enqueue = h_enqueue;
    snprintf(x->dir, sizeof x->dir, "/tmp/mc-glue-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void rm_dir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_open_enqueue_run(void **state)
{
    (void)state;
    struct fake_proc f;
    assert_true(fake_start(fake_exe, &f, NULL));
    fake_ctl(&f, "POST", "/_fake/seed",
             "{\"lists\":[\"L1\"],\"members\":[{\"list\":\"L1\",\"email\":"
             "\"jane@example.com\",\"tags\":[\"leadscore-mql\"]}]}",
             NULL);
    struct host h;
    host_init(&h);
    char mapping[256], text[1024], err[256];
    snprintf(mapping, sizeof mapping, "%s/mailchimp.json", h.dir);
    snprintf(text, sizeof text,
             "{\"schema\":\"leadscore.connector/1\",\"connector\":\"mailchimp\","
             "\"audience\":{\"list_id\":\"L1\"},"
             "\"api\":{\"base_url\":\"%s\"}}",
             f.api_base);
    write_file(mapping, text);

    /* No key in the environment: a clear configuration error. */
    unsetenv("MAILCHIMP_API_KEY");
    struct mailchimp *mc = NULL;
    assert_int_equal(mailchimp_open(&h.api, mapping, NULL, &mc, err,
                                    sizeof err),
                     LSC_ERR_CONFIG);
    assert_non_null(strstr(err, "MAILCHIMP_API_KEY"));
    assert_null(mc);

    setenv("MAILCHIMP_API_KEY", FAKE_API_KEY, 1);
    assert_int_equal(mailchimp_open(&h.api, mapping, NULL, &mc, err,
                                    sizeof err),
                     LSC_OK);
    const char *tiers[] = {"cold", "mql", "sql"};
    assert_int_equal(mailchimp_add_tiers(mc, tiers, 3), LSC_OK);
    assert_int_equal(mailchimp_config_of(mc)->n_tiers, 3);
    assert_int_equal(mailchimp_setup(mc, NULL, err, sizeof err), LSC_OK);

    bool enq = false;
    assert_int_equal(mailchimp_enqueue(&h.api, mc, "c-1", 91, "sql", NULL, 0,
                                       &enq, err, sizeof err),
                     LSC_OK);
    assert_true(enq);
    assert_int_equal(mailchimp_enqueue(&h.api, mc, "c-2", 5, "cold", NULL, 0,
                                       &enq, err, sizeof err),
                     LSC_OK);
    assert_false(enq); /* no email: nothing to sync */
    assert_int_equal(h.n_jobs, 1);
    assert_string_equal(h.kind[0], MAILCHIMP_JOB_KIND);
    assert_string_equal(h.key[0], "mailchimp:c-1");
    assert_string_equal(h.payload[0], "{\"email\":\"jane@example.com\","
                                      "\"score\":91.0,\"tier\":\"sql\"}");

    struct lsc_job job = {sizeof job, 7, MAILCHIMP_JOB_KIND, h.key[0],
                          h.payload[0], strlen(h.payload[0]), 1, 0};
    struct lsc_job_result res = {.struct_size = sizeof res,
                                 .status = LSC_ERR_INTERNAL};
    assert_int_equal(mailchimp_job_run(mc, &job, &res, 1), LSC_OK);
    assert_int_equal(res.status, LSC_OK);
    json_t *m = fake_member(&f, "L1", "jane@example.com");
    assert_true(fake_member_has_tag(m, "leadscore-sql"));
    assert_false(fake_member_has_tag(m, "leadscore-mql")); /* no `from` */
    json_decref(m);
    mailchimp_destroy(mc);

    /* A broken mapping: every problem reaches host->diagnostic. */
    write_file(mapping, "{\"schema\":\"leadscore.connector/1\",\n"
                        " \"connector\":\"mailchimp\",\n"
                        " \"audience\":{\"list_id\":\"L-1\"}}\n");
    h.n_diag = 0;
    assert_int_equal(mailchimp_open(&h.api, mapping, NULL, &mc, err,
                                    sizeof err),
                     LSC_ERR_CONFIG);
    assert_int_equal(h.n_diag, 1);
    assert_non_null(strstr(h.diag[0], "mailchimp.json:3:24: "
                                      "audience.list_id:"));
    unsetenv("MAILCHIMP_API_KEY");
    rm_dir(h.dir);
    fake_stop(&f);
}

/* ---- connect ---------------------------------------------------------------- */

struct browser {
    char url[1024];
    pthread_t th;
    bool started;
};

static char *param(const char *url, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", name);
    const char *p = strstr(url, pat);
    if (p == NULL) {
        return NULL;
    }
    p += strlen(pat);
    size_t n = strcspn(p, "&");
    char *v = malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n) {
            char hx[3] = {p[i + 1], p[i + 2], 0};
            v[o++] = (char)strtol(hx, NULL, 16);
            i += 2;
        } else {
            v[o++] = p[i];
        }
    }
    v[o] = '\0';
    return v;
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static void *browse(void *arg)
{
    struct browser *b = arg;
    char *ru = param(b->url, "redirect_uri");
    char *st = param(b->url, "state");
    char target[1024];
    snprintf(target, sizeof target, "%s?code=good-code&state=%s", ru, st);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, target);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_perform(h);
    curl_easy_cleanup(h);
    free(ru);
    free(st);
    return NULL;
}

static void show_url(void *ud, const char *url)
{
    struct browser *b = ud;
    snprintf(b->url, sizeof b->url, "%s", url);
    b->started = pthread_create(&b->th, NULL, browse, b) == 0;
}

static void test_connect_flow(void **state)
{
    (void)state;
    struct fake_proc f;
    const char *args[] = {"--redirect-uri", "*", NULL};
    assert_true(fake_start(fake_exe, &f, args));
    struct host h;
    host_init(&h);
    struct mailchimp_config cfg;
    assert_int_equal(mailchimp_config_init(&cfg), LSC_OK);
    cfg.list_id = strdup("L1");
    cfg.client_id = strdup("fake-client");
    cfg.login_base = strdup(f.base);
    cfg.redirect_port = 0; /* a free port */
    free(cfg.auth);
    cfg.auth = strdup("oauth");
    setenv("MAILCHIMP_CLIENT_SECRET", "fake-secret", 1);
    struct browser b = {0};
    char dc[16], err[256];
    assert_int_equal(mailchimp_connect(&cfg, h.dir, 10000, show_url, &b, dc,
                                       sizeof dc, err, sizeof err),
                     LSC_OK);
    assert_true(b.started);
    pthread_join(b.th, NULL);
    assert_string_equal(dc, "us1");
    assert_non_null(strstr(b.url, "/oauth2/authorize?response_type=code"
                                  "&client_id=fake-client&redirect_uri="
                                  "http%3A%2F%2F127.0.0.1%3A"));

    char path[256];
    snprintf(path, sizeof path, "%s/mailchimp-oauth.json", h.dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* The plugin side: open with the stored token, write through it. */
    char mapping[256], text[1024];
    snprintf(mapping, sizeof mapping, "%s/mailchimp.json", h.dir);
    snprintf(text, sizeof text,
             "{\"schema\":\"leadscore.connector/1\",\"connector\":\"mailchimp\","
             "\"auth\":{\"type\":\"oauth\"},\"audience\":{\"list_id\":"
             "\"L1\"},\"api\":{\"base_url\":\"%s\"}}",
             f.api_base);
    write_file(mapping, text);
    fake_ctl(&f, "POST", "/_fake/seed",
             "{\"lists\":[\"L1\"],\"members\":[{\"list\":\"L1\",\"email\":"
             "\"jane@example.com\"}]}",
             NULL);
    struct mailchimp *mc = NULL;
    assert_int_equal(mailchimp_open(&h.api, mapping, NULL, &mc, err,
                                    sizeof err),
                     LSC_OK);
    struct mailchimp_write w = {"jane@example.com", 3, NULL, NULL};
    assert_int_equal(mailchimp_write(mc, &w, NULL, NULL, err, sizeof err),
                     LSC_OK);
    mailchimp_destroy(mc);

    /* Not connected: re-authorize. */
    remove(path);
    assert_int_equal(mailchimp_open(&h.api, mapping, NULL, &mc, err,
                                    sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "leadscore connect mailchimp"));

    /* No client secret in the environment: a clear error. */
    unsetenv("MAILCHIMP_CLIENT_SECRET");
    assert_int_equal(mailchimp_connect(&cfg, h.dir, 1000, NULL, NULL, dc,
                                       sizeof dc, err, sizeof err),
                     LSC_ERR_CONFIG);
    assert_non_null(strstr(err, "MAILCHIMP_CLIENT_SECRET"));
    mailchimp_config_destroy(&cfg);
    rm_dir(h.dir);
    fake_stop(&f);
}

int main(int argc, char **argv)
{
    fake_exe = argc > 1 ? argv[1] : getenv("FAKE_MAILCHIMP");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_enqueue_run),
        cmocka_unit_test(test_connect_flow),
    };
    int rc = cmocka_run_group_tests_name("mailchimp_glue", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
