/*
 * Engine-only throughput: a minimal host written from
 * include/leadscore/plugin.h alone.  It dlopens leadscore.so, creates it
 * with a model, pre-builds typed struct lsc_event arrays (4096 at a time,
 * untimed) from the synthetic workload, and times only their delivery:
 * the state lookup in a hash map, the property merge a host must do, the
 * handler call and the state copies (state_put into a pending buffer,
 * committed into the contact's slot when the handler succeeds).  The host
 * keeps each contact's id and blob in one 256-byte slot (blobs up to 223
 * bytes inline, bigger ones in a heap buffer) behind a table of (hash,
 * slot) pairs, so that it is not itself the bottleneck.
 *
 *   engine_bench PLUGIN.so MODEL.json CONTACTS EVENTS SEED
 *
 * Wake times are ignored (no EVALUATE events): this measures the event
 * path.  The CLI benchmark (run.sh) covers the full batch host.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <leadscore/plugin.h>

#include "workload.h"

/* Events parsed ahead of delivery, as in a host's queue: 4096 (about
 * 1.5 MB with their properties and ids) are still in cache when
 * delivered, as an event a host has just parsed is.  With 2^20 each one
 * was read back from DRAM, a cost of this harness that no host has (both
 * figures are in docs/performance.md). */
#define CHUNK 4096u
#define KEYS 8 /* distinct contact property keys of the workload */
#define INLINE 223 /* blob bytes kept in the slot itself */
/* Prefetch distances in events: table entries, then slots. */
#define TABLE_AHEAD 8
#define SLOT_AHEAD 4
#define PREFETCH_RING 16

/* One contact: its id and committed state blob in one 256-byte slot, so
 * that delivering an event touches one slot; blobs too big for it live
 * in a heap buffer.  Properties, needed by contact events only, are kept
 * aside (struct cprops). */
struct slot {
    char id[16];
    uint32_t len;          /* committed blob length, 0: none */
    uint32_t heap_cap;
    unsigned char *heap;   /* the blob when len > INLINE */
    bool live;
    unsigned char blob[INLINE];
};

_Static_assert(sizeof(struct slot) == 256, "slot: four cache lines");

struct cprops {
    struct lsc_prop props[KEYS];
    size_t n_props;
    char email[64];
};

struct bench {
    struct slot *slots;
    struct cprops *props;     /* parallel to slots */
    size_t n_slots;
    uint64_t *table;          /* open addressing: id hash << 32 | slot + 1 */
    size_t mask;
    struct slot *cur;         /* the contact being delivered */
    const char *cur_id;       /* its event's contact_id */
    const char *model;
    int64_t clock;
    lsc_event_fn handlers[8];
    lsc_shutdown_fn shutdown;
    /* state_put of the running handler, committed on LSC_OK */
    void *pend;
    size_t pend_len, pend_cap;
    bool pend_set;
    uint64_t transitions, writes, errors;
    char last_err[256];
};

static uint64_t hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    }
    return h;
}

/* The slot of `id`, created when absent (an unknown contact).  Probes
 * compare the stored hash first, so they touch the table only. */
static struct slot *lookup_h(struct bench *b, const char *id, uint64_t h)
{
    uint64_t tag = (h >> 32) << 32;
    size_t i = (size_t)h & b->mask;
    for (;; i = (i + 1) & b->mask) {
        uint64_t v = b->table[i];
        if (v == 0) {
            break;
        }
        struct slot *s = &b->slots[(uint32_t)v - 1];
        if ((v & ~0xffffffffULL) == tag && strcmp(s->id, id) == 0) {
            return s;
        }
    }
    struct slot *s = &b->slots[b->n_slots];
    memset(s, 0, offsetof(struct slot, blob));
    size_t n = strnlen(id, sizeof s->id - 1);
    memcpy(s->id, id, n); /* the rest is zero */
    b->props[b->n_slots].n_props = 0;
    b->table[i] = tag | (uint32_t)++b->n_slots;
    return s;
}

static struct slot *lookup(struct bench *b, const char *id)
{
    return lookup_h(b, id, hash(id));
}

static struct cprops *props_of(struct bench *b, const struct slot *s)
{
    return &b->props[s - b->slots];
}

static const void *blob_of(const struct slot *s)
{
    return s->len > INLINE ? s->heap : s->blob;
}

/* ---- host services ------------------------------------------------------ */

