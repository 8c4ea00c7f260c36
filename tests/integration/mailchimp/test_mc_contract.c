/*
 * Contract tests: drive every operation of the Mailchimp connector
 * against fake_mailchimp, then check every recorded request against the
 * shapes Mailchimp documents (../shared/docs/crm-apis.md section 2, from
 * the Marketing API 3.0 specification): method and path, query
 * parameters, required and allowed body keys, enums, the subscriber hash,
 * authentication and content types.  A request no rule knows fails.
 * argv[1] is the fake's path.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "fake_proc.h"
#include "mailchimp/mailchimp.h"

static const char *fake_exe;

/* ---- small checks ---------------------------------------------------------- */

static char problems[8192];
static size_t n_problems;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void problem(json_t *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = strlen(problems);
    snprintf(problems + len, sizeof problems - len, "%s %s: %s\n",
             json_string_value(json_object_get(r, "method")),
             json_string_value(json_object_get(r, "path")), msg);
    n_problems++;
}

static bool one_of(const char *s, const char *const *set)
{
    for (size_t i = 0; s != NULL && set[i] != NULL; i++) {
        if (strcmp(s, set[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool is_hex32(const char *s)
{
    if (strlen(s) != 32) {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f')) {
            return false;
        }
    }
    return true;
}

static bool is_iso8601(const char *s)
{
    int64_t ms;
    return mailchimp_parse_time(s, &ms) == LSC_OK;
}

/* Splits "/3.0/lists/L1/members/h" into segments; returns the count. */
static int segs(const char *path, char out[8][128])
{
    int n = 0;
    const char *p = path;
    while (*p == '/' && n < 8) {
        p++;
        size_t len = strcspn(p, "/");
        snprintf(out[n++], 128, "%.*s", (int)len, p);
        p += len;
    }
    return n;
}

static void keys_allowed(json_t *r, json_t *obj, const char *what,
                         const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (!one_of(k, allowed)) {
            problem(r, "%s: key \"%s\" is not in the documented schema",
                    what, k);
        }
    }
}

static void keys_required(json_t *r, json_t *obj, const char *what,
                          const char *const *req)
{
    for (size_t i = 0; req[i] != NULL; i++) {
        if (json_object_get(obj, req[i]) == NULL) {
            problem(r, "%s: required key \"%s\" missing", what, req[i]);
        }
    }
}

static void query_count(json_t *r, json_t *q)
{
    const char *c = json_string_value(json_object_get(q, "count"));
    if (c != NULL && (atol(c) < 1 || atol(c) > 1000)) {
        problem(r, "count %s outside 1..1000", c);
    }
    const char *o = json_string_value(json_object_get(q, "offset"));
    if (o != NULL && atol(o) < 0) {
        problem(r, "negative offset");
    }
}

/* ---- the documented shapes ------------------------------------------------ */

static const char *const member_status[] = {"subscribed", "unsubscribed",
                                            "cleaned", "pending",
                                            "transactional", NULL};
static const char *const member_keys[] = {
    "email_address", "email_type", "status", "status_if_new",
    "merge_fields", "interests", "language", "vip", "location",
    "marketing_permissions", "ip_signup", "timestamp_signup", "ip_opt",
    "timestamp_opt", NULL};

static void check_merge_values(json_t *r, json_t *mf)
{
    if (mf == NULL) {
        return;
    }
    if (!json_is_object(mf)) {
        problem(r, "merge_fields must be an object");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(mf, k, v) {
        if (!json_is_string(v) && !json_is_number(v) && !json_is_object(v)) {
            problem(r, "merge field %s: value of an unsupported type", k);
        }
        if (strcmp(k, "LSCORE") == 0 && !json_is_number(v)) {
            problem(r, "LSCORE is a number merge field: send a JSON number");
        }
        if (strcmp(k, "LTIER") == 0 &&
            (!json_is_string(v) || json_string_length(v) > 255)) {
            problem(r, "LTIER is a text merge field: a string <= 255 bytes");
        }
    }
}

static void md5_hex(const char *s, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_md5(), NULL);
    for (unsigned int i = 0; i < 16; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

static void check_member_write(json_t *r, const char *method,
                               const char *hash, json_t *b)
{
    if (!is_hex32(hash)) {
        problem(r, "subscriber hash \"%s\" is not 32 lowercase hex", hash);
    }
    if (!json_is_object(b)) {
        problem(r, "body must be a JSON object");
        return;
    }
    keys_allowed(r, b, "member", member_keys);
    if (json_object_get(b, "tags") != NULL) {
        problem(r, "PUT/PATCH members do not take tags (use .../tags)");
    }
    check_merge_values(r, json_object_get(b, "merge_fields"));
    json_t *st = json_object_get(b, "status");
    if (st != NULL && !one_of(json_string_value(st), member_status)) {
        problem(r, "status not in the enum");
    }
    if (strcmp(method, "PUT") == 0) {
        static const char *const req[] = {"email_address", "status_if_new",
                                          NULL};
        keys_required(r, b, "PUT member (Add_List_Members_2)", req);
        const char *sin =
            json_string_value(json_object_get(b, "status_if_new"));
        if (sin != NULL && !one_of(sin, member_status)) {
            problem(r, "status_if_new not in the enum");
        }
        const char *email =
            json_string_value(json_object_get(b, "email_address"));
        if (email != NULL) {
            char lower[320];
            size_t i = 0;
            for (; email[i] != '\0' && i + 1 < sizeof lower; i++) {
                lower[i] = (char)tolower((unsigned char)email[i]);
            }
            lower[i] = '\0';
            char h[33];
            md5_hex(lower, h);
            if (strcmp(h, hash) != 0) {
                problem(r, "path hash is not MD5(lowercase email_address)");
            }
        }
    } else if (json_object_get(b, "status_if_new") != NULL) {
        problem(r, "status_if_new is only for PUT");
    }
}

static void check_tags(json_t *r, json_t *b)
{
    static const char *const top[] = {"tags", "is_syncing", NULL};
    static const char *const tk[] = {"name", "status", NULL};
    static const char *const ts[] = {"active", "inactive", NULL};
    if (!json_is_object(b)) {
        problem(r, "body must be a JSON object");
        return;
    }
    keys_allowed(r, b, "tags body", top);
    keys_required(r, b, "tags body", top + 0);
    json_t *arr = json_object_get(b, "tags");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        problem(r, "tags must be a non-empty array (an empty one changes "
                   "nothing)");
    }
    size_t i;
    json_t *t;
    json_array_foreach(arr, i, t) {
        keys_allowed(r, t, "tag", tk);
        keys_required(r, t, "tag", tk);
        const char *name = json_string_value(json_object_get(t, "name"));
        if (name == NULL || name[0] == '\0' || strlen(name) > 100) {
            problem(r, "tag name must be 1..100 characters");
        }
        if (!one_of(json_string_value(json_object_get(t, "status")), ts)) {
            problem(r, "tag status must be active or inactive");
        }
    }
    json_t *sync = json_object_get(b, "is_syncing");
    if (sync != NULL && !json_is_boolean(sync)) {
        problem(r, "is_syncing must be a boolean");
    }
}

static void check_merge_field_create(json_t *r, json_t *b)
{
    static const char *const types[] = {"text",     "number",  "address",
                                        "phone",    "date",    "url",
                                        "imageurl", "radio",   "dropdown",
                                        "birthday", "zip",     NULL};
    static const char *const keys[] = {"tag",       "name",          "type",
                                       "required",  "default_value", "public",
                                       "display_order", "options",
                                       "help_text", NULL};
    static const char *const req[] = {"name", "type", NULL};
    if (!json_is_object(b)) {
        problem(r, "body must be a JSON object");
        return;
    }
    keys_allowed(r, b, "merge field", keys);
    keys_required(r, b, "merge field", req);
    if (!one_of(json_string_value(json_object_get(b, "type")), types)) {
        problem(r, "merge field type not in the enum");
    }
    const char *tag = json_string_value(json_object_get(b, "tag"));
    if (tag != NULL && !mailchimp_merge_tag_valid(tag)) {
        problem(r, "merge tag must be <= 10 of A-Z 0-9 _");
    }
    const char *bools[] = {"required", "public"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(b, bools[i]);
        if (v != NULL && !json_is_boolean(v)) {
            problem(r, "%s must be a boolean", bools[i]);
        }
    }
}

static void check_api(json_t *r, const char *method, const char *path,
                      json_t *q, json_t *b, bool nested);

static void check_batches(json_t *r, json_t *b)
{
    static const char *const opk[] = {"method", "path", "params", "body",
                                      "operation_id", NULL};
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH",
                                          "DELETE", NULL};
    static const char *const top[] = {"operations", NULL};
    if (!json_is_object(b)) {
        problem(r, "body must be a JSON object");
        return;
    }
    keys_allowed(r, b, "batch", top);
    json_t *ops = json_object_get(b, "operations");
    if (!json_is_array(ops) || json_array_size(ops) == 0) {
        problem(r, "operations must be a non-empty array");
        return;
    }
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op) {
        static const char *const req[] = {"method", "path", NULL};
        keys_allowed(r, op, "operation", opk);
        keys_required(r, op, "operation", req);
        const char *m = json_string_value(json_object_get(op, "method"));
        const char *p = json_string_value(json_object_get(op, "path"));
        json_t *body = json_object_get(op, "body");
        json_t *params = json_object_get(op, "params");
        json_t *oid = json_object_get(op, "operation_id");
        if (!one_of(m, methods)) {
            problem(r, "operation %zu: method not in the enum", i);
            continue;
        }
        if (p == NULL || p[0] != '/' || strncmp(p, "/3.0", 4) == 0) {
            problem(r, "operation %zu: path must be relative to /3.0", i);
            continue;
        }
        if (body != NULL && !json_is_string(body)) {
            problem(r, "operation %zu: body must be a JSON *string*", i);
            continue;
        }
        if (params != NULL && !json_is_object(params)) {
            problem(r, "operation %zu: params must be an object", i);
        }
        if (oid != NULL && !json_is_string(oid)) {
            problem(r, "operation %zu: operation_id must be a string", i);
        }
        json_t *ob = body != NULL ? json_loads(json_string_value(body), 0,
                                               NULL)
                                  : NULL;
        if (body != NULL && ob == NULL) {
            problem(r, "operation %zu: body string is not JSON", i);
        }
        /* The query parameters of an operation are its `params` ("Any
         * request query parameters", spec); a query inside `path` is
         * documented nowhere. */
        char full[512];
        snprintf(full, sizeof full, "/3.0%s", p);
        char *qm = strchr(full, '?');
        json_t *q = json_is_object(params) ? json_deep_copy(params)
                                           : json_object();
        if (qm != NULL) {
            *qm = '\0';
            problem(r, "operation %zu: a query goes in params, not in path",
                    i);
            char qs[256];
            snprintf(qs, sizeof qs, "%s", qm + 1);
            char *save = NULL;
            for (char *kv = strtok_r(qs, "&", &save); kv != NULL;
                 kv = strtok_r(NULL, "&", &save)) {
                char *eq = strchr(kv, '=');
                if (eq != NULL) {
                    *eq = '\0';
                }
                json_object_set_new(q, kv, json_string(eq != NULL ? eq + 1
                                                                  : ""));
            }
        }
        check_api(r, m, full, q, ob, true);
        json_decref(q);
        json_decref(ob);
    }
}

/* Checks one API call; `nested` for batch operations. */
static void check_api(json_t *r, const char *method, const char *path,
                      json_t *q, json_t *b, bool nested)
{
    char s[8][128];
    int n = segs(path, s);
    bool get = strcmp(method, "GET") == 0;
    if (n < 2 || strcmp(s[0], "3.0") != 0) {
        problem(r, "not under /3.0");
        return;
    }
    if (get && b != NULL) {
        problem(r, "GET with a body");
    }
    if (n == 4 && strcmp(s[1], "lists") == 0 &&
        strcmp(s[3], "merge-fields") == 0) {
        if (get) {
            static const char *const qk[] = {"fields", "exclude_fields",
                                             "count", "offset", "type",
                                             "required", "is_public", NULL};
            keys_allowed(r, q, "query", qk);
            query_count(r, q);
        } else if (strcmp(method, "POST") == 0) {
            check_merge_field_create(r, b);
        } else {
            problem(r, "method not documented for merge-fields");
        }
    } else if (n == 5 && strcmp(s[1], "lists") == 0 &&
               strcmp(s[3], "members") == 0) {
        if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
            static const char *const qk[] = {"skip_merge_validation", NULL};
            keys_allowed(r, q, "query", qk);
            /* Our policy, not the spec's: we write only our own merge
             * fields, so an audience's other required fields must not
             * make Mailchimp refuse the write. */
            const char *smv = json_string_value(
                json_object_get(q, "skip_merge_validation"));
            if (smv == NULL || strcmp(smv, "true") != 0) {
                problem(r, "member writes must send "
                           "skip_merge_validation=true");
            }
            check_member_write(r, method, s[4], b);
        } else if (get) {
            static const char *const qk[] = {"fields", "exclude_fields",
                                             NULL};
            keys_allowed(r, q, "query", qk);
        } else {
            problem(r, "unexpected method on a member");
        }
    } else if (n == 6 && strcmp(s[1], "lists") == 0 &&
               strcmp(s[3], "members") == 0 && strcmp(s[5], "tags") == 0) {
        if (!is_hex32(s[4])) {
            problem(r, "subscriber hash is not 32 lowercase hex");
        }
        if (strcmp(method, "POST") == 0) {
            static const char *const none[] = {NULL};
            keys_allowed(r, q, "query", none);
            check_tags(r, b);
        } else if (get) {
            static const char *const qk[] = {"fields", "exclude_fields",
                                             "count", "offset", NULL};
            keys_allowed(r, q, "query", qk);
            query_count(r, q);
        } else {
            problem(r, "unexpected method on member tags");
        }
    } else if (n == 2 && strcmp(s[1], "batches") == 0 && !nested &&
               strcmp(method, "POST") == 0) {
        static const char *const none[] = {NULL};
        keys_allowed(r, q, "query", none);
        check_batches(r, b);
    } else if (n == 3 && strcmp(s[1], "batches") == 0 && get) {
        static const char *const qk[] = {"fields", "exclude_fields", NULL};
        keys_allowed(r, q, "query", qk);
    } else if (n == 2 && strcmp(s[1], "campaigns") == 0 && get) {
        static const char *const qk[] = {
            "fields",          "exclude_fields",   "count",
            "offset",          "type",             "status",
            "before_send_time", "since_send_time", "before_create_time",
            "since_create_time", "list_id",        "folder_id",
            "member_id",       "sort_field",       "sort_dir",
            NULL};
        static const char *const st[] = {"save", "paused", "schedule",
                                         "sending", "sent", NULL};
        keys_allowed(r, q, "query", qk);
        query_count(r, q);
        const char *status = json_string_value(json_object_get(q, "status"));
        if (status != NULL && !one_of(status, st)) {
            problem(r, "campaign status not in the enum");
        }
        const char *since =
            json_string_value(json_object_get(q, "since_send_time"));
        if (since != NULL && !is_iso8601(since)) {
            problem(r, "since_send_time is not ISO 8601");
        }
    } else if (n == 4 && strcmp(s[1], "reports") == 0 &&
               strcmp(s[3], "email-activity") == 0 && get) {
        static const char *const qk[] = {"fields", "exclude_fields", "count",
                                         "offset", "since", NULL};
        keys_allowed(r, q, "query", qk);
        query_count(r, q);
        const char *since = json_string_value(json_object_get(q, "since"));
        if (since != NULL && !is_iso8601(since)) {
            problem(r, "since is not ISO 8601");
        }
    } else {
        problem(r, "no documented endpoint matches");
    }
}

static void form_keys(json_t *r, const char *form, const char *const *want)
{
    char copy[2048];
    snprintf(copy, sizeof copy, "%s", form);
    size_t seen = 0;
    char *save = NULL;
    for (char *kv = strtok_r(copy, "&", &save); kv != NULL;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL) {
            problem(r, "form field without '='");
            continue;
        }
        *eq = '\0';
        if (!one_of(kv, want)) {
            problem(r, "form field \"%s\" not documented", kv);
        }
        seen++;
    }
    size_t nwant = 0;
    while (want[nwant] != NULL) {
        nwant++;
    }
    if (seen != nwant) {
        problem(r, "expected exactly %zu form fields, got %zu", nwant, seen);
    }
}

