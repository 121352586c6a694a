/* accessstats: per-location and per-peer counts from access logs (see
 * accessstats.h).
 *
 * line -> (file's formats) accesslog_parse_into -> path, server, tries ->
 * the pass that served it -> count into the pass, each try into its peer.
 * Buckets carry their own slot number, so a bucket left from an earlier
 * turn of the ring reads as empty without a timer to clear it. */
#include "log/accessstats.h"
#include "log/accessstats_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/peerkey.h"
#include "core/strmap.h"
#include "core/util.h"
#include "log/accesslog.h"

/* --- build --- */

static bool upstream_format(const struct accesslog_format *f)
{
	return accesslog_format_has(f, ACCESSLOG_UPSTREAM_ADDR) &&
	       accesslog_format_has(f, ACCESSLOG_UPSTREAM_STATUS);
}

static void add_log(struct accessstats *s, const struct ngx_access_log *a)
{
	const struct ngx_model *m = s->m;
	struct accesslog_format *f = NULL;
	if (!a->followable || a->format >= m->nlog_formats)
		return;
	const struct ngx_log_format *lf = &m->log_formats[a->format];
	size_t i;
	struct log *l;
	if (strmap_get_index(&s->by_path, a->path, &i)) {
		l = &s->logs[i];
		for (size_t k = 0; k < l->nfmt; k++)
			if (streq(l->dir[k]->format_name, a->format_name))
				return;
		if (l->nfmt == ACCESSSTATS_MAX_FORMATS)
			return;
	} else {
		if (s->nlogs == ACCESSSTATS_MAX_LOGS)
			return;
		s->logs = xreallocarray(s->logs, s->nlogs + 1, sizeof(*s->logs));
		l = &s->logs[s->nlogs];
		*l = (struct log){.pub = {.path = a->path, .first = a, .upstream_vars = true}};
		strmap_put_index(&s->by_path, a->path, s->nlogs++);
	}
	if (accesslog_format_new(lf->format, lf->escape, &f) < 0)
		return;
	/* stream {} has no $upstream_status: its $status tells the session */
	l->pub.upstream_vars &=
	    a->stream ? accesslog_format_has(f, ACCESSLOG_UPSTREAM_ADDR) : upstream_format(f);
	l->dir[l->nfmt] = a;
	l->esc[l->nfmt] = lf->escape;
	l->named[l->nfmt] = accesslog_format_has(f, ACCESSLOG_SERVER_NAME) ||
			    accesslog_format_has(f, ACCESSLOG_HOST);
	l->server[l->nfmt] = a->server_name ? a->server_name : "";
	l->server_len[l->nfmt] = strlen(l->server[l->nfmt]);
	l->fmt[l->nfmt++] = f;
}

static size_t longest_prefix(const struct ngx_model *m)
{
	size_t max = 0;
	for (size_t i = 0; i < m->npasses; i++) {
		const char *loc = m->passes[i].location;
		if (loc && (startswith(loc, "= ") || startswith(loc, "^~ ")))
			loc += loc[0] == '=' ? 2 : 3;
		max = MAX(max, loc ? strlen(loc) : 0);
	}
	return max;
}

int accessstats_new(const struct ngx_model *m, struct accessstats **ret)
{
	struct accessstats *s = xcalloc(1, sizeof(*s));
	s->m = m;
	accessstats_set_span(s, 0);
	strmap_init(&s->by_path);
	strmap_init(&s->extra);
	s->pass = xcalloc(m->npasses ? m->npasses : 1, sizeof(*s->pass));
	s->peer = xcalloc(m->npeers ? m->npeers : 1, sizeof(*s->peer));
	s->prefix_max = longest_prefix(m);
	for (size_t i = 0; i < m->naccess_logs; i++)
		add_log(s, &m->access_logs[i]);
	*ret = s;
	return 0;
}

