/* A scoring model (format leadscore.model/1): loading, validation with
 * positioned diagnostics, and compilation into a form that makes an event
 * cheap (rules indexed by event type, lowered strings, parsed numbers,
 * durations in ms).  A compiled model is immutable, so any number of
 * threads may read it at once. */
#ifndef LSC_MODEL_H
#define LSC_MODEL_H

#include <leadscore/plugin.h>

#define MODEL_SCHEMA "leadscore.model/1"
#define MODEL_MAX_GROUPS 64
#define MODEL_MAX_RULES 10000
#define MODEL_MAX_TIERS 16

enum model_op {
    MOP_EQ,
    MOP_NE,
    MOP_IN,
    MOP_NOT_IN,
    MOP_CONTAINS_ANY,
    MOP_PREFIX,
    MOP_SUFFIX,
    MOP_GT,
    MOP_GTE,
    MOP_LT,
    MOP_LTE,
    MOP_BETWEEN,
    MOP_EXISTS,
    MOP_NOT_EXISTS,
    MOP_EMAIL_DOMAIN_IN,
};

/* A literal of a condition: strings are stored ASCII-lowered. */
struct model_value {
    enum lsc_value_type type; /* STRING, NUMBER or BOOL */
    double num;
    bool boolean;
    char *str;
    size_t len;
    uint64_t head; /* str's first min(len, 8) bytes, zero-padded: one
                      compare settles most string equalities */
};

struct model_cond {
    char *field;
    uint32_t field_id;        /* same id for the same field name in the
                                 model: one property lookup per event */
    enum model_op op;
    struct model_value *vals; /* one for eq/ne/prefix/..., n for lists */
    size_t n_vals;
    double lo, hi;            /* gt..lte use lo; between uses both */
};

struct model_rule {
    char *id;
    uint32_t id_hash;       /* key of the rule's award record in the blob:
                               model_key32 of the id, unique in the model */
    uint32_t group;
    double points;
    char *event;            /* NULL for a fit rule */
    uint32_t max_awards;    /* 0: unlimited; once: 1 */
    int64_t cooldown_ms;    /* 0: none */
    struct model_cond *conds;
    size_t n_conds;
};

struct model_group {
    char *name;
    double max;
    bool has_max;
    int64_t half_life_ms;   /* 0: no decay */
};

struct model_tier {
    char *name;
    double min;
    uint32_t key;           /* model_key32 of the name (never 0), stored in
                               the blob, unique in the model */
};

/* Rules of one activity type (open-addressing table entry). */
struct model_evtype {
    const char *type;       /* NULL: empty slot; borrowed from a rule */
    uint64_t hash;          /* type_hash of type */
    size_t len;             /* strlen(type) */
    uint32_t *rules;        /* indexes into model.rules */
    uint32_t n_rules;
};

struct model_byhash {
    uint32_t hash;
    uint32_t rule;
};

struct model {
    char *name;
    char *file;
    uint64_t key;           /* hash of the name: the blob section key */
    uint64_t fingerprint;   /* hash of the file bytes */
    int scale_max;
    double hysteresis;
    struct model_group *groups;
    size_t n_groups;
    struct model_rule *rules;
    size_t n_rules;
    struct model_tier *tiers;
    size_t n_tiers;
    uint32_t *fit_rules;    /* indexes of rules without event */
    size_t n_fit_rules;
    size_t n_activity_rules;
    struct model_evtype *evtab;
    size_t evtab_cap;       /* power of two */
    size_t max_rules_per_event;
    uint32_t *evtab_store;
    struct model_byhash *by_hash; /* sorted by hash, activity rules only */
    size_t n_fields;        /* distinct condition fields (field_id range) */
};

/* Reads and compiles the model file `file` (borrowed).  Every problem is
 * reported through host->diagnostic (when provided).  On success *out
 * receives a new model owned by the caller (model_destroy).  On failure
 * returns LSC_ERR_CONFIG (or NOMEM/IO) and writes "FILE: N problems in the
 * model" (or the one reason) into err (caller-owned). */
enum lsc_status model_load(const char *file, const struct lsc_host_api *host,
                           struct model **out, char *err, size_t errlen);

/* Same from text already in memory (borrowed); `file` names it in
 * diagnostics. */
enum lsc_status model_load_text(const char *file, const char *text,
                                size_t len, const struct lsc_host_api *host,
                                struct model **out, char *err, size_t errlen);

/* Accepts NULL. */
void model_destroy(struct model *m);

/* The rules of activity type `type` (borrowed), or NULL. */
const struct model_evtype *model_find_event(const struct model *m,
                                            const char *type);

/* Index of the activity rule whose id hashes to h, or -1. */
long model_rule_by_hash(const struct model *m, uint32_t h);

/* The first min(len, 8) bytes of s as a little-endian number
 * (model_value.head). */
uint64_t model_head(const char *s, size_t len);

/* 64-bit FNV-1a. */
uint64_t model_hash(const void *p, size_t n);

/* A 32-bit key from model_hash (both halves folded): rule and tier keys
 * in the state blob, checked for collisions when the model loads. */
uint32_t model_key32(const void *p, size_t n);

#endif
