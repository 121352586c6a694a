/* probe_run: one probe of one peer (see probe_run.h for the contract).
 *
 * Chain (keepalived's checkers are the model):
 *   probe_run_start -> [host name: probe_dns -> run_dns_cb]
 *     -> [unix: probe_unix_check] -> run_proto: checkers[proto].start
 *     -> tcp_done | fcgi_done | http_done -> run_complete
 *        (http_done of a reset or non-HTTP answer: probe_sniff first ->
 *        sniff_done -> run_complete)
 *     -> (ev_feed_event) run_epilog -> fn.
 * A host name with several addresses is tried address after address while
 * the connect budget lasts, as nginx and curl do. */
#include "probe/probe_run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/log.h"
#include "core/util.h"
#include "probe/curl_lib.h"
#include "probe/probe_dns.h"
#include "probe/probe_fcgi.h"
#include "probe/probe_http.h"
#include "probe/probe_sniff.h"
#include "probe/probe_unix.h"

#define DEFAULT_TIMEOUT_MS 2000

struct probe_run;

/* A protocol behind the run: start returns 0 when a *_done callback will
 * come, -errno when it failed at once; cancel stops it quietly. */
struct checker {
	int (*start)(struct probe_run *run, uint64_t connect_ms, uint64_t total_ms);
	void (*cancel)(struct probe_run *run);
};

struct probe_run {
	struct probe_run_ctx *ctx;
	struct probe_target t;
	char *strs[5]; /* owned copies of t's strings */
	int64_t start_mono;
	uint64_t connect_ms, total_ms;
	struct probe_result r;
	probe_run_fn fn;
	void *userdata;
	const struct checker *checker;
	/* stages */
	struct probe_tcp tcp;
	struct probe_fcgi *fcgi;
	struct probe_http_req *http;
	struct probe_sniff *sniff;
	bool sniffed;	  /* this run sniffed */
	bool heard_known; /* the peer was sniffed lately: heard, no new sniff */
	enum probe_speaks heard;
	struct probe_dns_job *dns;
	ev_timer dns_timer;
	ev_timer donew; /* never started, only fed: completion from the loop */
	bool completing;
	struct probe_dns_answer *answers; /* host-name peers: every address */
	size_t next_addr;		  /* the next one to try if this fails */
	union {
		struct sockaddr sa;
		struct sockaddr_storage ss;
		struct sockaddr_un sun;
	} addr;
	socklen_t addrlen;
};

uint64_t probe_run_connect_ms(const struct probe_target *t)
{
	if (t->connect_timeout_ms)
		return t->connect_timeout_ms;
	return t->timeout_ms ? t->timeout_ms : DEFAULT_TIMEOUT_MS;
}

uint64_t probe_run_total_ms(const struct probe_target *t)
{
	if (t->proto == PROBE_PROTO_TCP || t->proto == PROBE_PROTO_TLS)
		return probe_run_connect_ms(t);
	if (t->read_timeout_ms) /* the read timeout itself is timed from the connect */
		return probe_run_connect_ms(t) + t->read_timeout_ms;
	return t->timeout_ms ? t->timeout_ms : DEFAULT_TIMEOUT_MS;
}

static int64_t run_now(const struct probe_run *run)
{
	return run->ctx->mono_ms(run->ctx->clock_userdata);
}

static int64_t run_left_ms(const struct probe_run *run, uint64_t budget)
{
	return (int64_t)budget - (run_now(run) - run->start_mono);
}

static void run_complete(struct probe_run *run)
{
	if (run->completing)
		return;
	run->completing = true;
	ev_feed_event(run->ctx->loop, &run->donew, EV_CUSTOM);
}

static void run_fail(struct probe_run *run, enum probe_result_kind kind, int err,
		     const char *detail)
{
	run->r.result = kind;
	run->r.err = err;
	snprintf(run->r.detail, sizeof(run->r.detail), "%s", detail);
	run_complete(run);
}

static void run_epilog(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe_run *run = container_of(w, struct probe_run, donew);
	int64_t now = run_now(run);

	run->r.time_ms = run->ctx->wall_ms(run->ctx->clock_userdata);
	run->r.latency_ms = (uint32_t)MIN(MAX(now - run->start_mono, 0), (int64_t)UINT32_MAX);
	run->fn(run, &run->r, run->userdata);
}

/* ---- tcp: connect only ---- */

