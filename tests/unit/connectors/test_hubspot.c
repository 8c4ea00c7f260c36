/*
 * Unit tests of the HubSpot connector: paths, request builders, the 207
 * and contacts parsers, the mapping validator (file:line:col + path), the
 * connectors facade (job payloads, keys, actions) and log redaction.
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
#include <unistd.h>

#include <jansson.h>

#include "connectors.h"
#include "hubspot/hubspot.h"

/* ---- a tiny host that records what the connectors do -------------------- */

#define MAX_REC 64

struct rec_host {
    int n_diag;
    char diag[MAX_REC][512];
    int n_log;
    char log[MAX_REC * 4][1100];
    int n_jobs;
    char kind[MAX_REC][32];
    char key[MAX_REC][128];
    char payload[MAX_REC][2048];
};

static void h_log(void *host, enum lsc_log_level level, const char *msg)
{
    struct rec_host *h = host;
    (void)level;
    if (h->n_log < MAX_REC * 4) {
        snprintf(h->log[h->n_log++], sizeof h->log[0], "%s", msg);
    }
}

static void h_diag(void *host, const struct lsc_diagnostic *d)
{
    struct rec_host *h = host;
    if (h->n_diag < MAX_REC) {
        snprintf(h->diag[h->n_diag++], sizeof h->diag[0], "%s:%d:%d: %s: %s",
                 d->file, d->line, d->column, d->json_path, d->message);
    }
}

static int64_t h_now(void *host)
{
    (void)host;
    return 1763805600000;
}

static enum lsc_status h_enqueue(void *host, const char *kind, const char *key,
                                 const void *payload, size_t len,
                                 int64_t not_before)
{
    struct rec_host *h = host;
    (void)not_before;
    if (h->n_jobs >= MAX_REC) {
        return LSC_ERR_NOMEM;
    }
    snprintf(h->kind[h->n_jobs], sizeof h->kind[0], "%s", kind);
    snprintf(h->key[h->n_jobs], sizeof h->key[0], "%s", key ? key : "");
    snprintf(h->payload[h->n_jobs], sizeof h->payload[0], "%.*s", (int)len,
             (const char *)payload);
    h->n_jobs++;
    return LSC_OK;
}

static struct rec_host REC;
static struct lsc_host_api HOST = {
    .struct_size = sizeof(struct lsc_host_api),
    .abi_major = LSC_PLUGIN_ABI_MAJOR,
    .host = &REC,
    .host_name = "test",
    .log = h_log,
    .now_ms = h_now,
    .diagnostic = h_diag,
    .job_enqueue = h_enqueue,
};

static char *source_path(const char *rel)
{
    const char *root = getenv("LSC_SOURCE_ROOT");
    char *p = malloc(1024);
    snprintf(p, 1024, "%s/%s", root ? root : "../..", rel);
    return p;
}

static void diag_cb(void *ud, const struct lsc_diagnostic *d)
{
    h_diag(ud, d);
}

/* ---- paths and builders ------------------------------------------------- */

static void test_paths(void **state)
{
    (void)state;
    char p[96];
    hubspot_path("2026-03", HUBSPOT_EP_BATCH_UPDATE, p, sizeof p);
    assert_string_equal(p, "/crm/objects/2026-03/contacts/batch/update");
    hubspot_path("2026-03", HUBSPOT_EP_GROUPS, p, sizeof p);
    assert_string_equal(p, "/crm/properties/2026-03/contacts/groups");
    hubspot_path("2026-03", HUBSPOT_EP_TOKEN, p, sizeof p);
    assert_string_equal(p, "/oauth/2026-03/token");
    hubspot_path("v3", HUBSPOT_EP_BATCH_READ, p, sizeof p);
    assert_string_equal(p, "/crm/v3/objects/contacts/batch/read");
    hubspot_path("v3", HUBSPOT_EP_PROPERTIES, p, sizeof p);
    assert_string_equal(p, "/crm/v3/properties/contacts");
    hubspot_path("v3", HUBSPOT_EP_TOKEN, p, sizeof p);
    assert_string_equal(p, "/oauth/v3/token");
    hubspot_path(NULL, HUBSPOT_EP_CONTACTS, p, sizeof p);
    assert_string_equal(p, "/crm/objects/2026-03/contacts");
}

static void test_build_batch_update(void **state)
{
    (void)state;
    struct hubspot_kv kv1[] = {{"leadscore_score", "87"},
                               {"leadscore_tier", "hot"}};
    struct hubspot_kv kv2[] = {{"leadscore_score", "12"}};
    struct hubspot_update u[] = {{"101", kv1, 2}, {"102", kv2, 1}};
    char *b = hubspot_build_batch_update(u, 2, NULL);
    assert_string_equal(b, "{\"inputs\":[{\"id\":\"101\",\"properties\":"
                           "{\"leadscore_score\":\"87\",\"leadscore_tier\":"
                           "\"hot\"}},{\"id\":\"102\",\"properties\":"
                           "{\"leadscore_score\":\"12\"}}]}");
    free(b);
    b = hubspot_build_batch_update(u, 1, "email");
    assert_string_equal(b, "{\"inputs\":[{\"id\":\"101\",\"idProperty\":"
                           "\"email\",\"properties\":{\"leadscore_score\":"
                           "\"87\",\"leadscore_tier\":\"hot\"}}]}");
    free(b);
    /* the connector enforces HubSpot's 100-input limit itself */
    struct hubspot_update many[101];
    for (int i = 0; i < 101; i++) {
        many[i] = u[0];
    }
    assert_null(hubspot_build_batch_update(many, 101, NULL));
    b = hubspot_build_batch_update(many, 100, NULL);
    assert_non_null(b);
    json_t *j = json_loads(b, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "inputs")), 100);
    json_decref(j);
    free(b);
    assert_null(hubspot_build_batch_update(u, 0, NULL));
}

