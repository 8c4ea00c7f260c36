/* The scoring engine, see engine.h. */
#include "engine.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- conditions ---------------------------------------------------------- */

/* The value of `field` in props (borrowed), NULL when missing or null. */
static const struct lsc_value *lookup(const struct lsc_prop *props, size_t n,
                                      const char *field)
{
    for (size_t i = 0; i < n; i++) {
        /* the first byte settles most mismatches without a call */
        if (props[i].key != NULL && props[i].key[0] == field[0] &&
            strcmp(props[i].key, field) == 0) {
            /* null means absent */
            return props[i].value.type == LSC_VAL_NULL ? NULL
                                                        : &props[i].value;
        }
    }
    return NULL;
}

static inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* s (any case) equals lowered literal l */
static bool ieq(const char *s, size_t sl, const char *l, size_t ll)
{
    if (sl != ll) {
        return false;
    }
    for (size_t i = 0; i < sl; i++) {
        if (lower(s[i]) != l[i]) {
            return false;
        }
    }
    return true;
}

/* s (any case) contains lowered literal l */
static bool icontains(const char *s, size_t sl, const char *l, size_t ll)
{
    if (ll > sl) {
        return false;
    }
    if (ll == 0) {
        return true;
    }
    for (size_t i = 0; i + ll <= sl; i++) {
        /* the first byte rejects most positions */
        if (lower(s[i]) == l[0] && ieq(s + i + 1, ll - 1, l + 1, ll - 1)) {
            return true;
        }
    }
    return false;
}

/* A JSON number, or a string that parses fully as a finite number. */
static bool numeric(const struct lsc_value *v, double *out)
{
    if (v->type == LSC_VAL_NUMBER) {
        *out = v->u.num;
        return true;
    }
    if (v->type != LSC_VAL_STRING || v->u.str.len == 0 ||
        v->u.str.len > 64 || strlen(v->u.str.ptr) != v->u.str.len) {
        return false;
    }
    const char *s = v->u.str.ptr;
    char c = s[0];
    if (!(c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'))) {
        return false; /* no leading blanks, no "inf"/"nan" */
    }
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == 'x' || s[i] == 'X') {
            return false; /* no hex */
        }
    }
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(x)) {
        return false;
    }
    *out = x;
    return true;
}

/* v's string (any case; `head`: its first bytes lowered, see
 * value_head) equals lowered literal l. */
static inline bool str_eq(const struct lsc_value *v, uint64_t head,
                          const struct model_value *l)
{
    return v->u.str.len == l->len && head == l->head &&
           (l->len <= 8 ||
            ieq(v->u.str.ptr + 8, l->len - 8, l->str + 8, l->len - 8));
}

/* 1: equal, 0: not equal, -1: not comparable (wrong type).  `head`: as
 * for str_eq when v is a string. */
static int compare(const struct lsc_value *v, uint64_t head,
                   const struct model_value *lit)
{
    switch (lit->type) {
    case LSC_VAL_STRING:
        if (v->type != LSC_VAL_STRING) {
            return -1;
        }
        return str_eq(v, head, lit);
    case LSC_VAL_NUMBER: {
        double x;
        if (!numeric(v, &x)) {
            return -1;
        }
        return x == lit->num;
    }
    case LSC_VAL_BOOL:
        if (v->type != LSC_VAL_BOOL) {
            return -1;
        }
        return v->u.boolean == lit->boolean;
    case LSC_VAL_NULL:
    case LSC_VAL_JSON:
        break;
    }
    return -1;
}

/* The properties of one event, each model field looked up at most once
 * (conditions of many rules often test the same field). */
struct pview {
    const struct lsc_prop *props;
    size_t n;
    uint64_t known; /* bit f: v[f] is looked up */
    uint64_t lowered; /* bit f: low[f] holds v[f] lowered */
    uint64_t headed;  /* bit f: head[f] holds value_head(v[f]) */
    uint64_t head[64];
    const struct lsc_value *v[64];
    const char *low[64];
    size_t used;      /* bytes of buf taken by low[] */
    char buf[1024];
};

static void pview_init(struct pview *pv, const struct lsc_prop *props,
                       size_t n)
{
    pv->props = props;
    pv->n = n;
    pv->known = 0;
    pv->lowered = 0;
    pv->headed = 0;
    pv->used = 0;
}

