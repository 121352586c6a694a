/* tail: follow nginx error logs with inotify (see tail.h).
 *
 * Owns one inotify fd for every followed path and, per path, a struct tfile:
 * the "current" source (the file the path names now), the retired sources
 * still being drained after a rotation, a short history of closed sources,
 * and the directory watches that say when the path changes.
 *
 * A source (struct tsrc) is a tailsrc (fd, position, identity, line
 * buffer; it handles truncation) plus its file watch and grace timer.
 * Holding the fd pins the inode, so while a source is open its inode number
 * cannot be reused; the first-bytes fingerprint matters when a file comes
 * back after we closed it (history, saved state).
 *
 * Callback chain:
 *   ev_io(inotify) → inotify_cb: drain events; mark sources to read (file
 *     watches) and paths to check (directory watches, move/delete/attrib)
 *     → src_read → tailsrc_read: one chunk of at most TAIL_CHUNK → lines →
 *       user callback
 *     → file_check: stat the path. Same file: read. Gone: retire the current
 *       source. Another file: retire it and open the new one.
 *   ev_idle → idle_cb: sources with more than one chunk waiting
 *   ev_timer per retired source → grace_cb: close it once a new file is at
 *     the path and it was quiet for the grace period (nginx workers write to
 *     the renamed file until SIGUSR1 makes them reopen, which creates the
 *     new file)
 *   ev_timer (1 s) → save_cb: write the offsets file when something moved
 * IN_Q_OVERFLOW (or tail_rescan) marks every path and every source.
 *
 * The user callback must not call tail_set_files or tail_free. */
#include "log/tail.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/tailsrc.h"
#include "log/tail_int.h"
#include "log/tailmiss.h"
#include "log/tailstate.h"
#include "log/tailwatch.h"
#include "core/util.h"

#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)

static void src_close(struct tsrc *s, bool finished);
int64_t tail_src_read(struct tsrc *s);

static int fault_set(struct tail_fault *f, int err, const char *what, const char *path)
{
	f->err = err;
	snprintf(f->msg, sizeof(f->msg), "%s %s: %s", what, path, strerror(-err));
	return err;
}

int tail_set_error(struct tfile *tf, enum tail_err which, int err, const char *what)
{
	return fault_set(&tf->fault[which], err, what, tf->path);
}

void tail_clear_error(struct tfile *tf, enum tail_err which)
{
	tf->fault[which].err = 0;
}

/* Every source of a path, current first. */
size_t tail_sources(struct tfile *tf, struct tsrc **v)
{
	size_t n = 0;
	if (tf->cur)
		v[n++] = tf->cur;
	for (size_t i = 0; i < tf->n_retired; i++)
		v[n++] = tf->retired[i];
	return n;
}

/* IN_IGNORED: the kernel dropped the watch (directory removed, unmount). */
static void watch_forget(struct tail *t, int wd)
{
	if (!tailwatch_forget(&t->watch, wd))
		return;
	for (size_t f = 0; f < t->n_files; f++) {
		struct tfile *tf = t->files[f];
		struct tsrc *v[TAIL_MAX_RETIRED + 1];
		for (int d = 0; d < TAILWATCH_DIRS; d++) {
			if (tf->dwd[d] == wd) {
				tf->dwd[d] = -1;
				tf->need_check = true;
			}
		}
		for (size_t k = tail_sources(tf, v); k-- > 0;) {
			if (v[k]->wd == wd) {
				v[k]->wd = -1;
				tf->need_check = true;
			}
		}
	}
}

/* ---- lines ---- */

void tail_mark_dirty(struct tail *t)
{
	t->dirty = true;
	if (t->state_file && !ev_is_active(&t->save_timer)) {
		ev_timer_set(&t->save_timer, 1.0, 0.);
		ev_timer_start(t->loop, &t->save_timer);
	}
}

static void grace_cb(struct ev_loop *loop, ev_timer *w, int revents);

