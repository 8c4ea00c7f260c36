/* Edit-distance suggestions; see suggest.h. */
#include "suggest.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAXLEN 40

/* Levenshtein distance; words longer than MAXLEN are never typos here. */
static size_t lev(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXLEN || lb > MAXLEN) {
        return SIZE_MAX;
    }
    size_t d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= la; i++) {
        d[i][0] = i;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t x = d[i - 1][j] + 1, y = d[i][j - 1] + 1;
            d[i][j] = c < x ? (c < y ? c : y) : (x < y ? x : y);
        }
    }
    return d[la][lb];
}

const char *lsc_suggest(const char *word, const char *const *cands,
                        size_t n)
{
    const char *best = NULL;
    size_t bd = SIZE_MAX;
    for (size_t i = 0; i < n && cands[i] != NULL; i++) {
        size_t d = lev(word, cands[i]);
        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    size_t len = strlen(word);
    size_t lim = len <= 3 ? 1 : (len <= 6 ? 2 : 3);
    return bd <= lim ? best : NULL;
}

void lsc_hint(char *buf, size_t bufsz, const char *word,
              const char *const *cands, size_t n)
{
    const char *s = lsc_suggest(word, cands, n);
    if (s != NULL) {
        snprintf(buf, bufsz, "; hint: did you mean '%s'?", s);
    } else if (bufsz > 0) {
        buf[0] = '\0';
    }
}