static void svc_log(void *host, enum lsc_log_level level, const char *msg)
{
    (void)host;
    if (level <= LSC_LOG_WARN) {
        fprintf(stderr, "engine_bench: plugin: %s\n", msg);
    }
}

static const char *svc_config_get(void *host, const char *key)
{
    struct bench *b = host;
    return strcmp(key, "model") == 0 ? b->model : NULL;
}

static int64_t svc_now_ms(void *host)
{
    return ((struct bench *)host)->clock;
}

static void svc_diagnostic(void *host, const struct lsc_diagnostic *d)
{
    (void)host;
    fprintf(stderr, "%s:%d:%d: %s: %s\n", d->file, d->line, d->column,
            d->json_path, d->message);
}

static enum lsc_status svc_contact_props(void *host, const char *contact_id,
                                         void (*fn)(void *ud,
                                                    const struct lsc_prop *p,
                                                    size_t n),
                                         void *ud)
{
    struct bench *b = host;
    /* the contact being delivered needs no lookup (the usual case) */
    struct slot *s = b->cur != NULL && (contact_id == b->cur_id ||
                                        strcmp(b->cur->id, contact_id) == 0)
                         ? b->cur
                         : lookup(b, contact_id);
    if (!s->live) {
        return LSC_ERR_NOT_FOUND;
    }
    struct cprops *p = props_of(b, s);
    fn(ud, p->props, p->n_props);
    return LSC_OK;
}

static enum lsc_status svc_props_write(void *host, const char *contact_id,
                                       const struct lsc_prop *props, size_t n)
{
    (void)contact_id;
    (void)props;
    (void)n;
    ((struct bench *)host)->writes++;
    return LSC_OK;
}

static enum lsc_status svc_state_put(void *host, const char *contact_id,
                                     const void *blob, size_t len,
                                     int64_t wake_ms)
{
    (void)contact_id;
    (void)wake_ms;
    struct bench *b = host;
    if (len > b->pend_cap) {
        void *p = realloc(b->pend, len);
        if (p == NULL) {
            return LSC_ERR_NOMEM;
        }
        b->pend = p;
        b->pend_cap = len;
    }
    if (len > 0) {
        memcpy(b->pend, blob, len);
    }
    b->pend_len = len;
    b->pend_set = true;
    return LSC_OK;
}

static enum lsc_status svc_emit_transition(void *host,
                                           const struct lsc_transition *t)
{
    (void)t;
    ((struct bench *)host)->transitions++;
    return LSC_OK;
}

static enum lsc_status svc_register_event(void *host, enum lsc_event_kind k,
                                          lsc_event_fn fn)
{
    struct bench *b = host;
    if ((unsigned)k >= 8) {
        return LSC_ERR_UNSUPPORTED;
    }
    b->handlers[k] = fn;
    return LSC_OK;
}

static enum lsc_status svc_register_report(void *host, lsc_report_fn fn)
{
    (void)host;
    (void)fn;
    return LSC_OK;
}

static enum lsc_status svc_register_job(void *host, const char *kind,
                                        lsc_job_fn fn, size_t max_batch)
{
    (void)host;
    (void)kind;
    (void)fn;
    (void)max_batch;
    return LSC_OK;
}

static enum lsc_status svc_register_tick(void *host, lsc_tick_fn fn,
                                         int64_t interval_ms)
{
    (void)host;
    (void)fn;
    (void)interval_ms;
    return LSC_OK;
}

static enum lsc_status svc_register_reload(void *host, lsc_reload_fn fn)
{
    (void)host;
    (void)fn;
    return LSC_OK;
}

static enum lsc_status svc_register_shutdown(void *host, lsc_shutdown_fn fn)
{
    ((struct bench *)host)->shutdown = fn;
    return LSC_OK;
}

/* ---- the host's own work around each event ------------------------------ */

/* Merge an update into the stored properties (a NULL value removes). */
static void merge(struct cprops *s, const struct lsc_prop *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < s->n_props && strcmp(s->props[j].key, p[i].key) != 0) {
            j++;
        }
        if (p[i].value.type == LSC_VAL_NULL) {
            if (j < s->n_props) {
                s->props[j] = s->props[--s->n_props];
            }
            continue;
        }
        if (j == s->n_props) {
            if (j == KEYS) {
                continue;
            }
            s->n_props++;
        }
        s->props[j] = p[i];
        if (strcmp(p[i].key, "email") == 0) { /* the event's copy goes away */
            size_t len = p[i].value.u.str.len;
            len = len < sizeof s->email - 1 ? len : sizeof s->email - 1;
            memcpy(s->email, p[i].value.u.str.ptr, len);
            s->email[len] = '\0';
            s->props[j].value.u.str.ptr = s->email;
            s->props[j].value.u.str.len = len;
        }
    }
}

