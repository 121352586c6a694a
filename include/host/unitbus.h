/* unitbus: a systemd unit's ActiveState, SubState, Result and NRestarts over
 * the system bus, asynchronously on the daemon's libev loop (never blocks).
 *
 * host names the unit of a listener (host_listener.unit) synchronously from
 * /proc; its state needs the bus, which may be slow or absent, so it is asked
 * here and delivered later:
 *
 *     host_tcp_listener(&peer, &l);
 *     if (l.unit[0] && !l.unit_user)
 *             unitbus_query(ub, l.unit, on_unit, ctx);   // -ENOTCONN: no bus
 *     ...
 *     static void on_unit(void *ctx, const char *unit, const struct unitbus_state *st)
 *     {       unitbus_apply(st, &ctx->listener); }       // st NULL: unknown
 *
 * No system bus (no /run/dbus/system_bus_socket) is not an error: queries
 * return -ENOTCONN at once and the listener keeps unit_known = false. A lost
 * connection is re-made on a later query (at most once per 5 s). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
struct host_listener;
struct unitbus;

struct unitbus_state {
	char active_state[24]; /* "active", "activating", "failed", ... */
	char sub_state[24];    /* "running", "auto-restart", "dead", ... */
	char result[24];       /* "success", "exit-code", "signal", ... ("" for non-services) */
	unsigned nrestarts;    /* services only */
	uint64_t exit_usec;    /* services: ExecMainExitTimestamp (realtime µs), 0 = never */
};

/* st is NULL when the state could not be learned (no such unit, bus error,
 * timeout, bus lost). */
typedef void (*unitbus_fn)(void *userdata, const char *unit, const struct unitbus_state *st);

/* address: a D-Bus address ("unix:path=/run/dbus/system_bus_socket"), NULL
 * for the system bus. Nothing is connected until the first query. */
struct unitbus *unitbus_new(struct ev_loop *loop, const char *address);

/* Queries still in flight are dropped: their callbacks are not called. */
void unitbus_free(struct unitbus *b);

/* Ask for unit's state; fn is called exactly once from the loop (never from
 * inside this call) unless unitbus_free comes first; userdata must live until
 * then. Each method call times out after 1 s. Returns 0, -ENOTCONN when
 * there is no bus, -EBUSY when 24 queries are already in flight, -EINVAL for
 * a name that is not a unit. */
int unitbus_query(struct unitbus *b, const char *unit, unitbus_fn fn, void *userdata);

/* Copy st into l's unit state fields and set unit_known; st NULL clears
 * them and sets unit_known = false. */
void unitbus_apply(const struct unitbus_state *st, struct host_listener *l);
