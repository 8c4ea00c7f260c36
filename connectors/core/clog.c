/*
 * Connector core: redacted logging through the host (see clog.h).
 */
#include "clog.h"

#include <stdarg.h>
#include <stdio.h>

void clog_write(const struct clog *l, enum lsc_log_level level,
                const char *fmt, ...)
{
    if (l == NULL || l->host == NULL || l->host->log == NULL ||
        level > l->max_level) {
        return;
    }
    char raw[1024];
    char line[1100];
    int n = snprintf(raw, sizeof raw, "%s: ", l->prefix ? l->prefix : "");
    if (n < 0 || (size_t)n >= sizeof raw) {
        n = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw + n, sizeof raw - (size_t)n, fmt, ap);
    va_end(ap);
    for (char *p = raw; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    secrets_redact(l->redactor, raw, line, sizeof line);
    l->host->log(l->host->host, level, line);
}
