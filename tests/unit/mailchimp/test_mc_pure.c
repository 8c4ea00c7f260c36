/*
 * Unit tests of the Mailchimp connector's pure helpers: subscriber hash,
 * data center, request builders, response parsers, activity events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailchimp/mailchimp.h"
#include "mailchimp/mc_client.h"

static void test_hash_vectors(void **state)
{
    (void)state;
    char h[33];
    char err[128];
    assert_int_equal(mailchimp_subscriber_hash("jane@example.com", h,
                                               sizeof h, err, sizeof err),
                     LSC_OK);
    assert_string_equal(h, "9e26471d35a78862c17e467d87cddedf");
    assert_int_equal(mailchimp_subscriber_hash("  Jane@Example.COM\t\n", h,
                                               sizeof h, err, sizeof err),
                     LSC_OK);
    assert_string_equal(h, "9e26471d35a78862c17e467d87cddedf");
    assert_int_equal(
        mailchimp_subscriber_hash("Urist.McVankab@FreddiesJokes.com", h,
                                  sizeof h, err, sizeof err),
        LSC_OK);
    assert_string_equal(h, "62eeb292278cc15f5817cb78f7790b08");
}

static void test_hash_rejects(void **state)
{
    (void)state;
    char h[33];
    char small[8];
    char err[128];
    assert_int_equal(mailchimp_subscriber_hash("   ", h, sizeof h, err,
                                               sizeof err),
                     LSC_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "not an email"));
    assert_int_equal(mailchimp_subscriber_hash("nobody", h, sizeof h, err,
                                               sizeof err),
                     LSC_ERR_INVALID_ARG);
    assert_int_equal(mailchimp_subscriber_hash("a@b.c", small, sizeof small,
                                               err, sizeof err),
                     LSC_ERR_INVALID_ARG);
}

static void test_dc_from_key(void **state)
{
    (void)state;
    char dc[16];
    char err[128];
    assert_int_equal(mailchimp_dc_from_key("0123456789abcdef0123-us6", dc,
                                           sizeof dc, err, sizeof err),
                     LSC_OK);
    assert_string_equal(dc, "us6");
    assert_int_equal(mailchimp_dc_from_key("abc-def-us21", dc, sizeof dc,
                                           err, sizeof err),
                     LSC_OK);
    assert_string_equal(dc, "us21");
    assert_int_equal(mailchimp_dc_from_key("nosuffix", dc, sizeof dc, err,
                                           sizeof err),
                     LSC_ERR_CONFIG);
    assert_null(strstr(err, "nosuffix")); /* never echo the key */
    assert_int_equal(mailchimp_dc_from_key("abc-US6", dc, sizeof dc, err,
                                           sizeof err),
                     LSC_ERR_CONFIG);
    assert_int_equal(mailchimp_dc_from_key("abc-", dc, sizeof dc, err,
                                           sizeof err),
                     LSC_ERR_CONFIG);
    /* The suffix becomes a host name: nothing but a data center. */
    assert_int_equal(mailchimp_dc_from_key("abc-us6.evil.example", dc,
                                           sizeof dc, err, sizeof err),
                     LSC_ERR_CONFIG);
}

static void test_dc_valid(void **state)
{
    (void)state;
    const char *good[] = {"us1", "us6", "us19", "us21", "eu1", "abcd123"};
    const char *bad[] = {"",      "us",        "19",           "US1",
                         "us1.",  "us1.evil",  "evil.com/us1", "us1@x",
                         "us1/",  "us 1",      "us1234",       "abcde1",
                         "u1",    "us1\n",     "us-1",         "1us"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!mailchimp_dc_valid(good[i])) {
            fail_msg("\"%s\" refused", good[i]);
        }
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (mailchimp_dc_valid(bad[i])) {
            fail_msg("\"%s\" accepted", bad[i]);
        }
    }
    assert_false(mailchimp_dc_valid(NULL));
}

static void test_merge_tag_valid(void **state)
{
    (void)state;
    assert_true(mailchimp_merge_tag_valid("LSCORE"));
    assert_true(mailchimp_merge_tag_valid("LTIER"));
    assert_true(mailchimp_merge_tag_valid("ABCDEFGHIJ"));
    assert_false(mailchimp_merge_tag_valid("ABCDEFGHIJK"));
    assert_false(mailchimp_merge_tag_valid("lscore"));
    assert_false(mailchimp_merge_tag_valid(""));
    assert_false(mailchimp_merge_tag_valid("L-SCORE"));
}

