/* Unit tests for tail: a real libev loop follows files that fork()ed writer
 * processes append numbered lines to while they rotate them every way nginx
 * setups do. Every line number is counted, so "read exactly once" is an
 * exact assertion, and copytruncate's losses are compared with lines_lost.
 *
 * Line n is "%08u " followed by (n * 7) % 50 letters: a torn or merged line
 * has the wrong length and is counted as malformed. Writers that rotate a
 * file wait (through a pipe) until the parent has read the first line of the
 * new file, as a real log is never rotated microseconds after it appears;
 * everything after that point races freely with the reader. */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "log/errlog.h"
#include "log/tail.h"
#include "log/tailsrc.h"
#include "log/tailstate.h"
#include "core/hash.h"
#include "core/util.h"

#define ROUNDS	  20
#define PER_ROUND 2000

/* ---- lines ---- */

static size_t fmt_line(char *buf, unsigned n)
{
	unsigned pad = (n * 7) % 50;
	int k = sprintf(buf, "%08u ", n);
	memset(buf + k, 'a' + (int)(n % 26), pad);
	buf[k + pad] = '\n';
	return (size_t)k + pad + 1;
}

static void xwrite(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			perror("write");
			_exit(3);
		}
		p += w;
		len -= (size_t)w;
	}
}

static void write_lines(int fd, unsigned *n, unsigned count)
{
	char buf[128];
	for (unsigned i = 0; i < count; i++) {
		xwrite(fd, buf, fmt_line(buf, (*n)++));
		if (i % 64 == 63)
			sched_yield();
	}
}

static void write_str(const char *path, const char *s, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	if (fd < 0) {
		perror(path);
		exit(2);
	}
	xwrite(fd, s, strlen(s));
	close(fd);
}

/* ---- what the callback saw ---- */

struct rec {
	uint8_t *seen;
	unsigned cap, unique, dups, malformed;
	unsigned at_max; /* lines of exactly TAIL_LINE_MAX bytes */
	int ack_fd;
	long want; /* a writer waits until this line was read */
	char last[TAIL_LINE_MAX + 1];
	size_t last_len;
};

static void rec_init(struct rec *r, unsigned cap)
{
	*r = (struct rec){.seen = xcalloc(cap, 1), .cap = cap, .ack_fd = -1, .want = -1};
}

static void rec_ack(struct rec *r)
{
	if (r->want >= 0 && (unsigned)r->want < r->cap && r->seen[r->want]) {
		r->want = -1;
		xwrite(r->ack_fd, "k", 1);
	}
}

static enum tail_take on_line(void *userdata, const char *path, size_t index, const char *line,
			      size_t len, bool may_open)
{
	struct rec *r = userdata;
	unsigned n = 0;

	memcpy(r->last, line, MIN(len, (size_t)TAIL_LINE_MAX));
	r->last_len = len;
	r->at_max += len == TAIL_LINE_MAX;
	if (len > 0 && line[0] == '#')
		return TAIL_UNPARSED;
	if (len < 9 || line[8] != ' ')
		goto bad;
	for (int i = 0; i < 8; i++) {
		if (line[i] < '0' || line[i] > '9')
			goto bad;
		n = n * 10 + (unsigned)(line[i] - '0');
	}
	if (n >= r->cap || len != 9 + (n * 7) % 50)
		goto bad;
	if (r->seen[n]++ == 0)
		r->unique++;
	else
		r->dups++;
	rec_ack(r);
	return TAIL_TAKEN;
bad:
	r->malformed++;
	return TAIL_TAKEN;
}

static unsigned rec_missing(const struct rec *r, unsigned total)
{
	unsigned m = 0;
	for (unsigned i = 0; i < total; i++)
		m += r->seen[i] == 0;
	return m;
}

/* ---- writers (child processes) ---- */

struct wctx {
	char dir[256], path[300];
	unsigned rounds, per_round, n, pause_ms;
	int req_fd, ack_fd;
	unsigned reused; /* inode_reuse: how often the inode number came back */
};

/* Block until the parent has read line n. */
static void wsync(struct wctx *w, unsigned n)
{
	uint32_t v = n;
	char c;
	xwrite(w->req_fd, &v, sizeof(v));
	if (read(w->ack_fd, &c, 1) != 1)
		_exit(4);
}

static int wopen(const char *path, int flags)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | flags, 0644);
	if (fd < 0) {
		perror(path);
		_exit(2);
	}
	return fd;
}

/* Start of a round: a few lines, then wait until the reader has the file. */
static void round_start(struct wctx *w, int fd)
{
	write_lines(fd, &w->n, 10);
	wsync(w, w->n - 1);
	write_lines(fd, &w->n, w->per_round - 10);
}

static char *sibling(const struct wctx *w, const char *suffix)
{
	return xasprintf("%s%s", w->path, suffix);
}

/* nginx + logrotate: rename, workers go on writing to the renamed file
 * until SIGUSR1 makes them reopen, which creates the new file. */
static void writer_rename_create(struct wctx *w)
{
	char *old = sibling(w, ".1");
	int fd = wopen(w->path, 0);
	for (unsigned r = 0; r < w->rounds; r++) {
		round_start(w, fd);
		rename(w->path, old);
		write_lines(fd, &w->n, 200);
		int nfd = wopen(w->path, 0);
		close(fd);
		fd = nfd;
	}
	round_start(w, fd);
	close(fd);
	free(old);
}

/* logrotate copytruncate, the writer pausing while it runs. */
static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;
	if (in < 0 || out < 0)
		_exit(2);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		xwrite(out, buf, (size_t)n);
	close(in);
	close(out);
}

/* logrotate's copytruncate with "rotate 4": older copies move up first. */
static void copytruncate(const struct wctx *w)
{
	for (int k = 3; k >= 1; k--) {
		char *from = xasprintf("%s.%d", w->path, k),
		     *to = xasprintf("%s.%d", w->path, k + 1);
		rename(from, to);
		free(from);
		free(to);
	}
	char *copy = sibling(w, ".1");
	copy_file(w->path, copy);
	if (truncate(w->path, 0) < 0)
		_exit(2);
	free(copy);
}

static void writer_copytruncate(struct wctx *w)
{
	int fd = wopen(w->path, 0);
	for (unsigned r = 0; r < w->rounds; r++) {
		round_start(w, fd);
		copytruncate(w);
	}
	round_start(w, fd);
	close(fd);
}

/* Writer and rotator as two processes: lines land between the copy and
 * the truncate. They share (MAP_SHARED) how far the writer got and, per
 * rotation, the window of line numbers that may have been written between
 * the start of the copy and the end of the truncate: the only lines nobody
 * can read (neither the copy nor the truncated file holds them). */
#define BATCH 20
struct race {
	volatile unsigned written; /* lines [0, written) are completely written */
	unsigned nwin;
	struct {
		unsigned lo, hi;
	} win[ROUNDS];
};
static struct race *race;

static void writer_continuous(struct wctx *w)
{
	int fd = wopen(w->path, 0);
	for (unsigned i = 0; i < w->rounds * w->per_round / BATCH; i++) {
		write_lines(fd, &w->n, BATCH);
		__atomic_store_n(&race->written, w->n, __ATOMIC_SEQ_CST);
		usleep(20);
	}
	close(fd);
}

static void rotator_copytruncate(struct wctx *w)
{
	for (unsigned r = 0; r < w->rounds && r < ROUNDS; r++) {
		usleep(8000);
		unsigned lo = __atomic_load_n(&race->written, __ATOMIC_SEQ_CST);
		copytruncate(w);
		/* a batch in progress may have landed before the truncate */
		unsigned hi = __atomic_load_n(&race->written, __ATOMIC_SEQ_CST) + BATCH;
		race->win[r].lo = lo;
		race->win[r].hi = hi;
		race->nwin = r + 1;
	}
}

static bool in_race_window(unsigned n)
{
	for (unsigned i = 0; i < race->nwin; i++)
		if (n >= race->win[i].lo && n < race->win[i].hi)
			return true;
	return false;
}

/* rm + create; the writer keeps its fd to the deleted file for a while. */
static void writer_delete_recreate(struct wctx *w)
{
	int fd = wopen(w->path, 0);
	for (unsigned r = 0; r < w->rounds; r++) {
		round_start(w, fd);
		unlink(w->path);
		write_lines(fd, &w->n, 100);
		int nfd = wopen(w->path, O_EXCL);
		close(fd);
		fd = nfd;
	}
	round_start(w, fd);
	close(fd);
}

/* The followed path is a symlink into targets/, swapped between two files
 * (ln -sfn: new link + rename over); the writer's old fd lingers. */
static void writer_symlink_swap(struct wctx *w)
{
	char *tmp = sibling(w, ".tmp");
	for (unsigned r = 0; r <= w->rounds; r++) {
		int fd = wopen(w->path, 0); /* through the link */
		round_start(w, fd);
		if (r == w->rounds) {
			close(fd);
			break;
		}
		unlink(tmp);
		if (symlink((r % 2) ? "targets/t0.log" : "targets/t1.log", tmp) < 0 ||
		    rename(tmp, w->path) < 0)
			_exit(2);
		write_lines(fd, &w->n, 100);
		close(fd);
		usleep(w->pause_ms * 1000);
	}
	free(tmp);
}

/* The file does not exist until the round starts; it is removed at its end. */
static void writer_file_appears(struct wctx *w)
{
	for (unsigned r = 0; r < w->rounds; r++) {
		usleep(w->pause_ms * 1000);
		int fd = wopen(w->path, O_EXCL);
		round_start(w, fd);
		close(fd);
		unlink(w->path);
	}
}

