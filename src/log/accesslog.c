/* accesslog: compile a log_format, match lines against it (see accesslog.h;
 * the values of a matched line are accesslog_value.c's).
 *
 * A compiled format is a flat array of segments over one copy of its
 * literal text; a run of variables with no literal between them cannot be
 * split and is kept as one unread segment. Matching is a depth-first search
 * over where each variable ends, pruned by the value shapes known here and
 * cut off after ACCESSLOG_MAX_STEPS. The usual line takes one candidate per
 * variable, found with memchr() or at the one length the value may have:
 * match_first() walks that path through steps compiled with the format. */
#include "log/accesslog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct seg {
	uint16_t off, len; /* literal: its text in f->lit */
	uint8_t var;	   /* enum accesslog_var */
	bool lit;
	/* a variable's, set by finish(): the only lengths its value may have,
	 * shortest first (0: any; see fixed_lengths()) */
	uint8_t fixed[2];
};

/* One step of the first path (match_first()): a literal, or a variable
 * with the literal that ends it, its checks decided once per format. A
 * variable's first candidate end is where memchr() finds the literal's
 * first byte (STEP_FIND) or at the one or two lengths its value may have
 * (STEP_FIXED). */
enum step_op { STEP_FIND, STEP_FIXED, STEP_LIT, STEP_REST, STEP_END, STEP_STOP };

/* What a variable's value must pass at its candidate end, beyond the
 * literal: nothing, $status's three digits, $time_local's "-" when it is
 * one byte, or all of value_fits(). */
enum step_check { CHECK_NONE, CHECK_DIGITS, CHECK_DASH, CHECK_FULL };

struct step {
	uint8_t op;	 /* enum step_op */
	uint8_t var;	 /* STEP_FIND, STEP_FIXED, STEP_REST */
	uint8_t seg;	 /* STEP_FIND, STEP_FIXED: the variable's segment */
	uint8_t check;	 /* enum step_check */
	uint16_t len;	 /* the literal's length */
	const char *lit; /* its text, in f->lit */
	/* a literal of at most four bytes, as one 32-bit load of the line
	 * masked to its length is: one compare (see lit_at()); mask 0: longer */
	uint32_t word, mask;
	uint8_t fixed[2];
};

struct accesslog_format {
	enum ngx_log_escape escape;
	uint32_t has; /* bit per enum accesslog_var */
	size_t nseg;
	/* segments from here on hold nothing read: a line is matched up to the
	 * literal after its last read variable and no further (half the bytes
	 * of a `combined` line are the referer and user agent after $status) */
	size_t tail;
	struct seg seg[ACCESSLOG_MAX_SEGMENTS];
	struct step step[ACCESSLOG_MAX_SEGMENTS + 1]; /* match_first()'s program */
	size_t litlen;
	char lit[ACCESSLOG_MAX_FORMAT];
};

static const char *const var_names[ACCESSLOG_NVARS] = {
    [ACCESSLOG_OTHER] = "",
    [ACCESSLOG_STATUS] = "status",
    [ACCESSLOG_REQUEST] = "request",
    [ACCESSLOG_REQUEST_URI] = "request_uri",
    [ACCESSLOG_URI] = "uri",
    [ACCESSLOG_UPSTREAM_ADDR] = "upstream_addr",
    [ACCESSLOG_UPSTREAM_STATUS] = "upstream_status",
    [ACCESSLOG_UPSTREAM_RESPONSE_TIME] = "upstream_response_time",
    [ACCESSLOG_REQUEST_TIME] = "request_time",
    [ACCESSLOG_HOST] = "host",
    [ACCESSLOG_SERVER_NAME] = "server_name",
    [ACCESSLOG_TIME_LOCAL] = "time_local",
    [ACCESSLOG_TIME_ISO8601] = "time_iso8601",
    [ACCESSLOG_REMOTE_ADDR] = "remote_addr",
};

const char *accesslog_var_name(enum accesslog_var v)
{
	return v < ACCESSLOG_NVARS ? var_names[v] : "";
}

