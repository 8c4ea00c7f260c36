/*
 * leadscore import mailchimp-activity: the audience's email activity
 * (opens, clicks, bounces...) since the checkpoint, as JSON Lines events
 * on stdout, ready for `leadscore sync` or `leadscore score`.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mailchimp/mailchimp.h"
#include "sync_queue.h"

#define CHECKPOINT_NAME "mailchimp-activity.checkpoint"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore import mailchimp-activity --config MAPPING "
            "[--data-dir DIR]\n"
            "                                           [--checkpoint FILE] "
            "[--restart]\n"
            "\n"
            "Write the audience's email activity since the last run as JSON "
            "Lines\n"
            "events on stdout; the checkpoint advances only when every line "
            "was\n"
            "written.  Pipe it into sync:\n"
            "  leadscore import mailchimp-activity --config mc.json |\n"
            "      leadscore sync --model M --config mc.json -\n"
            "\n"
            "  --config FILE      the Mailchimp mapping\n"
            "  --data-dir DIR     credentials, checkpoint (default "
            CLI_DATA_DIR_DEFAULT ")\n"
            "  --checkpoint FILE  default DATA_DIR/" CHECKPOINT_NAME "\n"
            "  --restart          ignore the checkpoint (look-back window "
            "only)\n"
            "  -h, --help         this help\n");
}

int cmd_import(int argc, char **argv, struct cli_global *g)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data-dir", required_argument, NULL, 'd'},
        {"checkpoint", required_argument, NULL, 'k'},
        {"restart", no_argument, NULL, 'r'},
        CLI_OPTIONS_END,
    };
    const char *mapping = NULL, *checkpoint = NULL;
    const char *data_dir = CLI_DATA_DIR_DEFAULT;
    bool restart = false;
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            mapping = optarg;
            break;
        case 'd':
            data_dir = optarg;
            break;
        case 'k':
            checkpoint = optarg;
            break;
        case 'r':
            restart = true;
            break;
        default:
            if (!cli_common_option(g, c, optarg, usage, &rc)) {
                return rc;
            }
            break;
        }
    }
    if (optind + 1 != argc || strcmp(argv[optind], "mailchimp-activity") != 0 ||
        mapping == NULL) {
        cli_error("import: usage: import mailchimp-activity --config MAPPING");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        cli_error("cannot create %s: %s", data_dir, strerror(errno));
        return CLI_EXIT_IO;
    }
    char cp_path[4096];
    if (checkpoint == NULL) {
        snprintf(cp_path, sizeof cp_path, "%s/%s", data_dir, CHECKPOINT_NAME);
        checkpoint = cp_path;
    }
    struct cli_admin a;
    cli_admin_init(&a, data_dir, g->verbose);
    char err[1024] = "";
    struct mailchimp *mc = NULL;
    enum lsc_status st = mailchimp_open(&a.api, mapping, data_dir, &mc, err,
                                        sizeof err);
    if (st == LSC_ERR_AUTH) {
        cli_error("mailchimp: not connected; hint: leadscore connect "
                  "mailchimp --config %s", mapping);
        return CLI_EXIT_INPUT;
    }
    if (st != LSC_OK) {
        cli_error("%s", err);
        return st == LSC_ERR_IO ? CLI_EXIT_IO : CLI_EXIT_INPUT;
    }
    int64_t cp = INT64_MIN;
    if (!restart) {
        st = mailchimp_checkpoint_read(checkpoint, &cp, err, sizeof err);
        if (st != LSC_OK) {
            cli_error("%s", err);
            mailchimp_destroy(mc);
            return CLI_EXIT_IO;
        }
    }
    size_t n = 0;
    st = mailchimp_import_activity_jsonl(mc, stdout, &cp, cli_wall_ms(), &n,
                                         err, sizeof err);
    rc = CLI_EXIT_OK;
    if (st == LSC_OK && fflush(stdout) != 0) {
        cli_error("cannot write the output");
        rc = CLI_EXIT_IO;
    } else if (st != LSC_OK) {
        cli_error("import: %s; the checkpoint stays where it was", err);
        rc = st == LSC_ERR_AUTH || st == LSC_ERR_CONFIG ? CLI_EXIT_INPUT
                                                        : CLI_EXIT_IO;
    } else if (mailchimp_checkpoint_write(checkpoint, cp, err, sizeof err) !=
               LSC_OK) {
        cli_error("%s", err);
        rc = CLI_EXIT_IO;
    }
    if (rc == CLI_EXIT_OK) {
        fprintf(stderr, "leadscore: import: %zu activity events\n", n);
    }
    mailchimp_destroy(mc);
    return rc;
}
