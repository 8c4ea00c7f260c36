/*
 * Glue for the plugin, the CLI and the connectors facade: open a client
 * from a mapping path and the host's services, learn the model's tiers,
 * enqueue a write-back as a durable job, run the OAuth connect flow on a
 * loopback listener.  Everything here is a thin layer over mailchimp.h
 * and the connector core.
 */
#include "mc_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/oauth.h"
#include "core/secrets.h"

struct diag_fwd {
    const struct lsc_host_api *host;
};

/* Forwards a diagnostic to host->diagnostic (ud: struct diag_fwd). */
static void fwd_diag(void *ud, const struct lsc_diagnostic *d)
{
    struct diag_fwd *f = ud;
    if (f->host != NULL && f->host->diagnostic != NULL) {
        f->host->diagnostic(f->host->host, d);
    }
}

/* data_dir + "/" + name unless name is absolute; caller-owned out. */
static void in_dir(const char *dir, const char *name, char *out, size_t n)
{
    if (name[0] == '/' || dir == NULL || dir[0] == '\0') {
        snprintf(out, n, "%s", name);
    } else {
        snprintf(out, n, "%s/%s", dir, name);
    }
}

static const char *dir_of(const struct lsc_host_api *host,
                          const char *data_dir)
{
    if (data_dir == NULL && host != NULL && host->data_dir != NULL) {
        data_dir = host->data_dir(host->host);
    }
    return data_dir != NULL ? data_dir : ".";
}

/* The re-authorize state file of cfg's credentials: next to the OAuth
 * credentials file, or named after the API key's variable. */
static void reauth_path(const struct mailchimp_config *cfg, const char *dir,
                        char *out, size_t n)
{
    char name[512];
    if (strcmp(cfg->auth, "oauth") == 0) {
        snprintf(name, sizeof name, "%s.reauth", cfg->credentials_file);
    } else {
        snprintf(name, sizeof name, "mailchimp-%s.reauth", cfg->api_key_env);
    }
    in_dir(dir, name, out, n);
}

enum lsc_status mailchimp_reauth_state(const struct mailchimp_config *cfg,
                                       const char *data_dir, bool *needed,
                                       char *why, size_t whylen)
{
    *needed = false;
    if (whylen > 0) {
        why[0] = '\0';
    }
    char path[4096], e[256];
    reauth_path(cfg, dir_of(NULL, data_dir), path, sizeof path);
    char *data = NULL;
    size_t len = 0;
    enum lsc_status st = secrets_read_file(path, &data, &len, e, sizeof e);
    if (st == LSC_ERR_NOT_FOUND) {
        return LSC_OK;
    }
    if (st != LSC_OK) {
        snprintf(why, whylen, "%s", e);
        return st;
    }
    json_t *j = json_loadb(data, len, 0, NULL);
    free(data);
    const char *s = json_string_value(json_object_get(j, "state"));
    if (s != NULL && strcmp(s, "reauth_needed") == 0) {
        *needed = true;
        snprintf(why, whylen, "since %s: %s",
                 json_string_value(json_object_get(j, "since")) != NULL
                     ? json_string_value(json_object_get(j, "since"))
                     : "?",
                 json_string_value(json_object_get(j, "reason")) != NULL
                     ? json_string_value(json_object_get(j, "reason"))
                     : "credentials refused");
    }
    json_decref(j);
    return LSC_OK;
}

