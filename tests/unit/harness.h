/* harness: the few assertion macros the unit tests share.
 * A failing check prints file:line and the values, and the test continues;
 * main() returns non-zero if any check failed. */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

extern int harness_failures;
extern const char *harness_current;

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
		fn();                                                                              \
		printf("%s %s\n", harness_failures == _before ? "ok  " : "FAIL", #fn);             \
	} while (0)

/* Make a fresh temporary directory (removed by harness_cleanup at exit). */
const char *harness_tmpdir(void);
/* Write a file below dir (path relative to it), creating parent directories. */
void harness_write(const char *dir, const char *rel, const char *content);
int harness_result(void);
