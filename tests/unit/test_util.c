/* Unit tests for util's file helpers: write_file_atomic follows no symlink,
 * replaces a stale temp file and leaves the data; read_regular_file never
 * blocks on a FIFO. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "harness.h"

static void test_write_file_atomic_does_not_follow_a_planted_tmp_symlink(void)
{
	const char *dir = harness_tmpdir();
	char victim[512], path[512], tmp[512];
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(path, sizeof(path), "%s/tail.state", dir);
	snprintf(tmp, sizeof(tmp), "%s/tail.state.tmp", dir);
	harness_write(dir, "victim", "precious\n");
	CHECK_INT(symlink(victim, tmp), 0);

	CHECK_INT(write_file_atomic(path, "offsets\n", 8, 0600), 0);

	char *data;
	CHECK_INT(read_file(victim, 4096, &data, NULL), 0);
	CHECK_STR(data, "precious\n");
	free(data);
	CHECK_INT(read_file(path, 4096, &data, NULL), 0);
	CHECK_STR(data, "offsets\n");
	free(data);
	struct stat st;
	CHECK_INT(lstat(path, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_INT(lstat(tmp, &st), -1); /* no temp file left */
}

static void test_write_file_atomic_replaces_a_stale_tmp_file(void)
{
	const char *dir = harness_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/metrics.prom", dir);
	harness_write(dir, "metrics.prom.tmp", "half-written");
	CHECK_INT(write_file_atomic(path, "x 1\n", 4, 0644), 0);
	char *data;
	CHECK_INT(read_file(path, 4096, &data, NULL), 0);
	CHECK_STR(data, "x 1\n");
	free(data);
}

static void test_write_file_atomic_reports_a_missing_directory(void)
{
	CHECK_INT(write_file_atomic("/nonexistent-upwatch-dir/f", "x", 1, 0644), -ENOENT);
}

static void test_read_regular_file_refuses_a_fifo_without_blocking(void)
{
	const char *dir = harness_tmpdir();
	char fifo[512], file[512], *data = NULL;
	size_t len = 0;
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(file, sizeof(file), "%s/plain", dir);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	CHECK_INT(read_regular_file(fifo, 1024, &data, &len), -ENOEXEC); /* no writer: no hang */
	CHECK_INT(read_regular_file(dir, 1024, &data, &len), -EISDIR);
	harness_write(dir, "plain", "0123456789");
	CHECK_INT(read_regular_file(file, 5, &data, &len), -EFBIG);
	CHECK_INT(read_regular_file(file, 1024, &data, &len), 0);
	CHECK_STR(data, "0123456789");
	CHECK_INT(len, 10);
	free(data);
}

static void test_xcalloc_lines_gives_zeroed_memory_on_a_cache_line(void)
{
	size_t sizes[] = {0, 1, 63, 64, 65, 2304, 135000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *p = xcalloc_lines(sizes[i]);
		CHECK_INT((uintptr_t)p % 64, 0);
		size_t nonzero = 0;
		for (size_t k = 0; k < sizes[i]; k++)
			nonzero += p[k] != 0;
		CHECK_INT(nonzero, 0);
		free(p);
	}
}

int main(void)
{
	RUN(test_write_file_atomic_does_not_follow_a_planted_tmp_symlink);
	RUN(test_write_file_atomic_replaces_a_stale_tmp_file);
	RUN(test_write_file_atomic_reports_a_missing_directory);
	RUN(test_read_regular_file_refuses_a_fifo_without_blocking);
	RUN(test_xcalloc_lines_gives_zeroed_memory_on_a_cache_line);
	return harness_result();
}
