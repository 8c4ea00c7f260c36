/* State blob encoding and decoding, see state.h. */
#include "state.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define BLOB_HEADER 8
#define SECTION_HEADER 28
#define TIME_NONE48 (-((int64_t)1 << 47))

enum { TW_OFF32 = 0, TW_I48 = 1, TW_I64 = 2 };

/* A parsed section header. */
struct sec {
    uint64_t model_key, fingerprint;
    uint32_t tier_key;
    int32_t score;
    uint16_t n_awards;
    uint8_t n_groups, width;
    int64_t base;
    bool has_fit; /* the fit cache follows */
    uint8_t fit_bytes;
    uint64_t props_hash, fit_holds;
};

#define CORRUPT(...)                          \
    do {                                      \
        log_err(err, errlen, __VA_ARGS__);    \
        return LSC_ERR_CORRUPT;               \
    } while (0)

/* A bounded reader: nothing is read past `end`. */
struct rd {
    const unsigned char *p, *end;
};

static inline bool take(struct rd *r, void *out, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        return false;
    }
    memcpy(out, r->p, n);
    r->p += n;
    return true;
}

/* A tagged value (0: +0.0, 1: f32, 2: f64); false when short or not
 * finite. */
static inline bool get_val(struct rd *r, unsigned tag, double *out)
{
    if (tag == 0) {
        *out = 0;
        return true;
    }
    if (tag == 1) {
        float f;
        if (!take(r, &f, sizeof f)) {
            return false;
        }
        *out = f;
    } else if (tag != 2 || !take(r, out, sizeof *out)) {
        return false;
    }
    return isfinite(*out);
}

static inline bool get_time(struct rd *r, const struct sec *h,
                            int64_t *out)
{
    if (h->width == TW_OFF32) {
        uint32_t v;
        if (!take(r, &v, sizeof v)) {
            return false;
        }
        if (v == UINT32_MAX) {
            *out = INT64_MIN;
            return true;
        }
        if (h->base > INT64_MAX - (int64_t)v) {
            return false;
        }
        *out = h->base + (int64_t)v;
        return true;
    }
    if (h->width == TW_I48) {
        if (r->end - r->p < 6) {
            return false;
        }
        uint64_t u = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* two loads combined in registers: a 6-byte memcpy into u was a
         * 4- and a 2-byte store read back as 8 bytes, which waited on
         * store forwarding */
        uint32_t lo;
        uint16_t hi;
        memcpy(&lo, r->p, 4);
        memcpy(&hi, r->p + 4, 2);
        u = (uint64_t)lo | (uint64_t)hi << 32;
#else
        for (int i = 5; i >= 0; i--) {
            u = u << 8 | r->p[i];
        }
#endif
        r->p += 6;
        /* sign-extend 48 bits without shifting negative values */
        int64_t v = (int64_t)(u ^ ((uint64_t)1 << 47)) + TIME_NONE48;
        *out = v == TIME_NONE48 ? INT64_MIN : v;
        return true;
    }
    return take(r, out, sizeof *out);
}

