/* util: allocation wrappers, clocks, durations and small file helpers. */
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "upwatch: out of memory\n";
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc_lines(size_t size)
{
	size = (size + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, size ? size : 64);
	if (!p)
		oom();
	return memset(p, 0, size);
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return s;
}

void *grow_array(void *arr, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return arr;
	size_t n = *cap ? *cap * 2 : 8;
	while (n < need)
		n *= 2;
	arr = xreallocarray(arr, n, size);
	*cap = n;
	return arr;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t now_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* The temporary file is created exclusively and never through a symlink: a
 * planted "path.tmp" link (the state directory may be writable by others
 * than us) must not make us write elsewhere. A leftover temp file or link is
 * removed (unlink removes the link, not its target) and creation retried
 * once. The directory is fsynced after the rename so the new name survives a
 * crash. */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[4096], dir[4096];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;

	int fd = -1;
	for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && (errno != EEXIST || attempt > 0 || unlink(tmp) < 0))
			return -errno;
	}
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int r = -errno;
			close(fd);
			unlink(tmp);
			return r;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		int r = -errno;
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		int r = -errno;
		unlink(tmp);
		return r;
	}
	const char *slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int r = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	return r;
}

int read_fd(int fd, size_t max, char **ret_data, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				free(buf);
				return -EFBIG;
			}
			cap = MIN(cap * 2, max);
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			free(buf);
			return e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*ret_data = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = read_fd(fd, max, ret_data, ret_len);
	close(fd);
	return r;
}

int read_regular_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = S_ISDIR(st.st_mode) ? -EISDIR : -ENOEXEC;
	if (r == 0 && (uint64_t)st.st_size > max)
		r = -EFBIG;
	if (r == 0)
		r = read_fd(fd, max, ret_data, ret_len);
	close(fd);
	return r;
}

int parse_u64_prefix(const char **s, uint64_t *ret)
{
	const char *p = *s;
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*ret = v;
	return 0;
}

int parse_uint(const char *s, unsigned max, unsigned *ret)
{
	uint64_t v;
	int r = parse_u64_prefix(&s, &v);
	if (r < 0)
		return r;
	if (v > max)
		return -ERANGE;
	if (*s)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

int parse_duration_ms(const char *s, uint64_t *ret_ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
	    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000},
	};
	uint64_t v;
	const char *p = s;
	int r = parse_u64_prefix(&p, &v);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (streq(p, units[i].unit)) {
			if (v > UINT64_MAX / units[i].ms)
				return -ERANGE;
			*ret_ms = v * units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}

void format_time_ms(int64_t ms, char buf[static 32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	size_t n = strlen(buf);
	snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}
