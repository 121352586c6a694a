/* lex: nginx configuration tokenizer (see lex.h for the rules it mirrors).
 *
 * lex_next() is ngx_conf_read_token()'s state machine cut at token
 * boundaries: nginx returns a whole directive, we return its words and let
 * conftree check where ';', '{' and '}' may stand. */
#include "conf/lex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"

void lex_init(struct lex *lx, const char *data, size_t len)
{
	*lx = (struct lex){
	    .p = data, .end = data + len, .start = data, .line = 1, .tok_line = 1, .err_line = 1};
}

void lex_done(struct lex *lx)
{
	free(lx->word);
	lx->word = NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int fail(struct lex *lx, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct lex *lx, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(lx->error, sizeof(lx->error), fmt, ap);
	va_end(ap);
	lx->err_line = line;
	return -EINVAL;
}

/* nginx prints the character raw; a control character is shown as \xNN. */
static int unexpected(struct lex *lx, char ch)
{
	if ((unsigned char)ch < 0x20 || ch == 0x7f)
		return fail(lx, lx->line, "unexpected \"\\x%02x\"", (unsigned char)ch);
	return fail(lx, lx->line, "unexpected \"%c\"", ch);
}

static int unexpected_eof(struct lex *lx)
{
	return fail(lx, lx->line, "unexpected end of file, expecting \";\" or \"}\"");
}

/* nginx reads the file through a buffer of LEX_MAX_PARAM bytes and fails
 * when one parameter fills it while the file goes on. */
static int too_long(struct lex *lx, char quote)
{
	if (quote)
		return fail(lx, lx->tok_line,
			    "too long parameter, probably missing terminating \"%c\" character",
			    quote);
	return fail(lx, lx->tok_line, "too long parameter \"%.10s...\" started", lx->start);
}

static bool at_limit(const struct lex *lx)
{
	return lx->p - lx->start >= LEX_MAX_PARAM;
}

/* Copy [start, stop) into lx->word, unescaping as ngx_conf_read_token does. */
static void set_word(struct lex *lx, const char *start, const char *stop)
{
	size_t n = (size_t)(stop - start);
	lx->word = grow_array(lx->word, &lx->word_cap, n + 1, 1);
	char *dst = lx->word;
	for (const char *src = start; src < stop;) {
		if (*src == '\\' && src + 1 < stop) {
			switch (src[1]) {
			case '"':
			case '\'':
			case '\\':
				src++;
				break;
			case 't':
				*dst++ = '\t';
				src += 2;
				continue;
			case 'r':
				*dst++ = '\r';
				src += 2;
				continue;
			case 'n':
				*dst++ = '\n';
				src += 2;
				continue;
			}
		}
		*dst++ = *src++;
	}
	*dst = '\0';
	lx->word_len = (size_t)(dst - lx->word);
}

/* The rest of a word whose first character (at lx->start, or the opening
 * quote just before it) was read. The order of the checks is nginx's: an
 * escaped character is skipped first, then "${", then '\\' and '$'. */
static int read_word(struct lex *lx, char quote, bool escaped, bool variable)
{
	const char *wstart = quote ? lx->start + 1 : lx->start;
	if (quote)
		lx->start = wstart; /* nginx's limit counts from after the quote */

	for (;;) {
		if (lx->p >= lx->end)
			return unexpected_eof(lx);
		if (at_limit(lx))
			return too_long(lx, quote);
		char ch = *lx->p++;
		if (ch == '\n')
			lx->line++;
		if (escaped) {
			escaped = false;
			continue;
		}
		if (ch == '{' && variable)
			continue;
		variable = false;
		if (ch == '\\') {
			escaped = true;
			continue;
		}
		if (ch == '$') {
			variable = true;
			continue;
		}
		if (quote) {
			if (ch != quote)
				continue;
			set_word(lx, wstart, lx->p - 1);
			lx->quoted = true;
			lx->need_space = true;
			return LEX_WORD;
		}
		if (is_space(ch) || ch == ';' || ch == '{') {
			if (is_space(ch)) {
				set_word(lx, wstart, lx->p - 1);
			} else {
				lx->p--; /* ';' or '{' is the next token */
				set_word(lx, wstart, lx->p);
			}
			return LEX_WORD;
		}
	}
}

int lex_next(struct lex *lx)
{
	lx->quoted = false;
	for (;;) {
		if (lx->p >= lx->end) {
			lx->tok_line = lx->line;
			return LEX_EOF;
		}
		if (at_limit(lx))
			return too_long(lx, 0);
		char ch = *lx->p++;
		if (ch == '\n')
			lx->line++;

		if (lx->need_space) {
			lx->need_space = false;
			if (is_space(ch))
				continue;
			if (ch == ';')
				return LEX_SEMICOLON;
			if (ch == '{')
				return LEX_BLOCK_OPEN;
			if (ch != ')')
				return unexpected(lx, ch);
			/* ')' after a quoted string starts the next word */
		}

		lx->start = lx->p - 1;
		lx->tok_line = lx->line;
		switch (ch) {
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			continue;
		case ';':
			return LEX_SEMICOLON;
		case '{':
			return LEX_BLOCK_OPEN;
		case '}':
			return LEX_BLOCK_CLOSE;
		case '#':
			while (lx->p < lx->end && *lx->p != '\n') {
				if (at_limit(lx))
					return too_long(lx, 0);
				lx->p++;
			}
			continue;
		case '"':
		case '\'':
			return read_word(lx, ch, false, false);
		case '\\':
			return read_word(lx, 0, true, false);
		case '$':
			return read_word(lx, 0, false, true);
		default:
			return read_word(lx, 0, false, false);
		}
	}
}

/* Skip a Lua long bracket "[==[ ... ]==]" starting at p ('['); NULL if it is not one. */
static const char *skip_long_bracket(struct lex *lx, const char *p)
{
	const char *q = p + 1;
	size_t level = 0;
	while (q < lx->end && *q == '=')
		q++, level++;
	if (q >= lx->end || *q != '[')
		return NULL;
	for (q++; q < lx->end; q++) {
		if (*q == '\n')
			lx->line++;
		if (*q != ']')
			continue;
		const char *r = q + 1;
		size_t n = 0;
		while (r < lx->end && *r == '=')
			r++, n++;
		if (n == level && r < lx->end && *r == ']')
			return r + 1;
	}
	return lx->end;
}

int lex_skip_lua_block(struct lex *lx)
{
	unsigned depth = 1;
	const char *p = lx->p;

	while (p < lx->end) {
		char c = *p;
		if (c == '\n') {
			lx->line++;
			p++;
		} else if (c == '-' && p + 1 < lx->end && p[1] == '-') {
			const char *lb =
			    (p + 2 < lx->end && p[2] == '[') ? skip_long_bracket(lx, p + 2) : NULL;
			if (lb) {
				p = lb;
			} else {
				while (p < lx->end && *p != '\n')
					p++;
			}
		} else if (c == '[') {
			const char *lb = skip_long_bracket(lx, p);
			p = lb ? lb : p + 1;
		} else if (c == '"' || c == '\'') {
			for (p++; p < lx->end && *p != c; p++) {
				if (*p == '\\' && p + 1 < lx->end)
					p++;
				if (*p == '\n')
					lx->line++;
			}
			if (p >= lx->end)
				break;
			p++;
		} else if (c == '{') {
			depth++;
			p++;
		} else if (c == '}') {
			p++;
			if (--depth == 0) {
				lx->p = p;
				lx->start = p;
				return 0;
			}
		} else {
			p++;
		}
	}
	lx->p = lx->end;
	return fail(lx, lx->line, "unexpected end of file in Lua block, expecting \"}\"");
}
