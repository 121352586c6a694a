/* evidence: what diagnosis remembers per subject — a peer, an upstream block
 * or the host — between observations.
 *
 * A record holds counters by event kind and by cause, the episode's first and
 * last error, the last event's details and a ring of the last raw lines.
 * Everything here is cheap on the hot path: lines are copied as they are
 * (cleaned and cut on UTF-8 boundaries only when an alert is rendered),
 * nothing is formatted. Records of peers the configuration names live as
 * long as the model; the others (learned from log lines) are capped at
 * EVIDENCE_LEARNED_MAX and expire after EVIDENCE_QUIET_MS without a line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/peerkey.h"
#include "core/strmap.h"
#include "core/textscan.h"
#include "diagnose/alert.h"
#include "diagnose/cause.h"
#include "log/errlog.h"
#include "probe/probe_result.h"

#define EVIDENCE_LINES	     4
#define EVIDENCE_LINE_MAX    300
#define EVIDENCE_LEARNED_MAX 4096	      /* subjects the configuration does not name */
#define EVIDENCE_QUIET_MS    (15 * 60 * 1000) /* a learned subject this quiet expires */

/* What an alert is about: no "host:"/"upstream:" string prefixes. */
struct diag_subject {
	enum cause_subject kind;
	const char *name; /* peer key, block name, "" for the host */
};

#define EVIDENCE_BURST_MS 1000

/* What a line of one cause reads and writes, together: two causes a cache
 * line (three arrays by cause were three lines a line). */
struct evidence_cause {
	uint32_t n;		  /* lines of this cause this episode */
	int64_t last_ms;	  /* the last one's time (0: none this episode) */
	struct alert_ref touched; /* the alert they last counted in */
};
_Static_assert(sizeof(struct evidence_cause) == 32, "two causes a cache line");

/* Fields in the order diag_log_event touches them: the first two cache lines
 * hold what every line reads and writes, with the counts of the commonest
 * kinds (connect, timeout, recv, send, premature close); then the causes;
 * the rest is read when an alert is rendered, probed or expired. Before,
 * the hot fields lay in eight lines among the cold ones (callgrind, daemon
 * ingesting real.log: 3.5 D1 read and 5.0 write misses a line in
 * diag_log_event). Allocated on a cache line (evidence_add). */
struct evidence {
	/* line 0 */
	/* the ring of raw lines, allocated with the first line: a peer only
	 * probes found failing keeps less (massif, 10,000 failing probed
	 * peers: evidence_add 29 -> 17.4 MB) */
	struct evidence_line *lines;
	int64_t last_event_ms;		       /* any line, for expiry */
	int64_t first_error_ms, last_error_ms; /* this episode; 0 = none */
	int64_t last_logged_ms; /* nginx's last error ever (episodes reset the above) */
	/* error lines within EVIDENCE_BURST_MS of a burst's first: the most seen
	 * this episode (how many requests failed at once) */
	int64_t burst_start_ms;
	unsigned burst_n, burst_peak;
	int last_err;
	enum errlog_phase last_phase;
	/* line 1 */
	/* the last cause line's details: read only after evidence_fields(). On
	 * the hot path they stay where they lie in that line's ring slot
	 * (fields_at = 1 + the slot; 0: copied to last_detail, last_server and
	 * last_uri): diagnosis went from 568 to 535 instructions a storm line
	 * (callgrind on tests/bench/daemon.py's storm of 100 k lines; 551 with
	 * evidence_set_fields out of line) */
	struct evidence_span {
		uint16_t off, len;
	} pending[3]; /* detail, server, URI in slot fields_at - 1 */
	uint8_t fields_at;
	uint8_t nlines, next_line;
	bool addr_local; /* addr_ok and peerkey_is_local(&addr): asked on every timeout line */
	bool addr_unix;	 /* addr_ok and a unix socket: asked on every line */
	bool dirty;	 /* counted since its alerts were last rendered */
	uint64_t kinds[EV__COUNT]; /* lifetime event counts, for metrics */
	/* line 5 on */
	_Alignas(64) struct evidence_cause cause[CAUSE__COUNT];
	/* cold */
	int64_t cause_first_ms[CAUSE__COUNT];
	struct diag_subject subject; /* name points at key */
	char *key;
	bool addr_ok;
	bool configured;       /* the model names it: never expires */
	bool pool_was_full;    /* pool_full's last answer */
	int64_t pool_asked_ms; /* pool_full's last look at the listener (0: none) */
	unsigned queue_peak;   /* the listener's fullest accept queue seen this episode */
	/* the unit's journal said nothing yet, so soon after the first error that
	 * the backend may still be writing why (set by report.c): look again at
	 * the next tick */
	bool unit_recheck;
	/* what the unit's journal said at its last read (report.c: read when the
	 * alert opens, at the ticks of the first seconds, then at most once a
	 * minute); NULL until the first read and again from each episode */
	struct evidence_unit *unit;
	/* dns_stale. On a learned IP peer: the host-name peer whose old answer
	 * it is (NULL: none), as judged at stale_ms. On that host-name peer: the
	 * old address nginx connects to. Heap strings, NULL mostly. */
	char *stale_of;
	int64_t stale_ms;
	enum probe_result_kind probe; /* the last verdict probe diagnosis saw */
	int64_t probe_ms;	      /* 0 = none */
	char last_detail[160];
	char last_server[128];
	char last_uri[256];
	struct peerkey addr; /* peers: parsed key */
};
_Static_assert(offsetof(struct evidence, pending) == 64 && offsetof(struct evidence, kinds) <= 88,
	       "diag_log_event's fields and the commonest kinds' counts in two cache lines");

