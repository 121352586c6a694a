/* escape: output-edge escaping of outsider bytes (see escape.h). */
#include "core/escape.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

size_t utf8_seq_len(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

size_t utf8_cut(const char *s, size_t len)
{
	size_t n = len;
	/* back up over continuation bytes to the lead byte of the last character */
	size_t back = 0;
	while (n > 0 && back < 4 && ((unsigned char)s[n - 1] & 0xc0) == 0x80) {
		n--;
		back++;
	}
	if (n == 0)
		return len; /* no lead byte: not UTF-8 anyway, cut where asked */
	unsigned char lead = (unsigned char)s[n - 1];
	if (lead < 0x80)
		return len;
	size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	return want == back + 1 ? len : n - 1;
}

struct sb {
	char *p;
	size_t len, cap;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
	b->p = grow_array(b->p, &b->cap, b->len + n + 2, 1);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

char *escape_json_utf8(char *s, size_t *len)
{
	size_t i = 0;
	while (i < *len) {
		size_t n = utf8_seq_len(s + i, *len - i);
		if (n == 0)
			break;
		i += n;
	}
	if (i == *len)
		return s;
	struct sb b = {0};
	sb_put(&b, s, i);
	while (i < *len) {
		size_t n = utf8_seq_len(s + i, *len - i);
		if (n == 0) {
			sb_put(&b, "\\ufffd", 6);
			i++;
		} else {
			sb_put(&b, s + i, n);
			i += n;
		}
	}
	free(s);
	*len = b.len;
	return b.p;
}

char *escape_terminal(const char *s)
{
	struct sb b = {0};
	size_t len = strlen(s);
	char hex[8];
	sb_put(&b, "", 0);
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = utf8_seq_len(s + i, len - i);
		if (n == 1 && c == '\n') {
			sb_put(&b, "\\n", 2);
		} else if (n == 1 && c == '\t') {
			sb_put(&b, "\\t", 2);
		} else if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f))) {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			sb_put(&b, hex, 4);
			n = 1;
		} else if (n == 2 && c == 0xc2 && (unsigned char)s[i + 1] < 0xa0) {
			snprintf(hex, sizeof(hex), "\\u%04x", (unsigned char)s[i + 1]);
			sb_put(&b, hex, 6);
		} else {
			sb_put(&b, s + i, n);
		}
		i += n;
	}
	return b.p;
}

char *escape_prom_label(const char *s)
{
	struct sb b = {0};
	size_t len = strlen(s);
	sb_put(&b, "", 0);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq_len(s + i, len - i);
		if (n == 0) {
			sb_put(&b, "\xef\xbf\xbd", 3);
			n = 1;
		} else if (s[i] == '\\') {
			sb_put(&b, "\\\\", 2);
		} else if (s[i] == '"') {
			sb_put(&b, "\\\"", 2);
		} else if (s[i] == '\n') {
			sb_put(&b, "\\n", 2);
		} else {
			sb_put(&b, s + i, n);
		}
		i += n;
	}
	return b.p;
}
