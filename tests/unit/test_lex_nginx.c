/* Differential test of lex against a real nginx (skips with 77 without one).
 *
 * Each input T (the lex_cases table, then generated token soup from a seeded
 * generator) is written as
 *     events {}  http { types { T T } }
 * and checked with `nginx -t`. Inside `types` every directive is a content
 * type followed by extensions, and an extension seen before makes nginx warn
 * `duplicate extension "EXT", content type: "CT", previous content type:
 * "OLD"`; writing T twice makes nginx quote every token it read. The same
 * file goes through our lexer and a model of nginx's block parser for this
 * one shape; the accept/reject, every warning (hence every token) and the
 * error message with its line must be equal. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/lex.h"
#include "harness.h"
#include "lex_cases.h"

#define NGENERATED 2000

static const char *nginx_bin;
static char conf_path[600], prefix[512];

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Run nginx -t; its messages reduced to "level|text\n" lines (date and pid
 * cut, the closing "nginx: ..." status lines dropped). */
static bool run_nginx(struct sbuf *out)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return false;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		close(pfd[0]);
		execl(nginx_bin, nginx_bin, "-t", "-e", "stderr", "-p", prefix, "-c", conf_path,
		      (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	struct sbuf raw = {0};
	char buf[4096];
	ssize_t n;
	while ((n = read(pfd[0], buf, sizeof(buf))) > 0 && raw.len < (1u << 20))
		sb_add(&raw, buf, (size_t)n);
	close(pfd[0]);
	int status = 0;
	waitpid(pid, &status, 0);

	/* entries start at the text's start or after a line feed followed by a
	 * digit (the date) or "nginx: "; generated tokens hold no digits */
	for (size_t i = 0; raw.s && i < raw.len;) {
		size_t j = i;
		while (j < raw.len && !(raw.s[j] == '\n' &&
					(j + 1 == raw.len || isdigit((unsigned char)raw.s[j + 1]) ||
					 strncmp(raw.s + j + 1, "nginx: ", 7) == 0)))
			j++;
		const char *e = raw.s + i;
		size_t elen = j - i;
		const char *lb = memchr(e, '[', elen);
		if (isdigit((unsigned char)e[0]) && lb) {
			const char *rb = memchr(lb, ']', elen - (size_t)(lb - e));
			const char *colon = rb ? strstr(rb, ": ") : NULL;
			if (rb && colon && colon < e + elen) {
				sb_add(out, lb + 1, (size_t)(rb - lb - 1));
				sb_add(out, "|", 1);
				sb_add(out, colon + 2, (size_t)(e + elen - colon - 2));
				sb_add(out, "\n", 1);
			}
		}
		i = j + 1;
	}
	free(raw.s);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

struct word {
	char *s;
	size_t len;
};

struct type_entry {
	char *ext, *ctype;
};

/* What nginx does with this file, computed from our tokens. */
static bool model(const char *text, size_t len, struct sbuf *out)
{
	struct lex lx;
	lex_init(&lx, text, len);
	struct word args[256];
	size_t nargs = 0;
	struct type_entry types[1024];
	size_t ntypes = 0;
	enum { IN_TYPES, IN_HTTP, IN_MAIN } where = IN_TYPES;
	bool ok = false;
	char **owned = NULL; /* every word, freed at the end: types[] points into them */
	size_t nowned = 0;

	for (int i = 0; i < 7; i++) /* events { } http { types { */
		lex_next(&lx);
	for (;;) {
		int tok = lex_next(&lx);
		if (tok < 0) {
			sb_printf(out, "emerg|%s in %s:%u\n", lx.error, conf_path, lx.err_line);
			break;
		}
		if (tok == LEX_WORD) {
			if (nargs < 256) {
				args[nargs].s = malloc(lx.word_len + 1);
				memcpy(args[nargs].s, lx.word, lx.word_len + 1);
				owned = realloc(owned, (nowned + 1) * sizeof(*owned));
				owned[nowned++] = args[nargs].s;
				args[nargs++].len = lx.word_len;
			}
			continue;
		}
		if (tok == LEX_EOF) {
			if (nargs > 0)
				sb_printf(
				    out,
				    "emerg|unexpected end of file, expecting \";\" or \"}\" in "
				    "%s:%u\n",
				    conf_path, lx.line);
			else if (where != IN_MAIN)
				sb_printf(
				    out, "emerg|unexpected end of file, expecting \"}\" in %s:%u\n",
				    conf_path, lx.line);
			else
				ok = true;
			break;
		}
		if (tok == LEX_BLOCK_CLOSE) {
			if (nargs > 0 || where == IN_MAIN) {
				sb_printf(out, "emerg|unexpected \"}\" in %s:%u\n", conf_path,
					  lx.line);
				break;
			}
			where = where == IN_TYPES ? IN_HTTP : IN_MAIN;
			continue;
		}
		char c = tok == LEX_SEMICOLON ? ';' : '{';
		if (nargs == 0 || (where == IN_TYPES && c == '{')) {
			sb_printf(out, "emerg|unexpected \"%c\" in %s:%u\n", c, conf_path, lx.line);
			break;
		}
		if (where != IN_TYPES) {
			sb_printf(out, "emerg|unknown directive \"%s\" in %s:%u\n", args[0].s,
				  conf_path, lx.line);
			break;
		}
		for (size_t i = 1; i < nargs; i++) { /* ngx_http_core_type() */
			for (char *p = args[i].s; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p | 0x20);
			size_t k = 0;
			while (k < ntypes && strcmp(types[k].ext, args[i].s) != 0)
				k++;
			if (k < ntypes) {
				sb_printf(out,
					  "warn|duplicate extension \"%s\", content type: \"%s\", "
					  "previous content type: \"%s\" in %s:%u\n",
					  args[i].s, args[0].s, types[k].ctype, conf_path, lx.line);
				types[k].ctype = args[0].s;
			} else if (ntypes < 1024) {
				types[ntypes++] =
				    (struct type_entry){.ext = args[i].s, .ctype = args[0].s};
			}
		}
		nargs = 0;
	}
	lex_done(&lx);
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	free(owned);
	return ok;
}

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33) % n;
}

