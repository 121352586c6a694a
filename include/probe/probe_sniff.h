/* probe_sniff: which protocol a port speaks, when it closes or resets on
 * nginx's HTTP request and no configuration upwatch can read says.
 *
 * One short exchange per candidate, each on a fresh connection, in order:
 * FastCGI (FCGI_GET_VALUES), uwsgi (a request packet with modifier1 0) and
 * TLS (a ClientHello); the first that gets its protocol's answer wins. It
 * speaks only what nginx's other *_pass modules would send, reads at most a
 * few bytes of the answer and never sends a second message. The struct
 * lives inside its owner. */
#pragma once

#include <ev.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/probe_result.h"
#include "probe/probe_tcp.h"

/* The candidates, as bits for probe_sniff_start's mask. */
#define PROBE_SNIFF_ALL                                                                            \
	((1u << PROBE_SPEAKS_FASTCGI) | (1u << PROBE_SPEAKS_UWSGI) | (1u << PROBE_SPEAKS_TLS))

struct probe_sniff;
/* heard: the protocol that answered, PROBE_SPEAKS_UNKNOWN when none did. */
typedef void (*probe_sniff_fn)(struct probe_sniff *s, enum probe_speaks heard);

struct probe_sniff {
	struct probe_tcp conn;
	ev_io io;
	ev_timer timer;
	struct ev_loop *loop;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t step_ms; /* each exchange's budget, connect included */
	unsigned mask;	  /* candidates left to try */
	enum probe_speaks step;
	probe_sniff_fn cb;
	void *owner; /* for the owner's callback; not used here */
	unsigned char in[16];
	size_t got;
};

void probe_sniff_init(struct probe_sniff *s);

/* Try the candidates of mask (PROBE_SNIFF_ALL) on sa, each within step_ms.
 * cb is always called from the loop, never from inside this call.
 * Returns 0, or -EINVAL for an address that is not IPv4, IPv6 or unix. */
int probe_sniff_start(struct probe_sniff *s, struct ev_loop *loop, const struct sockaddr *sa,
		      socklen_t salen, uint64_t step_ms, unsigned mask, probe_sniff_fn cb);
/* Stop; cb is not called. Safe to call twice, or before a start. */
void probe_sniff_cancel(struct probe_sniff *s);

/* The request each candidate sends (for tests and stubs): its bytes and
 * length; NULL for PROBE_SPEAKS_UNKNOWN. */
const unsigned char *probe_sniff_request(enum probe_speaks p, size_t *ret_len);
/* Whether the first got bytes of an answer are p's protocol (false also when
 * too few bytes arrived to tell). */
bool probe_sniff_heard(enum probe_speaks p, const unsigned char *in, size_t got);
