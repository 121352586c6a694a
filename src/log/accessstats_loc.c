/* accessstats_loc: the pass that served a request, by nginx's location
 * rules (exact, then the longest prefix; the same server first), for
 * accessstats.c.
 *
 * The answer depends only on the server and the first prefix_max + 1 bytes
 * of the path (no location is longer; one more byte tells an exact match
 * from a longer path), so it is cached per (server, path prefix) in an
 * open-addressing table of LOC_SLOTS slots holding at most LOC_MAX answers
 * (it starts over when full): a line costs one hash of a few bytes and one
 * compare, whatever the size of the configuration. */
#include "log/accessstats_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hash.h"
#include "core/textscan.h"
#include "core/util.h"
#include "log/accesslog.h"
#include "nginx/location.h"

const char *accessstats_path_text(struct path *p)
{
	if (!p->done) {
		accesslog_path(p->l, p->esc, p->buf, sizeof(p->buf));
		p->done = true;
	}
	return p->buf;
}

/* A field that holds a path: present and not "-". */
static bool has_path(const struct accesslog_field *f)
{
	return f->p && !(f->len == 1 && f->p[0] == '-');
}

/* Bytes that end or spoil a raw path prefix. */
enum { END_QUERY = 1, END_TARGET = 2, ESCAPE = 4 };
static const unsigned char ends[256] = {['?'] = END_QUERY, [' '] = END_TARGET, ['\\'] = ESCAPE};

/* Whether a byte of w is zero: the lowest byte that is has its high bit
 * set (the borrow may set bits above it, never below). */
static inline uint64_t zero_byte(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	return (w - ones) & ~w & high;
}

/* The first of s[0, n) in ends[] & stop, or n: eight bytes a step (a byte
 * loop: 1,252 instructions a `combined` line; this: 1,213, callgrind) */
static size_t first_end(const char *s, size_t n, unsigned stop)
{
	size_t i = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ull;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		uint64_t z = zero_byte(w ^ ones * '?') | zero_byte(w ^ ones * '\\');
		if (stop & END_TARGET)
			z |= zero_byte(w ^ ones * ' ');
		if (z)
			return i + (size_t)(__builtin_ctzll(z) >> 3);
	}
#endif
	for (; i < n; i++)
		if (ends[(unsigned char)s[i]] & stop)
			return i;
	return n;
}

/* Where the path is, raw: accesslog_raw_path()'s ($request_uri, $uri, else
 * the target of $request, then up to the field's end, *ret_stop holding
 * END_TARGET); "" when none. */
static void raw_span(const struct path *p, const char **ret, size_t *ret_len, unsigned *ret_stop)
{
	const struct accesslog_line *l = p->l;
	const struct accesslog_field *f = &l->v[ACCESSLOG_REQUEST_URI];
	unsigned stop = END_QUERY | ESCAPE;
	const char *s = "", *e = s;
	if (!has_path(f))
		f = &l->v[ACCESSLOG_URI];
	if (has_path(f)) {
		s = f->p;
		e = s + f->len;
	} else if (l->v[ACCESSLOG_REQUEST].p) {
		/* "GET /x?y HTTP/1.1": the target between the first two spaces */
		const char *r = l->v[ACCESSLOG_REQUEST].p, *re = r + l->v[ACCESSLOG_REQUEST].len;
		while (r < re && *r != ' ')
			r++;
		if (r < re) {
			s = r + 1;
			e = re;
			stop |= END_TARGET;
		}
	}
	*ret = s;
	*ret_len = (size_t)(e - s);
	*ret_stop = stop;
}

/* The first n bytes of the unescaped path (n at most want; shorter when
 * the path is) without unescaping it: the raw bytes s[0, len) of
 * raw_span(), when no escape comes before the query or the want-th byte.
 * false when one does. (Unescaping every path was 340 of 2,340
 * instructions a `combined` line.) Read in one pass over at most want
 * bytes: the whole target, then its query, then its escapes were three
 * memchr() calls (1,277 -> 1,252 instructions a `combined` line,
 * callgrind). */
static bool raw_prefix(const char *s, size_t len, unsigned stop, size_t want, size_t *ret_len)
{
	size_t n = MIN(len, want);
	size_t i = first_end(s, n, stop);
	if (i < n && (ends[(unsigned char)s[i]] & stop) == ESCAPE)
		return false;
	if (i >= URI_MAX)
		return false;
	*ret_len = i;
	return true;
}

