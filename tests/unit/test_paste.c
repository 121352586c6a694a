/* paste: prompts and journal prefixes dropped, wrapped lines joined, other
 * programs' lines not glued onto an nginx entry. */
#include "harness.h"

#include <stdlib.h>

#include "core/util.h"
#include "log/paste.h"

struct out {
	char *lines[16];
	size_t n;
};

static void emit(void *ud, const char *line, size_t len)
{
	struct out *o = ud;
	if (o->n < ARRAY_SIZE(o->lines))
		o->lines[o->n++] = xstrndup(line, len);
}

static void feed_all(struct paste *p, const char *const *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		paste_feed(p, in[i], strlen(in[i]));
	paste_finish(p);
}

static void test_prompt_journal_prefix_and_wrap(void)
{
	const char *in[] = {
	    "root@web1:~# tail -3 /var/log/nginx/error.log",
	    "root@web1:~# 2026/11/29 20:00:01 [error] 42#42: *7 connect() failed (111: Connection "
	    "refused) while connecting to upstream, client: 127.0.0.1, server: _, request: \"GET / "
	    "HTTP/1.1\", upstream: \"http://127.0.0.1:8081/\", host: \"loc",
	    "alhost\"",
	    "Nov 29 20:00:02 web1 nginx[42]: 2026/11/29 20:00:02 [error] 42#42: *9 no live "
	    "upstreams while connecting to upstream",
	    "Nov 29 20:00:03 web1 systemd[1]: nginx.service: Reloading.",
	    "   ",
	    "2026/11/29 20:00:04 [crit] 42#42: *11 connect() to unix:/run/php/php8.2-fpm.sock "
	    "failed (13: Permission denied)\r",
	};
	struct out o = {0};
	struct paste p;
	paste_init(&p, emit, &o);
	feed_all(&p, in, ARRAY_SIZE(in));
	CHECK_INT(o.n, 3);
	CHECK(startswith(o.lines[0], "2026/11/29 20:00:01 [error] 42#42: *7 connect() failed"));
	CHECK(strstr(o.lines[0], "host: \"localhost\"") != NULL);
	CHECK_STR(o.lines[1], "2026/11/29 20:00:02 [error] 42#42: *9 no live upstreams while "
			      "connecting to upstream");
	CHECK_STR(o.lines[2], "2026/11/29 20:00:04 [crit] 42#42: *11 connect() to "
			      "unix:/run/php/php8.2-fpm.sock failed (13: Permission denied)");
	CHECK_INT(p.joined, 1);
	CHECK_INT(p.dropped, 2); /* the command line, systemd's line */
	paste_done(&p);
	for (size_t i = 0; i < o.n; i++)
		free(o.lines[i]);
}

int main(void)
{
	RUN(test_prompt_journal_prefix_and_wrap);
	return harness_result();
}
