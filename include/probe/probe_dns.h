/* probe_dns: name resolution for host-name peers without blocking the loop.
 *
 * A few detached worker threads do nothing but call getaddrinfo() and hand the
 * answers back to the loop through one ev_async. A job cancelled while its
 * thread is still inside getaddrinfo() is dropped silently when it comes back.
 * Names under ".invalid" fail at once without a query (RFC 6761 6.4), so a
 * deliberately bogus name never leaves the host. */
#pragma once

#include <stddef.h>
#include <sys/socket.h>

struct ev_loop;
struct probe_dns;
struct probe_dns_job;

#define PROBE_DNS_MAX_ADDRS 8

struct probe_dns_answer {
	int err;       /* 0, or a getaddrinfo EAI_* code */
	int sys_errno; /* errno behind EAI_SYSTEM */
	size_t naddrs;
	struct sockaddr_storage addrs[PROBE_DNS_MAX_ADDRS]; /* in getaddrinfo order */
	socklen_t addrlens[PROBE_DNS_MAX_ADDRS];
};

/* Called in the loop with the answer (valid during the call only). */
typedef void (*probe_dns_fn)(void *userdata, const struct probe_dns_answer *a);

/* -ENOMEM. */
int probe_dns_new(struct ev_loop *loop, struct probe_dns **ret);
/* Pending jobs are dropped without callbacks; threads still inside
 * getaddrinfo() finish on their own and free the shared state last. */
void probe_dns_free(struct probe_dns *d);

/* Resolve name (port is filled into the addresses). Returns the job, to be
 * passed to probe_dns_cancel() if the caller gives up before fn runs. */
struct probe_dns_job *probe_dns_resolve(struct probe_dns *d, const char *name, unsigned port,
					probe_dns_fn fn, void *userdata);
void probe_dns_cancel(struct probe_dns *d, struct probe_dns_job *job);

/* "127.0.0.1 ::1" for the answer, truncated at whole addresses. */
void probe_dns_format(const struct probe_dns_answer *a, char *buf, size_t len);
