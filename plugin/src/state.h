/* The per-contact state blob: versioned, compact, read without parsing.
 *
 * Layout (native byte order; a foreign-endian blob fails the magic):
 *   header  16 bytes: u32 magic "LSC1", u16 version, u16 n_sections,
 *                     u32 total length, u32 reserved (0)
 *   per loaded model, one section:
 *     header 40 bytes: u64 model key (hash of the name), u64 fingerprint
 *                      (hash of the model file), u64 tier key (hash of the
 *                      tier name, 0: none), i32 last score, u16 n_groups,
 *                      u16 flags (0), u32 n_awards, u32 reserved (0)
 *     n_groups x 24 bytes: f64 fit sum, f64 award accumulator, i64 its
 *                          reference time (ms)
 *     n_awards x 40 bytes: u64 rule id hash, u32 awards, u32 reserved,
 *                          f64 points awarded (undecayed), i64 latest award
 *                          time, f64 accumulator at that time
 *   award records sorted by strictly increasing hash.
 */
#ifndef LSC_STATE_H
#define LSC_STATE_H

#include <leadscore/plugin.h>

#include "model.h"

#define STATE_MAGIC 0x3143534Cu /* "LSC1" little-endian */
#define STATE_VERSION 1
#define STATE_MAX_MODELS 16

struct state_group {
    double fit;   /* points of the fit rules that hold */
    double acc;   /* worth of the group's awards at `ref` */
    int64_t ref;  /* latest award time in the group, INT64_MIN: none */
};

struct state_award {
    uint64_t hash;     /* model_hash(rule id) */
    uint32_t count;
    uint32_t reserved;
    double sum;        /* points awarded, undecayed */
    int64_t last;      /* latest award timestamp (cooldown reference) */
    double acc;        /* worth of the rule's awards at `last` */
};

/* One model's state for one contact, decoded into caller memory. */
struct state_model {
    uint64_t tier_key;  /* 0: no tier yet */
    int32_t score;      /* score last written */
    bool fresh;         /* no stored section: nothing known yet */
    bool stale;         /* stored by another version of the model: awards
                           must be re-keyed (engine_rebuild) */
    bool need_fit;      /* fit sums must be recomputed from properties */
    struct state_group *groups; /* model->n_groups */
    struct state_award *awards; /* n_awards used, cap_awards available */
    uint32_t n_awards, cap_awards;
};

#define STATE_STACK_GROUPS 64
#define STATE_STACK_AWARDS 128

/* Decoded state of one contact for every loaded model.  Lives on the
 * caller's stack; spills to one heap block for big contacts. */
struct state {
    struct state_model m[STATE_MAX_MODELS];
    size_t n;
    void *heap;
    struct state_group g_stack[STATE_STACK_GROUPS];
    struct state_award a_stack[STATE_STACK_AWARDS];
};

/* Decodes `blob` (borrowed, len bytes; NULL/0 for none) for `models`
 * (borrowed) into *st, leaving room for `extra` more awards per model.
 * Sections of models no longer loaded are dropped.  Returns LSC_ERR_CORRUPT
 * for a blob that is not ours or is damaged, LSC_ERR_NOMEM; then *st needs
 * no state_finish. */
enum lsc_status state_decode(struct state *st,
                             const struct model *const *models, size_t n,
                             const void *blob, size_t len, char *err,
                             size_t errlen);

/* Size of the encoded blob. */
size_t state_size(const struct state *st, const struct model *const *models);

/* Writes the blob into out (caller-owned, state_size() bytes). */
void state_encode(const struct state *st, const struct model *const *models,
                  void *out);

/* Frees what state_decode allocated.  Accepts NULL. */
void state_finish(struct state *st);

#endif
