/* The plugin instance: configuration, handler glue to the host API. */
#ifndef LSC_PLUGIN_INSTANCE_H
#define LSC_PLUGIN_INSTANCE_H

#include <leadscore/plugin.h>

/* desc->create: see include/leadscore/plugin.h.  On success *out is a new
 * instance owned by the host until plugin_destroy. */
enum lsc_status plugin_create(const struct lsc_host_api *host, void **out,
                              char *err, size_t errlen);

/* desc->destroy.  Accepts NULL. */
void plugin_destroy(void *plugin);

#endif