struct tsrc *tail_src_new(struct tfile *tf, int fd, const struct stat *st, uint64_t offset,
			  bool skipping)
{
	struct tsrc *s = xcalloc(1, sizeof(*s));
	char proc[64];

	tailsrc_init(&s->src, &tf->sink, fd, st, offset, skipping);
	s->tf = tf;
	/* Watch the inode we opened, not whatever the path names by now. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	s->wd = tailwatch_add(&tf->t->watch, proc, FILE_MASK);
	if (s->wd < 0) /* no /proc: the path, which names this file nearly always */
		s->wd = tailwatch_add(&tf->t->watch, tf->path, FILE_MASK);
	if (s->wd < 0)
		s->wd = -1;
	ev_init(&s->grace, grace_cb);
	return s;
}

static void src_remember(struct tsrc *s)
{
	struct tfile *tf = s->tf;
	size_t slot = tf->hist_next;
	bool found = false;

	/* One entry per inode: an older one has a stale offset. */
	for (size_t i = 0; i < tf->n_hist && !found; i++) {
		if (tf->hist[i].dev == s->src.dev && tf->hist[i].ino == s->src.ino) {
			slot = i;
			found = true;
		}
	}
	if (!found) {
		tf->hist_next = (tf->hist_next + 1) % TAIL_HISTORY;
		tf->n_hist = MIN(tf->n_hist + 1, (size_t)TAIL_HISTORY);
	}
	tf->hist[slot] = (struct thist){
	    .dev = s->src.dev,
	    .ino = s->src.ino,
	    .offset = s->src.offset,
	    .fp_hash = tailsrc_fp_hash(&s->src),
	    .fp_len = tailsrc_fp_len(&s->src),
	};
}

/* Close a source. finished: nobody writes it any more, so a partial last
 * line is still a line (deliver it rather than drop it) and the file is
 * remembered in case the path names it again. Otherwise (stop, path
 * dropped) the partial line stays unread for the saved offset. */
static void src_close(struct tsrc *s, bool finished)
{
	struct tfile *tf = s->tf;
	if (finished)
		src_remember(s);
	tailsrc_done(&s->src, finished);
	ev_timer_stop(tf->t->loop, &s->grace);
	tailwatch_del(&tf->t->watch, s->wd);
	free(s);
	tail_mark_dirty(tf->t);
}

void tail_retired_remove(struct tfile *tf, struct tsrc *s)
{
	for (size_t i = 0; i < tf->n_retired; i++) {
		if (tf->retired[i] == s) {
			memmove(&tf->retired[i], &tf->retired[i + 1],
				(tf->n_retired - i - 1) * sizeof(tf->retired[0]));
			tf->n_retired--;
			return;
		}
	}
}

/* Read what is left, bounded, then close: for a source pushed out early. */
static void src_finish(struct tsrc *s)
{
	uint64_t start = s->src.offset;
	while (tail_src_read(s) > 0 && s->src.offset - start < TAIL_FINISH_MAX)
		;
	src_close(s, true);
}

/* Keep reading a source the path no longer names until it is quiet. */
void tail_src_retire(struct tsrc *s)
{
	struct tfile *tf = s->tf;
	struct tail *t = tf->t;

	if (tf->cur == s)
		tf->cur = NULL;
	if (tf->n_retired == TAIL_MAX_RETIRED) {
		struct tsrc *oldest = tf->retired[0];
		tail_retired_remove(tf, oldest);
		src_finish(oldest);
	}
	s->retired = true;
	tf->retired[tf->n_retired++] = s;
	s->grace.repeat = t->grace_s;
	ev_timer_again(t->loop, &s->grace);
	tail_src_read(s);
}

