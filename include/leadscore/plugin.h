/*
 * leadscore host plugin API, ABI version 1.1.
 *
 * A host (a CRM, the `leadscore` CLI, the `leadscored` daemon, your own
 * program) loads the plugin shared object `leadscore.so` and talks to it
 * only through this header.  The plugin exports exactly one symbol, the
 * function named by LSC_PLUGIN_ENTRY_SYMBOL.
 *
 * Loading, in order:
 *   1. dlopen(path, RTLD_NOW | RTLD_LOCAL);
 *   2. entry = dlsym(handle, LSC_PLUGIN_ENTRY_SYMBOL);
 *   3. desc = entry(LSC_PLUGIN_ABI_MAJOR, LSC_PLUGIN_ABI_MINOR);
 *   4. lsc_plugin_check(desc, err, sizeof err) must return LSC_OK,
 *      otherwise dlclose and report err (it names both versions);
 *   5. desc->create(&host_api, &plugin, err, sizeof err): the plugin reads
 *      its configuration through host_api.config_get and registers its
 *      handlers through host_api.register_* (only during create());
 *   6. deliver events, jobs, ticks...;
 *   7. call the shutdown handler (if registered), then desc->destroy(plugin),
 *      then dlclose.
 *
 * Versioning: the major version changes only for incompatible changes and
 * a host refuses a plugin whose major differs.  Minor versions only append:
 * new fields at the end of structs (every struct that crosses the boundary
 * starts with `size_t struct_size`), new enum values, new services at the
 * end of struct lsc_host_api.  Use LSC_HAS_FIELD() before reading a field
 * a peer built against an older minor may not have.
 *
 * Ownership, the general rule: whoever allocates frees.  Everything handed
 * to a callback is borrowed for the duration of that call only; copy what
 * you keep.  Everything passed to a host service is copied by the host
 * before the service returns.  Error text goes into caller-owned buffers.
 * No JSON, curl or SQLite object ever crosses the boundary.
 *
 * Threads: create(), destroy(), reload and shutdown handlers never run
 * concurrently with anything else.  Event and report handlers may run
 * concurrently on several host threads for DIFFERENT contacts, never for
 * the same contact at once (the host serializes per contact).  Job handlers
 * run on host worker threads, concurrently with event handlers and with
 * each other for different job kinds.  Every host service may be called
 * from any thread the plugin was called on.  Event handlers never block on
 * network I/O: network work is enqueued as a job.
 */
#ifndef LSC_PLUGIN_H
#define LSC_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LSC_PLUGIN_ABI_MAJOR 1
/* 1.1 added LSC_DEFERRED (a job result that uses no attempt). */
#define LSC_PLUGIN_ABI_MINOR 1

/* Name of the single exported function, of type lsc_plugin_entry_fn. */
#define LSC_PLUGIN_ENTRY_SYMBOL "lsc_plugin_entry"

/* True when the struct at p (whose first member is size_t struct_size) is
 * large enough to hold member f of type T. */
#define LSC_HAS_FIELD(T, p, f) \
    ((p)->struct_size >= offsetof(T, f) + sizeof(((T *)0)->f))

/* Status codes.  Append-only; never renumbered. */
enum lsc_status {
    LSC_OK = 0,
    LSC_ERR_NOMEM = 1,       /* out of memory */
    LSC_ERR_INVALID_ARG = 2, /* a caller passed something invalid */
    LSC_ERR_ABI = 3,         /* ABI version or struct size mismatch */
    LSC_ERR_CONFIG = 4,      /* bad configuration or model */
    LSC_ERR_IO = 5,          /* file or storage error */
    LSC_ERR_TIMEOUT = 6,     /* an operation timed out */
    LSC_ERR_RETRYABLE = 7,   /* transient failure: try again later */
    LSC_ERR_PERMANENT = 8,   /* final failure: do not retry */
    LSC_ERR_PARSE = 9,       /* malformed input */
    LSC_ERR_UNSUPPORTED = 10, /* not supported by this peer */
    LSC_ERR_INTERNAL = 11,   /* a bug; the call had no effect */
    LSC_ERR_NOT_FOUND = 12,  /* no such contact, key or object */
    LSC_ERR_CORRUPT = 13,    /* a state blob that is not ours or is damaged */
    LSC_ERR_AUTH = 14,       /* credentials refused; re-authorization needed */
    LSC_DEFERRED = 15,       /* 1.1, job results only: not run, run again
                                later without using an attempt */
};

