/*
 * Integration tests of the Mailchimp connector against fake_mailchimp:
 * setup (empty and already set up), write-back with tier tags, unknown
 * members (skip / create), activity import twice, connection-limit
 * pressure, a failing period then recovery, OAuth connect and revocation,
 * batch backfill.  argv[1] is the fake's path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/http.h"
#include "fake_proc.h"
#include "mailchimp/mailchimp.h"

static const char *fake_exe;

struct fx {
    struct fake_proc fake;
    struct mailchimp_config cfg;
    struct mailchimp *mc;
};

static const char *base_args[] = {NULL};

static struct mailchimp *client(struct fx *x, const char *api_key,
                                const char *token)
{
    struct mailchimp_credentials cred = {api_key, token, NULL};
    struct mailchimp *mc = NULL;
    char err[256];
    enum lsc_status st = mailchimp_create(&x->cfg, &cred, &mc, err,
                                          sizeof err);
    if (st != LSC_OK) {
        fail_msg("mailchimp_create: %s", err);
    }
    return mc;
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    if (x == NULL || !fake_start(fake_exe, &x->fake, base_args)) {
        free(x);
        return -1;
    }
    mailchimp_config_init(&x->cfg);
    x->cfg.list_id = strdup("L1");
    x->cfg.api_base = strdup(x->fake.api_base);
    x->cfg.backoff_base_ms = 20;
    x->mc = client(x, FAKE_API_KEY, NULL);
    fake_ctl(&x->fake, "POST", "/_fake/seed", "{\"lists\":[\"L1\"]}", NULL);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    mailchimp_destroy(x->mc);
    mailchimp_config_destroy(&x->cfg);
    fake_stop(&x->fake);
    free(x);
    return 0;
}

/* The i-th recorded request (borrowed from `reqs`). */
static json_t *req(json_t *reqs, size_t i)
{
    return json_array_get(reqs, i);
}

static const char *rs(json_t *r, const char *k)
{
    const char *s = json_string_value(json_object_get(r, k));
    return s != NULL ? s : "";
}

static void seed_fields(struct fx *x)
{
    fake_ctl(&x->fake, "POST", "/_fake/seed",
             "{\"merge_fields\":[{\"list\":\"L1\",\"tag\":\"LSCORE\","
             "\"name\":\"Lead score\",\"type\":\"number\"},{\"list\":\"L1\","
             "\"tag\":\"LTIER\",\"name\":\"Lead tier\",\"type\":\"text\"}]}",
             NULL);
}

/* ---- setup ---------------------------------------------------------------- */

static void test_setup_empty_then_again(void **state)
{
    struct fx *x = *state;
    char err[256];
    int created = -1;
    assert_int_equal(mailchimp_setup(x->mc, &created, err, sizeof err),
                     LSC_OK);
    assert_int_equal(created, 2);
    json_t *reqs = fake_requests(&x->fake);
    assert_int_equal(json_array_size(reqs), 3);
    assert_string_equal(rs(req(reqs, 0), "method"), "GET");
    assert_string_equal(rs(req(reqs, 0), "path"), "/3.0/lists/L1/merge-fields");
    assert_string_equal(rs(req(reqs, 0), "auth"), "basic");
    assert_string_equal(rs(req(reqs, 1), "method"), "POST");
    assert_string_equal(rs(req(reqs, 1), "body"),
                        "{\"name\":\"Lead score\",\"type\":\"number\","
                        "\"tag\":\"LSCORE\",\"required\":false,"
                        "\"public\":false}");
    assert_string_equal(rs(req(reqs, 1), "content_type"), "application/json");
    assert_string_equal(rs(req(reqs, 2), "body"),
                        "{\"name\":\"Lead tier\",\"type\":\"text\","
                        "\"tag\":\"LTIER\",\"required\":false,"
                        "\"public\":false}");
    json_decref(reqs);

    /* Already set up: one read, nothing created. */
    fake_ctl(&x->fake, "POST", "/_fake/clear", "{}", NULL);
    assert_int_equal(mailchimp_setup(x->mc, &created, err, sizeof err),
                     LSC_OK);
    assert_int_equal(created, 0);
    reqs = fake_requests(&x->fake);
    assert_int_equal(json_array_size(reqs), 1);
    assert_string_equal(rs(req(reqs, 0), "method"), "GET");
    json_decref(reqs);
}

/* The fields come back in pages smaller than asked for: setup reads on
 * with offset until total_items and finds ours on the last page. */
static void test_setup_pages_merge_fields(void **state)
{
    struct fx *x = *state;
    seed_fields(x); /* after FNAME and LNAME */
    fake_ctl(&x->fake, "POST", "/_fake/config", "{\"page_cap\":1}", NULL);
    fake_ctl(&x->fake, "POST", "/_fake/clear", "{}", NULL);
    char err[256];
    int created = -1;
    assert_int_equal(mailchimp_setup(x->mc, &created, err, sizeof err),
                     LSC_OK);
    assert_int_equal(created, 0);
    json_t *reqs = fake_requests(&x->fake);
    assert_int_equal(json_array_size(reqs), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *q = json_object_get(req(reqs, i), "query");
        char off[8];
        snprintf(off, sizeof off, "%zu", i);
        assert_string_equal(rs(req(reqs, i), "method"), "GET");
        assert_string_equal(rs(q, "offset"), off);
        assert_string_equal(rs(q, "count"), "1000");
    }
    json_decref(reqs);
}

static void test_setup_type_conflict(void **state)
{
    struct fx *x = *state;
    fake_ctl(&x->fake, "POST", "/_fake/seed",
             "{\"merge_fields\":[{\"list\":\"L1\",\"tag\":\"LSCORE\","
             "\"name\":\"Old\",\"type\":\"text\"}]}",
             NULL);
    char err[256];
    assert_int_equal(mailchimp_setup(x->mc, NULL, err, sizeof err),
                     LSC_ERR_CONFIG);
    assert_non_null(strstr(err, "LSCORE"));
    assert_non_null(strstr(err, "fields.score.tag"));
}

static void test_setup_unknown_list(void **state)
{
    struct fx *x = *state;
    free(x->cfg.list_id);
    x->cfg.list_id = strdup("NOPE");
    mailchimp_destroy(x->mc);
    x->mc = client(x, FAKE_API_KEY, NULL);
    char err[256];
    assert_int_equal(mailchimp_setup(x->mc, NULL, err, sizeof err),
                     LSC_ERR_PERMANENT);
    assert_non_null(strstr(err, "HTTP 404 Resource Not Found"));
    assert_non_null(strstr(err, "[request 00000000-fake"));
}