#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline const struct lsc_value *field_value(struct pview *pv,
                                                  const struct model_cond *c)
{
    uint32_t f = c->field_id;
    if (f >= 64) {
        return lookup(pv->props, pv->n, c->field);
    }
    if ((pv->known >> f & 1u) == 0) {
        pv->v[f] = lookup(pv->props, pv->n, c->field);
        pv->known |= (uint64_t)1 << f;
    }
    return pv->v[f];
}

/* The string value v of c's field ASCII-lowered, kept for the other
 * conditions on that field; NULL when it does not fit the buffer. */
static const char *field_lower(struct pview *pv, const struct model_cond *c,
                               const struct lsc_value *v)
{
    uint32_t f = c->field_id;
    if (f >= 64) {
        return NULL;
    }
    if ((pv->lowered >> f & 1u) == 0) {
        size_t len = v->u.str.len;
        if (len > sizeof pv->buf - pv->used) {
            return NULL;
        }
        char *d = pv->buf + pv->used;
        for (size_t i = 0; i < len; i++) {
            d[i] = lower(v->u.str.ptr[i]);
        }
        pv->used += len;
        pv->low[f] = d;
        pv->lowered |= (uint64_t)1 << f;
    }
    return pv->low[f];
}

/* The first min(len, 8) bytes of string v, ASCII-lowered, zero-padded. */
static inline uint64_t value_head(const struct lsc_value *v)
{
    uint64_t h = 0;
    size_t n = v->u.str.len < 8 ? v->u.str.len : 8;
    for (size_t i = 0; i < n; i++) {
        h |= (uint64_t)(unsigned char)lower(v->u.str.ptr[i]) << (8 * i);
    }
    return h;
}

/* value_head of string v, the value of c's field, kept for the other
 * conditions on that field. */
static inline uint64_t field_head(struct pview *pv, const struct model_cond *c,
                                  const struct lsc_value *v)
{
    uint32_t f = c->field_id;
    if (f >= 64) {
        return value_head(v);
    }
    if ((pv->headed >> f & 1u) == 0) {
        pv->head[f] = value_head(v);
        pv->headed |= (uint64_t)1 << f;
    }
    return pv->head[f];
}

/* lowered s contains lowered literal l: memchr finds the candidates */
static bool contains(const char *s, size_t sl, const char *l, size_t ll)
{
    if (ll == 0) {
        return true;
    }
    if (ll > sl) {
        return false;
    }
    const char *p = s, *last = s + (sl - ll);
    while (p <= last &&
           (p = memchr(p, l[0], (size_t)(last - p) + 1)) != NULL) {
        if (memcmp(p + 1, l + 1, ll - 1) == 0) {
            return true;
        }
        p++;
    }
    return false;
}

