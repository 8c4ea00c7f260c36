/*
 * fake_mailchimp: a loopback stand-in for the Mailchimp Marketing API 3.0
 * and its OAuth endpoints, for integration and contract tests.  Behaviour
 * follows ../shared/docs/crm-apis.md section 2.
 *
 *   fake_mailchimp [--api-key KEY] [--max-conn N] [--delay-ms N]
 *                  [--client-id ID --client-secret S --redirect-uri U]
 *   (--redirect-uri '*' accepts any http://127.0.0.1:PORT/... redirect)
 *
 * Listens on 127.0.0.1 on a free port and prints "PORT <n>" on stdout.
 * Stops when stdin reaches end of file (the test closes its pipe) or on
 * SIGTERM/SIGINT.
 *
 * API (under /3.0): members by subscriber hash (GET/PUT/PATCH), merge
 * fields (GET/POST), member tags (POST -> 204, GET), batch subscribe
 * (POST /lists/{id}), batch operations (POST /batches, GET /batches/{id}),
 * campaigns (GET /campaigns) and email activity reports with count/offset
 * paging.  Basic auth with the API key, or Bearer/OAuth with an issued
 * token.  Errors are application/problem+json with X-Request-Id ==
 * instance.  More than max-conn requests in flight get 429.
 * OAuth: POST /oauth2/token, GET /oauth2/metadata (200 with "error" for a
 * bad token).
 *
 * Test control (not recorded, not limited):
 *   POST /_fake/seed     {"lists":[..],"members":[{list,email,status,
 *                         merge_fields,tags}],"merge_fields":[{list,tag,
 *                         name,type}],"campaigns":[{id,type,list_id,
 *                         send_time,no_report,activity:[{email,action,
 *                         timestamp,url,type}]}]}
 *   POST /_fake/config   {"delay_ms":N,"max_conn":N,"page_cap":N (merge-
 *                         fields pages hold at most N),"batch_polls":N
 *                         (a batch answers "started" N times first),
 *                         "batch_vanish":N (GET /batches/{id} -> 404 after
 *                         N GETs; -1 never),"batch_results":
 *                         "ok"|"corrupt"|"none","metadata_dc":"us1"}
 *   GET  /_fake/batch-results/{id}.tar.gz  the results archive (gzipped
 *                         tar of JSON arrays), unauthenticated like the
 *                         real pre-signed URL; downloads are recorded
 *   POST /_fake/fail     {"count":N,"status":503,"no_body":false,
 *                         "title":"..."}: the next N API requests fail;
 *                         with "for_ms":M instead, every API request for
 *                         the next M ms fails
 *   POST /_fake/revoke   the issued OAuth tokens stop working
 *   GET  /_fake/requests {"requests":[{method,path,query,body,auth,t_ms,
 *                         content_type,user_agent,status}],"max_in_flight":N,
 *                         "throttled":N,"downloads":[{path,auth}]}
 *   POST /_fake/clear    forget recorded requests and counters
 *   GET  /_fake/member?list=L&email=E   the stored member (tags included)
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <zlib.h>

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

#define ERR_TYPE "https://mailchimp.com/developer/marketing/docs/errors/"

struct fake {
    pthread_mutex_t mu;
    const char *api_key;
    const char *client_id;
    const char *client_secret;
    const char *redirect_uri;
    unsigned port;
    int max_conn;
    int delay_ms;
    int in_flight;
    int max_in_flight;
    long throttled;
    long request_seq;
    long token_seq;
    int fail_count;
    int64_t fail_until_ms; /* monotonic; API requests before it fail */
    int fail_status;
    bool fail_no_body;
    char fail_title[64];
    json_t *tokens;    /* object: token -> true (valid) / false (revoked) */
    json_t *lists;     /* object: list id -> {"merge_fields":[..],
                          "members":{hash: member}, "next_merge_id":n} */
    json_t *campaigns; /* array */
    json_t *batches;   /* object: id -> batch */
    json_t *requests;  /* array of recorded requests */
    json_t *downloads; /* array of {"auth":..} of results downloads */
    int page_cap;      /* merge-fields pages hold at most this (0: none) */
    int batch_polls;   /* GETs of a batch that answer "started" first */
    int batch_vanish;  /* GET /batches/{id} answers 404 (deleted) after
                          this many GETs; -1: never */
    char batch_results[16]; /* "ok", "corrupt", "none" (no URL) */
    char metadata_dc[64];   /* "dc" of /oauth2/metadata */
};

struct reqctx {
    char *body;
    size_t len;
    size_t cap;
    bool overflow;
};