/* ---- write-back --------------------------------------------------------------- */

static void test_write_tier_change_flips_tags(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    fake_ctl(&x->fake, "POST", "/_fake/seed",
             "{\"members\":[{\"list\":\"L1\",\"email\":\"jane@example.com\","
             "\"tags\":[\"leadscore-mql\",\"vip\"]}]}",
             NULL);
    struct mailchimp_write w = {" Jane@Example.com ", 85, "sql", "mql"};
    enum mailchimp_write_outcome oc;
    char err[256];
    assert_int_equal(mailchimp_write(x->mc, &w, &oc, NULL, err, sizeof err),
                     LSC_OK);
    assert_int_equal(oc, MAILCHIMP_WRITE_UPDATED);
    json_t *reqs = fake_requests(&x->fake);
    assert_int_equal(json_array_size(reqs), 2);
    assert_string_equal(rs(req(reqs, 0), "method"), "PATCH");
    assert_string_equal(rs(req(reqs, 0), "path"),
                        "/3.0/lists/L1/members/"
                        "9e26471d35a78862c17e467d87cddedf");
    assert_string_equal(rs(req(reqs, 0), "body"),
                        "{\"merge_fields\":{\"LSCORE\":85,\"LTIER\":\"sql\"}}");
    assert_string_equal(rs(req(reqs, 1), "method"), "POST");
    assert_string_equal(rs(req(reqs, 1), "path"),
                        "/3.0/lists/L1/members/"
                        "9e26471d35a78862c17e467d87cddedf/tags");
    assert_string_equal(rs(req(reqs, 1), "body"),
                        "{\"tags\":[{\"name\":\"leadscore-sql\",\"status\":"
                        "\"active\"},{\"name\":\"leadscore-mql\",\"status\":"
                        "\"inactive\"}],\"is_syncing\":false}");
    assert_int_equal(json_integer_value(json_object_get(req(reqs, 1),
                                                        "status")),
                     204);
    json_decref(reqs);
    json_t *m = fake_member(&x->fake, "L1", "jane@example.com");
    assert_non_null(m);
    assert_true(fake_member_has_tag(m, "leadscore-sql"));
    assert_false(fake_member_has_tag(m, "leadscore-mql"));
    assert_true(fake_member_has_tag(m, "vip"));
    json_t *mf = json_object_get(m, "merge_fields");
    assert_int_equal(json_integer_value(json_object_get(mf, "LSCORE")), 85);
    assert_string_equal(json_string_value(json_object_get(mf, "LTIER")),
                        "sql");
    json_decref(m);

    /* Back down, with configured tiers: every other tier tag goes. */
    struct mailchimp_tier_tag tiers[] = {{"cold", "LS cold"},
                                         {"mql", "LS mql"},
                                         {"sql", "LS sql"}};
    x->cfg.tiers = tiers;
    x->cfg.n_tiers = 3;
    x->cfg.tags_trigger_automations = false;
    struct mailchimp *mc2 = client(x, FAKE_API_KEY, NULL);
    x->cfg.tiers = NULL;
    x->cfg.n_tiers = 0;
    fake_ctl(&x->fake, "POST", "/_fake/clear", "{}", NULL);
    struct mailchimp_write w2 = {"jane@example.com", 12, "cold", NULL};
    assert_int_equal(mailchimp_write(mc2, &w2, &oc, NULL, err, sizeof err),
                     LSC_OK);
    reqs = fake_requests(&x->fake);
    assert_string_equal(rs(req(reqs, 1), "body"),
                        "{\"tags\":[{\"name\":\"LS cold\",\"status\":"
                        "\"active\"},{\"name\":\"LS mql\",\"status\":"
                        "\"inactive\"},{\"name\":\"LS sql\",\"status\":"
                        "\"inactive\"}],\"is_syncing\":true}");
    json_decref(reqs);
    mailchimp_destroy(mc2);

    /* Score only: no tag request. */
    fake_ctl(&x->fake, "POST", "/_fake/clear", "{}", NULL);
    struct mailchimp_write w3 = {"jane@example.com", 13, NULL, NULL};
    assert_int_equal(mailchimp_write(x->mc, &w3, &oc, NULL, err, sizeof err),
                     LSC_OK);
    reqs = fake_requests(&x->fake);
    assert_int_equal(json_array_size(reqs), 1);
    assert_string_equal(rs(req(reqs, 0), "body"),
                        "{\"merge_fields\":{\"LSCORE\":13}}");
    json_decref(reqs);
}

static void test_unknown_member_skipped(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    struct mailchimp_write w = {"new@example.com", 40, "mql", "cold"};
    enum mailchimp_write_outcome oc;
    char err[256];
    assert_int_equal(mailchimp_write(x->mc, &w, &oc, NULL, err, sizeof err),
                     LSC_OK);
    assert_int_equal(oc, MAILCHIMP_WRITE_SKIPPED_UNKNOWN);
    assert_non_null(strstr(err, "skipped"));
    struct mailchimp_stats s;
    mailchimp_stats_get(x->mc, &s);
    assert_int_equal(s.skipped_unknown, 1);
    assert_int_equal(s.written, 0);
    json_t *reqs = fake_requests(&x->fake);
    assert_int_equal(json_array_size(reqs), 1); /* the PATCH only */
    assert_string_equal(rs(req(reqs, 0), "method"), "PATCH");
    json_decref(reqs);
    assert_null(fake_member(&x->fake, "L1", "new@example.com"));
}

/* An audience with another required merge field the member lacks: our
 * write sets only ours, with skip_merge_validation, and is accepted. */