static enum accesslog_var lookup_var(const char *name, size_t len)
{
	for (size_t i = 1; i < ACCESSLOG_NVARS; i++)
		if (strlen(var_names[i]) == len && memcmp(var_names[i], name, len) == 0)
			return (enum accesslog_var)i;
	return ACCESSLOG_OTHER;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static int add_literal(struct accesslog_format *f, const char *s, size_t len)
{
	if (len == 0)
		return 0;
	struct seg *last = f->nseg ? &f->seg[f->nseg - 1] : NULL;
	if (f->litlen + len > sizeof(f->lit))
		return -E2BIG;
	memcpy(f->lit + f->litlen, s, len);
	if (last && last->lit && last->off + last->len == f->litlen) {
		last->len += len;
	} else {
		if (f->nseg == ACCESSLOG_MAX_SEGMENTS)
			return -E2BIG;
		f->seg[f->nseg++] = (struct seg){.off = f->litlen, .len = len, .lit = true};
	}
	f->litlen += len;
	return 0;
}

static int add_var(struct accesslog_format *f, enum accesslog_var v)
{
	struct seg *last = f->nseg ? &f->seg[f->nseg - 1] : NULL;
	if (last && !last->lit) {
		/* $a$b: nothing tells where one ends, neither is read */
		last->var = ACCESSLOG_OTHER;
		return 0;
	}
	if (f->nseg == ACCESSLOG_MAX_SEGMENTS)
		return -E2BIG;
	f->seg[f->nseg++] = (struct seg){.var = v};
	return 0;
}

/* The lengths plausible() lets a value of v have, when they are few:
 * $status is three digits, $time_local 26 bytes or "-". The matcher then
 * looks for the literal after the value at those places only instead of
 * searching for it (2 of the 5 searches of a `combined` line: 1,673 ->
 * 1,600 instructions a line through accessstats, callgrind). */
static void fixed_lengths(enum accesslog_var v, uint8_t ret[2])
{
	ret[0] = ret[1] = 0;
	if (v == ACCESSLOG_STATUS) {
		ret[0] = 3;
	} else if (v == ACCESSLOG_TIME_LOCAL) {
		ret[0] = 1;
		ret[1] = 26;
	}
}

/* What a line must match: the variables read, and where reading stops. */
static void finish(struct accesslog_format *f)
{
	f->tail = 0;
	for (size_t i = 0; i < f->nseg; i++) {
		if (!f->seg[i].lit)
			fixed_lengths(f->seg[i].var, f->seg[i].fixed);
		if (f->seg[i].lit || f->seg[i].var == ACCESSLOG_OTHER)
			continue;
		f->has |= 1u << f->seg[i].var;
		f->tail = i + 2; /* the variable and the literal that ends it */
	}
	if (f->tail == 0 || f->tail > f->nseg)
		f->tail = f->nseg; /* nothing read: the whole line must match */
}

static void compile_steps(struct accesslog_format *f);

int accesslog_format_new(const char *format, enum ngx_log_escape escape,
			 struct accesslog_format **ret)
{
	size_t n = strlen(format);
	if (n == 0)
		return -EINVAL;
	if (n > ACCESSLOG_MAX_FORMAT)
		return -E2BIG;
	struct accesslog_format *f = xcalloc(1, sizeof(*f));
	f->escape = escape;
	const char *s = format, *end = format + n;
	int r = 0;
	while (s < end && r >= 0) {
		const char *d = memchr(s, '$', (size_t)(end - s));
		if (!d) {
			r = add_literal(f, s, (size_t)(end - s));
			break;
		}
		r = add_literal(f, s, (size_t)(d - s));
		if (r < 0)
			break;
		const char *name = d + 1, *ne;
		if (name < end && *name == '{') {
			name++;
			ne = name;
			while (ne < end && name_char(*ne))
				ne++;
			if (ne == name || ne == end || *ne != '}') {
				r = -EINVAL;
				break;
			}
			s = ne + 1;
		} else {
			ne = name;
			while (ne < end && name_char(*ne))
				ne++;
			if (ne == name) {
				r = -EINVAL;
				break;
			}
			s = ne;
		}
		r = add_var(f, lookup_var(name, (size_t)(ne - name)));
	}
	if (r < 0) {
		free(f);
		return r;
	}
	finish(f);
	compile_steps(f);
	*ret = f;
	return 0;
}

void accesslog_format_free(struct accesslog_format *f)
{
	free(f);
}

bool accesslog_format_has(const struct accesslog_format *f, enum accesslog_var v)
{
	return v != ACCESSLOG_OTHER && v < ACCESSLOG_NVARS && (f->has & (1u << v));
}

enum ngx_log_escape accesslog_format_escape(const struct accesslog_format *f)
{
	return f->escape;
}

/* --- matching --- */

/* Character classes of the values plausible() checks: a table, not a
 * strchr per byte (profiled: 7 % of a `combined` line's cost). */
enum { C_DIGIT = 1, C_TIME = 2, C_LIST = 4 };
static const unsigned char cls[256] = {
    ['0'] = C_DIGIT | C_TIME | C_LIST,
    ['1'] = C_DIGIT | C_TIME | C_LIST,
    ['2'] = C_DIGIT | C_TIME | C_LIST,
    ['3'] = C_DIGIT | C_TIME | C_LIST,
    ['4'] = C_DIGIT | C_TIME | C_LIST,
    ['5'] = C_DIGIT | C_TIME | C_LIST,
    ['6'] = C_DIGIT | C_TIME | C_LIST,
    ['7'] = C_DIGIT | C_TIME | C_LIST,
    ['8'] = C_DIGIT | C_TIME | C_LIST,
    ['9'] = C_DIGIT | C_TIME | C_LIST,
    ['.'] = C_TIME,
    ['-'] = C_TIME | C_LIST,
    [','] = C_LIST,
    [' '] = C_LIST,
    [':'] = C_LIST,
};

/* Every byte of p[0..len) is in one of the classes of mask ("."
 * only with C_TIME: $upstream_status has none). */
static bool all_in(const char *p, size_t len, unsigned mask)
{
	for (size_t i = 0; i < len; i++)
		if (!(cls[(unsigned char)p[i]] & mask))
			return false;
	return true;
}

/* Short literals (" ", "] \"", "\" "): a loop beats a call to memcmp. */
static inline bool same(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Whether a value of variable v may be p[0..len): prunes the search. */
static inline bool plausible(enum accesslog_var v, const char *p, size_t len)
{
	switch (v) {
	case ACCESSLOG_STATUS:
		return len == 3 && all_in(p, 3, C_DIGIT);
	case ACCESSLOG_TIME_LOCAL:
		return len == 26 || (len == 1 && p[0] == '-');
	case ACCESSLOG_REQUEST_TIME:
		return len > 0 && all_in(p, len, C_TIME);
	case ACCESSLOG_UPSTREAM_STATUS:
		return len > 0 && all_in(p, len, C_LIST);
	case ACCESSLOG_UPSTREAM_RESPONSE_TIME:
		return len > 0 && all_in(p, len, C_TIME | C_LIST);
	default:
		return true;
	}
}

/* Whether plausible() checks anything of v. */
static bool shaped(enum accesslog_var v)
{
	return v == ACCESSLOG_STATUS || v == ACCESSLOG_TIME_LOCAL || v == ACCESSLOG_REQUEST_TIME ||
	       v == ACCESSLOG_UPSTREAM_STATUS || v == ACCESSLOG_UPSTREAM_RESPONSE_TIME;
}

static bool is_list(enum accesslog_var v)
{
	return v == ACCESSLOG_UPSTREAM_ADDR || v == ACCESSLOG_UPSTREAM_STATUS ||
	       v == ACCESSLOG_UPSTREAM_RESPONSE_TIME;
}

/* Whether position q (inside a value that started at start) is part of a
 * list separator ", " or " : ". */
static bool in_separator(const char *s, size_t start, size_t q, size_t len)
{
	if (q + 1 < len && s[q] == ',' && s[q + 1] == ' ')
		return true;
	if (q > start && s[q - 1] == ',' && s[q] == ' ')
		return true;
	if (q + 2 < len && s[q] == ' ' && s[q + 1] == ':' && s[q + 2] == ' ')
		return true;
	if (q > start && q + 1 < len && s[q - 1] == ' ' && s[q] == ':' && s[q + 1] == ' ')
		return true;
	return q > start + 1 && s[q - 2] == ' ' && s[q - 1] == ':' && s[q] == ' ';
}

/* escape=json: a quote after an odd run of backslashes is escaped. */
static bool json_escaped(const char *s, size_t start, size_t q)
{
	size_t n = 0;
	while (q > start && s[q - 1] == '\\') {
		n++;
		q--;
	}
	return n % 2 == 1;
}

struct match {
	const struct accesslog_format *f;
	const char *s;
	size_t len;
	unsigned steps;
	struct accesslog_line *out;
};

/* Whether a value of the variable at segment i, starting at pos, may end
 * at k, before the literal there: the escape, list and shape checks. */
static inline bool value_fits(const struct match *m, size_t i, size_t pos, size_t k)
{
	const struct accesslog_format *f = m->f;
	enum accesslog_var v = f->seg[i].var;
	return !(f->escape == NGX_ESCAPE_JSON && json_escaped(m->s, pos, k)) &&
	       !(is_list(v) && in_separator(m->s, pos, k, m->len)) &&
	       plausible(v, m->s + pos, k - pos);
}

/* The same, and the literal after it (segment i + 1), whose first byte is
 * at k, is there. */
static inline bool ends_at(const struct match *m, size_t i, size_t pos, size_t k)
{
	const struct seg *next = &m->f->seg[i + 1];
	return same(m->s + k + 1, m->f->lit + next->off + 1, next->len - 1) &&
	       value_fits(m, i, pos, k);
}

/* The next place, from *q on, where a value of the variable at segment i
 * (starting at pos) may end before its literal at segment i + 1: *q. false
 * when no place fits. match_from() backs off through these places in turn;
 * match_first() takes the first. Inlined: its calls' entry and exit were
 * 96 of 1,600 instructions a `combined` line (callgrind, bench_accesslog
 * stats). */
static inline __attribute__((always_inline)) bool next_end(const struct match *m, size_t i,
							   size_t pos, size_t *q)
{
	const struct accesslog_format *f = m->f;
	const struct seg *sg = &f->seg[i], *next = &f->seg[i + 1];
	const char lit0 = f->lit[next->off];
	if (sg->fixed[0]) {
		/* only these lengths are plausible: the places a search would
		 * find, in the same order */
		for (size_t j = 0; j < sizeof(sg->fixed) && sg->fixed[j]; j++) {
			size_t k = pos + sg->fixed[j];
			if (k >= *q && k + next->len <= m->len && m->s[k] == lit0 &&
			    ends_at(m, i, pos, k)) {
				*q = k;
				return true;
			}
		}
		return false;
	}
	for (size_t k = *q; k + next->len <= m->len; k++) {
		const char *hit = memchr(m->s + k, lit0, m->len - k - next->len + 1);
		if (!hit)
			return false;
		k = (size_t)(hit - m->s);
		if (ends_at(m, i, pos, k)) {
			*q = k;
			return true;
		}
	}
	return false;
}

/* The literal segment sg at pos. */
static inline bool literal_at(const struct match *m, const struct seg *sg, size_t pos)
{
	return m->len - pos >= sg->len && same(m->s + pos, m->f->lit + sg->off, sg->len);
}

/* The last segment, variable v, takes the rest of the line when it may. */
static inline bool take_rest(struct match *m, enum accesslog_var v, size_t pos)
{
	if (!plausible(v, m->s + pos, m->len - pos))
		return false;
	m->out->v[v] = (struct accesslog_field){m->s + pos, m->len - pos};
	return true;
}

static bool match_from(struct match *m, size_t i, size_t pos)
{
	const struct accesslog_format *f = m->f;
	if (++m->steps > ACCESSLOG_MAX_STEPS)
		return false;
	if (i == f->nseg)
		return pos == m->len;
	if (i >= f->tail)
		return true; /* nothing read beyond: the rest is not matched */
	const struct seg *sg = &f->seg[i];
	if (sg->lit)
		return literal_at(m, sg, pos) && match_from(m, i + 1, pos + sg->len);
	enum accesslog_var v = sg->var;
	if (i + 1 == f->nseg)
		return take_rest(m, v, pos);
	/* the next segment is a literal: runs of variables are one */
	for (size_t q = pos; next_end(m, i, pos, &q); q++) {
		m->out->v[v] = (struct accesslog_field){m->s + pos, q - pos};
		if (match_from(m, i + 1, q))
			return true;
		if (m->steps > ACCESSLOG_MAX_STEPS)
			return false;
	}
	return false;
}

/* How match_first() checks a value of v in a format escaped esc: what
 * value_fits() would check, less what the step's lengths already tell
 * (a fixed $status is three bytes; a fixed $time_local is 1 or 26). */
static enum step_check step_check(enum ngx_log_escape esc, enum accesslog_var v)
{
	if (esc == NGX_ESCAPE_JSON || is_list(v))
		return CHECK_FULL;
	if (v == ACCESSLOG_STATUS)
		return CHECK_DIGITS;
	if (v == ACCESSLOG_TIME_LOCAL)
		return CHECK_DASH;
	return shaped(v) ? CHECK_FULL : CHECK_NONE;
}

/* A literal step's text and, when short, its word and mask. */
static struct step literal_step(enum step_op op, const char *lit, size_t len)
{
	struct step st = {.op = op, .len = (uint16_t)len, .lit = lit};
	if (len > 0 && len <= 4) {
		char w[4] = {0}, mk[4] = {0};
		memcpy(w, lit, len);
		memset(mk, 0xff, len);
		memcpy(&st.word, w, 4);
		memcpy(&st.mask, mk, 4);
	}
	return st;
}

/* match_first()'s program: the segments as the first path walks them,
 * what value_fits() must check decided here once. */
static void compile_steps(struct accesslog_format *f)
{
	struct step *st = f->step;
	for (size_t i = 0;; st++) {
		const struct seg *sg = &f->seg[MIN(i, f->nseg - 1)];
		if (i == f->nseg) {
			*st = (struct step){.op = STEP_END};
			return;
		}
		if (i >= f->tail) {
			*st = (struct step){.op = STEP_STOP};
			return;
		}
		if (sg->lit) {
			*st = literal_step(STEP_LIT, f->lit + sg->off, sg->len);
			i++;
			continue;
		}
		enum accesslog_var v = sg->var;
		if (i + 1 == f->nseg) {
			*st = (struct step){.op = STEP_REST, .var = v};
			return;
		}
		const struct seg *next = &f->seg[i + 1];
		*st = literal_step(sg->fixed[0] ? STEP_FIXED : STEP_FIND, f->lit + next->off,
				   next->len);
		st->var = v;
		st->seg = (uint8_t)i;
		st->check = (uint8_t)step_check(f->escape, v);
		memcpy(st->fixed, sg->fixed, sizeof(st->fixed));
		i += 2;
	}
}

/* next_end() out of match_first()'s loop: it runs when a candidate end
 * does not fit, seldom; inlined, its registers crowded the loop's onto the
 * stack (913 -> 859 instructions a `combined` line, callgrind). */
static __attribute__((noinline)) bool next_end_cold(const struct match *m, size_t i, size_t pos,
						    size_t *q)
{
	return next_end(m, i, pos, q);
}

/* The step's literal at k of the line s[0, len): short ones with one
 * masked load when four bytes remain (the byte loop of same() was 34 of
 * 1,005 instructions a `combined` line). */
static inline bool lit_at(const struct step *st, const char *s, size_t k, size_t len)
{
	if (st->mask && k + 4 <= len) { /* k is at most len + 255: no overflow */
		uint32_t w;
		memcpy(&w, s + k, 4);
		return (w & st->mask) == st->word;
	}
	return k <= len && len - k >= st->len && same(s + k, st->lit, st->len);
}

/* Whether the value s[pos, k) passes the step's check. */
static inline bool step_fits(const struct match *m, const struct step *st, size_t pos, size_t k)
{
	const char *p = m->s + pos;
	switch (st->check) {
	case CHECK_DIGITS: /* k - pos is 3: the step's one length */
		return (unsigned)(p[0] - '0') < 10 && (unsigned)(p[1] - '0') < 10 &&
		       (unsigned)(p[2] - '0') < 10;
	case CHECK_DASH: /* k - pos is 1 or 26 */
		return k - pos != 1 || p[0] == '-';
	default:
		return value_fits(m, st->seg, pos, k);
	}
}

/* The first path match_from() tries, without recursion or backing off:
 * every variable ends at its first fitting place. When that path reaches
 * the end it is the search's answer (the search tries it first, well
 * within the step budget); when it does not, the search runs. (The
 * recursion's calls were 346 of the 1,882 instructions a `combined`
 * line cost.) It runs the format's steps: a variable's first candidate
 * end (the literal's first byte found by memchr(), or the one fixed
 * length) is taken when it fits, and next_end() runs only when it does
 * not. (Walking the segments with every check at every one: 1,504
 * instructions a `combined` line through accessstats; the steps: 1,356;
 * with a variable's step tested first and memchr()'s answer not checked
 * again: 1,186 -> 1,137; an op per kind of step, the checks left after
 * the lengths decided per format and short literals compared as one
 * word: 1,005 -> 946, callgrind.) */
static bool match_first(struct match *m)
{
	const char *s = m->s;
	size_t pos = 0, len = m->len;
	struct accesslog_field *out = m->out->v;
	for (const struct step *st = m->f->step;; st++) {
		size_t k;
		if (st->op == STEP_FIND) {
			/* the literal's first byte where the whole literal still
			 * fits in the line */
			if (len - pos < st->len)
				return false;
			const char *hit = memchr(s + pos, st->lit[0], len - pos - st->len + 1);
			if (!hit)
				return false;
			k = (size_t)(hit - s);
		} else if (st->op == STEP_FIXED) {
			/* the first length whose end holds the literal's first
			 * byte ($time_local: "-" rarely, 26 bytes most often) */
			k = pos + st->fixed[0];
			if (st->fixed[1] && (k + st->len > len || s[k] != st->lit[0]))
				k = pos + st->fixed[1];
		} else {
			switch (st->op) {
			case STEP_END:
				return pos == len;
			case STEP_STOP:
				return true;
			case STEP_REST:
				return take_rest(m, st->var, pos);
			default: /* STEP_LIT */
				if (!lit_at(st, s, pos, len))
					return false;
				pos += st->len;
				continue;
			}
		}
		if (!lit_at(st, s, k, len) || (st->check && !step_fits(m, st, pos, k))) {
			k = pos;
			if (!next_end_cold(m, st->seg, pos, &k))
				return false;
		}
		out[st->var] = (struct accesslog_field){s + pos, k - pos};
		pos = k + st->len;
	}
}

/* Every variable the format writes is written by a successful match, on
 * its path (the search's last writes are its answer's), and no other: l
 * needs no clearing between lines of one format. */
int accesslog_parse_into(const struct accesslog_format *f, const char *line, size_t len,
			 struct accesslog_line *l)
{
	if (len && line[len - 1] == '\r')
		len--;
	struct match m = {.f = f, .s = line, .len = len, .out = l};
	if (!match_first(&m) && !match_from(&m, 0, 0))
		return -EINVAL;
	l->v[ACCESSLOG_OTHER] = (struct accesslog_field){0};
	return 0;
}

int accesslog_parse(const struct accesslog_format *f, const char *line, size_t len,
		    struct accesslog_line *ret)
{
	struct accesslog_line l;
	memset(&l, 0, sizeof(l));
	if (accesslog_parse_into(f, line, len, &l) < 0)
		return -EINVAL;
	*ret = l;
	return 0;
}