/* One chunk, then what the loop must do about it. */
int64_t tail_src_read(struct tsrc *s)
{
	struct tail *t = s->tf->t;
	uint64_t truncations = s->tf->stats.truncations;
	int64_t n = tailsrc_read(&s->src, t->buf, TAIL_CHUNK);

	if (n < 0)
		tail_set_error(s->tf, ERR_READ, (int)n, "cannot read");
	else
		tail_clear_error(s->tf, ERR_READ);
	if (s->src.more)
		ev_idle_start(t->loop, &t->idle);
	if (n > 0 && s->retired)
		ev_timer_again(t->loop, &s->grace);
	if (n > 0 || s->tf->stats.truncations != truncations)
		tail_mark_dirty(t);
	return n;
}

/* A new file is at the path: writers have reopened (nginx creates the file
 * when it reopens on SIGUSR1), so the retired sources can now run out
 * their grace period. */
void tail_retired_rearm(struct tfile *tf)
{
	for (size_t i = 0; i < tf->n_retired; i++)
		ev_timer_again(tf->t->loop, &tf->retired[i]->grace);
}

static void grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tsrc *s = container_of(w, struct tsrc, grace);
	struct tfile *tf = s->tf;

	int64_t n = tail_src_read(s);
	if (n > 0 || s->src.more) {
		ev_timer_again(loop, w); /* still being written */
		return;
	}
	if (!tf->cur) {
		/* No new file yet, so nginx has not reopened: it may still
		 * write here, however rarely (error logs are sparse). The
		 * countdown starts again when a file appears (retired_rearm). */
		ev_timer_stop(loop, w);
		return;
	}
	tail_retired_remove(tf, s);
	src_close(s, true);
}

static struct tfile *tfile_new(struct tail *t, const char *path)
{
	struct tfile *tf = xcalloc(1, sizeof(*tf));
	tf->t = t;
	tf->path = xstrdup(path);
	const char *slash = strrchr(tf->path, '/');
	tf->base = slash ? slash + 1 : tf->path;
	tf->dir = slash ? xstrndup(tf->path, (size_t)(slash - tf->path) + (slash == tf->path))
			: xstrdup(".");
	tailmiss_init(&tf->miss);
	tf->sink = (struct tailsrc_sink){
	    .path = tf->path, .stats = &tf->stats, .fn = t->fn, .userdata = t->userdata};
	for (int i = 0; i < TAILWATCH_DIRS; i++)
		tf->dwd[i] = -1;
	tf->initial = true;
	return tf;
}

static void tfile_free(struct tfile *tf)
{
	if (tf->cur)
		src_close(tf->cur, false);
	while (tf->n_retired > 0)
		src_close(tf->retired[--tf->n_retired], false);
	for (int i = 0; i < TAILWATCH_DIRS; i++)
		tailwatch_del(&tf->t->watch, tf->dwd[i]);
	tailmiss_done(&tf->miss);
	free(tf->dir);
	free(tf->path);
	free(tf);
}

/* ---- the loop ---- */

static void process(struct tail *t)
{
	for (size_t f = 0; f < t->n_files; f++) {
		struct tfile *tf = t->files[f];
		struct tsrc *v[TAIL_MAX_RETIRED + 1];
		size_t n = tail_sources(tf, v);
		for (size_t i = 0; i < n; i++) {
			if (v[i]->need_read) {
				v[i]->need_read = false;
				tail_src_read(v[i]);
			}
		}
		if (tf->need_check)
			tailpath_check(tf);
	}
}

static void mark_all(struct tail *t)
{
	for (size_t f = 0; f < t->n_files; f++) {
		struct tfile *tf = t->files[f];
		struct tsrc *v[TAIL_MAX_RETIRED + 1];
		tf->need_check = true;
		for (size_t i = tail_sources(tf, v); i-- > 0;)
			v[i]->need_read = true;
	}
}

