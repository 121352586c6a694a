/* bench_errlog: throughput of errlog_parse() on a large realistic error log.
 *
 *   bench_errlog generate FILE [MB] [CORPUS]   write ~MB (default 200) of entries
 *   bench_errlog run FILE                      parse FILE as the daemon does
 *                                              (errlog_parse_upstream), print lines/s
 *   bench_errlog run-full FILE                 the same with errlog_parse (every field)
 *
 * The generator replays the entries of the sample corpus (catalog §13) in
 * random order with a clock that moves forward, 4 worker pids, growing
 * connection numbers and varying client addresses, so the parser sees what a
 * busy, failing nginx writes (the multi-line FastCGI entry included: its
 * continuation lines count as unparsed, as in the daemon). "run" reads the
 * file in 128 KiB chunks as the tail follower does and splits lines itself
 * (SIMD newline masks, as wc -l counts them);
 * the time includes the reads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "log/errlog.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

#define CHUNK	 (128u << 10)
#define MAX_LINE (1u << 20)

struct entry {
	char *text; /* the entry's physical lines, '\n'-separated, without the last '\n' */
	size_t len;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t load_entries(const char *path, struct entry *out, size_t max)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "bench_errlog: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	struct errlog_event ev;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (errlog_parse(line, (size_t)len, &ev) < 0 && n > 0) {
			/* continuation of the previous entry */
			struct entry *e = &out[n - 1];
			e->text = realloc(e->text, e->len + 1 + (size_t)len + 1);
			e->text[e->len] = '\n';
			memcpy(e->text + e->len + 1, line, (size_t)len + 1);
			e->len += 1 + (size_t)len;
			continue;
		}
		if (n == max)
			break;
		out[n].text = strdup(line);
		out[n].len = (size_t)len;
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

/* Write one entry of template t with fresh numbers into buf; returns the length. */
static size_t render(const struct entry *t, char *buf, time_t now, uint64_t *conn)
{
	struct tm tm;
	gmtime_r(&now, &tm);
	unsigned pid = 23817 + (unsigned)(next_rand() % 4);
	/* The template's header ends after "PID#TID: " and maybe "*N ". */
	const char *p = strchr(t->text + 28, ':') + 2;
	char *o = buf;
	o += strftime(o, 32, "%Y/%m/%d %H:%M:%S ", &tm);
	const char *lvl = t->text + 20, *lvle = strchr(lvl, ']') + 1;
	memcpy(o, lvl, (size_t)(lvle - lvl));
	o += lvle - lvl;
	o += sprintf(o, " %u#%u: ", pid, pid);
	if (*p == '*') {
		o += sprintf(o, "*%llu ", (unsigned long long)++*conn);
		p = strchr(p, ' ') + 1;
	}
	/* Vary the last octet of an IPv4 client. */
	const char *c = strstr(p, ", client: ");
	const char *ce = c ? strstr(c + 10, ", server: ") : NULL;
	const char *dot = NULL;
	if (ce)
		for (const char *q = c + 10; q < ce; q++)
			if (*q == '.')
				dot = q;
	if (dot) {
		memcpy(o, p, (size_t)(dot + 1 - p));
		o += dot + 1 - p;
		o += sprintf(o, "%u", 1 + (unsigned)(next_rand() % 254));
		p = ce;
	}
	size_t rest = t->len - (size_t)(p - t->text);
	memcpy(o, p, rest);
	o += rest;
	*o++ = '\n';
	return (size_t)(o - buf);
}

static int generate(const char *path, unsigned mb, const char *corpus)
{
	static struct entry entries[256];
	size_t n = load_entries(corpus, entries, 256);
	if (n == 0) {
		fprintf(stderr, "bench_errlog: no entries in %s\n", corpus);
		return 1;
	}
	FILE *f = fopen(path, "we");
	if (!f) {
		fprintf(stderr, "bench_errlog: %s: %s\n", path, strerror(errno));
		return 1;
	}
	static char buf[8192];
	uint64_t conn = 1000, want = (uint64_t)mb << 20, done = 0, count = 0;
	time_t now = 1741910400; /* 2025-03-14 00:00:00 UTC */
	while (done < want) {
		const struct entry *t = &entries[next_rand() % n];
		now += (time_t)(next_rand() % 3 == 0);
		size_t len = render(t, buf, now, &conn);
		fwrite(buf, 1, len, f);
		done += len;
		count++;
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "bench_errlog: %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("generated %llu entries, %.1f MB in %s\n", (unsigned long long)count,
	       (double)done / 1e6, path);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#ifdef __SSE2__
static inline uint64_t newlines64(const char *p)
{
	__m128i nl = _mm_set1_epi8('\n');
	uint64_t m = 0;
	for (int i = 0; i < 4; i++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
		m |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) << (16 * i);
	}
	return m;
}
#endif

