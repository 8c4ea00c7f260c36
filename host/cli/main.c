/*
 * leadscore: the command-line host.  Global options, then one command
 * from the table below; each command lives in its own cmd_<name>.c.
 * To add a command: write cmd_<name>.c, declare it in cli.h and add one
 * line to `commands`.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <leadscore/version.h>

struct cli_command {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
};

static const struct cli_command commands[] = {
    {"validate", cmd_validate, "check model files and connector mappings"},
    {"score", cmd_score, "score an event stream, one report per contact"},
    {"explain", cmd_explain, "why does a contact have its score?"},
    {"compare", cmd_compare, "two models on the same events, side by side"},
    {"sync", cmd_sync, "score events and write them back through connectors"},
    {"connect", cmd_connect, "authorize a connector; --status shows its state"},
    {"setup", cmd_setup, "create the CRM fields leadscore writes"},
    {"backfill", cmd_backfill,
     "score every existing CRM contact (hubspot, mailchimp)"},
    {"import", cmd_import, "email activity as events (mailchimp-activity)"},
    {"rescore", cmd_rescore, "make a running leadscored rescore every contact"},
};

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("leadscore: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool cli_global_option(struct cli_global *g, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_PLUGIN:
        g->plugin = arg;
        return true;
    case CLI_OPT_VERBOSE:
        g->verbose++;
        return true;
    default:
        return false;
    }
}

bool cli_common_option(struct cli_global *g, int opt, const char *arg,
                       void (*usage)(FILE *), int *rc)
{
    if (opt == 'h') {
        usage(stdout);
        *rc = CLI_EXIT_OK;
        return false;
    }
    if (cli_global_option(g, opt, arg)) {
        return true;
    }
    usage(stderr);
    *rc = CLI_EXIT_USAGE;
    return false;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore [--plugin PATH] [--max-line N] [--threads N] "
            "[-v]\n"
            "                 COMMAND [OPTIONS] [ARGS]\n"
            "       leadscore --version | --help\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f,
            "\n"
            "Global options:\n"
            "  --plugin PATH  the plugin to load (default: $LEADSCORE_PLUGIN,\n"
            "                 the build tree's plugin when run from one, or\n"
            "                 the installed one)\n"
            "  --max-line N   reject input lines longer than N bytes "
            "(default 1048576)\n"
            "  --threads N    1: read, parse and score on one thread; 2: "
            "parse input\n"
            "                 on a second one (default: 2 when two CPUs are "
            "available)\n"
            "  -v, --verbose  print the plugin's info (-vv: debug) lines\n"
            "  --version      print the leadscore and plugin ABI versions\n"
            "  -h, --help     this help; `leadscore COMMAND --help` for a "
            "command\n"
            "\n"
            "Exit status: 0 success, 1 rejected input or invalid file, 2 "
            "usage,\n"
            "3 plugin or model not loadable, 4 I/O error, 5 internal "
            "error.\n");
}

static int version(struct cli_global *g)
{
    printf("leadscore %s (plugin ABI %d.%d)\n", LSC_VERSION_STRING,
           LSC_PLUGIN_ABI_MAJOR, LSC_PLUGIN_ABI_MINOR);
    char path[4096];
    char err[1024];
    struct hl_plugin *p;
    hl_plugin_default_path(g->plugin, path, sizeof path);
    if (hl_plugin_open(path, &p, err, sizeof err) == LSC_OK) {
        const struct lsc_plugin_desc *d = hl_plugin_desc(p);
        printf("plugin %s: %s %s (ABI %u.%u)\n", path,
               d->name != NULL ? d->name : "?",
               d->version != NULL ? d->version : "?", (unsigned)d->abi_major,
               (unsigned)d->abi_minor);
        hl_plugin_close(p);
    } else {
        printf("plugin: not loadable: %s\n", err);
    }
    return CLI_EXIT_OK;
}

/* The value of global option `name` at argv[*i] ("--name=V" or "--name V",
 * stepping *i past V; "" when V is missing), or NULL when argv[*i] is not
 * that option. */
static const char *option_value(const char *name, int argc, char **argv,
                                int *i)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '=')) {
        return NULL;
    }
    if (a[n] == '=') {
        return a + n + 1;
    }
    return *i + 1 < argc ? argv[++*i] : "";
}

int main(int argc, char **argv)
{
    struct cli_global g = {0};
    int i = 1;
    /* Global options stop at the first non-option: the command. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--plugin") == 0 && i + 1 < argc) {
            g.plugin = argv[++i];
        } else if (strncmp(a, "--plugin=", 9) == 0) {
            g.plugin = a + 9;
        } else if ((v = option_value("--max-line", argc, argv, &i)) != NULL) {
            char *end;
            errno = 0;
            unsigned long long m = strtoull(v, &end, 10);
            if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 ||
                m == 0 || m > SIZE_MAX / 4) {
                cli_error("--max-line: '%s' is not a positive byte count", v);
                return CLI_EXIT_USAGE;
            }
            g.max_line = (size_t)m;
        } else if ((v = option_value("--threads", argc, argv, &i)) != NULL) {
            if ((v[0] != '1' && v[0] != '2') || v[1] != '\0') {
                cli_error("--threads: '%s' is not 1 or 2", v);
                return CLI_EXIT_USAGE;
            }
            g.threads = v[0] - '0';
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            g.verbose++;
        } else if (strcmp(a, "-vv") == 0) {
            g.verbose += 2;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            return version(&g);
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else {
            cli_error("unknown option '%s'", a);
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (strcmp(argv[i], commands[k].name) == 0) {
            int rc = commands[k].fn(argc - i, argv + i, &g);
            if (fflush(stdout) != 0 || ferror(stdout)) {
                cli_error("cannot write the output");
                return CLI_EXIT_IO;
            }
            return rc;
        }
    }
    if (strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    cli_error("unknown command '%s'", argv[i]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
