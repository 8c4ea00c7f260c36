/* A tiny in-process host for the engine tests: implements the services of
 * struct lsc_host_api over in-memory tables and drives the plugin through
 * its public descriptor, like a real host would. */
#ifndef LSC_TESTHOST_H
#define LSC_TESTHOST_H

#include <leadscore/plugin.h>

#define TH_MAX_PROPS 32
#define TH_MAX_REPORT_RULES 64

struct th_contact {
    char *id;
    struct lsc_prop props[TH_MAX_PROPS];
    size_t n_props;
    unsigned char *state;
    size_t state_len;
    int64_t wake;
    /* last values written by props_write */
    double score;
    bool has_score;
    char tier[64];
};

struct th_transition {
    char contact[64];
    char model[64];
    bool primary;
    bool from_null;
    char from[64];
    char to[64];
    int score;
    int64_t at;
};

struct th_diag {
    char file[256];
    int line, col;
    char path[256];
    char msg[512];
};

struct th_report {
    char model[64];
    bool primary;
    int score;
    char tier[64];
    double total;
    size_t n_groups;
    struct lsc_report_group groups[8];
    char group_names[8][32];
    size_t n_rules;
    struct lsc_report_rule rules[TH_MAX_REPORT_RULES];
    char rule_ids[TH_MAX_REPORT_RULES][64];
};

struct testhost {
    struct lsc_host_api api;
    const char *cfg_key[8];
    char *cfg_val[8];
    size_t n_cfg;
    lsc_event_fn ev[8];
    lsc_report_fn report;
    lsc_reload_fn reload;
    const struct lsc_plugin_desc *desc;
    void *plugin;
    struct th_contact *c;
    size_t n_c, cap_c;
    struct th_transition *t;
    size_t n_t, cap_t;
    struct th_diag d[64];
    size_t n_d;
    char last_log[1024];
    size_t n_logs;
    size_t n_props_writes;
    int64_t clock;            /* stream clock: latest event time */
    /* the current handler's pending state_put, applied on LSC_OK */
    bool pending;
    unsigned char *pend_blob;
    size_t pend_len;
    int64_t pend_wake;
    size_t t_mark;            /* transitions before the handler */
    struct th_report reports[4];
    size_t n_reports;
    char err[512];
};

const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                               uint32_t minor);

/* Sets up th with config "models" = models (borrowed; may be NULL). */
void th_init(struct testhost *th, const char *models);
void th_config(struct testhost *th, const char *key, const char *val);
/* desc->create; the error text lands in th->err. */
enum lsc_status th_create(struct testhost *th);
/* Destroys the plugin instance and creates a new one with the same
 * configuration; the host's tables (properties, blobs) stay. */
enum lsc_status th_restart(struct testhost *th);
/* Destroys the plugin and frees everything. */
void th_finish(struct testhost *th);

struct th_contact *th_contact(struct testhost *th, const char *id);
void th_set_str(struct testhost *th, const char *id, const char *key,
                const char *val);
void th_set_num(struct testhost *th, const char *id, const char *key,
                double val);

/* Delivers one event; now = max(clock, ts) unless now_ms >= 0 given. */
enum lsc_status th_event(struct testhost *th, enum lsc_event_kind kind,
                         const char *id, const char *type, int64_t ts_ms,
                         int64_t now_ms, const struct lsc_prop *props,
                         size_t n);
enum lsc_status th_activity(struct testhost *th, const char *id,
                            const char *type, int64_t ts_ms,
                            const struct lsc_prop *props, size_t n);
/* contact.created with the contact's current props (set them first). */
enum lsc_status th_created(struct testhost *th, const char *id, int64_t ts);
enum lsc_status th_evaluate(struct testhost *th, const char *id, int64_t at);
enum lsc_status th_deleted(struct testhost *th, const char *id, int64_t ts);
/* Fills th->reports. */
enum lsc_status th_report(struct testhost *th, const char *id, int64_t at);
/* Score of the primary model at `at` through the report handler. */
int th_score(struct testhost *th, const char *id, int64_t at);
const struct th_report *th_rep(struct testhost *th, size_t model);
/* Writes text to a fresh temporary file; returns its path (static
 * storage, at most 32 per process).  th_tempfiles_remove() deletes them. */
const char *th_tempfile(const char *text);
void th_tempfiles_remove(void);

/* |a - b| <= eps, printing both on failure (cmocka 1.1.5 has no double
 * assertion).  Include cmocka.h before this header. */
#define assert_double_equal(a, b, eps) \
    th_assert_near((double)(a), (double)(b), (eps), __FILE__, __LINE__)
void th_assert_near(double a, double b, double eps, const char *file,
                    int line);

#define T_DAY 86400000LL
#define T_HOUR 3600000LL
#define T0 1793527200000LL /* 2026-11-01T10:00:00Z */

#endif
