/* Unit tests for host: the test process listens itself and must be found as
 * the listener, by netlink and by the /proc fallback; a real nginx (when
 * installed) gives the worker credentials. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "host/host.h"
#include "host/ngxworker.h"
#include "host/procfs.h"
#include "host/sockdiag.h"
#include "output/json.h"
#include "core/util.h"

static char self_comm[64];
static struct host *H;

/* A listening (or, with backlog < 0, only bound) socket on ip:0; the kernel's port. */
static int tcp_socket(int family, const char *ip, int backlog, bool v6only, unsigned *ret_port)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &in->sin_addr);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &in6->sin6_addr);
		len = sizeof(*in6);
		int on = v6only;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (backlog >= 0 && listen(fd, backlog) < 0)) {
		perror("bind/listen");
		exit(2);
	}
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*ret_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* Bind the other family's wildcard on port (bound, not listening, no
 * SO_REUSEADDR), so that no other process on the host can listen there while
 * a test asserts that nobody does. -1 when the port is taken there. */
static int hold_other_family(int family, unsigned port)
{
	int other = family == AF_INET ? AF_INET6 : AF_INET;
	int fd = socket(other, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (other == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		*in =
		    (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		*in6 = (struct sockaddr_in6){.sin6_family = AF_INET6,
					     .sin6_port = htons((uint16_t)port)};
		len = sizeof(*in6);
		int on = 1;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A listener on ip:0 whose port number is also held in the other family
 * (hold_other_family), so "the other family does not listen" is a fact
 * about this test only, not about the other programs on the host. */
static int tcp_socket_held(int family, const char *ip, bool v6only, unsigned *ret_port,
			   int *ret_hold)
{
	for (int i = 0; i < 64; i++) {
		int fd = tcp_socket(family, ip, 8, v6only, ret_port);
		*ret_hold = hold_other_family(family, *ret_port);
		if (*ret_hold >= 0)
			return fd;
		close(fd);
	}
	fprintf(stderr, "no port free in both families\n");
	exit(2);
}

static struct peerkey key(const char *s)
{
	struct peerkey k;
	if (peerkey_parse(s, strlen(s), 0, &k) < 0) {
		fprintf(stderr, "bad key %s\n", s);
		exit(2);
	}
	return k;
}

static struct peerkey keyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct peerkey keyf(const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return key(buf);
}

static void expect_self(const struct host_listener *l)
{
	CHECK(l->listening);
	CHECK_INT(l->pid, getpid());
	CHECK_STR(l->process, self_comm);
	int64_t now = now_wall_ms();
	CHECK(l->started_ms > now - 120000);
	CHECK(l->started_ms <= now + 20);
}

static void test_tcp_listener_is_this_process(void)
{
	unsigned port;
	int fd = tcp_socket(AF_INET, "127.0.0.1", 8, false, &port);
	struct peerkey k = keyf("127.0.0.1:%u", port);
	struct host_listener l;
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	expect_self(&l);
	close(fd);
	/* Closed: nobody listens any more. */
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	CHECK(!l.listening);
	CHECK_INT(l.pid, 0);
}

static void test_tcp_listener_found_by_proc_fallback(void)
{
	unsigned port4, port6;
	int fd4 = tcp_socket(AF_INET, "127.0.0.1", 8, false, &port4);
	int fd6 = tcp_socket(AF_INET6, "::1", 8, true, &port6);
	host_disable_netlink(H, true);
	struct peerkey k4 = keyf("127.0.0.1:%u", port4), k6 = keyf("[::1]:%u", port6);
	struct host_listener l;
	CHECK_INT(host_tcp_listener(H, &k4, &l), 0);
	expect_self(&l);
	CHECK_INT(host_tcp_listener(H, &k6, &l), 0);
	expect_self(&l);
	struct peerkey other = keyf("127.0.0.2:%u", port4);
	CHECK_INT(host_tcp_listener(H, &other, &l), 0);
	CHECK(!l.listening);
	/* /proc/net/tcp has inode and uid, not the accept queue: it says so. */
	CHECK_INT(host_tcp_listener(H, &k4, &l), 0);
	CHECK(!l.queue_known);
	CHECK_INT(l.hidden, HOST_HIDDEN_QUEUE);
	CHECK_INT(l.uid, geteuid());
	host_disable_netlink(H, false);
	close(fd4);
	close(fd6);
}

static void test_tcp6_loopback_listener(void)
{
	unsigned port;
	int hold, fd = tcp_socket_held(AF_INET6, "::1", true, &port, &hold);
	struct peerkey k = keyf("[::1]:%u", port);
	struct host_listener l;
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	expect_self(&l);
	/* A ::1 listener does not answer 127.0.0.1. */
	struct peerkey k4 = keyf("127.0.0.1:%u", port);
	CHECK_INT(host_tcp_listener(H, &k4, &l), 0);
	CHECK(!l.listening);
	close(hold);
	close(fd);
}

static void test_wildcard_listeners_match_loopback(void)
{
	unsigned p4, p6, p6only;
	int hold4, hold6only;
	int fd4 = tcp_socket_held(AF_INET, "0.0.0.0", false, &p4, &hold4);
	int fd6 = tcp_socket(AF_INET6, "::", 8, false, &p6);
	int fd6only = tcp_socket_held(AF_INET6, "::", true, &p6only, &hold6only);
	struct host_listener l;

	struct peerkey k = keyf("127.0.0.5:%u", p4);
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	expect_self(&l);
	k = keyf("[::1]:%u", p4); /* 0.0.0.0 does not answer IPv6 */
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	CHECK(!l.listening);

	k = keyf("127.0.0.1:%u", p6); /* dual-stack [::] answers IPv4 too */
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	expect_self(&l);
	k = keyf("[::1]:%u", p6);
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	expect_self(&l);

	k = keyf("127.0.0.1:%u", p6only); /* v6only [::] does not */
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	CHECK(!l.listening);
	k = keyf("[::1]:%u", p6only);
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	expect_self(&l);
	close(hold4);
	close(hold6only);
	close(fd4);
	close(fd6);
	close(fd6only);
}

static bool contains(const unsigned *v, int n, unsigned x)
{
	for (int i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static void test_nobody_listens_and_nearby_port_is_named(void)
{
	unsigned listening_port, idle_port, other_addr_port;
	int lfd = tcp_socket(AF_INET, "127.0.0.1", 8, false, &listening_port);
	/* Bound but not listening: the port is ours and surely silent. */
	int idle = tcp_socket(AF_INET, "127.0.0.1", -1, false, &idle_port);
	int ofd = tcp_socket(AF_INET, "127.0.0.3", 8, false, &other_addr_port);

	struct peerkey k = keyf("127.0.0.1:%u", idle_port);
	struct host_listener l;
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	CHECK(!l.listening);
	CHECK_INT(l.pid, 0);

	unsigned ports[256];
	int n = host_tcp_ports_nearby(H, &k, ports, ARRAY_SIZE(ports));
	CHECK(n >= 1);
	/* n counts every listener of the address; at most 256 are named (a
	 * busy host, or benchmarks' 10,000 listeners beside the tests, has
	 * more: reading n of them read past the array) */
	int named = n < (int)ARRAY_SIZE(ports) ? n : (int)ARRAY_SIZE(ports);
	bool ours = contains(ports, named, listening_port);
	CHECK(ours || n > (int)ARRAY_SIZE(ports));
	if (!ours) {
		/* left out: then every named one is at least as near */
		unsigned d = (unsigned)abs((int)listening_port - (int)idle_port);
		for (int i = 0; i < named; i++)
			CHECK((unsigned)abs((int)ports[i] - (int)idle_port) <= d);
	}
	CHECK(!contains(ports, named, idle_port));
	/* another address entirely (unless 127.0.0.1 has a listener on that
	 * port number too) */
	struct peerkey ko = keyf("127.0.0.1:%u", other_addr_port);
	struct host_listener lo;
	CHECK_INT(host_tcp_listener(H, &ko, &lo), 0);
	CHECK(lo.listening || !contains(ports, named, other_addr_port));
	for (int i = 1; i < named; i++)
		CHECK(ports[i - 1] < ports[i]);
	/* The cap is honoured, and the count says how many were left out. */
	CHECK_INT(host_tcp_ports_nearby(H, &k, ports, 0), n);
	unsigned first = 0;
	CHECK_INT(host_tcp_ports_nearby(H, &k, &first, 1), n);
	CHECK(contains(ports, named, first)); /* the nearest one: none is nearer */
	for (int i = 0; i < named; i++)
		CHECK(abs((int)ports[i] - (int)idle_port) >= abs((int)first - (int)idle_port));
	close(lfd);
	close(idle);
	close(ofd);
}

/* A busy host listens on many ports: the nearest are named, not the lowest. */
static void test_nearby_ports_are_the_nearest(void)
{
	unsigned idle_port;
	int idle = tcp_socket(AF_INET, "127.0.0.1", -1, false, &idle_port);
	int near = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(idle_port + 1),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(near, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(near, 8) == 0) {
		struct peerkey k = keyf("127.0.0.1:%u", idle_port);
		unsigned ports[1];
		CHECK(host_tcp_ports_nearby(H, &k, ports, 1) >= 1); /* how many listen */
		/* one away: this listener, or another one on the other side */
		CHECK(ports[0] == idle_port + 1 || ports[0] == idle_port - 1);
	}
	close(near);
	close(idle);
}

static void test_host_names_are_not_looked_up(void)
{
	struct peerkey k = key("backend.example:80");
	struct host_listener l;
	CHECK_INT(host_tcp_listener(H, &k, &l), -EINVAL);
}

static void test_unix_listener_is_this_process(void)
{
	char path[100];
	snprintf(path, sizeof(path), "%.80s/app.sock", harness_tmpdir());
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	CHECK_INT(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);

	struct host_listener l;
	CHECK_INT(host_unix_listener(H, path, &l), 0);
	CHECK(!l.listening); /* bound, not yet listening */

	CHECK_INT(listen(fd, 4), 0);
	CHECK_INT(host_unix_listener(H, path, &l), 0);
	expect_self(&l);

	char other[220];
	snprintf(other, sizeof(other), "%s/none.sock", harness_tmpdir());
	CHECK_INT(host_unix_listener(H, other, &l), 0);
	CHECK(!l.listening);
	close(fd);
}

/* ---- unprivileged facts: inode, owner, accept queue, path state ---- */

static unsigned long sock_inode(int fd)
{
	struct stat st;
	fstat(fd, &st);
	return (unsigned long)st.st_ino;
}

static int tcp_connect(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port)};
	if (connect(fd, (struct sockaddr *)&in, sizeof(in)) < 0) {
		perror("connect");
		exit(2);
	}
	return fd;
}

/* Poll the listener until its accept queue holds want (the handshake's last
 * ACK is processed after connect() returns); bounded. */
static void listener_with_queue(const struct peerkey *k, unsigned want, struct host_listener *l)
{
	for (int i = 0; i < 200; i++) {
		if (host_tcp_listener(H, k, l) == 0 && l->queue == want)
			return;
		poll(NULL, 0, 5);
	}
}

static void test_tcp_listener_inode_owner_and_full_accept_queue(void)
{
	unsigned port;
	int fd = tcp_socket(AF_INET, "127.0.0.1", 1, false, &port);
	struct peerkey k = keyf("127.0.0.1:%u", port);
	struct host_listener l;
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	CHECK(l.listening);
	CHECK_INT(l.inode, sock_inode(fd));
	CHECK(l.uid_known);
	CHECK_INT(l.uid, geteuid());
	CHECK(l.queue_known);
	CHECK_INT(l.queue, 0);
	CHECK_INT(l.backlog, 1);
	CHECK_INT(l.hidden, 0);
	CHECK_INT(l.path, HOST_PATH_UNKNOWN);

	/* Nobody accepts: with backlog 1 the kernel queues two, then refuses. */
	int c1 = tcp_connect(port), c2 = tcp_connect(port);
	listener_with_queue(&k, 2, &l);
	CHECK_INT(l.queue, 2);
	CHECK_INT(l.backlog, 1);
	CHECK(l.queue >= l.backlog);
	close(c1);
	close(c2);
	close(fd);
}

static int unix_listener(const char *path, int backlog)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    (backlog >= 0 && listen(fd, backlog) < 0)) {
		perror("unix bind/listen");
		exit(2);
	}
	return fd;
}

static int unix_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void test_unix_live_full_stale_missing_without_connect(void)
{
	char path[200], file[200];
	snprintf(path, sizeof(path), "%.100s/php.sock", harness_tmpdir());
	snprintf(file, sizeof(file), "%.100s/plain", harness_tmpdir());
	struct host_listener l;

	CHECK_INT(host_unix_listener(H, path, &l), 0);
	CHECK(!l.listening);
	CHECK_INT(l.path, HOST_PATH_MISSING);
	CHECK_STR(host_path_name(l.path), "missing");

	int fd = unix_listener(path, 1);
	CHECK_INT(host_unix_listener(H, path, &l), 0);
	expect_self(&l);
	CHECK_INT(l.path, HOST_PATH_LIVE);
	CHECK_INT(l.inode, sock_inode(fd));
	CHECK(l.queue_known);
	CHECK_INT(l.queue, 0);
	CHECK_INT(l.backlog, 1);
	if (l.uid_known)
		CHECK_INT(l.uid, geteuid());

	/* A full queue: two wait (backlog 1), the third is refused with
	 * EAGAIN, which nginx logs as (11: Resource temporarily unavailable). */
	int c1 = unix_connect(path), c2 = unix_connect(path);
	CHECK(c1 >= 0 && c2 >= 0);
	CHECK_INT(unix_connect(path), -EAGAIN);
	CHECK_INT(host_unix_listener(H, path, &l), 0);
	CHECK_INT(l.queue, 2);
	CHECK_INT(l.backlog, 1);
	close(c1);
	close(c2);

	/* The listener exits and leaves its file: stale. */
	close(fd);
	CHECK_INT(host_unix_listener(H, path, &l), 0);
	CHECK(!l.listening);
	CHECK_INT(l.path, HOST_PATH_STALE);
	CHECK_INT(l.inode, 0);

	/* A listener still bound under that name, but its file was unlinked
	 * and replaced by another (not listening) socket: the bound file
	 * decides, not the name. */
	unlink(path);
	fd = unix_listener(path, 4);
	unlink(path);
	int idle = unix_listener(path, -1);
	CHECK_INT(host_unix_listener(H, path, &l), 0);
	CHECK(!l.listening);
	CHECK_INT(l.path, HOST_PATH_STALE);
	close(idle);
	close(fd);
	unlink(path);

	harness_write(harness_tmpdir(), "plain", "x");
	CHECK_INT(host_unix_listener(H, file, &l), 0);
	CHECK(!l.listening);
	CHECK_INT(l.path, HOST_PATH_NOT_SOCKET);
}

static void test_restart_is_a_new_listening_inode(void)
{
	unsigned port;
	int fd = tcp_socket(AF_INET, "127.0.0.1", 8, false, &port);
	struct peerkey k = keyf("127.0.0.1:%u", port);
	struct host_listener l;
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	unsigned long first = l.inode;
	CHECK_INT(l.prev_inode, 0);
	CHECK_INT(l.before_ms, 0);
	CHECK(!host_listener_new_since(&l, 0));

	int64_t errors_began = now_wall_ms();
	CHECK_INT(host_tcp_listener(H, &k, &l), 0); /* the old socket, still there */
	CHECK(!host_listener_new_since(&l, errors_began));

	/* Restarted on the same port: a new socket. */
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port)};
	CHECK_INT(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	CHECK_INT(listen(fd, 8), 0);
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	CHECK(l.listening);
	CHECK(l.inode != first);
	CHECK_INT(l.inode, sock_inode(fd));
	CHECK_INT(l.prev_inode, first);
	CHECK(l.before_ms >= errors_began);
	CHECK(l.since_ms >= l.before_ms);
	CHECK(host_listener_new_since(&l, errors_began));
	CHECK(!host_listener_new_since(&l, l.since_ms + 1));

	/* Down, then up again: the earlier state was "nobody listened". */
	close(fd);
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	CHECK(!l.listening);
	CHECK(!host_listener_new_since(&l, 0));
	int64_t down_seen = now_wall_ms();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	CHECK_INT(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	CHECK_INT(listen(fd, 8), 0);
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	CHECK(l.listening);
	CHECK_INT(l.prev_inode, 0);
	CHECK(l.before_ms >= down_seen - 1000);
	CHECK(host_listener_new_since(&l, errors_began));
	close(fd);
}

static void test_time_wait_and_established_to_one_peer(void)
{
	unsigned port, other_port;
	int lfd = tcp_socket(AF_INET, "127.0.0.1", 16, false, &port);
	int ofd = tcp_socket(AF_INET, "127.0.0.1", 16, false, &other_port);
	struct peerkey k = keyf("127.0.0.1:%u", port);

	/* Three connections to the peer, one to another port; two of the
	 * three are closed by the client first (its side ends in TIME_WAIT). */
	int c[3], s[3];
	for (int i = 0; i < 3; i++) {
		c[i] = tcp_connect(port);
		s[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	int oc = tcp_connect(other_port);
	for (int i = 0; i < 2; i++) {
		close(c[i]);
		char b;
		CHECK_INT(read(s[i], &b, 1), 0); /* the client's FIN */
		close(s[i]);
	}
	struct host_listener l = {0};
	for (int i = 0; i < 200; i++) { /* the last ACKs cross loopback */
		CHECK_INT(host_tcp_conns(H, &k, &l), 0);
		if (l.time_wait == 2)
			break;
		poll(NULL, 0, 5);
	}
	CHECK(l.conns_known);
	CHECK_INT(l.time_wait, 2);
	CHECK_INT(l.established, 1);

	/* The same peer written as a v4-mapped IPv6 address. */
	struct peerkey mapped = keyf("[::ffff:127.0.0.1]:%u", port);
	struct host_listener m = {0};
	CHECK_INT(host_tcp_conns(H, &mapped, &m), 0);
	CHECK_INT(m.time_wait, 2);
	CHECK_INT(m.established, 1);

	struct peerkey name = key("backend.example:80");
	CHECK_INT(host_tcp_conns(H, &name, &l), -EINVAL);

	unsigned lo, hi;
	CHECK_INT(host_local_port_range(&lo, &hi), 0);
	CHECK(lo > 0 && lo <= hi && hi <= 65535);
	close(c[2]);
	close(s[2]);
	close(oc);
	close(lfd);
	close(ofd);
}

/* Look fd's and ufd's listeners up as nobody in a child (the service user's
 * situation); with hide, in a mount namespace whose /proc has hidepid=2
 * (what ProtectProc=invisible gives). Returns the child's exit status. */
static int lookup_as_nobody(bool hide, unsigned port, const char *path, int fd, int ufd,
			    struct host_listener res[2])
{
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	int pfd[2];
	if (pipe(pfd) < 0)
		return -1;
	pid_t child = fork();
	if (child == 0) {
		struct host *h;
		struct host_listener r[2] = {0};
		struct peerkey k = keyf("127.0.0.1:%u", port);
		close(fd); /* the sockets are the parent's alone */
		close(ufd);
		if (hide && (unshare(CLONE_NEWNS) < 0 ||
			     mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			     mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				   "hidepid=2") < 0))
			_exit(77);
		if (setgroups(0, NULL) < 0 || setgid(gr->gr_gid) < 0 || setuid(pw->pw_uid) < 0 ||
		    host_new(&h) < 0)
			_exit(3);
		host_tcp_listener(h, &k, &r[0]);
		host_unix_listener(h, path, &r[1]);
		host_free(h);
		(void)!write(pfd[1], r, sizeof(r));
		_exit(0);
	}
	close(pfd[1]);
	ssize_t n = read(pfd[0], res, 2 * sizeof(*res));
	close(pfd[0]);
	int status;
	waitpid(child, &status, 0);
	if (!WIFEXITED(status))
		return -1;
	if (WEXITSTATUS(status) == 0 && n != (ssize_t)(2 * sizeof(*res)))
		return -1;
	return WEXITSTATUS(status);
}

/* For another user's listener an unprivileged upwatch has every socket fact
 * but not the process; the facts say why and which drop-in adds it. */
static void test_unprivileged_sees_socket_facts_not_the_process(void)
{
	if (getuid() != 0 || !getpwnam("nobody") || !getgrnam("nogroup")) {
		SKIP("needs root and nobody/nogroup");
	}
	unsigned port;
	int fd = tcp_socket(AF_INET, "127.0.0.1", 3, false, &port);
	char dir[200], path[240];
	snprintf(dir, sizeof(dir), "%.100s/pub", harness_tmpdir());
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/app.sock", dir);
	int ufd = unix_listener(path, 5);
	chmod(harness_tmpdir(), 0711); /* nobody may pass, not list */

	struct host_listener res[2];
	CHECK_INT(lookup_as_nobody(false, port, path, fd, ufd, res), 0);
	CHECK(res[0].listening);
	CHECK_INT(res[0].inode, sock_inode(fd));
	CHECK_INT(res[0].uid, 0);
	CHECK(res[0].queue_known);
	CHECK_INT(res[0].backlog, 3);
	CHECK_INT(res[0].pid, 0);
	CHECK_INT(res[0].hidden, HOST_HIDDEN_OWNER);
	CHECK_STR(host_hidden_dropin(HOST_HIDDEN_OWNER), "upwatch-listener-facts.conf");

	CHECK(res[1].listening);
	CHECK_INT(res[1].path, HOST_PATH_LIVE);
	CHECK_INT(res[1].inode, sock_inode(ufd));
	CHECK_INT(res[1].backlog, 5);
	CHECK_INT(res[1].pid, 0);
	CHECK_INT(res[1].hidden, HOST_HIDDEN_OWNER);

	int r = lookup_as_nobody(true, port, path, fd, ufd, res);
	if (r == 77) {
		harness_skip("cannot mount a hidepid=2 /proc here");
	} else {
		CHECK_INT(r, 0);
		CHECK(res[0].listening);
		CHECK_INT(res[0].inode, sock_inode(fd));
		CHECK_INT(res[0].hidden, HOST_HIDDEN_PROCS);
		CHECK_STR(host_hidden_dropin(HOST_HIDDEN_PROCS), "upwatch-procfs.conf");
	}

	/* A directory on the way closed to nobody: the path cannot be
	 * judged, the listener is still known by its bound name. */
	chmod(harness_tmpdir(), 0700);
	CHECK_INT(lookup_as_nobody(false, port, path, fd, ufd, res), 0);
	CHECK_INT(res[1].path, HOST_PATH_DENIED);
	CHECK(res[1].listening);
	CHECK_INT(res[1].hidden, HOST_HIDDEN_PATH | HOST_HIDDEN_OWNER);
	close(ufd);
	close(fd);
}

static void expect_unit(const char *cgroup, int rc, const char *unit, bool user)
{
	char buf[128] = "";
	bool u = !user;
	CHECK_INT(procfs_unit_from_cgroup(cgroup, buf, sizeof(buf), &u), rc);
	if (rc == 0) {
		CHECK_STR(buf, unit);
		CHECK_INT(u, user);
	}
}

static void test_unit_from_cgroup(void)
{
	expect_unit("0::/system.slice/app.service\n", 0, "app.service", false);
	expect_unit("0::/system.slice/php8.2-fpm.service\n", 0, "php8.2-fpm.service", false);
	/* A delegated service with its own sub-cgroups. */
	expect_unit("0::/system.slice/docker.service/payload\n", 0, "docker.service", false);
	expect_unit("0::/system.slice/system-getty.slice/getty@tty1.service\n", 0,
		    "getty@tty1.service", false);
	expect_unit("0::/user.slice/user-1000.slice/session-4.scope\n", 0, "session-4.scope",
		    false);
	expect_unit("0::/user.slice/user-1000.slice/user@1000.service/app.slice/api.service\n", 0,
		    "api.service", true);
	expect_unit("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", 0,
		    "init.scope", true);
	expect_unit("0::/user.slice/user-1000.slice/user@1000.service\n", 0, "user@1000.service",
		    false);
	expect_unit("0::/init.scope\n", 0, "init.scope", false);
	expect_unit("0::/system.slice/_cgroup.service\n", 0, "cgroup.service", false);
	/* cgroup v1: systemd's named hierarchy. */
	expect_unit("12:memory:/system.slice/app.service\n"
		    "1:name=systemd:/system.slice/web.service\n",
		    0, "web.service", false);
	/* Hybrid: the v2 line wins. */
	expect_unit("1:name=systemd:/system.slice/a.service\n0::/system.slice/b.service\n", 0,
		    "b.service", false);
	expect_unit("0::/\n", -ENOENT, NULL, false);
	expect_unit("0::/system.slice\n", -ENOENT, NULL, false);
	expect_unit("4:memory:/process_api/1f19\n0::/\n", -ENOENT, NULL, false);
	expect_unit("", -ENOENT, NULL, false);
	expect_unit("0::", -ENOENT, NULL, false);
	char small[8];
	CHECK_INT(
	    procfs_unit_from_cgroup("0::/system.slice/app.service", small, sizeof(small), NULL),
	    -ENAMETOOLONG);
}

static void test_listener_json_has_only_known_fields(void)
{
	struct host_listener l = {.listening = true};
	cJSON *o = json_host_listener(&l);
	char *s = cJSON_PrintUnformatted(o);
	CHECK_STR(s, "{}");
	free(s);
	cJSON_Delete(o);

	l.pid = 4242;
	snprintf(l.process, sizeof(l.process), "gunicorn");
	l.started_ms = 1795000000123;
	snprintf(l.unit, sizeof(l.unit), "app.service");
	o = json_host_listener(&l);
	s = cJSON_PrintUnformatted(o);
	CHECK_STR(s, "{\"pid\":4242,\"process\":\"gunicorn\",\"started\":\"2026-11-18T"
		     "11:06:40.123Z\",\"unit\":\"app.service\"}");
	free(s);
	cJSON_Delete(o);

	l.unit_known = true;
	snprintf(l.active_state, sizeof(l.active_state), "activating");
	snprintf(l.sub_state, sizeof(l.sub_state), "auto-restart");
	snprintf(l.result, sizeof(l.result), "exit-code");
	l.nrestarts = 7;
	o = json_host_listener(&l);
	s = cJSON_PrintUnformatted(o);
	CHECK_STR(s, "{\"pid\":4242,\"process\":\"gunicorn\",\"started\":\"2026-11-18T"
		     "11:06:40.123Z\",\"unit\":\"app.service\",\"active_state\":\"activating\","
		     "\"sub_state\":\"auto-restart\",\"result\":\"exit-code\",\"restarts\":7}");
	free(s);
	cJSON_Delete(o);
}

/* ---- a real nginx for the worker credentials ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void test_nginx_worker_credentials(void)
{
	const char *nginx = "/usr/sbin/nginx";
	if (access(nginx, X_OK) != 0) {
		SKIP("%s not installed", nginx);
	}
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("nogroup");
	if (!pw || !gr || getuid() != 0) { /* only root's nginx can switch to nobody */
		SKIP("needs root and nobody/nogroup");
	}
	uid_t nobody = pw->pw_uid;
	gid_t nogroup = gr->gr_gid;
	uid_t u;
	gid_t g;
	if (ngxworker_find(&u, &g, NULL, NULL) == 0) {
		SKIP("an nginx worker already runs on this host");
	}

	char dir[128];
	snprintf(dir, sizeof(dir), "%.100s/nginx", harness_tmpdir());
	unsigned port;
	int reserve = tcp_socket(AF_INET, "127.0.0.1", -1, false, &port);
	close(reserve); /* a free port, as free as a test can make it */
	char conf[4096];
	snprintf(conf, sizeof(conf),
		 "user nobody nogroup;\n"
		 "worker_processes 1;\n"
		 "pid %1$s/nginx.pid;\n"
		 "error_log %1$s/error.log;\n"
		 "events { worker_connections 16; }\n"
		 "http {\n"
		 "  access_log off;\n"
		 "  client_body_temp_path %1$s/body; proxy_temp_path %1$s/proxy;\n"
		 "  fastcgi_temp_path %1$s/fastcgi; uwsgi_temp_path %1$s/uwsgi;\n"
		 "  scgi_temp_path %1$s/scgi;\n"
		 "  server { listen 127.0.0.1:%2$u; return 204; }\n"
		 "}\n",
		 dir, port);
	harness_write(harness_tmpdir(), "nginx/nginx.conf", conf);
	char confpath[300];
	snprintf(confpath, sizeof(confpath), "%s/nginx.conf", dir);

	pid_t child = fork();
	if (child == 0) {
		execl(nginx, nginx, "-p", dir, "-c", confpath, "-g", "daemon off;", (char *)NULL);
		_exit(127);
	}
	int r = -ENOENT;
	gid_t groups[32];
	size_t ngroups = ARRAY_SIZE(groups);
	for (int i = 0; i < 100 && r == -ENOENT; i++) {
		sleep_ms(50);
		ngroups = ARRAY_SIZE(groups);
		r = ngxworker_find(&u, &g, groups, &ngroups);
	}
	/* The master owns the listening socket; it is our child. */
	struct peerkey k = keyf("127.0.0.1:%u", port);
	struct host_listener l;
	CHECK_INT(host_tcp_listener(H, &k, &l), 0);
	CHECK(l.listening);
	CHECK_INT(l.pid, child);
	CHECK_STR(l.process, "nginx");

	kill(child, SIGTERM);
	int status;
	CHECK_INT(waitpid(child, &status, 0), child);
	/* Workers exit with their master. One still found after that belongs to
	 * an nginx that came up meanwhile (another test on this machine): what
	 * was found may have been its worker, so nothing can be asserted. */
	uid_t u2;
	gid_t g2;
	bool other = true;
	for (int i = 0; i < 100 && other; i++) {
		other = ngxworker_find(&u2, &g2, NULL, NULL) == 0;
		if (other)
			sleep_ms(20);
	}
	if (other) {
		SKIP("another nginx started on this host during the test");
	}
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_INT(u, nobody);
		CHECK_INT(g, nogroup);
		/* nginx calls initgroups("nobody", nogroup): the list is nobody's. */
		gid_t want[32];
		int nwant = ARRAY_SIZE(want);
		getgrouplist("nobody", nogroup, want, &nwant);
		CHECK_INT(ngroups, nwant);
		for (size_t i = 0; i < ngroups && i < (size_t)nwant; i++)
			CHECK_INT(groups[i], want[i]);
	}
}

