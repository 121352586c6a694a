/* Unit tests for util's write_file_atomic: no symlink is followed, a stale
 * temp file is replaced, the result is the data. */
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

int main(void)
{
	RUN(test_write_file_atomic_does_not_follow_a_planted_tmp_symlink);
	RUN(test_write_file_atomic_replaces_a_stale_tmp_file);
	RUN(test_write_file_atomic_reports_a_missing_directory);
	return harness_result();
}