static void check_request(json_t *r)
{
    const char *method = json_string_value(json_object_get(r, "method"));
    const char *path = json_string_value(json_object_get(r, "path"));
    const char *auth = json_string_value(json_object_get(r, "auth"));
    const char *ct = json_string_value(json_object_get(r, "content_type"));
    const char *raw = json_string_value(json_object_get(r, "body"));
    const char *ua = json_string_value(json_object_get(r, "user_agent"));
    json_t *q = json_object_get(r, "query");
    if (ua == NULL || strncmp(ua, "leadscore/", 10) != 0) {
        problem(r, "User-Agent should name leadscore, got \"%s\"",
                ua != NULL ? ua : "");
    }
    if (strncmp(path, "/3.0/", 5) == 0) {
        if (strcmp(auth, "basic") != 0 && strcmp(auth, "bearer") != 0) {
            problem(r, "API calls use Basic (any user, key as password) or "
                       "Bearer");
        }
        json_t *b = NULL;
        if (raw[0] != '\0') {
            if (strncmp(ct, "application/json", 16) != 0) {
                problem(r, "a JSON body needs Content-Type "
                           "application/json, got \"%s\"",
                        ct);
            }
            b = json_loads(raw, 0, NULL);
            if (b == NULL) {
                problem(r, "body is not JSON");
            }
        }
        check_api(r, method, path, q, b, false);
        json_decref(b);
    } else if (strcmp(path, "/oauth2/token") == 0) {
        static const char *const want[] = {"grant_type", "client_id",
                                           "client_secret", "redirect_uri",
                                           "code", NULL};
        if (strcmp(method, "POST") != 0) {
            problem(r, "the token endpoint takes POST");
        }
        if (strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
            problem(r, "the token endpoint takes a form body");
        }
        form_keys(r, raw, want);
        if (strstr(raw, "grant_type=authorization_code") == NULL) {
            problem(r, "grant_type must be authorization_code");
        }
    } else if (strcmp(path, "/oauth2/metadata") == 0) {
        if (strcmp(method, "GET") != 0 ||
            (strcmp(auth, "oauth") != 0 && strcmp(auth, "bearer") != 0)) {
            problem(r, "metadata is GET with Authorization: OAuth <token>");
        }
    } else {
        problem(r, "no documented endpoint matches");
    }
}

