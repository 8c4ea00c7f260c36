/*
 * Contract tests: every request the HubSpot connector sends, recorded by
 * fake_hubspot, is checked against HubSpot's documented shapes
 * (../shared/docs/crm-apis.md section 1 and the schemas of HubSpot's
 * OpenAPI specifications, encoded below): method and path, query
 * parameters, headers, required and allowed body fields and their types,
 * the 100-input limit, string property values, form-encoded OAuth.
 *
 * Usage: test_hubspot_contract PATH/TO/fake_hubspot
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
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "connectors.h"
#include "hs_harness.h"

static const char *FAKE_EXE;

/* ---- HubSpot's shapes ----------------------------------------------------- */

static const char *const PROPERTY_TYPES[] = {
    "string", "number", "date", "datetime", "enumeration", "bool",
    "phone_number", NULL};
static const char *const FIELD_TYPES[] = {
    "text", "textarea", "number", "date", "select", "radio", "checkbox",
    "booleancheckbox", "file", "html", "phonenumber", "calculation_equation",
    NULL};
/* PropertyCreate (required: name, label, groupName, type, fieldType):
 * the fields of the v3 schema, which the 2026-03 one also has (the
 * connector talks to both, so a field only one of them knows, such as
 * numberDisplayHint, is refused here) */
static const char *const PROPERTY_CREATE_KEYS[] = {
    "name", "label", "groupName", "type", "fieldType", "description",
    "options", "displayOrder", "hasUniqueValue", "hidden", "formField",
    "calculationFormula", "referencedObjectType", "externalOptions", NULL};
/* PropertyUpdate: every field optional */
static const char *const PROPERTY_UPDATE_KEYS[] = {
    "label", "groupName", "type", "fieldType", "description", "options",
    "displayOrder", "hidden", "formField", "calculationFormula", NULL};
/* OptionInput (required: label, value, displayOrder, hidden) */
static const char *const OPTION_KEYS[] = {"label", "value", "displayOrder",
                                          "hidden", "description", NULL};
/* PropertyGroupCreate (required: name, label) */
static const char *const GROUP_KEYS[] = {"name", "label", "displayOrder",
                                         NULL};
/* BatchReadInputSimplePublicObjectId (required: inputs, properties,
 * propertiesWithHistory) */
static const char *const BATCH_READ_KEYS[] = {
    "inputs", "properties", "propertiesWithHistory", "idProperty", NULL};
/* SimplePublicObjectBatchInput (required: id, properties) */
static const char *const BATCH_UPDATE_INPUT_KEYS[] = {
    "id", "idProperty", "objectWriteTraceId", "properties", NULL};
/* GET contacts query */
static const char *const LIST_QUERY[] = {
    "limit", "after", "properties", "propertiesWithHistory", "associations",
    "archived", NULL};
/* GET properties/contacts query */
static const char *const PROPS_LIST_QUERY[] = {"archived", "dataSensitivity",
                                               "locale", "properties", NULL};
static const char *const AUTHORIZE_QUERY[] = {
    "client_id", "redirect_uri", "scope", "optional_scope", "state",
    "code_challenge", "code_challenge_method", NULL};
static const char *const TOKEN_CODE_FORM[] = {
    "grant_type", "client_id", "client_secret", "redirect_uri", "code",
    "code_verifier", NULL};
static const char *const TOKEN_REFRESH_FORM[] = {
    "grant_type", "client_id", "client_secret", "refresh_token", NULL};

static bool in(const char *v, const char *const *set)
{
    for (size_t i = 0; v != NULL && set[i] != NULL; i++) {
        if (strcmp(v, set[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void only_keys(json_t *o, const char *const *allowed,
                      const char *what)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!in(k, allowed)) {
            fail_msg("%s: field \"%s\" is not in HubSpot's schema", what, k);
        }
    }
}

static void required(json_t *o, const char *const *keys, size_t n,
                     const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (json_object_get(o, keys[i]) == NULL) {
            fail_msg("%s: required field \"%s\" is missing", what, keys[i]);
        }
    }
}

static void check_options(json_t *opts, const char *what)
{
    assert_true(json_is_array(opts));
    size_t i;
    json_t *o;
    json_array_foreach(opts, i, o) {
        only_keys(o, OPTION_KEYS, what);
        static const char *const req[] = {"label", "value", "displayOrder",
                                          "hidden"};
        required(o, req, 4, what);
        assert_true(json_is_string(json_object_get(o, "label")));
        assert_true(json_is_string(json_object_get(o, "value")));
        assert_true(json_is_integer(json_object_get(o, "displayOrder")));
        assert_true(json_is_boolean(json_object_get(o, "hidden")));
    }
}

static json_t *parse_form(const char *b)
{
    json_t *o = json_object();
    char *copy = strdup(b ? b : "");
    for (char *tok = strtok(copy, "&"); tok; tok = strtok(NULL, "&")) {
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            fail_msg("form field without '=': %s", tok);
        }
        *eq = '\0';
        if (json_object_get(o, tok) != NULL) {
            fail_msg("form field %s twice", tok);
        }
        json_object_set_new(o, tok, json_string(eq + 1));
    }
    free(copy);
    return o;
}

