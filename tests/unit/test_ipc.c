/* Unit tests for ipc: request validation, limits, ordering, slow subscribers,
 * hostile clients and descriptor exhaustion. The server runs in this
 * process's loop; clients are forked children that use plain blocking
 * sockets and report through their exit status. Nothing waits on a clock to
 * synchronise: children block on their sockets, the server publishes once
 * both subscribers are in. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ev.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "output/ipc.h"
#include "core/util.h"

static char sock_path[256];
static struct ipc *server;
static struct ev_loop *loop;
static int subscribers;
static ev_timer pub;

struct later {
	ev_timer t;
	struct ipc_client *c;
};

static void later_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct later *lt = container_of(w, struct later, t);
	cJSON *o = cJSON_CreateObject();
	(void)l;
	(void)revents;
	cJSON_AddTrueToObject(o, "ok");
	cJSON_AddStringToObject(o, "said", "later");
	ipc_reply(lt->c, o);
	ipc_client_unref(lt->c);
	free(lt);
}

static void handler(void *ud, struct ipc_client *c, const char *cmd, const cJSON *req)
{
	(void)ud;
	(void)req;
	if (streq(cmd, "echo")) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "ok");
		cJSON_AddStringToObject(o, "said", "now");
		ipc_reply(c, o);
	} else if (streq(cmd, "later")) {
		struct later *lt = xcalloc(1, sizeof(*lt));
		lt->c = ipc_client_ref(c);
		ev_timer_init(&lt->t, later_cb, 0, 0); /* answered from the next iteration */
		ev_timer_start(loop, &lt->t);
	} else if (streq(cmd, "subscribe")) {
		ipc_subscribe(c);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "ok");
		ipc_reply(c, o);
		if (++subscribers == 2)
			ev_timer_start(loop, &pub);
	} else if (streq(cmd, "big")) {
		/* one answer three times the output cap */
		size_t n = 3 * IPC_OUTPUT_MAX;
		char *pad = xmalloc(n + 1);
		memset(pad, 'b', n);
		pad[n] = '\0';
		cJSON *o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "ok");
		cJSON_AddStringToObject(o, "pad", pad);
		free(pad);
		ipc_reply(c, o);
	} else if (streq(cmd, "bytes")) {
		/* strings as they come from logs: invalid UTF-8, controls */
		cJSON *o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "ok");
		cJSON_AddStringToObject(o, "req", "GET /caf\xe9\xff \xc3\xa9");
		cJSON_AddStringToObject(o, "path", "/run/app/\x1b]0;PWNED\x07\x1b[2J.sock");
		ipc_reply(c, o);
	} else {
		ipc_reply_error(c, "unknown command \"%s\"", cmd);
	}
}

/* --- client side (children) --- */

static int client_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(90);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read until n newlines (or EOF) into buf. */
static size_t read_lines(int fd, char *buf, size_t cap, int n)
{
	size_t len = 0;
	while (len < cap - 1) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		int seen = 0;
		for (size_t i = 0; i < len; i++)
			seen += buf[i] == '\n';
		if (seen >= n)
			break;
	}
	buf[len] = '\0';
	return len;
}

static void child_validation(void)
{
	int fd = client_connect();
	const char *req =
	    "garbage\n[1,2]\n{\"x\":1}\n{\"cmd\":5}\n{\"cmd\":\"nope\"}\n\n{\"cmd\":\"later\"}\n"
	    "{\"cmd\":\"echo\"}\n";
	if (write(fd, req, strlen(req)) < 0)
		_exit(91);
	char buf[4096];
	read_lines(fd, buf, sizeof(buf), 7);
	const char *want = "{\"ok\":false,\"error\":\"malformed JSON\"}\n"
			   "{\"ok\":false,\"error\":\"request must be a JSON object\"}\n"
			   "{\"ok\":false,\"error\":\"missing \\\"cmd\\\"\"}\n"
			   "{\"ok\":false,\"error\":\"\\\"cmd\\\" must be a string\"}\n"
			   "{\"ok\":false,\"error\":\"unknown command \\\"nope\\\"\"}\n"
			   "{\"ok\":true,\"said\":\"later\"}\n"
			   "{\"ok\":true,\"said\":\"now\"}\n";
	if (strcmp(buf, want) != 0) {
		fprintf(stderr, "got:\n%s", buf);
		_exit(1);
	}
	_exit(0);
}

static void child_oversized(void)
{
	int fd = client_connect();
	size_t n = IPC_LINE_MAX + 100;
	char *big = xmalloc(n);
	memset(big, 'a', n);
	ssize_t w = write(fd, big, n); /* the server may close before it read it all */
	(void)w;
	char buf[512];
	read_lines(fd, buf, sizeof(buf), 1);
	if (strcmp(buf, "{\"ok\":false,\"error\":\"request line longer than 65536 bytes\"}\n") != 0)
		_exit(1);
	if (read(fd, buf, sizeof(buf)) > 0) /* then the connection is closed (EOF or reset) */
		_exit(2);
	_exit(0);
}