static void test_build_tags(void **state)
{
    (void)state;
    const char *off[] = {"leadscore-cold", "leadscore-sql", "leadscore-sql",
                         "leadscore-mql"};
    char *s = mailchimp_build_tags("leadscore-sql", off, 4, false);
    assert_non_null(s);
    assert_string_equal(
        s, "{\"tags\":[{\"name\":\"leadscore-sql\",\"status\":\"active\"},"
           "{\"name\":\"leadscore-cold\",\"status\":\"inactive\"},"
           "{\"name\":\"leadscore-mql\",\"status\":\"inactive\"}],"
           "\"is_syncing\":false}");
    free(s);
    s = mailchimp_build_tags(NULL, off, 1, true);
    assert_string_equal(s, "{\"tags\":[{\"name\":\"leadscore-cold\","
                           "\"status\":\"inactive\"}],\"is_syncing\":true}");
    free(s);
}

static void test_build_members(void **state)
{
    (void)state;
    char *s = mailchimp_build_member_patch("LSCORE", 87, "LTIER", "sql");
    assert_string_equal(s,
                        "{\"merge_fields\":{\"LSCORE\":87,\"LTIER\":\"sql\"}}");
    free(s);
    s = mailchimp_build_member_patch("LSCORE", 12.5, "LTIER", NULL);
    assert_string_equal(s, "{\"merge_fields\":{\"LSCORE\":12.5}}");
    free(s);
    s = mailchimp_build_member_put("a@b.com", "transactional", "LSCORE", 3,
                                   "LTIER", "cold");
    assert_string_equal(s, "{\"email_address\":\"a@b.com\",\"status_if_new\":"
                           "\"transactional\",\"merge_fields\":{\"LSCORE\":3,"
                           "\"LTIER\":\"cold\"}}");
    free(s);
    assert_null(mailchimp_build_member_put(NULL, "subscribed", "LSCORE", 1,
                                           "LTIER", NULL));
    s = mailchimp_build_merge_field("Lead score", "number", "LSCORE");
    assert_string_equal(s, "{\"name\":\"Lead score\",\"type\":\"number\","
                           "\"tag\":\"LSCORE\",\"required\":false,"
                           "\"public\":false}");
    free(s);
}

static void test_build_batch(void **state)
{
    (void)state;
    struct mailchimp_batch_op ops[] = {
        {"PATCH", "/lists/L1/members/abc", "w-1",
         "{\"merge_fields\":{\"LSCORE\":1}}", NULL},
        {"POST", "/lists/L1/members/abc/tags", NULL, NULL, NULL},
    };
    char *s = mailchimp_build_batch(ops, 2);
    assert_string_equal(
        s, "{\"operations\":[{\"method\":\"PATCH\",\"path\":"
           "\"/lists/L1/members/abc\",\"operation_id\":\"w-1\",\"body\":"
           "\"{\\\"merge_fields\\\":{\\\"LSCORE\\\":1}}\"},{\"method\":"
           "\"POST\",\"path\":\"/lists/L1/members/abc/tags\"}]}");
    free(s);
    /* query parameters go in "params", an object */
    struct mailchimp_batch_op q[] = {
        {"PATCH", "/lists/L1/members/abc", NULL, NULL,
         "{\"skip_merge_validation\":\"true\"}"},
    };
    s = mailchimp_build_batch(q, 1);
    assert_string_equal(
        s, "{\"operations\":[{\"method\":\"PATCH\",\"path\":"
           "\"/lists/L1/members/abc\",\"params\":{\"skip_merge_validation\":"
           "\"true\"}}]}");
    free(s);
    q[0].params = "[1]";
    assert_null(mailchimp_build_batch(q, 1));
}

