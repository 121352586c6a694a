/* Fuzz unitlog's reading of journal messages (text any process of a unit
 * writes): each input line is one entry, oldest first, handed to the scan
 * newest first as the journal would; every line is also classified alone. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/unitlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINES_MAX 64

struct src {
	const char *line[LINES_MAX];
	size_t len[LINES_MAX];
	size_t n, next;
};

static int prev(void *ud, const char **msg, size_t *len, int64_t *ms)
{
	struct src *s = ud;
	if (s->next >= s->n)
		return -ENOENT;
	size_t i = s->n - 1 - s->next++;
	*msg = s->line[i];
	*len = s->len[i];
	*ms = (int64_t)i * 1000;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy with no terminator after it: classify must keep to len */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct src s = {0};
	for (size_t i = 0, start = 0; i <= size && s.n < LINES_MAX; i++) {
		if (i == size || buf[i] == '\n') {
			s.line[s.n] = buf + start;
			s.len[s.n++] = i - start;
			start = i + 1;
		}
	}
	for (size_t i = 0; i < s.n; i++) {
		unsigned pid = 0;
		(void)unitlog_classify(s.line[i], s.len[i], &pid);
	}
	struct unitlog_signal sig;
	if (unitlog_scan(prev, &s, 0, &sig) == 0 &&
	    (sig.kind == UNITLOG_NONE || strlen(sig.text) >= sizeof(sig.text)))
		abort();
	free(buf);
	return 0;
}