static void test_write_with_other_required_field(void **state)
{
    struct fx *x = *state;
    fake_ctl(&x->fake, "POST", "/_fake/seed",
             "{\"merge_fields\":[{\"list\":\"L1\",\"tag\":\"LSCORE\","
             "\"name\":\"Lead score\",\"type\":\"number\"},{\"list\":\"L1\","
             "\"tag\":\"LTIER\",\"name\":\"Lead tier\",\"type\":\"text\"},"
             "{\"list\":\"L1\",\"tag\":\"COMPANY\",\"name\":\"Company\","
             "\"type\":\"text\",\"required\":true}],\"members\":[{\"list\":"
             "\"L1\",\"email\":\"jane@example.com\"}]}",
             NULL);
    struct mailchimp_write w = {"jane@example.com", 61, "mql", "cold"};
    enum mailchimp_write_outcome oc;
    char err[256];
    assert_int_equal(mailchimp_write(x->mc, &w, &oc, NULL, err, sizeof err),
                     LSC_OK);
    assert_int_equal(oc, MAILCHIMP_WRITE_UPDATED);
    json_t *m = fake_member(&x->fake, "L1", "jane@example.com");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(m, "merge_fields"), "LSCORE")),
                     61);
    json_decref(m);
    json_t *reqs = fake_requests(&x->fake);
    json_t *q = json_object_get(req(reqs, 0), "query");
    assert_string_equal(rs(req(reqs, 0), "method"), "PATCH");
    assert_int_equal(json_object_size(q), 1);
    assert_string_equal(rs(q, "skip_merge_validation"), "true");
    /* The tags call takes no query. */
    assert_string_equal(rs(req(reqs, 1), "method"), "POST");
    assert_int_equal(json_object_size(json_object_get(req(reqs, 1), "query")),
                     0);
    json_decref(reqs);
    /* The created member (unknown_members "create") too. */
    mailchimp_destroy(x->mc);
    x->cfg.unknown_members = MAILCHIMP_UNKNOWN_CREATE;
    x->mc = client(x, FAKE_API_KEY, NULL);
    fake_ctl(&x->fake, "POST", "/_fake/clear", "{}", NULL);
    struct mailchimp_write n = {"new@example.com", 12, "cold", NULL};
    assert_int_equal(mailchimp_write(x->mc, &n, &oc, NULL, err, sizeof err),
                     LSC_OK);
    assert_int_equal(oc, MAILCHIMP_WRITE_CREATED);
    reqs = fake_requests(&x->fake);
    assert_string_equal(rs(req(reqs, 1), "method"), "PUT");
    assert_string_equal(rs(json_object_get(req(reqs, 1), "query"),
                           "skip_merge_validation"),
                        "true");
    json_decref(reqs);
}

static void test_unknown_member_created(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    x->cfg.unknown_members = MAILCHIMP_UNKNOWN_CREATE;
    free(x->cfg.create_status);
    x->cfg.create_status = strdup("pending");
    struct mailchimp *mc2 = client(x, FAKE_API_KEY, NULL);
    struct mailchimp_write w = {"New@Example.com", 40, "mql", NULL};
    enum mailchimp_write_outcome oc;
    char err[256];
    assert_int_equal(mailchimp_write(mc2, &w, &oc, NULL, err, sizeof err),
                     LSC_OK);
    assert_int_equal(oc, MAILCHIMP_WRITE_CREATED);
    json_t *reqs = fake_requests(&x->fake);
    assert_int_equal(json_array_size(reqs), 3);
    assert_string_equal(rs(req(reqs, 1), "method"), "PUT");
    assert_string_equal(rs(req(reqs, 1), "body"),
                        "{\"email_address\":\"new@example.com\","
                        "\"status_if_new\":\"pending\",\"merge_fields\":"
                        "{\"LSCORE\":40,\"LTIER\":\"mql\"}}");
    json_decref(reqs);
    json_t *m = fake_member(&x->fake, "L1", "new@example.com");
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "status")),
                        "pending");
    assert_true(fake_member_has_tag(m, "leadscore-mql"));
    json_decref(m);
    mailchimp_destroy(mc2);
}

/* ---- activity import -------------------------------------------------------- */

struct events {
    size_t n;
    size_t cap;
    char **ids;
    char **lines;
};

static enum lsc_status collect(void *ud, const struct mailchimp_activity *a)
{
    struct events *e = ud;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->ids = realloc(e->ids, e->cap * sizeof *e->ids);
        e->lines = realloc(e->lines, e->cap * sizeof *e->lines);
    }
    e->ids[e->n] = strdup(a->event_id);
    e->lines[e->n] = strdup(a->jsonl);
    e->n++;
    return LSC_OK;
}

static void events_free(struct events *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->ids[i]);
        free(e->lines[i]);
    }
    free(e->ids);
    free(e->lines);
    memset(e, 0, sizeof *e);
}

