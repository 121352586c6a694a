/* errlog: one nginx error-log line → one struct errlog_event (see errlog.h).
 *
 * Owns the line grammar of tests/fixtures/nginx-error-catalog.md §1; which
 * kind a message is (§4) is errlog_kind.c's. No allocation: text fields are
 * spans into the caller's line; only the normalised peer is copied.
 *
 *   HEADER  "YYYY/MM/DD HH:MM:SS [level] PID#TID: [*CONN ]"     fixed offsets
 *   MESSAGE "text[ (SSL: ...)][ (ERRNO: strerror)]"
 *   ACTION  "[ while ACTION]"
 *   CONTEXT "[, client: A, server: S[, request: "R"][, subrequest: "U"]
 *            [, upstream: "UP"][, host: "H"][, referrer: "REF"]]"
 *           or "[, resolver: A:P]" (resolver log handler, §1.4)
 *
 * The context is located before the message is looked at, because the
 * message may carry anything (FastCGI stderr, a bad header, a host name from
 * a variable) and so may the request and referrer (nginx escapes nothing,
 * §1.3). See find_context() for how the real ", client: " is told apart.
 *
 * Speed matters (the daemon may replay a large log at start; target: 40% of
 * `wc -l` on the same file, tests/bench/errlog.sh): the header is read at
 * fixed offsets (pid, tid and *N eight digits at a time), searches are
 * inline SSE2 (textscan.h), local time is converted arithmetically with the
 * UTC offset cached per hour and the last stamp remembered, and normalised
 * peer keys are cached by their raw text. The caches are per thread. */
#include "log/errlog.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <time.h>

#include "log/errlog_kind.h"
#include "core/textscan.h"
#include "core/util.h"

#define LIT	   TEXTSCAN_LIT
#define same	   textscan_same
#define has_prefix textscan_prefix
#define has_suffix textscan_suffix

/* The line being parsed: the scans may load any 16 bytes inside it. */
static _Thread_local const char *line_lo, *line_hi;

static inline const char *scan(const char *p, const char *e, char c)
{
	return textscan_chr(p, e, c, line_lo);
}

static inline const char *rscan(const char *p, const char *e, char c)
{
	return textscan_rchr(p, e, c, line_hi);
}

static inline const char *find_space(const char *p, const char *e)
{
	return scan(p, e, ' ');
}

static inline struct errlog_span span(const char *b, const char *e)
{
	return (struct errlog_span){b, (uint32_t)(e - b)};
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ---- time ---------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): pure arithmetic, so a line costs no mktime(). */
static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* UTC offset of local time, per local hour: DST changes on hour boundaries
 * in every zone that matters here (a zone switching at :30 or :45, like
 * Chatham, is off for less than an hour once a year). Direct-mapped so that
 * lines of several logs, or a replay of old lines, keep hitting. */
#define TZ_SLOTS 64
struct tz_slot {
	int64_t hour; /* naive local seconds / 3600 */
	int64_t off;  /* naive local seconds - epoch seconds */
	bool set;
};
static _Thread_local struct tz_slot tz_cache[TZ_SLOTS];

static time_t local_to_epoch(int y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
	int64_t naive_hour = days_from_civil(y, mo, d) * 24 + h;
	struct tz_slot *slot = &tz_cache[(uint64_t)naive_hour % TZ_SLOTS];
	if (!slot->set || slot->hour != naive_hour) {
		struct tm tm = {.tm_year = y - 1900,
				.tm_mon = (int)mo - 1,
				.tm_mday = (int)d,
				.tm_hour = (int)h,
				.tm_isdst = -1};
		time_t t = mktime(&tm);
		slot->hour = naive_hour;
		slot->off = t == (time_t)-1 ? 0 : naive_hour * 3600 - (int64_t)t;
		slot->set = true;
	}
	return (time_t)(naive_hour * 3600 + mi * 60 + s - slot->off);
}