/* A cached answer's key: the server and the path prefix. */
struct loc_key {
	const char *server, *pre;
	size_t slen, plen;
	uint64_t hash; /* never 0 */
};

/* memcmp(a, b, n) == 0 for the short keys of the cache: up to 16 bytes
 * with two loads of each, overlapping (memcmp() calls: 931 -> 925
 * instructions a `combined` line, callgrind). */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
	uint64_t x0, x1, y0, y1;
	uint32_t u0, u1, v0, v1;
	if (n > 16)
		return memcmp(a, b, n) == 0;
	if (n >= 8) {
		memcpy(&x0, a, 8);
		memcpy(&x1, a + n - 8, 8);
		memcpy(&y0, b, 8);
		memcpy(&y1, b + n - 8, 8);
		return ((x0 ^ y0) | (x1 ^ y1)) == 0;
	}
	if (n >= 4) {
		memcpy(&u0, a, 4);
		memcpy(&u1, a + n - 4, 4);
		memcpy(&v0, b, 4);
		memcpy(&v1, b + n - 4, 4);
		return ((u0 ^ v0) | (u1 ^ v1)) == 0;
	}
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* The slot of k: its answer, or the empty slot it would take. */
static inline struct loc_slot *loc_find(const struct accessstats *s, const struct loc_key *k)
{
	for (size_t i = k->hash & (LOC_SLOTS - 1);; i = (i + 1) & (LOC_SLOTS - 1)) {
		struct loc_slot *sl = &s->loc[i];
		if (!sl->hash)
			return sl;
		const char *key = s->loc_keys + sl->off;
		if (sl->hash == k->hash && sl->slen == k->slen && sl->plen == k->plen &&
		    same_bytes(key, k->server, k->slen) &&
		    same_bytes(key + k->slen, k->pre, k->plen))
			return sl;
	}
}

/* Cache an answer; a full cache starts over. */
static void loc_put(struct accessstats *s, const struct loc_key *k, size_t pass)
{
	size_t n = k->slen + k->plen;
	if (s->nloc >= LOC_MAX) {
		memset(s->loc, 0, LOC_SLOTS * sizeof(*s->loc));
		s->loc_keys_len = 0;
		s->nloc = 0;
	}
	if (s->loc_keys_len + n > s->loc_keys_cap) {
		s->loc_keys_cap = MAX(2 * s->loc_keys_cap, s->loc_keys_len + n);
		s->loc_keys = xrealloc(s->loc_keys, s->loc_keys_cap);
	}
	memcpy(s->loc_keys + s->loc_keys_len, k->server, k->slen);
	memcpy(s->loc_keys + s->loc_keys_len + k->slen, k->pre, k->plen);
	*loc_find(s, k) = (struct loc_slot){.hash = k->hash,
					    .off = (uint32_t)s->loc_keys_len,
					    .slen = (uint16_t)k->slen,
					    .plen = (uint16_t)k->plen,
					    .pass = (uint32_t)pass};
	s->loc_keys_len += n;
	s->nloc++;
}

void accessstats_loc_done(struct accessstats *s)
{
	free(s->front);
	free(s->loc);
	free(s->loc_keys);
}

/* nginx's choice among passes, one candidate at a time: a pass of the
 * server the line names wins, then the longest location match; a
 * server-level pass takes what no location does. */
struct pick {
	const struct ngx_pass *best;
	size_t score;
	bool same_server;
};

static void pick(struct pick *k, const struct ngx_pass *p, const char *server, const char *uri)
{
	bool same = server[0] && p->server_name && strcasecmp(p->server_name, server) == 0;
	size_t score = ngx_location_match(p->location, uri);
	if (p->location && !p->location[0])
		score = 1;
	if (score == 0)
		return;
	if (!k->best || (same && !k->same_server) || (same == k->same_server && score > k->score))
		*k = (struct pick){p, score, same};
}

/* The pass by nginx's rules, without the cache. */
static const struct ngx_pass *pass_of(const struct ngx_model *m, const char *server,
				      const char *uri)
{
	struct pick k = {0};
	for (size_t i = 0; i < m->npasses; i++)
		if (!m->passes[i].stream)
			pick(&k, &m->passes[i], server, uri);
	return k.best;
}

