/* probe_result: names of a probe's results and peer states (see probe_result.h). */
#include "probe/probe_result.h"

#include <stddef.h>

static const char *const result_names[PROBE__COUNT] = {
    [PROBE_OK] = "ok",
    [PROBE_REFUSED] = "refused",
    [PROBE_TIMEOUT] = "timeout",
    [PROBE_UNREACHABLE] = "unreachable",
    [PROBE_RESET] = "reset",
    [PROBE_INVALID_HTTP] = "invalid_http",
    [PROBE_HTTP_STATUS] = "http_status",
    [PROBE_TLS_ERROR] = "tls_error",
    [PROBE_DNS_ERROR] = "dns_error",
    [PROBE_MISSING] = "missing",
    [PROBE_NOT_SOCKET] = "not_socket",
    [PROBE_PERMISSION] = "permission",
    [PROBE_STALE] = "stale",
    [PROBE_OVERLOADED] = "overloaded",
    [PROBE_LOCAL_ERROR] = "local_error",
    [PROBE_ERROR] = "error",
};

const char *probe_result_name(enum probe_result_kind r)
{
	if ((unsigned)r >= PROBE__COUNT)
		return "error";
	return result_names[r];
}

const char *peer_state_name(enum peer_state s)
{
	switch (s) {
	case PEER_UP:
		return "up";
	case PEER_DOWN:
		return "down";
	default:
		return "unknown";
	}
}

const char *probe_speaks_name(enum probe_speaks p)
{
	switch (p) {
	case PROBE_SPEAKS_FASTCGI:
		return "fastcgi";
	case PROBE_SPEAKS_UWSGI:
		return "uwsgi";
	case PROBE_SPEAKS_TLS:
		return "tls";
	default:
		return NULL;
	}
}