/* A static, human-readable description of a status.  Never NULL. */
static inline const char *lsc_status_str(enum lsc_status s)
{
    switch (s) {
    case LSC_OK: return "success";
    case LSC_ERR_NOMEM: return "out of memory";
    case LSC_ERR_INVALID_ARG: return "invalid argument";
    case LSC_ERR_ABI: return "plugin ABI mismatch";
    case LSC_ERR_CONFIG: return "invalid configuration";
    case LSC_ERR_IO: return "I/O error";
    case LSC_ERR_TIMEOUT: return "timed out";
    case LSC_ERR_RETRYABLE: return "temporary failure, will retry";
    case LSC_ERR_PERMANENT: return "permanent failure";
    case LSC_ERR_PARSE: return "malformed input";
    case LSC_ERR_UNSUPPORTED: return "not supported";
    case LSC_ERR_INTERNAL: return "internal error";
    case LSC_ERR_NOT_FOUND: return "not found";
    case LSC_ERR_CORRUPT: return "corrupt or foreign state";
    case LSC_ERR_AUTH: return "authorization refused, re-authorize";
    case LSC_DEFERRED: return "deferred, will run later";
    }
    return "unknown status";
}

enum lsc_log_level {
    LSC_LOG_ERROR = 0,
    LSC_LOG_WARN = 1,
    LSC_LOG_INFO = 2,
    LSC_LOG_DEBUG = 3,
};

/* ---- Typed values ------------------------------------------------------ */

enum lsc_value_type {
    LSC_VAL_NULL = 0,   /* JSON null: in an update, removes the property */
    LSC_VAL_STRING = 1, /* u.str */
    LSC_VAL_NUMBER = 2, /* u.num */
    LSC_VAL_BOOL = 3,   /* u.boolean */
    LSC_VAL_JSON = 4,   /* an array or object, as compact JSON text in u.str;
                           stored and passed through, never compared */
};

struct lsc_value {
    enum lsc_value_type type;
    union {
        struct {
            const char *ptr; /* UTF-8, NUL-terminated; may contain NULs */
            size_t len;      /* bytes, without the terminating NUL */
        } str;
        double num;
        bool boolean;
    } u;
};

/* A property: a key and its value.  Keys are NUL-terminated UTF-8. */
struct lsc_prop {
    const char *key;
    struct lsc_value value;
};

/* ---- Events ------------------------------------------------------------ */

enum lsc_event_kind {
    LSC_EVENT_CONTACT_CREATED = 1,
    LSC_EVENT_CONTACT_UPDATED = 2,
    LSC_EVENT_CONTACT_DELETED = 3,
    LSC_EVENT_ACTIVITY = 4,
    /* No new input: re-evaluate the contact at `ts_ms` (a periodic tick
     * found it due, or a batch host wants its final report at --as-of).
     * A tier change found here is a transition like any other. */
    LSC_EVENT_EVALUATE = 5,
};

/*
 * One event for one contact.  Host-owned; every pointer is valid only
 * during the handler call.
 *
 * Before a CONTACT_CREATED/UPDATED handler runs, the host has already
 * merged `props` into the contact's stored properties (a NULL value
 * removes the key), so contact_props() returns the merged view.  Before an
 * ACTIVITY handler for an unknown contact, the host creates the contact
 * with no properties.  After a CONTACT_DELETED handler returns LSC_OK the
 * host erases the contact, its properties and its state.
 *
 * The host de-duplicates by event id before delivery: a handler never sees
 * the same non-NULL `event_id` twice.
 */
struct lsc_event {
    size_t struct_size;
    enum lsc_event_kind kind;
    const char *contact_id;      /* 1..256 bytes, never NULL */
    const char *type;            /* "contact.created", ..., or the activity
                                    name ("email_open"); "evaluate" */
    int64_t ts_ms;               /* when it happened, Unix milliseconds */
    const char *event_id;        /* delivery id, or NULL */
    const struct lsc_prop *props; /* changed properties or activity
                                     attributes; may be NULL when n_props 0 */
    size_t n_props;
    /* The plugin's state for this contact as last stored with state_put(),
     * or NULL/0 for a contact the plugin has not stored state for. */
    const void *state;
    size_t state_len;
    /* The host's clock when it delivers the event (a batch host: the
     * stream clock, the latest event time seen so far).  The plugin
     * evaluates tiers at this time. */
    int64_t now_ms;
};

/*
 * Event handler.  `plugin` is the pointer create() returned.
 * Returns LSC_OK when the event was applied; any other status means the
 * event was refused and the host discards every state_put(),
 * props_write(), emit_transition() and job_enqueue() the handler made.
 * `err` (caller-owned, errlen bytes) receives a one-line reason.
 */
