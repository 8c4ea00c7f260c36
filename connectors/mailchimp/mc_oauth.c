/*
 * OAuth 2 for Mailchimp (../shared/docs/crm-apis.md 2.1 and 2.2): no
 * scopes, tokens that never expire (no refresh), the data center from the
 * metadata endpoint, which answers 200 with {"error": ...} for a bad
 * token.  The token file goes through the core's atomic 0600 secrets
 * files (connectors/core/secrets.h).
 */
#include "mc_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/secrets.h"

#define LOGIN_BASE "https://login.mailchimp.com"

static const char *base_of(const char *login_base)
{
    return login_base != NULL ? login_base : LOGIN_BASE;
}

enum lsc_status mailchimp_oauth_authorize_url(
    const struct mailchimp_oauth_app *app, const char *state, char **url)
{
    *url = NULL;
    if (app == NULL || app->client_id == NULL || app->redirect_uri == NULL ||
        state == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    char *cid = mc_http_escape(app->client_id);
    char *ru = mc_http_escape(app->redirect_uri);
    char *st = mc_http_escape(state);
    enum lsc_status rc = LSC_ERR_NOMEM;
    if (cid != NULL && ru != NULL && st != NULL) {
        const char *b = base_of(app->login_base);
        size_t n = strlen(b) + strlen(cid) + strlen(ru) + strlen(st) + 96;
        *url = malloc(n);
        if (*url != NULL) {
            snprintf(*url, n,
                     "%s/oauth2/authorize?response_type=code&client_id=%s"
                     "&redirect_uri=%s&state=%s",
                     b, cid, ru, st);
            rc = LSC_OK;
        }
    }
    free(cid);
    free(ru);
    free(st);
    return rc;
}

enum lsc_status mailchimp_oauth_metadata(const char *login_base,
                                         const char *token, char *dc,
                                         size_t dclen, char *api_endpoint,
                                         size_t eplen, char *err,
                                         size_t errlen)
{
    char url[512];
    snprintf(url, sizeof url, "%s/oauth2/metadata", base_of(login_base));
    size_t al = strlen(token) + 8;
    char *authz = malloc(al);
    if (authz == NULL) {
        return LSC_ERR_NOMEM;
    }
    snprintf(authz, al, "OAuth %s", token);
    struct mc_http_req req = {.method = "GET",
                              .url = url,
                              .authorization = authz,
                              .timeout_ms = 30000};
    struct mc_http_resp r;
    struct http_client *http = NULL;
    enum lsc_status st = mc_http_create(30000, &http, err, errlen);
    if (st == LSC_OK) {
        st = mc_http_send(http, &req, &r);
        http_client_destroy(http);
    } else {
        snprintf(r.error, sizeof r.error, "%s", err);
    }
    OPENSSL_cleanse(authz, al);
    free(authz);
    if (st != LSC_OK) {
        snprintf(err, errlen, "OAuth metadata: %s", r.error);
        return st == LSC_ERR_INVALID_ARG ? LSC_ERR_CONFIG : st;
    }
    if (r.status == 401 || r.status == 403) {
        st = LSC_ERR_AUTH;
        mc_reason("OAuth metadata", &r, err, errlen);
    } else if (r.status != 200) {
        st = r.status >= 500 || r.status == 429 ? LSC_ERR_RETRYABLE
                                                : LSC_ERR_PERMANENT;
        mc_reason("OAuth metadata", &r, err, errlen);
    } else {
        st = mailchimp_parse_metadata(r.body, r.body_len, dc, dclen,
                                      api_endpoint, eplen, err, errlen);
    }
    mc_http_resp_free(&r);
    return st;
}

enum lsc_status mailchimp_oauth_exchange(const struct mailchimp_oauth_app *app,
                                         const char *code, char **token,
                                         char *dc, size_t dclen,
                                         char *api_endpoint, size_t eplen,
                                         char *err, size_t errlen)
{
    *token = NULL;
    if (app == NULL || app->client_id == NULL || app->client_secret == NULL ||
        app->redirect_uri == NULL || code == NULL) {
        snprintf(err, errlen, "OAuth: client id, secret, redirect URI and "
                              "code are required");
        return LSC_ERR_INVALID_ARG;
    }
    char *e[4] = {mc_http_escape(app->client_id),
                  mc_http_escape(app->client_secret),
                  mc_http_escape(app->redirect_uri), mc_http_escape(code)};
    char *form = NULL;
    size_t fl = 0;
    if (e[0] != NULL && e[1] != NULL && e[2] != NULL && e[3] != NULL) {
        fl = strlen(e[0]) + strlen(e[1]) + strlen(e[2]) + strlen(e[3]) + 128;
        form = malloc(fl);
        if (form != NULL) {
            snprintf(form, fl,
                     "grant_type=authorization_code&client_id=%s"
                     "&client_secret=%s&redirect_uri=%s&code=%s",
                     e[0], e[1], e[2], e[3]);
        }
    }
    for (int i = 0; i < 4; i++) {
        if (e[i] != NULL) {
            OPENSSL_cleanse(e[i], strlen(e[i]));
        }
        free(e[i]);
    }
    if (form == NULL) {
        return LSC_ERR_NOMEM;
    }
    char url[512];
    snprintf(url, sizeof url, "%s/oauth2/token", base_of(app->login_base));
    struct mc_http_req req = {
        .method = "POST",
        .url = url,
        .body = form,
        .body_len = strlen(form),
        .content_type = "application/x-www-form-urlencoded",
        .timeout_ms = 30000,
    };
    struct mc_http_resp r;
    struct http_client *http = NULL;
    enum lsc_status st = mc_http_create(30000, &http, err, errlen);
    if (st == LSC_OK) {
        st = mc_http_send(http, &req, &r);
        http_client_destroy(http);
    } else {
        snprintf(r.error, sizeof r.error, "%s", err);
    }
    OPENSSL_cleanse(form, fl);
    free(form);
    if (st != LSC_OK) {
        snprintf(err, errlen, "OAuth token: %s", r.error);
        return st == LSC_ERR_INVALID_ARG ? LSC_ERR_CONFIG : st;
    }
    if (r.status >= 500 || r.status == 429) {
        mc_reason("OAuth token", &r, err, errlen);
        mc_http_resp_free(&r);
        return LSC_ERR_RETRYABLE;
    }
    st = mailchimp_parse_token(r.body, r.body_len, token, err, errlen);
    if (st == LSC_OK && r.status != 200) {
        free(*token);
        *token = NULL;
        st = LSC_ERR_AUTH;
    }
    if (st == LSC_ERR_PARSE && r.status != 200) {
        mc_reason("OAuth token", &r, err, errlen);
        st = LSC_ERR_AUTH;
    }
    mc_http_resp_free(&r);
    if (st != LSC_OK) {
        return st;
    }
    st = mailchimp_oauth_metadata(app->login_base, *token, dc, dclen,
                                  api_endpoint, eplen, err, errlen);
    if (st != LSC_OK) {
        OPENSSL_cleanse(*token, strlen(*token));
        free(*token);
        *token = NULL;
    }
    return st;
}

enum lsc_status mailchimp_credentials_save(const char *path,
                                           const char *token, const char *dc,
                                           const char *api_endpoint,
                                           char *err, size_t errlen)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "type", "mailchimp_oauth",
                          "access_token", token, "dc", dc, "api_endpoint",
                          api_endpoint != NULL ? api_endpoint : "");
    char *text = j != NULL ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (text == NULL) {
        return LSC_ERR_NOMEM;
    }
    size_t n = strlen(text);
    enum lsc_status st = secrets_write_file(path, text, n, err, errlen);
    OPENSSL_cleanse(text, n);
    free(text);
    return st;
}