void accessstats_free(struct accessstats *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nlogs; i++)
		for (size_t k = 0; k < s->logs[i].nfmt; k++)
			accesslog_format_free(s->logs[i].fmt[k]);
	free(s->logs);
	for (size_t i = 0; i < s->m->npasses; i++)
		free(s->pass[i]);
	free(s->pass);
	for (size_t i = 0; i < s->m->npeers; i++)
		free(s->peer[i]);
	free(s->peer);
	const char *k;
	void *v;
	for (size_t it = 0; strmap_next(&s->extra, &it, &k, &v);)
		free(v);
	strmap_done(&s->extra);
	strmap_done(&s->by_path);
	accessstats_loc_done(s);
	free(s);
}

size_t accessstats_nlogs(const struct accessstats *s)
{
	return s->nlogs;
}

const struct accessstats_log *accessstats_log_at(const struct accessstats *s, size_t i)
{
	return i < s->nlogs ? &s->logs[i].pub : NULL;
}

const struct accessstats_log *accessstats_log_by_path(const struct accessstats *s, const char *path)
{
	size_t i;
	return path && strmap_get_index(&s->by_path, path, &i) ? &s->logs[i].pub : NULL;
}

void accessstats_set_span(struct accessstats *s, unsigned secs)
{
	s->span = secs;
	if (secs == 0)
		snprintf(s->span_words, sizeof(s->span_words), "in the last 5 min");
	else if (secs % 3600 == 0)
		snprintf(s->span_words, sizeof(s->span_words), "in the last %u h", secs / 3600);
	else if (secs % 60 == 0)
		snprintf(s->span_words, sizeof(s->span_words), "in the last %u min", secs / 60);
	else
		snprintf(s->span_words, sizeof(s->span_words), "in the last %u s", secs);
}

const char *accessstats_recent_words(const struct accessstats *s)
{
	return s->span_words;
}

bool accessstats_next_peer(const struct accessstats *s, size_t *iter, const char **ret_key)
{
	const struct ngx_model *m = s->m;
	for (; *iter < m->npeers; (*iter)++)
		if (s->peer[*iter]) {
			*ret_key = m->peers[(*iter)++].key;
			return true;
		}
	size_t it = *iter - m->npeers;
	void *v;
	bool more = strmap_next(&s->extra, &it, ret_key, &v);
	*iter = m->npeers + it;
	return more;
}

/* --- counting --- */

static void counts_add(struct accessstats_counts *c, int status, unsigned retries)
{
	c->requests++;
	c->s502 += status == 502;
	c->s503 += status == 503;
	c->s504 += status == 504;
	c->s5xx += status >= 500 && status <= 599;
	c->retries += retries;
}

/* Bin b's upper bound in ms: floor(1.1^b), each bin 1.1 times the last (checked
 * against the exact powers by test_accessstats). A table, not log() and
 * pow(): they were all libm was linked for, 300 KB of an idle daemon's
 * RSS (tests/bench/daemon.py). */
static const uint32_t bin_upper[ACCESSSTATS_HIST_BINS] = {
    1,	     1,	      1,       1,	1,	 1,	  1,	   1,	    2,	     2,
    2,	     2,	      3,       3,	3,	 4,	  4,	   5,	    5,	     6,
    6,	     7,	      8,       8,	9,	 10,	  11,	   13,	    14,	     15,
    17,	     19,      21,      23,	25,	 28,	  30,	   34,	    37,	     41,
    45,	     49,      54,      60,	66,	 72,	  80,	   88,	    97,	     106,
    117,     129,     142,     156,	171,	 189,	  207,	   228,	    251,     276,
    304,     334,     368,     405,	445,	 490,	  539,	   593,	    652,     717,
    789,     868,     955,     1051,	1156,	 1271,	  1399,	   1538,    1692,    1862,
    2048,    2253,    2478,    2726,	2999,	 3298,	  3628,	   3991,    4390,    4830,
    5313,    5844,    6428,    7071,	7778,	 8556,	  9412,	   10353,   11388,   12527,
    13780,   15158,   16674,   18341,	20176,	 22193,	  24413,   26854,   29539,   32493,
    35743,   39317,   43249,   47574,	52331,	 57565,	  63321,   69653,   76619,   84280,
    92709,   101979,  112177,  123395,	135735,	 149308,  164239,  180663,  198730,  218603,
    240463,  264509,  290960,  320056,	352062,	 387268,  425995,  468595,  515454,  567000,
    623700,  686070,  754677,  830145,	913159,	 1004475, 1104923, 1215415, 1336956, 1470652,
    1617717, 1779489, 1957438, 2153182, 2368500, 2605350, 2865885, 3152474, 3467721, 3814494,
};