/* Reads a section header at r into *h (a blob of `version`). */
static enum lsc_status walk_header(struct rd *r, struct sec *h,
                                   uint16_t version, char *err,
                                   size_t errlen)
{
    unsigned char hb[SECTION_HEADER];
    if (!take(r, hb, sizeof hb)) {
        CORRUPT("corrupt state: truncated section");
    }
    memcpy(&h->model_key, hb, 8);
    memcpy(&h->fingerprint, hb + 8, 8);
    memcpy(&h->tier_key, hb + 16, 4);
    memcpy(&h->score, hb + 20, 4);
    memcpy(&h->n_awards, hb + 24, 2);
    h->n_groups = hb[26];
    h->width = hb[27] & 3u;
    h->has_fit = (hb[27] & 4u) != 0;
    h->base = 0;
    h->fit_bytes = 0;
    h->props_hash = 0;
    h->fit_holds = 0;
    if ((hb[27] & ~7u) != 0 || h->width > TW_I64 ||
        (h->has_fit && version < 3) || h->n_groups > MODEL_MAX_GROUPS) {
        CORRUPT("corrupt state: bad section header");
    }
    if (h->width == TW_OFF32 && !take(r, &h->base, sizeof h->base)) {
        CORRUPT("corrupt state: truncated section");
    }
    if (h->has_fit) {
        if (!take(r, &h->props_hash, sizeof h->props_hash) ||
            !take(r, &h->fit_bytes, 1)) {
            CORRUPT("corrupt state: truncated section");
        }
        if (h->fit_bytes > STATE_FIT_BITS / 8) {
            CORRUPT("corrupt state: bad fit cache");
        }
        /* little-endian bytes, whatever the machine's order */
        if ((size_t)(r->end - r->p) < h->fit_bytes) {
            CORRUPT("corrupt state: truncated section");
        }
        for (size_t k = 0; k < h->fit_bytes; k++) {
            h->fit_holds |= (uint64_t)r->p[k] << (8 * k);
        }
        r->p += h->fit_bytes;
    }
    return LSC_OK;
}

/* Reads the section at r (header and records, validated whatever the
 * counts say) into *h, and its records into g / a when not NULL; each
 * award notes where its record lies in `blob`. */
static enum lsc_status walk_records(struct rd *rp, const unsigned char *blob,
                                    const struct sec *h, struct state_group *g,
                                    struct state_award *a, char *err,
                                    size_t errlen);

static enum lsc_status walk(struct rd *rp, const unsigned char *blob,
                            uint16_t version, struct sec *h,
                            struct state_group *g, struct state_award *a,
                            char *err, size_t errlen)
{
    enum lsc_status rc = walk_header(rp, h, version, err, errlen);
    if (rc != LSC_OK) {
        return rc;
    }
    return walk_records(rp, blob, h, g, a, err, errlen);
}

/* walk after the header (*h, read by walk_header): the records. */
static enum lsc_status walk_records(struct rd *rp, const unsigned char *blob,
                                    const struct sec *h, struct state_group *g,
                                    struct state_award *a, char *err,
                                    size_t errlen)
{
    /* A local reader: its position stays in a register (through rp,
     * which the record stores might alias, every read waited for the
     * previous one's store). */
    struct rd rl = *rp, *r = &rl;
    for (size_t i = 0; i < h->n_groups; i++) {
        unsigned char t;
        struct state_group x = {0, 0, INT64_MIN};
        if (!take(r, &t, 1) || (t & ~0x1fu) != 0 ||
            !get_val(r, t & 3u, &x.fit) || !get_val(r, t >> 2 & 3u, &x.acc) ||
            ((t & 0x10u) != 0 && !get_time(r, h, &x.ref))) {
            CORRUPT("corrupt state: bad group record %zu", i);
        }
        if (g != NULL) {
            g[i] = x;
        }
    }
    uint32_t prev = 0;
    for (size_t i = 0; i < h->n_awards; i++) {
        struct state_award x = {0};
        const unsigned char *rs = r->p;
        unsigned char t;
        bool ok = take(r, &x.hash, sizeof x.hash) && take(r, &t, 1) &&
                  (t & ~0x3fu) == 0 && (i == 0 || x.hash > prev);
        unsigned ct = t >> 4 & 3u;
        if (ok && ct == 0) {
            x.count = 1;
        } else if (ok && ct == 1) {
            uint8_t c8 = 0;
            ok = take(r, &c8, 1);
            x.count = c8;
        } else if (ok && ct == 2) {
            uint16_t c16 = 0;
            ok = take(r, &c16, 2);
            x.count = c16;
        } else if (ok) {
            ok = take(r, &x.count, 4);
        }
        ok = ok && x.count != 0 && get_val(r, t & 3u, &x.sum);
        if (ok && (t >> 2 & 3u) == 0) {
            x.acc = x.sum;
        } else {
            ok = ok && get_val(r, t >> 2 & 3u, &x.acc);
        }
        if (!ok || !get_time(r, h, &x.last)) {
            CORRUPT("corrupt state: bad award record %zu", i);
        }
        prev = x.hash;
        if (a != NULL) {
            x.raw_off = (uint32_t)(rs - blob);
            x.raw_len = (uint32_t)(r->p - rs);
            a[i] = x;
        }
    }
    *rp = rl;
    return LSC_OK;
}

