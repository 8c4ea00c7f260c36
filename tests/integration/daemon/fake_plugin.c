/*
 * A small, deterministic plugin for the daemon tests, so they do not
 * depend on the engine's scoring: score = sum of per-activity points
 * from a tiny model file (config key "model"):
 *   {"name": "m1", "points": {"email_open": 5}, "default": 1,
 *    "tiers": [["cold", 0], ["mql", 10], ["sql", 20]],
 *    "wake_after_ms": 0}
 * A contact event whose props contain "fail" is refused.  Every applied
 * event enqueues a "fake.push" job keyed by contact; the job handler
 * fails (retryable) when the payload is "retry" (a "job_retry" activity).  With wake_after_ms > 0
 * every event asks for an EVALUATE that adds 1000 points ("decay test").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <leadscore/plugin.h>

#define EXPORT __attribute__((visibility("default")))

struct model {
    json_t *root;
    char name[64];
    int64_t wake_after_ms;
};

struct fake {
    const struct lsc_host_api *h;
    struct model m;
};

struct blob {
    unsigned magic;
    int score;
    char tier[16];
};

static int load_model(struct fake *f, struct model *m, char *err,
                      size_t errlen)
{
    const char *path = f->h->config_get(f->h->host, "model");
    if (path == NULL) {
        snprintf(err, errlen, "no model configured");
        return -1;
    }
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL || !json_is_object(json_object_get(root, "points"))) {
        snprintf(err, errlen, "%s: broken model (%s)", path,
                 root ? "no points" : je.text);
        json_decref(root);
        return -1;
    }
    m->root = root;
    json_t *n = json_object_get(root, "name");
    snprintf(m->name, sizeof m->name, "%s",
             json_is_string(n) ? json_string_value(n) : "fake");
    m->wake_after_ms = json_integer_value(json_object_get(root,
                                                          "wake_after_ms"));
    return 0;
}

static const char *tier_of(struct fake *f, int score)
{
    const char *t = "cold";
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(f->m.root, "tiers"), i, e) {
        if (score >= json_integer_value(json_array_get(e, 1))) {
            t = json_string_value(json_array_get(e, 0));
        }
    }
    return t;
}

static enum lsc_status on_event(void *pl, const struct lsc_event *ev,
                                char *err, size_t errlen)
{
    struct fake *f = pl;
    struct blob b = {0x46414b45u, 0, ""};
    if (ev->state != NULL && ev->state_len == sizeof b) {
        memcpy(&b, ev->state, sizeof b);
    }
    if (ev->kind == LSC_EVENT_CONTACT_DELETED) {
        return LSC_OK;
    }
    for (size_t i = 0; i < ev->n_props; i++) {
        if (strcmp(ev->props[i].key, "fail") == 0) {
            snprintf(err, errlen, "refused: property 'fail' is set");
            return LSC_ERR_INVALID_ARG;
        }
    }
    if (ev->kind == LSC_EVENT_ACTIVITY) {
        json_t *p = json_object_get(json_object_get(f->m.root, "points"),
                                    ev->type);
        b.score += p ? (int)json_integer_value(p)
                     : (int)json_integer_value(
                           json_object_get(f->m.root, "default"));
    } else if (ev->kind == LSC_EVENT_EVALUATE) {
        b.score += 1000;
    }
    const char *tier = tier_of(f, b.score);
    if (strcmp(tier, b.tier) != 0) {
        struct lsc_transition t = {
            .struct_size = sizeof t, .contact_id = ev->contact_id,
            .model = f->m.name, .primary = true,
            .from = b.tier[0] ? b.tier : NULL, .to = tier,
            .score = b.score, .at_ms = ev->now_ms,
        };
        f->h->emit_transition(f->h->host, &t);
        snprintf(b.tier, sizeof b.tier, "%s", tier);
    }
    struct lsc_prop props[2] = {
        {.key = "leadscore_score",
         .value = {.type = LSC_VAL_NUMBER, .u.num = b.score}},
        {.key = "leadscore_tier",
         .value = {.type = LSC_VAL_STRING,
                   .u.str = {b.tier, strlen(b.tier)}}},
    };
    f->h->props_write(f->h->host, ev->contact_id, props, 2);
    int64_t wake = INT64_MAX;
    if (f->m.wake_after_ms > 0 && ev->kind != LSC_EVENT_EVALUATE) {
        wake = ev->now_ms + f->m.wake_after_ms;
    }
    f->h->state_put(f->h->host, ev->contact_id, &b, sizeof b, wake);
    char payload[32];
    snprintf(payload, sizeof payload, "%d", b.score);
    if (strcmp(ev->type, "job_retry") == 0) {
        snprintf(payload, sizeof payload, "retry");
    }
    f->h->job_enqueue(f->h->host, "fake.push", ev->contact_id, payload,
                      strlen(payload), 0);
    return LSC_OK;
}

static enum lsc_status on_report(void *pl, const struct lsc_event *ev,
                                 lsc_report_sink_fn sink, void *ud,
                                 char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct fake *f = pl;
    struct blob b = {0, 0, ""};
    if (ev->state != NULL && ev->state_len == sizeof b) {
        memcpy(&b, ev->state, sizeof b);
    }
    struct lsc_report_group g = {"all", b.score, b.score, 1e9, 0};
    struct lsc_report_rule r = {"points", "all", false, b.score, b.score, 1,
                                INT64_MIN};
    struct lsc_report rep = {
        .struct_size = sizeof rep, .contact_id = ev->contact_id,
        .model = f->m.name, .primary = true, .at_ms = ev->ts_ms,
        .score = b.score, .tier = b.tier[0] ? b.tier : "cold",
        .total = b.score, .scale_max = 1000000, .groups = &g, .n_groups = 1,
        .rules = &r, .n_rules = 1,
    };
    sink(ud, &rep);
    return LSC_OK;
}

static enum lsc_status on_job(void *pl, const struct lsc_job *jobs,
                              struct lsc_job_result *res, size_t n)
{
    (void)pl;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].payload_len == 5 &&
            memcmp(jobs[i].payload, "retry", 5) == 0) {
            res[i].status = LSC_ERR_RETRYABLE;
            res[i].retry_after_ms = 10;
            snprintf(res[i].reason, sizeof res[i].reason, "HTTP 503");
        } else {
            res[i].status = LSC_OK;
        }
    }
    return LSC_OK;
}

static enum lsc_status on_reload(void *pl, char *err, size_t errlen)
{
    struct fake *f = pl;
    struct model m = {0};
    if (load_model(f, &m, err, errlen) != 0) {
        return LSC_ERR_CONFIG;
    }
    json_decref(f->m.root);
    f->m = m;
    return LSC_OK;
}

static void on_tick(void *pl, int64_t now) { (void)pl; (void)now; }

static enum lsc_status fake_create(const struct lsc_host_api *h, void **out,
                                   char *err, size_t errlen)
{
    struct fake *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return LSC_ERR_NOMEM;
    }
    f->h = h;
    if (load_model(f, &f->m, err, errlen) != 0) {
        free(f);
        return LSC_ERR_CONFIG;
    }
    for (int k = LSC_EVENT_CONTACT_CREATED; k <= LSC_EVENT_EVALUATE; k++) {
        h->register_event(h->host, (enum lsc_event_kind)k, on_event);
    }
    h->register_report(h->host, on_report);
    h->register_job(h->host, "fake.push", on_job, 16);
    h->register_reload(h->host, on_reload);
    h->register_tick(h->host, on_tick, 1000);
    *out = f;
    return LSC_OK;
}

static void fake_destroy(void *pl)
{
    struct fake *f = pl;
    if (f != NULL) {
        json_decref(f->m.root);
        free(f);
    }
}

static const struct lsc_plugin_desc desc = {
    .struct_size = sizeof desc,
    .abi_major = LSC_PLUGIN_ABI_MAJOR,
    .abi_minor = LSC_PLUGIN_ABI_MINOR,
    .flags = LSC_PLUGIN_F_CONCURRENT,
    .name = "fake",
    .version = "0",
    .description = "deterministic test plugin",
    .create = fake_create,
    .destroy = fake_destroy,
};

EXPORT const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                                      uint32_t minor);
EXPORT const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                                      uint32_t minor)
{
    (void)major;
    (void)minor;
    return &desc;
}
