/*
 * leadscore connect / setup: authorize a connector, check its state, and
 * create the CRM fields leadscore writes.  These commands call the
 * connector library directly (no model involved).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "connectors.h"
#include "mailchimp/mailchimp.h"
#include "store.h"
#include "sync_queue.h"

static void connect_usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore connect hubspot|mailchimp --config MAPPING "
            "[--data-dir DIR] [--timeout S]\n"
            "       leadscore connect --status --config MAPPING[,MAPPING...] "
            "[--data-dir DIR]\n"
            "\n"
            "OAuth: print the authorization URL, wait on the loopback "
            "redirect port\n"
            "of the mapping, check the state, exchange the code and store "
            "the tokens\n"
            "(mode 0600) in the data directory, then confirm and run setup.  "
            "A static\n"
            "token or API key (from the environment) is only verified, then "
            "setup runs.\n"
            "--status prints each connector's state and the queue, never a "
            "secret.\n"
            "\n"
            "  --config FILE[,FILE]  connector mapping(s)\n"
            "  --data-dir DIR        credentials, queue (default "
            CLI_DATA_DIR_DEFAULT ")\n"
            "  --timeout SECONDS     wait for the browser (default 300)\n"
            "  --status              show the state instead of connecting\n"
            "  -v, --verbose         more detail\n"
            "  -h, --help            this help\n");
}

static void setup_usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore setup --config MAPPING[,MAPPING...] "
            "[--data-dir DIR]\n"
            "\n"
            "Create the fields leadscore writes, idempotently: the HubSpot "
            "property\n"
            "group and properties, the Mailchimp merge fields.  `connect` "
            "runs it too.\n");
}

static int exit_for(enum lsc_status st)
{
    if (st == LSC_OK) {
        return CLI_EXIT_OK;
    }
    if (st == LSC_ERR_CONFIG || st == LSC_ERR_PARSE || st == LSC_ERR_AUTH ||
        st == LSC_ERR_PERMANENT) {
        return CLI_EXIT_INPUT; /* the mapping, the credentials, the account */
    }
    if (st == LSC_ERR_IO || st == LSC_ERR_TIMEOUT ||
        st == LSC_ERR_RETRYABLE) {
        return CLI_EXIT_IO;
    }
    return CLI_EXIT_INTERNAL;
}

static void show_url(void *ud, const char *url)
{
    (void)ud;
    printf("Open this URL in your browser to authorize leadscore:\n%s\n", url);
    fflush(stdout);
}

static int hubspot_setup_run(struct cli_admin *a, const char *path,
                             bool connect, int64_t timeout_ms)
{
    char err[1024] = "";
    struct connectors *c = NULL;
    enum lsc_status st = connectors_create(&a->api, path, a->data_dir, &c,
                                           err, sizeof err);
    if (st != LSC_OK) {
        cli_error("%s", err);
        return exit_for(st);
    }
    bool connected = false;
    connectors_has_hubspot(c, &connected);
    /* A refused grant (revoked, refresh failed) needs the OAuth flow
     * again; a confirm call cannot repair it.  The queue is kept. */
    bool reauth = connectors_hubspot_reauth_needed(c);
    if (connect && (!connected || reauth)) {
        struct connectors_connect *h = NULL;
        char *url = NULL;
        st = connectors_connect_begin(c, &h, &url, err, sizeof err);
        if (st == LSC_OK) {
            show_url(NULL, url);
            free(url);
            st = connectors_connect_finish(c, h, timeout_ms, err, sizeof err);
        }
        connectors_connect_free(h);
        if (st != LSC_OK) {
            cli_error("connect hubspot: %s", err);
            connectors_destroy(c);
            return exit_for(st);
        }
        printf("hubspot: connected; tokens stored in %s\n", a->data_dir);
    } else if (connect) {
        st = connectors_confirm(c, err, sizeof err);
        if (st != LSC_OK) {
            cli_error("connect hubspot: %s", err);
            connectors_destroy(c);
            return exit_for(st);
        }
        printf("hubspot: credentials confirmed\n");
    }
    st = connectors_setup(c, err, sizeof err);
    if (st != LSC_OK) {
        cli_error("setup hubspot: %s", err);
    } else {
        printf("hubspot: properties ready\n");
    }
    connectors_destroy(c);
    return exit_for(st);
}

