/* Scoring: pure functions of (model, contact state, input), no I/O, no
 * allocation.  See ../shared/docs/scoring-model.md section 3 and
 * docs/scoring.md for the choices where the contract is silent. */
#ifndef LSC_ENGINE_H
#define LSC_ENGINE_H

#include <leadscore/plugin.h>

#include "model.h"
#include "state.h"

/* True when every condition of rule r holds on props (borrowed). */
bool engine_rule_holds(const struct model_rule *r,
                       const struct lsc_prop *props, size_t n);

/* True when condition c holds on props (borrowed). */
bool engine_cond_holds(const struct model_cond *c,
                       const struct lsc_prop *props, size_t n);

/* Recomputes sm's fit sums from the contact's properties; clears
 * need_fit.  holds (optional, m->n_rules entries) receives, for each fit
 * rule, whether it holds.  When the model has at most STATE_FIT_BITS fit
 * rules, sm's fit cache is set too: `props_hash` (engine_props_hash of
 * props, passed in) and the rules that hold. */
void engine_fit(const struct model *m, struct state_model *sm,
                const struct lsc_prop *props, size_t n, uint64_t props_hash,
                bool *holds);

/* A 64-bit hash of props (borrowed): their keys, types and values, in
 * order.  Equal properties hash equal; the fit cache trusts nothing
 * else. */
uint64_t engine_props_hash(const struct lsc_prop *props, size_t n);

/* After a reload changed the model: drops awards of rules that are gone
 * and rebuilds the group accumulators from the rule records. */
void engine_rebuild(const struct model *m, struct state_model *sm);

/* Applies one activity of `type` at time t (ms) with attributes props.
 * sm must have room for model->max_rules_per_event more award records.
 * Returns the number of awards made. */
unsigned engine_activity(const struct model *m, struct state_model *sm,
                         const char *type, const struct lsc_prop *props,
                         size_t n, int64_t t);

/* Worth at `at` of an accumulator `acc` referenced at `ref`. */
double engine_worth(double acc, int64_t ref, int64_t at, int64_t half_life_ms);

/* Sum S of the group contributions at `at`.  value/raw (optional, n_groups
 * each, caller-owned) receive each group's contribution and raw value. */
double engine_total(const struct model *m, const struct state_model *sm,
                    int64_t at, double *value, double *raw);

/* clamp(floor(total + 0.5), 0, scale_max). */
int engine_score(const struct model *m, double total);

/* Tier index for `score` given the previous tier index (-1: none), with
 * hysteresis. */
long engine_tier(const struct model *m, int score, long prev);

/* Index of the tier whose key is `key`, or -1. */
long engine_tier_index(const struct model *m, uint64_t key);

/* Earliest time after `at` when decay could change the tier `tier`
 * (a lower bound: the tier may still hold then), INT64_MAX when decay
 * cannot change it. */
int64_t engine_wake(const struct model *m, const struct state_model *sm,
                    int64_t at, long tier);

#endif
