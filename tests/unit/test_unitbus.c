/* Unit tests for unitbus: a private dbus-daemon with a fake
 * org.freedesktop.systemd1 (served by this test through sd-bus) answers unit
 * properties; the queries must come back through the libev loop, time out
 * when nobody answers, and fail cleanly without a bus. */
#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <systemd/sd-bus.h>

#include "harness.h"
#include "host/host.h"
#include "host/unitbus.h"
#include "output/json.h"
#include "core/util.h"

static const char *UNIT_PREFIX = "/org/freedesktop/systemd1/unit";

/* ---- the fake systemd ---- */

struct fake_unit {
	const char *name, *active, *sub, *result;
	unsigned restarts;
	uint64_t exit_usec;
};

static const struct fake_unit fake_units[] = {
    {"app.service", "active", "running", "success", 0, 0},
    {"crashy.service", "activating", "auto-restart", "exit-code", 7, 1700000000123456},
    {"session-4.scope", "active", "running", "success", 0, 0},
    {"web.socket", "active", "listening", "success", 0, 0},
};

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && streq(s + a - b, suffix);
}

static const struct fake_unit *fake_find(const char *path)
{
	char *name = NULL;
	if (sd_bus_path_decode(path, UNIT_PREFIX, &name) <= 0)
		return NULL;
	const struct fake_unit *u = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(fake_units); i++)
		if (streq(fake_units[i].name, name))
			u = &fake_units[i];
	free(name);
	return u;
}

static int fake_object(sd_bus *bus, const char *path, const char *interface, void *userdata,
		       void **ret_found, sd_bus_error *ret_error)
{
	const struct fake_unit *u = fake_find(path);
	if (!u)
		return 0;
	if (streq(interface, "org.freedesktop.systemd1.Service") &&
	    !has_suffix(u->name, ".service"))
		return 0;
	if (streq(interface, "org.freedesktop.systemd1.Scope") && !has_suffix(u->name, ".scope"))
		return 0;
	*ret_found = (void *)u;
	return 1;
}

static int get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
		      sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	const struct fake_unit *u = userdata;
	const char *v = streq(property, "ActiveState") ? u->active
			: streq(property, "SubState")  ? u->sub
						       : u->result;
	return sd_bus_message_append(reply, "s", v);
}

static int get_restarts(sd_bus *bus, const char *path, const char *interface, const char *property,
			sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	const struct fake_unit *u = userdata;
	return sd_bus_message_append(reply, "u", u->restarts);
}

static int get_exit(sd_bus *bus, const char *path, const char *interface, const char *property,
		    sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	const struct fake_unit *u = userdata;
	return sd_bus_message_append(reply, "t", u->exit_usec);
}

static const sd_bus_vtable unit_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("ActiveState", "s", get_string, 0, 0),
    SD_BUS_PROPERTY("SubState", "s", get_string, 0, 0),
    SD_BUS_VTABLE_END,
};

static const sd_bus_vtable service_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Result", "s", get_string, 0, 0),
    SD_BUS_PROPERTY("NRestarts", "u", get_restarts, 0, 0),
    SD_BUS_PROPERTY("ExecMainExitTimestamp", "t", get_exit, 0, 0),
    SD_BUS_VTABLE_END,
};

static const sd_bus_vtable scope_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Result", "s", get_string, 0, 0),
    SD_BUS_VTABLE_END,
};

static sd_bus *server;
static bool server_paused;
static pid_t dbus_pid;
static char address[320];
static struct ev_loop *loop;
static ev_timer server_timer;