enum lsc_status mailchimp_open(const struct lsc_host_api *host,
                               const char *mapping_path, const char *data_dir,
                               struct mailchimp **out, char *err,
                               size_t errlen)
{
    *out = NULL;
    struct diag_fwd fwd = {host};
    struct mailchimp_config cfg;
    size_t nerr = 0;
    enum lsc_status st = mailchimp_config_load(mapping_path, fwd_diag, &fwd,
                                               &cfg, &nerr);
    if (st != LSC_OK) {
        snprintf(err, errlen, "%s: %zu problem(s) in the Mailchimp mapping",
                 mapping_path, nerr);
        return st == LSC_ERR_IO ? LSC_ERR_IO : LSC_ERR_CONFIG;
    }
    struct mailchimp_credentials cred = {0};
    char *token = NULL;
    char dc[32] = "";
    if (strcmp(cfg.auth, "oauth") == 0) {
        char path[4096];
        in_dir(dir_of(host, data_dir), cfg.credentials_file, path,
               sizeof path);
        st = mailchimp_credentials_load(path, &token, dc, sizeof dc, err,
                                        errlen);
        if (st == LSC_ERR_NOT_FOUND) {
            st = LSC_ERR_AUTH; /* not connected yet */
        }
        cred.oauth_token = token;
        cred.dc = dc;
    } else {
        cred.api_key = secrets_env(cfg.api_key_env);
        if (cred.api_key == NULL || cred.api_key[0] == '\0') {
            snprintf(err, errlen,
                     "the Mailchimp API key is not set: export %s (see "
                     "docs/connectors/mailchimp.md)",
                     cfg.api_key_env);
            st = LSC_ERR_CONFIG;
        }
    }
    if (st == LSC_OK) {
        st = mailchimp_create(&cfg, &cred, out, err, errlen);
    }
    if (st == LSC_OK) {
        /* A refusal seen by an earlier run is shown by `connect
         * --status` until a request gets through again (a key fixed, a
         * token re-issued): this client still tries, and clears it. */
        char path[4096], why[300];
        reauth_path(&cfg, dir_of(host, data_dir), path, sizeof path);
        (*out)->state_path = strdup(path);
        bool needed = false;
        mailchimp_reauth_state(&cfg, dir_of(host, data_dir), &needed, why,
                               sizeof why);
        (*out)->reauth_on_disk = needed;
        (*out)->host_defers = host != NULL && host->abi_minor >= 1;
        /* the daemon, its import child and the CLI on one data directory
         * share the account's 10 connections */
        char e[512];
        if (mailchimp_share_connections(*out, dir_of(host, data_dir), e,
                                        sizeof e) != LSC_OK &&
            host != NULL && host->log != NULL) {
            char line[600];
            snprintf(line, sizeof line,
                     "mailchimp: %s; connections are not shared with other "
                     "processes", e);
            host->log(host->host, LSC_LOG_WARN, line);
        }
    }
    if (token != NULL) {
        OPENSSL_cleanse(token, strlen(token));
        free(token);
    }
    mailchimp_config_destroy(&cfg);
    return st;
}

const struct mailchimp_config *mailchimp_config_of(const struct mailchimp *mc)
{
    return &mc->cfg;
}

enum lsc_status mailchimp_add_tiers(struct mailchimp *mc,
                                    const char *const *tiers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t k = 0; k < mc->cfg.n_tiers && !known; k++) {
            known = strcmp(mc->cfg.tiers[k].tier, tiers[i]) == 0;
        }
        if (known || tiers[i] == NULL || tiers[i][0] == '\0') {
            continue;
        }
        struct mailchimp_tier_tag *nv =
            realloc(mc->cfg.tiers, (mc->cfg.n_tiers + 1) * sizeof *nv);
        if (nv == NULL) {
            return LSC_ERR_NOMEM;
        }
        mc->cfg.tiers = nv;
        char tag[MAILCHIMP_MEMBER_TAG_MAX + 1];
        mailchimp_config_tier_tag(&mc->cfg, tiers[i], tag, sizeof tag);
        char *t = strdup(tiers[i]);
        char *g = strdup(tag);
        if (t == NULL || g == NULL) {
            free(t);
            free(g);
            return LSC_ERR_NOMEM;
        }
        nv[mc->cfg.n_tiers].tier = t;
        nv[mc->cfg.n_tiers].tag = g;
        mc->cfg.n_tiers++;
    }
    return LSC_OK;
}

struct email_lookup {
    const char *prop;
    char email[320];
};

/* contact_props callback: copies the email property into ud. */
static void find_email(void *ud, const struct lsc_prop *props, size_t n)
{
    struct email_lookup *l = ud;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(props[i].key, l->prop) == 0 &&
            props[i].value.type == LSC_VAL_STRING &&
            props[i].value.u.str.len < sizeof l->email) {
            memcpy(l->email, props[i].value.u.str.ptr,
                   props[i].value.u.str.len);
            l->email[props[i].value.u.str.len] = '\0';
            return;
        }
    }
}