static void test_problem_reason(void **state)
{
    (void)state;
    char out[256];
    const char *b =
        "{\"type\":\"https://mailchimp.com/developer/marketing/docs/errors/\","
        "\"title\":\"Invalid Resource\",\"status\":400,\"detail\":\"Your "
        "merge fields were invalid.\",\"instance\":\"995c5cb0-1\","
        "\"errors\":[{\"field\":\"LSCORE\",\"message\":\"Please enter a "
        "number\"}]}";
    mailchimp_problem_reason(400, b, strlen(b), NULL, out, sizeof out);
    assert_string_equal(out, "HTTP 400 Invalid Resource: Your merge fields "
                             "were invalid. (LSCORE: Please enter a number) "
                             "[request 995c5cb0-1]");
    mailchimp_problem_reason(400, b, strlen(b), "hdr-id", out, sizeof out);
    assert_non_null(strstr(out, "[request hdr-id]"));
    /* The summary is the same text without the per-request part. */
    mailchimp_problem_summary(400, b, strlen(b), out, sizeof out);
    assert_string_equal(out, "HTTP 400 Invalid Resource: Your merge fields "
                             "were invalid. (LSCORE: Please enter a number)");
    mailchimp_problem_reason(429, "", 0, NULL, out, sizeof out);
    assert_string_equal(out, "HTTP 429 (no body)");
    mailchimp_problem_reason(502, "<html>\n</html>", 14, "r1", out,
                             sizeof out);
    assert_string_equal(out, "HTTP 502 (body is not JSON) [request r1]");
    const char *nl = "{\"title\":\"A\\nB\",\"detail\":\"x\"}";
    mailchimp_problem_reason(400, nl, strlen(nl), NULL, out, sizeof out);
    assert_null(strchr(out, '\n'));
    char tiny[10];
    mailchimp_problem_reason(400, b, strlen(b), NULL, tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 9);
}

static void test_parse_metadata(void **state)
{
    (void)state;
    char dc[16], ep[128], err[256];
    const char *ok = "{\"dc\":\"us1\",\"role\":\"owner\",\"accountname\":\"x\","
                     "\"api_endpoint\":\"https://us1.api.mailchimp.com\"}";
    assert_int_equal(mailchimp_parse_metadata(ok, strlen(ok), dc, sizeof dc,
                                              ep, sizeof ep, err, sizeof err),
                     LSC_OK);
    assert_string_equal(dc, "us1");
    assert_string_equal(ep, "https://us1.api.mailchimp.com");
    const char *bad = "{\"error\":\"invalid_token\"}";
    assert_int_equal(mailchimp_parse_metadata(bad, strlen(bad), dc, sizeof dc,
                                              ep, sizeof ep, err, sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "invalid_token"));
    assert_int_equal(mailchimp_parse_metadata("{}", 2, dc, sizeof dc, ep,
                                              sizeof ep, err, sizeof err),
                     LSC_ERR_PARSE);
    /* A dc that is not a data center is refused, and not echoed. */
    const char *evil = "{\"dc\":\"evil.example/x\",\"api_endpoint\":"
                       "\"https://evil.example\"}";
    dc[0] = '\0';
    assert_int_equal(mailchimp_parse_metadata(evil, strlen(evil), dc,
                                              sizeof dc, ep, sizeof ep, err,
                                              sizeof err),
                     LSC_ERR_PARSE);
    assert_string_equal(dc, "");
    assert_non_null(strstr(err, "not a Mailchimp data center"));
    assert_null(strstr(err, "evil"));
    const char *upper = "{\"dc\":\"US1\"}";
    assert_int_equal(mailchimp_parse_metadata(upper, strlen(upper), dc,
                                              sizeof dc, ep, sizeof ep, err,
                                              sizeof err),
                     LSC_ERR_PARSE);
    char *tok = NULL;
    const char *tb = "{\"access_token\":\"T0K\",\"expires_in\":0,"
                     "\"scope\":null}";
    assert_int_equal(mailchimp_parse_token(tb, strlen(tb), &tok, err,
                                           sizeof err),
                     LSC_OK);
    assert_string_equal(tok, "T0K");
    free(tok);
    const char *te = "{\"error\":\"invalid_grant\"}";
    assert_int_equal(mailchimp_parse_token(te, strlen(te), &tok, err,
                                           sizeof err),
                     LSC_ERR_AUTH);
    assert_null(tok);
}

static void test_parse_merge_fields(void **state)
{
    (void)state;
    const char *b = "{\"merge_fields\":[{\"tag\":\"FNAME\",\"type\":\"text\"},"
                    "{\"tag\":\"LSCORE\",\"type\":\"number\"}],"
                    "\"total_items\":2}";
    bool a, c;
    char ta[16] = "", tb[16] = "", err[128];
    size_t total, on_page;
    assert_int_equal(mailchimp_parse_merge_fields(b, strlen(b), "LSCORE", &a,
                                                  ta, sizeof ta, "LTIER", &c,
                                                  tb, sizeof tb, &total,
                                                  &on_page, err, sizeof err),
                     LSC_OK);
    assert_true(a);
    assert_false(c);
    assert_string_equal(ta, "number");
    assert_int_equal(total, 2);
    assert_int_equal(on_page, 2);
    /* One page of a larger audience: the page and the total differ. */
    const char *p = "{\"merge_fields\":[{\"tag\":\"FNAME\","
                    "\"type\":\"text\"}],\"total_items\":7}";
    assert_int_equal(mailchimp_parse_merge_fields(p, strlen(p), "LSCORE", &a,
                                                  NULL, 0, "LTIER", &c, NULL,
                                                  0, &total, &on_page, err,
                                                  sizeof err),
                     LSC_OK);
    assert_false(a);
    assert_int_equal(total, 7);
    assert_int_equal(on_page, 1);
    assert_int_equal(mailchimp_parse_merge_fields("[]", 2, "A", &a, NULL, 0,
                                                  "B", &c, NULL, 0, NULL, NULL,
                                                  err, sizeof err),
                     LSC_ERR_PARSE);
}

