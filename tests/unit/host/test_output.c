/*
 * Unit tests: report formatting, exact output (host/lib).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "output.h"

static const struct lsc_report_group groups[] = {
    {"fit", 25, 25, 40, 0},
    {"engagement", 38.1666, 38.1666, 60, 2592000},
    {"disqualifiers", 0, 0, NAN, 0},
};

static const struct lsc_report_rule rules[] = {
    {"decision-maker", "fit", true, 15, 15, 0, INT64_MIN},
    {"pricing-page", "engagement", false, 14.114, 16, 2, 1793527200000LL},
    {"company-size", "fit", true, 10, 10, 0, INT64_MIN},
    {"newsletter-open", "engagement", false, 6.005, 8, 4, 1793527200000LL},
};

static struct lsc_report report(void)
{
    return (struct lsc_report){
        .struct_size = sizeof(struct lsc_report), .contact_id = "c-1",
        .model = "b2b", .primary = true, .at_ms = 1793527200000LL,
        .score = 63, .tier = "mql", .total = 63.17, .scale_max = 100,
        .groups = groups, .n_groups = 3, .rules = rules, .n_rules = 4,
    };
}

static void test_output_num2(void **state)
{
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0, "0"}, {25, "25"}, {38.1666, "38.17"}, {14.106, "14.11"},
        {2.5, "2.5"}, {-10, "-10"}, {-0.001, "0"}, {0.004, "0"},
        {1e6, "1000000"}, {NAN, "null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hl_buf b;
        hl_buf_init(&b);
        hl_buf_num2(&b, cases[i].v);
        assert_string_equal(b.data, cases[i].s);
        hl_buf_finish(&b);
    }
}

/* The "%.2f" definition hl_buf_num2 must match byte for byte. */
static void num2_reference(char *out, size_t outlen, double v)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.2f", round(v * 100.0) / 100.0);
    char *dot = strchr(tmp, '.');
    if (dot != NULL) {
        char *end = tmp + strlen(tmp);
        while (end > dot + 1 && end[-1] == '0') {
            *--end = '\0';
        }
        if (end == dot + 1) {
            *dot = '\0';
        }
    }
    snprintf(out, outlen, "%s", strcmp(tmp, "-0") == 0 ? "0" : tmp);
}

static void test_output_num2_matches_printf(void **state)
{
    static const double edges[] = {
        0.005, -0.005, 0.015, 1.005, 2.675, -2.675, 0.125, 99.995,
        -0.0, 1e-300, 99999999999.995, -99999999999.99, 1e11, 1e12,
        123456789012.345, 1e300, -1e300, 4.35, 0.285, 1.115,
    };
    char want[80];
    struct hl_buf b;
    hl_buf_init(&b);
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        hl_buf_reset(&b);
        hl_buf_num2(&b, edges[i]);
        num2_reference(want, sizeof want, edges[i]);
        assert_string_equal(b.data, want);
    }
    /* Scores, half-way cases and a spread of magnitudes. */
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        switch (i % 4) {
        case 0: v = (double)(int64_t)(x % 2000001) / 1000.0 - 1000.0; break;
        case 1: v = (double)(int64_t)(x % 400001) * 0.005 - 1000.0; break;
        case 2: v = ldexp((double)(x >> 11) / 9007199254740992.0 - 0.5,
                          (int)(x % 80) - 30);
                break;
        default: v = (double)(x % 100000000) / 100.0; break;
        }
        hl_buf_reset(&b);
        hl_buf_num2(&b, v);
        num2_reference(want, sizeof want, v);
        assert_string_equal(b.data, want);
    }
    hl_buf_finish(&b);
}

static void test_output_json_exact(void **state)
{
    struct lsc_report r = report();
    struct hl_buf b;
    hl_buf_init(&b);
    hl_output_json(&b, &r, 2);
    assert_string_equal(
        b.data,
        "{\"contact\":\"c-1\",\"score\":63,\"tier\":\"mql\","
        "\"groups\":{\"fit\":25,\"engagement\":38.17,\"disqualifiers\":0},"
        "\"top\":[{\"rule\":\"decision-maker\",\"points\":15},"
        "{\"rule\":\"pricing-page\",\"points\":14.11,\"awards\":2}]}");
    hl_buf_finish(&b);
}

static void test_output_json_shadows_and_escapes(void **state)
{
    struct lsc_report r = report();
    r.contact_id = "a\"b\\c\n";
    r.n_rules = 0;
    struct lsc_report s1 = report();
    s1.model = "challenger";
    s1.score = 70;
    s1.tier = "sql";
    struct lsc_report s2 = report();
    s2.model = "v3";
    s2.tier = NULL;
    struct hl_buf b;
    hl_buf_init(&b);
    hl_output_json_open(&b, &r, 3);
    hl_output_json_shadow(&b, 0, &s1);
    hl_output_json_shadow(&b, 1, &s2);
    hl_output_json_close(&b, 2);
    assert_string_equal(
        b.data,
        "{\"contact\":\"a\\\"b\\\\c\\n\",\"score\":63,\"tier\":\"mql\","
        "\"groups\":{\"fit\":25,\"engagement\":38.17,\"disqualifiers\":0},"
        "\"top\":[],\"shadows\":{\"challenger\":{\"score\":70,\"tier\":"
        "\"sql\"},\"v3\":{\"score\":63,\"tier\":null}}}");
    hl_buf_finish(&b);
}

