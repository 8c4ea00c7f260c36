/* "Did you mean ...?" for integrators' typos in models and mappings. */
#ifndef LSC_COMMON_SUGGEST_H
#define LSC_COMMON_SUGGEST_H

#include <stddef.h>

/* The candidate closest to `word` by edit distance, if it is close
 * enough to be a typo of it (1 edit for words of up to 3 characters, 2
 * up to 6, else 3); NULL otherwise.  `n` is the number of candidates, or
 * SIZE_MAX for a NULL-terminated list.  Returns one of `cands` (not a
 * copy). */
const char *lsc_suggest(const char *word, const char *const *cands,
                        size_t n);

/* Writes "; hint: did you mean 'X'?" to buf, or "" when lsc_suggest()
 * finds nothing. */
void lsc_hint(char *buf, size_t bufsz, const char *word,
              const char *const *cands, size_t n);

#endif
