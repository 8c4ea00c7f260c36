/* leadscored logging; see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int max_level = LSC_LOG_INFO;

void log_set_level(enum lsc_log_level level)
{
    atomic_store(&max_level, (int)level);
}

void log_msg(enum lsc_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&max_level)) {
        return;
    }
    static const int prio[] = {3, 4, 6, 7}; /* err, warning, info, debug */
    char line[1024];
    int n = snprintf(line, sizeof line, "<%d>", prio[(int)level & 3]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    for (char *p = line; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    size_t len = strlen(line);
    line[len] = '\n';
    /* One write per line keeps lines whole across threads. */
    fwrite(line, 1, len + 1, stderr);
}
