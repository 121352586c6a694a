/* tailpath: what a followed path names now, and where to start reading it
 * (see tail_int.h): a new file, one we had closed, one saved before a
 * restart, or files rotated away before we could open them (tailmiss). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "log/tail_int.h"

/* ---- paths ---- */

static bool entry_is(const struct tailstate_entry *e, int fd, const struct stat *st)
{
	return (uint64_t)st->st_dev == e->dev && (uint64_t)st->st_ino == e->ino &&
	       (uint64_t)st->st_size >= e->offset && tailsrc_fp_matches(fd, e->fp_hash, e->fp_len);
}

static bool entry_match(int fd, const struct stat *st, void *ctx)
{
	return entry_is(ctx, fd, st);
}

/* Where to start reading a file newly found at the path. */
static uint64_t first_offset(struct tfile *tf, int fd, const struct stat *st, bool *ret_skipping)
{
	struct tail *t = tf->t;
	uint64_t size = (uint64_t)st->st_size;

	*ret_skipping = false;
	if (tf->initial) {
		tf->initial = false;
		if (t->start == TAIL_START_BEGINNING)
			return 0;
		if (t->start == TAIL_START_END)
			return size;
		bool known = false;
		for (size_t i = 0; i < t->saved.n; i++) {
			const struct tailstate_entry *e = &t->saved.v[i];
			if (!streq(e->path, tf->path))
				continue;
			known = true;
			if (entry_is(e, fd, st)) {
				*ret_skipping = e->skipping;
				return e->offset;
			}
		}
		/* Seen before but replaced while we were down: all of it is new. */
		return known ? 0 : size;
	}
	for (size_t i = 0; i < tf->n_hist; i++) {
		const struct thist *h = &tf->hist[i];
		if (h->dev == (uint64_t)st->st_dev && h->ino == (uint64_t)st->st_ino &&
		    h->offset <= size && tailsrc_fp_matches(fd, h->fp_hash, h->fp_len))
			return h->offset; /* a file we had closed came back */
	}
	return 0; /* a new file, or a reused inode with other content */
}

/* Saved sources of this path that are not the file it names now were
 * rotated while we were down: drain their remainder. */
void tailpath_recover(struct tfile *tf)
{
	struct tail *t = tf->t;
	struct stat cur;
	int curfd = open(tf->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	bool have_cur = curfd >= 0 && fstat(curfd, &cur) == 0;

	for (size_t i = 0; i < t->saved.n && tf->n_retired < TAIL_MAX_RETIRED; i++) {
		const struct tailstate_entry *e = &t->saved.v[i];
		struct stat st;
		if (!streq(e->path, tf->path) || e->ino == 0 ||
		    (have_cur && entry_is(e, curfd, &cur)))
			continue;
		int fd = tailsrc_find_sibling(tf->path, entry_match, (void *)e, &st);
		if (fd < 0)
			continue;
		struct tsrc *s = tail_src_new(tf, fd, &st, e->offset, e->skipping);
		tf->had_file = true;
		tail_src_retire(s);
	}
	if (curfd >= 0)
		close(curfd);
}

/* A file of this path we know: a source, or one we closed. */
static bool known(struct tfile *tf, int fd, const struct stat *st)
{
	struct tsrc *v[TAIL_MAX_RETIRED + 1];
	for (size_t i = tail_sources(tf, v); i-- > 0;)
		if (v[i]->src.dev == (uint64_t)st->st_dev && v[i]->src.ino == (uint64_t)st->st_ino)
			return true;
	for (size_t i = 0; i < tf->n_hist; i++) {
		const struct thist *h = &tf->hist[i];
		if (h->dev == (uint64_t)st->st_dev && h->ino == (uint64_t)st->st_ino &&
		    tailsrc_fp_matches(fd, h->fp_hash, h->fp_len))
			return true;
	}
	return false;
}

/* Files of the path that were rotated away (renamed, or copied and
 * truncated) before we opened them (tailmiss.h): read them as rotated
 * sources, from their start. */
static void adopt_missed(struct tfile *tf)
{
	int pfd = open(tf->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	for (size_t i = 0; i < tf->miss.n; i++) {
		struct stat st;
		int fd = tailmiss_open(&tf->miss, i, tf->dir, pfd, &st);
		if (fd < 0)
			continue;
		if (known(tf, fd, &st)) {
			close(fd);
			continue;
		}
		tf->stats.rotations++;
		tf->had_file = true;
		tail_src_retire(tail_src_new(tf, fd, &st, 0, false));
	}
	if (pfd >= 0)
		close(pfd);
}

/* Look at the path: read the file it names, or switch to a new one.
 * Returns 0, or -errno when the path names a file that cannot be followed
 * (also kept as the log's error). */
int tailpath_check(struct tfile *tf)
{
	struct stat st;
	bool skipping;

	tf->need_check = false;
	if (tf->miss.n > 0 && !tf->initial)
		adopt_missed(tf);
	tailmiss_reset(&tf->miss);
	int r = tailwatch_dirs(&tf->t->watch, tf->path, tf->dwd);
	if (r < 0)
		tail_set_error(tf, ERR_WATCH, r, "cannot watch its directory");
	else
		tail_clear_error(tf, ERR_WATCH);
	int sr = stat(tf->path, &st);
	if (sr < 0 || !S_ISREG(st.st_mode)) {
		int e = sr < 0 ? -errno : -EINVAL;
		if (tf->cur)
			tail_src_retire(tf->cur);
		tf->initial = false;
		if (e == -ENOENT || e == -ENOTDIR) {
			tail_clear_error(tf,
					 ERR_OPEN); /* not there yet: followed when it appears */
			return r;
		}
		return tail_set_error(tf, ERR_OPEN, e, "cannot follow it");
	}
	if (tf->cur && tf->cur->src.dev == (uint64_t)st.st_dev &&
	    tf->cur->src.ino == (uint64_t)st.st_ino) {
		tail_src_read(tf->cur);
		return r;
	}
	int fd = open(tf->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = fd < 0 ? -errno : -EINVAL;
		if (fd >= 0)
			close(fd);
		if (tf->cur)
			tail_src_retire(tf->cur);
		return tail_set_error(tf, ERR_OPEN, e, "cannot open it");
	}
	tail_clear_error(tf, ERR_OPEN);
	if (tf->cur && tf->cur->src.dev == (uint64_t)st.st_dev &&
	    tf->cur->src.ino == (uint64_t)st.st_ino) {
		close(fd); /* the path changed back between stat and open */
		tail_src_read(tf->cur);
		return r;
	}
	if (tf->cur)
		tail_src_retire(tf->cur);
	for (size_t i = 0; i < tf->n_retired; i++) {
		struct tsrc *s = tf->retired[i];
		if (s->src.dev == (uint64_t)st.st_dev && s->src.ino == (uint64_t)st.st_ino) {
			/* Back to a file still open (a symlink pointed back). */
			close(fd);
			tail_retired_remove(tf, s);
			ev_timer_stop(tf->t->loop, &s->grace);
			s->retired = false;
			tf->cur = s;
			tf->stats.rotations++;
			tail_retired_rearm(tf);
			tail_src_read(s);
			return r;
		}
	}
	uint64_t offset = first_offset(tf, fd, &st, &skipping);
	if (tf->had_file)
		tf->stats.rotations++;
	tf->had_file = true;
	tf->cur = tail_src_new(tf, fd, &st, offset, skipping);
	tail_retired_rearm(tf);
	tail_mark_dirty(tf->t);
	tail_src_read(tf->cur);
	return r;
}
