/* tailsrc: one open file read line by line (see tailsrc.h).
 *
 * Kept apart from tail.c, which decides what to follow and when to read:
 * this is the part that must never deliver a line twice or a torn line,
 * and the only part that has to reason about truncation races. */
#include "log/tailsrc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "log/errlog.h"
#include "log/tailstate.h"
#include "core/hash.h"
#include "core/util.h"

#define TAILSRC_SCAN_MAX 4096	    /* directory entries looked at for a sibling */
#define TAILSRC_OPEN_MAX 64	    /* siblings opened and compared */
#define TAILSRC_COPY_MAX (2u << 20) /* bytes read from a copytruncate copy */

static enum tail_take emit(struct tailsrc *s, const char *line, size_t len, bool may_open)
{
	const struct tailsrc_sink *k = s->sink;
	enum tail_take r = k->fn(k->userdata, k->path, k->index, line, len, may_open);
	if (r == TAIL_UNPARSED)
		k->stats->lines_unparsed++;
	return r;
}

static void entry_drop(struct tailsrc *s)
{
	free(s->entry);
	s->entry = NULL;
	s->entry_len = 0;
	s->entry_file = 0;
}

/* The held entry, given for the last time. */
static void entry_flush(struct tailsrc *s)
{
	if (!s->entry)
		return;
	emit(s, s->entry, s->entry_len, false);
	entry_drop(s);
}

/* One complete physical line (raw: its bytes in the file). A FastCGI
 * stderr entry whose text runs on over the next lines (a PHP stack trace)
 * is held while the callback calls it open, and given again joined by '\n'
 * with each next line, until its last line (the one with the context)
 * closes it, the next entry starts, it would pass TAIL_LINE_MAX, or the
 * file has nothing more for now. The callback's one parse of a line
 * decides: asking errlog_entry_open() first was 123 of the daemon's 2,110
 * instructions a real line (callgrind, 200 MB). lines counts physical
 * lines. */
static void entry_hold(struct tailsrc *s, const char *line, size_t len, uint64_t raw)
{
	s->entry = xmalloc(TAIL_LINE_MAX);
	memcpy(s->entry, line, len);
	s->entry_len = len;
	s->entry_file = raw;
}

static void deliver(struct tailsrc *s, const char *line, size_t len, uint64_t raw)
{
	s->sink->stats->lines++;
	if (s->entry) {
		if (!errlog_entry_start(line, len) && s->entry_len + 1 + len <= TAIL_LINE_MAX) {
			s->entry[s->entry_len++] = '\n';
			memcpy(s->entry + s->entry_len, line, len);
			s->entry_len += len;
			s->entry_file += raw;
			/* a stack trace's lines without the context: no parse of the
			 * entry at each (2.4 M of 114 M instructions on 20 MB of real
			 * lines, callgrind) */
			if (errlog_entry_stays_open(s->entry_len, line, len))
				return;
			if (emit(s, s->entry, s->entry_len, true) != TAIL_OPEN)
				entry_drop(s);
			return;
		}
		entry_flush(s);
	}
	if (emit(s, line, len, true) == TAIL_OPEN)
		entry_hold(s, line, len, raw);
}

/* The first byte of [p, end) that is not NUL, or end: eight bytes a step,
 * so a run of zeros costs what memchr would. */
static const char *skip_nul(const char *p, const char *end)
{
	while (p < end && ((uintptr_t)p & 7))
		if (*p++)
			return p - 1;
	for (uint64_t w; end - p >= 8; p += 8) {
		memcpy(&w, p, 8);
		if (w)
			break;
	}
	while (p < end && !*p)
		p++;
	return p;
}

/* The newline search. With AVX2, a 64-byte window's newlines are kept as a
 * bit mask, so a line that ends in the window of the one before costs a
 * shift; the others scan 64 bytes a step (the last < 64 bytes of the data:
 * memchr; without AVX2: memchr). Measured (callgrind, real.log, 67,496
 * lines): libc's __memchr_avx2 5.80 M Ir, 94.6 k Bcm -> this 4.95 M Ir,
 * 47 k Bcm, the same 327 k D1mr (the first touch of each line's bytes);
 * the feed without diagnosis (feed incl. - diag_log_event incl.) Ir, Bcm,
 * Bim, D1mr, D1mw 76.89 M, 492 k, 3.2 k, 442 k, 9.2 k -> 76.39 M, 449 k,
 * 4.0 k, 444 k, 9.8 k (estimate -1.1 M). */
