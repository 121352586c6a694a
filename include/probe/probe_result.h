/* probe_result: what one probe found — the result kinds of DESIGN.md's
 * last_probe, the measured facts behind them and their names (JSON:
 * output/json.h).
 * Shared by the prober, diagnosis and the socket commands. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum probe_result_kind {
	PROBE_OK,
	PROBE_REFUSED,
	PROBE_TIMEOUT,
	PROBE_UNREACHABLE,
	PROBE_RESET,
	PROBE_INVALID_HTTP,
	PROBE_HTTP_STATUS,
	PROBE_TLS_ERROR,
	PROBE_DNS_ERROR,
	PROBE_MISSING,
	PROBE_NOT_SOCKET,
	PROBE_PERMISSION,
	PROBE_STALE,
	PROBE_OVERLOADED,
	PROBE_LOCAL_ERROR, /* upwatch's own resource failure (no fd, no memory): never a
			    * verdict about the peer */
	PROBE_ERROR,
	PROBE__COUNT
};

/* What a port answered when sniffed (probe_sniff): set only for an HTTP
 * probe that was reset or got non-HTTP bytes. */
enum probe_speaks {
	PROBE_SPEAKS_UNKNOWN, /* not sniffed, or nothing answered */
	PROBE_SPEAKS_FASTCGI,
	PROBE_SPEAKS_UWSGI,
	PROBE_SPEAKS_TLS,
};

/* UNKNOWN until the first result, then UP after an ok probe and DOWN after
 * any failed one: no hysteresis here, the diagnoser weighs evidence. */
enum peer_state {
	PEER_UNKNOWN,
	PEER_UP,
	PEER_DOWN,
};

struct probe_result {
	enum probe_result_kind result;
	int64_t time_ms; /* wall clock at completion, 0 = never probed */
	uint32_t latency_ms;
	int err;	  /* errno behind the result, 0 when none */
	char detail[256]; /* one human line: "connect() refused", "HTTP 503", ... */
	/* http(s) */
	bool http_checked; /* an HTTP request was made: the fields below mean something */
	int http_status;   /* 0 = no valid status line */
	uint32_t connect_ms, ttfb_ms, total_ms;
	uint32_t header_bytes;
	bool header_too_big; /* over PROBE_HTTP_HEADER_MAX, or one line over curl's
			      * limit: result PROBE_INVALID_HTTP, nginx's "too big header" */
	/* tls */
	int64_t cert_not_after; /* epoch seconds, 0 = unknown */
	char cert_subject[160], cert_issuer[160];
	char tls_error[160]; /* verify error or handshake failure text; with result ok:
			      * "verify off: ..." = what a verifying client would refuse */
	/* dns */
	char dns_answers[160]; /* "127.0.0.1 ::1" */
	/* what the port speaks instead of HTTP (probe_sniff) */
	enum probe_speaks speaks;
	/* unix socket */
	bool unix_checked;
	/* upwatch itself was refused (EACCES) where nginx's worker identity is
	 * allowed: result is PROBE_LOCAL_ERROR, no verdict about the peer; judge
	 * it from host facts (sock_diag) instead. */
	bool self_denied;
	uid_t sock_uid;
	gid_t sock_gid;
	mode_t sock_mode;
	char sock_owner[32], sock_group[32];
	char denied_path[256]; /* the file or directory that denies the worker user */
	char denied_why[400];  /* "no search (x) permission on /srv/app (root:root 0700)
				* for nobody": holds denied_path, hence the size */
};

const char *probe_result_name(enum probe_result_kind r);
const char *peer_state_name(enum peer_state s);
/* "fastcgi", "uwsgi", "tls"; NULL for PROBE_SPEAKS_UNKNOWN. */
const char *probe_speaks_name(enum probe_speaks p);
