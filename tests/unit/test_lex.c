/* Unit tests for lex: every token kind and nginx's quoting rules. */
#include <errno.h>

#include "harness.h"
#include "conf/lex.h"

static int next(struct lex *lx)
{
	return lex_next(lx);
}

static void test_words_semicolons_and_blocks(void)
{
	const char *s = "http {\n  server_name a.example b;\n}\n";
	struct lex lx;
	lex_init(&lx, s, strlen(s));
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "http");
	CHECK_INT(next(&lx), LEX_BLOCK_OPEN);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "server_name");
	CHECK_INT(lx.tok_line, 2);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "a.example");
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "b");
	CHECK_INT(next(&lx), LEX_SEMICOLON);
	CHECK_INT(next(&lx), LEX_BLOCK_CLOSE);
	CHECK_INT(lx.tok_line, 3);
	CHECK_INT(next(&lx), LEX_EOF);
	lex_done(&lx);
}

static void test_quoted_strings_and_escapes(void)
{
	const char *s = "a \"x y\\\"z\" 'q\\'r' \"t\\tn\\n\" \"\\d\" un\\;q;";
	struct lex lx;
	lex_init(&lx, s, strlen(s));
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK(!lx.quoted);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "x y\"z");
	CHECK(lx.quoted);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "q'r");
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "t\tn\n");
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "\\d"); /* unknown escapes are kept, as nginx does */
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "un\\;q"); /* escapes the ; but keeps the backslash, as nginx */
	CHECK_INT(next(&lx), LEX_SEMICOLON);
	lex_done(&lx);
}

static void test_variables_keep_braces(void)
{
	const char *s = "proxy_pass http://${host}$uri; set $a }x;";
	struct lex lx;
	lex_init(&lx, s, strlen(s));
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "http://${host}$uri");
	CHECK_INT(next(&lx), LEX_SEMICOLON);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "$a");
	/* '}' ends nothing inside a word but starts a token on its own */
	CHECK_INT(next(&lx), LEX_BLOCK_CLOSE);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "x");
	lex_done(&lx);
}

static void test_comments_and_hash_inside_word(void)
{
	const char *s = "# a comment { ;\nlisten 80;# trailing\nroot /a#b;\n";
	struct lex lx;
	lex_init(&lx, s, strlen(s));
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "listen");
	CHECK_INT(lx.tok_line, 2);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_INT(next(&lx), LEX_SEMICOLON);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "root");
	CHECK_INT(lx.tok_line, 3);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "/a#b");
	lex_done(&lx);
}

static void test_multiline_quoted_string_counts_lines(void)
{
	const char *s = "a \"1\n2\n3\";\nb;";
	struct lex lx;
	lex_init(&lx, s, strlen(s));
	next(&lx);
	next(&lx);
	CHECK_STR(lx.word, "1\n2\n3");
	CHECK_INT(lx.tok_line, 1);
	next(&lx);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_INT(lx.tok_line, 4);
	lex_done(&lx);
}

static void test_errors(void)
{
	struct lex lx;
	const char *s = "a \"open";
	lex_init(&lx, s, strlen(s));
	next(&lx);
	CHECK_INT(next(&lx), -EINVAL);
	CHECK_STR(lx.error, "unexpected end of file, expecting '\"'");
	lex_done(&lx);

	s = "a \"x\"y;";
	lex_init(&lx, s, strlen(s));
	next(&lx);
	CHECK_INT(next(&lx), -EINVAL);
	CHECK_STR(lx.error, "unexpected \"y\" after quoted string");
	lex_done(&lx);
}

static void test_lua_block_is_skipped(void)
{
	const char *s = "{ local t = { a = \"}\" } -- }\n"
			" local s = [[ } ]] --[==[ } ]==]\n ngx.say('}') }\nnext;";
	struct lex lx;
	lex_init(&lx, s, strlen(s));
	CHECK_INT(next(&lx), LEX_BLOCK_OPEN);
	CHECK_INT(lex_skip_lua_block(&lx), 0);
	CHECK_INT(next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "next");
	CHECK_INT(lx.tok_line, 4);
	lex_done(&lx);

	s = "{ unterminated";
	lex_init(&lx, s, strlen(s));
	next(&lx);
	CHECK_INT(lex_skip_lua_block(&lx), -EINVAL);
	lex_done(&lx);
}

int main(void)
{
	RUN(test_words_semicolons_and_blocks);
	RUN(test_quoted_strings_and_escapes);
	RUN(test_variables_keep_braces);
	RUN(test_comments_and_hash_inside_word);
	RUN(test_multiline_quoted_string_counts_lines);
	RUN(test_errors);
	RUN(test_lua_block_is_skipped);
	return harness_result();
}
