/* lex: tokenizer for nginx's configuration syntax, used for nginx.conf and
 * upwatch.conf alike.
 *
 * It follows ngx_conf_read_token() (src/core/ngx_conf_file.c) rule for rule:
 * - words are split by white space (space, tab, CR, LF) and end at ';' or
 *   '{'; a '}' is a token only at a token start, inside a word it is text;
 * - '"' and '\'' quote only at a token start; inside a quoted string white
 *   space, ';', '{', '}' and '#' are text;
 * - after a closing quote comes white space, ';', '{' or ')' — a ')' starts
 *   the next word (`if ($a != "b")`); anything else is an error;
 * - '\\' makes the next character part of the word anywhere (a quote, a
 *   separator, a line feed); "${" keeps the brace inside the word;
 * - '#' at a token start comments to the end of the line;
 * - one parameter (a word, a quoted string's content with what follows its
 *   closing quote up to the next token, or a comment) may span at most
 *   LEX_MAX_PARAM - 1 bytes, nginx's NGX_CONF_BUFFER;
 * - a NUL byte is an ordinary character, as in nginx: words carry their
 *   length (word_len) and the caller decides (conftree refuses such words).
 * Words are unescaped the way nginx does (\" \' \\ \t \r \n; other escapes
 * keep their backslash). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define LEX_MAX_PARAM 4096

enum lex_token {
	LEX_EOF,
	LEX_WORD,
	LEX_SEMICOLON,
	LEX_BLOCK_OPEN,
	LEX_BLOCK_CLOSE,
};

struct lex {
	const char *p, *end;
	const char *start; /* where nginx's current parameter started (its size limit) */
	unsigned line;	   /* line of the read position, from 1 */
	unsigned tok_line; /* line where the last token started */
	unsigned err_line; /* line nginx names for the last error */
	bool need_space;   /* just after a closing quote */
	char *word;	   /* unescaped text of the last LEX_WORD, NUL-terminated */
	size_t word_len, word_cap;
	bool quoted;	 /* the last word was quoted */
	char error[160]; /* what went wrong when a call returned < 0 */
};

void lex_init(struct lex *lx, const char *data, size_t len);
void lex_done(struct lex *lx);

/* Next token (>= 0, an enum lex_token) or -EINVAL with lx->error and
 * lx->err_line set. */
int lex_next(struct lex *lx);

/* Just after the '{' of a *_by_lua_block directive: skip Lua source (strings,
 * long brackets, comments) up to and including the matching '}'. */
int lex_skip_lua_block(struct lex *lx);
