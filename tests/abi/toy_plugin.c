/*
 * A small, well-behaved test plugin: exercises every part of ABI v1 the
 * hosts implement, independently of the real engine.
 *
 * Config: `models` = paths joined by "\n" (each model's name is its file
 * name without ".json"; a file containing "oops" is refused with a
 * diagnostic at that line and column), or `connectors` = one path.
 * Scoring per model m (0-based): 10*(m+1) points per activity (an
 * "engagement" group, no cap), 20 points for a `vip: true` property
 * ("fit" group, max 40); tiers cold (< 30) and warm (>= 30).  Activity
 * type "poison" is refused.  The tick handler tries a late registration
 * and logs the status it got.
 */
#include <leadscore/plugin.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_MODELS 4
#define STATE_MAGIC 0x544f5931u /* "TOY1" */

struct toy {
    const struct lsc_host_api *host;
    size_t n_models;
    char names[MAX_MODELS][64];
};

struct toy_state {
    uint32_t magic;
    uint32_t count;
    int64_t last_ms;
    char tier[MAX_MODELS][8];
};

static void logf_(struct toy *t, enum lsc_log_level l, const char *msg)
{
    if (t->host->log != NULL) {
        t->host->log(t->host->host, l, msg);
    }
}

static void diag(const struct lsc_host_api *h, const char *file, int line,
                 int col, const char *msg)
{
    struct lsc_diagnostic d = {
        .struct_size = sizeof d, .severity = LSC_LOG_ERROR, .file = file,
        .line = line, .column = col, .json_path = "rules[0].when[0].op",
        .message = msg,
    };
    if (h->diagnostic != NULL) {
        h->diagnostic(h->host, &d);
    }
}

/* Load one model file; false after reporting a diagnostic. */
static bool load_model(struct toy *t, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        diag(t->host, path, 0, 0, "cannot open the file");
        return false;
    }
    char line[1024];
    int lineno = 0;
    bool ok = true;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        char *p = strstr(line, "oops");
        if (p != NULL) {
            diag(t->host, path, lineno, (int)(p - line) + 1,
                 "unknown op 'oops'; hint: use one of eq, ne, in");
            ok = false;
        }
    }
    fclose(f);
    if (!ok) {
        return false;
    }
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    char *name = t->names[t->n_models++];
    snprintf(name, 64, "%s", base);
    char *dot = strstr(name, ".json");
    if (dot != NULL) {
        *dot = '\0';
    }
    char msg[512];
    snprintf(msg, sizeof msg, "model '%s' (%s): 2 groups, 2 rules, 2 tiers",
             name, path);
    logf_(t, LSC_LOG_INFO, msg);
    return true;
}

static void find_vip(void *ud, const struct lsc_prop *props, size_t n)
{
    bool *vip = ud;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(props[i].key, "vip") == 0 &&
            props[i].value.type == LSC_VAL_BOOL && props[i].value.u.boolean) {
            *vip = true;
        }
    }
}

static bool is_vip(struct toy *t, const char *contact)
{
    bool vip = false;
    if (t->host->contact_props != NULL) {
        t->host->contact_props(t->host->host, contact, find_vip, &vip);
    }
    return vip;
}

static int score_of(const struct toy_state *s, size_t m, bool vip)
{
    int v = (int)s->count * 10 * (int)(m + 1) + (vip ? 20 : 0);
    return v > 100 ? 100 : v;
}

static const char *tier_of(int score)
{
    return score >= 30 ? "warm" : "cold";
}

static enum lsc_status on_event(void *plugin, const struct lsc_event *ev,
                                char *err, size_t errlen)
{
    struct toy *t = plugin;
    struct toy_state s = {.magic = STATE_MAGIC};
    if (ev->state_len == sizeof s) {
        memcpy(&s, ev->state, sizeof s);
        if (s.magic != STATE_MAGIC) {
            snprintf(err, errlen, "foreign state");
            return LSC_ERR_CORRUPT;
        }
    }
    if (ev->kind == LSC_EVENT_CONTACT_DELETED) {
        return LSC_OK;
    }
    if (ev->kind == LSC_EVENT_ACTIVITY) {
        if (strcmp(ev->type, "poison") == 0) {
            snprintf(err, errlen, "poisoned event refused");
            return LSC_ERR_INVALID_ARG;
        }
        s.count++;
        if (ev->ts_ms > s.last_ms) {
            s.last_ms = ev->ts_ms;
        }
    }
    bool vip = is_vip(t, ev->contact_id);
    for (size_t m = 0; m < t->n_models; m++) {
        int score = score_of(&s, m, vip);
        const char *tier = tier_of(score);
        if (strcmp(s.tier[m], tier) != 0) {
            struct lsc_transition tr = {
                .struct_size = sizeof tr, .contact_id = ev->contact_id,
                .model = t->names[m], .primary = m == 0,
                .from = s.tier[m][0] != '\0' ? s.tier[m] : NULL, .to = tier,
                .score = score, .at_ms = ev->now_ms,
            };
            if (t->host->emit_transition != NULL) {
                t->host->emit_transition(t->host->host, &tr);
            }
            snprintf(s.tier[m], sizeof s.tier[m], "%s", tier);
        }
    }
    if (t->host->state_put != NULL) {
        return t->host->state_put(t->host->host, ev->contact_id, &s, sizeof s,
                                  INT64_MAX);
    }
    return LSC_OK;
}

