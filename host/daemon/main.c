/*
 * leadscored: the reference leadscore host daemon.
 *
 *   leadscored --config FILE [--listen HOST:PORT] [--data-dir DIR]
 *              [--plugin PATH] [--port-file FILE]
 *   leadscored --rescore --config FILE    replay the event log under the
 *              config's models (offline: the daemon must not be running;
 *              a running daemon rescores on SIGUSR1 or
 *              POST /v1/admin/rescore)
 *
 * Signals: SIGHUP reloads the config and models (a broken one is refused,
 * the old one stays); SIGTERM/SIGINT drain and exit; SIGUSR1 rescores.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "core.h"
#include "http.h"
#include "log.h"
#include "lsc_config.h"
#include "mcimport.h"

static pthread_t main_thread;

void http_request_rescore(void)
{
    pthread_kill(main_thread, SIGUSR1);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadscored --config FILE [--listen HOST:PORT] "
            "[--data-dir DIR]\n"
            "                  [--plugin PATH] [--port-file FILE]\n"
            "       leadscored --rescore --config FILE [--data-dir DIR]\n"
            "       leadscored --version\n");
}

static int apply_overrides(struct dconfig *cfg, const char *listen,
                           const char *data_dir)
{
    if (listen != NULL) {
        const char *colon = strrchr(listen, ':');
        if (colon == NULL) {
            fprintf(stderr, "leadscored: --listen wants HOST:PORT\n");
            return -1;
        }
        free(cfg->listen_host);
        cfg->listen_host = strndup(listen, (size_t)(colon - listen));
        cfg->listen_port = (uint16_t)strtoul(colon + 1, NULL, 10);
    }
    if (data_dir != NULL) {
        free(cfg->data_dir);
        cfg->data_dir = strdup(data_dir);
    }
    return 0;
}

static struct dconfig *load(const char *path, const char *listen,
                            const char *data_dir)
{
    struct dconfig *cfg = NULL;
    char err[512];
    if (dconfig_load(path, &cfg, err, sizeof err) != LSC_OK) {
        log_msg(LSC_LOG_ERROR, "%s", err);
        return NULL;
    }
    if (apply_overrides(cfg, listen, data_dir) != 0) {
        dconfig_destroy(cfg);
        return NULL;
    }
    return cfg;
}

static void do_rescore(struct core *c, const char *path, const char *data_dir)
{
    struct dconfig *next = load(path, NULL, data_dir);
    if (next == NULL) {
        log_msg(LSC_LOG_ERROR, "rescore refused: the config does not load");
        return;
    }
    char err[512] = "";
    uint64_t n = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (core_rescore(c, next, &n, err, sizeof err) != LSC_OK) {
        log_msg(LSC_LOG_ERROR, "rescore failed, the old models stay: %s",
                err);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    log_msg(LSC_LOG_INFO, "rescore done: %" PRIu64 " events replayed in "
            "%.1f s", n, (double)(t1.tv_sec - t0.tv_sec) +
                             (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"data-dir", required_argument, NULL, 'd'},
        {"plugin", required_argument, NULL, 'p'},
        {"port-file", required_argument, NULL, 'P'},
        {"rescore", no_argument, NULL, 'r'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc > 1 && strcmp(argv[1], MCIMPORT_CHILD_FLAG) == 0) {
        return mcimport_child_main(argc, argv);
    }
    const char *config = NULL, *listen = NULL, *data_dir = NULL;
    const char *plugin = NULL, *port_file = NULL;
    bool rescore = false;
    int o;
    while ((o = getopt_long(argc, argv, "c:l:d:p:P:rVh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config = optarg; break;
        case 'l': listen = optarg; break;
        case 'd': data_dir = optarg; break;
        case 'p': plugin = optarg; break;
        case 'P': port_file = optarg; break;
        case 'r': rescore = true; break;
        case 'V': printf("leadscored %s\n", LSC_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (config == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    main_thread = pthread_self();
    /* Every thread inherits this mask; the main thread takes the signals
     * with sigtimedwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct dconfig *cfg = load(config, listen, data_dir);
    if (cfg == NULL) {
        return 1;
    }
    log_set_level(cfg->log_level);
    char *host = strdup(cfg->listen_host);
    uint16_t port = cfg->listen_port;
    unsigned threads = cfg->http_threads;
    bool no_tokens = cfg->n_tokens == 0;
    struct core *c = NULL;
    char err[512] = "";
    if (core_create(cfg, plugin, &c, err, sizeof err) != LSC_OK) {
        log_msg(LSC_LOG_ERROR, "cannot start: %s", err);
        dconfig_destroy(cfg);
        free(host);
        return 1;
    }
    if (rescore) {
        do_rescore(c, config, data_dir);
        core_destroy(c);
        free(host);
        return 0;
    }
    if (core_start_imports(c, err, sizeof err) != LSC_OK) {
        log_msg(LSC_LOG_ERROR, "cannot start: %s", err);
        core_destroy(c);
        free(host);
        return 1;
    }
    struct http *h = NULL;
    if (http_start(c, host, port, threads, &h, err, sizeof err) != LSC_OK) {
        log_msg(LSC_LOG_ERROR, "cannot start: %s", err);
        core_destroy(c);
        free(host);
        return 1;
    }
    if (no_tokens) {
        log_msg(LSC_LOG_WARN, "no API tokens configured: /v1/ endpoints "
                "accept requests without authentication");
    }
    if (port_file != NULL) {
        FILE *f = fopen(port_file, "w");
        if (f != NULL) {
            fprintf(f, "%u\n", (unsigned)http_port(h));
            fclose(f);
        }
    }
    log_msg(LSC_LOG_INFO, "leadscored %s listening on %s:%u", LSC_VERSION,
            host, (unsigned)http_port(h));
    free(host);
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (sig == SIGHUP) {
            log_msg(LSC_LOG_INFO, "SIGHUP: reloading %s", config);
            if (core_reload(c, err, sizeof err) != LSC_OK) {
                log_msg(LSC_LOG_ERROR, "reload refused, the old "
                        "configuration and models stay: %s", err);
            } else {
                log_msg(LSC_LOG_INFO, "reload done");
            }
            continue;
        }
        if (sig == SIGUSR1) {
            log_msg(LSC_LOG_INFO, "rescoring the event log under %s",
                    config);
            do_rescore(c, config, data_dir);
            continue;
        }
        break;
    }
    log_msg(LSC_LOG_INFO, "stopping: draining requests");
    http_quiesce(h);
    core_stop_imports(c);
    bool idle = core_drain(c, 10000);
    /* Give resumed connections a moment to send their answers. */
    for (int i = 0; i < 200 && http_connections(h) > 0; i++) {
        struct timespec ts = {0, 5000000}; /* at most 1 s in all */
        nanosleep(&ts, NULL);
    }
    core_refuse(c);
    http_stop(h);
    core_destroy(c);
    log_msg(LSC_LOG_INFO, "stopped%s", idle ? "" : " (drain timed out)");
    return 0;
}