/* Condition c on the value v of its field (NULL: missing or null); pv:
 * the event's properties, for the lowered forms of v it keeps. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline bool cond_on(const struct model_cond *c, const struct lsc_value *v,
                           struct pview *pv)
{
    if (c->op == MOP_NOT_EXISTS) {
        return v == NULL;
    }
    if (v == NULL) {
        return false; /* a missing field makes every other op false */
    }
    double x;
    const char *low;
    uint64_t head = 0;
    switch (c->op) {
    case MOP_EXISTS:
        return true;
    case MOP_EQ:
    case MOP_NE:
        if (c->n_vals != 1) {
            return false;
        }
        if (v->type == LSC_VAL_STRING) {
            head = field_head(pv, c, v);
        }
        return compare(v, head, &c->vals[0]) == (c->op == MOP_EQ ? 1 : 0);
    case MOP_IN:
        if (v->type == LSC_VAL_STRING) {
            head = field_head(pv, c, v);
        }
        for (size_t i = 0; i < c->n_vals; i++) {
            const struct model_value *l = &c->vals[i];
            if (l->type == LSC_VAL_STRING) {
                /* the usual list of strings: length and head settle most */
                if (v->type == LSC_VAL_STRING && str_eq(v, head, l)) {
                    return true;
                }
            } else if (compare(v, head, l) == 1) {
                return true;
            }
        }
        return false;
    case MOP_NOT_IN: {
        if (v->type == LSC_VAL_JSON) {
            return false;
        }
        if (v->type == LSC_VAL_STRING) {
            head = field_head(pv, c, v);
        }
        bool comparable = c->n_vals == 0;
        for (size_t i = 0; i < c->n_vals; i++) {
            int r = compare(v, head, &c->vals[i]);
            if (r == 1) {
                return false;
            }
            comparable |= r == 0;
        }
        return comparable;
    }
    case MOP_CONTAINS_ANY:
        if (v->type != LSC_VAL_STRING) {
            return false;
        }
        low = field_lower(pv, c, v);
        for (size_t i = 0; i < c->n_vals; i++) {
            if (low != NULL ? contains(low, v->u.str.len, c->vals[i].str,
                                       c->vals[i].len)
                            : icontains(v->u.str.ptr, v->u.str.len,
                                        c->vals[i].str, c->vals[i].len)) {
                return true;
            }
        }
        return false;
    case MOP_PREFIX: {
        if (v->type != LSC_VAL_STRING || c->n_vals != 1 ||
            v->u.str.len < c->vals[0].len) {
            return false;
        }
        /* the value's lowered head (kept for the field's other rules,
         * e.g. the URL prefixes of page views) settles 8 bytes at once */
        const struct model_value *l = &c->vals[0];
        size_t hn = l->len < 8 ? l->len : 8;
        uint64_t mask = hn == 8 ? ~(uint64_t)0 : ((uint64_t)1 << (8 * hn)) - 1;
        return (field_head(pv, c, v) & mask) == l->head &&
               (l->len <= 8 ||
                ieq(v->u.str.ptr + 8, l->len - 8, l->str + 8, l->len - 8));
    }
    case MOP_SUFFIX:
        return v->type == LSC_VAL_STRING && c->n_vals == 1 &&
               v->u.str.len >= c->vals[0].len &&
               ieq(v->u.str.ptr + v->u.str.len - c->vals[0].len,
                   c->vals[0].len, c->vals[0].str, c->vals[0].len);
    case MOP_GT:
        return numeric(v, &x) && x > c->lo;
    case MOP_GTE:
        return numeric(v, &x) && x >= c->lo;
    case MOP_LT:
        return numeric(v, &x) && x < c->lo;
    case MOP_LTE:
        return numeric(v, &x) && x <= c->lo;
    case MOP_BETWEEN:
        return numeric(v, &x) && c->lo <= x && x <= c->hi;
    case MOP_EMAIL_DOMAIN_IN: {
        if (v->type != LSC_VAL_STRING) {
            return false;
        }
        const char *s = v->u.str.ptr;
        size_t at = v->u.str.len;
        while (at > 0 && s[at - 1] != '@') {
            at--;
        }
        if (at == 0) {
            return false; /* no '@' */
        }
        for (size_t i = 0; i < c->n_vals; i++) {
            if (ieq(s + at, v->u.str.len - at, c->vals[i].str,
                    c->vals[i].len)) {
                return true;
            }
        }
        return false;
    }
    case MOP_NOT_EXISTS:
        break;
    }
    return false;
}

bool engine_cond_holds(const struct model_cond *c,
                       const struct lsc_prop *props, size_t n)
{
    struct pview pv;
    pview_init(&pv, props, n);
    return cond_on(c, field_value(&pv, c), &pv);
}

/* Inlined into its loops: one call per rule was a tenth of its cost. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline bool rule_holds(const struct model_rule *r, struct pview *pv)
{
    for (size_t i = 0; i < r->n_conds; i++) {
        const struct model_cond *c = &r->conds[i];
        if (!cond_on(c, field_value(pv, c), pv)) {
            return false;
        }
    }
    return true;
}

bool engine_rule_holds(const struct model_rule *r,
                       const struct lsc_prop *props, size_t n)
{
    struct pview pv;
    pview_init(&pv, props, n);
    return rule_holds(r, &pv);
}

/* ---- awards and decay ---------------------------------------------------- */

/* Adds p awarded at t to an accumulator referenced at its latest award:
 * everything is kept as the worth at *ref, so factors stay <= 1. */
