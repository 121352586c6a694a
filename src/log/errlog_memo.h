/* errlog_memo: what errlog.c's parse() keeps from line to line, by the
 * text it came from, for errlog.c only. A log repeats itself: nginx's
 * messages word for word (the same failure of the same peer), and the
 * header's " [level] PID#TID:" of its few workers. The same bytes parse the
 * same, so a hit is exact; a miss or a collision only costs the parse.
 * The peers' cache (peer_parse()) stays in errlog.c.
 *
 * Static functions in a private header, as errlog_ctx.h, so that they are
 * inlined into parse(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/util.h"
#include "log/errlog.h"

/* ---- messages ------------------------------------------------------------ */

/* A log repeats its messages: the same failure of the same peer, word for
 * word, on line after line, where only the header and the client context
 * change. analyse()'s results are kept by the message's text (and whether
 * the line has an upstream field, its one other input), as offsets from
 * its start; a hit costs the compare of the text, not the searches for the
 * action, the errno and the SSL reason and the kind's prefixes. The daemon
 * on /tmp/rcg/real.log (20 MB, 66 messages; callgrind): errlog_parse_upstream
 * 79.9 -> 76.8 M instructions with 256 two-way sets, 73.0 -> 71.4 M with the
 * compare 16 bytes a load; texts up to 160 bytes (most messages are 60..160).
 *
 * A slot is found by the text's first MSG_KEY bytes, not by its length, so
 * that a line can be asked before its context is found (msg_pre()): the
 * text is then where the message ends, and neither the pre-filter's search
 * for the first comma nor the context's search for ", client: " cross it.
 * Texts sharing their first bytes ("upstream timed out (110: Connection
 * timed out) while ..." with six actions) share a set: eight ways, each
 * told apart by its length and last bytes before the whole compare.
 *
 * Those tags, the ways' lengths and ends, are one cache line a set: the
 * way loop reads them, and only the way they pick has its slot read, for
 * the whole compare. Before, the loop read each way's 240-byte slot until
 * one matched; the daemon on /tmp/rcg/real.log (callgrind --branch-sim
 * --cache-sim, 67,496 lines) had 50.1 k D1 read misses in this header,
 * with the tags 24.2 k, and 137.0 -> 128.9 k mispredictions. Tried and
 * dropped: all eight ways without a branch, into a mask (-69 k
 * mispredictions for +2.8 M instructions: 8 ways cost more than the
 * mispredicted exit of the loop); 256 sets (-12 k mispredictions, as
 * fewer texts share a set, for 4 times the memory). 135 KB a parsing
 * thread, made on first use. */
#define MSG_SETS     64
#define MSG_WAYS     8
#define MSG_KEY	     32
#define MSG_TEXT_MAX 160

struct msg_span {
	uint16_t at; /* 1 + the offset from the message's start; 0: NULL */
	uint16_t len;
};

/* analyse()'s results for a line with (has_up) or without an upstream field */
struct msg_res {
	bool set;
	bool stderr_msg;
	uint8_t phase, kind;
	int err;
	struct msg_span action, errtext, detail, message, name;
};

/* A set's tags, one cache line. A way's end is the text's last 3 bytes
 * and a ',' (what msg_pre() asks of the line: the byte after the text),
 * little-endian as load4() reads them. */
struct msg_tags {
	uint8_t len[MSG_WAYS]; /* 0: empty */
	/* len when msg_pre() may answer with the way: the text holds no
	 * ", client: " or ", udp client: " (see there); 0 otherwise */
	uint8_t prelen[MSG_WAYS];
	uint32_t end[MSG_WAYS];
	uint8_t next; /* the way to fill next */
};

/* The results first, then the text: its first 8 bytes share the line of
 * the results */
struct msg_slot {
	struct msg_res res[2];
	uint8_t len;
	/* the pre-filter's answer is yes for a line whose message starts with
	 * the text and a ',': surely_upstream() says so, or (set by errlog.c
	 * when the slot is filled) may_be_upstream() finds it in the text */
	bool surely;
	char text[MSG_TEXT_MAX];
};

struct msg_set {
	_Alignas(64) struct msg_tags tags;
	_Alignas(64) struct msg_slot way[MSG_WAYS];
};