static const char specials[] = " \t\r\n;{}\"'\\$#()";

static void put(char *buf, size_t cap, size_t *n, const char *s)
{
	size_t l = strlen(s);
	if (*n + l < cap) {
		memcpy(buf + *n, s, l);
		*n += l;
	}
}

/* One word: letters (upper case too, so nginx's lower-casing of extensions
 * shows), variables with and without braces, escapes, or a quoted string
 * holding separators, sometimes followed by ')'. */
static void gen_word(char *buf, size_t cap, size_t *n)
{
	static const char *plain[] = {"a",    "b",    "B",   "t",   "n",   "x",	  "$a",
				      "${a}", "\\\"", "\\t", "\\;", "\\ ", "\\{", "a}b",
				      "a#b",  "(a",   "a)",  "a\"", "b'",  "$$",  "\\\\"};
	static const char *inside[] = {"a",   "B",  " ", ";",	 "{", "}",  "#",   "\\\"",
				       "\\'", "\n", "$", "${a}", "'", "\"", "\\n", "\\\\"};
	if (rnd(3) == 0) {
		const char *q = rnd(2) ? "\"" : "'";
		put(buf, cap, n, q);
		for (uint32_t i = rnd(5); i > 0; i--) {
			const char *p = inside[rnd(sizeof(inside) / sizeof(inside[0]))];
			if (p[0] != q[0])
				put(buf, cap, n, p);
		}
		put(buf, cap, n, q);
		if (rnd(4) == 0)
			put(buf, cap, n, ")");
		return;
	}
	for (uint32_t i = 1 + rnd(3); i > 0; i--)
		put(buf, cap, n, plain[rnd(sizeof(plain) / sizeof(plain[0]))]);
}

