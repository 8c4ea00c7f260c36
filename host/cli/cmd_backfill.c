/*
 * leadscore backfill mailchimp: score an event history and write every
 * contact's final score and tier to the audience in bulk through
 * mailchimp_backfill() (POST /batches; never subscribes anyone under the
 * default unknown_members "skip"), and sum the per-member outcomes read
 * from each batch's results archive.
 *
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

#include <jansson.h>

#include "connectors.h"
#include "contacts.h"
#include "mailchimp/mailchimp.h"
#include "lsc_config.h"
#include "sync_queue.h"

#define DEFAULT_MODEL LSC_DATADIR "/models/b2b-saas.json"
#define MC_CHUNK 2000 /* writes per POST /batches */
#define MC_CHUNK_STR "2000"
#define MC_WAIT_MS (30 * 60 * 1000) /* per batch, polled to completion */

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
            "  -h, --help          this help\n"
            "\n"
            "usage: leadscore backfill mailchimp --config MAPPING [--model "
            "MODEL]\n"
            "                                    [--data-dir DIR] "
            "[EVENTS.jsonl | -]\n"
            "\n"
            "Score the event history (default: stdin) and write every "
            "contact's\n"
            "final score and tier to the Mailchimp audience in bulk "
            "(batch\n"
            "operations, " MC_CHUNK_STR " members per batch).  Members "
            "not in the audience\n"
            "are skipped unless the mapping says unknown_members "
            "\"create\";\n"
            "nobody is subscribed.  Contacts without an email are "
            "skipped.  The summary\n"
            "counts members written, skipped and failed (with the "
            "reasons) from each\n"
            "batch's results; exit 1 when any failed.\n");
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

/* ---- backfill mailchimp ------------------------------------------------ */

struct mcbf {
    struct cli_session *s;
    const struct mailchimp_config *cfg;
    struct mailchimp_write *w; /* strings malloc()ed */
    size_t n, cap, no_email;
    bool oom;
};

/* The contact's email: the mapped property, else (id_from "email") an id
 * with an '@'.  Copied into out; false when none. */
static bool contact_email(struct mcbf *b, const char *id, char *out,
                          size_t outlen)
{
    struct hl_contact *c = hl_contacts_find(b->s->contacts, id);
    const struct lsc_prop *props = NULL;
    size_t n = 0;
    if (c != NULL && hl_contacts_props(b->s->contacts, c, &props, &n) ==
                         LSC_OK) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(props[i].key, b->cfg->email_property) == 0 &&
                props[i].value.type == LSC_VAL_STRING &&
                props[i].value.u.str.ptr != NULL &&
                props[i].value.u.str.len > 0) {
                snprintf(out, outlen, "%s", props[i].value.u.str.ptr);
                return true;
            }
        }
    }
    if (strcmp(b->cfg->contact_id_from, "email") == 0 &&
        strchr(id, '@') != NULL) {
        snprintf(out, outlen, "%s", id);
        return true;
    }
    return false;
}

/* The model's tier names, so a member's tier tag flips even when the
 * mapping lists no tags (the plugin does the same in create()).  A model
 * the plugin accepted has them; an unreadable one only loses the flip. */
static enum lsc_status add_model_tiers(struct mailchimp *mc,
                                       const char *model)
{
    json_t *root = json_load_file(model, 0, NULL);
    json_t *tiers = json_object_get(root, "tiers");
    enum lsc_status st = LSC_OK;
    size_t n = json_array_size(tiers);
    const char **names = n != 0 ? calloc(n, sizeof *names) : NULL;
    if (n != 0 && names == NULL) {
        st = LSC_ERR_NOMEM;
    } else if (n != 0) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            const char *name = json_string_value(
                json_object_get(json_array_get(tiers, i), "name"));
            if (name != NULL) {
                names[k++] = name;
            }
        }
        st = mailchimp_add_tiers(mc, names, k);
    }
    free(names);
    json_decref(root);
    return st;
}