/* MSG_SETS, made by the first message looked up (as peer_cache) */
static _Thread_local struct msg_set *msg_cache;

static struct msg_span msg_off(struct errlog_span s, const char *p)
{
	return s.p ? (struct msg_span){(uint16_t)(s.p - p + 1), (uint16_t)s.len}
		   : (struct msg_span){0, 0};
}

/* Without a branch: which spans a message has varies from line to line,
 * and the branch on it was mispredicted 1.2 times a line (cachegrind
 * --branch-sim, bench_errlog run on /tmp/rcg/real.log: 695 k -> 617 k
 * mispredictions, for 0.3 M instructions more in the daemon). */
static struct errlog_span msg_at(struct msg_span s, uintptr_t p)
{
	uintptr_t present = -(uintptr_t)(s.at != 0);
	return (struct errlog_span){(const char *)((p + s.at - 1) & present), s.len};
}

/* a == b for n >= 16 bytes, 32 a round, the last round overlapping (16 a
 * round was 0.4 M instructions more in the daemon on /tmp/rcg/real.log) */
static inline bool same16(const char *a, const char *b, size_t n)
{
#ifdef __SSE2__
#define EQ16(x, y)                                                                                 \
	_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(x)),                        \
		       _mm_loadu_si128((const __m128i *)(const void *)(y)))
	if (n < 32)
		return _mm_movemask_epi8(_mm_and_si128(EQ16(a, b), EQ16(a + n - 16, b + n - 16))) ==
		       0xffff;
	const char *ae = a + n - 32, *be = b + n - 32;
	for (; a < ae; a += 32, b += 32)
		if (_mm_movemask_epi8(_mm_and_si128(EQ16(a, b), EQ16(a + 16, b + 16))) != 0xffff)
			return false;
	return _mm_movemask_epi8(_mm_and_si128(EQ16(ae, be), EQ16(ae + 16, be + 16))) == 0xffff;
#undef EQ16
#else
	return memcmp(a, b, n) == 0;
#endif
}

