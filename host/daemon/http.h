/*
 * leadscored HTTP endpoints (libmicrohttpd): POST /v1/events,
 * POST /webhooks/hubspot, GET|POST /webhooks/mailchimp/<secret>,
 * GET /v1/contacts[/<id>], POST /v1/admin/rescore, GET /healthz,
 * GET /metrics.  See docs/daemon.md.
 */
#ifndef LSC_DAEMON_HTTP_H
#define LSC_DAEMON_HTTP_H

#include <stdint.h>

#include <leadscore/plugin.h>

#include "core.h"

struct http;

/* Listen on host:port (port 0: any free port) with `threads` polling
 * threads.  `core` is borrowed and must outlive the server. */
enum lsc_status http_start(struct core *core, const char *host,
                           uint16_t port, unsigned threads,
                           struct http **out, char *err, size_t errlen);

/* The bound port. */
uint16_t http_port(const struct http *h);

/* Stop accepting new connections (open ones are still served). */
void http_quiesce(struct http *h);

/* Open connections. */
unsigned http_connections(const struct http *h);

/* Close everything.  Accepts NULL. */
void http_stop(struct http *h);

/* Ask the main loop to rescore (implemented in main.c). */
void http_request_rescore(void);

#endif