static void mark(struct tail *t, const struct inotify_event *ev)
{
	int wd = ev->wd;
	uint32_t mask = ev->mask;
	for (size_t f = 0; f < t->n_files; f++) {
		struct tfile *tf = t->files[f];
		struct tsrc *v[TAIL_MAX_RETIRED + 1];
		for (int i = 0; i < TAILWATCH_DIRS; i++)
			if (tf->dwd[i] == wd)
				tf->need_check = true;
		if (tf->dwd[0] == wd && ev->len > 0)
			tailmiss_event(&tf->miss, tf->base, mask, ev->cookie, ev->name);
		for (size_t i = tail_sources(tf, v); i-- > 0;) {
			if (v[i]->wd != wd)
				continue;
			v[i]->need_read = true;
			if (mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB))
				tf->need_check = true;
		}
	}
}

static void inotify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tail *t = container_of(w, struct tail, io);
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool overflow = false;

	/* Bounded per wakeup; the watcher is level-triggered. */
	for (int round = 0; round < 16; round++) {
		ssize_t n = read(t->watch.ifd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW)
				overflow = true;
			else if (ev->mask & IN_IGNORED)
				watch_forget(t, ev->wd);
			else
				mark(t, ev);
		}
		if ((size_t)n < sizeof(buf) / 2)
			break;
	}
	if (overflow)
		mark_all(t);
	process(t);
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct tail *t = container_of(w, struct tail, idle);
	bool more = false;

	ev_idle_stop(loop, w);
	for (size_t f = 0; f < t->n_files; f++) {
		struct tsrc *v[TAIL_MAX_RETIRED + 1];
		size_t n = tail_sources(t->files[f], v);
		for (size_t i = 0; i < n; i++) {
			if (v[i]->src.more) {
				tail_src_read(v[i]);
				more |= v[i]->src.more;
			}
		}
	}
	if (more)
		ev_idle_start(loop, w);
}

static void save_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tail *t = container_of(w, struct tail, save_timer);
	/* A failure is kept as every log's fault (tail_log_at); the next
	 * change re-arms the timer and retries. */
	if (t->dirty)
		(void)tail_save(t);
}

/* ---- public ---- */

int tail_new(struct ev_loop *loop, const char *state_dir, enum tail_start start, tail_line_fn fn,
	     void *userdata, struct tail **ret)
{
	struct tailwatch w;
	int r = tailwatch_init(&w);
	if (r < 0)
		return r;

	struct tail *t = xcalloc(1, sizeof(*t));
	t->loop = loop;
	t->start = start;
	t->fn = fn;
	t->userdata = userdata;
	t->watch = w;
	t->grace_s = TAIL_GRACE_MS_DEFAULT / 1000.0;
	t->buf = xmalloc(TAIL_CHUNK);
	tailstate_init(&t->saved);
	if (state_dir) {
		t->state_file = xasprintf("%s/%s", state_dir, TAIL_STATE_FILE);
		/* An unreadable state is a first start (offsets are rebuilt), and
		 * a fault every log reports until a save succeeds. */
		r = tailstate_load(&t->saved, t->state_file);
		if (r < 0)
			fault_set(&t->state_fault, r, "cannot load the offsets file",
				  t->state_file);
	}
	ev_io_init(&t->io, inotify_cb, t->watch.ifd, EV_READ);
	ev_io_start(loop, &t->io);
	ev_idle_init(&t->idle, idle_cb);
	ev_init(&t->save_timer, save_cb);
	*ret = t;
	return 0;
}

void tail_free(struct tail *t)
{
	if (!t)
		return;
	(void)tail_save(t); /* the fault is kept; nobody is left to report it */
	for (size_t i = 0; i < t->n_files; i++)
		tfile_free(t->files[i]);
	free(t->files);
	ev_io_stop(t->loop, &t->io);
	ev_idle_stop(t->loop, &t->idle);
	ev_timer_stop(t->loop, &t->save_timer);
	tailwatch_done(&t->watch);
	tailstate_done(&t->saved);
	free(t->state_file);
	free(t->buf);
	free(t);
}

void tail_set_grace_ms(struct tail *t, unsigned ms)
{
	t->grace_s = ms / 1000.0;
}

