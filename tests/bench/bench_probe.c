/* bench_probe: what active probing costs.
 *
 * 1. TCP: N peers (default 10,000: 127.0.0.2..127.0.0.11 x 1000 listening
 *    ports, served by a forked child that accepts and closes) probed every
 *    second for D seconds (default 60). Prints the prober's CPU (getrusage,
 *    all threads, after a warm-up second) and memory (VmRSS, VmHWM).
 *    Targets: <= 25% of one core, RSS < 16 MB.
 * 2. HTTP: probes per second on one core (this process pinned to CPU 0)
 *    against a local HTTP server (a forked epoll server on the other CPU,
 *    or --http-port PORT for one already running), and beside it the same
 *    server measured with `curl -K` doing M sequential requests, each on a
 *    fresh connection, pinned to the same core.
 *
 * usage: bench_probe [--duration S] [--peers N] [--http-seconds S]
 *                    [--http-port PORT] [--curl-requests M] [--skip-tcp] [--skip-http]
 * Loopback only. Not part of the test suite. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/peerkey.h"
#include "output/json.h"
#include "probe/probe.h"
#include "core/util.h"

#define NADDRS	10
#define TCP_CAP 256 /* in-flight cap, as the daemon would set it */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static long status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void raise_nofile(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int listen_on(const char *ip, unsigned port, int backlog, unsigned *ret_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof(sin);
	int one = 1;
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, ip, &sin.sin_addr);
	if (bind(fd, (struct sockaddr *)&sin, len) < 0 || listen(fd, backlog) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*ret_port = ntohs(sin.sin_port);
	return fd;
}

/* ---- servers (children) ---- */

/* Accept and close on every listening socket, forever. */
static void accept_server(const int *fds, size_t n)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	for (size_t i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	for (;;) {
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < k; i++) {
			int c;
			while ((c = accept4(evs[i].data.fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
				close(c);
		}
	}
}

/* A minimal non-blocking HTTP server: read to the blank line, answer 200,
 * close. Enough to measure the client side. */
static void http_server(int lfd)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				   "Connection: close\r\n\r\nok";
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < k; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL,
						    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				continue;
			}
			char buf[4096];
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r > 0 && memmem(buf, (size_t)r, "\r\n\r\n", 4)) {
				if (write(fd, resp, sizeof(resp) - 1) < 0)
					r = -1;
				shutdown(fd, SHUT_WR);
				close(fd);
			} else if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
				close(fd);
			}
		}
	}
}

static pid_t fork_child(int cpu)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cpu >= 0)
			pin_cpu(cpu);
	}
	return pid;
}

static void stop_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* ---- probing ---- */

struct counter {
	uint64_t done, ok, lat_sum, lat_max;
};

