/* probe_run: one probe of one peer, from its address to its result
 * (internal to src/probe: the scheduler in probe.c is its only user).
 *
 * Stage chain: [host name: probe_dns] -> [unix: probe_unix_check] -> the
 * protocol's checker ({start, cancel}, one file per protocol: probe_tcp,
 * probe_http, probe_fcgi) -> completion, always delivered from the loop
 * (ev_feed_event), never inside probe_run_start or a curl callback. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/probe_result.h"
#include "probe/probe_target.h"
#include "probe/probe_tcp.h"

struct ev_loop;
struct curl_lib;
struct probe_http;
struct probe_dns;
struct probe_clock;
struct probe_run;

/* What every run of one prober shares; owned by the prober. */
struct probe_run_ctx {
	struct ev_loop *loop;
	struct probe_http *http;
	struct curl_lib *curl;	 /* libcurl, opened by the first HTTP or TLS probe */
	const char *curl_soname; /* NULL: CURL_LIB_SONAME (tests name a missing one) */
	char *curl_error;	 /* why libcurl could not be opened: not tried again */
	struct probe_dns *dns;	 /* made on first use */
	struct probe_tcp_pool pool;
	const struct probe_identity *identity;
	int64_t (*mono_ms)(void *userdata);
	int64_t (*wall_ms)(void *userdata);
	void *clock_userdata;
};

/* r is the run's result (time_ms and latency_ms filled), valid until
 * probe_run_free. */
typedef void (*probe_run_fn)(struct probe_run *run, struct probe_result *r, void *userdata);

/* Probe t (copied, strings included). sa/salen: the address of an IP peer
 * (ignored for unix and host-name peers). fn is called once from the loop.
 * -ENOMEM. */
int probe_run_start(struct probe_run_ctx *ctx, const struct probe_target *t,
		    const struct sockaddr *sa, socklen_t salen, probe_run_fn fn, void *userdata,
		    struct probe_run **ret);
/* The peer was sniffed lately (probe_sniff) and answered `known`
 * (PROBE_SPEAKS_UNKNOWN: nothing): this run does not sniff again, and a
 * reset or non-HTTP answer carries `known`. Call right after
 * probe_run_start. */
void probe_run_set_heard(struct probe_run *run, enum probe_speaks known);
/* Whether this run sniffed (valid in fn). */
bool probe_run_sniffed(const struct probe_run *run);

/* Stop a run; fn is not called (any longer). NULL is fine. */
void probe_run_free(struct probe_run *run);

/* The phase budgets a target gives (see struct probe_target). */
uint64_t probe_run_connect_ms(const struct probe_target *t);
uint64_t probe_run_total_ms(const struct probe_target *t);