enum lsc_status mailchimp_credentials_load(const char *path, char **token,
                                           char *dc, size_t dclen, char *err,
                                           size_t errlen)
{
    *token = NULL;
    char *data = NULL;
    size_t len = 0;
    enum lsc_status st = secrets_read_file(path, &data, &len, err, errlen);
    if (st == LSC_ERR_NOT_FOUND) {
        snprintf(err, errlen, "no Mailchimp credentials at %s; run "
                              "`leadscore connect mailchimp`",
                 path);
    }
    if (st != LSC_OK) {
        return st;
    }
    json_t *j = json_loadb(data, len, 0, NULL);
    OPENSSL_cleanse(data, len);
    free(data);
    const char *t = json_string_value(json_object_get(j, "access_token"));
    const char *d = json_string_value(json_object_get(j, "dc"));
    if (t == NULL || d == NULL || strlen(d) >= dclen ||
        !mailchimp_dc_valid(d)) {
        snprintf(err, errlen, "%s is not a Mailchimp credentials file", path);
        st = LSC_ERR_CORRUPT;
    } else if ((*token = strdup(t)) == NULL) {
        st = LSC_ERR_NOMEM;
    } else {
        snprintf(dc, dclen, "%s", d);
    }
    json_decref(j);
    return st;
}
