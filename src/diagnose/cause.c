/* cause: the table of root causes, their stable names, journald message ids,
 * titles and default priorities.
 *
 * This file owns the MESSAGE_IDs. They were generated once with
 * `systemd-id128 new` and must never change: journal catalogs, saved journal
 * queries (`journalctl MESSAGE_ID=...`) and alert routing outside upwatch key
 * on them. systemd/upwatch.catalog carries one entry per id, and
 * tests/unit/test_cause.c holds the two files to each other. */
#include <errno.h>
#include <strings.h>
#include <syslog.h>

#include "diagnose/cause.h"
#include "core/util.h"

struct cause_info {
	const char *name;
	const char *message_id;
	const char *title;
	int priority;
};

/* Priorities: LOG_CRIT when nginx cannot serve a whole upstream (every
 * request fails), LOG_ERR when requests to one peer fail, LOG_WARNING for
 * what is degraded, recovered or only predicted. */
/* clang-format off */
static const struct cause_info causes[CAUSE__COUNT] = {
	[CAUSE_BACKEND_DOWN] = {"backend_down", "041426e3b0074910aaaf632247159fd4",
		"Backend refuses connections", LOG_ERR},
	[CAUSE_BACKEND_RESTARTED] = {"backend_restarted", "82dd46a5a8934f32b36b9c998c3683cc",
		"Backend restarted and recovered", LOG_WARNING},
	[CAUSE_BACKEND_UNREACHABLE] = {"backend_unreachable", "d407056aeae9433d8e46340c9f3608e9",
		"Backend unreachable", LOG_ERR},
	[CAUSE_BACKEND_SLOW] = {"backend_slow", "a748856c16ae4b94aabe19d611917168",
		"Backend answers slower than nginx waits", LOG_WARNING},
	[CAUSE_BACKEND_RESET] = {"backend_reset", "bb733aec015141e0bde265bfdaad04d0",
		"Backend resets or closes connections", LOG_ERR},
	[CAUSE_INVALID_RESPONSE] = {"invalid_response", "1485366bf1f6456f98a3c4ef6e45ae43",
		"Backend sends an invalid response", LOG_ERR},
	[CAUSE_HEADER_TOO_BIG] = {"header_too_big", "44c11f9cc93b4db2bccb5812c94c3d3f",
		"Backend response header exceeds nginx buffer", LOG_ERR},
	[CAUSE_SOCKET_MISSING] = {"socket_missing", "91a9b5260cf14ed5a60d5aeb7361bc2a",
		"Backend unix socket does not exist", LOG_ERR},
	[CAUSE_SOCKET_PERMISSION] = {"socket_permission", "27a8bb8ad5994c8aa75a1224d1f3eb8d",
		"nginx may not connect to backend unix socket", LOG_ERR},
	[CAUSE_SOCKET_STALE] = {"socket_stale", "d905a2d10f54470f90649ff5733b9c08",
		"Backend unix socket is stale", LOG_ERR},
	[CAUSE_BACKEND_OVERLOADED] = {"backend_overloaded", "f79cee53320148b7b81abad2c064bc2c",
		"Backend overloaded", LOG_WARNING},
	[CAUSE_DNS_FAILURE] = {"dns_failure", "ec0fe8da1a734d4abb71f26b7ae75714",
		"Backend name does not resolve", LOG_ERR},
	[CAUSE_TLS_FAILURE] = {"tls_failure", "d8e374e448e446fb9b28de7ee1fc6048",
		"TLS handshake with backend fails", LOG_ERR},
	[CAUSE_NO_LIVE_UPSTREAMS] = {"no_live_upstreams", "201d82571fa148aab27a6e2b237fd9c9",
		"No live peer left in upstream", LOG_CRIT},
	[CAUSE_WORKER_CONNECTIONS_EXHAUSTED] = {"worker_connections_exhausted",
		"a3542769568c49d798a3e9bf15f86e6c", "nginx worker_connections exhausted",
		LOG_CRIT},
	[CAUSE_PEER_FAILING] = {"peer_failing", "56b05138ab534203bc598cd0455da75b",
		"Peer fails probes before nginx uses it", LOG_WARNING},
	[CAUSE_LOCAL_PORTS_EXHAUSTED] = {"local_ports_exhausted", "ac410e54dff444cfa3cb557906525989",
		"nginx ran out of local ports", LOG_ERR},
	[CAUSE_DNS_STALE] = {"dns_stale", "a60533ab5fa342f4958464c2994c47fb",
		"nginx connects to a stale address", LOG_ERR},
	[CAUSE_ERRORS_UNLOGGED] = {"errors_unlogged", "04c83d3763644b5ca6c2a1b0f2da2b7e",
		"nginx answers 5xx that its error log does not explain", LOG_WARNING},
};
/* clang-format on */

static const struct cause_info *info(enum cause c)
{
	if ((unsigned)c >= CAUSE__COUNT)
		return NULL;
	return &causes[c];
}

const char *cause_name(enum cause c)
{
	const struct cause_info *i = info(c);
	return i ? i->name : NULL;
}

int cause_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	for (unsigned c = 0; c < CAUSE__COUNT; c++)
		if (streq(causes[c].name, name))
			return (int)c;
	return -EINVAL;
}

const char *cause_message_id(enum cause c)
{
	const struct cause_info *i = info(c);
	return i ? i->message_id : NULL;
}

int cause_from_message_id(const char *id)
{
	if (!id || strlen(id) != CAUSE_MESSAGE_ID_LEN)
		return -EINVAL;
	for (unsigned c = 0; c < CAUSE__COUNT; c++)
		if (strcasecmp(causes[c].message_id, id) == 0)
			return (int)c;
	return -EINVAL;
}

const char *cause_title(enum cause c)
{
	const struct cause_info *i = info(c);
	return i ? i->title : NULL;
}

int cause_priority(enum cause c)
{
	const struct cause_info *i = info(c);
	return i ? i->priority : -EINVAL;
}

const char *cause_severity(enum cause c)
{
	const struct cause_info *i = info(c);
	if (!i)
		return NULL;
	return i->priority <= LOG_ERR ? "critical" : "warning";
}

enum alert_severity cause_severity_level(enum cause c, bool degraded)
{
	const struct cause_info *i = info(c);
	if (!i || degraded || i->priority > LOG_ERR)
		return ALERT_WARNING;
	return ALERT_CRITICAL;
}

int cause_alert_priority(enum cause c, enum alert_severity sev, bool firing)
{
	const struct cause_info *i = info(c);
	if (!firing)
		return LOG_NOTICE;
	if (!i || sev != cause_severity_level(c, false))
		return LOG_WARNING;
	return i->priority;
}

enum cause_subject cause_subject(enum cause c)
{
	switch (c) {
	case CAUSE_NO_LIVE_UPSTREAMS:
		return CAUSE_SUBJECT_UPSTREAM;
	case CAUSE_WORKER_CONNECTIONS_EXHAUSTED:
	case CAUSE_ERRORS_UNLOGGED:
		return CAUSE_SUBJECT_HOST;
	default:
		return CAUSE_SUBJECT_PEER;
	}
}
