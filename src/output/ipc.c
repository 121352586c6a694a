/* ipc: newline-delimited JSON over a unix stream socket (see ipc.h). */
#include "output/ipc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

struct ipc_client {
	struct ipc *ipc;
	struct ipc_client *prev, *next;
	unsigned refs;
	int fd; /* -1 once closed */
	ev_io io;
	char in[IPC_LINE_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_cap, out_off;
	bool busy;	 /* a request awaits its reply */
	bool processing; /* inside process_lines(): replies must not re-enter it */
	bool subscriber;
	bool closing; /* close once the output is flushed */
	pid_t pid;
	uid_t uid;
};

struct ipc {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	char *path; /* the file we bound, NULL when socket-activated */
	bool activated;
	ipc_request_fn fn;
	void *userdata;
	struct ipc_client *clients;
	unsigned nclients;
	uint64_t dropped;
};

static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static void client_close(struct ipc_client *c)
{
	struct ipc *ipc = c->ipc;
	if (c->fd < 0)
		return;
	ev_io_stop(ipc->loop, &c->io);
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		ipc->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ipc->nclients--;
	ipc_client_unref(c);
}

struct ipc_client *ipc_client_ref(struct ipc_client *c)
{
	c->refs++;
	return c;
}

void ipc_client_unref(struct ipc_client *c)
{
	if (!c || --c->refs > 0)
		return;
	free(c->out);
	free(c);
}

static void update_events(struct ipc_client *c)
{
	int events = 0;
	/* stop reading while a request is pending or the input is full */
	if (!c->busy && !c->closing && c->in_len < sizeof(c->in))
		events |= EV_READ;
	if (c->out_len > c->out_off)
		events |= EV_WRITE;
	if (events == 0 && c->closing) {
		client_close(c);
		return;
	}
	if (events != c->io.events) {
		ev_io_stop(c->ipc->loop, &c->io);
		ev_io_set(&c->io, c->fd, events);
		if (events)
			ev_io_start(c->ipc->loop, &c->io);
	}
}

/* Try to write now; false if the client was dropped or closed. */
static bool flush(struct ipc_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			client_close(c);
			return false;
		}
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return true;
}

static void send_line(struct ipc_client *c, const char *s, size_t len)
{
	if (c->fd < 0)
		return;
	if (c->out_len - c->out_off + len + 1 > IPC_OUTPUT_MAX) {
		c->ipc->dropped++;
		log_notice("ipc: client pid %d not reading (%zu bytes queued), disconnected",
			   (int)c->pid, c->out_len - c->out_off);
		client_close(c);
		return;
	}
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	c->out = grow_array(c->out, &c->out_cap, c->out_len + len + 1, 1);
	memcpy(c->out + c->out_len, s, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	if (flush(c))
		update_events(c);
}

static void send_json(struct ipc_client *c, const cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);
	if (!s)
		return;
	send_line(c, s, strlen(s));
	free(s);
}

static void process_lines(struct ipc_client *c);

void ipc_reply(struct ipc_client *c, cJSON *resp)
{
	send_json(c, resp);
	cJSON_Delete(resp);
	c->busy = false;
	if (c->fd >= 0 && !c->processing) {
		process_lines(c);
		if (c->fd >= 0)
			update_events(c);
	}
}

void ipc_reply_error(struct ipc_client *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddFalseToObject(o, "ok");
	cJSON_AddStringToObject(o, "error", msg);
	ipc_reply(c, o);
}

static void handle_line(struct ipc_client *c, const char *line, size_t len)
{
	cJSON *req = cJSON_ParseWithLength(line, len);
	c->busy = true;
	if (!req) {
		ipc_reply_error(c, "malformed JSON");
		return;
	}
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	if (!cJSON_IsObject(req))
		ipc_reply_error(c, "request must be a JSON object");
	else if (!cmd)
		ipc_reply_error(c, "missing \"cmd\"");
	else if (!cJSON_IsString(cmd))
		ipc_reply_error(c, "\"cmd\" must be a string");
	else
		c->ipc->fn(c->ipc->userdata, c, cmd->valuestring, req);
	cJSON_Delete(req);
}

/* Handle complete lines in order, one at a time while replies are synchronous. */
static void process_lines(struct ipc_client *c)
{
	size_t start = 0;
	ipc_client_ref(c);
	c->processing = true;
	while (!c->busy && c->fd >= 0 && !c->closing) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (c->in + start));
		size_t at = start;
		start += len + 1;
		if (len > 0 && c->in[at + len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		handle_line(c, c->in + at, len);
	}
	if (c->fd >= 0 && start > 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if (c->fd >= 0 && !c->busy && c->in_len == sizeof(c->in)) {
		c->busy = true;
		ipc_reply_error(c, "request line longer than %d bytes", IPC_LINE_MAX);
		c->closing = true;
		c->in_len = 0;
		if (c->fd >= 0)
			update_events(c);
	}
	c->processing = false;
	ipc_client_unref(c);
}

static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_client *c = container_of(w, struct ipc_client, io);
	(void)loop;

	ipc_client_ref(c);
	if ((revents & EV_WRITE) && !flush(c))
		goto out;
	if ((revents & EV_READ) && c->fd >= 0) {
		ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(c);
			goto out;
		}
		if (r > 0) {
			c->in_len += (size_t)r;
			process_lines(c);
		}
	}
	if (c->fd >= 0)
		update_events(c);