/* A ring slot: on its own cache lines, its length where its text starts (a
 * line of n bytes writes ceil((n + 3) / 64) lines of it; the text on 16
 * bytes measured no better). */
struct evidence_line {
	_Alignas(64) uint16_t len;
	bool cut;
	char text[EVIDENCE_LINE_MAX];
};
_Static_assert(sizeof(struct evidence_line) == 320, "five cache lines a slot");

/* The subjects last looked up by evidence_lookup, by the name's length and
 * textscan_words() (its first and last 8 bytes, as the log parser's peer
 * cache): a log names few peers, interleaved. Two ways a set: direct-mapped, 64 slots, two of a
 * real log's 28 peers shared a slot and missed on 11 k of its 60 k lines (callgrind, daemon
 * ingesting 67 k real lines). A slot is cleared when its record is freed; a collision only costs a
 * miss. */
#define EVIDENCE_MEMO_BITS 7 /* 128 sets */
#define EVIDENCE_MEMO_WAYS 2
struct evidence_memo {
	uint64_t a, b;	    /* textscan_words() of the name */
	uint64_t lk;	    /* EVIDENCE_MEMO_LK(len, kind); 0: empty */
	struct evidence *e; /* NULL: empty */
};
/* length and kind in one word, never 0 (one compare for both) */
#define EVIDENCE_MEMO_LK(len, kind) ((uint64_t)(len) | (uint64_t)(kind) << 32 | 1ULL << 40)

struct evidence_table {
	struct strmap subjects[3]; /* by enum cause_subject: name -> struct evidence */
	struct evidence_memo memo[1 << EVIDENCE_MEMO_BITS][EVIDENCE_MEMO_WAYS];
	size_t nlearned;      /* records the model does not name */
	uint64_t untracked;   /* events for subjects beyond the cap */
	const char **learned; /* learned peer keys, in the order first seen */
	size_t nlearned_peers, learned_cap;
};

void evidence_table_init(struct evidence_table *t);
void evidence_table_done(struct evidence_table *t);

struct evidence *evidence_get(const struct evidence_table *t, enum cause_subject kind,
			      const char *name);
/* evidence_get of name's len bytes (name[len] == '\0') for the hot path,
 * through the memo: what evidence_get returns, without its hash, probe and
 * strcmp when name was looked up lately. (Inline: once a line.) */
static inline struct evidence *evidence_lookup(struct evidence_table *t, enum cause_subject kind,
					       const char *name, size_t len);
/* (evidence_lookup past the memo: evidence_get, kept in the memo) */
struct evidence *evidence_lookup_slow(struct evidence_table *t, enum cause_subject kind,
				      const char *name, size_t len);
/* Get or create; NULL (and untracked counted) when a learned subject would
 * pass the cap. *ret_new tells whether it was created. */