static inline unsigned dig2(const char *p)
{
	return (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
}

/* The last stamp seen: a busy log repeats the same second many times. */
static _Thread_local char last_stamp[19];
static _Thread_local time_t last_time;
static _Thread_local bool last_set;

/* "YYYY/MM/DD HH:MM:SS" at p (19 bytes, length checked by the caller). */
static int parse_time(const char *p, time_t *ret)
{
	if (last_set && same(p, last_stamp, 17)) {
		/* same minute: only the seconds are new */
		if (!is_digit(p[17]) || !is_digit(p[18]) || dig2(p + 17) > 60)
			return -EINVAL;
		*ret = last_time - (time_t)dig2(last_stamp + 17) + (time_t)dig2(p + 17);
		return 0;
	}
	static const char shape[] = "dddd/dd/dd dd:dd:dd";
	for (size_t i = 0; i < 19; i++) {
		if (shape[i] == 'd' ? !is_digit(p[i]) : p[i] != shape[i])
			return -EINVAL;
	}
	int y = (int)(dig2(p) * 100 + dig2(p + 2));
	unsigned mo = dig2(p + 5), d = dig2(p + 8), h = dig2(p + 11), mi = dig2(p + 14),
		 s = dig2(p + 17);
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -EINVAL;
	*ret = last_time = local_to_epoch(y, mo, d, h, mi, s);
	memcpy(last_stamp, p, 19);
	last_set = true;
	return 0;
}

/* ---- peers --------------------------------------------------------------- */

/* peerkey_parse() goes through inet_pton/inet_ntop/snprintf: far more than
 * the rest of a line costs. A log names few peers, so remember them by their
 * raw spelling (and default port), failures included. */
#define PEER_SETS    16
#define PEER_WAYS    4
#define PEER_RAW_MAX 64
#define PEER_STR_MAX 64
/* Compact (192 bytes, 12 KiB in all, so lookups stay in L1): a peer whose
 * raw text, key or host is longer is not cached. */
struct peer_slot {
	uint16_t rawlen; /* 0 = empty */
	uint16_t defport;
	int rc;
	enum peerkey_kind kind;
	unsigned port;
	char raw[PEER_RAW_MAX];
	char key[PEER_STR_MAX];
	char host[PEER_STR_MAX - 16];
};
static _Thread_local struct peer_slot peer_cache[PEER_SETS][PEER_WAYS];
static _Thread_local uint8_t peer_victim[PEER_SETS];

/* A cheap hash of a short string (a collision only costs a miss: the slot
 * compares the raw text). */
static unsigned peer_set(const char *s, size_t len, unsigned defport)
{
	uint64_t a = 0, b = 0;
	if (len >= 8) {
		memcpy(&a, s, 8);
		memcpy(&b, s + len - 8, 8);
	} else {
		for (size_t i = 0; i < len; i++)
			a = a << 8 | (unsigned char)s[i];
	}
	uint64_t h = a ^ (b * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)len << 48) ^ defport;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (unsigned)(h % PEER_SETS);
}

static bool slot_holds(const struct peer_slot *slot, const char *s, size_t len, unsigned defport)
{
	return slot->rawlen == len && slot->defport == defport && same(slot->raw, s, len);
}

/* peerkey_parse() through a small set-associative cache (round-robin
 * replacement within a set). Only the used part of a peerkey is copied: the
 * struct is 560 bytes, a key twenty; the strings stay NUL-terminated. */
static int peer_lookup(const char *s, size_t len, unsigned defport, struct peerkey *ret)
{
	if (len == 0 || len >= PEER_RAW_MAX)
		return peerkey_parse(s, len, defport, ret);
	unsigned set = peer_set(s, len, defport);
	struct peer_slot *slot = NULL;
	for (unsigned w = 0; w < PEER_WAYS; w++) {
		if (slot_holds(&peer_cache[set][w], s, len, defport)) {
			slot = &peer_cache[set][w];
			break;
		}
	}
	if (!slot) {
		struct peerkey k;
		int rc = peerkey_parse(s, len, defport, &k);
		if (rc == 0 &&
		    (strlen(k.key) >= sizeof(slot->key) || strlen(k.host) >= sizeof(slot->host))) {
			*ret = k;
			return 0;
		}
		slot = &peer_cache[set][peer_victim[set]++ % PEER_WAYS];
		slot->rc = rc;
		slot->rawlen = (uint16_t)len;
		slot->defport = (uint16_t)defport;
		memcpy(slot->raw, s, len);
		if (rc == 0) {
			slot->kind = k.kind;
			slot->port = k.port;
			memcpy(slot->key, k.key, sizeof(slot->key));
			memcpy(slot->host, k.host, sizeof(slot->host));
		}
	}
	if (slot->rc == 0) {
		ret->kind = slot->kind;
		ret->port = slot->port;
		memcpy(ret->key, slot->key, sizeof(slot->key));
		memcpy(ret->host, slot->host, sizeof(slot->host));
	}
	return slot->rc;
}

