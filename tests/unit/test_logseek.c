/* logseek: the bisected offset equals a linear scan's answer, with non-entry
 * lines (FastCGI continuation lines, garbage) between entries. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log/logseek.h"

#define ENTRIES 20000

static off_t offsets[ENTRIES];
static time_t times[ENTRIES];

static int make_log(const char *path, time_t t0)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	for (int i = 0; i < ENTRIES; i++) {
		offsets[i] = ftello(f);
		times[i] = t0 + i / 7; /* several entries per second */
		struct tm tm;
		gmtime_r(&times[i], &tm);
		char stamp[32];
		strftime(stamp, sizeof(stamp), "%Y/%m/%d %H:%M:%S", &tm);
		fprintf(f,
			"%s [error] 1#1: *%d upstream timed out (110: Connection timed out) while "
			"reading response header from upstream, client: 127.0.0.1\n",
			stamp, i);
		if (i % 97 == 0)
			fprintf(f, "PHP Stack trace continues here without a stamp %d\n", i);
	}
	fclose(f);
	return 0;
}

static void test_bisect_matches_linear_scan(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/error.log", harness_tmpdir());
	time_t t0 = 1790000000;
	CHECK_INT(make_log(path, t0), 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	off_t size = lseek(fd, 0, SEEK_END);
	time_t probes[] = {0, t0, t0 + 1, t0 + 500, t0 + 1234, t0 + ENTRIES / 7, t0 + 999999};
	for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
		off_t want = size;
		for (int i = 0; i < ENTRIES; i++) {
			if (times[i] >= probes[k]) {
				want = offsets[i];
				break;
			}
		}
		off_t got = -1;
		CHECK_INT(logseek_since(fd, probes[k], &got), 0);
		CHECK_INT(got, want);
	}
	close(fd);
}

static void test_empty_and_entryless_files(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/empty.log", harness_tmpdir());
	harness_write(harness_tmpdir(), "empty.log", "");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t got = -1;
	CHECK_INT(logseek_since(fd, 0, &got), 0);
	CHECK_INT(got, 0);
	close(fd);
	harness_write(harness_tmpdir(), "junk.log", "no stamp\nnone here either\n");
	snprintf(path, sizeof(path), "%s/junk.log", harness_tmpdir());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK_INT(logseek_since(fd, 0, &got), 0);
	CHECK_INT(got, 0); /* nothing to skip by time: read it all */
	close(fd);
}

/* An access-log line's time: "[29/Nov/2026:21:59:25 +0000]" anywhere in it
 * (the test's stand-in for a format's $time_local). */
static int bracket_time(void *ud, const char *line, size_t len, time_t *ret)
{
	(void)ud;
	const char *b = memchr(line, '[', len);
	struct tm tm = {0};
	if (!b || !strptime(b + 1, "%d/%b/%Y:%H:%M:%S", &tm))
		return -EINVAL;
	*ret = timegm(&tm);
	return 0;
}

static void test_access_log_by_its_time_variable(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/access.log", harness_tmpdir());
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	time_t t0 = 1790000000;
	off_t at[3000];
	for (int i = 0; i < 3000; i++) {
		at[i] = ftello(f);
		time_t t = t0 + i / 3;
		struct tm tm;
		gmtime_r(&t, &tm);
		char stamp[40];
		strftime(stamp, sizeof(stamp), "%d/%b/%Y:%H:%M:%S +0000", &tm);
		fprintf(f, "127.0.0.1 - - [%s] \"GET /x/%d HTTP/1.1\" 502 157 \"-\" \"curl\"\n",
			stamp, i);
	}
	fclose(f);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t got = -1;
	CHECK_INT(logseek_since_by(fd, t0 + 500, bracket_time, NULL, &got), 0);
	CHECK_INT(got, at[1500]);
	/* the error-log reader sees no entry in it: everything is read */
	CHECK_INT(logseek_since(fd, t0 + 500, &got), 0);
	CHECK_INT(got, 0);
	close(fd);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	RUN(test_bisect_matches_linear_scan);
	RUN(test_empty_and_entryless_files);
	RUN(test_access_log_by_its_time_variable);
	return harness_result();
}
