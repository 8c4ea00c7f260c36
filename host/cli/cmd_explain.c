/*
 * leadscore explain: one contact's score in plain words, for a salesperson.
 */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct explain_out {
    struct hl_buf b;
    bool found;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore explain --model MODEL [--model SHADOW...] "
            "--contact ID\n"
            "                         [--as-of TIME] [EVENTS.jsonl | -]\n"
            "\n"
            "Replay the events and explain one contact's score: each "
            "group, each\n"
            "rule's points, awards, what decayed and when the last award "
            "was.\n");
}

/* "30d", "36h", "90m", "45s": the largest unit that divides exactly. */
static void duration(struct hl_buf *b, double seconds)
{
    static const struct {
        double s;
        const char *unit;
    } units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        double q = seconds / units[i].s;
        if (q >= 1 && fabs(q - round(q)) < 1e-9) {
            hl_buf_printf(b, "%.0f%s", q, units[i].unit);
            return;
        }
    }
    hl_buf_num2(b, seconds);
    hl_buf_puts(b, "s");
}

static void signed_num(struct hl_buf *b, double v)
{
    if (v >= 0.005) {
        hl_buf_puts(b, "+");
    }
    hl_buf_num2(b, v);
}

static void explain_report(struct hl_buf *b, const struct lsc_report *r,
                           bool primary)
{
    char at[40];
    hl_buf_printf(b, "%s model '%s', contact %s, at %s\n",
                  primary ? "Primary" : "Shadow",
                  r->model != NULL ? r->model : "?", r->contact_id,
                  hl_time_format(r->at_ms, at, sizeof at));
    hl_buf_printf(b, "Score %d of %d, tier %s.\n", r->score, r->scale_max,
                  r->tier != NULL ? r->tier : "(none)");
    hl_buf_printf(b, "Why %d? The groups add up to ", r->score);
    hl_buf_num2(b, r->total);
    hl_buf_puts(b, r->total < -0.005 || r->total > r->scale_max + 0.005
                       ? ", clamped to the scale"
                       : ", rounded to a whole number");
    hl_buf_puts(b, ".\n");
    for (size_t i = 0; i < r->n_groups; i++) {
        const struct lsc_report_group *gr = &r->groups[i];
        hl_buf_printf(b, "\n  %s: ", gr->name);
        hl_buf_num2(b, gr->value);
        hl_buf_puts(b, " points");
        if (!isnan(gr->max)) {
            if (gr->raw > gr->max + 1e-9) {
                hl_buf_puts(b, " (");
                hl_buf_num2(b, gr->raw);
                hl_buf_puts(b, " earned, capped at ");
                hl_buf_num2(b, gr->max);
                hl_buf_puts(b, ")");
            } else {
                hl_buf_puts(b, " (cap ");
                hl_buf_num2(b, gr->max);
                hl_buf_puts(b, ")");
            }
        }
        if (gr->half_life_s > 0) {
            hl_buf_puts(b, "; awards lose half their worth every ");
            duration(b, gr->half_life_s);
        }
        hl_buf_puts(b, "\n");
        bool any = false;
        for (size_t k = 0; k < r->n_rules; k++) {
            const struct lsc_report_rule *rule = &r->rules[k];
            if (rule->group == NULL || strcmp(rule->group, gr->name) != 0) {
                continue;
            }
            any = true;
            hl_buf_printf(b, "    %-24s ", rule->rule);
            signed_num(b, rule->points);
            if (rule->fit) {
                hl_buf_puts(b, "  fit: the contact's properties match\n");
                continue;
            }
            hl_buf_printf(b, "  %u award%s", (unsigned)rule->awards,
                          rule->awards == 1 ? "" : "s");
            if (fabs(rule->awarded - rule->points) >= 0.005) {
                hl_buf_puts(b, ": ");
                hl_buf_num2(b, rule->awarded);
                hl_buf_puts(b, " awarded, ");
                hl_buf_num2(b, rule->points);
                hl_buf_puts(b, " after decay");
            }
            if (rule->last_award_ms != INT64_MIN) {
                hl_buf_printf(b, "; last on %s",
                              hl_time_format(rule->last_award_ms, at,
                                             sizeof at));
            }
            hl_buf_puts(b, "\n");
        }
        if (!any) {
            hl_buf_puts(b, "    (no rule contributes)\n");
        }
    }
}

static void on_report(void *ud, size_t index, const struct lsc_report *r)
{
    struct explain_out *o = ud;
    if (index == CLI_REPORT_END) {
        return;
    }
    o->found = true;
    if (index > 0) {
        hl_buf_puts(&o->b, "\n");
    }
    explain_report(&o->b, r, index == 0);
}

int cmd_explain(int argc, char **argv, struct cli_global *g)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"contact", required_argument, NULL, 'c'},
        {"as-of", required_argument, NULL, 'a'},
        CLI_OPTIONS_END,
    };
    const char *models[CLI_MAX_CONFIG];
    size_t n_models = 0;
    const char *contact = NULL;
    int64_t as_of = INT64_MIN;
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "m:c:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (n_models == CLI_MAX_CONFIG) {
                cli_error("explain: at most %d models", CLI_MAX_CONFIG);
                return CLI_EXIT_USAGE;
            }
            models[n_models++] = optarg;
            break;
        case 'c':
            contact = optarg;
            break;
        case 'a':
            if (!cli_parse_time("--as-of", optarg, &as_of)) {
                return CLI_EXIT_USAGE;
            }
            break;
        default:
            if (!cli_common_option(g, c, optarg, usage, &rc)) {
                return rc;
            }
            break;
        }
    }
    if (n_models == 0 || contact == NULL || argc - optind > 1) {
        cli_error("explain: --model and --contact are required, and one "
                  "events file at most");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *events = optind < argc ? argv[optind] : "-";
    struct explain_out out = {.found = false};
    hl_buf_init(&out.b);
    struct cli_session s;
    rc = cli_session_start(&s, g, models, n_models);
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    s.only_contact = contact;
    rc = cli_session_feed(&s, events);
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    rc = cli_session_report(&s, as_of, on_report, &out);
    if (!out.found) {
        cli_error("explain: no events for contact '%s'", contact);
        rc = CLI_EXIT_INPUT;
        goto out;
    }
    if (!hl_buf_write(&out.b, stdout)) {
        rc = CLI_EXIT_IO;
    }
    if (rc == CLI_EXIT_OK && s.rejected > 0) {
        cli_session_stats(&s);
        rc = CLI_EXIT_INPUT;
    }
out:
    cli_session_finish(&s);
    hl_buf_finish(&out.b);
    return rc;
}
