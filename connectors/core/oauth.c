/*
 * Connector core: OAuth 2 with PKCE, token sessions, loopback listener
 * (see oauth.h).
 */
#include "oauth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "outcome.h"

/* ---- Pure helpers ------------------------------------------------------- */

enum lsc_status oauth_random_string(char *out, size_t n)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                              "0123456789-._~";
    unsigned char buf[256];
    if (n > sizeof buf) {
        return LSC_ERR_INVALID_ARG;
    }
    if (RAND_bytes(buf, (int)n) != 1) {
        return LSC_ERR_INTERNAL;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = set[buf[i] % 66]; /* 256 % 66 bias accepted: 64+ bits */
    }
    out[n] = '\0';
    OPENSSL_cleanse(buf, sizeof buf);
    return LSC_OK;
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char t[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= in[i + 2];
        }
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        if (i + 1 < n) {
            out[o++] = t[(v >> 6) & 63];
        }
        if (i + 2 < n) {
            out[o++] = t[v & 63];
        }
    }
    out[o] = '\0';
}

enum lsc_status oauth_pkce_challenge(const char *verifier, char *out,
                                     size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    if (outlen < OAUTH_CHALLENGE_LEN + 1) {
        return LSC_ERR_INVALID_ARG;
    }
    if (EVP_Digest(verifier, strlen(verifier), md, &ml, EVP_sha256(), NULL) !=
            1 ||
        ml != 32) {
        return LSC_ERR_INTERNAL;
    }
    b64url(md, 32, out);
    return LSC_OK;
}

bool oauth_state_equal(const char *expected, const char *got)
{
    if (expected == NULL || got == NULL) {
        return false;
    }
    size_t a = strlen(expected);
    size_t b = strlen(got);
    if (a != b || a == 0) {
        return false;
    }
    return CRYPTO_memcmp(expected, got, a) == 0;
}

/* Appends "&k=escaped(v)" (or "k=.." when first) to a growing buffer. */
static bool add_param(char **buf, size_t *len, const char *k, const char *v)
{
    if (v == NULL) {
        return true;
    }
    char *e = http_escape(v);
    if (e == NULL) {
        return false;
    }
    size_t need = *len + strlen(k) + strlen(e) + 3;
    char *nb = realloc(*buf, need);
    if (nb == NULL) {
        free(e);
        return false;
    }
    *buf = nb;
    *len += (size_t)snprintf(nb + *len, need - *len, "%s%s=%s",
                             *len ? "&" : "", k, e);
    free(e);
    return true;
}

char *oauth_authorize_url(const char *base, const char *client_id,
                          const char *redirect_uri, const char *scopes,
                          const char *optional_scopes, const char *state,
                          const char *challenge)
{
    char *q = NULL;
    size_t ql = 0;
    if (!add_param(&q, &ql, "client_id", client_id) ||
        !add_param(&q, &ql, "redirect_uri", redirect_uri) ||
        !add_param(&q, &ql, "scope", scopes) ||
        !add_param(&q, &ql, "optional_scope",
                   optional_scopes && optional_scopes[0] ? optional_scopes
                                                         : NULL) ||
        !add_param(&q, &ql, "state", state) ||
        !add_param(&q, &ql, "code_challenge", challenge) ||
        !add_param(&q, &ql, "code_challenge_method",
                   challenge ? "S256" : NULL)) {
        free(q);
        return NULL;
    }
    size_t n = strlen(base) + ql + 2;
    char *url = malloc(n);
    if (url != NULL) {
        snprintf(url, n, "%s%s%s", base, strchr(base, '?') ? "&" : "?",
                 q ? q : "");
    }
    free(q);
    return url;
}

char *oauth_form_code(const char *client_id, const char *client_secret,
                      const char *redirect_uri, const char *code,
                      const char *verifier)
{
    char *q = NULL;
    size_t ql = 0;
    if (!add_param(&q, &ql, "grant_type", "authorization_code") ||
        !add_param(&q, &ql, "client_id", client_id) ||
        !add_param(&q, &ql, "client_secret", client_secret) ||
        !add_param(&q, &ql, "redirect_uri", redirect_uri) ||
        !add_param(&q, &ql, "code", code) ||
        !add_param(&q, &ql, "code_verifier", verifier)) {
        free(q);
        return NULL;
    }
    return q;
}