typedef enum lsc_status (*lsc_event_fn)(void *plugin,
                                        const struct lsc_event *ev,
                                        char *err, size_t errlen);

/* ---- Transitions ------------------------------------------------------- */

/* A tier change of one contact under one model.  Passed to the host by
 * emit_transition(); every pointer is borrowed for that call only. */
struct lsc_transition {
    size_t struct_size;
    const char *contact_id;
    const char *model;    /* model name */
    bool primary;         /* the primary model (written to the CRM) */
    const char *from;     /* previous tier, or NULL for a new contact */
    const char *to;       /* new tier */
    int score;            /* score at the time of the change */
    int64_t at_ms;        /* evaluation time of the change */
};

/* ---- Reports (the "why") ----------------------------------------------- */

struct lsc_report_group {
    const char *name;
    double value;     /* contribution after `max` */
    double raw;       /* fit points + worth of awards, before `max` */
    double max;       /* the group's max, or NAN when it has none */
    double half_life_s; /* 0 when the group does not decay */
};

struct lsc_report_rule {
    const char *rule;     /* rule id */
    const char *group;
    bool fit;             /* a fit rule (no event) */
    double points;        /* current contribution: fit points, or the summed
                             worth of its awards at the report time */
    double awarded;       /* fit: = points; activity: sum of points awarded,
                             before decay */
    uint32_t awards;      /* number of awards (0 for fit rules) */
    int64_t last_award_ms; /* latest award time, or INT64_MIN when none */
};

/*
 * One model's view of one contact at `at_ms`.  Borrowed during the sink
 * call only.  `rules` lists every rule that holds or has awards, sorted
 * by |points| descending, then by rule id.
 */
struct lsc_report {
    size_t struct_size;
    const char *contact_id;
    const char *model;
    bool primary;
    int64_t at_ms;
    int score;                /* 0..scale_max */
    const char *tier;         /* with hysteresis against the stored tier */
    double total;             /* sum of group contributions before rounding */
    int scale_max;
    const struct lsc_report_group *groups;
    size_t n_groups;
    const struct lsc_report_rule *rules;
    size_t n_rules;
};

/* Called once per loaded model, the primary first. */
typedef void (*lsc_report_sink_fn)(void *ud, const struct lsc_report *r);

/*
 * Report handler: computes every model's report for the contact described
 * by `ev` (kind LSC_EVENT_EVALUATE, ts_ms = the report time, state/state_len
 * = the stored state).  Read-only: it never stores state nor emits
 * transitions; deliver an EVALUATE event first to commit a tier change.
 */
typedef enum lsc_status (*lsc_report_fn)(void *plugin,
                                         const struct lsc_event *ev,
                                         lsc_report_sink_fn sink, void *ud,
                                         char *err, size_t errlen);

/* ---- Jobs (durable, network work) -------------------------------------- */

/* One queued job, host-owned, valid during the job handler call. */
struct lsc_job {
    size_t struct_size;
    uint64_t id;           /* host-assigned, unique, stable across retries:
                              usable as an idempotency/delivery id */
    const char *kind;      /* as given to job_enqueue() */
    const char *key;       /* coalescing key, or NULL */
    const void *payload;
    size_t payload_len;
    uint32_t attempt;      /* 1 on the first run */
    int64_t enqueued_ms;   /* first enqueue time */
};

/* Per-job outcome, filled by the job handler.  Caller-owned. */
struct lsc_job_result {
    size_t struct_size;
    /* LSC_OK: done, removed.  LSC_ERR_RETRYABLE: run again after
     * retry_after_ms (>= 0).  LSC_DEFERRED (ABI 1.1): the job was not
     * tried (e.g. the connector waits for re-authorization); run again
     * after retry_after_ms, and this run does not count against the
     * host's attempt limit.  A plugin returns LSC_DEFERRED only to a host
     * whose lsc_host_api.abi_minor is >= 1 (an older host would
     * dead-letter it), otherwise LSC_ERR_RETRYABLE.  Anything else:
     * dead-lettered with `reason`.  The host initializes it to
     * LSC_ERR_INTERNAL. */
    enum lsc_status status;
    int64_t retry_after_ms;
    char reason[256];      /* one line; never a secret */
};

/*
 * Job handler: runs a batch of 1..max_batch jobs of one kind (in enqueue
 * order) on a host worker thread, where blocking network I/O is allowed.
 * It fills results[i] for every jobs[i].  The return value is LSC_OK when
 * the results are meaningful; any other value makes every job of the
 * batch retryable.
 */
