/* strbuf: printf growth past the first allocation, append, steal. */
#include "harness.h"

#include <stdlib.h>

#include "core/strbuf.h"

static void test_printf_grows_and_stays_terminated(void)
{
	struct strbuf b = STRBUF_INIT;
	for (int i = 0; i < 1000; i++)
		strbuf_printf(&b, "%d,", i % 10);
	CHECK_INT(b.len, 2000);
	CHECK_INT(b.p[b.len], 0);
	CHECK(strncmp(b.p, "0,1,2,", 6) == 0);
	strbuf_reset(&b);
	CHECK_STR(b.p, "");
	strbuf_puts(&b, "ab");
	strbuf_putc(&b, 'c');
	strbuf_append(&b, "def", 2);
	CHECK_STR(b.p, "abcde");
	char *s = strbuf_steal(&b);
	CHECK_STR(s, "abcde");
	CHECK(b.p == NULL && b.len == 0);
	free(s);
	s = strbuf_steal(&b);
	CHECK_STR(s, "");
	free(s);
	strbuf_done(&b);
}

int main(void)
{
	RUN(test_printf_grows_and_stays_terminated);
	return harness_result();
}
