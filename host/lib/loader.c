/*
 * Plugin loader: dlopen, ABI check, create, handler tables, and the
 * trampolines from struct lsc_host_api to struct hl_services.
 */
#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lsc_config.h"

/* Event kinds this host knows: LSC_EVENT_CONTACT_CREATED..EVALUATE. */
#define KIND_MAX LSC_EVENT_EVALUATE

struct hl_plugin {
    void *dl;
    char *path;
    const struct lsc_plugin_desc *desc;
    struct lsc_host_api api;  /* handed to the plugin; api.host = this */
    struct hl_services svc;
    void *instance;
    bool created;
    bool in_create;           /* the registration window */
    bool shut_down;

    lsc_event_fn events[KIND_MAX + 1];
    lsc_report_fn report;
    struct hl_job_kind *jobs;
    size_t n_jobs;
    lsc_tick_fn tick;
    int64_t tick_interval_ms;
    lsc_reload_fn reload;
    lsc_shutdown_fn shutdown;
};

/* ---- Trampolines: api.host is the struct hl_plugin -------------------- */

static void t_log(void *host, enum lsc_log_level level, const char *msg)
{
    struct hl_plugin *p = host;
    p->svc.log(p->svc.ud, level, msg != NULL ? msg : "");
}

static const char *t_config_get(void *host, const char *key)
{
    struct hl_plugin *p = host;
    return key != NULL ? p->svc.config_get(p->svc.ud, key) : NULL;
}

static const char *t_data_dir(void *host)
{
    struct hl_plugin *p = host;
    return p->svc.data_dir(p->svc.ud);
}

static int64_t t_now_ms(void *host)
{
    struct hl_plugin *p = host;
    return p->svc.now_ms(p->svc.ud);
}

static void t_diagnostic(void *host, const struct lsc_diagnostic *d)
{
    struct hl_plugin *p = host;
    if (d != NULL) {
        p->svc.diagnostic(p->svc.ud, d);
    }
}

