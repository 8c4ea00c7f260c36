/*
 * The plugin loader shared by every leadscore host (CLI, daemon, tests).
 *
 * It dlopens a plugin, checks its ABI, creates it, implements the
 * register_* services itself (it keeps the handler tables) and forwards
 * every other service to callbacks the embedding host provides in
 * struct hl_services.  A host writes only the services it needs: a NULL
 * callback is passed to the plugin as a NULL service ("not provided").
 *
 * Threads: hl_plugin_open/create/reload/close must not run concurrently
 * with anything else on the same struct hl_plugin.  The handler tables
 * are immutable after create, so hl_plugin_event/report/run_jobs/tick
 * may run on any thread, under the plugin.h concurrency rules.
 */
#ifndef LSC_HOST_LOADER_H
#define LSC_HOST_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

struct hl_plugin;

/*
 * The services the embedding host implements.  `ud` is passed back as
 * the first argument of every callback.  Same contracts as the members
 * of struct lsc_host_api with the same names (see plugin.h); any may be
 * NULL.  The struct is copied by hl_plugin_create(); `ud` and the
 * strings it leads to must outlive the plugin.
 */
struct hl_services {
    void *ud;
    const char *host_name; /* "leadscore-cli", "leadscored", ... */

    void (*log)(void *ud, enum lsc_log_level level, const char *msg);
    const char *(*config_get)(void *ud, const char *key);
    const char *(*data_dir)(void *ud);
    int64_t (*now_ms)(void *ud);
    void (*diagnostic)(void *ud, const struct lsc_diagnostic *d);
    enum lsc_status (*contact_props)(void *ud, const char *contact_id,
                                     void (*fn)(void *fn_ud,
                                                const struct lsc_prop *props,
                                                size_t n),
                                     void *fn_ud);
    enum lsc_status (*props_write)(void *ud, const char *contact_id,
                                   const struct lsc_prop *props, size_t n);
    enum lsc_status (*state_put)(void *ud, const char *contact_id,
                                 const void *blob, size_t len,
                                 int64_t wake_ms);
    enum lsc_status (*emit_transition)(void *ud,
                                       const struct lsc_transition *t);
    enum lsc_status (*job_enqueue)(void *ud, const char *kind,
                                   const char *key, const void *payload,
                                   size_t len, int64_t not_before_ms);
};

/* A registered job kind, as the plugin registered it. */
struct hl_job_kind {
    const char *kind;  /* owned by the loader */
    lsc_job_fn fn;
    size_t max_batch;  /* >= 1 */
};

/*
 * Load the shared object at `path` (dlopen RTLD_NOW|RTLD_LOCAL), resolve
 * LSC_PLUGIN_ENTRY_SYMBOL and check the descriptor with lsc_plugin_check.
 * On success *out owns the loaded (not yet created) plugin: release it
 * with hl_plugin_close().  On failure returns LSC_ERR_IO (cannot load the
 * file) or LSC_ERR_ABI (missing symbol, version mismatch: the text names
 * the symbol or both versions) with a one-line reason in err.
 */
enum lsc_status hl_plugin_open(const char *path, struct hl_plugin **out,
                               char *err, size_t errlen);

/* The plugin's descriptor, borrowed until hl_plugin_close(). */
const struct lsc_plugin_desc *hl_plugin_desc(const struct hl_plugin *p);

/*
 * Create the plugin instance: build the lsc_host_api (trampolines to
 * `svc`, copied) and call desc->create().  Registrations are accepted
 * only during this call.  On failure returns the plugin's status with
 * its reason in err ("create() failed: <reason>"); the plugin can be
 * closed, or created again (for example after fixing the config).
 */
enum lsc_status hl_plugin_create(struct hl_plugin *p,
                                 const struct hl_services *svc, char *err,
                                 size_t errlen);

/* hl_plugin_open() + hl_plugin_create(); on failure nothing is left
 * behind (*out is NULL). */
enum lsc_status hl_plugin_load(const char *path,
                               const struct hl_services *svc,
                               struct hl_plugin **out, char *err,
                               size_t errlen);

/* The instance pointer create() returned (NULL before create). */
void *hl_plugin_instance(const struct hl_plugin *p);

/* True when the plugin registered a handler for `kind`. */
bool hl_plugin_handles(const struct hl_plugin *p, enum lsc_event_kind kind);

/*
 * Deliver one event (host-owned, borrowed for the call).  An event kind
 * without a handler is accepted (LSC_OK) and ignored.  On refusal returns
 * the handler's status with its reason in err.
 */
enum lsc_status hl_plugin_event(struct hl_plugin *p,
                                const struct lsc_event *ev, char *err,
                                size_t errlen);

/* Ask the report handler; LSC_ERR_UNSUPPORTED when none is registered. */
enum lsc_status hl_plugin_report(struct hl_plugin *p,
                                 const struct lsc_event *ev,
                                 lsc_report_sink_fn sink, void *ud,
                                 char *err, size_t errlen);

/* Registered job kinds, borrowed until hl_plugin_close(). */
const struct hl_job_kind *hl_plugin_job_kinds(const struct hl_plugin *p,
                                              size_t *n);

/* Run a batch of jobs of one kind (n <= its max_batch).  results[] is
 * initialized by the loader (status LSC_ERR_INTERNAL).  Returns
 * LSC_ERR_NOT_FOUND for an unregistered kind, else the handler's value. */
enum lsc_status hl_plugin_run_jobs(struct hl_plugin *p, const char *kind,
                                   const struct lsc_job *jobs,
                                   struct lsc_job_result *results, size_t n);

/* The registered tick interval in ms, 0 when no tick handler. */
int64_t hl_plugin_tick_interval(const struct hl_plugin *p);
void hl_plugin_tick(struct hl_plugin *p, int64_t now_ms);

/* Call the reload handler; LSC_OK when none is registered (nothing to
 * reload).  On failure the plugin keeps its old configuration. */
enum lsc_status hl_plugin_reload(struct hl_plugin *p, char *err,
                                 size_t errlen);

/* Call the shutdown handler (once), destroy the instance and dlclose.
 * Accepts NULL. */
void hl_plugin_close(struct hl_plugin *p);

/*
 * The plugin path a host should use: `explicit_path` when non-NULL, else
 * $LEADSCORE_PLUGIN, else <dir of /proc/self/exe>/../../plugin/leadscore.so
 * when it exists and <dir>/../../meson-private does (the binary runs from a
 * Meson build tree, e.g. build/host/cli/leadscore), else
 * LSC_PLUGINDIR/leadscore.so.  Writes into buf (caller-owned); returns buf.
 */
const char *hl_plugin_default_path(const char *explicit_path, char *buf,
                                   size_t buflen);

#endif /* LSC_HOST_LOADER_H */
