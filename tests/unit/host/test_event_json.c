/*
 * Unit tests: JSON Lines event decoding and time parsing (host/lib).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "event_json.h"

static int setup(void **state)
{
    *state = hl_event_decoder_create();
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    hl_event_decoder_destroy(*state);
    return 0;
}

/* Decode `line`; returns the status, event in *ev, message in err. */
static enum lsc_status decode(void **state, const char *line,
                              struct lsc_event *ev, char *err)
{
    err[0] = '\0';
    return hl_event_decode(*state, line, strlen(line), ev, err, 256);
}

static void expect_error(void **state, const char *line, const char *msg)
{
    struct lsc_event ev;
    char err[256];
    assert_int_equal(decode(state, line, &ev, err), LSC_ERR_PARSE);
    assert_string_equal(err, msg);
}

static void test_event_decode_activity_full(void **state)
{
    struct lsc_event ev;
    char err[256];
    const char *line =
        "{\"contact\":\"c-1\",\"type\":\"page_view\","
        "\"ts\":\"2026-11-01T10:00:00Z\",\"id\":\"e-9\","
        "\"props\":{\"url\":\"/pricing\",\"n\":3,\"ok\":true,\"x\":null,"
        "\"tags\":[\"a\", 1],\"o\":{\"k\": \"v\"}}}\n";
    assert_int_equal(decode(state, line, &ev, err), LSC_OK);
    assert_int_equal(ev.struct_size, sizeof ev);
    assert_int_equal(ev.kind, LSC_EVENT_ACTIVITY);
    assert_string_equal(ev.contact_id, "c-1");
    assert_string_equal(ev.type, "page_view");
    assert_string_equal(ev.event_id, "e-9");
    assert_true(ev.ts_ms == 1793527200000LL);
    assert_int_equal(ev.n_props, 6);
    assert_string_equal(ev.props[0].key, "url");
    assert_int_equal(ev.props[0].value.type, LSC_VAL_STRING);
    assert_string_equal(ev.props[0].value.u.str.ptr, "/pricing");
    assert_int_equal(ev.props[0].value.u.str.len, 8);
    assert_int_equal(ev.props[1].value.type, LSC_VAL_NUMBER);
    assert_true(ev.props[1].value.u.num == 3.0);
    assert_int_equal(ev.props[2].value.type, LSC_VAL_BOOL);
    assert_true(ev.props[2].value.u.boolean);
    assert_int_equal(ev.props[3].value.type, LSC_VAL_NULL);
    assert_int_equal(ev.props[4].value.type, LSC_VAL_JSON);
    assert_string_equal(ev.props[4].value.u.str.ptr, "[\"a\",1]");
    assert_string_equal(ev.props[5].value.u.str.ptr, "{\"k\":\"v\"}");
    assert_null(ev.state);
    assert_int_equal(ev.now_ms, 0);
}

/* Fields are found by exact name only; a repeated key keeps its last
 * value (as jansson's json_object_get answers). */
static void test_event_decode_field_names(void **state)
{
    struct lsc_event ev;
    char err[256];
    const char *line =
        "{\"contac\":\"no\",\"contact\":\"c-1\",\"tipe\":\"no\","
        "\"type\":\"email_open\",\"tz\":\"no\",\"ts\":1793527200,"
        "\"ix\":\"no\",\"propz\":{\"a\":1},\"contact\":\"c-2\","
        "\"CONTACT\":\"no\"}";
    assert_int_equal(decode(state, line, &ev, err), LSC_OK);
    assert_string_equal(ev.contact_id, "c-2");
    assert_string_equal(ev.type, "email_open");
    assert_true(ev.ts_ms == 1793527200000LL);
    assert_null(ev.event_id);
    assert_int_equal(ev.n_props, 0);
    expect_error(state, "{\"contac\":\"x\",\"type\":\"a\",\"ts\":1}",
                 "field 'contact': required");
    expect_error(state, "{\"contact\":\"x\",\"tipe\":\"a\",\"ts\":1}",
                 "field 'type': required");
    expect_error(state, "{\"contact\":\"x\",\"type\":\"a\",\"tz\":1}",
                 "field 'ts': required");
}

