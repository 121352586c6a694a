/* lex: nginx configuration tokenizer (see lex.h for the rules it mirrors). */
#include "conf/lex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"

void lex_init(struct lex *lx, const char *data, size_t len)
{
	*lx = (struct lex){.p = data, .end = data + len, .line = 1, .tok_line = 1};
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

static int fail(struct lex *lx, const char *msg)
{
	snprintf(lx->error, sizeof(lx->error), "%s", msg);
	return -EINVAL;
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

static int lex_quoted(struct lex *lx)
{
	char q = *lx->p++;
	const char *start = lx->p;
	for (; lx->p < lx->end; lx->p++) {
		char c = *lx->p;
		if (c == '\n')
			lx->line++;
		if (c == '\\' && lx->p + 1 < lx->end) {
			if (lx->p[1] == '\n')
				lx->line++;
			lx->p++;
			continue;
		}
		if (c == q) {
			set_word(lx, start, lx->p);
			lx->p++;
			lx->quoted = true;
			/* nginx wants a separator right after the closing quote */
			if (lx->p < lx->end && !is_space(*lx->p) && *lx->p != ';' &&
			    *lx->p != '{' && *lx->p != '}') {
				snprintf(lx->error, sizeof(lx->error),
					 "unexpected \"%c\" after quoted string", *lx->p);
				return -EINVAL;
			}
			return LEX_WORD;
		}
	}
	return fail(lx, q == '"' ? "unexpected end of file, expecting '\"'"
				 : "unexpected end of file, expecting \"'\"");
}

int lex_next(struct lex *lx)
{
	for (;;) {
		while (lx->p < lx->end && is_space(*lx->p)) {
			if (*lx->p == '\n')
				lx->line++;
			lx->p++;
		}
		if (lx->p >= lx->end) {
			lx->tok_line = lx->line;
			return LEX_EOF;
		}
		if (*lx->p != '#')
			break;
		while (lx->p < lx->end && *lx->p != '\n')
			lx->p++;
	}

	lx->tok_line = lx->line;
	lx->quoted = false;
	switch (*lx->p) {
	case ';':
		lx->p++;
		return LEX_SEMICOLON;
	case '{':
		lx->p++;
		return LEX_BLOCK_OPEN;
	case '}':
		lx->p++;
		return LEX_BLOCK_CLOSE;
	case '"':
	case '\'':
		return lex_quoted(lx);
	}

	const char *start = lx->p;
	bool variable = false;
	for (; lx->p < lx->end; lx->p++) {
		char c = *lx->p;
		if (c == '{' && variable)
			continue;
		variable = false;
		if (c == '\\' && lx->p + 1 < lx->end) {
			if (lx->p[1] == '\n')
				lx->line++;
			lx->p++;
			continue;
		}
		if (c == '$') {
			variable = true;
			continue;
		}
		if (is_space(c) || c == ';' || c == '{')
			break;
	}
	set_word(lx, start, lx->p);
	return LEX_WORD;
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
				return 0;
			}
		} else {
			p++;
		}
	}
	lx->p = lx->end;
	return fail(lx, "unexpected end of file in Lua block, expecting \"}\"");
}
