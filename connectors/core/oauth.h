/*
 * Connector core: OAuth 2 (RFC 6749 authorization code, RFC 7636 PKCE
 * S256) and static tokens.
 *
 * Pure helpers (PKCE, state, URLs, form bodies, token parsing) plus
 * struct oauth_session, which owns one account's tokens:
 *   - refreshes ahead of expiry (expires_in minus a skew, default 5 min);
 *   - on a 401 the caller calls oauth_session_invalidate() with the token
 *     it used and retries once;
 *   - an invalid_grant answer (revoked or uninstalled) moves the session
 *     to OAUTH_REAUTH_NEEDED, persisted in the credentials file, until a
 *     new connect; callers keep their queued work and pause;
 *   - tokens are persisted with secrets_write_file() (atomic, 0600).
 * A session built with oauth_session_create_static() holds a private app
 * token or Service Key: it never expires nor refreshes.
 */
#ifndef LSC_CONNECTORS_CORE_OAUTH_H
#define LSC_CONNECTORS_CORE_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

#include "http.h"
#include "secrets.h"

#define OAUTH_VERIFIER_LEN 64   /* RFC 7636: 43..128 */
#define OAUTH_CHALLENGE_LEN 43  /* base64url(SHA-256), no padding */
#define OAUTH_STATE_LEN 32
#define OAUTH_DEFAULT_SKEW_MS (5 * 60 * 1000)

/* ---- Pure helpers ------------------------------------------------------- */

/* `n` random characters of the RFC 7636 unreserved set into out (n+1
 * bytes).  LSC_ERR_INTERNAL when the RNG fails. */
enum lsc_status oauth_random_string(char *out, size_t n);

/* base64url-no-pad(SHA-256(verifier)) into out (>= 44 bytes). */
enum lsc_status oauth_pkce_challenge(const char *verifier, char *out,
                                     size_t outlen);

/* Constant-time string equality (for the state check). */
bool oauth_state_equal(const char *expected, const char *got);

/* Authorize URL: base?client_id=..&redirect_uri=..&scope=a%20b
 * [&optional_scope=..]&state=..&code_challenge=..&code_challenge_method=S256
 * (challenge NULL: PKCE omitted).  malloc()ed; caller frees. */
char *oauth_authorize_url(const char *base, const char *client_id,
                          const char *redirect_uri, const char *scopes,
                          const char *optional_scopes, const char *state,
                          const char *challenge);

/* Form bodies (application/x-www-form-urlencoded).  malloc()ed. */
char *oauth_form_code(const char *client_id, const char *client_secret,
                      const char *redirect_uri, const char *code,
                      const char *verifier /* may be NULL */);
char *oauth_form_refresh(const char *client_id, const char *client_secret,
                         const char *refresh_token);

struct oauth_tokens {
    char *access_token;   /* malloc()ed */
    char *refresh_token;  /* malloc()ed, may be NULL */
    int64_t expires_at_ms; /* INT64_MAX: never */
};
void oauth_tokens_clear(struct oauth_tokens *t); /* frees members; NULL ok */

/* Parses a token answer (access_token, refresh_token, expires_in).  A
 * missing refresh_token keeps `keep_refresh` (copied; may be NULL).
 * LSC_ERR_PARSE with a reason. */
enum lsc_status oauth_parse_token(const char *body, size_t len,
                                  int64_t now_ms, const char *keep_refresh,
                                  struct oauth_tokens *out, char *err,
                                  size_t errlen);

/* True when the access token must be refreshed at now_ms. */
bool oauth_tokens_due(const struct oauth_tokens *t, int64_t now_ms,
                      int64_t skew_ms);

/* Parses the query of a redirect ("/cb?code=..&state=.." or
 * "code=..&state=..&error=.."): code and state into caller-owned buffers
 * (percent-decoded); an `error` parameter gives LSC_ERR_AUTH with it. */
enum lsc_status oauth_parse_redirect(const char *target, char *code,
                                     size_t codelen, char *state,
                                     size_t statelen, char *err,
                                     size_t errlen);

/* ---- Sessions ----------------------------------------------------------- */

