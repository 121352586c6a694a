/* probe: active checks of every peer, on timers and on demand, never blocking
 * the loop.
 *
 * Callback chain per peer (keepalived's checkers are the model):
 *   timer -> probe_start (tcp | http via curl multi | unix | fastcgi | dns)
 *         -> completion -> epilog (state up/down, retry counting, re-arm timer)
 *         -> probe_done_fn.
 * First runs are spread with a random offset; a global cap bounds probes in
 * flight; failing peers are retried at retry_ms until they recover or have
 * failed `retries` times. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nginx/ngxconf.h"
#include "core/peerkey.h"
#include "probe/probe_result.h"

struct ev_loop;
struct cJSON;

/* The worker identity unix-socket checks are made for. */
struct probe_identity {
	char user[32];
	uid_t uid;
	gid_t gid;
	gid_t groups[32];
	size_t ngroups;
	bool from_proc; /* read from running worker processes, not the config */
};

struct probe_target {
	char key[PEERKEY_MAX];
	struct peerkey addr;
	enum ngx_proto proto;
	bool enabled; /* `probe off` */
	uint64_t interval_ms, timeout_ms, retry_ms;
	unsigned retries;	  /* fast retries before falling back to interval */
	const char *health_uri;	  /* default "/" */
	const char *host_header;  /* NULL: the peer's host */
	int expect_lo, expect_hi; /* accepted statuses, default 200-399 */
	bool tls_verify, tls_sni;
	const char *tls_trusted; /* CA file, NULL = system default */
	const char *tls_name;	 /* name to verify / send as SNI */
};

struct prober;

/* Called for every completed probe (scheduled or on demand). */
typedef void (*probe_done_fn)(void *userdata, const char *key, const struct probe_result *r,
			      enum peer_state state);

struct prober *prober_new(struct ev_loop *loop, unsigned max_inflight, probe_done_fn fn,
			  void *userdata);
void prober_free(struct prober *p);

/* Worker identity for unix socket permission checks. */
void prober_set_identity(struct prober *p, const struct probe_identity *id);

/* Make the target set exactly targets[0..n) (copied). Peers that stay keep
 * their state and last result; new ones start at a random offset. Targets
 * with an unusable address (or no key) are left out and the others applied;
 * then -EINVAL is returned. A repeated key: the first one counts. */
int prober_set_targets(struct prober *p, const struct probe_target *targets, size_t n);

/* Probe key now, at most once per second per peer: a probe already in flight
 * is joined; a result younger than 1 s is returned at once. once (may be NULL)
 * is called with the result in addition to the global callback. Returns
 * -ENOENT for an unknown key, 1 when once was already called (cached result,
 * before returning; the global callback is not called again), 0 when the
 * result will come from the loop. On-demand probes do not wait for the
 * in-flight cap. Callbacks may call prober_probe_now and prober_set_targets,
 * never prober_free. */
int prober_probe_now(struct prober *p, const char *key, probe_done_fn once, void *userdata);

/* NULL when key is unknown or was never probed. The pointer is valid until the
 * next prober_last call or until the loop runs again (results are stored
 * compactly and expanded on demand). */
const struct probe_result *prober_last(const struct prober *p, const char *key);
enum peer_state prober_state(const struct prober *p, const char *key);

/* {"sent", "failed", "by_result": {every result name: N}, "in_flight", "queued", "peers"} */
void prober_stats_json(const struct prober *p, struct cJSON *obj);
