/* errlog_kind: nginx message text → event kind (see errlog_kind.h).
 *
 * One branch per message family of the catalog (tests/fixtures/
 * nginx-error-catalog.md §4, rows named in the comments). Decisions on the
 * edge cases, made from the catalog:
 *  - I/O failures (recv, readv, send, writev, sendfile, SSL_read/SSL_write,
 *    SSL handshake) count only in upstream phases: the same texts are logged
 *    for client connections ("while reading client request line", "while SSL
 *    handshaking", "while sending to client") and are "other" there.
 *  - warn-level oddities nginx tolerates and answers 200 for (duplicate
 *    header "ignored" H11, data after the final chunk) are "other", not
 *    invalid_header. More data than Content-Length (B9) is invalid_body:
 *    nginx drops the extra bytes and closes the upstream connection, and a
 *    backend that does it is miscounting its bodies.
 *  - gRPC's "upstream rejected request with error N" (RST_STREAM) is
 *    upstream_rejected with N in detail: N = 7 (REFUSED_STREAM) says the
 *    backend is full, N = 2 an internal error; other gRPC framing errors are
 *    invalid_header.
 *  - memcached: "memcached sent invalid trailer" is invalid_body, every
 *    other "memcached sent invalid ..." invalid_header (nginx answers 502);
 *    "key ... was not found by memcached" is a 404: other.
 *  - invalid "Content-Length" / unknown "Transfer-Encoding" / both at once
 *    (H8-H10) are invalid_body, as is gRPC's body larger than indicated.
 *  - every other "upstream sent ...", gRPC's "rejected request" and flow
 *    control violations, and FastCGI record errors are invalid_header: nginx
 *    counts them as FT_INVALID_HEADER (§4.4, §4.7).
 *  - "%ui worker_connections are not enough, reusing connections" (C7, warn)
 *    is worker_connections too: the same exhaustion one step earlier.
 *  - "no port in upstream" (R3) is a config error answered with 500: other,
 *    with the name kept.
 *  - EMFILE/ENFILE on any call is too_many_files (keyed by errlog.c on the
 *    errno number, not here). */
#include "log/errlog_kind.h"

#include <string.h>

#include "core/textscan.h"

#define LIT	   TEXTSCAN_LIT
#define has_prefix textscan_prefix
#define has_suffix textscan_suffix

