#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int harness_failures;
const char *harness_current = "";
int harness_skipped_now;
static int passed, failed, skipped;
static char tmpdir[256];

static void cleanup(void)
{
	if (tmpdir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
}

const char *harness_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/upwatch-test-XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(cleanup);
	}
	return tmpdir;
}

void harness_write(const char *dir, const char *rel, const char *content)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(content, f);
	fclose(f);
}

void harness_skip(const char *fmt, ...)
{
	va_list ap;
	printf("skip %s: ", harness_current);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	harness_skipped_now = 1;
}

void harness_ran(const char *name, int failed_now)
{
	if (failed_now) {
		printf("FAIL %s\n", name);
		failed++;
	} else if (harness_skipped_now) {
		skipped++; /* harness_skip printed "skip NAME: reason" */
	} else {
		printf("ok   %s\n", name);
		passed++;
	}
	harness_skipped_now = 0;
}

int harness_result(void)
{
	/* A skip outside RUN (a whole group that cannot run) counts once. */
	if (harness_skipped_now) {
		skipped++;
		harness_skipped_now = 0;
	}
	printf("%d passed, %d failed, %d skipped (%d failed checks)\n", passed, failed, skipped,
	       harness_failures);
	if (harness_failures)
		return 1;
	return skipped ? 77 : 0;
}