static int n_checked[16];
enum { OP_AUTHORIZE, OP_TOKEN, OP_GROUP, OP_PROP_CREATE, OP_PROP_PATCH,
       OP_BATCH_READ, OP_BATCH_UPDATE, OP_LIST, OP_PROP_LIST, OP_COUNT };

/* Checks one recorded request; `ver` is "2026-03" or "v3". */
static void check_request(json_t *r, const char *ver)
{
    const char *m = json_string_value(json_object_get(r, "method"));
    const char *p = json_string_value(json_object_get(r, "path"));
    json_t *q = json_object_get(r, "query");
    json_t *h = json_object_get(r, "headers");
    const char *body = json_string_value(json_object_get(r, "body"));
    const char *ua = json_string_value(json_object_get(h, "User-Agent"));
    const char *ct = json_string_value(json_object_get(h, "Content-Type"));
    const char *auth = json_string_value(json_object_get(h, "Authorization"));
    char objects[64];
    char props[64];
    char token[64];
    bool dated = strcmp(ver, "v3") != 0;
    snprintf(objects, sizeof objects, dated ? "/crm/objects/%s/contacts"
                                            : "/crm/%s/objects/contacts",
             ver);
    snprintf(props, sizeof props, dated ? "/crm/properties/%s/contacts"
                                        : "/crm/%s/properties/contacts",
             ver);
    snprintf(token, sizeof token, "/oauth/%s/token", ver);
    assert_null(json_object_get(q, "hapikey"));

    if (strcmp(p, "/oauth/authorize") == 0) {
        /* the scripted browser, not the connector, sends this one */
        assert_string_equal(m, "GET");
        only_keys(q, AUTHORIZE_QUERY, "authorize URL");
        static const char *const req[] = {"client_id", "redirect_uri",
                                          "scope", "state", "code_challenge",
                                          "code_challenge_method"};
        required(q, req, 6, "authorize URL");
        assert_string_equal(json_string_value(json_object_get(
                                q, "code_challenge_method")),
                            "S256");
        /* HubSpot takes plain http redirect URIs for localhost only */
        const char *ru = json_string_value(json_object_get(q, "redirect_uri"));
        int port = 0;
        char tail[64] = "";
        assert_int_equal(sscanf(ru, "http://localhost:%d%63s", &port, tail),
                         2);
        assert_true(port > 0 && port < 65536);
        assert_string_equal(tail, "/oauth-callback");
        assert_int_equal(strlen(json_string_value(json_object_get(
                             q, "code_challenge"))),
                         43);
        n_checked[OP_AUTHORIZE]++;
        return;
    }
    /* everything the connector sends */
    assert_non_null(ua);
    assert_string_equal(ua, "leadscore/" LSC_TEST_VERSION);
    if (strcmp(p, token) == 0) {
        assert_string_equal(m, "POST");
        assert_string_equal(ct, "application/x-www-form-urlencoded");
        assert_null(auth);
        assert_int_equal(json_object_size(q), 0); /* all in the body */
        json_t *f = parse_form(body);
        const char *gt = json_string_value(json_object_get(f, "grant_type"));
        assert_non_null(gt);
        if (strcmp(gt, "authorization_code") == 0) {
            only_keys(f, TOKEN_CODE_FORM, "token (code)");
            required(f, TOKEN_CODE_FORM, 5, "token (code)");
        } else {
            assert_string_equal(gt, "refresh_token");
            only_keys(f, TOKEN_REFRESH_FORM, "token (refresh)");
            required(f, TOKEN_REFRESH_FORM, 4, "token (refresh)");
        }
        json_decref(f);
        n_checked[OP_TOKEN]++;
        return;
    }
    assert_non_null(auth);
    assert_true(strncmp(auth, "Bearer ", 7) == 0 && strlen(auth) > 8);
    if (strcmp(m, "GET") != 0) {
        assert_string_equal(ct, "application/json");
    }
    json_t *b = NULL;
    if (body != NULL && body[0] != '\0') {
        b = json_loads(body, 0, NULL);
        assert_true(json_is_object(b));
    }
    char groups[80];
    snprintf(groups, sizeof groups, "%s/groups", props);
    char bread[96];
    char bupdate[96];
    snprintf(bread, sizeof bread, "%s/batch/read", objects);
    snprintf(bupdate, sizeof bupdate, "%s/batch/update", objects);
    if (strcmp(p, groups) == 0) {
        assert_string_equal(m, "POST");
        only_keys(b, GROUP_KEYS, "property group");
        required(b, GROUP_KEYS, 2, "property group");
        assert_true(json_is_string(json_object_get(b, "name")));
        assert_true(json_is_string(json_object_get(b, "label")));
        n_checked[OP_GROUP]++;
    } else if (strcmp(p, props) == 0 && strcmp(m, "GET") == 0) {
        /* the properties list read by connect (no body, known query) */
        assert_null(b);
        only_keys(q, PROPS_LIST_QUERY, "properties list query");
        n_checked[OP_PROP_LIST]++;
    } else if (strcmp(p, props) == 0) {
        assert_string_equal(m, "POST");
        only_keys(b, PROPERTY_CREATE_KEYS, "property");
        required(b, PROPERTY_CREATE_KEYS, 5, "property");
        const char *type = json_string_value(json_object_get(b, "type"));
        const char *ft = json_string_value(json_object_get(b, "fieldType"));
        /* internal names: a lowercase letter, then lowercase letters,
         * digits and underscores; labels and group names non-empty */
        const char *nm = json_string_value(json_object_get(b, "name"));
        assert_non_null(nm);
        assert_true(nm[0] >= 'a' && nm[0] <= 'z');
        assert_int_equal(strspn(nm, "abcdefghijklmnopqrstuvwxyz0123456789_"),
                         strlen(nm));
        const char *lb = json_string_value(json_object_get(b, "label"));
        assert_true(lb != NULL && lb[0] != '\0');
        const char *gn = json_string_value(json_object_get(b, "groupName"));
        assert_true(gn != NULL && gn[0] != '\0');
        assert_true(in(type, PROPERTY_TYPES));
        assert_true(in(ft, FIELD_TYPES));
        /* type/fieldType pairs HubSpot documents (crm-apis.md 1.4) */
        if (strcmp(type, "number") == 0) {
            assert_string_equal(ft, "number");
        } else if (strcmp(type, "enumeration") == 0) {
            assert_true(in(ft, (const char *const[]){"select", "radio",
                                                     "checkbox",
                                                     "booleancheckbox",
                                                     NULL}));
            check_options(json_object_get(b, "options"), "property options");
        } else if (strcmp(type, "datetime") == 0) {
            assert_string_equal(ft, "date");
        } else if (strcmp(type, "string") == 0) {
            assert_true(in(ft, (const char *const[]){"text", "textarea",
                                                     NULL}));
        }
        json_t *fo = json_object_get(b, "formField");
        assert_true(fo == NULL || json_is_boolean(fo));
        n_checked[OP_PROP_CREATE]++;
    } else if (strncmp(p, props, strlen(props)) == 0 &&
               p[strlen(props)] == '/') {
        assert_string_equal(m, "PATCH");
        only_keys(b, PROPERTY_UPDATE_KEYS, "property update");
        if (json_object_get(b, "options") != NULL) {
            check_options(json_object_get(b, "options"), "property update");
        }
        n_checked[OP_PROP_PATCH]++;
    } else if (strcmp(p, bread) == 0) {
        assert_string_equal(m, "POST");
        only_keys(b, BATCH_READ_KEYS, "batch read");
        required(b, BATCH_READ_KEYS, 3, "batch read");
        json_t *ins = json_object_get(b, "inputs");
        assert_true(json_array_size(ins) >= 1 && json_array_size(ins) <= 100);
        size_t i;
        json_t *x;
        json_array_foreach(ins, i, x) {
            assert_int_equal(json_object_size(x), 1);
            assert_true(json_is_string(json_object_get(x, "id")));
        }
        json_array_foreach(json_object_get(b, "properties"), i, x) {
            assert_true(json_is_string(x));
        }
        assert_true(json_is_array(json_object_get(b, "propertiesWithHistory")));
        n_checked[OP_BATCH_READ]++;
    } else if (strcmp(p, bupdate) == 0) {
        assert_string_equal(m, "POST");
        assert_int_equal(json_object_size(b), 1);
        json_t *ins = json_object_get(b, "inputs");
        assert_true(json_array_size(ins) >= 1 && json_array_size(ins) <= 100);
        size_t i;
        json_t *x;
        json_array_foreach(ins, i, x) {
            only_keys(x, BATCH_UPDATE_INPUT_KEYS, "batch update input");
            required(x, BATCH_UPDATE_INPUT_KEYS + 0, 1, "batch update input");
            assert_true(json_is_string(json_object_get(x, "id")));
            json_t *pr = json_object_get(x, "properties");
            assert_true(json_is_object(pr));
            const char *k;
            json_t *v;
            json_object_foreach(pr, k, v) {
                if (!json_is_string(v)) {
                    fail_msg("property %s: HubSpot property values are "
                             "strings", k);
                }
            }
        }
        n_checked[OP_BATCH_UPDATE]++;
    } else if (strcmp(p, objects) == 0) {
        assert_string_equal(m, "GET");
        assert_null(b);
        only_keys(q, LIST_QUERY, "contacts list query");
        long limit = strtol(json_string_value(json_object_get(q, "limit")),
                            NULL, 10);
        assert_true(limit >= 1 && limit <= 100);
        n_checked[OP_LIST]++;
    } else {
        fail_msg("unexpected request %s %s (API version %s)", m, p, ver);
    }
    json_decref(b);
}