static void count_cb(void *userdata, const char *key, const struct probe_result *r,
		     enum peer_state state)
{
	struct counter *c = userdata;
	c->done++;
	c->lat_sum += r->latency_ms;
	c->lat_max = MAX(c->lat_max, r->latency_ms);
	if (r->result == PROBE_OK)
		c->ok++;
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void run_loop(struct ev_loop *loop, double seconds)
{
	ev_timer t;
	ev_timer_init(&t, stop_cb, seconds, 0);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

static void print_stats(struct prober *p)
{
	cJSON *st = cJSON_CreateObject();
	json_prober_stats(p, st);
	char *s = cJSON_PrintUnformatted(st);
	printf("  stats: %s\n", s);
	free(s);
	cJSON_Delete(st);
}

/* The kernel's share, measured the same way: the same connects at the same
 * rate from a bare loop (connect, epoll until writable, SO_ERROR, reset), no
 * scheduler and no bookkeeping; with a fresh socket per connect (close with
 * RST) or one reused socket (connect(AF_UNSPEC)), as the prober does. */
static void raw_connect_floor(const struct sockaddr_in *addrs, unsigned n, double seconds,
			      bool reuse)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	unsigned per_tick = n / 100, next = 0;
	double t0 = now_s(), c0 = cpu_s(), tick = t0;
	uint64_t done = 0;
	int pending = 0, pool[1024], npool = 0;

	while (now_s() - t0 < seconds) {
		for (unsigned i = 0; i < per_tick; i++, next = (next + 1) % n) {
			int fd =
			    reuse && npool > 0
				? pool[--npool]
				: socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (connect(fd, (const struct sockaddr *)&addrs[next],
				    sizeof(addrs[next])) < 0 &&
			    errno != EINPROGRESS) {
				close(fd);
				continue;
			}
			struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			pending++;
		}
		tick += 0.01;
		while (pending > 0 || now_s() < tick) {
			int wait_ms = (int)((tick - now_s()) * 1000);
			struct epoll_event evs[256];
			int k = epoll_wait(ep, evs, 256, wait_ms > 0 ? wait_ms : 0);
			for (int i = 0; i < k; i++) {
				int fd = evs[i].data.fd, err = 0;
				socklen_t len = sizeof(err);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				struct sockaddr unspec = {.sa_family = AF_UNSPEC};
				if (reuse && npool < (int)ARRAY_SIZE(pool) &&
				    connect(fd, &unspec, sizeof(unspec)) == 0) {
					pool[npool++] = fd;
				} else {
					struct linger lg = {1, 0};
					setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
					close(fd);
				}
				pending--;
				done++;
			}
			if (k == 0 && now_s() >= tick)
				break;
		}
	}
	double wall = now_s() - t0;
	while (npool > 0)
		close(pool[--npool]);
	close(ep);
	printf("  reference, bare connect loop at the same rate, %s: %.0f connects/s, CPU %.1f%% "
	       "of one core\n",
	       reuse ? "sockets reused" : "socket per connect", done / wall,
	       100.0 * (cpu_s() - c0) / wall);
}

static int bench_tcp(unsigned npeers, double duration)
{
	unsigned per_addr = (npeers + NADDRS - 1) / NADDRS;
	int *fds = xcalloc(npeers, sizeof(*fds));
	struct sockaddr_in *addrs = xcalloc(npeers, sizeof(*addrs));
	struct probe_target *ts = xcalloc(npeers, sizeof(*ts));
	unsigned n = 0;

	for (unsigned a = 0; a < NADDRS && n < npeers; a++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "127.0.0.%u", a + 2);
		for (unsigned i = 0; i < per_addr && n < npeers; i++) {
			unsigned port;
			int fd = listen_on(ip, 0, 64, &port);
			if (fd < 0) {
				fprintf(stderr, "listen %s: %s (peers so far %u)\n", ip,
					strerror(-fd), n);
				return 1;
			}
			fds[n] = fd;
			addrs[n].sin_family = AF_INET;
			addrs[n].sin_port = htons((uint16_t)port);
			inet_pton(AF_INET, ip, &addrs[n].sin_addr);
			char addr[64];
			snprintf(addr, sizeof(addr), "%s:%u", ip, port);
			struct probe_target *t = &ts[n];
			peerkey_parse(addr, strlen(addr), 0, &t->addr);
			snprintf(t->key, sizeof(t->key), "%s", t->addr.key);
			t->proto = PROBE_PROTO_TCP;
			t->enabled = true;
			t->probed = true;
			t->interval_ms = 1000;
			t->timeout_ms = 1000;
			t->retry_ms = 1000;
			n++;
		}
	}
	pid_t server = fork_child(-1);
	if (server == 0)
		accept_server(fds, n);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	free(fds);

	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct counter c = {0};
	long rss_start = status_kb("VmRSS");
	struct prober *p = NULL;
	if (prober_new(loop, TCP_CAP, count_cb, &c, &p) < 0)
		return 1;
	if (prober_set_targets(p, ts, n) < 0) {
		fprintf(stderr, "set_targets failed\n");
		return 1;
	}
	long rss_before = status_kb("VmRSS");
	/* The caller's target array is transient: the daemon builds it from the
	 * config and frees it, so it is not counted in the steady state. */
	free(ts);

	run_loop(loop, 1.5); /* first runs are spread over one interval */
	double t0 = now_s(), c0 = cpu_s();
	uint64_t d0 = c.done;
	run_loop(loop, duration);
	double wall = now_s() - t0, cpu = cpu_s() - c0;
	uint64_t done = c.done - d0;

	printf("TCP: %u peers, interval 1 s, %.0f s measured\n", n, wall);
	printf("  probes: %llu (%.0f/s), ok %llu of %llu total\n", (unsigned long long)done,
	       done / wall, (unsigned long long)c.ok, (unsigned long long)c.done);
	printf("  latency: mean %.1f ms, max %llu ms\n", (double)c.lat_sum / MAX(c.done, 1),
	       (unsigned long long)c.lat_max);
	printf("  CPU: %.1f%% of one core (target <= 25%%)\n", 100.0 * cpu / wall);
	printf("  VmRSS: %.1f MB (target < 16 MB) = RssAnon %.1f MB + RssFile %.1f MB; "
	       "VmHWM: %.1f MB (includes the caller's transient target array)\n",
	       status_kb("VmRSS") / 1024.0, status_kb("RssAnon") / 1024.0,
	       status_kb("RssFile") / 1024.0, status_kb("VmHWM") / 1024.0);
	printf("  (VmRSS %.1f MB with the caller's target array built, %.1f MB after set_targets "
	       "before that array is freed)\n",
	       rss_start / 1024.0, rss_before / 1024.0);
	print_stats(p);
	prober_free(p);
	ev_loop_destroy(loop);
	raw_connect_floor(addrs, n, MIN(duration, 10.0), false);
	raw_connect_floor(addrs, n, MIN(duration, 10.0), true);
	free(addrs);
	stop_child(server);
	return 0;
}

