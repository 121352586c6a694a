/* Unit tests for ipc: request validation, limits, ordering, slow subscribers.
 * The server runs in this process's loop; clients are forked children that
 * use plain blocking sockets and report through their exit status. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "output/ipc.h"
#include "core/util.h"

static char sock_path[256];
static struct ipc *server;
static struct ev_loop *loop;

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
		ev_timer_init(&lt->t, later_cb, 0.05, 0);
		ev_timer_start(loop, &lt->t);
	} else if (streq(cmd, "subscribe")) {
		ipc_subscribe(c);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "ok");
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
	sleep(3); /* never reads */
	_exit(0);
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

static void run_children(void (*fns[])(void), size_t n, bool publish)
{
	ev_timer pub;
	for (size_t i = 0; i < n; i++)
		spawn(fns[i]);
	if (publish) {
		ev_timer_init(&pub, publish_cb, 0.3, 0.05);
		ev_timer_start(loop, &pub);
	}
	ev_run(loop, 0);
	if (publish)
		ev_timer_stop(loop, &pub);
}

static void test_malformed_requests_get_error_lines_in_order(void)
{
	void (*fns[])(void) = {child_validation};
	run_children(fns, 1, false);
	CHECK_INT(failures_in_children, 0);
}

static void test_oversized_line_is_refused_and_closed(void)
{
	failures_in_children = 0;
	void (*fns[])(void) = {child_oversized};
	run_children(fns, 1, false);
	CHECK_INT(failures_in_children, 0);
}

static void test_subscriber_that_never_reads_is_cut_off(void)
{
	failures_in_children = 0;
	void (*fns[])(void) = {child_lazy_subscriber, child_reader_subscriber};
	run_children(fns, 2, true);
	CHECK_INT(failures_in_children, 0);
	CHECK_INT(ipc_dropped(server), 1);
}

int main(void)
{
	snprintf(sock_path, sizeof(sock_path), "%s/sub/dir/ipc.sock", harness_tmpdir());
	loop = ev_default_loop(0);
	signal(SIGPIPE, SIG_IGN);
	CHECK_INT(ipc_new(loop, sock_path, handler, NULL, &server), 0);
	if (!server)
		return harness_result();
	CHECK(access(sock_path, F_OK) == 0);

	RUN(test_malformed_requests_get_error_lines_in_order);
	RUN(test_oversized_line_is_refused_and_closed);
	RUN(test_subscriber_that_never_reads_is_cut_off);

	ipc_free(server);
	CHECK(access(sock_path, F_OK) != 0); /* the socket file is removed */
	return harness_result();
}
