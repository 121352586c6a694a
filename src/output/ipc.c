/* ipc: newline-delimited JSON over a unix stream socket (see ipc.h). */
#include "output/ipc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "core/escape.h"
#include "core/utf8.h"
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
	char *out; /* queued output: out[out_off..out_len) is unsent */
	size_t out_len, out_cap, out_off;
	ev_timer idle;	 /* no progress either way for ipc->idle_s: cut off */
	bool busy;	 /* a request awaits its reply */
	bool processing; /* inside process_lines(): replies must not re-enter it */
	bool subscriber;
	bool closing; /* close once the output is flushed */
	pid_t pid;
	uid_t uid;
};

/* Repeated failures are logged once per interval with a count. */
struct ratelimit {
	int64_t last_ms;
	uint64_t suppressed;
};

struct ipc {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	ev_timer resume; /* restarts the accept watcher after a pause */
	int reserve_fd;	 /* spare descriptor given up to refuse a client on EMFILE */
	char *path;	 /* the file we bound, NULL when socket-activated */
	gid_t group;	 /* members may connect: the socket path's group */
	ipc_request_fn fn;
	void *userdata;
	struct ipc_client *clients;
	unsigned nclients, max_clients;
	double idle_s;
	uint64_t dropped, refused, accept_errors;
	struct ratelimit accept_rl, refuse_rl;
};

static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static bool ratelimit_pass(struct ratelimit *rl, uint64_t *ret_suppressed)
{
	int64_t now = now_mono_ms();
	if (rl->last_ms && now - rl->last_ms < IPC_LOG_INTERVAL_MS) {
		rl->suppressed++;
		return false;
	}
	*ret_suppressed = rl->suppressed;
	rl->suppressed = 0;
	rl->last_ms = now;
	return true;
}

static void client_close(struct ipc_client *c)
{
	struct ipc *ipc = c->ipc;
	if (c->fd < 0)
		return;
	ev_io_stop(ipc->loop, &c->io);
	ev_timer_stop(ipc->loop, &c->idle);
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

/* Unsent output beyond the cap: take no further request until it drains. */
static bool backlogged(const struct ipc_client *c)
{
	return c->out_len - c->out_off > IPC_OUTPUT_MAX;
}

static void update_events(struct ipc_client *c)
{
	int events = 0;
	/* stop reading while a request is pending, the input is full or
	 * answers wait to be read */
	if (!c->busy && !c->closing && c->in_len < sizeof(c->in) && !backlogged(c))
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
	bool progress = false;
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
		progress = true;
	}
	if (progress)
		ev_timer_again(c->ipc->loop, &c->idle);
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		/* a large reply's buffer is not kept for the next small one */
		if (c->out_cap > IPC_OUTPUT_MAX) {
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
	} else if (c->out_off > c->out_len / 2) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	return true;
}

/* Queue one line (s[0..len), the newline is added) and write what the socket
 * takes. The output cap is about a client that does not read: an answer is
 * always queued whole (however large) and written as the socket drains, and
 * the client's next request waits until its backlog is under the cap; an
 * event line for a subscriber whose backlog is over the cap gets it cut off.
 * own: s is malloc'd (len + 1 bytes) and is taken over. */
static void queue_line(struct ipc_client *c, char *s, size_t len, bool own, bool event)
{
	if (c->fd < 0) {
		if (own)
			free(s);
		return;
	}
	if (event && backlogged(c)) {
		c->ipc->dropped++;
		log_notice("ipc: client pid %d not reading (%zu bytes queued), disconnected",
			   (int)c->pid, c->out_len - c->out_off);
		if (own)
			free(s);
		client_close(c);
		return;
	}
	if (own && c->out_len == c->out_off) {
		free(c->out); /* adopt the printed answer instead of copying it */
		c->out = s;
		c->out_cap = len + 1;
		c->out[len] = '\n';
		c->out_off = 0;
		c->out_len = len + 1;
	} else {
		c->out = grow_array(c->out, &c->out_cap, c->out_len + len + 1, 1);
		memcpy(c->out + c->out_len, s, len);
		c->out[c->out_len + len] = '\n';
		c->out_len += len + 1;
		if (own)
			free(s);
	}
	if (flush(c))
		update_events(c);
}

