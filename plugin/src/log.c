/* Logging helpers: see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void log_emit(const struct lsc_host_api *host, enum lsc_log_level level,
              const char *fmt, ...)
{
    if (host == NULL || host->log == NULL) {
        return;
    }
    char line[1024];
    int off = snprintf(line, sizeof line, "leadscore: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + off, sizeof line - (size_t)off, fmt, ap);
    va_end(ap);
    host->log(host->host, level, line);
}

void log_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