static enum lsc_status on_report(void *plugin, const struct lsc_event *ev,
                                 lsc_report_sink_fn sink, void *ud,
                                 char *err, size_t errlen)
{
    struct toy *t = plugin;
    struct toy_state s = {.magic = STATE_MAGIC};
    if (ev->state_len == sizeof s) {
        memcpy(&s, ev->state, sizeof s);
    }
    bool vip = is_vip(t, ev->contact_id);
    for (size_t m = 0; m < t->n_models; m++) {
        double act = (double)s.count * 10 * (double)(m + 1);
        struct lsc_report_group groups[2] = {
            {"fit", vip ? 20 : 0, vip ? 20 : 0, 40, 0},
            {"engagement", act, act, NAN, 0},
        };
        struct lsc_report_rule rules[2];
        size_t n = 0;
        if (s.count > 0) {
            rules[n++] = (struct lsc_report_rule){
                "activity", "engagement", false, act, act, s.count,
                s.last_ms};
        }
        if (vip) {
            rules[n++] = (struct lsc_report_rule){"vip", "fit", true, 20, 20,
                                                  0, INT64_MIN};
        }
        if (n == 2 && rules[1].points > rules[0].points) {
            struct lsc_report_rule x = rules[0];
            rules[0] = rules[1];
            rules[1] = x;
        }
        int score = score_of(&s, m, vip);
        struct lsc_report r = {
            .struct_size = sizeof r, .contact_id = ev->contact_id,
            .model = t->names[m], .primary = m == 0, .at_ms = ev->ts_ms,
            .score = score, .tier = tier_of(score),
            .total = act + (vip ? 20 : 0), .scale_max = 100,
            .groups = groups, .n_groups = 2, .rules = rules, .n_rules = n,
        };
        sink(ud, &r);
    }
    return LSC_OK;
}

static void on_tick(void *plugin, int64_t now_ms)
{
    struct toy *t = plugin;
    enum lsc_status st =
        t->host->register_event(t->host->host, LSC_EVENT_ACTIVITY, on_event);
    char msg[128];
    snprintf(msg, sizeof msg, "late registration: %d", (int)st);
    logf_(t, LSC_LOG_WARN, msg);
}

static enum lsc_status on_job(void *plugin, const struct lsc_job *jobs,
                              struct lsc_job_result *results, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        results[i].status = LSC_OK;
    }
    return LSC_OK;
}

static void on_shutdown(void *plugin)
{
    logf_(plugin, LSC_LOG_INFO, "toy shutting down");
}

static enum lsc_status toy_create(const struct lsc_host_api *host,
                                  void **plugin, char *err, size_t errlen)
{
    struct toy *t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    t->host = host;
    const char *models =
        host->config_get != NULL ? host->config_get(host->host, "models")
                                 : NULL;
    const char *connectors =
        host->config_get != NULL ? host->config_get(host->host, "connectors")
                                 : NULL;
    bool ok = true;
    if (models != NULL) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", models);
        for (char *save = NULL, *p = strtok_r(buf, "\n", &save);
             p != NULL && t->n_models < MAX_MODELS;
             p = strtok_r(NULL, "\n", &save)) {
            ok = load_model(t, p) && ok;
        }
    } else if (connectors != NULL) {
        char msg[512];
        snprintf(msg, sizeof msg, "connector mapping (%s): ok", connectors);
        logf_(t, LSC_LOG_INFO, msg);
    } else {
        snprintf(err, errlen, "no model configured (config key 'models')");
        free(t);
        return LSC_ERR_CONFIG;
    }
    if (!ok) {
        snprintf(err, errlen, "invalid model");
        free(t);
        return LSC_ERR_CONFIG;
    }
    for (int k = LSC_EVENT_CONTACT_CREATED; k <= LSC_EVENT_EVALUATE; k++) {
        host->register_event(host->host, (enum lsc_event_kind)k, on_event);
    }
    if (host->register_event(host->host, (enum lsc_event_kind)99, on_event) !=
        LSC_ERR_UNSUPPORTED) {
        snprintf(err, errlen, "unknown event kind accepted");
        free(t);
        return LSC_ERR_INTERNAL;
    }
    host->register_report(host->host, on_report);
    host->register_tick(host->host, on_tick, 1000);
    host->register_job(host->host, "toy.echo", on_job, 4);
    host->register_shutdown(host->host, on_shutdown);
    *plugin = t;
    return LSC_OK;
}

static void toy_destroy(void *plugin)
{
    free(plugin);
}

static const struct lsc_plugin_desc desc = {
    .struct_size = sizeof desc,
    .abi_major = LSC_PLUGIN_ABI_MAJOR,
    .abi_minor = LSC_PLUGIN_ABI_MINOR,
    .name = "toy",
    .version = "1.0",
    .description = "ABI test plugin",
    .create = toy_create,
    .destroy = toy_destroy,
};

EXPORT const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                                      uint32_t minor);
EXPORT const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                                      uint32_t minor)
{
    return &desc;
}