struct evidence *evidence_add(struct evidence_table *t, enum cause_subject kind, const char *name,
			      bool configured, bool *ret_new);
/* Forget a learned record (expiry). */
void evidence_remove(struct evidence_table *t, struct evidence *e);

/* Keep a raw line (copied as is; cleaned when rendered); returns how many
 * of its bytes the ring kept. Inline: once a line on the hot path. */
static inline size_t evidence_remember(struct evidence *e, const char *line, size_t len);
/* (evidence_remember's first line, or one whose slot holds the fields) */
size_t evidence_remember_slow(struct evidence *e, const char *line, size_t len);
/* The last cause line's detail, server and URI (ev's spans into line, the
 * one just remembered, of which the ring kept `kept` bytes): kept by
 * reference to the ring, copied by evidence_fields(). Spans outside what
 * the ring kept are copied now. */
static inline void evidence_set_fields(struct evidence *e, const char *line, size_t kept,
				       const struct errlog_event *ev);
/* (evidence_set_fields' copy now) */
void evidence_copy_fields(struct evidence *e, const struct errlog_event *ev);
/* last_detail, last_server and last_uri made readable. */
void evidence_fields(struct evidence *e);
/* The i-th kept line, oldest first, cleaned of control bytes and cut on a
 * UTF-8 boundary into buf (at least EVIDENCE_LINE_MAX + 4 bytes). */
const char *evidence_line(const struct evidence *e, unsigned i, char *buf, size_t len);

/* The episode is over: counters by cause and error times start again. */
void evidence_reset_episode(struct evidence *e);

/* The memo's key of a name: textscan_words() (the host's "" and short
 * block names too: 2,437 of the real log's lines are the host's, a
 * strmap_get each without the memo), and the set they pick. */
