/* errlog: one nginx error-log line → one struct errlog_event (see errlog.h).
 *
 * Owns the line grammar of tests/fixtures/nginx-error-catalog.md §1: the
 * header, the message and its action. The stamp is errlog_time.c's, the
 * context fields errlog_ctx.h's, which kind a message is (§4) errlog_kindmap.h's.
 * No allocation: text fields are spans into the caller's line; only the
 * normalised peer is copied.
 *
 *   HEADER  "YYYY/MM/DD HH:MM:SS [level] PID#TID: [*CONN ]"     fixed offsets
 *   MESSAGE "text[ (SSL: ...)][ (ERRNO: strerror)]"
 *   ACTION  "[ while ACTION]"
 *   CONTEXT see errlog_ctx.h
 */
#include "log/errlog.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/textscan.h"
#include "core/hash.h"
#include "core/util.h"
#include "log/errlog_ctx.h"
#include "log/errlog_header.h"
#include "log/errlog_kindmap.h"
#include "log/errlog_memo.h"
#include "log/errlog_time.h"

#define LIT	   TEXTSCAN_LIT
#define same	   textscan_same
#define has_prefix textscan_prefix

static const char *scan(const char *p, const char *e, char c)
{
	return memchr(p, c, (size_t)(e - p));
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Default port of an upstream scheme; 0 where nginx requires one (the
 * address in an upstream: field always carries its port anyway, except the
 * group name of "no live upstreams"). */
static unsigned scheme_port(struct errlog_span sc)
{
	if (sc.len == 4 && (memcmp(sc.p, "http", 4) == 0 || memcmp(sc.p, "grpc", 4) == 0))
		return 80;
	if (sc.len == 5 && (memcmp(sc.p, "https", 5) == 0 || memcmp(sc.p, "grpcs", 5) == 0))
		return 443;
	return 0;
}

/* ---- message ------------------------------------------------------------- */

/* Grouped by the last byte, so that known_action() compares only the
 * entries ending in the message's last byte (ACTIONS_BY_LAST). */
static const struct {
	const char *s;
	size_t len;
	enum errlog_phase phase;
} actions[] = {
    /* 0..6: "...upstream" */
    {LIT("connecting to upstream"), PHASE_CONNECTING},
    {LIT("reading response header from upstream"), PHASE_READING_HEADER},
    {LIT("SSL handshaking to upstream"), PHASE_SSL_HANDSHAKE},
    {LIT("sending request to upstream"), PHASE_SENDING_REQUEST},
    {LIT("reading upstream"), PHASE_READING_UPSTREAM},
    {LIT("proxying and reading from upstream"), PHASE_PROXYING_FROM_UPSTREAM},
    {LIT("proxying and sending to upstream"), PHASE_PROXYING_TO_UPSTREAM},
    /* 7..9: "...client" */
    {LIT("sending to client"), PHASE_SENDING_TO_CLIENT},
    {LIT("proxying and reading from client"), PHASE_PROXYING_FROM_CLIENT},
    {LIT("proxying and sending to client"), PHASE_PROXYING_TO_CLIENT},
    /* 10..11: "...connection" */
    {LIT("proxying upgraded connection"), PHASE_UPGRADED},
    {LIT("proxying connection"), PHASE_PROXYING},
    /* 12: "resolving" */
    {LIT("resolving"), PHASE_RESOLVING},
};

static enum errlog_phase phase_of(const char *a, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (n == actions[i].len && same(a, actions[i].s, n))
			return actions[i].phase;
	return PHASE_OTHER;
}

/* [p, me) ends in " while " + a known action: the common case, one
 * comparison per known action that ends in the same byte. Returns the
 * action's start and its phase. A loop over all thirteen was 45
 * instructions a line: 99.2 -> 97.2 M instructions on 20 MB of real lines
 * (callgrind, bench_errlog run). */
static const char *known_action(const char *p, const char *me, enum errlog_phase *ret)
{
	size_t n = (size_t)(me - p), from, to;
	switch (n ? me[-1] : 0) {
	case 'm':
		from = 0, to = 7;
		break;
	case 't':
		from = 7, to = 10;
		break;
	case 'n':
		from = 10, to = 12;
		break;
	case 'g':
		from = 12, to = 13;
		break;
	default:
		return NULL;
	}
	for (size_t i = from; i < to; i++) {
		size_t len = actions[i].len;
		if (n >= len + 7 && same(me - len, actions[i].s, len) &&
		    same(me - len - 7, " while ", 7)) {
			*ret = actions[i].phase;
			return me - len;
		}
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
	case PHASE_PROXYING_FROM_UPSTREAM:
	case PHASE_PROXYING_TO_UPSTREAM:
		return true;
	case PHASE_NONE:
	case PHASE_PROXYING:
		return has_upstream;
	default:
		return false;
	}
}

/* Does the line surely hold one of the pre-filter's words? An upstream
 * field in its context ("upstream: \"") and a known action naming the
 * upstream or the resolver do, and then errlog_parse() skips the
 * pre-filter's scan: 105.8 -> 99.2 M instructions on 20 MB of real
 * lines, noise unchanged at 147.0 M (callgrind, bench_errlog run-full). */
static bool names_upstream(const struct errlog_event *ev)
{
	return ev->upstream.p || (ev->phase != PHASE_UPGRADED && upstream_phase(ev->phase, false));
}

/* " (N: text)" at the end of [m, *e): ngx_log_errno's format. */
static void strip_errno(const char *m, const char **e, struct errlog_event *ev)
{
	const char *end = *e;
	if (end - m < 5 || end[-1] != ')')
		return;
	/* inline: a libc memrchr() call was 0.2 M instructions more on 20 MB
	 * of real lines (89.0 against 88.8 M, callgrind, bench_errlog run) */
	const char *open = textscan_rchr(m, end, '(', end);
	if (!open || open == m || open[-1] != ' ')
		return;
	/* at most 9 digits: one bound for the loop */
	const char *d = open + 1, *lim = end - open > 10 ? open + 10 : end;
	int v = 0;
	while (d < lim && is_digit(*d))
		v = v * 10 + (*d++ - '0');
	if (d == open + 1 || end - d < 3 || d[0] != ':' || d[1] != ' ')
		return;
	if (open[1] == '0' && d - open > 2)
		return; /* nginx prints %d: "(024: " is no errno (and the pre-filter
			 * looks for "(24: ") */
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

/* ---- peers --------------------------------------------------------------- */

/* peerkey_parse() goes through inet_pton, inet_ntop and snprintf, and
 * clears a 564-byte struct: half of a whole line's parse. A log names few
 * peers, so the last results are kept by their raw spelling (failures too).
 * tests/bench/errlog.sh, 200 MB: 21 % of `wc -l` with 256 slots, 15 % with
 * 64, 8 % without. Direct-mapped; a collision only costs a miss.
 *
 * A slot is one cache line: the compare words and what a hit copies out,
 * the key (whose first bytes are the raw text: "127.0.0.1:8080", "app"
 * with its default port, a failure's raw text) and the host as a part of
 * it. Before, a slot held a whole struct peerkey (650 bytes; the 256 of
 * them 166 KB, more than L1): a hit read five cache lines, 1.2 D1 misses a
 * real line (the daemon on /tmp/rcg/real.log, callgrind --cache-sim); one
 * line a slot, 16 KB: errlog_parse_upstream 224.5 -> 162.3 k D1 read
 * misses, 66.44 -> 66.27 M instructions. A compare of the whole text
 * without a branch (three 16-byte loads) was 0.9 M instructions more for
 * no fewer mispredictions. A
 * text that does not fit so (a longer key, a raw text that is not the
 * key's start: "LOCALHOST:80", a non-canonical address) is kept apart, in
 * PEER_LONG_SLOTS slots of the old shape, made on first use. */
#define PEER_SLOTS	256
#define PEER_RAW_MAX	64
#define PEER_KEY_IN	40 /* the key and its NUL in a slot */
#define PEER_LONG_SLOTS 32
#define PEER_FAILED	0xff /* kind of a failure's slot */

struct peer_slot {
	uint64_t a, b;	/* the raw text's words, as textscan_words() gives them */
	uint8_t rawlen; /* 0: empty */
	uint8_t kind;	/* enum peerkey_kind, or PEER_FAILED */
	uint8_t hoff;	/* the host is key[hoff, hoff + hlen) */
	uint8_t hlen;
	uint16_t defport;
	uint16_t port;
	char key[PEER_KEY_IN]; /* failed: the raw text */
};

_Static_assert(sizeof(struct peer_slot) == 64, "a peer slot is one cache line");

struct peer_long {
	uint16_t rawlen; /* 0: empty */
	uint16_t defport;
	int rc;
	char raw[PEER_RAW_MAX];
	struct peerkey key;
};

/* made by the first peer parsed (peer_long by the first long one): a
 * static array's thread-local storage is zeroed, so resident, at every
 * start (4 % of an idle daemon's RSS, tests/bench/daemon.py) */
static _Thread_local struct peer_slot *peer_cache;
static _Thread_local struct peer_long *peer_long;

/* A text that does not fit in a slot: the slot of the old shape, keyed by
 * the whole raw text. */
static int peer_parse_long(const char *s, size_t len, unsigned defport, uint64_t h,
			   struct peerkey *ret)
{
	if (!peer_long)
		peer_long = xcalloc(PEER_LONG_SLOTS, sizeof(*peer_long));
	struct peer_long *l = &peer_long[(h >> 8) % PEER_LONG_SLOTS];
	if (l->rawlen != len || l->defport != defport || memcmp(l->raw, s, len) != 0) {
		l->rc = peerkey_parse(s, len, defport, &l->key);
		l->rawlen = (uint16_t)len;
		l->defport = (uint16_t)defport;
		memcpy(l->raw, s, len);
	}
	if (l->rc == 0) {
		ret->kind = l->key.kind;
		ret->port = l->key.port;
		strcpy(ret->key, l->key.key);
		strcpy(ret->host, l->key.host);
	}
	return l->rc;
}

/* Fill slot for [s, s + len) from peerkey_parse(): in the slot when it
 * fits, else (false) the text is a long one. */
static bool peer_fill(struct peer_slot *slot, const char *s, size_t len, unsigned defport,
		      uint64_t a, uint64_t b)
{
	struct peerkey k;
	int rc = peerkey_parse(s, len, defport, &k);
	slot->rawlen = 0;
	memset(slot->key, 0, sizeof(slot->key));
	if (rc < 0) {
		if (len >= PEER_KEY_IN)
			return false;
		slot->kind = PEER_FAILED;
		memcpy(slot->key, s, len);
	} else {
		size_t kl = strlen(k.key), hl = strlen(k.host);
		/* where the host is in the key: "[host]:port", "unix:host", "host:port" */
		size_t hoff = k.kind == PEERKEY_IPV6 ? 1 : k.kind == PEERKEY_UNIX ? 5 : 0;
		if (kl >= PEER_KEY_IN || len > kl || memcmp(k.key, s, len) != 0 || hoff + hl > kl ||
		    memcmp(k.key + hoff, k.host, hl) != 0 || k.port > 65535)
			return false;
		slot->kind = (uint8_t)k.kind;
		slot->hoff = (uint8_t)hoff;
		slot->hlen = (uint8_t)hl;
		slot->port = (uint16_t)k.port;
		memcpy(slot->key, k.key, kl);
	}
	slot->a = a;
	slot->b = b;
	slot->defport = (uint16_t)defport;
	slot->rawlen = (uint8_t)len;
	return true;
}

static int peer_parse(const char *s, size_t len, unsigned defport, struct peerkey *ret)
{
	if (len == 0 || len >= PEER_RAW_MAX)
		return peerkey_parse(s, len, defport, ret);
	/* the slot from the first and last 8 bytes (a collision only costs a
	 * miss): a byte-wise hash was 5 % of the whole parse */
	uint64_t a, b;
	textscan_words(s, len, &a, &b);
	/* murmur3's finaliser: every input bit reaches the slot's bits. Taking
	 * bits 32..39 of a plain product ignored the last bytes, so
	 * "127.0.0.1:20000".."20049" shared one slot and a storm over 50 peers
	 * missed on every line (bench_diagnose storm: 0.98 -> 0.52 us/line) */
	uint64_t h = hash_mix64(a ^ (b * 0x9e3779b97f4a7c15ull) ^ len ^ ((uint64_t)defport << 32));
	if (!peer_cache)
		peer_cache = xcalloc(PEER_SLOTS, sizeof(*peer_cache));
	struct peer_slot *slot = &peer_cache[h % PEER_SLOTS];
	/* up to 16 bytes a and b hold them all; a longer text's middle is the
	 * key's (or a failure's raw text) */
	if (slot->rawlen != len || slot->defport != defport || slot->a != a || slot->b != b ||
	    (len > 16 && !same(slot->key + 8, s + 8, len - 16))) {
		if (!peer_fill(slot, s, len, defport, a, b))
			return peer_parse_long(s, len, defport, h, ret);
	}
	if (slot->kind == PEER_FAILED)
		return -EINVAL;
	ret->kind = slot->kind;
	ret->port = slot->port;
	/* fixed sizes, which the compiler inlines; the host from the key
	 * just copied, which holds it */
	memcpy(ret->key, slot->key, PEER_KEY_IN);
	memcpy(ret->host, ret->key + slot->hoff, PEER_KEY_IN);
	ret->host[slot->hlen] = '\0';
	return 0;
}

/* ---- header -------------------------------------------------------------- */

/* The last stamp's minute: a busy log repeats it on many lines, whose
 * stamp then costs a compare and the seconds. Kept here, next to its one
 * caller, so that it is inline: errlog_time_parse() with this memo behind a
 * call was 41 instructions a line (20 MB of real lines: 95.7 -> 95.2 M
 * instructions, callgrind, bench_errlog run). A pure memo: the result is
 * errlog_time_parse()'s. */
struct last_minute {
	char text[17]; /* "YYYY/MM/DD HH:MM:" */
	bool set;
	time_t minute; /* the epoch second of its :00 */
};

static _Thread_local struct last_minute last_minute;

static inline int parse_stamp(const char *p, time_t *ret)
{
	struct last_minute *m = &last_minute;
	bool same_minute = m->set && same(p, m->text, 17);
	if (!is_digit(p[17]) || !is_digit(p[18]))
		return -EINVAL;
	unsigned s = (unsigned)(p[17] - '0') * 10 + (unsigned)(p[18] - '0');
	if (same_minute) {
		if (s > 60)
			return -EINVAL;
		*ret = m->minute + (time_t)s;
		return 0;
	}
	time_t t;
	if (errlog_time_parse(p, &t) < 0)
		return -EINVAL;
	/* errlog_time_parse() is linear in the seconds within a minute */
	m->minute = t - (time_t)s;
	memcpy(m->text, p, 17);
	m->set = true;
	*ret = t;
	return 0;
}

/* ngx_lua's log handler puts ", context: PHASE" (ngx.timer,
 * ssl_certificate_by_lua*, ...) between the message and nginx's own
 * context: the message ends before it. PHASE holds no space and no comma,
 * so the last space of the message is the one after "context:": one short
 * backward search from the message's end (e is the line's end, readable).
 * A memrchr() loop over the message's commas was 3.3 M of 110 M
 * instructions on 20 MB of real lines (callgrind, bench_errlog run). */
static const char *strip_lua_context(const char *p, const char *me, const char *e)
{
	const char *sp = textscan_rchr(p, me, ' ', e);
	if (!sp || sp - p < 10 || me - sp < 2 || !same(sp - 10, ", context:", 10) ||
	    textscan_chr(sp + 1, me, ',', p))
		return me;
	return sp - 10;
}

/* ---- pre-filter ---------------------------------------------------------- */

/* nginx cuts an entry at NGX_MAX_ERROR_STR (2048) bytes, newline included:
 * an entry that long is complete whatever it holds, and one cut before its
 * action may have lost the word "upstream". */
#define NGX_MAX_ERROR_STR 2048

/* Is there, at q, a word that makes a line upstream-related? */
static bool word_at(const char *p, const char *e, const char *q)
{
	size_t n = (size_t)(e - q);
	switch (*q) {
	case 'p': /* the "ps" of upstream */
		return q > p && n >= 7 && same(q - 1, "upstream", 8);
	case 'l': /* the "lv" of resolv */
		return q - p >= 4 && n >= 2 && same(q - 4, "resolv", 6);
	default: /* "(2": ENFILE 23, EMFILE 24 */
		return n >= 5 && (q[2] == '3' || q[2] == '4') && q[3] == ':' && q[4] == ' ';
	}
}

/* Can the message at [p, e) be anything but EV_OTHER? Most lines of a real
 * log are about clients (open() failed, client closed connection, access
 * forbidden): those never name an upstream. What has a kind without the word
 * "upstream": resolver failures ("resolv"), worker_connections (a number
 * first), EMFILE/ENFILE ("(24: ", "(23: "), and a FastCGI stderr entry cut
 * before its context ('F'). One pass over the line looks for the rare byte
 * pairs "ps", "lv" and "(2" at once, 16 positions a step. Figures (200 MB,
 * best CPU of 3): client noise from the issue corpus 0.184 s against 0.233 s
 * for errlog_parse (wc -l 0.038 s); the sample mix, where nearly every line
 * is an upstream failure, 0.223 s against 0.216 s (within noise). Three
 * memmem() calls instead made noise slower than the full parse. */
#ifdef __SSE2__
/* Bit i set when q[i], q[i + 1] is one of the pairs; reads q[0..16]. */
static inline unsigned pairs16(const char *q)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
	__m128i y = _mm_loadu_si128((const __m128i *)(const void *)(q + 1));
	__m128i hit =
	    _mm_or_si128(_mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('p')),
						    _mm_cmpeq_epi8(y, _mm_set1_epi8('s'))),
				      _mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('l')),
						    _mm_cmpeq_epi8(y, _mm_set1_epi8('v')))),
			 _mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('(')),
				       _mm_cmpeq_epi8(y, _mm_set1_epi8('2'))));
	return (unsigned)_mm_movemask_epi8(hit);
}
#endif