struct nlscan {
	const char *at; /* the window [at, at + 64) */
	uint64_t mask;	/* its newlines, bit i: at[i] */
};

#ifdef __x86_64__
static bool have_avx2;

__attribute__((target("avx2"))) static const char *find_nl_avx2(struct nlscan *sc, const char *p,
								const char *end)
{
	size_t off = (size_t)(p - sc->at);
	if (off < 64) {
		uint64_t m = sc->mask >> off;
		if (m)
			return p + __builtin_ctzll(m);
		p = sc->at + 64;
	}
	const __m256i nl = _mm256_set1_epi8('\n');
	for (; end - p >= 64; p += 64) {
		__m256i lo = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)p), nl);
		__m256i hi = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + 32)), nl);
		__m256i any = _mm256_or_si256(lo, hi);
		if (_mm256_testz_si256(any, any))
			continue;
		sc->at = p;
		sc->mask = (uint64_t)(uint32_t)_mm256_movemask_epi8(hi) << 32 |
			   (uint32_t)_mm256_movemask_epi8(lo);
		return p + __builtin_ctzll(sc->mask);
	}
	return memchr(p, '\n', (size_t)(end - p));
}
#endif

static inline const char *find_nl(struct nlscan *sc, const char *p, const char *end)
{
#ifdef __x86_64__
	if (have_avx2)
		return find_nl_avx2(sc, p, end);
#endif
	(void)sc;
	return memchr(p, '\n', (size_t)(end - p));
}

/* Split data into lines. A line longer than TAIL_LINE_MAX is delivered cut
 * and the rest dropped up to its newline, so the buffer never grows. NULs at
 * a line start are skipped and counted.
 *
 * The common case (a whole line in the chunk, no entry held) calls the sink
 * here, its counts kept in locals and added once a chunk (lines_unparsed
 * without a branch: unparsed lines come at random). feed and deliver were
 * 67 instructions a real line, now 44; the feed's inclusive Ir, Bcm, Bim,
 * D1mr, D1mw 102.5 M, 629 k, 69 k, 575 k, 237 k -> 101.4 M, 635 k, 70 k,
 * 576 k, 238 k (callgrind, real.log, 67,496 lines; estimate 119.4 -> 118.5 M). */
static void feed(struct tailsrc *s, const char *data, size_t len)
{
	const struct tailsrc_sink *k = s->sink;
	const char *p = data, *end = data + len;
	uint64_t lines = 0, unparsed = 0;
	struct nlscan sc = {.at = end};

	s->in_nul = false; /* until a run of NULs reaches the end */
	while (p < end) {
		if (*p == '\0' && s->line_len == 0 && !s->skipping) {
			const char *q = skip_nul(p, end);
			k->stats->nul_bytes += (uint64_t)(q - p);
			s->in_nul = q == end;
			p = q;
			continue;
		}
		const char *nl = find_nl(&sc, p, end);
		size_t seg = (size_t)((nl ? nl : end) - p);

		if (nl && s->line_len == 0 && !s->skipping && !s->entry && seg <= TAIL_LINE_MAX) {
			/* the common case: no copy, nothing held */
			lines++;
			enum tail_take r = k->fn(k->userdata, k->path, k->index, p, seg, true);
			unparsed += r == TAIL_UNPARSED; /* no branch: mixed at random */
			if (r == TAIL_OPEN)
				entry_hold(s, p, seg, seg + 1);
		} else if (s->skipping) {
			if (nl)
				s->skipping = false;
		} else if (s->line_len + seg > TAIL_LINE_MAX) {
			size_t room = TAIL_LINE_MAX - s->line_len;
			memcpy(s->line + s->line_len, p, room);
			k->stats->lines_cut++;
			entry_flush(s);
			k->stats->lines++;
			emit(s, s->line, TAIL_LINE_MAX, false);
			s->line_len = 0;
			s->skipping = !nl;
		} else if (nl && s->line_len == 0) {
			deliver(s, p, seg, seg + 1); /* a line after a held entry */
		} else {
			memcpy(s->line + s->line_len, p, seg);
			s->line_len += seg;
			if (nl) {
				deliver(s, s->line, s->line_len, s->line_len + 1);
				s->line_len = 0;
			}
		}
		p += seg + (nl ? 1 : 0);
	}
	k->stats->lines += lines;
	k->stats->lines_unparsed += unparsed;
}

/* Bytes just read at [at, at + n): keep the head (fingerprint) and the
 * last bytes (to recognise a copy of this content later). */
