/* errlog_ctx: the context nginx appends to an error-log line — the part
 * after the message and action — and the peer inside its upstream field.
 *
 *   http:     ", client: A, server: S[, request: "R"][, subrequest: "U"]
 *              [, upstream: "UP"][, host: "H"][, referrer: "REF"]"
 *   stream:   ", [udp ]client: A, server: ADDR:PORT[, upstream: "ADDR:PORT"]
 *              [, bytes from/to client:N/N, bytes from/to upstream:N/N]"
 *   resolver: ", resolver: A:P"
 *
 * Used by errlog.c only: a private header of static functions, so that the
 * compiler inlines them into its parse() as one translation unit does (a
 * separate errlog_ctx.c: 94.7 -> 92.8 M instructions on 20 MB of real
 * lines, callgrind, bench_errlog run).
 *
 * The context is located before the message is looked at, because the
 * message may carry anything (FastCGI stderr, a bad header, a host name from
 * a variable) and so may the request and referrer (nginx escapes nothing,
 * catalog §1.3). See errlog_ctx_find() for how the real ", client: " is told
 * apart from one inside a message. */
#pragma once

#include "log/errlog.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/textscan.h"

static struct errlog_span span(const char *b, const char *e)
{
	return (struct errlog_span){b, (uint32_t)(e - b)};
}

#ifdef __SSE2__
/* The spaces of the 32 bytes at p, bit i for p[i]. */
static inline unsigned spaces32(const char *p)
{
	__m128i s = _mm_set1_epi8(' ');
	__m128i a = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), s);
	__m128i b = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), s);
	return (unsigned)_mm_movemask_epi8(a) | (unsigned)_mm_movemask_epi8(b) << 16;
}
#endif

/* Inline: a field value is short, where a libc memchr() call per space
 * costs more than the search (bench_errlog run, 200 MB, best of 9:
 * 0.174 -> 0.167 s; callgrind 1673 -> 1636 instructions a line). lo <= p is
 * where the readable text starts (the client value).
 *
 * One 32-byte window decides nearly every value (client, server, method,
 * URI, protocol, most upstreams), and the last value, shorter than 32 bytes,
 * is one window ending at e: no branch on whether the space fell in the
 * first 16 bytes, whose outcome followed the value lengths (server names of
 * 15 and 16 bytes, URIs) and was mispredicted 1.4 times a line, nor the
 * search's byte-wise tail. Forced inline: gcc kept a call otherwise. The
 * daemon on /tmp/rcg/real.log (callgrind, runall.sh), feed per real line:
 * Ir 1566 -> 1567, Bcm + Bim 13.87 -> 12.10, D1mr 11.87 -> 11.91, D1mw
 * 5.14 -> 5.16 (errlog_parse_upstream: Bcm 7.85 -> 6.46).
 *
 * Not one pass of compares over the whole context first, masks of its
 * spaces and of `", ` walked with ctz: tried, errlog_parse_upstream went
 * from 65.6 to 78.4 M instructions for 505 k -> 451 k mispredictions
 * (bench_errlog run on /tmp/rcg/real.log, callgrind --branch-sim): with
 * SSE2 the masks cost about an instruction a byte, more than the searches
 * they replace, and finding the next bit across 64-bit words branches as
 * much. */
static inline __attribute__((always_inline)) const char *find_space(const char *p, const char *e,
								    const char *lo)
{
#ifdef __SSE2__
	if (e - p >= 32) {
		unsigned m = spaces32(p);
		if (m)
			return p + __builtin_ctz(m);
		p += 32;
	} else if (e - lo >= 32) {
		/* the 32 bytes ending at e, of which the last e - p are ours
		 * (none when p == e: a 64-bit shift, by 32 at most) */
		unsigned m = (unsigned)((uint64_t)spaces32(e - 32) >> (32 - (e - p)));
		return m ? p + __builtin_ctz(m) : NULL;
	}
#endif
	return textscan_chr(p, e, ' ', lo);
}

/* In nginx's order; F_BYTES (stream) is unquoted and ends the line. */
enum field { F_REQUEST, F_SUBREQUEST, F_UPSTREAM, F_HOST, F_REFERRER, F_BYTES, F__COUNT };