static void test_build_batch_read(void **state)
{
    (void)state;
    const char *ids[] = {"101", "102"};
    const char *props[] = {"jobtitle", "numemployees"};
    char *b = hubspot_build_batch_read(ids, 2, props, 2, NULL);
    assert_string_equal(b, "{\"inputs\":[{\"id\":\"101\"},{\"id\":\"102\"}],"
                           "\"properties\":[\"jobtitle\",\"numemployees\"],"
                           "\"propertiesWithHistory\":[]}");
    free(b);
    b = hubspot_build_batch_read(ids, 1, props, 1, "email");
    assert_non_null(strstr(b, "\"idProperty\":\"email\""));
    free(b);
    /* a property named twice (id property and mapped input) is sent once */
    const char *twice[] = {"email", "jobtitle", "email"};
    b = hubspot_build_batch_read(ids, 1, twice, 3, "email");
    assert_non_null(strstr(b, "\"properties\":[\"email\",\"jobtitle\"],"));
    free(b);
}

static struct hubspot_config load_cfg(const char *rel)
{
    struct hubspot_config c;
    char err[256];
    char *p = source_path(rel);
    enum lsc_status rc = hubspot_config_load(p, NULL, NULL, &c, err, sizeof err);
    if (rc != LSC_OK) {
        fprintf(stderr, "%s\n", err);
    }
    assert_int_equal(rc, LSC_OK);
    free(p);
    return c;
}

static void test_build_properties(void **state)
{
    (void)state;
    struct hubspot_config c = load_cfg("config/connectors/hubspot.json");
    struct {
        enum hubspot_prop_kind k;
        const char *type;
        const char *field;
    } want[] = {
        {HUBSPOT_PROP_SCORE, "number", "number"},
        {HUBSPOT_PROP_TIER, "enumeration", "select"},
        {HUBSPOT_PROP_FIT, "number", "number"},
        {HUBSPOT_PROP_ENGAGEMENT, "number", "number"},
        {HUBSPOT_PROP_REASONS, "string", "textarea"},
        {HUBSPOT_PROP_SCORED_AT, "datetime", "date"},
        {HUBSPOT_PROP_TAGS, "enumeration", "checkbox"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *b = hubspot_build_property(&c, want[i].k, false);
        json_t *j = json_loads(b, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(j, "type")),
                            want[i].type);
        assert_string_equal(json_string_value(json_object_get(j, "fieldType")),
                            want[i].field);
        assert_string_equal(json_string_value(json_object_get(j, "groupName")),
                            "leadscore");
        assert_non_null(json_string_value(json_object_get(j, "name")));
        assert_non_null(json_string_value(json_object_get(j, "label")));
        /* only PropertyCreate fields v3 and 2026-03 share */
        static const char *const allowed[] = {
            "name", "label", "groupName", "type", "fieldType", "description",
            "options", "formField"};
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            bool ok = false;
            for (size_t a = 0; a < sizeof allowed / sizeof allowed[0]; a++) {
                ok = ok || strcmp(k, allowed[a]) == 0;
            }
            if (!ok) {
                fail_msg("property body field \"%s\" is not sent", k);
            }
        }
        json_decref(j);
        free(b);
    }
    char *b = hubspot_build_property(&c, HUBSPOT_PROP_TIER, false);
    assert_non_null(strstr(b, "\"options\":[{\"label\":\"Sql\",\"value\":"
                              "\"sql\",\"displayOrder\":0,\"hidden\":false},"
                              "{\"label\":\"Mql\",\"value\":\"mql\","
                              "\"displayOrder\":1,\"hidden\":false},"
                              "{\"label\":\"Cold\",\"value\":\"cold\","
                              "\"displayOrder\":2,\"hidden\":false}]"));
    free(b);
    b = hubspot_build_property(&c, HUBSPOT_PROP_TAGS, true);
    assert_string_equal(b, "{\"options\":[{\"label\":\"Sales-ready\","
                           "\"value\":\"sales-ready\",\"displayOrder\":0,"
                           "\"hidden\":false}]}");
    free(b);
    b = hubspot_build_group(&c);
    assert_string_equal(b, "{\"name\":\"leadscore\",\"label\":\"Lead scoring\","
                           "\"displayOrder\":-1}");
    free(b);
    b = hubspot_build_list_query(&c, 100, "cur_1/x");
    assert_string_equal(b, "?limit=100&archived=false&properties=jobtitle,"
                           "numemployees,country,lifecyclestage&after=cur_1%2Fx");
    free(b);
    hubspot_config_finish(&c);
}

