/* The plugin's only exported symbol: its static descriptor. */
#include <leadscore/plugin.h>

#include <lsc_config.h>

#include "plugin.h"

#define LSC_EXPORT __attribute__((visibility("default")))

static const struct lsc_plugin_desc desc = {
    .struct_size = sizeof desc,
    .abi_major = LSC_PLUGIN_ABI_MAJOR,
    .abi_minor = LSC_PLUGIN_ABI_MINOR,
    /* no shared mutable state between events of different contacts */
    .flags = LSC_PLUGIN_F_CONCURRENT,
    .name = "leadscore",
    .version = LSC_VERSION,
    .description = "lead scoring engine (model format leadscore.model/1)",
    .create = plugin_create,
    .destroy = plugin_destroy,
};

LSC_EXPORT const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                                          uint32_t minor);

/* Returns the descriptor whatever the host's version, so that the host can
 * name both versions when they differ (lsc_plugin_check). */
LSC_EXPORT const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                                          uint32_t minor)
{
    (void)major;
    (void)minor;
    return &desc;
}
