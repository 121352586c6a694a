/* probe_fixture: see probe_fixture.h. */
#include "probe_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/peerkey.h"

struct probe_target fixture_target(const char *addr, enum probe_proto proto)
{
	struct probe_target t = {0};
	if (peerkey_parse(addr, strlen(addr), 0, &t.addr) < 0) {
		fprintf(stderr, "bad test address %s\n", addr);
		exit(2);
	}
	snprintf(t.key, sizeof(t.key), "%s", t.addr.key);
	t.proto = proto;
	t.enabled = true;
	t.probed = true;
	t.interval_ms = 60000;
	t.timeout_ms = 2000;
	t.retry_ms = 1000;
	return t;
}

void probe_wait_done(void *userdata, const char *key, const struct probe_result *r,
		     enum peer_state state)
{
	struct probe_wait *w = userdata;
	(void)key;
	w->r = *r;
	w->state = state;
	w->calls++;
	ev_break(w->loop, EVBREAK_ALL);
}

void fixture_break(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

void fixture_run_for(struct ev_loop *loop, double seconds)
{
	ev_timer t;
	ev_timer_init(&t, fixture_break, seconds, 0);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}
