/* tailsrc: one open file read line by line, for tail.
 *
 * A source is an fd plus its identity (st_dev, st_ino and the first bytes),
 * its read position and the partial line held until its newline. It knows
 * nothing of inotify or the loop: tail decides when to read and when a
 * source is retired. tailsrc notices a truncation in place (the size went
 * below the position, or the first bytes changed), finishes the old
 * content from logrotate's copy when it can find one, and counts the lines
 * provably lost. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "log/tail.h"

#define TAILSRC_FP_MAX	 64 /* fingerprint: the first bytes of a file */
#define TAILSRC_LAST_MAX 64 /* bytes before the position, to recognise a copy */

/* Where a source's lines and counters go; owned by the caller, outlives
 * its sources. path is the followed path (given to fn, and the name the
 * copies of copytruncate start with). */
struct tailsrc_sink {
	const char *path;
	size_t index; /* given to fn */
	struct tail_stats *stats;
	tail_line_fn fn;
	void *userdata;
};

struct tailsrc {
	const struct tailsrc_sink *sink;
	int fd;
	uint64_t dev, ino;
	uint64_t offset;    /* next byte to read */
	uint64_t seen_size; /* largest size seen (fstat) of this content */
	unsigned char head[TAILSRC_FP_MAX];
	size_t head_len;
	unsigned char last[TAILSRC_LAST_MAX]; /* the bytes just before offset */
	size_t last_len;
	char *line; /* TAIL_LINE_MAX bytes: the partial line held */
	size_t line_len;
	char *entry;	     /* an open multi-line entry (TAIL_OPEN), or NULL */
	size_t entry_len;    /* its bytes, physical lines joined by '\n' */
	uint64_t entry_file; /* its bytes in the file, newlines included */
	bool skipping;	     /* inside a cut line, dropping bytes up to its newline */
	bool more;	     /* the last read filled the buffer: read again soon */
	bool in_nul;	     /* the last read ended inside a run of NULs at a line start */
};

/* Take over fd (st is its fstat) and start reading at offset. */
void tailsrc_init(struct tailsrc *s, const struct tailsrc_sink *sink, int fd, const struct stat *st,
		  uint64_t offset, bool skipping);
/* Close. finished: nobody writes the file any more, so a partial last line
 * is delivered; otherwise it stays unread (its start is the saved offset). */
void tailsrc_done(struct tailsrc *s, bool finished);

/* Read at most size bytes into buf (scratch) and deliver the lines. Returns
 * the bytes read (0: nothing new), or -errno. Sets s->more when there may be
 * more to read at once. */
int64_t tailsrc_read(struct tailsrc *s, char *buf, size_t size);

/* The position to save: the start of the first line not delivered. */
uint64_t tailsrc_resume_offset(const struct tailsrc *s);
/* The fingerprint: a hash of the first fp_len bytes. */
uint64_t tailsrc_fp_hash(const struct tailsrc *s);
static inline uint32_t tailsrc_fp_len(const struct tailsrc *s)
{
	return (uint32_t)s->head_len;
}
/* Does fd's content start with the bytes hashing to hash? */
bool tailsrc_fp_matches(int fd, uint64_t hash, uint32_t len);

/* Open the sibling of path (same directory, name = path's name + a suffix,
 * like error.log.1 or error.log-20261121) for which match() says yes; at
 * most 4096 directory entries are looked at and 64 siblings opened.
 * Returns the fd, or -ENOENT. */
int tailsrc_find_sibling(const char *path, bool (*match)(int fd, const struct stat *st, void *ctx),
			 void *ctx, struct stat *ret_st);
