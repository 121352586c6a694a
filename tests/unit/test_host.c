/* Unit tests for host: the test process listens itself and must be found as
 * the listener, by netlink and by the /proc fallback; a real nginx (when
 * installed) gives the worker credentials. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "host/host.h"
#include "core/util.h"

static char self_comm[64];

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
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	expect_self(&l);
	close(fd);
	/* Closed: nobody listens any more. */
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	CHECK(!l.listening);
	CHECK_INT(l.pid, 0);
}

static void test_tcp_listener_found_by_proc_fallback(void)
{
	unsigned port4, port6;
	int fd4 = tcp_socket(AF_INET, "127.0.0.1", 8, false, &port4);
	int fd6 = tcp_socket(AF_INET6, "::1", 8, true, &port6);
	host_disable_netlink(true);
	struct peerkey k4 = keyf("127.0.0.1:%u", port4), k6 = keyf("[::1]:%u", port6);
	struct host_listener l;
	CHECK_INT(host_tcp_listener(&k4, &l), 0);
	expect_self(&l);
	CHECK_INT(host_tcp_listener(&k6, &l), 0);
	expect_self(&l);
	struct peerkey other = keyf("127.0.0.2:%u", port4);
	CHECK_INT(host_tcp_listener(&other, &l), 0);
	CHECK(!l.listening);
	host_disable_netlink(false);
	close(fd4);
	close(fd6);
}

static void test_tcp6_loopback_listener(void)
{
	unsigned port;
	int fd = tcp_socket(AF_INET6, "::1", 8, true, &port);
	struct peerkey k = keyf("[::1]:%u", port);
	struct host_listener l;
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	expect_self(&l);
	/* A ::1 listener does not answer 127.0.0.1. */
	struct peerkey k4 = keyf("127.0.0.1:%u", port);
	CHECK_INT(host_tcp_listener(&k4, &l), 0);
	CHECK(!l.listening);
	close(fd);
}

static void test_wildcard_listeners_match_loopback(void)
{
	unsigned p4, p6, p6only;
	int fd4 = tcp_socket(AF_INET, "0.0.0.0", 8, false, &p4);
	int fd6 = tcp_socket(AF_INET6, "::", 8, false, &p6);
	int fd6only = tcp_socket(AF_INET6, "::", 8, true, &p6only);
	struct host_listener l;

	struct peerkey k = keyf("127.0.0.5:%u", p4);
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	expect_self(&l);
	k = keyf("[::1]:%u", p4); /* 0.0.0.0 does not answer IPv6 */
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	CHECK(!l.listening);

	k = keyf("127.0.0.1:%u", p6); /* dual-stack [::] answers IPv4 too */
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	expect_self(&l);
	k = keyf("[::1]:%u", p6);
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	expect_self(&l);

	k = keyf("127.0.0.1:%u", p6only); /* v6only [::] does not */
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	CHECK(!l.listening);
	k = keyf("[::1]:%u", p6only);
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	expect_self(&l);
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
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	CHECK(!l.listening);
	CHECK_INT(l.pid, 0);

	unsigned ports[256];
	int n = host_tcp_ports_nearby(&k, ports, ARRAY_SIZE(ports));
	CHECK(n >= 1);
	CHECK(contains(ports, n, listening_port));
	CHECK(!contains(ports, n, idle_port));
	CHECK(!contains(ports, n, other_addr_port)); /* another address entirely */
	for (int i = 1; i < n; i++)
		CHECK(ports[i - 1] < ports[i]);
	/* The cap is honoured. */
	CHECK_INT(host_tcp_ports_nearby(&k, ports, 0), 0);
	close(lfd);
	close(idle);
	close(ofd);
}

static void test_host_names_are_not_looked_up(void)
{
	struct peerkey k = key("backend.example:80");
	struct host_listener l;
	CHECK_INT(host_tcp_listener(&k, &l), -EINVAL);
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
	CHECK_INT(host_unix_listener(path, &l), 0);
	CHECK(!l.listening); /* bound, not yet listening */

	CHECK_INT(listen(fd, 4), 0);
	CHECK_INT(host_unix_listener(path, &l), 0);
	expect_self(&l);

	char other[220];
	snprintf(other, sizeof(other), "%s/none.sock", harness_tmpdir());
	CHECK_INT(host_unix_listener(other, &l), 0);
	CHECK(!l.listening);
	close(fd);
}

static void expect_unit(const char *cgroup, int rc, const char *unit, bool user)
{
	char buf[128] = "";
	bool u = !user;
	CHECK_INT(host_unit_from_cgroup(cgroup, buf, sizeof(buf), &u), rc);
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
	CHECK_INT(host_unit_from_cgroup("0::/system.slice/app.service", small, sizeof(small), NULL),
		  -ENAMETOOLONG);
}

static void test_listener_json_has_only_known_fields(void)
{
	struct host_listener l = {.listening = true};
	cJSON *o = host_listener_json(&l);
	char *s = cJSON_PrintUnformatted(o);
	CHECK_STR(s, "{}");
	free(s);
	cJSON_Delete(o);

	l.pid = 4242;
	snprintf(l.process, sizeof(l.process), "gunicorn");
	l.started_ms = 1795000000123;
	snprintf(l.unit, sizeof(l.unit), "app.service");
	o = host_listener_json(&l);
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
	o = host_listener_json(&l);
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
	if (host_nginx_worker(&u, &g, NULL, NULL) == 0) {
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
		r = host_nginx_worker(&u, &g, groups, &ngroups);
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
	/* The master owns the listening socket; it is our child. */
	struct peerkey k = keyf("127.0.0.1:%u", port);
	struct host_listener l;
	CHECK_INT(host_tcp_listener(&k, &l), 0);
	CHECK(l.listening);
	CHECK_INT(l.pid, child);
	CHECK_STR(l.process, "nginx");

	kill(child, SIGTERM);
	int status;
	CHECK_INT(waitpid(child, &status, 0), child);
	/* Workers exit with their master; -ENOENT again once they are gone
	 * (unless another test's nginx came up meanwhile: not asserted). */
	for (int i = 0; i < 100 && host_nginx_worker(&u, &g, NULL, NULL) == 0; i++)
		sleep_ms(20);
}

int main(void)
{
	FILE *f = fopen("/proc/self/comm", "r");
	if (!f || !fgets(self_comm, sizeof(self_comm), f))
		return 2;
	fclose(f);
	self_comm[strcspn(self_comm, "\n")] = '\0';

	RUN(test_tcp_listener_is_this_process);
	RUN(test_tcp_listener_found_by_proc_fallback);
	RUN(test_tcp6_loopback_listener);
	RUN(test_wildcard_listeners_match_loopback);
	RUN(test_nobody_listens_and_nearby_port_is_named);
	RUN(test_host_names_are_not_looked_up);
	RUN(test_unix_listener_is_this_process);
	RUN(test_unit_from_cgroup);
	RUN(test_listener_json_has_only_known_fields);
	RUN(test_nginx_worker_credentials);
	return harness_result();
}