static bool has_id(const struct events *e, const char *id)
{
    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

#define NOW_MS INT64_C(1794009600000) /* 2026-11-07T00:00:00Z */

static void seed_activity(struct fx *x, int n_people)
{
    json_t *acts = json_array();
    for (int i = 0; i < n_people; i++) {
        char email[64];
        snprintf(email, sizeof email, "p%04d@example.com", i);
        json_array_append_new(
            acts, json_pack("{s:s,s:s,s:s}", "email", email, "action", "open",
                            "timestamp", "2026-11-01T10:00:00+00:00"));
    }
    json_array_append_new(
        acts, json_pack("{s:s,s:s,s:s,s:s}", "email", "p0001@example.com",
                        "action", "click", "timestamp",
                        "2026-11-01T10:05:00+00:00", "url",
                        "https://example.com/pricing"));
    json_array_append_new(
        acts, json_pack("{s:s,s:s,s:s,s:s}", "email", "p0002@example.com",
                        "action", "bounce", "timestamp",
                        "2026-11-01T10:06:00+00:00", "type", "hard"));
    json_t *seed = json_pack(
        "{s:[{s:s,s:s,s:s,s:s,s:o},{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:s}]},"
        "{s:s,s:s,s:s,s:s,s:[]},{s:s,s:s,s:s,s:s,s:b,s:[]}]}",
        "campaigns", "id", "c1", "type", "regular", "list_id", "L1",
        "send_time", "2026-11-01T09:00:00+00:00", "activity", acts, "id",
        "c2", "type", "automation", "list_id", "L1", "send_time",
        "2026-11-03T09:00:00+00:00", "activity", "email",
        "p0003@example.com", "action", "open", "timestamp",
        "2026-11-04T08:00:00+00:00", "id", "old", "type", "regular",
        "list_id", "L1", "send_time", "2026-08-01T09:00:00+00:00",
        "activity", "id", "gone", "type", "regular", "list_id", "L1",
        "send_time", "2026-11-05T09:00:00+00:00", "no_report", 1,
        "activity");
    char *s = json_dumps(seed, JSON_COMPACT);
    fake_ctl(&x->fake, "POST", "/_fake/seed", s, NULL);
    free(s);
    json_decref(seed);
}

static void test_activity_import_twice_same_events(void **state)
{
    struct fx *x = *state;
    struct mailchimp_campaign_type ct[] = {{"regular", "newsletter"}};
    x->cfg.campaign_types = ct;
    x->cfg.n_campaign_types = 1;
    struct mailchimp *mc = client(x, FAKE_API_KEY, NULL);
    x->cfg.campaign_types = NULL;
    x->cfg.n_campaign_types = 0;
    seed_activity(x, 1205); /* more than one page of 1000 */

    struct events a = {0}, b = {0}, c = {0};
    int64_t cp = INT64_MIN;
    size_t n = 0;
    char err[256];
    assert_int_equal(mailchimp_import_activity(mc, &cp, NOW_MS, collect, &a,
                                               &n, err, sizeof err),
                     LSC_OK);
    assert_int_equal(n, 1205 + 2 + 1);
    assert_int_equal(a.n, n);
    int64_t want_cp;
    mailchimp_parse_time("2026-11-04T08:00:00Z", &want_cp);
    assert_int_equal(cp, want_cp);
    /* Campaign type mapped, click url and bounce type kept. */
    assert_non_null(strstr(a.lines[0], "\"type\":\"email_open\""));
    assert_non_null(strstr(a.lines[0], "\"campaign_type\":\"newsletter\""));
    bool click = false, bounce = false, automation = false;
    for (size_t i = 0; i < a.n; i++) {
        click = click || strstr(a.lines[i], "\"url\":\"https://example.com/"
                                            "pricing\"") != NULL;
        bounce = bounce || (strstr(a.lines[i], "\"bounce\":\"hard\"") &&
                            !strstr(a.lines[i], "bounce_type"));
        automation = automation ||
                     strstr(a.lines[i], "\"campaign_type\":\"automation\"");
    }
    assert_true(click && bounce && automation);

    /* From scratch again: exactly the same events, same ids. */
    int64_t cp2 = INT64_MIN;
    assert_int_equal(mailchimp_import_activity(mc, &cp2, NOW_MS, collect, &b,
                                               &n, err, sizeof err),
                     LSC_OK);
    assert_int_equal(b.n, a.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.ids[i], b.ids[i]);
        assert_string_equal(a.lines[i], b.lines[i]);
    }
    /* Incremental from the checkpoint: only the overlap, with known ids. */
    assert_int_equal(mailchimp_import_activity(mc, &cp, NOW_MS, collect, &c,
                                               &n, err, sizeof err),
                     LSC_OK);
    assert_int_equal(c.n, 1);
    assert_true(has_id(&a, c.ids[0]));
    assert_int_equal(cp, want_cp);

    /* The requests: paging with count/offset and since. */
    json_t *reqs = fake_requests(&x->fake);
    size_t pages = 0;
    bool since_seen = false;
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        if (strcmp(rs(r, "path"), "/3.0/reports/c1/email-activity") == 0) {
            json_t *q = json_object_get(r, "query");
            assert_string_equal(rs(q, "count"), "1000");
            if (strcmp(rs(q, "offset"), "1000") == 0) {
                pages++;
            }
            if (json_object_get(q, "since") != NULL) {
                since_seen = true;
                assert_string_equal(rs(q, "since"),
                                    "2026-11-04T07:00:00+00:00");
            }
        }
        if (strcmp(rs(r, "path"), "/3.0/campaigns") == 0) {
            json_t *q = json_object_get(r, "query");
            assert_string_equal(rs(q, "status"), "sent");
            assert_string_equal(rs(q, "list_id"), "L1");
            assert_string_equal(rs(q, "since_send_time"),
                                "2026-10-08T00:00:00+00:00");
        }
        assert_string_not_equal(rs(r, "path"),
                                "/3.0/reports/old/email-activity");
    }
    assert_int_equal(pages, 2); /* second page read in both full imports */
    assert_true(since_seen);
    json_decref(reqs);
    events_free(&a);
    events_free(&b);
    events_free(&c);
    mailchimp_destroy(mc);
}

static void test_checkpoint_file(void **state)
{
    (void)state;
    char path[] = "/tmp/mc-checkpoint-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    remove(path);
    int64_t ms = 0;
    char err[256];
    assert_int_equal(mailchimp_checkpoint_read(path, &ms, err, sizeof err),
                     LSC_OK);
    assert_true(ms == INT64_MIN);
    assert_int_equal(mailchimp_checkpoint_write(path, NOW_MS, err, sizeof err),
                     LSC_OK);
    assert_int_equal(mailchimp_checkpoint_read(path, &ms, err, sizeof err),
                     LSC_OK);
    assert_true(ms == NOW_MS);
    remove(path);
}

/* ---- limits and failures ------------------------------------------------------- */

static void make_jobs(size_t n, struct lsc_job *jobs, char **payloads,
                      struct lsc_job_result *res)
{
    for (size_t i = 0; i < n; i++) {
        char email[64];
        snprintf(email, sizeof email, "m%03zu@example.com", i);
        struct mailchimp_write w = {email, (double)i, "mql", "cold"};
        size_t len;
        assert_int_equal(mailchimp_job_payload(&w, &payloads[i], &len),
                         LSC_OK);
        jobs[i] = (struct lsc_job){sizeof jobs[i], i + 1, MAILCHIMP_JOB_KIND,
                                   email, payloads[i], len, 1, 0};
        jobs[i].key = NULL;
        res[i] = (struct lsc_job_result){.struct_size = sizeof res[i],
                                         .status = LSC_ERR_INTERNAL};
    }
}

static void seed_members(struct fx *x, size_t n)
{
    json_t *m = json_array();
    for (size_t i = 0; i < n; i++) {
        char email[64];
        snprintf(email, sizeof email, "m%03zu@example.com", i);
        json_array_append_new(m, json_pack("{s:s,s:s}", "list", "L1",
                                           "email", email));
    }
    json_t *seed = json_pack("{s:o}", "members", m);
    char *s = json_dumps(seed, JSON_COMPACT);
    fake_ctl(&x->fake, "POST", "/_fake/seed", s, NULL);
    free(s);
    json_decref(seed);
}

#define NJOBS 40