static void test_remotes_of_a_uid_name_the_addresses_it_connects_to(void)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	CHECK(bind(l, (struct sockaddr *)&sin, len) == 0 && listen(l, 4) == 0);
	getsockname(l, (struct sockaddr *)&sin, &len);
	unsigned port = ntohs(sin.sin_port);
	int c1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(connect(c1, (struct sockaddr *)&sin, len) == 0);
	CHECK(connect(c2, (struct sockaddr *)&sin, len) == 0);

	struct sockdiag_remote r[SOCKDIAG_MAX_REMOTES];
	int n = sockdiag_inet_remotes(port, geteuid(), r, ARRAY_SIZE(r));
	if (n == -EPERM || n == -EPROTONOSUPPORT) {
		close(c1);
		close(c2);
		close(l);
		SKIP("inet_diag not available: %s", strerror(-n));
	}
	/* the two clients, one address; the accepted ends have another remote port */
	CHECK_INT(n, 1);
	CHECK_INT(r[0].family, AF_INET);
	CHECK_INT(memcmp(r[0].addr, &sin.sin_addr, 4), 0);
	CHECK_INT(r[0].established, 2);
	CHECK_INT(r[0].syn_sent, 0);
	/* another user's sockets are not these */
	CHECK_INT(sockdiag_inet_remotes(port, geteuid() + 1, r, ARRAY_SIZE(r)), 0);
	CHECK_INT(sockdiag_inet_remotes(0, geteuid(), r, ARRAY_SIZE(r)), -EINVAL);
	close(c1);
	close(c2);
	close(l);
}