/* The first four bytes of s as one word (a constant for a literal). */
static inline uint32_t word4(const char *s)
{
	uint32_t w;
	memcpy(&w, s, 4);
	return w;
}

/* The first two bytes of s as one word (a constant for a literal). */
static inline uint16_t word2(const char *s)
{
	uint16_t w;
	memcpy(&w, s, 2);
	return w;
}

/* At p (just after ", "): is this `KEY: "` of a field that may follow field
 * `after` in nginx's order? Returns the field and sets *ret_len to the key's
 * length, or -1. Forced inline: called for the server and at every `", `
 * in a field, three times a line, where gcc kept a call: 1811 -> 1754
 * instructions a line (callgrind, bench_errlog run). */
__attribute__((always_inline)) static inline int match_key(const char *p, const char *e, int after,
							   size_t *ret_len)
{
	/* one candidate by the first four bytes, each compared against its
	 * literal: a loop over the keys was 23 instructions a line more
	 * (callgrind, bench_errlog run: 1834 -> 1811). Compares, not a switch
	 * on the first byte, whose one indirect jump, seeing request, upstream
	 * and host in turn, was mispredicted 1.7 times a line (cachegrind
	 * --branch-sim, bench_errlog run on /tmp/rcg/real.log: 117 k indirect
	 * mispredictions -> 0.4 k, 848 k -> 695 k in all; the daemon's
	 * errlog_parse_upstream 70.7 -> 70.3 M instructions, callgrind). */
	size_t n = (size_t)(e - p), len;
	int f;
#define KEY(field, lit)                                                                            \
	(f = (field), len = sizeof(lit) - 1, textscan_prefix(p, n, TEXTSCAN_LIT(lit)))
	if (n < 4)
		return -1;
	uint32_t w = word4(p);
	bool hit;
	if (w == word4("upst"))
		hit = KEY(F_UPSTREAM, "upstream: \"");
	else if (w == word4("host"))
		hit = KEY(F_HOST, "host: \"");
	else if (w == word4("requ"))
		hit = KEY(F_REQUEST, "request: \"");
	else if (w == word4("refe"))
		hit = KEY(F_REFERRER, "referrer: \"");
	else if (w == word4("subr"))
		hit = KEY(F_SUBREQUEST, "subrequest: \"");
	else if (w == word4("byte"))
		hit = KEY(F_BYTES, "bytes from/to client:");
	else
		return -1;
#undef KEY
	if (!hit || f <= after)
		return -1;
	*ret_len = len;
	return f;
}

/* By a table, not a switch: one load (the daemon on /tmp/rcg/real.log:
 * errlog_parse_upstream 70.5 -> 69.7 M instructions, callgrind). */
static struct errlog_span *field(struct errlog_event *ev, int f)
{
	static const uint16_t at[] = {
	    [F_REQUEST] = offsetof(struct errlog_event, request),
	    [F_SUBREQUEST] = offsetof(struct errlog_event, subrequest),
	    [F_UPSTREAM] = offsetof(struct errlog_event, upstream),
	    [F_HOST] = offsetof(struct errlog_event, host),
	    [F_REFERRER] = offsetof(struct errlog_event, referrer),
	    [F_BYTES] = offsetof(struct errlog_event, referrer),
	};
	return (struct errlog_span *)(void *)((char *)ev + at[f]);
}

static void clear_context(struct errlog_event *ev)
{
	ev->client = ev->server = ev->request = ev->subrequest = ev->upstream = ev->host =
	    ev->referrer = ev->method = ev->uri = (struct errlog_span){NULL, 0};
	ev->has_bytes = ev->udp = false;
	ev->bytes_from_client = ev->bytes_to_client = 0;
	ev->bytes_from_upstream = ev->bytes_to_upstream = 0;
}

/* "N/N" at *p: two counters; *p advances past them. */
static bool counter_pair(const char **p, const char *e, uint64_t *a, uint64_t *b)
{
	const char *q = *p;
	uint64_t v[2] = {0, 0};
	for (int i = 0; i < 2; i++) {
		const char *d = q;
		while (q < e && *q >= '0' && *q <= '9' && q - d < 19)
			v[i] = v[i] * 10 + (uint64_t)(*q++ - '0');
		if (q == d || (i == 0 && (q == e || *q++ != '/')))
			return false;
	}
	*a = v[0];
	*b = v[1];
	*p = q;
	return true;
}

