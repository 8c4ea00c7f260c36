/*
 * Connector core: what the HubSpot and Mailchimp mapping validators share
 * (hubspot/hs_config.c, mailchimp/mc_config.c).  A validation context
 * reports each problem as a struct lsc_diagnostic with the file, the
 * line:column of its JSON path and the path; unknown keys get a warning
 * with a "did you mean" hint; and both mappings walk an "actions" array
 * of objects with an "on" transition the same way, with one rule for
 * environment variable names.  What a connector checks beyond that
 * (messages included) stays in the connector.
 */
#ifndef LSC_CONNECTORS_CORE_MAPPING_H
#define LSC_CONNECTORS_CORE_MAPPING_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <leadscore/plugin.h>

#include "clog.h" /* CLOG_PRINTF */

struct jsonpos;

/* Same shape as host->diagnostic. */
typedef void (*mapping_diag_fn)(void *ud, const struct lsc_diagnostic *d);

/* Where a diagnostic points (HubSpot: at keys; Mailchimp: at values). */
enum mapping_where {
    /* the value at the path; 0:0 when the path is not in the file */
    MAPPING_AT_VALUE = 0,
    /* the member's key, or its nearest existing parent's for a missing
     * member */
    MAPPING_AT_KEY_OR_PARENT = 1,
};

/* Largest message buffer, with its NUL. */
#define MAPPING_MSG_MAX 512

/* One validation run.  The caller fills file, pos, diag, ud, where and
 * msg_size, zeroes the rest, and owns pos (jsonpos_destroy()). */
struct mapping_ctx {
    const char *file;       /* borrowed; the diagnostics' file */
    struct jsonpos *pos;    /* borrowed; NULL: positions unknown (0:0) */
    mapping_diag_fn diag;   /* may be NULL: only counted */
    void *ud;               /* passed to diag */
    enum mapping_where where;
    /* bytes of a message with its NUL, 1..MAPPING_MSG_MAX (0: the max);
     * a longer one is cut there (HubSpot 320, Mailchimp 512) */
    size_t msg_size;
    size_t errors;          /* diagnostics of severity ERROR so far */
    char first[256];        /* "file:line:col: path: message" of the
                               first error, "" before it */
    bool oom;               /* set by the caller's own allocations */
    /* the model's tier names, borrowed (`validate --model`); NULL: the
     * mapping is checked on its own */
    const char *const *model_tiers;
    size_t n_model_tiers;
};

/* Formats one diagnostic at `path` (borrowed, "" is the root), placed by
 * v->where, and sends it to v->diag (the message is borrowed for the
 * call).  Errors are counted and the first is kept in v->first. */
void mapping_report(struct mapping_ctx *v, enum lsc_log_level sev,
                    const char *path, const char *fmt, ...)
    CLOG_PRINTF(4, 5);

/* As mapping_report() at a given line and column (a JSON syntax error,
 * where there is no document to find a path in). */
void mapping_report_at(struct mapping_ctx *v, enum lsc_log_level sev,
                       const char *path, int line, int col,
                       const char *fmt, ...) CLOG_PRINTF(6, 7);

/* "a.b", or "b" when a is "", into caller-owned out. */
void mapping_join(char *out, size_t outlen, const char *a, const char *b);

/* Warns about each member of obj (borrowed) not in `known`
 * (NULL-terminated), at path.key, with a hint to the closest known key. */
void mapping_unknown_keys(struct mapping_ctx *v, json_t *obj,
                          const char *path, const char *const *known);

/* root's "actions" array (borrowed from root), or NULL when it is absent
 * or (reported at "actions") not an array. */
json_t *mapping_actions(struct mapping_ctx *v, json_t *root);

/* Element i of `actions` when it is an object (borrowed), its path
 * "actions[i]" written to caller-owned path; warns about keys no action
 * has (the HubSpot ones included: Mailchimp refuses those by name).
 * NULL, reported, for an element that is not an object. */
json_t *mapping_action(struct mapping_ctx *v, json_t *actions, size_t i,
                       char *path, size_t pathlen);

/* The action at `path` fires on `on`: "enter" or "leave" sets *leave and
 * returns true; anything else is reported at path.on (false). */
bool mapping_action_on(struct mapping_ctx *v, const char *path,
                       const char *on, bool *leave);

/* With v->model_tiers, warns at `path` when `tier` is not one of them;
 * `effect` says what follows ("this action never fires"). */
void mapping_model_tier(struct mapping_ctx *v, const char *path,
                        const char *tier, const char *effect);

/* True when s names an environment variable as the mappings accept it:
 * A-Z, 0-9 and _, not starting with a digit (every auth.*_env and
 * webhook secret_env of both connectors).  False for NULL and "". */
bool mapping_env_name_ok(const char *s);

/* Reports at `path` and returns false when `name` (not NULL) is not such
 * a name.  The value is not repeated: it may be the secret itself
 * (`what`: "token", "key", ...), pasted where its variable's name goes. */
bool mapping_env_name_check(struct mapping_ctx *v, const char *path,
                            const char *name, const char *what);

#endif
