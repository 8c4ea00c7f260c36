/*
 * A set of seen event ids for batch hosts, kept as 64-bit hashes in an
 * open-addressing table (8 bytes a slot).  Two different ids collide with
 * probability about n^2 / 2^65 (3e-6 for ten million ids), which a batch
 * run accepts; the daemon keeps exact ids in its store.  One thread.
 */
#ifndef LSC_HOST_DEDUP_H
#define LSC_HOST_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

struct hl_dedup;

/* Returns NULL when out of memory.  Owned by the caller. */
struct hl_dedup *hl_dedup_create(void);

/* Accepts NULL. */
void hl_dedup_destroy(struct hl_dedup *d);

/* True when `id` (len bytes, borrowed) was added before. */
bool hl_dedup_contains(const struct hl_dedup *d, const char *id, size_t len);

/* Add `id`.  *added (may be NULL) is false when it was already there.
 * LSC_ERR_NOMEM when the table cannot grow. */
enum lsc_status hl_dedup_add(struct hl_dedup *d, const char *id, size_t len,
                             bool *added);

/* The same with the id's hash, hl_dedup_hash(id, len), computed once for
 * a contains-then-add. */
uint64_t hl_dedup_hash(const char *id, size_t len);
bool hl_dedup_contains_h(const struct hl_dedup *d, uint64_t hash);
enum lsc_status hl_dedup_add_h(struct hl_dedup *d, uint64_t hash,
                               bool *added);

/* A hint: start loading the slot of `hash` into the cache. */
void hl_dedup_prefetch(const struct hl_dedup *d, uint64_t hash);

/* Number of ids in the set. */
size_t hl_dedup_count(const struct hl_dedup *d);

#endif /* LSC_HOST_DEDUP_H */