/* The stream bytes fields after "bytes from/to client:" at p, to the end. */
static bool parse_bytes(const char *p, const char *e, struct errlog_event *ev)
{
	if (!counter_pair(&p, e, &ev->bytes_from_client, &ev->bytes_to_client) ||
	    !textscan_prefix(p, (size_t)(e - p), TEXTSCAN_LIT(", bytes from/to upstream:")))
		return false;
	p += 25;
	if (!counter_pair(&p, e, &ev->bytes_from_upstream, &ev->bytes_to_upstream) || p != e)
		return false;
	ev->has_bytes = ev->stream = true;
	return true;
}

/* Where the value of field f at v ends: the first `", ` after its first two
 * bytes followed by the key of a later field, whose field and key length go
 * to *next and *nklen; NULL when it runs to the end of the line. *s1 and *s2
 * (NULL on entry) get the value's first two other spaces. */
__attribute__((always_inline)) static inline const char *field_end(const char *v, const char *e,
								   const char *lo, int f, int *next,
								   size_t *nklen, const char **s1,
								   const char **s2)
{
	const char *sp;
	for (sp = find_space(v, e, lo); sp; sp = find_space(sp + 1, e, lo)) {
		if (sp - v >= 2 && sp[-1] == ',' && sp[-2] == '"' &&
		    (*next = match_key(sp + 1, e, f, nklen)) >= 0)
			break;
		if (!*s1)
			*s1 = sp;
		else if (!*s2)
			*s2 = sp;
	}
	return sp;
}

/* Parse the context after ", client: " at p into ev, whose context fields
 * are clear. Returns true when it is complete: every field well-formed and
 * the line ends exactly where the last field does. A line cut at 2047 bytes
 * is not complete but keeps what is there.
 *
 * Field ends: client, server, request, upstream and host values never hold
 * a space (nginx >= 1.21.1 rejects spaces in the request line; host cannot
 * hold one; the upstream URI is the request URI or an escaped one), so a
 * value ends at the first `", ` + space that is followed by the key of a
 * later field. The subrequest URI is decoded and may hold spaces; the same
 * rule finds its end unless it spoofs a later key. The referrer is last and
 * taken greedily to the end of the line: whatever it contains, including a
 * fake `", host: "` (§1.3), stays inside it. */
__attribute__((always_inline)) static inline bool parse_context(const char *p, const char *e,
								struct errlog_event *ev)
{
	const char *lo = p, *sp = find_space(p, e, lo);
	if (!sp) {
		ev->client = span(p, e);
		return false;
	}
	if (sp[-1] != ',' || sp - 1 == p ||
	    !textscan_prefix(sp + 1, (size_t)(e - sp - 1), TEXTSCAN_LIT("server: ")))
		return false;
	ev->client = span(p, sp - 1);
	p = sp + 1 + 8;

	sp = find_space(p, e, lo);
	if (!sp) {
		ev->server = span(p, e); /* "server: NAME" ends the line: no request */
		return true;
	}
	size_t klen;
	int f = sp[-1] == ',' ? match_key(sp + 1, e, -1, &klen) : -1;
	if (f < 0)
		return false;
	ev->server = span(p, sp - 1);