static void tcp_done(struct probe_tcp *c, int err)
{
	struct probe_run *run = container_of(c, struct probe_run, tcp);
	struct probe_dns_answer *a = run->answers;

	while (err && a && run->next_addr < a->naddrs && run_left_ms(run, run->connect_ms) > 0) {
		size_t i = run->next_addr++;
		memcpy(&run->addr.ss, &a->addrs[i], a->addrlens[i]);
		run->addrlen = a->addrlens[i];
		int rc =
		    probe_tcp_start(c, run->ctx->loop, &run->ctx->pool, &run->addr.sa, run->addrlen,
				    (uint64_t)run_left_ms(run, run->connect_ms), tcp_done);
		if (rc == 0)
			return;
		err = -rc;
	}
	probe_tcp_classify(err, run->addr.sa.sa_family == AF_UNIX, run->connect_ms, &run->r);
	if (!err && a && a->naddrs > 1) {
		char ip[INET6_ADDRSTRLEN] = "";
		const void *src =
		    run->addr.sa.sa_family == AF_INET6
			? (const void *)&((struct sockaddr_in6 *)&run->addr.ss)->sin6_addr
			: (const void *)&((struct sockaddr_in *)&run->addr.ss)->sin_addr;
		inet_ntop(run->addr.sa.sa_family, src, ip, sizeof(ip));
		snprintf(run->r.detail, sizeof(run->r.detail), "connected to %s", ip);
	}
	probe_tcp_abort(c);
	run_complete(run);
}

static int tcp_start(struct probe_run *run, uint64_t connect_ms, uint64_t total_ms)
{
	if (run->addr.sa.sa_family == AF_UNIX) {
		/* probe_unix_check has connected already: that is the check. */
		run_complete(run);
		return 0;
	}
	int rc = probe_tcp_start(&run->tcp, run->ctx->loop, &run->ctx->pool, &run->addr.sa,
				 run->addrlen, connect_ms, tcp_done);
	if (rc < 0)
		tcp_done(&run->tcp, -rc); /* may go on to the next address */
	return 0;
}

static void tcp_cancel(struct probe_run *run)
{
	probe_tcp_close(&run->tcp);
}

/* ---- FastCGI ---- */

static void fcgi_done(struct probe_fcgi *f)
{
	struct probe_run *run = f->owner;
	run_complete(run);
}

static int fcgi_start(struct probe_run *run, uint64_t connect_ms, uint64_t total_ms)
{
	run->fcgi = calloc(1, sizeof(*run->fcgi));
	if (!run->fcgi)
		return -ENOMEM;
	probe_fcgi_init(run->fcgi);
	run->fcgi->owner = run;
	return probe_fcgi_start(run->fcgi, run->ctx->loop, &run->addr.sa, run->addrlen, total_ms,
				&run->r, fcgi_done);
}

static void fcgi_cancel(struct probe_run *run)
{
	if (!run->fcgi)
		return;
	probe_fcgi_cancel(run->fcgi);
	free(run->fcgi);
	run->fcgi = NULL;
}

/* ---- HTTP(S) and TLS-only, through curl ---- */

static void sniff_done_detail(struct probe_run *run)
{
	if (run->r.speaks) {
		size_t n = strlen(run->r.detail);
		snprintf(run->r.detail + n, sizeof(run->r.detail) - n, "%sthe port speaks %s",
			 n ? "; " : "", probe_speaks_name(run->r.speaks));
	}
}

static void sniff_done(struct probe_sniff *s, enum probe_speaks heard)
{
	struct probe_run *run = s->owner;
	run->r.speaks = heard;
	sniff_done_detail(run);
	run_complete(run);
}

static void sniff_cancel(struct probe_run *run)
{
	if (!run->sniff)
		return;
	probe_sniff_cancel(run->sniff);
	free(run->sniff);
	run->sniff = NULL;
}

/* An HTTP peer that reset or closed on the request, or answered bytes that
 * are not HTTP, may speak what another *_pass module would: ask it. The three
 * exchanges share upwatch's own probe_timeout (and what is left of the run),
 * not nginx's read timeout: a run that takes longer than an alert's hold
 * would let the alert lapse. A real server answers in milliseconds. */
static bool sniff_wanted(const struct probe_run *run)
{
	const struct probe_result *r = &run->r;
	return run->t.proto == PROBE_PROTO_HTTP && run->addrlen &&
	       (r->result == PROBE_RESET ||
		(r->result == PROBE_INVALID_HTTP && !r->header_too_big));
}

static void http_done(void *userdata)
{
	struct probe_run *run = userdata;
	run->http = NULL;
	int64_t left = run_left_ms(run, run->total_ms);
	uint64_t budget = run->t.timeout_ms ? run->t.timeout_ms : DEFAULT_TIMEOUT_MS;
	budget = MIN(budget, left > 0 ? (uint64_t)left : 0);
	if (sniff_wanted(run) && run->heard_known) {
		run->r.speaks = run->heard;
		sniff_done_detail(run);
	} else if (sniff_wanted(run) && budget >= 30 &&
		   (run->sniff = calloc(1, sizeof(*run->sniff)))) {
		run->sniffed = true;
		probe_sniff_init(run->sniff);
		run->sniff->owner = run;
		if (probe_sniff_start(run->sniff, run->ctx->loop, &run->addr.sa, run->addrlen,
				      budget / 3, PROBE_SNIFF_ALL, sniff_done) == 0)
			return;
		sniff_cancel(run);
	}
	run_complete(run);
}