/* The cached answer for k, else nginx's, cached. */
static const struct ngx_pass *lookup(struct accessstats *s, struct loc_key *k, struct path *path)
{
	const struct ngx_model *m = s->m;
	/* a table of its own, not a strmap: the key is hashed and compared
	 * in its two parts where they are, not copied into one string that
	 * is then measured and compared (a `combined` line through
	 * accessstats: 1,356 instructions with the strmap, 1,277 with this;
	 * callgrind) */
	if (!s->loc) {
		/* the keys' room too: an empty key's place is never NULL */
		s->loc = xcalloc(LOC_SLOTS, sizeof(*s->loc));
		s->loc_keys_cap = 4096;
		s->loc_keys = xmalloc(s->loc_keys_cap);
	}
	k->hash = hash_bytes(k->pre, k->plen, 0);
	if (k->slen)
		k->hash = hash_mix64(k->hash ^ hash_bytes(k->server, k->slen, 0));
	k->hash += !k->hash;
	const struct loc_slot *hit = loc_find(s, k);
	if (hit->hash)
		return hit->pass ? &m->passes[hit->pass - 1] : NULL;
	const struct ngx_pass *best = pass_of(m, k->server, accessstats_path_text(path));
	loc_put(s, k, best ? (size_t)(best - m->passes) + 1 : 0);
	return best;
}

/* The answer through the table, from the raw path at s[0, len). */
static const struct ngx_pass *by_table(struct accessstats *s, const char *server, size_t slen,
				       struct path *path, const char *raw, size_t len,
				       unsigned stop)
{
	/* the prefix is the raw path's when it holds no escape */
	struct loc_key k = {.server = server, .slen = slen, .pre = raw};
	if (!raw_prefix(raw, len, stop, s->prefix_max + 1, &k.plen)) {
		k.pre = accessstats_path_text(path);
		k.plen = MIN(strlen(k.pre), s->prefix_max + 1);
	}
	if (k.slen > UINT16_MAX || k.plen > UINT16_MAX)
		return pass_of(s->m, server, accessstats_path_text(path));
	return lookup(s, &k, path);
}

const struct ngx_pass *accessstats_pass_by_location(struct accessstats *s, const char *server,
						    size_t slen, bool server_fixed,
						    struct path *path)
{
	const struct ngx_model *m = s->m;
	const char *raw;
	size_t len, want = s->prefix_max + 1;
	unsigned stop;
	raw_span(path, &raw, &len, &stop);
	if (!server_fixed || want > 16)
		return by_table(s, server, slen, path, raw, len, stop);
	/* the front: a server the format names (its pointer stands for it)
	 * and the path's first want raw bytes, as they are: with no escape
	 * among them they tell the answer, whatever else they hold (a query,
	 * the rest of $request). One multiply finds the slot, one compare
	 * tells the answer, and the bytes are not scanned (the table's hash,
	 * probe and key compare for every line: 859 -> 817 instructions a
	 * `combined` line; the scan too: 817 -> 749, callgrind). */
	if (!s->front)
		s->front = xcalloc(FRONT_SLOTS, sizeof(*s->front));
	size_t n = MIN(len, want);
	uint64_t w0, w1;
	textscan_words(raw, n, &w0, &w1);
	uint64_t h =
	    (w0 ^ (w1 * 0x9e3779b97f4a7c15ull) ^ (uintptr_t)server ^ n) * 0xff51afd7ed558ccdull;
	struct front_slot *f = &s->front[h >> (64 - FRONT_BITS)];
	/* a kept key has no escape: neither has a line's equal to it */
	if (f->plen1 == n + 1 && f->w0 == w0 && f->w1 == w1 && f->server == server)
		return f->pass ? &m->passes[f->pass - 1] : NULL;
	const struct ngx_pass *best = by_table(s, server, slen, path, raw, len, stop);
	if (!memchr(raw, '\\', n))
		*f = (struct front_slot){.w0 = w0,
					 .w1 = w1,
					 .server = server,
					 .plen1 = (uint32_t)n + 1,
					 .pass = best ? (uint32_t)(best - m->passes) + 1 : 0};
	return best;
}

const struct ngx_pass *accessstats_pass_by_peer(const struct ngx_model *m, const struct ngx_peer *p,
						const char *server, const char *uri)
{
	struct pick k = {0};
	for (size_t j = 0; j < p->npasses; j++)
		pick(&k, &m->passes[p->passes[j]], server, uri);
	return k.best;
}
