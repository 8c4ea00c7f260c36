/*
 * leadscore connectors: plugin/CLI facade (see connectors.h).
 */
#include "connectors.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/clog.h"
#include "core/http.h"
#include "core/outcome.h"
#include "core/retry.h"
#include "core/secrets.h"
#include "core/webhook.h"
#include "hubspot/hubspot.h"
#include "mailchimp/mailchimp.h"

/* Per-contact write-back memory: hash of the last acknowledged value and
 * of the latest enqueued one (0: none). */
struct ack_entry {
    char *contact;
    uint64_t acked;
    uint64_t pending;
    int64_t acked_at;   /* evaluation time of the acknowledged value */
};

struct connectors {
    const struct lsc_host_api *host; /* borrowed */
    struct hubspot_config cfg;
    bool have_hubspot;
    struct hubspot_client *hs;
    struct http_client *hooks;      /* webhook deliveries */
    /* the webhook actions of a Mailchimp mapping (only on, tier and the
     * webhook are set) */
    struct hubspot_action *mc_actions;
    size_t n_mc_actions;
    struct clog log;
    pthread_mutex_t ack_lock;
    struct ack_entry *ack;
    size_t ack_cap;                 /* power of two */
    size_t ack_n;
    /* read path: contacts already checked for missing inputs (hashes of
     * their ids, 0 = empty slot), so each is read at most once */
    bool read_inputs;
    pthread_mutex_t seen_lock;
    uint64_t *seen;
    size_t seen_cap;                /* power of two */
    size_t seen_n;
};

struct connectors_connect {
    struct hubspot_connect *h;
};

/* ---- Write-back memory -------------------------------------------------- */

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t str_hash(const char *s)
{
    return fnv(s, strlen(s), 0xcbf29ce484222325ULL);
}

/* The slot of contact (existing or empty).  Lock held. */
static struct ack_entry *ack_slot(struct connectors *c, const char *contact,
                                  bool create)
{
    if (create && (c->ack_n + 1) * 2 > c->ack_cap) {
        size_t ncap = c->ack_cap ? c->ack_cap * 2 : 1024;
        struct ack_entry *nv = calloc(ncap, sizeof *nv);
        if (nv == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < c->ack_cap; i++) {
            if (c->ack[i].contact == NULL) {
                continue;
            }
            size_t j = str_hash(c->ack[i].contact) & (ncap - 1);
            while (nv[j].contact != NULL) {
                j = (j + 1) & (ncap - 1);
            }
            nv[j] = c->ack[i];
        }
        free(c->ack);
        c->ack = nv;
        c->ack_cap = ncap;
    }
    if (c->ack_cap == 0) {
        return NULL;
    }
    size_t j = str_hash(contact) & (c->ack_cap - 1);
    while (c->ack[j].contact != NULL) {
        if (strcmp(c->ack[j].contact, contact) == 0) {
            return &c->ack[j];
        }
        j = (j + 1) & (c->ack_cap - 1);
    }
    if (!create) {
        return NULL;
    }
    c->ack[j].contact = strdup(contact);
    if (c->ack[j].contact == NULL) {
        return NULL;
    }
    c->ack_n++;
    return &c->ack[j];
}

/* ---- Create / destroy --------------------------------------------------- */

static void diag_to_host(void *ud, const struct lsc_diagnostic *d)
{
    const struct lsc_host_api *h = ud;
    if (h != NULL && h->diagnostic != NULL) {
        h->diagnostic(h->host, d);
    }
}

static enum lsc_status connectors_create_one(const struct lsc_host_api *host,
                                             const char *hubspot_config,
                                             const char *data_dir,
                                             struct connectors **out,
                                             char *err, size_t errlen);

/* The "connector" member of a mapping file, into out ("" when absent or
 * unreadable: the validator then reports the file). */
static void peek_connector(const char *path, char *out, size_t outlen)
{
    json_t *j = json_load_file(path, 0, NULL);
    const char *c = json_string_value(json_object_get(j, "connector"));
    snprintf(out, outlen, "%s", c ? c : "");
    json_decref(j);
}

/* The HubSpot file among newline-separated paths (malloc()ed), or NULL. */
static char *pick_hubspot(const char *files, bool *any_unknown)
{
    char *found = NULL;
    *any_unknown = false;
    const char *p = files;
    while (p != NULL && *p) {
        size_t l = strcspn(p, "\n");
        char path[1024];
        snprintf(path, sizeof path, "%.*s", (int)l, p);
        size_t pl = strlen(path);
        while (pl > 0 && (path[pl - 1] == '\r' || path[pl - 1] == ' ')) {
            path[--pl] = '\0';
        }
        if (pl > 0) {
            char kind[64];
            peek_connector(path, kind, sizeof kind);
            if (strcmp(kind, "hubspot") == 0 && found == NULL) {
                found = strdup(path);
            } else if (kind[0] == '\0') {
                *any_unknown = true;
                if (found == NULL) {
                    found = strdup(path); /* let the validator explain */
                }
            }
        }
        p += l;
        if (*p == '\n') {
            p++;
        }
    }
    return found;
}

/* The webhook actions of the first Mailchimp mapping among
 * newline-separated paths, into c (none: LSC_OK, nothing set). */
static enum lsc_status load_mailchimp_actions(struct connectors *c,
                                              const char *files, char *err,
                                              size_t errlen)
{
    for (const char *p = files; p != NULL && *p;) {
        size_t l = strcspn(p, "\n");
        char path[1024], kind[64];
        snprintf(path, sizeof path, "%.*s", (int)l, p);
        p += l + (p[l] == '\n');
        peek_connector(path, kind, sizeof kind);
        if (strcmp(kind, "mailchimp") != 0) {
            continue;
        }
        struct mailchimp_config mc;
        size_t nerr = 0;
        if (mailchimp_config_load(path, NULL, NULL, &mc, &nerr) != LSC_OK) {
            snprintf(err, errlen, "%s: %zu problem(s) in the Mailchimp "
                     "mapping", path, nerr);
            return LSC_ERR_CONFIG;
        }
        enum lsc_status rc = LSC_OK;
        c->mc_actions = calloc(mc.n_actions + 1, sizeof *c->mc_actions);
        for (size_t i = 0; c->mc_actions != NULL && i < mc.n_actions; i++) {
            struct hubspot_action *a = &c->mc_actions[i];
            a->on = mc.actions[i].on_leave ? HUBSPOT_ON_LEAVE
                                           : HUBSPOT_ON_ENTER;
            a->tier = strdup(mc.actions[i].tier);
            a->webhook_url = strdup(mc.actions[i].webhook_url);
            a->webhook_secret_env = strdup(mc.actions[i].webhook_secret_env);
            c->n_mc_actions = i + 1;
            if (a->tier == NULL || a->webhook_url == NULL ||
                a->webhook_secret_env == NULL) {
                rc = LSC_ERR_NOMEM;
            }
        }
        if (c->mc_actions == NULL) {
            rc = LSC_ERR_NOMEM;
        }
        mailchimp_config_destroy(&mc);
        if (rc != LSC_OK) {
            snprintf(err, errlen, "out of memory");
        }
        return rc;
    }
    return LSC_OK;
}

/* The message about the first of the model's n tiers the HubSpot mapping's
 * "tiers" lack, into msg; false when none is missing. */
static bool missing_tier(const struct hubspot_config *cfg,
                         const char *const *tiers, size_t n, char *msg,
                         size_t msglen)
{
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; !found && j < cfg->n_tiers; j++) {
            found = strcmp(cfg->tiers[j], tiers[i]) == 0;
        }
        if (!found) {
            snprintf(msg, msglen,
                     "lacks the model's tier \"%.60s\" (HubSpot would "
                     "refuse every write of it); hint: list every tier of "
                     "the model in \"tiers\", then run `leadscore setup "
                     "hubspot` to update the options",
                     tiers[i]);
            return true;
        }
    }
    return false;
}

