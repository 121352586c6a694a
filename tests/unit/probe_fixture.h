/* probe_fixture: what the prober unit tests share (test_probe.c,
 * test_curl_lib.c) — a target as the daemon builds one, and a wait for one
 * probe's answer with the loop bounded by a deadline. */
#pragma once

#include <ev.h>

#include "probe/probe.h"

/* A target for addr ("127.0.0.1:80", "unix:/path"), enabled and probed,
 * interval 60 s, timeout 2 s, retry 1 s. Exits on a bad address. */
struct probe_target fixture_target(const char *addr, enum probe_proto proto);

/* One probe's answer: pass probe_wait_done with a struct probe_wait; it
 * keeps the result and state, counts the call and breaks the loop. */
struct probe_wait {
	struct ev_loop *loop;
	struct probe_result r;
	enum peer_state state;
	int calls;
};
void probe_wait_done(void *userdata, const char *key, const struct probe_result *r,
		     enum peer_state state);

/* An ev_timer callback that breaks the loop: the bound of every wait. */
void fixture_break(struct ev_loop *loop, ev_timer *w, int revents);
/* Run loop for seconds (or until a callback breaks it). */
void fixture_run_for(struct ev_loop *loop, double seconds);
