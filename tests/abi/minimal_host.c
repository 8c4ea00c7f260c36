/* minimal_host.c: load leadscore.so, score three events, print the report.
 * Build: cc minimal_host.c $(pkg-config --cflags leadscore) -ldl
 * Run:   ./a.out /usr/lib/x86_64-linux-gnu/leadscore/leadscore.so model.json */
#include <leadscore/plugin.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* One contact is enough here: a real host keeps these per contact. */
struct host {
    const char *model_path;
    const struct lsc_prop *props; /* the contact's current properties */
    size_t n_props;
    void *state;        /* the plugin's opaque state blob, host-owned */
    size_t state_len;
    int64_t clock_ms;
};

static void host_log(void *h, enum lsc_log_level level, const char *msg)
{
    (void)h;
    fprintf(stderr, "plugin [%d]: %s\n", (int)level, msg);
}

static const char *host_config_get(void *h, const char *key)
{
    struct host *host = h;
    return strcmp(key, "models") == 0 ? host->model_path : NULL;
}

static int64_t host_now_ms(void *h)
{
    return ((struct host *)h)->clock_ms;
}

static void host_diagnostic(void *h, const struct lsc_diagnostic *d)
{
    (void)h;
    fprintf(stderr, "%s:%d:%d: %s: %s\n", d->file, d->line, d->column,
            d->json_path, d->message);
}

static enum lsc_status host_contact_props(
    void *h, const char *contact,
    void (*fn)(void *ud, const struct lsc_prop *props, size_t n), void *ud)
{
    struct host *host = h;
    (void)contact;
    fn(ud, host->props, host->n_props);
    return LSC_OK;
}

/* Copy the blob: the plugin's pointer is only valid during this call. */
static enum lsc_status host_state_put(void *h, const char *contact,
                                      const void *blob, size_t len,
                                      int64_t wake_ms)
{
    struct host *host = h;
    (void)contact;
    (void)wake_ms;
    void *copy = len > 0 ? malloc(len) : NULL;
    if (len > 0 && copy == NULL) {
        return LSC_ERR_NOMEM;
    }
    if (len > 0) {
        memcpy(copy, blob, len);
    }
    free(host->state);
    host->state = copy;
    host->state_len = len;
    return LSC_OK;
}

/* Handlers the plugin registers during create(). */
static lsc_event_fn handlers[LSC_EVENT_EVALUATE + 1];
static lsc_report_fn report_handler;
static lsc_shutdown_fn shutdown_handler;

static enum lsc_status reg_event(void *h, enum lsc_event_kind kind,
                                 lsc_event_fn fn)
{
    (void)h;
    if (kind < LSC_EVENT_CONTACT_CREATED || kind > LSC_EVENT_EVALUATE) {
        return LSC_ERR_UNSUPPORTED;
    }
    handlers[kind] = fn;
    return LSC_OK;
}

static enum lsc_status reg_report(void *h, lsc_report_fn fn)
{
    (void)h;
    report_handler = fn;
    return LSC_OK;
}

static enum lsc_status reg_shutdown(void *h, lsc_shutdown_fn fn)
{
    (void)h;
    shutdown_handler = fn;
    return LSC_OK;
}

/* This host runs no jobs, ticks or reloads: accept and ignore them. */
static enum lsc_status reg_job(void *h, const char *kind, lsc_job_fn fn,
                               size_t max_batch)
{
    (void)h, (void)kind, (void)fn, (void)max_batch;
    return LSC_OK;
}

static enum lsc_status reg_tick(void *h, lsc_tick_fn fn, int64_t interval)
{
    (void)h, (void)fn, (void)interval;
    return LSC_OK;
}

static enum lsc_status reg_reload(void *h, lsc_reload_fn fn)
{
    (void)h, (void)fn;
    return LSC_OK;
}

static void print_report(void *ud, const struct lsc_report *r)
{
    (void)ud;
    printf("%s %s: score %d, tier %s\n", r->model, r->contact_id, r->score,
           r->tier);
    for (size_t i = 0; i < r->n_rules; i++) {
        printf("  %s: %.2f\n", r->rules[i].rule, r->rules[i].points);
    }
}

