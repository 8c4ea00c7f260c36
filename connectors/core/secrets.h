/*
 * Connector core: secrets at rest and in logs.
 *
 * Credentials files are written atomically: a temporary file in the same
 * directory created with mode 0600 (O_EXCL), written, fsync()ed, renamed
 * over the target, then the directory is fsync()ed.  A reader never sees
 * a half-written file, and the file is never readable by group or others.
 *
 * Redaction: a struct secrets_redactor holds the secrets in use (tokens,
 * client secrets, keys); secrets_redact() replaces each occurrence in a
 * line with "[REDACTED]".  Every log line of the connectors goes through
 * it (see clog.h).
 */
#ifndef LSC_CONNECTORS_CORE_SECRETS_H
#define LSC_CONNECTORS_CORE_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include <leadscore/plugin.h>

#define SECRETS_REDACTED "[REDACTED]"
#define SECRETS_MAX 16

/* Writes data atomically to path with mode 0600.  LSC_ERR_IO with a
 * reason (no secret) on failure; the target is then unchanged. */
enum lsc_status secrets_write_file(const char *path, const char *data,
                                   size_t len, char *err, size_t errlen);

/* Reads a whole file into *data (malloc()ed, NUL-terminated, caller
 * frees).  LSC_ERR_NOT_FOUND when absent; LSC_ERR_IO when the file is
 * readable by group or others (refused: "chmod 600 it"). */
enum lsc_status secrets_read_file(const char *path, char **data,
                                  size_t *len, char *err, size_t errlen);

/* A secret from the environment variable `name` (borrowed from environ,
 * may be NULL). */
const char *secrets_env(const char *name);

struct secrets_redactor;

struct secrets_redactor *secrets_redactor_create(void);
void secrets_redactor_destroy(struct secrets_redactor *r); /* NULL ok */
/* Registers a secret (copied).  Secrets shorter than 4 bytes are ignored
 * (they would redact ordinary text).  Thread-safe. */
void secrets_redactor_add(struct secrets_redactor *r, const char *secret);
/* Copies `in` into caller-owned `out`, each registered secret replaced by
 * SECRETS_REDACTED, and Bearer/Basic credentials after "Authorization:"
 * masked.  Truncates to outlen-1.  Thread-safe; r may be NULL. */
void secrets_redact(const struct secrets_redactor *r, const char *in,
                    char *out, size_t outlen);

#endif