/* ---- the flows ------------------------------------------------------------ */

static void score(struct connectors *c, const char *id, int s, const char *t,
                  int64_t at)
{
    char err[256];
    const struct connectors_reason reasons[] = {{"title-cto", 15, 0},
                                                {"pricing-page", 14.11, 2}};
    const struct connectors_group groups[] = {{"fit", 40.5},
                                              {"engagement", 47}};
    struct connectors_score cs = {.contact_id = id, .score = s, .tier = t,
                                  .groups = groups, .n_groups = 2,
                                  .reasons = reasons, .n_reasons = 2,
                                  .at_ms = at};
    assert_int_equal(connectors_on_score(c, &cs, err, sizeof err), LSC_OK);
}

static enum lsc_status bf_sink(void *ud, const char *id,
                               const struct lsc_prop *p, size_t n)
{
    (void)ud;
    (void)id;
    (void)p;
    (void)n;
    return LSC_OK;
}

static void run_lifecycle(const char *ver, bool oauth)
{
    struct harness *h = calloc(1, sizeof *h);
    const char *args[] = {"--contacts", "150", "--static-token",
                          "pat-na1-contract-0001", NULL};
    assert_true(harness_start(h, FAKE_EXE, args));
    char extra[512];
    snprintf(extra, sizeof extra,
             ",\n  \"limits\": {\"backoff_base_ms\": 10, \"backoff_cap_ms\": "
             "50},\n  \"actions\": [{\"on\": \"enter\", \"tier\": \"hot\", "
             "\"write_tier\": true, \"tag\": \"hot-lead\"}, {\"on\": \"leave\", "
             "\"tier\": \"hot\", \"tag\": \"hot-lead\"}]");
    /* the API version goes into the api object */
    harness_mapping(h,
                    oauth ? "{\"type\": \"oauth\", \"client_id\": "
                            "\"fake-client-id\", \"client_secret_env\": "
                            "\"LSC_CT_SECRET\", \"redirect_port\": 0}"
                          : "{\"type\": \"private_app\", \"token_env\": "
                            "\"LSC_CT_TOKEN\"}",
                    extra);
    /* write the version into the file */
    char version[64];
    snprintf(version, sizeof version, "\"version\": \"%s\", ", ver);
    assert_true(harness_mapping_insert(h, "\"api\": {", version));

    struct connectors *c = NULL;
    char err[256] = "";
    assert_int_equal(connectors_create(&h->api, h->mapping, NULL, &c, err,
                                       sizeof err),
                     LSC_OK);
    if (oauth) {
        char url[4096];
        assert_int_equal(harness_connect(c, false, url, sizeof url, err,
                                         sizeof err),
                         LSC_OK);
    }
    assert_int_equal(connectors_setup(c, err, sizeof err), LSC_OK);
    assert_int_equal(connectors_setup(c, err, sizeof err), LSC_OK); /* 409s */
    /* the read path: one batch read of the mapped inputs */
    connectors_set_read_inputs(c, true);
    assert_int_equal(connectors_on_event(c, "101", err, sizeof err), LSC_OK);
    assert_int_equal(connectors_on_event(c, "102", err, sizeof err), LSC_OK);
    assert_int_equal(harness_drain(h, c, 20000), 0);
    assert_int_equal(h->n_writes, 2);
    int64_t at = (int64_t)time(NULL) * 1000;
    for (int i = 0; i < 120; i++) { /* two batch updates: 100 + 20 */
        char id[16];
        snprintf(id, sizeof id, "%d", 101 + i);
        score(c, id, i % 100, i % 3 ? "warm" : "hot", at);
    }
    struct lsc_transition t = {.struct_size = sizeof t, .contact_id = "101",
                               .model = "b2b", .primary = true,
                               .from = "warm", .to = "hot", .score = 90,
                               .at_ms = at};
    assert_int_equal(connectors_on_transition(c, &t, NULL, 0, err, sizeof err),
                     LSC_OK);
    assert_int_equal(harness_drain(h, c, 20000), 0);
    assert_int_equal(h->n_dead, 0);
    bool done = false;
    size_t got = 0;
    assert_int_equal(connectors_backfill_step(c, true, bf_sink, NULL, &done,
                                              &got, err, sizeof err),
                     LSC_OK);
    if (oauth) {
        fake_control(&h->fake, "expire", NULL); /* 401, refresh, retry */
        score(c, "101", 99, "hot", at + 1);
        assert_int_equal(harness_drain(h, c, 10000), 0);
    }
    memset(n_checked, 0, sizeof n_checked);
    json_t *reqs = fake_requests(&h->fake, NULL);
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        check_request(r, ver);
    }
    json_decref(reqs);
    assert_int_equal(n_checked[OP_GROUP], 2);
    assert_int_equal(n_checked[OP_PROP_CREATE], 14);
    assert_int_equal(n_checked[OP_PROP_PATCH], 2); /* tier and tags options */
    assert_true(n_checked[OP_BATCH_UPDATE] >= 3);
    /* the inputs (read path), the tags before adding one */
    assert_int_equal(n_checked[OP_BATCH_READ], 2);
    assert_true(n_checked[OP_LIST] >= 1);
    if (oauth) {
        assert_int_equal(n_checked[OP_AUTHORIZE], 1);
        assert_int_equal(n_checked[OP_TOKEN], 2); /* code, refresh */
        assert_int_equal(n_checked[OP_PROP_LIST], 1); /* connect confirms */
    } else {
        assert_int_equal(n_checked[OP_TOKEN], 0);
    }
    /* the tag landed next to the tier */
    json_t *ct = fake_get(&h->fake, "contact?id=101");
    json_t *pr = json_object_get(ct, "properties");
    assert_string_equal(json_string_value(json_object_get(pr, "leadscore_tags")),
                        "hot-lead");
    assert_string_equal(json_string_value(json_object_get(pr, "leadscore_fit")),
                        "40.5");
    assert_string_equal(
        json_string_value(json_object_get(pr, "leadscore_engagement")), "47");
    assert_string_equal(
        json_string_value(json_object_get(pr, "leadscore_reasons")),
        "title-cto +15; pricing-page +14.11 (2 awards)");
    json_decref(ct);
    connectors_destroy(c);
    harness_stop(h);
    free(h);
}

static void test_contract_2026_03_oauth(void **state)
{
    (void)state;
    run_lifecycle("2026-03", true);
}

static void test_contract_v3_private_app(void **state)
{
    (void)state;
    run_lifecycle("v3", false);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/fake_hubspot\n", argv[0]);
        return 2;
    }
    FAKE_EXE = argv[1];
    setenv("LSC_CT_SECRET", "fake-client-secret", 1);
    setenv("LSC_CT_TOKEN", "pat-na1-contract-0001", 1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_2026_03_oauth),
        cmocka_unit_test(test_contract_v3_private_app),
    };
    int rc = cmocka_run_group_tests_name("hubspot_contract", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