struct reply {
    unsigned status;
    char *body; /* malloc()ed, may be NULL */
    size_t body_len; /* 0: strlen(body) (binary answers set it) */
    const char *content_type;
    char request_id[48];
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* ---- helpers ------------------------------------------------------------ */

static void md5_hex(const char *s, char out[33])
{
    char norm[512];
    size_t n = 0;
    while (*s != '\0' && isspace((unsigned char)*s)) {
        s++;
    }
    for (; *s != '\0' && n + 1 < sizeof norm; s++) {
        norm[n++] = (char)tolower((unsigned char)*s);
    }
    while (n > 0 && isspace((unsigned char)norm[n - 1])) {
        n--;
    }
    norm[n] = '\0';
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(norm, n, md, &mdlen, EVP_md5(), NULL);
    for (unsigned int i = 0; i < 16; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

static void reply_json(struct reply *r, unsigned status, json_t *j)
{
    r->status = status;
    r->body = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)
                        : NULL;
    r->content_type = "application/json; charset=utf-8";
    json_decref(j);
}

/* problem+json; `errors` (stolen, may be NULL) is the errors[] array. */
static void reply_problem(struct reply *r, unsigned status, const char *title,
                          const char *detail, json_t *errors)
{
    json_t *j = json_pack("{s:s,s:s,s:i,s:s,s:s}", "type", ERR_TYPE, "title",
                          title, "status", (int)status, "detail", detail,
                          "instance", r->request_id);
    if (errors != NULL) {
        json_object_set_new(j, "errors", errors);
    }
    r->status = status;
    r->body = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    r->content_type = "application/problem+json; charset=utf-8";
    json_decref(j);
}

static json_t *field_error(const char *field, const char *message)
{
    return json_pack("[{s:s,s:s}]", "field", field, "message", message);
}

#define INVALID_DETAIL                                                     \
    "The resource submitted could not be validated. For field-specific "   \
    "details, see the 'errors' array."

/* 400 Invalid Resource with one errors[] entry, the way schema
 * validation failures are answered. */
static void reply_invalid(struct reply *r, const char *field,
                          const char *message)
{
    reply_problem(r, 400, "Invalid Resource", INVALID_DETAIL,
                  field_error(field, message));
}

/* True when s is in the NULL-terminated `set`. */
static bool in_set(const char *s, const char *const *set)
{
    for (size_t i = 0; s != NULL && set[i] != NULL; i++) {
        if (strcmp(s, set[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Refuses (true) v unless it is a string in the NULL-terminated `set`;
 * the message lists the set, as Mailchimp's schema errors do. */
static bool refuse_enum(struct reply *r, const char *field, json_t *v,
                        const char *const *set)
{
    if (in_set(json_string_value(v), set)) {
        return false;
    }
    char msg[256] = "Value is not one of the enum [";
    for (size_t i = 0; set[i] != NULL; i++) {
        size_t len = strlen(msg);
        snprintf(msg + len, sizeof msg - len, "%s%s", i > 0 ? ", " : "",
                 set[i]);
    }
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof msg - len, "]");
    reply_invalid(r, field, msg);
    return true;
}

/* Refuses (true) obj[key] when present and not a boolean. */
static bool refuse_bool(struct reply *r, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_boolean(v)) {
        return false;
    }
    reply_invalid(r, key, "Schema describes boolean, another type found "
                          "instead");
    return true;
}

/* Refuses (true) a body that is not an object or has a key outside
 * `allowed` (NULL-terminated). */
static bool refuse_shape(struct reply *r, json_t *body,
                         const char *const *allowed)
{
    if (!json_is_object(body)) {
        reply_invalid(r, "", "Schema describes object, another type "
                             "found instead");
        return true;
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (!in_set(k, allowed)) {
            char msg[160];
            snprintf(msg, sizeof msg, "The property \"%s\" is not defined "
                                      "in this schema",
                     k);
            reply_invalid(r, k, msg);
            return true;
        }
    }
    return false;
}

/* Member status (status, status_if_new, batch subscribe). */
static const char *const member_statuses[] = {
    "subscribed", "unsubscribed", "cleaned", "pending", "transactional",
    NULL};

static json_t *list_get(struct fake *f, const char *id)
{
    return json_object_get(f->lists, id);
}

static json_t *list_add(struct fake *f, const char *id)
{
    json_t *l = list_get(f, id);
    if (l != NULL) {
        return l;
    }
    l = json_pack("{s:[{s:i,s:s,s:s,s:s},{s:i,s:s,s:s,s:s}],s:{},s:i}",
                  "merge_fields", "merge_id", 1, "tag", "FNAME", "name",
                  "First Name", "type", "text", "merge_id", 2, "tag", "LNAME",
                  "name", "Last Name", "type", "text", "members", "next_id",
                  3);
    json_object_set_new(f->lists, id, l);
    return l;
}

static json_t *merge_field_by_tag(json_t *list, const char *tag)
{
    size_t i;
    json_t *mf;
    json_array_foreach(json_object_get(list, "merge_fields"), i, mf) {
        if (strcmp(json_string_value(json_object_get(mf, "tag")), tag) == 0) {
            return mf;
        }
    }
    return NULL;
}

/* Validates merge_fields values against the list's fields.  Returns an
 * errors[] array (new reference) or NULL when valid. */
static json_t *check_merge_values(json_t *list, json_t *values)
{
    const char *k;
    json_t *v;
    json_object_foreach(values, k, v) {
        json_t *mf = merge_field_by_tag(list, k);
        if (mf == NULL) {
            continue; /* Mailchimp ignores unknown merge tags */
        }
        const char *type = json_string_value(json_object_get(mf, "type"));
        if (strcmp(type, "number") == 0 && !json_is_number(v) &&
            !json_is_null(v)) {
            return field_error(k, "Please enter a number");
        }
        if (strcmp(type, "text") == 0 && !json_is_string(v) &&
            !json_is_null(v)) {
            return field_error(k, "Please enter a value");
        }
    }
    return NULL;
}

/* Required merge fields left empty by a write of `values` to member m
 * (NULL: a new member).  Returns an errors[] array (new reference) or
 * NULL. */
static json_t *check_required(json_t *list, json_t *m, json_t *values)
{
    json_t *errors = NULL;
    size_t i;
    json_t *mf;
    json_array_foreach(json_object_get(list, "merge_fields"), i, mf) {
        if (!json_is_true(json_object_get(mf, "required"))) {
            continue;
        }
        const char *tag = json_string_value(json_object_get(mf, "tag"));
        json_t *v = json_object_get(values, tag);
        if (v == NULL && m != NULL) {
            v = json_object_get(json_object_get(m, "merge_fields"), tag);
        }
        if (v == NULL || json_is_null(v) ||
            (json_is_string(v) && json_string_length(v) == 0)) {
            if (errors == NULL) {
                errors = json_array();
            }
            json_array_append_new(errors,
                                  json_pack("{s:s,s:s}", "field", tag,
                                            "message",
                                            "Please enter a value"));
        }
    }
    return errors;
}

static json_t *member_view(const char *list_id, json_t *m)
{
    json_t *v = json_deep_copy(m);
    json_object_set_new(v, "list_id", json_string(list_id));
    json_object_set(v, "unique_email_id", json_object_get(m, "id"));
    return v;
}

/* Adds/removes tags on member m from a tags[] array of {name,status}. */
static void apply_tags(json_t *m, json_t *tags)
{
    json_t *have = json_object_get(m, "tags");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *st = json_string_value(json_object_get(t, "status"));
        size_t k;
        json_t *h;
        bool found = false;
        json_array_foreach(have, k, h) {
            if (strcmp(json_string_value(json_object_get(h, "name")), name) ==
                0) {
                found = true;
                break;
            }
        }
        if (strcmp(st, "active") == 0 && !found) {
            json_array_append_new(have, json_pack("{s:s}", "name", name));
        } else if (strcmp(st, "inactive") == 0 && found) {
            json_array_remove(have, k);
        }
    }
}

static json_t *member_new(const char *email, const char *status)
{
    char h[33];
    md5_hex(email, h);
    return json_pack("{s:s,s:s,s:s,s:{},s:[]}", "id", h, "email_address",
                     email, "status", status, "merge_fields", "tags");
}

/* ---- API handlers (called with f->mu held) ------------------------------ */

static long query_long(json_t *q, const char *k, long dflt);

static void api_merge_fields(struct fake *f, const char *method,
                             const char *list_id, json_t *body, json_t *q,
                             struct reply *r)
{
    json_t *l = list_get(f, list_id);
    if (l == NULL) {
        reply_problem(r, 404, "Resource Not Found",
                      "The requested resource could not be found.", NULL);
        return;
    }
    if (strcmp(method, "GET") == 0) {
        /* count (default 10, at most 1000) and offset paging. */
        long count = query_long(q, "count", 10);
        long offset = query_long(q, "offset", 0);
        if (count < 1 || count > 1000 || offset < 0) {
            reply_invalid(r, count < 1 || count > 1000 ? "count" : "offset",
                          "Value is outside the allowed range");
            return;
        }
        if (f->page_cap > 0 && count > f->page_cap) {
            count = f->page_cap;
        }
        json_t *all = json_object_get(l, "merge_fields");
        json_t *arr = json_array();
        for (size_t k = (size_t)offset;
             k < json_array_size(all) && (long)json_array_size(arr) < count;
             k++) {
            json_t *mf = json_deep_copy(json_array_get(all, k));
            json_object_set_new(mf, "list_id", json_string(list_id));
            json_array_append_new(arr, mf);
        }
        reply_json(r, 200, json_pack("{s:o,s:s,s:i}", "merge_fields", arr,
                                     "list_id", list_id, "total_items",
                                     (int)json_array_size(all)));
        return;
    }
    if (strcmp(method, "POST") != 0) {
        reply_problem(r, 405, "Method Not Allowed",
                      "The requested method and resource are not compatible.",
                      NULL);
        return;
    }
    static const char *const keys[] = {
        "tag", "name", "type", "required", "default_value", "public",
        "display_order", "options", "help_text", NULL};
    if (refuse_shape(r, body, keys)) {
        return;
    }
    if (refuse_bool(r, body, "required") || refuse_bool(r, body, "public")) {
        return;
    }
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *tag = json_string_value(json_object_get(body, "tag"));
    static const char *const types[] = {"text",     "number", "address",
                                        "phone",    "date",   "url",
                                        "imageurl", "radio",  "dropdown",
                                        "birthday", "zip",    NULL};
    if (name == NULL || !in_set(type, types)) {
        reply_problem(r, 400, "Invalid Resource",
                      "The resource submitted could not be validated.",
                      field_error(name == NULL ? "name" : "type",
                                  "This value should not be blank."));
        return;
    }
    if (tag != NULL && (strlen(tag) == 0 || strlen(tag) > 10)) {
        reply_problem(r, 400, "Invalid Resource",
                      "The resource submitted could not be validated.",
                      field_error("tag", "Merge tags are at most 10 "
                                         "characters."));
        return;
    }
    if (tag != NULL && merge_field_by_tag(l, tag) != NULL) {
        char d[160];
        snprintf(d, sizeof d,
                 "A Merge Field with the tag \"%s\" already exists for this "
                 "list.",
                 tag);
        reply_problem(r, 400, "Invalid Resource", d, NULL);
        return;
    }
    json_int_t id = json_integer_value(json_object_get(l, "next_id"));
    char gen[16];
    snprintf(gen, sizeof gen, "MMERGE%d", (int)id);
    json_t *mf = json_pack(
        "{s:I,s:s,s:s,s:s,s:b,s:b}", "merge_id", id, "tag",
        tag != NULL ? tag : gen, "name", name, "type", type, "required",
        json_is_true(json_object_get(body, "required")), "public",
        json_is_true(json_object_get(body, "public")));
    json_object_set_new(l, "next_id", json_integer(id + 1));
    json_array_append(json_object_get(l, "merge_fields"), mf);
    json_object_set_new(mf, "list_id", json_string(list_id));
    reply_json(r, 200, json_deep_copy(mf));
    json_object_del(mf, "list_id");
    json_decref(mf);
}

static void api_member(struct fake *f, const char *method,
                       const char *list_id, const char *key, json_t *body,
                       json_t *q, bool tags, struct reply *r)
{
    json_t *l = list_get(f, list_id);
    if (l == NULL) {
        reply_problem(r, 404, "Resource Not Found",
                      "The requested resource could not be found.", NULL);
        return;
    }
    char hash[33];
    if (strchr(key, '@') != NULL) {
        md5_hex(key, hash);
    } else {
        snprintf(hash, sizeof hash, "%s", key);
    }
    json_t *members = json_object_get(l, "members");
    json_t *m = json_object_get(members, hash);
    if (tags) {
        if (m == NULL) {
            reply_problem(r, 404, "Resource Not Found",
                          "The requested resource could not be found.", NULL);
            return;
        }
        if (strcmp(method, "GET") == 0) {
            json_t *t = json_deep_copy(json_object_get(m, "tags"));
            size_t n = json_array_size(t);
            reply_json(r, 200, json_pack("{s:o,s:i}", "tags", t, "total_items",
                                         (int)n));
            return;
        }
        static const char *const top[] = {"tags", "is_syncing", NULL};
        static const char *const tk[] = {"name", "status", NULL};
        static const char *const tag_statuses[] = {"active", "inactive",
                                                   NULL};
        if (refuse_shape(r, body, top)) {
            return;
        }
        json_t *arr = json_object_get(body, "tags");
        if (!json_is_array(arr)) {
            reply_invalid(r, "tags", "Schema describes array, another type "
                                     "found instead");
            return;
        }
        size_t i;
        json_t *t;
        json_array_foreach(arr, i, t) {
            if (refuse_shape(r, t, tk)) {
                return;
            }
            const char *name = json_string_value(json_object_get(t, "name"));
            if (name == NULL || name[0] == '\0') {
                reply_invalid(r, "tags.name", "This value should not be "
                                              "blank.");
                return;
            }
            if (strlen(name) > 100) {
                reply_invalid(r, "tags.name", "Tag names can be at most 100 "
                                              "characters.");
                return;
            }
            if (refuse_enum(r, "tags.status", json_object_get(t, "status"),
                            tag_statuses)) {
                return;
            }
        }
        if (refuse_bool(r, body, "is_syncing")) {
            return;
        }
        apply_tags(m, arr);
        r->status = 204;
        r->body = NULL;
        return;
    }
    if (strcmp(method, "GET") == 0) {
        if (m == NULL) {
            reply_problem(r, 404, "Resource Not Found",
                          "The requested resource could not be found.", NULL);
            return;
        }
        reply_json(r, 200, member_view(list_id, m));
        return;
    }
    /* Add_List_Members_2 (PUT) and the PATCH schema: the same keys,
     * status_if_new only in PUT; no tags. */
    static const char *const put_keys[] = {
        "email_address", "email_type", "status", "status_if_new",
        "merge_fields", "interests", "language", "vip", "location",
        "marketing_permissions", "ip_signup", "timestamp_signup", "ip_opt",
        "timestamp_opt", NULL};
    bool is_put = strcmp(method, "PUT") == 0;
    if (!is_put && strcmp(method, "PATCH") != 0) {
        reply_problem(r, 405, "Method Not Allowed",
                      "The requested method and resource are not compatible.",
                      NULL);
        return;
    }
    if (!is_put && m == NULL) {
        /* The path is resolved before the body is validated. */
        reply_problem(r, 404, "Resource Not Found",
                      "The requested resource could not be found.", NULL);
        return;
    }
    if (!is_put && json_object_get(body, "status_if_new") != NULL) {
        reply_invalid(r, "status_if_new", "The property \"status_if_new\" "
                                          "is not defined in this schema");
        return;
    }
    if (refuse_shape(r, body, put_keys)) {
        return;
    }
    json_t *mfv = json_object_get(body, "merge_fields");
    if (mfv != NULL && !json_is_object(mfv)) {
        reply_invalid(r, "merge_fields", "Schema describes object, another "
                                         "type found instead");
        return;
    }
    json_t *bad = check_merge_values(l, mfv);
    if (bad != NULL) {
        reply_problem(r, 400, "Invalid Resource",
                      "Your merge fields were invalid.", bad);
        return;
    }
    static const char *const email_types[] = {"html", "text", NULL};
    json_t *stv = json_object_get(body, "status");
    const char *status = json_string_value(stv);
    json_t *et = json_object_get(body, "email_type");
    if ((stv != NULL && refuse_enum(r, "status", stv, member_statuses)) ||
        (et != NULL && refuse_enum(r, "email_type", et, email_types)) ||
        refuse_bool(r, body, "vip")) {
        return;
    }
    /* Required merge fields are checked unless the caller opts out. */
    const char *smv =
        json_string_value(json_object_get(q, "skip_merge_validation"));
    bool skip_mv = smv != NULL && strcmp(smv, "true") == 0;
    if (is_put) {
        const char *email =
            json_string_value(json_object_get(body, "email_address"));
        const char *sin =
            json_string_value(json_object_get(body, "status_if_new"));
        if (email == NULL || sin == NULL) {
            reply_invalid(r, email == NULL ? "email_address" : "status_if_new",
                          "This value should not be blank.");
            return;
        }
        if (refuse_enum(r, "status_if_new",
                        json_object_get(body, "status_if_new"),
                        member_statuses)) {
            return;
        }
        char h2[33];
        md5_hex(email, h2);
        if (strcmp(h2, hash) != 0) {
            reply_problem(r, 400, "Invalid Resource",
                          "The email address does not match the subscriber "
                          "hash in the URL.",
                          NULL);
            return;
        }
    }
    json_t *missing = skip_mv ? NULL : check_required(l, m, mfv);
    if (missing != NULL) {
        reply_problem(r, 400, "Invalid Resource",
                      "Your merge fields were invalid.", missing);
        return;
    }
    if (m == NULL) {
        m = member_new(json_string_value(json_object_get(body,
                                                         "email_address")),
                       json_string_value(json_object_get(body,
                                                         "status_if_new")));
        json_object_set_new(members, hash, m);
    }
    if (status != NULL) {
        json_object_set_new(m, "status", json_string(status));
    }
    if (mfv != NULL) {
        json_object_update(json_object_get(m, "merge_fields"), mfv);
    }
    reply_json(r, 200, member_view(list_id, m));
}

static void api_batch_subscribe(struct fake *f, const char *list_id,
                                json_t *body, struct reply *r)
{
    json_t *l = list_get(f, list_id);
    json_t *arr = json_object_get(body, "members");
    if (l == NULL) {
        reply_problem(r, 404, "Resource Not Found",
                      "The requested resource could not be found.", NULL);
        return;
    }
    static const char *const keys[] = {"members", "sync_tags",
                                       "update_existing", NULL};
    if (refuse_shape(r, body, keys)) {
        return;
    }
    if (!json_is_array(arr) || json_array_size(arr) > 500) {
        reply_problem(r, 400, "Invalid Resource",
                      "The resource submitted could not be validated.",
                      field_error("members", "At most 500 members per call"));
        return;
    }
    bool upd = json_is_true(json_object_get(body, "update_existing"));
    json_t *created = json_array(), *updated = json_array(),
           *errors = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it) {
        const char *email =
            json_string_value(json_object_get(it, "email_address"));
        const char *st = json_string_value(json_object_get(it, "status"));
        if (email == NULL || strchr(email, '@') == NULL ||
            !in_set(st, member_statuses)) {
            json_array_append_new(
                errors, json_pack("{s:s,s:s,s:s}", "email_address",
                                  email != NULL ? email : "", "error",
                                  "Invalid email address or status",
                                  "error_code", "ERROR_GENERIC"));
            continue;
        }
        char h[33];
        md5_hex(email, h);
        json_t *members = json_object_get(l, "members");
        json_t *m = json_object_get(members, h);
        json_t *bad = check_merge_values(l, json_object_get(it,
                                                            "merge_fields"));
        if (bad != NULL) {
            json_decref(bad);
            json_array_append_new(
                errors, json_pack("{s:s,s:s,s:s}", "email_address", email,
                                  "error", "Your merge fields were invalid.",
                                  "error_code", "ERROR_GENERIC"));
            continue;
        }
        if (m != NULL && !upd) {
            json_array_append_new(
                errors,
                json_pack("{s:s,s:s,s:s}", "email_address", email, "error",
                          "is already a list member", "error_code",
                          "ERROR_CONTACT_EXISTS"));
            continue;
        }
        bool isnew = m == NULL;
        if (isnew) {
            m = member_new(email, st);
            json_object_set_new(members, h, m);
        } else {
            json_object_set_new(m, "status", json_string(st));
        }
        json_t *mfv = json_object_get(it, "merge_fields");
        if (json_is_object(mfv)) {
            json_object_update(json_object_get(m, "merge_fields"), mfv);
        }
        json_array_append_new(isnew ? created : updated,
                              member_view(list_id, m));
    }
    size_t nc = json_array_size(created), nu = json_array_size(updated),
           ne = json_array_size(errors);
    reply_json(r, 200,
               json_pack("{s:o,s:o,s:o,s:i,s:i,s:i}", "new_members", created,
                         "updated_members", updated, "errors", errors,
                         "total_created", (int)nc, "total_updated", (int)nu,
                         "error_count", (int)ne));
}

static void dispatch(struct fake *f, const char *method, const char *path,
                     json_t *body, json_t *query, struct reply *r);

/* The len bytes at s, %XX and '+' decoded, into out (n bytes, cut). */
static void pct_decode(const char *s, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        if (s[i] == '%' && i + 2 < len) {
            char hx[3] = {s[i + 1], s[i + 2], 0};
            out[o++] = (char)strtol(hx, NULL, 16);
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
}

/* "a=1&b=x" into an object of strings (new reference); %XX decoded. */
static json_t *parse_query(const char *qs)
{
    json_t *q = json_object();
    char buf[512];
    snprintf(buf, sizeof buf, "%s", qs != NULL ? qs : "");
    char *save = NULL;
    for (char *kv = strtok_r(buf, "&", &save); kv != NULL;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        const char *v = "";
        if (eq != NULL) {
            *eq = '\0';
            v = eq + 1;
        }
        char dec[256];
        pct_decode(v, strlen(v), dec, sizeof dec);
        json_object_set_new(q, kv, json_string(dec));
    }
    return q;
}

/* ---- batch results archive: ustar entries, gzip ------------------------- */

/* Appends one ustar header + data (padded to 512) to *buf. */
static void tar_add(unsigned char **buf, size_t *len, const char *name,
                    char type, const char *data, size_t n)
{
    size_t pad = (n + 511) / 512 * 512;
    unsigned char *nb = realloc(*buf, *len + 512 + pad);
    if (nb == NULL) {
        return;
    }
    *buf = nb;
    unsigned char *h = nb + *len;
    memset(h, 0, 512 + pad);
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", type == '5' ? 0755 : 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    snprintf((char *)h + 124, 12, "%011o", (unsigned)(n & 07777777777u));
    snprintf((char *)h + 136, 12, "%011o", 1795392000);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) {
        sum += h[i];
    }
    snprintf((char *)h + 148, 8, "%06o", sum);
    memcpy(h + 512, data, n);
    *len += 512 + pad;
}

/* The results of batch b as a gzipped tar: a directory named after the
 * batch and one JSON file per 3 results (so a reader must handle several
 * files).  malloc()ed, *out_len bytes. */
static unsigned char *results_archive(json_t *b, size_t *out_len)
{
    const char *id = json_string_value(json_object_get(b, "id"));
    json_t *results = json_object_get(b, "_results");
    unsigned char *tar = NULL;
    size_t tlen = 0;
    char name[100];
    snprintf(name, sizeof name, "%s/", id);
    tar_add(&tar, &tlen, name, '5', "", 0);
    for (size_t i = 0; i < json_array_size(results); i += 3) {
        json_t *part = json_array();
        for (size_t k = i; k < i + 3 && k < json_array_size(results); k++) {
            json_array_append(part, json_array_get(results, k));
        }
        char *text = json_dumps(part, JSON_COMPACT);
        json_decref(part);
        snprintf(name, sizeof name, "%s/%zu.json", id, i / 3);
        tar_add(&tar, &tlen, name, '0', text, strlen(text));
        free(text);
    }
    unsigned char *end = realloc(tar, tlen + 1024);
    if (end == NULL) {
        free(tar);
        return NULL;
    }
    memset(end + tlen, 0, 1024);
    tlen += 1024;
    uLong cap = compressBound((uLong)tlen) + 64;
    unsigned char *gz = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (gz == NULL ||
        deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK) {
        free(gz);
        free(end);
        return NULL;
    }
    z.next_in = end;
    z.avail_in = (uInt)tlen;
    z.next_out = gz;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    free(end);
    return gz;
}

static void api_batches(struct fake *f, const char *method, const char *id,
                        json_t *body, struct reply *r)
{
    if (id != NULL) {
        json_t *b = json_object_get(f->batches, id);
        json_int_t polls =
            json_integer_value(json_object_get(b, "_polls"));
        if (b == NULL || strcmp(method, "GET") != 0 ||
            (f->batch_vanish >= 0 && polls >= f->batch_vanish)) {
            reply_problem(r, 404, "Resource Not Found",
                          "The requested resource could not be found.", NULL);
            return;
        }
        json_object_set_new(b, "_polls", json_integer(polls + 1));
        json_t *v = json_deep_copy(b);
        json_object_del(v, "_results");
        json_object_del(v, "_polls");
        if (polls < f->batch_polls) {
            json_object_set_new(v, "status", json_string("started"));
            json_object_set_new(v, "finished_operations", json_integer(0));
            json_object_set_new(v, "errored_operations", json_integer(0));
            reply_json(r, 200, v);
            return;
        }
        json_object_set_new(v, "status", json_string("finished"));
        json_object_set_new(b, "status", json_string("finished"));
        json_object_set_new(v, "completed_at",
                            json_string("2026-11-23T00:00:05+00:00"));
        char url[160] = "";
        if (strcmp(f->batch_results, "none") != 0) {
            /* Real archives sit on a pre-signed storage URL: no auth. */
            snprintf(url, sizeof url,
                     "http://127.0.0.1:%u/_fake/batch-results/%s.tar.gz",
                     f->port, id);
        }
        json_object_set_new(v, "response_body_url", json_string(url));
        reply_json(r, 200, v);
        return;
    }
    static const char *const top[] = {"operations", NULL};
    static const char *const opk[] = {"method", "path", "params", "body",
                                      "operation_id", NULL};
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH",
                                          "DELETE", NULL};
    if (refuse_shape(r, body, top)) {
        return;
    }
    json_t *ops = json_object_get(body, "operations");
    if (!json_is_array(ops)) {
        reply_invalid(r, "operations", "Schema describes array, another "
                                       "type found instead");
        return;
    }
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op) {
        if (refuse_shape(r, op, opk)) {
            return;
        }
        const char *p = json_string_value(json_object_get(op, "path"));
        json_t *bd = json_object_get(op, "body");
        json_t *oid = json_object_get(op, "operation_id");
        json_t *params = json_object_get(op, "params");
        if (refuse_enum(r, "operations.method", json_object_get(op, "method"),
                        methods)) {
            return;
        }
        if (p == NULL || p[0] != '/') {
            reply_invalid(r, "operations.path", "This value should not be "
                                                "blank.");
            return;
        }
        const char *wrong = bd != NULL && !json_is_string(bd)
                                ? "operations.body"
                            : oid != NULL && !json_is_string(oid)
                                ? "operations.operation_id"
                            : params != NULL && !json_is_object(params)
                                ? "operations.params"
                                : NULL;
        if (wrong != NULL) {
            reply_invalid(r, wrong, "Schema describes another type");
            return;
        }
    }
    long errored = 0;
    json_t *results = json_array();
    json_array_foreach(ops, i, op) {
        const char *p = json_string_value(json_object_get(op, "path"));
        const char *bs = json_string_value(json_object_get(op, "body"));
        json_t *ob = bs != NULL ? json_loads(bs, 0, NULL) : NULL;
        char full[512];
        snprintf(full, sizeof full, "/3.0%s", p);
        char *qm = strchr(full, '?');
        json_t *q = parse_query(qm != NULL ? qm + 1 : NULL);
        if (qm != NULL) {
            *qm = '\0';
        }
        const char *k;
        json_t *v;
        /* As the batch guide says: params is used only for GET. */
        const char *om = json_string_value(json_object_get(op, "method"));
        json_object_foreach(json_object_get(op, "params"), k, v) {
            if (om != NULL && strcmp(om, "GET") == 0) {
                json_object_set(q, k, v);
            }
        }
        struct reply sub = {0};
        memcpy(sub.request_id, r->request_id, sizeof sub.request_id);
        if (bs != NULL && ob == NULL) {
            reply_problem(&sub, 400, "JSON Parse Exception",
                          "We encountered an unspecified JSON parsing error.",
                          NULL);
        } else {
            dispatch(f, json_string_value(json_object_get(op, "method")),
                     full, ob, q, &sub);
        }
        json_decref(q);
        if (sub.status != 200 && sub.status != 204) {
            errored++;
        }
        json_t *oid = json_object_get(op, "operation_id");
        json_array_append_new(
            results, json_pack("{s:i,s:O,s:s}", "status_code",
                               (int)sub.status, "operation_id",
                               oid != NULL ? oid : json_null(), "response",
                               sub.body != NULL ? sub.body : ""));
        free(sub.body);
        json_decref(ob);
    }
    char bid[32];
    snprintf(bid, sizeof bid, "b%ld", f->request_seq);
    size_t n = json_array_size(ops);
    json_t *b = json_pack(
        "{s:s,s:s,s:i,s:i,s:i,s:s,s:s,s:s,s:o}", "id", bid, "status",
        "pending", "total_operations", (int)n, "finished_operations", (int)n,
        "errored_operations", (int)errored, "submitted_at",
        "2026-11-23T00:00:00+00:00", "completed_at", "", "response_body_url",
        "", "_results", results);
    json_object_set_new(f->batches, bid, b);
    json_t *v = json_deep_copy(b);
    json_object_del(v, "_results");
    json_object_set_new(v, "finished_operations", json_integer(0));
    json_object_set_new(v, "errored_operations", json_integer(0));
    reply_json(r, 200, v);
}

static long query_long(json_t *q, const char *k, long dflt)
{
    const char *s = json_string_value(json_object_get(q, k));
    return s != NULL ? strtol(s, NULL, 10) : dflt;
}

static int64_t parse_ts(const char *s)
{
    /* Seconds resolution is enough for the fake: "YYYY-MM-DDTHH:MM:SS" */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (s == NULL || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                            &tm.tm_sec) != 6) {
        return INT64_MIN;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t t = (int64_t)timegm(&tm);
    const char *z = s + 19;
    while (*z == '.' || isdigit((unsigned char)*z)) {
        z++;
    }
    if (*z == '+' || *z == '-') {
        int oh = 0, om = 0;
        sscanf(z + 1, "%d:%d", &oh, &om);
        t -= (*z == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    }
    return t;
}

static void api_campaigns(struct fake *f, json_t *q, struct reply *r)
{
    long count = query_long(q, "count", 10), offset = query_long(q, "offset",
                                                                 0);
    const char *status = json_string_value(json_object_get(q, "status"));
    const char *list = json_string_value(json_object_get(q, "list_id"));
    const char *since =
        json_string_value(json_object_get(q, "since_send_time"));
    int64_t since_t = since != NULL ? parse_ts(since) : INT64_MIN;
    if (count > 1000) {
        count = 1000;
    }
    json_t *all = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(f->campaigns, i, c) {
        const char *lid = json_string_value(json_object_get(c, "list_id"));
        const char *st = json_string_value(json_object_get(c, "status"));
        if ((list != NULL && strcmp(list, lid) != 0) ||
            (status != NULL && strcmp(status, st) != 0) ||
            parse_ts(json_string_value(json_object_get(c, "send_time"))) <
                since_t) {
            continue;
        }
        json_array_append_new(
            all, json_pack("{s:O,s:O,s:O,s:O,s:{s:O},s:{s:O}}", "id",
                           json_object_get(c, "id"), "type",
                           json_object_get(c, "type"), "status",
                           json_object_get(c, "status"), "send_time",
                           json_object_get(c, "send_time"), "recipients",
                           "list_id", json_object_get(c, "list_id"),
                           "settings", "title", json_object_get(c, "id")));
    }
    json_t *page = json_array();
    for (size_t k = (size_t)offset;
         k < json_array_size(all) && (long)json_array_size(page) < count;
         k++) {
        json_array_append(page, json_array_get(all, k));
    }
    size_t total = json_array_size(all);
    json_decref(all);
    reply_json(r, 200, json_pack("{s:o,s:i}", "campaigns", page,
                                 "total_items", (int)total));
}

static void api_email_activity(struct fake *f, const char *cid, json_t *q,
                               struct reply *r)
{
    json_t *camp = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(f->campaigns, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "id")), cid) == 0) {
            camp = c;
        }
    }
    if (camp == NULL || json_is_true(json_object_get(camp, "no_report"))) {
        reply_problem(r, 404, "Resource Not Found",
                      "The requested resource could not be found.", NULL);
        return;
    }
    long count = query_long(q, "count", 10), offset = query_long(q, "offset",
                                                                 0);
    if (count > 1000) {
        count = 1000;
    }
    const char *since = json_string_value(json_object_get(q, "since"));
    int64_t since_t = since != NULL ? parse_ts(since) : INT64_MIN;
    /* Group activity per email (in first-seen order). */
    json_t *by = json_object();
    json_t *order = json_array();
    json_t *a;
    json_array_foreach(json_object_get(camp, "activity"), i, a) {
        const char *ts = json_string_value(json_object_get(a, "timestamp"));
        if (parse_ts(ts) < since_t) {
            continue;
        }
        const char *email = json_string_value(json_object_get(a, "email"));
        json_t *e = json_object_get(by, email);
        if (e == NULL) {
            char h[33];
            md5_hex(email, h);
            e = json_pack("{s:O,s:O,s:b,s:s,s:s,s:[]}", "campaign_id",
                          json_object_get(camp, "id"), "list_id",
                          json_object_get(camp, "list_id"), "list_is_active",
                          1, "email_id", h, "email_address", email,
                          "activity");
            json_object_set_new(by, email, e);
            json_array_append_new(order, json_string(email));
        }
        json_t *act = json_pack("{s:O,s:s,s:O,s:s}", "action",
                                json_object_get(a, "action"), "type",
                                json_string_value(json_object_get(a, "type"))
                                        ? json_string_value(
                                              json_object_get(a, "type"))
                                        : "",
                                "timestamp", json_object_get(a, "timestamp"),
                                "ip", "192.0.2.1");
        if (json_object_get(a, "url") != NULL) {
            json_object_set(act, "url", json_object_get(a, "url"));
        }
        json_array_append_new(json_object_get(e, "activity"), act);
    }
    json_t *page = json_array();
    for (size_t k = (size_t)offset;
         k < json_array_size(order) && (long)json_array_size(page) < count;
         k++) {
        json_array_append(page, json_object_get(by, json_string_value(
                                                        json_array_get(order,
                                                                       k))));
    }
    size_t total = json_array_size(order);
    json_decref(by);
    json_decref(order);
    reply_json(r, 200, json_pack("{s:o,s:s,s:i,s:[]}", "emails", page,
                                 "campaign_id", cid, "total_items",
                                 (int)total, "_links"));
}