/* Socket output is valid UTF-8 whatever the strings held (escape.h). */
static char *print_json(const cJSON *obj, size_t *ret_len)
{
	char *s = cJSON_PrintUnformatted(obj);
	if (!s)
		return NULL;
	*ret_len = strlen(s);
	return escape_json_utf8(s, ret_len);
}

static void send_json(struct ipc_client *c, const cJSON *obj)
{
	size_t len;
	char *s = print_json(obj, &len);
	if (s)
		queue_line(c, s, len, true, false);
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
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg)) /* truncated: not in the middle of a character */
		msg[utf8_cut(msg, (size_t)n, sizeof(msg) - 2)] = '\0';
	cJSON *o = cJSON_CreateObject();
	cJSON_AddFalseToObject(o, "ok");
	cJSON_AddStringToObject(o, "error", msg);
	ipc_reply(c, o);
}

static void handle_line(struct ipc_client *c, const char *line, size_t len)
{
	cJSON *req = cJSON_ParseWithLength(line, len);
	c->busy = true;
	ev_timer_again(c->ipc->loop, &c->idle);
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
	while (!c->busy && c->fd >= 0 && !c->closing && !backlogged(c)) {
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
	if (c->fd >= 0 && !c->busy && c->in_len == sizeof(c->in) &&
	    !memchr(c->in, '\n', c->in_len)) {
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
	if ((revents & EV_WRITE) && !c->busy && !backlogged(c))
		process_lines(c); /* requests that waited for the backlog to drain */
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

/* A client that neither sends a whole request nor reads its answers for
 * idle_s is cut off. Waiting is fine for a subscriber with nothing queued
 * and for a request whose answer is still being worked out. Reads re-arm the
 * timer only when they complete a request, so trickling bytes of a line that
 * never ends does not keep a client alive. */
static void client_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ipc_client *c = container_of(w, struct ipc_client, idle);
	(void)loop;
	(void)revents;
	bool unsent = c->out_len > c->out_off;
	if (!unsent && (c->busy || (c->subscriber && c->in_len == 0))) {
		ev_timer_again(c->ipc->loop, &c->idle);
		return;
	}
	log_info("ipc: client pid %d idle for %g s, disconnected", (int)c->pid, c->ipc->idle_s);
	if (!unsent) {
		static const char msg[] = "{\"ok\":false,\"error\":\"idle for too long\"}\n";
		ssize_t r = send(c->fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)r;
	}
	client_close(c);
}

/* The socket mode (0660 + group) is the access control; this rechecks the
 * peer's credentials so that a socket passed with looser permissions does not
 * open the daemon to everyone: root, our own user, or the group of the socket
 * path. Not the listening fd's owner: under upwatch.socket that is root:0
 * whatever SocketGroup= says. */
static bool peer_allowed(const struct ipc *ipc, int fd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);
	gid_t groups[64];
	socklen_t glen = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0)
		return false;
	if (cred->uid == 0 || cred->uid == geteuid())
		return true;
	if (cred->gid == ipc->group)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0) {
		for (size_t i = 0; i < glen / sizeof(gid_t); i++)
			if (groups[i] == ipc->group)
				return true;
	}
	return false;
}

/* Best effort: one error line to a client we are about to close. */
static void refuse(int fd, const char *error)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":\"%s\"}\n", error);
	ssize_t r = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)r;
	close(fd);
}

static void refused(struct ipc *ipc, const char *why, const struct ucred *cred)
{
	uint64_t more;
	ipc->refused++;
	if (ratelimit_pass(&ipc->refuse_rl, &more))
		log_warning("ipc: refused client pid %d uid %d: %s (%" PRIu64
			    " more refused since the last message)",
			    (int)cred->pid, (int)cred->uid, why, more);
}

static void resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ipc *ipc = container_of(w, struct ipc, resume);
	(void)revents;
	if (ipc->reserve_fd < 0)
		ipc->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev_io_start(loop, &ipc->io);
}

