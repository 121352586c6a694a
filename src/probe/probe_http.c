/* probe_http: libcurl multi + libev (curl's "multi_socket" API).
 *
 * Owns: the CURLM handle, one ev_io per socket curl asks us to watch, one
 * ev_timer for curl's timeout, a small cache of reset easy handles, and each
 * request's slists and error buffer.
 *
 * Chain: probe_http_start -> curl_multi_add_handle -> (timer_cb | io_cb)
 *        -> curl_multi_socket_action -> drain_done (curl_multi_info_read,
 *        every time) -> req_finish: read timings, map CURLcode to a probe
 *        result -> fn(userdata).
 * Pitfalls handled: curl's ms timeout is converted with / 1000.0 (an integer
 * division turns every sub-second timer into 0 and spins the loop); signals
 * are off (CURLOPT_NOSIGNAL); proxies from the environment are ignored. */
#include "probe/probe_http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "build-config.h"
#include "probe/curl_lib.h"
#include "probe/probe_tcp.h"
#include "core/util.h"

#define EASY_CACHE 32

struct probe_http {
	struct ev_loop *loop;
	const struct curl_lib *curl; /* the caller's, outlives h */
	CURLM *multi;
	ev_timer timer;
	CURL *cache[EASY_CACHE];
	size_t ncache;
	struct probe_http_req *reqs; /* running, for probe_http_free */
};

struct http_sock {
	ev_io io;
	struct probe_http *h;
};

struct probe_http_req {
	struct probe_http *h;
	struct probe_http_req *next, *prev;
	CURL *easy;
	struct curl_slist *headers, *connect_to, *resolve;
	struct probe_result *r;
	probe_http_fn fn;
	void *userdata;
	uint64_t connect_ms, total_ms, read_ms;
	const char *read_ref; /* the target's, valid while the request runs */
	bool tls, tls_only, verify;
	bool any_status; /* no expect_status / health_uri: every status is a response */
	int expect_lo, expect_hi;
	int sock_errno;	     /* why curl could not make its socket: upwatch's own failure */
	ev_timer read_timer; /* nginx's read timeout: from connected to the first header */
	size_t header_bytes, body_bytes;
	bool header_capped, body_capped;
	bool connected, tls_done;
	char errbuf[CURL_ERROR_SIZE];
};

static void drain_done(struct probe_http *h);

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_sock *s = container_of(w, struct http_sock, io);
	struct probe_http *h = s->h; /* s may be freed inside socket_action */
	int action = ((revents & EV_READ) ? CURL_CSELECT_IN : 0) |
		     ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;

	h->curl->multi_socket_action(h->multi, w->fd, action, &running);
	drain_done(h);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe_http *h = container_of(w, struct probe_http, timer);
	int running;

	h->curl->multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain_done(h);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct probe_http *h = userp;
	struct http_sock *s = socketp;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			ev_io_stop(h->loop, &s->io);
			h->curl->multi_assign(h->multi, fd, NULL);
			free(s);
		}
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->h = h;
		ev_io_init(&s->io, io_cb, fd, 0);
		h->curl->multi_assign(h->multi, fd, s);
	}
	int events =
	    ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	ev_io_stop(h->loop, &s->io);
	ev_io_set(&s->io, fd, events);
	ev_io_start(h->loop, &s->io);
	return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct probe_http *h = userp;

	ev_timer_stop(h->loop, &h->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&h->timer, timeout_ms / 1000.0, 0);
		ev_timer_start(h->loop, &h->timer);
	}
	return 0;
}

static void req_finish(struct probe_http_req *req, CURLcode code);

/* Connected (and TLS done), the request about to go: nginx's read timeout
 * for the response header starts here, as nginx's does. */
static int prereq_cb(void *userdata, char *conn_primary_ip, char *conn_local_ip,
		     int conn_primary_port, int conn_local_port)
{
	struct probe_http_req *req = userdata;

	ev_timer_set(&req->read_timer, req->read_ms / 1000.0, 0);
	ev_timer_start(req->h->loop, &req->read_timer);
	return CURL_PREREQFUNC_OK;
}

static void read_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe_http_req *req = container_of(w, struct probe_http_req, read_timer);
	req_finish(req, CURLE_OPERATION_TIMEDOUT);
}