/* lo <= p: where the readable line starts */
static bool may_be_upstream(const char *lo, const char *p, const char *e)
{
	if (p == e || is_digit(*p) || *p == 'F')
		return true;
	const char *q = p;
#ifdef __SSE2__
	/* the first 16 positions alone (many upstream messages start with the
	 * word), then 32 a round: a noise line is scanned whole, and 32 a round
	 * took 87.6 -> 85.6 M instructions on 20 MB of noise (callgrind,
	 * bench_errlog run; real lines 105.8 M both) */
	if (e - q >= 17) {
		for (unsigned m = pairs16(q); m; m &= m - 1)
			if (word_at(p, e, q + __builtin_ctz(m)))
				return true;
		q += 16;
	}
	for (; e - q >= 33; q += 32)
		for (unsigned m = pairs16(q) | pairs16(q + 16) << 16; m; m &= m - 1)
			if (word_at(p, e, q + __builtin_ctz(m)))
				return true;
	for (; e - q >= 17; q += 16)
		for (unsigned m = pairs16(q); m; m &= m - 1)
			if (word_at(p, e, q + __builtin_ctz(m)))
				return true;
	if (e - q >= 2 && e - lo >= 17) {
		/* the last 16 positions, up to e - 2, of which those from q on
		 * are left: one overlapping load, not the byte loop, which was
		 * 11.8 M of 91.4 M instructions on 20 MB of noise (callgrind,
		 * bench_errlog run) */
		const char *b = e - 17;
		for (unsigned m = pairs16(b) >> (q - b); m; m &= m - 1)
			if (word_at(p, e, q + __builtin_ctz(m)))
				return true;
		return false;
	}
#else
	(void)lo;
#endif
	for (; e - q >= 2; q++)
		if (((q[0] == 'p' && q[1] == 's') || (q[0] == 'l' && q[1] == 'v') ||
		     (q[0] == '(' && q[1] == '2')) &&
		    word_at(p, e, q))
			return true;
	return false;
}