static void accumulate(double *acc, int64_t *ref, double p, int64_t t,
                       int64_t hl)
{
    if (*ref == INT64_MIN) {
        *acc = p;
        *ref = t;
    } else if (hl == 0) {
        *acc += p;
        if (t > *ref) {
            *ref = t;
        }
    } else if (t > *ref) {
        *acc = *acc * exp2(-(double)(t - *ref) / (double)hl) + p;
        *ref = t;
    } else {
        *acc += p * exp2(-(double)(*ref - t) / (double)hl);
    }
}

double engine_worth(double acc, int64_t ref, int64_t at, int64_t hl)
{
    if (acc == 0 || hl == 0 || at <= ref) {
        return acc;
    }
    return acc * exp2(-(double)(at - ref) / (double)hl);
}

void engine_fit(const struct model *m, struct state_model *sm,
                const struct lsc_prop *props, size_t n, uint64_t props_hash,
                bool *holds)
{
    for (size_t g = 0; g < m->n_groups; g++) {
        sm->groups[g].fit = 0;
    }
    struct pview pv;
    pview_init(&pv, props, n);
    uint64_t bits = 0;
    for (size_t i = 0; i < m->n_fit_rules; i++) {
        const struct model_rule *r = &m->rules[m->fit_rules[i]];
        bool h = rule_holds(r, &pv);
        if (h) {
            sm->groups[r->group].fit += r->points;
            bits |= (uint64_t)1 << (i & 63);
        }
        if (holds != NULL) {
            holds[m->fit_rules[i]] = h;
        }
    }
    sm->need_fit = false;
    sm->fit_cached = m->n_fit_rules <= STATE_FIT_BITS;
    sm->props_hash = props_hash;
    sm->fit_holds = sm->fit_cached ? bits : 0;
}

/* One step of the props hash: w mixed into h. */
static inline uint64_t hash_step(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

/* n bytes of s, eight at a time, then their length.  The tail is read
 * with fixed-size loads that may overlap bytes already read (wyhash's
 * way): a memcpy of a variable length would be a call. */
static uint64_t hash_bytes(uint64_t h, const char *s, size_t n)
{
    size_t i = 0;
    uint64_t w;
    for (; n - i > 8; i += 8) {
        memcpy(&w, s + i, sizeof w);
        h = hash_step(h, w);
    }
    if (n >= 8) {
        memcpy(&w, s + n - 8, sizeof w);
    } else if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, sizeof lo);
        memcpy(&hi, s + n - 4, sizeof hi);
        w = (uint64_t)lo << 32 | hi;
    } else if (n > 0) {
        w = (uint64_t)(unsigned char)s[0] << 16 |
            (uint64_t)(unsigned char)s[n / 2] << 8 | (unsigned char)s[n - 1];
    } else {
        w = 0;
    }
    return hash_step(hash_step(h, w), n);
}