/* accept() failed with EMFILE/ENFILE: the connection stays queued and the
 * level-triggered watcher would fire again at once. Give up the reserve
 * descriptor to accept it and tell the client why it is refused; without a
 * reserve, pause accepting for a while. Logged once per interval. */
static void out_of_fds(struct ipc *ipc, int err)
{
	uint64_t more;
	ipc->accept_errors++;
	if (ratelimit_pass(&ipc->accept_rl, &more))
		log_warning("ipc: accept: %s (%" PRIu64 " more since the last message)",
			    strerror(err), more);
	if (ipc->reserve_fd >= 0) {
		close(ipc->reserve_fd);
		ipc->reserve_fd = -1;
		int fd = accept4(ipc->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			refuse(fd, "upwatchd is out of file descriptors, try again later");
		ipc->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (ipc->reserve_fd >= 0 && fd >= 0)
			return;
	}
	ev_io_stop(ipc->loop, &ipc->io);
	ev_timer_set(&ipc->resume, IPC_ACCEPT_PAUSE_S, 0);
	ev_timer_start(ipc->loop, &ipc->resume);
}

static void listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc *ipc = container_of(w, struct ipc, io);
	(void)revents;

	for (int i = 0; i < 64; i++) {
		int fd = accept4(ipc->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				out_of_fds(ipc, errno);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warning("ipc: accept: %m");
			return;
		}
		struct ucred cred = {0};
		if (!peer_allowed(ipc, fd, &cred)) {
			refused(ipc, "not root, upwatchd's user or in the socket's group", &cred);
			refuse(fd, "permission denied: not root, upwatchd's user or a member of "
				   "the socket's group");
			continue;
		}
		if (ipc->nclients >= ipc->max_clients) {
			refused(ipc, "too many clients", &cred);
			refuse(fd, "too many clients, try again later");
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
		ev_init(&c->idle, client_idle_cb);
		c->idle.repeat = ipc->idle_s;
		ev_timer_again(loop, &c->idle);
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
	struct stat st;
	ipc->loop = loop;
	ipc->fn = fn;
	ipc->userdata = userdata;
	ipc->max_clients = IPC_CLIENTS_MAX;
	ipc->idle_s = IPC_IDLE_MS / 1000.0;

	int n = sd_listen_fds(1);
	if (n >= 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0) {
		ipc->fd = SD_LISTEN_FDS_START;
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
	/* the group allowed in is the one the path shows (SocketGroup= under
	 * upwatch.socket, our own group when we bound it) */
	ipc->group = stat(path, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_gid : getegid();
	ipc->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev_io_init(&ipc->io, listen_cb, ipc->fd, EV_READ);
	ev_io_start(loop, &ipc->io);
	ev_init(&ipc->resume, resume_cb);
	*ret = ipc;
	return 0;
}

void ipc_set_limits(struct ipc *ipc, unsigned max_clients, uint64_t idle_ms)
{
	ipc->max_clients = max_clients;
	ipc->idle_s = (double)idle_ms / 1000.0;
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
	ev_timer_stop(ipc->loop, &ipc->resume);
	close(ipc->fd);
	if (ipc->reserve_fd >= 0)
		close(ipc->reserve_fd);
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
	size_t len;
	char *s = print_json(obj, &len);
	if (!s)
		return;
	for (struct ipc_client *c = ipc->clients, *next; c; c = next) {
		next = c->next;
		if (c->subscriber)
			queue_line(c, s, len, false, true);
	}
	free(s);
}

bool ipc_has_subscribers(const struct ipc *ipc)
{
	for (const struct ipc_client *c = ipc->clients; c; c = c->next)
		if (c->subscriber)
			return true;
	return false;
}

void ipc_get_stats(const struct ipc *ipc, struct ipc_stats *ret)
{
	*ret = (struct ipc_stats){
	    .clients = ipc->nclients,
	    .dropped = ipc->dropped,
	    .refused = ipc->refused,
	    .accept_errors = ipc->accept_errors,
	};
}
