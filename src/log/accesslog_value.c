/* accesslog_value: the values a matched access-log line holds (see
 * accesslog.h): unescaping, the status, the request path, the time and the
 * upstream tries. Matching is accesslog.c's. */
#include "log/accesslog.h"

#include <errno.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t accesslog_unescape(enum ngx_log_escape escape, const char *in, size_t len, char *out,
			  size_t outsize)
{
	size_t o = 0;
	if (outsize == 0)
		return 0;
	for (size_t i = 0; i < len && o + 1 < outsize; i++) {
		char c = in[i];
		if (c == '\\' && escape == NGX_ESCAPE_DEFAULT && i + 3 < len + 0 &&
		    in[i + 1] == 'x' && hexval(in[i + 2]) >= 0 && hexval(in[i + 3]) >= 0) {
			c = (char)(hexval(in[i + 2]) * 16 + hexval(in[i + 3]));
			i += 3;
		} else if (c == '\\' && escape == NGX_ESCAPE_JSON && i + 1 < len) {
			char e = in[++i];
			switch (e) {
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'u':
				if (i + 4 < len && in[i + 1] == '0' && in[i + 2] == '0' &&
				    hexval(in[i + 3]) >= 0 && hexval(in[i + 4]) >= 0) {
					c = (char)(hexval(in[i + 3]) * 16 + hexval(in[i + 4]));
					i += 4;
				} else {
					c = '?';
				}
				break;
			default:
				c = e; /* \" \\ \/ */
			}
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return o;
}

bool accesslog_raw_path(const struct accesslog_line *l, const char **ret, size_t *ret_len)
{
	const struct accesslog_field *u = &l->v[ACCESSLOG_REQUEST_URI];
	if (!u->p || (u->len == 1 && u->p[0] == '-'))
		u = &l->v[ACCESSLOG_URI];
	if (u->p && !(u->len == 1 && u->p[0] == '-')) {
		*ret = u->p;
		*ret_len = u->len;
		return true;
	}
	if (!l->v[ACCESSLOG_REQUEST].p)
		return false;
	/* "GET /x?y HTTP/1.1": the target between the first two spaces */
	const char *r = l->v[ACCESSLOG_REQUEST].p, *re = r + l->v[ACCESSLOG_REQUEST].len;
	const char *sp = memchr(r, ' ', (size_t)(re - r));
	if (!sp)
		return false;
	const char *p = sp + 1;
	const char *sp2 = memchr(p, ' ', (size_t)(re - p));
	*ret = p;
	*ret_len = (size_t)((sp2 ? sp2 : re) - p);
	return true;
}

size_t accesslog_path(const struct accesslog_line *l, enum ngx_log_escape escape, char *out,
		      size_t outsize)
{
	const char *p;
	size_t len;
	if (outsize == 0)
		return 0;
	if (!accesslog_raw_path(l, &p, &len)) {
		out[0] = '\0';
		return 0;
	}
	size_t n = accesslog_unescape(escape, p, len, out, outsize);
	char *q = memchr(out, '?', n);
	if (q) {
		*q = '\0';
		n = (size_t)(q - out);
	}
	return n;
}

static int num(const char *p, size_t len, int *ret)
{
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (p[i] - '0');
	}
	*ret = v;
	return 0;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_num(const char *p)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (int i = 0; i < 12; i++)
		if (memcmp(months + 3 * i, p, 3) == 0)
			return i + 1;
	return -1;
}

static int stamp(int y, int mo, int d, int h, int mi, int s, int off_min, time_t *ret)
{
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -EINVAL;
	*ret = (time_t)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s -
			(int64_t)off_min * 60);
	return 0;
}