/* `curl -K` with M url/output pairs: sequential, one process, fresh
 * connection per request (Connection: close), pinned to CPU 0. */
static double curl_reference(unsigned port, unsigned m)
{
	char conf[] = "/tmp/bench-probe-curl-XXXXXX";
	int fd = mkstemp(conf);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "silent\nheader = \"Connection: close\"\nnoproxy = \"*\"\n");
	for (unsigned i = 0; i < m; i++)
		fprintf(f, "url = \"http://127.0.0.1:%u/\"\noutput = \"/dev/null\"\n", port);
	fclose(f);
	double t0 = now_s();
	pid_t pid = fork();
	if (pid == 0) {
		pin_cpu(0);
		execlp("curl", "curl", "-K", conf, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	double wall = now_s() - t0;
	unlink(conf);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "curl reference failed (status %d)\n", st);
		return 0;
	}
	return m / wall;
}

static int bench_http(double seconds, unsigned port_arg, unsigned curl_requests)
{
	enum { PEERS = 64 };
	pid_t server = 0;
	unsigned port = port_arg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (!port) {
		int lfd = listen_on("127.0.0.1", 0, 4096, &port);
		if (lfd < 0) {
			fprintf(stderr, "listen: %s\n", strerror(-lfd));
			return 1;
		}
		server = fork_child(ncpu > 1 ? 1 : -1);
		if (server == 0)
			http_server(lfd);
		close(lfd);
	}
	pin_cpu(0);

	struct probe_target ts[PEERS];
	memset(ts, 0, sizeof(ts));
	for (int i = 0; i < PEERS; i++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		peerkey_parse(addr, strlen(addr), 0, &ts[i].addr);
		/* One server, many peers: distinct keys keep them apart. */
		snprintf(ts[i].key, sizeof(ts[i].key), "http-%02d", i);
		ts[i].proto = PROBE_PROTO_HTTP;
		ts[i].enabled = true;
		ts[i].probed = true;
		ts[i].interval_ms = 1; /* re-probe as soon as the last one is done */
		ts[i].timeout_ms = 2000;
	}
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct counter c = {0};
	struct prober *p = NULL;
	if (prober_new(loop, PEERS, count_cb, &c, &p) < 0)
		return 1;
	prober_set_targets(p, ts, PEERS);
	run_loop(loop, 0.5);
	double t0 = now_s(), c0 = cpu_s();
	uint64_t d0 = c.done, ok0 = c.ok;
	run_loop(loop, seconds);
	double wall = now_s() - t0, cpu = cpu_s() - c0;
	uint64_t done = c.done - d0, ok = c.ok - ok0;
	print_stats(p);
	prober_free(p);
	ev_loop_destroy(loop);

	printf("HTTP: %u concurrent peers, one core, %.0f s\n", PEERS, wall);
	printf("  upwatch prober: %.0f probes/s (%llu ok of %llu), CPU %.0f%% of one core "
	       "= %.0f probes per CPU-second\n",
	       done / wall, (unsigned long long)ok, (unsigned long long)done, 100.0 * cpu / wall,
	       cpu > 0 ? done / cpu : 0.0);
	double ref = curl_reference(port, curl_requests);
	printf("  reference, curl -K, %u sequential requests, fresh connections: %.0f requests/s\n",
	       curl_requests, ref);
	if (server)
		stop_child(server);
	return 0;
}

int main(int argc, char **argv)
{
	double duration = 60, http_seconds = 10;
	unsigned peers = 10000, http_port = 0, curl_requests = 2000;
	bool tcp = true, http = true;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (streq(a, "--duration") && v)
			duration = atof(argv[++i]);
		else if (streq(a, "--peers") && v)
			peers = (unsigned)atoi(argv[++i]);
		else if (streq(a, "--http-seconds") && v)
			http_seconds = atof(argv[++i]);
		else if (streq(a, "--http-port") && v)
			http_port = (unsigned)atoi(argv[++i]);
		else if (streq(a, "--curl-requests") && v)
			curl_requests = (unsigned)atoi(argv[++i]);
		else if (streq(a, "--skip-tcp"))
			tcp = false;
		else if (streq(a, "--skip-http"))
			http = false;
		else {
			fprintf(
			    stderr,
			    "usage: %s [--duration S] [--peers N] [--http-seconds S] "
			    "[--http-port PORT] [--curl-requests M] [--skip-tcp] [--skip-http]\n",
			    argv[0]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	printf("VmRSS at start: %.1f MB\n", status_kb("VmRSS") / 1024.0);
	if (tcp && bench_tcp(peers, duration) != 0)
		return 1;
	if (http && bench_http(http_seconds, http_port, curl_requests) != 0)
		return 1;
	return 0;
}