/* ---- parsers ------------------------------------------------------------ */

static void test_parse_207(void **state)
{
    (void)state;
    const char *ids[] = {"101", "102", "103", "104"};
    struct hubspot_input_result r[4];
    char err[200];
    const char *body =
        "{\"status\":\"COMPLETE\",\"results\":[{\"id\":\"101\"},{\"id\":"
        "\"104\"}],\"numErrors\":2,\"errors\":[{\"status\":\"error\","
        "\"category\":\"OBJECT_NOT_FOUND\",\"message\":\"gone\",\"context\":"
        "{\"ids\":[\"102\"]}},{\"status\":\"error\",\"category\":"
        "\"RATE_LIMITS\",\"message\":\"slow down\",\"context\":{\"ids\":"
        "[\"103\"]}}]}";
    assert_int_equal(hubspot_parse_batch_result(207, body, strlen(body), ids, 4,
                                                true, r, err, sizeof err),
                     LSC_OK);
    assert_int_equal(r[0].status, LSC_OK);
    assert_int_equal(r[1].status, LSC_ERR_PERMANENT);
    assert_string_equal(r[1].reason, "OBJECT_NOT_FOUND: gone");
    assert_int_equal(r[2].status, LSC_ERR_RETRYABLE);
    assert_int_equal(r[3].status, LSC_OK);
    /* an input absent from results and not named fails too */
    const char *body2 = "{\"results\":[{\"id\":\"101\"}],\"errors\":[{"
                        "\"category\":\"VALIDATION_ERROR\",\"message\":\"m\"}]}";
    assert_int_equal(hubspot_parse_batch_result(207, body2, strlen(body2), ids,
                                                2, true, r, err, sizeof err),
                     LSC_OK);
    assert_int_equal(r[0].status, LSC_OK);
    assert_int_equal(r[1].status, LSC_ERR_PERMANENT);
    /* by email: unattributable errors make everything retry, never lost */
    assert_int_equal(hubspot_parse_batch_result(207, body2, strlen(body2), ids,
                                                2, false, r, err, sizeof err),
                     LSC_OK);
    assert_int_equal(r[0].status, LSC_ERR_RETRYABLE);
    assert_int_equal(r[1].status, LSC_ERR_RETRYABLE);
    assert_int_equal(hubspot_parse_batch_result(207, "nope", 4, ids, 2, true, r,
                                                err, sizeof err),
                     LSC_ERR_PARSE);
    assert_int_equal(hubspot_parse_batch_result(200, "", 0, ids, 2, true, r,
                                                err, sizeof err),
                     LSC_OK);
    assert_int_equal(r[1].status, LSC_OK);
}

struct seen {
    int n;
    char ids[8][16];
    char first_val[64];
    int nulls;
};

static enum lsc_status on_contact(void *ud, const char *id,
                                  const struct lsc_prop *p, size_t n)
{
    struct seen *s = ud;
    snprintf(s->ids[s->n++], 16, "%s", id);
    for (size_t i = 0; i < n; i++) {
        if (p[i].value.type == LSC_VAL_NULL) {
            s->nulls++;
        } else if (s->first_val[0] == '\0') {
            snprintf(s->first_val, sizeof s->first_val, "%s=%s", p[i].key,
                     p[i].value.u.str.ptr);
        }
    }
    return LSC_OK;
}

static void test_parse_contacts(void **state)
{
    (void)state;
    const char *body =
        "{\"results\":[{\"id\":\"101\",\"properties\":{\"jobtitle\":\"CTO\","
        "\"country\":null}},{\"id\":\"102\",\"properties\":{}}],\"paging\":"
        "{\"next\":{\"after\":\"MTAy\",\"link\":\"x\"}}}";
    struct seen s = {0};
    char *next = NULL;
    char err[128];
    assert_int_equal(hubspot_parse_contacts(body, strlen(body), on_contact, &s,
                                            &next, err, sizeof err),
                     LSC_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[1], "102");
    assert_string_equal(s.first_val, "jobtitle=CTO");
    assert_int_equal(s.nulls, 1);
    assert_string_equal(next, "MTAy");
    free(next);
    const char *last = "{\"results\":[]}";
    assert_int_equal(hubspot_parse_contacts(last, strlen(last), on_contact, &s,
                                            &next, err, sizeof err),
                     LSC_OK);
    assert_null(next);
}

/* ---- mapping validator -------------------------------------------------- */

/* Parses text as the mapping file `file` with REC's diagnostics cleared
 * first; c is the caller's to finish when LSC_OK. */
static enum lsc_status parse_fresh(const char *file, const char *text,
                                   struct hubspot_config *c, char *err,
                                   size_t errlen)
{
    memset(&REC, 0, sizeof REC);
    return hubspot_config_parse(file, text, strlen(text), diag_cb, &REC, c,
                                err, errlen);
}

/* Each of want[0..n) starts one of the recorded diagnostics (any order);
 * the first missing one fails the test, after listing what was got. */
