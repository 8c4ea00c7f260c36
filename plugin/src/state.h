/* The per-contact state blob: versioned, compact, decoded in one pass.
 *
 * Layout, version 3 (native byte order, no padding, no alignment; a
 * foreign-endian blob fails the magic):
 *   header 8 bytes: u32 magic "LSC1", u16 version, u16 n_sections
 *   per loaded model, one section:
 *     u64 model key (hash of the name), u64 fingerprint (hash of the model
 *     file), u32 tier key (0: none), i32 last score, u16 n_awards,
 *     u8 n_groups, u8 flags (bits 0-1: time width, see below; bit 2: fit
 *     cache; others 0)
 *     [i64 base time, only with time width 0]
 *     [fit cache, only with flag bit 2: u64 hash of the properties the fit
 *     sums were computed from (engine_props_hash), u8 n (<= 8), then which
 *     fit rules held in n bytes, bit k for the model's k-th fit rule; n is
 *     ceil(n_fit_rules / 8), for models of at most STATE_FIT_BITS fit
 *     rules]
 *     n_groups group records: u8 tags, then fit, acc (as tagged), ref
 *     n_awards award records: u32 rule key, u8 tags, count, sum, acc,
 *     latest award time (as tagged); sorted by strictly increasing key
 *   A value is tagged 0: +0.0 (omitted), 1: f32 (when exact), 2: f64.
 *   Group tags: bits 0-1 fit, 2-3 acc, bit 4: ref present (else none).
 *   Award tags: bits 0-1 sum, 2-3 acc (0 here: same bits as sum), 4-5
 *   count (0: 1, 1: u8, 2: u16, 3: u32).
 *   Times: width 0: u32 ms after the base (UINT32_MAX: none), 1: i48
 *   (-2^47: none), 2: i64 (INT64_MIN: none); the encoder picks the
 *   smallest that holds every time of the section.
 * Version 2 is version 3 without the fit cache (flag bit 2 never set):
 * it is read, and rewritten as version 3.
 * Every value is stored bit-exactly, so a restored blob continues
 * exactly like an uninterrupted run.
 */
#ifndef LSC_STATE_H
#define LSC_STATE_H

#include <leadscore/plugin.h>

#include "model.h"

#define STATE_MAGIC 0x3143534Cu /* "LSC1" little-endian */
#define STATE_VERSION 3
#define STATE_VERSION_MIN 2 /* the oldest version read */
#define STATE_FIT_BITS 64   /* fit rules a fit cache can describe */
#define STATE_MAX_MODELS 16

struct state_group {
    double fit;   /* points of the fit rules that hold */
    double acc;   /* worth of the group's awards at `ref` */
    int64_t ref;  /* latest award time in the group, INT64_MIN: none */
};

struct state_award {
    uint32_t hash;     /* rule key: model_rule.id_hash */
    uint32_t count;
    double sum;        /* points awarded, undecayed */
    int64_t last;      /* latest award timestamp (cooldown reference) */
    double acc;        /* worth of the rule's awards at `last` */
    /* Where the record was decoded from: offset in the blob and length,
     * raw_len 0 when changed or new (state_encode then encodes it; an
     * unchanged record is copied through when the time base holds). */
    uint32_t raw_off, raw_len;
};

/* One model's state for one contact, decoded into caller memory. */
struct state_model {
    uint32_t tier_key;  /* 0: no tier yet */
    int32_t score;      /* score last written */
    bool fresh;         /* no stored section: nothing known yet */
    bool stale;         /* stored by another version of the model: awards
                           must be re-keyed (engine_rebuild) */
    bool need_fit;      /* fit sums must be recomputed from properties */
    /* The fit cache: the fit sums were computed from properties of hash
     * props_hash, on which the fit rules in fit_holds (bit k: the k-th fit
     * rule) held.  Equal properties give equal sums: a report need not
     * evaluate the fit rules again. */
    bool fit_cached;
    uint64_t props_hash;
    uint64_t fit_holds;
    struct state_group *groups; /* model->n_groups */
    struct state_award *awards; /* n_awards used, cap_awards available */
    uint32_t n_awards, cap_awards;
    /* The decoded blob (borrowed, valid for the handler call) and its
     * section's time encoding; raw NULL: nothing to copy through. */
    const unsigned char *raw;
    int64_t raw_base;
    uint8_t raw_width;
};

#define STATE_STACK_GROUPS 64
#define STATE_STACK_AWARDS 128

/* Decoded state of one contact for every loaded model.  Lives on the
 * caller's stack; spills to one heap block for big contacts. */
struct state {
    struct state_model m[STATE_MAX_MODELS];
    size_t n;
    bool dropped;       /* the blob had sections of models not loaded */
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

/* An upper bound of the encoded blob's size. */
size_t state_max_size(const struct state *st,
                      const struct model *const *models);

/* Writes the blob into out (caller-owned, state_max_size() bytes) and
 * returns its length.  Award records with raw_len != 0 are copied from
 * the decoded blob, which must still be valid. */
size_t state_encode(const struct state *st, const struct model *const *models,
                    void *out);

/* Frees what state_decode allocated.  Accepts NULL. */
void state_finish(struct state *st);

#endif
