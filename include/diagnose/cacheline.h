/* cacheline: the diagnosis records laid out by cache line (evidence, its
 * ring, alerts) are allocated on one, so the lines their hot fields were
 * grouped into are the lines they take. */
#pragma once

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIAG_CACHE_LINE 64

/* size bytes, zeroed, on a cache line; out of memory aborts as xcalloc. */
static inline void *diag_calloc_lines(size_t size)
{
	size = (size + DIAG_CACHE_LINE - 1) & ~(size_t)(DIAG_CACHE_LINE - 1);
	void *p = aligned_alloc(DIAG_CACHE_LINE, size ? size : DIAG_CACHE_LINE);
	if (!p) {
		static const char msg[] = "upwatch: out of memory\n";
		ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)r;
		abort();
	}
	return memset(p, 0, size);
}