/* Default port of an upstream scheme; 0 where nginx requires one (the
 * address in an upstream: field always carries its port anyway, except the
 * group name of "no live upstreams"). */
static unsigned scheme_port(struct errlog_span sc)
{
	if (sc.len == 4 && memcmp(sc.p, "http", 4) == 0)
		return 80;
	if (sc.len == 5 && memcmp(sc.p, "https", 5) == 0)
		return 443;
	if (sc.len == 4 && memcmp(sc.p, "grpc", 4) == 0)
		return 80;
	if (sc.len == 5 && memcmp(sc.p, "grpcs", 5) == 0)
		return 443;
	return 0;
}

/* upstream: "SCHEME://PEER[URI]" (§3). PEER is "unix:/path" followed by the
 * ":" separator nginx adds for AF_UNIX, "[v6]:port", "addr:port", or the
 * group name for "no live upstreams". Returns the peer text. */
static struct errlog_span split_upstream(struct errlog_event *ev)
{
	const char *p = ev->upstream.p, *e = p + ev->upstream.len, *q;
	size_t n = ev->upstream.len;
	if (has_prefix(p, n, LIT("http://")))
		q = p + 4;
	else if (has_prefix(p, n, LIT("fastcgi://")))
		q = p + 7;
	else if (!(q = scan(p, n > 16 ? p + 16 : e, ':')))
		return (struct errlog_span){NULL, 0};
	if (q == p || e - q < 3 || q[1] != '/' || q[2] != '/')
		return (struct errlog_span){NULL, 0};
	ev->scheme = span(p, q);
	const char *b = q + 3, *end;
	if (has_prefix(b, (size_t)(e - b), LIT("unix:"))) {
		end = memchr(b + 5, ':', (size_t)(e - b - 5));
		if (!end)
			end = e;
		if (end + 1 < e)
			ev->upstream_uri = span(end + 1, e);
		return span(b, end);
	}
	end = b;
	if (end < e && *end == '[') {
		const char *close = memchr(end, ']', (size_t)(e - end));
		end = close ? close + 1 : e;
	}
	/* the URI starts at the first '/' (or a '?' before any '/') */
	const char *slash = scan(end, e, '/');
	const char *qm = scan(end, slash ? slash : e, '?');
	end = qm ? qm : slash ? slash : e;
	if (end < e)
		ev->upstream_uri = span(end, e);
	return span(b, end);
}

/* ---- context ------------------------------------------------------------- */

enum field { F_REQUEST, F_SUBREQUEST, F_UPSTREAM, F_HOST, F_REFERRER, F__COUNT };

/* At p (just after ", "): is this `KEY: "` of a field that may follow field
 * `after` in nginx's order? Returns the field and sets *ret_len to the key's
 * length, or -1. */
__attribute__((always_inline)) static inline int match_key(const char *p, const char *e, int after,
							   size_t *ret_len)
{
	size_t n = (size_t)(e - p);
	int f = -1;
	if (n == 0)
		return -1;
	switch (p[0]) {
	case 'r':
		if (has_prefix(p, n, LIT("request: \"")))
			f = F_REQUEST, *ret_len = 10;
		else if (has_prefix(p, n, LIT("referrer: \"")))
			f = F_REFERRER, *ret_len = 11;
		break;
	case 's':
		if (has_prefix(p, n, LIT("subrequest: \"")))
			f = F_SUBREQUEST, *ret_len = 13;
		break;
	case 'u':
		if (has_prefix(p, n, LIT("upstream: \"")))
			f = F_UPSTREAM, *ret_len = 11;
		break;
	case 'h':
		if (has_prefix(p, n, LIT("host: \"")))
			f = F_HOST, *ret_len = 7;
		break;
	}
	return f > after ? f : -1;
}

/* Where field f goes: a table, not a switch (an indirect jump per field). */
static const size_t field_off[F__COUNT] = {
    [F_REQUEST] = offsetof(struct errlog_event, request),
    [F_SUBREQUEST] = offsetof(struct errlog_event, subrequest),
    [F_UPSTREAM] = offsetof(struct errlog_event, upstream),
    [F_HOST] = offsetof(struct errlog_event, host),
    [F_REFERRER] = offsetof(struct errlog_event, referrer),
};