	/* does the line end in a quote? Once, not per field: 92.3 -> 91.4 M
	 * instructions on 20 MB of real lines (callgrind, bench_errlog run) */
	bool quoted_end = e[-1] == '"';
	if (f == F_REQUEST) {
		/* first when present: taken apart here, so that the loop on the
		 * fields after it tests nothing about the request, whose tests
		 * of f there were data-dependent branches (the daemon on
		 * /tmp/rcg/real.log, callgrind, runall.sh, errlog_parse_upstream
		 * per real line: Ir 945.3 -> 957.8, Bcm + Bim 6.85 -> 5.78, D1mr
		 * 3.28 -> 3.32, D1mw 0.06 -> 0.06: est. cycles 1081 -> 1078;
		 * parse_context() forced inline, gcc kept a call otherwise) */
		const char *v = sp + 1 + klen;
		bool closed = quoted_end && e > v;
		int next = -1;
		size_t nklen = 0;
#ifdef __SSE2__
		if (e - v >= 64) {
			/* "METHOD URI PROTO", the first three spaces of 64
			 * bytes: when the first two are not `, ` and the third
			 * ends the field, that is what field_end() finds,
			 * without its three searches and its branch per space
			 * on what precedes it. The daemon on /tmp/rcg/real.log
			 * (callgrind, runall.sh), errlog_parse_upstream per
			 * real line: Ir 982.7 -> 945.3, Bcm + Bim 6.35 -> 6.85
			 * (the "unix:" test of the peer, predicted from another
			 * history, took 0.5 of it), D1mr 3.28 -> 3.28, D1mw
			 * 0.07 -> 0.06: est. cycles 1111 -> 1081 */
			uint64_t m0 = spaces32(v) | (uint64_t)spaces32(v + 32) << 32;
			uint64_t m1 = m0 & (m0 - 1), m2 = m1 & (m1 - 1);
			if (m2) {
				const char *s1 = v + __builtin_ctzll(m0);
				const char *s2 = v + __builtin_ctzll(m1);
				const char *s3 = v + __builtin_ctzll(m2);
				uint16_t qc;
				memcpy(&qc, s3 - 2, 2);
				if (((s1[-1] != ',') & (s2[-1] != ',') & (qc == word2("\","))) &&
				    (next = match_key(s3 + 1, e, F_REQUEST, &nklen)) >= 0) {
					ev->method = span(v, s1);
					ev->uri = span(s1 + 1, s2);
					ev->request = span(v, s3 - 2);
					sp = s3;
					goto fields;
				}
			}
		}
#endif
		/* "METHOD URI[ PROTO]", maybe cut anywhere */
		const char *s1 = NULL, *s2 = NULL;
		sp = field_end(v, e, lo, F_REQUEST, &next, &nklen, &s1, &s2);
		const char *re = sp ? sp - 2 : closed ? e - 1 : e;
		if (s1 && s1 >= re)
			s1 = s2 = NULL;
		if (s2 && s2 >= re)
			s2 = NULL;
		ev->method = span(v, s1 ? s1 : re);
		if (s1)
			ev->uri = span(s1 + 1, s2 ? s2 : re);
		ev->request = span(v, re);
		if (!sp)
			return closed;
#ifdef __SSE2__
	fields:
#endif
		f = next;
		klen = nklen;
	}
	for (;;) {
		const char *v = sp + 1 + klen;
		bool closed = quoted_end && e > v;
		if (f == F_REFERRER) {
			ev->referrer = span(v, closed ? e - 1 : e);
			return closed;
		}
		if (f == F_BYTES)
			return parse_bytes(v, e, ev);
		int next = -1;
		size_t nklen = 0;
		const char *s1 = NULL, *s2 = NULL;
		sp = field_end(v, e, lo, f, &next, &nklen, &s1, &s2);
		if (!sp) {
			*field(ev, f) = span(v, closed ? e - 1 : e);
			return closed;
		}
		*field(ev, f) = span(v, sp - 2);
		f = next;
		klen = nklen;
	}
}

/* Candidates are tried left to right and the first whose context is
 * complete wins; if none is (a cut line), the first candidate is used as far
 * as it goes. Why leftmost: anything a client sends ends up right of the real
 * anchor (request, host, referrer), and the referrer is greedy, so a fake
 * context inside it is never preferred; a fake left of the anchor would have
 * to come from the upstream's own text (a crafted stderr or header) and form
 * a complete context that swallows the real one, which we accept as
 * ambiguous (§1.3).
 *
 * Flattened, as errlog_ctx_upstream_peer(): with the request taken apart
 * on its own, gcc called textscan_same() here and from the peer's "unix:"
 * test instead of unrolling it for each literal. The daemon on
 * /tmp/rcg/real.log (callgrind, runall.sh), errlog_parse_upstream per real
 * line: Ir 957.8 -> 932.0, Bcm + Bim 5.78 -> 6.68, D1mr 3.32 -> 3.33, D1mw
 * 0.06 -> 0.05: est. cycles 1078 -> 1066 (bench_errlog run: 69.13 ->
 * 67.94 M, mispredictions 354.9 k -> 388.7 k). */
