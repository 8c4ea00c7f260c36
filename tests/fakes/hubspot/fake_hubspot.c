/*
 * fake_hubspot: a loopback stand-in for the HubSpot CRM API and its OAuth
 * endpoints, for integration and contract tests.  Behaviour follows
 * ../shared/docs/crm-apis.md section 1.
 *
 *   fake_hubspot [--port N] [--contacts N] [--token-lifetime S]
 *                [--rate-max N] [--rate-interval-ms N]
 *                [--client-id ID] [--client-secret S] [--static-token T]
 *                [--log FILE]
 *
 * Listens on 127.0.0.1 (port 0: a free one) and prints "PORT <n>" on
 * stdout.  Stops when stdin reaches end of file or on SIGTERM/SIGINT.
 *
 * HubSpot API, under both /crm/objects/2026-03/... and /crm/v3/...:
 *   GET  contacts?limit&after&properties   cursor paging (limit <= 100)
 *   POST contacts/batch/read                <= 100 inputs, 207 for missing
 *   POST contacts/batch/update              <= 100 inputs (400 above),
 *                                           207 with errors[] for unknown
 *                                           or failing ids
 *   POST/GET/PATCH properties/contacts[/name], POST .../groups (409 dup),
 *   GET properties/contacts (every definition)
 * Refused like HubSpot does: a POST/PATCH body that is not
 * application/json (415; the token endpoint: not form-encoded) or not a
 * JSON object (400 "Invalid input
 * JSON"), fields the schema does not know (400), duplicate ids in a batch
 * (400), property values that do not fit the definition (400
 * VALIDATION_ERROR with INVALID_OPTION / INVALID_DECIMAL / INVALID_DATE /
 * PROPERTY_DOESNT_EXIST), a token without the route's scope (403
 * MISSING_SCOPES), an expired token (401 EXPIRED_AUTHENTICATION), plain
 * http redirect URIs other than localhost (400).  Tokens carry the scopes
 * asked for at authorization.
 * OAuth: GET /oauth/authorize (302 to redirect_uri with code and state),
 * POST /oauth/{2026-03,v3,v1}/token (authorization_code with PKCE S256,
 * refresh_token; invalid_grant in RFC 6749 shape plus legacy fields).
 * POST /hook...: a webhook receiver (200, recorded, no auth).
 * Every API answer carries X-HubSpot-RateLimit-Max/-Remaining/
 * -Interval-Milliseconds; above the rolling limit: 429 with HubSpot's body.
 *
 * Control (not recorded, not limited):
 *   POST /_fake/fail      {"count":N,"status":503,"drop":false,
 *                          "delay_ms":0,"retry_after":S}  next N API calls
 *   POST /_fake/fail_ids  {"ids":[..],"category":"OBJECT_NOT_FOUND",
 *                          "status":404}  ids failing in batch updates
 *   POST /_fake/config    {"rate_max":N,"rate_interval_ms":N,
 *                          "token_lifetime_s":N}
 *   POST /_fake/scopes    {"scopes":"a b"}: the scopes every token has
 *                          from now on (null: as granted)
 *   POST /_fake/revoke    refresh and access tokens stop working
 *   POST /_fake/expire    access tokens expire now
 *   GET  /_fake/requests  {"requests":[{method,path,query,headers,body,
 *                          status,delivered,ms}],"throttled":N,
 *                          "max_in_window":N}; delivered: the client
 *                          received the whole answer (false when it
 *                          timed out or the connection was dropped);
 *                          ms: wall-clock arrival time (epoch ms)
 *   POST /_fake/clear     forget recorded requests
 *   GET  /_fake/contact?id=ID   the stored contact
 *   GET  /_fake/contacts        {"contacts":[...]}: every stored contact
 *   GET  /_fake/property?name=N the stored property definition
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
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

#define MAX_BODY (4 * 1024 * 1024)
#define WINDOW_MAX 4096

struct fake {
    pthread_mutex_t mu;
    const char *client_id;
    const char *client_secret;
    const char *static_token;
    FILE *log;
    long token_lifetime_s;
    int rate_max;
    long rate_interval_ms;
    int64_t window[WINDOW_MAX]; /* recent API request times */
    int wn;
    long throttled;
    int max_in_window;
    long seq;
    int fail_count;
    int fail_status;
    bool fail_drop;
    long fail_delay_ms;
    long fail_retry_after;
    json_t *fail_ids;       /* object id -> {category,status} */
    json_t *contacts;       /* array of {id, properties{}} */
    json_t *by_id;          /* object id -> the same contact (borrowed) */
    json_t *properties;     /* object name -> definition */
    json_t *groups;         /* object name -> definition */
    json_t *access;         /* object token -> expires_at_ms */
    json_t *refresh;        /* object token -> true */
    json_t *scopes;         /* object token (access or refresh) -> scope */
    char *scope_override;   /* /_fake/scopes: granted to every token */
    json_t *codes;          /* object code -> {redirect_uri, challenge,
                               scope} */
    json_t *requests;       /* array */
};

static struct fake F;
static volatile sig_atomic_t stop_flag;

struct reqctx {
    char *body;
    size_t len;
    size_t cap;
    bool overflow;
    json_t *rec; /* the recorded request, to mark its delivery */
};

struct reply {
    unsigned status;
    char *body;
    const char *content_type;
    char location[2048];
    bool rate_headers;
    int remaining;
    long retry_after;
};

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rnd_hex(char *out, size_t nbytes)
{
    unsigned char b[32];
    if (nbytes > sizeof b) {
        nbytes = sizeof b;
    }
    RAND_bytes(b, (int)nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
}

static void reply_json(struct reply *r, unsigned status, json_t *j)
{
    r->status = status;
    r->body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    r->content_type = "application/json;charset=utf-8";
    json_decref(j);
}

/* HubSpot's error shape (crm-apis.md 1.6). */
static void reply_error(struct reply *r, unsigned status, const char *category,
                        const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char corr[40];
    rnd_hex(corr, 16);
    reply_json(r, status,
               json_pack("{s:s, s:s, s:s, s:s}", "status", "error", "message",
                         msg, "correlationId", corr, "category", category));
}

/* 400 for property values HubSpot refuses (crm-apis.md 1.6): the
 * message embeds the list of failures, errors[] has one entry each.
 * `bad` is an array of {isValid,message,error,name}; stolen. */
static void reply_invalid_props(struct reply *r, json_t *bad)
{
    char *list = json_dumps(bad, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char corr[40];
    rnd_hex(corr, 16);
    json_t *errors = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(bad, i, b) {
        json_array_append_new(
            errors, json_pack("{s:O, s:O, s:{s:[O]}}", "message",
                              json_object_get(b, "message"), "code",
                              json_object_get(b, "error"), "context",
                              "propertyName", json_object_get(b, "name")));
    }
    size_t ml = strlen(list ? list : "") + 40;
    char *msg = malloc(ml);
    snprintf(msg, ml, "Property values were not valid: %s", list ? list : "");
    reply_json(r, 400,
               json_pack("{s:s, s:s, s:s, s:s, s:o}", "status", "error",
                         "message", msg, "correlationId", corr, "category",
                         "VALIDATION_ERROR", "errors", errors));
    free(msg);
    free(list);
    json_decref(bad);
}

static json_t *bad_value(const char *name, const char *error,
                         const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:b, s:s, s:s, s:s}", "isValid", 0, "message", msg,
                     "error", error, "name", name);
}