static void reset(struct bench *b, struct slot *s)
{
    s->len = 0;
    s->live = false;
    props_of(b, s)->n_props = 0;
}

/* Stores the pending blob as the contact's committed state: a copy into
 * the slot (or its heap buffer), which is the line just read anyway. */
static bool commit(struct bench *b, struct slot *s)
{
    size_t len = b->pend_len;
    if (len > INLINE && len > s->heap_cap) {
        void *p = realloc(s->heap, len);
        if (p == NULL) {
            return false;
        }
        s->heap = p;
        s->heap_cap = (uint32_t)len;
    }
    if (len > 0) {
        memcpy(len > INLINE ? s->heap : s->blob, b->pend, len);
    }
    s->len = (uint32_t)len;
    return true;
}

/* madvise(MADV_HUGEPAGE) on the 2 MiB-aligned part of [p, p + n) (for
 * transparent huge pages in "madvise" mode; a hint only). */
static void hugepage_hint(void *p, size_t n)
{
#if defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (p != NULL && hi > lo) {
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#else
    (void)p;
    (void)n;
#endif
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: on a shared machine the wall time also
 * counts the slices other processes take on our CPU. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void deliver(struct bench *b, void *plugin, struct lsc_event *ev,
                    uint64_t h)
{
    struct slot *s = lookup_h(b, ev->contact_id, h);
    if (ev->ts_ms > b->clock) {
        b->clock = ev->ts_ms;
    }
    if (ev->kind == LSC_EVENT_CONTACT_CREATED ||
        ev->kind == LSC_EVENT_CONTACT_UPDATED) {
        merge(props_of(b, s), ev->props, ev->n_props);
    }
    s->live = true;
    ev->state = s->len > 0 ? blob_of(s) : NULL;
    ev->state_len = s->len;
    ev->now_ms = b->clock;
    b->pend_set = false;
    b->cur = s;
    b->cur_id = ev->contact_id;
    lsc_event_fn fn = b->handlers[ev->kind];
    enum lsc_status rc = fn != NULL ? fn(plugin, ev, b->last_err,
                                         sizeof b->last_err)
                                    : LSC_OK;
    b->cur = NULL;
    if (rc != LSC_OK) {
        b->errors++;
        return;
    }
    if (ev->kind == LSC_EVENT_CONTACT_DELETED) {
        reset(b, s);
        return;
    }
    if (b->pend_set && !commit(b, s)) {
        b->errors++;
        snprintf(b->last_err, sizeof b->last_err, "out of memory");
    }
}

static uint64_t arg(const char *v, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v) {
        fprintf(stderr, "engine_bench: bad %s '%s'\n", what, v);
        exit(2);
    }
    return x;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr,
                "usage: engine_bench PLUGIN.so MODEL.json CONTACTS EVENTS SEED\n");
        return 2;
    }
    uint64_t n_contacts = arg(argv[3], "CONTACTS");
    uint64_t n_events = arg(argv[4], "EVENTS");
    uint64_t seed = arg(argv[5], "SEED");
    static struct bench b;
    b.model = argv[2];
    b.clock = INT64_MIN;
    size_t cap = 1;
    while (cap < 2 * n_contacts + 16) {
        cap <<= 1;
    }
    b.table = calloc(cap, sizeof *b.table);
    b.slots = calloc(n_contacts + 1, sizeof *b.slots);
    b.props = calloc(n_contacts + 1, sizeof *b.props);
    b.mask = cap - 1;
    /* Huge pages for the id table and the slots, as the CLI's store has:
     * with 4 KiB pages the prefetches of a million contacts' entries each
     * wait for a page walk. */
    hugepage_hint(b.table, cap * sizeof *b.table);
    hugepage_hint(b.slots, (n_contacts + 1) * sizeof *b.slots);
    /* Touch them now: a host's memory for its contacts is not the
     * engine's cost, and first-touch page faults (the kernel zeroing
     * ~580 MiB while the loop runs) were a fifth of the timed loop at 1M
     * contacts on a KVM guest. */
    memset(b.table, 0, cap * sizeof *b.table);
    memset(b.slots, 0, (n_contacts + 1) * sizeof *b.slots);
    memset(b.props, 0, (n_contacts + 1) * sizeof *b.props);
    char **ids = calloc(n_contacts, sizeof *ids);
    char *id_store = malloc(n_contacts * 12 + 1);
    struct lsc_event *evs = malloc(CHUNK * sizeof *evs);
    struct lsc_prop *props = malloc((size_t)CHUNK * WL_MAX_PROPS * sizeof *props);
    char (*emails)[64] = malloc((size_t)CHUNK * sizeof *emails);
    /* Each event carries its contact id, as a parsed event does (not a
     * pointer into the table of all ids, read at random). */
    char (*cids)[12] = malloc((size_t)CHUNK * sizeof *cids);
    if (b.table == NULL || b.slots == NULL || b.props == NULL || ids == NULL ||
        id_store == NULL ||
        evs == NULL || props == NULL || emails == NULL || cids == NULL) {
        fprintf(stderr, "engine_bench: out of memory\n");
        return 1;
    }
    for (uint64_t i = 0; i < n_contacts; i++) {
        ids[i] = id_store + i * 12;
        wl_contact_id((uint32_t)i, ids[i], 12);
    }

    void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        fprintf(stderr, "engine_bench: %s\n", dlerror());
        return 1;
    }
    lsc_plugin_entry_fn entry;
    *(void **)&entry = dlsym(dl, LSC_PLUGIN_ENTRY_SYMBOL);
    char err[512];
    const struct lsc_plugin_desc *desc =
        entry != NULL ? entry(LSC_PLUGIN_ABI_MAJOR, LSC_PLUGIN_ABI_MINOR) : NULL;
    if (lsc_plugin_check(desc, err, sizeof err) != LSC_OK) {
        fprintf(stderr, "engine_bench: %s\n", err);
        return 1;
    }
    struct lsc_host_api api = {
        .struct_size = sizeof api,
        .abi_major = LSC_PLUGIN_ABI_MAJOR,
        .abi_minor = LSC_PLUGIN_ABI_MINOR,
        .host = &b,
        .host_name = "engine_bench",
        .log = svc_log,
        .config_get = svc_config_get,
        .now_ms = svc_now_ms,
        .diagnostic = svc_diagnostic,
        .contact_props = svc_contact_props,
        .props_write = svc_props_write,
        .state_put = svc_state_put,
        .emit_transition = svc_emit_transition,
        .register_event = svc_register_event,
        .register_report = svc_register_report,
        .register_job = svc_register_job,
        .register_tick = svc_register_tick,
        .register_reload = svc_register_reload,
        .register_shutdown = svc_register_shutdown,
    };
    void *plugin = NULL;
    if (desc->create(&api, &plugin, err, sizeof err) != LSC_OK) {
        fprintf(stderr, "engine_bench: create: %s\n", err);
        return 1;
    }

    static const enum lsc_event_kind kinds[] = {
        [WL_CREATED] = LSC_EVENT_CONTACT_CREATED,
        [WL_UPDATED] = LSC_EVENT_CONTACT_UPDATED,
        [WL_DELETED] = LSC_EVENT_CONTACT_DELETED,
        [WL_ACTIVITY] = LSC_EVENT_ACTIVITY,
    };
    struct wl w;
    struct wl_event we;
    wl_init(&w, n_contacts, n_events, seed);
    double busy = 0, build = 0, busy_cpu = 0;
    uint64_t total = 0;
    for (;;) {
        /* Build one chunk of typed events (not timed). */
        double t0 = now_s();
        size_t n = 0;
        while (n < CHUNK && wl_next(&w, &we)) {
            struct lsc_prop *p = props + n * WL_MAX_PROPS;
            for (size_t i = 0; i < we.n_props; i++) {
                const struct wl_prop *q = &we.props[i];
                p[i].key = q->key;
                memset(&p[i].value, 0, sizeof p[i].value);
                switch (q->type) {
                case WL_NULL: p[i].value.type = LSC_VAL_NULL; break;
                case WL_NUM:
                    p[i].value.type = LSC_VAL_NUMBER;
                    p[i].value.u.num = q->num;
                    break;
                case WL_STR: {
                    const char *sv = q->str;
                    if (sv == we.email) {
                        memcpy(emails[n], we.email, sizeof emails[n]);
                        sv = emails[n];
                    }
                    p[i].value.type = LSC_VAL_STRING;
                    p[i].value.u.str.ptr = sv;
                    p[i].value.u.str.len = strlen(sv);
                    break;
                }
                }
            }
            memcpy(cids[n], ids[we.contact], sizeof cids[n]);
            evs[n] = (struct lsc_event){
                .struct_size = sizeof evs[n],
                .kind = kinds[we.kind],
                .contact_id = cids[n],
                .type = we.type,
                .ts_ms = we.ts_ms,
                .props = we.n_props > 0 ? p : NULL,
                .n_props = we.n_props,
            };
            n++;
        }
        build += now_s() - t0;
        if (n == 0) {
            break;
        }
        /* Deliver it (timed). */
        t0 = now_s();
        double c0 = cpu_s();
        /* Like a real host with a queue of events, fetch what the coming
         * events touch while this one runs: the table entry a few events
         * ahead, then the contact's slot once that entry is in cache
         * (each id is hashed once). */
        uint64_t hs[PREFETCH_RING];
        for (size_t i = 0; i < n; i++) {
            if (i == 0) {
                for (size_t k = 0; k < TABLE_AHEAD && k < n; k++) {
                    hs[k % PREFETCH_RING] = hash(evs[k].contact_id);
                }
            }
            if (i + TABLE_AHEAD < n) {
                uint64_t h = hash(evs[i + TABLE_AHEAD].contact_id);
                hs[(i + TABLE_AHEAD) % PREFETCH_RING] = h;
                __builtin_prefetch(&b.table[h & b.mask]);
            }
            if (i + SLOT_AHEAD < n) {
                /* the entry's probe run is in cache by now: follow it to
                 * the contact's own entry (at half load a third of the
                 * first probes hold another contact) */
                uint64_t h = hs[(i + SLOT_AHEAD) % PREFETCH_RING];
                uint64_t tag = (h >> 32) << 32, v;
                for (size_t j = (size_t)h & b.mask;;
                     j = (j + 1) & b.mask) {
                    v = b.table[j];
                    if (v == 0 || (v & ~0xffffffffULL) == tag) {
                        break;
                    }
                }
                if (v != 0) {
                    const char *sl = (const char *)&b.slots[(uint32_t)v - 1];
                    for (size_t l = 0; l < sizeof(struct slot); l += 64) {
                        __builtin_prefetch(sl + l, 1);
                    }
                }
            }
            deliver(&b, plugin, &evs[i], hs[i % PREFETCH_RING]);
        }
        busy += now_s() - t0;
        busy_cpu += cpu_s() - c0;
        total += n;
    }
    size_t blob_bytes = 0, live = 0;
    for (size_t i = 0; i < b.n_slots; i++) {
        if (b.slots[i].live) {
            blob_bytes += b.slots[i].len;
            live++;
        }
    }
    printf("engine_bench: %" PRIu64 " events, %zu contacts (%zu live) in "
           "%.3f s: %.0f events/s\n",
           total, b.n_slots, live, busy, (double)total / busy);
    printf("engine_bench: %" PRIu64 " transitions, %" PRIu64
           " property writes, %" PRIu64 " refused; mean state %.0f bytes; "
           "building the events took %.3f s (not counted)\n",
           b.transitions, b.writes, b.errors,
           live > 0 ? (double)blob_bytes / (double)live : 0.0, build);
    printf("engine_bench: on-CPU time of the delivery %.3f s: %.0f events/s "
           "(the wall-time figure above is the result; they differ when "
           "other processes share the CPU)\n",
           busy_cpu, busy_cpu > 0 ? (double)total / busy_cpu : 0.0);
    if (b.errors > 0) {
        fprintf(stderr, "engine_bench: last refusal: %s\n", b.last_err);
    }
    if (b.shutdown != NULL) {
        b.shutdown(plugin);
    }
    desc->destroy(plugin);
    dlclose(dl);
    for (size_t i = 0; i < b.n_slots; i++) {
        free(b.slots[i].heap);
    }
    free(b.pend);
    free(b.slots);
    free(b.props);
    free(b.table);
    free(ids);
    free(id_store);
    free(evs);
    free(props);
    free(emails);
    free(cids);
    return b.errors > 0 ? 1 : 0;
}
