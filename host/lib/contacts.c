/*
 * In-memory contact store.
 *
 * Memory per contact: a 64-byte record (one cache line, the id inline
 * when shorter than ID_INLINE bytes, else in an arena), 8-byte hash slots
 * at load <= 0.75 (about 12 bytes), one packed property blob (key number
 * + type + value) and the state blob.  Keys are interned.
 *
 * A lookup touches the slot and the record only: with millions of
 * contacts each is a cache miss, so nothing else is chased.
 */
#include "contacts.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK_BITS 15 /* 2 MiB of records: one huge page */
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define ARENA_BLOCK (256u * 1024u)
#define HUGE_PAGE ((size_t)2 << 20)

#define ID_INLINE 24

/* The id comes first: string functions read it in 32-byte loads, which
 * from the end of the record would touch the next record's line (a cache
 * miss per comparison with a million contacts). */
struct hl_contact {
    union {
        char text[ID_INLINE]; /* id_inline: the id, NUL-terminated */
        const char *arena;    /* else: the id in the arena */
    } id;
    unsigned char *props;   /* packed blob (owned) or NULL */
    void *state;            /* owned or NULL; capacity state_cap(len) */
    int64_t wake_ms;
    uint32_t props_len;
    uint32_t state_len;
    uint32_t n_props;
    bool live;
    bool id_inline;
};

_Static_assert(sizeof(struct hl_contact) == 64, "a record is a cache line");

static const char *rec_id(const struct hl_contact *c)
{
    return c->id_inline ? c->id.text : c->id.arena;
}

struct slot {
    uint32_t rec;  /* record index + 1; 0 = empty */
    uint32_t hash;
};

struct arena_block {
    struct arena_block *next;
    size_t used;
    char data[];
};

/* Property and state blocks of up to POOL_MAX bytes, in 16-byte classes,
 * are carved from 2 MiB slabs on huge pages (a million contacts' blocks
 * are read at random, and malloc's heap has 4 KiB pages); a freed block
 * waits in its class's free list for the next one of that size.  The
 * caller gives a block's size back when it frees it. */
#define POOL_MAX 1024
#define POOL_CLASSES (POOL_MAX / 16)

struct pool {
    void *free[POOL_CLASSES]; /* each free block starts with the next */
    unsigned char *slab;      /* the slab being carved; its first 16
                                 bytes link the slabs */
    size_t used;
};

struct hl_contacts {
    struct pool pool;
    struct hl_contact **chunks;
    size_t n_chunks;
    uint32_t n_recs;        /* records ever used (high-water mark) */
    uint32_t *free_recs;    /* erased record indices to reuse */
    size_t n_free, free_cap;
    size_t live;

    struct slot *slots;
    size_t n_slots;         /* power of two */

    struct arena_block *arena;
    size_t arena_bytes;

    /* Interned keys: key number -> text, and a hash index. */
    char **keys;
    uint32_t n_keys, keys_cap;
    struct slot *key_slots;
    size_t n_key_slots;

    /* Undo of the last merge. */
    struct hl_contact *undo_rec;
    unsigned char *undo_props;
    uint32_t undo_len, undo_n;

    /* Scratch for hl_contacts_props and merges. */
    struct lsc_prop *out;
    size_t out_cap;
    uint32_t *upd_keys;
    size_t upd_cap;
    unsigned char *build;
    size_t build_cap;
    size_t blob_bytes;
};

