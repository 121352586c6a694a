/* report: render an alert's words and evidence from what diagnosis knows,
 * and hand them to the alert store (see report.c). */
#pragma once

#include <stdint.h>

#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "diagnose/evidence.h"
#include "nginx/location.h"

struct accessstats;
struct config;
struct ngx_model;

/* What rendering reads; diagnose.c owns it. */
struct report_env {
	struct alert_store *alerts;
	struct diag_host host;
	const struct ngx_model *model;
	const struct config *cfg;
	struct evidence_table ev;
	struct ngx_location_cache loc;
	const struct accessstats *access; /* access-log figures; NULL when none */
};

/* What only the caller knows. */
struct report_extra {
	enum cause implied;	  /* peer_failing: what the probe points at */
	const char *block_states; /* no_live_upstreams: its peers' states */
	const char *window;	  /* backend_restarted: the outage's chapters */
	unsigned occurrences;	  /* events this report adds to the count */
};

int64_t report_hold_ms(const struct report_env *env);

/* Word (cause, subject) from what is known now and report it. */
const struct alert *report_render(struct report_env *env, struct evidence *e, enum cause c,
				  const struct report_extra *x, int64_t now);
/* no_live_upstreams for block e, with its peers' states. */
const struct alert *report_block(struct report_env *env, struct evidence *e, unsigned occurrences,
				 int64_t now);
