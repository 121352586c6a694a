/* strbuf: the one growable string builder. Always NUL-terminated once
 * anything was added; `p` is NULL for an empty, never-used builder.
 *
 *	struct strbuf b = STRBUF_INIT;
 *	strbuf_printf(&b, "%s:%u", host, port);
 *	use(b.p); strbuf_done(&b);
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *p;
	size_t len, cap;
};

#define STRBUF_INIT                                                                                \
	{                                                                                          \
		0                                                                                  \
	}

void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void strbuf_append(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_putc(struct strbuf *b, char c);
/* Make room for n more bytes (plus the NUL) without adding any. */
void strbuf_reserve(struct strbuf *b, size_t n);
/* Empty it, keeping the memory. */
void strbuf_reset(struct strbuf *b);
/* The string, handed to the caller (never NULL: "" for an empty builder);
 * the builder is empty afterwards. */
char *strbuf_steal(struct strbuf *b);
void strbuf_done(struct strbuf *b);