static void expect_diags(const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (int k = 0; k < REC.n_diag; k++) {
            found = found || strncmp(REC.diag[k], want[i], strlen(want[i])) == 0;
        }
        if (!found) {
            for (int k = 0; k < REC.n_diag; k++) {
                fprintf(stderr, "# got %s\n", REC.diag[k]);
            }
            fail_msg("missing diagnostic: %s", want[i]);
        }
    }
}

static void test_shipped_mapping_valid(void **state)
{
    (void)state;
    memset(&REC, 0, sizeof REC);
    struct hubspot_config c;
    char err[256];
    char *p = source_path("config/connectors/hubspot.json");
    assert_int_equal(hubspot_config_load(p, diag_cb, &REC, &c, err, sizeof err),
                     LSC_OK);
    assert_int_equal(REC.n_diag, 0);
    assert_string_equal(c.api_version, "2026-03");
    assert_string_equal(c.token_url, "https://api.hubapi.com/oauth/2026-03/token");
    assert_int_equal(c.n_inputs, 4);
    assert_int_equal(c.n_tiers, 3);
    assert_int_equal(c.n_actions, 2);
    assert_int_equal(c.batch_size, 100);
    assert_non_null(strstr(c.scopes, "crm.objects.contacts.write"));
    assert_non_null(strstr(c.scopes, "crm.schemas.contacts.write"));
    hubspot_config_finish(&c);
    free(p);
}

static void test_mapping_diagnostics(void **state)
{
    (void)state;
    const char *text =
        "{\n"
        "  \"schema\": \"leadscore.connector/1\",\n"
        "  \"connector\": \"hubspot\",\n"
        "  \"api\": {\"base_url\": \"http://api.hubapi.com\", \"version\": \"v4\"},\n"
        "  \"auth\": {\"type\": \"private_app\", \"token_env\": \"pat-na1-123\"},\n"
        "  \"inputs\": {\"JobTitle\": \"title\"},\n"
        "  \"outputs\": {\"score\": \"lead score\", \"tier\": \"leadscore_tier\"},\n"
        "  \"tiers\": [\"hot\", \"hot\"],\n"
        "  \"limits\": {\"batch_size\": 150},\n"
        "  \"actions\": [{\"on\": \"enter\", \"tier\": \"lukewarm\"},\n"
        "              {\"on\": \"enter\", \"tier\": \"hot\", \"tag\": \"x\"}],\n"
        "  \"extra\": 1, \"tierz\": []\n"
        "}\n";
    struct hubspot_config c;
    char err[256];
    assert_int_equal(parse_fresh("bad.json", text, &c, err, sizeof err),
                     LSC_ERR_CONFIG);
    const char *want[] = {
        "bad.json:12:3: extra: unknown key",
        "bad.json:12:15: tierz: unknown key \"tierz\" is ignored; hint: did "
        "you mean 'tiers'?",
        "bad.json:4:11: api.base_url: \"http://api.hubapi.com\" is not an https",
        "bad.json:4:48: api.version: unknown API version \"v4\"",
        "bad.json:5:35: auth.token_env: not an environment variable name "
        "(A-Z, 0-9, _); hint: the name of the variable holding the token",
        "bad.json:6:14: inputs.JobTitle: \"JobTitle\" is not a HubSpot",
        "bad.json:7:15: outputs.score: \"lead score\" is not a valid",
        "bad.json:8:20: tiers[1]: duplicate tier \"hot\"",
        "bad.json:9:14: limits.batch_size: 150 is out of range 1..100; hint:",
        "bad.json:10:31: actions[0].tier: unknown tier \"lukewarm\"",
        "bad.json:11:46: actions[1].tag: a tag action needs outputs.tags",
    };
    expect_diags(want, sizeof want / sizeof want[0]);
    /* A token pasted where its variable's name goes is not repeated. */
    for (int k = 0; k < REC.n_diag; k++) {
        assert_null(strstr(REC.diag[k], "pat-na1"));
    }
    assert_non_null(strstr(err, "bad.json:"));
    assert_non_null(strstr(err, "errors)"));
    /* syntax errors carry jansson's position */
    assert_int_equal(
        parse_fresh("s.json", "{\n \"a\": ,}", &c, err, sizeof err),
        LSC_ERR_CONFIG);
    assert_int_equal(REC.n_diag, 1);
    assert_non_null(strstr(REC.diag[0], "s.json:2:"));
}



/* The "actions" walk shared with Mailchimp (core/mapping.c), at the keys
 * it is about. */
