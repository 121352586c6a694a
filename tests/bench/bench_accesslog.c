/* bench_accesslog: throughput of the access-log matcher on a generated
 * `combined` log.
 *
 *   bench_accesslog generate FILE [MB]   write ~MB (default 200) of lines
 *   bench_accesslog run FILE             read FILE in 128 KiB chunks, split
 *                                        lines, match each with combined and
 *                                        read status, path and time
 *   bench_accesslog stats FILE           the same lines through accessstats,
 *                                        as the daemon's ingest does: matched,
 *                                        placed on a location (nginx's rules,
 *                                        a model of four locations) and
 *                                        counted
 *
 * tests/bench/accesslog.sh runs it next to `wc -l` on the same file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/accesslog.h"
#include "log/accessstats.h"
#include "nginx/ngxconf.h"

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

/* Read path line by line, each to fn. */
static unsigned long long each_line(const char *path, void (*fn)(void *, const char *, size_t),
				    void *ud, double *ret_secs)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char *buf = malloc(CHUNK + MAX_LINE);
	size_t have = 0;
	unsigned long long lines = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = read(fd, buf + have, CHUNK);
		if (n <= 0)
			break;
		have += (size_t)n;
		char *s = buf, *end = buf + have, *nl;
		while ((nl = memchr(s, '\n', (size_t)(end - s)))) {
			lines++;
			fn(ud, s, (size_t)(nl - s));
			s = nl + 1;
		}
		have = (size_t)(end - s);
		if (have >= MAX_LINE)
			have = 0;
		memmove(buf, s, have);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*ret_secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	free(buf);
	close(fd);
	return lines;
}

struct stats_run {
	struct accessstats *s;
	size_t log; /* the daemon's way: the log's index, not its path */
	unsigned long long counted;
};

static void stats_line(void *ud, const char *line, size_t len)
{
	struct stats_run *r = ud;
	r->counted += accessstats_line_at(r->s, r->log, line, len, 1795989565) == 0;
}

static int stats(const char *arg)
{
	/* the model's access_log names it: a relative path would be nginx's
	 * prefix's, and no line would be counted */
	char path[PATH_MAX];
	if (!realpath(arg, path))
		return -errno;
	char dir[] = "/tmp/bench_accesslog.XXXXXX", conf[64], text[PATH_MAX + 1024];
	if (!mkdtemp(dir))
		return -errno;
	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	snprintf(text, sizeof(text),
		 "events {}\nhttp {\n access_log %s;\n"
		 " upstream app { server 127.0.0.1:9000; server 127.0.0.1:9001; }\n"
		 " server {\n  listen 127.0.0.1:8080;\n"
		 "  location / { proxy_pass http://127.0.0.1:9002; }\n"
		 "  location /api/ { proxy_pass http://app; }\n"
		 "  location /api/v2/ { proxy_pass http://app; }\n"
		 "  location /static/ { proxy_pass http://127.0.0.1:9003; }\n"
		 " }\n}\n",
		 path);
	FILE *f = fopen(conf, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	fclose(f);
	struct ngx_model *m = NULL;
	char err[512];
	int r = ngxconf_load(conf, NULL, &m, err, sizeof(err));
	unlink(conf);
	rmdir(dir);
	if (r < 0) {
		fprintf(stderr, "bench_accesslog: %s\n", err);
		return r;
	}
	struct stats_run run = {0};
	accessstats_new(m, &run.s);
	if (!accessstats_log_index(run.s, path, &run.log)) {
		fprintf(stderr, "bench_accesslog: %s is not the model's access log\n", path);
		accessstats_free(run.s);
		ngxconf_free(m);
		return -ENOENT;
	}
	double secs = 0;
	unsigned long long lines = each_line(path, stats_line, &run, &secs);
	printf("lines %llu counted %llu\n", lines, run.counted);
	printf("%.0f lines/s (%.3f s wall)\n", secs > 0 ? (double)lines / secs : 0.0, secs);
	accessstats_free(run.s);
	ngxconf_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "stats") == 0)
		return stats(argv[2]) < 0;
	if (argc >= 3 && strcmp(argv[1], "generate") == 0)
		return generate(argv[2], argc > 3 ? (unsigned)atoi(argv[3]) : 200) < 0;
	if (argc == 3 && strcmp(argv[1], "run") == 0)
		return run(argv[2]) < 0;
	fprintf(stderr, "usage: bench_accesslog generate FILE [MB] | run FILE | stats FILE\n");
	return 2;
}