uint64_t hl_hash64(const void *data, size_t len)
{
    /* FNV-1a, then a splitmix64 finalizer to spread the low bits. */
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

struct hl_contacts *hl_contacts_create(void)
{
    struct hl_contacts *cs = calloc(1, sizeof *cs);
    if (cs == NULL) {
        return NULL;
    }
    cs->n_slots = 1024;
    cs->slots = calloc(cs->n_slots, sizeof *cs->slots);
    cs->n_key_slots = 64;
    cs->key_slots = calloc(cs->n_key_slots, sizeof *cs->key_slots);
    if (cs->slots == NULL || cs->key_slots == NULL) {
        hl_contacts_destroy(cs);
        return NULL;
    }
    return cs;
}

static struct hl_contact *rec_at(const struct hl_contacts *cs, uint32_t i)
{
    return &cs->chunks[i >> CHUNK_BITS][i & (CHUNK_SIZE - 1)];
}

/* ---- Block pool (see struct pool) -------------------------------------- */

static void *pool_alloc(struct hl_contacts *cs, size_t n)
{
    if (n > POOL_MAX) {
        return malloc(n);
    }
    struct pool *pl = &cs->pool;
    size_t k = n <= 16 ? 0 : (n - 1) / 16, size = (k + 1) * 16;
    void *b = pl->free[k];
    if (b != NULL) {
        memcpy(&pl->free[k], b, sizeof(void *));
        return b;
    }
    if (pl->slab == NULL || pl->used + size > HUGE_PAGE) {
        unsigned char *slab = aligned_alloc(HUGE_PAGE, HUGE_PAGE);
        if (slab == NULL) {
            return NULL;
        }
        hl_hugepage_hint(slab, HUGE_PAGE);
        memcpy(slab, &pl->slab, sizeof pl->slab);
        pl->slab = slab;
        pl->used = 16;
    }
    b = pl->slab + pl->used;
    pl->used += size;
    return b;
}

/* Frees block b of n bytes (as allocated); accepts NULL. */
static void pool_free(struct hl_contacts *cs, void *b, size_t n)
{
    if (b == NULL) {
        return;
    }
    if (n > POOL_MAX) {
        free(b);
        return;
    }
    struct pool *pl = &cs->pool;
    size_t k = n <= 16 ? 0 : (n - 1) / 16;
    memcpy(b, &pl->free[k], sizeof(void *));
    pl->free[k] = b;
}

static void pool_destroy(struct pool *pl)
{
    while (pl->slab != NULL) {
        unsigned char *next;
        memcpy(&next, pl->slab, sizeof next);
        free(pl->slab);
        pl->slab = next;
    }
}

/* Bytes allocated for a state of len bytes: its pool class, so a state
 * that grows by a few bytes is rewritten in place. */
static size_t state_cap(size_t len)
{
    return len <= POOL_MAX ? (len + 15) & ~(size_t)15 : len;
}

void hl_contacts_destroy(struct hl_contacts *cs)
{
    if (cs == NULL) {
        return;
    }
    hl_contacts_commit(cs);
    for (uint32_t i = 0; i < cs->n_recs; i++) {
        struct hl_contact *c = rec_at(cs, i);
        pool_free(cs, c->props, c->props_len);
        pool_free(cs, c->state, state_cap(c->state_len));
    }
    pool_destroy(&cs->pool);
    for (size_t i = 0; i < cs->n_chunks; i++) {
        free(cs->chunks[i]);
    }
    free(cs->chunks);
    free(cs->free_recs);
    free(cs->slots);
    while (cs->arena != NULL) {
        struct arena_block *b = cs->arena;
        cs->arena = b->next;
        free(b);
    }
    for (uint32_t i = 0; i < cs->n_keys; i++) {
        free(cs->keys[i]);
    }
    free(cs->keys);
    free(cs->key_slots);
    free(cs->out);
    free(cs->upd_keys);
    free(cs->build);
    free(cs);
}

static const char *arena_strdup(struct hl_contacts *cs, const char *s,
                                size_t len)
{
    struct arena_block *b = cs->arena;
    if (b == NULL || b->used + len + 1 > ARENA_BLOCK) {
        size_t size = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
        b = malloc(sizeof *b + size);
        if (b == NULL) {
            return NULL;
        }
        b->next = cs->arena;
        b->used = 0;
        cs->arena = b;
        cs->arena_bytes += sizeof *b + size;
    }
    char *dst = b->data + b->used;
    memcpy(dst, s, len);
    dst[len] = '\0';
    b->used += len + 1;
    return dst;
}

/* ---- Contact hash table (linear probing, backward-shift delete) -------- */

static size_t find_slot(const struct hl_contacts *cs, const char *id,
                        uint32_t h, bool *found)
{
    size_t mask = cs->n_slots - 1;
    size_t i = h & mask;
    for (;;) {
        const struct slot *s = &cs->slots[i];
        if (s->rec == 0) {
            *found = false;
            return i;
        }
        if (s->hash == h && strcmp(rec_id(rec_at(cs, s->rec - 1)), id) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static bool grow_slots(struct hl_contacts *cs)
{
    size_t n = cs->n_slots * 2;
    struct slot *ns = calloc(n, sizeof *ns);
    if (ns == NULL) {
        return false;
    }
    hl_hugepage_hint(ns, n * sizeof *ns);
    for (size_t i = 0; i < cs->n_slots; i++) {
        struct slot s = cs->slots[i];
        if (s.rec == 0) {
            continue;
        }
        size_t j = s.hash & (n - 1);
        while (ns[j].rec != 0) {
            j = (j + 1) & (n - 1);
        }
        ns[j] = s;
    }
    free(cs->slots);
    cs->slots = ns;
    cs->n_slots = n;
    return true;
}

void hl_hugepage_hint(void *p, size_t n)
{
#if defined(MADV_HUGEPAGE)
    uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (hi > lo) {
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* a hint only */
    }
#else
    (void)p;
    (void)n;
#endif
}

uint64_t hl_contacts_hash(const char *id)
{
    return hl_hash64(id, strlen(id));
}

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

/* Prefetch the cache lines of n bytes from p, at most `max`.  From the
 * line p lies in: a block that starts mid-line ends on one line more than
 * n / 64 steps from p reach (its last line, where the award records are,
 * was missed). */
static void prefetch_bytes(const void *p, size_t n, size_t max)
{
    n = n < max ? n : max;
    if (n == 0) {
        return;
    }
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)63, end = (uintptr_t)p + n;
    for (; a < end; a += 64) {
        PREFETCH((const void *)a);
    }
}

void hl_contacts_prefetch(const struct hl_contacts *cs, uint64_t hash,
                          int stage)
{
    uint32_t h = (uint32_t)hash;
    size_t mask = cs->n_slots - 1;
    size_t i = h & mask;
    if (stage == 0) {
        PREFETCH(&cs->slots[i]);
        return;
    }
    /* The first slot with this hash: a hint needs no id comparison. */
    for (; cs->slots[i].rec != 0; i = (i + 1) & mask) {
        if (cs->slots[i].hash != h) {
            continue;
        }
        hl_contact_prefetch(rec_at(cs, cs->slots[i].rec - 1), stage - 1);
        return;
    }
}

void hl_contact_prefetch(const struct hl_contact *c, int stage)
{
    if (stage == 0) {
        PREFETCH(c);
    } else {
        prefetch_bytes(c->state, c->state_len, 1024);
        if (stage == 1) {
            prefetch_bytes(c->props, c->props_len, 256);
        }
    }
}

struct hl_contact *hl_contacts_find_h(struct hl_contacts *cs, const char *id,
                                      uint64_t hash)
{
    bool found;
    size_t i = find_slot(cs, id, (uint32_t)hash, &found);
    return found ? rec_at(cs, cs->slots[i].rec - 1) : NULL;
}

struct hl_contact *hl_contacts_find(struct hl_contacts *cs, const char *id)
{
    return hl_contacts_find_h(cs, id, hl_contacts_hash(id));
}

static bool new_record(struct hl_contacts *cs, uint32_t *idx)
{
    if (cs->n_free > 0) {
        *idx = cs->free_recs[--cs->n_free];
        return true;
    }
    if ((cs->n_recs >> CHUNK_BITS) >= cs->n_chunks) {
        struct hl_contact **ch =
            realloc(cs->chunks, (cs->n_chunks + 1) * sizeof *ch);
        if (ch == NULL) {
            return false;
        }
        cs->chunks = ch;
        /* Records on cache-line boundaries: a lookup misses once; the
         * chunk on a huge page boundary: one TLB entry for all. */
        size_t bytes = CHUNK_SIZE * sizeof **ch;
        ch[cs->n_chunks] = aligned_alloc(HUGE_PAGE, bytes);
        if (ch[cs->n_chunks] == NULL) {
            return false;
        }
        hl_hugepage_hint(ch[cs->n_chunks], bytes);
        memset(ch[cs->n_chunks], 0, bytes);
        cs->n_chunks++;
    }
    *idx = cs->n_recs++;
    return true;
}

enum lsc_status hl_contacts_upsert_h(struct hl_contacts *cs, const char *id,
                                     uint64_t hash, struct hl_contact **out,
                                     bool *created)
{
    uint32_t h = (uint32_t)hash;
    bool found;
    size_t i = find_slot(cs, id, h, &found);
    if (found) {
        *out = rec_at(cs, cs->slots[i].rec - 1);
        if (created != NULL) {
            *created = false;
        }
        return LSC_OK;
    }
    /* Keep the load factor <= 3/4. */
    if ((cs->live + 1) * 4 > cs->n_slots * 3) {
        if (!grow_slots(cs)) {
            return LSC_ERR_NOMEM;
        }
        i = find_slot(cs, id, h, &found);
    }
    size_t len = strlen(id);
    /* The id first: a failed record allocation only wastes arena bytes. */
    const char *copy = NULL;
    if (len >= ID_INLINE && (copy = arena_strdup(cs, id, len)) == NULL) {
        return LSC_ERR_NOMEM;
    }
    uint32_t idx;
    if (!new_record(cs, &idx)) {
        return LSC_ERR_NOMEM;
    }
    struct hl_contact *c = rec_at(cs, idx);
    *c = (struct hl_contact){.wake_ms = INT64_MAX, .live = true};
    if (len < ID_INLINE) {
        c->id_inline = true;
        memcpy(c->id.text, id, len + 1);
    } else {
        c->id.arena = copy;
    }
    cs->slots[i] = (struct slot){idx + 1, h};
    cs->live++;
    *out = c;
    if (created != NULL) {
        *created = true;
    }
    return LSC_OK;
}

enum lsc_status hl_contacts_upsert(struct hl_contacts *cs, const char *id,
                                   struct hl_contact **out, bool *created)
{
    return hl_contacts_upsert_h(cs, id, hl_contacts_hash(id), out, created);
}

static uint32_t rec_index(const struct hl_contacts *cs,
                          const struct hl_contact *c)
{
    for (size_t k = 0; k < cs->n_chunks; k++) {
        const struct hl_contact *base = cs->chunks[k];
        if (c >= base && c < base + CHUNK_SIZE) {
            return (uint32_t)((k << CHUNK_BITS) + (size_t)(c - base));
        }
    }
    return UINT32_MAX;
}

void hl_contacts_erase(struct hl_contacts *cs, struct hl_contact *c)
{
    if (c == NULL || !c->live) {
        return;
    }
    if (cs->undo_rec == c) {
        hl_contacts_commit(cs);
    }
    bool found;
    size_t i = find_slot(cs, rec_id(c), (uint32_t)hl_contacts_hash(rec_id(c)),
                         &found);
    if (!found) {
        return;
    }
    /* Backward-shift deletion keeps probe chains intact without
     * tombstones. */
    size_t mask = cs->n_slots - 1;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (cs->slots[j].rec == 0) {
            break;
        }
        size_t home = cs->slots[j].hash & mask;
        /* Move slot j into the hole at i when its home is not in (i, j]. */
        bool between = i <= j ? (home > i && home <= j)
                              : (home > i || home <= j);
        if (!between) {
            cs->slots[i] = cs->slots[j];
            i = j;
        }
    }
    cs->slots[i].rec = 0;
    cs->live--;
    cs->blob_bytes -= c->props_len + c->state_len;
    pool_free(cs, c->props, c->props_len);
    pool_free(cs, c->state, state_cap(c->state_len));
    c->props = NULL;
    c->state = NULL;
    c->props_len = c->state_len = c->n_props = 0;
    c->wake_ms = INT64_MAX; /* stale wake entries pointing here expire */
    c->live = false;
    /* A long id stays in the arena (erase is rare in a batch run). */
    uint32_t idx = rec_index(cs, c);
    if (cs->n_free == cs->free_cap) {
        size_t cap = cs->free_cap ? cs->free_cap * 2 : 64;
        uint32_t *f = realloc(cs->free_recs, cap * sizeof *f);
        if (f == NULL) {
            return; /* the record is just not reused */
        }
        cs->free_recs = f;
        cs->free_cap = cap;
    }
    cs->free_recs[cs->n_free++] = idx;
}

/* ---- Interned keys ------------------------------------------------------ */

static bool intern(struct hl_contacts *cs, const char *key, uint32_t *out)
{
    size_t len = strlen(key);
    uint32_t h = (uint32_t)hl_hash64(key, len);
    size_t mask = cs->n_key_slots - 1;
    size_t i = h & mask;
    while (cs->key_slots[i].rec != 0) {
        if (cs->key_slots[i].hash == h &&
            strcmp(cs->keys[cs->key_slots[i].rec - 1], key) == 0) {
            *out = cs->key_slots[i].rec - 1;
            return true;
        }
        i = (i + 1) & mask;
    }
    if (cs->n_keys == cs->keys_cap) {
        uint32_t cap = cs->keys_cap ? cs->keys_cap * 2 : 32;
        char **k = realloc(cs->keys, cap * sizeof *k);
        if (k == NULL) {
            return false;
        }
        cs->keys = k;
        cs->keys_cap = cap;
    }
    char *copy = strdup(key);
    if (copy == NULL) {
        return false;
    }
    cs->keys[cs->n_keys] = copy;
    cs->key_slots[i] = (struct slot){cs->n_keys + 1, h};
    *out = cs->n_keys++;
    if ((size_t)cs->n_keys * 2 > cs->n_key_slots) {
        size_t n = cs->n_key_slots * 2;
        struct slot *ns = calloc(n, sizeof *ns);
        if (ns == NULL) {
            return true; /* still correct, just fuller */
        }
        for (size_t k = 0; k < cs->n_key_slots; k++) {
            if (cs->key_slots[k].rec == 0) {
                continue;
            }
            size_t j = cs->key_slots[k].hash & (n - 1);
            while (ns[j].rec != 0) {
                j = (j + 1) & (n - 1);
            }
            ns[j] = cs->key_slots[k];
        }
        free(cs->key_slots);
        cs->key_slots = ns;
        cs->n_key_slots = n;
    }
    return true;
}

/* ---- Packed properties --------------------------------------------------
 * entry: u32 key | u8 type | NUMBER: 8-byte double | BOOL: 1 byte |
 *        STRING/JSON: u32 len, bytes, NUL */

static size_t entry_size(const unsigned char *e)
{
    switch ((enum lsc_value_type)e[4]) {
    case LSC_VAL_NUMBER:
        return 5 + 8;
    case LSC_VAL_BOOL:
        return 5 + 1;
    case LSC_VAL_STRING:
    case LSC_VAL_JSON: {
        uint32_t len;
        memcpy(&len, e + 5, 4);
        return 5 + 4 + (size_t)len + 1;
    }
    case LSC_VAL_NULL:
        break;
    }
    return 5;
}

static size_t value_size(const struct lsc_value *v)
{
    switch (v->type) {
    case LSC_VAL_NUMBER:
        return 5 + 8;
    case LSC_VAL_BOOL:
        return 5 + 1;
    case LSC_VAL_STRING:
    case LSC_VAL_JSON:
        return 5 + 4 + v->u.str.len + 1;
    case LSC_VAL_NULL:
        break;
    }
    return 0;
}

static bool build_reserve(struct hl_contacts *cs, size_t need)
{
    if (need <= cs->build_cap) {
        return true;
    }
    size_t cap = cs->build_cap ? cs->build_cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    unsigned char *b = realloc(cs->build, cap);
    if (b == NULL) {
        return false;
    }
    cs->build = b;
    cs->build_cap = cap;
    return true;
}

static unsigned char *put_value(unsigned char *w, uint32_t key,
                                const struct lsc_value *v)
{
    memcpy(w, &key, 4);
    w[4] = (unsigned char)v->type;
    w += 5;
    switch (v->type) {
    case LSC_VAL_NUMBER:
        memcpy(w, &v->u.num, 8);
        return w + 8;
    case LSC_VAL_BOOL:
        *w = v->u.boolean ? 1 : 0;
        return w + 1;
    case LSC_VAL_STRING:
    case LSC_VAL_JSON: {
        uint32_t len = (uint32_t)v->u.str.len;
        memcpy(w, &len, 4);
        if (len > 0) {
            memcpy(w + 4, v->u.str.ptr, len);
        }
        w[4 + len] = '\0';
        return w + 4 + len + 1;
    }
    case LSC_VAL_NULL:
        break;
    }
    return w;
}

void hl_contacts_commit(struct hl_contacts *cs)
{
    pool_free(cs, cs->undo_props, cs->undo_len);
    cs->undo_props = NULL;
    cs->undo_rec = NULL;
}

void hl_contacts_rollback(struct hl_contacts *cs)
{
    struct hl_contact *c = cs->undo_rec;
    if (c == NULL) {
        return;
    }
    cs->blob_bytes -= c->props_len;
    pool_free(cs, c->props, c->props_len);
    c->props = cs->undo_props;
    c->props_len = cs->undo_len;
    c->n_props = cs->undo_n;
    cs->blob_bytes += c->props_len;
    cs->undo_props = NULL;
    cs->undo_rec = NULL;
}

enum lsc_status hl_contacts_merge(struct hl_contacts *cs,
                                  struct hl_contact *c,
                                  const struct lsc_prop *props, size_t n)
{
    hl_contacts_commit(cs);
    if (n > cs->upd_cap) {
        uint32_t *k = realloc(cs->upd_keys, n * sizeof *k);
        if (k == NULL) {
            return LSC_ERR_NOMEM;
        }
        cs->upd_keys = k;
        cs->upd_cap = n;
    }
    size_t worst = c->props_len;
    for (size_t i = 0; i < n; i++) {
        if (props[i].key == NULL) {
            return LSC_ERR_INVALID_ARG;
        }
        if (!intern(cs, props[i].key, &cs->upd_keys[i])) {
            return LSC_ERR_NOMEM;
        }
        worst += value_size(&props[i].value);
    }
    if (!build_reserve(cs, worst + 1)) {
        return LSC_ERR_NOMEM;
    }
    /* A later duplicate key in the update wins. */
    unsigned char *w = cs->build;
    uint32_t count = 0;
    const unsigned char *e = c->props;
    const unsigned char *end = e != NULL ? e + c->props_len : NULL;
    /* Updates are small: linear scans beat building a set. */
    for (; e != NULL && e < end; e += entry_size(e)) {
        uint32_t key;
        memcpy(&key, e, 4);
        size_t hit = SIZE_MAX;
        for (size_t i = n; i-- > 0;) {
            if (cs->upd_keys[i] == key) {
                hit = i;
                break;
            }
        }
        if (hit == SIZE_MAX) {
            size_t sz = entry_size(e);
            memcpy(w, e, sz);
            w += sz;
            count++;
        } else if (props[hit].value.type != LSC_VAL_NULL) {
            w = put_value(w, key, &props[hit].value);
            count++;
        }
    }
    /* Append keys the contact did not have (last occurrence only). */
    for (size_t i = 0; i < n; i++) {
        if (props[i].value.type == LSC_VAL_NULL) {
            continue;
        }
        bool later = false;
        for (size_t j = i + 1; j < n && !later; j++) {
            later = cs->upd_keys[j] == cs->upd_keys[i];
        }
        if (later) {
            continue;
        }
        bool had = false;
        for (e = c->props; e != NULL && e < end && !had; e += entry_size(e)) {
            uint32_t key;
            memcpy(&key, e, 4);
            had = key == cs->upd_keys[i];
        }
        if (!had) {
            w = put_value(w, cs->upd_keys[i], &props[i].value);
            count++;
        }
    }
    size_t len = (size_t)(w - cs->build);
    unsigned char *blob = NULL;
    if (len > 0) {
        blob = pool_alloc(cs, len);
        if (blob == NULL) {
            return LSC_ERR_NOMEM;
        }
        memcpy(blob, cs->build, len);
    }
    cs->undo_rec = c;
    cs->undo_props = c->props;
    cs->undo_len = c->props_len;
    cs->undo_n = c->n_props;
    cs->blob_bytes += len;
    cs->blob_bytes -= c->props_len;
    c->props = blob;
    c->props_len = (uint32_t)len;
    c->n_props = count;
    return LSC_OK;
}

enum lsc_status hl_contacts_props(struct hl_contacts *cs,
                                  const struct hl_contact *c,
                                  const struct lsc_prop **props, size_t *n)
{
    if (c->n_props > cs->out_cap) {
        size_t cap = cs->out_cap ? cs->out_cap : 16;
        while (cap < c->n_props) {
            cap *= 2;
        }
        struct lsc_prop *o = realloc(cs->out, cap * sizeof *o);
        if (o == NULL) {
            return LSC_ERR_NOMEM;
        }
        cs->out = o;
        cs->out_cap = cap;
    }
    size_t k = 0;
    const unsigned char *e = c->props;
    const unsigned char *end = e != NULL ? e + c->props_len : NULL;
    for (; e != NULL && e < end; e += entry_size(e)) {
        struct lsc_prop *p = &cs->out[k++];
        uint32_t key;
        memcpy(&key, e, 4);
        p->key = cs->keys[key];
        p->value.type = (enum lsc_value_type)e[4];
        switch (p->value.type) {
        case LSC_VAL_NUMBER:
            memcpy(&p->value.u.num, e + 5, 8);
            break;
        case LSC_VAL_BOOL:
            p->value.u.boolean = e[5] != 0;
            break;
        case LSC_VAL_STRING:
        case LSC_VAL_JSON: {
            uint32_t len;
            memcpy(&len, e + 5, 4);
            p->value.u.str.len = len;
            p->value.u.str.ptr = (const char *)e + 9;
            break;
        }
        case LSC_VAL_NULL:
            break;
        }
    }
    *props = k > 0 ? cs->out : NULL;
    *n = k;
    return LSC_OK;
}

enum lsc_status hl_contacts_set_state(struct hl_contacts *cs,
                                      struct hl_contact *c, const void *blob,
                                      size_t len, int64_t wake_ms)
{
    if (len > UINT32_MAX) {
        return LSC_ERR_INVALID_ARG;
    }
    if (len == 0) {
        cs->blob_bytes -= c->state_len;
        pool_free(cs, c->state, state_cap(c->state_len));
        c->state = NULL;
        c->state_len = 0;
    } else {
        if (c->state == NULL || state_cap(len) != state_cap(c->state_len)) {
            void *s = pool_alloc(cs, state_cap(len));
            if (s == NULL) {
                return LSC_ERR_NOMEM;
            }
            memcpy(s, blob, len);
            pool_free(cs, c->state, state_cap(c->state_len));
            c->state = s;
        } else {
            memmove(c->state, blob, len);
        }
        cs->blob_bytes += len;
        cs->blob_bytes -= c->state_len;
        c->state_len = (uint32_t)len;
    }
    c->wake_ms = wake_ms;
    return LSC_OK;
}

const char *hl_contact_id(const struct hl_contact *c)
{
    return rec_id(c);
}

const void *hl_contact_state(const struct hl_contact *c, size_t *len)
{
    *len = c->state_len;
    return c->state;
}

int64_t hl_contact_wake(const struct hl_contact *c)
{
    return c->wake_ms;
}

void hl_contact_set_wake(struct hl_contact *c, int64_t wake_ms)
{
    c->wake_ms = wake_ms;
}

size_t hl_contacts_count(const struct hl_contacts *cs)
{
    return cs->live;
}

/* A sort entry: the id's first 8 bytes, big-endian (NUL-padded), order
 * like strcmp on them; ties are settled by strcmp.  Comparing keys in the
 * array avoids two record cache misses per comparison. */
struct sort_ent {
    uint64_t key;
    struct hl_contact *c;
};

static int by_id(const void *a, const void *b)
{
    const struct sort_ent *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return strcmp(rec_id(x->c), rec_id(y->c));
}

enum lsc_status hl_contacts_sorted(struct hl_contacts *cs,
                                   struct hl_contact ***out, size_t *n)
{
    size_t cap = cs->live ? cs->live : 1;
    struct sort_ent *e = malloc(cap * sizeof *e);
    if (e == NULL) {
        return LSC_ERR_NOMEM;
    }
    size_t k = 0;
    for (uint32_t i = 0; i < cs->n_recs; i++) {
        struct hl_contact *c = rec_at(cs, i);
        if (c->live) {
            const unsigned char *id = (const unsigned char *)rec_id(c);
            uint64_t key = 0;
            size_t j = 0;
            for (; j < 8 && id[j] != '\0'; j++) {
                key = key << 8 | id[j];
            }
            if (j > 0 && j < 8) {
                key <<= 8 * (8 - j); /* NUL padding */
            }
            e[k].key = key;
            e[k].c = c;
            k++;
        }
    }
    qsort(e, k, sizeof *e, by_id);
    /* the pointers, in place: entry i is read before slot i is written
     * over entries i / 2 and below, already read */
    struct hl_contact **v = (struct hl_contact **)(void *)e;
    for (size_t i = 0; i < k; i++) {
        struct hl_contact *c = e[i].c;
        memcpy((char *)e + i * sizeof c, &c, sizeof c);
    }
    *out = v;
    *n = k;
    return LSC_OK;
}

size_t hl_contacts_memory(const struct hl_contacts *cs)
{
    /* Allocator overhead: about 16 bytes per heap block. */
    return cs->n_chunks * CHUNK_SIZE * sizeof(struct hl_contact) +
           cs->n_slots * sizeof(struct slot) + cs->arena_bytes +
           cs->blob_bytes + cs->live * 32;
}