typedef enum lsc_status (*lsc_job_fn)(void *plugin,
                                      const struct lsc_job *jobs,
                                      struct lsc_job_result *results,
                                      size_t n);

/* ---- Other handlers ---------------------------------------------------- */

/* Periodic tick, every interval given at registration (host's clock).
 * For plugin-wide periodic work (enqueue an import, flush a batch).
 * Per-contact re-evaluation uses state_put()'s wake time instead. */
typedef void (*lsc_tick_fn)(void *plugin, int64_t now_ms);

/* Configuration reload (SIGHUP in the daemon).  The plugin re-reads its
 * configuration via config_get; on failure it keeps the old one, returns
 * an error and writes the reason to err.  Never concurrent with events. */
typedef enum lsc_status (*lsc_reload_fn)(void *plugin, char *err,
                                         size_t errlen);

/* Shutdown: the host stops delivering events; the plugin flushes what it
 * buffers (it may still enqueue jobs).  destroy() follows. */
typedef void (*lsc_shutdown_fn)(void *plugin);

/* ---- Diagnostics ------------------------------------------------------- */

/* One problem found in a file (model, connector mapping).  Borrowed
 * during the call only. */
struct lsc_diagnostic {
    size_t struct_size;
    enum lsc_log_level severity; /* LSC_LOG_ERROR refuses the file */
    const char *file;            /* path as configured */
    int line;                    /* 1-based, 0 when unknown */
    int column;                  /* 1-based, 0 when unknown */
    const char *json_path;       /* "rules[3].when[0].op", or "" */
    const char *message;         /* one line, may end with "; hint: ..." */
};

/* ---- Services the host gives the plugin -------------------------------- */

/*
 * Host-owned; valid from create() until destroy() returns.  Every service
 * takes `host` (the member below) as first argument.  A service the host
 * does not provide is NULL: check it (and LSC_HAS_FIELD for members added
 * after 1.0) before calling.
 */
struct lsc_host_api {
    size_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    void *host;                       /* opaque, passed back to services */
    const char *host_name;            /* "leadscore-cli", "leadscored", ... */

    /* A preformatted one-line message (no trailing newline).  The host
     * adds time and level.  Never pass secrets. */
    void (*log)(void *host, enum lsc_log_level level, const char *msg);

    /* Configuration value for `key`, or NULL.  Borrowed, valid until
     * destroy() or the next reload handler returns.  Keys the plugin reads
     * are listed in docs/plugin-api.md ("model", "models", ...). */
    const char *(*config_get)(void *host, const char *key);

    /* Directory the plugin may write files in (credentials, checkpoints).
     * Borrowed, valid until destroy(). */
    const char *(*data_dir)(void *host);

    /* The host's current time in Unix milliseconds (a batch host: the
     * stream clock). */
    int64_t (*now_ms)(void *host);

    /* Report a problem found while loading a file (see struct
     * lsc_diagnostic).  The host prints or stores it. */
    void (*diagnostic)(void *host, const struct lsc_diagnostic *d);

    /* Read a contact's current properties: the host calls fn once with an
     * array borrowed for the duration of fn.  LSC_ERR_NOT_FOUND for an
     * unknown contact. */
    enum lsc_status (*contact_props)(void *host, const char *contact_id,
                                     void (*fn)(void *ud,
                                                const struct lsc_prop *props,
                                                size_t n),
                                     void *ud);

    /* Write properties of a contact in the host (score, tier, mapped
     * fields); a LSC_VAL_NULL value removes the key.  Copied. */
    enum lsc_status (*props_write)(void *host, const char *contact_id,
                                   const struct lsc_prop *props, size_t n);

    /* Store the plugin's opaque state for a contact; the host hands it
     * back in lsc_event.state with the contact's next event.  len 0
     * erases it.  `wake_ms` is when the plugin wants an
     * LSC_EVENT_EVALUATE for this contact (INT64_MAX: never); a host
     * with a clock delivers it at or after that time.  Copied; applied
     * only when the current event handler returns LSC_OK. */
    enum lsc_status (*state_put)(void *host, const char *contact_id,
                                 const void *blob, size_t len,
                                 int64_t wake_ms);

    /* Announce a tier change.  Copied. */
    enum lsc_status (*emit_transition)(void *host,
                                       const struct lsc_transition *t);