/* The bin of a response time: the first whose upper bound holds it. */
static unsigned hist_bin(int64_t ms)
{
	unsigned lo = 0, hi = ACCESSSTATS_HIST_BINS - 1;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (ms <= (int64_t)bin_upper[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

uint64_t accessstats_bin_upper_ms(unsigned b)
{
	return bin_upper[MIN(b, ACCESSSTATS_HIST_BINS - 1u)];
}

/* Where time t falls, worked out once a line for every entity the line
 * counts into, and kept while lines share their time (a pure memo: the
 * divisions in entity_add(): 941 -> 931 instructions a `combined` line,
 * callgrind). */
static const struct when *when_of(struct accessstats *s, time_t t)
{
	if (!s->when_set || s->when.t != t) {
		int64_t slot = (int64_t)t / ACCESSSTATS_BUCKET_SECS, min = (int64_t)t / 60;
		s->when = (struct when){.t = t,
					.slot = slot,
					.min = min,
					.b = (size_t)(slot % ACCESSSTATS_BUCKETS),
					.k = (size_t)(min % ACCESSSTATS_HIST_MINUTES)};
		s->when_set = true;
	}
	return &s->when;
}

static void entity_add(struct entity *e, const struct when *w, int status, unsigned retries,
		       int64_t ms)
{
	struct bucket *b = &e->b[w->b];
	if (b->slot != w->slot) {
		*b = (struct bucket){.slot = w->slot};
	}
	counts_add(&b->c, status, retries);
	counts_add(&e->total, status, retries);
	if (ms >= 0) {
		size_t k = w->k;
		if (e->minute[k] != w->min) {
			e->minute[k] = w->min;
			memset(e->hist[k], 0, sizeof(e->hist[k]));
		}
		unsigned bin = hist_bin(ms);
		e->hist[k][bin]++;
		e->hist_total[bin]++;
	}
	if (status > 0 && status < 500 && w->t > e->last_served)
		e->last_served = w->t;
}

static struct entity *entity(struct entity **slot)
{
	if (!*slot)
		*slot = xcalloc(1, sizeof(**slot));
	return *slot;
}

static struct entity *peer_entity(struct accessstats *s, const char *key, bool make)
{
	const struct ngx_peer *p = ngxconf_peer(s->m, key);
	if (p)
		return make ? entity(&s->peer[p - s->m->peers]) : s->peer[p - s->m->peers];
	struct entity *e = strmap_get(&s->extra, key);
	if (!e && make && s->nextra < ACCESSSTATS_MAX_EXTRA) {
		e = xcalloc(1, sizeof(*e));
		strmap_put(&s->extra, key, e);
		s->nextra++;
	}
	return e;
}

const struct entity *accessstats_peer_entity(const struct accessstats *s, const char *key)
{
	return peer_entity((struct accessstats *)s, key, false);
}

static const char *field_str(const struct accesslog_field *f, enum ngx_log_escape esc, char *buf,
			     size_t len)
{
	if (!f->p || (f->len == 1 && f->p[0] == '-')) {
		buf[0] = '\0';
		return buf;
	}
	accesslog_unescape(esc, f->p, f->len, buf, len);
	return buf;
}

static bool same_ref(const struct ngx_ref *a, const struct ngx_ref *b)
{
	return a->file && b->file && a->line == b->line && streq(a->file, b->file);
}

/* The stream pass a session went through: one reaching its first peer (the
 * log's own server's first), else the log's own server's proxy_pass. */
static const struct ngx_pass *stream_pass(const struct ngx_model *m,
					  const struct ngx_access_log *dir, const char *first)
{
	const struct ngx_peer *p = first ? ngxconf_peer(m, first) : NULL;
	const struct ngx_pass *any = NULL;
	for (size_t j = 0; p && j < p->npasses; j++) {
		const struct ngx_pass *c = &m->passes[p->passes[j]];
		if (!c->stream)
			continue;
		if (same_ref(&c->ref, &dir->pass_ref))
			return c;
		if (!any)
			any = c;
	}
	if (any)
		return any;
	for (size_t i = 0; dir->pass_ref.file && i < m->npasses; i++)
		if (m->passes[i].stream && same_ref(&m->passes[i].ref, &dir->pass_ref))
			return &m->passes[i];
	return NULL;
}

/* Count one stream session: $status is the session's (502: no upstream
 * could be selected or reached); every address of $upstream_addr but the
 * last is one nginx could not connect to and left (a 502 of that peer),
 * the last one ended the session with its status. No response time: a
 * session's time is its length. */
static void count_session(struct accessstats *s, struct log *lg, const struct ngx_access_log *dir,
			  const struct accesslog_line *l, const struct when *w)
{
	int status = accesslog_status(l);
	struct accesslog_try tries[ACCESSLOG_MAX_TRIES];
	size_t ntries = accesslog_tries(l, tries, ACCESSLOG_MAX_TRIES);
	char first[PEERKEY_MAX] = "";
	for (size_t i = 0; i < ntries; i++) {
		struct peerkey k;
		if (peerkey_parse(tries[i].addr, tries[i].addr_len, 0, &k) < 0)
			continue;
		if (i == 0)
			snprintf(first, sizeof(first), "%s", k.key);
		struct entity *e = peer_entity(s, k.key, true);
		if (e)
			entity_add(e, w, i + 1 < ntries ? 502 : status, 0, -1);
	}
	const struct ngx_pass *pass = stream_pass(s->m, dir, first[0] ? first : NULL);
	if (!pass) {
		lg->pub.unmatched++;
		return;
	}
	struct entity *pe = entity(&s->pass[pass - s->m->passes]);
	entity_add(pe, w, status, ntries > 1 ? (unsigned)(ntries - 1) : 0, -1);
	pe->log = (size_t)(lg - s->logs) + 1;
}

/* Whether the 25 or 26 bytes at a and b are the same: four 8-byte words,
 * the last two overlapping (memcmp() was 33 instructions a `combined`
 * line, callgrind). */
static inline bool same_stamp(const char *a, const char *b, size_t len)
{
	uint64_t x[4], y[4];
	memcpy(&x[0], a, 8);
	memcpy(&x[1], a + 8, 8);
	memcpy(&x[2], a + 16, 8);
	memcpy(&x[3], a + len - 8, 8);
	memcpy(&y[0], b, 8);
	memcpy(&y[1], b + 8, 8);
	memcpy(&y[2], b + 16, 8);
	memcpy(&y[3], b + len - 8, 8);
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

/* The line's time, through the memo of the previous line's stamp. */
static int line_time(struct accessstats *s, const struct accesslog_line *l, time_t *ret)
{
	const struct accesslog_field *f = &l->v[ACCESSLOG_TIME_ISO8601];
	if (!f->p || f->len != 25)
		f = &l->v[ACCESSLOG_TIME_LOCAL];
	/* a stamp accesslog_time reads is 25 or 26 bytes: no other is kept */
	if (f->p && s->stamp_len && f->len == s->stamp_len && same_stamp(f->p, s->stamp, f->len)) {
		*ret = s->stamp_time;
		return 0;
	}
	time_t t;
	int r = accesslog_time(l, &t);
	if (r < 0)
		return r;
	memcpy(s->stamp, f->p, f->len);
	s->stamp_len = f->len;
	s->stamp_time = t;
	*ret = t;
	return 0;
}

/* The server a line names ($server_name, else $host), else its log's
 * server's name: buf holds it when unescaped from the line. */
static const char *line_server(const struct accesslog_line *l, const struct ngx_access_log *dir,
			       enum ngx_log_escape esc, char *buf, size_t len)
{
	field_str(&l->v[ACCESSLOG_SERVER_NAME], esc, buf, len);
	if (!buf[0])
		field_str(&l->v[ACCESSLOG_HOST], esc, buf, len);
	return buf[0] || !dir->server_name ? buf : dir->server_name;
}

/* Count one matched line of lg's format fi. Inlined into its one caller
 * (925 -> 913 instructions a `combined` line, callgrind). */
static inline __attribute__((always_inline)) void count_line(struct accessstats *s, struct log *lg,
							     size_t fi,
							     const struct accesslog_line *l,
							     time_t now)
{
	const struct ngx_model *m = s->m;
	const struct ngx_access_log *dir = lg->dir[fi];
	int status = accesslog_status(l);
	time_t t;
	if (line_time(s, l, &t) < 0 || t > now)
		t = now;
	const struct when *w = when_of(s, t);
	if (dir->stream) {
		count_session(s, lg, dir, l, w);
		return;
	}
	struct path path; /* not zeroed: buf is 1 KiB written only when asked for */
	path.l = l;
	path.esc = lg->esc[fi];
	path.done = false;
	/* a format naming no server ($server_name, $host) has its log's, and
	 * that name's length, from add_log (the calls and strlen() were 32 of
	 * 1,075 instructions a `combined` line, callgrind) */
	char serverbuf[256];
	const char *server = lg->server[fi];
	size_t slen = lg->server_len[fi];
	if (lg->named[fi]) {
		server = line_server(l, dir, lg->esc[fi], serverbuf, sizeof(serverbuf));
		slen = strlen(server);
	}

	/* no call for a format without $upstream_addr (27 of 1,213
	 * instructions a `combined` line) */
	struct accesslog_try tries[ACCESSLOG_MAX_TRIES];
	size_t ntries =
	    l->v[ACCESSLOG_UPSTREAM_ADDR].p ? accesslog_tries(l, tries, ACCESSLOG_MAX_TRIES) : 0;
	unsigned retries = 0;
	const struct ngx_pass *pass = NULL;
	for (size_t i = 0; i < ntries; i++) {
		struct peerkey k;
		if (i > 0 && !tries[i].redirect)
			retries++;
		if (peerkey_parse(tries[i].addr, tries[i].addr_len, 80, &k) < 0)
			continue;
		struct entity *e = peer_entity(s, k.key, true);
		if (e)
			entity_add(e, w, tries[i].status, 0, tries[i].time_ms);
		if (!pass && i == 0) {
			const struct ngx_peer *p = ngxconf_peer(m, k.key);
			if (p)
				pass = accessstats_pass_by_peer(m, p, server,
								accessstats_path_text(&path));
		}
	}
	if (!pass)
		pass = accessstats_pass_by_location(s, server, slen, !lg->named[fi], &path);
	if (!pass) {
		lg->pub.unmatched++;
		return;
	}
	int64_t ms = ntries ? tries[ntries - 1].time_ms : -1;
	struct entity *pe = entity(&s->pass[pass - m->passes]);
	entity_add(pe, w, status, retries, ms);
	pe->log = (size_t)(lg - s->logs) + 1;
}

bool accessstats_log_index(const struct accessstats *s, const char *path, size_t *ret)
{
	return strmap_get_index(&s->by_path, path, ret);
}

int accessstats_line_at(struct accessstats *s, size_t i, const char *line, size_t len, time_t now)
{
	if (i >= s->nlogs)
		return -ENOENT;
	struct log *lg = &s->logs[i];
	lg->pub.lines++;
	for (size_t k = 0; k < lg->nfmt; k++) {
		struct accesslog_line *l = &lg->line[k];
		if (accesslog_parse_into(lg->fmt[k], line, len, l) < 0)
			continue;
		count_line(s, lg, k, l, now);
		return 0;
	}
	lg->pub.unparsed++;
	return -EINVAL;
}

int accessstats_line(struct accessstats *s, const char *path, const char *line, size_t len,
		     time_t now)
{
	size_t i;
	/* lines come in runs from one file: the last one's index first */
	if (s->last_log && streq(s->logs[s->last_log - 1].pub.path, path))
		i = s->last_log - 1;
	else if (strmap_get_index(&s->by_path, path, &i))
		s->last_log = i + 1;
	else
		return -ENOENT;
	return accessstats_line_at(s, i, line, len, now);
}

/* --- carrying counts over a reload --- */

/* What names a pass across two models: its place and its target, not its
 * line number (an edit above it moves that). */
static void pass_identity(const struct ngx_pass *p, char *buf, size_t len)
{
	snprintf(buf, len, "%d\x1f%s\x1f%s\x1f%s\x1f%s", p->stream,
		 p->server_name ? p->server_name : "", p->location ? p->location : "",
		 p->directive ? p->directive : "", p->raw ? p->raw : "");
}

/* The new index + 1 of old log index + 1 (0: none or gone). */
static size_t log_remap(const struct accessstats *to, const struct accessstats *from, size_t old)
{
	size_t i;
	if (!old || !strmap_get_index(&to->by_path, from->logs[old - 1].pub.path, &i))
		return 0;
	return i + 1;
}

void accessstats_carry(struct accessstats *to, const struct accessstats *from)
{
	if (!to || !from)
		return;
	to->span = from->span;
	memcpy(to->span_words, from->span_words, sizeof(to->span_words));
	for (size_t i = 0; i < from->nlogs; i++) {
		size_t j;
		if (!strmap_get_index(&to->by_path, from->logs[i].pub.path, &j))
			continue;
		to->logs[j].pub.lines = from->logs[i].pub.lines;
		to->logs[j].pub.unparsed = from->logs[i].pub.unparsed;
		to->logs[j].pub.unmatched = from->logs[i].pub.unmatched;
	}
	const char *key;
	for (size_t it = 0; accessstats_next_peer(from, &it, &key);) {
		const struct entity *src = accessstats_peer_entity(from, key);
		struct entity *dst = peer_entity(to, key, true);
		if (!src || !dst)
			continue;
		*dst = *src;
		dst->log = log_remap(to, from, src->log);
	}
	struct strmap passes; /* identity -> new pass index */
	strmap_init(&passes);
	char id[2048];
	for (size_t i = 0; i < to->m->npasses; i++) {
		size_t ignored;
		pass_identity(&to->m->passes[i], id, sizeof(id));
		if (!strmap_get_index(&passes, id, &ignored))
			strmap_put_index(&passes, id, i);
	}
	for (size_t i = 0; i < from->m->npasses; i++) {
		size_t j;
		if (!from->pass[i])
			continue;
		pass_identity(&from->m->passes[i], id, sizeof(id));
		if (!strmap_get_index(&passes, id, &j) || to->pass[j])
			continue;
		struct entity *dst = entity(&to->pass[j]);
		*dst = *from->pass[i];
		dst->log = log_remap(to, from, from->pass[i]->log);
	}
	strmap_done(&passes);
}

int accessstats_line_time(const struct accessstats *s, const char *path, const char *line,
			  size_t len, time_t *ret)
{
	size_t i;
	if (!strmap_get_index(&s->by_path, path, &i))
		return -ENOENT;
	const struct log *lg = &s->logs[i];
	for (size_t k = 0; k < lg->nfmt; k++) {
		struct accesslog_line l;
		if (accesslog_parse(lg->fmt[k], line, len, &l) == 0 && accesslog_time(&l, ret) == 0)
			return 0;
	}
	return -EINVAL;
}