/* Splits path into up to 6 segments (pointers into buf). */
static int split(char *buf, char **seg, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "/", &save); t != NULL && n < max;
         t = strtok_r(NULL, "/", &save)) {
        seg[n++] = t;
    }
    return n;
}

static void dispatch(struct fake *f, const char *method, const char *path,
                     json_t *body, json_t *query, struct reply *r)
{
    char buf[512];
    char *s[8] = {0};
    snprintf(buf, sizeof buf, "%s", path);
    int n = split(buf, s, 8);
    if (n < 1 || strcmp(s[0], "3.0") != 0) {
        reply_problem(r, 404, "Resource Not Found",
                      "The requested resource could not be found.", NULL);
        return;
    }
    bool get = strcmp(method, "GET") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (n == 2 && strcmp(s[1], "ping") == 0 && get) {
        reply_json(r, 200, json_pack("{s:s}", "health_status",
                                     "Everything's Chimpy!"));
    } else if (n == 3 && strcmp(s[1], "lists") == 0 && post) {
        api_batch_subscribe(f, s[2], body, r);
    } else if (n == 4 && strcmp(s[1], "lists") == 0 &&
               strcmp(s[3], "merge-fields") == 0) {
        api_merge_fields(f, method, s[2], body, query, r);
    } else if (n == 5 && strcmp(s[1], "lists") == 0 &&
               strcmp(s[3], "members") == 0) {
        api_member(f, method, s[2], s[4], body, query, false, r);
    } else if (n == 6 && strcmp(s[1], "lists") == 0 &&
               strcmp(s[3], "members") == 0 && strcmp(s[5], "tags") == 0 &&
               (get || post)) {
        api_member(f, method, s[2], s[4], body, query, true, r);
    } else if (n == 2 && strcmp(s[1], "batches") == 0 && post) {
        api_batches(f, method, NULL, body, r);
    } else if (n == 3 && strcmp(s[1], "batches") == 0) {
        api_batches(f, method, s[2], body, r);
    } else if (n == 2 && strcmp(s[1], "campaigns") == 0 && get) {
        api_campaigns(f, query, r);
    } else if (n == 4 && strcmp(s[1], "reports") == 0 &&
               strcmp(s[3], "email-activity") == 0 && get) {
        api_email_activity(f, s[2], query, r);
    } else {
        reply_problem(r, 404, "Resource Not Found",
                      "The requested resource could not be found.", NULL);
    }
}

