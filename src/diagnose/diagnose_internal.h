/* diagnose_internal: private to src/diagnose/diagnose*.c — the diagnosis
 * state and what its three parts share: the lifecycle core (diagnose.c: log
 * events, the tick), probe results (diagnose_probe.c) and the dns_stale
 * judgement from the diagnosis side (diagnose_stale.c). */
#pragma once

#include "diagnose/diagnose.h"
#include "diagnose/evidence.h"
#include "diagnose/report.h"

#define DIAG_EPISODE_MS (5 * 60 * 1000) /* log errors this recent make a peer "hit by nginx" */
/* Both of two exclusive causes (rules_exclusive) logged within this window
 * hold at once: the firing one keeps the story (see held_by_sibling). One
 * tick, so a path really changing state is told within a second. */
#define DIAG_EXCLUSIVE_SETTLE_MS 1000
#define DIAG_POOL_RECHECK_MS                                                                       \
	1000 /* the host's tables are read at most once this (FACTS_SNAPSHOT_MS) */

struct diag {
	struct report_env env; /* what rendering reads */
	uint64_t kinds[EV__COUNT];
	struct evidence **dirty; /* counted since rendered: rendered at the next tick */
	size_t ndirty, dirty_cap;
	const char **unix_paths; /* the model's unix peer keys (into the model) */
	size_t nunix_paths;
	const struct ngx_peer **names; /* the model's probed host-name peers (dns_stale) */
	size_t nnames;
};

/* diagnose.c */
void diag_mark_dirty(struct diag *d, struct evidence *e);
bool diag_named_by_model(const struct diag *d, enum cause_subject kind, const char *name);

/* diagnose_stale.c: an old answer of a host name that moved */
bool diag_stale_able(enum cause c);
struct evidence *diag_stale_owner(struct diag *d, struct evidence *e, int64_t now);
void diag_stale_absorb(struct diag *d, const struct evidence *ip, const struct alert *a,
		       int64_t now);
struct evidence *diag_stale_move(struct evidence *ip, struct evidence *owner, const char *line,
				 size_t len);
void diag_stale_recheck(struct diag *d, const char *key, const struct probe_result *r, int64_t now);
