/*
 * leadscored configuration: a JSON file (see docs/daemon.md and
 * config/leadscored.json).  Relative paths are resolved against the
 * directory of the config file.  A string value "env:NAME" is read from
 * the environment variable NAME (keeps secrets out of the file).
 */
#ifndef LSC_DAEMON_CONFIG_H
#define LSC_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

struct dconfig {
    char *path;          /* the file, as given */
    char *listen_host;   /* "127.0.0.1" */
    uint16_t listen_port; /* 8080; 0 = any free port */
    char *data_dir;
    char *plugin;        /* leadscore.so path, or NULL for the default */
    char **models;       /* absolute or config-relative resolved paths */
    size_t n_models;
    char *models_joined; /* one path per line: config_get("models") */
    char *connectors;    /* connector mapping paths, one per line, or NULL */
    /* Periodic Mailchimp email-activity import (mailchimp.activity_import);
     * mc_import_mapping NULL: off. */
    char *mc_import_mapping;    /* resolved mapping path */
    char *mc_import_checkpoint; /* checkpoint file; relative: in data_dir */
    int64_t mc_import_interval_ms;
    size_t mc_import_batch;     /* events per submitted batch */
    char **tokens;       /* bearer tokens of /v1/... */
    size_t n_tokens;
    char *hubspot_secret; /* app client secret, or NULL: webhook off */
    char *hubspot_public_url; /* URL HubSpot calls, or NULL: from Host */
    int64_t hubspot_max_age_ms;
    char *mc_url_secret;  /* path secret, or NULL: webhook off */
    char *mc_signing_secret; /* or NULL */
    bool mc_require_signature;
    bool mc_contact_by_id; /* contact id = data[id] instead of email */
    size_t max_body;      /* bytes */
    double rate;          /* requests/s per client, 0 = unlimited */
    double burst;
    int64_t dedup_retention_ms;
    bool durable;         /* fsync every commit (synchronous=FULL) */
    unsigned http_threads;
    unsigned job_workers;
    uint32_t job_max_attempts;
    size_t batch_max;     /* events per transaction */
    int64_t wake_scan_ms; /* how often the wake_ms schedule is checked */
    int64_t score_refresh_ms; /* stored-score sweep period; 0: off */
    enum lsc_log_level log_level;
    char **kv;            /* "plugin" object: key, value, key, value... */
    size_t n_kv;
};

/* Load and check the file.  On success *out is owned by the caller
 * (dconfig_destroy).  On failure a one-line reason naming the key. */
enum lsc_status dconfig_load(const char *path, struct dconfig **out,
                             char *err, size_t errlen);

/* Accepts NULL. */
void dconfig_destroy(struct dconfig *c);

/* The value the plugin sees for config_get(key), borrowed from c:
 * "model" (first model), "models" (one path per line), "connectors",
 * "data_dir", or a key of the "plugin" object.  NULL when unset. */
const char *dconfig_get(const struct dconfig *c, const char *key);

/* "30d", "90m", "15s", "250ms" or a number of seconds to ms; -1 when
 * malformed. */
int64_t dconfig_duration_ms(const char *s);

#endif