/* Monotonic clock, ms. */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- control endpoints -------------------------------------------------- */

static void control(struct fake *f, const char *method, const char *path,
                    json_t *body, struct MHD_Connection *conn,
                    struct reply *r)
{
    const char *results_prefix = "/_fake/batch-results/";
    if (strncmp(path, results_prefix, strlen(results_prefix)) == 0) {
        /* Stands in for the pre-signed storage URL of the results. */
        const char *authz = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, "Authorization");
        json_array_append_new(
            f->downloads, json_pack("{s:s,s:s}", "path", path, "auth",
                                    authz != NULL ? authz : ""));
        char id[64];
        snprintf(id, sizeof id, "%s", path + strlen(results_prefix));
        char *dot = strstr(id, ".tar.gz");
        if (dot != NULL) {
            *dot = '\0';
        }
        json_t *b = json_object_get(f->batches, id);
        size_t n = 0;
        unsigned char *gz = b != NULL ? results_archive(b, &n) : NULL;
        if (gz == NULL) {
            r->status = 404;
            r->body = strdup("<Error><Code>NoSuchKey</Code></Error>");
            r->content_type = "application/xml";
            return;
        }
        if (strcmp(f->batch_results, "corrupt") == 0) {
            n /= 2;
        }
        r->status = 200;
        r->body = (char *)gz;
        r->body_len = n;
        r->content_type = "application/x-gzip";
    } else if (strcmp(path, "/_fake/requests") == 0) {
        reply_json(r, 200, json_pack("{s:O,s:i,s:i,s:O}", "requests",
                                     f->requests, "max_in_flight",
                                     f->max_in_flight, "throttled",
                                     (int)f->throttled, "downloads",
                                     f->downloads));
    } else if (strcmp(path, "/_fake/clear") == 0) {
        json_array_clear(f->requests);
        json_array_clear(f->downloads);
        f->max_in_flight = 0;
        f->throttled = 0;
        reply_json(r, 200, json_object());
    } else if (strcmp(path, "/_fake/config") == 0) {
        /* Each knob is set only when the body names it. */
        const struct {
            const char *key;
            int *v;
        } ints[] = {{"delay_ms", &f->delay_ms},
                    {"max_conn", &f->max_conn},
                    {"page_cap", &f->page_cap},
                    {"batch_vanish", &f->batch_vanish},
                    {"batch_polls", &f->batch_polls}};
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
            json_t *v = json_object_get(body, ints[i].key);
            if (json_is_integer(v)) {
                *ints[i].v = (int)json_integer_value(v);
            }
        }
        const char *br =
            json_string_value(json_object_get(body, "batch_results"));
        if (br != NULL) {
            snprintf(f->batch_results, sizeof f->batch_results, "%s", br);
        }
        const char *md =
            json_string_value(json_object_get(body, "metadata_dc"));
        if (md != NULL) {
            snprintf(f->metadata_dc, sizeof f->metadata_dc, "%s", md);
        }
        reply_json(r, 200, json_object());
    } else if (strcmp(path, "/_fake/fail") == 0) {
        f->fail_count = (int)json_integer_value(json_object_get(body,
                                                                "count"));
        json_int_t for_ms = json_integer_value(json_object_get(body,
                                                               "for_ms"));
        f->fail_until_ms = for_ms > 0 ? mono_ms() + (int64_t)for_ms : 0;
        json_t *st = json_object_get(body, "status");
        f->fail_status = json_is_integer(st) ? (int)json_integer_value(st)
                                             : 503;
        f->fail_no_body = json_is_true(json_object_get(body, "no_body"));
        const char *t = json_string_value(json_object_get(body, "title"));
        snprintf(f->fail_title, sizeof f->fail_title, "%s",
                 t != NULL ? t : "Service Unavailable");
        reply_json(r, 200, json_object());
    } else if (strcmp(path, "/_fake/revoke") == 0) {
        const char *k;
        json_t *v;
        json_object_foreach(f->tokens, k, v) {
            json_object_set_new(f->tokens, k, json_false());
        }
        reply_json(r, 200, json_object());
    } else if (strcmp(path, "/_fake/member") == 0) {
        const char *list = MHD_lookup_connection_value(conn,
                                                       MHD_GET_ARGUMENT_KIND,
                                                       "list");
        const char *email = MHD_lookup_connection_value(
            conn, MHD_GET_ARGUMENT_KIND, "email");
        char h[33];
        md5_hex(email != NULL ? email : "", h);
        json_t *m = json_object_get(
            json_object_get(list_get(f, list != NULL ? list : ""), "members"),
            h);
        if (m == NULL) {
            reply_json(r, 404, json_object());
        } else {
            reply_json(r, 200, json_deep_copy(m));
        }
    } else if (strcmp(path, "/_fake/seed") == 0 &&
               strcmp(method, "POST") == 0) {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(body, "lists"), i, it) {
            list_add(f, json_string_value(it));
        }
        json_array_foreach(json_object_get(body, "merge_fields"), i, it) {
            json_t *l = list_add(
                f, json_string_value(json_object_get(it, "list")));
            json_int_t id = json_integer_value(json_object_get(l, "next_id"));
            json_object_set_new(l, "next_id", json_integer(id + 1));
            json_array_append_new(
                json_object_get(l, "merge_fields"),
                json_pack("{s:I,s:O,s:O,s:O,s:b,s:b}", "merge_id", id, "tag",
                          json_object_get(it, "tag"), "name",
                          json_object_get(it, "name"), "type",
                          json_object_get(it, "type"), "required",
                          json_is_true(json_object_get(it, "required")),
                          "public", 0));
        }
        json_array_foreach(json_object_get(body, "members"), i, it) {
            json_t *l = list_add(
                f, json_string_value(json_object_get(it, "list")));
            const char *email =
                json_string_value(json_object_get(it, "email"));
            const char *st = json_string_value(json_object_get(it, "status"));
            json_t *m = member_new(email, st != NULL ? st : "subscribed");
            json_t *mfv = json_object_get(it, "merge_fields");
            if (mfv != NULL) {
                json_object_update(json_object_get(m, "merge_fields"), mfv);
            }
            size_t k;
            json_t *t;
            json_array_foreach(json_object_get(it, "tags"), k, t) {
                json_array_append_new(json_object_get(m, "tags"),
                                      json_pack("{s:O}", "name", t));
            }
            json_object_set_new(json_object_get(l, "members"),
                                json_string_value(json_object_get(m, "id")),
                                m);
        }
        json_array_foreach(json_object_get(body, "campaigns"), i, it) {
            json_t *c = json_deep_copy(it);
            if (json_object_get(c, "status") == NULL) {
                json_object_set_new(c, "status", json_string("sent"));
            }
            json_array_append_new(f->campaigns, c);
        }
        reply_json(r, 200, json_object());
    } else {
        reply_json(r, 404, json_object());
    }
}