uint64_t engine_props_hash(const struct lsc_prop *props, size_t n)
{
    uint64_t h = 0x6c73635f70726f70ULL ^ n;
    for (size_t i = 0; i < n; i++) {
        const struct lsc_prop *p = &props[i];
        const char *k = p->key != NULL ? p->key : "";
        h = hash_bytes(h, k, strlen(k));
        h = hash_step(h, (uint64_t)p->value.type);
        switch (p->value.type) {
        case LSC_VAL_STRING:
        case LSC_VAL_JSON:
            h = hash_bytes(h, p->value.u.str.ptr != NULL ? p->value.u.str.ptr
                                                          : "",
                           p->value.u.str.ptr != NULL ? p->value.u.str.len
                                                      : 0);
            break;
        case LSC_VAL_NUMBER: {
            uint64_t w;
            memcpy(&w, &p->value.u.num, sizeof w);
            h = hash_step(h, w);
            break;
        }
        case LSC_VAL_BOOL:
            h = hash_step(h, p->value.u.boolean ? 1 : 0);
            break;
        case LSC_VAL_NULL:
            break;
        }
    }
    /* splitmix64's finalizer: every input bit reaches every output bit */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

void engine_rebuild(const struct model *m, struct state_model *sm)
{
    for (size_t g = 0; g < m->n_groups; g++) {
        sm->groups[g].acc = 0;
        sm->groups[g].ref = INT64_MIN;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < sm->n_awards; i++) {
        const struct state_award *a = &sm->awards[i];
        long r = model_rule_by_hash(m, a->hash);
        if (r < 0) {
            continue; /* the rule is gone: its awards no longer count */
        }
        struct state_group *g = &sm->groups[m->rules[r].group];
        accumulate(&g->acc, &g->ref, a->acc, a->last,
                   m->groups[m->rules[r].group].half_life_ms);
        sm->awards[k++] = *a;
    }
    sm->n_awards = k;
    sm->stale = false;
}

/* Position of the award record with hash h, or where to insert it. */
static uint32_t find_award(const struct state_model *sm, uint32_t h)
{
    uint32_t lo = 0, hi = sm->n_awards;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sm->awards[mid].hash < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* |a - b| without signed overflow. */
static uint64_t distance(int64_t a, int64_t b)
{
    return a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
}

unsigned engine_activity(const struct model *m, struct state_model *sm,
                         const char *type, const struct lsc_prop *props,
                         size_t n, int64_t t)
{
    const struct model_evtype *et = model_find_event(m, type);
    if (et == NULL) {
        return 0;
    }
    unsigned made = 0;
    struct pview pv;
    pview_init(&pv, props, n);
    for (uint32_t i = 0; i < et->n_rules; i++) {
        const struct model_rule *r = &m->rules[et->rules[i]];
        if (!rule_holds(r, &pv)) {
            continue;
        }
        uint32_t pos = find_award(sm, r->id_hash);
        bool have = pos < sm->n_awards && sm->awards[pos].hash == r->id_hash;
        if (have) {
            const struct state_award *a = &sm->awards[pos];
            if (r->max_awards != 0 && a->count >= r->max_awards) {
                continue;
            }
            if (r->cooldown_ms != 0 &&
                distance(t, a->last) < (uint64_t)r->cooldown_ms) {
                continue;
            }
        } else {
            if (sm->n_awards >= sm->cap_awards) {
                continue; /* cannot happen: the caller reserved room */
            }
            memmove(&sm->awards[pos + 1], &sm->awards[pos],
                    (sm->n_awards - pos) * sizeof *sm->awards);
            sm->awards[pos] = (struct state_award){
                .hash = r->id_hash, .last = INT64_MIN};
            sm->n_awards++;
        }
        struct state_award *a = &sm->awards[pos];
        a->raw_len = 0; /* changed: state_encode encodes it */
        int64_t hl = m->groups[r->group].half_life_ms;
        accumulate(&a->acc, &a->last, r->points, t, hl);
        a->count += a->count < UINT32_MAX;
        a->sum += r->points;
        struct state_group *g = &sm->groups[r->group];
        accumulate(&g->acc, &g->ref, r->points, t, hl);
        made++;
    }
    return made;
}

/* ---- score and tier ------------------------------------------------------ */

/* A group's contribution from its raw value. */
static double cap(const struct model_group *g, double raw)
{
    return g->has_max && raw > g->max ? g->max : raw;
}

double engine_total(const struct model *m, const struct state_model *sm,
                    int64_t at, double *value, double *raw)
{
    double s = 0;
    for (size_t i = 0; i < m->n_groups; i++) {
        const struct state_group *g = &sm->groups[i];
        double r = g->fit + engine_worth(g->acc, g->ref, at,
                                         m->groups[i].half_life_ms);
        double v = cap(&m->groups[i], r);
        if (value != NULL) {
            value[i] = v;
        }
        if (raw != NULL) {
            raw[i] = r;
        }
        s += v;
    }
    return s;
}

int engine_score(const struct model *m, double total)
{
    double x = floor(total + 0.5);
    if (!(x > 0)) {
        return 0;
    }
    if (x > (double)m->scale_max) {
        return m->scale_max;
    }
    return (int)x;
}

long engine_tier(const struct model *m, int score, long prev)
{
    long c = 0;
    for (size_t i = 1; i < m->n_tiers; i++) {
        if (m->tiers[i].min <= (double)score) {
            c = (long)i;
        }
    }
    if (prev >= 0 && (size_t)prev < m->n_tiers && c < prev &&
        (double)score >= m->tiers[prev].min - m->hysteresis) {
        return prev; /* hysteresis: stay */
    }
    return c;
}

long engine_tier_index(const struct model *m, uint64_t key)
{
    for (size_t i = 0; i < m->n_tiers; i++) {
        if (m->tiers[i].key == key) {
            return (long)i;
        }
    }
    return -1;
}

/*
 * Wake time: a lower bound of the first time decay changes the tier.
 * Decaying groups split in D (positive awards: falling) and I (negative
 * awards: rising toward 0); the others are constant (C).  A drop needs
 * S < the tier's floor, an upgrade S >= the next tier's min.  Since D falls
 * and I rises, S(T) >= C + D(T) + I(now) =: L(T) and S(T) <= C + D(now) +
 * I(T) =: U(T), both monotone, so the crossing times of L and U are lower
 * bounds.  With k = 2^(-x/hl_min), each D group's excess over its limit is
 * at least its excess now times k, and each I group's deficit at least
 * |w| k minus the part hidden above its max, which gives closed forms: exact
 * for one uncapped decaying group (the usual model: one log2 per event),
 * otherwise refined by bisection on L or U.
 */
enum { WAKE_C, WAKE_D, WAKE_I };

struct wake_ctx {
    const struct model *m;
    const struct state_model *sm;
    const uint8_t *cls;
    double base; /* C + the other side at `at` */
};

/* Sum of the contributions of the groups of class `c` at T. */
static double side(const struct wake_ctx *w, int c, int64_t T)
{
    double s = w->base;
    for (size_t i = 0; i < w->m->n_groups; i++) {
        if (w->cls[i] == c) {
            const struct state_group *g = &w->sm->groups[i];
            s += cap(&w->m->groups[i],
                     g->fit + engine_worth(g->acc, g->ref, T,
                                           w->m->groups[i].half_life_ms));
        }
    }
    return s;
}

static bool crossed(const struct wake_ctx *w, int c, int64_t T, double thr)
{
    double v = side(w, c, T);
    return c == WAKE_D ? v < thr : v >= thr;
}

/* A lower bound, within 1/128 of the remaining time (and 1 s), of the
 * first ms after `lo` (where the side has not crossed) at which it has:
 * a few evaluations per event, and a host wake rarely comes early. */
static int64_t bisect(const struct wake_ctx *w, int c, int64_t at,
                      int64_t lo, double thr, double step)
{
    if (crossed(w, c, lo, thr)) {
        return lo;
    }
    int64_t hi = lo;
    for (int i = 0;; i++) {
        double h = (double)lo + step;
        if (i == 62 || !(h < 9.2e18)) {
            return INT64_MAX;
        }
        hi = (int64_t)h;
        if (crossed(w, c, hi, thr)) {
            break;
        }
        lo = hi;
        step *= 2;
    }
    while (hi - lo > 1000 && hi - lo > (hi - at) / 128) {
        int64_t mid = lo + (hi - lo) / 2;
        if (crossed(w, c, mid, thr)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    return lo + 1;
}

/* One bound from `at`; *exact when it is the crossing itself, *falling
 * when no group rises (the score can then only fall after `at`).  `rough`:
 * when falling, skip the bisection (the closed-form bound only). */
static int64_t wake_from(const struct model *m, const struct state_model *sm,
                         int64_t at, long tier, bool *exact, bool *falling,
                         bool rough)
{
    uint8_t cls[MODEL_MAX_GROUPS];
    double C = 0, Dinf = 0, E = 0, hlD = INFINITY, hlDmax = 0;
    double Dnow = 0, Inow = 0, Iinf = 0, Delta = 0, W = 0, hlI = INFINITY;
    double hlImax = 0;
    int nD = 0, nI = 0;
    bool exactD = true, exactI = true;
    for (size_t i = 0; i < m->n_groups; i++) {
        const struct model_group *mg = &m->groups[i];
        const struct state_group *g = &sm->groups[i];
        double w = engine_worth(g->acc, g->ref, at, mg->half_life_ms);
        double now = cap(mg, g->fit + w);
        double lim = cap(mg, g->fit);
        double hl = (double)mg->half_life_ms;
        cls[i] = WAKE_C;
        if (mg->half_life_ms == 0 || w == 0) {
            C += now;
        } else if (w > 0) {
            cls[i] = WAKE_D;
            nD++;
            Dnow += now;
            Dinf += lim;
            if (now > lim) {
                E += now - lim;
                hlD = fmin(hlD, hl);
            }
            hlDmax = fmax(hlDmax, hl);
            exactD &= !mg->has_max || g->fit + w <= mg->max;
        } else if (mg->has_max && g->fit + w >= mg->max) {
            C += now; /* saturated and rising: stays at max */
        } else {
            cls[i] = WAKE_I;
            nI++;
            Inow += now;
            Iinf += lim;
            Delta += (mg->has_max && g->fit > mg->max) ? g->fit - mg->max : 0;
            W += -w;
            hlI = fmin(hlI, hl);
            hlImax = fmax(hlImax, hl);
        }
    }
    exactD &= nD == 1;
    exactI &= nI == 1 && Delta == 0;
    *exact = (nD == 0 || exactD) && (nI == 0 || exactI);
    *falling = nI == 0;
    int64_t wake = INT64_MAX;
    const struct model_tier *P = &m->tiers[tier];
    double lo = P->min - m->hysteresis;
    if (lo > 0 && E > 0) {
        double thr = ceil(lo) - 0.5;
        double y = thr - C - Dinf - Inow;
        if (y > 0) {
            double x = E <= y ? 0 : hlD * log2(E / y);
            double t = floor((double)at + x);
            if (!(t < 9.2e18)) {
                /* beyond any clock */
            } else if (exactD) {
                wake = (int64_t)t + 1; /* S < thr strictly after */
            } else if (rough && nI == 0) {
                wake = (int64_t)t; /* wake_falling takes it from here */
            } else {
                struct wake_ctx w = {m, sm, cls, C + Inow};
                wake = bisect(&w, WAKE_D, at, (int64_t)t, thr, hlDmax);
            }
        }
    }
    if ((size_t)tier + 1 < m->n_tiers && W > 0) {
        double nm = ceil(m->tiers[tier + 1].min);
        if (nm <= (double)m->scale_max) {
            double thr = nm - 0.5;
            double z = thr - C - Dnow - Iinf - Delta;
            if (z < 0) {
                double x = W <= -z ? 0 : hlI * log2(W / -z);
                double t = (double)at + x;
                int64_t u = INT64_MAX;
                if (!(t < 9.2e18)) {
                    /* beyond any clock */
                } else if (exactI) {
                    u = (int64_t)ceil(t); /* S >= thr from then on */
                } else {
                    struct wake_ctx w = {m, sm, cls, C + Dnow};
                    u = bisect(&w, WAKE_I, at, (int64_t)floor(t), thr, hlImax);
                }
                wake = u < wake ? u : wake;
            }
        }
    }
    if (wake == INT64_MAX) {
        return INT64_MAX;
    }
    return wake > at ? wake : at + 1;
}

/* True when the tier evaluated at T differs from `tier`. */
static bool tier_changed(const struct model *m, const struct state_model *sm,
                         int64_t T, long tier)
{
    int score = engine_score(m, engine_total(m, sm, T, NULL, NULL));
    return engine_tier(m, score, tier) != tier;
}

/*
 * The exact first ms after `at` at which the tier changes, when no group
 * rises (so the tier can only drop, at one crossing), from `from`, a lower
 * bound of it; 0 when this cannot tell (the caller then bisects).  Newton
 * steps on the smooth sum from below: between the times capped groups
 * start to decay the sum is convex, so steps stopped at those times never
 * pass the crossing.  The estimate is then confirmed with the engine's own
 * evaluation at c - 1 and c: a few exp2 instead of dozens of bisection
 * evaluations, and the host is not woken early.
 */
static int64_t wake_falling(const struct model *m,
                            const struct state_model *sm, int64_t at,
                            int64_t from, long tier)
{
    double thr = ceil(m->tiers[tier].min - m->hysteresis) - 0.5;
    double T = (double)from;
    /* What the steps do not change, once: 1/hl (a step is an estimate,
     * confirmed below by the engine's own evaluation, so it may round
     * differently from the division) and, when first needed, the time a
     * capped group starts to decay (NAN: not computed yet). */
    double inv_hl[MODEL_MAX_GROUPS], uncap_at[MODEL_MAX_GROUPS];
    for (size_t i = 0; i < m->n_groups; i++) {
        int64_t hl = m->groups[i].half_life_ms;
        inv_hl[i] = hl != 0 ? 1.0 / (double)hl : 0;
        uncap_at[i] = NAN;
    }
    for (int it = 0; it < 40; it++) {
        double f = -thr, slope = 0, uncap = INFINITY;
        for (size_t i = 0; i < m->n_groups; i++) {
            const struct model_group *mg = &m->groups[i];
            const struct state_group *g = &sm->groups[i];
            double w = g->acc;
            if (mg->half_life_ms != 0 && w != 0 && T > (double)g->ref) {
                w *= exp2(-(T - (double)g->ref) * inv_hl[i]);
            }
            double v = g->fit + w;
            if (mg->has_max && v > mg->max) {
                f += mg->max;
                if (mg->half_life_ms != 0 && w > 0 && mg->max > g->fit) {
                    if (isnan(uncap_at[i])) {
                        uncap_at[i] = (double)g->ref +
                                      (double)mg->half_life_ms *
                                          log2(g->acc / (mg->max - g->fit));
                    }
                    uncap = fmin(uncap, uncap_at[i]);
                }
            } else {
                f += v;
                if (mg->half_life_ms != 0 && w > 0) {
                    slope += w * inv_hl[i] * M_LN2;
                }
            }
        }
        if (f < 0) {
            break;
        }
        double next = slope > 0 ? T + f / slope : INFINITY;
        if (uncap > T && uncap < next) {
            next = uncap + 1; /* a cap lets go: re-linearize there */
        }
        if (!(next < 9.2e18)) {
            return 0;
        }
        double step = next - T;
        T = next;
        if (step < 0.25) {
            break;
        }
    }
    if (!(T < 9.2e18)) {
        return 0;
    }
    int64_t c = (int64_t)ceil(T);
    c = c > at ? c : at + 1;
    /* Each time is evaluated once: usually c (changed) and c - 1 (not). */
    bool ch = tier_changed(m, sm, c, tier);
    for (int k = 0; k < 4 && !ch; k++) {
        ch = tier_changed(m, sm, ++c, tier);
    }
    if (!ch) {
        return 0;
    }
    for (int k = 0; k <= 4; k++) {
        if (c - 1 <= at || !tier_changed(m, sm, c - 1, tier)) {
            return c;
        }
        if (k == 4) {
            return 0;
        }
        c--;
    }
    return 0;
}

int64_t engine_wake(const struct model *m, const struct state_model *sm,
                    int64_t at, long tier)
{
    if (tier < 0 || (size_t)tier >= m->n_tiers) {
        return INT64_MAX;
    }
    /* The usual cold contact: no drop below a floor <= 0 and no rising
     * group to lift it; known without an exp2. */
    if (m->tiers[tier].min - m->hysteresis <= 0) {
        bool rising = false;
        for (size_t i = 0; i < m->n_groups && !rising; i++) {
            rising = m->groups[i].half_life_ms != 0 && sm->groups[i].acc < 0;
        }
        if (!rising || (size_t)tier + 1 == m->n_tiers) {
            return INT64_MAX;
        }
    }
    /* Inexact bounds (several decaying groups, caps) are tightened by
     * restarting from the bound while the tier still holds there: a few
     * steps here save the host as many early wakes. */
    int64_t t = at;
    for (int k = 0;; k++) {
        bool exact, falling;
        int64_t n = wake_from(m, sm, t, tier, &exact, &falling, k == 0);
        if (exact || n == INT64_MAX) {
            return n;
        }
        if (falling && k == 0) {
            int64_t x = wake_falling(m, sm, at, n, tier);
            if (x != 0) {
                return x;
            }
            /* could not confirm: the bisection from the same start */
            n = wake_from(m, sm, t, tier, &exact, &falling, false);
        }
        if (k == 3) {
            return n;
        }
        int score = engine_score(m, engine_total(m, sm, n, NULL, NULL));
        if (engine_tier(m, score, tier) != tier) {
            return n;
        }
        t = n;
    }
}
