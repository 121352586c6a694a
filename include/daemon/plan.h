/* plan: what the daemon sets up from upwatch.conf and the nginx model —
 * probe targets, logs to follow, files to watch. Pure functions (no I/O, no
 * state), so every rule is unit-tested: tests/unit/test_plan.c.
 *
 * Target rules, in order: the global settings (target_defaults), the
 * protocol and nginx's own connect/read timeouts and the pass's TLS and
 * Host, then each upstream block's override, then the peer's own;
 * the probe_timeout <= probe_interval clamp applies last, to the result. A
 * target whose probe is off (globally, for its block or for itself) is left
 * out, so nothing — timer or on-demand probe from diagnosis — connects to
 * it. Peers learned only from log lines are probed over TCP (and reported
 * as "tcp"), only within probe_allow; a learned unix path only inside a
 * directory of a configured unix peer or below /run. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "nginx/ngxconf.h"
#include "probe/probe.h"

struct accessstats;
struct config;
struct config_override;

/* Protocol a learned peer is probed (and reported) with. */
#define PLAN_LEARNED_PROTO NGX_PROTO_TCP

void plan_target_defaults(const struct config *c, struct probe_target *t);
void plan_apply_override(struct probe_target *t, const struct config_override *o);
/* The probe must end before the next one is due. */
void plan_clamp(struct probe_target *t);

/* May a learned peer be probed or looked at (stat of a unix path)? */
bool plan_learned_allowed(const struct config *c, const struct ngx_model *m,
			  const struct peerkey *k);

/* The prober's target set: v[0..n); its strings point into c, m and refs
 * (the read timeouts' file:line). Free with plan_targets_done. */
struct plan_targets {
	struct probe_target *v;
	size_t n;
	char (*refs)[PROBE_REF_MAX];
};
void plan_targets(const struct config *c, const struct ngx_model *m, const char *const *learned,
		  size_t nlearned, struct plan_targets *ret);
void plan_targets_done(struct plan_targets *t);

/* Logs to follow: the model's followable error logs, then upwatch.conf's and
 * --error-log's, then the access logs a knows (NULL: none), without repeats
 * (malloc'd array of borrowed strings). */
size_t plan_logs(const struct config *c, const struct ngx_model *m, const struct accessstats *a,
		 const char ***ret);

/* Files whose change triggers a reload: upwatch.conf, then the nginx dump
 * (not standard input) or every nginx file read; the include globs come
 * with ret_globs unless a dump is read. */
size_t plan_watch(const struct config *c, const struct ngx_model *m, const char ***ret,
		  size_t *ret_nglobs);
