/*
 * Connector core: credentials files and redaction (see secrets.h).
 */
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

enum lsc_status secrets_write_file(const char *path, const char *data,
                                   size_t len, char *err, size_t errlen)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 32);
    char *dircopy = strdup(path);
    enum lsc_status st = LSC_OK;
    int fd = -1;
    if (tmp == NULL || dircopy == NULL) {
        snprintf(err, errlen, "out of memory");
        st = LSC_ERR_NOMEM;
        goto out;
    }
    unsigned char rnd[6] = {0};
    (void)RAND_bytes(rnd, sizeof rnd);
    snprintf(tmp, pl + 32, "%s.tmp-%02x%02x%02x%02x%02x%02x", path, rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        st = LSC_ERR_IO;
        goto out;
    }
    (void)fchmod(fd, 0600); /* in case of an odd umask */
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            st = LSC_ERR_IO;
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", tmp, strerror(errno));
        st = LSC_ERR_IO;
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename to %s: %s", path,
                 strerror(errno));
        st = LSC_ERR_IO;
        goto out;
    }
    int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    if (st != LSC_OK && tmp != NULL) {
        (void)unlink(tmp);
    }
    free(tmp);
    free(dircopy);
    return st;
}

enum lsc_status secrets_read_file(const char *path, char **data,
                                  size_t *len, char *err, size_t errlen)
{
    *data = NULL;
    if (len != NULL) {
        *len = 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            snprintf(err, errlen, "%s does not exist", path);
            return LSC_ERR_NOT_FOUND;
        }
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return LSC_ERR_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return LSC_ERR_IO;
    }
    if ((sb.st_mode & 077) != 0) {
        snprintf(err, errlen,
                 "%s is readable by group or others; hint: chmod 600 it",
                 path);
        close(fd);
        return LSC_ERR_IO;
    }
    if (sb.st_size > 1024 * 1024) {
        snprintf(err, errlen, "%s is too large", path);
        close(fd);
        return LSC_ERR_IO;
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return LSC_ERR_NOMEM;
    }
    size_t off = 0;
    while (off < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + off, (size_t)sb.st_size - off);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        off += (size_t)r;
    }
    close(fd);
    buf[off] = '\0';
    *data = buf;
    if (len != NULL) {
        *len = off;
    }
    return LSC_OK;
}

const char *secrets_env(const char *name)
{
    if (name == NULL || name[0] == '\0') {
        return NULL;
    }
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

struct secrets_redactor {
    pthread_mutex_t lock;
    char *secrets[SECRETS_MAX];
    size_t n;
    size_t next; /* ring replacement when full */
};

struct secrets_redactor *secrets_redactor_create(void)
{
    struct secrets_redactor *r = calloc(1, sizeof *r);
    if (r != NULL) {
        pthread_mutex_init(&r->lock, NULL);
    }
    return r;
}

void secrets_redactor_destroy(struct secrets_redactor *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        explicit_bzero(r->secrets[i], strlen(r->secrets[i]));
        free(r->secrets[i]);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void secrets_redactor_add(struct secrets_redactor *r, const char *secret)
{
    if (r == NULL || secret == NULL || strlen(secret) < 4) {
        return;
    }
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->secrets[i], secret) == 0) {
            pthread_mutex_unlock(&r->lock);
            return;
        }
    }
    char *c = strdup(secret);
    if (c != NULL) {
        if (r->n < SECRETS_MAX) {
            r->secrets[r->n++] = c;
        } else {
            explicit_bzero(r->secrets[r->next], strlen(r->secrets[r->next]));
            free(r->secrets[r->next]);
            r->secrets[r->next] = c;
            r->next = (r->next + 1) % SECRETS_MAX;
        }
    }
    pthread_mutex_unlock(&r->lock);
}

/* Replaces every occurrence of needle in buf (in place, capacity cap). */
static void replace_all(char *buf, size_t cap, const char *needle)
{
    size_t nl = strlen(needle);
    size_t rl = strlen(SECRETS_REDACTED);
    char *p = buf;
    while ((p = strstr(p, needle)) != NULL) {
        size_t tail = strlen(p + nl);
        size_t pos = (size_t)(p - buf);
        if (pos + rl + tail + 1 > cap) {
            tail = cap > pos + rl + 1 ? cap - pos - rl - 1 : 0;
        }
        if (pos + rl + 1 > cap) {
            *p = '\0';
            return;
        }
        memmove(p + rl, p + nl, tail);
        memcpy(p, SECRETS_REDACTED, rl);
        p[rl + tail] = '\0';
        p += rl;
    }
}

/* Replaces the credential that follows each scheme word. */
static void mask_schemes(char *buf, size_t cap)
{
    static const char *const schemes[] = {"Bearer ", "Basic ", "bearer ",
                                          "access_token=", "refresh_token=",
                                          "client_secret=", "code="};
    size_t rl = strlen(SECRETS_REDACTED);
    for (size_t s = 0; s < sizeof schemes / sizeof schemes[0]; s++) {
        char *p = buf;
        size_t sl = strlen(schemes[s]);
        while ((p = strstr(p, schemes[s])) != NULL) {
            p += sl;
            size_t tl = strcspn(p, " \t\"',&");
            if (tl == 0 || strncmp(p, SECRETS_REDACTED, rl) == 0) {
                continue;
            }
            size_t tail = strlen(p + tl);
            size_t pos = (size_t)(p - buf);
            if (pos + rl + tail + 1 > cap) {
                *p = '\0';
                break;
            }
            memmove(p + rl, p + tl, tail + 1);
            memcpy(p, SECRETS_REDACTED, rl);
            p += rl;
        }
    }
}

void secrets_redact(const struct secrets_redactor *r, const char *in,
                    char *out, size_t outlen)
{
    if (outlen == 0) {
        return;
    }
    in = in ? in : "";
    /* Redact a full copy first, then truncate: a secret cut by the
     * truncation must not leak its first half. */
    size_t cap = strlen(in) * 3 + 64;
    char *work = malloc(cap);
    if (work == NULL) {
        snprintf(out, outlen, "%s", "(log line dropped: out of memory)");
        return;
    }
    snprintf(work, cap, "%s", in);
    if (r != NULL) {
        struct secrets_redactor *m = (struct secrets_redactor *)r;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < r->n; i++) {
            replace_all(work, cap, r->secrets[i]);
        }
        pthread_mutex_unlock(&m->lock);
    }
    mask_schemes(work, cap);
    snprintf(out, outlen, "%s", work);
    explicit_bzero(work, cap);
    free(work);
}
