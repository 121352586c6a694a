/* errlog_kind: the stable names of event kinds and phases (errlog.h's
 * errlog_kind_name() and errlog_phase_name()). Which kind a message is lives
 * in errlog.c's private errlog_kindmap.h. */
#include "log/errlog.h"

const char *errlog_kind_name(enum errlog_kind kind)
{
	static const char *const names[EV__COUNT] = {
	    [EV_CONNECT_FAILED] = "connect_failed",
	    [EV_TIMED_OUT] = "timed_out",
	    [EV_RECV_FAILED] = "recv_failed",
	    [EV_SEND_FAILED] = "send_failed",
	    [EV_PREMATURE_CLOSE] = "premature_close",
	    [EV_INVALID_HEADER] = "invalid_header",
	    [EV_NO_VALID_HEADER] = "no_valid_header",
	    [EV_TOO_BIG_HEADER] = "too_big_header",
	    [EV_INVALID_BODY] = "invalid_body",
	    [EV_NO_LIVE_UPSTREAMS] = "no_live_upstreams",
	    [EV_PEER_DISABLED] = "peer_disabled",
	    [EV_SSL_HANDSHAKE_FAILED] = "ssl_handshake_failed",
	    [EV_SSL_VERIFY_FAILED] = "ssl_verify_failed",
	    [EV_SSL_NAME_MISMATCH] = "ssl_name_mismatch",
	    [EV_RESOLVE_FAILED] = "resolve_failed",
	    [EV_NO_RESOLVER] = "no_resolver",
	    [EV_HOST_NOT_FOUND] = "host_not_found",
	    [EV_WORKER_CONNECTIONS] = "worker_connections",
	    [EV_TOO_MANY_FILES] = "too_many_files",
	    [EV_FASTCGI_STDERR] = "fastcgi_stderr",
	    [EV_UPSTREAM_REJECTED] = "upstream_rejected",
	    [EV_OTHER] = "other",
	};
	return (unsigned)kind < EV__COUNT ? names[kind] : "unknown";
}

const char *errlog_phase_name(enum errlog_phase phase)
{
	static const char *const names[PHASE__COUNT] = {
	    [PHASE_NONE] = "none",
	    [PHASE_CONNECTING] = "connecting",
	    [PHASE_SSL_HANDSHAKE] = "ssl_handshake",
	    [PHASE_SENDING_REQUEST] = "sending_request",
	    [PHASE_READING_HEADER] = "reading_header",
	    [PHASE_READING_UPSTREAM] = "reading_upstream",
	    [PHASE_SENDING_TO_CLIENT] = "sending_to_client",
	    [PHASE_UPGRADED] = "upgraded",
	    [PHASE_RESOLVING] = "resolving",
	    [PHASE_PROXYING] = "proxying",
	    [PHASE_PROXYING_FROM_UPSTREAM] = "proxying_from_upstream",
	    [PHASE_PROXYING_TO_UPSTREAM] = "proxying_to_upstream",
	    [PHASE_PROXYING_FROM_CLIENT] = "proxying_from_client",
	    [PHASE_PROXYING_TO_CLIENT] = "proxying_to_client",
	    [PHASE_OTHER] = "other",
	};
	return (unsigned)phase < PHASE__COUNT ? names[phase] : "unknown";
}