static void test_connection_limit_pressure(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    seed_members(x, NJOBS);
    fake_ctl(&x->fake, "POST", "/_fake/config", "{\"delay_ms\":60}", NULL);
    struct lsc_job jobs[NJOBS];
    char *payloads[NJOBS];
    struct lsc_job_result res[NJOBS];
    make_jobs(NJOBS, jobs, payloads, res);
    assert_int_equal(mailchimp_job_run(x->mc, jobs, res, NJOBS), LSC_OK);
    for (size_t i = 0; i < NJOBS; i++) {
        assert_int_equal(res[i].status, LSC_OK);
    }
    json_t *j = NULL;
    fake_ctl(&x->fake, "GET", "/_fake/requests", NULL, &j);
    int max_in_flight = (int)json_integer_value(json_object_get(j,
                                                    "max_in_flight"));
    assert_true(max_in_flight <= 10);
    assert_true(max_in_flight >= 2); /* really concurrent */
    assert_int_equal(json_integer_value(json_object_get(j, "throttled")), 0);
    json_decref(j);
    struct mailchimp_stats s;
    mailchimp_stats_get(x->mc, &s);
    assert_true(s.max_in_flight <= 10);
    assert_int_equal(s.written, NJOBS);

    /* The activity import (on by default) keeps one slot: the writers
     * use 9 of the 10; without the import, all 10. */
    assert_true(max_in_flight <= 9);
    mailchimp_destroy(x->mc);
    x->cfg.activity_import = false;
    x->mc = client(x, FAKE_API_KEY, NULL);
    fake_ctl(&x->fake, "POST", "/_fake/clear", "{}", NULL);
    for (size_t i = 0; i < NJOBS; i++) {
        res[i].status = LSC_ERR_INTERNAL;
    }
    assert_int_equal(mailchimp_job_run(x->mc, jobs, res, NJOBS), LSC_OK);
    fake_ctl(&x->fake, "GET", "/_fake/requests", NULL, &j);
    assert_int_equal(json_integer_value(json_object_get(j, "max_in_flight")),
                     10);
    json_decref(j);
    x->cfg.activity_import = true;

    /* Another app of the same user holds 7 of the 10 slots: the fake
     * allows 3.  429s come back, are retried with backoff, and every
     * write lands. */
    fake_ctl(&x->fake, "POST", "/_fake/config",
             "{\"delay_ms\":30,\"max_conn\":3}", NULL);
    fake_ctl(&x->fake, "POST", "/_fake/clear", "{}", NULL);
    x->cfg.max_attempts = 8;
    struct mailchimp *mc2 = client(x, FAKE_API_KEY, NULL);
    for (size_t i = 0; i < NJOBS; i++) {
        res[i].status = LSC_ERR_INTERNAL;
    }
    assert_int_equal(mailchimp_job_run(mc2, jobs, res, NJOBS), LSC_OK);
    size_t retry = 0;
    for (int round = 0; round < 5; round++) {
        retry = 0;
        for (size_t i = 0; i < NJOBS; i++) {
            if (res[i].status == LSC_ERR_RETRYABLE) {
                assert_true(res[i].retry_after_ms > 0);
                assert_non_null(strstr(res[i].reason, "HTTP 429"));
                retry++;
                mailchimp_job_run(mc2, &jobs[i], &res[i], 1);
            } else {
                assert_int_equal(res[i].status, LSC_OK);
            }
        }
        if (retry == 0) {
            break;
        }
    }
    for (size_t i = 0; i < NJOBS; i++) {
        assert_int_equal(res[i].status, LSC_OK);
    }
    mailchimp_stats_get(mc2, &s);
    assert_true(s.throttled > 0);
    fake_ctl(&x->fake, "GET", "/_fake/requests", NULL, &j);
    assert_true(json_integer_value(json_object_get(j, "throttled")) > 0);
    json_decref(j);
    mailchimp_destroy(mc2);
    for (size_t i = 0; i < NJOBS; i++) {
        free(payloads[i]);
    }
}

/* Two processes on one data directory (the daemon and `leadscore
 * backfill`, say) share the user's 10 connections: together never more
 * in flight, so Mailchimp throttles neither. */
static void test_connections_shared_by_processes(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    seed_members(x, NJOBS);
    fake_ctl(&x->fake, "POST", "/_fake/config", "{\"delay_ms\":60}", NULL);
    x->cfg.activity_import = false; /* each alone would use all 10 */
    char dir[] = "/tmp/lsc-mc-share.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct lsc_job jobs[NJOBS];
    char *payloads[NJOBS];
    struct lsc_job_result res[NJOBS];
    make_jobs(NJOBS, jobs, payloads, res);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    struct mailchimp *mc = client(x, FAKE_API_KEY, NULL);
    char err[256];
    assert_int_equal(mailchimp_share_connections(mc, dir, err, sizeof err),
                     LSC_OK);
    enum lsc_status st = mailchimp_job_run(mc, jobs, res, NJOBS);
    struct mailchimp_stats s;
    mailchimp_stats_get(mc, &s);
    mailchimp_destroy(mc);
    if (pid == 0) {
        _exit(st == LSC_OK && s.written == NJOBS && s.throttled == 0 ? 0 : 1);
    }
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    assert_int_equal(st, LSC_OK);
    assert_int_equal(s.written, NJOBS);
    json_t *j = NULL;
    fake_ctl(&x->fake, "GET", "/_fake/requests", NULL, &j);
    int max_in_flight = (int)json_integer_value(json_object_get(j,
                                                    "max_in_flight"));
    assert_true(max_in_flight <= 10);
    assert_true(max_in_flight >= 6); /* both really ran at once */
    assert_int_equal(json_integer_value(json_object_get(j, "throttled")), 0);
    json_decref(j);

    /* No such directory: refused with the reason; the client still
     * writes, on its own budget. */
    mc = client(x, FAKE_API_KEY, NULL);
    assert_int_equal(mailchimp_share_connections(mc, "/nonexistent/lsc", err,
                                                 sizeof err),
                     LSC_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/lsc/mailchimp-conn-"));
    assert_int_equal(mailchimp_job_run(mc, jobs, res, 4), LSC_OK);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(res[i].status, LSC_OK);
    }
    mailchimp_destroy(mc);
    for (size_t i = 0; i < NJOBS; i++) {
        free(payloads[i]);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_failing_period_then_recovery(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    seed_members(x, 3);
    x->cfg.max_attempts = 1;
    struct mailchimp *mc = client(x, FAKE_API_KEY, NULL);
    struct lsc_job jobs[3];
    char *payloads[3];
    struct lsc_job_result res[3];
    make_jobs(3, jobs, payloads, res);
    fake_ctl(&x->fake, "POST", "/_fake/fail",
             "{\"count\":100,\"status\":503}", NULL);
    assert_int_equal(mailchimp_job_run(mc, jobs, res, 3), LSC_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(res[i].status, LSC_ERR_RETRYABLE);
        assert_true(res[i].retry_after_ms > 0);
        assert_non_null(strstr(res[i].reason, "HTTP 503"));
        assert_non_null(strstr(res[i].reason, "[request 00000000-fake"));
        assert_null(strstr(res[i].reason, FAKE_API_KEY));
    }
    /* A 502 from the CDN, without JSON: still retryable. */
    fake_ctl(&x->fake, "POST", "/_fake/fail",
             "{\"count\":100,\"status\":502,\"no_body\":true}", NULL);
    assert_int_equal(mailchimp_job_run(mc, jobs, res, 3), LSC_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(res[i].status, LSC_ERR_RETRYABLE);
    }
    /* Recovery: the same jobs, run again, all land. */
    fake_ctl(&x->fake, "POST", "/_fake/fail", "{\"count\":0}", NULL);
    for (size_t i = 0; i < 3; i++) {
        jobs[i].attempt = 3;
    }
    assert_int_equal(mailchimp_job_run(mc, jobs, res, 3), LSC_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(res[i].status, LSC_OK);
        char email[64];
        snprintf(email, sizeof email, "m%03zu@example.com", i);
        json_t *m = fake_member(&x->fake, "L1", email);
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(m, "merge_fields"), "LSCORE")),
                         (json_int_t)i);
        assert_true(fake_member_has_tag(m, "leadscore-mql"));
        json_decref(m);
    }
    /* A validation error is final, with the X-Request-Id in the reason. */
    fake_ctl(&x->fake, "POST", "/_fake/fail",
             "{\"count\":1,\"status\":400,\"title\":\"Invalid Resource\"}",
             NULL);
    assert_int_equal(mailchimp_job_run(mc, jobs, res, 1), LSC_OK);
    assert_int_equal(res[0].status, LSC_ERR_PERMANENT);
    assert_non_null(strstr(res[0].reason, "HTTP 400 Invalid Resource"));
    assert_non_null(strstr(res[0].reason, "[request 00000000-fake"));
    mailchimp_destroy(mc);
    for (size_t i = 0; i < 3; i++) {
        free(payloads[i]);
    }
}

