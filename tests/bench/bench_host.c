/* bench_host: what one host_tcp_listener / host_unix_listener /
 * host_tcp_conns call costs (they run synchronously in the loop), with N
 * extra listening TCP and N unix sockets held by this process:
 * bench_host [N] (default 2000). Prints ms per call for the netlink path and
 * the /proc fallback, uncached (snapshot TTL 0) as the worst case. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "host/host.h"
#include "core/util.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned listen_loopback(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(in);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, len) < 0 || listen(fd, 1) < 0) {
		perror("listen");
		exit(1);
	}
	getsockname(fd, (struct sockaddr *)&in, &len);
	return ntohs(in.sin_port);
}

static int unix_listen(const char *dir, int i)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%d.sock", dir, i);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 1) < 0) {
		perror("unix listen");
		exit(1);
	}
	return fd;
}

static void bench_unix(struct host *h, const char *what, const char *path, int rounds)
{
	struct host_listener l;
	double t0 = now_s();
	for (int i = 0; i < rounds; i++)
		host_unix_listener(h, path, &l);
	double per = (now_s() - t0) * 1000.0 / rounds;
	printf("%-28s %8.3f ms/call (listening=%d path=%s)\n", what, per, l.listening,
	       host_path_name(l.path) ? host_path_name(l.path) : "?");
}

static void bench(struct host *h, const char *what, const struct peerkey *k, int rounds)
{
	struct host_listener l;
	double t0 = now_s();
	for (int i = 0; i < rounds; i++)
		host_tcp_listener(h, k, &l);
	double per = (now_s() - t0) * 1000.0 / rounds;
	printf("%-28s %8.3f ms/call (listening=%d pid=%d)\n", what, per, l.listening, (int)l.pid);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	struct rlimit rl = {(rlim_t)2 * n + 64, (rlim_t)2 * n + 64};
	setrlimit(RLIMIT_NOFILE, &rl);
	unsigned port = 0;
	for (int i = 0; i < n; i++)
		port = listen_loopback();
	char key[64];
	snprintf(key, sizeof(key), "127.0.0.1:%u", port);
	struct peerkey k;
	peerkey_parse(key, strlen(key), 0, &k);
	struct host *h;
	if (host_new(&h) < 0)
		return 1;
	printf("%d listening sockets held by this process\n", n);
	bench(h, "netlink sock_diag", &k, 20);
	host_disable_netlink(h, true);
	bench(h, "/proc/net/tcp fallback", &k, 20);
	host_disable_netlink(h, false);
	char dir[] = "/tmp/bench-host-XXXXXX", path[128];
	if (!mkdtemp(dir))
		return 1;
	for (int i = 0; i < n; i++)
		unix_listen(dir, i);
	snprintf(path, sizeof(path), "%s/%d.sock", dir, n - 1);
	bench_unix(h, "unix_diag", path, 20);
	host_disable_netlink(h, true);
	bench_unix(h, "/proc/net/unix fallback", path, 20);
	host_disable_netlink(h, false);
	struct host_listener c = {0};
	double tc = now_s();
	for (int i = 0; i < 20; i++)
		host_tcp_conns(h, &k, &c);
	printf("%-28s %8.3f ms/call (time_wait=%u established=%u)\n", "tcp_conns (filtered dump)",
	       (now_s() - tc) * 1000.0 / 20, c.time_wait, c.established);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%d.sock", dir, i);
		unlink(path);
	}
	rmdir(dir);
	unsigned ports[16];
	double t0 = now_s();
	int np = host_tcp_ports_nearby(h, &k, ports, 16);
	printf("%-28s %8.3f ms/call (%d ports)\n", "ports_nearby", (now_s() - t0) * 1000.0, np);
	host_free(h);
	return 0;
}
