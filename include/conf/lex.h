/* lex: tokenizer for nginx's configuration syntax, used for nginx.conf and
 * upwatch.conf alike.
 *
 * It follows ngx_conf_read_token(): words are split by white space and end at
 * ';' or '{'; a '}' ends a word only at a token start; '"' and '\'' quote only
 * at a token start; '\\' escapes the next character anywhere; "${" keeps a
 * variable's brace inside the word; '#' at a token start comments to the end
 * of the line. Words are unescaped the way nginx does (\" \' \\ \t \r \n). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum lex_token {
	LEX_EOF,
	LEX_WORD,
	LEX_SEMICOLON,
	LEX_BLOCK_OPEN,
	LEX_BLOCK_CLOSE,
};

struct lex {
	const char *p, *end;
	unsigned line;	   /* line of the read position, from 1 */
	unsigned tok_line; /* line where the last token started */
	char *word;	   /* unescaped text of the last LEX_WORD, NUL-terminated */
	size_t word_len, word_cap;
	bool quoted;	 /* the last word was quoted */
	char error[160]; /* what went wrong when a call returned < 0 */
};

void lex_init(struct lex *lx, const char *data, size_t len);
void lex_done(struct lex *lx);

/* Next token (>= 0, an enum lex_token) or -EINVAL with lx->error set. */
int lex_next(struct lex *lx);

/* Just after the '{' of a *_by_lua_block directive: skip Lua source (strings,
 * long brackets, comments) up to and including the matching '}'. */
int lex_skip_lua_block(struct lex *lx);