/* The pre-filter's shortcut for what nearly every upstream line looks like:
 * the message starts with "upstream", or ends with it right before the
 * context (" while connecting to upstream, client: ..."), the line's first
 * ','. *from becomes that comma, where errlog_ctx_find() starts its search,
 * so the search is not done twice. Instead of the pair scan up to the word:
 * 105.7 -> 101.4 M instructions on 20 MB of real lines (callgrind, bench_errlog
 * run; noise 85.4 -> 84.4 M with the overlapping last load below). The
 * comma by the inline search, not a libc memchr() call: real lines
 * unchanged at 88.8 M, noise 81.3 -> 79.8 M. */
static bool surely_upstream(const char *p, const char *e, const char **from)
{
	if (e - p >= 8 && same(p, "upstream", 8))
		return true;
	const char *c = textscan_chr(p, e, ',', p);
	if (!c)
		return false;
	*from = c;
	return c - p >= 8 && same(c - 8, "upstream", 8);
}

/* ---- the message --------------------------------------------------------- */

/* What [p, me) says, me being where the context starts: action and phase,
 * errno, SSL reason, message, detail, name and kind (before the pre-filter
 * and the errno have their say: see parse()). Reads nothing outside
 * [p, me) but for bounds (e: where the line ends) and ev->upstream.p.
 * Returns whether it is a FastCGI stderr message. */