static int mailchimp_setup_run(struct cli_admin *a, const char *path,
                               bool connect, int64_t timeout_ms)
{
    char err[1024] = "";
    enum lsc_status st;
    if (connect) {
        struct mailchimp_config cfg;
        size_t nerr = 0;
        st = mailchimp_config_load(path, (mailchimp_diag_fn)a->api.diagnostic,
                                   a, &cfg, &nerr);
        if (st != LSC_OK) {
            return CLI_EXIT_INPUT;
        }
        if (strcmp(cfg.auth, "oauth") == 0) {
            char dc[32] = "";
            st = mailchimp_connect(&cfg, a->data_dir, timeout_ms, show_url,
                                   NULL, dc, sizeof dc, err, sizeof err);
            if (st != LSC_OK) {
                cli_error("connect mailchimp: %s", err);
                mailchimp_config_destroy(&cfg);
                return exit_for(st);
            }
            printf("mailchimp: connected, data center %s; token stored in "
                   "%s\n", dc, a->data_dir);
        }
        mailchimp_config_destroy(&cfg);
    }
    struct mailchimp *mc = NULL;
    st = mailchimp_open(&a->api, path, a->data_dir, &mc, err, sizeof err);
    if (st == LSC_ERR_AUTH) {
        cli_error("mailchimp: not connected; hint: leadscore connect "
                  "mailchimp --config %s", path);
        return CLI_EXIT_INPUT;
    }
    if (st != LSC_OK) {
        cli_error("%s", err);
        return exit_for(st);
    }
    int created = 0;
    st = mailchimp_setup(mc, &created, err, sizeof err);
    if (st != LSC_OK) {
        cli_error("setup mailchimp: %s", err);
    } else {
        printf("mailchimp: credentials confirmed; merge fields ready (%d "
               "created)\n", created);
    }
    mailchimp_destroy(mc);
    return exit_for(st);
}

/* Runs fn for each mapping of the comma/newline list; the worst exit. */
static int each_mapping(struct cli_admin *a, char *mappings, bool connect,
                        int64_t timeout_ms, const char *only)
{
    int worst = CLI_EXIT_OK;
    for (char *save = NULL, *p = strtok_r(mappings, "\n", &save); p != NULL;
         p = strtok_r(NULL, "\n", &save)) {
        char kind[64];
        cli_mapping_kind(p, kind, sizeof kind);
        int rc;
        if (only != NULL && strcmp(kind, only) != 0) {
            cli_error("%s: not a %s mapping (\"connector\": \"%s\")", p, only,
                      kind);
            rc = CLI_EXIT_USAGE;
        } else if (strcmp(kind, "mailchimp") == 0) {
            rc = mailchimp_setup_run(a, p, connect, timeout_ms);
        } else {
            rc = hubspot_setup_run(a, p, connect, timeout_ms);
        }
        worst = rc > worst ? rc : worst;
    }
    return worst;
}

static void status_mailchimp(struct cli_admin *a, const char *path)
{
    struct mailchimp_config cfg;
    size_t nerr = 0;
    if (mailchimp_config_load(path, (mailchimp_diag_fn)a->api.diagnostic, a,
                              &cfg, &nerr) != LSC_OK) {
        printf("mailchimp (%s): invalid mapping\n", path);
        return;
    }
    bool reauth = false;
    char why[400];
    mailchimp_reauth_state(&cfg, a->data_dir, &reauth, why, sizeof why);
    if (reauth) {
        printf("mailchimp: re-authorization needed (%s), audience %s; "
               "writes wait in the queue; run `leadscore connect mailchimp "
               "--config %s`\n", why, cfg.list_id, path);
        mailchimp_config_destroy(&cfg);
        return;
    }
    if (strcmp(cfg.auth, "oauth") == 0) {
        char cred[4096], dc[32] = "", err[256];
        char *token = NULL;
        snprintf(cred, sizeof cred, "%s/%s", a->data_dir,
                 cfg.credentials_file);
        enum lsc_status st = mailchimp_credentials_load(
            cred, &token, dc, sizeof dc, err, sizeof err);
        if (token != NULL) {
            memset(token, 0, strlen(token));
            free(token);
        }
        if (st == LSC_OK) {
            printf("mailchimp: connected (OAuth, data center %s, audience "
                   "%s)\n", dc, cfg.list_id);
        } else {
            printf("mailchimp: not connected (OAuth; leadscore connect "
                   "mailchimp), audience %s\n", cfg.list_id);
        }
    } else {
        const char *key = getenv(cfg.api_key_env);
        char dc[32] = "", err[128];
        if (key == NULL || key[0] == '\0') {
            printf("mailchimp: not configured (API key: $%s is not set), "
                   "audience %s\n", cfg.api_key_env, cfg.list_id);
        } else if (mailchimp_dc_from_key(key, dc, sizeof dc, err,
                                         sizeof err) != LSC_OK) {
            printf("mailchimp: API key in $%s has no data center suffix\n",
                   cfg.api_key_env);
        } else {
            printf("mailchimp: API key from $%s (data center %s), audience "
                   "%s\n", cfg.api_key_env, dc, cfg.list_id);
        }
    }
    mailchimp_config_destroy(&cfg);
}

/* Jobs a connector paused (its credentials were refused: a revoked
 * grant, or a wrong static token, which nothing else records), with the
 * latest reason: the admin sees what to fix. */
