/* rules: which cause an observation points at. Pure functions of one log
 * event or one probe result and what is known of the peer; no state, no
 * text. The lifecycle (which alert an observation raises, keeps or
 * resolves) is diagnose.c's. */
#pragma once

#include <stdbool.h>
#include <string.h>

#include "diagnose/cause.h"
#include "log/errlog.h"
#include "probe/probe_result.h"

/* The cause of a log event; CAUSE_NONE when it names none (peer_disabled
 * and fastcgi_stderr lines never do: diagnose.c relies on it). listener_up:
 * something listens on the (local) peer, which turns a connect timeout
 * into a full accept queue. Inline: once a line, its call was a fifth of
 * its cost. */
static inline enum cause rules_event_cause(const struct errlog_event *ev, bool is_unix,
					   bool listener_up)
{
	switch (ev->kind) {
	case EV_CONNECT_FAILED:
		switch (ev->err) {
		case 2:
			return CAUSE_SOCKET_MISSING;
		case 13:
			return is_unix ? CAUSE_SOCKET_PERMISSION : CAUSE_BACKEND_UNREACHABLE;
		case 111:
			return is_unix ? CAUSE_SOCKET_STALE : CAUSE_BACKEND_DOWN;
		case 11:
			return CAUSE_BACKEND_OVERLOADED;
		case 110:
			return listener_up ? CAUSE_BACKEND_OVERLOADED : CAUSE_BACKEND_UNREACHABLE;
		case 99:
			/* EADDRNOTAVAIL from connect(): no free local port (or an
			 * address the host does not have), not the peer's fault */
			return CAUSE_LOCAL_PORTS_EXHAUSTED;
		case 101:
		case 113:
			return CAUSE_BACKEND_UNREACHABLE;
		default:
			return CAUSE_BACKEND_DOWN;
		}
	case EV_TIMED_OUT:
		switch (ev->phase) {
		case PHASE_CONNECTING:
			/* a local listener that does not complete the handshake has a
			 * full accept queue; otherwise SYNs go unanswered */
			return listener_up ? CAUSE_BACKEND_OVERLOADED : CAUSE_BACKEND_UNREACHABLE;
		case PHASE_SSL_HANDSHAKE:
			return CAUSE_TLS_FAILURE;
		default:
			return CAUSE_BACKEND_SLOW;
		}
	case EV_RECV_FAILED:
	case EV_SEND_FAILED:
		/* ECONNREFUSED on a connected socket: a UDP peer's ICMP port
		 * unreachable, nothing listens there */
		if (ev->err == 111)
			return CAUSE_BACKEND_DOWN;
		if (ev->detail.p && memmem(ev->detail.p, ev->detail.len, "SSL", 3))
			return CAUSE_TLS_FAILURE;
		return CAUSE_BACKEND_RESET;
	case EV_PREMATURE_CLOSE:
		return CAUSE_BACKEND_RESET;
	case EV_INVALID_HEADER:
	case EV_NO_VALID_HEADER:
	case EV_INVALID_BODY:
		return CAUSE_INVALID_RESPONSE;
	case EV_UPSTREAM_REJECTED:
		/* gRPC RST_STREAM: 7 REFUSED_STREAM is a backend at its stream
		 * limit; any other code a broken answer (nginx sends 502) */
		if (ev->detail.len == 1 && ev->detail.p[0] == '7')
			return CAUSE_BACKEND_OVERLOADED;
		return CAUSE_INVALID_RESPONSE;
	case EV_TOO_BIG_HEADER:
		return CAUSE_HEADER_TOO_BIG;
	case EV_SSL_HANDSHAKE_FAILED:
	case EV_SSL_VERIFY_FAILED:
	case EV_SSL_NAME_MISMATCH:
		return CAUSE_TLS_FAILURE;
	case EV_RESOLVE_FAILED:
	case EV_NO_RESOLVER:
	case EV_HOST_NOT_FOUND:
		return CAUSE_DNS_FAILURE;
	case EV_NO_LIVE_UPSTREAMS:
		return CAUSE_NO_LIVE_UPSTREAMS;
	case EV_WORKER_CONNECTIONS:
	case EV_TOO_MANY_FILES:
		return CAUSE_WORKER_CONNECTIONS_EXHAUSTED;
	default:
		return CAUSE_NONE;
	}
}

/* Whether evaluating the event needs listener_up (only connect timeouts do:
 * the hot path skips the lookup otherwise). Inline: once a line. */
static inline bool rules_event_needs_listener(const struct errlog_event *ev)
{
	return (ev->kind == EV_CONNECT_FAILED && ev->err == 110) ||
	       (ev->kind == EV_TIMED_OUT && ev->phase == PHASE_CONNECTING);
}

/* The cause a failing probe points at; CAUSE_NONE when it names none. */
enum cause rules_probe_cause(const struct probe_result *r, bool is_unix);

/* A verdict about the peer: a probe that ran and did not fail for upwatch's
 * own reasons (PROBE_LOCAL_ERROR is upwatch out of descriptors or memory). */
bool rules_probe_is_verdict(const struct probe_result *r);

/* Causes of which one peer has at most one at a time: what the socket file
 * is (missing, stale) is one fact, and the newest observation of it wins. */
bool rules_exclusive(enum cause a, enum cause b);

/* Causes a backend that came back (backend_restarted) tells the story of. */
bool rules_restart_chapter(enum cause c);

/* A chapter that shows nothing listened on a local peer when nginx saw it
 * (refused, stale socket file, no socket file): a listener seen first after
 * it is a new one. */
bool rules_absence_chapter(enum cause c);