/* ---- OAuth -------------------------------------------------------------- */

static void form_get(const char *body, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    const char *p = body;
    while (p != NULL && *p != '\0') {
        const char *amp = strchr(p, '&');
        size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            pct_decode(p + kl + 1, len - kl - 1, out, n);
            return;
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
}

static void oauth(struct fake *f, const char *method, const char *path,
                  const char *raw, const char *authz, struct reply *r)
{
    if (strcmp(path, "/oauth2/token") == 0 && strcmp(method, "POST") == 0) {
        char gt[64], cid[128], cs[128], ru[256], code[128];
        form_get(raw, "grant_type", gt, sizeof gt);
        form_get(raw, "client_id", cid, sizeof cid);
        form_get(raw, "client_secret", cs, sizeof cs);
        form_get(raw, "redirect_uri", ru, sizeof ru);
        form_get(raw, "code", code, sizeof code);
        if (strcmp(gt, "authorization_code") != 0 ||
            strcmp(cid, f->client_id) != 0 ||
            strcmp(cs, f->client_secret) != 0) {
            reply_json(r, 401, json_pack("{s:s}", "error", "invalid_client"));
            return;
        }
        bool ru_ok = strcmp(f->redirect_uri, "*") == 0
                         ? strncmp(ru, "http://127.0.0.1:", 17) == 0
                         : strcmp(ru, f->redirect_uri) == 0;
        if (!ru_ok || strcmp(code, "good-code") != 0) {
            reply_json(r, 400, json_pack("{s:s}", "error", "invalid_grant"));
            return;
        }
        char tok[64];
        snprintf(tok, sizeof tok, "fake-oauth-token-%ld", ++f->token_seq);
        json_object_set_new(f->tokens, tok, json_true());
        reply_json(r, 200, json_pack("{s:s,s:i,s:n}", "access_token", tok,
                                     "expires_in", 0, "scope"));
        return;
    }
    if (strcmp(path, "/oauth2/metadata") == 0 && strcmp(method, "GET") == 0) {
        const char *tok = NULL;
        if (authz != NULL && strncmp(authz, "OAuth ", 6) == 0) {
            tok = authz + 6;
        } else if (authz != NULL && strncmp(authz, "Bearer ", 7) == 0) {
            tok = authz + 7;
        }
        if (tok == NULL || !json_is_true(json_object_get(f->tokens, tok))) {
            reply_json(r, 200, json_pack("{s:s}", "error", "invalid_token"));
            return;
        }
        char ep[64];
        snprintf(ep, sizeof ep, "http://127.0.0.1:%u", f->port);
        reply_json(r, 200,
                   json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:{s:s,s:s}}", "dc",
                             f->metadata_dc, "role", "owner", "accountname",
                             "Fake Account", "login_url",
                             "https://login.mailchimp.com", "user_id", 42,
                             "api_endpoint", ep, "login", "email",
                             "admin@example.com", "login_name", "admin"));
        return;
    }
    reply_json(r, 404, json_pack("{s:s}", "error", "not_found"));
}