static void fresh_groups(struct state_group *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g[i] = (struct state_group){0, 0, INT64_MIN};
    }
}

/* Gives model i's memory: its groups and room for `n_awards` plus the
 * awards one event may add.  Fresh or stale groups (`reset`, passed in:
 * reading back the two flags just stored byte by byte stalled on store
 * forwarding) are reset. */
static void place(struct state_model *sm, const struct model *m,
                  struct state_group *g, struct state_award *a, bool reset)
{
    sm->groups = g;
    sm->awards = a;
    sm->cap_awards = sm->n_awards + (uint32_t)m->max_rules_per_event;
    if (reset) {
        sm->need_fit = true;
        fresh_groups(g, m->n_groups);
    }
}

/* Notes the blob and time encoding sm's award records were decoded
 * from, so that state_encode can copy the unchanged ones.  Not for a
 * stale section: rebuilding re-keys it. */
static void keep_raw(struct state_model *sm, const unsigned char *b,
                     const struct sec *h)
{
    sm->raw = sm->stale ? NULL : b;
    sm->raw_base = h->base;
    sm->raw_width = h->width;
}

/* Reads the blob header: *version, *n_sections. */
static enum lsc_status blob_header(const unsigned char *b, size_t len,
                                   uint16_t *version, uint16_t *n_sections,
                                   char *err, size_t errlen)
{
    uint32_t magic;
    if (len < BLOB_HEADER) {
        CORRUPT("corrupt state: %zu bytes is shorter than a header", len);
    }
    memcpy(&magic, b, 4);
    memcpy(version, b + 4, 2);
    memcpy(n_sections, b + 6, 2);
    if (magic != STATE_MAGIC) {
        CORRUPT("corrupt state: not a leadscore state blob");
    }
    if (*version < STATE_VERSION_MIN || *version > STATE_VERSION) {
        CORRUPT("unsupported state version %u (this plugin reads %u to %u)",
                (unsigned)*version, (unsigned)STATE_VERSION_MIN,
                (unsigned)STATE_VERSION);
    }
    if (*n_sections > 256) {
        CORRUPT("corrupt state: %u sections", (unsigned)*n_sections);
    }
    return LSC_OK;
}

/*
 * One pass over the blob: the sections of loaded models are decoded
 * straight into the stack pools while they fit, the others validated and
 * skipped.  A contact too big for the pools (rare) is decoded again into
 * one heap block.
 */
