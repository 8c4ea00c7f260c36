/*
 * In-memory contact store for batch hosts: contact id -> merged
 * properties, the plugin's state blob and its wake time.
 *
 * Built to hold millions of contacts: ids live in an arena, property keys
 * are interned (one copy per distinct key), each contact's properties are
 * packed into one allocation, records sit in fixed-size chunks so a
 * struct hl_contact pointer stays valid until the contact is erased or
 * the store destroyed.  Not thread-safe: one thread at a time.
 */
#ifndef LSC_HOST_CONTACTS_H
#define LSC_HOST_CONTACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

struct hl_contacts;
struct hl_contact;

/* Returns NULL when out of memory.  Owned by the caller. */
struct hl_contacts *hl_contacts_create(void);

/* Frees every contact.  Accepts NULL. */
void hl_contacts_destroy(struct hl_contacts *cs);

/* The contact with this id (NUL-terminated), or NULL.  Borrowed. */
struct hl_contact *hl_contacts_find(struct hl_contacts *cs, const char *id);

/*
 * The hash the store files `id` under.  A host that looks the same id up
 * several times (find, upsert, prefetch) computes it once and passes it
 * to the _h variants, which behave like the plain ones.
 */
uint64_t hl_contacts_hash(const char *id);

/* Asks the kernel for huge pages on the 2 MiB-aligned part of [p, p + n)
 * (transparent huge pages in "madvise" mode; a no-op elsewhere): the big
 * tables are read at random, and with 4 KiB pages every lookup in a
 * million contacts also misses the TLB. */
void hl_hugepage_hint(void *p, size_t n);
struct hl_contact *hl_contacts_find_h(struct hl_contacts *cs, const char *id,
                                      uint64_t hash);
enum lsc_status hl_contacts_upsert_h(struct hl_contacts *cs, const char *id,
                                     uint64_t hash, struct hl_contact **out,
                                     bool *created);

/*
 * Cache hints for a host that knows a coming contact's id early (with
 * millions of contacts every step of a lookup is a cache miss): stage 0
 * starts loading the table slot of `hash`, stage 1 (once that slot is
 * cached) the record, stage 2 (once the record is cached) its properties
 * and state (stage 3: the state only).  Changes nothing; an unknown id
 * only costs the time.
 */
void hl_contacts_prefetch(const struct hl_contacts *cs, uint64_t hash,
                          int stage);

/* The same for a record the host already holds (a walk over all of them):
 * stage 0 the record (borrowed), stage 1 (once it is cached) its
 * properties and state, stage 2 its state only (hl_contacts_prefetch:
 * stage 3). */
void hl_contact_prefetch(const struct hl_contact *c, int stage);

/*
 * Find or create the contact (a new one has no properties, no state,
 * wake INT64_MAX).  *created (may be NULL) tells which.  *out is borrowed
 * from the store.  LSC_ERR_NOMEM on allocation failure.
 */
enum lsc_status hl_contacts_upsert(struct hl_contacts *cs, const char *id,
                                   struct hl_contact **out, bool *created);

/* Remove the contact, its properties and state; `c` becomes invalid. */
void hl_contacts_erase(struct hl_contacts *cs, struct hl_contact *c);

/*
 * Merge `props` (borrowed, copied) into the contact's properties: a
 * LSC_VAL_NULL value removes the key, others set it.  The previous
 * properties are kept as an undo record until the next merge or
 * hl_contacts_commit(): hl_contacts_rollback() restores them (a refused
 * event leaves no trace).
 */
enum lsc_status hl_contacts_merge(struct hl_contacts *cs,
                                  struct hl_contact *c,
                                  const struct lsc_prop *props, size_t n);
/* Drop the undo record of the last merge. */
void hl_contacts_commit(struct hl_contacts *cs);
/* Restore the properties the last merge replaced, if not committed. */
void hl_contacts_rollback(struct hl_contacts *cs);

/*
 * The contact's properties as an array (in insertion order), borrowed:
 * valid until the next call of any hl_contacts_* function on `cs`.
 */
enum lsc_status hl_contacts_props(struct hl_contacts *cs,
                                  const struct hl_contact *c,
                                  const struct lsc_prop **props, size_t *n);

/* Replace the state blob (copied; len 0 erases it) and wake time. */
enum lsc_status hl_contacts_set_state(struct hl_contacts *cs,
                                      struct hl_contact *c, const void *blob,
                                      size_t len, int64_t wake_ms);

/* Accessors; returned pointers are borrowed (valid while `c` is). */
const char *hl_contact_id(const struct hl_contact *c);
const void *hl_contact_state(const struct hl_contact *c, size_t *len);
int64_t hl_contact_wake(const struct hl_contact *c);
/* Set the wake time alone (a host that consumed a wake without a new
 * state: INT64_MAX). */
void hl_contact_set_wake(struct hl_contact *c, int64_t wake_ms);

/* Number of live contacts. */
size_t hl_contacts_count(const struct hl_contacts *cs);

/*
 * Every live contact, sorted by id (bytewise).  *out is a new array owned
 * by the caller (free()); its elements are borrowed from the store.
 */
enum lsc_status hl_contacts_sorted(struct hl_contacts *cs,
                                   struct hl_contact ***out, size_t *n);

/* Approximate bytes held by the store (tests, --stats). */
size_t hl_contacts_memory(const struct hl_contacts *cs);

/* 64-bit hash of `len` bytes (shared with the dedup set). */
uint64_t hl_hash64(const void *data, size_t len);

#endif /* LSC_HOST_CONTACTS_H */