/* Primary report of each contact: one write. */
static void on_mc_report(void *ud, size_t index, const struct lsc_report *r)
{
    struct mcbf *b = ud;
    if (index != 0 || r == NULL || b->oom) {
        return;
    }
    char email[512];
    if (!contact_email(b, r->contact_id, email, sizeof email)) {
        b->no_email++;
        return;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap != 0 ? b->cap * 2 : 256;
        struct mailchimp_write *w = realloc(b->w, cap * sizeof *w);
        if (w == NULL) {
            b->oom = true;
            return;
        }
        b->w = w;
        b->cap = cap;
    }
    struct mailchimp_write *w = &b->w[b->n];
    w->email = strdup(email);
    w->score = r->score;
    w->tier = r->tier != NULL ? strdup(r->tier) : NULL;
    w->from_tier = NULL;
    if (w->email == NULL || (r->tier != NULL && w->tier == NULL)) {
        free((char *)w->email);
        free((char *)w->tier);
        b->oom = true;
        return;
    }
    b->n++;
}

static int backfill_mailchimp(struct cli_global *g, const char *mapping,
                              const char *model, const char *data_dir,
                              const char *events)
{
    struct cli_session s;
    struct cli_admin a;
    struct mailchimp *mc = NULL;
    struct mcbf b = {.s = &s};
    char err[1024] = "";
    int rc = CLI_EXIT_INTERNAL;
    if (!cli_session_init(&s, g)) {
        cli_error("out of memory");
        goto out;
    }
    cli_admin_init(&a, data_dir, g->verbose);
    enum lsc_status st = mailchimp_open(&a.api, mapping, data_dir, &mc, err,
                                        sizeof err);
    if (st == LSC_ERR_AUTH) {
        cli_error("mailchimp: not connected; hint: leadscore connect "
                  "mailchimp --config %s", mapping);
        rc = CLI_EXIT_INPUT;
        goto out;
    }
    if (st != LSC_OK) {
        cli_error("%s", err);
        rc = st == LSC_ERR_IO ? CLI_EXIT_IO : CLI_EXIT_INPUT;
        goto out;
    }
    b.cfg = mailchimp_config_of(mc);
    if (add_model_tiers(mc, model) != LSC_OK) {
        cli_error("out of memory");
        goto out;
    }
    /* The mapping is not given to the plugin: no per-contact jobs, the
     * scores go out in bulk below. */
    if ((rc = cli_session_load_models(&s, model)) != CLI_EXIT_OK) {
        goto out;
    }
    if ((rc = cli_session_feed(&s, events)) != CLI_EXIT_OK) {
        goto out;
    }
    if ((rc = cli_session_report(&s, INT64_MIN, on_mc_report, &b)) !=
        CLI_EXIT_OK) {
        goto out;
    }
    if (b.oom) {
        cli_error("out of memory");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    long written = 0, skipped = 0, failed = 0;
    long missing = 0, errored_unread = 0;
    size_t batches = 0, unread = 0;
    /* Reasons summed over batches (same shape as one batch's table). */
    struct mailchimp_backfill_result sum = {0};
    for (size_t i = 0; i < b.n; i += MC_CHUNK) {
        size_t k = b.n - i < MC_CHUNK ? b.n - i : MC_CHUNK;
        char batch_id[64] = "";
        struct mailchimp_backfill_result res;
        st = mailchimp_backfill(mc, &b.w[i], k, batch_id, sizeof batch_id,
                                &res, MC_WAIT_MS, err, sizeof err);
        if (st != LSC_OK) {
            cli_error("backfill: batch %zu (%zu members%s%s): %s", batches + 1,
                      k, batch_id[0] != '\0' ? ", id " : "", batch_id, err);
            rc = st == LSC_ERR_AUTH || st == LSC_ERR_CONFIG ? CLI_EXIT_INPUT
                                                            : CLI_EXIT_IO;
            break;
        }
        batches++;
        if (!res.results_read) {
            unread++;
            errored_unread += res.errored;
            fprintf(stderr, "leadscore: backfill: batch %s: results not "
                    "read (%s); %ld errored operations\n", batch_id,
                    res.results_error, res.errored);
        } else {
            written += res.written;
            skipped += res.skipped_unknown;
            failed += res.failed;
            missing += res.missing;
            for (size_t r = 0; r < res.n_reasons; r++) {
                size_t q = 0;
                while (q < sum.n_reasons &&
                       strcmp(sum.reasons[q].reason,
                              res.reasons[r].reason) != 0) {
                    q++;
                }
                if (q == sum.n_reasons &&
                    sum.n_reasons == MAILCHIMP_BACKFILL_REASONS) {
                    sum.other_reasons += res.reasons[r].count;
                    continue;
                }
                if (q == sum.n_reasons) {
                    sum.reasons[q] = res.reasons[r];
                    sum.reasons[q].count = 0;
                    sum.n_reasons++;
                }
                sum.reasons[q].count += res.reasons[r].count;
            }
            sum.other_reasons += res.other_reasons;
        }
        if (g->verbose) {
            fprintf(stderr, "leadscore: backfill: batch %s: %zu members, "
                    "%ld errored operations\n", batch_id, k, res.errored);
        }
    }
    printf("backfill: %zu members in %zu batches: %ld written, %ld skipped "
           "(not in the audience), %ld failed, %zu contacts without an "
           "email skipped\n",
           b.n, batches, written, skipped, failed + missing, b.no_email);
    for (size_t r = 0; r < sum.n_reasons; r++) {
        printf("backfill: failed: %ld x %s (e.g. %s)\n", sum.reasons[r].count,
               sum.reasons[r].reason, sum.reasons[r].example);
    }
    if (sum.other_reasons > 0) {
        printf("backfill: failed: %ld more with other reasons\n",
               sum.other_reasons);
    }
    if (unread > 0) {
        /* Without the archive a 404 (skip) cannot be told from a failure. */
        printf("backfill: %zu batches' results could not be read: %ld "
               "errored operations there are not counted above\n",
               unread, errored_unread);
    }
    if (rc == CLI_EXIT_OK && (failed + missing > 0 ||
                              (errored_unread > 0 &&
                               b.cfg->unknown_members !=
                                   MAILCHIMP_UNKNOWN_SKIP))) {
        rc = CLI_EXIT_INPUT;
    }
out:
    for (size_t i = 0; i < b.n; i++) {
        free((char *)b.w[i].email);
        free((char *)b.w[i].tier);
    }
    free(b.w);
    mailchimp_destroy(mc);
    cli_session_finish(&s);
    return rc;
}

int cmd_backfill(int argc, char **argv, struct cli_global *g)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"model", required_argument, NULL, 'm'},
        {"restart", no_argument, NULL, 'r'},
        {"data-dir", required_argument, NULL, 'd'},
        {"max-attempts", required_argument, NULL, CLI_OPT_MAX_ATTEMPTS},
        {"max-wait", required_argument, NULL, CLI_OPT_MAX_WAIT},
        CLI_OPTIONS_END,
    };
    const char *mapping = NULL, *model = NULL;
    const char *data_dir = CLI_DATA_DIR_DEFAULT;
    bool restart = false;
    struct cli_jobq_limits limits = CLI_JOBQ_LIMITS_DEFAULT;
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "c:m:vh", opts, NULL)) != -1) {
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
        case CLI_OPT_MAX_ATTEMPTS:
        case CLI_OPT_MAX_WAIT:
            if (!cli_jobq_limit_option(&limits, "backfill", c, optarg)) {
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
    if (optind < argc && strcmp(argv[optind], "mailchimp") == 0 &&
        mapping != NULL && argc - optind <= 2) {
        if (model == NULL) {
            model = DEFAULT_MODEL;
            fprintf(stderr, "leadscore: backfill: scoring with %s\n", model);
        }
        return backfill_mailchimp(g, mapping, model, data_dir,
                                  optind + 1 < argc ? argv[optind + 1] : "-");
    }
    if (optind + 1 != argc || strcmp(argv[optind], "hubspot") != 0 ||
        mapping == NULL) {
        cli_error("backfill: usage: backfill hubspot|mailchimp --config "
                  "MAPPING");
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
    rc = CLI_EXIT_INTERNAL;
    if (!cli_session_init(&s, g)) {
        cli_error("out of memory");
        goto out;
    }
    if ((rc = cli_jobq_open(&q, &s, data_dir, &limits, false)) !=
        CLI_EXIT_OK) {
        goto out;
    }
    q.progress = isatty(STDERR_FILENO);
    cli_session_config(&s, "connectors", mapping);
    if ((rc = cli_session_load_models(&s, model)) != CLI_EXIT_OK) {
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