__attribute__((flatten)) static const char *find_client(const char *p, const char *e,
							struct errlog_event *ev)
{
	/* p: no anchor starts before it (errlog_ctx_find's from) */
	const char *first = NULL;
	bool dirty = false, last = false;
	size_t klen = 0, first_klen = 0;
	/* memchr(), not scan(): this search crosses the whole message, where
	 * libc's AVX2 loop takes fewer instructions (1741 -> 1733 a line,
	 * callgrind, bench_errlog run). Not called when the pre-filter already
	 * stopped at the first comma: 101.4 -> 100.9 M instructions on 20 MB of
	 * real lines (callgrind, bench_errlog run). */
	const char *q = p < e && *p == ',' ? p : memchr(p, ',', (size_t)(e - p));
	/* one call of parse_context(), inlined here: the first candidate's
	 * second parse is the loop's last round (the daemon on
	 * /tmp/rcg/real.log: errlog_parse_upstream 71.4 -> 71.2 M
	 * instructions, callgrind; forcing the inline of two calls was
	 * 72.9 M) */
	for (;;) {
		for (; q; q = memchr(q + 1, ',', (size_t)(e - q - 1))) {
			if (textscan_prefix(q, (size_t)(e - q), TEXTSCAN_LIT(", client: "))) {
				klen = 10;
				break;
			}
			if (textscan_prefix(q, (size_t)(e - q), TEXTSCAN_LIT(", udp client: "))) {
				klen = 14; /* the stream module's UDP sessions */
				break;
			}
		}
		if (!q) {
			if (dirty)
				clear_context(ev);
			if (!first)
				return NULL;
			dirty = false;
			q = first;
			klen = first_klen;
			last = true;
		}
		if (dirty)
			clear_context(ev);
		dirty = true;
		ev->udp = klen == 14;
		if (parse_context(q + klen, e, ev) || last)
			return q;
		if (!first && ev->client.p) {
			first = q;
			first_klen = klen;
		}
		q = memchr(q + 1, ',', (size_t)(e - q - 1));
	}
}

/* Find the real context in [p, e) and fill ev's context fields (which must
 * be clear). Returns where the context starts (the message and action end
 * there), or e when the line has none. from (p <= from <= e) is where the
 * search for its anchor may start: no ", client: " or ", udp client: "
 * starts in [p, from). */
static const char *errlog_ctx_find(const char *p, const char *from, const char *e,
				   struct errlog_event *ev)
{
	const char *c = find_client(from, e, ev);
	if (c)
		return c;
	/* the resolver's log handler: ", resolver: A:P" */
	const char *sp = memrchr(p, ' ', (size_t)(e - p));
	if (sp && sp - p >= 11 && memcmp(sp - 11, ", resolver:", 11) == 0) {
		ev->resolver = span(sp + 1, e);
		return sp - 11;
	}
	return e;
}

/* After "unix:" without nginx's ":" separator: the socket path ends at the
 * first component ending in ".sock" (followed by '/', '?' or the end). */
static const char *sock_end(const char *p, const char *e)
{
	for (const char *k = p; (k = memmem(k, (size_t)(e - k), ".sock", 5)); k += 5) {
		const char *end = k + 5;
		if (end == e || *end == '/' || *end == '?')
			return end;
	}
	return NULL;
}

#ifdef __SSE2__
/* The '/' and '?' of the 32 bytes at p, bit i for p[i]. */
static inline unsigned slash_or_qm32(const char *p)
{
	__m128i slash = _mm_set1_epi8('/'), qm = _mm_set1_epi8('?');
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	a = _mm_or_si128(_mm_cmpeq_epi8(a, slash), _mm_cmpeq_epi8(a, qm));
	b = _mm_or_si128(_mm_cmpeq_epi8(b, slash), _mm_cmpeq_epi8(b, qm));
	return (unsigned)_mm_movemask_epi8(a) | (unsigned)_mm_movemask_epi8(b) << 16;
}
#endif