static void test_mapping_action_walk(void **state)
{
    (void)state;
    const char *text =
        "{\"schema\": \"leadscore.connector/1\", \"connector\": \"hubspot\",\n"
        " \"auth\": {\"type\": \"service_key\", \"token_env\": \"T\"},\n"
        " \"outputs\": {\"score\": \"s\", \"tier\": \"t\"},\n"
        " \"tiers\": [\"hot\"],\n"
        " \"actions\": [{\"on\": \"arrive\", \"tier\": \"hot\", \"wrte_tier\": 1},\n"
        "             \"x\", {\"on\": \"leave\", \"tier\": \"hot\"}]}\n";
    struct hubspot_config c;
    char err[256];
    assert_int_equal(parse_fresh("w.json", text, &c, err, sizeof err),
                     LSC_ERR_CONFIG);
    const char *want[] = {
        "w.json:5:46: actions[0].wrte_tier: unknown key \"wrte_tier\" is "
        "ignored; hint: did you mean 'write_tier'?",
        "w.json:5:15: actions[0].on: \"arrive\" is not a transition; hint: "
        "\"enter\" or \"leave\"",
        "w.json:5:14: actions[0]: the action does nothing; hint: set "
        "write_tier, tag or webhook",
        "w.json:6:14: actions[1]: must be an object",
        "w.json:6:19: actions[2]: the action does nothing; hint: set "
        "write_tier, tag or webhook",
    };
    assert_int_equal(REC.n_diag, 5);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(REC.diag[i], want[i]);
    }
    assert_string_equal(err, "w.json:5:15: actions[0].on: \"arrive\" is not "
                             "a transition; hint: \"enter\" or \"leave\" (2 "
                             "errors)");

    /* An empty "on" is one problem (Mailchimp reports it the same way). */
    const char *empty =
        "{\"schema\": \"leadscore.connector/1\", \"connector\": \"hubspot\",\n"
        " \"auth\": {\"type\": \"service_key\", \"token_env\": \"T\"},\n"
        " \"outputs\": {\"score\": \"s\", \"tier\": \"t\"},\n"
        " \"tiers\": [\"hot\"],\n"
        " \"actions\": [{\"on\": \"\", \"tier\": \"hot\", \"write_tier\": true}]}\n";
    assert_int_equal(parse_fresh("w.json", empty, &c, err, sizeof err),
                     LSC_ERR_CONFIG);
    assert_int_equal(REC.n_diag, 1);
    assert_string_equal(REC.diag[0], "w.json:5:15: actions[0].on: must be a "
                                     "non-empty string");
}

/* The fit/engagement object form and its diagnostics. */
static void test_mapping_output_groups(void **state)
{
    (void)state;
    const char *good =
        "{\"schema\": \"leadscore.connector/1\", \"connector\": \"hubspot\",\n"
        " \"auth\": {\"type\": \"service_key\", \"token_env\": \"T\"},\n"
        " \"outputs\": {\"score\": \"s\", \"tier\": \"t\",\n"
        "   \"fit\": {\"property\": \"lf\", \"groups\": [\"who\", \"where\"]},\n"
        "   \"engagement\": \"le\"},\n"
        " \"tiers\": [\"hot\"]}\n";
    struct hubspot_config c;
    char err[256];
    assert_int_equal(parse_fresh("g.json", good, &c, err, sizeof err),
                     LSC_OK);
    assert_int_equal(REC.n_diag, 0);
    assert_string_equal(c.prop_fit, "lf");
    assert_int_equal(c.n_fit_groups, 2);
    assert_string_equal(c.fit_groups[1], "where");
    assert_true(c.fit_groups_explicit);
    assert_string_equal(c.prop_engagement, "le");
    assert_int_equal(c.n_engagement_groups, 1); /* the default */
    assert_string_equal(c.engagement_groups[0], "engagement");
    assert_false(c.engagement_groups_explicit);
    hubspot_config_finish(&c);
    const char *bad =
        "{\"schema\": \"leadscore.connector/1\", \"connector\": \"hubspot\",\n"
        " \"auth\": {\"type\": \"service_key\", \"token_env\": \"T\"},\n"
        " \"outputs\": {\"score\": \"s\", \"tier\": \"t\",\n"
        "   \"fit\": {\"groups\": [\"who\", 3, \"who\"], \"max\": 1},\n"
        "   \"engagement\": {\"property\": \"le\", \"groups\": []},\n"
        "   \"reasons\": 7},\n"
        " \"tiers\": [\"hot\"]}\n";
    assert_int_equal(parse_fresh("b.json", bad, &c, err, sizeof err),
                     LSC_ERR_CONFIG);
    const char *want[] = {
        "b.json:4:4: outputs.fit: missing \"property\"",
        "b.json:4:30: outputs.fit.groups[1]: must be a model group name",
        "b.json:4:33: outputs.fit.groups[2]: group \"who\" is listed twice",
        "b.json:4:41: outputs.fit.max: unknown key",
        "b.json:5:37: outputs.engagement.groups: must be a non-empty array",
        "b.json:6:4: outputs.reasons: must be a non-empty string",
    };
    expect_diags(want, sizeof want / sizeof want[0]);
}

static void test_format_num(void **state)
{
    (void)state;
    char b[48];
    connectors_format_num(40, b, sizeof b);
    assert_string_equal(b, "40");
    connectors_format_num(40.5, b, sizeof b);
    assert_string_equal(b, "40.5");
    connectors_format_num(14.109999, b, sizeof b);
    assert_string_equal(b, "14.11");
    connectors_format_num(-3.254, b, sizeof b);
    assert_string_equal(b, "-3.25");
    connectors_format_num(0.004, b, sizeof b);
    assert_string_equal(b, "0");
    connectors_format_num(-0.001, b, sizeof b);
    assert_string_equal(b, "0");
    connectors_format_num(0.05, b, sizeof b);
    assert_string_equal(b, "0.05");
}

