/*
 * Seen-id set: 64-bit hashes in a linear-probing table, 0 = empty.
 */
#include "dedup.h"

#include <stdint.h>
#include <stdlib.h>

#include "contacts.h" /* hl_hash64 */

struct hl_dedup {
    uint64_t *slots;
    size_t n_slots; /* power of two */
    size_t count;
};

struct hl_dedup *hl_dedup_create(void)
{
    struct hl_dedup *d = calloc(1, sizeof *d);
    if (d == NULL) {
        return NULL;
    }
    d->n_slots = 1024;
    d->slots = calloc(d->n_slots, sizeof *d->slots);
    if (d->slots == NULL) {
        free(d);
        return NULL;
    }
    return d;
}

void hl_dedup_destroy(struct hl_dedup *d)
{
    if (d == NULL) {
        return;
    }
    free(d->slots);
    free(d);
}

uint64_t hl_dedup_hash(const char *id, size_t len)
{
    uint64_t h = hl_hash64(id, len);
    return h != 0 ? h : 1; /* 0 marks an empty slot */
}

/* Index of h, or of the empty slot where it would go. */
static size_t probe(const struct hl_dedup *d, uint64_t h)
{
    size_t mask = d->n_slots - 1;
    size_t i = (size_t)h & mask;
    while (d->slots[i] != 0 && d->slots[i] != h) {
        i = (i + 1) & mask;
    }
    return i;
}

bool hl_dedup_contains_h(const struct hl_dedup *d, uint64_t h)
{
    return d->slots[probe(d, h)] == h;
}

bool hl_dedup_contains(const struct hl_dedup *d, const char *id, size_t len)
{
    return hl_dedup_contains_h(d, hl_dedup_hash(id, len));
}

static bool grow(struct hl_dedup *d)
{
    size_t n = d->n_slots * 2;
    uint64_t *ns = calloc(n, sizeof *ns);
    if (ns == NULL) {
        return false;
    }
    hl_hugepage_hint(ns, n * sizeof *ns);
    for (size_t i = 0; i < d->n_slots; i++) {
        uint64_t h = d->slots[i];
        if (h == 0) {
            continue;
        }
        size_t j = (size_t)h & (n - 1);
        while (ns[j] != 0) {
            j = (j + 1) & (n - 1);
        }
        ns[j] = h;
    }
    free(d->slots);
    d->slots = ns;
    d->n_slots = n;
    return true;
}

enum lsc_status hl_dedup_add(struct hl_dedup *d, const char *id, size_t len,
                             bool *added)
{
    return hl_dedup_add_h(d, hl_dedup_hash(id, len), added);
}

enum lsc_status hl_dedup_add_h(struct hl_dedup *d, uint64_t h, bool *added)
{
    size_t i = probe(d, h);
    if (d->slots[i] == h) {
        if (added != NULL) {
            *added = false;
        }
        return LSC_OK;
    }
    /* Load factor <= 3/4: short probe chains, and ten million ids fit
     * in 128 MiB. */
    if ((d->count + 1) * 4 > d->n_slots * 3) {
        if (!grow(d)) {
            return LSC_ERR_NOMEM;
        }
        i = probe(d, h);
    }
    d->slots[i] = h;
    d->count++;
    if (added != NULL) {
        *added = true;
    }
    return LSC_OK;
}

void hl_dedup_prefetch(const struct hl_dedup *d, uint64_t h)
{
#if defined(__GNUC__)
    __builtin_prefetch(&d->slots[(size_t)h & (d->n_slots - 1)]);
#else
    (void)d;
    (void)h;
#endif
}

size_t hl_dedup_count(const struct hl_dedup *d)
{
    return d->count;
}
