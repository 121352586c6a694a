/* errlog: one nginx error-log line in, one event out.
 *
 * errlog_parse() allocates nothing and never reads past the line: every text
 * field is a span into the caller's line, except the normalised peer key,
 * which is written into the event. Fields follow the layout documented in
 * tests/fixtures/nginx-error-catalog.md; the context fields (client, server,
 * request, upstream, host, referrer) are parsed from the right, because
 * request and referrer are not escaped by nginx. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/peerkey.h"

/* The event kinds of DESIGN.md; errlog_kind_name() gives their stable names. */
enum errlog_kind {
	EV_CONNECT_FAILED,
	EV_TIMED_OUT,
	EV_RECV_FAILED,
	EV_SEND_FAILED,
	EV_PREMATURE_CLOSE,
	EV_INVALID_HEADER,
	EV_NO_VALID_HEADER,
	EV_TOO_BIG_HEADER,
	EV_INVALID_BODY,
	EV_NO_LIVE_UPSTREAMS,
	EV_PEER_DISABLED,
	EV_SSL_HANDSHAKE_FAILED,
	EV_SSL_VERIFY_FAILED,
	EV_SSL_NAME_MISMATCH,
	EV_RESOLVE_FAILED,
	EV_NO_RESOLVER,
	EV_HOST_NOT_FOUND,
	EV_WORKER_CONNECTIONS,
	EV_TOO_MANY_FILES,
	EV_FASTCGI_STDERR,
	EV_UPSTREAM_REJECTED, /* gRPC: "upstream rejected request with error N" (RST_STREAM
			       * code N in detail; 7 = REFUSED_STREAM: the backend is full) */
	EV_OTHER,
	EV__COUNT
};

/* The `while ...` action: what nginx was doing with the upstream. */
enum errlog_phase {
	PHASE_NONE,
	PHASE_CONNECTING,	 /* connecting to upstream */
	PHASE_SSL_HANDSHAKE,	 /* SSL handshaking to upstream */
	PHASE_SENDING_REQUEST,	 /* sending request to upstream */
	PHASE_READING_HEADER,	 /* reading response header from upstream */
	PHASE_READING_UPSTREAM,	 /* reading upstream */
	PHASE_SENDING_TO_CLIENT, /* sending to client */
	PHASE_UPGRADED,		 /* proxying upgraded connection */
	PHASE_RESOLVING,	 /* resolving */
	/* stream (TCP/UDP) proxying */
	PHASE_PROXYING,		      /* proxying connection */
	PHASE_PROXYING_FROM_UPSTREAM, /* proxying and reading from upstream */
	PHASE_PROXYING_TO_UPSTREAM,   /* proxying and sending to upstream */
	PHASE_PROXYING_FROM_CLIENT,   /* proxying and reading from client */
	PHASE_PROXYING_TO_CLIENT,     /* proxying and sending to client */
	PHASE_OTHER,		      /* any other action text */
	PHASE__COUNT
};

struct errlog_span {
	const char *p; /* NULL when absent */
	uint32_t len;
};

/* How the peer of a unix upstream was told apart from the request URI. */
enum errlog_split {
	ERRLOG_SPLIT_EXACT, /* by nginx's ":" after the socket path (or no URI at all) */
	ERRLOG_SPLIT_SOCK,  /* no ":": split after the path component ending in ".sock" */
	ERRLOG_SPLIT_NONE,  /* no ":" and no ".sock" component: the whole text is the key;
			     * errlog_peer_resolve_unix() can split it by known paths */
};

