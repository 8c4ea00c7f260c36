/*
 * leadscore sync: score an event stream like `score` does, with the
 * connector mappings loaded, then deliver the queued write-backs (a
 * durable outbox in the data directory) until the queue is drained.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "sync_queue.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore sync --model MODEL [--model SHADOW...] "
            "--config MAPPING[,MAPPING...]\n"
            "                      [OPTIONS] [EVENTS.jsonl | -]\n"
            "\n"
            "Score JSON Lines events (default: stdin) with the connector "
            "mappings\n"
            "loaded, queue every changed score, tier and tier action of the "
            "primary\n"
            "model in a durable queue, and deliver the queue (HubSpot, "
            "Mailchimp,\n"
            "webhooks) until it is drained.  Jobs left by an interrupted run "
            "are\n"
            "delivered too.  Mapped HubSpot inputs an event lacks are "
            "batch-read\n"
            "from HubSpot and the contact re-scored before its write-back.  "
            "Exit\n"
            "status 0 when nothing was dead-lettered and the queue is empty, "
            "1\n"
            "otherwise.\n"
            "\n"
            "  --model FILE          a model; the first is primary (only it "
            "is synced)\n"
            "  --config FILE[,FILE]  connector mapping(s) "
            "(config/connectors/*.json)\n"
            "  --data-dir DIR        queue, credentials, checkpoints "
            "(default " CLI_DATA_DIR_DEFAULT ")\n"
            "  --max-attempts N      runs of a job before it is "
            "dead-lettered (default 10)\n"
            "  --max-wait SECONDS    longest wait for a retry before "
            "leaving the rest\n"
            "                        queued for the next run (default 60)\n"
            "  --stats               print the scoring summary on stderr\n"
            "  --plugin PATH         the plugin to load\n"
            "  -v, --verbose         the plugin's info lines, each retry\n"
            "  -h, --help            this help\n");
}

static void no_report(void *ud, size_t index, const struct lsc_report *r)
{
    (void)ud;
    (void)index;
    (void)r;
}

int cmd_sync(int argc, char **argv, struct cli_global *g)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"config", required_argument, NULL, 'c'},
        {"data-dir", required_argument, NULL, 'd'},
        {"max-attempts", required_argument, NULL, CLI_OPT_MAX_ATTEMPTS},
        {"max-wait", required_argument, NULL, CLI_OPT_MAX_WAIT},
        {"stats", no_argument, NULL, 's'},
        CLI_OPTIONS_END,
    };
    char *models = NULL, *mappings = NULL;
    const char *data_dir = CLI_DATA_DIR_DEFAULT;
    struct cli_jobq_limits limits = CLI_JOBQ_LIMITS_DEFAULT;
    bool stats = false;
    int c;
    int rc = CLI_EXIT_USAGE;
    optind = 0;
    while ((c = getopt_long(argc, argv, "m:c:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (!cli_join_paths(&models, optarg)) {
                goto oom;
            }
            break;
        case 'c':
            if (!cli_join_paths(&mappings, optarg)) {
                goto oom;
            }
            break;
        case 'd':
            data_dir = optarg;
            break;
        case CLI_OPT_MAX_ATTEMPTS:
        case CLI_OPT_MAX_WAIT:
            if (!cli_jobq_limit_option(&limits, "sync", c, optarg)) {
                goto out_args;
            }
            break;
        case 's':
            stats = true;
            break;
        default:
            if (!cli_common_option(g, c, optarg, usage, &rc)) {
                goto out_args;
            }
            break;
        }
    }
    if (models == NULL || mappings == NULL) {
        cli_error("sync: --model and --config are required");
        usage(stderr);
        goto out_args;
    }
    if (argc - optind > 1) {
        cli_error("sync: one events file at most (or - for stdin)");
        goto out_args;
    }
    const char *events = optind < argc ? argv[optind] : "-";

    struct cli_session s;
    struct cli_jobq q;
    memset(&q, 0, sizeof q);
    if (!cli_session_init(&s, g)) {
        cli_session_finish(&s);
        goto oom;
    }
    rc = cli_jobq_open(&q, &s, data_dir, &limits, true);
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    cli_session_config(&s, "connectors", mappings);
    /* read path: mapped HubSpot inputs an event lacks are read by jobs
     * and the contact re-scored while the queue drains */
    cli_session_config(&s, "connectors_read", "1");
    cli_jobq_read_path(&q, &s);
    rc = cli_session_load_models(&s, models);
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    if ((rc = cli_jobq_begin(&q)) != CLI_EXIT_OK) {
        goto out;
    }
    rc = cli_session_feed(&s, events);
    if (rc == CLI_EXIT_OK) {
        /* the final evaluation, as `score` does: decayed tiers count */
        rc = cli_session_report(&s, INT64_MIN, no_report, NULL);
    }
    int crc = cli_jobq_commit(&q);
    if (rc == CLI_EXIT_OK) {
        rc = crc;
    }
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    rc = cli_jobq_drain(&q, &s);
    cli_jobq_summary(&q, stdout);
    if (stats || s.rejected > 0) {
        cli_session_stats(&s);
    }
    if (rc == CLI_EXIT_OK && (q.dead > 0 || q.left > 0 || s.rejected > 0 ||
                              s.read_refused > 0)) {
        rc = CLI_EXIT_INPUT;
    }
out:
    cli_session_finish(&s); /* the plugin first: it may still enqueue */
    cli_jobq_close(&q);
out_args:
    free(models);
    free(mappings);
    return rc;
oom:
    cli_error("out of memory");
    free(models);
    free(mappings);
    return CLI_EXIT_INTERNAL;
}
