/*
 * leadscore compare: model A (primary) and B (shadow) on the same events.
 */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct tier_count {
    char *name;
    long count[2];
    int min_score; /* lowest score seen in the tier: orders the rows */
};

struct cmp_out {
    char *model[2];
    struct tier_count *tiers;
    size_t n_tiers;
    struct hl_buf diff; /* rows of contacts whose tier differs */
    size_t n_diff;
    int score[2];
    char *tier[2];
    const char *contact;
    bool oom;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadscore compare --model A --model B [--as-of TIME] "
            "[EVENTS.jsonl | -]\n"
            "\n"
            "Run A (primary) and B (shadow) on the same events; print the "
            "tier\n"
            "counts side by side, then every contact whose tier differs.\n");
}

static void count_tier(struct cmp_out *o, size_t m, const char *tier,
                       int score)
{
    const char *name = tier != NULL ? tier : "(none)";
    for (size_t i = 0; i < o->n_tiers; i++) {
        if (strcmp(o->tiers[i].name, name) == 0) {
            o->tiers[i].count[m]++;
            if (score < o->tiers[i].min_score) {
                o->tiers[i].min_score = score;
            }
            return;
        }
    }
    struct tier_count *t =
        realloc(o->tiers, (o->n_tiers + 1) * sizeof *o->tiers);
    char *copy = strdup(name);
    if (t == NULL || copy == NULL) {
        free(copy);
        if (t != NULL) {
            o->tiers = t;
        }
        o->oom = true;
        return;
    }
    o->tiers = t;
    t[o->n_tiers++] = (struct tier_count){copy, {m == 0, m == 1}, score};
}

static void on_report(void *ud, size_t index, const struct lsc_report *r)
{
    struct cmp_out *o = ud;
    if (index == CLI_REPORT_END) {
        if (o->tier[0] != NULL && o->tier[1] != NULL &&
            strcmp(o->tier[0], o->tier[1]) != 0) {
            hl_buf_printf(&o->diff, "%-24s  %-10s  %-10s  %7d  %7d\n",
                          o->contact, o->tier[0], o->tier[1], o->score[0],
                          o->score[1]);
            o->n_diff++;
        }
        for (size_t m = 0; m < 2; m++) {
            free(o->tier[m]);
            o->tier[m] = NULL;
        }
        return;
    }
    if (index > 1) {
        return;
    }
    if (o->model[index] == NULL && r->model != NULL) {
        o->model[index] = strdup(r->model);
    }
    o->contact = r->contact_id; /* a store id: valid after the call */
    o->score[index] = r->score;
    free(o->tier[index]);
    o->tier[index] = strdup(r->tier != NULL ? r->tier : "(none)");
    count_tier(o, index, r->tier, r->score);
}

static int by_min_score(const void *a, const void *b)
{
    const struct tier_count *x = a, *y = b;
    if (x->min_score != y->min_score) {
        return x->min_score < y->min_score ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

int cmd_compare(int argc, char **argv, struct cli_global *g)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"as-of", required_argument, NULL, 'a'},
        CLI_OPTIONS_END,
    };
    const char *models[2];
    size_t n_models = 0;
    int64_t as_of = INT64_MIN;
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "m:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (n_models == 2) {
                cli_error("compare: exactly two models");
                return CLI_EXIT_USAGE;
            }
            models[n_models++] = optarg;
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
    if (n_models != 2 || argc - optind > 1) {
        cli_error("compare: two --model options and one events file at most");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *events = optind < argc ? argv[optind] : "-";
    struct cmp_out out = {0};
    hl_buf_init(&out.diff);
    struct cli_session s;
    rc = cli_session_start(&s, g, models, n_models);
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    rc = cli_session_feed(&s, events);
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    rc = cli_session_report(&s, as_of, on_report, &out);
    if (out.oom || out.diff.oom) {
        cli_error("out of memory");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    qsort(out.tiers, out.n_tiers, sizeof *out.tiers, by_min_score);
    const char *a = out.model[0] != NULL ? out.model[0] : models[0];
    const char *b = out.model[1] != NULL ? out.model[1] : models[1];
    printf("%-12s  %12s  %12s\n", "TIER", "A", "B");
    for (size_t i = 0; i < out.n_tiers; i++) {
        printf("%-12s  %12ld  %12ld\n", out.tiers[i].name,
               out.tiers[i].count[0], out.tiers[i].count[1]);
    }
    printf("(A = %s, B = %s)\n\n", a, b);
    if (out.n_diff == 0) {
        printf("Every contact has the same tier under both models.\n");
    } else {
        printf("%zu contact%s with a different tier:\n", out.n_diff,
               out.n_diff == 1 ? "" : "s");
        printf("%-24s  %-10s  %-10s  %7s  %7s\n", "CONTACT", "TIER A",
               "TIER B", "SCORE A", "SCORE B");
        hl_buf_write(&out.diff, stdout);
    }
    if (rc == CLI_EXIT_OK && s.rejected > 0) {
        cli_session_stats(&s);
        rc = CLI_EXIT_INPUT;
    }
out:
    cli_session_finish(&s);
    for (size_t i = 0; i < out.n_tiers; i++) {
        free(out.tiers[i].name);
    }
    free(out.tiers);
    for (size_t m = 0; m < 2; m++) {
        free(out.model[m]);
        free(out.tier[m]);
    }
    hl_buf_finish(&out.diff);
    return rc;
}
