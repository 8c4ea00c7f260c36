/* State blob encoding and decoding, see state.h. */
#include "state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct blob_header {
    uint32_t magic;
    uint16_t version;
    uint16_t n_sections;
    uint32_t total_len;
    uint32_t reserved;
};

struct section_header {
    uint64_t model_key;
    uint64_t fingerprint;
    uint64_t tier_key;
    int32_t score;
    uint16_t n_groups;
    uint16_t flags;
    uint32_t n_awards;
    uint32_t reserved;
};

_Static_assert(sizeof(struct blob_header) == 16, "blob header layout");
_Static_assert(sizeof(struct section_header) == 40, "section layout");
_Static_assert(sizeof(struct state_group) == 24, "group record layout");
_Static_assert(sizeof(struct state_award) == 40, "award record layout");

#define CORRUPT(...)                          \
    do {                                      \
        log_err(err, errlen, __VA_ARGS__);    \
        return LSC_ERR_CORRUPT;               \
    } while (0)

/* Checks the header of the section at blob+off and that its records fit
 * in the blob, without trusting any count; *size = the section's size. */
static enum lsc_status check_header(const unsigned char *b, size_t len,
                                    size_t off, struct section_header *h,
                                    size_t *size, char *err, size_t errlen)
{
    if (len - off < sizeof *h) {
        CORRUPT("corrupt state: truncated section at byte %zu", off);
    }
    memcpy(h, b + off, sizeof *h);
    if (h->flags != 0 || h->reserved != 0 || h->n_groups > MODEL_MAX_GROUPS) {
        CORRUPT("corrupt state: bad section header at byte %zu", off);
    }
    size_t rest = len - off - sizeof *h;
    size_t gsz = (size_t)h->n_groups * sizeof(struct state_group);
    if (gsz > rest || h->n_awards > (rest - gsz) / sizeof(struct state_award)) {
        CORRUPT("corrupt state: section at byte %zu overruns the blob", off);
    }
    *size = sizeof *h + gsz + (size_t)h->n_awards * sizeof(struct state_award);
    return LSC_OK;
}

/* Checks decoded records (aligned caller memory). */
static enum lsc_status check_records(const struct state_group *g, size_t ng,
                                     const struct state_award *a, size_t na,
                                     char *err, size_t errlen)
{
    for (size_t i = 0; i < ng; i++) {
        if (!isfinite(g[i].fit) || !isfinite(g[i].acc)) {
            CORRUPT("corrupt state: non-finite group value");
        }
    }
    for (size_t i = 0; i < na; i++) {
        if (a[i].count == 0 || a[i].reserved != 0 || !isfinite(a[i].sum) ||
            !isfinite(a[i].acc) || (i > 0 && a[i].hash <= a[i - 1].hash)) {
            CORRUPT("corrupt state: bad award record %zu", i);
        }
    }
    return LSC_OK;
}

/* Full check of a section that is not decoded (a model not loaded). */
static enum lsc_status check_foreign(const unsigned char *p,
                                     const struct section_header *h,
                                     char *err, size_t errlen)
{
    struct state_group g;
    struct state_award a[2];
    for (size_t i = 0; i < h->n_groups; i++) {
        memcpy(&g, p + i * sizeof g, sizeof g);
        if (check_records(&g, 1, NULL, 0, err, errlen) != LSC_OK) {
            return LSC_ERR_CORRUPT;
        }
    }
    p += (size_t)h->n_groups * sizeof g;
    for (size_t i = 0; i < h->n_awards; i++) {
        memcpy(&a[i & 1], p + i * sizeof a[0], sizeof a[0]);
        bool ordered = i == 0 || a[i & 1].hash > a[(i - 1) & 1].hash;
        if (!ordered ||
            check_records(NULL, 0, &a[i & 1], 1, err, errlen) != LSC_OK) {
            CORRUPT("corrupt state: bad award record %zu", i);
        }
    }
    return LSC_OK;
}

static void fresh_groups(struct state_group *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g[i] = (struct state_group){0, 0, INT64_MIN};
    }
}