static void test_event_decode_contact_kinds(void **state)
{
    struct lsc_event ev;
    char err[256];
    assert_int_equal(decode(state,
                            "{\"contact\":\"a\",\"type\":\"contact.created\","
                            "\"ts\":0}",
                            &ev, err),
                     LSC_OK);
    assert_int_equal(ev.kind, LSC_EVENT_CONTACT_CREATED);
    assert_null(ev.props);
    assert_int_equal(ev.n_props, 0);
    assert_null(ev.event_id);
    assert_int_equal(decode(state,
                            "{\"contact\":\"a\",\"type\":\"contact.updated\","
                            "\"ts\":0,\"props\":{\"email\":null}}",
                            &ev, err),
                     LSC_OK);
    assert_int_equal(ev.kind, LSC_EVENT_CONTACT_UPDATED);
    /* null is passed on: it removes the property when merged. */
    assert_int_equal(ev.n_props, 1);
    assert_int_equal(ev.props[0].value.type, LSC_VAL_NULL);
    assert_int_equal(decode(state,
                            "{\"contact\":\"a\",\"type\":\"contact.deleted\","
                            "\"ts\":0}",
                            &ev, err),
                     LSC_OK);
    assert_int_equal(ev.kind, LSC_EVENT_CONTACT_DELETED);
    expect_error(state,
                 "{\"contact\":\"a\",\"type\":\"contact.merged\",\"ts\":0}",
                 "field 'type': unknown contact event 'contact.merged' "
                 "(expected contact.created, contact.updated or "
                 "contact.deleted)");
}

static void test_event_decode_required_fields(void **state)
{
    expect_error(state, "{\"type\":\"x\",\"ts\":0}",
                 "field 'contact': required");
    expect_error(state, "{\"contact\":\"a\",\"ts\":0}",
                 "field 'type': required");
    expect_error(state, "{\"contact\":\"a\",\"type\":\"x\"}",
                 "field 'ts': required");
}

static void test_event_decode_wrong_types(void **state)
{
    const char *contact_msg =
        "field 'contact': expected a string of 1 to 256 bytes without NUL";
    expect_error(state, "{\"contact\":7,\"type\":\"x\",\"ts\":0}",
                 contact_msg);
    expect_error(state, "{\"contact\":\"\",\"type\":\"x\",\"ts\":0}",
                 contact_msg);
    expect_error(state, "{\"contact\":\"a\\u0000b\",\"type\":\"x\",\"ts\":0}",
                 contact_msg);
    expect_error(state, "{\"contact\":\"a\",\"type\":true,\"ts\":0}",
                 "field 'type': expected a non-empty string without NUL");
    expect_error(state, "{\"contact\":\"a\",\"type\":\"x\",\"ts\":\"soon\"}",
                 "field 'ts': expected an RFC 3339 time or Unix seconds");
    expect_error(state, "{\"contact\":\"a\",\"type\":\"x\",\"ts\":[1]}",
                 "field 'ts': expected an RFC 3339 time or Unix seconds");
    expect_error(state,
                 "{\"contact\":\"a\",\"type\":\"x\",\"ts\":\"1793527200\"}",
                 "field 'ts': expected an RFC 3339 time or Unix seconds");
    expect_error(state, "{\"contact\":\"a\",\"type\":\"x\",\"ts\":0,\"id\":5}",
                 "field 'id': expected a non-empty string");
    expect_error(state,
                 "{\"contact\":\"a\",\"type\":\"x\",\"ts\":0,\"props\":[]}",
                 "field 'props': expected an object");
    expect_error(state, "[1,2]", "expected a JSON object");
}

static void test_event_decode_contact_length(void **state)
{
    char line[600];
    char id[258];
    memset(id, 'x', 256);
    id[256] = '\0';
    snprintf(line, sizeof line, "{\"contact\":\"%s\",\"type\":\"x\",\"ts\":0}",
             id);
    struct lsc_event ev;
    char err[256];
    assert_int_equal(decode(state, line, &ev, err), LSC_OK);
    assert_int_equal(strlen(ev.contact_id), 256);
    id[256] = 'x';
    id[257] = '\0';
    snprintf(line, sizeof line, "{\"contact\":\"%s\",\"type\":\"x\",\"ts\":0}",
             id);
    assert_int_equal(decode(state, line, &ev, err), LSC_ERR_PARSE);
}

static void test_event_decode_invalid_json_names_column(void **state)
{
    struct lsc_event ev;
    char err[256];
    assert_int_equal(decode(state, "{\"contact\": \"a\",", &ev, err),
                     LSC_ERR_PARSE);
    assert_non_null(strstr(err, "invalid JSON at column"));
}

static void test_event_decode_unix_seconds(void **state)
{
    struct lsc_event ev;
    char err[256];
    assert_int_equal(
        decode(state, "{\"contact\":\"a\",\"type\":\"x\",\"ts\":1793527200.25}",
               &ev, err),
        LSC_OK);
    assert_true(ev.ts_ms == 1793527200250LL);
}