int accesslog_time(const struct accesslog_line *l, time_t *ret)
{
	const struct accesslog_field *t = &l->v[ACCESSLOG_TIME_ISO8601];
	int y, mo, d, h, mi, s, oh, om;
	if (t->p && t->len == 25) {
		/* 2026-11-29T21:59:25+00:00 */
		const char *p = t->p;
		if (num(p, 4, &y) || num(p + 5, 2, &mo) || num(p + 8, 2, &d) ||
		    num(p + 11, 2, &h) || num(p + 14, 2, &mi) || num(p + 17, 2, &s) ||
		    num(p + 20, 2, &oh) || num(p + 23, 2, &om) || (p[19] != '+' && p[19] != '-'))
			return -EINVAL;
		int off = (oh * 60 + om) * (p[19] == '-' ? -1 : 1);
		return stamp(y, mo, d, h, mi, s, off, ret);
	}
	t = &l->v[ACCESSLOG_TIME_LOCAL];
	if (t->p && t->len == 26) {
		/* 29/Nov/2026:21:59:25 +0000 */
		const char *p = t->p;
		mo = month_num(p + 3);
		if (num(p, 2, &d) || mo < 0 || num(p + 7, 4, &y) || num(p + 12, 2, &h) ||
		    num(p + 15, 2, &mi) || num(p + 18, 2, &s) || num(p + 22, 2, &oh) ||
		    num(p + 24, 2, &om) || (p[21] != '+' && p[21] != '-'))
			return -EINVAL;
		int off = (oh * 60 + om) * (p[21] == '-' ? -1 : 1);
		return stamp(y, mo, d, h, mi, s, off, ret);
	}
	return -EINVAL;
}

/* --- upstream tries --- */

struct list {
	const char *p, *end;
};

/* The next entry of a ", " / " : " list; *redirect when " : " preceded it. */
static bool next_entry(struct list *li, const char **ret, size_t *ret_len, bool *redirect)
{
	*redirect = false;
	if (!li->p || li->p >= li->end)
		return false;
	const char *s = li->p;
	if (s + 3 <= li->end && memcmp(s, " : ", 3) == 0) {
		*redirect = true;
		s += 3;
	} else if (s + 2 <= li->end && memcmp(s, ", ", 2) == 0) {
		s += 2;
	}
	const char *e = s;
	while (e < li->end && !(e + 1 < li->end && e[0] == ',' && e[1] == ' ') &&
	       !(e + 2 < li->end && memcmp(e, " : ", 3) == 0))
		e++;
	*ret = s;
	*ret_len = (size_t)(e - s);
	li->p = e;
	return true;
}

static int64_t time_ms(const char *p, size_t len)
{
	int64_t sec = 0, ms = 0;
	size_t i = 0, frac = 0;
	if (len == 0 || (len == 1 && p[0] == '-'))
		return -1;
	for (; i < len && p[i] >= '0' && p[i] <= '9'; i++)
		sec = sec * 10 + (p[i] - '0');
	if (i < len && p[i] == '.')
		for (i++; i < len && p[i] >= '0' && p[i] <= '9' && frac < 3; i++, frac++)
			ms = ms * 10 + (p[i] - '0');
	while (frac++ < 3)
		ms *= 10;
	return sec > INT64_MAX / 2000 ? -1 : sec * 1000 + ms;
}

size_t accesslog_tries(const struct accesslog_line *l, struct accesslog_try *ret, size_t max)
{
	const struct accesslog_field *a = &l->v[ACCESSLOG_UPSTREAM_ADDR];
	const struct accesslog_field *st = &l->v[ACCESSLOG_UPSTREAM_STATUS];
	const struct accesslog_field *tm = &l->v[ACCESSLOG_UPSTREAM_RESPONSE_TIME];
	if (!a->p || (a->len == 1 && a->p[0] == '-') || a->len == 0)
		return 0;
	struct list la = {a->p, a->p + a->len};
	struct list ls = {st->p, st->p ? st->p + st->len : NULL};
	struct list lt = {tm->p, tm->p ? tm->p + tm->len : NULL};
	size_t n = 0;
	const char *e;
	size_t elen;
	bool redirect, ignored;
	while (n < max && next_entry(&la, &e, &elen, &redirect)) {
		struct accesslog_try t = {
		    .addr = e, .addr_len = elen, .status = -1, .time_ms = -1, .redirect = redirect};
		const char *v;
		size_t vlen;
		int code;
		if (next_entry(&ls, &v, &vlen, &ignored) && vlen == 3 && num(v, 3, &code) == 0)
			t.status = code;
		if (next_entry(&lt, &v, &vlen, &ignored))
			t.time_ms = time_ms(v, vlen);
		ret[n++] = t;
	}
	return n;
}
