/* Unit tests for escape: the output-edge rules for JSON, terminals and
 * Prometheus labels. */
#include <stdlib.h>

#include "core/escape.h"
#include "core/util.h"
#include "harness.h"

static void check_json(const char *in, const char *want)
{
	size_t len = strlen(in);
	char *s = escape_json_utf8(xstrdup(in), &len);
	CHECK_STR(s, want);
	CHECK_INT(len, strlen(want));
	free(s);
}

static void test_json_invalid_bytes_become_replacement_escapes(void)
{
	check_json("\"GET /caf\xe9\xff\"", "\"GET /caf\\ufffd\\ufffd\"");
	check_json("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
		   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* overlong, surrogate, above U+10FFFF, cut sequence */
	check_json("\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82",
		   "\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd|"
		   "\\ufffd\\ufffd");
}

static void check_term(const char *in, const char *want)
{
	char *s = escape_terminal(in);
	CHECK_STR(s, want);
	free(s);
}

static void test_terminal_shows_controls_visibly(void)
{
	check_term("/run/app/\x1b]0;PWNED\x07\x1b[2J.sock",
		   "/run/app/\\x1b]0;PWNED\\x07\\x1b[2J.sock");
	check_term("a\nb\tc\x7f", "a\\nb\\tc\\x7f");
	check_term("csi \xc2\x9b x, caf\xc3\xa9, bad \xff",
		   "csi \\u009b x, caf\xc3\xa9, bad \\xff");
}

static void check_prom(const char *in, const char *want)
{
	char *s = escape_prom_label(in);
	CHECK_STR(s, want);
	free(s);
}

static void test_prometheus_labels_escaped_and_valid_utf8(void)
{
	check_prom("unix:/run/\xff.sock", "unix:/run/\xef\xbf\xbd.sock");
	check_prom("a\\b\"c\nd", "a\\\\b\\\"c\\nd");
	check_prom("caf\xc3\xa9", "caf\xc3\xa9");
}

int main(void)
{
	RUN(test_json_invalid_bytes_become_replacement_escapes);
	RUN(test_terminal_shows_controls_visibly);
	RUN(test_prometheus_labels_escaped_and_valid_utf8);
	return harness_result();
}
