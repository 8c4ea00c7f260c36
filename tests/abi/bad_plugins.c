/*
 * Broken plugins for the loader tests, one per build (-DBROKEN_...):
 * ABI2: the descriptor says ABI 2.0; FAILS: create() fails with a reason;
 * NOSYM: no entry symbol at all.
 */
#include <leadscore/plugin.h>

#include <stdlib.h>

#define EXPORT __attribute__((visibility("default")))

static enum lsc_status failing_create(const struct lsc_host_api *host,
                                      void **plugin, char *err, size_t errlen)
{
    /* Registrations made before failing must not survive. */
    host->register_report(host->host, NULL);
    snprintf(err, errlen, "the license file has expired");
    return LSC_ERR_CONFIG;
}

static void noop_destroy(void *plugin)
{
    free(plugin);
}

static const struct lsc_plugin_desc desc = {
    .struct_size = sizeof desc,
#if defined(BROKEN_ABI2)
    .abi_major = 2,
    .abi_minor = 3,
#else
    .abi_major = LSC_PLUGIN_ABI_MAJOR,
    .abi_minor = LSC_PLUGIN_ABI_MINOR,
#endif
    .name = "broken",
    .version = "0.0",
    .description = "a plugin the host must refuse or survive",
    .create = failing_create,
    .destroy = noop_destroy,
};

#if defined(BROKEN_NOSYM)
EXPORT const struct lsc_plugin_desc *not_the_entry(void);
EXPORT const struct lsc_plugin_desc *not_the_entry(void)
{
    return &desc;
}
#else
EXPORT const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                                      uint32_t minor);
EXPORT const struct lsc_plugin_desc *lsc_plugin_entry(uint32_t major,
                                                      uint32_t minor)
{
    return &desc;
}
#endif
