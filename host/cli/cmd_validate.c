/*
 * leadscore validate: load each file through the plugin and print what
 * it reports (file:line:col: json.path: message) or its summary line.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore validate [--plugin PATH] FILE...\n"
            "\n"
            "Check scoring models (schema leadscore.model/1) and connector\n"
            "mappings (schema leadscore.connector*).  Each problem is "
            "printed on\n"
            "stderr as FILE:LINE:COL: JSON.PATH: MESSAGE; a valid model "
            "prints a\n"
            "one-line summary.  Exit status 1 when a file is invalid, 3 "
            "when the\n"
            "plugin cannot be loaded or created.\n");
}

/* The file's top-level "schema" decides which config key carries it:
 * connector mappings go to `connectors`, everything else to `models`
 * (the plugin reports a malformed file itself, with line and column). */
static const char *config_key_for(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    const char *key = "models";
    const char *schema = json_string_value(json_object_get(root, "schema"));
    if (schema != NULL && strcmp(schema, "leadscore.model/1") != 0 &&
        strncmp(schema, "leadscore.connector", 19) == 0) {
        key = "connectors";
    }
    json_decref(root);
    return key;
}

static int validate_one(const char *path, struct cli_global *g)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return CLI_EXIT_IO;
    }
    fclose(f);
    struct cli_session s;
    if (!cli_session_init(&s, g)) {
        cli_session_finish(&s);
        cli_error("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    s.info_out = stdout;
    cli_session_config(&s, config_key_for(path), path);
    /* A file with problems comes back as CLI_EXIT_INPUT (the plugin
     * reported diagnostics); a plugin that cannot be opened or created
     * without saying why the file is wrong is exit 3, as for `score`. */
    int rc = cli_session_load(&s, NULL);
    if (rc == CLI_EXIT_OK && s.diag_errors > 0) {
        rc = CLI_EXIT_INPUT; /* created despite errors: still invalid */
    }
    cli_session_finish(&s);
    return rc;
}

int cmd_validate(int argc, char **argv, struct cli_global *g)
{
    static const struct option opts[] = {
        {"plugin", required_argument, NULL, CLI_OPT_PLUGIN},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (!cli_global_option(g, c, optarg)) {
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("validate: no file given");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    int worst = CLI_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        int rc = validate_one(argv[i], g);
        /* Report the most severe outcome: a load failure beats a bad file. */
        if (rc > worst) {
            worst = rc;
        }
    }
    return worst;
}