static size_t header_cb(char *data, size_t size, size_t n, void *userdata)
{
	struct probe_http_req *req = userdata;

	ev_timer_stop(req->h->loop, &req->read_timer); /* a response header has begun */
	req->header_bytes += n;
	if (req->header_bytes > PROBE_HTTP_HEADER_MAX) {
		/* nginx answers 502 long before this (proxy_buffer_size): a failure. */
		req->header_capped = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return n;
}

static size_t body_cb(char *data, size_t size, size_t n, void *userdata)
{
	struct probe_http_req *req = userdata;

	req->body_bytes += n;
	if (req->body_bytes > PROBE_HTTP_BODY_MAX) {
		req->body_capped = true;
		return 0;
	}
	return n;
}

/* Every fd O_CLOEXEC, curl's too; a socket() failure is remembered: curl
 * reports it as "could not connect", which would blame the peer. */
static curl_socket_t open_socket_cb(void *userdata, curlsocktype purpose,
				    struct curl_sockaddr *addr)
{
	struct probe_http_req *req = userdata;
	int fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	if (fd < 0)
		req->sock_errno = errno;
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

int probe_http_new(struct ev_loop *loop, const struct curl_lib *curl, struct probe_http **ret)
{
	struct probe_http *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;

	h->curl = curl;
	if (h->curl->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(h);
		return -EIO;
	}
	h->loop = loop;
	h->multi = h->curl->multi_init();
	if (!h->multi) {
		h->curl->global_cleanup();
		free(h);
		return -EIO;
	}
	ev_timer_init(&h->timer, timer_cb, 0, 0);
	h->curl->multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	h->curl->multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	h->curl->multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	h->curl->multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*ret = h;
	return 0;
}

static void req_release(struct probe_http_req *req)
{
	struct probe_http *h = req->h;

	if (req->prev)
		req->prev->next = req->next;
	else
		h->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	ev_timer_stop(h->loop, &req->read_timer);
	h->curl->multi_remove_handle(h->multi, req->easy);
	if (h->ncache < EASY_CACHE) {
		h->curl->easy_reset(req->easy);
		h->cache[h->ncache++] = req->easy;
	} else {
		h->curl->easy_cleanup(req->easy);
	}
	h->curl->slist_free_all(req->headers);
	h->curl->slist_free_all(req->connect_to);
	h->curl->slist_free_all(req->resolve);
	free(req);
}

void probe_http_free(struct probe_http *h)
{
	if (!h)
		return;
	while (h->reqs)
		req_release(h->reqs);
	for (size_t i = 0; i < h->ncache; i++)
		h->curl->easy_cleanup(h->cache[i]);
	h->curl->multi_cleanup(h->multi);
	ev_timer_stop(h->loop, &h->timer);
	h->curl->global_cleanup();
	free(h);
}

void probe_http_cancel(struct probe_http *h, struct probe_http_req *req)
{
	req_release(req);
}

static uint32_t usec_to_ms(curl_off_t us)
{
	if (us <= 0)
		return 0;
	return (uint32_t)((us + 500) / 1000);
}

/* "Nov 21 11:00:00 2027 GMT" (OpenSSL's ASN1_TIME_print) -> epoch seconds. */
static int64_t parse_cert_time(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%b %d %H:%M:%S %Y", &tm);
	if (!end)
		return 0;
	return (int64_t)timegm(&tm);
}

static void read_certinfo(struct probe_http_req *req)
{
	struct curl_certinfo *ci = NULL;
	struct probe_result *r = req->r;

	if (req->h->curl->easy_getinfo(req->easy, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci ||
	    ci->num_of_certs < 1)
		return;
	/* certinfo[0] is the server's own certificate. */
	for (struct curl_slist *l = ci->certinfo[0]; l; l = l->next) {
		if (startswith(l->data, "Subject:"))
			snprintf(r->cert_subject, sizeof(r->cert_subject), "%s", l->data + 8);
		else if (startswith(l->data, "Issuer:"))
			snprintf(r->cert_issuer, sizeof(r->cert_issuer), "%s", l->data + 7);
		else if (startswith(l->data, "Expire date:"))
			r->cert_not_after = parse_cert_time(l->data + 12);
	}
	if (!req->verify && !r->tls_error[0]) {
		/* Verification is off (as in nginx's default): still say what a
		 * verifying client would have objected to. */
		if (r->cert_not_after && r->cert_not_after < (int64_t)time(NULL))
			snprintf(r->tls_error, sizeof(r->tls_error),
				 "verify off: certificate has expired");
		else if (ci->num_of_certs == 1 && r->cert_subject[0] &&
			 streq(r->cert_subject, r->cert_issuer))
			snprintf(r->tls_error, sizeof(r->tls_error),
				 "verify off: self-signed certificate");
	}
}

/* curl's message for a verify failure, reduced to OpenSSL's verify text. */
static void set_tls_error(struct probe_http_req *req, CURLcode code)
{
	struct probe_result *r = req->r;
	const char *msg = req->errbuf[0] ? req->errbuf : req->h->curl->easy_strerror(code);
	static const char problem[] = "SSL certificate problem: ";

	if (strstr(msg, "subject name") && strstr(msg, "match"))
		snprintf(r->tls_error, sizeof(r->tls_error), "certificate name mismatch");
	else if (startswith(msg, problem))
		snprintf(r->tls_error, sizeof(r->tls_error), "%s", msg + strlen(problem));
	else
		snprintf(r->tls_error, sizeof(r->tls_error), "%.159s", msg);
	r->result = PROBE_TLS_ERROR;
	snprintf(r->detail, sizeof(r->detail), "TLS: %s", r->tls_error);
}

static void check_status(struct probe_http_req *req)
{
	struct probe_result *r = req->r;

	if (req->header_capped) {
		r->result = PROBE_INVALID_HTTP;
		r->header_too_big = true;
		snprintf(r->detail, sizeof(r->detail),
			 "HTTP %d with a response header over %d KiB: too big, nginx answers 502",
			 r->http_status, PROBE_HTTP_HEADER_MAX / 1024);
	} else if (req->any_status ||
		   (r->http_status >= req->expect_lo && r->http_status <= req->expect_hi)) {
		r->result = PROBE_OK;
		snprintf(r->detail, sizeof(r->detail), "HTTP %d", r->http_status);
	} else {
		r->result = PROBE_HTTP_STATUS;
		snprintf(r->detail, sizeof(r->detail), "HTTP %d (expected %d-%d)", r->http_status,
			 req->expect_lo, req->expect_hi);
	}
}

/* Upwatch could not make the request: never a verdict about the peer. */
static void set_local_error(struct probe_result *r, int err, const char *what)
{
	r->result = PROBE_LOCAL_ERROR;
	r->err = err;
	snprintf(r->detail, sizeof(r->detail), "upwatch %s: %s (no verdict about the peer)", what,
		 strerror(err));
}

static void map_code(struct probe_http_req *req, CURLcode code)
{
	struct probe_result *r = req->r;
	long os_errno = 0;
	const char *msg = req->errbuf[0] ? req->errbuf : req->h->curl->easy_strerror(code);

	req->h->curl->easy_getinfo(req->easy, CURLINFO_OS_ERRNO, &os_errno);
	switch (code) {
	case CURLE_OK:
		if (req->tls_only) {
			r->result = PROBE_OK;
			snprintf(r->detail, sizeof(r->detail), "TLS handshake done");
			return;
		}
		check_status(req);
		return;
	case CURLE_WRITE_ERROR:
		if ((req->body_capped || req->header_capped) && r->http_status) {
			check_status(req);
			return;
		}
		break;
	case CURLE_OUT_OF_MEMORY:
		/* curl 7.88 reports one header line over its 100 KiB line limit
		 * this way, once the status line has come: a reply too big for
		 * nginx as well, not upwatch running out of memory. */
		if (req->header_bytes > 0 || strstr(msg, "header")) {
			r->result = PROBE_INVALID_HTTP;
			r->header_too_big = true;
			r->header_bytes = MAX(r->header_bytes, (uint32_t)(100 * 1024));
			snprintf(r->detail, sizeof(r->detail),
				 "a response header line over 100 KiB: too big, nginx answers 502");
			return;
		}
		set_local_error(r, ENOMEM, "is out of memory");
		return;
	case CURLE_COULDNT_CONNECT:
		if (req->sock_errno) {
			set_local_error(r, req->sock_errno, "cannot create a socket");
			return;
		}
		probe_tcp_classify(os_errno ? (int)os_errno : ECONNREFUSED, false, req->connect_ms,
				   r);
		return;
	case CURLE_OPERATION_TIMEDOUT:
		r->result = PROBE_TIMEOUT;
		r->err = ETIMEDOUT;
		if (!req->connected)
			snprintf(r->detail, sizeof(r->detail), "connect() timed out after %llu ms",
				 (unsigned long long)req->connect_ms);
		else if (req->tls && !req->tls_done)
			snprintf(r->detail, sizeof(r->detail),
				 "TLS handshake not done within %llu ms",
				 (unsigned long long)req->connect_ms);
		else if (!r->http_status && req->read_ref)
			snprintf(r->detail, sizeof(r->detail),
				 "no response header within %llu ms (nginx's read timeout, %.150s)",
				 (unsigned long long)req->read_ms, req->read_ref);
		else if (!r->http_status)
			snprintf(r->detail, sizeof(r->detail), "no response header within %llu ms",
				 (unsigned long long)req->read_ms);
		else
			snprintf(r->detail, sizeof(r->detail),
				 "HTTP %d but the body did not end within %llu ms", r->http_status,
				 (unsigned long long)req->total_ms);
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
		/* Names are resolved before curl sees them; kept for safety. */
		r->result = PROBE_DNS_ERROR;
		snprintf(r->detail, sizeof(r->detail), "%.250s", msg);
		return;
	case CURLE_GOT_NOTHING:
		r->result = PROBE_RESET;
		snprintf(r->detail, sizeof(r->detail),
			 "empty reply: connection closed without a response");
		return;
	case CURLE_PARTIAL_FILE:
		r->result = PROBE_RESET;
		snprintf(r->detail, sizeof(r->detail),
			 "connection closed before the end of the response");
		return;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		if (os_errno == ECONNRESET || os_errno == EPIPE) {
			r->result = PROBE_RESET;
			r->err = (int)os_errno;
			snprintf(r->detail, sizeof(r->detail), "%s: connection reset by peer",
				 r->http_status ? "reading the response" : "before a response");
			return;
		}
		break;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
		r->result = PROBE_INVALID_HTTP;
		snprintf(r->detail, sizeof(r->detail), "not a valid HTTP response: %.200s", msg);
		return;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		set_tls_error(req, code);
		return;
	default:
		break;
	}
	r->result = PROBE_ERROR;
	r->err = (int)os_errno;
	snprintf(r->detail, sizeof(r->detail), "%s", msg);
}

static void req_finish(struct probe_http_req *req, CURLcode code)
{
	struct probe_result *r = req->r;
	curl_off_t t_connect = 0, t_app = 0, t_first = 0, t_total = 0;
	long status = 0, header_size = 0;

	req->h->curl->easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	req->h->curl->easy_getinfo(req->easy, CURLINFO_CONNECT_TIME_T, &t_connect);
	req->h->curl->easy_getinfo(req->easy, CURLINFO_APPCONNECT_TIME_T, &t_app);
	req->h->curl->easy_getinfo(req->easy, CURLINFO_STARTTRANSFER_TIME_T, &t_first);
	req->h->curl->easy_getinfo(req->easy, CURLINFO_TOTAL_TIME_T, &t_total);
	req->h->curl->easy_getinfo(req->easy, CURLINFO_HEADER_SIZE, &header_size);

	/* With TLS, curl counts "connected" only after the handshake; a local
	 * port is recorded once TCP itself is up. */
	long local_port = 0;
	req->h->curl->easy_getinfo(req->easy, CURLINFO_LOCAL_PORT, &local_port);
	req->connected = t_connect > 0 || local_port > 0;
	req->tls_done = t_app > 0;
	r->http_checked = true;
	r->http_status = (int)status;
	/* at least 1 once connected: diagnosis reads connect_ms 0 as "never
	 * connected" (unreachable), and loopback connects take microseconds */
	r->connect_ms = t_connect > 0 ? MAX(usec_to_ms(t_connect), 1u) : 0;
	r->ttfb_ms = status ? MAX(usec_to_ms(t_first), r->connect_ms) : 0;
	r->total_ms = MAX(usec_to_ms(t_total), r->ttfb_ms);
	r->header_bytes = (uint32_t)MAX((size_t)MAX(header_size, 0), req->header_bytes);
	if (req->tls)
		read_certinfo(req);
	map_code(req, code);

	probe_http_fn fn = req->fn;
	void *userdata = req->userdata;
	req_release(req);
	fn(userdata);
}

static void drain_done(struct probe_http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = h->curl->multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct probe_http_req *req = NULL;
		CURLcode code = msg->data.result;
		h->curl->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
		if (req)
			req_finish(req, code);
	}
}

/* "[::1]" for IPv6 literals, as URLs and CURLOPT_CONNECT_TO want them. */
static void url_host(const char *host, char *buf, size_t len)
{
	if (strchr(host, ':'))
		snprintf(buf, len, "[%s]", host);
	else
		snprintf(buf, len, "%s", host);
}

int probe_http_start(struct probe_http *h, const struct probe_target *t, const char *resolved,
		     uint64_t connect_ms, uint64_t total_ms, struct probe_result *r,
		     probe_http_fn fn, void *userdata, struct probe_http_req **ret)
{
	struct probe_http_req *req = calloc(1, sizeof(*req));
	bool tls = t->proto == PROBE_PROTO_HTTPS || t->proto == PROBE_PROTO_TLS;
	bool is_unix = t->addr.kind == PEERKEY_UNIX;
	const char *uri = t->health_uri && t->health_uri[0] == '/' ? t->health_uri : "/";
	char host[270], url[1400], buf[700];
	CURL *e;

	if (!req)
		return -ENOMEM;
	req->h = h;
	req->r = r;
	req->fn = fn;
	req->userdata = userdata;
	req->connect_ms = MIN(connect_ms, total_ms);
	req->total_ms = total_ms;
	req->read_ms = t->read_timeout_ms ? t->read_timeout_ms : total_ms;
	req->read_ref = t->read_timeout_ref;
	ev_timer_init(&req->read_timer, read_timeout_cb, 0, 0);
	req->tls = tls;
	req->tls_only = t->proto == PROBE_PROTO_TLS;
	req->verify = t->tls_verify;
	req->expect_lo = t->expect_lo;
	req->expect_hi = t->expect_hi;
	if (req->expect_lo <= 0 && req->expect_hi <= 0) {
		/* nginx takes any status as a response; a health URI of the
		 * operator's own means "healthy" answers only. */
		req->any_status = !(t->health_uri && t->health_uri[0]);
		req->expect_lo = 200;
		req->expect_hi = 399;
	} else if (req->expect_hi < req->expect_lo) {
		req->expect_hi = req->expect_lo; /* "expect_status 204;" */
	}

	e = h->ncache ? h->cache[--h->ncache] : h->curl->easy_init();
	if (!e) {
		free(req);
		return -ENOMEM;
	}
	req->easy = e;

	/* The name in the URL is what SNI and certificate checks use; where it
	 * is not the address, CURLOPT_CONNECT_TO sends the connection to it. */
	const char *name = is_unix ? "localhost" : t->addr.host;
	/* curl sends SNI for any name in the URL and cannot verify a name it
	 * did not send: with proxy_ssl_server_name off and verification off the
	 * address is used (no SNI, as nginx); with verification on, the name
	 * is sent even when nginx would not. */
	bool use_tls_name =
	    tls && t->tls_name && t->tls_name[0] && !is_unix && (t->tls_sni || t->tls_verify);
	if (use_tls_name)
		name = t->tls_name;
	url_host(name, host, sizeof(host));
	unsigned port = t->addr.port;
	if (is_unix)
		snprintf(url, sizeof(url), "%s://%s%s", tls ? "https" : "http", host, uri);
	else
		snprintf(url, sizeof(url), "%s://%s:%u%s", tls ? "https" : "http", host, port, uri);

	if (!is_unix && resolved && resolved[0]) {
		/* A host-name peer: curl gets the caller's answers (all of them,
		 * tried in order) instead of resolving again. */
		size_t n = (size_t)snprintf(buf, sizeof(buf), "%s:%u:", t->addr.host, port);
		char list[sizeof(buf)], *save = NULL;
		snprintf(list, sizeof(list), "%s", resolved);
		for (char *a = strtok_r(list, " ", &save); a && n < sizeof(buf);
		     a = strtok_r(NULL, " ", &save)) {
			char ip[INET6_ADDRSTRLEN + 3];
			url_host(a, ip, sizeof(ip));
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
					      buf[n - 1] == ':' ? "" : ",", ip);
		}
		req->resolve = h->curl->slist_append(NULL, buf);
	}
	if (use_tls_name && !streq(name, t->addr.host)) {
		char to[270];
		url_host(t->addr.host, to, sizeof(to));
		snprintf(buf, sizeof(buf), "%s:%u:%s:%u", name, port, to, port);
		req->connect_to = h->curl->slist_append(NULL, buf);
	}

	/* Host: what the caller says nginx sends; else the peer as written. */
	if (t->host_header && t->host_header[0] && !strpbrk(t->host_header, "\r\n")) {
		snprintf(buf, sizeof(buf), "Host: %s", t->host_header);
		req->headers = h->curl->slist_append(req->headers, buf);
	} else if (use_tls_name) {
		char ph[270];
		url_host(t->addr.host, ph, sizeof(ph));
		snprintf(buf, sizeof(buf), "Host: %s:%u", ph, port);
		req->headers = h->curl->slist_append(req->headers, buf);
	}

	h->curl->easy_setopt(e, CURLOPT_URL, url);
	h->curl->easy_setopt(e, CURLOPT_PRIVATE, req);
	h->curl->easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf);
	h->curl->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	h->curl->easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	h->curl->easy_setopt(e, CURLOPT_OPENSOCKETDATA, req);
	h->curl->easy_setopt(e, CURLOPT_NOPROXY, "*");
	h->curl->easy_setopt(e, CURLOPT_PROXY, "");
	h->curl->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	h->curl->easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	h->curl->easy_setopt(e, CURLOPT_USERAGENT, "upwatch/" UPWATCH_VERSION " (health probe)");
	h->curl->easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	h->curl->easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	h->curl->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)MIN(req->connect_ms, LONG_MAX));
	h->curl->easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)MIN(total_ms, LONG_MAX));
	if (req->tls_only) {
		h->curl->easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	} else {
		h->curl->easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
		h->curl->easy_setopt(e, CURLOPT_PREREQDATA, req);
	}
	h->curl->easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	h->curl->easy_setopt(e, CURLOPT_HEADERDATA, req);
	h->curl->easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	h->curl->easy_setopt(e, CURLOPT_WRITEDATA, req);
	if (req->headers)
		h->curl->easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
	if (req->connect_to)
		h->curl->easy_setopt(e, CURLOPT_CONNECT_TO, req->connect_to);
	if (req->resolve)
		h->curl->easy_setopt(e, CURLOPT_RESOLVE, req->resolve);
	if (is_unix)
		h->curl->easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, t->addr.host);
	if (tls) {
		h->curl->easy_setopt(e, CURLOPT_SSL_VERIFYPEER, t->tls_verify ? 1L : 0L);
		h->curl->easy_setopt(e, CURLOPT_SSL_VERIFYHOST, t->tls_verify ? 2L : 0L);
		if (t->tls_trusted && t->tls_trusted[0])
			h->curl->easy_setopt(e, CURLOPT_CAINFO, t->tls_trusted);
		/* Every probe does a full handshake and sees the certificate. */
		h->curl->easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
		h->curl->easy_setopt(e, CURLOPT_CERTINFO, 1L);
	}

	if (h->curl->multi_add_handle(h->multi, e) != CURLM_OK) {
		h->curl->easy_cleanup(e);
		h->curl->slist_free_all(req->headers);
		h->curl->slist_free_all(req->connect_to);
		h->curl->slist_free_all(req->resolve);
		free(req);
		return -ENOMEM;
	}
	req->next = h->reqs;
	if (h->reqs)
		h->reqs->prev = req;
	h->reqs = req;
	*ret = req;
	return 0;
}
