/* Unit tests for lex: a table of inputs and the tokens nginx's
 * ngx_conf_read_token() makes of them (or the error it gives), then the Lua
 * block skipper. test_lex_nginx runs the same table through a real nginx. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "conf/lex.h"
#include "harness.h"
#include "lex_cases.h"

/* Tokens as text: words in [], then ; { } and $ for the end; an error as
 * "!line:message". Control characters inside words are written as \n \t \r \0. */
static void render(const char *in, size_t len, char *out, size_t outlen)
{
	struct lex lx;
	size_t n = 0;
	lex_init(&lx, in, len);
	for (;;) {
		int tok = lex_next(&lx);
		if (tok < 0) {
			n += (size_t)snprintf(out + n, outlen - n, "!%u:%s", lx.err_line, lx.error);
			break;
		}
		if (tok == LEX_EOF) {
			n += (size_t)snprintf(out + n, outlen - n, "$");
			break;
		}
		if (tok == LEX_WORD) {
			out[n++] = '[';
			for (size_t i = 0; i < lx.word_len && n + 4 < outlen; i++) {
				char c = lx.word[i];
				const char *esc = c == '\n'   ? "\\n"
						  : c == '\t' ? "\\t"
						  : c == '\r' ? "\\r"
						  : c == 0    ? "\\0"
							      : NULL;
				if (esc)
					n += (size_t)snprintf(out + n, outlen - n, "%s", esc);
				else
					out[n++] = c;
			}
			out[n++] = ']';
		} else {
			out[n++] = tok == LEX_SEMICOLON ? ';' : tok == LEX_BLOCK_OPEN ? '{' : '}';
		}
		out[n] = '\0';
	}
	lex_done(&lx);
}

static void test_table_matches_nginx_tokenizer(void)
{
	for (size_t i = 0; i < LEX_NCASES; i++) {
		const struct lex_case *c = &lex_cases[i];
		char out[4096];
		render(c->in, c->len ? c->len : strlen(c->in), out, sizeof(out));
		if (strcmp(out, c->tokens) != 0) {
			fprintf(stderr, "case %zu (%s): got %s, expected %s\n", i, c->name, out,
				c->tokens);
			harness_failures++;
		}
	}
}

static void test_line_of_each_token(void)
{
	const char *s = "http {\n  server_name a.example\n b;\n}\n\"1\n2\" 'x'\n;";
	struct lex lx;
	lex_init(&lx, s, strlen(s));
	CHECK_INT(lex_next(&lx), LEX_WORD);
	CHECK_INT(lx.tok_line, 1);
	lex_next(&lx);
	CHECK_INT(lex_next(&lx), LEX_WORD);
	CHECK_INT(lx.tok_line, 2);
	lex_next(&lx);
	CHECK_INT(lex_next(&lx), LEX_WORD);
	CHECK_INT(lx.tok_line, 3);
	CHECK_INT(lex_next(&lx), LEX_SEMICOLON);
	CHECK_INT(lex_next(&lx), LEX_BLOCK_CLOSE);
	CHECK_INT(lx.tok_line, 4);
	CHECK_INT(lex_next(&lx), LEX_WORD);
	CHECK(lx.quoted);
	CHECK_INT(lx.tok_line, 5);
	CHECK_INT(lex_next(&lx), LEX_WORD);
	CHECK_INT(lx.tok_line, 6);
	CHECK_INT(lex_next(&lx), LEX_SEMICOLON);
	CHECK_INT(lx.line, 7);
	lex_done(&lx);
}

/* nginx reads through a 4096-byte buffer: a parameter that fills it while
 * the file goes on is "too long" (figures measured with nginx 1.22). */
static void test_parameter_size_limit_is_nginx_buffer(void)
{
	static const struct {
		const char *pre;
		size_t n;
		const char *post;
		bool ok;
	} cases[] = {
	    {"a ", 4095, ";", true},	   {"a ", 4096, ";", false},
	    {"#", 4094, "\na;", true},	   {"#", 4095, "\na;", false},
	    {"a \"", 4094, "\";", true},   {"a \"", 4094, "\" b;", false},
	    {"a \"", 4093, "\" b;", true}, {"#", 5000, "", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t lp = strlen(cases[i].pre), lq = strlen(cases[i].post);
		char *buf = malloc(lp + cases[i].n + lq);
		memcpy(buf, cases[i].pre, lp);
		memset(buf + lp, 'b', cases[i].n);
		memcpy(buf + lp + cases[i].n, cases[i].post, lq);
		struct lex lx;
		lex_init(&lx, buf, lp + cases[i].n + lq);
		int tok;
		while ((tok = lex_next(&lx)) > 0)
			;
		if ((tok == 0) != cases[i].ok) {
			fprintf(stderr, "size case %zu: got %d (%s)\n", i, tok, lx.error);
			harness_failures++;
		}
		lex_done(&lx);
		free(buf);
	}
}

static void test_lua_block_is_skipped(void)
{
	const char *s = "{ local t = { a = \"}\" } -- }\n"
			" local s = [[ } ]] --[==[ } ]==]\n ngx.say('}') }\nnext;";
	struct lex lx;
	lex_init(&lx, s, strlen(s));
	CHECK_INT(lex_next(&lx), LEX_BLOCK_OPEN);
	CHECK_INT(lex_skip_lua_block(&lx), 0);
	CHECK_INT(lex_next(&lx), LEX_WORD);
	CHECK_STR(lx.word, "next");
	CHECK_INT(lx.tok_line, 4);
	lex_done(&lx);

	s = "{ unterminated";
	lex_init(&lx, s, strlen(s));
	lex_next(&lx);
	CHECK_INT(lex_skip_lua_block(&lx), -EINVAL);
	lex_done(&lx);
}

int main(void)
{
	RUN(test_table_matches_nginx_tokenizer);
	RUN(test_line_of_each_token);
	RUN(test_parameter_size_limit_is_nginx_buffer);
	RUN(test_lua_block_is_skipped);
	return harness_result();
}