static void test_format_reasons(void **state)
{
    (void)state;
    char out[CONNECTORS_REASONS_MAX + 1];
    const struct connectors_reason r[] = {{"decision-maker", 15, 0},
                                          {"pricing-page", 14.1, 2},
                                          {"free-mail", -10, 0},
                                          {"email-open", 3, 1}};
    size_t n = connectors_format_reasons(r, 4, out, sizeof out);
    assert_string_equal(out, "decision-maker +15; pricing-page +14.1 "
                             "(2 awards); free-mail -10");
    assert_int_equal(n, strlen(out));
    connectors_format_reasons(&r[3], 1, out, sizeof out);
    assert_string_equal(out, "email-open +3 (1 award)");
    connectors_format_reasons(NULL, 0, out, sizeof out);
    assert_string_equal(out, "");
    /* a second rule that would pass the limit is left out whole */
    char big[CONNECTORS_REASONS_MAX];
    memset(big, 'a', 600);
    big[600] = '\0';
    const struct connectors_reason two[] = {{big, 2, 0}, {big, 1, 0}};
    n = connectors_format_reasons(two, 2, out, sizeof out);
    assert_int_equal(n, 603);
    assert_null(strchr(out, ';'));
    /* one id longer than the limit: cut at a UTF-8 boundary, "..." */
    char huge[1200];
    size_t o = 0;
    while (o + 2 < sizeof huge - 1) {
        huge[o++] = (char)0xC3; /* "é" */
        huge[o++] = (char)0xA9;
    }
    huge[o] = '\0';
    const struct connectors_reason one[] = {{huge, 5, 0}};
    n = connectors_format_reasons(one, 1, out, sizeof out);
    assert_true(n <= CONNECTORS_REASONS_MAX);
    assert_int_equal(n, strlen(out));
    assert_non_null(strstr(out, "... +5"));
    assert_int_equal((unsigned char)out[n - 7], 0xA9); /* whole "é" before */
    /* a small buffer is never overrun */
    char tiny[8];
    n = connectors_format_reasons(r, 1, tiny, sizeof tiny);
    assert_true(n < sizeof tiny);
}

/* ---- facade ------------------------------------------------------------- */

static char tmpdir[128];
static char mapping[256];

static int setup_facade(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lsc-hsunit-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    snprintf(mapping, sizeof mapping, "%s/hubspot.json", tmpdir);
    FILE *f = fopen(mapping, "w");
    fprintf(f,
            "{\"schema\":\"leadscore.connector/1\",\"connector\":\"hubspot\","
            "\"api\":{\"base_url\":\"http://127.0.0.1:1\"},"
            "\"auth\":{\"type\":\"service_key\",\"token_env\":\"LSC_UT_TOKEN\"},"
            "\"outputs\":{\"score\":\"ls_score\",\"tier\":\"ls_tier\","
            "\"fit\":{\"property\":\"ls_fit\",\"groups\":[\"fit\","
            "\"firmographics\",\"absent\"]},\"engagement\":\"ls_eng\","
            "\"reasons\":\"ls_reasons\",\"tags\":\"ls_tags\"},"
            "\"tiers\":[\"hot\",\"warm\",\"cold\"],"
            "\"limits\":{\"max_attempts\":3,\"backoff_base_ms\":10,"
            "\"backoff_cap_ms\":50,\"timeout_ms\":2000,"
            "\"connect_timeout_ms\":1000},"
            "\"actions\":[{\"on\":\"enter\",\"tier\":\"hot\",\"tag\":\"hot-lead\","
            "\"webhook\":{\"url\":\"http://127.0.0.1:1/hook\",\"secret_env\":"
            "\"LSC_UT_HOOK\"}},{\"on\":\"leave\",\"tier\":\"hot\",\"tag\":"
            "\"hot-lead\",\"write_tier\":true}]}");
    fclose(f);
    setenv("LSC_UT_TOKEN", "pat-na1-SECRET-0123456789", 1);
    setenv("LSC_UT_HOOK", "whsec_SECRET_abcdef", 1);
    memset(&REC, 0, sizeof REC);
    return 0;
}

/* A connectors instance on mappings (a file, or paths one per line) with
 * the data dir tmpdir; the caller destroys it. */
static struct connectors *create_facade(const char *mappings)
{
    struct connectors *c = NULL;
    char err[256] = "";
    assert_int_equal(connectors_create(&HOST, mappings, tmpdir, &c, err,
                                       sizeof err),
                     LSC_OK);
    return c;
}

static int teardown_facade(void **state)
{
    (void)state;
    char p[300];
    snprintf(p, sizeof p, "%s/hubspot.json", tmpdir);
    unlink(p);
    rmdir(tmpdir);
    return 0;
}

