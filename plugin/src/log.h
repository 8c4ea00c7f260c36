/* Plugin logging through host->log (never stdout/stderr: the plugin must
 * not write into its host's streams).  The macros are named PLOG_* because
 * LSC_LOG_WARN etc. are already the public enum constants. */
#ifndef LSC_PLUGIN_LOG_H
#define LSC_PLUGIN_LOG_H

#include <leadscore/plugin.h>

/* Formats one line, prefixes "leadscore: " and passes it to host->log.
 * `host` is borrowed; a NULL host or a host without log drops the line. */
void log_emit(const struct lsc_host_api *host, enum lsc_log_level level,
              const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define PLOG_ERR(h, ...) log_emit((h), LSC_LOG_ERROR, __VA_ARGS__)
#define PLOG_WARN(h, ...) log_emit((h), LSC_LOG_WARN, __VA_ARGS__)
#define PLOG_INFO(h, ...) log_emit((h), LSC_LOG_INFO, __VA_ARGS__)
#define PLOG_DEBUG(h, ...) log_emit((h), LSC_LOG_DEBUG, __VA_ARGS__)

/* snprintf into a caller-owned error buffer; accepts NULL/0. */
void log_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
