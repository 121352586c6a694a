/* unitbus: systemd unit state over sd-bus, driven by the libev loop.
 *
 * Owns one lazily made bus connection, its watchers and the queries in
 * flight. sd-bus is used without sd-event: the bus fd, the events it wants
 * and its next timeout are handed to libev before every poll (ev_prepare),
 * and sd_bus_process runs when the fd is ready or the timeout fires. Nothing
 * here waits: connect() on the bus socket is non-blocking in sd-bus, and the
 * auth/Hello exchange completes inside sd_bus_process like any reply.
 *
 * Callback chain of a query:
 *   unitbus_query -> ensure_bus (sd_bus_start, non-blocking) -> 2..4
 *   Properties.Get calls queued (sd_bus_call_method_async)
 *   -> prepare_cb arms io/timer -> io_cb / timer_cb -> bus_process
 *   -> on_reply per property (a method-call timeout arrives as an error reply)
 *   -> query_finish when the last reply is in -> the caller's unitbus_fn.
 * A dead connection (sd_bus_process < 0) fails every query in flight with
 * st = NULL and is re-made on a later query. */
#include "host/unitbus.h"

#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "core/list.h"
#include "core/util.h"
#include "host/host.h"

#define SYSTEM_BUS_SOCKET "/run/dbus/system_bus_socket"
#define CALL_TIMEOUT_USEC (1000 * 1000)
#define RECONNECT_MS	  5000
/* dbus-daemon refuses a connection more than 128 pending replies
 * (max_replies_per_connection); a service query makes 5 calls */
#define MAX_QUERIES   24
#define PROCESS_BATCH 256

enum prop {
	PROP_ACTIVE_STATE,
	PROP_SUB_STATE,
	PROP_RESULT,
	PROP_NRESTARTS,
	PROP_EXIT_TS,
	PROP__COUNT
};

struct call {
	struct query *q;
	enum prop prop;
	sd_bus_slot *slot;
};

struct query {
	struct unitbus *b;
	struct list link; /* in unitbus.queries */
	char unit[128];
	unitbus_fn fn;
	void *userdata;
	struct unitbus_state st;
	struct call calls[PROP__COUNT];
	unsigned pending;
	bool failed;
};

struct unitbus {
	struct ev_loop *loop;
	char *address; /* NULL: the system bus */
	sd_bus *bus;
	ev_io io;
	ev_timer timer;
	ev_prepare prepare;
	bool more; /* sd_bus_process had more to do when the batch ended */
	int64_t retry_after_ms;
	struct list queries; /* in flight */
	unsigned nqueries;
};

static void unlink_query(struct unitbus *b, struct query *q)
{
	list_remove(&q->link);
	b->nqueries--;
}

static void drop_slots(struct query *q)
{
	for (size_t i = 0; i < PROP__COUNT; i++)
		q->calls[i].slot = sd_bus_slot_unref(q->calls[i].slot);
}

static void query_finish(struct query *q)
{
	unlink_query(q->b, q);
	drop_slots(q);
	q->fn(q->userdata, q->unit, q->failed ? NULL : &q->st);
	free(q);
}

/* The connection is gone (or never came up): fail what is in flight. */
static void teardown(struct unitbus *b)
{
	ev_io_stop(b->loop, &b->io);
	ev_timer_stop(b->loop, &b->timer);
	ev_prepare_stop(b->loop, &b->prepare);
	/* Callbacks may query again: they find an empty list and no bus. */
	struct list dead;
	list_init(&dead);
	list_for_each_safe(q, &b->queries, struct query, link)
	{
		list_remove(&q->link);
		list_append(&dead, &q->link);
		drop_slots(q); /* slots hold references on the bus */
	}
	b->nqueries = 0;
	b->bus = sd_bus_close_unref(b->bus);
	b->retry_after_ms = now_mono_ms() + RECONNECT_MS;
	list_for_each_safe(q, &dead, struct query, link)
	{
		list_remove(&q->link);
		q->fn(q->userdata, q->unit, NULL);
		free(q);
	}
}

