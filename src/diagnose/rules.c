/* rules: observation -> cause (see rules.h). */
#include "diagnose/rules.h"

#include <string.h>

enum cause rules_probe_cause(const struct probe_result *r, bool is_unix)
{
	switch (r->result) {
	case PROBE_REFUSED:
		return is_unix ? CAUSE_SOCKET_STALE : CAUSE_BACKEND_DOWN;
	case PROBE_TIMEOUT:
		/* connected but no answer in time: slow; no handshake: unreachable */
		return r->connect_ms > 0 ? CAUSE_BACKEND_SLOW : CAUSE_BACKEND_UNREACHABLE;
	case PROBE_UNREACHABLE:
		return CAUSE_BACKEND_UNREACHABLE;
	case PROBE_RESET:
		return CAUSE_BACKEND_RESET;
	case PROBE_INVALID_HTTP:
		return CAUSE_INVALID_RESPONSE;
	case PROBE_TLS_ERROR:
		return CAUSE_TLS_FAILURE;
	case PROBE_DNS_ERROR:
		return CAUSE_DNS_FAILURE;
	case PROBE_MISSING:
	case PROBE_NOT_SOCKET:
		return CAUSE_SOCKET_MISSING;
	case PROBE_PERMISSION:
		return CAUSE_SOCKET_PERMISSION;
	case PROBE_STALE:
		return CAUSE_SOCKET_STALE;
	case PROBE_OVERLOADED:
		return CAUSE_BACKEND_OVERLOADED;
	default:
		return CAUSE_NONE;
	}
}

bool rules_probe_is_verdict(const struct probe_result *r)
{
	return r && r->time_ms > 0 && r->result != PROBE_LOCAL_ERROR;
}

bool rules_exclusive(enum cause a, enum cause b)
{
	bool sa = a == CAUSE_SOCKET_MISSING || a == CAUSE_SOCKET_STALE;
	bool sb = b == CAUSE_SOCKET_MISSING || b == CAUSE_SOCKET_STALE;
	return a != b && sa && sb;
}

bool rules_restart_chapter(enum cause c)
{
	return c == CAUSE_BACKEND_DOWN || c == CAUSE_BACKEND_RESET || c == CAUSE_SOCKET_STALE ||
	       c == CAUSE_SOCKET_MISSING;
}

bool rules_absence_chapter(enum cause c)
{
	return c == CAUSE_BACKEND_DOWN || c == CAUSE_SOCKET_STALE || c == CAUSE_SOCKET_MISSING;
}
