/* Periodic Mailchimp email-activity import; see mcimport.h. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np */
#include "mcimport.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "log.h"
#include "mailchimp/mailchimp.h"

extern char **environ;

const char *mcimport_err_name(enum mcimport_err e)
{
    static const char *const names[MCIMPORT_ERR_COUNT] = {
        "rate_limited", "unavailable", "auth", "final", "commit"};
    return (unsigned)e < MCIMPORT_ERR_COUNT ? names[e] : "final";
}

/* ---- The child ---------------------------------------------------------- */

static void child_log(void *host, enum lsc_log_level level, const char *msg)
{
    (void)host;
    log_msg(level, "mailchimp import: %s", msg);
}

static void child_diag(void *host, const struct lsc_diagnostic *d)
{
    (void)host;
    log_msg(d->severity, "mailchimp import: %s:%d:%d: %s%s%s",
            d->file ? d->file : "?", d->line, d->column,
            d->json_path ? d->json_path : "",
            d->json_path && *d->json_path ? ": " : "",
            d->message ? d->message : "");
}

static const char *child_data_dir(void *host)
{
    return host;
}

static int64_t child_now(void *host)
{
    (void)host;
    return core_now_ms();
}

static enum lsc_status child_sink(void *ud, const struct mailchimp_activity *a)
{
    FILE *out = ud;
    if (a->jsonl[0] == '#' || fputs(a->jsonl, out) == EOF ||
        fputc('\n', out) == EOF) {
        return LSC_ERR_IO;
    }
    return LSC_OK;
}

