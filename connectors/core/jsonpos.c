/*
 * Connector core: JSON value positions by path (see jsonpos.h).
 */
#include "jsonpos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scan {
    const char *s;
    size_t len;
    size_t i;
    int line;
    int col;
    struct jsonpos *out;
    bool oom;
    int depth;
};

static void adv(struct scan *sc)
{
    if (sc->i < sc->len) {
        if (sc->s[sc->i] == '\n') {
            sc->line++;
            sc->col = 1;
        } else {
            sc->col++;
        }
        sc->i++;
    }
}

static void ws(struct scan *sc)
{
    while (sc->i < sc->len &&
           (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
            sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r')) {
        adv(sc);
    }
}

static void record(struct scan *sc, const char *path, int line, int col)
{
    struct jsonpos *p = sc->out;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        struct jsonpos_entry *nv = realloc(p->v, cap * sizeof *nv);
        if (nv == NULL) {
            sc->oom = true;
            return;
        }
        p->v = nv;
        p->cap = cap;
    }
    char *d = strdup(path);
    if (d == NULL) {
        sc->oom = true;
        return;
    }
    p->v[p->n++] = (struct jsonpos_entry){d, line, col};
}

/* Reads a string at sc->i (on the quote) into buf (decoded loosely:
 * escapes kept as the escaped character). */
static bool string(struct scan *sc, char *buf, size_t buflen)
{
    size_t o = 0;
    if (sc->i >= sc->len || sc->s[sc->i] != '"') {
        return false;
    }
    adv(sc);
    while (sc->i < sc->len && sc->s[sc->i] != '"') {
        char c = sc->s[sc->i];
        if (c == '\\') {
            adv(sc);
            if (sc->i >= sc->len) {
                return false;
            }
            c = sc->s[sc->i];
        }
        if (buf != NULL && o + 1 < buflen) {
            buf[o++] = c;
        }
        adv(sc);
    }
    if (buf != NULL && buflen > 0) {
        buf[o] = '\0';
    }
    if (sc->i >= sc->len) {
        return false;
    }
    adv(sc);
    return true;
}

static bool value(struct scan *sc, const char *path);

static bool object(struct scan *sc, const char *path)
{
    adv(sc); /* { */
    ws(sc);
    if (sc->i < sc->len && sc->s[sc->i] == '}') {
        adv(sc);
        return true;
    }
    for (;;) {
        ws(sc);
        int l = sc->line;
        int c = sc->col;
        char key[256];
        if (!string(sc, key, sizeof key)) {
            return false;
        }
        size_t pl = strlen(path) + strlen(key) + 2;
        char *np = malloc(pl);
        if (np == NULL) {
            sc->oom = true;
            return false;
        }
        snprintf(np, pl, "%s%s%s", path, path[0] ? "." : "", key);
        record(sc, np, l, c);
        ws(sc);
        if (sc->i >= sc->len || sc->s[sc->i] != ':') {
            free(np);
            return false;
        }
        adv(sc);
        ws(sc);
        bool ok = value(sc, np);
        free(np);
        if (!ok) {
            return false;
        }
        ws(sc);
        if (sc->i < sc->len && sc->s[sc->i] == ',') {
            adv(sc);
            continue;
        }
        if (sc->i < sc->len && sc->s[sc->i] == '}') {
            adv(sc);
            return true;
        }
        return false;
    }
}

static bool array(struct scan *sc, const char *path)
{
    adv(sc); /* [ */
    ws(sc);
    if (sc->i < sc->len && sc->s[sc->i] == ']') {
        adv(sc);
        return true;
    }
    for (size_t k = 0;; k++) {
        ws(sc);
        size_t pl = strlen(path) + 24;
        char *np = malloc(pl);
        if (np == NULL) {
            sc->oom = true;
            return false;
        }
        snprintf(np, pl, "%s[%zu]", path, k);
        record(sc, np, sc->line, sc->col);
        bool ok = value(sc, np);
        free(np);
        if (!ok) {
            return false;
        }
        ws(sc);
        if (sc->i < sc->len && sc->s[sc->i] == ',') {
            adv(sc);
            continue;
        }
        if (sc->i < sc->len && sc->s[sc->i] == ']') {
            adv(sc);
            return true;
        }
        return false;
    }
}

static bool value(struct scan *sc, const char *path)
{
    if (sc->oom || sc->i >= sc->len || ++sc->depth > 64) {
        return false;
    }
    bool ok;
    char c = sc->s[sc->i];
    if (c == '{') {
        ok = object(sc, path);
    } else if (c == '[') {
        ok = array(sc, path);
    } else if (c == '"') {
        ok = string(sc, NULL, 0);
    } else {
        while (sc->i < sc->len && strchr(",]} \t\r\n", sc->s[sc->i]) == NULL) {
            adv(sc);
        }
        ok = true;
    }
    sc->depth--;
    return ok;
}

enum lsc_status conn_jsonpos_scan(const char *text, size_t len,
                             struct jsonpos *out)
{
    memset(out, 0, sizeof *out);
    struct scan sc = {.s = text, .len = len, .line = 1, .col = 1, .out = out};
    ws(&sc);
    record(&sc, "", sc.line, sc.col);
    (void)value(&sc, "");
    return sc.oom ? LSC_ERR_NOMEM : LSC_OK;
}

void conn_jsonpos_finish(struct jsonpos *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].path);
    }
    free(p->v);
    memset(p, 0, sizeof *p);
}

bool conn_jsonpos_find(const struct jsonpos *p, const char *path, int *line,
                  int *column)
{
    *line = 0;
    *column = 0;
    size_t best = 0;
    bool found = false;
    for (size_t i = 0; i < p->n; i++) {
        const char *e = p->v[i].path;
        size_t el = strlen(e);
        bool prefix = strncmp(path, e, el) == 0 &&
                      (path[el] == '\0' || path[el] == '.' ||
                       path[el] == '[' || el == 0);
        if (prefix && (!found || el > best)) {
            best = el;
            found = true;
            *line = p->v[i].line;
            *column = p->v[i].column;
        }
    }
    return found;
}