    /* Durably enqueue a job for the handler registered for `kind`, to run
     * at or after not_before_ms.  With a non-NULL `key`, a job of the same
     * kind and key that has not started yet is replaced (coalescing: only
     * the latest value is sent).  Copied.  Made inside an event handler,
     * it is committed with the event. */
    enum lsc_status (*job_enqueue)(void *host, const char *kind,
                                   const char *key, const void *payload,
                                   size_t len, int64_t not_before_ms);

    /* Registration: only during create().  A host that does not know an
     * event kind answers LSC_ERR_UNSUPPORTED. */
    enum lsc_status (*register_event)(void *host, enum lsc_event_kind kind,
                                      lsc_event_fn fn);
    enum lsc_status (*register_report)(void *host, lsc_report_fn fn);
    /* max_batch >= 1: at most this many jobs per handler call. */
    enum lsc_status (*register_job)(void *host, const char *kind,
                                    lsc_job_fn fn, size_t max_batch);
    enum lsc_status (*register_tick)(void *host, lsc_tick_fn fn,
                                     int64_t interval_ms);
    enum lsc_status (*register_reload)(void *host, lsc_reload_fn fn);
    enum lsc_status (*register_shutdown)(void *host, lsc_shutdown_fn fn);
};

/* ---- The plugin descriptor --------------------------------------------- */

/* The plugin may be called concurrently for different contacts. */
#define LSC_PLUGIN_F_CONCURRENT 0x1u

/* Static, plugin-owned, valid until dlclose. */
struct lsc_plugin_desc {
    size_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t flags;               /* LSC_PLUGIN_F_* */
    const char *name;             /* "leadscore" */
    const char *version;          /* "0.1.0" */
    const char *description;      /* one line */

    /*
     * Create the plugin instance.  Reads configuration, reports file
     * problems through host->diagnostic, registers handlers.  On success
     * stores the instance in *plugin and returns LSC_OK.  On failure
     * returns an error, writes a one-line reason into err (caller-owned,
     * errlen bytes) and leaves nothing behind.  `host` must stay valid
     * until destroy() returns.
     */
    enum lsc_status (*create)(const struct lsc_host_api *host,
                              void **plugin, char *err, size_t errlen);

    /* Free the instance.  Accepts NULL.  Joins the plugin's threads. */
    void (*destroy)(void *plugin);
};

/* Type of the exported entry function.  The host passes its own ABI
 * version; the plugin returns its static descriptor (never NULL from a
 * well-formed plugin, even on a version mismatch, so the host can name
 * both versions). */
typedef const struct lsc_plugin_desc *(*lsc_plugin_entry_fn)(
    uint32_t host_abi_major, uint32_t host_abi_minor);

/* Minimum size of a descriptor a 1.x host can use. */
#define LSC_PLUGIN_DESC_MIN_SIZE \
    (offsetof(struct lsc_plugin_desc, destroy) + sizeof(void (*)(void *)))

/*
 * Host-side check of a descriptor returned by the entry function.  Writes
 * a one-line reason naming both versions into err on failure.
 */
static inline enum lsc_status lsc_plugin_check(
    const struct lsc_plugin_desc *d, char *err, size_t errlen)
{
    const char *why = NULL;
    if (d == NULL) {
        why = "the entry function returned no descriptor";
    } else if (d->struct_size < LSC_PLUGIN_DESC_MIN_SIZE) {
        why = "the descriptor is too small (built for an older ABI?)";
    } else if (d->abi_major != LSC_PLUGIN_ABI_MAJOR) {
        why = "ABI major version differs";
    } else if (d->create == NULL || d->destroy == NULL) {
        why = "the descriptor lacks create() or destroy()";
    }
    if (why == NULL) {
        return LSC_OK;
    }
    if (err != NULL && errlen > 0) {
        if (d == NULL) {
            snprintf(err, errlen, "%s; this host speaks ABI %u.%u", why,
                     (unsigned)LSC_PLUGIN_ABI_MAJOR,
                     (unsigned)LSC_PLUGIN_ABI_MINOR);
        } else {
            snprintf(err, errlen,
                     "%s; this host speaks ABI %u.%u, the plugin was built "
                     "for ABI %u.%u",
                     why, (unsigned)LSC_PLUGIN_ABI_MAJOR,
                     (unsigned)LSC_PLUGIN_ABI_MINOR, (unsigned)d->abi_major,
                     (unsigned)d->abi_minor);
        }
    }
    return LSC_ERR_ABI;
}

#ifdef __cplusplus
}
#endif

#endif /* LSC_PLUGIN_H */
