/* errlog_kindmap: the text of an nginx error message → its event kind, for
 * errlog.c only.
 *
 * The mapping of tests/fixtures/nginx-error-catalog.md §4, kept apart from
 * the line grammar (errlog.c) because it is the part that grows with nginx
 * versions. A private header of static functions, so that errlog_kind_of()
 * is inlined into errlog.c's parse(): as errlog_kind.c behind a call it was
 * 89.9 -> 88.8 M instructions on 20 MB of real lines (callgrind, bench_errlog
 * run).
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
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/textscan.h"
#include "log/errlog.h"
#include "log/errlog_header.h"

static inline struct errlog_span msg_span(const char *b, const char *e)
{
	return (struct errlog_span){b, (uint32_t)(e - b)};
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
	return msg_span(b, q ? q : e);
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
	if (textscan_prefix(s, sn, TEXTSCAN_LIT("too big header")))
		return EV_TOO_BIG_HEADER;
	if (textscan_prefix(s, sn, TEXTSCAN_LIT("no valid HTTP/1.0 header")))
		return EV_NO_VALID_HEADER;
	if (textscan_prefix(s, sn, TEXTSCAN_LIT("invalid chunked response")) ||
	    textscan_prefix(s, sn, TEXTSCAN_LIT("more data than specified")) ||
	    textscan_prefix(s, sn, TEXTSCAN_LIT("response body larger than")) ||
	    textscan_prefix(s, sn, TEXTSCAN_LIT("\"Content-Length\" and \"Transfer-Encoding\"")))
		return EV_INVALID_BODY;
	if (textscan_prefix(s, sn, TEXTSCAN_LIT("invalid \"Content-Length\" header: ")) ||
	    textscan_prefix(s, sn, TEXTSCAN_LIT("unknown \"Transfer-Encoding\": "))) {
		ev->detail = quoted(m, n, (size_t)((const char *)memchr(s, ':', sn) - m));
		return EV_INVALID_BODY;
	}
	if (textscan_prefix(s, sn, TEXTSCAN_LIT("data after final chunk")) ||
	    textscan_prefix(s, sn, TEXTSCAN_LIT("data after trailers")) ||
	    textscan_suffix(m, n, TEXTSCAN_LIT("\", ignored")))
		return EV_OTHER;
	if (textscan_prefix(s, sn, TEXTSCAN_LIT("duplicate header line: \""))) {
		const char *b = s + 24, *e = m + n;
		const char *q = memmem(b, (size_t)(e - b), TEXTSCAN_LIT("\", previous value: \""));
		ev->detail = msg_span(b, q ? q : e);
	} else if (textscan_prefix(s, sn, TEXTSCAN_LIT("invalid header: \"")) ||
		   textscan_prefix(s, sn, TEXTSCAN_LIT("invalid status \"")) ||
		   textscan_prefix(s, sn, TEXTSCAN_LIT("invalid :status \"")) ||
		   textscan_prefix(s, sn, TEXTSCAN_LIT("invalid trailer \"")) ||
		   textscan_prefix(s, sn, TEXTSCAN_LIT("invalid header \""))) {
		ev->detail = quoted(m, n, 14);
	} else if (textscan_prefix(s, sn, TEXTSCAN_LIT("too large http2 frame: "))) {
		ev->detail = msg_span(s + 23, m + n);
	}
	return EV_INVALID_HEADER;
}

/* The kind of a message (errno and " (SSL: ...)" already stripped). The
 * comments name the catalog rows (§4) each branch covers. */
/* msg is the message without " (errno: text)", " (SSL: ...)", the action and
 * the context. upstream_io tells whether the line's phase is one in which
 * nginx talks to an upstream (a "recv() failed" while reading a client
 * request is not an upstream event). Sets ev->detail and ev->name where the
 * message carries them. */
