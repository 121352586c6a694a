/* bench_tail: latency from write() of a log line to tail's callback.
 *
 * A child process appends lines carrying CLOCK_MONOTONIC (taken just before
 * write()) at fixed intervals; the parent follows the file with tail on a
 * real libev loop and records now - stamp in the callback.
 *
 *   bench_tail [LINES [INTERVAL_US]]     (default 10000 lines, 200 us apart)
 *
 * Target on an idle machine: p99 < 2 ms.
 *
 *   bench_tail ingest FILE
 *
 * reads an existing log from its start through tail and
 * errlog_parse_upstream(), as the daemon does at start (read, split, join
 * multi-line entries, parse), and prints the CPU time; tests/bench/errlog.sh
 * puts it next to wc -l on the same file. */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log/errlog.h"
#include "log/tail.h"
#include "core/util.h"

struct bench {
	uint64_t *lat_ns;
	size_t n, want;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static enum tail_take on_line(void *userdata, const char *path, size_t index, const char *line,
			      size_t len, bool may_open)
{
	struct bench *b = userdata;
	uint64_t now = mono_ns(), stamp = strtoull(line, NULL, 10);

	if (b->n < b->want && stamp > 0 && stamp <= now)
		b->lat_ns[b->n++] = now - stamp;
	if (b->n == b->want)
		ev_break(EV_DEFAULT, EVBREAK_ALL);
	return TAIL_TAKEN;
}

struct ingest {
	uint64_t entries, upstream, size;
	struct tail *t;
	const char *path;
	ev_idle done;
};

/* As the daemon answers tail (without diagnosis). */
static enum tail_take on_entry(void *userdata, const char *path, size_t index, const char *line,
			       size_t len, bool may_open)
{
	struct ingest *in = userdata;
	struct errlog_event ev;
	if (errlog_parse_upstream(line, len, &ev) < 0) {
		in->entries++;
		return TAIL_UNPARSED;
	}
	if (may_open && errlog_event_open(&ev, len))
		return TAIL_OPEN;
	in->entries++;
	in->upstream += ev.kind != EV_OTHER;
	return TAIL_TAKEN;
}

/* Stop once the whole file went through. */
static void ingest_check(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct ingest *in = container_of(w, struct ingest, done);
	const struct tail_stats *st = tail_stats(in->t, in->path);
	if (st && st->bytes + st->nul_bytes >= in->size)
		ev_break(loop, EVBREAK_ALL);
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ingest(const char *path)
{
	struct ingest in = {.path = path};
	struct stat sb;
	if (stat(path, &sb) < 0) {
		fprintf(stderr, "bench_tail: %s: %s\n", path, strerror(errno));
		return 1;
	}
	in.size = (uint64_t)sb.st_size;
	struct ev_loop *loop = EV_DEFAULT;
	const char *paths[] = {path};
	if (tail_new(loop, NULL, TAIL_START_BEGINNING, on_entry, &in, &in.t) < 0 ||
	    tail_set_files(in.t, paths, 1) < 0)
		return 2;
	ev_idle_init(&in.done, ingest_check);
	ev_idle_start(loop, &in.done);
	double c0 = cpu_s();
	ev_run(loop, 0);
	double c = cpu_s() - c0;
	const struct tail_stats *st = tail_stats(in.t, path);
	printf("tail ingest: %llu lines (%llu entries, %llu upstream events), %.1f MB, cpu %.3f s, "
	       "%.0f lines/s\n",
	       (unsigned long long)st->lines, (unsigned long long)in.entries,
	       (unsigned long long)in.upstream, (double)in.size / 1e6, c, (double)st->lines / c);
	tail_free(in.t);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void writer(const char *path, size_t lines, unsigned interval_us)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	char buf[256];
	struct timespec next;

	if (fd < 0)
		_exit(2);
	usleep(100000); /* let the parent reach its loop */
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (size_t i = 0; i < lines; i++) {
		next.tv_nsec += (long)interval_us * 1000;
		while (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		int n =
		    snprintf(buf, sizeof(buf),
			     "%" PRIu64 " 2026/11/21 11:00:00 [error] 1234#1234: *%zu connect() "
			     "failed (111: Connection refused) while connecting to upstream\n",
			     mono_ns(), i);
		if (write(fd, buf, (size_t)n) != n)
			_exit(3);
	}
	close(fd);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "ingest") == 0)
		return ingest(argv[2]);
	size_t lines = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	unsigned interval_us = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 200;
	char dir[] = "/tmp/bench-tail-XXXXXX";
	struct bench b = {.lat_ns = xcalloc(lines ? lines : 1, sizeof(uint64_t)), .want = lines};

	if (!lines || !mkdtemp(dir))
		return 2;
	char *path = xasprintf("%s/error.log", dir);
	close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));

	struct ev_loop *loop = EV_DEFAULT;
	struct tail *t;
	const char *paths[] = {path};
	if (tail_new(loop, NULL, TAIL_START_END, on_line, &b, &t) < 0 ||
	    tail_set_files(t, paths, 1) < 0)
		return 2;

	pid_t pid = fork();
	if (pid == 0)
		writer(path, lines, interval_us);
	ev_run(loop, 0);
	waitpid(pid, NULL, 0);

	qsort(b.lat_ns, b.n, sizeof(uint64_t), cmp_u64);
	printf("tail latency write -> callback, %zu lines every %u us:\n", b.n, interval_us);
	printf("  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n", b.lat_ns[b.n / 2] / 1e6,
	       b.lat_ns[b.n * 9 / 10] / 1e6, b.lat_ns[b.n * 99 / 100] / 1e6,
	       b.lat_ns[b.n - 1] / 1e6);

	tail_free(t);
	unlink(path);
	rmdir(dir);
	free(path);
	free(b.lat_ns);
	return 0;
}