/* ---- MHD glue ----------------------------------------------------------- */

static const char *auth_kind(struct fake *f, const char *authz, bool *ok)
{
    *ok = false;
    if (authz == NULL) {
        return "none";
    }
    if (strncmp(authz, "Basic ", 6) == 0) {
        unsigned char dec[512];
        if (strlen(authz + 6) > 600) {
            return "basic";
        }
        int n = EVP_DecodeBlock(dec, (const unsigned char *)authz + 6,
                                (int)strlen(authz + 6));
        if (n > 0) {
            dec[n < (int)sizeof dec ? n : (int)sizeof dec - 1] = '\0';
            const char *colon = strchr((const char *)dec, ':');
            /* EVP_DecodeBlock keeps padding zero bytes: strlen trims. */
            *ok = colon != NULL && strcmp(colon + 1, f->api_key) == 0;
        }
        return "basic";
    }
    const char *tok = NULL;
    const char *kind = "other";
    if (strncmp(authz, "Bearer ", 7) == 0) {
        tok = authz + 7;
        kind = "bearer";
    } else if (strncmp(authz, "OAuth ", 6) == 0) {
        tok = authz + 6;
        kind = "oauth";
    }
    if (tok != NULL) {
        *ok = strcmp(tok, f->api_key) == 0 ||
              json_is_true(json_object_get(f->tokens, tok));
    }
    return kind;
}

