/*
 * The synthetic benchmark workload, shared by the JSON Lines generator
 * (gen.c) and the engine benchmark (engine_bench.c) so that both see the
 * same events: a deterministic function of (contacts, events, seed).
 *
 * Shape: time runs evenly over 90 days; contacts appear progressively
 * (one contact.created each), activity is skewed towards a hot minority
 * of contacts, about 3% of events are property updates and 0.1% deletions
 * of a contact that then comes back through later activity.
 */
#ifndef LSC_BENCH_WORKLOAD_H
#define LSC_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wl_kind { WL_CREATED, WL_UPDATED, WL_DELETED, WL_ACTIVITY };

enum wl_vtype { WL_NULL, WL_STR, WL_NUM };

struct wl_prop {
    const char *key;
    enum wl_vtype type;
    const char *str; /* WL_STR: static, or wl_event.email */
    double num;
};

#define WL_MAX_PROPS 6

struct wl_event {
    enum wl_kind kind;
    uint32_t contact;        /* 0..n_contacts-1 */
    const char *type;        /* static */
    int64_t ts_ms;
    size_t n_props;
    struct wl_prop props[WL_MAX_PROPS];
    char email[64];          /* storage of the email value, if any */
};

struct wl {
    uint64_t rng;
    uint64_t n_contacts, n_events;
    uint64_t i;              /* events produced */
    uint64_t created;        /* contacts introduced */
    int64_t t0_ms, span_ms;
};

void wl_init(struct wl *w, uint64_t n_contacts, uint64_t n_events,
             uint64_t seed);

/* Fills *e with the next event; false at the end. */
bool wl_next(struct wl *w, struct wl_event *e);

/* "c0001234": the id of contact i (buf >= 16 bytes). */
void wl_contact_id(uint32_t i, char *buf, size_t len);

#endif