static void test_facade_jobs(void **state)
{
    (void)state;
    struct connectors *c = create_facade(mapping);
    char err[256] = "";
    const struct connectors_reason reasons[] = {{"demo-request", 25, 1},
                                                {"pricing-page", 14.109, 2},
                                                {"title-exec", 15, 0},
                                                {"email-open", 1, 1}};
    /* fit = fit + firmographics ("absent" is not in the model) */
    const struct connectors_group groups[] = {{"fit", 20},
                                              {"firmographics", 10.5},
                                              {"engagement", 47.256},
                                              {"disqualifiers", -30}};
    struct connectors_score s = {.contact_id = "101", .score = 87,
                                 .tier = "hot", .groups = groups,
                                 .n_groups = 4, .reasons = reasons,
                                 .n_reasons = 4, .at_ms = 1763805600000};
    assert_int_equal(connectors_on_score(c, &s, err, sizeof err), LSC_OK);
    assert_int_equal(REC.n_jobs, 1);
    assert_string_equal(REC.kind[0], CONNECTORS_JOB_HUBSPOT_WRITE);
    assert_string_equal(REC.key[0], "hubspot:101");
    json_t *p = json_loads(REC.payload[0], 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(p, "s")), 87);
    assert_string_equal(json_string_value(json_object_get(p, "t")), "hot");
    assert_string_equal(json_string_value(json_object_get(p, "f")), "30.5");
    assert_string_equal(json_string_value(json_object_get(p, "e")), "47.26");
    assert_string_equal(json_string_value(json_object_get(p, "r")),
                        "demo-request +25 (1 award); pricing-page +14.11 "
                        "(2 awards); title-exec +15");
    assert_int_equal(json_integer_value(json_object_get(p, "at")),
                     1763805600000);
    json_decref(p);
    /* a model without any fit group: no fit value at all */
    const struct connectors_group eng_only[] = {{"engagement", 5}};
    s.contact_id = "102";
    s.groups = eng_only;
    s.n_groups = 1;
    s.n_reasons = 0;
    assert_int_equal(connectors_on_score(c, &s, err, sizeof err), LSC_OK);
    p = json_loads(REC.payload[1], 0, NULL);
    assert_null(json_object_get(p, "f"));
    assert_string_equal(json_string_value(json_object_get(p, "e")), "5");
    assert_string_equal(json_string_value(json_object_get(p, "r")), "");
    json_decref(p);
    REC.n_jobs = 1;
    /* a transition into hot: tag action + signed webhook */
    struct lsc_transition t = {.struct_size = sizeof t, .contact_id = "101",
                               .model = "b2b", .primary = true,
                               .from = "warm", .to = "hot", .score = 87,
                               .at_ms = 1763805600000};
    assert_int_equal(connectors_on_transition(c, &t, reasons, 4, err,
                                              sizeof err),
                     LSC_OK);
    assert_int_equal(REC.n_jobs, 3);
    assert_string_equal(REC.kind[1], CONNECTORS_JOB_WEBHOOK);
    /* the webhook body: the top 3 as {rule, points, awards} */
    p = json_loads(REC.payload[1], 0, NULL);
    json_t *body = json_loads(json_string_value(json_object_get(p, "body")),
                              0, NULL);
    json_t *rs = json_object_get(body, "reasons");
    assert_int_equal(json_array_size(rs), 3);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(rs, 1), "rule")),
                        "pricing-page");
    assert_true(json_real_value(json_object_get(json_array_get(rs, 1),
                                                "points")) == 14.11);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(rs, 2), "awards")),
                     0);
    json_decref(body);
    json_decref(p);
    assert_string_equal(REC.kind[2], CONNECTORS_JOB_HUBSPOT_ACTION);
    assert_non_null(strstr(REC.payload[2], "\"add\":[\"hot-lead\"]"));
    assert_null(strstr(REC.payload[2], "\"t\":"));
    /* the same transition again: the same keys (the host coalesces) */
    assert_int_equal(connectors_on_transition(c, &t, reasons, 4, err,
                                              sizeof err),
                     LSC_OK);
    assert_string_equal(REC.key[3], REC.key[1]);
    assert_string_equal(REC.key[4], REC.key[2]);
    /* secrets never enter job payloads */
    for (int i = 0; i < REC.n_jobs; i++) {
        assert_null(strstr(REC.payload[i], "SECRET"));
    }
    /* leaving hot: remove the tag and write the tier */
    t.from = "hot";
    t.to = "warm";
    t.at_ms += 1000;
    assert_int_equal(connectors_on_transition(c, &t, NULL, 0, err, sizeof err),
                     LSC_OK);
    assert_non_null(strstr(REC.payload[REC.n_jobs - 1],
                           "\"remove\":[\"hot-lead\"]"));
    assert_non_null(strstr(REC.payload[REC.n_jobs - 1], "\"t\":\"warm\""));
    /* not the primary model: nothing */
    int before = REC.n_jobs;
    t.primary = false;
    assert_int_equal(connectors_on_transition(c, &t, NULL, 0, err, sizeof err),
                     LSC_OK);
    assert_int_equal(REC.n_jobs, before);
    connectors_destroy(c);
    connectors_destroy(NULL);
}


/* Groups the mapping names that the model lacks are logged at start. */
static void test_facade_check_groups(void **state)
{
    (void)state;
    struct connectors *c = create_facade(mapping);
    unsigned need = connectors_needs(c);
    assert_true(need & CONNECTORS_NEED_GROUPS);
    assert_true(need & CONNECTORS_NEED_REASONS);
    assert_true(need & CONNECTORS_NEED_HOOK_REASONS);
    const char *groups[] = {"fit", "firmographics", "intent"};
    REC.n_log = 0;
    connectors_check_groups(c, "m", groups, 3);
    /* "absent" (fit), and no "engagement" group at all for ls_eng */
    assert_int_equal(REC.n_log, 2);
    assert_non_null(strstr(REC.log[0], "outputs.fit names group \"absent\""));
    assert_non_null(strstr(REC.log[1], "ls_eng is not written"));
    connectors_destroy(c);
}

