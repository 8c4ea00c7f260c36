/* Connector glue of the plugin: builds the HubSpot facade and the
 * Mailchimp client from the `connectors` configuration value, registers
 * their job handlers and forwards the primary model's changes to them.
 * Everything network-bound runs later, in job handlers. */
#ifndef LSC_PLUGIN_SYNC_H
#define LSC_PLUGIN_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <leadscore/plugin.h>

struct sync;

/* True when the host configures connector mappings (`connectors`). */
bool sync_configured(const struct lsc_host_api *h);

struct model;

/* `leadscore validate [--model M] MAPPING`: checks every file of
 * `connectors` without secrets or network, with `primary` (borrowed; may
 * be NULL) also its tiers against the model's, as sync_create() would;
 * problems go to host->diagnostic.  LSC_ERR_CONFIG when one was refused. */
enum lsc_status sync_validate(const struct lsc_host_api *h,
                              const struct model *primary, char *err,
                              size_t errlen);

/* Builds the connectors (*out NULL when none is configured); `primary`
 * (borrowed) gives the tier names.  A connector still waiting for its
 * OAuth connect is logged and left out. */
enum lsc_status sync_create(const struct lsc_host_api *h,
                            const struct model *primary, struct sync **out,
                            char *err, size_t errlen);

/* Registers `fn` (the plugin's trampoline to sync_run_jobs) for every
 * job kind of the configured connectors.  Only during create(). */
enum lsc_status sync_register(struct sync *s, lsc_job_fn fn);

/* The job handler body, any of the registered kinds. */
enum lsc_status sync_run_jobs(struct sync *s, const struct lsc_job *jobs,
                              struct lsc_job_result *results, size_t n);

struct state_model;

/* The primary model's score or tier of a contact changed (from: the
 * previous tier when the tier changed, else NULL); m and sm (borrowed) are
 * the model and the contact's current state, from which the fit and
 * engagement values and the top reasons are taken.  Called from the event
 * handler, only enqueues.  A failure refuses the event. */
enum lsc_status sync_on_change(struct sync *s, const struct model *m,
                               const struct state_model *sm,
                               const char *contact_id, int score,
                               const char *tier, const char *from,
                               int64_t at_ms, char *err, size_t errlen);

/* A transition of the primary model (actions, webhooks); m and sm as
 * above give the webhook's reasons. */
enum lsc_status sync_on_transition(struct sync *s, const struct model *m,
                                   const struct state_model *sm,
                                   const struct lsc_transition *t, char *err,
                                   size_t errlen);

/* Every event but EVALUATE and DELETED: enqueues a HubSpot read of the
 * mapped inputs the contact lacks (read path enabled; see
 * connectors_on_event).  Never fails the event. */
void sync_on_event(struct sync *s, const char *contact_id);

void sync_destroy(struct sync *s); /* NULL ok */

#endif
