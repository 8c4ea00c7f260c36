/*
 * Connector core: where each value of a JSON text sits (line, column),
 * by JSON path, so validators can report "file:line:col: path: message"
 * (jansson reports positions of syntax errors only).  Prefixed conn_: the
 * plugin, linked with this library, has its own jsonpos_*.
 *
 * Paths: "" for the root, "auth.type", "actions[2].tier".  An object
 * member is located at its key's opening quote; an array element at its
 * first character.
 */
#ifndef LSC_CONNECTORS_CORE_JSONPOS_H
#define LSC_CONNECTORS_CORE_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

#include <leadscore/plugin.h>

struct jsonpos_entry {
    char *path; /* malloc()ed */
    int line;   /* 1-based */
    int column; /* 1-based, in bytes */
};

struct jsonpos {
    struct jsonpos_entry *v;
    size_t n;
    size_t cap;
};

/* Scans text (which jansson already accepted, or stops at the first
 * syntax error).  Fills caller-owned *out; release with
 * conn_jsonpos_finish().  LSC_ERR_NOMEM only. */
enum lsc_status conn_jsonpos_scan(const char *text, size_t len,
                             struct jsonpos *out);
void conn_jsonpos_finish(struct jsonpos *p); /* NULL ok */

/* Position of `path`, or of its longest existing prefix; false (and
 * 0:0) when nothing matches. */
bool conn_jsonpos_find(const struct jsonpos *p, const char *path, int *line,
                  int *column);

#endif
