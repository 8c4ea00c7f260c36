/*
 * Connector core: logging through the host's log service, redacted.
 * Every line is prefixed with the connector name ("hubspot: ...") and
 * passes through secrets_redact() before it reaches host->log.
 */
#ifndef LSC_CONNECTORS_CORE_CLOG_H
#define LSC_CONNECTORS_CORE_CLOG_H

#include <leadscore/plugin.h>

#include "secrets.h"

struct clog {
    const struct lsc_host_api *host;      /* borrowed; may be NULL */
    const struct secrets_redactor *redactor; /* borrowed; may be NULL */
    const char *prefix;                   /* borrowed, "hubspot" */
    enum lsc_log_level max_level;         /* lines above it are dropped */
};

#if defined(__GNUC__)
#define CLOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLOG_PRINTF(a, b)
#endif

/* Formats, redacts and sends one line.  l may be NULL (no-op). */
void clog_write(const struct clog *l, enum lsc_log_level level,
                const char *fmt, ...) CLOG_PRINTF(3, 4);

#define CLOG_ERR(l, ...) do { clog_write((l), LSC_LOG_ERROR, __VA_ARGS__); } while (0)
#define CLOG_WARN(l, ...) do { clog_write((l), LSC_LOG_WARN, __VA_ARGS__); } while (0)
#define CLOG_INFO(l, ...) do { clog_write((l), LSC_LOG_INFO, __VA_ARGS__); } while (0)
#define CLOG_DEBUG(l, ...) do { clog_write((l), LSC_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
