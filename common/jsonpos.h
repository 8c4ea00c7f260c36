/* Positions of JSON values: jansson keeps no line:column for values, so
 * this small tokenizer maps every JSON path ("rules[3].when[0].op") of an
 * already valid document to where its value (and its key) starts.  Shared
 * by the model loader and the connector mapping validators; built only
 * when a file has problems to report.  Columns count code points, like
 * jansson's error columns. */
#ifndef LSC_JSONPOS_H
#define LSC_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

struct jsonpos;

/* Scans `text` (borrowed, len bytes, need not be NUL-terminated).  Returns
 * a new map owned by the caller (free with jsonpos_destroy), or NULL when
 * out of memory or when the text is not JSON. */
struct jsonpos *jsonpos_create(const char *text, size_t len);

/* Accepts NULL. */
void jsonpos_destroy(struct jsonpos *jp);

/* 1-based line and column of the value at `path` ("" is the root), or of
 * its key when `key` is true and the value is an object member.  Returns
 * false (and 0:0) when the path is unknown. */
bool jsonpos_find(const struct jsonpos *jp, const char *path, bool key,
                  int *line, int *col);

/* As jsonpos_find(), but a path that is not in the document (a missing
 * member) falls back to its nearest existing parent ("auth.type" to
 * "auth", then to the root).  False only when nothing matched. */
bool jsonpos_find_nearest(const struct jsonpos *jp, const char *path,
                          bool key, int *line, int *col);

/* A 1-based column for a jansson parse error: jansson's own `column`
 * when it is positive, else (0 at end of input or right after a newline)
 * one more than the code points between the start of the line holding
 * byte `position` and that byte. */
int jsonpos_error_column(const char *text, size_t len, int column,
                         int position);

#endif
