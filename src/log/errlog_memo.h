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
 * action, the errno and the SSL reason and the kind's prefixes. Two ways a
 * set; a miss only costs the analysis. The daemon on /tmp/rcg/real.log
 * (20 MB, 66 messages; callgrind): errlog_parse_upstream 79.9 -> 76.8 M
 * instructions with 256 sets (64 direct-mapped slots missed on a line in
 * three: 80.6 M), 73.0 -> 71.4 M with the index from a product and the
 * compare 16 bytes a load; texts up to 160 bytes (most messages are
 * 60..160) rather than 192: 70.6 -> 70.5 M. 96 KB a parsing thread, made
 * on first use; 256 slots were 1.6 M instructions more. */
#define MSG_SLOTS    512
#define MSG_TEXT_MAX 160

struct msg_span {
	uint16_t at; /* 1 + the offset from the message's start; 0: NULL */
	uint16_t len;
};

struct msg_slot {
	uint16_t len; /* 0: empty */
	bool has_up, stderr_msg;
	bool old; /* the way of its set to replace next */
	uint8_t phase, kind;
	int err;
	struct msg_span action, errtext, detail, message, name;
	char text[MSG_TEXT_MAX];
};

/* MSG_SLOTS, made by the first message kept (as peer_cache) */
static _Thread_local struct msg_slot *msg_cache;

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

/* The slot holding the message [p, p + n) (16 <= n <= MSG_TEXT_MAX) of a
 * line with (has_up) or without an upstream field, or NULL and in
 * *victim the slot msg_keep() is to fill. */
static inline const struct msg_slot *msg_find(const char *p, size_t n, bool has_up,
					      struct msg_slot **victim)
{
	uint64_t a, b;
	memcpy(&a, p, 8);
	memcpy(&b, p + n - 8, 8);
	/* the top bits of a product: every input bit reaches them */
	uint64_t h = ((a ^ (b * 0x9e3779b97f4a7c15ull) ^ n ^ ((uint64_t)has_up << 32)) *
		      0xff51afd7ed558ccdull) >>
		     56;
	if (!msg_cache)
		msg_cache = xcalloc(MSG_SLOTS, sizeof(*msg_cache));
	/* two ways a set, the older one replaced */
	struct msg_slot *set = &msg_cache[h * 2];
	for (int w = 0; w < 2; w++) {
		struct msg_slot *s = &set[w];
		if (s->len == n && s->has_up == has_up && same16(s->text, p, n)) {
			set[0].old = w == 0;
			set[1].old = w == 1;
			return s;
		}
	}
	struct msg_slot *slot = set[1].old ? &set[1] : &set[0];
	set[0].old = slot != &set[0];
	set[1].old = slot != &set[1];
	*victim = slot;
	return NULL;
}

/* Write what s holds into ev (cleared by zero_event()) for the message at
 * p; returns whether it is a FastCGI stderr message. */
static inline bool msg_apply(const struct msg_slot *s, const char *p, struct errlog_event *ev)
{
	ev->phase = s->phase;
	ev->kind = s->kind;
	ev->err = s->err;
	ev->action = msg_at(s->action, (uintptr_t)p);
	ev->errtext = msg_at(s->errtext, (uintptr_t)p);
	ev->detail = msg_at(s->detail, (uintptr_t)p);
	/* the message starts at p; few messages have a name (and zero_event()
	 * cleared it) */
	ev->message = (struct errlog_span){p, s->message.len};
	if (s->name.at)
		ev->name = msg_at(s->name, (uintptr_t)p);
	return s->stderr_msg;
}

/* Keep in slot what analyse() made of the message [p, p + n). */
static inline void msg_keep(struct msg_slot *slot, const char *p, size_t n, bool has_up,
			    bool stderr_msg, const struct errlog_event *ev)
{
	slot->len = (uint16_t)n;
	slot->has_up = has_up;
	slot->stderr_msg = stderr_msg;
	slot->phase = (uint8_t)ev->phase;
	slot->kind = (uint8_t)ev->kind;
	slot->err = ev->err;
	slot->action = msg_off(ev->action, p);
	slot->errtext = msg_off(ev->errtext, p);
	slot->detail = msg_off(ev->detail, p);
	slot->message = msg_off(ev->message, p);
	slot->name = msg_off(ev->name, p);
	memcpy(slot->text, p, n);
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
	if (!lp->len)
		return false;
#ifdef __SSE2__
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(line + 19));
	__m128i y = _mm_loadu_si128((const __m128i *)(const void *)(line + 35));
	unsigned m =
	    (unsigned)_mm_movemask_epi8(
		_mm_cmpeq_epi8(x, _mm_loadu_si128((const __m128i *)(const void *)lp->text))) |
	    (unsigned)_mm_movemask_epi8(
		_mm_cmpeq_epi8(y, _mm_loadu_si128((const __m128i *)(const void *)(lp->text + 16))))
		<< 16;
	uint32_t want = lp->len == 32 ? ~0u : (1u << lp->len) - 1;
	return (~m & want) == 0;
#else
	return memcmp(lp->text, line + 19, lp->len) == 0;
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
	lp->level = (int8_t)level;
	lp->pid = (uint32_t)pid;
	lp->tid = (uint32_t)tid;
	memcpy(lp->text, line + 19, 32);
}