enum oauth_state {
    OAUTH_NOT_CONNECTED = 0,
    OAUTH_CONNECTED = 1,
    OAUTH_REAUTH_NEEDED = 2,
};

struct oauth_config {
    const char *token_url;      /* https://api.hubapi.com/oauth/2026-03/token */
    const char *client_id;
    const char *client_secret;  /* a secret */
    const char *redirect_uri;
    const char *store_path;     /* credentials file; NULL: memory only */
    int64_t skew_ms;            /* 0: OAUTH_DEFAULT_SKEW_MS */
};

struct oauth_session;

/* OAuth session: copies cfg, loads the credentials file when present
 * (state CONNECTED or REAUTH_NEEDED), registers the secrets with
 * `redactor` (borrowed, may be NULL, must outlive the session).  `http`
 * is borrowed and must outlive the session. */
enum lsc_status oauth_session_create(const struct oauth_config *cfg,
                                     struct http_client *http,
                                     struct secrets_redactor *redactor,
                                     struct oauth_session **out, char *err,
                                     size_t errlen);
/* A static token (private app, Service Key); copied. */
enum lsc_status oauth_session_create_static(const char *token,
                                            struct secrets_redactor *redactor,
                                            struct oauth_session **out,
                                            char *err, size_t errlen);
void oauth_session_destroy(struct oauth_session *s); /* NULL ok */

enum oauth_state oauth_session_state(struct oauth_session *s);
bool oauth_session_is_static(const struct oauth_session *s);
/* Expiry of the current access token (INT64_MAX for static). */
int64_t oauth_session_expires_at(struct oauth_session *s);

/* Copies a valid access token into caller-owned out, refreshing first
 * when due.  LSC_ERR_AUTH when re-authorization is needed (or never
 * connected), LSC_ERR_RETRYABLE when the refresh failed transiently. */
enum lsc_status oauth_session_access_token(struct oauth_session *s,
                                           int64_t now_ms, char *out,
                                           size_t outlen, char *err,
                                           size_t errlen);

/* A 401 answered a request made with `used`: the next
 * oauth_session_access_token() refreshes (once per token). */
void oauth_session_invalidate(struct oauth_session *s, const char *used);

/* Exchanges an authorization code (PKCE verifier may be NULL), stores the
 * tokens and persists them.  LSC_ERR_AUTH on invalid_grant. */
enum lsc_status oauth_session_exchange_code(struct oauth_session *s,
                                            const char *code,
                                            const char *verifier,
                                            int64_t now_ms, char *err,
                                            size_t errlen);

/* Replaces the redirect URI sent with the code exchange (it must equal
 * the one of the authorize URL, e.g. a loopback port chosen at run
 * time).  Copied. */
enum lsc_status oauth_session_set_redirect_uri(struct oauth_session *s,
                                               const char *uri);

/* The reason recorded with OAUTH_REAUTH_NEEDED, into caller-owned out. */
void oauth_session_reason(struct oauth_session *s, char *out, size_t outlen);

/* Forgets the tokens and deletes the credentials file. */
enum lsc_status oauth_session_disconnect(struct oauth_session *s, char *err,
                                         size_t errlen);

/* ---- Loopback redirect listener (for `leadscore connect`) -------------- */

struct oauth_listener;

/* Listens on 127.0.0.1:port and [::1]:port (0: a port free on both),
 * for a redirect URI http://localhost:PORT/...: browsers resolve
 * localhost to either.  ::1 is skipped when the host has no IPv6
 * loopback.  *port_out gets the port.  Caller owns the listener. */
enum lsc_status oauth_listener_open(int port, struct oauth_listener **out,
                                    int *port_out, char *err, size_t errlen);
/* True when the listener also listens on ::1. */
bool oauth_listener_has_ipv6(const struct oauth_listener *l);
/* Waits (at most timeout_ms) for the browser's GET of the redirect,
 * answers it with a short HTML page and copies the request target (path
 * and query) into caller-owned target. */
enum lsc_status oauth_listener_wait(struct oauth_listener *l,
                                    int64_t timeout_ms, char *target,
                                    size_t targetlen, char *err,
                                    size_t errlen);
void oauth_listener_close(struct oauth_listener *l); /* NULL ok */

#endif