static void child_lazy_subscriber(void)
{
	int fd = client_connect();
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (write(fd, "{\"cmd\":\"subscribe\"}\n", 20) < 0)
		_exit(91);
	/* never reads; waits until the server hangs up on it */
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	int r = poll(&p, 1, 20000);
	_exit(r == 1 && (p.revents & (POLLRDHUP | POLLHUP)) ? 0 : 1);
}

static void child_reader_subscriber(void)
{
	int fd = client_connect();
	if (write(fd, "{\"cmd\":\"subscribe\"}\n", 20) < 0)
		_exit(91);
	char buf[65536];
	size_t total = 0;
	ssize_t r;
	while (total < 3 * 1024 * 1024 && (r = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)r;
	_exit(total >= 3 * 1024 * 1024 ? 0 : 1);
}

/* Connect n sockets, then read one line from the last. */
static void child_over_the_cap(void)
{
	int fds[3];
	char buf[512];
	for (int i = 0; i < 3; i++)
		fds[i] = client_connect();
	read_lines(fds[2], buf, sizeof(buf), 1);
	if (strcmp(buf, "{\"ok\":false,\"error\":\"too many clients, try again later\"}\n") != 0) {
		fprintf(stderr, "third client got: %s\n", buf);
		_exit(1);
	}
	if (read(fds[2], buf, sizeof(buf)) != 0)
		_exit(2);
	/* the first two are served */
	for (int i = 0; i < 2; i++) {
		if (write(fds[i], "{\"cmd\":\"echo\"}\n", 15) < 0)
			_exit(91);
		read_lines(fds[i], buf, sizeof(buf), 1);
		if (strcmp(buf, "{\"ok\":true,\"said\":\"now\"}\n") != 0)
			_exit(3);
	}
	_exit(0);
}

static void child_never_finishes_a_line(void)
{
	int fd = client_connect();
	char buf[512];
	if (write(fd, "{\"cmd\":", 7) < 0)
		_exit(91);
	read_lines(fd, buf, sizeof(buf), 1);
	if (strcmp(buf, "{\"ok\":false,\"error\":\"idle for too long\"}\n") != 0) {
		fprintf(stderr, "idle client got: %s\n", buf);
		_exit(1);
	}
	_exit(read(fd, buf, sizeof(buf)) == 0 ? 0 : 2);
}

static void child_big_reader(void)
{
	int fd = client_connect();
	if (write(fd, "{\"cmd\":\"big\"}\n{\"cmd\":\"echo\"}\n", 30) < 0)
		_exit(91);
	size_t cap = 4 * IPC_OUTPUT_MAX;
	char *buf = xmalloc(cap);
	size_t len = read_lines(fd, buf, cap, 2);
	const char *tail = "\"}\n{\"ok\":true,\"said\":\"now\"}\n";
	size_t want = strlen("{\"ok\":true,\"pad\":\"") + 3 * IPC_OUTPUT_MAX + strlen(tail);
	if (len != want || strcmp(buf + len - strlen(tail), tail) != 0) {
		fprintf(stderr, "big reply: %zu bytes, expected %zu\n", len, want);
		_exit(1);
	}
	_exit(0);
}

static void child_bytes(void)
{
	int fd = client_connect();
	char buf[512];
	if (write(fd, "{\"cmd\":\"bytes\"}\n", 16) < 0)
		_exit(91);
	read_lines(fd, buf, sizeof(buf), 1);
	const char *want = "{\"ok\":true,\"req\":\"GET /caf\\ufffd\\ufffd \xc3\xa9\","
			   "\"path\":\"/run/app/\\u001b]0;PWNED\\u0007\\u001b[2J.sock\"}\n";
	if (strcmp(buf, want) != 0) {
		fprintf(stderr, "got: %s\n", buf);
		_exit(1);
	}
	_exit(0);
}

/* Run with the server out of descriptors: every client gets the refusal. */
static void child_out_of_fds(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max; /* the child's own sockets are not the point */
	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < 5; i++) {
		int fd = client_connect();
		char buf[512];
		/* the refusal may come (and the socket close) before we write */
		ssize_t w = write(fd, "{\"cmd\":\"echo\"}\n", 15);
		(void)w;
		read_lines(fd, buf, sizeof(buf), 1);
		if (strcmp(buf, "{\"ok\":false,\"error\":\"upwatchd is out of file "
				"descriptors, try again later\"}\n") != 0) {
			fprintf(stderr, "client %d got: %s\n", i, buf);
			_exit(1);
		}
		close(fd);
	}
	_exit(0);
}

/* --- server side --- */

static int children_left;
static int failures_in_children;

static void child_cb(struct ev_loop *l, ev_child *w, int revents)
{
	(void)revents;
	if (!WIFEXITED(w->rstatus) || WEXITSTATUS(w->rstatus) != 0) {
		fprintf(stderr, "child %d failed: status %d\n", w->rpid, w->rstatus);
		failures_in_children++;
	}
	ev_child_stop(l, w);
	if (--children_left == 0)
		ev_break(l, EVBREAK_ALL);
}

static ev_child children[8];

static void spawn(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0)
		fn();
	ev_child_init(&children[children_left], child_cb, pid, 0);
	ev_child_start(loop, &children[children_left]);
	children_left++;
}

