/* util: small helpers shared by every module (no state, no logging). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_SIZE(a)			(sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define MIN(a, b)			((a) < (b) ? (a) : (b))
#define MAX(a, b)			((a) > (b) ? (a) : (b))
#define streq(a, b)			(strcmp((a), (b)) == 0)

/* Allocation failure of small bookkeeping structs is not recoverable for a
 * daemon of this size: these abort with a message instead of returning NULL,
 * so callers stay readable. Large or outsider-sized buffers are bounded
 * before they reach here. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* size bytes, zeroed, starting on a cache line (64 bytes), for records laid
 * out by cache line; free() frees them. */
void *xcalloc_lines(size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow *arr (of *cap elements of size) so that it holds at least need. */
void *grow_array(void *arr, size_t *cap, size_t need, size_t size);

static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Wall clock in milliseconds since the epoch, and monotonic milliseconds. */
int64_t now_wall_ms(void);
int64_t now_mono_ms(void);

/* Write data to path atomically: temp file in the same directory, fsync, rename. */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* Read a whole small file (at most max bytes, else -EFBIG) into a
 * NUL-terminated buffer; ret_len may be NULL. read_file takes what open()
 * gives (a pipe such as /dev/stdin too); read_regular_file opens without
 * blocking and refuses anything but a regular file (-EISDIR, -ENOEXEC), for
 * paths an outsider may have made a FIFO. read_fd reads an open fd to EOF. */
int read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
int read_regular_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
int read_fd(int fd, size_t max, char **ret_data, size_t *ret_len);

/* The leading decimal digits of *s as a number; *s is advanced past them.
 * -EINVAL when *s does not start with a digit, -ERANGE when it overflows. */
int parse_u64_prefix(const char **s, uint64_t *ret);

/* A decimal number of at most max, digits only. -EINVAL / -ERANGE. */
int parse_uint(const char *s, unsigned max, unsigned *ret);

/* "500ms", "5s", "1m", "1h", "2d", bare number = seconds. */
int parse_duration_ms(const char *s, uint64_t *ret_ms);

/* Format an epoch-ms time as RFC 3339 UTC ("2026-11-21T11:15:52.123Z"). */
void format_time_ms(int64_t ms, char buf[static 32]);
