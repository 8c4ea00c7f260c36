/*
 * Test helper: run fake_mailchimp as a child process on a free port.
 */
#include "fake_proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

extern char **environ;

bool fake_start(const char *exe, struct fake_proc *f, const char *const *args)
{
    memset(f, 0, sizeof *f);
    f->pid = -1;
    f->in_fd = -1;
    int in[2], out[2];
    if (exe == NULL || pipe(in) != 0) {
        return false;
    }
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return false;
    }
    const char *argv[32] = {exe};
    int n = 1;
    for (int i = 0; args != NULL && args[i] != NULL && n < 31; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    int rc = posix_spawn(&f->pid, exe, &fa, NULL, (char *const *)argv,
                         environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        f->pid = -1;
        return false;
    }
    f->in_fd = in[1];
    char buf[128];
    size_t len = 0;
    struct pollfd p = {out[0], POLLIN, 0};
    while (len + 1 < sizeof buf && memchr(buf, '\n', len) == NULL) {
        if (poll(&p, 1, 10000) <= 0) {
            break;
        }
        ssize_t r = read(out[0], buf + len, sizeof buf - 1 - len);
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(out[0]);
    if (sscanf(buf, "PORT %u", &f->port) != 1 || f->port == 0) {
        fake_stop(f);
        return false;
    }
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", f->port);
    snprintf(f->api_base, sizeof f->api_base, "%s/3.0", f->base);
    return true;
}

void fake_stop(struct fake_proc *f)
{
    if (f->in_fd >= 0) {
        close(f->in_fd);
        f->in_fd = -1;
    }
    if (f->pid > 0) {
        int st;
        for (int i = 0; i < 500; i++) {
            if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
                f->pid = -1;
                return;
            }
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
        kill(f->pid, SIGKILL);
        waitpid(f->pid, &st, 0);
        f->pid = -1;
    }
}

struct buf {
    char *p;
    size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t k = size * nmemb;
    char *np = realloc(b->p, b->n + k + 1);
    if (np == NULL) {
        return 0;
    }
    b->p = np;
    memcpy(b->p + b->n, ptr, k);
    b->n += k;
    b->p[b->n] = '\0';
    return k;
}

struct hdrs {
    char *rid;
    size_t ridlen;
};

/* Keeps X-Request-Id. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct hdrs *h = ud;
    size_t k = size * nmemb;
    if (h->rid != NULL && k > 13 && strncasecmp(ptr, "X-Request-Id:", 13) == 0) {
        size_t i = 13;
        while (i < k && ptr[i] == ' ') {
            i++;
        }
        size_t e = k;
        while (e > i && (ptr[e - 1] == '\r' || ptr[e - 1] == '\n')) {
            e--;
        }
        snprintf(h->rid, h->ridlen, "%.*s", (int)(e - i), ptr + i);
    }
    return k;
}

/* One request to `url` for fake_ctl() and fake_api(): `userpwd` NULL
 * sends no credentials and no Content-Type; content_type / request_id
 * (may be NULL) get those headers of the answer. */
static long request(const char *url, const char *method, const char *body,
                    const char *userpwd, json_t **out, char *content_type,
                    size_t ctlen, char *request_id, size_t ridlen)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (content_type != NULL && ctlen > 0) {
        content_type[0] = '\0';
    }
    if (request_id != NULL && ridlen > 0) {
        request_id[0] = '\0';
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        return 0;
    }
    struct buf b = {0};
    struct hdrs hd = {request_id, ridlen};
    struct curl_slist *hl = NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (userpwd != NULL) {
        hl = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    }
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hd);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        char *ct = NULL;
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        if (ct != NULL && content_type != NULL && ctlen > 0) {
            snprintf(content_type, ctlen, "%s", ct);
        }
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    if (out != NULL && b.p != NULL) {
        *out = json_loads(b.p, 0, NULL);
    }
    free(b.p);
    return status;
}

long fake_ctl(const struct fake_proc *f, const char *method, const char *path,
              const char *body, json_t **out)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    return request(url, method, body, NULL, out, NULL, 0, NULL, 0);
}

long fake_api(const struct fake_proc *f, const char *method,
              const char *path, const char *body, const char *key,
              json_t **out, char *content_type, size_t ctlen,
              char *request_id, size_t ridlen)
{
    char url[2048], up[256];
    snprintf(url, sizeof url, "%s%s", f->api_base, path);
    snprintf(up, sizeof up, "leadscore:%s", key != NULL ? key : FAKE_API_KEY);
    return request(url, method, body, up, out, content_type, ctlen,
                   request_id, ridlen);
}

json_t *fake_requests(const struct fake_proc *f)
{
    json_t *j = NULL;
    fake_ctl(f, "GET", "/_fake/requests", NULL, &j);
    json_t *r = json_incref(json_object_get(j, "requests"));
    json_decref(j);
    return r;
}

json_t *fake_member(const struct fake_proc *f, const char *list,
                    const char *email)
{
    char path[512];
    snprintf(path, sizeof path, "/_fake/member?list=%s&email=%s", list,
             email);
    json_t *j = NULL;
    if (fake_ctl(f, "GET", path, NULL, &j) != 200) {
        json_decref(j);
        return NULL;
    }
    return j;
}

bool fake_member_has_tag(json_t *member, const char *tag)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(member, "tags"), i, t) {
        if (strcmp(json_string_value(json_object_get(t, "name")), tag) == 0) {
            return true;
        }
    }
    return false;
}