struct errlog_event {
	time_t time;   /* the line's local time, as epoch seconds */
	uint8_t level; /* syslog priority: LOG_EMERG .. LOG_DEBUG */
	uint32_t pid, tid;
	uint64_t conn; /* *N connection number, 0 when absent */
	enum errlog_kind kind;
	enum errlog_phase phase;
	int err;		    /* errno from "(N: text)", 0 when absent; for
				     * "could not be resolved (N: ...)" the resolver code */
	struct errlog_span message; /* the message text before " (errno: ...)" / " while" */
	struct errlog_span errtext; /* the strerror text */
	struct errlog_span action;  /* the raw text after " while " */
	struct errlog_span detail;  /* kind-specific: the SSL reason after "(SSL: " (also on
				     * SSL_read/SSL_write lines), the bad header, status or
				     * value (invalid_header, invalid_body), "N:text" of a
				     * verify error, the name of DNS kinds (as in name), the
				     * FastCGI stderr text, the worker_connections number,
				     * what closed (premature_close), the A of "connect() to
				     * A failed" */
	struct errlog_span client, server, request, method, uri;
	struct errlog_span subrequest; /* ", subrequest: "URI"" (SSI and other subrequests) */
	struct errlog_span upstream;   /* the whole upstream: "..." value */
	struct errlog_span scheme;     /* "http", "https", "fastcgi", ... */
	struct errlog_span upstream_uri;
	struct errlog_span host, referrer;
	struct errlog_span name;     /* a host name the message is about (DNS, upstream "x") */
	struct errlog_span resolver; /* ", resolver: A:P" */
	/* stream module context: ", [udp ]client: A, server: ADDR:PORT[, upstream: "PEER"]
	 * [, bytes from/to client:N/N, bytes from/to upstream:N/N]" */
	bool stream;	/* a stream (TCP/UDP proxy) line: upstream without scheme or
			 * the bytes fields */
	bool udp;	/* ", udp client: " */
	bool has_bytes; /* the four counters below were logged */
	uint64_t bytes_from_client, bytes_to_client, bytes_from_upstream, bytes_to_upstream;
	enum errlog_split peer_split; /* unix peers only */
	int has_peer;		      /* peer below is valid (otherwise only peer.key[0] == '\0') */
	struct peerkey peer;	      /* normalised peer from upstream: (or from "connect() to
				       * A failed" when a cut line lost upstream:); not set for
				       * "no live upstreams", whose upstream: is the group
				       * name (in name) unless it is an address with a port */
};

/* Parse one line (without its '\n'; not NUL-terminated, never read past
 * len). Returns 0 and fills *ret, or -EINVAL when the line is not an nginx
 * error-log entry (counted as unparsed; continuation lines of a multi-line
 * FastCGI stderr entry are not entries). An entry whose message is not
 * upstream-related parses as EV_OTHER. *ret is written only on success.
 * Local time is converted with the timezone in effect when its hour is
 * first seen: the UTC offset, the last stamp and normalised peers are
 * cached per thread. */
int errlog_parse(const char *line, size_t len, struct errlog_event *ret);

/* The same for a reader that wants upstream events only (the daemon): a line
 * that cannot be upstream-related — no "upstream" in it, and not a resolver,
 * worker_connections, EMFILE/ENFILE or cut FastCGI stderr line — costs one
 * search and comes back as EV_OTHER with only the header fields and
 * message (the rest of the line) set. Everything else is errlog_parse(). */
int errlog_parse_upstream(const char *line, size_t len, struct errlog_event *ret);

/* For a unix peer whose socket path and URI nginx did not separate
 * (peer_split != ERRLOG_SPLIT_EXACT, e.g. "http://unix:/run/app/puma.sock/orders/1"):
 * re-key ev->peer by the longest of known[0..n) — socket paths the caller
 * knows, "/run/app.sock" or "unix:/run/app.sock" — that the text starts
 * with, followed by '/', '?' or the end; upstream_uri becomes the rest and
 * peer_split ERRLOG_SPLIT_EXACT. Returns 1 when re-keyed, 0 when no known
 * path fits (the event is unchanged), -EINVAL when ev has no such peer. */
int errlog_peer_resolve_unix(struct errlog_event *ev, const char *const *known, size_t n);

/* Multi-line entries. nginx writes a FastCGI stderr text as is, so a PHP
 * stack trace continues on the following physical lines and only the last
 * carries the closing quote and the context. The line of len bytes just
 * parsed into ev opens an entry when it is a FastCGI stderr entry whose
 * context is missing (and it is shorter than nginx's 2048-byte cut); either
 * parse tells (errlog_parse_upstream keeps such lines whole). A line
 * continues an entry when it does not start with an nginx time stamp. The
 * daemon answers tail with these (TAIL_OPEN), which delivers such an entry
 * as one line, its physical lines joined by '\n'. */
bool errlog_event_open(const struct errlog_event *ev, size_t len);
bool errlog_entry_start(const char *line, size_t len);
/* An open entry of entry_len bytes, with a next physical line of len bytes
 * joined to it: is it surely still open, so that it need not be parsed
 * again? Only a line that holds "client: " can bring the context (nginx's
 * anchor holds no newline, and one before would have closed the entry
 * already), and only below nginx's cut. */
bool errlog_entry_stays_open(size_t entry_len, const char *line, size_t len);

const char *errlog_kind_name(enum errlog_kind kind);
const char *errlog_phase_name(enum errlog_phase phase);