enum lsc_status state_decode(struct state *st,
                             const struct model *const *models, size_t n,
                             const void *blob, size_t len, char *err,
                             size_t errlen)
{
    const unsigned char *b = blob;
    size_t found[STATE_MAX_MODELS]; /* section offset + 1, 0: none */
    struct section_header fh[STATE_MAX_MODELS];
    if (n > STATE_MAX_MODELS) {
        log_err(err, errlen, "too many models");
        return LSC_ERR_INTERNAL;
    }
    memset(found, 0, sizeof found);
    st->n = n;
    st->heap = NULL;
    if (blob != NULL && len > 0) {
        struct blob_header h;
        if (len < sizeof h) {
            CORRUPT("corrupt state: %zu bytes is shorter than a header", len);
        }
        memcpy(&h, b, sizeof h);
        if (h.magic != STATE_MAGIC) {
            CORRUPT("corrupt state: not a leadscore state blob");
        }
        if (h.version != STATE_VERSION) {
            CORRUPT("unsupported state version %u (this plugin reads %u)",
                    (unsigned)h.version, (unsigned)STATE_VERSION);
        }
        if (h.total_len != len || h.reserved != 0) {
            CORRUPT("corrupt state: length %u, blob has %zu bytes",
                    (unsigned)h.total_len, len);
        }
        size_t off = sizeof h;
        uint64_t keys[256];
        if (h.n_sections > 256) {
            CORRUPT("corrupt state: %u sections", (unsigned)h.n_sections);
        }
        for (size_t s = 0; s < h.n_sections; s++) {
            struct section_header sh;
            size_t size;
            enum lsc_status rc =
                check_header(b, len, off, &sh, &size, err, errlen);
            if (rc != LSC_OK) {
                return rc;
            }
            bool loaded = false;
            for (size_t k = 0; k < s; k++) {
                if (keys[k] == sh.model_key) {
                    CORRUPT("corrupt state: a model appears twice");
                }
            }
            keys[s] = sh.model_key;
            for (size_t i = 0; i < n; i++) {
                if (models[i]->key == sh.model_key) {
                    found[i] = off + 1;
                    fh[i] = sh;
                    loaded = true;
                }
            }
            if (!loaded &&
                (rc = check_foreign(b + off + sizeof sh, &sh, err, errlen)) !=
                    LSC_OK) {
                return rc;
            }
            off += size;
        }
        if (off != len) {
            CORRUPT("corrupt state: %zu trailing bytes", len - off);
        }
    }
    /* one block for every model's groups and awards */
    size_t ng = 0, na = 0;
    for (size_t i = 0; i < n; i++) {
        ng += models[i]->n_groups;
        na += models[i]->max_rules_per_event + (found[i] ? fh[i].n_awards : 0);
    }
    struct state_group *g = st->g_stack;
    struct state_award *a = st->a_stack;
    if (ng > STATE_STACK_GROUPS || na > STATE_STACK_AWARDS) {
        st->heap = malloc(ng * sizeof *g + na * sizeof *a);
        if (st->heap == NULL) {
            log_err(err, errlen, "out of memory decoding the state");
            return LSC_ERR_NOMEM;
        }
        a = st->heap;
        g = (struct state_group *)(a + na);
    }
    for (size_t i = 0; i < n; i++) {
        const struct model *m = models[i];
        struct state_model *sm = &st->m[i];
        memset(sm, 0, sizeof *sm);
        sm->groups = g;
        sm->awards = a;
        sm->cap_awards = (uint32_t)m->max_rules_per_event;
        g += m->n_groups;
        if (!found[i]) {
            sm->fresh = true;
            sm->need_fit = true;
            fresh_groups(sm->groups, m->n_groups);
            a += sm->cap_awards;
            continue;
        }
        const struct section_header *h = &fh[i];
        const unsigned char *p = b + found[i] - 1 + sizeof *h;
        sm->tier_key = h->tier_key;
        sm->score = h->score;
        sm->n_awards = h->n_awards;
        sm->cap_awards += h->n_awards;
        a += sm->cap_awards;
        if (h->fingerprint == m->fingerprint) {
            if (h->n_groups != m->n_groups) {
                state_finish(st);
                CORRUPT("corrupt state: %u groups for a model with %zu",
                        (unsigned)h->n_groups, m->n_groups);
            }
            memcpy(sm->groups, p, m->n_groups * sizeof *sm->groups);
        } else {
            sm->stale = true;
            sm->need_fit = true;
            fresh_groups(sm->groups, m->n_groups);
        }
        memcpy(sm->awards, p + (size_t)h->n_groups * sizeof(struct state_group),
               (size_t)h->n_awards * sizeof *sm->awards);
        /* validated in place, after the copy: one pass over the blob */
        enum lsc_status rc =
            sm->stale ? check_foreign(p, h, err, errlen)
                      : check_records(sm->groups, m->n_groups, sm->awards,
                                      sm->n_awards, err, errlen);
        if (rc != LSC_OK) {
            state_finish(st);
            return rc;
        }
    }
    return LSC_OK;
}

size_t state_size(const struct state *st, const struct model *const *models)
{
    size_t size = sizeof(struct blob_header);
    for (size_t i = 0; i < st->n; i++) {
        size += sizeof(struct section_header) +
                models[i]->n_groups * sizeof(struct state_group) +
                st->m[i].n_awards * sizeof(struct state_award);
    }
    return size;
}

void state_encode(const struct state *st, const struct model *const *models,
                  void *out)
{
    unsigned char *p = out;
    struct blob_header h = {
        .magic = STATE_MAGIC,
        .version = STATE_VERSION,
        .n_sections = (uint16_t)st->n,
        .total_len = (uint32_t)state_size(st, models),
    };
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    for (size_t i = 0; i < st->n; i++) {
        const struct state_model *sm = &st->m[i];
        struct section_header sh = {
            .model_key = models[i]->key,
            .fingerprint = models[i]->fingerprint,
            .tier_key = sm->tier_key,
            .score = sm->score,
            .n_groups = (uint16_t)models[i]->n_groups,
            .n_awards = sm->n_awards,
        };
        memcpy(p, &sh, sizeof sh);
        p += sizeof sh;
        size_t gsz = models[i]->n_groups * sizeof(struct state_group);
        memcpy(p, sm->groups, gsz);
        p += gsz;
        size_t asz = sm->n_awards * sizeof(struct state_award);
        if (asz > 0) {
            memcpy(p, sm->awards, asz);
        }
        p += asz;
    }
}

void state_finish(struct state *st)
{
    if (st == NULL) {
        return;
    }
    free(st->heap);
    st->heap = NULL;
}