int mcimport_child_main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "%s: internal mode, started by leadscored\n",
                argv[0]);
        return 2;
    }
    const char *mapping = argv[2], *data_dir = argv[3];
    int64_t cp = INT64_MIN;
    if (strcmp(argv[4], "none") != 0) {
        cp = (int64_t)strtoll(argv[4], NULL, 10);
    }
    struct lsc_host_api api = {
        .struct_size = sizeof api,
        .abi_major = LSC_PLUGIN_ABI_MAJOR,
        .abi_minor = LSC_PLUGIN_ABI_MINOR,
        .host = (void *)data_dir,
        .host_name = "leadscored",
        .log = child_log,
        .data_dir = child_data_dir,
        .now_ms = child_now,
        .diagnostic = child_diag,
    };
    char err[1024] = "";
    struct mailchimp *mc = NULL;
    size_t n = 0;
    uint64_t throttled = 0;
    enum lsc_status st = mailchimp_open(&api, mapping, data_dir, &mc, err,
                                        sizeof err);
    if (st == LSC_ERR_AUTH) {
        snprintf(err, sizeof err, "Mailchimp is not connected; hint: "
                 "leadscore connect mailchimp --config %s --data-dir %s",
                 mapping, data_dir);
    }
    if (st == LSC_OK) {
        st = mailchimp_import_activity(mc, &cp, core_now_ms(), child_sink,
                                       stdout, &n, err, sizeof err);
        struct mailchimp_stats ms;
        mailchimp_stats_get(mc, &ms);
        throttled = ms.throttled;
        mailchimp_destroy(mc);
    }
    for (char *p = err; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    char cps[32] = "none";
    if (cp != INT64_MIN) {
        snprintf(cps, sizeof cps, "%" PRId64, cp);
    }
    printf("#end %d %s %zu %" PRIu64 " %s\n", (int)st, cps, n, throttled,
           st == LSC_OK ? "ok" : err);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- The import thread -------------------------------------------------- */

struct mcimport {
    struct core *core;
    struct mcimport_stats *stats;
    char *exe, *mapping, *checkpoint, *data_dir;
    int64_t interval_ms;
    size_t batch;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* stop requested, or a batch completed */
    bool stop;
    pid_t child;         /* running child, or 0 */
    bool batch_done;
};

/* What one run did. */
struct run {
    size_t lines, accepted, duplicates, rejected;
    bool failed;
    enum mcimport_err kind;
    char reason[1100];
};

static void run_fail(struct run *r, enum mcimport_err kind, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

static void run_fail(struct run *r, enum mcimport_err kind, const char *fmt,
                     ...)
{
    if (r->failed) {
        return; /* the first cause is the one to report */
    }
    r->failed = true;
    r->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}

static void batch_done_cb(void *ud, struct core_batch *b)
{
    (void)b;
    struct mcimport *m = ud;
    pthread_mutex_lock(&m->mu);
    m->batch_done = true;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Submit lines[0..n) and wait for their commit.  False on failure. */
static bool submit(struct mcimport *m, char **lines, size_t n, struct run *r)
{
    if (n == 0) {
        return true;
    }
    struct core_line *cl = calloc(n, sizeof *cl);
    if (cl == NULL) {
        run_fail(r, MCIMPORT_ERR_COMMIT, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        cl[i].json = lines[i];
        cl[i].len = strlen(lines[i]);
    }
    struct core_batch b = {
        .source = CORE_SRC_MAILCHIMP_ACTIVITY,
        .lines = cl,
        .n = n,
        .done = batch_done_cb,
        .ud = m,
    };
    pthread_mutex_lock(&m->mu);
    m->batch_done = false;
    pthread_mutex_unlock(&m->mu);
    core_submit(m->core, &b);
    pthread_mutex_lock(&m->mu);
    while (!m->batch_done) {
        pthread_cond_wait(&m->cv, &m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    bool ok = b.status == LSC_OK;
    if (ok) {
        r->accepted += b.accepted;
        r->duplicates += b.duplicates;
        r->rejected += b.rejected;
    } else {
        run_fail(r, MCIMPORT_ERR_COMMIT, "%zu events not committed: %s", n,
                 b.status == LSC_ERR_UNSUPPORTED ? "the daemon is stopping"
                                                 : lsc_status_str(b.status));
    }
    free(cl);
    return ok;
}

/* Parse "#end <status> <cp|none> <events> <throttled> <reason>". */
static bool parse_end(const char *line, int *st, int64_t *cp,
                      uint64_t *throttled, const char **reason)
{
    char cps[32];
    size_t n = 0;
    int off = 0;
    if (sscanf(line, "#end %d %31s %zu %" SCNu64 " %n", st, cps, &n,
               throttled, &off) != 4 || off == 0) {
        return false;
    }
    *cp = strcmp(cps, "none") == 0 ? INT64_MIN : strtoll(cps, NULL, 10);
    *reason = line + off;
    return true;
}

static bool stopping(struct mcimport *m)
{
    pthread_mutex_lock(&m->mu);
    bool s = m->stop;
    pthread_mutex_unlock(&m->mu);
    return s;
}

static void run_once(struct mcimport *m)
{
    struct run r = {0};
    char err[512] = "";
    int64_t cp = INT64_MIN;
    if (mailchimp_checkpoint_read(m->checkpoint, &cp, err, sizeof err) !=
        LSC_OK) {
        run_fail(&r, MCIMPORT_ERR_FINAL, "%s", err);
    }
    char cps[32] = "none";
    if (cp != INT64_MIN) {
        snprintf(cps, sizeof cps, "%" PRId64, cp);
    }
    int pfd[2] = {-1, -1};
    if (!r.failed && pipe2(pfd, O_CLOEXEC) != 0) {
        run_fail(&r, MCIMPORT_ERR_FINAL, "pipe: %s", strerror(errno));
    }
    pid_t pid = 0;
    if (!r.failed) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
#if defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        /* No listening socket or database handle in the child. */
        posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
        posix_spawnattr_init(&at);
        sigset_t none, defs;
        sigemptyset(&none);
        sigemptyset(&defs);
        sigaddset(&defs, SIGPIPE);
        sigaddset(&defs, SIGTERM);
        sigaddset(&defs, SIGINT);
        sigaddset(&defs, SIGHUP);
        sigaddset(&defs, SIGUSR1);
        /* The daemon blocks its signals in every thread: unblock them. */
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &defs);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF);
        char *argv[] = {m->exe, MCIMPORT_CHILD_FLAG, m->mapping, m->data_dir,
                        cps, NULL};
        pthread_mutex_lock(&m->mu);
        int rc = m->stop ? ECANCELED
                         : posix_spawn(&pid, m->exe, &fa, &at, argv, environ);
        if (rc == 0) {
            m->child = pid;
        }
        pthread_mutex_unlock(&m->mu);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        close(pfd[1]);
        if (rc != 0) {
            close(pfd[0]);
            pid = 0;
            if (rc == ECANCELED) {
                return;
            }
            run_fail(&r, MCIMPORT_ERR_FINAL, "cannot start %s: %s", m->exe,
                     strerror(rc));
        }
    }
    bool ended = false;
    int cst = -1;
    int64_t new_cp = INT64_MIN;
    uint64_t throttled = 0;
    char creason[1024] = "";
    if (pid != 0) {
        FILE *f = fdopen(pfd[0], "r");
        char **lines = calloc(m->batch, sizeof *lines);
        size_t n = 0;
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        if (f == NULL || lines == NULL) {
            run_fail(&r, MCIMPORT_ERR_FINAL, "out of memory");
        }
        while (!r.failed && (len = getline(&line, &cap, f)) >= 0) {
            while (len > 0 && (line[len - 1] == '\n' ||
                               line[len - 1] == '\r')) {
                line[--len] = '\0';
            }
            if (strncmp(line, "#end ", 5) == 0) {
                const char *why = "";
                ended = parse_end(line, &cst, &new_cp, &throttled, &why);
                snprintf(creason, sizeof creason, "%s", why);
                continue;
            }
            if (len == 0 || ended) {
                continue;
            }
            lines[n] = line;
            line = NULL;
            cap = 0;
            r.lines++;
            if (++n == m->batch) {
                submit(m, lines, n, &r);
                for (size_t i = 0; i < n; i++) {
                    free(lines[i]);
                }
                n = 0;
            }
        }
        if (!r.failed && !stopping(m)) {
            submit(m, lines, n, &r);
        }
        for (size_t i = 0; i < n; i++) {
            free(lines[i]);
        }
        free(lines);
        free(line);
        pthread_mutex_lock(&m->mu);
        if (r.failed) {
            kill(pid, SIGKILL); /* not reaped yet: still our child */
        }
        m->child = 0;
        pthread_mutex_unlock(&m->mu);
        if (f != NULL) {
            fclose(f);
        } else {
            close(pfd[0]);
        }
        int ws = 0;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
        }
        if (stopping(m)) {
            /* Killed by mcimport_stop(): not an error; whatever was
             * committed is de-duplicated next time. */
            log_msg(LSC_LOG_INFO, "mailchimp activity import interrupted by "
                    "shutdown after %zu events; the checkpoint stays",
                    r.accepted + r.duplicates + r.rejected);
            return;
        }
        if (!r.failed && ended &&
            (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)) {
            run_fail(&r, MCIMPORT_ERR_FINAL, "the import process failed "
                     "after its result (status %d)",
                     WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
        }
        if (!r.failed && !ended) {
            if (WIFSIGNALED(ws)) {
                run_fail(&r, MCIMPORT_ERR_FINAL, "the import process died "
                         "(signal %d)", WTERMSIG(ws));
            } else {
                run_fail(&r, MCIMPORT_ERR_FINAL, "the import process ended "
                         "without a result (status %d)",
                         WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
            }
        }
    }
    if (!r.failed && cst != LSC_OK) {
        enum mcimport_err k = MCIMPORT_ERR_FINAL;
        if (cst == LSC_ERR_AUTH) {
            k = MCIMPORT_ERR_AUTH;
        } else if (cst == LSC_ERR_RETRYABLE || cst == LSC_ERR_TIMEOUT) {
            k = throttled > 0 ? MCIMPORT_ERR_RATE_LIMITED
                              : MCIMPORT_ERR_UNAVAILABLE;
        }
        run_fail(&r, k, "%s", creason);
    }
    if (!r.failed && new_cp != INT64_MIN && new_cp != cp &&
        mailchimp_checkpoint_write(m->checkpoint, new_cp, err, sizeof err) !=
            LSC_OK) {
        run_fail(&r, MCIMPORT_ERR_FINAL, "%s", err);
    }
    char next[32];
    snprintf(next, sizeof next, "%.0f s", (double)m->interval_ms / 1000.0);
    if (r.failed) {
        atomic_fetch_add(&m->stats->runs_failed, 1);
        atomic_fetch_add(&m->stats->errors[r.kind], 1);
        log_msg(LSC_LOG_WARN, "mailchimp activity import failed (%s): %s; "
                "%zu events read, the checkpoint stays; next try in %s",
                mcimport_err_name(r.kind), r.reason, r.lines, next);
        return;
    }
    atomic_fetch_add(&m->stats->runs_ok, 1);
    atomic_store(&m->stats->last_success_ms, core_now_ms());
    if (new_cp != INT64_MIN) {
        atomic_store(&m->stats->checkpoint_ms, new_cp);
    }
    char t[40] = "none";
    if (new_cp != INT64_MIN) {
        mailchimp_format_time(new_cp, t, sizeof t);
    }
    log_msg(r.accepted > 0 ? LSC_LOG_INFO : LSC_LOG_DEBUG,
            "mailchimp activity import: %zu events (%zu accepted, %zu "
            "duplicates, %zu rejected), checkpoint %s", r.lines, r.accepted,
            r.duplicates, r.rejected, t);
}

static void *import_main(void *arg)
{
    struct mcimport *m = arg;
    for (;;) {
        if (stopping(m)) {
            break;
        }
        run_once(m);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(m->interval_ms / 1000);
        ts.tv_nsec += (long)(m->interval_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&m->mu);
        int rc = 0;
        while (!m->stop && rc == 0) {
            rc = pthread_cond_timedwait(&m->cv, &m->mu, &ts);
        }
        pthread_mutex_unlock(&m->mu);
    }
    return NULL;
}

static void mcimport_free(struct mcimport *m)
{
    free(m->exe);
    free(m->mapping);
    free(m->checkpoint);
    free(m->data_dir);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

enum lsc_status mcimport_start(struct core *c,
                               const struct mcimport_settings *s,
                               struct mcimport_stats *stats,
                               struct mcimport **out, char *err,
                               size_t errlen)
{
    *out = NULL;
    struct mcimport *m = calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->core = c;
    m->stats = stats;
    m->interval_ms = s->interval_ms;
    m->batch = s->batch > 0 ? s->batch : 500;
    /* readlink, not "/proc/self/exe" itself: under valgrind the latter
     * is the tool, the former the program. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(err, errlen, "mailchimp activity import: cannot find the "
                 "leadscored executable: %s", strerror(errno));
        mcimport_free(m);
        return LSC_ERR_IO;
    }
    exe[n] = '\0';
    m->exe = strdup(exe);
    m->mapping = strdup(s->mapping);
    m->checkpoint = strdup(s->checkpoint);
    m->data_dir = strdup(s->data_dir);
    if (m->exe == NULL || m->mapping == NULL || m->checkpoint == NULL ||
        m->data_dir == NULL) {
        snprintf(err, errlen, "out of memory");
        mcimport_free(m);
        return LSC_ERR_NOMEM;
    }
    if (pthread_create(&m->thread, NULL, import_main, m) != 0) {
        snprintf(err, errlen, "cannot start the import thread");
        mcimport_free(m);
        return LSC_ERR_INTERNAL;
    }
    *out = m;
    return LSC_OK;
}

void mcimport_stop(struct mcimport *m)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    if (m->child != 0) {
        kill(m->child, SIGKILL);
    }
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    mcimport_free(m);
}