static void bus_process(struct unitbus *b)
{
	int r = 0;
	b->more = false;
	for (unsigned i = 0; b->bus && i < PROCESS_BATCH; i++) {
		r = sd_bus_process(b->bus, NULL);
		if (r <= 0)
			break;
	}
	if (r < 0)
		teardown(b);
	else if (r > 0)
		b->more = true;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	bus_process(container_of(w, struct unitbus, io));
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	bus_process(container_of(w, struct unitbus, timer));
}

/* Before every poll: give libev what sd-bus wants now (it changes as
 * messages are queued and the auth exchange proceeds). */
static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct unitbus *b = container_of(w, struct unitbus, prepare);
	int fd = sd_bus_get_fd(b->bus);
	int ev = sd_bus_get_events(b->bus);
	if (fd < 0 || ev < 0) {
		teardown(b);
		return;
	}
	int want = (ev & POLLIN ? EV_READ : 0) | (ev & POLLOUT ? EV_WRITE : 0);
	if (!ev_is_active(&b->io) || b->io.fd != fd ||
	    (b->io.events & (EV_READ | EV_WRITE)) != want) {
		ev_io_stop(loop, &b->io);
		ev_io_set(&b->io, fd, want);
		if (want)
			ev_io_start(loop, &b->io);
	}

	uint64_t until = UINT64_MAX;
	ev_timer_stop(loop, &b->timer);
	if (b->more) {
		until = 0;
	} else if (sd_bus_get_timeout(b->bus, &until) < 0) {
		until = UINT64_MAX;
	}
	if (until == UINT64_MAX)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	ev_timer_set(&b->timer, until > now ? (double)(until - now) / 1000000.0 : 0.0, 0.0);
	ev_timer_start(loop, &b->timer);
}

static int ensure_bus(struct unitbus *b)
{
	if (b->bus)
		return 0;
	if (now_mono_ms() < b->retry_after_ms)
		return -ENOTCONN;
	const char *address = b->address;
	if (!address) {
		address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
		if (!address) {
			if (access(SYSTEM_BUS_SOCKET, F_OK) < 0)
				return -ENOTCONN;
			address = "unix:path=" SYSTEM_BUS_SOCKET;
		}
	}
	sd_bus *bus = NULL;
	int r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, address);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_set_method_call_timeout(bus, CALL_TIMEOUT_USEC);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		b->retry_after_ms = now_mono_ms() + RECONNECT_MS;
		return -ENOTCONN;
	}
	b->bus = bus;
	ev_prepare_start(b->loop, &b->prepare);
	return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct call *c = userdata;
	struct query *q = c->q;
	int r = -EIO;

	if (!sd_bus_message_is_method_error(m, NULL)) {
		const char *s;
		switch (c->prop) {
		case PROP_NRESTARTS:
			r = sd_bus_message_read(m, "v", "u", &q->st.nrestarts);
			break;
		case PROP_EXIT_TS:
			r = sd_bus_message_read(m, "v", "t", &q->st.exit_usec);
			break;
		default:
			r = sd_bus_message_read(m, "v", "s", &s);
			if (r >= 0) {
				char *dst = c->prop == PROP_ACTIVE_STATE ? q->st.active_state
					    : c->prop == PROP_SUB_STATE	 ? q->st.sub_state
									 : q->st.result;
				snprintf(dst, sizeof(q->st.result), "%s", s);
			}
			break;
		}
	}
	if (r < 0)
		q->failed = true;
	/* sd-bus holds its own reference while it dispatches to us. */
	c->slot = sd_bus_slot_unref(c->slot);
	if (--q->pending == 0)
		query_finish(q);
	return 0;
}

static bool endswith(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && streq(s + a - b, suffix);
}