/* libcurl is opened, and curl and the TLS library under it set up, by the
 * first HTTP, HTTPS or TLS probe, not at start: mapping them is 5.5 MB of
 * RSS (and their initialisation 2.2 MB more) that a daemon probing only TCP
 * and unix sockets, or nothing, never uses. Without libcurl these probes
 * are local errors (no verdict about the peer); the failure is logged once
 * and not tried again. */
static int http_open(struct probe_run_ctx *ctx)
{
	if (ctx->http)
		return 0;
	if (ctx->curl_error)
		return -ENOENT;
	if (!ctx->curl) {
		const char *soname = ctx->curl_soname ? ctx->curl_soname : CURL_LIB_SONAME;
		struct curl_lib *lib = malloc(sizeof(*lib));
		char why[200];
		if (!lib)
			return -ENOMEM;
		int r = curl_lib_open(soname, lib, why, sizeof(why));
		if (r < 0) {
			free(lib);
			if (asprintf(&ctx->curl_error,
				     "upwatch cannot load %s for HTTP, HTTPS and TLS probes: %s "
				     "(no verdict about the peer; TCP and unix probes go on)",
				     soname, why) < 0) {
				ctx->curl_error = NULL;
				return -ENOMEM;
			}
			log_error("%s", ctx->curl_error);
			return -ENOENT;
		}
		ctx->curl = lib;
	}
	return probe_http_new(ctx->loop, ctx->curl, &ctx->http) < 0 ? -ENOMEM : 0;
}

static int http_start(struct probe_run *run, uint64_t connect_ms, uint64_t total_ms)
{
	int r = http_open(run->ctx);
	if (r == -ENOENT) {
		run_fail(run, PROBE_LOCAL_ERROR, ELIBACC, run->ctx->curl_error);
		return 0;
	}
	if (r < 0)
		return -ENOMEM; /* local_error, no verdict (curl fails to start
				   only for want of memory or of its TLS library) */
	return probe_http_start(run->ctx->http, &run->t,
				run->t.addr.kind == PEERKEY_HOST ? run->r.dns_answers : NULL,
				connect_ms, total_ms, &run->r, http_done, run, &run->http);
}

static void http_cancel(struct probe_run *run)
{
	if (run->http)
		probe_http_cancel(run->ctx->http, run->http);
	run->http = NULL;
}

static const struct checker checkers[] = {
    [PROBE_PROTO_TCP] = {tcp_start, tcp_cancel},
    [PROBE_PROTO_HTTP] = {http_start, http_cancel},
    [PROBE_PROTO_HTTPS] = {http_start, http_cancel},
    [PROBE_PROTO_FASTCGI] = {fcgi_start, fcgi_cancel},
    [PROBE_PROTO_TLS] = {http_start, http_cancel},
};

/* A start that failed at once: the local resource failures are upwatch's
 * own, everything else is what connect() says about the peer. */
static void classify_start_error(struct probe_run *run, int err)
{
	probe_tcp_classify(err, run->addr.sa.sa_family == AF_UNIX, run->connect_ms, &run->r);
}

/* The protocol stage, once there is an address (run->addr). */
static void run_proto(struct probe_run *run)
{
	int64_t spent = MAX(run_now(run) - run->start_mono, 0);
	uint64_t connect_ms = run->connect_ms, total_ms = run->total_ms;

	/* DNS took part of the budget. */
	connect_ms = (uint64_t)spent < connect_ms ? connect_ms - (uint64_t)spent : 1;
	total_ms = (uint64_t)spent < total_ms ? total_ms - (uint64_t)spent : 1;
	connect_ms = MIN(connect_ms, total_ms);
	run->checker = &checkers[run->t.proto];
	int r = run->checker->start(run, connect_ms, total_ms);
	if (r < 0) {
		classify_start_error(run, -r);
		run_complete(run);
	}
}