void tail_rescan(struct tail *t)
{
	mark_all(t);
	process(t);
}

int tail_set_files(struct tail *t, const char *const *paths, size_t n)
{
	int first = 0;

	for (size_t i = 0; i < n; i++)
		if (!paths[i] || !paths[i][0] || strlen(paths[i]) >= PATH_MAX)
			return -EINVAL;

	/* Drop the paths no longer wanted. */
	for (size_t f = 0; f < t->n_files;) {
		bool keep = false;
		for (size_t i = 0; i < n && !keep; i++)
			keep = streq(paths[i], t->files[f]->path);
		if (keep) {
			f++;
			continue;
		}
		tfile_free(t->files[f]);
		t->files[f] = t->files[--t->n_files];
	}
	/* Add the new ones; a path that cannot be followed now is still kept
	 * (it is retried on every change of its directory). Every file learns
	 * its new index before any line is read. */
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < t->n_files; f++)
			if (streq(paths[i], t->files[f]->path))
				t->files[f]->sink.index = i;
	for (size_t i = 0; i < n; i++) {
		bool have = false;
		for (size_t f = 0; f < t->n_files && !have; f++)
			have = streq(paths[i], t->files[f]->path);
		if (have)
			continue;
		struct tfile *tf = tfile_new(t, paths[i]);
		tf->sink.index = i;
		t->files = grow_array(t->files, &t->cap_files, t->n_files + 1, sizeof(*t->files));
		t->files[t->n_files++] = tf;
		if (t->start == TAIL_START_SAVED)
			tailpath_recover(tf);
		int r = tailpath_check(tf);
		if (r < 0 && first == 0)
			first = r;
	}
	tail_mark_dirty(t);
	return first;
}

size_t tail_count(const struct tail *t)
{
	return t->n_files;
}

void tail_log_at(const struct tail *t, size_t i, struct tail_log *ret)
{
	const struct tfile *tf = t->files[i];
	const struct tail_fault *fault = &t->state_fault;

	for (size_t k = 0; k < ERR__COUNT; k++) {
		if (tf->fault[k].err) {
			fault = &tf->fault[k];
			break;
		}
	}
	*ret = (struct tail_log){
	    .path = tf->path,
	    .stats = &tf->stats,
	    .error = -fault->err,
	    .error_msg = fault->err ? fault->msg : "",
	};
}

const struct tail_stats *tail_stats(const struct tail *t, const char *path)
{
	for (size_t f = 0; f < t->n_files; f++)
		if (streq(t->files[f]->path, path))
			return &t->files[f]->stats;
	return NULL;
}

int tail_save(struct tail *t)
{
	struct tailstate st;

	if (!t->state_file)
		return 0;
	tailstate_init(&st);
	for (size_t f = 0; f < t->n_files; f++) {
		struct tfile *tf = t->files[f];
		struct tsrc *v[TAIL_MAX_RETIRED + 1];
		size_t n = tail_sources(tf, v);
		for (size_t i = 0; i < n; i++) {
			struct tailstate_entry e = {
			    .path = tf->path,
			    .dev = v[i]->src.dev,
			    .ino = v[i]->src.ino,
			    .offset = tailsrc_resume_offset(&v[i]->src),
			    .fp_hash = tailsrc_fp_hash(&v[i]->src),
			    .fp_len = tailsrc_fp_len(&v[i]->src),
			    .skipping = v[i]->src.skipping,
			};
			tailstate_add(&st, &e);
		}
		if (n == 0) {
			/* No file now: remember the path was followed, so a file
			 * created while we are down is read from its start. */
			struct tailstate_entry e = {.path = tf->path};
			tailstate_add(&st, &e);
		}
	}
	int r = tailstate_save(&st, t->state_file);
	tailstate_done(&st);
	if (r < 0)
		return fault_set(&t->state_fault, r, "cannot write the offsets file",
				 t->state_file);
	t->state_fault.err = 0;
	t->dirty = false;
	return 0;
}