static void paused_jobs(struct store *s)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(store_db(s),
                           "SELECT kind, count(*), max(last_error) FROM "
                           "outbox WHERE last_error LIKE 'paused:%' "
                           "GROUP BY kind ORDER BY kind",
                           -1, &q, NULL) != SQLITE_OK) {
        return;
    }
    while (sqlite3_step(q) == SQLITE_ROW) {
        printf("  %lld %s job(s) paused: %s\n",
               (long long)sqlite3_column_int64(q, 1),
               (const char *)sqlite3_column_text(q, 0),
               (const char *)sqlite3_column_text(q, 2));
    }
    sqlite3_finalize(q);
}

static int status(struct cli_admin *a, char *mappings)
{
    int rc = CLI_EXIT_OK;
    for (char *save = NULL, *p = strtok_r(mappings, "\n", &save); p != NULL;
         p = strtok_r(NULL, "\n", &save)) {
        char kind[64];
        cli_mapping_kind(p, kind, sizeof kind);
        if (strcmp(kind, "mailchimp") == 0) {
            status_mailchimp(a, p);
            continue;
        }
        char err[512], line[1024];
        struct connectors *c = NULL;
        if (connectors_create(&a->api, p, a->data_dir, &c, err, sizeof err) !=
            LSC_OK) {
            printf("%s (%s): %s\n", kind[0] ? kind : "?", p, err);
            rc = CLI_EXIT_INPUT;
            continue;
        }
        connectors_status(c, line, sizeof line);
        fputs(line, stdout);
        connectors_destroy(c);
    }
    char db[4096];
    snprintf(db, sizeof db, "%s/%s", a->data_dir, STORE_DB_NAME);
    struct stat sb;
    struct store *s = NULL;
    struct store_options opt = {.read_only = true};
    char err[256];
    int64_t pending = 0, dead = 0;
    if (stat(db, &sb) == 0 &&
        store_open(a->data_dir, &opt, &s, err, sizeof err) == LSC_OK &&
        store_outbox_depth(s, &pending, &dead) == LSC_OK) {
        printf("queue (%s): %lld pending, %lld dead-lettered\n", a->data_dir,
               (long long)pending, (long long)dead);
        paused_jobs(s);
    } else {
        printf("queue (%s): empty\n", a->data_dir);
    }
    store_close(s);
    return rc;
}

static int run(int argc, char **argv, struct cli_global *g, bool setup)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data-dir", required_argument, NULL, 'd'},
        {"timeout", required_argument, NULL, 't'},
        {"status", no_argument, NULL, 's'},
        CLI_OPTIONS_END,
    };
    void (*usage)(FILE *) = setup ? setup_usage : connect_usage;
    char *mappings = NULL;
    const char *data_dir = CLI_DATA_DIR_DEFAULT;
    long timeout = 300;
    bool want_status = false;
    int rc = CLI_EXIT_USAGE;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c':
            if (!cli_join_paths(&mappings, optarg)) {
                cli_error("out of memory");
                rc = CLI_EXIT_INTERNAL;
                goto out;
            }
            break;
        case 'd':
            data_dir = optarg;
            break;
        case 't':
            timeout = strtol(optarg, &end, 10);
            if (*end != '\0' || timeout < 1 || timeout > 3600) {
                cli_error("--timeout must be 1..3600 seconds");
                goto out;
            }
            break;
        case 's':
            want_status = !setup;
            break;
        default:
            if (!cli_common_option(g, c, optarg, usage, &rc)) {
                goto out;
            }
            break;
        }
    }
    const char *only = NULL;
    if (!setup && !want_status) {
        if (optind >= argc || (strcmp(argv[optind], "hubspot") != 0 &&
                               strcmp(argv[optind], "mailchimp") != 0)) {
            cli_error("connect: name the connector: hubspot or mailchimp");
            usage(stderr);
            goto out;
        }
        only = argv[optind++];
    }
    if (mappings == NULL || optind < argc) {
        cli_error("%s: --config MAPPING is required (and nothing else)",
                  setup ? "setup" : "connect");
        usage(stderr);
        goto out;
    }
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        cli_error("cannot create %s: %s", data_dir, strerror(errno));
        rc = CLI_EXIT_IO;
        goto out;
    }
    struct cli_admin a;
    cli_admin_init(&a, data_dir, g->verbose);
    if (want_status) {
        rc = status(&a, mappings);
    } else {
        rc = each_mapping(&a, mappings, !setup, timeout * 1000, only);
    }
out:
    free(mappings);
    return rc;
}

int cmd_connect(int argc, char **argv, struct cli_global *g)
{
    return run(argc, argv, g, false);
}

int cmd_setup(int argc, char **argv, struct cli_global *g)
{
    return run(argc, argv, g, true);
}
