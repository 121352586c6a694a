/* advice: the words of an alert — summary, explanation, fix and the config
 * reference — from the facts diagnosis gathered. Pure text generation: what
 * was observed (log lines, probe results, host facts) is worded apart from
 * what is inferred, and every fix names a directive with its file:line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/unitlog.h"
#include "diagnose/cause.h"
#include "log/errlog.h"
#include "host/host.h"
#include "nginx/ngxconf.h"
#include "probe/probe.h"

struct advice_in {
	enum cause cause;
	enum cause implied; /* peer_failing: what the probe points at, or CAUSE_NONE */
	const char *peer;   /* key; NULL for block- and host-level causes */
	const struct peerkey *addr;
	const struct ngx_model *model;	 /* may be NULL */
	const struct ngx_upstream *up;	 /* block the peer or alert belongs to */
	const struct ngx_server *server; /* the peer's `server` line in that block */
	const struct ngx_pass *pass;	 /* the *_pass that reached the peer */
	int err;			 /* errno of the last event (0 = none) */
	enum errlog_phase phase;
	const char *detail; /* kind-specific detail of the last event */
	uint32_t events;    /* log events behind this cause */
	int64_t first_error_ms;
	const struct probe_result *probe;     /* NULL = never probed */
	const struct host_listener *listener; /* NULL = unknown */
	const unsigned *nearby;		      /* ports that do listen on the address */
	size_t nnearby;
	size_t nearby_more; /* listening ports beyond those in nearby */
	/* what each nearby port is: process name or software ("" unknown), and
	 * whether it is the same software and unit as the peer's (safe to
	 * suggest); arrays of nnearby, may be NULL */
	const char *const *nearby_what;
	const bool *nearby_same;
	const struct backend_info *software; /* the software serving the peer; NULL unknown */
	/* the newest failure signal in the peer's unit's journal since the errors
	 * began (WORKER TIMEOUT, a SIGKILLed worker, an OOM kill); NULL none */
	const struct unitlog_signal *unit_signal;
	uint64_t mem_available_mb; /* backend_overloaded: the host's; 0 = unknown */
	unsigned queue_peak;	   /* backend_overloaded: the fullest accept queue seen */
	unsigned burst_peak;	   /* the most error lines of the subject within a second */
	/* dns_failure: what nginx logged — "host not found in upstream" (a
	 * configuration load refused) or "no resolver defined" — and the host's
	 * first nameserver from /etc/resolv.conf ("" unknown) */
	bool host_not_found, no_resolver;
	const char *nameserver;
	const char *stale_addr;	  /* dns_stale: the old address nginx connects to, NULL unknown */
	const char *block_states; /* no_live_upstreams: "a: down (refused); b: ..." */
	const char *backup;	  /* every primary of the block fails; this backup serves */
	int64_t last_error_ms;	  /* peer_failing: nginx's last error for it, 0 = never */
	const char *window; /* backend_restarted: "backend_reset 10:00:01-10:00:02 (3), ..." */
	bool conns_known;   /* local_ports_exhausted: connections to the peer */
	unsigned time_wait, established;
};

/* The words; advice_write() fills them, advice_done() frees them. */
struct advice {
	char *summary;
	char *explanation;
	char *fix;
	char config_ref[300]; /* "file:line", "" when none */
};

void advice_write(const struct advice_in *in, struct advice *out);
void advice_done(struct advice *a);
