/* Test-only stand-in for src/probe_unix.c (written on another branch): just
 * enough of probe_unix_check for the prober's tests to link and to exercise
 * the unix path: stat, then a non-blocking connect. No permission walk. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "probe_tcp.h"
#include "probe_unix.h"

void probe_unix_check(const struct probe_target *t, const struct probe_identity *id,
		      struct probe_result *ret)
{
	struct stat st;
	const char *path = t->addr.host;

	ret->unix_checked = true;
	if (stat(path, &st) < 0) {
		probe_tcp_classify(errno, true, t->timeout_ms, ret);
		return;
	}
	ret->sock_uid = st.st_uid;
	ret->sock_gid = st.st_gid;
	ret->sock_mode = st.st_mode & 07777;
	if (!S_ISSOCK(st.st_mode)) {
		ret->result = PROBE_NOT_SOCKET;
		snprintf(ret->detail, sizeof(ret->detail), "%.200s is not a socket", path);
		return;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%.107s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		probe_tcp_classify(errno, true, t->timeout_ms, ret);
		return;
	}
	int err = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? errno : 0;
	close(fd);
	probe_tcp_classify(err, true, t->timeout_ms, ret);
}
