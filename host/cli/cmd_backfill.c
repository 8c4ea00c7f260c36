/*
 * leadscore backfill hubspot: page through every HubSpot contact, feed
 * its mapped properties to the plugin as a contact.updated event, and
 * write the resulting scores back through the durable queue.  The
 * connector keeps a checkpoint per completed page in the data directory,
 * so an interrupted run resumes where it stopped.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connectors.h"
#include "lsc_config.h"
#include "sync_queue.h"

#define DEFAULT_MODEL LSC_DATADIR "/models/b2b-saas.json"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore backfill hubspot --config MAPPING [--model "
            "MODEL] [--restart]\n"
            "                                  [--data-dir DIR]\n"
            "\n"
            "Score every existing HubSpot contact from its mapped "
            "properties (fit)\n"
            "and write score and tier back.  Pages of 100; the position is "
            "saved\n"
            "after each page, so running it again after an interruption "
            "resumes.\n"
            "A progress line is shown when stderr is a terminal.\n"
            "\n"
            "  --config FILE       the HubSpot mapping\n"
            "  --model FILE        the scoring model (default "
            DEFAULT_MODEL ")\n"
            "  --restart           start again from the first contact\n"
            "  --data-dir DIR      checkpoint, queue, credentials (default "
            CLI_DATA_DIR_DEFAULT ")\n"
            "  --max-attempts N    runs of a write before it is "
            "dead-lettered (default 10)\n"
            "  --max-wait SECONDS  longest wait for a retry (default 60)\n"
            "  -v, --verbose       the plugin's info lines\n"
            "  -h, --help          this help\n");
}

struct bf {
    struct cli_session *s;
    int64_t now;
    size_t contacts, refused;
};

/* One contact of a page: a contact.updated event at the wall clock. */
static enum lsc_status on_contact(void *ud, const char *id,
                                  const struct lsc_prop *props, size_t n)
{
    struct bf *b = ud;
    struct lsc_event ev = {
        .struct_size = sizeof ev,
        .kind = LSC_EVENT_CONTACT_UPDATED,
        .contact_id = id,
        .type = "contact.updated",
        .ts_ms = b->now,
        .props = props,
        .n_props = n,
        .now_ms = b->now,
    };
    char err[512];
    enum lsc_status st = cli_session_apply(b->s, &ev, err, sizeof err);
    b->contacts++;
    if (st == LSC_ERR_NOMEM) {
        return st; /* the page is not done: it is read again next run */
    }
    if (st != LSC_OK) {
        b->refused++;
        fprintf(stderr, "leadscore: contact %s refused: %s\n", id, err);
    }
    return LSC_OK;
}

int cmd_backfill(int argc, char **argv, struct cli_global *g)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"model", required_argument, NULL, 'm'},
        {"restart", no_argument, NULL, 'r'},
        {"data-dir", required_argument, NULL, 'd'},
        {"max-attempts", required_argument, NULL, 'A'},
        {"max-wait", required_argument, NULL, 'W'},
        {"plugin", required_argument, NULL, CLI_OPT_PLUGIN},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *mapping = NULL, *model = NULL;
    const char *data_dir = CLI_DATA_DIR_DEFAULT;
    bool restart = false;
    long max_attempts = 10, max_wait = 60;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "c:m:vh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c':
            mapping = optarg;
            break;
        case 'm':
            model = optarg;
            break;
        case 'r':
            restart = true;
            break;
        case 'd':
            data_dir = optarg;
            break;
        case 'A':
            max_attempts = strtol(optarg, &end, 10);
            if (*end != '\0' || max_attempts < 1 || max_attempts > 1000) {
                cli_error("backfill: --max-attempts must be 1..1000");
                return CLI_EXIT_USAGE;
            }
            break;
        case 'W':
            max_wait = strtol(optarg, &end, 10);
            if (*end != '\0' || max_wait < 0 || max_wait > 86400) {
                cli_error("backfill: --max-wait must be 0..86400 seconds");
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            if (cli_global_option(g, c, optarg)) {
                break;
            }
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || strcmp(argv[optind], "hubspot") != 0 ||
        mapping == NULL) {
        cli_error("backfill: usage: backfill hubspot --config MAPPING");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (model == NULL) {
        model = DEFAULT_MODEL;
        fprintf(stderr, "leadscore: backfill: scoring with %s\n", model);
    }

    struct cli_session s;
    struct cli_jobq q;
    struct connectors *conn = NULL;
    struct cli_admin a;
    memset(&q, 0, sizeof q);
    int rc = CLI_EXIT_INTERNAL;
    if (!cli_session_init(&s, g)) {
        cli_error("out of memory");
        goto out;
    }
    if ((rc = cli_jobq_open(&q, &s, data_dir, false)) != CLI_EXIT_OK) {
        goto out;
    }
    q.max_attempts = (uint32_t)max_attempts;
    q.max_wait_ms = max_wait * 1000;
    q.progress = isatty(STDERR_FILENO);
    cli_session_config(&s, "models", model);
    cli_session_config(&s, "connectors", mapping);
    if ((rc = cli_session_load(&s, NULL)) != CLI_EXIT_OK) {
        rc = CLI_EXIT_PLUGIN;
        goto out;
    }
    cli_admin_init(&a, data_dir, g->verbose);
    char err[1024] = "";
    enum lsc_status st = connectors_create(&a.api, mapping, data_dir, &conn,
                                           err, sizeof err);
    if (st != LSC_OK) {
        cli_error("%s", err);
        rc = st == LSC_ERR_CONFIG ? CLI_EXIT_INPUT : CLI_EXIT_INTERNAL;
        goto out;
    }
    struct bf b = {.s = &s};
    bool done = false;
    size_t pages = 0;
    while (!done) {
        size_t delivered = 0;
        b.now = cli_wall_ms();
        st = connectors_backfill_step(conn, restart && pages == 0, on_contact,
                                      &b, &done, &delivered, err, sizeof err);
        if (st != LSC_OK) {
            if (q.progress) {
                fputc('\n', stderr);
            }
            cli_error("backfill: %s; run it again to resume", err);
            rc = st == LSC_ERR_CONFIG || st == LSC_ERR_AUTH ? CLI_EXIT_INPUT
                                                            : CLI_EXIT_IO;
            break;
        }
        pages++;
        if (q.progress) {
            fprintf(stderr, "\rleadscore: backfill: %zu pages, %zu contacts "
                    "scored ", pages, b.contacts);
        }
    }
    if (q.progress) {
        fputc('\n', stderr);
    }
    if (st == LSC_OK) {
        rc = cli_jobq_drain(&q, &s);
    } else {
        cli_jobq_drain(&q, &s); /* what was queued still goes out */
    }
    printf("backfill: %zu contacts scored in %zu pages (%zu refused)%s\n",
           b.contacts, pages, b.refused, done ? ", done" : "");
    cli_jobq_summary(&q, stdout);
    if (rc == CLI_EXIT_OK && (q.dead > 0 || q.left > 0 || b.refused > 0)) {
        rc = CLI_EXIT_INPUT;
    }
out:
    connectors_destroy(conn);
    cli_session_finish(&s);
    cli_jobq_close(&q);
    return rc;
}