/* ---- the scenario ---------------------------------------------------------- */

/* Starts the fake into f (the caller fake_stops it) and seeds it with
 * the JSON text seed. */
static void start_seeded(struct fake_proc *f, const char *seed)
{
    assert_true(fake_start(fake_exe, f, NULL));
    fake_ctl(f, "POST", "/_fake/seed", seed, NULL);
}

/* A client on cfg with cred, which must come up; the caller destroys
 * it. */
static struct mailchimp *client_on(const struct mailchimp_config *cfg,
                                   const struct mailchimp_credentials *cred)
{
    struct mailchimp *mc = NULL;
    char err[256];
    assert_int_equal(mailchimp_create(cfg, cred, &mc, err, sizeof err),
                     LSC_OK);
    return mc;
}

static enum lsc_status drop(void *ud, const struct mailchimp_activity *a)
{
    (void)a;
    (*(size_t *)ud)++;
    return LSC_OK;
}

static void test_every_request_matches_the_documented_shapes(void **state)
{
    (void)state;
    struct fake_proc f;
    start_seeded(&f,
                 "{\"lists\":[\"L1\"],\"members\":[{\"list\":\"L1\",\"email\":"
                 "\"jane@example.com\",\"tags\":[\"leadscore-cold\"]}],"
                 "\"campaigns\":[{\"id\":\"c1\",\"type\":\"regular\","
                 "\"list_id\":\"L1\",\"send_time\":\"2026-11-01T09:00:00Z\","
                 "\"activity\":[{\"email\":\"jane@example.com\",\"action\":"
                 "\"open\",\"timestamp\":\"2026-11-01T10:00:00+00:00\"}]}]}");
    struct mailchimp_config cfg;
    mailchimp_config_init(&cfg);
    cfg.list_id = strdup("L1");
    cfg.api_base = strdup(f.api_base);
    cfg.backoff_base_ms = 10;
    char err[256];
    struct mailchimp_credentials cred = {FAKE_API_KEY, NULL, NULL};
    struct mailchimp *mc = client_on(&cfg, &cred);
    assert_int_equal(mailchimp_setup(mc, NULL, err, sizeof err), LSC_OK);
    struct mailchimp_write w[] = {{"Jane@Example.com", 88, "sql", "cold"},
                                  {"nobody@example.com", 5, "cold", NULL},
                                  {"jane@example.com", 89.5, NULL, NULL}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(mailchimp_write(mc, &w[i], NULL, NULL, err,
                                         sizeof err),
                         LSC_OK);
    }
    struct mailchimp_backfill_result errored;
    assert_int_equal(mailchimp_backfill(mc, w, 3, NULL, 0, &errored, 10000,
                                        err, sizeof err),
                     LSC_OK);
    int64_t cp = INT64_MIN;
    size_t nev = 0;
    int64_t now;
    mailchimp_parse_time("2026-11-07T00:00:00Z", &now);
    assert_int_equal(mailchimp_import_activity(mc, &cp, now, drop, &nev, NULL,
                                               err, sizeof err),
                     LSC_OK);
    assert_int_equal(mailchimp_import_activity(mc, &cp, now, drop, &nev, NULL,
                                               err, sizeof err),
                     LSC_OK);
    mailchimp_destroy(mc);

    /* Unknown members created, through PUT and through a batch. */
    cfg.unknown_members = MAILCHIMP_UNKNOWN_CREATE;
    mc = client_on(&cfg, &cred);
    assert_int_equal(mailchimp_write(mc, &w[1], NULL, NULL, err, sizeof err),
                     LSC_OK);
    assert_int_equal(mailchimp_backfill(mc, w, 2, NULL, 0, &errored, 10000,
                                        err, sizeof err),
                     LSC_OK);
    mailchimp_destroy(mc);

    /* OAuth connect, then an API call with the token. */
    struct mailchimp_oauth_app app = {
        "fake-client", "fake-secret", "http://127.0.0.1:3000/oauth/callback",
        f.base};
    char *token = NULL;
    char dc[16], ep[128];
    assert_int_equal(mailchimp_oauth_exchange(&app, "good-code", &token, dc,
                                              sizeof dc, ep, sizeof ep, err,
                                              sizeof err),
                     LSC_OK);
    struct mailchimp_credentials oc = {NULL, token, dc};
    mc = client_on(&cfg, &oc);
    assert_int_equal(mailchimp_write(mc, &w[0], NULL, NULL, err, sizeof err),
                     LSC_OK);
    mailchimp_destroy(mc);
    free(token);
    mailchimp_config_destroy(&cfg);

    json_t *reqs = fake_requests(&f);
    fake_stop(&f);
    assert_true(json_array_size(reqs) >= 20);
    size_t i;
    json_t *r;
    bool seen_put = false, seen_batch = false, seen_tags = false,
         seen_token = false, seen_activity = false;
    json_array_foreach(reqs, i, r) {
        check_request(r);
        const char *m = json_string_value(json_object_get(r, "method"));
        const char *p = json_string_value(json_object_get(r, "path"));
        seen_put = seen_put || strcmp(m, "PUT") == 0;
        seen_batch = seen_batch || strcmp(p, "/3.0/batches") == 0;
        seen_tags = seen_tags || strstr(p, "/tags") != NULL;
        seen_token = seen_token || strcmp(p, "/oauth2/token") == 0;
        seen_activity = seen_activity || strstr(p, "email-activity") != NULL;
    }
    json_decref(reqs);
    assert_true(seen_put && seen_batch && seen_tags && seen_token &&
                seen_activity);
    if (n_problems > 0) {
        fail_msg("%zu request(s) off the documented shapes:\n%s", n_problems,
                 problems);
    }
}