int main(void)
{
	FILE *f = fopen("/proc/self/comm", "r");
	if (!f || !fgets(self_comm, sizeof(self_comm), f))
		return 2;
	fclose(f);
	self_comm[strcspn(self_comm, "\n")] = '\0';
	if (host_new(&H) < 0)
		return 2;

	RUN(test_tcp_listener_is_this_process);
	RUN(test_tcp_listener_found_by_proc_fallback);
	RUN(test_tcp6_loopback_listener);
	RUN(test_wildcard_listeners_match_loopback);
	RUN(test_nobody_listens_and_nearby_port_is_named);
	RUN(test_nearby_ports_are_the_nearest);
	RUN(test_host_names_are_not_looked_up);
	RUN(test_unix_listener_is_this_process);
	RUN(test_tcp_listener_inode_owner_and_full_accept_queue);
	RUN(test_unix_live_full_stale_missing_without_connect);
	RUN(test_restart_is_a_new_listening_inode);
	RUN(test_time_wait_and_established_to_one_peer);
	RUN(test_unprivileged_sees_socket_facts_not_the_process);
	RUN(test_unit_from_cgroup);
	RUN(test_listener_json_has_only_known_fields);
	RUN(test_nginx_worker_credentials);
	RUN(test_remotes_of_a_uid_name_the_addresses_it_connects_to);
	host_free(H);
	return harness_result();
}