enum lsc_status connectors_validate_file(const struct lsc_host_api *host,
                                         const char *path,
                                         const char *const *tiers, size_t n,
                                         char *err, size_t errlen)
{
    char kind[64];
    peek_connector(path, kind, sizeof kind);
    if (strcmp(kind, "mailchimp") == 0) {
        snprintf(err, errlen, "%s: connector \"%s\" is validated by its own "
                 "connector", path, kind);
        return LSC_ERR_UNSUPPORTED;
    }
    struct hubspot_config cfg;
    enum lsc_status rc = hubspot_config_load(path, diag_to_host, (void *)host,
                                             &cfg, err, errlen);
    if (rc == LSC_OK) {
        char msg[320];
        if (tiers != NULL && missing_tier(&cfg, tiers, n, msg, sizeof msg)) {
            /* a diagnostic, printed and counted like the mapping's own */
            struct lsc_diagnostic d = {
                .struct_size = sizeof d,
                .severity = LSC_LOG_ERROR,
                .file = path,
                .line = cfg.tiers_line,
                .column = cfg.tiers_col,
                .json_path = "tiers",
                .message = msg,
            };
            diag_to_host((void *)host, &d);
            snprintf(err, errlen, "%s:%d:%d: tiers: %s", path, cfg.tiers_line,
                     cfg.tiers_col, msg);
            rc = LSC_ERR_CONFIG;
        }
        hubspot_config_finish(&cfg);
    }
    return rc;
}

enum lsc_status connectors_create(const struct lsc_host_api *host,
                                  const char *mapping_files,
                                  const char *data_dir,
                                  struct connectors **out, char *err,
                                  size_t errlen)
{
    bool unknown = false;
    char *hubspot_config = pick_hubspot(mapping_files, &unknown);
    enum lsc_status rc0 = connectors_create_one(host, hubspot_config,
                                                data_dir, out, err, errlen);
    free(hubspot_config);
    if (rc0 == LSC_OK) {
        rc0 = load_mailchimp_actions(*out, mapping_files, err, errlen);
        if (rc0 != LSC_OK) {
            connectors_destroy(*out);
            *out = NULL;
        }
    }
    return rc0;
}

static enum lsc_status connectors_create_one(const struct lsc_host_api *host,
                                             const char *hubspot_config,
                                             const char *data_dir,
                                             struct connectors **out,
                                             char *err, size_t errlen)
{
    *out = NULL;
    struct connectors *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    pthread_mutex_init(&c->ack_lock, NULL);
    pthread_mutex_init(&c->seen_lock, NULL);
    c->host = host;
    c->log = (struct clog){.host = host, .prefix = "connectors",
                           .max_level = LSC_LOG_INFO};
    if (data_dir == NULL && host != NULL && host->data_dir != NULL) {
        data_dir = host->data_dir(host->host);
    }
    /* webhook deliveries without a HubSpot mapping retry by default */
    retry_policy_default(&c->cfg.retry);
    enum lsc_status rc = http_client_create(NULL, &c->hooks, err, errlen);
    if (rc == LSC_OK && hubspot_config != NULL) {
        rc = hubspot_config_load(hubspot_config, diag_to_host, (void *)host,
                                 &c->cfg, err, errlen);
        if (rc == LSC_OK) {
            c->have_hubspot = true;
            struct clog hl = {.host = host, .prefix = "hubspot",
                              .max_level = LSC_LOG_INFO};
            rc = hubspot_client_create(&c->cfg, data_dir ? data_dir : ".",
                                       &hl, &c->hs, err, errlen);
            if (rc == LSC_OK) {
                c->log.redactor = hubspot_client_redactor(c->hs);
            }
        }
    }
    if (rc != LSC_OK) {
        connectors_destroy(c);
        return rc;
    }
    *out = c;
    return LSC_OK;
}

void connectors_destroy(struct connectors *c)
{
    if (c == NULL) {
        return;
    }
    hubspot_client_destroy(c->hs);
    http_client_destroy(c->hooks);
    hubspot_config_finish(&c->cfg);
    for (size_t i = 0; i < c->n_mc_actions; i++) {
        free(c->mc_actions[i].tier);
        free(c->mc_actions[i].webhook_url);
        free(c->mc_actions[i].webhook_secret_env);
    }
    free(c->mc_actions);
    for (size_t i = 0; i < c->ack_cap; i++) {
        free(c->ack[i].contact);
    }
    free(c->ack);
    pthread_mutex_destroy(&c->ack_lock);
    free(c->seen);
    pthread_mutex_destroy(&c->seen_lock);
    free(c);
}

enum lsc_status connectors_register_jobs(struct connectors *c, lsc_job_fn fn)
{
    if (c->host == NULL || c->host->register_job == NULL) {
        return LSC_ERR_UNSUPPORTED;
    }
    size_t batch = c->have_hubspot ? (size_t)c->cfg.batch_size : 1;
    enum lsc_status rc = LSC_OK;
    if (!c->have_hubspot) {
        /* Mailchimp's webhook actions only */
        return c->host->register_job(c->host->host, CONNECTORS_JOB_WEBHOOK,
                                     fn, 16);
    }
    if (c->have_hubspot && c->cfg.n_inputs > 0) {
        /* first: a host running kinds in this order reads the inputs, and
         * re-scores, before the writes go out (they then carry the
         * re-scored values, coalesced) */
        rc = c->host->register_job(c->host->host, CONNECTORS_JOB_HUBSPOT_READ,
                                   fn, batch);
    }
    if (rc == LSC_OK) {
        rc = c->host->register_job(c->host->host, CONNECTORS_JOB_HUBSPOT_WRITE,
                                   fn, batch);
    }
    if (rc == LSC_OK) {
        rc = c->host->register_job(c->host->host,
                                   CONNECTORS_JOB_HUBSPOT_ACTION, fn, batch);
    }
    if (rc == LSC_OK) {
        rc = c->host->register_job(c->host->host, CONNECTORS_JOB_WEBHOOK, fn,
                                   16);
    }
    return rc;
}

/* ---- Event side: building jobs ------------------------------------------ */

/* The contact (id hash, 0: none) whose event, on this thread, has just
 * queued a read of its inputs: its first write waits
 * CONNECTORS_READ_GRACE_MS, so the value re-scored with what is read
 * replaces it while queued (one write instead of two).  An event handler
 * runs on one thread from connectors_on_event to connectors_on_score. */
static _Thread_local uint64_t read_pending;

static enum lsc_status enqueue_at(struct connectors *c, const char *kind,
                                  const char *key, const char *payload,
                                  int64_t delay_ms, char *err, size_t errlen)
{
    if (c->host == NULL || c->host->job_enqueue == NULL) {
        snprintf(err, errlen, "the host has no job queue");
        return LSC_ERR_UNSUPPORTED;
    }
    int64_t now = c->host->now_ms ? c->host->now_ms(c->host->host) : 0;
    enum lsc_status rc = c->host->job_enqueue(c->host->host, kind, key,
                                              payload, strlen(payload),
                                              now + delay_ms);
    if (rc != LSC_OK) {
        snprintf(err, errlen, "enqueue %s: %s", kind, lsc_status_str(rc));
    }
    return rc;
}

static enum lsc_status enqueue(struct connectors *c, const char *kind,
                               const char *key, const char *payload,
                               char *err, size_t errlen)
{
    return enqueue_at(c, kind, key, payload, 0, err, errlen);
}

void connectors_format_num(double v, char *out, size_t outlen)
{
    double x = v * 100.0;
    if (!(x < 1e15 && x > -1e15)) { /* also NaN; no libm in this library */
        snprintf(out, outlen, "%.2f", isfinite(v) ? v : 0.0);
        return;
    }
    long long h = (long long)(x < 0 ? x - 0.5 : x + 0.5);
    unsigned long long u = h < 0 ? 0ULL - (unsigned long long)h
                                 : (unsigned long long)h;
    const char *sign = h < 0 ? "-" : "";
    unsigned frac = (unsigned)(u % 100);
    if (frac == 0) {
        snprintf(out, outlen, "%s%llu", sign, u / 100);
    } else if (frac % 10 == 0) {
        snprintf(out, outlen, "%s%llu.%u", sign, u / 100, frac / 10);
    } else {
        snprintf(out, outlen, "%s%llu.%02u", sign, u / 100, frac);
    }
}

/* Length of the longest prefix of s[0..n) that ends on a UTF-8 character
 * boundary. */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--;
    }
    return n;
}