/* The checker itself must catch what the spec forbids. */
static void test_checker_rejects_bad_shapes(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"method\":\"PUT\",\"path\":\"/3.0/lists/L1/members/"
        "9e26471d35a78862c17e467d87cddedf\",\"query\":{},\"auth\":\"basic\","
        "\"content_type\":\"application/json\",\"body\":"
        "\"{\\\"email_address\\\":\\\"jane@example.com\\\"}\"}",
        "{\"method\":\"PATCH\",\"path\":\"/3.0/lists/L1/members/"
        "Jane@Example.com\",\"query\":{},\"auth\":\"basic\","
        "\"content_type\":\"application/json\",\"body\":"
        "\"{\\\"merge_fields\\\":{\\\"LSCORE\\\":\\\"87\\\"},"
        "\\\"tags\\\":[]}\"}",
        "{\"method\":\"POST\",\"path\":\"/3.0/lists/L1/members/"
        "9e26471d35a78862c17e467d87cddedf/tags\",\"query\":{},"
        "\"auth\":\"basic\",\"content_type\":\"application/json\","
        "\"body\":\"{\\\"tags\\\":[{\\\"name\\\":\\\"x\\\",\\\"status\\\":"
        "\\\"on\\\"}]}\"}",
        "{\"method\":\"POST\",\"path\":\"/3.0/batches\",\"query\":{},"
        "\"auth\":\"basic\",\"content_type\":\"application/json\",\"body\":"
        "\"{\\\"operations\\\":[{\\\"method\\\":\\\"PATCH\\\",\\\"path\\\":"
        "\\\"/lists/L1/members/9e26471d35a78862c17e467d87cddedf\\\","
        "\\\"body\\\":{}}]}\"}",
        "{\"method\":\"GET\",\"path\":\"/3.0/reports/c1/email-activity\","
        "\"query\":{\"count\":\"5000\"},\"auth\":\"none\","
        "\"content_type\":\"\",\"body\":\"\"}",
        /* A member write without skip_merge_validation=true. */
        "{\"method\":\"PATCH\",\"path\":\"/3.0/lists/L1/members/"
        "9e26471d35a78862c17e467d87cddedf\",\"query\":{},\"auth\":\"basic\","
        "\"user_agent\":\"leadscore/1\",\"content_type\":"
        "\"application/json\",\"body\":"
        "\"{\\\"merge_fields\\\":{\\\"LSCORE\\\":87}}\"}",
        /* ... with a query key the endpoint does not take. */
        "{\"method\":\"PATCH\",\"path\":\"/3.0/lists/L1/members/"
        "9e26471d35a78862c17e467d87cddedf\",\"query\":{"
        "\"skip_merge_validation\":\"true\",\"force\":\"1\"},"
        "\"auth\":\"basic\",\"user_agent\":\"leadscore/1\","
        "\"content_type\":\"application/json\",\"body\":"
        "\"{\\\"merge_fields\\\":{\\\"LSCORE\\\":87}}\"}",
        /* A batched member PATCH whose path lacks the flag. */
        "{\"method\":\"POST\",\"path\":\"/3.0/batches\",\"query\":{},"
        "\"auth\":\"basic\",\"user_agent\":\"leadscore/1\","
        "\"content_type\":\"application/json\",\"body\":"
        "\"{\\\"operations\\\":[{\\\"method\\\":\\\"PATCH\\\",\\\"path\\\":"
        "\\\"/lists/L1/members/9e26471d35a78862c17e467d87cddedf\\\","
        "\\\"body\\\":\\\"{}\\\"}]}\"}",
        /* A batched member PATCH with the flag inside its path. */
        "{\"method\":\"POST\",\"path\":\"/3.0/batches\",\"query\":{},"
        "\"auth\":\"basic\",\"user_agent\":\"leadscore/1\","
        "\"content_type\":\"application/json\",\"body\":"
        "\"{\\\"operations\\\":[{\\\"method\\\":\\\"PATCH\\\",\\\"path\\\":"
        "\\\"/lists/L1/members/9e26471d35a78862c17e467d87cddedf"
        "?skip_merge_validation=true\\\",\\\"body\\\":\\\"{}\\\"}]}\"}",
        /* A query on POST .../tags. */
        "{\"method\":\"POST\",\"path\":\"/3.0/lists/L1/members/"
        "9e26471d35a78862c17e467d87cddedf/tags\",\"query\":{"
        "\"skip_merge_validation\":\"true\"},\"auth\":\"basic\","
        "\"user_agent\":\"leadscore/1\",\"content_type\":"
        "\"application/json\",\"body\":\"{\\\"tags\\\":[{\\\"name\\\":"
        "\\\"x\\\",\\\"status\\\":\\\"active\\\"}]}\"}",
    };
    /* The same member write with the flag passes: the checker does not
     * refuse everything. */
    const char *good =
        "{\"method\":\"PATCH\",\"path\":\"/3.0/lists/L1/members/"
        "9e26471d35a78862c17e467d87cddedf\",\"query\":{"
        "\"skip_merge_validation\":\"true\"},\"auth\":\"basic\","
        "\"user_agent\":\"leadscore/1\",\"content_type\":"
        "\"application/json\",\"body\":"
        "\"{\\\"merge_fields\\\":{\\\"LSCORE\\\":87}}\"}";
    json_t *g = json_loads(good, 0, NULL);
    assert_non_null(g);
    check_request(g);
    json_decref(g);
    if (n_problems != 0) {
        fail_msg("a documented request was refused:\n%s", problems);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *r = json_loads(bad[i], 0, NULL);
        assert_non_null(r);
        size_t before = n_problems;
        check_request(r);
        assert_true(n_problems > before);
        json_decref(r);
    }
    n_problems = 0;
    problems[0] = '\0';
}

