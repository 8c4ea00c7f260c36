/* JSON path -> line:column map, see jsonpos.h. */
#include "jsonpos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 1024
#define DEPTH_MAX 256

struct entry {
    char *path;
    int line, col;   /* the value */
    int kline, kcol; /* its key, 0 when not an object member */
};

struct jsonpos {
    struct entry *e;
    size_t n, cap;
};

struct scan {
    const char *s;
    size_t n, i;
    int line, col;
    struct jsonpos *jp;
    char path[PATH_MAX_LEN];
    bool bad;
};

/* Columns count code points, like jansson's error columns. */
static void adv(struct scan *sc)
{
    unsigned char c = (unsigned char)sc->s[sc->i++];
    if (c == '\n') {
        sc->line++;
        sc->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        sc->col++;
    }
}

static void skip_ws(struct scan *sc)
{
    while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
                             sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r')) {
        adv(sc);
    }
}

static bool add(struct scan *sc, int line, int col, int kline, int kcol)
{
    struct jsonpos *jp = sc->jp;
    if (jp->n == jp->cap) {
        size_t cap = jp->cap ? jp->cap * 2 : 64;
        struct entry *e = realloc(jp->e, cap * sizeof *e);
        if (e == NULL) {
            return false;
        }
        jp->e = e;
        jp->cap = cap;
    }
    char *p = strdup(sc->path);
    if (p == NULL) {
        return false;
    }
    jp->e[jp->n++] = (struct entry){p, line, col, kline, kcol};
    return true;
}

/* Reads a string token, appending its (lightly decoded) text to the path
 * when `out` is non-NULL. */
static bool string_tok(struct scan *sc, char *out, size_t outlen)
{
    size_t o = 0;
    adv(sc); /* opening quote */
    while (sc->i < sc->n && sc->s[sc->i] != '"') {
        char c = sc->s[sc->i];
        if (c == '\\' && sc->i + 1 < sc->n) {
            adv(sc);
            c = sc->s[sc->i];
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            default: break; /* \" \\ \/ literal; \uXXXX kept raw */
            }
        }
        if (out != NULL && o + 1 < outlen) {
            out[o++] = c;
        }
        adv(sc);
    }
    if (out != NULL && outlen > 0) {
        out[o] = '\0';
    }
    if (sc->i >= sc->n) {
        return false;
    }
    adv(sc); /* closing quote */
    return true;
}

static bool value(struct scan *sc, int kline, int kcol, int depth);

static bool object(struct scan *sc, int depth)
{
    size_t base = strlen(sc->path);
    adv(sc); /* { */
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == '}') {
        adv(sc);
        return true;
    }
    for (;;) {
        skip_ws(sc);
        if (sc->i >= sc->n || sc->s[sc->i] != '"') {
            return false;
        }
        int kl = sc->line, kc = sc->col;
        size_t o = base;
        if (base > 0 && o + 1 < sizeof sc->path) {
            sc->path[o++] = '.';
        }
        if (!string_tok(sc, sc->path + o, sizeof sc->path - o)) {
            return false;
        }
        skip_ws(sc);
        if (sc->i >= sc->n || sc->s[sc->i] != ':') {
            return false;
        }
        adv(sc);
        if (!value(sc, kl, kc, depth + 1)) {
            return false;
        }
        sc->path[base] = '\0';
        skip_ws(sc);
        if (sc->i >= sc->n) {
            return false;
        }
        if (sc->s[sc->i] == ',') {
            adv(sc);
            continue;
        }
        if (sc->s[sc->i] == '}') {
            adv(sc);
            return true;
        }
        return false;
    }
}

static bool array(struct scan *sc, int depth)
{
    size_t base = strlen(sc->path);
    adv(sc); /* [ */
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == ']') {
        adv(sc);
        return true;
    }
    for (size_t idx = 0;; idx++) {
        snprintf(sc->path + base, sizeof sc->path - base, "[%zu]", idx);
        if (!value(sc, 0, 0, depth + 1)) {
            return false;
        }
        sc->path[base] = '\0';
        skip_ws(sc);
        if (sc->i >= sc->n) {
            return false;
        }
        if (sc->s[sc->i] == ',') {
            adv(sc);
            continue;
        }
        if (sc->s[sc->i] == ']') {
            adv(sc);
            return true;
        }
        return false;
    }
}

static bool value(struct scan *sc, int kline, int kcol, int depth)
{
    if (depth > DEPTH_MAX) {
        return false;
    }
    skip_ws(sc);
    if (sc->i >= sc->n) {
        return false;
    }
    if (!add(sc, sc->line, sc->col, kline, kcol)) {
        sc->bad = true;
        return false;
    }
    switch (sc->s[sc->i]) {
    case '{':
        return object(sc, depth);
    case '[':
        return array(sc, depth);
    case '"':
        return string_tok(sc, NULL, 0);
    default:
        /* number, true, false, null: up to a delimiter */
        while (sc->i < sc->n && strchr(",]} \t\r\n", sc->s[sc->i]) == NULL) {
            adv(sc);
        }
        return true;
    }
}

struct jsonpos *jsonpos_create(const char *text, size_t len)
{
    struct jsonpos *jp = calloc(1, sizeof *jp);
    struct scan *sc = calloc(1, sizeof *sc);
    if (jp == NULL || sc == NULL) {
        free(sc);
        jsonpos_destroy(jp);
        return NULL;
    }
    sc->s = text;
    sc->n = len;
    sc->line = 1;
    sc->col = 1;
    sc->jp = jp;
    bool ok = value(sc, 0, 0, 0);
    free(sc);
    if (!ok) {
        jsonpos_destroy(jp);
        return NULL;
    }
    return jp;
}

void jsonpos_destroy(struct jsonpos *jp)
{
    if (jp == NULL) {
        return;
    }
    for (size_t i = 0; i < jp->n; i++) {
        free(jp->e[i].path);
    }
    free(jp->e);
    free(jp);
}

bool jsonpos_find(const struct jsonpos *jp, const char *path, bool key,
                  int *line, int *col)
{
    *line = 0;
    *col = 0;
    if (jp == NULL) {
        return false;
    }
    for (size_t i = 0; i < jp->n; i++) {
        if (strcmp(jp->e[i].path, path) == 0) {
            bool k = key && jp->e[i].kline > 0;
            *line = k ? jp->e[i].kline : jp->e[i].line;
            *col = k ? jp->e[i].kcol : jp->e[i].col;
            return true;
        }
    }
    return false;
}

bool jsonpos_find_nearest(const struct jsonpos *jp, const char *path,
                          bool key, int *line, int *col)
{
    char p[PATH_MAX_LEN];
    snprintf(p, sizeof p, "%s", path);
    for (;;) {
        if (jsonpos_find(jp, p, key, line, col)) {
            return true;
        }
        /* Drop the last component: ".name" or "[i]". */
        char *dot = strrchr(p, '.');
        char *br = strrchr(p, '[');
        char *cut = dot > br ? dot : br;
        if (cut == NULL) {
            return p[0] != '\0' && jsonpos_find(jp, "", key, line, col);
        }
        *cut = '\0';
    }
}

int jsonpos_error_column(const char *text, size_t len, int column,
                         int position)
{
    if (column > 0) {
        return column;
    }
    size_t end = position > 0 ? (size_t)position : 0;
    if (end > len) {
        end = len;
    }
    size_t start = end;
    while (start > 0 && text[start - 1] != '\n') {
        start--;
    }
    int col = 1;
    for (size_t i = start; i < end; i++) {
        if (((unsigned char)text[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    return col;
}
