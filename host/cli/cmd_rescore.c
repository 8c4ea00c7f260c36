/* leadscore rescore: ask a running leadscored to replay its event log
 * under the models of its configuration, while ingestion continues.  The
 * daemon does the work (it owns the store); this command starts it and,
 * with --wait, follows it through the daemon's rescore counters. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"

#define TOKEN_ENV "LEADSCORED_TOKEN"

static void usage(FILE *f)
{
    fputs("usage: leadscore rescore --daemon URL [--wait SECONDS]\n"
          "\n"
          "Starts a rescore in a running leadscored: it replays the whole\n"
          "event log under the models of its configuration file as it is\n"
          "now, while live ingestion continues, then swaps every score at\n"
          "once.  Edit the models in the daemon's config, then run this.\n"
          "\n"
          "  --daemon URL     the daemon, e.g. http://127.0.0.1:8080\n"
          "                   (https, or http to a loopback address)\n"
          "  --wait SECONDS   wait until the rescore finished (0: do not\n"
          "                   wait, the default)\n"
          "\n"
          "The bearer token is read from the environment variable\n"
          TOKEN_ENV " (never from the command line, where other users\n"
          "could read it).\n"
          "\n"
          "Exit status: 0 started (or finished with --wait), 1 the daemon\n"
          "refused or the rescore failed, 2 usage, 4 the daemon could not\n"
          "be reached or --wait ran out.\n",
          f);
}

/* Sends one request; returns the HTTP status (0 when none arrived) and
 * leaves the body in resp (caller finishes it). */
static long call(struct http_client *c, const char *method, const char *url,
                 const char *auth, struct http_response *resp)
{
    struct http_header h = {"Authorization", auth};
    struct http_request req = {
        .method = method,
        .url = url,
        .headers = auth ? &h : NULL,
        .n_headers = auth ? 1 : 0,
        .body = strcmp(method, "POST") == 0 ? "" : NULL,
        .body_len = 0,
    };
    if (http_client_request(c, &req, resp) != LSC_OK) {
        return 0;
    }
    return resp->status;
}

/* Reads leadscored_rescores_total{result=RESULT} from a /metrics body. */
static uint64_t counter(const char *body, const char *result)
{
    char key[96];
    snprintf(key, sizeof key, "leadscored_rescores_total{result=\"%s\"} ",
             result);
    const char *p = body ? strstr(body, key) : NULL;
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* Rescores finished so far (ok, failed), or false when /metrics fails. */
static bool finished(struct http_client *c, const char *base,
                     uint64_t *ok, uint64_t *failed)
{
    char url[1024];
    snprintf(url, sizeof url, "%s/metrics", base);
    struct http_response resp;
    long st = call(c, "GET", url, NULL, &resp);
    if (st == 200) {
        *ok = counter(resp.body, "ok");
        *failed = counter(resp.body, "failed");
    }
    http_response_finish(&resp);
    return st == 200;
}

int cmd_rescore(int argc, char **argv, struct cli_global *g)
{
    static const struct option opts[] = {
        {"daemon", required_argument, NULL, 'd'},
        {"wait", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    (void)g;
    const char *base = NULL;
    long wait_s = 0;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            base = optarg;
            break;
        case 'w': {
            char *end;
            wait_s = strtol(optarg, &end, 10);
            if (*end != '\0' || wait_s < 0 || wait_s > 86400) {
                cli_error("rescore: --wait takes seconds, 0 to 86400");
                return CLI_EXIT_USAGE;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (base == NULL || optind != argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') {
        blen--;
    }
    char root[768];
    if (blen == 0 || blen >= sizeof root) {
        cli_error("rescore: --daemon needs a URL such as http://127.0.0.1:8080");
        return CLI_EXIT_USAGE;
    }
    memcpy(root, base, blen);
    root[blen] = '\0';
    if (!http_url_allowed(root)) {
        cli_error("rescore: %s: use https, or http to a loopback address",
                  root);
        return CLI_EXIT_USAGE;
    }

    const char *token = getenv(TOKEN_ENV);
    char auth[1024];
    if (token != NULL && *token != '\0') {
        if ((size_t)snprintf(auth, sizeof auth, "Bearer %s", token) >=
            sizeof auth) {
            cli_error("rescore: %s is too long", TOKEN_ENV);
            return CLI_EXIT_USAGE;
        }
    }

    char err[256];
    struct http_client *hc = NULL;
    if (http_client_create(NULL, &hc, err, sizeof err) != LSC_OK) {
        cli_error("rescore: %s", err);
        return CLI_EXIT_INTERNAL;
    }
    int rc = CLI_EXIT_OK;
    uint64_t ok0 = 0, failed0 = 0;
    if (wait_s > 0 && !finished(hc, root, &ok0, &failed0)) {
        cli_error("rescore: %s/metrics did not answer", root);
        rc = CLI_EXIT_IO;
        goto out;
    }

    char url[1024];
    snprintf(url, sizeof url, "%s/v1/admin/rescore", root);
    struct http_response resp;
    long st = call(hc, "POST", url, token ? auth : NULL, &resp);
    if (st == 0) {
        cli_error("rescore: %s: %s", root,
                  resp.error[0] ? resp.error : "no answer");
        rc = CLI_EXIT_IO;
    } else if (st == 401 || st == 403) {
        cli_error("rescore: the daemon refused the token (HTTP %ld); set %s",
                  st, TOKEN_ENV);
        rc = CLI_EXIT_INPUT;
    } else if (st != 202 && st != 200) {
        cli_error("rescore: the daemon answered HTTP %ld", st);
        rc = CLI_EXIT_INPUT;
    }
    http_response_finish(&resp);
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    if (wait_s == 0) {
        printf("rescore started\n");
        goto out;
    }

    /* Poll the counters: a rescore is done when ok or failed moved. */
    int64_t deadline = http_mono_ms() + wait_s * 1000;
    for (;;) {
        uint64_t ok = ok0, failed = failed0;
        if (finished(hc, root, &ok, &failed)) {
            if (failed > failed0) {
                cli_error("rescore: failed; the daemon's log says why");
                rc = CLI_EXIT_INPUT;
                break;
            }
            if (ok > ok0) {
                printf("rescore finished\n");
                break;
            }
        }
        if (http_mono_ms() >= deadline) {
            cli_error("rescore: still running after %ld s", wait_s);
            rc = CLI_EXIT_IO;
            break;
        }
        http_sleep_ms(200);
    }
out:
    http_client_destroy(hc);
    return rc;
}