/* ---- the fake refuses what Mailchimp refuses -------------------------------- */

/* One request to the fake and the answer Mailchimp gives it.  In paths,
 * {jane} / {bob} / {carol} / {nobody} stand for subscriber hashes. */
struct refusal {
    const char *what;
    const char *method;
    const char *path; /* under /3.0 */
    const char *body; /* raw, may be NULL */
    long status;
    const char *title; /* problem+json title; NULL for a 2xx */
    const char *field; /* errors[0].field; NULL: no errors[] */
};

/* Tag names may be 100 characters long, not 101. */
#define TAG100                                                            \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TAG101 TAG100 "a"
#define JANE "/lists/L1/members/{jane}"
#define SKIP "?skip_merge_validation=true"

static const struct refusal refusals[] = {
    {"invalid JSON", "PATCH", JANE SKIP, "{\"merge_fields\":", 400,
     "JSON Parse Exception", NULL},
    {"body is an array", "PATCH", JANE SKIP, "[1]", 400, "Invalid Resource",
     ""},
    {"unknown member key", "PATCH", JANE SKIP,
     "{\"merge_fields\":{\"LSCORE\":1},\"score\":1}", 400, "Invalid Resource",
     "score"},
    {"tags in a member PUT", "PUT", JANE SKIP,
     "{\"email_address\":\"jane@example.com\",\"status_if_new\":"
     "\"subscribed\",\"tags\":[\"x\"]}",
     400, "Invalid Resource", "tags"},
    {"status not in the enum", "PATCH", JANE SKIP, "{\"status\":\"active\"}",
     400, "Invalid Resource", "status"},
    {"status_if_new not in the enum", "PUT", JANE SKIP,
     "{\"email_address\":\"jane@example.com\",\"status_if_new\":\"maybe\"}",
     400, "Invalid Resource", "status_if_new"},
    {"PUT without email_address", "PUT", JANE SKIP,
     "{\"status_if_new\":\"subscribed\"}", 400, "Invalid Resource",
     "email_address"},
    {"PUT without status_if_new", "PUT", JANE SKIP,
     "{\"email_address\":\"jane@example.com\"}", 400, "Invalid Resource",
     "status_if_new"},
    {"email does not match the hash", "PUT", JANE SKIP,
     "{\"email_address\":\"bob@example.com\",\"status_if_new\":"
     "\"subscribed\"}",
     400, "Invalid Resource", NULL},
    {"status_if_new in a PATCH", "PATCH", JANE SKIP,
     "{\"status_if_new\":\"subscribed\"}", 400, "Invalid Resource",
     "status_if_new"},
    {"text for a number merge field", "PATCH", JANE SKIP,
     "{\"merge_fields\":{\"LSCORE\":\"high\"}}", 400, "Invalid Resource",
     "LSCORE"},
    {"merge_fields not an object", "PATCH", JANE SKIP,
     "{\"merge_fields\":[1]}", 400, "Invalid Resource", "merge_fields"},
    {"email_type not in the enum", "PATCH", JANE SKIP,
     "{\"email_type\":\"pdf\"}", 400, "Invalid Resource", "email_type"},
    {"required merge field empty, no skip", "PATCH", "/lists/L1/members/{bob}",
     "{\"merge_fields\":{\"LSCORE\":5}}", 400, "Invalid Resource", "CITY"},
    {"required merge field empty, skip_merge_validation", "PATCH",
     "/lists/L1/members/{bob}" SKIP, "{\"merge_fields\":{\"LSCORE\":5}}", 200,
     NULL, NULL},
    {"required merge field, skip=false", "PATCH",
     "/lists/L1/members/{bob}?skip_merge_validation=false",
     "{\"merge_fields\":{\"LSCORE\":5}}", 400, "Invalid Resource", "CITY"},
    {"new member without the required field", "PUT",
     "/lists/L1/members/{carol}",
     "{\"email_address\":\"carol@example.com\",\"status_if_new\":"
     "\"transactional\",\"merge_fields\":{\"LSCORE\":5}}",
     400, "Invalid Resource", "CITY"},
    {"new member, skip_merge_validation", "PUT",
     "/lists/L1/members/{carol}" SKIP,
     "{\"email_address\":\"carol@example.com\",\"status_if_new\":"
     "\"transactional\",\"merge_fields\":{\"LSCORE\":5}}",
     200, NULL, NULL},
    {"PATCH of a member not in the audience", "PATCH",
     "/lists/L1/members/{nobody}" SKIP, "{\"merge_fields\":{\"LSCORE\":5}}",
     404, "Resource Not Found", NULL},
    {"tag name over 100 characters", "POST", JANE "/tags",
     "{\"tags\":[{\"name\":\"" TAG101 "\",\"status\":\"active\"}]}", 400,
     "Invalid Resource", "tags.name"},
    {"tag name of 100 characters", "POST", JANE "/tags",
     "{\"tags\":[{\"name\":\"" TAG100 "\",\"status\":\"active\"}]}", 204,
     NULL, NULL},
    {"tag status not in the enum", "POST", JANE "/tags",
     "{\"tags\":[{\"name\":\"x\",\"status\":\"on\"}]}", 400,
     "Invalid Resource", "tags.status"},
    {"tags not an array", "POST", JANE "/tags", "{\"tags\":\"x\"}", 400,
     "Invalid Resource", "tags"},
    {"unknown key in a tag", "POST", JANE "/tags",
     "{\"tags\":[{\"name\":\"x\",\"status\":\"active\",\"color\":\"red\"}]}",
     400, "Invalid Resource", "color"},
    {"is_syncing not a boolean", "POST", JANE "/tags",
     "{\"tags\":[{\"name\":\"x\",\"status\":\"active\"}],\"is_syncing\":"
     "\"yes\"}",
     400, "Invalid Resource", "is_syncing"},
    {"unknown key in the tags body", "POST", JANE "/tags",
     "{\"tags\":[{\"name\":\"x\",\"status\":\"active\"}],\"extra\":1}", 400,
     "Invalid Resource", "extra"},
    {"valid tags", "POST", JANE "/tags",
     "{\"tags\":[{\"name\":\"x\",\"status\":\"active\"}],\"is_syncing\":true}",
     204, NULL, NULL},
    {"merge field type not in the enum", "POST", "/lists/L1/merge-fields",
     "{\"name\":\"X\",\"type\":\"colour\"}", 400, "Invalid Resource", "type"},
    {"merge field without name", "POST", "/lists/L1/merge-fields",
     "{\"type\":\"text\"}", 400, "Invalid Resource", "name"},
    {"merge tag over 10 characters", "POST", "/lists/L1/merge-fields",
     "{\"name\":\"X\",\"type\":\"text\",\"tag\":\"ELEVENCHARS\"}", 400,
     "Invalid Resource", "tag"},
    {"merge tag already used", "POST", "/lists/L1/merge-fields",
     "{\"name\":\"X\",\"type\":\"number\",\"tag\":\"LSCORE\"}", 400,
     "Invalid Resource", NULL},
    {"required not a boolean", "POST", "/lists/L1/merge-fields",
     "{\"name\":\"X\",\"type\":\"text\",\"required\":\"no\"}", 400,
     "Invalid Resource", "required"},
    {"unknown merge field key", "POST", "/lists/L1/merge-fields",
     "{\"name\":\"X\",\"type\":\"text\",\"colour\":1}", 400,
     "Invalid Resource", "colour"},
    {"count above 1000", "GET", "/lists/L1/merge-fields?count=1001", NULL,
     400, "Invalid Resource", "count"},
    {"merge fields: method not allowed", "DELETE", "/lists/L1/merge-fields",
     NULL, 405, "Method Not Allowed", NULL},
    {"operations not an array", "POST", "/batches", "{\"operations\":{}}",
     400, "Invalid Resource", "operations"},
    {"operation method not in the enum", "POST", "/batches",
     "{\"operations\":[{\"method\":\"FETCH\",\"path\":\"/ping\"}]}", 400,
     "Invalid Resource", "operations.method"},
    {"operation body not a string", "POST", "/batches",
     "{\"operations\":[{\"method\":\"PATCH\",\"path\":\"/lists/L1/members/"
     "x\",\"body\":{}}]}",
     400, "Invalid Resource", "operations.body"},
    {"unknown batch key", "POST", "/batches",
     "{\"operations\":[],\"wait\":true}", 400, "Invalid Resource", "wait"},
    {"unknown operation key", "POST", "/batches",
     "{\"operations\":[{\"method\":\"GET\",\"path\":\"/ping\",\"priority\":"
     "1}]}",
     400, "Invalid Resource", "priority"},
    {"unknown batch-subscribe key", "POST", "/lists/L1",
     "{\"members\":[],\"update_existing\":false,\"replace\":true}", 400,
     "Invalid Resource", "replace"},
    {"batch subscribe of more than 500", "POST", "/lists/L1", NULL, 400,
     "Invalid Resource", "members"}, /* body built below */
    {"valid batch", "POST", "/batches",
     "{\"operations\":[{\"method\":\"GET\",\"path\":\"/ping\"}]}", 200, NULL,
     NULL},
};

