/* logseek: bisect a log on its entry times (see logseek.h).
 *
 * Invariant: every entry starting before `lo` is older than since; the
 * first entry at or after `hi` is not. A probe reads one block at mid, steps
 * to the next line start and takes the first line that parses as an entry:
 * if it is older, lo moves past it, else hi moves to it. Blocks are small
 * and the loop ends when lo and hi meet, so a 2 GB file costs about 31
 * probes; lines are capped by TAIL_LINE_MAX like the follower caps them. */
#include "log/logseek.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/errlog.h"
#include "log/tail.h"

#define BLOCK (2 * TAIL_LINE_MAX)

/* From pos (a line start), the first entry starting before limit: its start,
 * the offset after its line, and its time. 1 found, 0 none, or -errno. */
struct seek {
	int fd;
	logseek_time_fn time;
	void *ud;
};

static int first_entry(const struct seek *sk, off_t pos, off_t limit, off_t *ret_start,
		       off_t *ret_next, time_t *ret_time)
{
	int fd = sk->fd;
	char buf[BLOCK];
	while (pos < limit) {
		ssize_t n = pread(fd, buf, sizeof(buf), pos);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		char *nl = memchr(buf, '\n', (size_t)n);
		size_t len = nl ? (size_t)(nl - buf) : (size_t)n;
		time_t t;
		if (sk->time(sk->ud, buf, len, &t) == 0) {
			*ret_start = pos;
			*ret_next = pos + (off_t)len + (nl ? 1 : 0);
			*ret_time = t;
			return 1;
		}
		if (!nl && (size_t)n < sizeof(buf))
			break; /* a last, unterminated non-entry */
		pos += (off_t)len + 1;
	}
	return 0;
}

/* The start of the line after the one holding pos - 1 (pos itself when it
 * is a line start). */
static int line_start_at(int fd, off_t pos, off_t size, off_t *ret)
{
	char buf[4096];
	if (pos == 0) {
		*ret = 0;
		return 0;
	}
	for (off_t at = pos - 1; at < size;) {
		ssize_t n = pread(fd, buf, sizeof(buf), at);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		char *nl = memchr(buf, '\n', (size_t)n);
		if (nl) {
			*ret = at + (nl - buf) + 1;
			return 0;
		}
		at += n;
	}
	*ret = size;
	return 0;
}

static int errlog_time(void *ud, const char *line, size_t len, time_t *ret)
{
	struct errlog_event ev;
	(void)ud;
	if (errlog_parse(line, len, &ev) < 0)
		return -EINVAL;
	*ret = ev.time;
	return 0;
}

int logseek_since(int fd, time_t since, off_t *ret_offset)
{
	return logseek_since_by(fd, since, errlog_time, NULL, ret_offset);
}

int logseek_since_by(int fd, time_t since, logseek_time_fn fn, void *ud, off_t *ret_offset)
{
	const struct seek sk = {.fd = fd, .time = fn, .ud = ud};
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	off_t lo = 0, hi = st.st_size;
	while (lo < hi) {
		off_t mid, start, next;
		time_t t;
		int r = line_start_at(fd, lo + (hi - lo) / 2, hi, &mid);
		if (r < 0)
			return r;
		if (mid >= hi)
			mid = lo; /* the middle line runs past hi: probe from lo */
		r = first_entry(&sk, mid, hi, &start, &next, &t);
		if (r < 0)
			return r;
		if (r == 0)
			hi = mid; /* no entry in [mid, hi) */
		else if (t < since)
			lo = next;
		else
			hi = start;
	}
	*ret_offset = hi;
	return 0;
}