size_t connectors_format_reasons(const struct connectors_reason *r, size_t n,
                                 char *out, size_t outlen)
{
    size_t cap = outlen - 1 < CONNECTORS_REASONS_MAX ? outlen - 1
                                                     : CONNECTORS_REASONS_MAX;
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && i < CONNECTORS_TOP_REASONS; i++) {
        char num[48], tail[96];
        connectors_format_num(r[i].points, num, sizeof num);
        if (r[i].awards > 0) {
            snprintf(tail, sizeof tail, " %s%s (%u award%s)",
                     r[i].points < 0 ? "" : "+", num, (unsigned)r[i].awards,
                     r[i].awards == 1 ? "" : "s");
        } else {
            snprintf(tail, sizeof tail, " %s%s", r[i].points < 0 ? "" : "+",
                     num);
        }
        const char *sep = i > 0 ? "; " : "";
        size_t il = strlen(r[i].rule);
        size_t need = strlen(sep) + il + strlen(tail);
        if (o + need > cap) {
            if (i > 0) {
                break; /* whole rules only */
            }
            /* one rule id longer than the cap: keep its head */
            size_t room = cap > strlen(tail) + 3 ? cap - strlen(tail) - 3 : 0;
            il = utf8_cut(r[i].rule, room < il ? room : il);
            o += (size_t)snprintf(out + o, outlen - o, "%.*s...%s", (int)il,
                                  r[i].rule, tail);
            if (o > cap) { /* a tail longer than the cap: cannot happen */
                o = utf8_cut(out, cap);
                out[o] = '\0';
            }
            break;
        }
        o += (size_t)snprintf(out + o, outlen - o, "%s%s%s", sep, r[i].rule,
                              tail);
    }
    return o;
}

unsigned connectors_needs(const struct connectors *c)
{
    unsigned need = 0;
    for (size_t i = 0; c != NULL && i < c->n_mc_actions; i++) {
        need |= CONNECTORS_NEED_HOOK_REASONS;
    }
    if (c == NULL || !c->have_hubspot) {
        return need;
    }
    if (c->cfg.sync_scores &&
        (c->cfg.prop_fit != NULL || c->cfg.prop_engagement != NULL)) {
        need |= CONNECTORS_NEED_GROUPS;
    }
    if (c->cfg.sync_scores && c->cfg.prop_reasons != NULL) {
        need |= CONNECTORS_NEED_REASONS;
    }
    for (size_t i = 0; i < c->cfg.n_actions; i++) {
        if (c->cfg.actions[i].webhook_url != NULL) {
            need |= CONNECTORS_NEED_HOOK_REASONS;
        }
    }
    return need;
}

static bool has_group(const char *const *groups, size_t n, const char *g)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(groups[i], g) == 0) {
            return true;
        }
    }
    return false;
}

void connectors_check_groups(struct connectors *c, const char *model,
                             const char *const *groups, size_t n)
{
    if (c == NULL || !c->have_hubspot) {
        return;
    }
    for (int k = 0; k < 2; k++) {
        const char *prop = k == 0 ? c->cfg.prop_fit : c->cfg.prop_engagement;
        char **want = k == 0 ? c->cfg.fit_groups : c->cfg.engagement_groups;
        size_t nw = k == 0 ? c->cfg.n_fit_groups : c->cfg.n_engagement_groups;
        bool expl = k == 0 ? c->cfg.fit_groups_explicit
                           : c->cfg.engagement_groups_explicit;
        const char *out = k == 0 ? "fit" : "engagement";
        if (prop == NULL) {
            continue;
        }
        size_t found = 0;
        for (size_t i = 0; i < nw; i++) {
            if (has_group(groups, n, want[i])) {
                found++;
            } else if (expl) {
                CLOG_WARN(&c->log, "%s: outputs.%s names group \"%s\" that "
                          "model '%s' does not have; it is skipped",
                          c->cfg.path, out, want[i], model);
            }
        }
        if (found == 0) {
            CLOG_WARN(&c->log, "%s: model '%s' has none of the groups of "
                      "outputs.%s; %s is not written; hint: \"%s\": "
                      "{\"property\": \"%s\", \"groups\": [...]}",
                      c->cfg.path, model, out, prop, out, prop);
        }
    }
}

/* Sum of the named groups' contributions; NAN when none is present. */
static double sum_groups(const struct connectors_score *s, char **names,
                         size_t n)
{
    double sum = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        for (size_t g = 0; s->groups != NULL && g < s->n_groups; g++) {
            if (strcmp(s->groups[g].name, names[i]) == 0) {
                sum += s->groups[g].value;
                any = true;
                break;
            }
        }
    }
    return any ? sum : NAN;
}

/* The written value of a score, as the strings sent.  The scoring time
 * is left out: a new time alone is not a new value. */
struct written {
    char fit[48], eng[48];  /* "" when not written */
    char reasons[CONNECTORS_REASONS_MAX + 1];
    bool has_reasons;
};

static void written_of(const struct connectors *c,
                       const struct connectors_score *s, struct written *w)
{
    w->fit[0] = w->eng[0] = '\0';
    double f = c->cfg.prop_fit ? sum_groups(s, c->cfg.fit_groups,
                                            c->cfg.n_fit_groups)
                               : NAN;
    double e = c->cfg.prop_engagement
                   ? sum_groups(s, c->cfg.engagement_groups,
                                c->cfg.n_engagement_groups)
                   : NAN;
    if (!isnan(f)) {
        connectors_format_num(f, w->fit, sizeof w->fit);
    }
    if (!isnan(e)) {
        connectors_format_num(e, w->eng, sizeof w->eng);
    }
    w->has_reasons = c->cfg.prop_reasons != NULL;
    w->reasons[0] = '\0';
    if (w->has_reasons && s->reasons != NULL) {
        connectors_format_reasons(s->reasons, s->n_reasons, w->reasons,
                                  sizeof w->reasons);
    }
}

static uint64_t value_hash(const struct connectors_score *s,
                           const struct written *w)
{
    char buf[160];
    uint64_t h = 0xcbf29ce484222325ULL;
    int n = snprintf(buf, sizeof buf, "%d|%s|%s|%s|", s->score,
                     s->tier ? s->tier : "", w->fit, w->eng);
    h = fnv(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, h);
    h = fnv(w->reasons, strlen(w->reasons), h);
    return (h >> 2) | 1; /* non-zero, fits a JSON integer */
}

enum lsc_status connectors_on_score(struct connectors *c,
                                    const struct connectors_score *s,
                                    char *err, size_t errlen)
{
    if (!c->have_hubspot || !c->cfg.sync_scores) {
        return LSC_OK;
    }
    if (s->contact_id == NULL || s->tier == NULL) {
        snprintf(err, errlen, "a score needs a contact id and a tier");
        return LSC_ERR_INVALID_ARG;
    }
    struct written w;
    written_of(c, s, &w);
    uint64_t h = value_hash(s, &w);
    pthread_mutex_lock(&c->ack_lock);
    struct ack_entry *e = ack_slot(c, s->contact_id, true);
    bool skip = e != NULL && e->pending == 0 && e->acked == h;
    pthread_mutex_unlock(&c->ack_lock);
    if (skip) {
        return LSC_OK; /* HubSpot already has exactly this */
    }
    /* the payload carries the strings to send: what was hashed */
    json_t *p = json_pack("{s:i, s:s, s:i, s:s, s:I, s:I}", "v", 2, "c",
                          s->contact_id, "s", s->score, "t", s->tier, "at",
                          (json_int_t)s->at_ms, "h", (json_int_t)h);
    if (p != NULL && w.fit[0] != '\0') {
        json_object_set_new(p, "f", json_string(w.fit));
    }
    if (p != NULL && w.eng[0] != '\0') {
        json_object_set_new(p, "e", json_string(w.eng));
    }
    if (p != NULL && w.has_reasons) {
        json_object_set_new(p, "r", json_string(w.reasons));
    }
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    size_t kl = strlen(s->contact_id) + 16;
    char *key = malloc(kl);
    enum lsc_status rc = LSC_ERR_NOMEM;
    if (key != NULL) {
        snprintf(key, kl, "hubspot:%s", s->contact_id);
        /* any score clears it: another contact's means it is stale */
        uint64_t rp = read_pending;
        read_pending = 0;
        int64_t delay = rp != 0 && rp == (str_hash(s->contact_id) | 1)
                            ? CONNECTORS_READ_GRACE_MS
                            : 0;
        rc = enqueue_at(c, CONNECTORS_JOB_HUBSPOT_WRITE, key, text, delay, err,
                        errlen);
    }
    if (rc == LSC_OK) {
        pthread_mutex_lock(&c->ack_lock);
        e = ack_slot(c, s->contact_id, true);
        if (e != NULL) {
            e->pending = h;
        }
        pthread_mutex_unlock(&c->ack_lock);
    }
    free(key);
    free(text);
    return rc;
}