/* ---- query and form parsing ---------------------------------------------- */

static int hexv(int c)
{
    if (isdigit(c)) {
        return c - '0';
    }
    c = tolower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Value of key in an x-www-form-urlencoded string, decoded; malloc()ed. */
static char *form_get(const char *s, const char *key)
{
    size_t kl = strlen(key);
    const char *p = s;
    while (p != NULL && *p) {
        size_t pl = strcspn(p, "&");
        if (pl > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1;
            size_t vl = pl - kl - 1;
            char *out = malloc(vl + 1);
            size_t o = 0;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] == '%' && i + 2 < vl &&
                    hexv(v[i + 1]) >= 0 && hexv(v[i + 2]) >= 0) {
                    out[o++] = (char)(hexv(v[i + 1]) * 16 + hexv(v[i + 2]));
                    i += 2;
                } else if (v[i] == '+') {
                    out[o++] = ' ';
                } else {
                    out[o++] = v[i];
                }
            }
            out[o] = '\0';
            return out;
        }
        p += pl;
        if (*p == '&') {
            p++;
        }
    }
    return NULL;
}

static void b64url_sha256(const char *s, char *out)
{
    static const char t[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_Digest(s, strlen(s), md, &ml, EVP_sha256(), NULL);
    size_t o = 0;
    for (size_t i = 0; i < 32; i += 3) {
        uint32_t v = (uint32_t)md[i] << 16;
        if (i + 1 < 32) {
            v |= (uint32_t)md[i + 1] << 8;
        }
        if (i + 2 < 32) {
            v |= md[i + 2];
        }
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        if (i + 1 < 32) {
            out[o++] = t[(v >> 6) & 63];
        }
        if (i + 2 < 32) {
            out[o++] = t[v & 63];
        }
    }
    out[o] = '\0';
}

/* ---- OAuth --------------------------------------------------------------- */

static void oauth_error(struct reply *r, const char *error, const char *legacy,
                        const char *msg)
{
    char corr[40];
    rnd_hex(corr, 16);
    reply_json(r, 400,
               json_pack("{s:s, s:s, s:s, s:s, s:s}", "error", error,
                         "error_description", msg, "status", legacy,
                         "message", msg, "correlationId", corr));
}

/* A new access token (and refresh token when refresh is NULL) with the
 * scopes granted at authorization (`scope`; a refresh keeps them). */
static void issue_tokens(struct reply *r, const char *refresh,
                         const char *scope)
{
    char at[80];
    char rt[80];
    char h[40];
    rnd_hex(h, 12);
    snprintf(at, sizeof at, "fake-at-%ld-%s", ++F.seq, h);
    json_object_set_new(F.access, at,
                        json_integer(now_ms() + F.token_lifetime_s * 1000));
    if (refresh == NULL) {
        rnd_hex(h, 12);
        snprintf(rt, sizeof rt, "fake-rt-%ld-%s", F.seq, h);
        json_object_set_new(F.refresh, rt, json_true());
        json_object_set_new(F.scopes, rt, json_string(scope ? scope : ""));
        refresh = rt;
    } else {
        scope = json_string_value(json_object_get(F.scopes, refresh));
    }
    json_object_set_new(F.scopes, at, json_string(scope ? scope : ""));
    reply_json(r, 200,
               json_pack("{s:s, s:s, s:i, s:s}", "access_token", at,
                         "refresh_token", refresh, "expires_in",
                         (int)F.token_lifetime_s, "token_type", "bearer"));
}

static void handle_token(const char *body, struct reply *r)
{
    char *gt = form_get(body, "grant_type");
    char *cid = form_get(body, "client_id");
    char *cs = form_get(body, "client_secret");
    if (gt == NULL || cid == NULL || cs == NULL ||
        strcmp(cid, F.client_id) != 0 || strcmp(cs, F.client_secret) != 0) {
        oauth_error(r, "invalid_client", "BAD_CLIENT_ID",
                    "missing or unknown client_id / client_secret");
    } else if (strcmp(gt, "authorization_code") == 0) {
        char *code = form_get(body, "code");
        char *ru = form_get(body, "redirect_uri");
        char *ver = form_get(body, "code_verifier");
        json_t *c = code ? json_object_get(F.codes, code) : NULL;
        const char *ch = json_string_value(json_object_get(c, "challenge"));
        const char *cru =
            json_string_value(json_object_get(c, "redirect_uri"));
        char computed[64] = "";
        if (ver != NULL) {
            b64url_sha256(ver, computed);
        }
        if (c == NULL) {
            oauth_error(r, "invalid_grant", "BAD_AUTH_CODE",
                        "unknown or used authorization code");
        } else if (ru == NULL || cru == NULL || strcmp(ru, cru) != 0) {
            oauth_error(r, "invalid_grant", "BAD_REDIRECT_URI",
                        "redirect_uri does not match the authorize request");
        } else if (ch != NULL && (ver == NULL || strcmp(ch, computed) != 0)) {
            oauth_error(r, "invalid_grant", "BAD_CODE_VERIFIER",
                        "code_verifier does not match code_challenge");
        } else {
            char *scope = strdup(json_string_value(json_object_get(c,
                                                                   "scope")));
            json_object_del(F.codes, code); /* single use */
            issue_tokens(r, NULL, scope);
            free(scope);
        }
        free(code);
        free(ru);
        free(ver);
    } else if (strcmp(gt, "refresh_token") == 0) {
        char *rt = form_get(body, "refresh_token");
        if (rt == NULL || !json_is_true(json_object_get(F.refresh, rt))) {
            oauth_error(r, "invalid_grant", "BAD_REFRESH_TOKEN",
                        "missing or unknown refresh token");
        } else {
            issue_tokens(r, rt, NULL);
        }
        free(rt);
    } else {
        oauth_error(r, "unsupported_grant_type", "BAD_GRANT_TYPE",
                    "unsupported grant_type");
    }
    free(gt);
    free(cid);
    free(cs);
}

static void handle_authorize(struct MHD_Connection *conn, struct reply *r)
{
    const char *cid = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                                  "client_id");
    const char *ru = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                                 "redirect_uri");
    const char *state = MHD_lookup_connection_value(
        conn, MHD_GET_ARGUMENT_KIND, "state");
    const char *scope = MHD_lookup_connection_value(
        conn, MHD_GET_ARGUMENT_KIND, "scope");
    const char *ch = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                                 "code_challenge");
    const char *chm = MHD_lookup_connection_value(
        conn, MHD_GET_ARGUMENT_KIND, "code_challenge_method");
    if (cid == NULL || ru == NULL || scope == NULL ||
        strcmp(cid, F.client_id) != 0) {
        reply_error(r, 400, "VALIDATION_ERROR",
                    "client_id, redirect_uri and scope are required");
        return;
    }
    /* HubSpot apps take https redirect URIs, or plain http for
     * localhost only */
    if (strncmp(ru, "https://", 8) != 0 &&
        strncmp(ru, "http://localhost:", 17) != 0 &&
        strncmp(ru, "http://localhost/", 17) != 0) {
        reply_error(r, 400, "VALIDATION_ERROR",
                    "redirect_uri must use https, or http://localhost");
        return;
    }
    if (ch != NULL && (chm == NULL || strcmp(chm, "S256") != 0)) {
        reply_error(r, 400, "VALIDATION_ERROR",
                    "code_challenge_method must be S256");
        return;
    }
    char code[40];
    rnd_hex(code, 16);
    json_t *c = json_pack("{s:s, s:s}", "redirect_uri", ru, "scope", scope);
    if (ch != NULL) {
        json_object_set_new(c, "challenge", json_string(ch));
    }
    json_object_set_new(F.codes, code, c);
    r->status = 302;
    /* state is echoed as received (MHD decoded it; ours are URL-safe) */
    snprintf(r->location, sizeof r->location, "%s%scode=%s%s%s", ru,
             strchr(ru, '?') ? "&" : "?", code, state ? "&state=" : "",
             state ? state : "");
}