static void test_timeout_is_retryable(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    seed_members(x, 1);
    fake_ctl(&x->fake, "POST", "/_fake/config", "{\"delay_ms\":1500}", NULL);
    x->cfg.timeout_ms = 300;
    x->cfg.max_attempts = 1;
    struct mailchimp *mc = client(x, FAKE_API_KEY, NULL);
    struct lsc_job jobs[1];
    char *payloads[1];
    struct lsc_job_result res[1];
    make_jobs(1, jobs, payloads, res);
    assert_int_equal(mailchimp_job_run(mc, jobs, res, 1), LSC_OK);
    assert_int_equal(res[0].status, LSC_ERR_RETRYABLE);
    assert_non_null(strstr(res[0].reason, "timed out"));
    assert_true(res[0].retry_after_ms > 0);
    mailchimp_destroy(mc);
    free(payloads[0]);
}

static void test_activity_jsonl(void **state)
{
    struct fx *x = *state;
    seed_activity(x, 3);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    int64_t cp = INT64_MIN;
    size_t n = 0;
    char err[256];
    assert_int_equal(mailchimp_import_activity_jsonl(x->mc, out, &cp, NOW_MS,
                                                     &n, err, sizeof err),
                     LSC_OK);
    fclose(out);
    assert_int_equal(n, 3 + 2 + 1);
    size_t lines = 0;
    for (char *line = buf; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        assert_non_null(json_string_value(json_object_get(j, "contact")));
        assert_non_null(json_string_value(json_object_get(j, "type")));
        assert_non_null(json_string_value(json_object_get(j, "ts")));
        assert_non_null(json_string_value(json_object_get(j, "id")));
        assert_true(json_is_object(json_object_get(j, "props")));
        json_decref(j);
        lines++;
        line = nl + 1;
    }
    assert_int_equal(lines, n);
    assert_true(cp != INT64_MIN);
    free(buf);
}

static void test_bad_api_key_needs_reauth(void **state)
{
    struct fx *x = *state;
    struct mailchimp *mc = client(x, "wrongkey-us1", NULL);
    struct mailchimp_write w = {"jane@example.com", 1, NULL, NULL};
    char err[256];
    assert_int_equal(mailchimp_write(mc, &w, NULL, NULL, err, sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "re-authorization needed"));
    assert_non_null(strstr(err, "API Key Invalid"));
    assert_null(strstr(err, "wrongkey"));
    assert_true(mailchimp_needs_reauth(mc));
    mailchimp_destroy(mc);
}

/* ---- OAuth ------------------------------------------------------------------------ */

/* The metadata endpoint names a "dc" that is no data center: connect
 * refuses it (it would become the API host name) and keeps no token. */
static void test_oauth_bad_dc_refused(void **state)
{
    struct fx *x = *state;
    fake_ctl(&x->fake, "POST", "/_fake/config",
             "{\"metadata_dc\":\"127.0.0.1:9/x?\"}", NULL);
    struct mailchimp_oauth_app app = {
        "fake-client", "fake-secret", "http://127.0.0.1:3000/oauth/callback",
        x->fake.base};
    char *token = (char *)"unchanged";
    char dc[16] = "", ep[128], err[256];
    assert_int_equal(mailchimp_oauth_exchange(&app, "good-code", &token, dc,
                                              sizeof dc, ep, sizeof ep, err,
                                              sizeof err),
                     LSC_ERR_PARSE);
    assert_null(token);
    assert_string_equal(dc, "");
    assert_non_null(strstr(err, "not a Mailchimp data center"));
    /* A credentials file carrying such a dc is refused on load, and a
     * client is not created with it. */
    char path[] = "/tmp/mc-cred-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(mailchimp_credentials_save(path, "tok", "us1.evil", "",
                                                err, sizeof err),
                     LSC_OK);
    char *t2 = NULL;
    assert_int_equal(mailchimp_credentials_load(path, &t2, dc, sizeof dc, err,
                                                sizeof err),
                     LSC_ERR_CORRUPT);
    assert_null(t2);
    unlink(path);
    struct mailchimp_config cfg;
    mailchimp_config_init(&cfg);
    cfg.list_id = strdup("L1");
    struct mailchimp_credentials cred = {NULL, "tok", "us1.evil.example"};
    struct mailchimp *mc = NULL;
    assert_int_equal(mailchimp_create(&cfg, &cred, &mc, err, sizeof err),
                     LSC_ERR_CONFIG);
    assert_null(mc);
    mailchimp_config_destroy(&cfg);
}