static int (*parse_fn)(const char *, size_t, struct errlog_event *) = errlog_parse_upstream;

static inline void one(const char *p, const char *nl, struct errlog_event *ev, uint64_t *kinds,
		       uint64_t *with_peer, uint64_t *unparsed)
{
	if (parse_fn(p, (size_t)(nl - p), ev) == 0) {
		kinds[ev->kind]++;
		*with_peer += (uint64_t)ev->has_peer;
	} else {
		(*unparsed)++;
	}
}

static int run(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "bench_errlog: %s: %s\n", path, strerror(errno));
		return 1;
	}
	char *buf = malloc(CHUNK + MAX_LINE);
	uint64_t lines = 0, bytes = 0, unparsed = 0, with_peer = 0, kinds[EV__COUNT] = {0};
	size_t have = 0;
	struct errlog_event ev;
	double t0 = now_s();
	for (;;) {
		ssize_t r = read(fd, buf + have, CHUNK);
		if (r < 0) {
			fprintf(stderr, "bench_errlog: read: %s\n", strerror(errno));
			return 1;
		}
		if (r == 0)
			break;
		bytes += (uint64_t)r;
		have += (size_t)r;
		char *p = buf, *e = buf + have, *nl;
		size_t off = 0;
#ifdef __SSE2__
		/* Line ends by 64-byte blocks of SSE2 compares, as wc -l counts
		 * them: no call and no mispredicted loop exit per line. */
		for (; off + 64 <= have; off += 64) {
			uint64_t m = newlines64(buf + off);
			for (; m; m &= m - 1) {
				nl = buf + off + __builtin_ctzll(m);
				lines++;
				one(p, nl, &ev, kinds, &with_peer, &unparsed);
				p = nl + 1;
			}
		}
#endif
		while ((nl = memchr(buf + off, '\n', (size_t)(e - buf - off)))) {
			lines++;
			one(p, nl, &ev, kinds, &with_peer, &unparsed);
			p = nl + 1;
			off = (size_t)(p - buf);
		}
		have = (size_t)(e - p);
		if (have > MAX_LINE)
			have = 0; /* an overlong line: drop it, as the follower would */
		memmove(buf, p, have);
	}
	double dt = now_s() - t0;
	close(fd);
	free(buf);
	printf("%s: %llu lines, %.1f MB in %.3f s: %.0f lines/s, %.0f MB/s\n",
	       parse_fn == errlog_parse ? "errlog_parse" : "errlog_parse_upstream",
	       (unsigned long long)lines, (double)bytes / 1e6, dt, (double)lines / dt,
	       (double)bytes / 1e6 / dt);
	printf("  unparsed %llu, with peer %llu;", (unsigned long long)unparsed,
	       (unsigned long long)with_peer);
	for (int k = 0; k < EV__COUNT; k++)
		if (kinds[k])
			printf(" %s %llu", errlog_kind_name((enum errlog_kind)k),
			       (unsigned long long)kinds[k]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "generate") == 0)
		return generate(argv[2], argc >= 4 ? (unsigned)atoi(argv[3]) : 200,
				argc >= 5 ? argv[4] : FIXTURES "/nginx-error-samples.log");
	if (argc == 3 && strcmp(argv[1], "run") == 0)
		return run(argv[2]);
	if (argc == 3 && strcmp(argv[1], "run-full") == 0) {
		parse_fn = errlog_parse;
		return run(argv[2]);
	}
	fprintf(stderr,
		"usage: bench_errlog generate FILE [MB] [CORPUS] | run FILE | run-full FILE\n");
	return 2;
}
