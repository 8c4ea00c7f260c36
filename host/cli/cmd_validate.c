/*
 * leadscore validate: load each file through the plugin and print what
 * it reports (file:line:col: json.path: message) or its summary line.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore validate [--model MODEL] [--plugin PATH] "
            "FILE...\n"
            "\n"
            "Check scoring models (schema leadscore.model/1) and connector\n"
            "mappings (schema leadscore.connector*); FILE - is stdin, shown "
            "as\n"
            "<stdin>.  With --model, each mapping is also checked against "
            "that\n"
            "model's tiers, as sync and the daemon check it.  Each problem "
            "is\nprinted on stderr as\n"
            "FILE:LINE:COL: JSON.PATH: MESSAGE; a valid model prints a "
            "one-line\n"
            "summary.  Exit status 1 when a file is invalid, 3 when the "
            "plugin\n"
            "cannot be loaded or created.\n");
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

/* `validate -`: stdin copied once into an unlinked temporary file, which
 * the plugin opens by its /proc/self/fd path (it reads files by name).
 * Returns the path in buf, or NULL (reported) on an error. */
static const char *stdin_copy(char *buf, size_t buflen, int *fd_out)
{
    if (*fd_out >= 0) {
        snprintf(buf, buflen, "/proc/self/fd/%d", *fd_out);
        return buf;
    }
    const char *dir = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/leadscore-stdin.XXXXXX",
             dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        cli_error("cannot create a temporary file for <stdin>: %s",
                  strerror(errno));
        return NULL;
    }
    unlink(tmpl);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        for (size_t off = 0; off < n;) {
            ssize_t w = write(fd, chunk + off, n - off);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                cli_error("cannot copy <stdin>: %s", strerror(errno));
                close(fd);
                return NULL;
            }
            off += (size_t)w;
        }
    }
    if (ferror(stdin)) {
        cli_error("cannot read <stdin>: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    *fd_out = fd;
    snprintf(buf, buflen, "/proc/self/fd/%d", fd);
    return buf;
}

static int validate_one(const char *path, const char *model,
                        struct cli_global *g, int *stdin_fd)
{
    char stdin_path[64];
    const char *alias = NULL;
    if (strcmp(path, "-") == 0) {
        path = stdin_copy(stdin_path, sizeof stdin_path, stdin_fd);
        if (path == NULL) {
            return CLI_EXIT_IO;
        }
        alias = "<stdin>";
    }
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
    if (alias != NULL) {
        s.file_alias_from = path;
        s.file_alias_to = alias;
    }
    const char *key = config_key_for(path);
    cli_session_config(&s, key, path);
    if (model != NULL && strcmp(key, "connectors") == 0) {
        cli_session_config(&s, "models", model);
        cli_session_config(&s, "connectors_validate", "1");
    }
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
        {"model", required_argument, NULL, 'm'},
        CLI_OPTIONS_END,
    };
    int c, rc;
    const char *model = NULL;
    optind = 0;
    while ((c = getopt_long(argc, argv, "m:vh", opts, NULL)) != -1) {
        if (c == 'm') {
            if (model != NULL) {
                cli_error("validate: one --model (the mappings follow the "
                          "primary model)");
                return CLI_EXIT_USAGE;
            }
            model = optarg;
        } else if (!cli_common_option(g, c, optarg, usage, &rc)) {
            return rc;
        }
    }
    if (optind >= argc) {
        cli_error("validate: no file given");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    int worst = CLI_EXIT_OK;
    int stdin_fd = -1;
    for (int i = optind; i < argc; i++) {
        rc = validate_one(argv[i], model, g, &stdin_fd);
        /* Report the most severe outcome: a load failure beats a bad file. */
        if (rc > worst) {
            worst = rc;
        }
    }
    if (stdin_fd >= 0) {
        close(stdin_fd);
    }
    return worst;
}
