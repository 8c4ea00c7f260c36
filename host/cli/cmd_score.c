/*
 * leadscore score: replay an event stream, print one report per contact.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum format { FMT_JSON, FMT_CSV, FMT_TABLE };

struct score_out {
    enum format format;
    size_t max_top;
    int id_width, tier_width;
    struct hl_buf line;    /* the contact being printed */
    struct hl_buf header;  /* CSV: built from the first contact */
    bool header_done;
    bool have_primary;
    size_t n_shadows;
    bool write_error;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore score --model MODEL [--model SHADOW...] "
            "[OPTIONS] [EVENTS.jsonl | -]\n"
            "\n"
            "Replay JSON Lines events (default: stdin) and print each "
            "contact's\n"
            "score, tier and top reasons at the end, ordered by contact "
            "id.\n"
            "\n"
            "  --model FILE        a model; the first is primary, others "
            "run as shadows\n"
            "  --as-of TIME        evaluate at TIME (RFC 3339 or Unix "
            "seconds;\n"
            "                      default: the latest event time)\n"
            "  --format FMT        json (default, one object per line), "
            "csv or table\n"
            "  --top N             rules listed in `top` per contact (default: all\n"
            "                      for json and csv, 3 for table)\n"
            "  --transitions FILE  write every tier change as a JSON line\n"
            "  --stats             print a run summary on stderr\n"
            "  --plugin PATH       the plugin to load\n"
            "  -v, --verbose       print the plugin's info lines\n"
            "  -h, --help          this help\n");
}

static void on_report(void *ud, size_t index, const struct lsc_report *r)
{
    struct score_out *o = ud;
    if (index == CLI_REPORT_END) {
        if (!o->have_primary) {
            return;
        }
        switch (o->format) {
        case FMT_JSON:
            hl_output_json_close(&o->line, o->n_shadows);
            hl_buf_puts(&o->line, "\n");
            break;
        case FMT_CSV:
            hl_output_csv_end(&o->line);
            if (!o->header_done) {
                hl_output_csv_end(&o->header);
                o->write_error |= !hl_buf_write(&o->header, stdout);
                o->header_done = true;
            }
            break;
        case FMT_TABLE:
            break;
        }
        o->write_error |= !hl_buf_write(&o->line, stdout);
        o->have_primary = false;
        return;
    }
    if (index == 0) {
        hl_buf_reset(&o->line);
        o->have_primary = true;
        o->n_shadows = 0;
        switch (o->format) {
        case FMT_JSON:
            hl_output_json_open(&o->line, r, o->max_top);
            break;
        case FMT_CSV:
            if (!o->header_done) {
                hl_output_csv_header(&o->header, r);
            }
            hl_output_csv_row(&o->line, r, o->max_top);
            break;
        case FMT_TABLE:
            hl_output_table_row(&o->line, r, o->id_width, o->tier_width);
            break;
        }
        return;
    }
    if (!o->have_primary) {
        return;
    }
    switch (o->format) {
    case FMT_JSON:
        hl_output_json_shadow(&o->line, o->n_shadows, r);
        break;
    case FMT_CSV:
        if (!o->header_done) {
            hl_output_csv_header_shadow(&o->header,
                                        r->model != NULL ? r->model : "");
        }
        hl_output_csv_shadow(&o->line, r);
        break;
    case FMT_TABLE:
        break; /* the table shows the primary model only */
    }
    o->n_shadows++;
}

int cmd_score(int argc, char **argv, struct cli_global *g)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"as-of", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'f'},
        {"top", required_argument, NULL, 't'},
        {"transitions", required_argument, NULL, 'T'},
        {"stats", no_argument, NULL, 's'},
        CLI_OPTIONS_END,
    };
    const char *models[CLI_MAX_CONFIG];
    size_t n_models = 0;
    int64_t as_of = INT64_MIN;
    const char *transitions = NULL;
    bool stats = false;
    /* The contract's `top` lists every rule; only the table for people is
     * cut, to keep one row per contact readable. */
    struct score_out out = {.format = FMT_JSON, .max_top = SIZE_MAX};
    bool top_set = false;
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "m:f:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (n_models == CLI_MAX_CONFIG) {
                cli_error("score: at most %d models", CLI_MAX_CONFIG);
                return CLI_EXIT_USAGE;
            }
            models[n_models++] = optarg;
            break;
        case 'a':
            if (!cli_parse_time("--as-of", optarg, &as_of)) {
                return CLI_EXIT_USAGE;
            }
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                out.format = FMT_JSON;
            } else if (strcmp(optarg, "csv") == 0) {
                out.format = FMT_CSV;
            } else if (strcmp(optarg, "table") == 0) {
                out.format = FMT_TABLE;
            } else {
                cli_error("score: --format must be json, csv or table");
                return CLI_EXIT_USAGE;
            }
            break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 0 || v > 1000) {
                cli_error("score: --top must be a number from 0 to 1000");
                return CLI_EXIT_USAGE;
            }
            out.max_top = (size_t)v;
            top_set = true;
            break;
        }
        case 'T':
            transitions = optarg;
            break;
        case 's':
            stats = true;
            break;
        default:
            if (!cli_common_option(g, c, optarg, usage, &rc)) {
                return rc;
            }
            break;
        }
    }
    if (out.format == FMT_TABLE && !top_set) {
        out.max_top = 3;
    }
    if (n_models == 0) {
        cli_error("score: --model is required");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (argc - optind > 1) {
        cli_error("score: one events file at most (or - for stdin)");
        return CLI_EXIT_USAGE;
    }
    const char *events = optind < argc ? argv[optind] : "-";

    hl_buf_init(&out.line);
    hl_buf_init(&out.header);
    struct cli_session s;
    rc = cli_session_start(&s, g, models, n_models);
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    if (transitions != NULL) {
        s.transitions = fopen(transitions, "w");
        if (s.transitions == NULL) {
            cli_error("cannot create %s: %s", transitions, strerror(errno));
            rc = CLI_EXIT_IO;
            goto out;
        }
    }
    rc = cli_session_feed(&s, events);
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    if (out.format == FMT_TABLE) {
        struct hl_contact **all;
        size_t n;
        out.id_width = 7;
        out.tier_width = 8;
        if (hl_contacts_sorted(s.contacts, &all, &n) == LSC_OK) {
            for (size_t i = 0; i < n; i++) {
                size_t tw = hl_text_width(hl_contact_id(all[i]));
                int w = tw > 40 ? 40 : (int)tw;
                out.id_width = w > out.id_width ? (w > 40 ? 40 : w)
                                                : out.id_width;
            }
            free(all);
        }
        hl_buf_reset(&out.line);
        hl_output_table_header(&out.line, out.id_width, out.tier_width);
        out.write_error |= !hl_buf_write(&out.line, stdout);
    }
    rc = cli_session_report(&s, as_of, on_report, &out);
    if (out.write_error) {
        cli_error("cannot write the output");
        rc = CLI_EXIT_IO;
    }
    if (rc == CLI_EXIT_OK && s.rejected > 0) {
        rc = CLI_EXIT_INPUT;
    }
    if (stats || s.rejected > 0) {
        cli_session_stats(&s);
    }
out:
    if (s.transitions != NULL && fclose(s.transitions) != 0 &&
        rc == CLI_EXIT_OK) {
        cli_error("cannot write %s", transitions);
        rc = CLI_EXIT_IO;
    }
    s.transitions = NULL;
    cli_session_finish(&s);
    hl_buf_finish(&out.line);
    hl_buf_finish(&out.header);
    return rc;
}