/* The string escaper scans eight bytes a step: a byte to escape at any
 * position of any length, next to UTF-8 and 0x7f, against a byte-wise
 * reference. */
static void ref_escape(char *out, const char *s, size_t len)
{
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\n') {
            o += sprintf(o, "\\n");
        } else if (c == '\r') {
            o += sprintf(o, "\\r");
        } else if (c == '\t') {
            o += sprintf(o, "\\t");
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = '\0';
}

static void check_escape(const char *in, size_t len)
{
    char want[24 * 6 + 3];
    struct hl_buf b;
    hl_buf_init(&b);
    hl_buf_json_str(&b, in, len);
    ref_escape(want, in, len);
    assert_string_equal(b.data, want);
    hl_buf_finish(&b);
}

static void test_output_json_str_every_position(void **state)
{
    (void)state;
    static const unsigned char special[] = {'"', '\\', '\n', 0x01, 0x1f,
                                            '\t', 0x00};
    static const unsigned char plain[] = {' ', 0x7f, 0xc3, 0xe9, '!', '#',
                                          '[', ']', 'A', 0x80, 0xff};
    char in[24];
    for (size_t len = 1; len <= 20; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t k = 0; k < sizeof special; k++) {
                for (size_t i = 0; i < len; i++) {
                    in[i] = (char)plain[(i + k) % sizeof plain];
                }
                in[pos] = (char)special[k];
                check_escape(in, len);
            }
        }
        /* and no byte to escape at all */
        for (size_t i = 0; i < len; i++) {
            in[i] = (char)plain[i % sizeof plain];
        }
        check_escape(in, len);
    }
}

static void test_output_csv_exact(void **state)
{
    struct lsc_report r = report();
    struct lsc_report s = report();
    s.model = "chall,enger";
    s.score = 70;
    s.tier = "sql";
    struct hl_buf b;
    hl_buf_init(&b);
    hl_output_csv_header(&b, &r);
    hl_output_csv_header_shadow(&b, s.model);
    hl_output_csv_end(&b);
    hl_output_csv_row(&b, &r, 3);
    hl_output_csv_shadow(&b, &s);
    hl_output_csv_end(&b);
    assert_string_equal(
        b.data,
        "contact,score,tier,fit,engagement,disqualifiers,top,"
        "\"chall,enger.score\",\"chall,enger.tier\"\n"
        "c-1,63,mql,25,38.17,0,decision-maker:15;pricing-page:14.11;"
        "company-size:10,70,sql\n");
    hl_buf_finish(&b);
}

static void test_output_table_exact(void **state)
{
    struct lsc_report r = report();
    struct hl_buf b;
    hl_buf_init(&b);
    hl_output_table_header(&b, 8, 6);
    hl_output_table_row(&b, &r, 8, 6);
    r.contact_id = "c-2";
    r.n_rules = 0;
    r.score = 0;
    r.tier = "cold";
    hl_output_table_row(&b, &r, 8, 6);
    assert_string_equal(
        b.data,
        "CONTACT   SCORE  TIER    REASONS\n"
        "c-1          63  mql     decision-maker +15, pricing-page +14.11 "
        "(2 awards), company-size +10\n"
        "c-2           0  cold    -\n");
    hl_buf_finish(&b);
}

/* Control bytes in ids, tiers and rule names are escaped, never raw: a
 * newline would start a fake row, an ESC would drive the terminal. */
static void test_output_table_escapes_controls(void **state)
{
    (void)state;
    struct lsc_report r = report();
    r.contact_id = "a\nb\tc\x1b[2J\\";
    r.tier = "m\rq";
    r.n_rules = 1;
    struct lsc_report_rule rule = r.rules[0];
    rule.rule = "x\x7f\xc2\x9by\xc3\xa9";
    r.rules = &rule;
    struct hl_buf b;
    hl_buf_init(&b);
    hl_output_table_row(&b, &r, 16, 6);
    assert_string_equal(b.data, "a\\nb\\tc\\x1b[2J\\\\     63  m\\rq    "
                                "x\\x7f\\xc2\\x9by\xc3\xa9 +15\n");
    assert_int_equal(hl_text_width(r.contact_id), 16);
    assert_int_equal(hl_text_width("plain"), 5);
    hl_buf_finish(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_num2),
        cmocka_unit_test(test_output_num2_matches_printf),
        cmocka_unit_test(test_output_json_exact),
        cmocka_unit_test(test_output_json_shadows_and_escapes),
        cmocka_unit_test(test_output_json_str_every_position),
        cmocka_unit_test(test_output_csv_exact),
        cmocka_unit_test(test_output_table_exact),
        cmocka_unit_test(test_output_table_escapes_controls),
    };
    return cmocka_run_group_tests_name("host_output", tests, NULL, NULL);
}
