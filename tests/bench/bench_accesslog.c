/* bench_accesslog: throughput of the access-log matcher on a generated
 * `combined` log.
 *
 *   bench_accesslog generate FILE [MB]   write ~MB (default 200) of lines
 *   bench_accesslog run FILE             read FILE in 128 KiB chunks, split
 *                                        lines, match each with combined and
 *                                        read status, path and time, as the
 *                                        daemon's ingest does
 *
 * tests/bench/accesslog.sh runs it next to `wc -l` on the same file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/accesslog.h"

#define CHUNK	 (128u << 10)
#define MAX_LINE (64u << 10)

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int generate(const char *path, unsigned mb)
{
	static const char *const paths[] = {
	    "/",	"/api/v1/users",	 "/api/v1/orders?id=42", "/static/app.js",
	    "/healthz", "/api/v2/search?q=a%20b"};
	static const char *const agents[] = {
	    "curl/7.88.1", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
	    "Go-http-client/1.1"};
	static const int codes[] = {200, 200, 200, 200, 200, 304, 404, 502, 504, 499};
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	uint64_t want = (uint64_t)mb << 20, bytes = 0;
	unsigned sec = 0;
	while (bytes < want) {
		uint64_t r = next_rand();
		sec += (r >> 60) == 0;
		int n = fprintf(
		    f,
		    "10.%u.%u.%u - - [29/Nov/2026:%02u:%02u:%02u +0000] \"GET %s HTTP/1.1\" "
		    "%d %u \"-\" \"%s\"\n",
		    (unsigned)(r & 255), (unsigned)((r >> 8) & 255), (unsigned)((r >> 16) & 255),
		    (sec / 3600) % 24, (sec / 60) % 60, sec % 60, paths[(r >> 24) % 6],
		    codes[(r >> 32) % 10], (unsigned)((r >> 40) & 65535), agents[(r >> 56) % 3]);
		if (n < 0)
			break;
		bytes += (uint64_t)n;
	}
	return fclose(f) == 0 ? 0 : -errno;
}

static int run(const char *path)
{
	struct accesslog_format *f = NULL;
	if (accesslog_format_new(NGXCONF_COMBINED_FORMAT, NGX_ESCAPE_DEFAULT, &f) < 0)
		return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *buf = malloc(CHUNK + MAX_LINE);
	size_t have = 0;
	unsigned long long lines = 0, parsed = 0, s5xx = 0, pathbytes = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = read(fd, buf + have, CHUNK);
		if (n <= 0)
			break;
		have += (size_t)n;
		char *s = buf, *end = buf + have;
		char *nl;
		while ((nl = memchr(s, '\n', (size_t)(end - s)))) {
			struct accesslog_line l;
			lines++;
			if (accesslog_parse(f, s, (size_t)(nl - s), &l) == 0) {
				char p[256];
				time_t when;
				parsed++;
				s5xx += accesslog_status(&l) >= 500;
				pathbytes += accesslog_path(&l, NGX_ESCAPE_DEFAULT, p, sizeof(p));
				(void)accesslog_time(&l, &when);
			}
			s = nl + 1;
		}
		have = (size_t)(end - s);
		if (have >= MAX_LINE)
			have = 0; /* a line past the limit is dropped, as the tail cuts it */
		memmove(buf, s, have);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("lines %llu parsed %llu 5xx %llu path bytes %llu\n", lines, parsed, s5xx, pathbytes);
	printf("%.0f lines/s (%.3f s wall)\n", secs > 0 ? (double)lines / secs : 0.0, secs);
	free(buf);
	close(fd);
	accesslog_format_free(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "generate") == 0)
		return generate(argv[2], argc > 3 ? (unsigned)atoi(argv[3]) : 200) < 0;
	if (argc == 3 && strcmp(argv[1], "run") == 0)
		return run(argv[2]) < 0;
	fprintf(stderr, "usage: bench_accesslog generate FILE [MB] | run FILE\n");
	return 2;
}