/* A few directives; a quarter of them get one character of the tokenizer's
 * alphabet dropped in at a random place. */
static size_t generate(char *buf, size_t cap)
{
	static const char *spaces[] = {" ", " ", "\t", "\n", "\r\n", " \n "};
	size_t n = 0;
	for (uint32_t d = 1 + rnd(3); d > 0; d--) {
		for (uint32_t w = 1 + rnd(4); w > 0; w--) {
			gen_word(buf, cap, &n);
			put(buf, cap, &n, spaces[rnd(sizeof(spaces) / sizeof(spaces[0]))]);
		}
		put(buf, cap, &n, rnd(4) ? ";" : " ;");
		if (rnd(5) == 0)
			put(buf, cap, &n, " # c;{\"");
		put(buf, cap, &n, "\n");
	}
	if (rnd(2) == 0 && n > 0 && n + 1 < cap) {
		size_t at = rnd((uint32_t)n);
		memmove(buf + at + 1, buf + at, n - at);
		buf[at] = specials[rnd(sizeof(specials) - 1)];
		n++;
	}
	buf[n] = '\0';
	return n;
}

static int nfail, naccepted, nrejected, nwarnings;

static bool streq0(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void check_one(const char *name, const char *t, size_t tlen, bool exact)
{
	struct sbuf text = {0}, want = {0}, got = {0};
	sb_printf(&text, "events {}\nhttp {\ntypes {\n");
	sb_add(&text, t, tlen);
	sb_add(&text, "\n", 1);
	sb_add(&text, t, tlen);
	sb_printf(&text, "\n}\n}\n");
	FILE *f = fopen(conf_path, "w");
	fwrite(text.s, 1, text.len, f);
	fclose(f);

	bool want_ok = model(text.s, text.len, &want);
	bool got_ok = run_nginx(&got);
	bool same = want_ok == got_ok && (!exact || streq0(want.s, got.s));
	if (!same && nfail++ < 20) {
		fprintf(
		    stderr,
		    "%s: nginx %s, lex %s\n--- input ---\n%s\n--- nginx ---\n%s--- lex ---\n%s\n",
		    name, got_ok ? "accepts" : "rejects", want_ok ? "accepts" : "rejects", text.s,
		    got.s ? got.s : "", want.s ? want.s : "");
	}
	if (!same)
		harness_failures++;
	if (got_ok)
		naccepted++;
	else
		nrejected++;
	for (const char *p = got.s; p && (p = strstr(p, "warn|")); p++)
		nwarnings++;
	free(text.s);
	free(want.s);
	free(got.s);
}

static void test_table_cases_as_nginx_reads_them(void)
{
	for (size_t i = 0; i < LEX_NCASES; i++) {
		const struct lex_case *c = &lex_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		/* a NUL ends nginx's string compares: compare accept/reject only */
		check_one(c->name, c->in, len, memchr(c->in, '\0', len) == NULL);
	}
}

static void test_generated_token_soup_as_nginx_reads_it(void)
{
	char buf[1024], name[64];
	rng_state = 20261129;
	for (int i = 0; i < NGENERATED; i++) {
		size_t n = generate(buf, sizeof(buf));
		snprintf(name, sizeof(name), "generated #%d", i);
		check_one(name, buf, n, true);
	}
}

int main(void)
{
	nginx_bin = getenv("NGINX") ? getenv("NGINX") : "/usr/sbin/nginx";
	if (access(nginx_bin, X_OK) != 0) {
		printf("skip: no nginx at %s\n", nginx_bin);
		return 77;
	}
	snprintf(prefix, sizeof(prefix), "%s", harness_tmpdir());
	snprintf(conf_path, sizeof(conf_path), "%s/n.conf", prefix);
	RUN(test_table_cases_as_nginx_reads_them);
	RUN(test_generated_token_soup_as_nginx_reads_it);
	printf("nginx accepted %d inputs, rejected %d; %d duplicate-extension warnings compared\n",
	       naccepted, nrejected, nwarnings);
	return harness_result();
}