static inline uint64_t load8(const char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t load4(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* The set of a text by its first MSG_KEY bytes (p holds that many). */
static inline struct msg_set *msg_set_of(const char *p)
{
	uint64_t h =
	    (load8(p) ^ (load8(p + 8) * 0x9e3779b97f4a7c15ull) ^
	     (load8(p + 16) * 0xc2b2ae3d27d4eb4full) ^ (load8(p + 24) * 0x165667b19e3779f9ull)) *
	    0xff51afd7ed558ccdull;
	if (!msg_cache)
		msg_cache = xcalloc_lines(MSG_SETS * sizeof(*msg_cache));
	return &msg_cache[h >> 58];
}

/* Which way of its set answers a line varies from line to line (the six
 * "upstream timed out ... while <action>" share one), and the way loop's
 * exit was mispredicted ~1.3 times a line. So msg_pre() first tries the
 * way it answered last for a line with the same hash of its bytes 8..15
 * and 48..63 (where those texts differ; a line shorter than 64 bytes reads
 * msg_none there): a hint, checked as any way, that skips the set's hash
 * and loop when it holds. Kept as (the set's offset / 64) * MSG_WAYS + way.
 * The daemon on /tmp/rcg/real.log (callgrind --branch-sim --cache-sim,
 * 67,496 lines), errlog_parse_upstream: Ir 62.87 -> 63.12 M, Bcm 377.8 ->
 * 320.0 k, D1mr 119.2 -> 121.2 k, D1mw 3.6 -> 3.7 k (estimate 69.7 ->
 * 69.1 M). Tried and dropped: the way that answered last per set, tried
 * first (Bcm -15 k); the hint kept in the set's tags (the set's hash
 * then paid on every line: Ir +0.6 M). */
/* 512 hints, 1 KB: 256 missed more (errlog_parse_upstream Ir 62.38 -> 62.22 M,
 * Bcm 331.1 -> 321.2 k, D1mr 121.7 -> 128.4 k with 512: estimate 68.57 ->
 * 68.33 M; 1024 gained no more for twice the cache lines) */
#define MSG_HINT_BITS 9
_Static_assert(MSG_SETS * sizeof(struct msg_set) / 64 * MSG_WAYS <= UINT16_MAX,
	       "a hint is 16 bits");
static _Thread_local uint16_t msg_hint[1u << MSG_HINT_BITS];
/* what msg_pre() reads for a line shorter than 64 bytes */
static const char msg_none[64];
/* an empty set (no way answers), what the hints point into before the
 * cache is made */
static struct msg_set msg_none_set;

/* Does way w of set answer the line [p, p + avail)? (as msg_pre()) */
static inline bool msg_pre_way(const struct msg_set *set, unsigned w, const char *p, size_t avail)
{
	/* 1 <= n < avail: p[n - 3 .. n] are the line's */
	size_t n = set->tags.prelen[w];
	return n - 1 < avail - 1 && load4(p + n - 3) == set->tags.end[w] &&
	       same16(set->way[w].text, p, n);
}

/* Does the message of the line [p, e) start with a kept text that holds
 * no context anchor, followed by a ','? Returns its slot (whose len is
 * where the context search may start), or NULL. e - p > MSG_KEY. Why the
 * search may start there: no ", client: " or ", udp client: " starts in the
 * text (msg_find() checked), nor can one start in it and run past its end,
 * as the ',' that follows is at an anchor's second to fourteenth byte,
 * where neither has one. The ways are told apart by the set's tags alone,
 * in one cache line; only the way they pick has its slot read. */
static inline struct msg_slot *msg_pre(const char *p, const char *e)
{
	size_t avail = (size_t)(e - p);
	const char *q = avail >= 64 ? p : msg_none;
	uint16_t *hint =
	    &msg_hint[((load8(p + 8) ^ load8(q + 48) ^ (load8(q + 56) * 0x9e3779b97f4a7c15ull)) *
		       0xc2b2ae3d27d4eb4full) >>
		      (64 - MSG_HINT_BITS)];
	unsigned x = *hint;
	struct msg_set *hs =
	    (struct msg_set *)(void *)((char *)(msg_cache ? msg_cache : &msg_none_set) +
				       (size_t)(x / MSG_WAYS) * 64);
	if (msg_pre_way(hs, x % MSG_WAYS, p, avail))
		return &hs->way[x % MSG_WAYS];
	struct msg_set *set = msg_set_of(p);
	for (unsigned w = 0; w < MSG_WAYS; w++)
		if (msg_pre_way(set, w, p, avail)) {
			*hint =
			    (uint16_t)((size_t)((char *)set - (char *)msg_cache) / 64 * MSG_WAYS +
				       w);
			return &set->way[w];
		}
	return NULL;
}

/* The slot holding the text [p, p + n) (MSG_KEY <= n <= MSG_TEXT_MAX), or
 * a fresh one for it, emptied (*ret_fresh). */
static inline struct msg_slot *msg_find(const char *p, size_t n, bool *ret_fresh)
{
	struct msg_set *set = msg_set_of(p);
	struct msg_tags *t = &set->tags;
	/* the text's end as msg_pre() reads it, whatever follows it here */
	uint32_t end = (load4(p + n - 4) >> 8) | (uint32_t)',' << 24;
	for (unsigned w = 0; w < MSG_WAYS; w++)
		if (t->len[w] == n && t->end[w] == end && same16(set->way[w].text, p, n)) {
			*ret_fresh = false;
			return &set->way[w];
		}
	unsigned w = t->next;
	struct msg_slot *s = &set->way[w];
	t->next = (uint8_t)((w + 1) % MSG_WAYS);
	s->len = (uint8_t)n;
	s->res[0].set = s->res[1].set = false;
	memcpy(s->text, p, n);
	bool pre = !memmem(p, n, ", client: ", 10) && !memmem(p, n, ", udp client: ", 14);
	const char *c = memchr(p, ',', n);
	size_t first = c ? (size_t)(c - p) : n;
	s->surely = memcmp(p, "upstream", 8) == 0 ||
		    (first >= 8 && memcmp(p + first - 8, "upstream", 8) == 0);
	t->len[w] = (uint8_t)n;
	t->prelen[w] = pre ? (uint8_t)n : 0;
	t->end[w] = end;
	*ret_fresh = true;
	return s;
}

/* Write what r holds into ev (cleared by zero_event()) for the message at
 * p; returns whether it is a FastCGI stderr message. */
static inline bool msg_apply(const struct msg_res *r, const char *p, struct errlog_event *ev)
{
	ev->phase = r->phase;
	ev->kind = r->kind;
	ev->err = r->err;
	ev->action = msg_at(r->action, (uintptr_t)p);
	ev->errtext = msg_at(r->errtext, (uintptr_t)p);
	ev->detail = msg_at(r->detail, (uintptr_t)p);
	/* the message starts at p; few messages have a name (and zero_event()
	 * cleared it) */
	ev->message = (struct errlog_span){p, r->message.len};
	if (r->name.at)
		ev->name = msg_at(r->name, (uintptr_t)p);
	return r->stderr_msg;
}

/* Keep in r what analyse() made of the message at p. */
static inline void msg_keep(struct msg_res *r, const char *p, bool stderr_msg,
			    const struct errlog_event *ev)
{
	r->set = true;
	r->stderr_msg = stderr_msg;
	r->phase = (uint8_t)ev->phase;
	r->kind = (uint8_t)ev->kind;
	r->err = ev->err;
	r->action = msg_off(ev->action, p);
	r->errtext = msg_off(ev->errtext, p);
	r->detail = msg_off(ev->detail, p);
	r->message = msg_off(ev->message, p);
	r->name = msg_off(ev->name, p);
}

/* ---- the header's level and numbers -------------------------------------- */

/* " [level] PID#TID:" as last seen from each worker: a log interleaves a
 * few workers, whose level and numbers repeat from line to line. A slot
 * holds the text (at most 32 bytes, from line + 19) and what it parsed to;
 * the same bytes parse the same. Direct-mapped by the level and the pid's
 * digits; a collision only costs a miss. The daemon on /tmp/rcg/real.log
 * (callgrind): errlog_parse_upstream 76.8 -> 73.0 M instructions with 32
 * slots (75.1 M with 8, which missed on a line in three). */
struct level_pid {
	uint8_t len; /* 0: empty */
	int8_t level;
	uint32_t pid, tid;
	/* bit i for text[i], i < len: the bits the compare asks for, kept
	 * rather than made from len at each line (the daemon on
	 * /tmp/rcg/real.log: errlog_parse_upstream 66.83 -> 66.29 M instructions,
	 * callgrind) */
	uint32_t want;
	char text[32];
};

#define LEVEL_PID_SLOTS 32

static _Thread_local struct level_pid level_pid_memo[LEVEL_PID_SLOTS];

/* line: at least 19 + 32 bytes */
static inline struct level_pid *level_pid_slot(const char *line)
{
	uint64_t a, b;
	memcpy(&a, line + 21, 8);
	memcpy(&b, line + 29, 8);
	return &level_pid_memo[((a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull) >> 59];
}

static inline bool level_pid_same(const struct level_pid *lp, const char *line)
{
#ifdef __SSE2__
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(line + 19));
	__m128i y = _mm_loadu_si128((const __m128i *)(const void *)(line + 35));
	unsigned m =
	    (unsigned)_mm_movemask_epi8(
		_mm_cmpeq_epi8(x, _mm_loadu_si128((const __m128i *)(const void *)lp->text))) |
	    (unsigned)_mm_movemask_epi8(
		_mm_cmpeq_epi8(y, _mm_loadu_si128((const __m128i *)(const void *)(lp->text + 16))))
		<< 16;
	return lp->want && (~m & lp->want) == 0;
#else
	return lp->len && memcmp(lp->text, line + 19, lp->len) == 0;
#endif
}

/* Keep the text of line[19, 19 + n) (the line holds 19 + 32 bytes) and what
 * it parsed to; a longer text is not kept. */
static inline void level_pid_keep(struct level_pid *lp, const char *line, size_t n, int level,
				  uint64_t pid, uint64_t tid)
{
	if (n > 32)
		return;
	lp->len = (uint8_t)n;
	lp->want = n == 32 ? ~0u : (1u << n) - 1;
	lp->level = (int8_t)level;
	lp->pid = (uint32_t)pid;
	lp->tid = (uint32_t)tid;
	memcpy(lp->text, line + 19, 32);
}