static void test_time_parse_rfc3339_variants(void **state)
{
    int64_t ms;
    assert_int_equal(hl_time_parse("2026-11-01T10:00:00Z", &ms), LSC_OK);
    assert_true(ms == 1793527200000LL);
    assert_int_equal(hl_time_parse("2026-11-01t10:00:00z", &ms), LSC_OK);
    assert_true(ms == 1793527200000LL);
    assert_int_equal(hl_time_parse("2026-11-01 10:00:00Z", &ms), LSC_OK);
    assert_true(ms == 1793527200000LL);
    assert_int_equal(hl_time_parse("2026-11-01T12:00:00+02:00", &ms), LSC_OK);
    assert_true(ms == 1793527200000LL);
    assert_int_equal(hl_time_parse("2026-11-01T04:30:00-05:30", &ms), LSC_OK);
    assert_true(ms == 1793527200000LL);
    assert_int_equal(hl_time_parse("2026-11-01T10:00:00.5Z", &ms), LSC_OK);
    assert_true(ms == 1793527200500LL);
    assert_int_equal(hl_time_parse("2026-11-01T10:00:00.123456789Z", &ms),
                     LSC_OK);
    assert_true(ms == 1793527200123LL);
    assert_int_equal(hl_time_parse("2026-11-01T10:00:00.9996Z", &ms), LSC_OK);
    assert_true(ms == 1793527201000LL);
    assert_int_equal(hl_time_parse("1970-01-01T00:00:00Z", &ms), LSC_OK);
    assert_true(ms == 0);
    assert_int_equal(hl_time_parse("1969-12-31T23:59:59Z", &ms), LSC_OK);
    assert_true(ms == -1000);
    assert_int_equal(hl_time_parse("2024-02-29T00:00:00Z", &ms), LSC_OK);
}

static void test_time_parse_rejects(void **state)
{
    static const char *bad[] = {
        "", "2026-11-01", "2026-11-01T10:00:00", "2026-13-01T10:00:00Z",
        "2026-02-29T10:00:00Z", "2026-11-01T24:00:00Z", "2026-11-01T10:60:00Z",
        "2026-11-01T10:00:00+0200", "2026-11-01T10:00:00.Z",
        "2026-11-01T10:00:00Zjunk", "26-11-01T10:00:00Z", "12abc", "1.", "-",
        "1e9",
    };
    int64_t ms;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (hl_time_parse(bad[i], &ms) != LSC_ERR_PARSE) {
            fail_msg("accepted '%s'", bad[i]);
        }
    }
}

static void test_time_parse_unix_seconds(void **state)
{
    int64_t ms;
    assert_int_equal(hl_time_parse("1793527200", &ms), LSC_OK);
    assert_true(ms == 1793527200000LL);
    assert_int_equal(hl_time_parse("1793527200.5", &ms), LSC_OK);
    assert_true(ms == 1793527200500LL);
    assert_int_equal(hl_time_parse("-1.5", &ms), LSC_OK);
    assert_true(ms == -1500);
    assert_int_equal(hl_time_from_seconds(1e300, &ms), LSC_ERR_PARSE);
}

static void test_time_format(void **state)
{
    char buf[32];
    assert_string_equal(hl_time_format(1793527200000LL, buf, sizeof buf),
                        "2026-11-01T10:00:00Z");
    assert_string_equal(hl_time_format(1793527200250LL, buf, sizeof buf),
                        "2026-11-01T10:00:00.250Z");
    assert_string_equal(hl_time_format(-1000, buf, sizeof buf),
                        "1969-12-31T23:59:59Z");
    assert_string_equal(hl_time_format(-1, buf, sizeof buf),
                        "1969-12-31T23:59:59.999Z");
    int64_t ms;
    assert_int_equal(hl_time_parse("2000-02-29T23:59:59.999Z", &ms), LSC_OK);
    assert_string_equal(hl_time_format(ms, buf, sizeof buf),
                        "2000-02-29T23:59:59.999Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_event_decode_activity_full,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_decode_field_names, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_event_decode_contact_kinds,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_decode_required_fields,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_decode_wrong_types, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_event_decode_contact_length,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_event_decode_invalid_json_names_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_decode_unix_seconds, setup,
                                        teardown),
        cmocka_unit_test(test_time_parse_rfc3339_variants),
        cmocka_unit_test(test_time_parse_rejects),
        cmocka_unit_test(test_time_parse_unix_seconds),
        cmocka_unit_test(test_time_format),
    };
    return cmocka_run_group_tests_name("host_event_json", tests, NULL, NULL);
}
