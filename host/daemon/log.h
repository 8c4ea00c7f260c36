/*
 * leadscored logging: one line per message on stderr, prefixed with a
 * syslog priority "<N>" that journald turns into the entry's priority
 * (SyslogLevelPrefix=yes, the default).  Thread-safe.  Never pass secrets.
 */
#ifndef LSC_DAEMON_LOG_H
#define LSC_DAEMON_LOG_H

#include <leadscore/plugin.h>

/* Messages above `level` are dropped (default LSC_LOG_INFO). */
void log_set_level(enum lsc_log_level level);

/* printf-style; the text must be one line (newlines become spaces). */
void log_msg(enum lsc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_ERR(...) log_msg(LSC_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) log_msg(LSC_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) log_msg(LSC_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) log_msg(LSC_LOG_DEBUG, __VA_ARGS__)

#endif