/* ---- API helpers ------------------------------------------------------------ */

static json_t *find_contact(const char *id, const char *id_property)
{
    size_t i;
    json_t *c;
    if (id_property == NULL || strcmp(id_property, "hs_object_id") == 0) {
        return json_object_get(F.by_id, id);
    }
    json_array_foreach(F.contacts, i, c) {
        const char *v = json_string_value(json_object_get(
            json_object_get(c, "properties"), id_property));
        if (v != NULL && strcasecmp(v, id) == 0) {
            return c;
        }
    }
    return NULL;
}

/* The contact with only `props` (array of names, or NULL: defaults). */
static json_t *contact_view(json_t *c, json_t *props)
{
    json_t *all = json_object_get(c, "properties");
    json_t *p = json_object();
    static const char *const defaults[] = {"createdate", "email", "firstname",
                                           "hs_object_id", "lastmodifieddate",
                                           "lastname"};
    if (json_array_size(props) > 0) {
        size_t i;
        json_t *x;
        json_array_foreach(props, i, x) {
            const char *k = json_string_value(x);
            if (k == NULL || json_object_get(F.properties, k) == NULL) {
                continue; /* unknown properties are silently skipped */
            }
            json_t *v = json_object_get(all, k);
            json_object_set(p, k, v ? v : json_null());
        }
    } else {
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
            json_t *v = json_object_get(all, defaults[i]);
            if (v != NULL) {
                json_object_set(p, defaults[i], v);
            }
        }
    }
    json_object_set(p, "hs_object_id", json_object_get(c, "id"));
    return json_pack("{s:O, s:o, s:s, s:s, s:b}", "id", json_object_get(c, "id"),
                     "properties", p, "createdAt", "2026-01-01T00:00:00.000Z",
                     "updatedAt", "2026-11-22T00:00:00.000Z", "archived", 0);
}

static json_t *split_csv(const char *s)
{
    json_t *a = json_array();
    while (s != NULL && *s) {
        size_t l = strcspn(s, ",");
        if (l > 0) {
            json_array_append_new(a, json_stringn(s, l));
        }
        s += l;
        if (*s == ',') {
            s++;
        }
    }
    return a;
}

static void handle_list(struct MHD_Connection *conn, struct reply *r)
{
    const char *ls = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                                 "limit");
    const char *after = MHD_lookup_connection_value(
        conn, MHD_GET_ARGUMENT_KIND, "after");
    const char *ps = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
                                                 "properties");
    long limit = ls ? strtol(ls, NULL, 10) : 10;
    if (limit < 1 || limit > 100) {
        reply_error(r, 400, "VALIDATION_ERROR",
                    "limit must be between 1 and 100");
        return;
    }
    long start = 0;
    if (after != NULL) {
        /* cursors look like "cur_<n>": opaque to clients */
        if (strncmp(after, "cur_", 4) != 0) {
            reply_error(r, 400, "VALIDATION_ERROR", "invalid after cursor");
            return;
        }
        start = strtol(after + 4, NULL, 10);
    }
    json_t *props = split_csv(ps);
    json_t *res = json_array();
    long n = (long)json_array_size(F.contacts);
    long i = start;
    for (; i < n && i < start + limit; i++) {
        json_array_append_new(res,
                              contact_view(json_array_get(F.contacts,
                                                          (size_t)i),
                                           props));
    }
    json_t *o = json_pack("{s:o}", "results", res);
    if (i < n) {
        char cur[32];
        snprintf(cur, sizeof cur, "cur_%ld", i);
        char link[128];
        snprintf(link, sizeof link, "?after=%s", cur);
        json_object_set_new(o, "paging",
                            json_pack("{s:{s:s, s:s}}", "next", "after", cur,
                                      "link", link));
    }
    json_decref(props);
    reply_json(r, 200, o);
}

/* HubSpot refuses fields its schema does not know (as a JSON error);
 * true when every key of o is in allowed. */
static bool known_fields(json_t *o, const char *const *allowed,
                         const char *cls, struct reply *r)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++) {
            ok = strcmp(k, allowed[i]) == 0;
        }
        if (!ok) {
            reply_error(r, 400, "VALIDATION_ERROR",
                        "Invalid input JSON: Unrecognized field \"%s\" "
                        "(class %s), not marked as ignorable", k, cls);
            return false;
        }
    }
    return true;
}

static bool check_inputs(json_t *body, struct reply *r, json_t **inputs)
{
    *inputs = json_object_get(body, "inputs");
    if (!json_is_array(*inputs)) {
        reply_error(r, 400, "VALIDATION_ERROR", "inputs is required");
        return false;
    }
    if (json_array_size(*inputs) > 100) {
        reply_error(r, 400, "VALIDATION_ERROR",
                    "Batch input size must be less than or equal to 100, "
                    "got %zu", json_array_size(*inputs));
        return false;
    }
    /* the same record twice in one batch is refused as a whole */
    json_t *seen = json_object();
    json_t *dups = json_array();
    size_t i;
    json_t *in;
    json_array_foreach(*inputs, i, in) {
        const char *id = json_string_value(json_object_get(in, "id"));
        if (id == NULL) {
            continue;
        }
        char key[512];
        size_t k = 0;
        for (; id[k] != '\0' && k + 1 < sizeof key; k++) {
            key[k] = (char)tolower((unsigned char)id[k]);
        }
        key[k] = '\0';
        if (json_object_get(seen, key) != NULL) {
            json_array_append_new(dups, json_string(id));
        }
        json_object_set_new(seen, key, json_true());
    }
    json_decref(seen);
    if (json_array_size(dups) > 0) {
        char *list = json_dumps(dups, JSON_COMPACT);
        reply_error(r, 400, "VALIDATION_ERROR",
                    "Duplicate IDs found in batch input: %s. IDs must be "
                    "unique", list ? list : "[]");
        free(list);
        json_decref(dups);
        return false;
    }
    json_decref(dups);
    return true;
}

static bool all_digits(const char *v)
{
    if (*v == '-') {
        v++;
    }
    if (*v == '\0') {
        return false;
    }
    for (; *v; v++) {
        if (!isdigit((unsigned char)*v)) {
            return false;
        }
    }
    return true;
}

