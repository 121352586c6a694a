/* escape: output-edge escaping of outsider bytes (see escape.h). */
#include "core/escape.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "core/util.h"

char *escape_json_utf8(char *s, size_t *len)
{
	if (utf8_valid(s, *len))
		return s;
	struct strbuf b = STRBUF_INIT;
	strbuf_reserve(&b, *len + 64);
	for (size_t i = 0; i < *len;) {
		size_t n = utf8_char_len(s + i, *len - i);
		if (n == 0) {
			strbuf_append(&b, "\\ufffd", 6);
			i++;
		} else {
			strbuf_append(&b, s + i, n);
			i += n;
		}
	}
	free(s);
	*len = b.len;
	return strbuf_steal(&b);
}

char *escape_terminal(const char *s)
{
	struct strbuf b = STRBUF_INIT;
	size_t len = strlen(s);
	char hex[8];
	strbuf_reserve(&b, len);
	for (size_t i = 0; i < len;) {
		/* a run of printable ASCII in one append: one per byte was 5 % of
		 * upwatchd's CPU on real lines in the foreground (perf,
		 * tests/bench/daemon.py: the "alert firing" lines) */
		size_t run = i;
		while (run < len && s[run] >= 0x20 && s[run] < 0x7f)
			run++;
		if (run > i) {
			strbuf_append(&b, s + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = (unsigned char)s[i];
		size_t n = utf8_char_len(s + i, len - i);
		if (n == 1 && c == '\n') {
			strbuf_append(&b, "\\n", 2);
		} else if (n == 1 && c == '\t') {
			strbuf_append(&b, "\\t", 2);
		} else if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f))) {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			strbuf_append(&b, hex, 4);
			n = 1;
		} else if (n == 2 && c == 0xc2 && (unsigned char)s[i + 1] < 0xa0) {
			snprintf(hex, sizeof(hex), "\\u%04x", (unsigned char)s[i + 1]);
			strbuf_append(&b, hex, 6);
		} else {
			strbuf_append(&b, s + i, n);
		}
		i += n;
	}
	return strbuf_steal(&b);
}

char *escape_prom_label(const char *s)
{
	struct strbuf b = STRBUF_INIT;
	size_t len = strlen(s);
	strbuf_reserve(&b, len);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_char_len(s + i, len - i);
		if (n == 0) {
			strbuf_append(&b, "\xef\xbf\xbd", 3);
			n = 1;
		} else if (s[i] == '\\') {
			strbuf_append(&b, "\\\\", 2);
		} else if (s[i] == '"') {
			strbuf_append(&b, "\\\"", 2);
		} else if (s[i] == '\n') {
			strbuf_append(&b, "\\n", 2);
		} else {
			strbuf_append(&b, s + i, n);
		}
		i += n;
	}
	return strbuf_steal(&b);
}