static inline bool analyse(const char *p, const char *me, const char *e, struct errlog_event *ev)
{
	me = strip_lua_context(p, me, e);

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
			if (!scan(act, me, '"') && (!stderr_msg || (w - p >= 2 && w[-2] == '"'))) {
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
	}
	return stderr_msg;
}

/* analyse(), through the message memo of errlog_memo.h; pre: msg_pre()'s
 * slot for the line, or NULL */
static bool analyse_cached(const char *p, const char *me, const char *e, struct errlog_event *ev,
			   struct msg_slot *pre)
{
	size_t n = (size_t)(me - p);
	bool has_up = ev->upstream.p != NULL;
	struct msg_slot *slot = pre;
	if (!slot || slot->len != n) {
		if (n < MSG_KEY || n > MSG_TEXT_MAX)
			return analyse(p, me, e, ev);
		bool fresh;
		slot = msg_find(p, n, &fresh);
		/* none of the pre-filter's words holds a ',': one in the text
		 * is one in any line whose message starts with it and a ',',
		 * and one there is after it (see parse()). The daemon on
		 * /tmp/rcg/real.log (callgrind --branch-sim --cache-sim),
		 * errlog_parse_upstream: Ir 63.12 -> 62.38 M, Bcm 315.3 ->
		 * 330.8 k (+15 k on one branch of the context's search,
		 * which the predictor simulated aliases), D1mr 121.6 ->
		 * 122.6 k (estimate 69.07 -> 68.58 M) */
		if (fresh)
			slot->surely = slot->surely || may_be_upstream(p, p, me);
	}
	struct msg_res *r = &slot->res[has_up];
	if (r->set)
		return msg_apply(r, p, ev);
	bool stderr_msg = analyse(p, me, e, ev);
	msg_keep(r, p, stderr_msg, ev);
	return stderr_msg;
}

