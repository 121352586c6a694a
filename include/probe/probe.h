/* probe: the scheduler of active checks of every peer, on timers and on
 * demand, never blocking the loop.
 *
 * Callback chain per peer (keepalived's checkers are the model):
 *   timer | prober_probe_now -> admission (probe_max_inflight: queue when
 *   full, coalesce repeats of a peer) -> one run (probe_run.c: dns -> unix
 *   checks -> the protocol checker) -> epilog (state up/down, retry
 *   counting, re-arm the timer) -> probe_done_fn.
 * First runs are spread with a random offset; failing peers are retried at
 * retry_ms until they recover or have failed `retries` times.
 *
 * A peer with enabled or probed false is never probed by any path. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/probe_result.h"
#include "probe/probe_target.h"

struct ev_loop;
struct prober;

/* Time as the prober sees it; the default reads CLOCK_MONOTONIC and
 * CLOCK_REALTIME. Tests inject their own to check scheduling decisions
 * without measuring the wall clock. Timers still run on the loop: a clock
 * only decides due times and the times recorded in results. */
struct probe_clock {
	int64_t (*mono_ms)(void *userdata);
	int64_t (*wall_ms)(void *userdata);
	void *userdata;
};

/* Called for every completed probe (scheduled or on demand). */
typedef void (*probe_done_fn)(void *userdata, const char *key, const struct probe_result *r,
			      enum peer_state state);

/* max_inflight 0 is taken as 1. -ENOMEM. */
int prober_new(struct ev_loop *loop, unsigned max_inflight, probe_done_fn fn, void *userdata,
	       struct prober **ret);
void prober_free(struct prober *p);

/* Replace the clock (copied); NULL restores the default. Call before
 * prober_set_targets. */
void prober_set_clock(struct prober *p, const struct probe_clock *clock);

/* The library HTTP, HTTPS and TLS probes load on first use (NULL, the
 * default: libcurl.so.4); tests name a missing one. soname is not copied.
 * Call before the first probe. */
void prober_set_curl_library(struct prober *p, const char *soname);

/* Worker identity for unix socket permission checks. */
void prober_set_identity(struct prober *p, const struct probe_identity *id);

/* Make the target set exactly targets[0..n) (copied). Peers that stay keep
 * their state and last result; new ones start at a random offset. Targets
 * with an unusable address (or no key) are left out and the others applied;
 * then -EINVAL is returned. A repeated key: the first one counts. */
int prober_set_targets(struct prober *p, const struct probe_target *targets, size_t n);

/* Probe key now, at most once per second per peer, through the same
 * admission as timer runs: started when a slot is free, else queued (a peer
 * is queued once; repeats join it). A probe already in flight or queued is
 * joined; a result younger than 1 s is returned at once. once (may be NULL)
 * is called with the result in addition to the global callback.
 * Returns -ENOENT for an unknown key, -EPERM when the peer is not to be
 * probed (probe off, or a peer nginx never connects to), -EBUSY when the
 * peer already has PROBE_WAITERS_MAX waiters, 1 when once was already called
 * (cached result, before returning; the global callback is not called
 * again), 0 when the result will come from the loop. Callbacks may call
 * prober_probe_now and prober_set_targets, never prober_free. A peer that
 * leaves the target set or is switched off drops its waiters uncalled. */
#define PROBE_WAITERS_MAX 64
int prober_probe_now(struct prober *p, const char *key, probe_done_fn once, void *userdata);

/* Copy key's last result into *ret. -ENOENT for an unknown key, -ENODATA
 * when it was never probed (*ret untouched). */
int prober_last(const struct prober *p, const char *key, struct probe_result *ret);
enum peer_state prober_state(const struct prober *p, const char *key);

/* When key's next timer run is due, on the prober's monotonic clock.
 * -ENOENT, or -ENODATA when no run is scheduled (probing off, in flight). */
int prober_next_due(const struct prober *p, const char *key, int64_t *ret_mono_ms);

struct prober_stats {
	uint64_t sent, failed, by_result[PROBE__COUNT];
	unsigned in_flight;
	size_t queued, peers;
};
void prober_stats(const struct prober *p, struct prober_stats *ret);