/* path with {name} replaced by MD5(name@example.com) into out. */
static void expand(const char *path, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = path; *p != '\0' && o + 1 < outlen;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (close != NULL) {
            char email[64], h[33];
            snprintf(email, sizeof email, "%.*s@example.com",
                     (int)(close - p - 1), p + 1);
            md5_hex(email, h);
            o += (size_t)snprintf(out + o, outlen - o, "%s", h);
            p = close + 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o < outlen ? o : outlen - 1] = '\0';
}

static void test_fake_refuses_like_the_api(void **state)
{
    (void)state;
    struct fake_proc f;
    start_seeded(
        &f, "{\"lists\":[\"L1\"],\"merge_fields\":[{\"list\":\"L1\","
            "\"tag\":\"LSCORE\",\"name\":\"Lead score\",\"type\":\"number\"},"
            "{\"list\":\"L1\",\"tag\":\"CITY\",\"name\":\"City\",\"type\":"
            "\"text\",\"required\":true}],\"members\":[{\"list\":\"L1\","
            "\"email\":\"jane@example.com\",\"merge_fields\":{\"CITY\":"
            "\"Lyon\"}},{\"list\":\"L1\",\"email\":\"bob@example.com\"}]}");
    char failures[8192] = "";
    size_t nf = 0;
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        struct refusal t = refusals[i];
        char *big = NULL;
        if (t.body == NULL && strcmp(t.path, "/lists/L1") == 0) {
            /* 501 members: one over the synchronous call's limit. */
            size_t cap = 501 * 64 + 64, o = 0;
            big = malloc(cap);
            assert_non_null(big);
            o += (size_t)snprintf(big + o, cap - o, "{\"members\":[");
            for (int k = 0; k < 501; k++) {
                o += (size_t)snprintf(big + o, cap - o,
                                      "%s{\"email_address\":\"p%d@example."
                                      "com\",\"status\":\"subscribed\"}",
                                      k > 0 ? "," : "", k);
            }
            snprintf(big + o, cap - o, "]}");
            t.body = big;
        }
        char path[512], ct[128], rid[96];
        expand(t.path, path, sizeof path);
        json_t *ans = NULL;
        long st = fake_api(&f, t.method, path, t.body, NULL, &ans, ct,
                           sizeof ct, rid, sizeof rid);
        char why[256] = "";
        const char *title = json_string_value(json_object_get(ans, "title"));
        const char *instance =
            json_string_value(json_object_get(ans, "instance"));
        json_t *errs = json_object_get(ans, "errors");
        const char *field =
            json_string_value(json_object_get(json_array_get(errs, 0),
                                              "field"));
        if (st != t.status) {
            snprintf(why, sizeof why, "status %ld, want %ld (%s)", st,
                     t.status, title != NULL ? title : "");
        } else if (t.title != NULL) {
            if (strncmp(ct, "application/problem+json", 24) != 0) {
                snprintf(why, sizeof why, "content type \"%s\"", ct);
            } else if (title == NULL || strcmp(title, t.title) != 0) {
                snprintf(why, sizeof why, "title \"%s\", want \"%s\"",
                         title != NULL ? title : "", t.title);
            } else if (json_integer_value(json_object_get(ans, "status")) !=
                           t.status ||
                       json_string_value(json_object_get(ans, "type")) ==
                           NULL ||
                       json_string_value(json_object_get(ans, "detail")) ==
                           NULL) {
                snprintf(why, sizeof why, "problem document incomplete");
            } else if (strcmp(rid, instance != NULL ? instance : "") != 0) {
                snprintf(why, sizeof why, "X-Request-Id != instance");
            } else if (t.field == NULL && errs != NULL) {
                snprintf(why, sizeof why, "unexpected errors[]");
            } else if (t.field != NULL &&
                       (field == NULL || strcmp(field, t.field) != 0)) {
                snprintf(why, sizeof why, "errors[0].field \"%s\", want "
                                          "\"%s\"",
                         field != NULL ? field : "(none)", t.field);
            }
        }
        if (why[0] != '\0') {
            size_t len = strlen(failures);
            snprintf(failures + len, sizeof failures - len, "%s: %s\n",
                     t.what, why);
            nf++;
        }
        json_decref(ans);
        free(big);
    }
    /* Wrong credentials come before everything else. */
    json_t *ans = NULL;
    assert_int_equal(fake_api(&f, "GET", "/ping", NULL, "wrong-us1", &ans,
                              NULL, 0, NULL, 0),
                     401);
    assert_string_equal(json_string_value(json_object_get(ans, "title")),
                        "API Key Invalid");
    json_decref(ans);
    /* Nothing refused was stored: bob still has no LSCORE from the
     * refused PATCH, only from the accepted one. */
    json_t *bob = fake_member(&f, "L1", "bob@example.com");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(bob, "merge_fields"), "LSCORE")),
                     5);
    json_decref(bob);
    json_t *jane = fake_member(&f, "L1", "jane@example.com");
    assert_null(json_object_get(json_object_get(jane, "merge_fields"),
                                "LSCORE"));
    assert_string_equal(json_string_value(json_object_get(jane, "status")),
                        "subscribed");
    json_decref(jane);
    fake_stop(&f);
    if (nf > 0) {
        fail_msg("%zu answer(s) unlike Mailchimp's:\n%s", nf, failures);
    }
}