static void test_parse_batch_subscribe(void **state)
{
    (void)state;
    const char *b = "{\"new_members\":[],\"updated_members\":[{}],"
                    "\"errors\":[{\"email_address\":\"x@y.z\",\"error\":"
                    "\"x@y.z looks fake or invalid\",\"error_code\":"
                    "\"ERROR_GENERIC\"}],\"total_created\":0,"
                    "\"total_updated\":1,\"error_count\":1}";
    struct mailchimp_batch_result r;
    char err[64];
    assert_int_equal(mailchimp_parse_batch_subscribe(b, strlen(b), &r, err,
                                                     sizeof err),
                     LSC_OK);
    assert_int_equal(r.total_updated, 1);
    assert_int_equal(r.error_count, 1);
    assert_string_equal(r.first_error, "x@y.z: x@y.z looks fake or invalid");
}

static void test_time(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(mailchimp_parse_time("2026-11-01T10:00:00+00:00", &ms),
                     LSC_OK);
    assert_int_equal(ms, INT64_C(1793527200000));
    assert_int_equal(mailchimp_parse_time("2026-11-01T12:00:00+02:00", &ms),
                     LSC_OK);
    assert_int_equal(ms, INT64_C(1793527200000));
    assert_int_equal(mailchimp_parse_time("2026-11-01T10:00:00.250Z", &ms),
                     LSC_OK);
    assert_int_equal(ms, INT64_C(1793527200250));
    assert_int_equal(mailchimp_parse_time("2026-11-01", &ms), LSC_ERR_PARSE);
    assert_int_equal(mailchimp_parse_time("2026-13-01T10:00:00Z", &ms),
                     LSC_ERR_PARSE);
    char out[40];
    mailchimp_format_time(INT64_C(1793527200000), out, sizeof out);
    assert_string_equal(out, "2026-11-01T10:00:00+00:00");
    mailchimp_format_time(0, out, sizeof out);
    assert_string_equal(out, "1970-01-01T00:00:00+00:00");
}

struct collected {
    int n;
    char lines[8][512];
    char ids[8][40];
};

static enum lsc_status collect(void *ud, const struct mailchimp_activity *a)
{
    struct collected *c = ud;
    if (c->n < 8) {
        snprintf(c->lines[c->n], sizeof c->lines[0], "%s", a->jsonl);
        snprintf(c->ids[c->n], sizeof c->ids[0], "%s", a->event_id);
    }
    c->n++;
    return LSC_OK;
}

static const char *activity_page =
    "{\"emails\":[{\"campaign_id\":\"c1\",\"list_id\":\"L1\","
    "\"email_id\":\"9e26471d35a78862c17e467d87cddedf\","
    "\"email_address\":\"Jane@Example.com\",\"activity\":["
    "{\"action\":\"open\",\"type\":\"\",\"timestamp\":"
    "\"2026-11-01T10:00:00+00:00\",\"ip\":\"10.0.0.1\"},"
    "{\"action\":\"click\",\"type\":\"\",\"timestamp\":"
    "\"2026-11-01T10:05:00+00:00\",\"url\":\"https://x.example/pricing\"},"
    "{\"action\":\"bounce\",\"type\":\"soft\",\"timestamp\":"
    "\"2026-10-01T10:05:00+00:00\"}]},"
    "{\"email_address\":\"bob@example.com\",\"email_id\":\"e2\","
    "\"activity\":[{\"action\":\"bounce\",\"type\":\"hard\","
    "\"timestamp\":\"2026-11-02T00:00:00+00:00\"},"
    "{\"action\":\"unknown\",\"timestamp\":\"2026-11-02T00:00:00Z\"}]}],"
    "\"campaign_id\":\"c1\",\"total_items\":7}";