static void publish_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	static int rounds;
	(void)revents;
	cJSON *o = cJSON_CreateObject();
	char pad[1000];
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	cJSON_AddStringToObject(o, "pad", pad);
	for (int i = 0; i < 200; i++)
		ipc_publish(server, o);
	cJSON_Delete(o);
	if (++rounds == 20)
		ev_timer_stop(l, w);
}

static void run_children(void (*fns[])(void), size_t n)
{
	failures_in_children = 0;
	for (size_t i = 0; i < n; i++)
		spawn(fns[i]);
	ev_run(loop, 0);
	ev_timer_stop(loop, &pub);
}

static void test_malformed_requests_get_error_lines_in_order(void)
{
	void (*fns[])(void) = {child_validation};
	run_children(fns, 1);
	CHECK_INT(failures_in_children, 0);
}

static void test_oversized_line_is_refused_and_closed(void)
{
	void (*fns[])(void) = {child_oversized};
	run_children(fns, 1);
	CHECK_INT(failures_in_children, 0);
}

static uint64_t dropped(void)
{
	struct ipc_stats st;
	ipc_get_stats(server, &st);
	return st.dropped;
}

static void test_subscriber_that_never_reads_is_cut_off(void)
{
	void (*fns[])(void) = {child_lazy_subscriber, child_reader_subscriber};
	run_children(fns, 2);
	CHECK_INT(failures_in_children, 0);
	CHECK_INT(dropped(), 1);
}

static void test_large_reply_to_a_reader_is_sent_whole(void)
{
	void (*fns[])(void) = {child_big_reader};
	run_children(fns, 1);
	CHECK_INT(failures_in_children, 0);
	CHECK_INT(dropped(), 1); /* unchanged */
}

static void test_replies_are_valid_utf8_with_controls_escaped(void)
{
	void (*fns[])(void) = {child_bytes};
	run_children(fns, 1);
	CHECK_INT(failures_in_children, 0);
}

static void test_clients_over_the_cap_get_an_error_line(void)
{
	struct ipc_stats before, after;
	ipc_get_stats(server, &before);
	ipc_set_limits(server, 2, IPC_IDLE_MS);
	void (*fns[])(void) = {child_over_the_cap};
	run_children(fns, 1);
	ipc_set_limits(server, IPC_CLIENTS_MAX, IPC_IDLE_MS);
	CHECK_INT(failures_in_children, 0);
	ipc_get_stats(server, &after);
	CHECK_INT(after.refused - before.refused, 1);
}

static void test_client_that_never_finishes_a_line_is_cut_off(void)
{
	ipc_set_limits(server, IPC_CLIENTS_MAX, 100);
	void (*fns[])(void) = {child_never_finishes_a_line};
	run_children(fns, 1);
	ipc_set_limits(server, IPC_CLIENTS_MAX, IPC_IDLE_MS);
	CHECK_INT(failures_in_children, 0);
}

/* The soft descriptor limit is lowered to the descriptors in use, so every
 * accept() fails with EMFILE: each waiting client is taken with the reserve
 * descriptor and refused, once per failure (no spinning on a connection
 * that stays queued). */
static void test_out_of_descriptors_refuses_clients_without_spinning(void)
{
	struct rlimit saved, low;
	struct ipc_stats before, after;
	getrlimit(RLIMIT_NOFILE, &saved);
	int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	close(probe);
	ipc_get_stats(server, &before);
	low = saved;
	low.rlim_cur = (rlim_t)probe; /* no descriptor above those open now */
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	void (*fns[])(void) = {child_out_of_fds};
	run_children(fns, 1);
	setrlimit(RLIMIT_NOFILE, &saved);
	CHECK_INT(failures_in_children, 0);
	ipc_get_stats(server, &after);
	CHECK_INT(after.accept_errors - before.accept_errors, 5);
	CHECK_INT(after.clients, 0);
}

int main(void)
{
	snprintf(sock_path, sizeof(sock_path), "%s/sub/dir/ipc.sock", harness_tmpdir());
	loop = ev_default_loop(0);
	signal(SIGPIPE, SIG_IGN);
	ev_timer_init(&pub, publish_cb, 0, 0.01);
	CHECK_INT(ipc_new(loop, sock_path, handler, NULL, &server), 0);
	if (!server)
		return harness_result();
	CHECK(access(sock_path, F_OK) == 0);

	RUN(test_malformed_requests_get_error_lines_in_order);
	RUN(test_oversized_line_is_refused_and_closed);
	RUN(test_subscriber_that_never_reads_is_cut_off);
	RUN(test_large_reply_to_a_reader_is_sent_whole);
	RUN(test_replies_are_valid_utf8_with_controls_escaped);
	RUN(test_clients_over_the_cap_get_an_error_line);
	RUN(test_client_that_never_finishes_a_line_is_cut_off);
	RUN(test_out_of_descriptors_refuses_clients_without_spinning);

	ipc_free(server);
	CHECK(access(sock_path, F_OK) != 0); /* the socket file is removed */
	return harness_result();
}