static void test_oauth_connect_and_revoke(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    fake_ctl(&x->fake, "POST", "/_fake/seed",
             "{\"members\":[{\"list\":\"L1\",\"email\":\"jane@example.com\"}]}",
             NULL);
    struct mailchimp_oauth_app app = {
        "fake-client", "fake-secret", "http://127.0.0.1:3000/oauth/callback",
        x->fake.base};
    char *url = NULL;
    assert_int_equal(mailchimp_oauth_authorize_url(&app, "st8", &url), LSC_OK);
    char want[512];
    snprintf(want, sizeof want,
             "%s/oauth2/authorize?response_type=code&client_id=fake-client"
             "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A3000%%2Foauth%%2F"
             "callback&state=st8",
             x->fake.base);
    assert_string_equal(url, want);
    free(url);

    char *token = NULL;
    char dc[16], ep[128], err[256];
    assert_int_equal(mailchimp_oauth_exchange(&app, "bad-code", &token, dc,
                                              sizeof dc, ep, sizeof ep, err,
                                              sizeof err),
                     LSC_ERR_AUTH);
    assert_null(token);
    assert_int_equal(mailchimp_oauth_exchange(&app, "good-code", &token, dc,
                                              sizeof dc, ep, sizeof ep, err,
                                              sizeof err),
                     LSC_OK);
    assert_string_equal(dc, "us1");
    assert_string_equal(ep, x->fake.base);

    char path[] = "/tmp/mc-cred-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(mailchimp_credentials_save(path, token, dc, ep, err,
                                                sizeof err),
                     LSC_OK);
    char *tok2 = NULL;
    char dc2[16];
    assert_int_equal(mailchimp_credentials_load(path, &tok2, dc2, sizeof dc2,
                                                err, sizeof err),
                     LSC_OK);
    assert_string_equal(tok2, token);
    assert_string_equal(dc2, "us1");
    free(tok2);
    remove(path);

    struct mailchimp *mc = client(x, NULL, token);
    struct mailchimp_write w = {"jane@example.com", 50, "mql", NULL};
    assert_int_equal(mailchimp_write(mc, &w, NULL, NULL, err, sizeof err),
                     LSC_OK);
    json_t *reqs = fake_requests(&x->fake);
    json_t *last = json_array_get(reqs, json_array_size(reqs) - 1);
    assert_string_equal(rs(last, "auth"), "bearer");
    json_decref(reqs);

    /* The user revokes the app: re-authorize state, jobs kept. */
    fake_ctl(&x->fake, "POST", "/_fake/revoke", "{}", NULL);
    assert_int_equal(mailchimp_oauth_metadata(x->fake.base, token, dc,
                                              sizeof dc, ep, sizeof ep, err,
                                              sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "invalid_token"));
    struct lsc_job job[1];
    char *payload[1];
    struct lsc_job_result res[1];
    make_jobs(1, job, payload, res);
    assert_int_equal(mailchimp_job_run(mc, job, res, 1), LSC_OK);
    assert_int_equal(res[0].status, LSC_ERR_RETRYABLE);
    assert_true(res[0].retry_after_ms >= 60000);
    assert_non_null(strstr(res[0].reason, "re-authorization needed"));
    assert_true(mailchimp_needs_reauth(mc));
    /* No further request once in that state. */
    fake_ctl(&x->fake, "POST", "/_fake/clear", "{}", NULL);
    assert_int_equal(mailchimp_job_run(mc, job, res, 1), LSC_OK);
    reqs = fake_requests(&x->fake);
    assert_int_equal(json_array_size(reqs), 0);
    json_decref(reqs);
    free(payload[0]);
    free(token);
    mailchimp_destroy(mc);
}

/* ---- backfill ---------------------------------------------------------------------- */

static void test_backfill_batches(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    seed_members(x, 2);
    struct mailchimp_write w[] = {{"m000@example.com", 10, "cold", NULL},
                                  {"m001@example.com", 90, "sql", NULL},
                                  {"stranger@example.com", 50, "mql", NULL}};
    char bid[64];
    struct mailchimp_backfill_result res;
    char err[256];
    assert_int_equal(mailchimp_backfill(x->mc, w, 3, bid, sizeof bid, &res,
                                        10000, err, sizeof err),
                     LSC_OK);
    assert_true(bid[0] != '\0');
    assert_int_equal(res.errored, 2); /* the stranger's PATCH and tags: 404 */
    /* From the results archive: the stranger is a skip, not a failure. */
    assert_true(res.results_read);
    assert_int_equal(res.written, 2);
    assert_int_equal(res.skipped_unknown, 1);
    assert_int_equal(res.failed, 0);
    assert_int_equal(res.missing, 0);
    assert_int_equal(res.n_reasons, 0);
    json_t *m = fake_member(&x->fake, "L1", "m001@example.com");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(m, "merge_fields"), "LSCORE")),
                     90);
    assert_true(fake_member_has_tag(m, "leadscore-sql"));
    json_decref(m);
    assert_null(fake_member(&x->fake, "L1", "stranger@example.com"));
    json_t *reqs = fake_requests(&x->fake);
    assert_string_equal(rs(req(reqs, 0), "path"), "/3.0/batches");
    json_t *body = json_loads(rs(req(reqs, 0), "body"), 0, NULL);
    json_t *ops = json_object_get(body, "operations");
    assert_int_equal(json_array_size(ops), 6);
    assert_string_equal(rs(json_array_get(ops, 0), "method"), "PATCH");
    /* params is GET-only: the member query rides in the path. */
    char hash[MAILCHIMP_HASH_LEN + 1], want[128];
    assert_int_equal(mailchimp_subscriber_hash("m000@example.com", hash,
                                               sizeof hash, err, sizeof err),
                     LSC_OK);
    /* the flag in the operation's params, the path bare */
    snprintf(want, sizeof want, "/lists/L1/members/%s", hash);
    assert_string_equal(rs(json_array_get(ops, 0), "path"), want);
    assert_string_equal(rs(json_object_get(json_array_get(ops, 0), "params"),
                           "skip_merge_validation"),
                        "true");
    snprintf(want, sizeof want, "/lists/L1/members/%s/tags", hash);
    assert_string_equal(rs(json_array_get(ops, 1), "path"), want);
    assert_string_equal(rs(json_array_get(ops, 0), "operation_id"),
                        "leadscore-0-member");
    assert_string_equal(rs(json_array_get(ops, 5), "operation_id"),
                        "leadscore-2-tags");
    assert_true(json_is_string(json_object_get(json_array_get(ops, 0),
                                               "body")));
    json_decref(body);
    json_decref(reqs);
    /* The archive was fetched once, without our credentials (it is a
     * pre-signed URL). */
    json_t *all = NULL;
    fake_ctl(&x->fake, "GET", "/_fake/requests", NULL, &all);
    json_t *dl = json_object_get(all, "downloads");
    assert_int_equal(json_array_size(dl), 1);
    assert_string_equal(rs(json_array_get(dl, 0), "auth"), "");
    json_decref(all);
}