/* The first '/' or '?' of [p, e), where an upstream URI starts; lo <= p is
 * where the readable text starts. One pass for both bytes; two
 * textscan_chr() calls were 0.5 M instructions more (95.2 -> 94.7 M on 20 MB
 * of real lines, callgrind, bench_errlog run). 32 bytes a round, and what
 * is left one window ending at e (lo: 11 bytes before the field, its key):
 * a peer and the URI's first '/' fit in the first round, a peer without URI
 * in the window, where rounds of 16 bytes and a byte loop mispredicted 0.5
 * times a line. The daemon on /tmp/rcg/real.log (callgrind, runall.sh),
 * errlog_parse_upstream per real line: Ir 983.0 -> 982.7, Bcm + Bim 6.48
 * -> 6.35, D1mr 3.34 -> 3.28, D1mw 0.07 -> 0.07 (the feed's total moves
 * +-0.3 % between runs with the diagnosis's timers). */
static const char *uri_start(const char *p, const char *e, const char *lo)
{
#ifdef __SSE2__
	for (; e - p >= 32; p += 32) {
		unsigned m = slash_or_qm32(p);
		if (m)
			return p + __builtin_ctz(m);
	}
	if (e - lo >= 32) {
		/* the 32 bytes ending at e, of which the last e - p are ours
		 * (none when p == e: a 64-bit shift, by 32 at most) */
		unsigned m = (unsigned)((uint64_t)slash_or_qm32(e - 32) >> (32 - (e - p)));
		return m ? p + __builtin_ctz(m) : NULL;
	}
#else
	(void)lo;
#endif
	for (; p < e; p++)
		if (*p == '/' || *p == '?')
			return p;
	return NULL;
}

/* upstream: "SCHEME://PEER[URI]" (§3). PEER is "unix:/path" followed by the
 * ":" separator nginx adds for AF_UNIX, "[v6]:port", "addr:port", or the
 * group name for "no live upstreams". The stream module writes the peer
 * alone, without scheme or URI. The searches are inline (textscan.h) with
 * the field's start as lower bound: 1754 -> 1741 instructions a line
 * (callgrind, bench_errlog run), and the ']', '/', '?' and unix ':' ones
 * too, which are libc calls on a few bytes otherwise (20 MB of real lines:
 * 108.0 -> 107.2 M instructions). */
__attribute__((flatten)) static struct errlog_span errlog_ctx_upstream_peer(struct errlog_event *ev)
{
	const char *p = ev->upstream.p, *e = p + ev->upstream.len, *b, *end;
	size_t n = ev->upstream.len;
	const char *q = textscan_chr(p, p + (n > 16 ? 16 : n), ':', p);
	if (q && q != p && e - q >= 3 && q[1] == '/' && q[2] == '/') {
		ev->scheme = span(p, q);
		b = q + 3;
	} else if (n > 0 && !memchr(p, '/', n) == !textscan_prefix(p, n, TEXTSCAN_LIT("unix:"))) {
		ev->stream = true; /* "addr:port", "[v6]:port" or "unix:/path" */
		return span(p, e);
	} else {
		return (struct errlog_span){NULL, 0};
	}
	if (textscan_prefix(b, (size_t)(e - b), TEXTSCAN_LIT("unix:"))) {
		end = textscan_chr(b + 5, e, ':', p);
		if (!end) {
			end = sock_end(b + 5, e);
			ev->peer_split = end ? ERRLOG_SPLIT_SOCK : ERRLOG_SPLIT_NONE;
			if (end && end < e)
				ev->upstream_uri = span(end, e);
			return span(b, end ? end : e);
		}
		if (end + 1 < e)
			ev->upstream_uri = span(end + 1, e);
		return span(b, end);
	}
	end = b;
	if (end < e && *end == '[') {
		const char *close = textscan_chr(end, e, ']', p);
		end = close ? close + 1 : e;
	}
	/* the URI starts at the first '/' (or a '?' before any '/') */
	const char *u = uri_start(end, e, p - 11); /* after `upstream: "` */
	end = u ? u : e;
	if (end < e)
		ev->upstream_uri = span(end, e);
	return span(b, end);
}