int unitbus_query(struct unitbus *b, const char *unit, unitbus_fn fn, void *userdata)
{
	if (!unit || !*unit || strlen(unit) >= sizeof(((struct query *)0)->unit) ||
	    !strchr(unit, '.'))
		return -EINVAL;
	if (b->nqueries >= MAX_QUERIES)
		return -EBUSY;
	int r = ensure_bus(b);
	if (r < 0)
		return r;

	char *path = NULL;
	r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path);
	if (r < 0)
		return r;

	/* Result lives on the type's own interface; NRestarts only on services. */
	static const char unit_if[] = "org.freedesktop.systemd1.Unit";
	const char *result_if = endswith(unit, ".service") ? "org.freedesktop.systemd1.Service"
				: endswith(unit, ".scope") ? "org.freedesktop.systemd1.Scope"
							   : NULL;
	const struct {
		enum prop prop;
		const char *iface, *name;
	} props[] = {
	    {PROP_ACTIVE_STATE, unit_if, "ActiveState"},
	    {PROP_SUB_STATE, unit_if, "SubState"},
	    {PROP_RESULT, result_if, "Result"},
	    {PROP_NRESTARTS, endswith(unit, ".service") ? result_if : NULL, "NRestarts"},
	    {PROP_EXIT_TS, endswith(unit, ".service") ? result_if : NULL, "ExecMainExitTimestamp"},
	};

	struct query *q = xcalloc(1, sizeof(*q));
	q->b = b;
	q->fn = fn;
	q->userdata = userdata;
	memcpy(q->unit, unit, strlen(unit) + 1);
	for (size_t i = 0; i < ARRAY_SIZE(props); i++) {
		if (!props[i].iface)
			continue;
		struct call *c = &q->calls[q->pending];
		c->q = q;
		c->prop = props[i].prop;
		r = sd_bus_call_method_async(b->bus, &c->slot, "org.freedesktop.systemd1", path,
					     "org.freedesktop.DBus.Properties", "Get", on_reply, c,
					     "ss", props[i].iface, props[i].name);
		if (r < 0)
			break;
		q->pending++;
	}
	free(path);
	if (r < 0) {
		drop_slots(q);
		free(q);
		return r == -ENOMEM ? r : -ENOTCONN;
	}
	list_append(&b->queries, &q->link);
	b->nqueries++;
	return 0;
}

struct unitbus *unitbus_new(struct ev_loop *loop, const char *address)
{
	struct unitbus *b = xcalloc(1, sizeof(*b));
	b->loop = loop;
	b->address = address ? xstrdup(address) : NULL;
	list_init(&b->queries);
	ev_io_init(&b->io, io_cb, -1, 0);
	ev_timer_init(&b->timer, timer_cb, 0.0, 0.0);
	ev_prepare_init(&b->prepare, prepare_cb);
	return b;
}

void unitbus_free(struct unitbus *b)
{
	if (!b)
		return;
	ev_io_stop(b->loop, &b->io);
	ev_timer_stop(b->loop, &b->timer);
	ev_prepare_stop(b->loop, &b->prepare);
	list_for_each_safe(q, &b->queries, struct query, link)
	{
		drop_slots(q);
		free(q);
	}
	sd_bus_close_unref(b->bus);
	free(b->address);
	free(b);
}

void unitbus_apply(const struct unitbus_state *st, struct host_listener *l)
{
	if (!st) {
		l->unit_known = false;
		l->active_state[0] = l->sub_state[0] = l->result[0] = '\0';
		l->nrestarts = 0;
		l->unit_exit_ms = 0;
		return;
	}
	_Static_assert(sizeof(l->active_state) == sizeof(st->active_state), "sizes");
	_Static_assert(sizeof(l->sub_state) == sizeof(st->sub_state), "sizes");
	_Static_assert(sizeof(l->result) == sizeof(st->result), "sizes");
	memcpy(l->active_state, st->active_state, sizeof(l->active_state));
	memcpy(l->sub_state, st->sub_state, sizeof(l->sub_state));
	memcpy(l->result, st->result, sizeof(l->result));
	l->nrestarts = st->nrestarts;
	l->unit_exit_ms = (int64_t)(st->exit_usec / 1000);
	l->unit_known = true;
}