/* ISO 8601 "YYYY-MM-DD" (date_only) or "YYYY-MM-DDTHH:MM:SS[.sss]Z". */
static bool iso_date(const char *v, bool date_only)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(v, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 ||
        mo < 1 || mo > 12 || d < 1 || d > 31) {
        return false;
    }
    if (v[10] == '\0') {
        return true;
    }
    if (date_only) {
        return false;
    }
    int m = 0;
    if (sscanf(v + 10, "T%2d:%2d:%2d%n", &h, &mi, &sec, &m) != 3 || m != 9 ||
        h > 23 || mi > 59 || sec > 60) {
        return false;
    }
    const char *t = v + 19;
    if (*t == '.') {
        t++;
        while (isdigit((unsigned char)*t)) {
            t++;
        }
    }
    return strcmp(t, "Z") == 0;
}

/* A value for a defined property as HubSpot checks it: numbers must be
 * decimals, dates epoch milliseconds (midnight UTC for `date`) or ISO
 * 8601, enumerations one of the options (checkbox: ';'-joined).  An
 * empty string clears and is always fine.  NULL when valid. */
static json_t *check_value(const char *name, json_t *def, const char *v)
{
    const char *type = json_string_value(json_object_get(def, "type"));
    if (type == NULL || v[0] == '\0') {
        return NULL;
    }
    if (strcmp(type, "number") == 0) {
        char *end;
        double x = strtod(v, &end);
        if (end == v || *end != '\0' || x != x || isspace((unsigned char)*v)) {
            return bad_value(name, "INVALID_DECIMAL",
                             "%s was not a valid number.", v);
        }
    } else if (strcmp(type, "date") == 0 || strcmp(type, "datetime") == 0) {
        bool date_only = strcmp(type, "date") == 0;
        bool ok = all_digits(v) ? (!date_only ||
                                   strtoll(v, NULL, 10) % 86400000 == 0)
                                : iso_date(v, date_only);
        if (!ok) {
            return bad_value(name, "INVALID_DATE",
                             "%s was not a valid %s (epoch milliseconds%s or "
                             "ISO 8601).", v, type,
                             date_only ? " at midnight UTC" : "");
        }
    } else if (strcmp(type, "enumeration") == 0) {
        json_t *opts = json_object_get(def, "options");
        const char *ft = json_string_value(json_object_get(def, "fieldType"));
        bool multi = ft != NULL && strcmp(ft, "checkbox") == 0;
        const char *p = v;
        while (*p) {
            size_t l = multi ? strcspn(p, ";") : strlen(p);
            bool found = false;
            size_t i;
            json_t *o;
            json_array_foreach(opts, i, o) {
                const char *ov = json_string_value(json_object_get(o,
                                                                   "value"));
                found = found || (ov != NULL && strlen(ov) == l &&
                                  strncmp(ov, p, l) == 0);
            }
            if (!found) {
                return bad_value(name, "INVALID_OPTION",
                                 "%.*s was not one of the allowed options",
                                 (int)l, p);
            }
            p += l;
            p += *p == ';';
        }
    }
    return NULL;
}

static void handle_batch_read(json_t *body, struct reply *r)
{
    static const char *const keys[] = {"inputs", "properties",
                                       "propertiesWithHistory", "idProperty",
                                       NULL};
    json_t *inputs;
    if (!known_fields(body, keys, "BatchReadInputSimplePublicObjectId", r) ||
        !check_inputs(body, r, &inputs)) {
        return;
    }
    if (!json_is_array(json_object_get(body, "properties")) ||
        !json_is_array(json_object_get(body, "propertiesWithHistory"))) {
        reply_error(r, 400, "VALIDATION_ERROR",
                    "properties and propertiesWithHistory are required");
        return;
    }
    const char *idp = json_string_value(json_object_get(body, "idProperty"));
    json_t *props = json_object_get(body, "properties");
    json_t *res = json_array();
    json_t *missing = json_array();
    size_t i;
    json_t *in;
    json_array_foreach(inputs, i, in) {
        const char *id = json_string_value(json_object_get(in, "id"));
        json_t *c = id ? find_contact(id, idp) : NULL;
        if (c == NULL) {
            json_array_append_new(missing, json_string(id ? id : ""));
            continue;
        }
        json_t *view = contact_view(c, props);
        if (idp != NULL) {
            json_object_set(json_object_get(view, "properties"), idp,
                            json_object_get(json_object_get(c, "properties"),
                                            idp));
        }
        json_array_append_new(res, view);
    }
    json_t *o = json_pack("{s:s, s:o, s:s, s:s}", "status", "COMPLETE",
                          "results", res, "startedAt",
                          "2026-11-22T00:00:00.000Z", "completedAt",
                          "2026-11-22T00:00:00.100Z");
    if (json_array_size(missing) > 0) {
        json_object_set_new(
            o, "errors",
            json_pack("[{s:s, s:s, s:s, s:{s:O}}]", "status", "error",
                      "category", "OBJECT_NOT_FOUND", "message",
                      "Could not get some CONTACT objects, they may be "
                      "deleted or not exist.", "context", "ids", missing));
        json_object_set_new(o, "numErrors",
                            json_integer((json_int_t)json_array_size(missing)));
        reply_json(r, 207, o);
    } else {
        reply_json(r, 200, o);
    }
    json_decref(missing);
}

static void handle_batch_update(json_t *body, struct reply *r)
{
    static const char *const keys[] = {"inputs", NULL};
    static const char *const input_keys[] = {"id", "idProperty",
                                             "objectWriteTraceId",
                                             "properties", NULL};
    json_t *inputs;
    if (!known_fields(body, keys,
                      "BatchInputSimplePublicObjectBatchInput", r) ||
        !check_inputs(body, r, &inputs)) {
        return;
    }
    size_t ki;
    json_t *kin;
    json_array_foreach(inputs, ki, kin) {
        if (!known_fields(kin, input_keys, "SimplePublicObjectBatchInput",
                          r)) {
            return;
        }
    }
    /* validate the whole batch first: unknown properties, non-strings */
    size_t i;
    json_t *in;
    json_array_foreach(inputs, i, in) {
        json_t *props = json_object_get(in, "properties");
        if (!json_is_string(json_object_get(in, "id")) ||
            !json_is_object(props)) {
            reply_error(r, 400, "VALIDATION_ERROR",
                        "inputs[%zu] needs id and properties", i);
            return;
        }
        const char *k;
        json_t *v;
        json_t *bad = json_array();
        json_object_foreach(props, k, v) {
            json_t *def = json_object_get(F.properties, k);
            if (def == NULL) {
                json_array_append_new(
                    bad, bad_value(k, "PROPERTY_DOESNT_EXIST",
                                   "Property \"%s\" does not exist", k));
            } else if (!json_is_string(v)) {
                json_decref(bad);
                reply_error(r, 400, "VALIDATION_ERROR",
                            "property %s: values must be strings", k);
                return;
            } else {
                json_t *b = check_value(k, def, json_string_value(v));
                if (b != NULL) {
                    json_array_append_new(bad, b);
                }
            }
        }
        if (json_array_size(bad) > 0) {
            reply_invalid_props(r, bad);
            return;
        }
        json_decref(bad);
    }
    json_t *res = json_array();
    json_t *errors = json_array();
    json_t *missing = json_array();
    json_array_foreach(inputs, i, in) {
        const char *id = json_string_value(json_object_get(in, "id"));
        const char *idp = json_string_value(json_object_get(in, "idProperty"));
        json_t *fail = json_object_get(F.fail_ids, id);
        if (fail != NULL) {
            json_array_append_new(
                errors,
                json_pack("{s:s, s:O, s:s, s:{s:[s]}}", "status", "error",
                          "category", json_object_get(fail, "category"),
                          "message", "injected failure", "context", "ids",
                          id));
            continue;
        }
        json_t *c = find_contact(id, idp);
        if (c == NULL) {
            json_array_append_new(missing, json_string(id));
            continue;
        }
        json_t *props = json_object_get(in, "properties");
        json_t *stored = json_object_get(c, "properties");
        const char *k;
        json_t *v;
        json_object_foreach(props, k, v) {
            json_object_set(stored, k, v);
        }
        json_t *view = contact_view(c, NULL);
        json_object_update(json_object_get(view, "properties"), props);
        json_array_append_new(res, view);
    }
    if (json_array_size(missing) > 0) {
        json_array_append_new(
            errors, json_pack("{s:s, s:s, s:s, s:{s:O}}", "status", "error",
                              "category", "OBJECT_NOT_FOUND", "message",
                              "Could not get some CONTACT objects, they may "
                              "be deleted or not exist.",
                              "context", "ids", missing));
    }
    json_decref(missing);
    json_t *o = json_pack("{s:s, s:o, s:s, s:s}", "status", "COMPLETE",
                          "results", res, "startedAt",
                          "2026-11-22T00:00:00.000Z", "completedAt",
                          "2026-11-22T00:00:00.100Z");
    size_t ne = json_array_size(errors);
    if (ne > 0) {
        json_object_set_new(o, "numErrors", json_integer((json_int_t)ne));
        json_object_set_new(o, "errors", errors);
        reply_json(r, 207, o);
    } else {
        json_decref(errors);
        reply_json(r, 200, o);
    }
}

