/* utf8: the two questions the outputs ask of bytes that came from outside.
 * Log lines, paths and request URIs are bytes, not UTF-8; the output edge
 * escapes what is invalid, and every cut lands on a character boundary. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 when the bytes
 * at s (n available) are not one: a stray continuation byte, an overlong
 * form, a surrogate, a value past U+10FFFF or a truncated sequence. */
size_t utf8_char_len(const char *s, size_t n);

/* Whether all n bytes are valid UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* The largest length <= max at which s (len bytes) may be cut without
 * splitting a multi-byte character: moves back over continuation bytes. */
size_t utf8_cut(const char *s, size_t len, size_t max);