static enum lsc_status t_contact_props(void *host, const char *contact_id,
                                       void (*fn)(void *,
                                                  const struct lsc_prop *,
                                                  size_t),
                                       void *ud)
{
    struct hl_plugin *p = host;
    if (contact_id == NULL || fn == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    return p->svc.contact_props(p->svc.ud, contact_id, fn, ud);
}

static enum lsc_status t_props_write(void *host, const char *contact_id,
                                     const struct lsc_prop *props, size_t n)
{
    struct hl_plugin *p = host;
    if (contact_id == NULL || (props == NULL && n > 0)) {
        return LSC_ERR_INVALID_ARG;
    }
    return p->svc.props_write(p->svc.ud, contact_id, props, n);
}

static enum lsc_status t_state_put(void *host, const char *contact_id,
                                   const void *blob, size_t len,
                                   int64_t wake_ms)
{
    struct hl_plugin *p = host;
    if (contact_id == NULL || (blob == NULL && len > 0)) {
        return LSC_ERR_INVALID_ARG;
    }
    return p->svc.state_put(p->svc.ud, contact_id, blob, len, wake_ms);
}

static enum lsc_status t_emit_transition(void *host,
                                         const struct lsc_transition *t)
{
    struct hl_plugin *p = host;
    if (t == NULL || t->contact_id == NULL || t->to == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    return p->svc.emit_transition(p->svc.ud, t);
}

static enum lsc_status t_job_enqueue(void *host, const char *kind,
                                     const char *key, const void *payload,
                                     size_t len, int64_t not_before_ms)
{
    struct hl_plugin *p = host;
    if (kind == NULL || (payload == NULL && len > 0)) {
        return LSC_ERR_INVALID_ARG;
    }
    return p->svc.job_enqueue(p->svc.ud, kind, key, payload, len,
                              not_before_ms);
}

/* ---- Registration (only inside create()) ------------------------------ */

static enum lsc_status r_event(void *host, enum lsc_event_kind kind,
                               lsc_event_fn fn)
{
    struct hl_plugin *p = host;
    if (!p->in_create || fn == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    if ((int)kind < LSC_EVENT_CONTACT_CREATED || (int)kind > KIND_MAX) {
        return LSC_ERR_UNSUPPORTED;
    }
    p->events[kind] = fn;
    return LSC_OK;
}

static enum lsc_status r_report(void *host, lsc_report_fn fn)
{
    struct hl_plugin *p = host;
    if (!p->in_create || fn == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    p->report = fn;
    return LSC_OK;
}

static enum lsc_status r_job(void *host, const char *kind, lsc_job_fn fn,
                             size_t max_batch)
{
    struct hl_plugin *p = host;
    if (!p->in_create || kind == NULL || kind[0] == '\0' || fn == NULL ||
        max_batch < 1) {
        return LSC_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < p->n_jobs; i++) {
        if (strcmp(p->jobs[i].kind, kind) == 0) {
            /* A second registration replaces the first. */
            p->jobs[i].fn = fn;
            p->jobs[i].max_batch = max_batch;
            return LSC_OK;
        }
    }
    struct hl_job_kind *j = realloc(p->jobs, (p->n_jobs + 1) * sizeof *j);
    if (j == NULL) {
        return LSC_ERR_NOMEM;
    }
    p->jobs = j;
    char *copy = strdup(kind);
    if (copy == NULL) {
        return LSC_ERR_NOMEM;
    }
    j[p->n_jobs++] = (struct hl_job_kind){copy, fn, max_batch};
    return LSC_OK;
}

static enum lsc_status r_tick(void *host, lsc_tick_fn fn, int64_t interval_ms)
{
    struct hl_plugin *p = host;
    if (!p->in_create || fn == NULL || interval_ms <= 0) {
        return LSC_ERR_INVALID_ARG;
    }
    p->tick = fn;
    p->tick_interval_ms = interval_ms;
    return LSC_OK;
}

static enum lsc_status r_reload(void *host, lsc_reload_fn fn)
{
    struct hl_plugin *p = host;
    if (!p->in_create || fn == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    p->reload = fn;
    return LSC_OK;
}

static enum lsc_status r_shutdown(void *host, lsc_shutdown_fn fn)
{
    struct hl_plugin *p = host;
    if (!p->in_create || fn == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    p->shutdown = fn;
    return LSC_OK;
}

/* Forget every registration (a failed create() must leave none). */
static void clear_handlers(struct hl_plugin *p)
{
    memset(p->events, 0, sizeof p->events);
    p->report = NULL;
    for (size_t i = 0; i < p->n_jobs; i++) {
        free((char *)p->jobs[i].kind);
    }
    free(p->jobs);
    p->jobs = NULL;
    p->n_jobs = 0;
    p->tick = NULL;
    p->tick_interval_ms = 0;
    p->reload = NULL;
    p->shutdown = NULL;
}

/* ---- Loading ----------------------------------------------------------- */

enum lsc_status hl_plugin_open(const char *path, struct hl_plugin **out,
                               char *err, size_t errlen)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "no plugin path given");
        return LSC_ERR_INVALID_ARG;
    }
    struct hl_plugin *p = calloc(1, sizeof *p);
    if (p == NULL || (p->path = strdup(path)) == NULL) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    dlerror();
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL) {
        const char *why = dlerror();
        snprintf(err, errlen, "cannot load plugin %s: %s", path,
                 why != NULL ? why : "unknown error");
        free(p->path);
        free(p);
        return LSC_ERR_IO;
    }
    /* dlsym returns void *; go through a union-free memcpy so -Wpedantic
     * does not object to the object-to-function pointer conversion. */
    void *sym = dlsym(p->dl, LSC_PLUGIN_ENTRY_SYMBOL);
    if (sym == NULL) {
        snprintf(err, errlen,
                 "%s is not a leadscore plugin: it does not export the "
                 "symbol '%s'",
                 path, LSC_PLUGIN_ENTRY_SYMBOL);
        dlclose(p->dl);
        free(p->path);
        free(p);
        return LSC_ERR_ABI;
    }
    lsc_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    p->desc = entry(LSC_PLUGIN_ABI_MAJOR, LSC_PLUGIN_ABI_MINOR);
    char why[256];
    if (lsc_plugin_check(p->desc, why, sizeof why) != LSC_OK) {
        snprintf(err, errlen, "plugin %s refused: %s", path, why);
        dlclose(p->dl);
        free(p->path);
        free(p);
        return LSC_ERR_ABI;
    }
    *out = p;
    return LSC_OK;
}

const struct lsc_plugin_desc *hl_plugin_desc(const struct hl_plugin *p)
{
    return p->desc;
}

enum lsc_status hl_plugin_create(struct hl_plugin *p,
                                 const struct hl_services *svc, char *err,
                                 size_t errlen)
{
    if (p->created) {
        snprintf(err, errlen, "plugin already created");
        return LSC_ERR_INVALID_ARG;
    }
    p->svc = *svc;
    p->api = (struct lsc_host_api){
        .struct_size = sizeof p->api,
        .abi_major = LSC_PLUGIN_ABI_MAJOR,
        .abi_minor = LSC_PLUGIN_ABI_MINOR,
        .host = p,
        .host_name = svc->host_name != NULL ? svc->host_name : "leadscore-host",
        .log = svc->log != NULL ? t_log : NULL,
        .config_get = svc->config_get != NULL ? t_config_get : NULL,
        .data_dir = svc->data_dir != NULL ? t_data_dir : NULL,
        .now_ms = svc->now_ms != NULL ? t_now_ms : NULL,
        .diagnostic = svc->diagnostic != NULL ? t_diagnostic : NULL,
        .contact_props = svc->contact_props != NULL ? t_contact_props : NULL,
        .props_write = svc->props_write != NULL ? t_props_write : NULL,
        .state_put = svc->state_put != NULL ? t_state_put : NULL,
        .emit_transition =
            svc->emit_transition != NULL ? t_emit_transition : NULL,
        .job_enqueue = svc->job_enqueue != NULL ? t_job_enqueue : NULL,
        .register_event = r_event,
        .register_report = r_report,
        .register_job = r_job,
        .register_tick = r_tick,
        .register_reload = r_reload,
        .register_shutdown = r_shutdown,
    };
    char why[512];
    why[0] = '\0';
    void *instance = NULL;
    p->in_create = true;
    enum lsc_status st = p->desc->create(&p->api, &instance, why, sizeof why);
    p->in_create = false;
    if (st != LSC_OK) {
        clear_handlers(p);
        if (why[0] == '\0') {
            snprintf(why, sizeof why, "%s", lsc_status_str(st));
        }
        snprintf(err, errlen, "plugin %s: create() failed: %s", p->path,
                 why);
        return st;
    }
    p->instance = instance;
    p->created = true;
    p->shut_down = false;
    return LSC_OK;
}

enum lsc_status hl_plugin_load(const char *path,
                               const struct hl_services *svc,
                               struct hl_plugin **out, char *err,
                               size_t errlen)
{
    struct hl_plugin *p;
    enum lsc_status st = hl_plugin_open(path, &p, err, errlen);
    if (st != LSC_OK) {
        *out = NULL;
        return st;
    }
    st = hl_plugin_create(p, svc, err, errlen);
    if (st != LSC_OK) {
        hl_plugin_close(p);
        *out = NULL;
        return st;
    }
    *out = p;
    return LSC_OK;
}

void *hl_plugin_instance(const struct hl_plugin *p)
{
    return p->instance;
}

bool hl_plugin_handles(const struct hl_plugin *p, enum lsc_event_kind kind)
{
    return (int)kind >= LSC_EVENT_CONTACT_CREATED && (int)kind <= KIND_MAX &&
           p->events[kind] != NULL;
}

enum lsc_status hl_plugin_event(struct hl_plugin *p,
                                const struct lsc_event *ev, char *err,
                                size_t errlen)
{
    if (!p->created || ev == NULL) {
        snprintf(err, errlen, "plugin not created");
        return LSC_ERR_INVALID_ARG;
    }
    if (!hl_plugin_handles(p, ev->kind)) {
        return LSC_OK;
    }
    if (errlen > 0) {
        err[0] = '\0';
    }
    enum lsc_status st = p->events[ev->kind](p->instance, ev, err, errlen);
    if (st != LSC_OK && errlen > 0 && err[0] == '\0') {
        snprintf(err, errlen, "%s", lsc_status_str(st));
    }
    return st;
}

enum lsc_status hl_plugin_report(struct hl_plugin *p,
                                 const struct lsc_event *ev,
                                 lsc_report_sink_fn sink, void *ud,
                                 char *err, size_t errlen)
{
    if (!p->created || p->report == NULL) {
        snprintf(err, errlen, "the plugin has no report handler");
        return LSC_ERR_UNSUPPORTED;
    }
    if (errlen > 0) {
        err[0] = '\0';
    }
    enum lsc_status st = p->report(p->instance, ev, sink, ud, err, errlen);
    if (st != LSC_OK && errlen > 0 && err[0] == '\0') {
        snprintf(err, errlen, "%s", lsc_status_str(st));
    }
    return st;
}

const struct hl_job_kind *hl_plugin_job_kinds(const struct hl_plugin *p,
                                              size_t *n)
{
    *n = p->n_jobs;
    return p->jobs;
}

enum lsc_status hl_plugin_run_jobs(struct hl_plugin *p, const char *kind,
                                   const struct lsc_job *jobs,
                                   struct lsc_job_result *results, size_t n)
{
    for (size_t i = 0; i < p->n_jobs; i++) {
        if (strcmp(p->jobs[i].kind, kind) != 0) {
            continue;
        }
        if (n == 0 || n > p->jobs[i].max_batch) {
            return LSC_ERR_INVALID_ARG;
        }
        for (size_t k = 0; k < n; k++) {
            memset(&results[k], 0, sizeof results[k]);
            results[k].struct_size = sizeof results[k];
            results[k].status = LSC_ERR_INTERNAL;
        }
        return p->jobs[i].fn(p->instance, jobs, results, n);
    }
    return LSC_ERR_NOT_FOUND;
}

int64_t hl_plugin_tick_interval(const struct hl_plugin *p)
{
    return p->tick != NULL ? p->tick_interval_ms : 0;
}

void hl_plugin_tick(struct hl_plugin *p, int64_t now_ms)
{
    if (p->created && p->tick != NULL) {
        p->tick(p->instance, now_ms);
    }
}

enum lsc_status hl_plugin_reload(struct hl_plugin *p, char *err,
                                 size_t errlen)
{
    if (!p->created || p->reload == NULL) {
        return LSC_OK;
    }
    if (errlen > 0) {
        err[0] = '\0';
    }
    enum lsc_status st = p->reload(p->instance, err, errlen);
    if (st != LSC_OK && errlen > 0 && err[0] == '\0') {
        snprintf(err, errlen, "%s", lsc_status_str(st));
    }
    return st;
}

void hl_plugin_close(struct hl_plugin *p)
{
    if (p == NULL) {
        return;
    }
    if (p->created) {
        if (p->shutdown != NULL && !p->shut_down) {
            p->shut_down = true;
            p->shutdown(p->instance);
        }
        p->desc->destroy(p->instance);
        p->created = false;
        p->instance = NULL;
    }
    clear_handlers(p);
    /* Under ASan keep the object mapped so leak reports can symbolize
     * frames inside the plugin. */
#if !defined(__SANITIZE_ADDRESS__)
    dlclose(p->dl);
#endif
    free(p->path);
    free(p);
}

const char *hl_plugin_default_path(const char *explicit_path, char *buf,
                                   size_t buflen)
{
    if (explicit_path != NULL && explicit_path[0] != '\0') {
        snprintf(buf, buflen, "%s", explicit_path);
        return buf;
    }
    const char *env = getenv("LEADSCORE_PLUGIN");
    if (env != NULL && env[0] != '\0') {
        snprintf(buf, buflen, "%s", env);
        return buf;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            /* Only a Meson build directory (it has meson-private/) holds
             * the build-tree plugin: an installed /usr/bin/leadscore must
             * not pick up /usr/plugin/leadscore.so. */
            char marker[PATH_MAX + 32];
            char cand[PATH_MAX + 32];
            snprintf(marker, sizeof marker, "%s/../../meson-private", exe);
            snprintf(cand, sizeof cand, "%s/../../plugin/leadscore.so", exe);
            if (access(marker, F_OK) == 0 && access(cand, R_OK) == 0) {
                snprintf(buf, buflen, "%s", cand);
                return buf;
            }
        }
    }
    snprintf(buf, buflen, "%s/leadscore.so", LSC_PLUGINDIR);
    return buf;
}