static bool in_set(const char *v, const char *const *set)
{
    for (size_t i = 0; v != NULL && set[i]; i++) {
        if (strcmp(v, set[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void handle_list_properties(struct reply *r)
{
    json_t *res = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(F.properties, k, v) {
        json_array_append(res, v);
    }
    reply_json(r, 200, json_pack("{s:o}", "results", res));
}

static void handle_create_property(json_t *body, struct reply *r)
{
    /* PropertyCreate of the v3 schema (the 2026-03 one adds a few
     * display fields the connector does not use) */
    static const char *const keys[] = {
        "name", "label", "groupName", "type", "fieldType", "description",
        "options", "displayOrder", "hasUniqueValue", "hidden", "formField",
        "calculationFormula", "referencedObjectType", "externalOptions",
        NULL};
    static const char *const option_keys[] = {"label", "value",
                                              "displayOrder", "hidden",
                                              "description", NULL};
    if (!known_fields(body, keys, "PropertyCreate", r)) {
        return;
    }
    size_t oi;
    json_t *opt;
    json_array_foreach(json_object_get(body, "options"), oi, opt) {
        if (!known_fields(opt, option_keys, "OptionInput", r)) {
            return;
        }
        if (!json_is_string(json_object_get(opt, "label")) ||
            !json_is_string(json_object_get(opt, "value")) ||
            !json_is_integer(json_object_get(opt, "displayOrder")) ||
            !json_is_boolean(json_object_get(opt, "hidden"))) {
            reply_error(r, 400, "VALIDATION_ERROR",
                        "options[%zu]: label, value, displayOrder and "
                        "hidden are required", oi);
            return;
        }
    }
    static const char *const types[] = {"string", "number", "date",
                                        "datetime", "enumeration", "bool",
                                        "phone_number", NULL};
    static const char *const fields[] = {"text", "textarea", "number", "date",
                                         "select", "radio", "checkbox",
                                         "booleancheckbox", "file", "html",
                                         "phonenumber",
                                         "calculation_equation", NULL};
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *label = json_string_value(json_object_get(body, "label"));
    const char *group = json_string_value(json_object_get(body, "groupName"));
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *ft = json_string_value(json_object_get(body, "fieldType"));
    if (name == NULL || label == NULL || group == NULL || type == NULL ||
        ft == NULL) {
        reply_error(r, 400, "VALIDATION_ERROR",
                    "name, label, groupName, type and fieldType are required");
        return;
    }
    if (!islower((unsigned char)name[0]) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
            strlen(name)) {
        reply_error(r, 400, "VALIDATION_ERROR",
                    "Property name '%s' is invalid: lowercase letters, "
                    "digits and underscores, starting with a letter", name);
        return;
    }
    if (!in_set(type, types) || !in_set(ft, fields)) {
        reply_error(r, 400, "VALIDATION_ERROR", "bad type or fieldType");
        return;
    }
    if (strcmp(type, "enumeration") == 0 &&
        !json_is_array(json_object_get(body, "options"))) {
        reply_error(r, 400, "VALIDATION_ERROR",
                    "options are required for enumeration properties");
        return;
    }
    if (json_object_get(F.groups, group) == NULL) {
        reply_error(r, 400, "VALIDATION_ERROR",
                    "property group %s does not exist", group);
        return;
    }
    if (json_object_get(F.properties, name) != NULL) {
        reply_error(r, 409, "CONFLICT",
                    "A property named '%s' already exists.", name);
        return;
    }
    json_object_set(F.properties, name, body);
    reply_json(r, 201, json_incref(body));
}

static void handle_group(json_t *body, struct reply *r)
{
    static const char *const keys[] = {"name", "label", "displayOrder",
                                       NULL};
    if (!known_fields(body, keys, "PropertyGroupCreate", r)) {
        return;
    }
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *label = json_string_value(json_object_get(body, "label"));
    if (name == NULL || label == NULL) {
        reply_error(r, 400, "VALIDATION_ERROR", "name and label are required");
        return;
    }
    if (json_object_get(F.groups, name) != NULL) {
        reply_error(r, 409, "CONFLICT",
                    "A property group named '%s' already exists.", name);
        return;
    }
    json_object_set(F.groups, name, body);
    reply_json(r, 201, json_incref(body));
}

/* ---- dispatch ----------------------------------------------------------------- */

/* "/crm/objects/2026-03/contacts..." or "/crm/v3/objects/contacts...":
 * the rest after ".../contacts", or NULL. */
static const char *crm_rest(const char *url, const char *what)
{
    char a[96];
    char b[96];
    snprintf(a, sizeof a, "/crm/%s/2026-03/contacts", what);
    snprintf(b, sizeof b, "/crm/v3/%s/contacts", what);
    if (strncmp(url, a, strlen(a)) == 0) {
        return url + strlen(a);
    }
    if (strncmp(url, b, strlen(b)) == 0) {
        return url + strlen(b);
    }
    return NULL;
}

static mhd_result collect(void *cls, enum MHD_ValueKind kind, const char *k,
                          const char *v)
{
    (void)kind;
    json_object_set_new(cls, k, json_string(v ? v : ""));
    return MHD_YES;
}

enum auth_result { AUTH_OK, AUTH_MISSING, AUTH_EXPIRED };

/* Checks the bearer token; *scope gets its granted scopes (NULL: every
 * scope: the static token, unless /_fake/scopes narrowed them). */
static enum auth_result authorized(struct MHD_Connection *conn,
                                   const char **scope, int64_t *expired_ms)
{
    *scope = NULL;
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                "Authorization");
    if (a == NULL || strncmp(a, "Bearer ", 7) != 0) {
        return AUTH_MISSING;
    }
    const char *t = a + 7;
    if (F.static_token != NULL && strcmp(t, F.static_token) == 0) {
        *scope = F.scope_override;
        return AUTH_OK;
    }
    json_t *exp = json_object_get(F.access, t);
    if (exp == NULL) {
        return AUTH_MISSING;
    }
    if (json_integer_value(exp) <= now_ms()) {
        *expired_ms = now_ms() - json_integer_value(exp);
        return AUTH_EXPIRED;
    }
    *scope = F.scope_override
                 ? F.scope_override
                 : json_string_value(json_object_get(F.scopes, t));
    return AUTH_OK;
}

/* `want` is "a|b": any one of them. */
static bool has_scope(const char *granted, const char *want)
{
    if (granted == NULL) {
        return true;
    }
    const char *w = want;
    while (*w) {
        size_t wl = strcspn(w, "|");
        const char *g = granted;
        while (*g) {
            size_t gl = strcspn(g, " ");
            if (gl == wl && strncmp(g, w, wl) == 0) {
                return true;
            }
            g += gl;
            g += *g == ' ';
        }
        w += wl;
        w += *w == '|';
    }
    return false;
}

/* The scope a CRM route needs (crm-apis.md 1.1), or NULL. */
static const char *route_scope(const char *method, const char *url)
{
    if (strncmp(url, "/crm/", 5) != 0) {
        return NULL;
    }
    bool props = strstr(url, "/properties/") != NULL;
    bool get = strcmp(method, "GET") == 0;
    if (props) {
        return get ? "crm.schemas.contacts.read|crm.objects.contacts.read|"
                     "crm.schemas.contacts.write"
                   : "crm.schemas.contacts.write";
    }
    if (get || strstr(url, "/batch/read") != NULL) {
        return "crm.objects.contacts.read";
    }
    return "crm.objects.contacts.write";
}

static void reply_missing_scopes(struct reply *r, const char *want)
{
    char corr[40];
    rnd_hex(corr, 16);
    json_t *req = json_array();
    const char *w = want;
    while (*w) {
        size_t wl = strcspn(w, "|");
        json_array_append_new(req, json_stringn(w, wl));
        w += wl;
        w += *w == '|';
    }
    reply_json(r, 403,
               json_pack("{s:s, s:s, s:s, s:[{s:s, s:{s:O}}], s:{s:O}, "
                         "s:{s:s}, s:s}",
                         "status", "error", "message",
                         "This app hasn't been granted all required scopes "
                         "to make this call. Read more about required "
                         "scopes here: https://developers.hubspot.com/scopes.",
                         "correlationId", corr, "errors", "message",
                         "One or more of the following scopes are required.",
                         "context", "requiredGranularScopes", req, "context",
                         "missingScopes", req, "links", "scopes",
                         "https://developers.hubspot.com/scopes", "category",
                         "MISSING_SCOPES"));
    json_decref(req);
}

/* Rolling window; true when the request is allowed. */
static bool rate_take(struct reply *r)
{
    int64_t now = now_ms();
    int k = 0;
    for (int i = 0; i < F.wn; i++) {
        if (F.window[i] + F.rate_interval_ms > now) {
            F.window[k++] = F.window[i];
        }
    }
    F.wn = k;
    r->rate_headers = true;
    if (F.wn >= F.rate_max) {
        r->remaining = 0;
        return false;
    }
    if (F.wn < WINDOW_MAX) {
        F.window[F.wn++] = now;
    }
    if (F.wn > F.max_in_window) {
        F.max_in_window = F.wn;
    }
    r->remaining = F.rate_max - F.wn;
    return true;
}

static void handle_control(struct MHD_Connection *conn, const char *url,
                           json_t *body, struct reply *r)
{
    if (strcmp(url, "/_fake/fail") == 0) {
        F.fail_count = (int)json_integer_value(json_object_get(body, "count"));
        json_t *st = json_object_get(body, "status");
        F.fail_status = st ? (int)json_integer_value(st) : 503;
        F.fail_drop = json_is_true(json_object_get(body, "drop"));
        F.fail_delay_ms = (long)json_integer_value(json_object_get(body,
                                                                   "delay_ms"));
        json_t *ra = json_object_get(body, "retry_after");
        F.fail_retry_after = ra ? (long)json_integer_value(ra) : -1;
        reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(url, "/_fake/fail_ids") == 0) {
        json_object_clear(F.fail_ids);
        size_t i;
        json_t *x;
        const char *cat = json_string_value(json_object_get(body, "category"));
        json_array_foreach(json_object_get(body, "ids"), i, x) {
            json_object_set_new(F.fail_ids, json_string_value(x),
                                json_pack("{s:s}", "category",
                                          cat ? cat : "OBJECT_NOT_FOUND"));
        }
        reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(url, "/_fake/config") == 0) {
        json_t *x;
        if ((x = json_object_get(body, "rate_max")) != NULL) {
            F.rate_max = (int)json_integer_value(x);
        }
        if ((x = json_object_get(body, "rate_interval_ms")) != NULL) {
            F.rate_interval_ms = (long)json_integer_value(x);
        }
        if ((x = json_object_get(body, "token_lifetime_s")) != NULL) {
            F.token_lifetime_s = (long)json_integer_value(x);
        }
        reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(url, "/_fake/scopes") == 0) {
        const char *sc = json_string_value(json_object_get(body, "scopes"));
        free(F.scope_override);
        F.scope_override = sc ? strdup(sc) : NULL;
        reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(url, "/_fake/revoke") == 0) {
        json_object_clear(F.refresh);
        json_object_clear(F.access);
        F.static_token = NULL;
        reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(url, "/_fake/expire") == 0) {
        const char *k;
        json_t *v;
        json_object_foreach(F.access, k, v) {
            json_integer_set(v, 0);
        }
        reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(url, "/_fake/requests") == 0) {
        reply_json(r, 200,
                   json_pack("{s:O, s:I, s:i}", "requests", F.requests,
                             "throttled", (json_int_t)F.throttled,
                             "max_in_window", F.max_in_window));
    } else if (strcmp(url, "/_fake/clear") == 0) {
        json_array_clear(F.requests);
        F.throttled = 0;
        F.max_in_window = 0;
        reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(url, "/_fake/contacts") == 0) {
        reply_json(r, 200, json_pack("{s:O}", "contacts", F.contacts));
    } else if (strcmp(url, "/_fake/contact") == 0) {
        const char *id = MHD_lookup_connection_value(
            conn, MHD_GET_ARGUMENT_KIND, "id");
        json_t *c = id ? find_contact(id, NULL) : NULL;
        if (c == NULL) {
            reply_error(r, 404, "OBJECT_NOT_FOUND", "no contact");
        } else {
            reply_json(r, 200, json_incref(c));
        }
    } else if (strcmp(url, "/_fake/property") == 0) {
        const char *n = MHD_lookup_connection_value(
            conn, MHD_GET_ARGUMENT_KIND, "name");
        json_t *p = n ? json_object_get(F.properties, n) : NULL;
        if (p == NULL) {
            reply_error(r, 404, "OBJECT_NOT_FOUND", "no property");
        } else {
            reply_json(r, 200, json_incref(p));
        }
    } else {
        reply_error(r, 404, "OBJECT_NOT_FOUND", "no such control");
    }
}

/* Returns false to drop the connection. */
static bool route(struct MHD_Connection *conn, const char *method,
                  const char *url, const char *raw, size_t rawlen,
                  struct reply *r, long *delay_ms, json_t **rec_out)
{
    json_t *body = NULL;
    if (rawlen > 0) {
        body = json_loadb(raw, rawlen, 0, NULL);
    }
    if (strncmp(url, "/_fake/", 7) == 0) {
        handle_control(conn, url, body, r);
        json_decref(body);
        return true;
    }
    /* record */
    json_t *hdrs = json_object();
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect, hdrs);
    json_t *query = json_object();
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect, query);
    json_t *rec = json_pack("{s:s, s:s, s:o, s:o, s:s#, s:I}", "method",
                            method, "path", url, "query", query, "headers",
                            hdrs, "body", raw ? raw : "", (int)rawlen, "ms",
                            (json_int_t)now_ms());
    json_array_append(F.requests, rec);
    json_object_set_new(rec, "delivered", json_false());
    *rec_out = json_incref(rec);
    bool keep = true;
    bool is_oauth = strncmp(url, "/oauth/", 7) == 0;
    if (!is_oauth && F.fail_count > 0) {
        F.fail_count--;
        *delay_ms = F.fail_delay_ms;
        if (F.fail_drop) {
            keep = false;
        } else if (F.fail_status > 0) {
            reply_error(r, (unsigned)F.fail_status,
                        F.fail_status == 423 ? "LOCKED" : "INTERNAL_ERROR",
                        "injected failure %d", F.fail_status);
            r->retry_after = F.fail_retry_after;
            /* an injected 429 carries the rate headers, as HubSpot's */
            r->rate_headers = F.fail_status == 429;
            r->remaining = 0;
        }
        if (!keep || F.fail_status > 0) {
            goto done;
        }
    }
    if (strcmp(url, "/oauth/authorize") == 0 && strcmp(method, "GET") == 0) {
        handle_authorize(conn, r);
        goto done;
    }
    if ((strcmp(url, "/oauth/2026-03/token") == 0 ||
         strcmp(url, "/oauth/v3/token") == 0 ||
         strcmp(url, "/oauth/v1/token") == 0) &&
        strcmp(method, "POST") == 0) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     "Content-Type");
        if (ct == NULL || strcspn(ct, "; ") != 33 ||
            strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
            reply_error(r, 415, "VALIDATION_ERROR",
                        "Unsupported Media Type: Content-Type %s; the token "
                        "endpoint takes application/x-www-form-urlencoded",
                        ct ? ct : "(none)");
            goto done;
        }
        char *form = strndup(raw ? raw : "", rawlen);
        handle_token(form, r);
        free(form);
        goto done;
    }
    if (strncmp(url, "/hook", 5) == 0) {
        /* a webhook receiver for the webhook action tests: no auth, no
         * rate limit, recorded, failures injectable like the API */
        reply_json(r, 200, json_pack("{s:b}", "ok", 1));
        goto done;
    }
    const char *granted = NULL;
    int64_t expired_ms = 0;
    enum auth_result ar = authorized(conn, &granted, &expired_ms);
    if (ar == AUTH_EXPIRED) {
        reply_error(r, 401, "EXPIRED_AUTHENTICATION",
                    "The OAuth token used to make this call expired %lld "
                    "second(s) ago.", (long long)(expired_ms / 1000));
        goto done;
    }
    if (ar != AUTH_OK) {
        reply_error(r, 401, "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports "
                    "OAuth 2.0 authentication.");
        goto done;
    }
    if (!rate_take(r)) {
        F.throttled++;
        char corr[40];
        rnd_hex(corr, 16);
        reply_json(r, 429,
                   json_pack("{s:s, s:s, s:s, s:s, s:s}", "status", "error",
                             "message",
                             "You have reached your ten_secondly_rolling "
                             "limit.", "errorType", "RATE_LIMIT",
                             "correlationId", corr, "policyName",
                             "TEN_SECONDLY_ROLLING"));
        goto done;
    }
    const char *need = route_scope(method, url);
    if (need != NULL && !has_scope(granted, need)) {
        reply_missing_scopes(r, need);
        goto done;
    }
    if (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 ||
        strcmp(method, "PUT") == 0) {
        /* JSON bodies only, and well-formed (as HubSpot answers) */
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     "Content-Type");
        size_t cl = ct ? strcspn(ct, "; ") : 0;
        if (ct == NULL || cl != 16 ||
            strncasecmp(ct, "application/json", 16) != 0) {
            reply_error(r, 415, "VALIDATION_ERROR",
                        "Unsupported Media Type: Content-Type %s; this "
                        "endpoint accepts application/json",
                        ct ? ct : "(none)");
            goto done;
        }
        json_error_t je;
        json_t *parsed = json_loadb(raw ? raw : "", rawlen, 0, &je);
        if (!json_is_object(parsed)) {
            reply_error(r, 400, "VALIDATION_ERROR",
                        "Invalid input JSON on line %d, column %d: %s",
                        je.line, je.column,
                        parsed ? "a JSON object is expected" : je.text);
            json_decref(parsed);
            goto done;
        }
        json_decref(parsed);
    }
    const char *rest;
    if ((rest = crm_rest(url, "objects")) != NULL) {
        if (rest[0] == '\0' && strcmp(method, "GET") == 0) {
            handle_list(conn, r);
        } else if (strcmp(rest, "/batch/read") == 0 &&
                   strcmp(method, "POST") == 0) {
            handle_batch_read(body, r);
        } else if (strcmp(rest, "/batch/update") == 0 &&
                   strcmp(method, "POST") == 0) {
            handle_batch_update(body, r);
        } else {
            reply_error(r, 404, "OBJECT_NOT_FOUND", "no route");
        }
    } else if ((rest = crm_rest(url, "properties")) != NULL) {
        if (rest[0] == '\0' && strcmp(method, "POST") == 0) {
            handle_create_property(body, r);
        } else if (rest[0] == '\0' && strcmp(method, "GET") == 0) {
            handle_list_properties(r);
        } else if (strcmp(rest, "/groups") == 0 &&
                   strcmp(method, "POST") == 0) {
            handle_group(body, r);
        } else if (rest[0] == '/') {
            json_t *p = json_object_get(F.properties, rest + 1);
            if (p == NULL) {
                reply_error(r, 404, "OBJECT_NOT_FOUND", "no property %s",
                            rest + 1);
            } else if (strcmp(method, "PATCH") == 0 && json_is_object(body)) {
                static const char *const upd_keys[] = {
                    "label", "groupName", "type", "fieldType", "description",
                    "options", "displayOrder", "hidden", "formField",
                    "calculationFormula", NULL};
                if (known_fields(body, upd_keys, "PropertyUpdate", r)) {
                    json_object_update(p, body);
                    reply_json(r, 200, json_incref(p));
                }
            } else {
                reply_json(r, 200, json_incref(p));
            }
        } else {
            reply_error(r, 404, "OBJECT_NOT_FOUND", "no route");
        }
    } else {
        reply_error(r, 404, "OBJECT_NOT_FOUND", "no route %s", url);
    }
