/*
 * Unit tests of the daemon's webhook code (host/daemon/hooks.c):
 * HubSpot v3 and Mailchimp signature vectors (valid, forged, stale,
 * missing), requestUri normalization, and the delivery mappings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hooks.h"

#define HS_SECRET "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
#define HS_URI "https://www.example.com/webhook_uri"
#define HS_BODY "{\"example_field\":\"example_value\"}"
#define HS_TS "1700000000000"
/* ../shared/docs/crm-apis.md section 1.7, v3 vector. */
#define HS_SIG "rQEKkaNUiu+1qGF//O/pw4BCzstSqO1PyUnGICmf+7o="

static void test_hooks_hubspot_vector(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(hooks_sign_hubspot(HS_SECRET, "POST", HS_URI, HS_BODY,
                                        strlen(HS_BODY), HS_TS, out,
                                        sizeof out),
                     LSC_OK);
    assert_string_equal(out, HS_SIG);
    char err[256];
    assert_int_equal(hooks_verify_hubspot(HS_SECRET, "POST", HS_URI, HS_BODY,
                                          strlen(HS_BODY), HS_TS, HS_SIG,
                                          1700000000000 + 299999, 300000, err,
                                          sizeof err),
                     LSC_OK);
}

static void test_hooks_hubspot_refusals(void **state)
{
    (void)state;
    char err[256];
    const int64_t now = 1700000001000;
    /* Forged: one character of the body differs. */
    assert_int_equal(hooks_verify_hubspot(HS_SECRET, "POST", HS_URI,
                                          "{\"example_field\":\"example_valuE\"}",
                                          strlen(HS_BODY), HS_TS, HS_SIG, now,
                                          300000, err, sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "does not match"));
    /* Wrong secret. */
    assert_int_equal(hooks_verify_hubspot("other", "POST", HS_URI, HS_BODY,
                                          strlen(HS_BODY), HS_TS, HS_SIG, now,
                                          300000, err, sizeof err),
                     LSC_ERR_AUTH);
    /* Stale. */
    assert_int_equal(hooks_verify_hubspot(HS_SECRET, "POST", HS_URI, HS_BODY,
                                          strlen(HS_BODY), HS_TS, HS_SIG,
                                          1700000000000 + 300001, 300000, err,
                                          sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "stale"));
    assert_non_null(strstr(err, "more than 300 s"));
    /* The message follows hubspot.max_age, not a fixed 5 minutes. */
    assert_int_equal(hooks_verify_hubspot(HS_SECRET, "POST", HS_URI, HS_BODY,
                                          strlen(HS_BODY), HS_TS, HS_SIG,
                                          1700000000000 + 60001, 60000, err,
                                          sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "more than 60 s from now"));
    /* Missing headers. */
    assert_int_equal(hooks_verify_hubspot(HS_SECRET, "POST", HS_URI, HS_BODY,
                                          strlen(HS_BODY), HS_TS, NULL, now,
                                          300000, err, sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(hooks_verify_hubspot(HS_SECRET, "POST", HS_URI, HS_BODY,
                                          strlen(HS_BODY), NULL, HS_SIG, now,
                                          300000, err, sizeof err),
                     LSC_ERR_AUTH);
    assert_int_equal(hooks_verify_hubspot(HS_SECRET, "POST", HS_URI, HS_BODY,
                                          strlen(HS_BODY), "17e11", HS_SIG,
                                          now, 300000, err, sizeof err),
                     LSC_ERR_AUTH);
}

static void test_hooks_hubspot_uri_decoding(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(hooks_hubspot_uri("https://h.example/a%3Ab%2Fc?x=%40y%2a"
                                       "%20z%3f",
                                       out, sizeof out),
                     LSC_OK);
    /* %20 stays encoded: it is not in HubSpot's list. */
    assert_string_equal(out, "https://h.example/a:b/c?x=@y*%20z?");
    assert_int_equal(hooks_hubspot_uri("https://long", out, 5),
                     LSC_ERR_INVALID_ARG);
}

#define MC_BODY "type=subscribe&fired_at=2009-03-26+21%3A35%3A57&" \
                "data%5Bemail%5D=A%40b.example"
/* hex(HMAC-SHA256("mc-secret", "1700000000." + body)), computed with
 * Python's hmac module. */
#define MC_HEX "c2d1f483f28840181b63d5741826d69e6d6dd8c3038d8224998ee834f90b2d8c"

static void test_hooks_mailchimp_signature(void **state)
{
    (void)state;
    char hdr[160], err[256];
    assert_int_equal(hooks_sign_mailchimp("mc-secret", 1700000000, MC_BODY,
                                          strlen(MC_BODY), hdr, sizeof hdr),
                     LSC_OK);
    assert_string_equal(hdr, "t=1700000000,v1=" MC_HEX);
    const int64_t now = 1700000000LL * 1000 + 1500;
    assert_int_equal(hooks_verify_mailchimp("mc-secret", hdr, MC_BODY,
                                            strlen(MC_BODY), now, err,
                                            sizeof err),
                     LSC_OK);
    /* Order of the pairs and hex case do not matter. */
    char swapped[200];
    snprintf(swapped, sizeof swapped, "v1=%s,t=1700000000", MC_HEX);
    for (char *c = swapped; *c; c++) {
        if (*c >= 'a' && *c <= 'f') {
            *c = (char)(*c - 32);
        }
    }
    assert_int_equal(hooks_verify_mailchimp("mc-secret", swapped, MC_BODY,
                                            strlen(MC_BODY), now, err,
                                            sizeof err),
                     LSC_OK);
    assert_int_equal(hooks_verify_mailchimp("wrong", hdr, MC_BODY,
                                            strlen(MC_BODY), now, err,
                                            sizeof err),
                     LSC_ERR_AUTH);
    assert_int_equal(hooks_verify_mailchimp("mc-secret", hdr, MC_BODY,
                                            strlen(MC_BODY),
                                            now + 301 * 1000, err,
                                            sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "stale"));
    assert_int_equal(hooks_verify_mailchimp("mc-secret", NULL, MC_BODY,
                                            strlen(MC_BODY), now, err,
                                            sizeof err),
                     LSC_ERR_AUTH);
    assert_int_equal(hooks_verify_mailchimp("mc-secret", "t=1700000000",
                                            MC_BODY, strlen(MC_BODY), now,
                                            err, sizeof err),
                     LSC_ERR_AUTH);
    assert_non_null(strstr(err, "malformed"));
}

static void test_hooks_map_hubspot(void **state)
{
    (void)state;
    const char *body =
        "[{\"eventId\":3816279340,\"subscriptionId\":25,\"portalId\":33,"
        "\"occurredAt\":1462216307945,\"subscriptionType\":"
        "\"contact.propertyChange\",\"attemptNumber\":0,\"objectId\":1246965,"
        "\"propertyName\":\"lifecyclestage\",\"propertyValue\":"
        "\"subscriber\"},"
        "{\"eventId\":3816279480,\"occurredAt\":1462216307945,"
        "\"eventType\":\"contact.creation\",\"objectId\":1246978},"
        "{\"eventId\":1,\"occurredAt\":1,\"subscriptionType\":"
        "\"contact.deletion\",\"objectId\":\"77\"},"
        "{\"eventId\":2,\"occurredAt\":1,\"subscriptionType\":"
        "\"deal.creation\",\"objectId\":5},"
        "{\"eventId\":3,\"subscriptionType\":\"contact.creation\"}]";
    struct hooks_result r;
    char err[256];
    assert_int_equal(hooks_map_hubspot(body, strlen(body), &r, err,
                                       sizeof err),
                     LSC_OK);
    assert_int_equal(r.n_lines, 3);
    assert_int_equal(r.ignored, 1);
    assert_int_equal(r.n_rejects, 1);
    assert_non_null(strstr(r.rejects[0], "event [4]"));
    assert_string_equal(r.lines[0],
                        "{\"contact\":\"1246965\",\"id\":\"hubspot:33:25:3816279340\","
                        "\"props\":{\"lifecyclestage\":\"subscriber\"},"
                        "\"ts\":1462216307.9449999,\"type\":\"contact.updated\"}");
    assert_non_null(strstr(r.lines[1], "\"type\":\"contact.created\""));
    assert_non_null(strstr(r.lines[2], "\"contact\":\"77\""));
    assert_non_null(strstr(r.lines[2], "contact.deleted"));
    hooks_result_free(&r);
    assert_int_equal(hooks_map_hubspot("{nope", 5, &r, err, sizeof err),
                     LSC_ERR_PARSE);
    assert_non_null(strstr(err, "not JSON"));
}

/* eventId is not unique (crm-apis.md 1.7): the id must tell apart events
 * of other subscriptions and accounts, and repeat only for a redelivery. */
static void test_hooks_hubspot_event_key(void **state)
{
    (void)state;
    const char *body =
        "[{\"eventId\":7,\"subscriptionId\":1,\"portalId\":33,"
        "\"occurredAt\":1,\"subscriptionType\":\"contact.creation\","
        "\"objectId\":10},"
        "{\"eventId\":7,\"subscriptionId\":2,\"portalId\":33,"
        "\"occurredAt\":1,\"subscriptionType\":\"contact.creation\","
        "\"objectId\":11},"
        "{\"eventId\":7,\"subscriptionId\":1,\"portalId\":34,"
        "\"occurredAt\":1,\"subscriptionType\":\"contact.creation\","
        "\"objectId\":12},"
        "{\"eventId\":7,\"subscriptionId\":1,\"portalId\":33,"
        "\"occurredAt\":1,\"subscriptionType\":\"contact.creation\","
        "\"objectId\":10,\"attemptNumber\":1},"
        "{\"eventId\":8,\"subscriptionId\":\"x\",\"portalId\":[],"
        "\"occurredAt\":1,\"subscriptionType\":\"contact.creation\","
        "\"objectId\":13}]";
    struct hooks_result r;
    char err[256];
    assert_int_equal(hooks_map_hubspot(body, strlen(body), &r, err,
                                       sizeof err),
                     LSC_OK);
    assert_int_equal(r.n_lines, 4);
    assert_int_equal(r.n_rejects, 1);
    assert_non_null(strstr(r.rejects[0], "event [4]"));
    char id[4][64];
    for (size_t i = 0; i < 4; i++) {
        const char *p = strstr(r.lines[i], "\"id\":\"");
        assert_non_null(p);
        p += 6;
        size_t n = strcspn(p, "\"");
        assert_true(n < sizeof id[i]);
        memcpy(id[i], p, n);
        id[i][n] = '\0';
    }
    assert_string_equal(id[0], "hubspot:33:1:7");
    assert_string_not_equal(id[0], id[1]);
    assert_string_not_equal(id[0], id[2]);
    assert_string_not_equal(id[1], id[2]);
    /* The redelivery (attemptNumber 1) keeps the key. */
    assert_string_equal(id[0], id[3]);
    hooks_result_free(&r);
}

static void test_hooks_map_mailchimp(void **state)
{
    (void)state;
    const char *body =
        "type=unsubscribe&fired_at=2009-03-26+21%3A40%3A57&data%5Baction%5D="
        "unsub&data%5Breason%5D=manual&data%5Bid%5D=8a25ff1d98&"
        "data%5Bemail%5D=API%2Bunsub%40mailchimp.com&"
        "data%5Bmerges%5D%5BFNAME%5D=Mailchimp&data%5Bcampaign_id%5D=cb398d21d2";
    struct hooks_result r;
    char err[256];
    assert_int_equal(hooks_map_mailchimp(body, strlen(body), false, &r, err,
                                         sizeof err),
                     LSC_OK);
    assert_int_equal(r.n_lines, 2);
    assert_non_null(strstr(r.lines[0], "\"contact\":\"api+unsub@mailchimp.com\""));
    assert_non_null(strstr(r.lines[0], "\"mailchimp_status\":\"unsubscribed\""));
    assert_non_null(strstr(r.lines[0], "\"ts\":\"2009-03-26T21:40:57Z\""));
    assert_non_null(strstr(r.lines[1], "\"type\":\"unsubscribe\""));
    assert_non_null(strstr(r.lines[1], "\"reason\":\"manual\""));
    assert_non_null(strstr(r.lines[1], ":2\""));
    hooks_result_free(&r);

    const char *up = "type=upemail&fired_at=2009-03-26+22%3A15%3A09&"
                     "data%5Bnew_id%5D=51aa6c6a04&data%5Bnew_email%5D="
                     "new%40x.com&data%5Bold_email%5D=Old%40x.com";
    assert_int_equal(hooks_map_mailchimp(up, strlen(up), false, &r, err,
                                         sizeof err),
                     LSC_OK);
    assert_int_equal(r.n_lines, 1);
    assert_non_null(strstr(r.lines[0], "\"contact\":\"old@x.com\""));
    assert_non_null(strstr(r.lines[0], "\"email\":\"new@x.com\""));
    /* The new address becomes an alias of the contact. */
    assert_non_null(strstr(r.lines[0], "\"aliases\":[\"new@x.com\"]"));
    hooks_result_free(&r);
    /* Keyed by Mailchimp id: no address alias. */
    assert_int_equal(hooks_map_mailchimp(up, strlen(up), true, &r, err,
                                         sizeof err),
                     LSC_OK);
    assert_int_equal(r.n_lines, 1);
    assert_non_null(strstr(r.lines[0], "\"contact\":\"51aa6c6a04\""));
    assert_null(strstr(r.lines[0], "aliases"));
    hooks_result_free(&r);

    /* cleaned: the activity carries "bounce", as the bundled models'
     * hard-bounce rule ({"field": "bounce", "value": "hard"}) wants. */
    const char *cl = "type=cleaned&fired_at=2009-03-26+22%3A01%3A00&"
                     "data%5Blist_id%5D=a6b5da1054&data%5Bcampaign_id%5D="
                     "4fjk2ma9xd&data%5Breason%5D=hard&data%5Bemail%5D="
                     "api%2Bcleaned%40mailchimp.com";
    assert_int_equal(hooks_map_mailchimp(cl, strlen(cl), false, &r, err,
                                         sizeof err),
                     LSC_OK);
    assert_int_equal(r.n_lines, 2);
    assert_non_null(strstr(r.lines[0], "\"mailchimp_status\":\"cleaned\""));
    assert_non_null(strstr(r.lines[1], "\"type\":\"email_bounce\""));
    assert_non_null(strstr(r.lines[1], "\"bounce\":\"hard\""));
    assert_null(strstr(r.lines[1], "bounce_type"));
    hooks_result_free(&r);

    const char *camp = "type=campaign&fired_at=2009-03-26+22%3A15%3A09&"
                       "data%5Bid%5D=5aa2102003&data%5Bstatus%5D=sent";
    assert_int_equal(hooks_map_mailchimp(camp, strlen(camp), false, &r, err,
                                         sizeof err),
                     LSC_OK);
    assert_int_equal(r.n_lines, 0);
    assert_int_equal(r.ignored, 1);
    hooks_result_free(&r);

    const char *bad = "type=explode&data%5Bemail%5D=a%40b";
    assert_int_equal(hooks_map_mailchimp(bad, strlen(bad), false, &r, err,
                                         sizeof err),
                     LSC_ERR_PARSE);
    assert_non_null(strstr(err, "unknown type 'explode'"));
    const char *noemail = "type=profile&fired_at=2009-03-26+22%3A15%3A09";
    assert_int_equal(hooks_map_mailchimp(noemail, strlen(noemail), false, &r,
                                         err, sizeof err),
                     LSC_ERR_PARSE);
    assert_non_null(strstr(err, "data[email]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks_hubspot_vector),
        cmocka_unit_test(test_hooks_hubspot_refusals),
        cmocka_unit_test(test_hooks_hubspot_uri_decoding),
        cmocka_unit_test(test_hooks_mailchimp_signature),
        cmocka_unit_test(test_hooks_map_hubspot),
        cmocka_unit_test(test_hooks_hubspot_event_key),
        cmocka_unit_test(test_hooks_map_mailchimp),
    };
    return cmocka_run_group_tests_name("daemon_hooks", tests, NULL, NULL);
}