enum lsc_status connectors_on_transition(struct connectors *c,
                                         const struct lsc_transition *t,
                                         const struct connectors_reason *reasons,
                                         size_t n_reasons, char *err,
                                         size_t errlen)
{
    struct webhook_reason wr[CONNECTORS_TOP_REASONS];
    size_t nwr = 0;
    for (; reasons != NULL && nwr < n_reasons && nwr < CONNECTORS_TOP_REASONS;
         nwr++) {
        wr[nwr] = (struct webhook_reason){reasons[nwr].rule,
                                          reasons[nwr].points,
                                          reasons[nwr].awards};
    }
    if ((!c->have_hubspot && c->n_mc_actions == 0) || !t->primary ||
        t->to == NULL) {
        return LSC_OK;
    }
    char did[WEBHOOK_DELIVERY_ID_LEN + 1];
    webhook_delivery_id(t->contact_id, t->model, t->from, t->to, t->at_ms,
                        did, sizeof did);
    json_t *add = json_array();
    json_t *del = json_array();
    bool write_tier = false;
    enum lsc_status rc = LSC_OK;
    size_t n_hs = c->have_hubspot ? c->cfg.n_actions : 0;
    for (size_t i = 0; rc == LSC_OK && i < n_hs + c->n_mc_actions; i++) {
        /* HubSpot's actions, then Mailchimp's (webhooks only) */
        const struct hubspot_action *a = i < n_hs ? &c->cfg.actions[i]
                                                  : &c->mc_actions[i - n_hs];
        bool fires = a->on == HUBSPOT_ON_ENTER
                         ? strcmp(t->to, a->tier) == 0 &&
                               (t->from == NULL || strcmp(t->from, a->tier) != 0)
                         : t->from != NULL && strcmp(t->from, a->tier) == 0 &&
                               strcmp(t->to, a->tier) != 0;
        if (!fires) {
            continue;
        }
        write_tier = write_tier || a->write_tier;
        if (a->tag != NULL) {
            json_array_append_new(a->on == HUBSPOT_ON_ENTER ? add : del,
                                  json_string(a->tag));
        }
        if (a->webhook_url != NULL) {
            char *body = webhook_build_body(t->contact_id, t->from, t->to,
                                            t->score, wr, nwr, t->at_ms,
                                            did);
            json_t *p = body ? json_pack("{s:s, s:s, s:s, s:s}", "url",
                                         a->webhook_url, "secret_env",
                                         a->webhook_secret_env, "body", body,
                                         "id", did)
                             : NULL;
            char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
            char key[64];
            snprintf(key, sizeof key, "webhook:%s:%zu", did, i);
            rc = text ? enqueue(c, CONNECTORS_JOB_WEBHOOK, key, text, err,
                                errlen)
                      : LSC_ERR_NOMEM;
            json_decref(p);
            free(text);
            free(body);
        }
    }
    if (rc == LSC_OK && c->have_hubspot &&
        (write_tier || json_array_size(add) || json_array_size(del))) {
        json_t *p = json_pack("{s:s, s:O, s:O}", "c", t->contact_id, "add",
                              add, "remove", del);
        if (p != NULL && write_tier) {
            json_object_set_new(p, "t", json_string(t->to));
        }
        char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
        char key[64];
        snprintf(key, sizeof key, "hubspot:action:%s", did);
        rc = text ? enqueue(c, CONNECTORS_JOB_HUBSPOT_ACTION, key, text, err,
                            errlen)
                  : LSC_ERR_NOMEM;
        json_decref(p);
        free(text);
    }
    json_decref(add);
    json_decref(del);
    if (rc == LSC_ERR_NOMEM && err[0] == '\0') {
        snprintf(err, errlen, "out of memory");
    }
    return rc;
}

/* ---- Read path: mapped inputs an event lacks ----------------------------- */

void connectors_set_read_inputs(struct connectors *c, bool on)
{
    if (c != NULL) {
        c->read_inputs = on && c->have_hubspot && c->cfg.n_inputs > 0;
    }
}

/* Where h is, or the empty slot it goes to.  Bit 0 of every h is set
 * (0 marks an empty slot), so the index starts at bit 1. */
static size_t seen_slot(const uint64_t *t, size_t cap, uint64_t h)
{
    size_t j = (size_t)(h >> 1) & (cap - 1);
    while (t[j] != 0 && t[j] != h) {
        j = (j + 1) & (cap - 1);
    }
    return j;
}

/* Marks the contact checked; false when it was already.  Lock held. */
static bool seen_add(struct connectors *c, uint64_t h)
{
    if (c->seen_cap > 0 && c->seen[seen_slot(c->seen, c->seen_cap, h)] == h) {
        return false;
    }
    if (c->seen_n >= CONNECTORS_READ_SEEN_MAX) {
        /* a long-running host meets ever more contacts: forget them all
         * (at most 16 MiB kept); a contact checked again is read again
         * only if its stored properties still lack an input */
        memset(c->seen, 0, c->seen_cap * sizeof *c->seen);
        c->seen_n = 0;
    }
    if ((c->seen_n + 1) * 2 > c->seen_cap) {
        size_t ncap = c->seen_cap ? c->seen_cap * 2 : 1024;
        uint64_t *nv = calloc(ncap, sizeof *nv);
        if (nv == NULL) {
            return true; /* no memory to remember: check again next time */
        }
        for (size_t i = 0; i < c->seen_cap; i++) {
            if (c->seen[i] != 0) {
                nv[seen_slot(nv, ncap, c->seen[i])] = c->seen[i];
            }
        }
        free(c->seen);
        c->seen = nv;
        c->seen_cap = ncap;
    }
    c->seen[seen_slot(c->seen, c->seen_cap, h)] = h;
    c->seen_n++;
    return true;
}

struct has_ctx {
    const struct hubspot_config *cfg;
    size_t missing;
};

static void has_inputs_cb(void *ud, const struct lsc_prop *props, size_t n)
{
    struct has_ctx *h = ud;
    for (size_t m = 0; m < h->cfg->n_inputs; m++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++) {
            found = props[i].value.type != LSC_VAL_NULL &&
                    strcmp(props[i].key, h->cfg->inputs[m].field) == 0;
        }
        h->missing += !found;
    }
}

