/* facts: per-peer cache of listener facts with asynchronous unit state (see facts.h). */
#include "host/facts.h"

#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"
#include "host/unitbus.h"
#include "core/util.h"

struct entry {
	struct host_listener l;
	int64_t fetched_ms;
};

struct facts {
	struct strmap peers; /* key -> struct entry */
	struct host *host;
	struct unitbus *bus;
};

int facts_new(struct ev_loop *loop, struct facts **ret)
{
	struct host *h;
	int r = host_new(&h);
	if (r < 0)
		return r;
	struct facts *f = xcalloc(1, sizeof(*f));
	strmap_init(&f->peers);
	f->host = h;
	f->bus = unitbus_new(loop, NULL);
	/* many peers failing at once cost one scan of the host's sockets */
	host_set_snapshot_ttl(h, FACTS_SNAPSHOT_MS);
	*ret = f;
	return 0;
}

static void clear(struct facts *f)
{
	size_t it = 0;
	void *v;
	while (strmap_next(&f->peers, &it, NULL, &v))
		free(v);
	strmap_done(&f->peers);
	strmap_init(&f->peers);
}

void facts_free(struct facts *f)
{
	if (!f)
		return;
	unitbus_free(f->bus);
	host_free(f->host);
	clear(f);
	strmap_done(&f->peers);
	free(f);
}

/* A unit's state arrived: every cached listener in that unit gets it. */
static void on_unit(void *userdata, const char *unit, const struct unitbus_state *st)
{
	struct facts *f = userdata;
	size_t it = 0;
	struct entry *e;
	while (strmap_next(&f->peers, &it, NULL, (void **)&e))
		if (streq(e->l.unit, unit))
			unitbus_apply(st, &e->l);
}

bool facts_listener(struct facts *f, const struct peerkey *k, struct host_listener *ret)
{
	if (!peerkey_is_local(k))
		return false;
	int64_t now = now_mono_ms();
	struct entry *e = strmap_get(&f->peers, k->key);
	if (e && now - e->fetched_ms < FACTS_TTL_MS) {
		*ret = e->l;
		return true;
	}

	struct host_listener l;
	int r = k->kind == PEERKEY_UNIX ? host_unix_listener(f->host, k->host, &l)
					: host_tcp_listener(f->host, k, &l);
	if (r < 0)
		return false;
	if (!e) {
		if (f->peers.len >= FACTS_MAX)
			clear(f);
		e = xcalloc(1, sizeof(*e));
		strmap_put(&f->peers, k->key, e);
	} else {
		if (e->l.conns_known) { /* the last count, until asked again */
			l.time_wait = e->l.time_wait;
			l.established = e->l.established;
			l.conns_known = true;
		}
		if (streq(e->l.unit, l.unit) && e->l.unit_known) {
			/* keep the last known unit state until the new answer comes */
			memcpy(l.active_state, e->l.active_state, sizeof(l.active_state));
			memcpy(l.sub_state, e->l.sub_state, sizeof(l.sub_state));
			memcpy(l.result, e->l.result, sizeof(l.result));
			l.nrestarts = e->l.nrestarts;
			l.unit_exit_ms = e->l.unit_exit_ms;
			l.unit_known = true;
		}
	}
	e->l = l;
	e->fetched_ms = now;
	if (l.unit[0] && !l.unit_user)
		unitbus_query(f->bus, l.unit, on_unit, f);
	*ret = e->l;
	return true;
}

bool facts_listener_now(struct facts *f, const struct peerkey *k, struct host_listener *ret)
{
	struct entry *e = strmap_get(&f->peers, k->key);
	if (e)
		e->fetched_ms = -FACTS_TTL_MS;
	host_invalidate_snapshot(f->host);
	return facts_listener(f, k, ret);
}

bool facts_cached(const struct facts *f, const char *key, struct host_listener *ret)
{
	const struct entry *e = strmap_get(&f->peers, key);
	if (!e)
		return false;
	*ret = e->l;
	return true;
}

int facts_ports_nearby(struct facts *f, const struct peerkey *k, unsigned *ports, size_t max)
{
	return host_tcp_ports_nearby(f->host, k, ports, max);
}

bool facts_conns(struct facts *f, const struct peerkey *k, unsigned *ret_time_wait,
		 unsigned *ret_established)
{
	struct host_listener l = {0};
	if (host_tcp_conns(f->host, k, &l) < 0)
		return false;
	struct entry *e = strmap_get(&f->peers, k->key);
	if (e) { /* shown with the listener from now on */
		e->l.time_wait = l.time_wait;
		e->l.established = l.established;
		e->l.conns_known = true;
	}
	*ret_time_wait = l.time_wait;
	*ret_established = l.established;
	return true;
}