enum lsc_status state_decode(struct state *st,
                             const struct model *const *models, size_t n,
                             const void *blob, size_t len, char *err,
                             size_t errlen)
{
    const unsigned char *b = blob;
    size_t found[STATE_MAX_MODELS]; /* section offset + 1, 0: none */
    if (n > STATE_MAX_MODELS) {
        log_err(err, errlen, "too many models");
        return LSC_ERR_INTERNAL;
    }
    st->n = n;
    st->heap = NULL;
    st->dropped = false;
    for (size_t i = 0; i < n; i++) {
        memset(&st->m[i], 0, sizeof st->m[i]);
        st->m[i].fresh = true;
        found[i] = 0;
    }
    size_t gu = 0, au = 0; /* pool entries used */
    bool spill = false;
    uint16_t version = STATE_VERSION;
    if (blob != NULL && len > 0) {
        uint16_t n_sections;
        enum lsc_status rc =
            blob_header(b, len, &version, &n_sections, err, errlen);
        if (rc != LSC_OK) {
            return rc;
        }
        uint64_t keys[256];
        struct rd r = {b + BLOB_HEADER, b + len};
        for (size_t s = 0; s < n_sections; s++) {
            size_t start = (size_t)(r.p - b);
            uint64_t key;
            if (len - start < sizeof key) {
                CORRUPT("corrupt state: truncated section");
            }
            memcpy(&key, r.p, sizeof key);
            for (size_t k = 0; k < s; k++) {
                if (keys[k] == key) {
                    CORRUPT("corrupt state: a model appears twice");
                }
            }
            keys[s] = key;
            size_t i = 0;
            while (i < n && models[i]->key != key) {
                i++;
            }
            struct sec h;
            if (i == n) {
                rc = walk(&r, b, version, &h, NULL, NULL, err, errlen);
                st->dropped = true;
            } else {
                /* the header first, to know the room it needs; the
                 * records follow it */
                if ((rc = walk_header(&r, &h, version, err, errlen)) !=
                    LSC_OK) {
                    return rc;
                }
                const struct model *m = models[i];
                struct state_model *sm = &st->m[i];
                bool stale = h.fingerprint != m->fingerprint;
                sm->fresh = false;
                sm->stale = stale;
                if (h.has_fit && !stale &&
                    (m->n_fit_rules > STATE_FIT_BITS ||
                     h.fit_bytes != (m->n_fit_rules + 7) / 8 ||
                     (m->n_fit_rules < STATE_FIT_BITS &&
                      h.fit_holds >> m->n_fit_rules != 0))) {
                    CORRUPT("corrupt state: bad fit cache");
                }
                /* another version of the model: other fit rules */
                sm->fit_cached = h.has_fit && !stale;
                sm->props_hash = h.props_hash;
                sm->fit_holds = h.fit_holds;
                sm->tier_key = h.tier_key;
                sm->score = h.score;
                sm->n_awards = h.n_awards;
                if (!stale && h.n_groups != m->n_groups) {
                    CORRUPT("corrupt state: %u groups for a model with %zu",
                            (unsigned)h.n_groups, m->n_groups);
                }
                found[i] = start + 1;
                size_t na = h.n_awards + m->max_rules_per_event;
                if (spill || gu + m->n_groups > STATE_STACK_GROUPS ||
                    au + na > STATE_STACK_AWARDS) {
                    spill = true;
                    rc = walk_records(&r, b, &h, NULL, NULL, err, errlen);
                } else {
                    place(sm, m, st->g_stack + gu, st->a_stack + au, stale);
                    rc = walk_records(&r, b, &h, stale ? NULL : sm->groups,
                                      sm->awards, err, errlen);
                    keep_raw(sm, b, &h);
                    gu += m->n_groups;
                    au += na;
                }
            }
            if (rc != LSC_OK) {
                return rc;
            }
        }
        if (r.p != r.end) {
            CORRUPT("corrupt state: %zu trailing bytes",
                    (size_t)(r.end - r.p));
        }
    }
    for (size_t i = 0; i < n && !spill; i++) {
        const struct model *m = models[i];
        size_t na = m->max_rules_per_event;
        if (!st->m[i].fresh) {
            continue;
        }
        if (gu + m->n_groups > STATE_STACK_GROUPS ||
            au + na > STATE_STACK_AWARDS) {
            spill = true;
        } else {
            place(&st->m[i], m, st->g_stack + gu, st->a_stack + au, true);
            gu += m->n_groups;
            au += na;
        }
    }
    if (!spill) {
        return LSC_OK;
    }
    /* too big for the stack: one block for every model, read again */
    size_t ng = 0, na = 0;
    for (size_t i = 0; i < n; i++) {
        ng += models[i]->n_groups;
        na += st->m[i].n_awards + models[i]->max_rules_per_event;
    }
    st->heap = malloc(ng * sizeof(struct state_group) +
                      na * sizeof(struct state_award));
    if (st->heap == NULL) {
        log_err(err, errlen, "out of memory decoding the state");
        return LSC_ERR_NOMEM;
    }
    struct state_award *a = st->heap;
    struct state_group *g = (struct state_group *)(a + na);
    for (size_t i = 0; i < n; i++) {
        struct state_model *sm = &st->m[i];
        place(sm, models[i], g, a, sm->fresh || sm->stale);
        g += models[i]->n_groups;
        a += sm->cap_awards;
        if (found[i] != 0) {
            struct rd r = {b + found[i] - 1, b + len};
            struct sec h;
            enum lsc_status rc = walk(&r, b, version, &h,
                                      sm->stale ? NULL : sm->groups,
                                      sm->awards, err, errlen);
            if (rc != LSC_OK) {
                state_finish(st);
                return rc;
            }
            keep_raw(sm, b, &h);
        }
    }
    return LSC_OK;
}