out:
	ipc_client_unref(c);
}

/* The socket mode (0660 + group) is the access control; this rechecks the
 * peer's credentials so that a socket passed with looser permissions does not
 * open the daemon to everyone: root, our own user, or the socket's group. */
static bool peer_allowed(struct ipc *ipc, int fd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);
	struct stat st;
	gid_t groups[64];
	socklen_t glen = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0)
		return false;
	if (cred->uid == 0 || cred->uid == geteuid())
		return true;
	if (fstat(ipc->fd, &st) < 0)
		return false;
	if (cred->gid == st.st_gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0) {
		for (size_t i = 0; i < glen / sizeof(gid_t); i++)
			if (groups[i] == st.st_gid)
				return true;
	}
	return false;
}

static void listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc *ipc = container_of(w, struct ipc, io);
	(void)revents;

	for (int i = 0; i < 64; i++) {
		int fd = accept4(ipc->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warning("ipc: accept: %m");
			return;
		}
		struct ucred cred = {0};
		if (!peer_allowed(ipc, fd, &cred)) {
			log_warning("ipc: refused client pid %d uid %d", (int)cred.pid,
				    (int)cred.uid);
			close(fd);
			continue;
		}
		log_debug("ipc: client pid %d uid %d gid %d", (int)cred.pid, (int)cred.uid,
			  (int)cred.gid);
		struct ipc_client *c = xcalloc(1, sizeof(*c));
		c->ipc = ipc;
		c->fd = fd;
		c->refs = 1;
		c->pid = cred.pid;
		c->uid = cred.uid;
		c->next = ipc->clients;
		if (c->next)
			c->next->prev = c;
		ipc->clients = c;
		ipc->nclients++;
		ev_io_init(&c->io, client_io_cb, fd, EV_READ);
		ev_io_start(loop, &c->io);
	}
}

static int bind_socket(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);

	/* parent directory, like RuntimeDirectory= would */
	char dir[sizeof(sa.sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a socket file left by a dead daemon is replaced; a live one is not */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (alive) {
			close(fd);
			return -EADDRINUSE;
		}
		unlink(path);
	}
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int ipc_new(struct ev_loop *loop, const char *path, ipc_request_fn fn, void *userdata,
	    struct ipc **ret)
{
	struct ipc *ipc = xcalloc(1, sizeof(*ipc));
	ipc->loop = loop;
	ipc->fn = fn;
	ipc->userdata = userdata;

	int n = sd_listen_fds(1);
	if (n >= 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0) {
		ipc->fd = SD_LISTEN_FDS_START;
		ipc->activated = true;
		int fl = fcntl(ipc->fd, F_GETFL);
		fcntl(ipc->fd, F_SETFL, fl | O_NONBLOCK);
		fcntl(ipc->fd, F_SETFD, FD_CLOEXEC);
	} else {
		int r = bind_socket(path, &ipc->fd);
		if (r < 0) {
			free(ipc);
			return r;
		}
		ipc->path = xstrdup(path);
	}
	ev_io_init(&ipc->io, listen_cb, ipc->fd, EV_READ);
	ev_io_start(loop, &ipc->io);
	*ret = ipc;
	return 0;
}

void ipc_free(struct ipc *ipc)
{
	if (!ipc)
		return;
	while (ipc->clients) {
		struct ipc_client *c = ipc->clients;
		flush(c);
		if (c->fd >= 0)
			client_close(c);
	}
	ev_io_stop(ipc->loop, &ipc->io);
	close(ipc->fd);
	if (ipc->path) {
		unlink(ipc->path);
		free(ipc->path);
	}
	free(ipc);
}

void ipc_subscribe(struct ipc_client *c)
{
	c->subscriber = true;
}

void ipc_publish(struct ipc *ipc, const cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);
	if (!s)
		return;
	size_t len = strlen(s);
	for (struct ipc_client *c = ipc->clients, *next; c; c = next) {
		next = c->next;
		if (c->subscriber)
			send_line(c, s, len);
	}
	free(s);
}

unsigned ipc_clients(const struct ipc *ipc)
{
	return ipc->nclients;
}

uint64_t ipc_dropped(const struct ipc *ipc)
{
	return ipc->dropped;
}

bool ipc_socket_activated(const struct ipc *ipc)
{
	return ipc->activated;
}