/* ---- entry point --------------------------------------------------------- */

/* memset(ev, 0, offsetof(peer)): gcc emits "rep stos" for this size, whose
 * start-up cost shows in time, not in instructions (tests/bench/errlog.sh:
 * 0.198 s -> 0.183 s CPU for errlog_parse_upstream on 200 MB, same run;
 * callgrind 1894 -> 1867 instructions a line). The pragma keeps gcc from turning the loop back into
 * that memset. Inline, not a call (the daemon on /tmp/rcg/real.log:
 * errlog_parse_upstream 67.03 -> 66.83 M instructions, callgrind). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static inline __attribute__((always_inline)) void
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

/* What parse() is asked for. */
enum mode {
	FULL,	  /* errlog_parse() */
	UPSTREAM, /* errlog_parse_upstream(): the pre-filter first */
};

/* The header's values; p: where the message starts. */
struct header {
	time_t t;
	int level;
	uint64_t pid, tid, conn;
};

/* "YYYY/MM/DD HH:MM:SS [level] PID#TID: [*CONN ]": returns where the
 * message starts, or NULL when the line is not an entry. */
__attribute__((always_inline)) static inline const char *parse_header(const char *line, size_t len,
								      struct header *h)
{
	const char *e = line + len, *p;
	h->conn = 0;
	if (len < 29 || len > UINT32_MAX || line[19] != ' ' || line[20] != '[' ||
	    parse_stamp(line, &h->t) < 0)
		return NULL;
	struct level_pid *lp = NULL;
	if (len >= 19 + 32) {
		lp = level_pid_slot(line);
		if (level_pid_same(lp, line)) {
			h->level = lp->level;
			h->pid = lp->pid;
			h->tid = lp->tid;
			p = line + 19 + lp->len;
			goto conn;
		}
	}
	const char *lb = line + 21;
	/* len >= 29: lb[4..6] are inside the line */
	const char *le = lb[4] == ']'	? lb + 4
			 : lb[5] == ']' ? lb + 5
			 : lb[6] == ']' ? lb + 6
					: NULL;
	h->level = le ? parse_level(lb, (size_t)(le - lb)) : -1;
	if (h->level < 0 || e - le < 4 || le[1] != ' ')
		return NULL;
	p = scan_uint(le + 2, e, 10, &h->pid);
	if (!p || h->pid > UINT32_MAX || p == e || *p != '#')
		return NULL;
	if (same_number(le + 2, p, e)) {
		h->tid = h->pid;
		p += 1 + (p - le - 2);
	} else {
		p = scan_uint(p + 1, e, 10, &h->tid);
	}
	if (!p || h->tid > UINT32_MAX || p == e || *p != ':')
		return NULL;
	p++;
	if (lp)
		level_pid_keep(lp, line, (size_t)(p - line - 19), h->level, h->pid, h->tid);
conn:
	if (p < e && *p == ' ')
		p++;
	if (p < e && *p == '*') {
		const char *q = scan_uint(p + 1, e, 19, &h->conn);
		if (q && (q == e || *q == ' '))
			p = q < e ? q + 1 : q;
		else
			h->conn = 0;
	}
	return p;
}

