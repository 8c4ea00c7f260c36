/* Placeholder entry point; replaced by the engine. */
#include <leadscore/plugin.h>

#define LSC_EXPORT __attribute__((visibility("default")))

static enum lsc_status stub_create(const struct lsc_host_api *host,
                                   void **plugin, char *err, size_t errlen)
{
    (void)host;
    *plugin = NULL;
    snprintf(err, errlen, "not implemented yet");
    return LSC_ERR_UNSUPPORTED;
}

static void stub_destroy(void *plugin) { (void)plugin; }

static const struct lsc_plugin_desc desc = {
    .struct_size = sizeof desc,
    .abi_major = LSC_PLUGIN_ABI_MAJOR,
    .abi_minor = LSC_PLUGIN_ABI_MINOR,
    .name = "leadscore",
    .version = "0.1.0",
    .description = "lead scoring engine",
    .create = stub_create,
    .destroy = stub_destroy,
};

LSC_EXPORT const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                                          uint32_t minor);
LSC_EXPORT const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                                          uint32_t minor)
{
    (void)major;
    (void)minor;
    return &desc;
}