static inline struct errlog_span span(const char *b, const char *e)
{
	return (struct errlog_span){b, (uint32_t)(e - b)};
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Text between the first '"' after off and the last '"' of the message (or
 * its end when the line was cut). */
static struct errlog_span quoted(const char *m, size_t n, size_t off)
{
	if (off >= n)
		return (struct errlog_span){NULL, 0};
	const char *b = memchr(m + off, '"', n - off);
	if (!b)
		return (struct errlog_span){NULL, 0};
	b++;
	const char *e = m + n;
	const char *q = e > b ? memrchr(b, '"', (size_t)(e - b)) : NULL;
	return span(b, q ? q : e);
}

/* Kind of an "upstream sent ..." message (after the prefix). Tolerated
 * oddities logged at warn with a 200 (duplicate header "ignored", more data
 * than Content-Length, data after the final chunk) are not failures: other.
 * Everything else nginx rejects; the gRPC/FastCGI framing errors go with
 * invalid_header, which is how nginx counts them (FT_INVALID_HEADER, §4.4). */
static enum errlog_kind upstream_sent(const char *m, size_t n, struct errlog_event *ev)
{
	const char *s = m + 14; /* "upstream sent " */
	size_t sn = n - 14;
	if (has_prefix(s, sn, LIT("too big header")))
		return EV_TOO_BIG_HEADER;
	if (has_prefix(s, sn, LIT("no valid HTTP/1.0 header")))
		return EV_NO_VALID_HEADER;
	if (has_prefix(s, sn, LIT("invalid chunked response")) ||
	    has_prefix(s, sn, LIT("more data than specified")) ||
	    has_prefix(s, sn, LIT("response body larger than")) ||
	    has_prefix(s, sn, LIT("\"Content-Length\" and \"Transfer-Encoding\"")))
		return EV_INVALID_BODY;
	if (has_prefix(s, sn, LIT("invalid \"Content-Length\" header: ")) ||
	    has_prefix(s, sn, LIT("unknown \"Transfer-Encoding\": "))) {
		ev->detail = quoted(m, n, (size_t)((const char *)memchr(s, ':', sn) - m));
		return EV_INVALID_BODY;
	}
	if (has_prefix(s, sn, LIT("data after final chunk")) ||
	    has_prefix(s, sn, LIT("data after trailers")) || has_suffix(m, n, LIT("\", ignored")))
		return EV_OTHER;
	if (has_prefix(s, sn, LIT("duplicate header line: \""))) {
		const char *b = s + 24, *e = m + n;
		const char *q = memmem(b, (size_t)(e - b), LIT("\", previous value: \""));
		ev->detail = span(b, q ? q : e);
	} else if (has_prefix(s, sn, LIT("invalid header: \"")) ||
		   has_prefix(s, sn, LIT("invalid status \"")) ||
		   has_prefix(s, sn, LIT("invalid :status \"")) ||
		   has_prefix(s, sn, LIT("invalid trailer \"")) ||
		   has_prefix(s, sn, LIT("invalid header \""))) {
		ev->detail = quoted(m, n, 14);
	} else if (has_prefix(s, sn, LIT("too large http2 frame: "))) {
		ev->detail = span(s + 23, m + n);
	}
	return EV_INVALID_HEADER;
}

/* The kind of a message (errno and " (SSL: ...)" already stripped). The
 * comments name the catalog rows (§4) each branch covers. */
enum errlog_kind errlog_kind_of(const char *m, size_t n, struct errlog_event *ev, bool up_io)
{
	/* R1, R9: "%V could not be resolved", "service %V of %V could not be resolved" */
	if (n > 22 && m[n - 8] == 'r' && has_suffix(m, n, LIT(" could not be resolved"))) {
		const char *e = m + n - 22;
		if (has_prefix(m, n, LIT("service "))) {
			const char *of = memmem(m, (size_t)(e - m), LIT(" of "));
			ev->name = of ? span(of + 4, e) : span(m, e);
		} else {
			/* nginx's own message names only the host; a text with
			 * spaces is someone else's (a Lua script's) */
			if (memchr(m, ' ', (size_t)(e - m)))
				return EV_OTHER;
			ev->name = span(m, e);
		}
		return EV_RESOLVE_FAILED;
	}
	if (n == 0)
		return EV_OTHER;
	switch (m[0]) {
	case 'c':
		if (has_prefix(m, n, LIT("connect() failed"))) /* C1 */
			return EV_CONNECT_FAILED;
		if (n > 20 && has_prefix(m, n, LIT("connect() to ")) &&
		    has_suffix(m, n, LIT(" failed"))) {
			ev->detail = span(m + 13, m + n - 7); /* C2, R5: the address tried */
			return EV_CONNECT_FAILED;
		}
		break;
	case 'u':
		if (has_prefix(m, n, LIT("upstream timed out"))) /* C3, T5, S1, H1, B2, B8 */
			return EV_TIMED_OUT;
		if (has_prefix(m, n, LIT("upstream prematurely closed "))) { /* H2, B1, B6, H14 */
			ev->detail = span(m + 28, m + n);
			return EV_PREMATURE_CLOSE;
		}
		if (has_prefix(m, n, LIT("upstream sent ")))
			return upstream_sent(m, n, ev);
		if (has_prefix(m, n, LIT("upstream server temporarily disabled"))) /* C5 */
			return EV_PEER_DISABLED;
		if (has_prefix(m, n, LIT("upstream SSL certificate verify error: ("))) { /* T3 */
			const char *b = m + 40, *e = m + n;
			if (e > b && e[-1] == ')')
				e--;
			ev->detail = span(b, e);
			return EV_SSL_VERIFY_FAILED;
		}
		if (has_prefix(m, n, LIT("upstream SSL certificate does not match \""))) { /* T4 */
			ev->name = quoted(m, n, 39);
			return EV_SSL_NAME_MISMATCH;
		}
		if (has_prefix(m, n, LIT("upstream rejected request with error "))) { /* H14 */
			const char *d = m + 37, *de = d;
			while (de < m + n && is_digit(*de))
				de++;
			ev->detail = span(d, de);
			return EV_UPSTREAM_REJECTED;
		}
		if (has_prefix(m, n, LIT("upstream violated "))) /* H14, gRPC */
			return EV_INVALID_HEADER;
		break;
	case 'r': /* H3, B3, B4, R4 */
		if (has_prefix(m, n, LIT("recv() failed")) ||
		    has_prefix(m, n, LIT("readv() failed")))
			return up_io ? EV_RECV_FAILED : EV_OTHER;
		break;
	case 's': /* S3, S4, R4 */
		if (has_prefix(m, n, LIT("send() failed")) ||
		    has_prefix(m, n, LIT("sendfile() failed")) ||
		    has_prefix(m, n, LIT("sendmsg() failed")))
			return up_io ? EV_SEND_FAILED : EV_OTHER;
		break;
	case 'w': /* S2 */
		if (has_prefix(m, n, LIT("writev() failed")))
			return up_io ? EV_SEND_FAILED : EV_OTHER;
		break;
	case 'S': /* T1, T6 */
		if (has_prefix(m, n, LIT("SSL_do_handshake() failed")))
			return up_io ? EV_SSL_HANDSHAKE_FAILED : EV_OTHER;
		if (has_prefix(m, n, LIT("SSL_read() failed")) ||
		    has_prefix(m, n, LIT("SSL_read_early_data() failed")))
			return up_io ? EV_RECV_FAILED : EV_OTHER;
		if (has_prefix(m, n, LIT("SSL_write() failed")) ||
		    has_prefix(m, n, LIT("SSL_write_early_data() failed")) ||
		    has_prefix(m, n, LIT("SSL_sendfile() failed")))
			return up_io ? EV_SEND_FAILED : EV_OTHER;
		break;
	case 'p': /* T2 */
		if (has_prefix(m, n, LIT("peer closed connection in SSL handshake")))
			return up_io ? EV_SSL_HANDSHAKE_FAILED : EV_OTHER;
		break;
	case 'k': /* C10 and its event-pipe sibling: BSD spellings */
		if (has_prefix(m, n, LIT("kevent() reported that connect() failed")))
			return EV_CONNECT_FAILED;
		if (has_prefix(m, n, LIT("kevent() reported that upstream closed connection")))
			return EV_PREMATURE_CLOSE;
		break;
	case 'n':
		if (has_prefix(m, n, LIT("no live upstreams"))) /* C4 */
			return EV_NO_LIVE_UPSTREAMS;
		if (has_prefix(m, n, LIT("no resolver defined to resolve "))) { /* R2 */
			ev->name = span(m + 31, m + n);
			return EV_NO_RESOLVER;
		}
		if (has_prefix(m, n, LIT("no port in upstream \""))) /* R3: a config error, 500 */
			ev->name = quoted(m, n, 19);
		break;
	case 'h': /* R7, R8: also " in FILE:LINE" after the name */
		if (has_prefix(m, n, LIT("host not found in upstream \""))) {
			const char *b = m + 28;
			const char *q = memchr(b, '"', n - 28);
			ev->name = span(b, q ? q : m + n);
			return EV_HOST_NOT_FOUND;
		}
		break;
	case 'm': /* memcached module */
		if (has_prefix(m, n, LIT("memcached sent invalid trailer")))
			return EV_INVALID_BODY;
		if (has_prefix(m, n, LIT("memcached sent invalid ")))
			return EV_INVALID_HEADER;
		break;
	case 'i': /* §4.7: FastCGI record errors count as invalid header */
		if (has_prefix(m, n, LIT("invalid header after joining FastCGI records")))
			return EV_INVALID_HEADER;
		break;
	default:
		/* C6, C7: "%ui worker_connections are not enough[, reusing connections]".
		 * The warn variant (C7) is the same exhaustion caught one step earlier. */
		if (is_digit(m[0])) {
			const char *d = m;
			while (d < m + n && is_digit(*d))
				d++;
			if (has_prefix(d, (size_t)(m + n - d),
				       LIT(" worker_connections are not enough"))) {
				ev->detail = span(m, d);
				return EV_WORKER_CONNECTIONS;
			}
		}
		break;
	}
	return EV_OTHER;
}

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