static inline struct errlog_span *field(struct errlog_event *ev, int f)
{
	return (struct errlog_span *)(void *)((char *)ev + field_off[f]);
}

static void clear_context(struct errlog_event *ev)
{
	ev->client = ev->server = ev->request = ev->subrequest = ev->upstream = ev->host =
	    ev->referrer = ev->method = ev->uri = (struct errlog_span){NULL, 0};
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
static bool parse_context(const char *p, const char *e, struct errlog_event *ev)
{
	const char *sp = find_space(p, e);
	if (!sp) {
		ev->client = span(p, e);
		return false;
	}
	if (sp[-1] != ',' || sp - 1 == p ||
	    !has_prefix(sp + 1, (size_t)(e - sp - 1), LIT("server: ")))
		return false;
	ev->client = span(p, sp - 1);
	p = sp + 1 + 8;

	sp = find_space(p, e);
	if (!sp) {
		ev->server = span(p, e); /* "server: NAME" ends the line: no request */
		return true;
	}
	size_t klen;
	int f = sp[-1] == ',' ? match_key(sp + 1, e, -1, &klen) : -1;
	if (f < 0)
		return false;
	ev->server = span(p, sp - 1);

	for (;;) {
		const char *v = sp + 1 + klen;
		bool closed = e > v && e[-1] == '"';
		if (f == F_REFERRER) {
			ev->referrer = span(v, closed ? e - 1 : e);
			return closed;
		}
		int next = -1;
		size_t nklen = 0;
		const char *s1 = NULL, *s2 = NULL; /* the request line's spaces */
		for (sp = find_space(v, e); sp; sp = find_space(sp + 1, e)) {
			if (sp - v >= 2 && sp[-1] == ',' && sp[-2] == '"' &&
			    (next = match_key(sp + 1, e, f, &nklen)) >= 0)
				break;
			if (!s1)
				s1 = sp;
			else if (!s2)
				s2 = sp;
		}
		if (f == F_REQUEST) {
			/* "METHOD URI[ PROTO]", maybe cut anywhere */
			const char *re = sp ? sp - 2 : closed ? e - 1 : e;
			if (s1 && s1 >= re)
				s1 = s2 = NULL;
			if (s2 && s2 >= re)
				s2 = NULL;
			ev->method = span(v, s1 ? s1 : re);
			if (s1)
				ev->uri = span(s1 + 1, s2 ? s2 : re);
		}
		if (!sp) {
			*field(ev, f) = span(v, closed ? e - 1 : e);
			return closed;
		}
		*field(ev, f) = span(v, sp - 2);
		f = next;
		klen = nklen;
	}
}

/* Find the real ", client: " in [p, e) and parse the context after it into
 * ev. Candidates are tried left to right and the first whose context is
 * complete wins; if none is (a cut line), the first candidate is used as far
 * as it goes. Why leftmost: anything a client sends ends up right of the real
 * anchor (request, host, referrer), and the referrer is greedy, so a fake
 * context inside it is never preferred; a fake left of the anchor would have
 * to come from the upstream's own text (a crafted stderr or header) and form
 * a complete context that swallows the real one, which we accept as
 * ambiguous (§1.3). Returns the anchor or NULL. */
static const char *find_context(const char *p, const char *e, struct errlog_event *ev)
{
	const char *first = NULL;
	bool dirty = false;
	for (const char *q = p; (q = scan(q, e, ',')); q++) {
		if (!has_prefix(q, (size_t)(e - q), LIT(", client: ")))
			continue;
		if (dirty)
			clear_context(ev);
		dirty = true;
		if (parse_context(q + 10, e, ev))
			return q;
		if (!first && ev->client.p)
			first = q;
	}
	if (dirty)
		clear_context(ev);
	if (first)
		parse_context(first + 10, e, ev);
	return first;
}

/* ---- message ------------------------------------------------------------- */

static const struct {
	const char *s;
	size_t len;
	enum errlog_phase phase;
} actions[] = {
    {LIT("connecting to upstream"), PHASE_CONNECTING},
    {LIT("SSL handshaking to upstream"), PHASE_SSL_HANDSHAKE},
    {LIT("sending request to upstream"), PHASE_SENDING_REQUEST},
    {LIT("reading response header from upstream"), PHASE_READING_HEADER},
    {LIT("reading upstream"), PHASE_READING_UPSTREAM},
    {LIT("sending to client"), PHASE_SENDING_TO_CLIENT},
    {LIT("proxying upgraded connection"), PHASE_UPGRADED},
    {LIT("resolving"), PHASE_RESOLVING},
};

static enum errlog_phase phase_of(const char *a, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (n == actions[i].len && same(a, actions[i].s, n))
			return actions[i].phase;
	return PHASE_OTHER;
}

/* The common case first: [p, me) ends in " while " + a known action. Returns
 * the action's start and its phase, or NULL. */
static const char *known_action(const char *p, const char *me, enum errlog_phase *ret)
{
	size_t n = (size_t)(me - p), i;
	if (n < 16)
		return NULL;
	/* one candidate from the last letters, then one comparison (the bytes
	 * looked at may precede p, never the line: the header is longer) */
	switch (me[-1]) {
	case 'm': /* "... upstream": the letter before " upstream" */
		switch (me[-10]) {
		case 'g':
			i = 4; /* reading upstream */
			break;
		case 'm':
			i = 3; /* reading response header from upstream */
			break;
		case 'o': /* "... to upstream" */
			i = me[-13] == 't'					 ? 2
			    : me[-13] == 'g' && me[-14] == 'n' && me[-22] == 'c' ? 0
										 : 1;
			break;
		default:
			return NULL;
		}
		break;
	case 't':
		i = 5;
		break;
	case 'n':
		i = 6;
		break;
	case 'g':
		i = 7;
		break;
	default:
		return NULL;
	}
	size_t len = actions[i].len;
	if (n >= len + 7 && same(me - len, actions[i].s, len) && same(me - len - 7, " while ", 7)) {
		*ret = actions[i].phase;
		return me - len;
	}
	return NULL;
}

/* Phases in which nginx is talking to an upstream (or the resolver). The same
 * "recv() failed" or "SSL_do_handshake() failed" is also logged for client
 * connections ("while reading client request line", "while SSL handshaking",
 * "while sending to client"); those are not upstream events. */
static bool upstream_phase(enum errlog_phase ph, bool has_upstream)
{
	switch (ph) {
	case PHASE_CONNECTING:
	case PHASE_SSL_HANDSHAKE:
	case PHASE_SENDING_REQUEST:
	case PHASE_READING_HEADER:
	case PHASE_READING_UPSTREAM:
	case PHASE_UPGRADED:
	case PHASE_RESOLVING:
		return true;
	case PHASE_NONE:
		return has_upstream;
	default:
		return false;
	}
}

/* " (N: text)" at the end of [m, *e): ngx_log_errno's format. */
static void strip_errno(const char *m, const char **e, struct errlog_event *ev)
{
	const char *end = *e;
	if (end - m < 5 || end[-1] != ')')
		return;
	const char *open = rscan(m, end, '(');
	if (!open || open == m || open[-1] != ' ')
		return;
	const char *d = open + 1;
	int v = 0;
	while (d < end && is_digit(*d) && d - open <= 9)
		v = v * 10 + (*d++ - '0');
	if (d == open + 1 || end - d < 3 || d[0] != ':' || d[1] != ' ')
		return;
	ev->err = v;
	ev->errtext = span(d + 2, end - 1);
	*e = open - 1;
}

/* " (SSL: ...)" at the end of [m, *e): ngx_ssl_error's format (T1, T6). */
static void strip_ssl(const char *m, const char **e, struct errlog_event *ev)
{
	const char *end = *e;
	if (end - m < 8 || end[-1] != ')')
		return;
	for (const char *q = m + 1; (q = scan(q, end, '(')); q++) {
		if (q[-1] == ' ' && has_prefix(q, (size_t)(end - q), LIT("(SSL: "))) {
			ev->detail = span(q + 6, end - 1);
			*e = q - 1;
			return;
		}
	}
}

/* ---- header -------------------------------------------------------------- */

/* Bit 7 of each byte of x that is not an ASCII digit. A carry out of a byte
 * >= 0xfa only disturbs the bytes after it, and only the first non-digit
 * counts. */
static inline uint64_t nondigits(uint64_t x)
{
	uint64_t hi = x & 0xf0f0f0f0f0f0f0f0ull;
	uint64_t hi6 = (x + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull;
	uint64_t bad = (hi ^ 0x3030303030303030ull) | (hi6 ^ 0x3030303030303030ull);
	/* non-zero byte -> bit 7 set */
	uint64_t lo7 = (bad & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full;
	return (lo7 | bad) & 0x8080808080808080ull;
}

/* At most maxdig (<= 19: no overflow) digits; more digits is an error.
 * pid, tid and *N are read for every line: eight bytes at a time when the
 * line has them (little-endian only). */
static inline const char *scan_uint(const char *p, const char *e, unsigned maxdig, uint64_t *ret)
{
	uint64_t v = 0;
	const char *b = p, *lim = e - p > maxdig ? p + maxdig : e;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (lim - p >= 8) {
		uint64_t x;
		memcpy(&x, p, 8);
		uint64_t nd = nondigits(x);
		unsigned n = nd ? (unsigned)__builtin_ctzll(nd) / 8 : 8;
		if (n > 0 && n < 8) {
			/* the n digits, most significant first, in the low bytes */
			x -= 0x3030303030303030ull;
			x <<= 8 * (8 - n);
			x = (x * 10) + (x >> 8);
			x = (((x & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +
			     (((x >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>
			    32;
			*ret = x;
			return p + n;
		}
	}
#endif
	while (p < lim && is_digit(*p))
		v = v * 10 + (uint64_t)(*p++ - '0');
	if (p == b || (p < e && is_digit(*p)))
		return NULL;
	*ret = v;
	return p;
}

static int parse_level(const char *p, size_t n)
{
	/* nginx's order is syslog's: LOG_EMERG .. LOG_DEBUG */
	switch (n) {
	case 4:
		return same(p, "crit", 4)   ? 2
		       : same(p, "warn", 4) ? 4
		       : same(p, "info", 4) ? 6
					    : -1;
	case 5:
		return same(p, "error", 5)   ? 3
		       : same(p, "emerg", 5) ? 0
		       : same(p, "alert", 5) ? 1
		       : same(p, "debug", 5) ? 7
					     : -1;
	case 6:
		return same(p, "notice", 6) ? 5 : -1;
	}
	return -1;
}

/* ---- entry point --------------------------------------------------------- */

/* memset(ev, 0, offsetof(peer)): gcc emits "rep stos" for this size, whose
 * start-up cost is a tenth of a whole line's parse (and turns this loop back
 * into that memset unless told not to). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static inline void
zero_event(struct errlog_event *ev)
{
	size_t n = offsetof(struct errlog_event, peer), i = 0;
#ifdef __SSE2__
	__m128i z = _mm_setzero_si128();
#pragma GCC unroll 32
	for (; i + 16 <= n; i += 16)
		_mm_storeu_si128((__m128i *)(void *)((char *)ev + i), z);
#endif
	memset((char *)ev + i, 0, n - i);
}

int errlog_parse(const char *line, size_t len, struct errlog_event *ret)
{
	const char *e = line + len, *p;
	time_t t;
	uint64_t pid, tid, conn = 0;

	/* Header: everything that can reject the line is checked before *ret is
	 * touched. */
	if (len < 29 || len > UINT32_MAX || line[19] != ' ' || line[20] != '[' ||
	    parse_time(line, &t) < 0)
		return -EINVAL;
	const char *lb = line + 21;
	/* len >= 29: lb[4..6] are inside the line */
	const char *le = lb[4] == ']'	? lb + 4
			 : lb[5] == ']' ? lb + 5
			 : lb[6] == ']' ? lb + 6
					: NULL;
	int level = le ? parse_level(lb, (size_t)(le - lb)) : -1;
	if (level < 0 || e - le < 4 || le[1] != ' ')
		return -EINVAL;
	p = scan_uint(le + 2, e, 10, &pid);
	if (!p || pid > UINT32_MAX || p == e || *p != '#')
		return -EINVAL;
	p = scan_uint(p + 1, e, 10, &tid);
	if (!p || tid > UINT32_MAX || p == e || *p != ':')
		return -EINVAL;
	p++;
	if (p < e && *p == ' ')
		p++;
	if (p < e && *p == '*') {
		const char *q = scan_uint(p + 1, e, 19, &conn);
		if (q && (q == e || *q == ' '))
			p = q < e ? q + 1 : q;
		else
			conn = 0;
	}

	line_lo = line;
	line_hi = e;
	struct errlog_event *ev = ret;
	zero_event(ev);
	ev->peer.key[0] = '\0';
	ev->time = t;
	ev->level = (uint8_t)level;
	ev->pid = (uint32_t)pid;
	ev->tid = (uint32_t)tid;
	ev->conn = conn;

	/* Context, then the resolver's ", resolver: A:P" when there is none. */
	const char *me = find_context(p, e, ev);
	if (!me) {
		me = e;
		const char *sp = memrchr(p, ' ', (size_t)(e - p));
		if (sp && sp - p >= 11 && memcmp(sp - 11, ", resolver:", 11) == 0) {
			ev->resolver = span(sp + 1, e);
			me = sp - 11;
		}
	}

	/* " while ACTION": the last " while " before the context. An action is
	 * nginx's own text and holds no '"'; a quote after the last " while "
	 * means it sits inside a quoted message (stderr, header) and there is
	 * no action. After a FastCGI stderr text it must follow the closing
	 * quote directly, so that a cut stderr containing " while " is not
	 * split. */
	bool stderr_msg = has_prefix(p, (size_t)(me - p), LIT("FastCGI sent in stderr: \""));
	const char *ae = me;
	const char *a = known_action(p, me, &ev->phase);
	if (a && (!stderr_msg || (a - p >= 8 && a[-8] == '"'))) {
		ev->action = span(a, me);
		ae = a - 7;
	} else {
		ev->phase = PHASE_NONE;
		a = NULL;
	}
	for (const char *w = me; !a && w - p >= 7;) {
		w = memrchr(p, 'w', (size_t)(w - p));
		if (!w || w == p)
			break;
		if (w[-1] == ' ' && me - w >= 6 && memcmp(w, "while ", 6) == 0) {
			const char *act = w + 6;
			if (!memchr(act, '"', (size_t)(me - act)) &&
			    (!stderr_msg || (w - p >= 2 && w[-2] == '"'))) {
				ev->action = span(act, me);
				ev->phase = phase_of(act, (size_t)(me - act));
				ae = w - 1;
			}
			break;
		}
	}

	const char *mend = ae;
	if (stderr_msg) {
		/* §4.7, B7: opaque text, possibly with its own parentheses; no errno. */
		ev->message = span(p, mend);
		const char *b = p + 25;
		ev->detail = span(b, mend > b && mend[-1] == '"' ? mend - 1 : mend);
		ev->kind = EV_FASTCGI_STDERR;
	} else {
		strip_errno(p, &mend, ev);
		strip_ssl(p, &mend, ev);
		ev->message = span(p, mend);
		ev->kind = errlog_kind_of(p, (size_t)(mend - p), ev,
					  upstream_phase(ev->phase, ev->upstream.p != NULL));
		/* EMFILE/ENFILE: keyed on the number, whatever failed (C8, accept4, open). */
		if (ev->err == EMFILE || ev->err == ENFILE)
			ev->kind = EV_TOO_MANY_FILES;
	}

	struct errlog_span peer = {NULL, 0};
	if (ev->upstream.p) {
		peer = split_upstream(ev);
	} else if (ev->kind == EV_CONNECT_FAILED && ev->phase == PHASE_CONNECTING && ev->detail.p) {
		peer = ev->detail; /* "connect() to A failed" on a line cut before upstream: */
	}
	if (ev->name.p && !ev->detail.p &&
	    (ev->kind == EV_RESOLVE_FAILED || ev->kind == EV_NO_RESOLVER ||
	     ev->kind == EV_HOST_NOT_FOUND))
		ev->detail = ev->name;

	if (peer.p) {
		/* "no live upstreams" names the group, not a peer (§3): keep it as
		 * the name, and as a peer only when it is an address with a port
		 * (an implicit upstream from proxy_pass host:port). */
		unsigned defport = ev->kind == EV_NO_LIVE_UPSTREAMS ? 0 : scheme_port(ev->scheme);
		if (ev->kind == EV_NO_LIVE_UPSTREAMS)
			ev->name = peer;
		if (peer_lookup(peer.p, peer.len, defport, &ev->peer) == 0)
			ev->has_peer = 1;
		else
			ev->peer.key[0] = '\0';
	}
	return 0;
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
	    [PHASE_OTHER] = "other",
	};
	return (unsigned)phase < PHASE__COUNT ? names[phase] : "unknown";
}