/* Neither the file nor its two parent directories exist between rounds. */
static void writer_dir_appears(struct wctx *w)
{
	char *a = xasprintf("%s/a", w->dir), *b = xasprintf("%s/a/b", w->dir);
	for (unsigned r = 0; r < w->rounds; r++) {
		if (mkdir(a, 0755) < 0 || mkdir(b, 0755) < 0)
			_exit(2);
		int fd = wopen(w->path, O_EXCL);
		round_start(w, fd);
		close(fd);
		unlink(w->path);
		rmdir(b);
		rmdir(a);
	}
	free(a);
	free(b);
}

/* Each round's file is written complete under a temporary name, then
 * renamed over the path. The file it replaces is closed by the reader after
 * the grace period, so ext4 hands its inode number to a later round's file,
 * which the reader must not take for the file it remembers. */
static void writer_inode_reuse(struct wctx *w)
{
	char *tmp = sibling(w, ".tmp");
	ino_t seen[64];
	for (unsigned r = 0; r < w->rounds && r < ARRAY_SIZE(seen); r++) {
		int fd = wopen(tmp, O_EXCL);
		struct stat st;
		fstat(fd, &st);
		unsigned k = 0;
		while (k < r && seen[k] != st.st_ino)
			k++;
		w->reused += k < r;
		seen[r] = st.st_ino;
		write_lines(fd, &w->n, w->per_round);
		close(fd);
		if (rename(tmp, w->path) < 0)
			_exit(2);
		wsync(w, w->n - 1);
		usleep(w->pause_ms * 1000); /* the reader closes the replaced file */
	}
	free(tmp);
}

/* ---- the parent: a loop with tail, children, deadlines ---- */

struct run {
	struct ev_loop *loop;
	struct rec rec;
	struct tail *tail;
	pid_t pids[2];
	int npids, alive, child_status;
	int req_fd;
	ev_io req;
	ev_timer tick;
	unsigned expect;    /* lines expected, 0: unknown (stop when quiet) */
	unsigned settle_ms; /* run on after the end, to catch duplicates */
	int64_t start_ms, done_ms, progress_ms;
	unsigned last_unique;
	bool timed_out;
};

static void req_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct run *r = container_of(w, struct run, req);
	uint32_t v;
	if (read(w->fd, &v, sizeof(v)) != sizeof(v)) {
		ev_io_stop(loop, w);
		return;
	}
	r->rec.want = v;
	rec_ack(&r->rec);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct run *r = container_of(w, struct run, tick);
	int64_t now = now_mono_ms();

	for (int i = 0; i < r->npids; i++) {
		int status;
		if (r->pids[i] > 0 && waitpid(r->pids[i], &status, WNOHANG) == r->pids[i]) {
			r->pids[i] = 0;
			r->alive--;
			if (!WIFEXITED(status))
				r->child_status = 255;
			else if (i == 0)
				r->child_status = WEXITSTATUS(status);
		}
	}
	if (r->rec.unique != r->last_unique) {
		r->last_unique = r->rec.unique;
		r->progress_ms = now;
	}
	if (r->alive == 0 && r->done_ms == 0 &&
	    ((r->expect && r->rec.unique >= r->expect) ||
	     (!r->expect && now - r->progress_ms > 300)))
		r->done_ms = now;
	if (r->done_ms && now - r->done_ms >= r->settle_ms)
		ev_break(loop, EVBREAK_ALL);
	if (now - r->start_ms > 20000) {
		r->timed_out = true;
		ev_break(loop, EVBREAK_ALL);
	}
}

static void run_spawn(struct run *r, struct wctx *w, void (*fn)(struct wctx *), int req_fd,
		      int ack_fd)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		w->req_fd = req_fd;
		w->ack_fd = ack_fd;
		fn(w);
		/* inode_reuse reports through the exit status */
		_exit(w->reused > 250 ? 250 : (int)w->reused);
	}
	r->pids[r->npids++] = pid;
	r->alive++;
}

/* Follow w->path, run fn (and fn2, another process) to completion, stop once
 * `expect` lines were read plus settle_ms. */
static void run_writers(struct run *r, struct wctx *w, void (*fn)(struct wctx *),
			void (*fn2)(struct wctx *), unsigned grace_ms, enum tail_start start)
{
	int req[2], ack[2];

	r->loop = ev_loop_new(EVFLAG_AUTO);
	rec_init(&r->rec, w->rounds * w->per_round + 4 * PER_ROUND);
	if (pipe2(req, O_CLOEXEC) < 0 || pipe2(ack, O_CLOEXEC) < 0)
		exit(2);
	r->rec.ack_fd = ack[1];
	CHECK_INT(tail_new(r->loop, NULL, start, on_line, &r->rec, &r->tail), 0);
	tail_set_grace_ms(r->tail, grace_ms);
	const char *paths[] = {w->path};
	CHECK_INT(tail_set_files(r->tail, paths, 1), 0);

	run_spawn(r, w, fn, req[1], ack[0]);
	if (fn2)
		run_spawn(r, w, fn2, req[1], ack[0]);
	close(req[1]);
	close(ack[0]);
	ev_io_init(&r->req, req_cb, req[0], EV_READ);
	ev_io_start(r->loop, &r->req);
	ev_timer_init(&r->tick, tick_cb, 0.005, 0.005);
	ev_timer_start(r->loop, &r->tick);
	r->start_ms = r->progress_ms = now_mono_ms();
	if (!r->settle_ms)
		r->settle_ms = grace_ms + 100;
	ev_run(r->loop, 0);
	for (int i = 0; i < r->npids; i++) {
		if (r->pids[i] > 0) {
			kill(r->pids[i], SIGKILL);
			waitpid(r->pids[i], NULL, 0);
		}
	}
	ev_io_stop(r->loop, &r->req);
	ev_timer_stop(r->loop, &r->tick);
	close(req[0]);
	close(ack[1]);
	CHECK(!r->timed_out);
}

static void run_done(struct run *r)
{
	tail_free(r->tail);
	ev_loop_destroy(r->loop);
	free(r->rec.seen);
}

static struct wctx wctx_new(const char *sub, const char *rel)
{
	struct wctx w = {.rounds = ROUNDS, .per_round = PER_ROUND};
	snprintf(w.dir, sizeof(w.dir), "%s/%s", harness_tmpdir(), sub);
	mkdir(w.dir, 0755);
	snprintf(w.path, sizeof(w.path), "%s/%s", w.dir, rel);
	return w;
}

/* The exact outcome of a rotation style that must lose nothing. */
static void expect_all_once(struct run *r, unsigned total)
{
	CHECK_INT(r->rec.unique, total);
	CHECK_INT(rec_missing(&r->rec, total), 0);
	CHECK_INT(r->rec.dups, 0);
	CHECK_INT(r->rec.malformed, 0);
}

static void check_stats(struct run *r, const char *path, unsigned total, uint64_t rotations,
			uint64_t truncations)
{
	const struct tail_stats *st = tail_stats(r->tail, path);
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK_INT(st->lines, total);
	CHECK_INT(st->rotations, rotations);
	CHECK_INT(st->truncations, truncations);
	CHECK_INT(st->lines_lost, 0);
	CHECK_INT(st->lines_cut, 0);
	CHECK_INT(st->lines_unparsed, 0);
}

static void test_rotation_rename_create_reads_old_file_to_its_end(void)
{
	struct wctx w = wctx_new("rename", "error.log");
	struct run r = {.expect = (ROUNDS + 1) * PER_ROUND + ROUNDS * 200};
	write_str(w.path, "", O_TRUNC);
	run_writers(&r, &w, writer_rename_create, NULL, 150, TAIL_START_END);
	expect_all_once(&r, r.expect);
	check_stats(&r, w.path, r.expect, ROUNDS, 0);
	CHECK_INT(r.child_status, 0);
	run_done(&r);
}

static void test_rotation_copytruncate_loses_nothing(void)
{
	struct wctx w = wctx_new("copytrunc", "error.log");
	struct run r = {.expect = (ROUNDS + 1) * PER_ROUND};
	write_str(w.path, "", O_TRUNC);
	run_writers(&r, &w, writer_copytruncate, NULL, 150, TAIL_START_END);
	expect_all_once(&r, r.expect);
	check_stats(&r, w.path, r.expect, 0, ROUNDS);
	run_done(&r);
}

/* Every line is read exactly once, except lines written inside a
 * rotation's copy-to-truncate window, which nobody can read: those may be
 * missing, and only those. lines_lost counts what tail could prove (it saw
 * the bytes, or held a line's start), never more than what is missing. */