static enum errlog_kind errlog_kind_of(const char *m, size_t n, struct errlog_event *ev, bool up_io)
{
	/* R1, R9: "%V could not be resolved", "service %V of %V could not be resolved" */
	if (n > 22 && m[n - 8] == 'r' &&
	    textscan_suffix(m, n, TEXTSCAN_LIT(" could not be resolved"))) {
		const char *e = m + n - 22;
		if (textscan_prefix(m, n, TEXTSCAN_LIT("service "))) {
			const char *of = memmem(m, (size_t)(e - m), TEXTSCAN_LIT(" of "));
			ev->name = of ? msg_span(of + 4, e) : msg_span(m, e);
		} else {
			/* nginx's own message names only the host; a text with
			 * spaces is someone else's (a Lua script's) */
			if (memchr(m, ' ', (size_t)(e - m)))
				return EV_OTHER;
			ev->name = msg_span(m, e);
		}
		return EV_RESOLVE_FAILED;
	}
	if (n == 0)
		return EV_OTHER;
	switch (m[0]) {
	case 'c':
		if (textscan_prefix(m, n, TEXTSCAN_LIT("connect() failed"))) /* C1 */
			return EV_CONNECT_FAILED;
		if (n > 20 && textscan_prefix(m, n, TEXTSCAN_LIT("connect() to ")) &&
		    textscan_suffix(m, n, TEXTSCAN_LIT(" failed"))) {
			ev->detail = msg_span(m + 13, m + n - 7); /* C2, R5: the address tried */
			return EV_CONNECT_FAILED;
		}
		break;
	case 'u':
		if (textscan_prefix(
			m, n, TEXTSCAN_LIT("upstream timed out"))) /* C3, T5, S1, H1, B2, B8 */
			return EV_TIMED_OUT;
		if (textscan_prefix(
			m, n, TEXTSCAN_LIT("upstream prematurely closed "))) { /* H2, B1, B6, H14 */
			ev->detail = msg_span(m + 28, m + n);
			return EV_PREMATURE_CLOSE;
		}
		if (textscan_prefix(m, n, TEXTSCAN_LIT("upstream sent ")))
			return upstream_sent(m, n, ev);
		if (textscan_prefix(m, n,
				    TEXTSCAN_LIT("upstream server temporarily disabled"))) /* C5 */
			return EV_PEER_DISABLED;
		if (textscan_prefix(
			m, n, TEXTSCAN_LIT("upstream SSL certificate verify error: ("))) { /* T3 */
			const char *b = m + 40, *e = m + n;
			if (e > b && e[-1] == ')')
				e--;
			ev->detail = msg_span(b, e);
			return EV_SSL_VERIFY_FAILED;
		}
		if (textscan_prefix(
			m, n,
			TEXTSCAN_LIT("upstream SSL certificate does not match \""))) { /* T4 */
			ev->name = quoted(m, n, 39);
			return EV_SSL_NAME_MISMATCH;
		}
		if (textscan_prefix(
			m, n, TEXTSCAN_LIT("upstream rejected request with error "))) { /* H14 */
			const char *d = m + 37, *de = d;
			while (de < m + n && errlog_is_digit(*de))
				de++;
			ev->detail = msg_span(d, de);
			return EV_UPSTREAM_REJECTED;
		}
		if (textscan_prefix(m, n, TEXTSCAN_LIT("upstream violated "))) /* H14, gRPC */
			return EV_INVALID_HEADER;
		break;
	case 'r': /* H3, B3, B4, R4 */
		if (textscan_prefix(m, n, TEXTSCAN_LIT("recv() failed")) ||
		    textscan_prefix(m, n, TEXTSCAN_LIT("readv() failed")))
			return up_io ? EV_RECV_FAILED : EV_OTHER;
		break;
	case 's': /* S3, S4, R4 */
		if (textscan_prefix(m, n, TEXTSCAN_LIT("send() failed")) ||
		    textscan_prefix(m, n, TEXTSCAN_LIT("sendfile() failed")) ||
		    textscan_prefix(m, n, TEXTSCAN_LIT("sendmsg() failed")))
			return up_io ? EV_SEND_FAILED : EV_OTHER;
		break;
	case 'w': /* S2 */
		if (textscan_prefix(m, n, TEXTSCAN_LIT("writev() failed")))
			return up_io ? EV_SEND_FAILED : EV_OTHER;
		break;
	case 'S': /* T1, T6 */
		if (textscan_prefix(m, n, TEXTSCAN_LIT("SSL_do_handshake() failed")))
			return up_io ? EV_SSL_HANDSHAKE_FAILED : EV_OTHER;
		if (textscan_prefix(m, n, TEXTSCAN_LIT("SSL_read() failed")) ||
		    textscan_prefix(m, n, TEXTSCAN_LIT("SSL_read_early_data() failed")))
			return up_io ? EV_RECV_FAILED : EV_OTHER;
		if (textscan_prefix(m, n, TEXTSCAN_LIT("SSL_write() failed")) ||
		    textscan_prefix(m, n, TEXTSCAN_LIT("SSL_write_early_data() failed")) ||
		    textscan_prefix(m, n, TEXTSCAN_LIT("SSL_sendfile() failed")))
			return up_io ? EV_SEND_FAILED : EV_OTHER;
		break;
	case 'p': /* T2 */
		if (textscan_prefix(m, n, TEXTSCAN_LIT("peer closed connection in SSL handshake")))
			return up_io ? EV_SSL_HANDSHAKE_FAILED : EV_OTHER;
		break;
	case 'k': /* C10 and its event-pipe sibling: BSD spellings */
		if (textscan_prefix(m, n, TEXTSCAN_LIT("kevent() reported that connect() failed")))
			return EV_CONNECT_FAILED;
		if (textscan_prefix(
			m, n, TEXTSCAN_LIT("kevent() reported that upstream closed connection")))
			return EV_PREMATURE_CLOSE;
		break;
	case 'n':
		if (textscan_prefix(m, n, TEXTSCAN_LIT("no live upstreams"))) /* C4 */
			return EV_NO_LIVE_UPSTREAMS;
		if (textscan_prefix(m, n,
				    TEXTSCAN_LIT("no resolver defined to resolve "))) { /* R2 */
			ev->name = msg_span(m + 31, m + n);
			return EV_NO_RESOLVER;
		}
		if (textscan_prefix(
			m, n, TEXTSCAN_LIT("no port in upstream \""))) /* R3: a config error, 500 */
			ev->name = quoted(m, n, 19);
		break;
	case 'h': /* R7, R8: also " in FILE:LINE" after the name */
		if (textscan_prefix(m, n, TEXTSCAN_LIT("host not found in upstream \""))) {
			const char *b = m + 28;
			const char *q = memchr(b, '"', n - 28);
			ev->name = msg_span(b, q ? q : m + n);
			return EV_HOST_NOT_FOUND;
		}
		break;
	case 'm': /* memcached module */
		if (textscan_prefix(m, n, TEXTSCAN_LIT("memcached sent invalid trailer")))
			return EV_INVALID_BODY;
		if (textscan_prefix(m, n, TEXTSCAN_LIT("memcached sent invalid ")))
			return EV_INVALID_HEADER;
		break;
	case 'i': /* §4.7: FastCGI record errors count as invalid header */
		if (textscan_prefix(m, n,
				    TEXTSCAN_LIT("invalid header after joining FastCGI records")))
			return EV_INVALID_HEADER;
		break;
	default:
		/* C6, C7: "%ui worker_connections are not enough[, reusing connections]".
		 * The warn variant (C7) is the same exhaustion caught one step earlier. */
		if (errlog_is_digit(m[0])) {
			const char *d = m;
			while (d < m + n && errlog_is_digit(*d))
				d++;
			if (textscan_prefix(d, (size_t)(m + n - d),
					    TEXTSCAN_LIT(" worker_connections are not enough"))) {
				ev->detail = msg_span(m, d);
				return EV_WORKER_CONNECTIONS;
			}
		}
		break;
	}
	return EV_OTHER;
}