static mhd_result collect_arg(void *cls, enum MHD_ValueKind kind,
                              const char *key, const char *value)
{
    (void)kind;
    json_object_set_new((json_t *)cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static mhd_result handler(void *cls, struct MHD_Connection *conn,
                          const char *url, const char *method,
                          const char *version, const char *upload_data,
                          size_t *upload_size, void **con_cls)
{
    (void)version;
    struct fake *f = cls;
    struct reqctx *rc = *con_cls;
    if (rc == NULL) {
        rc = calloc(1, sizeof *rc);
        if (rc == NULL) {
            return MHD_NO;
        }
        *con_cls = rc;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (rc->len + *upload_size + 1 > rc->cap) {
            size_t cap = (rc->len + *upload_size + 1) * 2;
            char *nb = cap < (16u << 20) ? realloc(rc->body, cap) : NULL;
            if (nb == NULL) {
                rc->overflow = true;
            } else {
                rc->body = nb;
                rc->cap = cap;
            }
        }
        if (!rc->overflow) {
            memcpy(rc->body + rc->len, upload_data, *upload_size);
            rc->len += *upload_size;
            rc->body[rc->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }

    struct reply r = {0};
    const char *authz =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *ctype =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *ua =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
    const char *raw = rc->body != NULL ? rc->body : "";
    bool api = strncmp(url, "/3.0", 4) == 0;
    json_t *query = json_object();
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, query);

    pthread_mutex_lock(&f->mu);
    long seq = ++f->request_seq;
    snprintf(r.request_id, sizeof r.request_id,
             "00000000-fake-4000-8000-%012ld", seq);
    json_t *body = rc->len > 0 ? json_loadb(raw, rc->len, 0, NULL) : NULL;
    if (strncmp(url, "/_fake/", 7) == 0) {
        control(f, method, url, body, conn, &r);
        pthread_mutex_unlock(&f->mu);
    } else {
        bool auth_ok = false;
        const char *ak = auth_kind(f, authz, &auth_ok);
        json_t *rec = json_pack("{s:s,s:s,s:O,s:s,s:s,s:s,s:s,s:I}",
                                "method", method, "path", url, "query",
                                query, "body", raw, "auth", ak,
                                "content_type", ctype != NULL ? ctype : "",
                                "user_agent", ua != NULL ? ua : "", "t_ms",
                                (json_int_t)mono_ms());
        json_array_append_new(f->requests, rec);
        bool limited = false;
        if (api) {
            f->in_flight++;
            if (f->in_flight > f->max_in_flight) {
                f->max_in_flight = f->in_flight;
            }
            if (f->in_flight > f->max_conn) {
                limited = true;
                f->throttled++;
            }
        }
        int delay = f->delay_ms;
        pthread_mutex_unlock(&f->mu);
        if (api && delay > 0) {
            sleep_ms(delay);
        }
        pthread_mutex_lock(&f->mu);
        if (limited) {
            reply_problem(&r, 429, "Too Many Requests",
                          "You have exceeded the limit of 10 simultaneous "
                          "connections.",
                          NULL);
        } else if (api && (f->fail_count > 0 ||
                           (f->fail_until_ms > 0 &&
                            mono_ms() < f->fail_until_ms))) {
            if (f->fail_count > 0) {
                f->fail_count--;
            }
            if (f->fail_no_body) {
                r.status = (unsigned)f->fail_status;
            } else {
                reply_problem(&r, (unsigned)f->fail_status, f->fail_title,
                              "Injected failure.", NULL);
            }
        } else if (api && !auth_ok) {
            reply_problem(&r, 401, "API Key Invalid",
                          "Your API key may be invalid, or you've attempted "
                          "to access the wrong datacenter.",
                          NULL);
        } else if (api && rc->len > 0 && body == NULL) {
            reply_problem(&r, 400, "JSON Parse Exception",
                          "We encountered an unspecified JSON parsing error.",
                          NULL);
        } else if (api) {
            dispatch(f, method, url, body, query, &r);
        } else {
            oauth(f, method, url, raw, authz, &r);
        }
        if (api) {
            f->in_flight--;
        }
        json_object_set_new(rec, "status", json_integer(r.status));
        pthread_mutex_unlock(&f->mu);
    }
    json_decref(body);
    json_decref(query);

    size_t blen = r.body_len > 0 ? r.body_len
                  : r.body != NULL ? strlen(r.body)
                                   : 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        blen, r.body != NULL ? r.body : (void *)"", MHD_RESPMEM_MUST_COPY);
    free(r.body);
    if (resp == NULL) {
        return MHD_NO;
    }
    if (blen > 0 && r.content_type != NULL) {
        MHD_add_response_header(resp, "Content-Type", r.content_type);
    }
    MHD_add_response_header(resp, "X-Request-Id", r.request_id);
    mhd_result ret = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct reqctx *rc = *con_cls;
    if (rc != NULL) {
        free(rc->body);
        free(rc);
        *con_cls = NULL;
    }
}

static const char *arg_value(int argc, char **argv, const char *name,
                             const char *dflt)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return argv[i + 1];
        }
    }
    return dflt;
}