static void test_rotation_copytruncate_concurrent_counts_only_real_losses(void)
{
	struct wctx w = wctx_new("copytrunc2", "error.log");
	struct run r = {.expect = 0};
	unsigned total = ROUNDS * PER_ROUND;
	race = mmap(NULL, sizeof(*race), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(race != MAP_FAILED);
	memset(race, 0, sizeof(*race));
	write_str(w.path, "", O_TRUNC);
	run_writers(&r, &w, writer_continuous, rotator_copytruncate, 150, TAIL_START_END);
	const struct tail_stats *st = tail_stats(r.tail, w.path);
	unsigned missing = rec_missing(&r.rec, total), outside = 0;
	for (unsigned i = 0; i < total; i++)
		outside += !r.rec.seen[i] && !in_race_window(i);
	CHECK_INT(race->nwin, ROUNDS);
	CHECK_INT(outside, 0);
	CHECK_INT(r.rec.dups, 0);
	CHECK_INT(r.rec.malformed, 0);
	CHECK_INT(r.rec.unique, total - missing);
	CHECK_INT(st->lines, r.rec.unique);
	CHECK(st->lines_lost <= missing);
	/* two truncates with nothing read in between are one truncation to a
	 * reader (and a truncate of an empty file none), so no exact count */
	CHECK(st->truncations >= 1 && st->truncations <= ROUNDS);
	printf("     copytruncate under concurrent writes: %u of %u lines in race windows missing, "
	       "%llu provably lost\n",
	       missing, total, (unsigned long long)st->lines_lost);
	run_done(&r);
	munmap(race, sizeof(*race));
}

static void test_rotation_delete_recreate_loses_nothing(void)
{
	struct wctx w = wctx_new("delete", "error.log");
	struct run r = {.expect = (ROUNDS + 1) * PER_ROUND + ROUNDS * 100};
	write_str(w.path, "", O_TRUNC);
	run_writers(&r, &w, writer_delete_recreate, NULL, 150, TAIL_START_END);
	expect_all_once(&r, r.expect);
	check_stats(&r, w.path, r.expect, ROUNDS, 0);
	run_done(&r);
}

/* Every style in turn, as a host with a mixed fleet of rotation tools does:
 * rename + late writes + reopen, copytruncate, delete + recreate. The
 * writer waits for the reader only before a delete (a file deleted before
 * anyone opened it cannot be read by anyone); renames and copytruncates
 * come as soon as a burst is written, so a file can be rotated again before
 * the follower has drained it or even opened it. */
static void rotate_shift(const struct wctx *w)
{
	for (int k = 3; k >= 1; k--) {
		char *from = xasprintf("%s.%d", w->path, k),
		     *to = xasprintf("%s.%d", w->path, k + 1);
		rename(from, to);
		free(from);
		free(to);
	}
}

static void writer_mixed(struct wctx *w)
{
	char *old = sibling(w, ".1");
	int fd = wopen(w->path, 0);
	for (unsigned r = 0; r < w->rounds; r++) {
		if (r % 3 == 2) {
			round_start(w, fd);
		} else {
			write_lines(fd, &w->n, w->per_round);
		}
		switch (r % 3) {
		case 0: /* nginx + logrotate: rename, late writes, reopen */
			rotate_shift(w);
			rename(w->path, old);
			write_lines(fd, &w->n, 200);
			int nfd = wopen(w->path, 0);
			close(fd);
			fd = nfd;
			break;
		case 1:
			copytruncate(w);
			break;
		case 2: /* rm + create, the old fd still written for a while */
			unlink(w->path);
			write_lines(fd, &w->n, 100);
			nfd = wopen(w->path, O_EXCL);
			close(fd);
			fd = nfd;
			break;
		}
	}
	round_start(w, fd);
	close(fd);
	free(old);
}

/* Bounded CPU load: n children spin until killed, 60 s at most. */
static void load_start(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			int64_t end = now_mono_ms() + 60000;
			volatile uint64_t x = 0;
			while (now_mono_ms() < end)
				for (int k = 0; k < 1000000; k++)
					x += (uint64_t)k;
			_exit(0);
		}
	}
}

static void load_stop(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	}
}

/* Every line read exactly once, or counted in lines_lost. */
static void test_rotation_mixed_under_load_reads_every_line_or_counts_it(void)
{
	struct wctx w = wctx_new("mixed", "error.log");
	unsigned total = (ROUNDS + 1) * PER_ROUND + (ROUNDS + 2) / 3 * 200 + ROUNDS / 3 * 100;
	struct run r = {.expect = total};
	pid_t load[3];
	write_str(w.path, "", O_TRUNC);
	load_start(load, 3);
	run_writers(&r, &w, writer_mixed, NULL, 150, TAIL_START_END);
	load_stop(load, 3);
	const struct tail_stats *st = tail_stats(r.tail, w.path);
	unsigned missing = rec_missing(&r.rec, total);
	printf("     mixed rotation under load: %u of %u lines missing, %llu counted lost\n",
	       missing, total, (unsigned long long)st->lines_lost);
	CHECK_INT(missing, st->lines_lost);
	CHECK_INT(r.rec.unique, total - missing);
	CHECK_INT(r.rec.dups, 0);
	CHECK_INT(r.rec.malformed, 0);
	CHECK_INT(st->lines, r.rec.unique);
	run_done(&r);
}

static void symlink_swap(unsigned grace_ms, unsigned pause_ms)
{
	struct wctx w = wctx_new(pause_ms ? "symlink-closed" : "symlink-open", "current.log");
	struct run r = {.expect = (ROUNDS + 1) * PER_ROUND + ROUNDS * 100};
	char *targets = xasprintf("%s/targets", w.dir);
	mkdir(targets, 0755);
	harness_write(w.dir, "targets/t0.log", "");
	harness_write(w.dir, "targets/t1.log", "");
	CHECK_INT(symlink("targets/t0.log", w.path), 0);
	w.pause_ms = pause_ms;
	run_writers(&r, &w, writer_symlink_swap, NULL, grace_ms, TAIL_START_END);
	expect_all_once(&r, r.expect);
	check_stats(&r, w.path, r.expect, ROUNDS, 0);
	run_done(&r);
	free(targets);
}

/* Swapped back while the other target is still open (promoted back). */
static void test_rotation_symlink_swap_back_to_open_file(void)
{
	symlink_swap(300, 0);
}

/* Swapped back after the other target was closed: resumed from history. */
static void test_rotation_symlink_swap_back_to_closed_file(void)
{
	symlink_swap(10, 40);
}

static void test_file_appearing_later_is_read_from_start(void)
{
	struct wctx w = wctx_new("appear", "error.log");
	struct run r = {.expect = ROUNDS * PER_ROUND};
	w.pause_ms = 2;
	run_writers(&r, &w, writer_file_appears, NULL, 100, TAIL_START_END);
	expect_all_once(&r, r.expect);
	check_stats(&r, w.path, r.expect, ROUNDS - 1, 0);
	run_done(&r);
}

static void test_directory_appearing_later_is_followed(void)
{
	struct wctx w = wctx_new("dirs", "a/b/error.log");
	struct run r = {.expect = ROUNDS * PER_ROUND};
	run_writers(&r, &w, writer_dir_appears, NULL, 100, TAIL_START_END);
	expect_all_once(&r, r.expect);
	check_stats(&r, w.path, r.expect, ROUNDS - 1, 0);
	run_done(&r);
}

static void test_reused_inode_is_a_new_file(void)
{
	struct wctx w = wctx_new("inode", "error.log");
	struct run r = {.expect = ROUNDS * PER_ROUND};
	w.pause_ms = 60;
	run_writers(&r, &w, writer_inode_reuse, NULL, 15, TAIL_START_END);
	expect_all_once(&r, r.expect);
	check_stats(&r, w.path, r.expect, ROUNDS - 1, 0);
	/* the child's exit status counts the inode numbers that came back */
	if (r.child_status == 0)
		printf("     note: this filesystem did not reuse an inode number\n");
	else
		printf("     inode number reused in %d of %d rounds\n", r.child_status, ROUNDS);
	run_done(&r);
}

/* ---- in-process tests ---- */

struct solo {
	struct ev_loop *loop;
	struct rec rec;
	struct tail *tail;
};

static void solo_new(struct solo *s, const char *state_dir, enum tail_start start,
		     const char *const *paths, size_t n)
{
	s->loop = ev_loop_new(EVFLAG_AUTO);
	rec_init(&s->rec, 100000);
	CHECK_INT(tail_new(s->loop, state_dir, start, on_line, &s->rec, &s->tail), 0);
	tail_set_grace_ms(s->tail, 50);
	CHECK_INT(tail_set_files(s->tail, paths, n), 0);
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Run the loop for ms milliseconds. */
static void solo_run(struct solo *s, unsigned ms)
{
	ev_timer t;
	ev_timer_init(&t, stop_cb, ms / 1000.0, 0.);
	ev_timer_start(s->loop, &t);
	ev_run(s->loop, 0);
	ev_timer_stop(s->loop, &t);
}

/* What a test waits for before it checks: the loop runs until it holds
 * (at most 5 s, so a slow machine only slows the test), then 10 ms more so
 * a duplicate would show. */
struct until {
	unsigned unique;  /* distinct lines read */
	long line;	  /* this line read (-1: no condition) */
	const char *path; /* and this many bytes read from path */
	uint64_t bytes;
};

struct waiter {
	struct solo *s;
	struct until u;
	int64_t deadline;
	ev_timer t;
};

static bool until_holds(const struct waiter *w)
{
	const struct rec *r = &w->s->rec;
	const struct tail_stats *st = w->u.path ? tail_stats(w->s->tail, w->u.path) : NULL;
	return r->unique >= w->u.unique && (w->u.line < 0 || r->seen[w->u.line]) &&
	       (!w->u.path || (st && st->bytes >= w->u.bytes));
}

static void wait_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct waiter *w = container_of(t, struct waiter, t);
	if (until_holds(w) || now_mono_ms() > w->deadline)
		ev_break(loop, EVBREAK_ALL);
}

static void solo_wait(struct solo *s, struct until u)
{
	struct waiter w = {.s = s, .u = u, .deadline = now_mono_ms() + 5000};
	ev_timer_init(&w.t, wait_cb, 0.001, 0.001);
	ev_timer_start(s->loop, &w.t);
	ev_run(s->loop, 0);
	ev_timer_stop(s->loop, &w.t);
	CHECK(until_holds(&w));
	solo_run(s, 10);
}

#define UNIQUE(n)   ((struct until){.unique = (n), .line = -1})
#define LINE(n)	    ((struct until){.line = (n)})
#define BYTES(p, n) ((struct until){.line = -1, .path = (p), .bytes = (n)})

static uint64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void solo_free(struct solo *s)
{
	tail_free(s->tail);
	s->tail = NULL;
	ev_loop_destroy(s->loop);
	free(s->rec.seen);
	s->rec.seen = NULL;
}