/* ---- encoding ------------------------------------------------------------ */

/* The tag of x: 0 for +0.0, 1 when a float holds it bit for bit, else 2. */
static unsigned val_tag(double x)
{
    uint64_t bx, by;
    memcpy(&bx, &x, sizeof bx);
    if (bx == 0) {
        return 0;
    }
    if (!(fabs(x) <= FLT_MAX)) {
        return 2;
    }
    double y = (float)x;
    memcpy(&by, &y, sizeof by);
    return by == bx ? 1 : 2;
}

static unsigned char *put_val(unsigned char *p, unsigned tag, double x)
{
    if (tag == 1) {
        float f = (float)x;
        memcpy(p, &f, sizeof f);
        return p + sizeof f;
    }
    if (tag == 2) {
        memcpy(p, &x, sizeof x);
        return p + sizeof x;
    }
    return p;
}

static unsigned char *put_time(unsigned char *p, const struct sec *h,
                               int64_t t)
{
    if (h->width == TW_OFF32) {
        uint32_t v = t == INT64_MIN
                         ? UINT32_MAX
                         : (uint32_t)((uint64_t)t - (uint64_t)h->base);
        memcpy(p, &v, sizeof v);
        return p + sizeof v;
    }
    if (h->width == TW_I48) {
        uint64_t u = (uint64_t)(t == INT64_MIN ? TIME_NONE48 : t);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(p, &u, 6);
#else
        for (int i = 0; i < 6; i++) {
            p[i] = (unsigned char)(u >> (8 * i));
        }
#endif
        return p + 6;
    }
    memcpy(p, &t, sizeof t);
    return p + sizeof t;
}

/* The narrowest time width holding every time of sm (and its base). */
static void pick_width(const struct model *m, const struct state_model *sm,
                       struct sec *h)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    size_t n = 0;
    for (size_t i = 0; i < m->n_groups; i++) {
        int64_t t = sm->groups[i].ref;
        if (t != INT64_MIN) {
            lo = t < lo ? t : lo;
            hi = t > hi ? t : hi;
            n++;
        }
    }
    for (size_t i = 0; i < sm->n_awards; i++) {
        int64_t t = sm->awards[i].last;
        if (t != INT64_MIN) {
            lo = t < lo ? t : lo;
            hi = t > hi ? t : hi;
        }
        n++;
    }
    h->base = 0;
    h->width = TW_I64;
    if (n == 0 || (lo > TIME_NONE48 && hi < -TIME_NONE48)) {
        h->width = TW_I48;
    }
    if (n > 0 && lo <= hi && (uint64_t)hi - (uint64_t)lo < UINT32_MAX &&
        (h->width == TW_I64 || 8 + 4 * n < 6 * n)) {
        h->width = TW_OFF32;
        h->base = lo;
    }
}

size_t state_max_size(const struct state *st,
                      const struct model *const *models)
{
    size_t size = BLOB_HEADER;
    for (size_t i = 0; i < st->n; i++) {
        size += SECTION_HEADER + 8 + 8 + 1 + STATE_FIT_BITS / 8 +
                models[i]->n_groups * (1 + 3 * 8) +
                st->m[i].n_awards * (4 + 1 + 4 + 3 * 8);
    }
    return size;
}