/* Every log line, through failing jobs and an unreachable server, is
 * free of the token and the webhook secret. */
static void test_facade_redaction(void **state)
{
    (void)state;
    struct connectors *c = create_facade(mapping);
    char err[256] = "";
    struct connectors_score s = {.contact_id = "101", .score = 5,
                                 .tier = "cold", .at_ms = 1};
    assert_int_equal(connectors_on_score(c, &s, err, sizeof err), LSC_OK);
    struct lsc_transition t = {.struct_size = sizeof t, .contact_id = "101",
                               .model = "m", .primary = true, .from = "warm",
                               .to = "hot", .score = 90, .at_ms = 2};
    assert_int_equal(connectors_on_transition(c, &t, NULL, 0, err, sizeof err),
                     LSC_OK);
    for (int i = 0; i < REC.n_jobs; i++) {
        struct lsc_job job = {.struct_size = sizeof job, .id = (uint64_t)i + 1,
                              .kind = REC.kind[i], .key = REC.key[i],
                              .payload = REC.payload[i],
                              .payload_len = strlen(REC.payload[i]),
                              .attempt = 1,
                              .enqueued_ms = (int64_t)time(NULL) * 1000};
        struct lsc_job_result r = {.struct_size = sizeof r};
        assert_int_equal(connectors_run_jobs(c, &job, &r, 1), LSC_OK);
        /* 127.0.0.1:1 refuses connections: retryable, reason given */
        assert_int_equal(r.status, LSC_ERR_RETRYABLE);
        assert_true(r.reason[0] != '\0');
        assert_null(strstr(r.reason, "SECRET"));
    }
    /* a log line that tries to print the token is redacted */
    char status[512];
    connectors_status(c, status, sizeof status);
    assert_non_null(strstr(status, "static token"));
    assert_true(REC.n_log > 0);
    for (int i = 0; i < REC.n_log; i++) {
        assert_null(strstr(REC.log[i], "pat-na1-SECRET-0123456789"));
        assert_null(strstr(REC.log[i], "whsec_SECRET_abcdef"));
    }
    connectors_destroy(c);
}

static void test_facade_mapping_list(void **state)
{
    (void)state;
    char *mc = source_path("config/connectors/mailchimp.json");
    char *hs = source_path("config/connectors/hubspot.json");
    char err[256] = "";
    memset(&REC, 0, sizeof REC);
    assert_int_equal(connectors_validate_file(&HOST, hs, NULL, 0, err, sizeof err),
                     LSC_OK);
    assert_int_equal(connectors_validate_file(&HOST, mc, NULL, 0, err, sizeof err),
                     LSC_ERR_UNSUPPORTED);
    assert_int_equal(REC.n_diag, 0);
    /* the plugin's `connectors` value: paths one per line */
    char list[2200];
    snprintf(list, sizeof list, "%s\n%s\n", mc, mapping);
    struct connectors *c = create_facade(list);
    char status[512];
    connectors_status(c, status, sizeof status);
    assert_non_null(strstr(status, "hubspot: connected (static token"));
    connectors_destroy(c);
    /* no HubSpot file: nothing configured, nothing enqueued */
    c = create_facade(mc);
    connectors_status(c, status, sizeof status);
    assert_string_equal(status, "hubspot: not configured\n");
    struct connectors_score sc = {.contact_id = "1", .score = 1,
                                  .tier = "cold"};
    int before = REC.n_jobs;
    assert_int_equal(connectors_on_score(c, &sc, err, sizeof err), LSC_OK);
    assert_int_equal(REC.n_jobs, before);
    connectors_destroy(c);
    free(mc);
    free(hs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_build_batch_update),
        cmocka_unit_test(test_build_batch_read),
        cmocka_unit_test(test_build_properties),
        cmocka_unit_test(test_parse_207),
        cmocka_unit_test(test_parse_contacts),
        cmocka_unit_test(test_shipped_mapping_valid),
        cmocka_unit_test(test_mapping_diagnostics),
        cmocka_unit_test(test_mapping_action_walk),
        cmocka_unit_test(test_mapping_output_groups),
        cmocka_unit_test(test_format_num),
        cmocka_unit_test(test_format_reasons),
        cmocka_unit_test_setup_teardown(test_facade_check_groups,
                                        setup_facade, teardown_facade),
        cmocka_unit_test_setup_teardown(test_facade_jobs, setup_facade,
                                        teardown_facade),
        cmocka_unit_test_setup_teardown(test_facade_redaction, setup_facade,
                                        teardown_facade),
        cmocka_unit_test_setup_teardown(test_facade_mapping_list,
                                        setup_facade, teardown_facade),
    };
    return cmocka_run_group_tests_name("hubspot_unit", tests, NULL, NULL);
}