static void track(struct tailsrc *s, uint64_t at, const char *data, size_t n)
{
	if (at < TAILSRC_FP_MAX && at == s->head_len) {
		size_t k = MIN(n, TAILSRC_FP_MAX - (size_t)at);
		memcpy(s->head + at, data, k);
		s->head_len += k;
	}
	if (n >= TAILSRC_LAST_MAX) {
		memcpy(s->last, data + n - TAILSRC_LAST_MAX, TAILSRC_LAST_MAX);
		s->last_len = TAILSRC_LAST_MAX;
	} else {
		size_t keep = MIN(s->last_len, TAILSRC_LAST_MAX - n);
		memmove(s->last, s->last + s->last_len - keep, keep);
		memcpy(s->last + keep, data, n);
		s->last_len = keep + n;
	}
}

static bool head_matches(int fd, const unsigned char *head, size_t len)
{
	unsigned char buf[TAILSRC_FP_MAX];
	if (len == 0)
		return true;
	return pread(fd, buf, len, 0) == (ssize_t)len && memcmp(buf, head, len) == 0;
}

bool tailsrc_fp_matches(int fd, uint64_t hash, uint32_t len)
{
	unsigned char buf[TAILSRC_FP_MAX];
	if (len > TAILSRC_FP_MAX)
		return false;
	return pread(fd, buf, len, 0) == (ssize_t)len && hash_fnv1a64(buf, len) == hash;
}

uint64_t tailsrc_fp_hash(const struct tailsrc *s)
{
	return hash_fnv1a64(s->head, s->head_len);
}

uint64_t tailsrc_resume_offset(const struct tailsrc *s)
{
	return (s->skipping ? s->offset : s->offset - s->line_len) - s->entry_file;
}

void tailsrc_init(struct tailsrc *s, const struct tailsrc_sink *sink, int fd, const struct stat *st,
		  uint64_t offset, bool skipping)
{
#ifdef __x86_64__
	have_avx2 = __builtin_cpu_supports("avx2");
#endif
	*s = (struct tailsrc){
	    .sink = sink,
	    .fd = fd,
	    .dev = st->st_dev,
	    .ino = st->st_ino,
	    .offset = offset,
	    .seen_size = offset,
	    .skipping = skipping,
	    .line = xmalloc(TAIL_LINE_MAX),
	};
	ssize_t n = pread(fd, s->head, MIN(offset, (uint64_t)TAILSRC_FP_MAX), 0);
	s->head_len = n > 0 ? (size_t)n : 0;
	if (offset > 0) {
		size_t k = (size_t)MIN(offset, (uint64_t)TAILSRC_LAST_MAX);
		n = pread(fd, s->last, k, (off_t)(offset - k));
		s->last_len = n > 0 ? (size_t)n : 0;
	}
}

void tailsrc_done(struct tailsrc *s, bool finished)
{
	if (finished) {
		if (s->line_len > 0 && !s->skipping)
			deliver(s, s->line, s->line_len, s->line_len);
		entry_flush(s);
	}
	free(s->entry);
	s->entry = NULL;
	s->line_len = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->line);
	s->line = NULL;
}

int tailsrc_find_sibling(const char *path, bool (*match)(int fd, const struct stat *st, void *ctx),
			 void *ctx, struct stat *ret_st)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t blen = strlen(base);
	char dir[PATH_MAX];
	int found = -ENOENT;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) + (slash == path), path);
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *de;
	int opened = 0;
	for (int seen = 0;
	     (de = readdir(d)) && seen < TAILSRC_SCAN_MAX && opened < TAILSRC_OPEN_MAX; seen++) {
		if (strncmp(de->d_name, base, blen) != 0 || de->d_name[blen] == '\0')
			continue;
		opened++;
		int fd =
		    openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
		if (fd < 0)
			continue;
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && match(fd, &st, ctx)) {
			*ret_st = st;
			found = fd;
			break;
		}
		close(fd);
	}
	closedir(d);
	return found;
}

/* A copy of s's content as it was up to s->offset at least: another file
 * with the same first bytes and, just before s->offset, the same bytes we
 * read last. */
static bool is_copy(int fd, const struct stat *st, void *ctx)
{
	const struct tailsrc *s = ctx;
	unsigned char buf[TAILSRC_LAST_MAX];
	size_t k = s->last_len;

	return !((uint64_t)st->st_dev == s->dev && (uint64_t)st->st_ino == s->ino) &&
	       (uint64_t)st->st_size >= s->offset && head_matches(fd, s->head, s->head_len) &&
	       pread(fd, buf, k, (off_t)(s->offset - k)) == (ssize_t)k &&
	       memcmp(buf, s->last, k) == 0;
}