static inline struct evidence_memo *evidence_memo_set(struct evidence_table *t, const char *name,
						      size_t len, uint64_t *ret_a, uint64_t *ret_b)
{
	textscan_words(name, len, ret_a, ret_b);
	/* (length and kind are compared, not hashed: 2 instructions a line) */
	uint64_t h = (*ret_a ^ (*ret_b * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
	return t->memo[h >> (64 - EVIDENCE_MEMO_BITS)];
}

/* Whether slot m holds name: its first and last 8 bytes and length agree,
 * and the bytes between (past 16) do, a word at a time, without a call. */
static inline bool evidence_memo_holds(const struct evidence_memo *m, enum cause_subject kind,
				       const char *name, size_t len, uint64_t a, uint64_t b)
{
	if (m->lk != EVIDENCE_MEMO_LK(len, kind) || m->a != a || m->b != b)
		return false;
	if (len <= 16)
		return true;
	for (size_t off = 8; off + 8 < len; off += 8) {
		uint64_t x, y;
		memcpy(&x, m->e->key + off, 8);
		memcpy(&y, name + off, 8);
		if (x != y)
			return false;
	}
	return true;
}

/* Inlined: the call, its registers and its strlen-free key were 54
 * instructions a line out of line (callgrind, daemon real-line run). */
static inline struct evidence *evidence_lookup(struct evidence_table *t, enum cause_subject kind,
					       const char *name, size_t len)
{
	uint64_t a, b;
	struct evidence_memo *set = evidence_memo_set(t, name, len, &a, &b);
	for (int w = 0; w < EVIDENCE_MEMO_WAYS; w++)
		if (evidence_memo_holds(&set[w], kind, name, len, a, b))
			return set[w].e;
	return evidence_lookup_slow(t, kind, name, len);
}

/* k * 16 bytes, 16 at a time (SSE2: a load and a store each; loaded into
 * an array first, gcc kept it on the stack). */
static inline void evidence_copy16s(char *dst, const char *src, int k)
{
#ifdef __SSE2__
	for (int i = 0; i < k; i++)
		_mm_storeu_si128((__m128i *)(void *)(dst + 16 * i),
				 _mm_loadu_si128((const __m128i *)(const void *)(src + 16 * i)));
#else
	memcpy(dst, src, (size_t)k * 16);
#endif
}

/* n <= EVIDENCE_LINE_MAX bytes of a line into a ring slot. From 128 bytes
 * (92 % of the real lines) three fixed blocks that overlap as n needs,
 * [0, 128), [min(n - 128, 128), +128) and [n - 64, n): no branch on n.
 * libc's memcpy branched on the size class, 1.1 mispredicts a copy
 * (callgrind, daemon ingesting real.log); a last block of 128 bytes was 8
 * instructions a line more. The storm's lines, all of one length, never
 * mispredicted in libc's memcpy: there the blocks cost instructions
 * (tests/bench/storm_callgrind.py, diagnosis: 261 instructions a line with
 * memcpy, 283 with the blocks) and save cache misses (bench_diagnose's 100 k
 * storm lines under callgrind, diag_log_event: D1mr 722 -> 349 k, D1mw
 * 919 -> 586 k, with the layout of struct evidence). */
static inline void evidence_copy_text(char *dst, const char *src, size_t n)
{
	_Static_assert(EVIDENCE_LINE_MAX <= 128 + 128 + 64, "three blocks cover a kept line");
	if (n < 128) {
		/* libc's memcpy (vector moves), not the `rep movsq` gcc inlines
		 * once it knows n is small: the barrier hides that */
		__asm__("" : "+r"(n));
		memcpy(dst, src, n);
		return;
	}
	size_t mid = n - 128 < 128 ? n - 128 : 128;
	evidence_copy16s(dst, src, 8);
	evidence_copy16s(dst + mid, src + mid, 8);
	evidence_copy16s(dst + n - 64, src + n - 64, 4);
}

static inline size_t evidence_remember(struct evidence *e, const char *line, size_t len)
{
	unsigned i = e->next_line;
	/* cut where utf8_cut() cuts when the byte past the cut starts a
	 * character; the rare other lines, a first line and one whose slot
	 * holds the fields go out of line. (The byte past the cut is read
	 * through a select, not a branch on len: 55 % of the real lines are
	 * longer, a mispredict in three.) */
	static const unsigned char none = 0;
	size_t n = len <= EVIDENCE_LINE_MAX ? len : EVIDENCE_LINE_MAX;
	const unsigned char *past = len > n ? (const unsigned char *)line + n : &none;
	if (!e->lines || e->fields_at == i + 1 || (*past & 0xc0) == 0x80)
		return evidence_remember_slow(e, line, len);
	struct evidence_line *l = &e->lines[i];
	evidence_copy_text(l->text, line, n);
	l->len = (uint16_t)n;
	l->cut = len > n;
	e->next_line = (uint8_t)((i + 1) % EVIDENCE_LINES);
	if (e->nlines < EVIDENCE_LINES)
		e->nlines++;
	return n;
}

/* Where span s lies in line (a NULL one: empty at 0), and whether it ends
 * within the kept bytes [line, limit). s lies in line: diag_log_event's
 * contract (line is the text ev was parsed from), so one test a span; one
 * that does not is never read outside the ring (evidence_fields checks
 * again). Two tests a span were 43 of diag_log_event's 356 instructions a
 * real line (callgrind, daemon real-line run). */
static inline bool evidence_span_in(const char *line, const char *limit, struct errlog_span s,
				    struct evidence_span *ret)
{
	/* an absent span ({NULL, 0}, errlog.h) is kept at whatever offset: of
	 * no length, evidence_fields() reads it as "" wherever it lies (a test
	 * of s.p mispredicted on 12 k of 64.5 k real lines) */
	*ret =
	    (struct evidence_span){(uint16_t)((uintptr_t)s.p - (uintptr_t)line), (uint16_t)s.len};
	return (uintptr_t)s.p + s.len <= (uintptr_t)limit;
}

/* Inline: once a line on the hot path (see fields_at). */
static inline void evidence_set_fields(struct evidence *e, const char *line, size_t kept,
				       const struct errlog_event *ev)
{
	unsigned slot = (e->next_line + EVIDENCE_LINES - 1) % EVIDENCE_LINES;
	const char *limit = line + kept;
	if (evidence_span_in(line, limit, ev->detail, &e->pending[0]) &&
	    evidence_span_in(line, limit, ev->server, &e->pending[1]) &&
	    evidence_span_in(line, limit, ev->uri, &e->pending[2]))
		e->fields_at = (uint8_t)(slot + 1);
	else
		evidence_copy_fields(e, ev); /* not all in what the ring kept */
}