enum lsc_status connectors_on_event(struct connectors *c,
                                    const char *contact_id, char *err,
                                    size_t errlen)
{
    if (c == NULL || !c->read_inputs || contact_id == NULL ||
        c->host == NULL) {
        return LSC_OK;
    }
    uint64_t h = str_hash(contact_id) | 1; /* never 0: the empty slot */
    read_pending = 0;
    pthread_mutex_lock(&c->seen_lock);
    bool first = seen_add(c, h);
    pthread_mutex_unlock(&c->seen_lock);
    if (!first) {
        return LSC_OK;
    }
    struct has_ctx hc = {&c->cfg, 0};
    enum lsc_status rc = LSC_ERR_NOT_FOUND;
    if (c->host->contact_props != NULL) {
        rc = c->host->contact_props(c->host->host, contact_id, has_inputs_cb,
                                    &hc);
    }
    if (rc == LSC_ERR_NOT_FOUND) {
        hc.missing = c->cfg.n_inputs; /* a contact with no properties yet */
    } else if (rc != LSC_OK) {
        snprintf(err, errlen, "cannot read the contact's properties: %s",
                 lsc_status_str(rc));
        return rc;
    }
    if (hc.missing == 0) {
        return LSC_OK;
    }
    json_t *p = json_pack("{s:i, s:s}", "v", 1, "c", contact_id);
    char *payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    size_t kl = strlen(contact_id) + 16;
    char *key = malloc(kl);
    if (payload == NULL || key == NULL) {
        free(payload);
        free(key);
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    snprintf(key, kl, "hubspot:read:%s", contact_id);
    rc = enqueue(c, CONNECTORS_JOB_HUBSPOT_READ, key, payload, err, errlen);
    if (rc == LSC_OK) {
        read_pending = h;
    }
    free(payload);
    free(key);
    return rc;
}

/* ---- Job side ----------------------------------------------------------- */

/* Whether two contact ids name one HubSpot record: emails (an
 * id_property) compare without case, as HubSpot does; a batch may not
 * name a record twice. */
static bool same_record(const struct connectors *c, const char *a,
                        const char *b)
{
    return c->cfg.id_property != NULL ? strcasecmp(a, b) == 0
                                      : strcmp(a, b) == 0;
}

/* Another host contact of the same HubSpot record is in this batch
 * (HubSpot refuses an id twice): this job goes in the next one. */
static void next_batch(struct lsc_job_result *r)
{
    r->status = LSC_ERR_RETRYABLE;
    r->retry_after_ms = 0;
    snprintf(r->reason, sizeof r->reason,
             "ordered after another contact of the same record");
}

/* A job's payload parsed into *p (the caller decrefs) and its contact
 * ("c"), NULL when it has none; *dup (dup may be NULL when m is 0): the
 * one of ids[0..m) that names the contact's record, or NULL. */
static const char *job_contact(const struct connectors *c,
                               const struct lsc_job *job,
                               const char *const *ids, size_t m, json_t **p,
                               const char **dup)
{
    *p = json_loadb(job->payload, job->payload_len, 0, NULL);
    const char *contact = json_string_value(json_object_get(*p, "c"));
    for (size_t k = 0; contact != NULL && k < m; k++) {
        if (same_record(c, ids[k], contact)) {
            *dup = ids[k];
            break;
        }
    }
    return contact;
}

static int64_t now_ms(struct connectors *c)
{
    (void)c;
    return http_now_ms();
}

/* Every job of the batch gets the same outcome.  A paused connector
 * keeps its jobs without spending their retry budget. */
static void fill_all(struct connectors *c, const struct lsc_job *jobs,
                     struct lsc_job_result *res, size_t n,
                     const struct outcome *o)
{
    bool paused = o->status == LSC_ERR_AUTH && c->hs != NULL;
    for (size_t i = 0; i < n; i++) {
        if (paused) {
            char why[sizeof res[i].reason];
            /* the refresh's reason may carry the hint already */
            snprintf(why, sizeof why, "paused: %.200s%s", o->reason,
                     strstr(o->reason, "hint:") != NULL
                         ? ""
                         : "; hint: leadscore connect hubspot");
            retry_fill_paused(c->host, CONNECTORS_PAUSE_MS, why, &res[i]);
            continue;
        }
        retry_fill_result(&c->cfg.retry, jobs[i].attempt, jobs[i].enqueued_ms,
                          now_ms(c), o, &res[i]);
    }
}

/* A job runner that cannot allocate its batch: every job is retried. */
static void fill_oom(struct connectors *c, const struct lsc_job *jobs,
                     struct lsc_job_result *res, size_t n)
{
    struct outcome o = {.status = LSC_ERR_RETRYABLE, .retry_after_ms = -1};
    snprintf(o.reason, sizeof o.reason, "out of memory");
    fill_all(c, jobs, res, n, &o);
}

/* hubspot_batch_update, except that a 400 refusing the whole batch
 * (HubSpot names no input, e.g. VALIDATION_ERROR INVALID_OPTION for one
 * tier value) does not fail the valid inputs with it: the batch goes
 * again in halves until each refused input is alone.  *o is then LSC_OK
 * and ir[] holds every input's outcome. */
static void update_isolating(struct connectors *c,
                             const struct hubspot_update *u, size_t n,
                             struct hubspot_input_result *ir,
                             struct outcome *o)
{
    hubspot_batch_update(c->hs, u, n, ir, o);
    if (n < 2 || o->status != LSC_ERR_PERMANENT || o->http_status != 400) {
        return;
    }
    CLOG_WARN(&c->log, "batch update of %zu contacts refused as a whole "
              "(%.150s); sending it again in halves to keep the valid "
              "inputs", n, o->reason);
    size_t half = n / 2;
    for (size_t part = 0; part < 2; part++) {
        size_t off = part ? half : 0;
        size_t cnt = part ? n - half : half;
        struct outcome po;
        update_isolating(c, u + off, cnt, ir + off, &po);
        for (size_t i = off; po.status != LSC_OK && i < off + cnt; i++) {
            ir[i].status = po.status;
            ir[i].rate_limited = po.rate_limited;
            snprintf(ir[i].reason, sizeof ir[i].reason, "%.199s", po.reason);
        }
    }
    *o = (struct outcome){.status = LSC_OK, .http_status = 200,
                          .retry_after_ms = -1};
}

struct write_item {
    size_t job;            /* index in jobs[] */
    json_t *p;             /* payload */
    const char *contact;   /* borrowed from p */
    uint64_t hash;
    char score[24], fit[48], eng[48], at[24];
    char *reasons;
    struct hubspot_kv kv[HUBSPOT_PROP_COUNT];
    size_t n_kv;
};

/* A payload value as the string to send: version 2 payloads carry
 * strings; version 1 (queued by an older build) numbers. */
static const char *num_str(json_t *x, char *buf, size_t n)
{
    if (json_is_string(x)) {
        return json_string_value(x);
    }
    if (json_is_number(x)) {
        connectors_format_num(json_number_value(x), buf, n);
        return buf;
    }
    return NULL;
}

static void build_item(const struct hubspot_config *cfg, struct write_item *w)
{
    json_t *p = w->p;
    w->n_kv = 0;
    snprintf(w->score, sizeof w->score, "%lld",
             (long long)json_integer_value(json_object_get(p, "s")));
    w->kv[w->n_kv++] = (struct hubspot_kv){cfg->prop_score, w->score};
    w->kv[w->n_kv++] = (struct hubspot_kv){
        cfg->prop_tier, json_string_value(json_object_get(p, "t"))};
    const char *f = num_str(json_object_get(p, "f"), w->fit, sizeof w->fit);
    if (cfg->prop_fit != NULL && f != NULL) {
        w->kv[w->n_kv++] = (struct hubspot_kv){cfg->prop_fit, f};
    }
    const char *e = num_str(json_object_get(p, "e"), w->eng, sizeof w->eng);
    if (cfg->prop_engagement != NULL && e != NULL) {
        w->kv[w->n_kv++] = (struct hubspot_kv){cfg->prop_engagement, e};
    }
    json_t *r = json_object_get(p, "r");
    if (cfg->prop_reasons != NULL && json_is_string(r)) {
        w->kv[w->n_kv++] = (struct hubspot_kv){cfg->prop_reasons,
                                               json_string_value(r)};
    } else if (cfg->prop_reasons != NULL && json_is_array(r)) {
        size_t len = 1;
        size_t i;
        json_t *x;
        json_array_foreach(r, i, x) {
            len += json_string_length(x) + 2;
        }
        w->reasons = malloc(len);
        if (w->reasons != NULL) {
            w->reasons[0] = '\0';
            size_t o = 0;
            json_array_foreach(r, i, x) {
                o += (size_t)snprintf(w->reasons + o, len - o, "%s%s",
                                      i ? "; " : "", json_string_value(x));
            }
            w->kv[w->n_kv++] = (struct hubspot_kv){cfg->prop_reasons,
                                                   w->reasons};
        }
    }
    if (cfg->prop_scored_at != NULL) {
        /* HubSpot datetime values are epoch-millisecond strings */
        snprintf(w->at, sizeof w->at, "%lld",
                 (long long)json_integer_value(json_object_get(p, "at")));
        w->kv[w->n_kv++] = (struct hubspot_kv){cfg->prop_scored_at, w->at};
    }
}

static void run_writes(struct connectors *c, const struct lsc_job *jobs,
                       struct lsc_job_result *res, size_t n)
{
    struct write_item *items = calloc(n, sizeof *items);
    struct hubspot_update *ups = calloc(n, sizeof *ups);
    struct hubspot_input_result *ir = calloc(n, sizeof *ir);
    size_t m = 0;
    if (items == NULL || ups == NULL || ir == NULL) {
        fill_oom(c, jobs, res, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *p;
        const char *contact = job_contact(c, &jobs[i], NULL, 0, &p, NULL);
        if (contact == NULL ||
            !json_is_string(json_object_get(p, "t"))) {
            json_decref(p);
            res[i].status = LSC_ERR_CORRUPT;
            snprintf(res[i].reason, sizeof res[i].reason,
                     "not a hubspot.write payload");
            continue;
        }
        /* the same contact twice in one batch: the later one wins */
        bool merged = false;
        bool later = false;
        for (size_t k = 0; k < m && !later; k++) {
            if (strcmp(items[k].contact, contact) != 0) {
                /* another host contact, the same record: next batch */
                later = same_record(c, items[k].contact, contact);
            } else {
                res[items[k].job].status = LSC_OK;
                snprintf(res[items[k].job].reason,
                         sizeof res[items[k].job].reason,
                         "superseded by job %llu",
                         (unsigned long long)jobs[i].id);
                json_decref(items[k].p);
                items[k].p = p;
                items[k].contact = contact;
                items[k].job = i;
                merged = true;
                break;
            }
        }
        if (later) {
            json_decref(p);
            next_batch(&res[i]);
            continue;
        }
        if (!merged) {
            items[m].p = p;
            items[m].contact = contact;
            items[m].job = i;
            m++;
        }
    }
    /* A value older than the one HubSpot acknowledged (a retry that lost
     * the race against a newer job) is dropped, never written back. */
    size_t live = 0;
    for (size_t k = 0; k < m; k++) {
        int64_t at = (int64_t)json_integer_value(json_object_get(items[k].p,
                                                                 "at"));
        pthread_mutex_lock(&c->ack_lock);
        struct ack_entry *e = ack_slot(c, items[k].contact, false);
        bool stale = e != NULL && e->acked != 0 && at < e->acked_at;
        pthread_mutex_unlock(&c->ack_lock);
        if (stale) {
            res[items[k].job].status = LSC_OK;
            snprintf(res[items[k].job].reason, sizeof res[items[k].job].reason,
                     "superseded by a newer acknowledged value");
            json_decref(items[k].p);
            continue;
        }
        items[live++] = items[k];
    }
    m = live;
    for (size_t k = 0; k < m; k++) {
        items[k].hash =
            (uint64_t)json_integer_value(json_object_get(items[k].p, "h"));
        build_item(&c->cfg, &items[k]);
        ups[k] = (struct hubspot_update){items[k].contact, items[k].kv,
                                         items[k].n_kv};
    }
    size_t bs = (size_t)c->cfg.batch_size;
    for (size_t off = 0; off < m; off += bs) {
        size_t cnt = m - off < bs ? m - off : bs;
        struct outcome o;
        update_isolating(c, ups + off, cnt, ir + off, &o);
        for (size_t k = off; k < off + cnt; k++) {
            size_t j = items[k].job;
            struct outcome po = o;
            if (o.status == LSC_OK) {
                po.status = ir[k].status;
                snprintf(po.reason, sizeof po.reason, "%s", ir[k].reason);
                if (ir[k].rate_limited) {
                    po.retry_after_ms = c->cfg.rate_interval_ms;
                }
            }
            if (po.status == LSC_ERR_AUTH) {
                fill_all(c, &jobs[j], &res[j], 1, &po);
            } else {
                retry_fill_result(&c->cfg.retry, jobs[j].attempt,
                                  jobs[j].enqueued_ms, now_ms(c), &po,
                                  &res[j]);
            }
            if (res[j].status == LSC_OK || res[j].status != LSC_ERR_RETRYABLE) {
                pthread_mutex_lock(&c->ack_lock);
                struct ack_entry *e = ack_slot(c, items[k].contact, true);
                if (e != NULL) {
                    if (res[j].status == LSC_OK) {
                        e->acked = items[k].hash;
                        e->acked_at = (int64_t)json_integer_value(
                            json_object_get(items[k].p, "at"));
                    }
                    if (e->pending == items[k].hash) {
                        e->pending = 0;
                    }
                }
                pthread_mutex_unlock(&c->ack_lock);
            }
        }
    }
out:
    for (size_t k = 0; items != NULL && k < m; k++) {
        json_decref(items[k].p);
        free(items[k].reasons);
    }
    free(items);
    free(ups);
    free(ir);
}

/* Tag edits of one contact, applied to the current checkbox value. */
struct action_item {
    size_t job;
    json_t *p;
    const char *contact;
    char *tags;            /* current value read from HubSpot, malloc()ed */
    bool read;
    char *new_tags;
    struct hubspot_kv kv[2];
    size_t n_kv;
};

struct read_ctx {
    struct action_item *items;
    size_t n;
    const char *prop;
    const char *id_property;
};

static enum lsc_status on_read(void *ud, const char *id,
                               const struct lsc_prop *props, size_t n)
{
    struct read_ctx *r = ud;
    const char *key = id;
    const char *val = "";
    for (size_t i = 0; i < n; i++) {
        if (r->id_property != NULL && strcmp(props[i].key, r->id_property) == 0 &&
            props[i].value.type == LSC_VAL_STRING) {
            key = props[i].value.u.str.ptr;
        }
        if (strcmp(props[i].key, r->prop) == 0 &&
            props[i].value.type == LSC_VAL_STRING) {
            val = props[i].value.u.str.ptr;
        }
    }
    for (size_t k = 0; k < r->n; k++) {
        if (strcmp(r->items[k].contact, key) == 0 && !r->items[k].read) {
            r->items[k].tags = strdup(val);
            r->items[k].read = r->items[k].tags != NULL;
        }
    }
    return LSC_OK;
}

static bool tag_in(json_t *arr, const char *t, size_t tl)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        if (json_string_length(x) == tl &&
            strncmp(json_string_value(x), t, tl) == 0) {
            return true;
        }
    }
    return false;
}