static void run_dns_cb(void *userdata, const struct probe_dns_answer *a)
{
	struct probe_run *run = userdata;

	run->dns = NULL;
	ev_timer_stop(run->ctx->loop, &run->dns_timer);
	if (a->err) {
		char buf[256];
		snprintf(buf, sizeof(buf), "cannot resolve %.150s: %.80s", run->t.addr.host,
			 a->err == EAI_SYSTEM ? strerror(a->sys_errno) : gai_strerror(a->err));
		run_fail(run, PROBE_DNS_ERROR, a->err == EAI_SYSTEM ? a->sys_errno : 0, buf);
		return;
	}
	probe_dns_format(a, run->r.dns_answers, sizeof(run->r.dns_answers));
	run->answers = malloc(sizeof(*run->answers));
	if (!run->answers) {
		run_fail(run, PROBE_LOCAL_ERROR, ENOMEM, "upwatch is out of memory");
		return;
	}
	*run->answers = *a;
	memcpy(&run->addr.ss, &a->addrs[0], a->addrlens[0]);
	run->addrlen = a->addrlens[0];
	run->next_addr = 1;
	run_proto(run);
}

static void run_dns_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe_run *run = container_of(w, struct probe_run, dns_timer);
	char buf[256];

	probe_dns_cancel(run->ctx->dns, run->dns);
	run->dns = NULL;
	snprintf(buf, sizeof(buf), "cannot resolve %.150s: no answer within %llu ms",
		 run->t.addr.host, (unsigned long long)run->connect_ms);
	run_fail(run, PROBE_DNS_ERROR, ETIMEDOUT, buf);
}

static int copy_strings(struct probe_run *run)
{
	const char **fields[] = {&run->t.health_uri, &run->t.host_header, &run->t.tls_trusted,
				 &run->t.tls_name, &run->t.read_timeout_ref};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		if (!*fields[i])
			continue;
		run->strs[i] = strdup(*fields[i]);
		if (!run->strs[i])
			return -ENOMEM;
		*fields[i] = run->strs[i];
	}
	return 0;
}

void probe_run_set_heard(struct probe_run *run, enum probe_speaks known)
{
	run->heard_known = true;
	run->heard = known;
}

bool probe_run_sniffed(const struct probe_run *run)
{
	return run->sniffed;
}

void probe_run_free(struct probe_run *run)
{
	if (!run)
		return;
	struct ev_loop *loop = run->ctx->loop;
	probe_tcp_close(&run->tcp);
	fcgi_cancel(run);
	http_cancel(run);
	sniff_cancel(run);
	if (run->dns)
		probe_dns_cancel(run->ctx->dns, run->dns);
	ev_timer_stop(loop, &run->dns_timer);
	ev_clear_pending(loop, &run->dns_timer);
	ev_clear_pending(loop, &run->donew);
	for (size_t i = 0; i < ARRAY_SIZE(run->strs); i++)
		free(run->strs[i]);
	free(run->answers);
	free(run);
}

int probe_run_start(struct probe_run_ctx *ctx, const struct probe_target *t,
		    const struct sockaddr *sa, socklen_t salen, probe_run_fn fn, void *userdata,
		    struct probe_run **ret)
{
	struct probe_run *run = calloc(1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	run->ctx = ctx;
	run->t = *t;
	run->fn = fn;
	run->userdata = userdata;
	probe_tcp_init(&run->tcp);
	ev_init(&run->dns_timer, run_dns_timeout_cb);
	ev_init(&run->donew, run_epilog);
	if (copy_strings(run) < 0 || (unsigned)t->proto >= ARRAY_SIZE(checkers)) {
		int e = (unsigned)t->proto >= ARRAY_SIZE(checkers) ? -EINVAL : -ENOMEM;
		probe_run_free(run);
		return e;
	}
	run->start_mono = run_now(run);
	run->connect_ms = probe_run_connect_ms(t);
	run->total_ms = probe_run_total_ms(t);
	*ret = run;

	switch (t->addr.kind) {
	case PEERKEY_HOST:
		if (!ctx->dns && probe_dns_new(ctx->loop, &ctx->dns) < 0) {
			run_fail(run, PROBE_LOCAL_ERROR, ENOMEM,
				 "upwatch cannot start its resolver threads");
			return 0;
		}
		run->dns = probe_dns_resolve(ctx->dns, t->addr.host, t->addr.port, run_dns_cb, run);
		ev_timer_set(&run->dns_timer, run->connect_ms / 1000.0, 0);
		ev_timer_start(ctx->loop, &run->dns_timer);
		return 0;
	case PEERKEY_UNIX:
		probe_unix_check(&run->t, ctx->identity, &run->r);
		if (run->r.result != PROBE_OK) {
			run_complete(run);
			return 0;
		}
		run->addr.sun.sun_family = AF_UNIX;
		snprintf(run->addr.sun.sun_path, sizeof(run->addr.sun.sun_path), "%.107s",
			 t->addr.host);
		run->addrlen = sizeof(run->addr.sun);
		break;
	default:
		memcpy(&run->addr.ss, sa, salen);
		run->addrlen = salen;
		break;
	}
	run_proto(run);
	return 0;
}