char *oauth_form_refresh(const char *client_id, const char *client_secret,
                         const char *refresh_token)
{
    char *q = NULL;
    size_t ql = 0;
    if (!add_param(&q, &ql, "grant_type", "refresh_token") ||
        !add_param(&q, &ql, "client_id", client_id) ||
        !add_param(&q, &ql, "client_secret", client_secret) ||
        !add_param(&q, &ql, "refresh_token", refresh_token)) {
        free(q);
        return NULL;
    }
    return q;
}

static void free_secret(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void oauth_tokens_clear(struct oauth_tokens *t)
{
    if (t == NULL) {
        return;
    }
    free_secret(t->access_token);
    free_secret(t->refresh_token);
    t->access_token = NULL;
    t->refresh_token = NULL;
    t->expires_at_ms = 0;
}

enum lsc_status oauth_parse_token(const char *body, size_t len,
                                  int64_t now_ms, const char *keep_refresh,
                                  struct oauth_tokens *out, char *err,
                                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *j = json_loadb(body ? body : "", body ? len : 0, 0, &je);
    if (!json_is_object(j)) {
        snprintf(err, errlen, "token answer is not a JSON object: %d:%d: %s",
                 je.line, je.column, je.text);
        json_decref(j);
        return LSC_ERR_PARSE;
    }
    json_t *at = json_object_get(j, "access_token");
    json_t *rt = json_object_get(j, "refresh_token");
    json_t *ei = json_object_get(j, "expires_in");
    if (!json_is_string(at) || json_string_length(at) == 0) {
        snprintf(err, errlen, "token answer lacks access_token");
        json_decref(j);
        return LSC_ERR_PARSE;
    }
    out->access_token = strdup(json_string_value(at));
    const char *r = json_is_string(rt) ? json_string_value(rt) : keep_refresh;
    out->refresh_token = r ? strdup(r) : NULL;
    if (json_is_integer(ei) && json_integer_value(ei) > 0) {
        out->expires_at_ms = now_ms + (int64_t)json_integer_value(ei) * 1000;
    } else if (json_is_real(ei) && json_real_value(ei) > 0) {
        out->expires_at_ms = now_ms + (int64_t)(json_real_value(ei) * 1000);
    } else {
        out->expires_at_ms = INT64_MAX;
    }
    json_decref(j);
    if (out->access_token == NULL || (r != NULL && out->refresh_token == NULL)) {
        oauth_tokens_clear(out);
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    return LSC_OK;
}

bool oauth_tokens_due(const struct oauth_tokens *t, int64_t now_ms,
                      int64_t skew_ms)
{
    if (t->access_token == NULL) {
        return true;
    }
    if (t->expires_at_ms == INT64_MAX) {
        return false;
    }
    return now_ms + skew_ms >= t->expires_at_ms;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Percent-decodes [s, s+n) into out ('+' is a space). */
static void pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
            hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

enum lsc_status oauth_parse_redirect(const char *target, char *code,
                                     size_t codelen, char *state,
                                     size_t statelen, char *err,
                                     size_t errlen)
{
    const char *q = strchr(target, '?');
    q = q ? q + 1 : target;
    char error[128] = "";
    char desc[128] = "";
    code[0] = '\0';
    state[0] = '\0';
    while (*q) {
        size_t pl = strcspn(q, "&#");
        const char *eq = memchr(q, '=', pl);
        if (eq != NULL) {
            size_t kl = (size_t)(eq - q);
            const char *v = eq + 1;
            size_t vl = pl - kl - 1;
            if (kl == 4 && strncmp(q, "code", 4) == 0) {
                pct_decode(v, vl, code, codelen);
            } else if (kl == 5 && strncmp(q, "state", 5) == 0) {
                pct_decode(v, vl, state, statelen);
            } else if (kl == 5 && strncmp(q, "error", 5) == 0) {
                pct_decode(v, vl, error, sizeof error);
            } else if (kl == 17 && strncmp(q, "error_description", 17) == 0) {
                pct_decode(v, vl, desc, sizeof desc);
            }
        }
        q += pl;
        if (*q != '&') {
            break;
        }
        q++;
    }
    if (error[0] != '\0') {
        snprintf(err, errlen, "authorization refused: %s%s%s", error,
                 desc[0] ? ": " : "", desc);
        return LSC_ERR_AUTH;
    }
    if (code[0] == '\0' || state[0] == '\0') {
        snprintf(err, errlen, "the redirect carries no code or no state");
        return LSC_ERR_PARSE;
    }
    return LSC_OK;
}

/* ---- Sessions ----------------------------------------------------------- */

struct oauth_session {
    pthread_mutex_t lock;
    bool is_static;
    char *token_url;
    char *client_id;
    char *client_secret;
    char *redirect_uri;
    char *store_path;
    int64_t skew_ms;
    struct http_client *http;            /* borrowed */
    struct secrets_redactor *redactor;   /* borrowed */
    struct oauth_tokens tok;
    enum oauth_state state;
    bool force_refresh;
    char reauth_reason[200];
};

static char *dup_or_null(const char *s, bool *oom)
{
    if (s == NULL) {
        return NULL;
    }
    char *d = strdup(s);
    if (d == NULL) {
        *oom = true;
    }
    return d;
}

/* Writes the credentials file. Lock held. */
static enum lsc_status persist(struct oauth_session *s, char *err,
                               size_t errlen)
{
    if (s->store_path == NULL) {
        return LSC_OK;
    }
    const char *st = s->state == OAUTH_REAUTH_NEEDED ? "reauth_needed"
                     : s->state == OAUTH_CONNECTED   ? "connected"
                                                     : "not_connected";
    json_t *o = json_pack("{s:s, s:s, s:I}", "schema",
                          "leadscore.credentials/1", "state", st,
                          "expires_at_ms", (json_int_t)s->tok.expires_at_ms);
    if (o == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    if (s->tok.access_token) {
        json_object_set_new(o, "access_token",
                            json_string(s->tok.access_token));
    }
    if (s->tok.refresh_token) {
        json_object_set_new(o, "refresh_token",
                            json_string(s->tok.refresh_token));
    }
    if (s->reauth_reason[0]) {
        json_object_set_new(o, "reason", json_string(s->reauth_reason));
    }
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    enum lsc_status rc =
        secrets_write_file(s->store_path, text, strlen(text), err, errlen);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return rc;
}

/* Loads the credentials file when present. */
static enum lsc_status load(struct oauth_session *s, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    enum lsc_status rc = secrets_read_file(s->store_path, &text, &len, err,
                                           errlen);
    if (rc == LSC_ERR_NOT_FOUND) {
        return LSC_OK;
    }
    if (rc != LSC_OK) {
        return rc;
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    OPENSSL_cleanse(text, len);
    free(text);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, errlen, "%s: not JSON (%d:%d: %s)", s->store_path,
                 je.line, je.column, je.text);
        return LSC_ERR_CORRUPT;
    }
    const char *st = json_string_value(json_object_get(j, "state"));
    const char *at = json_string_value(json_object_get(j, "access_token"));
    const char *rt = json_string_value(json_object_get(j, "refresh_token"));
    const char *why = json_string_value(json_object_get(j, "reason"));
    json_t *exp = json_object_get(j, "expires_at_ms");
    bool oom = false;
    s->tok.access_token = dup_or_null(at, &oom);
    s->tok.refresh_token = dup_or_null(rt, &oom);
    s->tok.expires_at_ms =
        json_is_integer(exp) ? (int64_t)json_integer_value(exp) : 0;
    if (st != NULL && strcmp(st, "reauth_needed") == 0) {
        s->state = OAUTH_REAUTH_NEEDED;
        snprintf(s->reauth_reason, sizeof s->reauth_reason, "%s",
                 why ? why : "re-authorization needed");
    } else if (s->tok.refresh_token != NULL || s->tok.access_token != NULL) {
        s->state = OAUTH_CONNECTED;
    }
    json_decref(j);
    secrets_redactor_add(s->redactor, s->tok.access_token);
    secrets_redactor_add(s->redactor, s->tok.refresh_token);
    if (oom) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    return LSC_OK;
}

enum lsc_status oauth_session_create(const struct oauth_config *cfg,
                                     struct http_client *http,
                                     struct secrets_redactor *redactor,
                                     struct oauth_session **out, char *err,
                                     size_t errlen)
{
    *out = NULL;
    if (cfg == NULL || cfg->token_url == NULL || cfg->client_id == NULL ||
        http == NULL) {
        snprintf(err, errlen, "OAuth needs a token URL and a client id");
        return LSC_ERR_INVALID_ARG;
    }
    struct oauth_session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    bool oom = false;
    s->token_url = dup_or_null(cfg->token_url, &oom);
    s->client_id = dup_or_null(cfg->client_id, &oom);
    s->client_secret = dup_or_null(cfg->client_secret, &oom);
    s->redirect_uri = dup_or_null(cfg->redirect_uri, &oom);
    s->store_path = dup_or_null(cfg->store_path, &oom);
    s->skew_ms = cfg->skew_ms > 0 ? cfg->skew_ms : OAUTH_DEFAULT_SKEW_MS;
    s->http = http;
    s->redactor = redactor;
    if (oom) {
        oauth_session_destroy(s);
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    secrets_redactor_add(redactor, s->client_secret);
    if (s->store_path != NULL) {
        enum lsc_status rc = load(s, err, errlen);
        if (rc != LSC_OK) {
            oauth_session_destroy(s);
            return rc;
        }
    }
    *out = s;
    return LSC_OK;
}

enum lsc_status oauth_session_create_static(const char *token,
                                            struct secrets_redactor *redactor,
                                            struct oauth_session **out,
                                            char *err, size_t errlen)
{
    *out = NULL;
    if (token == NULL || token[0] == '\0') {
        snprintf(err, errlen, "no token configured");
        return LSC_ERR_CONFIG;
    }
    struct oauth_session *s = calloc(1, sizeof *s);
    if (s == NULL || (s->tok.access_token = strdup(token)) == NULL) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->is_static = true;
    s->tok.expires_at_ms = INT64_MAX;
    s->state = OAUTH_CONNECTED;
    s->redactor = redactor;
    secrets_redactor_add(redactor, token);
    *out = s;
    return LSC_OK;
}

void oauth_session_destroy(struct oauth_session *s)
{
    if (s == NULL) {
        return;
    }
    oauth_tokens_clear(&s->tok);
    free(s->token_url);
    free(s->client_id);
    free_secret(s->client_secret);
    free(s->redirect_uri);
    free(s->store_path);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

enum oauth_state oauth_session_state(struct oauth_session *s)
{
    pthread_mutex_lock(&s->lock);
    enum oauth_state st = s->state;
    pthread_mutex_unlock(&s->lock);
    return st;
}

bool oauth_session_is_static(const struct oauth_session *s)
{
    return s->is_static;
}

int64_t oauth_session_expires_at(struct oauth_session *s)
{
    pthread_mutex_lock(&s->lock);
    int64_t e = s->tok.expires_at_ms;
    pthread_mutex_unlock(&s->lock);
    return e;
}

/* POSTs a form to the token endpoint and installs the answer.  Lock held. */
static enum lsc_status token_call(struct oauth_session *s, const char *form,
                                  int64_t now_ms, char *err, size_t errlen)
{
    struct http_request req = {
        .method = "POST",
        .url = s->token_url,
        .body = form,
        .body_len = strlen(form),
        .content_type = "application/x-www-form-urlencoded",
    };
    struct http_response resp;
    enum lsc_status tr = http_client_request(s->http, &req, &resp);
    struct outcome o;
    outcome_classify(tr, &resp, now_ms, &o);
    enum lsc_status rc;
    if (o.status == LSC_OK) {
        struct oauth_tokens nt;
        rc = oauth_parse_token(resp.body, resp.body_len, now_ms,
                               s->tok.refresh_token, &nt, err, errlen);
        if (rc == LSC_OK) {
            oauth_tokens_clear(&s->tok);
            s->tok = nt;
            s->state = OAUTH_CONNECTED;
            s->force_refresh = false;
            s->reauth_reason[0] = '\0';
            secrets_redactor_add(s->redactor, nt.access_token);
            secrets_redactor_add(s->redactor, nt.refresh_token);
            rc = persist(s, err, errlen);
        }
    } else if (o.status == LSC_ERR_AUTH ||
               (resp.body != NULL &&
                (strstr(resp.body, "invalid_grant") != NULL ||
                 strstr(resp.body, "BAD_REFRESH_TOKEN") != NULL))) {
        snprintf(err, errlen, "token refused (%s); hint: run `leadscore "
                 "connect hubspot` again", o.reason);
        rc = LSC_ERR_AUTH;
    } else if (o.status == LSC_ERR_RETRYABLE) {
        snprintf(err, errlen, "token endpoint: %s", o.reason);
        rc = LSC_ERR_RETRYABLE;
    } else {
        snprintf(err, errlen, "token endpoint: %s", o.reason);
        rc = LSC_ERR_PERMANENT;
    }
    http_response_finish(&resp);
    return rc;
}

/* Moves to REAUTH_NEEDED and persists it.  Lock held. */
static void need_reauth(struct oauth_session *s, const char *why)
{
    char e2[128];
    s->state = OAUTH_REAUTH_NEEDED;
    snprintf(s->reauth_reason, sizeof s->reauth_reason, "%s", why);
    free_secret(s->tok.access_token);
    s->tok.access_token = NULL;
    (void)persist(s, e2, sizeof e2);
}

enum lsc_status oauth_session_access_token(struct oauth_session *s,
                                           int64_t now_ms, char *out,
                                           size_t outlen, char *err,
                                           size_t errlen)
{
    enum lsc_status rc = LSC_OK;
    pthread_mutex_lock(&s->lock);
    if (s->state == OAUTH_REAUTH_NEEDED) {
        snprintf(err, errlen, "re-authorization needed: %s",
                 s->reauth_reason);
        rc = LSC_ERR_AUTH;
        goto out;
    }
    if (s->state == OAUTH_NOT_CONNECTED) {
        snprintf(err, errlen, "not connected; hint: run `leadscore connect "
                 "hubspot`");
        rc = LSC_ERR_AUTH;
        goto out;
    }
    if (!s->is_static &&
        (s->force_refresh || oauth_tokens_due(&s->tok, now_ms, s->skew_ms))) {
        if (s->tok.refresh_token == NULL) {
            need_reauth(s, "no refresh token");
            snprintf(err, errlen, "re-authorization needed: no refresh token");
            rc = LSC_ERR_AUTH;
            goto out;
        }
        char *form = oauth_form_refresh(s->client_id, s->client_secret,
                                        s->tok.refresh_token);
        if (form == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = LSC_ERR_NOMEM;
            goto out;
        }
        rc = token_call(s, form, now_ms, err, errlen);
        OPENSSL_cleanse(form, strlen(form));
        free(form);
        if (rc == LSC_ERR_AUTH) {
            need_reauth(s, err);
            goto out;
        }
        if (rc != LSC_OK) {
            /* keep using a token that has not expired yet */
            if (s->tok.access_token != NULL && !s->force_refresh &&
                now_ms < s->tok.expires_at_ms) {
                rc = LSC_OK;
            } else {
                if (rc != LSC_ERR_NOMEM) {
                    rc = LSC_ERR_RETRYABLE;
                }
                goto out;
            }
        }
    }
    if ((size_t)snprintf(out, outlen, "%s", s->tok.access_token) >= outlen) {
        snprintf(err, errlen, "access token longer than %zu bytes", outlen);
        rc = LSC_ERR_INTERNAL;
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void oauth_session_invalidate(struct oauth_session *s, const char *used)
{
    pthread_mutex_lock(&s->lock);
    if (!s->is_static && s->tok.access_token != NULL && used != NULL &&
        strcmp(s->tok.access_token, used) == 0) {
        s->force_refresh = true;
    }
    pthread_mutex_unlock(&s->lock);
}

enum lsc_status oauth_session_exchange_code(struct oauth_session *s,
                                            const char *code,
                                            const char *verifier,
                                            int64_t now_ms, char *err,
                                            size_t errlen)
{
    if (s->is_static) {
        snprintf(err, errlen, "a static token needs no code exchange");
        return LSC_ERR_INVALID_ARG;
    }
    char *form = oauth_form_code(s->client_id, s->client_secret,
                                 s->redirect_uri, code, verifier);
    if (form == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    pthread_mutex_lock(&s->lock);
    free_secret(s->tok.refresh_token); /* a new grant replaces the old */
    s->tok.refresh_token = NULL;
    enum lsc_status rc = token_call(s, form, now_ms, err, errlen);
    pthread_mutex_unlock(&s->lock);
    OPENSSL_cleanse(form, strlen(form));
    free(form);
    return rc;
}

enum lsc_status oauth_session_set_redirect_uri(struct oauth_session *s,
                                               const char *uri)
{
    char *d = strdup(uri);
    if (d == NULL) {
        return LSC_ERR_NOMEM;
    }
    pthread_mutex_lock(&s->lock);
    free(s->redirect_uri);
    s->redirect_uri = d;
    pthread_mutex_unlock(&s->lock);
    return LSC_OK;
}

void oauth_session_reason(struct oauth_session *s, char *out, size_t outlen)
{
    pthread_mutex_lock(&s->lock);
    snprintf(out, outlen, "%s", s->reauth_reason);
    pthread_mutex_unlock(&s->lock);
}

enum lsc_status oauth_session_disconnect(struct oauth_session *s, char *err,
                                         size_t errlen)
{
    pthread_mutex_lock(&s->lock);
    oauth_tokens_clear(&s->tok);
    s->state = OAUTH_NOT_CONNECTED;
    enum lsc_status rc = LSC_OK;
    if (s->store_path != NULL && unlink(s->store_path) != 0 &&
        errno != ENOENT) {
        snprintf(err, errlen, "cannot remove %s: %s", s->store_path,
                 strerror(errno));
        rc = LSC_ERR_IO;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- Loopback listener -------------------------------------------------- */

struct oauth_listener {
    int fd[2]; /* 127.0.0.1 and ::1 (-1 when the host has no IPv6 loopback) */
};

/* A listening socket on the loopback address of `family` at *port (0: a
 * free one, written back).  Returns the fd, or -1 with errno set. */
static int listen_loopback(int family, int *port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t al;
    if (family == AF_INET6) {
        /* ::1 only: 127.0.0.1 has its own socket */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)*port);
        a->sin6_addr = in6addr_loopback;
        al = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)*port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        al = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, al) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &al) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *port = ntohs(family == AF_INET6
                      ? ((struct sockaddr_in6 *)&ss)->sin6_port
                      : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* No IPv6 loopback here (no stack, or ::1 not configured). */
static bool no_ipv6(int e)
{
    return e == EAFNOSUPPORT || e == EADDRNOTAVAIL || e == EPROTONOSUPPORT;
}

enum lsc_status oauth_listener_open(int port, struct oauth_listener **out,
                                    int *port_out, char *err, size_t errlen)
{
    *out = NULL;
    /* a redirect to http://localhost:PORT/ reaches whichever loopback
     * the browser resolves localhost to: listen on both */
    int fd4 = -1, fd6 = -1, p = port;
    for (int tries = 0; tries < 20; tries++) {
        p = port;
        fd4 = listen_loopback(AF_INET, &p);
        if (fd4 < 0) {
            snprintf(err, errlen, "cannot listen on 127.0.0.1:%d: %s", port,
                     strerror(errno));
            return LSC_ERR_IO;
        }
        fd6 = listen_loopback(AF_INET6, &p);
        if (fd6 >= 0 || no_ipv6(errno)) {
            break;
        }
        int e = errno;
        close(fd4);
        fd4 = -1;
        if (port != 0 || e != EADDRINUSE) {
            snprintf(err, errlen, "cannot listen on [::1]:%d: %s", p,
                     strerror(e));
            return LSC_ERR_IO;
        }
        /* the free IPv4 port is taken on ::1: pick another */
    }
    if (fd4 < 0) {
        snprintf(err, errlen, "cannot find a port free on both 127.0.0.1 "
                 "and ::1");
        return LSC_ERR_IO;
    }
    struct oauth_listener *l = malloc(sizeof *l);
    if (l == NULL) {
        close(fd4);
        if (fd6 >= 0) {
            close(fd6);
        }
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    l->fd[0] = fd4;
    l->fd[1] = fd6;
    *port_out = p;
    *out = l;
    return LSC_OK;
}

bool oauth_listener_has_ipv6(const struct oauth_listener *l)
{
    return l != NULL && l->fd[1] >= 0;
}

enum lsc_status oauth_listener_wait(struct oauth_listener *l,
                                    int64_t timeout_ms, char *target,
                                    size_t targetlen, char *err,
                                    size_t errlen)
{
    int64_t deadline = http_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - http_mono_ms();
        if (left <= 0) {
            snprintf(err, errlen, "no browser redirect within %lld s",
                     (long long)(timeout_ms / 1000));
            return LSC_ERR_TIMEOUT;
        }
        struct pollfd p[2] = {{.fd = l->fd[0], .events = POLLIN},
                              {.fd = l->fd[1], .events = POLLIN}};
        int pr = poll(p, l->fd[1] >= 0 ? 2 : 1,
                      (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return LSC_ERR_IO;
        }
        if (pr <= 0) {
            continue;
        }
        int c = accept((p[0].revents & POLLIN) ? l->fd[0] : l->fd[1], NULL,
                       NULL);
        if (c < 0) {
            continue;
        }
        char buf[8192];
        size_t got = 0;
        while (got + 1 < sizeof buf) {
            struct pollfd cp = {.fd = c, .events = POLLIN};
            if (poll(&cp, 1, 5000) <= 0) {
                break;
            }
            ssize_t r = read(c, buf + got, sizeof buf - 1 - got);
            if (r <= 0) {
                break;
            }
            got += (size_t)r;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n") != NULL) {
                break;
            }
        }
        buf[got] = '\0';
        bool ok = strncmp(buf, "GET ", 4) == 0;
        const char *t = buf + 4;
        size_t tl = ok ? strcspn(t, " \r\n") : 0;
        bool is_cb = ok && tl > 0 && memchr(t, '?', tl) != NULL;
        const char *page =
            is_cb ? "HTTP/1.1 200 OK\r\nContent-Type: text/html; "
                    "charset=utf-8\r\nConnection: close\r\n\r\n<!doctype "
                    "html><title>leadscore</title><p>leadscore received the "
                    "authorization. You can close this window.</p>\n"
                  : "HTTP/1.1 404 Not Found\r\nConnection: close\r\n"
                    "Content-Length: 0\r\n\r\n";
        ssize_t w = write(c, page, strlen(page));
        (void)w;
        close(c);
        if (is_cb) {
            if (tl >= targetlen) {
                tl = targetlen - 1;
            }
            memcpy(target, t, tl);
            target[tl] = '\0';
            OPENSSL_cleanse(buf, sizeof buf);
            return LSC_OK;
        }
    }
}

void oauth_listener_close(struct oauth_listener *l)
{
    if (l == NULL) {
        return;
    }
    close(l->fd[0]);
    if (l->fd[1] >= 0) {
        close(l->fd[1]);
    }
    free(l);
}