static int parse(const char *line, size_t len, struct errlog_event *ret, enum mode mode)
{
	const char *e = line + len;
	struct header h;

	/* Header: everything that can reject the line is checked before *ret is
	 * touched. */
	const char *p = parse_header(line, len, &h);
	if (!p)
		return -EINVAL;

	struct errlog_event *ev = ret;
	/* everything but the peer, which is written only when there is one */
	zero_event(ev);
	ev->peer.key[0] = '\0';
	ev->time = h.t;
	ev->level = (uint8_t)h.level;
	ev->pid = (uint32_t)h.pid;
	ev->tid = (uint32_t)h.tid;
	ev->conn = h.conn;

	/* -1: not looked yet; the scan is done at most once per line */
	int maybe = -1;
	/* no context anchor starts in [p, from): where the context search starts */
	const char *from = p;
	/* a known message, whose end is then known: no search crosses it */
	struct msg_slot *pre = e - p > MSG_KEY ? msg_pre(p, e) : NULL;
	if (pre)
		from = p + pre->len;
	if (mode == UPSTREAM && len < NGX_MAX_ERROR_STR - 8) {
		if (pre)
			maybe = pre->surely || may_be_upstream(line, p + pre->len, e);
		else
			maybe = surely_upstream(p, e, &from) || may_be_upstream(line, p, e);
		if (!maybe) {
			ev->message = span(p, e);
			ev->kind = EV_OTHER;
			return 0;
		}
	}

	/* The context first: the message may contain anything. */
	const char *me = errlog_ctx_find(p, from, e, ev);
	bool stderr_msg = analyse_cached(p, me, e, ev, pre);
	if (!stderr_msg) {
		/* What the pre-filter of errlog_parse_upstream() calls other is
		 * other here too, so both entry points agree: nginx's own upstream
		 * lines always carry one of its words, and one without them is
		 * someone else's (a Lua cosocket's connect(), say). */
		if (ev->kind != EV_OTHER && len < NGX_MAX_ERROR_STR - 8 && !names_upstream(ev) &&
		    !(maybe >= 0 ? maybe : may_be_upstream(line, p, e)))
			ev->kind = EV_OTHER;
		/* EMFILE/ENFILE: keyed on the number, whatever failed (C8, accept4, open). */
		if (ev->err == EMFILE || ev->err == ENFILE)
			ev->kind = EV_TOO_MANY_FILES;
	}

	struct errlog_span peer = {NULL, 0};
	if (ev->upstream.p) {
		peer = errlog_ctx_upstream_peer(ev);
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
		if (peer_parse(peer.p, peer.len, defport, &ev->peer) == 0)
			ev->has_peer = 1;
		else
			ev->peer.key[0] = '\0';
	}
	return 0;
}

int errlog_parse(const char *line, size_t len, struct errlog_event *ret)
{
	return parse(line, len, ret, FULL);
}

int errlog_parse_upstream(const char *line, size_t len, struct errlog_event *ret)
{
	return parse(line, len, ret, UPSTREAM);
}

bool errlog_entry_start(const char *line, size_t len)
{
	time_t t;
	return len >= 21 && line[19] == ' ' && line[20] == '[' && errlog_time_parse(line, &t) == 0;
}

bool errlog_event_open(const struct errlog_event *ev, size_t len)
{
	return ev->kind == EV_FASTCGI_STDERR && !ev->client.p && len < NGX_MAX_ERROR_STR - 1;
}

bool errlog_entry_stays_open(size_t entry_len, const char *line, size_t len)
{
	return entry_len < NGX_MAX_ERROR_STR - 1 && !memmem(line, len, "client: ", 8);
}
