/* harness: the few assertion macros the unit tests share.
 * A failing check prints file:line and the values, and the test continues.
 * A test that cannot run here says so with SKIP (or harness_skip) and is
 * reported as "skip", never "ok". main() returns harness_result(): 1 if any
 * check failed, 77 (meson's "skipped") if none failed but a test was skipped,
 * 0 when every test ran and passed. */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

extern int harness_failures;
extern const char *harness_current;
extern int harness_skipped_now; /* set by harness_skip, read and cleared by RUN */

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,       \
				harness_current, #cond);                                           \
			harness_failures++;                                                        \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			fprintf(stderr, "%s:%d: %s: %s == %lld, expected %lld\n", __FILE__,        \
				__LINE__, harness_current, #a, _a, _b);                            \
			harness_failures++;                                                        \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
			fprintf(stderr, "%s:%d: %s: %s == \"%s\", expected \"%s\"\n", __FILE__,    \
				__LINE__, harness_current, #a, _a ? _a : "(null)",                 \
				_b ? _b : "(null)");                                               \
			harness_failures++;                                                        \
		}                                                                                  \
	} while (0)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		harness_current = #fn;                                                             \
		int _before = harness_failures;                                                    \
		harness_skipped_now = 0;                                                           \
		fn();                                                                              \
		harness_ran(#fn, harness_failures != _before);                                     \
	} while (0)

/* Skip the running test: print why, count it as skipped, return from it. */
#define SKIP(...)                                                                                  \
	do {                                                                                       \
		harness_skip(__VA_ARGS__);                                                         \
		return;                                                                            \
	} while (0)

/* Mark the running test (or, outside RUN, the tests named by harness_current)
 * skipped, with the reason; the caller still returns or cleans up itself. */
void harness_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the test's verdict ("ok", "FAIL", "skip") and count it; RUN calls it. */
void harness_ran(const char *name, int failed);

/* Make a fresh temporary directory (removed by harness_cleanup at exit). */
const char *harness_tmpdir(void);
/* Write a file below dir (path relative to it), creating parent directories. */
void harness_write(const char *dir, const char *rel, const char *content);
int harness_result(void);
