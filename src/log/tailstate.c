/* tailstate: tail's offsets file (see tailstate.h).
 *
 * Kept apart from tail.c so the parser of a file that survives restarts can
 * be tested and fuzzed without an event loop. A text format rather than JSON
 * because every field is a number except the path, which goes last. */
#include "log/tailstate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "core/util.h"

#define TAILSTATE_HEADER "upwatch-tail-state 1\n"

void tailstate_init(struct tailstate *st)
{
	*st = (struct tailstate){0};
}

void tailstate_done(struct tailstate *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->v[i].path);
	free(st->v);
	*st = (struct tailstate){0};
}

void tailstate_add(struct tailstate *st, const struct tailstate_entry *e)
{
	st->v = grow_array(st->v, &st->cap, st->n + 1, sizeof(*st->v));
	st->v[st->n] = *e;
	st->v[st->n].path = xstrdup(e->path);
	st->n++;
}

/* Parse a decimal or hex unsigned number; *p advances past it and one space. */
static bool parse_u64(const char **p, const char *end, int base, uint64_t *ret)
{
	uint64_t v = 0;
	const char *s = *p;
	int digits = 0;

	for (; s < end && *s != ' '; s++, digits++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + d;
	}
	if (digits == 0 || s >= end)
		return false;
	*p = s + 1;
	*ret = v;
	return true;
}

static bool parse_line(const char *s, const char *end, struct tailstate_entry *e)
{
	uint64_t fplen, skip;

	if (!parse_u64(&s, end, 10, &e->dev) || !parse_u64(&s, end, 10, &e->ino) ||
	    !parse_u64(&s, end, 10, &e->offset) || !parse_u64(&s, end, 16, &e->fp_hash) ||
	    !parse_u64(&s, end, 10, &fplen) || !parse_u64(&s, end, 10, &skip))
		return false;
	if (fplen > 4096 || skip > 1 || s >= end || memchr(s, '\0', (size_t)(end - s)))
		return false;
	e->fp_len = (uint32_t)fplen;
	e->skipping = skip;
	e->path = xstrndup(s, (size_t)(end - s));
	return true;
}

int tailstate_parse(struct tailstate *st, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	int added = 0;

	if (len < strlen(TAILSTATE_HEADER) ||
	    memcmp(data, TAILSTATE_HEADER, strlen(TAILSTATE_HEADER)))
		return 0;
	p += strlen(TAILSTATE_HEADER);
	while (p < end && st->n < TAILSTATE_MAX_ENTRIES) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break; /* a torn last line is not trusted */
		struct tailstate_entry e = {0};
		if (parse_line(p, nl, &e)) {
			st->v = grow_array(st->v, &st->cap, st->n + 1, sizeof(*st->v));
			st->v[st->n++] = e;
			added++;
		}
		p = nl + 1;
	}
	return added;
}

void tailstate_format(const struct tailstate *st, char **ret_data, size_t *ret_len)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_puts(&b, TAILSTATE_HEADER);
	for (size_t i = 0; i < st->n; i++) {
		const struct tailstate_entry *e = &st->v[i];
		if (strchr(e->path, '\n') || !e->path[0])
			continue;
		strbuf_printf(
		    &b, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %016" PRIx64 " %" PRIu32 " %d %s\n",
		    e->dev, e->ino, e->offset, e->fp_hash, e->fp_len, e->skipping ? 1 : 0, e->path);
	}
	*ret_len = b.len;
	*ret_data = strbuf_steal(&b);
}

/* The state file is opened O_NONBLOCK | O_NOFOLLOW and must be a regular
 * file: a FIFO planted there would block open() or read() forever, a
 * symlink would read or overwrite someone else's file. */
int tailstate_load(struct tailstate *st, const char *file)
{
	struct stat sb;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : errno == ELOOP ? -EINVAL : -errno;
	int r = 0;
	if (fstat(fd, &sb) < 0)
		r = -errno;
	else if (!S_ISREG(sb.st_mode))
		r = -EINVAL;
	else if (sb.st_size > TAILSTATE_MAX_BYTES)
		r = -EFBIG;
	char *data = r < 0 ? NULL : xmalloc((size_t)sb.st_size + 1);
	size_t len = 0;
	while (r == 0 && len < (size_t)sb.st_size) {
		ssize_t n = read(fd, data + len, (size_t)sb.st_size - len);
		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n == 0)
			break; /* shrank meanwhile: parse what is there */
		else if (n > 0)
			len += (size_t)n;
	}
	close(fd);
	if (r == 0)
		tailstate_parse(st, data, len);
	free(data);
	return r;
}

/* Write FILE.tmp (O_EXCL | O_NOFOLLOW: never through a planted link), fsync,
 * rename over FILE, fsync the directory. FILE itself must be absent or a
 * regular file. */
int tailstate_save(const struct tailstate *st, const char *file)
{
	struct stat sb;
	if (lstat(file, &sb) == 0 && !S_ISREG(sb.st_mode))
		return -EINVAL;

	char *data, *tmp = xasprintf("%s.tmp", file);
	size_t len;
	tailstate_format(st, &data, &len);
	int r = 0;
	(void)unlink(tmp); /* a leftover of a crash, or something planted */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	for (size_t off = 0; off < len && r == 0;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, file) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		goto out;
	}
	char *slash = strrchr(file, '/');
	char *dir = slash ? xstrndup(file, (size_t)(slash - file) + (slash == file)) : xstrdup(".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd); /* the rename is done; a failed flush is not a failed save */
		close(dfd);
	}
	free(dir);
out:
	free(data);
	free(tmp);
	return r;
}