/* GET merge-fields pages with count/offset and reports total_items. */
static void test_fake_pages_merge_fields(void **state)
{
    (void)state;
    struct fake_proc f;
    start_seeded(
        &f, "{\"lists\":[\"L1\"],\"merge_fields\":[{\"list\":\"L1\",\"tag\":"
            "\"A1\",\"name\":\"a\",\"type\":\"text\"},{\"list\":\"L1\","
            "\"tag\":\"A2\",\"name\":\"b\",\"type\":\"text\"}]}");
    /* FNAME, LNAME (every new audience has them), A1, A2. */
    json_t *ans = NULL;
    assert_int_equal(fake_api(&f, "GET", "/lists/L1/merge-fields?count=2&"
                                         "offset=1",
                              NULL, NULL, &ans, NULL, 0, NULL, 0),
                     200);
    json_t *mf = json_object_get(ans, "merge_fields");
    assert_int_equal(json_array_size(mf), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(mf, 0), "tag")),
                        "LNAME");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(mf, 1), "tag")),
                        "A1");
    assert_int_equal(json_integer_value(json_object_get(ans, "total_items")),
                     4);
    json_decref(ans);
    assert_int_equal(fake_api(&f, "GET", "/lists/L1/merge-fields?offset=3",
                              NULL, NULL, &ans, NULL, 0, NULL, 0),
                     200);
    assert_int_equal(json_array_size(json_object_get(ans, "merge_fields")),
                     1);
    json_decref(ans);
    fake_stop(&f);
}

int main(int argc, char **argv)
{
    fake_exe = argc > 1 ? argv[1] : getenv("FAKE_MAILCHIMP");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_rejects_bad_shapes),
        cmocka_unit_test(test_every_request_matches_the_documented_shapes),
        cmocka_unit_test(test_fake_refuses_like_the_api),
        cmocka_unit_test(test_fake_pages_merge_fields),
    };
    return cmocka_run_group_tests_name("mailchimp_contract", tests, NULL,
                                       NULL);
}
