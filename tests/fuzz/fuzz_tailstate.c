/* fuzz_tailstate: the offsets file survives restarts and may be damaged;
 * parsing anything must neither crash nor read out of bounds, and what is
 * parsed must format and parse back to the same entries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/tailstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tailstate st, back;
	char *text;
	size_t len;

	tailstate_init(&st);
	tailstate_parse(&st, (const char *)data, size);
	tailstate_format(&st, &text, &len);
	tailstate_init(&back);
	tailstate_parse(&back, text, len);
	size_t saved = 0;
	for (size_t i = 0; i < st.n; i++)
		saved += strchr(st.v[i].path, '\n') == NULL && st.v[i].path[0];
	if (back.n != saved)
		abort();
	free(text);
	tailstate_done(&back);
	tailstate_done(&st);
	return 0;
}