/* current "a;b" minus remove plus add, order kept; malloc()ed. */
static char *edit_tags(const char *cur, json_t *add, json_t *del)
{
    size_t cap = strlen(cur) + 2;
    size_t i;
    json_t *x;
    json_array_foreach(add, i, x) {
        cap += json_string_length(x) + 1;
    }
    char *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = cur; *p;) {
        size_t tl = strcspn(p, ";");
        if (tl > 0 && !tag_in(del, p, tl) && !tag_in(add, p, tl)) {
            o += (size_t)snprintf(out + o, cap - o, "%s%.*s", o ? ";" : "",
                                  (int)tl, p);
        }
        p += tl;
        if (*p == ';') {
            p++;
        }
    }
    json_array_foreach(add, i, x) {
        o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? ";" : "",
                              json_string_value(x));
    }
    return out;
}

static void run_actions(struct connectors *c, const struct lsc_job *jobs,
                        struct lsc_job_result *res, size_t n)
{
    struct action_item *items = calloc(n, sizeof *items);
    struct hubspot_update *ups = calloc(n, sizeof *ups);
    struct hubspot_input_result *ir = calloc(n, sizeof *ir);
    const char **ids = calloc(n, sizeof *ids);
    size_t m = 0;
    struct outcome o = {.status = LSC_OK, .retry_after_ms = -1};
    if (items == NULL || ups == NULL || ir == NULL || ids == NULL) {
        fill_oom(c, jobs, res, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *p;
        const char *dup = NULL;
        const char *contact = job_contact(c, &jobs[i], ids, m, &p, &dup);
        if (contact == NULL || dup != NULL) {
            /* a second transition of the same contact waits for the next
             * run so the tag edits apply in order */
            json_decref(p);
            res[i].status = contact ? LSC_ERR_RETRYABLE : LSC_ERR_CORRUPT;
            res[i].retry_after_ms = 0;
            snprintf(res[i].reason, sizeof res[i].reason, "%s",
                     contact ? "ordered after an earlier transition"
                             : "not a hubspot.action payload");
            continue;
        }
        items[m] = (struct action_item){.job = i, .p = p, .contact = contact};
        ids[m] = contact;
        m++;
    }
    size_t need_read = 0;
    for (size_t k = 0; k < m; k++) {
        need_read += json_array_size(json_object_get(items[k].p, "add")) +
                     json_array_size(json_object_get(items[k].p, "remove"));
    }
    if (m > 0 && need_read > 0 && c->cfg.prop_tags != NULL) {
        const char *props[2] = {c->cfg.prop_tags, c->cfg.id_property};
        struct read_ctx rc = {items, m, c->cfg.prop_tags, c->cfg.id_property};
        hubspot_batch_read(c->hs, ids, m, props, c->cfg.id_property ? 2 : 1,
                           on_read, &rc, &o);
    }
    if (o.status != LSC_OK) {
        for (size_t k = 0; k < m; k++) {
            fill_all(c, &jobs[items[k].job], &res[items[k].job], 1, &o);
        }
        goto out;
    }
    size_t u = 0;
    for (size_t k = 0; k < m; k++) {
        struct action_item *a = &items[k];
        json_t *add = json_object_get(a->p, "add");
        json_t *del = json_object_get(a->p, "remove");
        const char *tier = json_string_value(json_object_get(a->p, "t"));
        if (tier != NULL) {
            a->kv[a->n_kv++] = (struct hubspot_kv){c->cfg.prop_tier, tier};
        }
        if (c->cfg.prop_tags != NULL &&
            (json_array_size(add) || json_array_size(del))) {
            a->new_tags = edit_tags(a->tags ? a->tags : "", add, del);
            if (a->new_tags != NULL) {
                a->kv[a->n_kv++] = (struct hubspot_kv){c->cfg.prop_tags,
                                                       a->new_tags};
            }
        }
        if (a->n_kv == 0) {
            res[a->job].status = LSC_OK;
            continue;
        }
        ups[u] = (struct hubspot_update){a->contact, a->kv, a->n_kv};
        ids[u] = (const char *)(uintptr_t)k; /* remember the item */
        u++;
    }
    if (u > 0) {
        update_isolating(c, ups, u, ir, &o);
    }
    for (size_t q = 0; q < u; q++) {
        size_t k = (size_t)(uintptr_t)ids[q];
        size_t j = items[k].job;
        struct outcome po = o;
        if (o.status == LSC_OK) {
            po.status = ir[q].status;
            snprintf(po.reason, sizeof po.reason, "%s", ir[q].reason);
            if (ir[q].rate_limited) {
                po.retry_after_ms = c->cfg.rate_interval_ms;
            }
        }
        if (po.status == LSC_ERR_AUTH) {
            fill_all(c, &jobs[j], &res[j], 1, &po);
        } else {
            retry_fill_result(&c->cfg.retry, jobs[j].attempt,
                              jobs[j].enqueued_ms, now_ms(c), &po, &res[j]);
        }
    }
out:
    for (size_t k = 0; items != NULL && k < m; k++) {
        json_decref(items[k].p);
        free(items[k].tags);
        free(items[k].new_tags);
    }
    free(items);
    free(ups);
    free(ir);
    free(ids);
}

struct read_item {
    size_t job;
    json_t *p;
    const char *contact; /* borrowed from p */
    bool found;
    enum lsc_status written; /* props_write's answer */
};

struct inputs_ctx {
    struct connectors *c;
    struct read_item *items;
    size_t n;
};

/* A batch-read contact: its mapped inputs, renamed to model fields,
 * handed to the host (which re-scores the contact). */
static enum lsc_status on_inputs(void *ud, const char *id,
                                 const struct lsc_prop *props, size_t n)
{
    struct inputs_ctx *x = ud;
    const struct hubspot_config *cfg = &x->c->cfg;
    const char *key = id;
    struct lsc_prop *out = calloc(n + 1, sizeof *out);
    if (out == NULL) {
        return LSC_ERR_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (cfg->id_property != NULL &&
            strcmp(props[i].key, cfg->id_property) == 0 &&
            props[i].value.type == LSC_VAL_STRING) {
            key = props[i].value.u.str.ptr;
        }
        if (props[i].value.type == LSC_VAL_NULL) {
            continue; /* no value in HubSpot: nothing to add */
        }
        for (size_t m = 0; m < cfg->n_inputs; m++) {
            if (strcmp(props[i].key, cfg->inputs[m].property) == 0) {
                out[k] = props[i];
                out[k].key = cfg->inputs[m].field;
                k++;
            }
        }
    }
    for (size_t j = 0; j < x->n; j++) {
        struct read_item *it = &x->items[j];
        if (it->found || !same_record(x->c, it->contact, key)) {
            continue;
        }
        it->found = true;
        if (k > 0) {
            it->written = x->c->host->props_write(x->c->host->host,
                                                  it->contact, out, k);
        }
        break;
    }
    free(out);
    return LSC_OK;
}

/* hubspot.read: batch read (batch_size ids per call, at most 100) of the
 * mapped input properties; found contacts go to the host's props_write,
 * contacts HubSpot does not have are done (nothing to read). */
static void run_reads(struct connectors *c, const struct lsc_job *jobs,
                      struct lsc_job_result *res, size_t n)
{
    struct read_item *items = calloc(n, sizeof *items);
    const char **ids = calloc(n, sizeof *ids);
    const char **props = calloc(c->cfg.n_inputs + 1, sizeof *props);
    size_t m = 0;
    if (items == NULL || ids == NULL || props == NULL) {
        fill_oom(c, jobs, res, n);
        goto out;
    }
    if (!c->read_inputs || c->host->props_write == NULL) {
        /* queued by a host that re-scores (a sync run), run by one that
         * would not: reading would change nothing */
        for (size_t i = 0; i < n; i++) {
            res[i].status = LSC_OK;
            snprintf(res[i].reason, sizeof res[i].reason,
                     "skipped: this host does not re-score read "
                     "properties");
        }
        goto out;
    }
    size_t np = 0;
    for (size_t i = 0; i < c->cfg.n_inputs; i++) {
        props[np++] = c->cfg.inputs[i].property;
    }
    if (c->cfg.id_property != NULL) {
        props[np++] = c->cfg.id_property;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *p;
        const char *dup = NULL;
        const char *contact = job_contact(c, &jobs[i], ids, m, &p, &dup);
        if (contact == NULL || (dup != NULL && strcmp(dup, contact) == 0)) {
            /* HubSpot refuses an id twice in one batch; one read serves
             * both (the host re-scores the contact either way) */
            json_decref(p);
            res[i].status = contact ? LSC_OK : LSC_ERR_CORRUPT;
            snprintf(res[i].reason, sizeof res[i].reason, "%s",
                     contact ? "read with an earlier job"
                             : "not a hubspot.read payload");
            continue;
        }
        if (dup != NULL) {
            /* another host contact, the same record: its properties are
             * its own to receive, in the next batch */
            json_decref(p);
            next_batch(&res[i]);
            continue;
        }
        items[m] = (struct read_item){.job = i, .p = p, .contact = contact};
        ids[m] = contact;
        m++;
    }
    size_t bs = (size_t)c->cfg.batch_size;
    for (size_t off = 0; off < m; off += bs) {
        size_t cnt = m - off < bs ? m - off : bs;
        struct inputs_ctx x = {.c = c, .items = items + off, .n = cnt};
        struct outcome o;
        hubspot_batch_read(c->hs, ids + off, cnt, props, np, on_inputs, &x,
                           &o);
        for (size_t k = off; k < off + cnt; k++) {
            size_t j = items[k].job;
            struct outcome po = o;
            if (o.status == LSC_OK && items[k].written != LSC_OK) {
                /* only this contact's job: the others' are applied */
                po.status = LSC_ERR_RETRYABLE;
                snprintf(po.reason, sizeof po.reason,
                         "the host refused the properties: %s",
                         lsc_status_str(items[k].written));
            }
            if (po.status == LSC_ERR_AUTH) {
                fill_all(c, &jobs[j], &res[j], 1, &po);
            } else {
                retry_fill_result(&c->cfg.retry, jobs[j].attempt,
                                  jobs[j].enqueued_ms, now_ms(c), &po,
                                  &res[j]);
            }
            if (res[j].status == LSC_OK) {
                snprintf(res[j].reason, sizeof res[j].reason, "%s",
                         items[k].found ? "inputs read"
                                        : "not in HubSpot: nothing to read");
            }
        }
    }
out:
    for (size_t k = 0; items != NULL && k < m; k++) {
        json_decref(items[k].p);
    }
    free(items);
    free(ids);
    free(props);
}

static void run_webhook(struct connectors *c, const struct lsc_job *job,
                        struct lsc_job_result *res)
{
    json_t *p = json_loadb(job->payload, job->payload_len, 0, NULL);
    const char *url = json_string_value(json_object_get(p, "url"));
    const char *senv = json_string_value(json_object_get(p, "secret_env"));
    const char *body = json_string_value(json_object_get(p, "body"));
    const char *id = json_string_value(json_object_get(p, "id"));
    const char *secret = secrets_env(senv);
    struct outcome o = {.retry_after_ms = -1};
    if (url == NULL || body == NULL || id == NULL) {
        res->status = LSC_ERR_CORRUPT;
        snprintf(res->reason, sizeof res->reason,
                 "not a webhook.deliver payload");
        json_decref(p);
        return;
    }
    if (secret == NULL) {
        /* configuration, not the receiver: keep it queued */
        o.status = LSC_ERR_RETRYABLE;
        snprintf(o.reason, sizeof o.reason,
                 "environment variable %s (webhook secret) is not set",
                 senv ? senv : "(none)");
        retry_fill_result(&c->cfg.retry, job->attempt, job->enqueued_ms,
                          now_ms(c), &o, res);
        json_decref(p);
        return;
    }
    secrets_redactor_add(c->hs ? hubspot_client_redactor(c->hs) : NULL,
                         secret);
    char sig[160];
    int64_t now = now_ms(c);
    webhook_signature(secret, now / 1000, body, strlen(body), sig, sizeof sig);
    struct http_header h[2] = {{WEBHOOK_SIGNATURE_HEADER, sig},
                               {WEBHOOK_DELIVERY_HEADER, id}};
    struct http_request req = {.method = "POST", .url = url, .headers = h,
                               .n_headers = 2, .body = body,
                               .body_len = strlen(body),
                               .content_type = "application/json"};
    struct http_response resp;
    enum lsc_status tr = http_client_request(c->hooks, &req, &resp);
    outcome_classify(tr, &resp, now, &o);
    if (o.status == LSC_ERR_AUTH) {
        o.status = LSC_ERR_PERMANENT; /* a receiver's 401: not our tokens */
    }
    http_response_finish(&resp);
    retry_fill_result(&c->cfg.retry, job->attempt, job->enqueued_ms, now, &o,
                      res);
    if (res->status != LSC_OK) {
        CLOG_WARN(&c->log, "webhook %s delivery %s: %s", url, id, res->reason);
    }
    json_decref(p);
}

enum lsc_status connectors_run_jobs(struct connectors *c,
                                    const struct lsc_job *jobs,
                                    struct lsc_job_result *results, size_t n)
{
    if (n == 0) {
        return LSC_OK;
    }
    for (size_t i = 0; i < n; i++) {
        results[i].status = LSC_ERR_INTERNAL;
        results[i].retry_after_ms = 0;
        snprintf(results[i].reason, sizeof results[i].reason, "not run");
    }
    const char *kind = jobs[0].kind;
    if (strcmp(kind, CONNECTORS_JOB_WEBHOOK) == 0) {
        for (size_t i = 0; i < n; i++) {
            run_webhook(c, &jobs[i], &results[i]);
        }
        return LSC_OK;
    }
    if (!c->have_hubspot || c->hs == NULL) {
        for (size_t i = 0; i < n; i++) {
            results[i].status = LSC_ERR_PERMANENT;
            snprintf(results[i].reason, sizeof results[i].reason,
                     "HubSpot is not configured");
        }
        return LSC_OK;
    }
    if (strcmp(kind, CONNECTORS_JOB_HUBSPOT_WRITE) == 0) {
        run_writes(c, jobs, results, n);
    } else if (strcmp(kind, CONNECTORS_JOB_HUBSPOT_ACTION) == 0) {
        run_actions(c, jobs, results, n);
    } else if (strcmp(kind, CONNECTORS_JOB_HUBSPOT_READ) == 0) {
        run_reads(c, jobs, results, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            results[i].status = LSC_ERR_UNSUPPORTED;
            snprintf(results[i].reason, sizeof results[i].reason,
                     "unknown job kind %.100s", kind);
        }
    }
    return LSC_OK;
}

/* ---- CLI operations ----------------------------------------------------- */

static enum lsc_status need_hubspot(struct connectors *c, char *err,
                                    size_t errlen)
{
    if (!c->have_hubspot || c->hs == NULL) {
        snprintf(err, errlen, "HubSpot is not configured; hint: pass the "
                 "mapping file (config/connectors/hubspot.json)");
        return LSC_ERR_CONFIG;
    }
    return LSC_OK;
}

enum lsc_status connectors_setup(struct connectors *c, char *err,
                                 size_t errlen)
{
    enum lsc_status rc = need_hubspot(c, err, errlen);
    return rc == LSC_OK ? hubspot_setup(c->hs, err, errlen) : rc;
}

enum lsc_status connectors_backfill_step(struct connectors *c, bool restart,
                                         connectors_contact_fn fn, void *ud,
                                         bool *done, size_t *delivered,
                                         char *err, size_t errlen)
{
    enum lsc_status rc = need_hubspot(c, err, errlen);
    if (rc != LSC_OK) {
        *done = true;
        return rc;
    }
    return hubspot_backfill_step(c->hs, restart, fn, ud, done, delivered, err,
                                 errlen);
}

enum lsc_status connectors_connect_begin(struct connectors *c,
                                         struct connectors_connect **h,
                                         char **url, char *err,
                                         size_t errlen)
{
    *h = NULL;
    enum lsc_status rc = need_hubspot(c, err, errlen);
    if (rc != LSC_OK) {
        return rc;
    }
    struct connectors_connect *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    rc = hubspot_connect_begin(c->hs, &w->h, url, err, errlen);
    if (rc != LSC_OK) {
        free(w);
        return rc;
    }
    *h = w;
    return LSC_OK;
}

enum lsc_status connectors_connect_finish(struct connectors *c,
                                          struct connectors_connect *h,
                                          int64_t timeout_ms, char *err,
                                          size_t errlen)
{
    return hubspot_connect_finish(c->hs, h->h, timeout_ms, err, errlen);
}

void connectors_connect_free(struct connectors_connect *h)
{
    if (h == NULL) {
        return;
    }
    hubspot_connect_free(h->h);
    free(h);
}

enum lsc_status connectors_confirm(struct connectors *c, char *err,
                                   size_t errlen)
{
    enum lsc_status rc = need_hubspot(c, err, errlen);
    return rc == LSC_OK ? hubspot_confirm(c->hs, err, errlen) : rc;
}

bool connectors_has_hubspot(struct connectors *c, bool *connected)
{
    bool have = c != NULL && c->have_hubspot && c->hs != NULL;
    if (connected != NULL) {
        struct hubspot_status st = {0};
        if (have) {
            hubspot_status(c->hs, &st);
        }
        *connected = have && st.state != OAUTH_NOT_CONNECTED;
    }
    return have;
}

enum lsc_status connectors_check_tiers(struct connectors *c,
                                       const char *const *tiers, size_t n,
                                       char *err, size_t errlen)
{
    if (!connectors_has_hubspot(c, NULL)) {
        return LSC_OK;
    }
    char msg[320];
    if (!missing_tier(&c->cfg, tiers, n, msg, sizeof msg)) {
        return LSC_OK;
    }
    snprintf(err, errlen, "%.200s:%d:%d: tiers: %s",
             c->cfg.path ? c->cfg.path : "mapping", c->cfg.tiers_line,
             c->cfg.tiers_col, msg);
    return LSC_ERR_CONFIG;
}

bool connectors_hubspot_reauth_needed(struct connectors *c)
{
    if (!connectors_has_hubspot(c, NULL)) {
        return false;
    }
    struct hubspot_status st;
    hubspot_status(c->hs, &st);
    return st.auth == HUBSPOT_AUTH_OAUTH && st.state == OAUTH_REAUTH_NEEDED;
}

void connectors_status(struct connectors *c, char *out, size_t outlen)
{
    if (!c->have_hubspot || c->hs == NULL) {
        snprintf(out, outlen, "hubspot: not configured\n");
        return;
    }
    struct hubspot_status st;
    hubspot_status(c->hs, &st);
    const char *state = st.state == OAUTH_CONNECTED       ? "connected"
                        : st.state == OAUTH_REAUTH_NEEDED ? "re-authorization needed (paused; queue kept)"
                                                          : "not connected";
    char exp[WEBHOOK_TIME_MAX + 32] = "";
    if (st.state == OAUTH_CONNECTED && st.expires_at_ms != INT64_MAX) {
        char t[WEBHOOK_TIME_MAX];
        webhook_format_time(st.expires_at_ms, t, sizeof t);
        snprintf(exp, sizeof exp, ", access token until %s", t);
    }
    char bf[128];
    if (!st.backfill_started) {
        snprintf(bf, sizeof bf, "not started");
    } else {
        snprintf(bf, sizeof bf, "%s, %ld pages, %ld contacts",
                 st.backfill_done ? "done" : "in progress", st.backfill_pages,
                 st.backfill_contacts);
    }
    snprintf(out, outlen, "hubspot: %s (%s, API %s%s); backfill: %s\n", state,
             st.auth == HUBSPOT_AUTH_OAUTH ? "OAuth" : "static token",
             c->cfg.api_version, exp, bf);
}
