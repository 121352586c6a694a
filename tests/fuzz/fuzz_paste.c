/* Fuzz the pasted-text joiner: the input is split at newlines and fed. */
#include <stdint.h>
#include <string.h>

#include "log/paste.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void emit(void *ud, const char *line, size_t len)
{
	(void)ud;
	volatile char sink = len ? line[len - 1] : 0;
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct paste p;
	paste_init(&p, emit, NULL);
	const char *s = (const char *)data, *end = s + size;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		paste_feed(&p, s, len);
		s += len + 1;
	}
	paste_finish(&p);
	paste_done(&p);
	return 0;
}