static void test_activity_parse(void **state)
{
    (void)state;
    struct collected c = {0};
    struct mailchimp_activity_ctx ctx = {"c1", "newsletter",
                                         INT64_C(1793527200000), false};
    size_t n_emails, total;
    int64_t max_ts = INT64_MIN;
    char err[128];
    assert_int_equal(mailchimp_parse_email_activity(
                         activity_page, strlen(activity_page), &ctx, collect,
                         &c, &n_emails, &total, &max_ts, err, sizeof err),
                     LSC_OK);
    assert_int_equal(n_emails, 2);
    assert_int_equal(total, 7);
    assert_int_equal(c.n, 3); /* the October bounce is before since */
    assert_int_equal(max_ts, INT64_C(1793577600000));
    char want[512];
    snprintf(want, sizeof want,
             "{\"contact\":\"jane@example.com\",\"type\":\"email_open\","
             "\"ts\":\"2026-11-01T10:00:00+00:00\",\"id\":\"%s\","
             "\"props\":{\"campaign_id\":\"c1\",\"campaign_type\":"
             "\"newsletter\"}}",
             c.ids[0]);
    assert_string_equal(c.lines[0], want);
    assert_non_null(strstr(c.lines[1], "\"type\":\"email_click\""));
    assert_non_null(strstr(c.lines[1], "\"url\":\"https://x.example/pricing\""));
    /* the attribute the bundled models test: "bounce" (hard/soft) */
    assert_non_null(strstr(c.lines[2], "\"bounce\":\"hard\""));
    assert_null(strstr(c.lines[2], "bounce_type"));
    assert_int_equal(strncmp(c.ids[0], "mc-", 3), 0);
    assert_int_equal(strlen(c.ids[0]), 35);

    /* Stable: the same page again gives the same ids. */
    struct collected d = {0};
    max_ts = INT64_MIN;
    ctx.contact_is_hash = true;
    assert_int_equal(mailchimp_parse_email_activity(
                         activity_page, strlen(activity_page), &ctx, collect,
                         &d, &n_emails, &total, &max_ts, err, sizeof err),
                     LSC_OK);
    assert_int_equal(d.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(c.ids[i], d.ids[i]);
    }
    assert_non_null(strstr(d.lines[0], "\"contact\":\"9e26471d35a78862c17e4"));
    assert_int_not_equal(strcmp(c.ids[0], c.ids[1]), 0);

    assert_int_equal(mailchimp_parse_email_activity("{}", 2, &ctx, collect,
                                                    &d, &n_emails, &total,
                                                    &max_ts, err, sizeof err),
                     LSC_ERR_PARSE);
}

/* The job backoff: within [c/2, c], c doubling up to the cap, so a
 * job's delays never shrink. */
static void test_job_backoff(void **state)
{
    (void)state;
    assert_int_equal(mc_job_backoff_ms(100, 1, 2000, 0), 50);
    assert_int_equal(mc_job_backoff_ms(100, 1, 2000, 50), 100);
    assert_int_equal(mc_job_backoff_ms(100, 3, 2000, 0), 200);
    assert_int_equal(mc_job_backoff_ms(100, 3, 2000, 200), 400);
    assert_int_equal(mc_job_backoff_ms(100, 9, 2000, 0), 1000);
    assert_int_equal(mc_job_backoff_ms(100, 60, 2000, 1000), 2000);
    int64_t prev_max = 0;
    for (unsigned a = 1; a <= 12; a++) {
        int64_t lo = mc_job_backoff_ms(30000, a, 3600000, 0);
        assert_true(lo >= prev_max || lo == 1800000);
        prev_max = mc_job_backoff_ms(30000, a, 3600000, UINT64_MAX);
        assert_true(prev_max <= 3600000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_hash_rejects),
        cmocka_unit_test(test_dc_from_key),
        cmocka_unit_test(test_dc_valid),
        cmocka_unit_test(test_merge_tag_valid),
        cmocka_unit_test(test_build_tags),
        cmocka_unit_test(test_build_members),
        cmocka_unit_test(test_build_batch),
        cmocka_unit_test(test_problem_reason),
        cmocka_unit_test(test_parse_metadata),
        cmocka_unit_test(test_parse_merge_fields),
        cmocka_unit_test(test_parse_batch_subscribe),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_activity_parse),
        cmocka_unit_test(test_job_backoff),
    };
    return cmocka_run_group_tests_name("mailchimp_pure", tests, NULL, NULL);
}