int main(int argc, char **argv)
{
    struct fake f;
    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.mu, NULL);
    f.api_key = arg_value(argc, argv, "--api-key", "fakekey0123456789-us1");
    f.client_id = arg_value(argc, argv, "--client-id", "fake-client");
    f.client_secret = arg_value(argc, argv, "--client-secret", "fake-secret");
    f.redirect_uri = arg_value(argc, argv, "--redirect-uri",
                               "http://127.0.0.1:3000/oauth/callback");
    f.max_conn = atoi(arg_value(argc, argv, "--max-conn", "10"));
    f.delay_ms = atoi(arg_value(argc, argv, "--delay-ms", "0"));
    f.tokens = json_object();
    f.lists = json_object();
    f.campaigns = json_array();
    f.batches = json_object();
    f.requests = json_array();
    f.downloads = json_array();
    snprintf(f.batch_results, sizeof f.batch_results, "ok");
    f.batch_vanish = -1;
    snprintf(f.metadata_dc, sizeof f.metadata_dc, "us1");

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
        NULL, NULL, handler, &f, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)200,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "fake_mailchimp: cannot start the HTTP server\n");
        return 1;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    f.port = info != NULL ? info->port : 0;
    printf("PORT %u\n", f.port);
    fflush(stdout);

    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_signal;
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);
    char buf[64];
    while (!stop_flag) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR)) {
            break;
        }
    }
    MHD_stop_daemon(d);
    json_decref(f.tokens);
    json_decref(f.lists);
    json_decref(f.campaigns);
    json_decref(f.batches);
    json_decref(f.requests);
    json_decref(f.downloads);
    pthread_mutex_destroy(&f.mu);
    return 0;
}
