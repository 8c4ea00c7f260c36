/*
 * Test helper for fake_hubspot (see fake_proc.h).
 */
#include "fake_proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

bool fake_start(struct fake_proc *f, const char *exe,
                const char *const *extra)
{
    int in[2];
    int out[2];
    memset(f, 0, sizeof *f);
    if (pipe(in) != 0 || pipe(out) != 0) {
        return false;
    }
    const char *argv[32] = {exe};
    size_t n = 1;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 30; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        return false;
    }
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[1]);
        close(out[0]);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    f->pid = pid;
    f->stdin_fd = in[1];
    char buf[128];
    size_t got = 0;
    while (got + 1 < sizeof buf) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0) {
            break;
        }
        ssize_t r = read(out[0], buf + got, sizeof buf - 1 - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        buf[got] = '\0';
        if (strchr(buf, '\n') != NULL) {
            break;
        }
    }
    close(out[0]);
    buf[got] = '\0';
    if (sscanf(buf, "PORT %d", &f->port) != 1 || f->port <= 0) {
        fake_stop(f);
        return false;
    }
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", f->port);
    return true;
}

void fake_stop(struct fake_proc *f)
{
    if (f->stdin_fd > 0) {
        close(f->stdin_fd);
        f->stdin_fd = -1;
    }
    if (f->pid > 0) {
        int st;
        for (int i = 0; i < 100; i++) {
            if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
                f->pid = 0;
                return;
            }
            usleep(20000);
        }
        kill(f->pid, SIGKILL);
        waitpid(f->pid, &st, 0);
        f->pid = 0;
    }
}

size_t fake_buf_write(char *d, size_t s, size_t m, void *ud)
{
    struct fake_buf *b = ud;
    char *np = realloc(b->p, b->n + s * m + 1);
    if (np == NULL) {
        return 0;
    }
    b->p = np;
    memcpy(b->p + b->n, d, s * m);
    b->n += s * m;
    b->p[b->n] = '\0';
    return s * m;
}

static long call(struct fake_proc *f, const char *method, const char *what,
                 const char *body, struct fake_buf *out)
{
    char url[256];
    snprintf(url, sizeof url, "%s/_fake/%s", f->base, what);
    CURL *h = curl_easy_init();
    long st = 0;
    if (h == NULL) {
        return 0;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "{}");
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fake_buf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    }
    curl_easy_cleanup(h);
    return st;
}

long fake_control(struct fake_proc *f, const char *what, const char *body)
{
    struct fake_buf b = {0};
    long st = call(f, "POST", what, body, &b);
    free(b.p);
    return st;
}

json_t *fake_get(struct fake_proc *f, const char *what)
{
    struct fake_buf b = {0};
    long st = call(f, "GET", what, NULL, &b);
    json_t *j = (st == 200 && b.p) ? json_loads(b.p, 0, NULL) : NULL;
    free(b.p);
    return j;
}

json_t *fake_requests(struct fake_proc *f, const char *needle)
{
    json_t *all = fake_get(f, "requests");
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(all, "requests"), i, r) {
        const char *p = json_string_value(json_object_get(r, "path"));
        if (needle == NULL || (p != NULL && strstr(p, needle) != NULL)) {
            json_array_append(out, r);
        }
    }
    json_decref(all);
    return out;
}