static void server_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	if (server && !server_paused)
		while (sd_bus_process(server, NULL) > 0)
			;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static bool start_bus(void)
{
	const char *daemon = "/usr/bin/dbus-daemon";
	if (access(daemon, X_OK) != 0)
		return false;
	const char *dir = harness_tmpdir();
	char conf[1024];
	snprintf(
	    conf, sizeof(conf),
	    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
	    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	    "<busconfig>\n"
	    "  <listen>unix:path=%.200s/bus</listen>\n"
	    "  <auth>EXTERNAL</auth>\n"
	    "  <policy context=\"default\">\n"
	    "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
	    "    <allow eavesdrop=\"true\"/>\n"
	    "    <allow own=\"*\"/>\n"
	    "  </policy>\n"
	    "</busconfig>\n",
	    dir);
	harness_write(dir, "bus.conf", conf);
	char arg[300], sock[300];
	snprintf(arg, sizeof(arg), "--config-file=%.200s/bus.conf", dir);
	snprintf(sock, sizeof(sock), "%.200s/bus", dir);
	snprintf(address, sizeof(address), "unix:path=%s", sock);
	dbus_pid = fork();
	if (dbus_pid == 0) {
		execl(daemon, daemon, arg, "--nofork", "--nopidfile", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 250 && access(sock, F_OK) != 0; i++)
		sleep_ms(20);
	if (access(sock, F_OK) != 0)
		return false;

	if (sd_bus_new(&server) < 0 || sd_bus_set_address(server, address) < 0 ||
	    sd_bus_set_bus_client(server, 1) < 0 || sd_bus_start(server) < 0)
		return false;
	if (sd_bus_request_name(server, "org.freedesktop.systemd1", 0) < 0)
		return false;
	sd_bus_add_fallback_vtable(server, NULL, UNIT_PREFIX, "org.freedesktop.systemd1.Unit",
				   unit_vtable, fake_object, NULL);
	sd_bus_add_fallback_vtable(server, NULL, UNIT_PREFIX, "org.freedesktop.systemd1.Service",
				   service_vtable, fake_object, NULL);
	sd_bus_add_fallback_vtable(server, NULL, UNIT_PREFIX, "org.freedesktop.systemd1.Scope",
				   scope_vtable, fake_object, NULL);
	ev_timer_init(&server_timer, server_cb, 0.002, 0.002);
	ev_timer_start(loop, &server_timer);
	return true;
}

static void stop_bus(void)
{
	ev_timer_stop(loop, &server_timer);
	server = sd_bus_flush_close_unref(server);
	if (dbus_pid > 0) {
		kill(dbus_pid, SIGTERM);
		waitpid(dbus_pid, NULL, 0);
		dbus_pid = 0;
	}
}

/* ---- the client side ---- */

struct answer {
	int calls;
	bool known;
	char unit[128];
	struct unitbus_state st;
};

static void on_unit(void *userdata, const char *unit, const struct unitbus_state *st)
{
	struct answer *a = userdata;
	a->calls++;
	a->known = st != NULL;
	snprintf(a->unit, sizeof(a->unit), "%s", unit);
	if (st)
		a->st = *st;
}

/* Run the loop until *count reaches want or max_ms passes (the server timer
 * guarantees wakeups). */
static void run_until(const int *count, int want, int64_t max_ms)
{
	int64_t end = now_mono_ms() + max_ms;
	while (*count < want && now_mono_ms() < end)
		ev_run(loop, EVRUN_ONCE);
}

static void test_no_bus_is_not_an_error(void)
{
	struct unitbus *b = unitbus_new(loop, "unix:path=/nonexistent/upwatch/bus");
	struct answer a = {0};
	CHECK_INT(unitbus_query(b, "app.service", on_unit, &a), -ENOTCONN);
	CHECK_INT(unitbus_query(b, "app.service", on_unit, &a), -ENOTCONN);
	CHECK_INT(a.calls, 0);

	struct host_listener l = {.unit_known = true};
	snprintf(l.active_state, sizeof(l.active_state), "active");
	unitbus_apply(NULL, &l);
	CHECK(!l.unit_known);
	CHECK_STR(l.active_state, "");
	unitbus_free(b);
	unitbus_free(NULL);
}

static void test_invalid_names_are_refused(void)
{
	struct unitbus *b = unitbus_new(loop, address);
	struct answer a = {0};
	CHECK_INT(unitbus_query(b, "", on_unit, &a), -EINVAL);
	CHECK_INT(unitbus_query(b, "noextension", on_unit, &a), -EINVAL);
	unitbus_free(b);
}

static void test_service_state_arrives_through_the_loop(void)
{
	struct unitbus *b = unitbus_new(loop, address);
	struct answer a = {0};
	CHECK_INT(unitbus_query(b, "crashy.service", on_unit, &a), 0);
	CHECK_INT(a.calls, 0); /* never from inside the query */
	run_until(&a.calls, 1, 5000);
	CHECK_INT(a.calls, 1);
	CHECK(a.known);
	CHECK_STR(a.unit, "crashy.service");
	CHECK_STR(a.st.active_state, "activating");
	CHECK_STR(a.st.sub_state, "auto-restart");
	CHECK_STR(a.st.result, "exit-code");
	CHECK_INT(a.st.nrestarts, 7);
	CHECK_INT(a.st.exit_usec, 1700000000123456ULL); /* when its main process last exited */

	struct host_listener l = {.listening = true, .pid = 77};
	snprintf(l.unit, sizeof(l.unit), "crashy.service");
	unitbus_apply(&a.st, &l);
	CHECK(l.unit_known);
	CHECK_INT(l.unit_exit_ms, 1700000000123);
	cJSON *o = json_host_listener(&l);
	char *s = cJSON_PrintUnformatted(o);
	CHECK_STR(s, "{\"pid\":77,\"unit\":\"crashy.service\",\"active_state\":\"activating\","
		     "\"sub_state\":\"auto-restart\",\"result\":\"exit-code\",\"restarts\":7}");
	free(s);
	cJSON_Delete(o);

	/* The connection is reused for the next query. */
	struct answer a2 = {0};
	CHECK_INT(unitbus_query(b, "app.service", on_unit, &a2), 0);
	run_until(&a2.calls, 1, 5000);
	CHECK(a2.known);
	CHECK_STR(a2.st.active_state, "active");
	CHECK_STR(a2.st.sub_state, "running");
	CHECK_STR(a2.st.result, "success");
	CHECK_INT(a2.st.nrestarts, 0);
	CHECK_INT(a2.st.exit_usec, 0); /* never exited */
	unitbus_free(b);
}

static void test_scope_and_socket_units(void)
{
	struct unitbus *b = unitbus_new(loop, address);
	struct answer scope = {0}, sock = {0}, missing = {0};
	CHECK_INT(unitbus_query(b, "session-4.scope", on_unit, &scope), 0);
	CHECK_INT(unitbus_query(b, "web.socket", on_unit, &sock), 0);
	CHECK_INT(unitbus_query(b, "nope.service", on_unit, &missing), 0);
	int total = 0;
	int64_t end = now_mono_ms() + 5000;
	while ((total = scope.calls + sock.calls + missing.calls) < 3 && now_mono_ms() < end)
		ev_run(loop, EVRUN_ONCE);
	CHECK_INT(total, 3);
	CHECK(scope.known);
	CHECK_STR(scope.st.active_state, "active");
	CHECK_STR(scope.st.result, "success");
	CHECK(sock.known);
	CHECK_STR(sock.st.sub_state, "listening");
	CHECK_STR(sock.st.result, ""); /* not asked for sockets */
	CHECK_INT(missing.calls, 1);
	CHECK(!missing.known);
	unitbus_free(b);
}

static void test_silent_bus_times_out(void)
{
	struct unitbus *b = unitbus_new(loop, address);
	struct answer a = {0};
	server_paused = true;
	int64_t t0 = now_mono_ms();
	CHECK_INT(unitbus_query(b, "app.service", on_unit, &a), 0);
	run_until(&a.calls, 1, 5000);
	int64_t took = now_mono_ms() - t0;
	CHECK_INT(a.calls, 1);
	CHECK(!a.known);
	CHECK(took >= 900);
	CHECK(took < 3000);
	server_paused = false;
	unitbus_free(b);
}

static void test_too_many_queries_and_free_drops_callbacks(void)
{
	struct unitbus *b = unitbus_new(loop, address);
	struct answer a = {0};
	server_paused = true;
	for (int i = 0; i < 24; i++) /* 120 calls: below dbus-daemon's 128 pending replies */
		CHECK_INT(unitbus_query(b, "app.service", on_unit, &a), 0);
	CHECK_INT(unitbus_query(b, "app.service", on_unit, &a), -EBUSY);
	for (int i = 0; i < 5; i++)
		ev_run(loop, EVRUN_ONCE);
	unitbus_free(b); /* in flight: dropped without callbacks */
	CHECK_INT(a.calls, 0);
	server_paused = false;
	for (int i = 0; i < 5; i++)
		ev_run(loop, EVRUN_ONCE);
	CHECK_INT(a.calls, 0);
}

static void test_lost_bus_fails_queries(void)
{
	struct unitbus *b = unitbus_new(loop, address);
	struct answer a = {0}, first = {0};
	CHECK_INT(unitbus_query(b, "app.service", on_unit, &first), 0);
	run_until(&first.calls, 1, 5000);
	CHECK(first.known);
	server_paused = true;
	CHECK_INT(unitbus_query(b, "app.service", on_unit, &a), 0);
	for (int i = 0; i < 3; i++)
		ev_run(loop, EVRUN_NOWAIT);
	kill(dbus_pid, SIGKILL);
	waitpid(dbus_pid, NULL, 0);
	dbus_pid = 0;
	int64_t t0 = now_mono_ms();
	run_until(&a.calls, 1, 5000);
	CHECK_INT(a.calls, 1);
	CHECK(!a.known);
	CHECK(now_mono_ms() - t0 < 900); /* the hang-up, not the timeout */
	/* No reconnect storm: the next query is refused at once. */
	CHECK_INT(unitbus_query(b, "app.service", on_unit, &a), -ENOTCONN);
	unitbus_free(b);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(0);
	RUN(test_no_bus_is_not_an_error);
	if (!start_bus()) {
		harness_current = "the private-bus tests";
		harness_skip("no dbus-daemon to run a private bus");
		stop_bus();
		return harness_result();
	}
	RUN(test_invalid_names_are_refused);
	RUN(test_service_state_arrives_through_the_loop);
	RUN(test_scope_and_socket_units);
	RUN(test_silent_bus_times_out);
	RUN(test_too_many_queries_and_free_drops_callbacks);
	RUN(test_lost_bus_fails_queries);
	stop_bus();
	return harness_result();
}