/* Operations refused inside the batch are failures with their reason;
 * 404s are skips; a member without an address sends nothing. */
static void test_backfill_counts_failures_with_reasons(void **state)
{
    struct fx *x = *state;
    /* LTIER seeded as a number: every tier value is refused. */
    fake_ctl(&x->fake, "POST", "/_fake/seed",
             "{\"merge_fields\":[{\"list\":\"L1\",\"tag\":\"LSCORE\","
             "\"name\":\"Lead score\",\"type\":\"number\"},{\"list\":\"L1\","
             "\"tag\":\"LTIER\",\"name\":\"Lead tier\",\"type\":\"number\"}]}",
             NULL);
    seed_members(x, 3);
    struct mailchimp_write w[] = {{"m000@example.com", 10, "cold", NULL},
                                  {"m001@example.com", 20, NULL, NULL},
                                  {"m002@example.com", 30, "sql", NULL},
                                  {"gone@example.com", 40, "mql", NULL},
                                  {"not-an-address", 50, "mql", NULL}};
    struct mailchimp_backfill_result res;
    char err[256];
    assert_int_equal(mailchimp_backfill(x->mc, w, 5, NULL, 0, &res, 10000,
                                        err, sizeof err),
                     LSC_OK);
    if (!res.results_read) {
        fail_msg("results not read: %s", res.results_error);
    }
    assert_int_equal(res.written, 1);         /* m001: score only */
    assert_int_equal(res.skipped_unknown, 1); /* gone@ */
    assert_int_equal(res.failed, 2);          /* m000, m002 */
    assert_int_equal(res.missing, 0);
    assert_int_equal(res.n_reasons, 1);
    assert_int_equal(res.reasons[0].count, 2);
    assert_string_equal(res.reasons[0].reason,
                        "HTTP 400 Invalid Resource: Your merge fields were "
                        "invalid. (LTIER: Please enter a number)");
    assert_string_equal(res.reasons[0].example, "m000@example.com");
}

/* How many of the recorded requests were polls of a batch. */
static size_t batch_polls(json_t *reqs)
{
    size_t polls = 0, i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        polls += strncmp(rs(r, "path"), "/3.0/batches/", 13) == 0;
    }
    return polls;
}

/* A batch deleted while it runs: GET /batches/{id} answers "started"
 * twice, then 404, and the backfill stops at that poll. */
static void test_backfill_batch_gone(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    seed_members(x, 1);
    fake_ctl(&x->fake, "POST", "/_fake/config",
             "{\"batch_polls\":5,\"batch_vanish\":2}", NULL);
    struct mailchimp_write w = {"m000@example.com", 10, "cold", NULL};
    struct mailchimp_backfill_result res;
    char bid[64], err[512];
    int64_t t0 = http_mono_ms();
    assert_int_equal(mailchimp_backfill(x->mc, &w, 1, bid, sizeof bid, &res,
                                        60000, err, sizeof err),
                     LSC_ERR_PERMANENT);
    assert_true(http_mono_ms() - t0 < 5000);
    assert_non_null(strstr(err, "is gone"));
    assert_non_null(strstr(err, bid));
    assert_non_null(strstr(err, "HTTP 404 Resource Not Found"));
    json_t *reqs = fake_requests(&x->fake);
    assert_int_equal(batch_polls(reqs), 3);
    json_decref(reqs);
}

/* A batch that runs for a while is polled until finished. */
static void test_backfill_polls_until_finished(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    seed_members(x, 1);
    fake_ctl(&x->fake, "POST", "/_fake/config", "{\"batch_polls\":3}",
             NULL);
    struct mailchimp_write w = {"m000@example.com", 10, "cold", NULL};
    struct mailchimp_backfill_result res;
    char err[256];
    assert_int_equal(mailchimp_backfill(x->mc, &w, 1, NULL, 0, &res, 30000,
                                        err, sizeof err),
                     LSC_OK);
    assert_true(res.results_read);
    assert_int_equal(res.written, 1);
    json_t *reqs = fake_requests(&x->fake);
    assert_int_equal(batch_polls(reqs), 4); /* started x3, finished */
    json_decref(reqs);
}

/* An archive that cannot be read: the writes stand, the counts are
 * marked unknown with the reason. */
static void test_backfill_results_unreadable(void **state)
{
    struct fx *x = *state;
    seed_fields(x);
    seed_members(x, 1);
    struct mailchimp_write w = {"m000@example.com", 10, "cold", NULL};
    struct mailchimp_backfill_result res;
    char err[256];
    fake_ctl(&x->fake, "POST", "/_fake/config",
             "{\"batch_results\":\"corrupt\"}", NULL);
    assert_int_equal(mailchimp_backfill(x->mc, &w, 1, NULL, 0, &res, 10000,
                                        err, sizeof err),
                     LSC_OK);
    assert_false(res.results_read);
    assert_non_null(strstr(res.results_error, "truncated"));
    assert_int_equal(res.written, 0);
    fake_ctl(&x->fake, "POST", "/_fake/config",
             "{\"batch_results\":\"none\"}", NULL);
    assert_int_equal(mailchimp_backfill(x->mc, &w, 1, NULL, 0, &res, 10000,
                                        err, sizeof err),
                     LSC_OK);
    assert_false(res.results_read);
    assert_non_null(strstr(res.results_error, "no response_body_url"));
}

int main(int argc, char **argv)
{
    fake_exe = argc > 1 ? argv[1] : getenv("FAKE_MAILCHIMP");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_setup_empty_then_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_setup_pages_merge_fields, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_with_other_required_field,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_type_conflict, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_setup_unknown_list, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_tier_change_flips_tags,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_member_skipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_member_created, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_activity_import_twice_same_events, setup, teardown),
        cmocka_unit_test(test_checkpoint_file),
        cmocka_unit_test_setup_teardown(test_connection_limit_pressure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connections_shared_by_processes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_period_then_recovery,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_is_retryable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_activity_jsonl, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_api_key_needs_reauth, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_oauth_bad_dc_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_oauth_connect_and_revoke, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_backfill_counts_failures_with_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backfill_batch_gone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_backfill_polls_until_finished,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_backfill_results_unreadable,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_backfill_batches, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("mailchimp_integration", tests, NULL,
                                       NULL);
}
