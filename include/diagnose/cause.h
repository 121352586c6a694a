/* cause: the fixed list of root causes upwatch diagnoses.
 *
 * The names are the stable interface (JSON "cause", journald UPWATCH_CAUSE,
 * the tests, alert forwarders). Each cause also has a fixed 128-bit journald
 * MESSAGE_ID with an entry in systemd/upwatch.catalog, so `journalctl -x`
 * shows what the alert means and how to fix it. Ids are never changed once
 * shipped: outside tooling matches on them. */
#pragma once

#include <stdbool.h>

/* Order is not part of the interface; names and message ids are. */
enum cause {
	CAUSE_NONE = -1, /* no cause (yet): never a table index */
	CAUSE_BACKEND_DOWN,
	CAUSE_BACKEND_RESTARTED,
	CAUSE_BACKEND_UNREACHABLE,
	CAUSE_BACKEND_SLOW,
	CAUSE_BACKEND_RESET,
	CAUSE_INVALID_RESPONSE,
	CAUSE_HEADER_TOO_BIG,
	CAUSE_SOCKET_MISSING,
	CAUSE_SOCKET_PERMISSION,
	CAUSE_SOCKET_STALE,
	CAUSE_BACKEND_OVERLOADED,
	CAUSE_DNS_FAILURE,
	CAUSE_TLS_FAILURE,
	CAUSE_NO_LIVE_UPSTREAMS,
	CAUSE_WORKER_CONNECTIONS_EXHAUSTED,
	CAUSE_PEER_FAILING,
	CAUSE_LOCAL_PORTS_EXHAUSTED,
	CAUSE_DNS_STALE,
	CAUSE_ERRORS_UNLOGGED, /* access log: 5xx with no error-log line (host subject) */
	CAUSE__COUNT,
};

/* Length of a message id in hex, without the NUL. */
#define CAUSE_MESSAGE_ID_LEN 32

/* The stable name ("backend_down"); NULL for a value out of range. */
const char *cause_name(enum cause c);

/* The cause called name, or -EINVAL. */
int cause_from_name(const char *name);

/* The journald MESSAGE_ID as 32 lowercase hex digits; NULL out of range. */
const char *cause_message_id(enum cause c);

/* The cause whose MESSAGE_ID is id (any case), or -EINVAL. */
int cause_from_message_id(const char *id);

/* A short human title ("Backend refuses connections"); NULL out of range. */
const char *cause_title(enum cause c);

/* Default syslog priority (LOG_ERR, LOG_WARNING, ...) of a firing alert of
 * this cause; -EINVAL out of range. */
int cause_priority(enum cause c);

/* "critical" or "warning": the severity a firing alert of this cause gets by
 * default (critical for priorities LOG_ERR and above); NULL out of range. */
const char *cause_severity(enum cause c);

/* The one place severity is decided: the table's, lowered to a warning when
 * the alert is degraded rather than an outage (nginx still has a peer of the
 * block that serves, a backup took over, or a prediction). */
enum alert_severity {
	ALERT_WARNING,
	ALERT_CRITICAL,
};
enum alert_severity cause_severity_level(enum cause c, bool degraded);

/* The syslog priority of an alert of cause c at severity sev: the table's
 * priority while it fires at the table's severity, LOG_WARNING when lowered,
 * LOG_NOTICE once resolved. */
int cause_alert_priority(enum cause c, enum alert_severity sev, bool firing);

/* Which kind of subject an alert of this cause is about. */
enum cause_subject {
	CAUSE_SUBJECT_PEER,
	CAUSE_SUBJECT_UPSTREAM, /* an upstream block (no_live_upstreams) */
	CAUSE_SUBJECT_HOST,	/* nginx on this host (worker_connections_exhausted) */
};
enum cause_subject cause_subject(enum cause c);