done:
    json_object_set_new(rec, "status", json_integer(keep ? r->status : 0));
    if (F.log != NULL) {
        char *line = json_dumps(rec, JSON_COMPACT);
        if (line != NULL) {
            fprintf(F.log, "%s\n", line);
            fflush(F.log);
            free(line);
        }
    }
    json_decref(rec);
    json_decref(body);
    return keep;
}

static mhd_result handler(void *cls, struct MHD_Connection *conn,
                          const char *url, const char *method,
                          const char *version, const char *upload,
                          size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
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
        if (rc->len + *upload_size > MAX_BODY) {
            rc->overflow = true;
        } else {
            if (rc->len + *upload_size + 1 > rc->cap) {
                size_t cap = (rc->len + *upload_size + 1) * 2;
                char *nb = realloc(rc->body, cap);
                if (nb == NULL) {
                    return MHD_NO;
                }
                rc->body = nb;
                rc->cap = cap;
            }
            memcpy(rc->body + rc->len, upload, *upload_size);
            rc->len += *upload_size;
            rc->body[rc->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    struct reply r = {.status = 500, .retry_after = -1};
    long delay = 0;
    pthread_mutex_lock(&F.mu);
    bool keep = route(conn, method, url, rc->body, rc->len, &r, &delay,
                      &rc->rec);
    pthread_mutex_unlock(&F.mu);
    if (delay > 0) {
        struct timespec ts = {.tv_sec = delay / 1000,
                              .tv_nsec = (delay % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!keep) {
        free(r.body);
        return MHD_NO; /* drops the connection without an answer */
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r.body ? strlen(r.body) : 0, r.body ? r.body : (void *)"",
        r.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r.content_type != NULL) {
        MHD_add_response_header(resp, "Content-Type", r.content_type);
    }
    if (r.location[0] != '\0') {
        MHD_add_response_header(resp, "Location", r.location);
    }
    if (r.rate_headers) {
        char v[32];
        snprintf(v, sizeof v, "%d", F.rate_max);
        MHD_add_response_header(resp, "X-HubSpot-RateLimit-Max", v);
        snprintf(v, sizeof v, "%d", r.remaining);
        MHD_add_response_header(resp, "X-HubSpot-RateLimit-Remaining", v);
        snprintf(v, sizeof v, "%ld", F.rate_interval_ms);
        MHD_add_response_header(resp,
                                "X-HubSpot-RateLimit-Interval-Milliseconds", v);
    }
    if (r.retry_after >= 0) {
        char v[32];
        snprintf(v, sizeof v, "%ld", r.retry_after);
        MHD_add_response_header(resp, "Retry-After", v);
    }
    mhd_result ret = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    struct reqctx *rc = *con_cls;
    if (rc != NULL && rc->rec != NULL) {
        /* "delivered": the client received the whole answer */
        pthread_mutex_lock(&F.mu);
        json_object_set_new(rc->rec, "delivered",
                            json_boolean(toe ==
                                         MHD_REQUEST_TERMINATED_COMPLETED_OK));
        pthread_mutex_unlock(&F.mu);
        json_decref(rc->rec);
    }
    if (rc != NULL) {
        free(rc->body);
        free(rc);
        *con_cls = NULL;
    }
}

static void seed(int n)
{
    static const char *const titles[] = {"CTO", "Engineer", "Student",
                                         "VP Sales", "Marketing Manager"};
    for (int i = 0; i < n; i++) {
        char id[24];
        char email[64];
        char emp[16];
        snprintf(id, sizeof id, "%d", 101 + i);
        snprintf(email, sizeof email, "c%d@example.com", 101 + i);
        snprintf(emp, sizeof emp, "%d", (i * 37) % 900 + 5);
        json_t *c = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "id",
                              id, "properties", "email", email, "firstname",
                              "Contact", "jobtitle", titles[i % 5],
                              "numemployees", emp, "lifecyclestage", "lead",
                              "createdate", "2026-01-01T00:00:00.000Z");
        json_object_set(F.by_id, id, c);
        json_array_append_new(F.contacts, c);
    }
    static const char *const builtin[] = {"email", "firstname", "lastname",
                                          "jobtitle", "numemployees",
                                          "lifecyclestage", "createdate",
                                          "lastmodifieddate", "hs_object_id",
                                          "country"};
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        json_object_set_new(F.properties, builtin[i],
                            json_pack("{s:s, s:s, s:s, s:s, s:s}", "name",
                                      builtin[i], "label", builtin[i],
                                      "groupName", "contactinformation",
                                      "type", "string", "fieldType", "text"));
    }
    json_object_set_new(F.groups, "contactinformation",
                        json_pack("{s:s, s:s}", "name", "contactinformation",
                                  "label", "Contact information"));
}

int main(int argc, char **argv)
{
    unsigned port = 0;
    int contacts = 250;
    pthread_mutex_init(&F.mu, NULL);
    F.client_id = "fake-client-id";
    F.client_secret = "fake-client-secret";
    F.token_lifetime_s = 1800;
    F.rate_max = 100;
    F.rate_interval_ms = 10000;
    F.fail_retry_after = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fprintf(stderr, "fake_hubspot: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--port") == 0) {
            port = (unsigned)atoi(v);
        } else if (strcmp(a, "--contacts") == 0) {
            contacts = atoi(v);
        } else if (strcmp(a, "--token-lifetime") == 0) {
            F.token_lifetime_s = atol(v);
        } else if (strcmp(a, "--rate-max") == 0) {
            F.rate_max = atoi(v);
        } else if (strcmp(a, "--rate-interval-ms") == 0) {
            F.rate_interval_ms = atol(v);
        } else if (strcmp(a, "--client-id") == 0) {
            F.client_id = v;
        } else if (strcmp(a, "--client-secret") == 0) {
            F.client_secret = v;
        } else if (strcmp(a, "--static-token") == 0) {
            F.static_token = v;
        } else if (strcmp(a, "--log") == 0) {
            F.log = fopen(v, "a");
        } else {
            fprintf(stderr, "fake_hubspot: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    F.contacts = json_array();
    F.by_id = json_object();
    F.properties = json_object();
    F.groups = json_object();
    F.access = json_object();
    F.refresh = json_object();
    F.codes = json_object();
    F.scopes = json_object();
    F.requests = json_array();
    F.fail_ids = json_object();
    seed(contacts);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
        NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "fake_hubspot: cannot listen on 127.0.0.1:%u\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("PORT %u\n", info ? (unsigned)info->port : port);
    fflush(stdout);
    /* run until stdin closes or a signal */
    char buf[64];
    while (!stop_flag) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR)) {
            break;
        }
    }
    MHD_stop_daemon(d);
    if (F.log != NULL) {
        fclose(F.log);
    }
    json_decref(F.contacts);
    json_decref(F.by_id);
    json_decref(F.properties);
    json_decref(F.groups);
    json_decref(F.access);
    json_decref(F.refresh);
    json_decref(F.codes);
    json_decref(F.scopes);
    free(F.scope_override);
    json_decref(F.requests);
    json_decref(F.fail_ids);
    return 0;
}