/* Deliver what logrotate's copy holds beyond our position. Read now and
 * bounded: rotation is rare and the copy is not watched. Returns the end
 * of what is delivered; *ret_copy_size is the copy's size (0: none). */
static uint64_t copy_recover(struct tailsrc *s, char *buf, size_t size, uint64_t *ret_copy_size)
{
	struct stat st;
	uint64_t delivered = s->offset;
	int fd = tailsrc_find_sibling(s->sink->path, is_copy, s, &st);

	*ret_copy_size = 0;
	if (fd < 0)
		return delivered;
	uint64_t end = MIN((uint64_t)st.st_size, s->offset + TAILSRC_COPY_MAX);
	*ret_copy_size = (uint64_t)st.st_size;
	while (delivered < end) {
		ssize_t n =
		    pread(fd, buf, (size_t)MIN(end - delivered, (uint64_t)size), (off_t)delivered);
		if (n <= 0)
			break;
		s->sink->stats->bytes += (uint64_t)n;
		feed(s, buf, (size_t)n);
		delivered += (uint64_t)n;
	}
	close(fd);
	return delivered;
}

/* The content was replaced in place (copytruncate, or a writer's own
 * truncate): count it, finish from the copy, account for loss, restart at 0.
 *
 * Loss rule. Lines are lost when they were written after what we read and
 * after what the copy holds, before the truncate. Lines never seen cannot
 * be counted, so we count what is provable: one line when we hold the start
 * of a line whose end is gone, or when we saw (fstat) bytes beyond all we
 * delivered, which must begin at least one line. Lines written and truncated
 * away between two of our reads leave no trace: lines_lost is a lower
 * bound, exact when the loss was observable (never an over-count). */
static void truncated(struct tailsrc *s, char *buf, size_t size)
{
	uint64_t known_end = s->seen_size, delivered = s->offset;

	s->sink->stats->truncations++;
	if (s->offset > 0 && s->head_len > 0) {
		uint64_t copy_size;
		delivered = copy_recover(s, buf, size, &copy_size);
		known_end = MAX(known_end, copy_size);
	}
	if (!s->skipping && (s->line_len > 0 || known_end > delivered))
		s->sink->stats->lines_lost++;
	entry_flush(s);
	s->offset = s->seen_size = 0;
	s->line_len = s->head_len = s->last_len = 0;
	s->skipping = false;
}

/* Inside a run of NULs: jump over the hole (a sparse region is never
 * read), counting it as NUL bytes. Written zeros are skipped by feed(). */
static void skip_hole(struct tailsrc *s, const struct stat *st)
{
	off_t data = lseek(s->fd, (off_t)s->offset, SEEK_DATA);
	uint64_t to = data >= 0	       ? (uint64_t)data
		      : errno == ENXIO ? (uint64_t)st->st_size /* a hole up to the end */
				       : s->offset;	       /* no SEEK_DATA here */
	if (to > s->offset) {
		s->sink->stats->nul_bytes += to - s->offset;
		s->offset = to;
		s->seen_size = MAX(s->seen_size, to);
		s->last_len = 0; /* the bytes before the position are not known */
	}
}

/* The head check runs after the read: if the first bytes are still ours
 * then, the content was not replaced before the read either, so the chunk
 * belongs to it; otherwise it may be new content at an old offset and is
 * thrown away. */
int64_t tailsrc_read(struct tailsrc *s, char *buf, size_t size)
{
	struct stat st;

	s->more = false;
	if (fstat(s->fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < s->offset)
		truncated(s, buf, size);
	else if (s->in_nul)
		skip_hole(s, &st);
	ssize_t n = pread(s->fd, buf, size, (off_t)s->offset);
	if (n < 0)
		return -errno;
	if (!head_matches(s->fd, s->head, s->head_len)) {
		truncated(s, buf, size);
		s->more = true; /* read the new content from 0 */
		return 0;
	}
	s->seen_size = MAX(s->seen_size, (uint64_t)st.st_size);
	if (n == 0)
		return 0;
	track(s, s->offset, buf, (size_t)n);
	s->offset += (uint64_t)n;
	s->seen_size = MAX(s->seen_size, s->offset);
	s->sink->stats->bytes += (uint64_t)n;
	feed(s, buf, (size_t)n);
	s->more = (size_t)n == size;
	if (!s->more && s->line_len == 0)
		entry_flush(s); /* the file has no more of it for now */
	return n;
}
