/* fuzz_probe: what a peer answers a probe is an outsider's bytes. The
 * FastCGI reply classifier must take any of them, at every length that
 * arrives, without reading past them, and always end in a verdict once the
 * buffer is full; its detail is a terminated string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_fcgi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t cap = 512; /* struct probe_fcgi's reply buffer */
	size_t n = size < cap ? size : cap;
	unsigned char *in = malloc(n ? n : 1); /* exact size: ASan sees any overread */
	if (!in)
		return 0;
	memcpy(in, data, n);
	for (size_t got = 0; got <= n; got += 1 + got / 8) {
		struct probe_result r;
		memset(&r, 0, sizeof(r));
		if (probe_fcgi_reply(in, got, cap, &r) &&
		    (r.result != PROBE_OK && r.result != PROBE_INVALID_HTTP))
			abort();
		if (memchr(r.detail, '\0', sizeof(r.detail)) == NULL)
			abort();
	}
	struct probe_result r;
	memset(&r, 0, sizeof(r));
	if (n == cap && !probe_fcgi_reply(in, n, cap, &r))
		abort(); /* a full buffer always has a verdict */
	free(in);
	return 0;
}