static void append_lines(const char *path, unsigned from, unsigned to)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	unsigned n = from;
	CHECK(fd >= 0);
	write_lines(fd, &n, to - from);
	close(fd);
}

static unsigned count_range(const struct rec *r, unsigned from, unsigned to, unsigned times)
{
	unsigned c = 0;
	for (unsigned i = from; i < to; i++)
		c += r->seen[i] == times;
	return c;
}

static void test_partial_line_is_held_until_newline(void)
{
	char *path = xasprintf("%s/partial.log", harness_tmpdir());
	const char *paths[] = {path};
	struct solo s;
	write_str(path, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	write_str(path, "00000007 aaaa", O_APPEND); /* 7 → 49 % 50 = 49 letters */
	solo_run(&s, 30);
	CHECK_INT(tail_stats(s.tail, path)->lines, 0);
	write_str(path, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", O_APPEND);
	solo_run(&s, 30);
	CHECK_INT(tail_stats(s.tail, path)->lines, 0);
	write_str(path, "\n", O_APPEND);
	solo_wait(&s, UNIQUE(1));
	CHECK_INT(tail_stats(s.tail, path)->lines, 1);
	CHECK_INT(s.rec.seen[7], 1);
	CHECK_INT(s.rec.malformed, 0);
	solo_free(&s);
	free(path);
}

static void test_long_line_is_cut_and_counted(void)
{
	char *path = xasprintf("%s/long.log", harness_tmpdir());
	const char *paths[] = {path};
	struct solo s;
	size_t big = 200000; /* spans several read chunks */
	char *line = xmalloc(big + 1);

	write_str(path, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	memset(line, 'x', big);
	line[big] = '\0';
	write_str(path, line, O_APPEND);
	append_lines(path, 0, 1); /* its newline ends the long line */
	write_str(path, "\n", O_APPEND);
	memset(line, 'y', TAIL_LINE_MAX);
	line[TAIL_LINE_MAX] = '\0';
	write_str(path, line, O_APPEND); /* exactly TAIL_LINE_MAX: not cut */
	write_str(path, "\n", O_APPEND);
	append_lines(path, 1, 3);
	solo_wait(&s, UNIQUE(2));

	const struct tail_stats *st = tail_stats(s.tail, path);
	/* the long line with line 0 glued to its end (cut: line 0 is in the
	 * skipped part), an empty line, the 8192-byte line, lines 1 and 2 */
	CHECK_INT(st->lines_cut, 1);
	CHECK_INT(st->lines, 5);
	CHECK_INT(s.rec.seen[1], 1);
	CHECK_INT(s.rec.seen[2], 1);
	CHECK_INT(s.rec.seen[0], 0); /* it was the tail of the cut line */
	CHECK_INT(s.rec.at_max, 2);  /* the cut line and the 8192-byte one */
	CHECK_INT(st->bytes, big + 10 + 1 + TAIL_LINE_MAX + 1 + 17 + 24);
	solo_free(&s);
	free(line);
	free(path);
}

static void test_unparsed_lines_are_counted(void)
{
	char *path = xasprintf("%s/unparsed.log", harness_tmpdir());
	const char *paths[] = {path};
	struct solo s;
	write_str(path, "# before start\n", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	write_str(path, "# not nginx\n", O_APPEND);
	append_lines(path, 0, 3);
	write_str(path, "# again\n", O_APPEND);
	solo_wait(&s, BYTES(path, file_size(path) - 15));
	const struct tail_stats *st = tail_stats(s.tail, path);
	CHECK_INT(st->lines, 5);
	CHECK_INT(st->lines_unparsed, 2);
	CHECK_INT(s.rec.unique, 3);
	solo_free(&s);
	free(path);
}

static void test_start_beginning_and_end(void)
{
	char *path = xasprintf("%s/start.log", harness_tmpdir());
	const char *paths[] = {path};
	struct solo s;
	append_lines(path, 0, 10);
	solo_new(&s, NULL, TAIL_START_BEGINNING, paths, 1);
	solo_wait(&s, UNIQUE(10));
	CHECK_INT(s.rec.unique, 10);
	solo_free(&s);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	append_lines(path, 10, 12);
	solo_wait(&s, UNIQUE(2));
	CHECK_INT(s.rec.unique, 2);
	CHECK_INT(count_range(&s.rec, 10, 12, 1), 2);
	solo_free(&s);
	free(path);
}

static char *fresh_dir(const char *name)
{
	char *d = xasprintf("%s/%s", harness_tmpdir(), name);
	mkdir(d, 0755);
	return d;
}

/* Offsets reach the state file within a second, without a stop. */
static void test_offsets_are_saved_within_a_second(void)
{
	char *dir = fresh_dir("saved"), *state = fresh_dir("saved-state");
	char *path = xasprintf("%s/error.log", dir), *sf = xasprintf("%s/tail.state", state);
	const char *paths[] = {path};
	struct tailstate ts;
	struct stat st;
	struct solo s;

	write_str(path, "", O_TRUNC);
	solo_new(&s, state, TAIL_START_SAVED, paths, 1);
	append_lines(path, 0, 50);
	solo_wait(&s, UNIQUE(50));
	solo_run(&s, 1100);
	tailstate_init(&ts);
	CHECK_INT(tailstate_load(&ts, sf), 0);
	CHECK_INT(ts.n, 1);
	CHECK_INT(stat(path, &st), 0);
	if (ts.n == 1) {
		CHECK_STR(ts.v[0].path, path);
		CHECK_INT(ts.v[0].ino, st.st_ino);
		CHECK_INT(ts.v[0].offset, st.st_size);
		CHECK_INT(ts.v[0].fp_len, 64);
	}
	tailstate_done(&ts);
	solo_free(&s);
	free(sf);
	free(path);
	free(dir);
	free(state);
}

static void test_restart_resumes_at_saved_offset(void)
{
	char *dir = fresh_dir("restart"), *state = fresh_dir("restart-state");
	char *path = xasprintf("%s/error.log", dir);
	const char *paths[] = {path};
	struct solo a, b;
	char line[128];
	size_t len = fmt_line(line, 257); /* 59 bytes */

	append_lines(path, 0, 100); /* before the first start: first sight = the end */
	solo_new(&a, state, TAIL_START_SAVED, paths, 1);
	append_lines(path, 100, 200);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	xwrite(fd, line, 12); /* a partial line when we stop */
	solo_wait(&a, UNIQUE(100));
	CHECK_INT(a.rec.unique, 100);
	CHECK_INT(count_range(&a.rec, 100, 200, 1), 100);
	solo_free(&a); /* saves */

	xwrite(fd, line + 12, len - 12); /* written while down */
	close(fd);
	append_lines(path, 258, 300);
	solo_new(&b, state, TAIL_START_SAVED, paths, 1);
	solo_wait(&b, UNIQUE(43));
	CHECK_INT(b.rec.unique, 43);
	CHECK_INT(count_range(&b.rec, 257, 300, 1), 43);
	CHECK_INT(b.rec.dups + b.rec.malformed, 0);
	/* and it goes on following */
	append_lines(path, 300, 310);
	solo_wait(&b, UNIQUE(53));
	CHECK_INT(count_range(&b.rec, 300, 310, 1), 10);
	solo_free(&b);
	free(path);
	free(dir);
	free(state);
}

/* The file was gone when we stopped and was created while we were down:
 * every line of it is new. */
static void test_restart_file_created_while_down_is_read_from_start(void)
{
	char *dir = fresh_dir("restart-gone"), *state = fresh_dir("restart-gone-state");
	char *path = xasprintf("%s/error.log", dir);
	const char *paths[] = {path};
	struct solo a, b;

	append_lines(path, 0, 10);
	solo_new(&a, state, TAIL_START_SAVED, paths, 1);
	append_lines(path, 10, 20);
	solo_wait(&a, UNIQUE(10));
	CHECK_INT(unlink(path), 0);
	solo_run(&a, 100); /* the grace period ends, the file is closed */
	solo_free(&a);

	append_lines(path, 20, 30);
	solo_new(&b, state, TAIL_START_SAVED, paths, 1);
	solo_wait(&b, UNIQUE(10));
	CHECK_INT(count_range(&b.rec, 20, 30, 1), 10);
	CHECK_INT(b.rec.dups + b.rec.malformed, 0);
	solo_free(&b);
	free(path);
	free(dir);
	free(state);
}

/* Rotated (rename + create) while upwatchd was down: the rest of the old
 * file is found by identity next to the path, the new file is read from 0. */
static void test_restart_after_rotation_reads_both_files(void)
{
	char *dir = fresh_dir("restart-rot"), *state = fresh_dir("restart-rot-state");
	char *path = xasprintf("%s/error.log", dir), *old = xasprintf("%s/error.log.1", dir);
	const char *paths[] = {path};
	struct solo a, b;

	write_str(path, "", O_TRUNC);
	solo_new(&a, state, TAIL_START_SAVED, paths, 1);
	append_lines(path, 0, 100);
	solo_wait(&a, UNIQUE(100));
	CHECK_INT(a.rec.unique, 100);
	solo_free(&a);

	append_lines(path, 100, 150);
	CHECK_INT(rename(path, old), 0);
	append_lines(path, 150, 200);
	solo_new(&b, state, TAIL_START_SAVED, paths, 1);
	solo_wait(&b, UNIQUE(100));
	solo_run(&b, 100); /* past the grace period: the old file is closed */
	CHECK_INT(b.rec.unique, 100);
	CHECK_INT(count_range(&b.rec, 100, 200, 1), 100);
	CHECK_INT(b.rec.dups + b.rec.malformed, 0);
	CHECK_INT(tail_stats(b.tail, path)->rotations, 1);
	solo_free(&b);
	free(path);
	free(old);
	free(dir);
	free(state);
}

/* A state file naming the current device and inode but other first bytes
 * describes a deleted file whose inode was reused: read from 0. With the
 * right fingerprint the same entry resumes at its offset. */
static void restart_with_state(const char *name, bool same_content, unsigned expect_from)
{
	char *dir = fresh_dir(name), *state = xasprintf("%s/%s-state", harness_tmpdir(), name);
	char *path = xasprintf("%s/error.log", dir), *sf = xasprintf("%s/tail.state", state);
	const char *paths[] = {path};
	struct tailstate ts;
	struct stat st;
	unsigned char head[64];
	char line[128];
	struct solo s;

	mkdir(state, 0755);
	append_lines(path, 0, 20);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && pread(fd, head, 64, 0) == 64);
	close(fd);
	uint64_t offset = 0;
	for (unsigned i = 0; i < 10; i++)
		offset += fmt_line(line, i);
	if (!same_content)
		head[3] ^= 1;
	tailstate_init(&ts);
	struct tailstate_entry e = {.path = path,
				    .dev = st.st_dev,
				    .ino = st.st_ino,
				    .offset = offset,
				    .fp_hash = hash_fnv1a64(head, 64),
				    .fp_len = 64};
	tailstate_add(&ts, &e);
	CHECK_INT(tailstate_save(&ts, sf), 0);
	tailstate_done(&ts);

	solo_new(&s, state, TAIL_START_SAVED, paths, 1);
	solo_wait(&s, UNIQUE(20 - expect_from));
	CHECK_INT(s.rec.unique, 20 - expect_from);
	CHECK_INT(count_range(&s.rec, expect_from, 20, 1), 20 - expect_from);
	solo_free(&s);
	free(sf);
	free(path);
	free(state);
	free(dir);
}

static void test_restart_reused_inode_reads_from_start(void)
{
	restart_with_state("reuse-state", false, 0);
}

static void test_restart_same_identity_resumes(void)
{
	restart_with_state("same-state", true, 10);
}

/* Renamed and no new file yet: nginx has not reopened and may write to the
 * old file much later than the grace period. Once the new file appears,
 * the old one is closed after the grace period. */
static void test_rotated_file_is_read_until_a_new_file_appears(void)
{
	char *dir = fresh_dir("late");
	char *path = xasprintf("%s/error.log", dir), *old = xasprintf("%s/error.log.1", dir);
	const char *paths[] = {path};
	struct solo s;
	unsigned n = 0;

	write_str(path, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1); /* grace 50 ms */
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	write_lines(fd, &n, 10);
	solo_wait(&s, UNIQUE(10));
	CHECK_INT(rename(path, old), 0);
	solo_run(&s, 200);
	write_lines(fd, &n, 10); /* long after the grace period */
	solo_wait(&s, UNIQUE(20));
	write_str(path, "", O_TRUNC); /* the reopen */
	solo_run(&s, 200);
	write_lines(fd, &n, 10); /* too late: nobody reads the old file now */
	append_lines(path, 30, 35);
	solo_wait(&s, LINE(34));
	CHECK_INT(count_range(&s.rec, 0, 20, 1), 20);
	CHECK_INT(count_range(&s.rec, 20, 30, 0), 10);
	CHECK_INT(count_range(&s.rec, 30, 35, 1), 5);
	CHECK_INT(tail_stats(s.tail, path)->rotations, 1);
	close(fd);
	solo_free(&s);
	free(path);
	free(old);
	free(dir);
}

/* A log with a big backlog is read a chunk per turn of the loop: a line in
 * another log is delivered long before the backlog is done. */
struct fair {
	struct rec rec;
	unsigned a_seen_when_b;
	bool b_seen;
};

static enum tail_take fair_line(void *userdata, const char *path, size_t index, const char *line,
				size_t len, bool may_open)
{
	struct fair *f = userdata;
	if (!f->b_seen && strstr(path, "b.log")) {
		f->b_seen = true;
		f->a_seen_when_b = f->rec.unique;
	}
	return on_line(&f->rec, path, index, line, len, may_open);
}

static void test_big_backlog_does_not_starve_other_files(void)
{
	char *dir = fresh_dir("fair");
	char *a = xasprintf("%s/a.log", dir), *b = xasprintf("%s/b.log", dir);
	const char *paths[] = {a, b};
	const unsigned total = 200000; /* about 7 MB */
	struct fair f;
	struct solo s = {.loop = ev_loop_new(EVFLAG_AUTO)};

	write_str(a, "", O_TRUNC);
	write_str(b, "", O_TRUNC);
	rec_init(&f.rec, total + 1);
	f.b_seen = false;
	CHECK_INT(tail_new(s.loop, NULL, TAIL_START_END, fair_line, &f, &s.tail), 0);
	CHECK_INT(tail_set_files(s.tail, paths, 2), 0);
	append_lines(a, 0, total);
	append_lines(b, total, total + 1);
	ev_run(s.loop, EVRUN_ONCE);
	CHECK(f.b_seen);
	CHECK(f.a_seen_when_b < total / 10);
	for (int64_t end = now_mono_ms() + 5000; f.rec.unique < total + 1 && now_mono_ms() < end;)
		ev_run(s.loop, EVRUN_NOWAIT);
	CHECK_INT(f.rec.unique, total + 1);
	CHECK_INT(f.rec.dups + f.rec.malformed, 0);
	tail_free(s.tail);
	ev_loop_destroy(s.loop);
	free(f.rec.seen);
	free(a);
	free(b);
	free(dir);
}

/* The callback's index is the path's position in the last tail_set_files,
 * also for a file kept across a call that reorders the paths. */
struct indexed {
	unsigned lines[2];
	unsigned wrong;
};

static enum tail_take indexed_line(void *userdata, const char *path, size_t index, const char *line,
				   size_t len, bool may_open)
{
	struct indexed *x = userdata;
	const char *const *want = x->lines[0] + x->lines[1] < 4
				      ? (const char *[]){"a.log", "b.log"}
				      : (const char *[]){"b.log", "a.log"};
	if (index > 1 || !strstr(path, want[index]))
		x->wrong++;
	else
		x->lines[index]++;
	return TAIL_TAKEN;
}

static void test_index_is_the_position_in_the_last_set_files(void)
{
	char *dir = fresh_dir("indexed");
	char *a = xasprintf("%s/a.log", dir), *b = xasprintf("%s/b.log", dir);
	const char *paths[] = {a, b}, *swapped[] = {b, a};
	struct indexed x = {{0, 0}, 0};
	struct solo s = {.loop = ev_loop_new(EVFLAG_AUTO)};

	write_str(a, "", O_TRUNC);
	write_str(b, "", O_TRUNC);
	CHECK_INT(tail_new(s.loop, NULL, TAIL_START_END, indexed_line, &x, &s.tail), 0);
	CHECK_INT(tail_set_files(s.tail, paths, 2), 0);
	append_lines(a, 0, 3);
	append_lines(b, 3, 4);
	for (int64_t end = now_mono_ms() + 5000;
	     x.lines[0] + x.lines[1] < 4 && now_mono_ms() < end;)
		ev_run(s.loop, EVRUN_NOWAIT);
	CHECK_INT(x.lines[0], 3);
	CHECK_INT(x.lines[1], 1);
	CHECK_INT(tail_set_files(s.tail, swapped, 2), 0);
	append_lines(a, 4, 6);
	append_lines(b, 6, 7);
	for (int64_t end = now_mono_ms() + 5000;
	     x.lines[0] + x.lines[1] < 7 && now_mono_ms() < end;)
		ev_run(s.loop, EVRUN_NOWAIT);
	CHECK_INT(x.lines[0], 4); /* 3 of a, then 1 of b */
	CHECK_INT(x.lines[1], 3); /* 1 of b, then 2 of a */
	CHECK_INT(x.wrong, 0);
	tail_free(s.tail);
	ev_loop_destroy(s.loop);
	free(a);
	free(b);
	free(dir);
}

/* The path is a symlink into another directory, and the target itself is
 * rotated there (rename + create): the target's directory is watched. */
static void test_symlink_target_rotation_is_followed(void)
{
	char *dir = fresh_dir("link-target"), *tdir = fresh_dir("link-target/real");
	char *path = xasprintf("%s/error.log", dir), *target = xasprintf("%s/x.log", tdir);
	char *old = xasprintf("%s/x.log.1", tdir);
	const char *paths[] = {path};
	struct solo s;

	write_str(target, "", O_TRUNC);
	CHECK_INT(symlink("real/x.log", path), 0);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	append_lines(target, 0, 10);
	solo_wait(&s, UNIQUE(10));
	CHECK_INT(rename(target, old), 0);
	solo_run(&s, 10);
	append_lines(target, 10, 20);
	solo_wait(&s, UNIQUE(20));
	CHECK_INT(count_range(&s.rec, 0, 20, 1), 20);
	CHECK_INT(tail_stats(s.tail, path)->rotations, 1);
	solo_free(&s);
	free(path);
	free(target);
	free(old);
	free(tdir);
	free(dir);
}

/* ---- copytruncate, step by step ---- */

static void copy_path(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;
	CHECK(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		xwrite(out, buf, (size_t)n);
	close(in);
	close(out);
}

/* The reader is behind when the copy is made: it finishes from the copy. */
static void test_copytruncate_reader_behind_recovers_from_copy(void)
{
	char *dir = fresh_dir("ct-behind");
	char *path = xasprintf("%s/error.log", dir), *copy = xasprintf("%s/error.log.1", dir);
	const char *paths[] = {path};
	struct solo s;

	write_str(path, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	append_lines(path, 0, 100);
	solo_wait(&s, UNIQUE(100));
	append_lines(path, 100, 1000); /* not read yet */
	copy_path(path, copy);
	CHECK_INT(truncate(path, 0), 0);
	append_lines(path, 1000, 1010);
	solo_wait(&s, UNIQUE(1010));
	const struct tail_stats *st = tail_stats(s.tail, path);
	CHECK_INT(count_range(&s.rec, 0, 1010, 1), 1010);
	CHECK_INT(s.rec.dups + s.rec.malformed, 0);
	CHECK_INT(st->truncations, 1);
	CHECK_INT(st->lines_lost, 0);
	solo_free(&s);
	free(path);
	free(copy);
	free(dir);
}

/* The reader holds the start of a line; its end was written after the copy
 * and truncated away: that line is provably lost, and counted. */
/* The window of issue 15: the file at the path is replaced (rename +
 * create), written and then copytruncated before the follower has even
 * opened it (the loop did not run: a busy machine). Its lines are in the
 * copy, which the follower reads before the truncated file. */
static void test_copytruncate_before_new_file_was_opened_reads_the_copy(void)
{
	char *dir = fresh_dir("ct-unopened");
	char *path = xasprintf("%s/error.log", dir), *old = xasprintf("%s/error.log.1", dir),
	     *copy = xasprintf("%s/error.log.1", dir), *older = xasprintf("%s/error.log.2", dir);
	const char *paths[] = {path};
	struct solo s;

	write_str(path, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	append_lines(path, 0, 100);
	solo_wait(&s, UNIQUE(100));
	/* no loop from here on: rename + create ... */
	CHECK_INT(rename(path, old), 0);
	append_lines(path, 100, 2100);
	/* ... then copytruncate, which first moves .1 up */
	CHECK_INT(rename(old, older), 0);
	copy_path(path, copy);
	CHECK_INT(truncate(path, 0), 0);
	append_lines(path, 2100, 2110);
	solo_wait(&s, UNIQUE(2110));
	const struct tail_stats *st = tail_stats(s.tail, path);
	CHECK_INT(count_range(&s.rec, 0, 2110, 1), 2110);
	CHECK_INT(s.rec.dups + s.rec.malformed, 0);
	CHECK_INT(st->lines_lost, 0);
	solo_free(&s);
	free(path);
	free(old);
	free(copy);
	free(older);
	free(dir);
}

/* Renamed away twice (nginx rotating twice) before the follower opened the
 * middle file: its lines are read from where the rename put it. */
static void test_renamed_before_it_was_opened_is_read(void)
{
	char *dir = fresh_dir("mv-unopened");
	char *path = xasprintf("%s/error.log", dir), *one = xasprintf("%s/error.log.1", dir),
	     *two = xasprintf("%s/error.log.2", dir);
	const char *paths[] = {path};
	struct solo s;

	write_str(path, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	append_lines(path, 0, 100);
	solo_wait(&s, UNIQUE(100));
	CHECK_INT(rename(path, one), 0);
	append_lines(path, 100, 2100);
	CHECK_INT(rename(one, two), 0);
	CHECK_INT(rename(path, one), 0);
	append_lines(path, 2100, 2110);
	solo_wait(&s, UNIQUE(2110));
	CHECK_INT(count_range(&s.rec, 0, 2110, 1), 2110);
	CHECK_INT(s.rec.dups + s.rec.malformed, 0);
	solo_free(&s);
	free(path);
	free(one);
	free(two);
	free(dir);
}

/* The same, with the file deleted (and another created) before anyone could
 * open it: its lines cannot be read by anyone, and tail never saw them, so
 * nothing is counted; every later line is read once. */
static void test_file_deleted_before_it_was_opened_loses_only_its_lines(void)
{
	char *dir = fresh_dir("del-unopened");
	char *path = xasprintf("%s/error.log", dir), *old = xasprintf("%s/error.log.1", dir);
	const char *paths[] = {path};
	struct solo s;

	write_str(path, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	append_lines(path, 0, 100);
	solo_wait(&s, UNIQUE(100));
	CHECK_INT(rename(path, old), 0);
	append_lines(path, 100, 200);
	CHECK_INT(unlink(path), 0);
	append_lines(path, 200, 210);
	solo_wait(&s, UNIQUE(110));
	CHECK_INT(count_range(&s.rec, 0, 100, 1), 100);
	CHECK_INT(count_range(&s.rec, 100, 200, 0), 100);
	CHECK_INT(count_range(&s.rec, 200, 210, 1), 10);
	CHECK_INT(s.rec.dups + s.rec.malformed, 0);
	solo_free(&s);
	free(path);
	free(old);
	free(dir);
}

/* A writer without O_APPEND goes on at its old offset after a truncate: the
 * file is then a hole of zeros followed by lines. 4 GiB of hole is jumped
 * over, not read; written zeros at a line start are skipped; both counted. */
static void test_nul_runs_are_skipped_and_counted(void)
{
	char *dir = fresh_dir("nul");
	char *path = xasprintf("%s/error.log", dir);
	const char *paths[] = {path};
	struct solo s;
	char buf[128];

	write_str(path, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	append_lines(path, 0, 10);
	solo_wait(&s, UNIQUE(10));
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_INT(ftruncate(fd, 0), 0);
	const off_t hole = (off_t)4 << 30;
	size_t n = fmt_line(buf, 10);
	CHECK_INT(pwrite(fd, buf, n, hole), (ssize_t)n);
	solo_wait(&s, UNIQUE(11));
	/* written zeros, then a line */
	char zeros[100000] = {0};
	CHECK_INT(pwrite(fd, zeros, sizeof(zeros), hole + (off_t)n), (ssize_t)sizeof(zeros));
	size_t m = fmt_line(buf, 11);
	CHECK_INT(pwrite(fd, buf, m, hole + (off_t)n + (off_t)sizeof(zeros)), (ssize_t)m);
	close(fd);
	solo_wait(&s, UNIQUE(12));
	const struct tail_stats *st = tail_stats(s.tail, path);
	CHECK_INT(count_range(&s.rec, 0, 12, 1), 12);
	CHECK_INT(s.rec.dups + s.rec.malformed, 0);
	CHECK_INT(st->nul_bytes, (uint64_t)hole + sizeof(zeros));
	CHECK_INT(st->lines, 12);
	CHECK_INT(st->lines_cut, 0);
	solo_free(&s);
	free(path);
	free(dir);
}

/* A FIFO (or a symlink) where the offsets file goes: refused at once, never
 * blocked on, and reported by every log as its fault; lines still flow. */
static void test_state_file_fifo_is_refused_and_reported(void)
{
	char *dir = fresh_dir("state-fifo");
	char *path = xasprintf("%s/error.log", dir), *state = xasprintf("%s/tail.state", dir);
	const char *paths[] = {path};
	struct solo s;
	struct tail_log l;

	write_str(path, "", O_TRUNC);
	CHECK_INT(mkfifo(state, 0600), 0);
	solo_new(&s, dir, TAIL_START_END, paths, 1);
	tail_log_at(s.tail, 0, &l);
	CHECK_INT(l.error, EINVAL);
	CHECK(strstr(l.error_msg, "offsets file") != NULL);
	append_lines(path, 0, 10);
	solo_wait(&s, UNIQUE(10));
	CHECK_INT(tail_save(s.tail), -EINVAL);
	struct stat st;
	CHECK_INT(lstat(state, &st), 0);
	CHECK(S_ISFIFO(st.st_mode));
	/* once the FIFO is gone, a save succeeds and the fault clears */
	CHECK_INT(unlink(state), 0);
	CHECK_INT(tail_save(s.tail), 0);
	tail_log_at(s.tail, 0, &l);
	CHECK_INT(l.error, 0);
	CHECK_STR(l.error_msg, "");
	solo_free(&s);
	free(path);
	free(state);
	free(dir);
}

/* A log nobody may read is a fault of that log, reported with its errno,
 * and tail_set_files returns it; when it becomes readable it is followed. */
/* A read that fails (EIO) is a fault of that log, with errno and a message,
 * never a silent stop. /proc/self/mem is a regular file whose read at offset
 * 0 fails with EIO: a real I/O error without a broken disk. */
static void test_read_error_is_a_reported_fault(void)
{
	char *dir = fresh_dir("eio");
	char *path = xasprintf("%s/error.log", dir);
	const char *paths[] = {path};
	struct solo s;
	struct tail_log l;
	CHECK_INT(symlink("/proc/self/mem", path), 0);
	s.loop = ev_loop_new(EVFLAG_AUTO);
	rec_init(&s.rec, 100);
	CHECK_INT(tail_new(s.loop, NULL, TAIL_START_BEGINNING, on_line, &s.rec, &s.tail), 0);
	tail_set_files(s.tail, paths, 1);
	ev_run(s.loop, EVRUN_NOWAIT);
	tail_log_at(s.tail, 0, &l);
	CHECK_INT(l.error, EIO);
	CHECK(l.error_msg && strstr(l.error_msg, path) != NULL);
	solo_free(&s);
	free(path);
	free(dir);
}

static void test_unreadable_log_is_a_reported_fault(void)
{
	if (geteuid() == 0) {
		/* root reads anything: use a directory where the file should be */
		char *dir = fresh_dir("unreadable");
		char *path = xasprintf("%s/error.log", dir);
		const char *paths[] = {path};
		struct solo s;
		struct tail_log l;
		CHECK_INT(mkdir(path, 0755), 0);
		s.loop = ev_loop_new(EVFLAG_AUTO);
		rec_init(&s.rec, 100);
		CHECK_INT(tail_new(s.loop, NULL, TAIL_START_END, on_line, &s.rec, &s.tail), 0);
		CHECK_INT(tail_set_files(s.tail, paths, 1), -EINVAL);
		tail_log_at(s.tail, 0, &l);
		CHECK_INT(l.error, EINVAL);
		CHECK(strstr(l.error_msg, path) != NULL);
		CHECK_INT(rmdir(path), 0);
		write_str(path, "", O_TRUNC);
		append_lines(path, 0, 3);
		solo_wait(&s, UNIQUE(3));
		tail_log_at(s.tail, 0, &l);
		CHECK_INT(l.error, 0);
		solo_free(&s);
		free(path);
		free(dir);
		return;
	}
	char *dir = fresh_dir("unreadable");
	char *path = xasprintf("%s/error.log", dir);
	const char *paths[] = {path};
	struct solo s;
	struct tail_log l;
	write_str(path, "", O_TRUNC);
	CHECK_INT(chmod(path, 0), 0);
	s.loop = ev_loop_new(EVFLAG_AUTO);
	rec_init(&s.rec, 100);
	CHECK_INT(tail_new(s.loop, NULL, TAIL_START_END, on_line, &s.rec, &s.tail), 0);
	CHECK_INT(tail_set_files(s.tail, paths, 1), -EACCES);
	tail_log_at(s.tail, 0, &l);
	CHECK_INT(l.error, EACCES);
	CHECK(strstr(l.error_msg, path) != NULL);
	solo_free(&s);
	free(path);
	free(dir);
}

/* A PHP stack trace in a FastCGI stderr entry spans physical lines; the
 * callback gets it as one line joined by '\n'. */
struct entries {
	unsigned n, open; /* entries taken; answers TAIL_OPEN */
	char last[TAIL_LINE_MAX + 1];
	size_t last_len;
};

/* As the daemon answers: a FastCGI stderr entry without its context is
 * open (not taken) while it may be. */
static enum tail_take on_entry(void *userdata, const char *path, size_t index, const char *line,
			       size_t len, bool may_open)
{
	struct entries *e = userdata;
	struct errlog_event ev;
	if (errlog_parse_upstream(line, len, &ev) == 0 && may_open && errlog_event_open(&ev, len)) {
		e->open++;
		return TAIL_OPEN;
	}
	e->n++;
	memcpy(e->last, line, len);
	e->last[len] = '\0';
	e->last_len = len;
	return TAIL_TAKEN;
}

static void test_multiline_fastcgi_entry_is_one_line(void)
{
	char *dir = fresh_dir("multiline");
	char *path = xasprintf("%s/error.log", dir);
	const char *paths[] = {path};
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct tail *t;
	struct entries e = {0};
	const char *first = "2025/03/14 09:12:01 [error] 23817#23817: *1184 FastCGI sent in "
			    "stderr: \"PHP message: PHP Fatal error:  Uncaught Exception: boom in "
			    "/var/www/index.php:3";
	const char *rest = "Stack trace:\n#0 {main}\n  thrown in /var/www/index.php on line 3\" "
			   "while reading response header from upstream, client: 127.0.0.1, "
			   "server: _, request: \"GET / HTTP/1.1\", upstream: "
			   "\"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"localhost\"";
	const char *next = "2025/03/14 09:12:02 [error] 23817#23817: *1185 connect() failed "
			   "(111: Connection refused) while connecting to upstream, client: "
			   "127.0.0.1, server: _, request: \"GET / HTTP/1.1\", upstream: "
			   "\"http://127.0.0.1:8080/\", host: \"localhost\"";

	write_str(path, "", O_TRUNC);
	CHECK_INT(tail_new(loop, NULL, TAIL_START_END, on_entry, &e, &t), 0);
	CHECK_INT(tail_set_files(t, paths, 1), 0);
	char *all = xasprintf("%s\n%s\n%s\n", first, rest, next);
	write_str(path, all, O_APPEND);
	tail_rescan(t);
	const struct tail_stats *st = tail_stats(t, path);
	CHECK_INT(e.n, 2);
	CHECK_INT(st->lines, 5);
	CHECK_STR(e.last, next);
	/* the entry alone, and one cut short (no closing line: nginx's cut) */
	e.n = 0;
	char *entry = xasprintf("%s\n%s", first, rest);
	write_str(path, entry, O_APPEND);
	write_str(path, "\n", O_APPEND);
	tail_rescan(t);
	CHECK_INT(e.n, 1);
	CHECK_STR(e.last, entry);
	struct errlog_event ev;
	CHECK_INT(errlog_parse(e.last, e.last_len, &ev), 0);
	CHECK_INT(ev.kind, EV_FASTCGI_STDERR);
	CHECK_STR(ev.peer.key, "unix:/run/php/php8.2-fpm.sock");
	e.n = 0;
	char *cut = xasprintf("%s\nStack trace:\n", first);
	write_str(path, cut, O_APPEND);
	tail_rescan(t);
	CHECK_INT(e.n, 1);
	CHECK_INT(st->lines, 5 + 4 + 2);
	tail_free(t);
	ev_loop_destroy(loop);
	free(all);
	free(entry);
	free(cut);
	free(path);
	free(dir);
}

static void test_copytruncate_lost_line_end_is_counted(void)
{
	char *dir = fresh_dir("ct-partial");
	char *path = xasprintf("%s/error.log", dir), *copy = xasprintf("%s/error.log.1", dir);
	const char *paths[] = {path};
	struct solo s;
	char line[128];
	size_t len = fmt_line(line, 10);

	write_str(path, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	append_lines(path, 0, 10);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	xwrite(fd, line, 12);
	solo_wait(&s, BYTES(path, file_size(path)));
	copy_path(path, copy);
	xwrite(fd, line + 12, len - 12); /* between the copy and the truncate */
	CHECK_INT(truncate(path, 0), 0);
	close(fd);
	append_lines(path, 11, 20);
	solo_wait(&s, UNIQUE(19));
	const struct tail_stats *st = tail_stats(s.tail, path);
	CHECK_INT(rec_missing(&s.rec, 20), 1);
	CHECK_INT(s.rec.seen[10], 0);
	CHECK_INT(st->lines_lost, 1);
	CHECK_INT(s.rec.dups + s.rec.malformed, 0);
	solo_free(&s);
	free(path);
	free(copy);
	free(dir);
}

/* The reader saw (fstat) a backlog it had not read when the file was
 * truncated and the copy does not hold it: at least one line is lost and
 * says so. How many cannot be known: lines_lost is a lower bound. */
static void test_copytruncate_unread_backlog_counts_a_loss(void)
{
	char *dir = fresh_dir("ct-backlog");
	char *path = xasprintf("%s/error.log", dir), *copy = xasprintf("%s/error.log.1", dir);
	const char *paths[] = {path};
	struct solo s;

	write_str(path, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 1);
	append_lines(path, 0, 100);
	solo_wait(&s, UNIQUE(100));
	copy_path(path, copy);
	/* ~1.4 MB: more than one turn of the loop reads (a chunk of TAIL_CHUNK,
	 * 256 KB, for the file's event and one for its path's check) */
	append_lines(path, 100, 40000);
	ev_run(s.loop, EVRUN_NOWAIT); /* a part of the backlog is read */
	CHECK(s.rec.unique > 100 && s.rec.unique < 40000);
	CHECK_INT(truncate(path, 0), 0);
	append_lines(path, 40000, 40010);
	solo_wait(&s, LINE(40009));
	const struct tail_stats *st = tail_stats(s.tail, path);
	CHECK_INT(st->lines_lost, 1);
	CHECK(rec_missing(&s.rec, 40010) >= 1);
	CHECK_INT(count_range(&s.rec, 40000, 40010, 1), 10);
	CHECK_INT(s.rec.dups + s.rec.malformed, 0);
	solo_free(&s);
	free(path);
	free(copy);
	free(dir);
}

/* ---- inotify queue overflow ---- */

static unsigned read_uint(const char *file)
{
	char *data;
	unsigned v = 0;
	if (read_file(file, 64, &data, NULL) == 0) {
		v = (unsigned)strtoul(data, NULL, 10);
		free(data);
	}
	return v;
}

/* Fill the inotify queue (alternating writes to two files are not merged),
 * then rotate one file: those events are dropped, only IN_Q_OVERFLOW says
 * something happened, and the rescan must find the new file. */
static void test_queue_overflow_rescans_everything(void)
{
	char *dir = fresh_dir("overflow");
	char *a = xasprintf("%s/a.log", dir), *b = xasprintf("%s/b.log", dir);
	char *a1 = xasprintf("%s/a.log.1", dir);
	const char *paths[] = {a, b};
	unsigned q = read_uint("/proc/sys/fs/inotify/max_queued_events");
	struct solo s;

	if (q == 0 || q > 200000) {
		harness_skip("max_queued_events = %u", q);
		goto out;
	}
	write_str(a, "", O_TRUNC);
	write_str(b, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, paths, 2);
	free(s.rec.seen); /* a bigger one */
	rec_init(&s.rec, q + 2000);
	int fa = open(a, O_WRONLY | O_APPEND | O_CLOEXEC),
	    fb = open(b, O_WRONLY | O_APPEND | O_CLOEXEC);
	unsigned n = 0;
	while (n < q + 100) {
		write_lines(fa, &n, 1);
		write_lines(fb, &n, 1);
	}
	close(fa);
	close(fb);
	CHECK_INT(rename(a, a1), 0);
	append_lines(a, n, n + 100);
	n += 100;
	solo_wait(&s, UNIQUE(n));
	CHECK_INT(count_range(&s.rec, 0, n, 1), n);
	CHECK_INT(s.rec.dups + s.rec.malformed, 0);
	CHECK_INT(tail_stats(s.tail, a)->rotations, 1);
	/* a rescan with nothing new reads nothing twice */
	tail_rescan(s.tail);
	CHECK_INT(s.rec.dups, 0);
	CHECK_INT(tail_stats(s.tail, a)->lines + tail_stats(s.tail, b)->lines, n);
	solo_free(&s);
out:
	free(a);
	free(b);
	free(a1);
	free(dir);
}

/* ---- the set of files and the stats ---- */

static void test_set_files_keeps_position_and_counters(void)
{
	char *dir = fresh_dir("setfiles");
	char *a = xasprintf("%s/a.log", dir), *b = xasprintf("%s/b.log", dir);
	const char *one[] = {a}, *two[] = {b, a, a};
	struct solo s;

	write_str(a, "", O_TRUNC);
	write_str(b, "", O_TRUNC);
	solo_new(&s, NULL, TAIL_START_END, one, 1);
	append_lines(a, 0, 5);
	solo_wait(&s, UNIQUE(5));
	CHECK(tail_stats(s.tail, b) == NULL);
	CHECK_INT(tail_set_files(s.tail, two, 3), 0);
	append_lines(a, 5, 10);
	append_lines(b, 10, 12);
	solo_wait(&s, UNIQUE(12));
	CHECK_INT(tail_stats(s.tail, a)->lines, 10);
	CHECK_INT(tail_stats(s.tail, b)->lines, 2);
	CHECK_INT(count_range(&s.rec, 0, 12, 1), 12);
	CHECK_INT(tail_set_files(s.tail, one, 1), 0);
	CHECK(tail_stats(s.tail, b) == NULL);
	const char *bad[] = {""};
	CHECK_INT(tail_set_files(s.tail, bad, 1), -EINVAL);

	CHECK_INT(tail_count(s.tail), 1);
	struct tail_log l;
	tail_log_at(s.tail, 0, &l);
	CHECK_STR(l.path, a);
	CHECK_INT(l.stats->lines, 10);
	char line[128];
	size_t bytes = 0;
	for (unsigned i = 0; i < 10; i++)
		bytes += fmt_line(line, i);
	CHECK_INT(l.stats->bytes, bytes);
	CHECK_INT(l.stats->rotations, 0);
	CHECK_INT(l.stats->truncations, 0);
	CHECK_INT(l.stats->lines_cut, 0);
	CHECK_INT(l.stats->lines_unparsed, 0);
	CHECK_INT(l.stats->lines_lost, 0);
	CHECK_INT(l.error, 0);
	CHECK_STR(l.error_msg, "");
	solo_free(&s);
	free(a);
	free(b);
	free(dir);
}

/* ---- the state file ---- */

static void test_state_file_round_trip_and_garbage(void)
{
	struct tailstate st, back;
	char *text;
	size_t len;
	struct tailstate_entry e = {.path = (char *)"/var/log/nginx/error.log",
				    .dev = 2049,
				    .ino = 123456,
				    .offset = 99,
				    .fp_hash = 0xdeadbeef00112233ull,
				    .fp_len = 64,
				    .skipping = true};

	tailstate_init(&st);
	tailstate_add(&st, &e);
	e.path = (char *)"bad\npath";
	tailstate_add(&st, &e); /* not saved */
	tailstate_format(&st, &text, &len);
	tailstate_init(&back);
	CHECK_INT(tailstate_parse(&back, text, len), 1);
	CHECK_STR(back.v[0].path, "/var/log/nginx/error.log");
	CHECK_INT(back.v[0].ino, 123456);
	CHECK_INT(back.v[0].offset, 99);
	CHECK(back.v[0].fp_hash == 0xdeadbeef00112233ull);
	CHECK_INT(back.v[0].skipping, 1);
	free(text);
	tailstate_done(&back);
	tailstate_done(&st);

	static const char *const garbage[] = {
	    "",
	    "upwatch-tail-state 2\n1 2 3 0000000000000000 0 0 /x\n",
	    "upwatch-tail-state 1\n1 2 3 0000000000000000 0 0 /x", /* torn */
	    "upwatch-tail-state 1\n1 2 x 0000000000000000 0 0 /x\n",
	    "upwatch-tail-state 1\n1 2 3 0000000000000000 0 2 /x\n",
	    "upwatch-tail-state 1\n99999999999999999999 2 3 0000000000000000 0 0 /x\n",
	    "upwatch-tail-state 1\n1 2 3 0000000000000000 0 0 \n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(garbage); i++) {
		tailstate_init(&back);
		CHECK_INT(tailstate_parse(&back, garbage[i], strlen(garbage[i])), 0);
		tailstate_done(&back);
	}
}

/* An argument runs only the tests whose name contains it. */
#define RUN_IF(fn)                                                                                 \
	do {                                                                                       \
		if (!filter || strstr(#fn, filter))                                                \
			RUN(fn);                                                                   \
	} while (0)

/* --- tailsrc alone: the newline search --- */

struct seq {
	unsigned next, bad; /* the next line length expected; lines not as expected */
};

static char seq_byte(unsigned len, unsigned i)
{
	return (char)('a' + (len + i) % 26);
}

static enum tail_take seq_line(void *userdata, const char *path, size_t index, const char *line,
			       size_t len, bool may_open)
{
	struct seq *q = userdata;
	(void)path, (void)index, (void)may_open;
	bool ok = len == q->next;
	for (size_t i = 0; ok && i < len; i++)
		ok = line[i] == seq_byte(q->next, (unsigned)i);
	q->bad += !ok;
	q->next++;
	return TAIL_TAKEN;
}

/* Lines of every length from 0 to 399, read in chunks of sizes that put
 * their newlines at every place of the search's 64-byte windows and at a
 * chunk's last bytes: each line is given once, whole, in order. */
static void test_lines_of_every_length_split_exactly(void)
{
	char *path = xasprintf("%s/every-length.log", harness_tmpdir());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	unsigned n = 400;
	for (unsigned len = 0; len < n; len++) {
		char line[512];
		for (unsigned i = 0; i < len; i++)
			line[i] = seq_byte(len, i);
		line[len] = '\n';
		xwrite(fd, line, len + 1);
	}
	static const size_t sizes[] = {1, 63, 64, 65, 127, 200, 4096, 1 << 17};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct seq q = {0};
		struct tail_stats stats = {0};
		struct tailsrc_sink sink = {
		    .path = path, .index = 0, .stats = &stats, .fn = seq_line, .userdata = &q};
		struct tailsrc src;
		struct stat st;
		char *buf = xmalloc(sizes[k]);
		int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0); /* the source closes its own */
		CHECK(dup_fd >= 0 && fstat(dup_fd, &st) == 0);
		tailsrc_init(&src, &sink, dup_fd, &st, 0, false);
		for (unsigned guard = 0; guard < 1000000; guard++) {
			int64_t r = tailsrc_read(&src, buf, sizes[k]);
			CHECK(r >= 0);
			if (r <= 0 && !src.more)
				break;
		}
		tailsrc_done(&src, true);
		free(buf);
		CHECK_INT(q.next, n);
		CHECK_INT(q.bad, 0);
		CHECK_INT(stats.lines, n);
		CHECK_INT(stats.lines_unparsed, 0);
	}
	close(fd);
	free(path);
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;

	signal(SIGPIPE, SIG_IGN);
	RUN_IF(test_lines_of_every_length_split_exactly);
	RUN_IF(test_partial_line_is_held_until_newline);
	RUN_IF(test_long_line_is_cut_and_counted);
	RUN_IF(test_unparsed_lines_are_counted);
	RUN_IF(test_start_beginning_and_end);
	RUN_IF(test_state_file_round_trip_and_garbage);
	RUN_IF(test_set_files_keeps_position_and_counters);
	RUN_IF(test_copytruncate_reader_behind_recovers_from_copy);
	RUN_IF(test_copytruncate_lost_line_end_is_counted);
	RUN_IF(test_copytruncate_before_new_file_was_opened_reads_the_copy);
	RUN_IF(test_file_deleted_before_it_was_opened_loses_only_its_lines);
	RUN_IF(test_renamed_before_it_was_opened_is_read);
	RUN_IF(test_nul_runs_are_skipped_and_counted);
	RUN_IF(test_state_file_fifo_is_refused_and_reported);
	RUN_IF(test_unreadable_log_is_a_reported_fault);
	RUN_IF(test_read_error_is_a_reported_fault);
	RUN_IF(test_multiline_fastcgi_entry_is_one_line);
	RUN_IF(test_copytruncate_unread_backlog_counts_a_loss);
	RUN_IF(test_queue_overflow_rescans_everything);
	RUN_IF(test_offsets_are_saved_within_a_second);
	RUN_IF(test_restart_resumes_at_saved_offset);
	RUN_IF(test_restart_after_rotation_reads_both_files);
	RUN_IF(test_restart_file_created_while_down_is_read_from_start);
	RUN_IF(test_restart_reused_inode_reads_from_start);
	RUN_IF(test_restart_same_identity_resumes);
	RUN_IF(test_rotated_file_is_read_until_a_new_file_appears);
	RUN_IF(test_big_backlog_does_not_starve_other_files);
	RUN_IF(test_index_is_the_position_in_the_last_set_files);
	RUN_IF(test_symlink_target_rotation_is_followed);
	RUN_IF(test_rotation_rename_create_reads_old_file_to_its_end);
	RUN_IF(test_rotation_copytruncate_loses_nothing);
	RUN_IF(test_rotation_copytruncate_concurrent_counts_only_real_losses);
	RUN_IF(test_rotation_delete_recreate_loses_nothing);
	RUN_IF(test_rotation_mixed_under_load_reads_every_line_or_counts_it);
	RUN_IF(test_rotation_symlink_swap_back_to_open_file);
	RUN_IF(test_rotation_symlink_swap_back_to_closed_file);
	RUN_IF(test_file_appearing_later_is_read_from_start);
	RUN_IF(test_directory_appearing_later_is_followed);
	RUN_IF(test_reused_inode_is_a_new_file);
	return harness_result();
}
