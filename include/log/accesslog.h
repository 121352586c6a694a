/* accesslog: nginx access-log lines, read with the log_format that wrote
 * them.
 *
 * A format is compiled once into literal and variable segments; a line is
 * then matched against them, and the variables upwatch uses come back as
 * slices of the line (no allocation, no copy). Where a value could end at
 * several places (a variable followed by a space, a list of upstream
 * addresses "a:80, b:80 : c:80"), the matcher tries them in order, skips
 * list separators inside the upstream variables, checks the shape of the
 * values it knows ($status is three digits) and backs off within a fixed
 * step budget: a line costs a bounded amount of work whatever it holds.
 *
 * nginx escapes what it writes of a variable (escape=default: `"`, `\` and
 * bytes < 0x20 or > 0x7e as \xHH; escape=json: JSON string escapes), never
 * the format's literal text; accesslog_unescape() undoes it for the values a
 * caller needs as text (the URI). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "nginx/ngxconf.h"

enum accesslog_var {
	ACCESSLOG_OTHER, /* a variable upwatch does not read */
	ACCESSLOG_STATUS,
	ACCESSLOG_REQUEST,
	ACCESSLOG_REQUEST_URI,
	ACCESSLOG_URI,
	ACCESSLOG_UPSTREAM_ADDR,
	ACCESSLOG_UPSTREAM_STATUS,
	ACCESSLOG_UPSTREAM_RESPONSE_TIME,
	ACCESSLOG_REQUEST_TIME,
	ACCESSLOG_HOST,
	ACCESSLOG_SERVER_NAME,
	ACCESSLOG_TIME_LOCAL,
	ACCESSLOG_TIME_ISO8601,
	ACCESSLOG_REMOTE_ADDR,
	ACCESSLOG_NVARS,
};

/* Limits on a format (it comes from a configuration file) and on the work
 * spent on one line. */
#define ACCESSLOG_MAX_FORMAT   4096
#define ACCESSLOG_MAX_SEGMENTS 256
#define ACCESSLOG_MAX_STEPS    4096
#define ACCESSLOG_MAX_TRIES    32 /* upstream entries read from one line */

struct accesslog_format; /* private: accesslog.c */

/* Compile a log_format string. -EINVAL for an empty format or a `$` with no
 * name; -E2BIG past the limits. */
int accesslog_format_new(const char *format, enum ngx_log_escape escape,
			 struct accesslog_format **ret);
void accesslog_format_free(struct accesslog_format *f);
/* Whether the format writes variable v. */
bool accesslog_format_has(const struct accesslog_format *f, enum accesslog_var v);
enum ngx_log_escape accesslog_format_escape(const struct accesslog_format *f);
/* The name ("upstream_addr") of a variable this module reads. */
const char *accesslog_var_name(enum accesslog_var v);

struct accesslog_field {
	const char *p; /* into the line; NULL when the format lacks it */
	size_t len;
};

struct accesslog_line {
	struct accesslog_field v[ACCESSLOG_NVARS];
};

/* Match one line (no newline) against f. 0 and *ret filled, or -EINVAL when
 * the line is not one this format writes (or the step budget ran out). */
int accesslog_parse(const struct accesslog_format *f, const char *line, size_t len,
		    struct accesslog_line *ret);
/* The same into l, which the caller keeps for f across lines (zeroed
 * before the first): only the variables f writes are written, the others
 * stay NULL, so a line costs no clearing and no copy of l (accessstats:
 * 1,137 -> 1,075 instructions a `combined` line, callgrind). On
 * -EINVAL l holds no line (some of f's variables may have been written). */
int accesslog_parse_into(const struct accesslog_format *f, const char *line, size_t len,
			 struct accesslog_line *l);

/* Undo nginx's escaping of one value into out (NUL-terminated, cut at
 * outsize - 1). Returns the length written. */
size_t accesslog_unescape(enum ngx_log_escape escape, const char *in, size_t len, char *out,
			  size_t outsize);

/* The HTTP status, or -EINVAL. Inline: 946 -> 941
 * instructions a `combined` line through accessstats (callgrind). */
static inline int accesslog_status(const struct accesslog_line *l)
{
	const struct accesslog_field *s = &l->v[ACCESSLOG_STATUS];
	if (!s->p || s->len != 3)
		return -EINVAL;
	unsigned a = (unsigned)(s->p[0] - '0'), b = (unsigned)(s->p[1] - '0'),
		 c = (unsigned)(s->p[2] - '0');
	return a < 10 && b < 10 && c < 10 ? (int)(a * 100 + b * 10 + c) : -EINVAL;
}
/* The request path (no query string), unescaped, from $request_uri, $uri
 * or the target of $request, in that order. Returns its length, 0 when the
 * line has none. */
size_t accesslog_path(const struct accesslog_line *l, enum ngx_log_escape escape, char *out,
		      size_t outsize);
/* The same request target as written in the line: escaped, with its query
 * string. false when the line has none. */
bool accesslog_raw_path(const struct accesslog_line *l, const char **ret, size_t *ret_len);
/* The request's time from $time_iso8601 or $time_local, or -EINVAL. */
int accesslog_time(const struct accesslog_line *l, time_t *ret);

/* One try of nginx's upstream module: an entry of $upstream_addr with the
 * status and time at the same place of their lists. `redirect` marks the
 * first try after a " : " (an internal redirect to another group). */
struct accesslog_try {
	const char *addr; /* into the line */
	size_t addr_len;
	int status;	 /* -1: "-" or absent (no response) */
	int64_t time_ms; /* -1: "-" or absent */
	bool redirect;
};

/* The tries of a line, at most max; returns how many were written. */
size_t accesslog_tries(const struct accesslog_line *l, struct accesslog_try *ret, size_t max);