size_t state_encode(const struct state *st, const struct model *const *models,
                    void *out)
{
    unsigned char *p = out;
    uint32_t magic = STATE_MAGIC;
    uint16_t version = STATE_VERSION, n_sections = (uint16_t)st->n;
    memcpy(p, &magic, 4);
    memcpy(p + 4, &version, 2);
    memcpy(p + 6, &n_sections, 2);
    p += BLOB_HEADER;
    for (size_t i = 0; i < st->n; i++) {
        const struct model *m = models[i];
        const struct state_model *sm = &st->m[i];
        struct sec h;
        pick_width(m, sm, &h);
        uint16_t n_awards = (uint16_t)sm->n_awards;
        memcpy(p, &m->key, 8);
        memcpy(p + 8, &m->fingerprint, 8);
        memcpy(p + 16, &sm->tier_key, 4);
        memcpy(p + 20, &sm->score, 4);
        memcpy(p + 24, &n_awards, 2);
        bool fit = sm->fit_cached && m->n_fit_rules <= STATE_FIT_BITS;
        p[26] = (unsigned char)m->n_groups;
        p[27] = (unsigned char)(h.width | (fit ? 4u : 0u));
        p += SECTION_HEADER;
        if (h.width == TW_OFF32) {
            memcpy(p, &h.base, 8);
            p += 8;
        }
        if (fit) {
            size_t nb = (m->n_fit_rules + 7) / 8;
            memcpy(p, &sm->props_hash, 8);
            p[8] = (unsigned char)nb;
            p += 9;
            for (size_t k = 0; k < nb; k++) {
                *p++ = (unsigned char)(sm->fit_holds >> (8 * k));
            }
        }
        for (size_t k = 0; k < m->n_groups; k++) {
            const struct state_group *g = &sm->groups[k];
            unsigned tf = val_tag(g->fit), ta = val_tag(g->acc);
            bool ref = g->ref != INT64_MIN;
            *p++ = (unsigned char)(tf | ta << 2 | (ref ? 0x10u : 0));
            p = put_val(p, tf, g->fit);
            p = put_val(p, ta, g->acc);
            if (ref) {
                p = put_time(p, &h, g->ref);
            }
        }
        /* Unchanged records are copied as they are (bit-exact values,
         * times on the same base), a run of adjacent ones at once. */
        bool copy = sm->raw != NULL && h.width == sm->raw_width &&
                    h.base == sm->raw_base;
        for (size_t k = 0; k < sm->n_awards; k++) {
            const struct state_award *a = &sm->awards[k];
            if (copy && a->raw_len != 0) {
                uint32_t off = a->raw_off, len = a->raw_len;
                while (k + 1 < sm->n_awards && a[1].raw_len != 0 &&
                       a[1].raw_off == off + len) {
                    len += a[1].raw_len;
                    a++;
                    k++;
                }
                memcpy(p, sm->raw + off, len);
                p += len;
                continue;
            }
            unsigned ts = val_tag(a->sum), ta = val_tag(a->acc);
            if (memcmp(&a->acc, &a->sum, sizeof a->acc) == 0) {
                ta = 0; /* the usual single award or undecayed group */
            } else if (ta == 0) {
                ta = 1; /* +0.0 but not the sum: 0 means "the sum" here */
            }
            unsigned tc = a->count == 1 ? 0
                          : a->count <= UINT8_MAX ? 1
                          : a->count <= UINT16_MAX ? 2
                                                   : 3;
            memcpy(p, &a->hash, 4);
            p[4] = (unsigned char)(ts | ta << 2 | tc << 4);
            p += 5;
            if (tc == 1) {
                *p++ = (unsigned char)a->count;
            } else if (tc == 2) {
                uint16_t c = (uint16_t)a->count;
                memcpy(p, &c, 2);
                p += 2;
            } else if (tc == 3) {
                memcpy(p, &a->count, 4);
                p += 4;
            }
            p = put_val(p, ts, a->sum);
            if (ta != 0) {
                p = put_val(p, ta, a->acc);
            }
            p = put_time(p, &h, a->last);
        }
    }
    return (size_t)(p - (unsigned char *)out);
}

void state_finish(struct state *st)
{
    if (st == NULL) {
        return;
    }
    free(st->heap);
    st->heap = NULL;
}