static int deliver(void *plugin, struct host *host, struct lsc_event *ev)
{
    char err[256] = "";
    ev->struct_size = sizeof *ev;
    ev->state = host->state;
    ev->state_len = host->state_len;
    host->clock_ms = ev->now_ms = ev->ts_ms;
    if (handlers[ev->kind] == NULL) {
        return 0;
    }
    if (handlers[ev->kind](plugin, ev, err, sizeof err) != LSC_OK) {
        fprintf(stderr, "event refused: %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PLUGIN.so MODEL.json\n", argv[0]);
        return 2;
    }
    struct host host = {.model_path = argv[2]};
    struct lsc_host_api api = {
        .struct_size = sizeof api,
        .abi_major = LSC_PLUGIN_ABI_MAJOR,
        .abi_minor = LSC_PLUGIN_ABI_MINOR,
        .host = &host,
        .host_name = "minimal-host",
        .log = host_log,
        .config_get = host_config_get,
        .now_ms = host_now_ms,
        .diagnostic = host_diagnostic,
        .contact_props = host_contact_props,
        .state_put = host_state_put,
        .register_event = reg_event,
        .register_report = reg_report,
        .register_job = reg_job,
        .register_tick = reg_tick,
        .register_reload = reg_reload,
        .register_shutdown = reg_shutdown,
        /* Services left NULL are "not provided": the plugin copes. */
    };

    void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        fprintf(stderr, "%s\n", dlerror());
        return 3;
    }
    lsc_plugin_entry_fn entry;
    void *sym = dlsym(dl, LSC_PLUGIN_ENTRY_SYMBOL);
    if (sym == NULL) {
        fprintf(stderr, "no %s in %s\n", LSC_PLUGIN_ENTRY_SYMBOL, argv[1]);
        dlclose(dl);
        return 3;
    }
    memcpy(&entry, &sym, sizeof entry); /* object to function pointer */
    const struct lsc_plugin_desc *desc =
        entry(LSC_PLUGIN_ABI_MAJOR, LSC_PLUGIN_ABI_MINOR);
    char err[512];
    void *plugin = NULL;
    if (lsc_plugin_check(desc, err, sizeof err) != LSC_OK ||
        desc->create(&api, &plugin, err, sizeof err) != LSC_OK) {
        fprintf(stderr, "cannot load the plugin: %s\n", err);
        dlclose(dl);
        return 3;
    }

    const struct lsc_prop props[] = {
        {"job_title", {.type = LSC_VAL_STRING,
                       .u.str = {"VP Sales", sizeof "VP Sales" - 1}}},
    };
    struct lsc_event events[] = {
        {.kind = LSC_EVENT_CONTACT_CREATED, .type = "contact.created",
         .ts_ms = 1793527200000, .props = props, .n_props = 1},
        {.kind = LSC_EVENT_ACTIVITY, .type = "page_view",
         .ts_ms = 1793530800000},
        {.kind = LSC_EVENT_EVALUATE, .type = "evaluate",
         .ts_ms = 1793613600000},
    };
    host.props = props; /* merged before CONTACT_CREATED is delivered */
    host.n_props = 1;
    int rc = 0;
    for (size_t i = 0; i < sizeof events / sizeof events[0] && rc == 0; i++) {
        events[i].contact_id = "c-1";
        rc = deliver(plugin, &host, &events[i]);
    }
    if (rc == 0 && report_handler != NULL) {
        struct lsc_event at = events[2]; /* report at the last time */
        at.state = host.state;            /* the state stored since */
        at.state_len = host.state_len;
        if (report_handler(plugin, &at, print_report, NULL, err,
                           sizeof err) != LSC_OK) {
            fprintf(stderr, "no report: %s\n", err);
            rc = -1;
        }
    }
    if (shutdown_handler != NULL) {
        shutdown_handler(plugin);
    }
    desc->destroy(plugin);
    dlclose(dl);
    free(host.state);
    return rc == 0 ? 0 : 1;
}