enum lsc_status mailchimp_enqueue(const struct lsc_host_api *host,
                                  struct mailchimp *mc,
                                  const char *contact_id, double score,
                                  const char *tier, const char *from_tier,
                                  int64_t not_before_ms, bool *enqueued,
                                  char *err, size_t errlen)
{
    if (enqueued != NULL) {
        *enqueued = false;
    }
    if (host == NULL || host->contact_props == NULL ||
        host->job_enqueue == NULL || contact_id == NULL) {
        snprintf(err, errlen, "mailchimp: the host lacks contact_props or "
                              "job_enqueue");
        return LSC_ERR_UNSUPPORTED;
    }
    struct email_lookup l = {.prop = mc->cfg.email_property};
    enum lsc_status st =
        host->contact_props(host->host, contact_id, find_email, &l);
    if (st != LSC_OK && st != LSC_ERR_NOT_FOUND) {
        snprintf(err, errlen, "mailchimp: reading contact %s: %s",
                 contact_id, lsc_status_str(st));
        return st;
    }
    char norm[320];
    if (l.email[0] == '\0' && mc->cfg.contact_id_from != NULL &&
        strcmp(mc->cfg.contact_id_from, "email") == 0 &&
        strchr(contact_id, '@') != NULL) {
        /* a contact made by the activity import is named by its email
         * and has no properties yet */
        snprintf(l.email, sizeof l.email, "%s", contact_id);
    }
    if (l.email[0] == '\0' ||
        mailchimp_email_normalize(l.email, norm, sizeof norm) != LSC_OK) {
        mc_count(mc, &mc->stats.skipped_unknown);
        return LSC_OK; /* no address: nothing to sync */
    }
    struct mailchimp_write w = {norm, score, tier, from_tier};
    char *payload = NULL;
    size_t len = 0;
    st = mailchimp_job_payload(&w, &payload, &len);
    if (st != LSC_OK) {
        snprintf(err, errlen, "mailchimp: out of memory");
        return st;
    }
    size_t kl = strlen(contact_id) + sizeof "mailchimp:";
    char *key = malloc(kl);
    if (key == NULL) {
        free(payload);
        return LSC_ERR_NOMEM;
    }
    snprintf(key, kl, "mailchimp:%s", contact_id);
    st = host->job_enqueue(host->host, MAILCHIMP_JOB_KIND, key, payload, len,
                           not_before_ms);
    free(key);
    free(payload);
    if (st != LSC_OK) {
        snprintf(err, errlen, "mailchimp: job_enqueue: %s",
                 lsc_status_str(st));
        return st;
    }
    if (enqueued != NULL) {
        *enqueued = true;
    }
    return LSC_OK;
}

enum lsc_status mailchimp_connect(const struct mailchimp_config *cfg,
                                  const char *data_dir, int64_t timeout_ms,
                                  void (*show_url)(void *ud, const char *url),
                                  void *ud, char *dc, size_t dclen,
                                  char *err, size_t errlen)
{
    if (cfg->client_id == NULL) {
        snprintf(err, errlen, "auth.client_id is not set in the Mailchimp "
                              "mapping");
        return LSC_ERR_CONFIG;
    }
    const char *secret = secrets_env(cfg->client_secret_env);
    if (secret == NULL || secret[0] == '\0') {
        snprintf(err, errlen, "the OAuth client secret is not set: export %s",
                 cfg->client_secret_env);
        return LSC_ERR_CONFIG;
    }
    struct oauth_listener *lis = NULL;
    int port = 0;
    enum lsc_status st =
        oauth_listener_open(cfg->redirect_port, &lis, &port, err, errlen);
    if (st != LSC_OK) {
        return st;
    }
    char redirect[128];
    snprintf(redirect, sizeof redirect, "http://127.0.0.1:%d/oauth/callback",
             port);
    char state[OAUTH_STATE_LEN + 1];
    char *url = NULL;
    struct mailchimp_oauth_app app = {cfg->client_id, secret, redirect,
                                      cfg->login_base};
    st = oauth_random_string(state, OAUTH_STATE_LEN);
    if (st == LSC_OK) {
        st = mailchimp_oauth_authorize_url(&app, state, &url);
    }
    if (st == LSC_OK && show_url != NULL) {
        show_url(ud, url);
    }
    free(url);
    char target[2048], code[512], got[128];
    if (st == LSC_OK) {
        st = oauth_listener_wait(lis, timeout_ms, target, sizeof target, err,
                                 errlen);
    }
    oauth_listener_close(lis);
    if (st == LSC_OK) {
        st = oauth_parse_redirect(target, code, sizeof code, got, sizeof got,
                                  err, errlen);
    }
    if (st == LSC_OK && !oauth_state_equal(state, got)) {
        snprintf(err, errlen, "the redirect's state does not match: start "
                              "`leadscore connect mailchimp` again");
        st = LSC_ERR_AUTH;
    }
    char *token = NULL;
    char ep[256];
    if (st == LSC_OK) {
        st = mailchimp_oauth_exchange(&app, code, &token, dc, dclen, ep,
                                      sizeof ep, err, errlen);
    }
    if (st == LSC_OK) {
        char path[4096];
        in_dir(data_dir, cfg->credentials_file, path, sizeof path);
        st = mailchimp_credentials_save(path, token, dc, ep, err, errlen);
    }
    if (token != NULL) {
        OPENSSL_cleanse(token, strlen(token));
        free(token);
    }
    OPENSSL_cleanse(code, sizeof code);
    return st;
}
