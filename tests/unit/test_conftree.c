/* Unit tests for conftree: nesting, includes with globs, cycles, dumps, errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conftree.h"
#include "harness.h"
#include "core/util.h"

static struct cf_tree *parse(const char *path, const struct cf_options *o, char *err)
{
	struct cf_tree *t = NULL;
	int r = cf_parse(path, o, &t, err, 512);
	return r < 0 ? NULL : t;
}

static void test_nested_blocks_keep_file_and_line(void)
{
	const char *d = harness_tmpdir();
	harness_write(d, "n1/nginx.conf",
		      "user www-data;\nhttp {\n  server {\n    listen 80;\n  }\n}\n");
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/n1/nginx.conf", d);
	struct cf_tree *t = parse(path, NULL, err);
	CHECK(t);
	if (!t)
		return;
	struct cf_node *user = cf_find(t->root, "user");
	CHECK(user && user->argc == 2 && streq(user->argv[1], "www-data") && user->line == 1);
	struct cf_node *http = cf_find(t->root, "http");
	CHECK(http && http->block && http->line == 2);
	struct cf_node *srv = cf_find(http, "server");
	struct cf_node *listen = srv ? cf_find(srv, "listen") : NULL;
	CHECK(listen && listen->line == 4 && streq(listen->file, path));
	cf_tree_free(t);
}

static void test_include_glob_sorted_relative_to_prefix(void)
{
	const char *d = harness_tmpdir();
	harness_write(d, "n2/nginx.conf",
		      "http {\n include conf.d/*.conf;\n include none/*.conf;\n}\n");
	harness_write(d, "n2/conf.d/b.conf", "b;\n");
	harness_write(d, "n2/conf.d/a.conf", "a1;\n\na2;\n");
	harness_write(d, "n2/conf.d/skip.txt", "skip;\n");
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/n2/nginx.conf", d);
	struct cf_tree *t = parse(path, NULL, err);
	CHECK(t);
	if (!t)
		return;
	struct cf_node *http = cf_find(t->root, "http");
	struct cf_node *n = http->children;
	CHECK(n && streq(n->argv[0], "a1") && n->line == 1);
	n = n ? n->next : NULL;
	CHECK(n && streq(n->argv[0], "a2") && n->line == 3);
	n = n ? n->next : NULL;
	CHECK(n && streq(n->argv[0], "b") && strstr(n->file, "conf.d/b.conf"));
	CHECK(n && !n->next);
	CHECK_INT(t->nfiles, 3);
	CHECK_INT(t->nglobs, 2);
	cf_tree_free(t);
}

static void test_missing_plain_include_is_an_error(void)
{
	const char *d = harness_tmpdir();
	harness_write(d, "n3/nginx.conf", "events {}\n\ninclude missing.conf;\n");
	char path[512], err[512], want[1024];
	snprintf(path, sizeof(path), "%s/n3/nginx.conf", d);
	CHECK(!parse(path, NULL, err));
	snprintf(want, sizeof(want),
		 "%s:3: open() \"%s/n3/missing.conf\" failed (No such file or directory)", path, d);
	CHECK_STR(err, want);
}

static void test_include_cycle_is_refused(void)
{
	const char *d = harness_tmpdir();
	harness_write(d, "n4/nginx.conf", "include a.conf;\n");
	harness_write(d, "n4/a.conf", "x;\ninclude b.conf;\n");
	harness_write(d, "n4/b.conf", "include a.conf;\n");
	char path[512], err[512], want[1024];
	snprintf(path, sizeof(path), "%s/n4/nginx.conf", d);
	CHECK(!parse(path, NULL, err));
	snprintf(want, sizeof(want),
		 "%s/n4/b.conf:1: include cycle: \"%s/n4/a.conf\" includes itself", d, d);
	CHECK_STR(err, want);
}

static void test_syntax_errors_name_file_and_line(void)
{
	const char *d = harness_tmpdir();
	char path[512], err[512], want[1024];
	struct {
		const char *text, *msg;
	} cases[] = {
	    {"http {\n  a;\n", "3: unexpected end of file, expecting \"}\""},
	    {"a;\n}\n", "2: unexpected \"}\""},
	    {"a\n;\n;\n", "3: unexpected \";\""},
	    {"a b", "1: unexpected end of file, expecting \";\" or \"}\""},
	    {"x {\n y \"q\"z;\n}", "2: unexpected \"z\""},
	    {"x {\n y \"q\"}", "2: unexpected \"}\""},
	    {"x \"open\n\n", "3: unexpected end of file, expecting \";\" or \"}\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "n5/e%zu.conf", i);
		harness_write(d, rel, cases[i].text);
		snprintf(path, sizeof(path), "%s/%s", d, rel);
		CHECK(!parse(path, NULL, err));
		snprintf(want, sizeof(want), "%s:%s", path, cases[i].msg);
		CHECK_STR(err, want);
	}
}

/* The field's top bug: nginx accepts a ')' right after a quoted string. */
static void test_if_with_quoted_string_before_paren_parses(void)
{
	const char *d = harness_tmpdir();
	harness_write(
	    d, "n8/nginx.conf",
	    "server {\n if ($http_host != \"www.example.com\") { return 301 https://x; }\n"
	    " location / { proxy_pass http://127.0.0.1:8080; }\n}\n");
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/n8/nginx.conf", d);
	struct cf_tree *t = parse(path, NULL, err);
	CHECK(t);
	if (!t)
		return;
	struct cf_node *n = cf_find(cf_find(t->root, "server"), "if");
	CHECK(n && n->block && n->argc == 5);
	if (n && n->argc == 5) {
		CHECK_STR(n->argv[3], "www.example.com");
		CHECK_STR(n->argv[4], ")");
	}
	cf_tree_free(t);
}

/* A NUL inside a word would cut the C string short: refused with file:line.
 * In a comment nginx and we skip it. */
static void test_nul_byte_in_a_word_is_refused_with_file_and_line(void)
{
	const char *d = harness_tmpdir();
	char path[512], err[512], want[600];
	static const char text[] = "a;\nproxy_pass http://127.0.0.1:80\0evil;\n";
	harness_write(d, "n9/x", "");
	snprintf(path, sizeof(path), "%s/n9/nginx.conf", d);
	FILE *f = fopen(path, "w");
	fwrite(text, 1, sizeof(text) - 1, f);
	fclose(f);
	CHECK(!parse(path, NULL, err));
	snprintf(want, sizeof(want), "%s:2: NUL byte in parameter \"http://127.0.0.1:80...\"",
		 path);
	CHECK_STR(err, want);

	static const char comment[] = "# a\0b\na;\n";
	f = fopen(path, "w");
	fwrite(comment, 1, sizeof(comment) - 1, f);
	fclose(f);
	struct cf_tree *t = parse(path, NULL, err);
	CHECK(t && cf_find(t->root, "a"));
	cf_tree_free(t);
}

static void test_lua_blocks_are_opaque(void)
{
	const char *d = harness_tmpdir();
	harness_write(d, "n6/nginx.conf",
		      "location / {\n content_by_lua_block {\n  ngx.say(\"}\")\n }\n proxy_pass "
		      "http://a;\n}\n");
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/n6/nginx.conf", d);
	struct cf_options o = {.lua_blocks = true};
	struct cf_tree *t = parse(path, &o, err);
	CHECK(t);
	if (!t)
		return;
	struct cf_node *loc = cf_find(t->root, "location");
	struct cf_node *pp = cf_find(loc, "proxy_pass");
	CHECK(pp && pp->line == 5);
	cf_tree_free(t);
}

static void test_nginx_dump_is_split_into_files(void)
{
	const char *dump = "nginx: the configuration file /e/nginx.conf syntax is ok\n"
			   "# configuration file /e/nginx.conf:\n"
			   "http {\n    include /e/sites/*;\n}\n\n"
			   "# configuration file /e/sites/one:\n"
			   "upstream one { server 127.0.0.1:81; }\n\n"
			   "# configuration file /e/sites/two:\n"
			   "\nupstream two { server 127.0.0.1:82; }\n";
	struct cf_dump *dd;
	CHECK_INT(cf_dump_parse(dump, strlen(dump), &dd), 0);
	CHECK_STR(cf_dump_main(dd), "/e/nginx.conf");
	struct cf_options o = {.dump = dd};
	char err[512];
	struct cf_tree *t = parse("/e/nginx.conf", &o, err);
	CHECK(t);
	if (t) {
		struct cf_node *http = cf_find(t->root, "http");
		struct cf_node *u = cf_find(http, "upstream");
		CHECK(u && streq(u->argv[1], "one") && u->line == 1 &&
		      streq(u->file, "/e/sites/one"));
		u = u ? u->next : NULL;
		CHECK(u && streq(u->argv[1], "two") && u->line == 2);
		CHECK_INT(t->nfiles, 3);
		cf_tree_free(t);
	}
	cf_dump_free(dd);
	CHECK_INT(cf_dump_parse("no markers", 10, &dd), -ENOENT);
}

static void test_glob_matching_a_directory_fails_like_nginx(void)
{
	const char *d = harness_tmpdir();
	harness_write(d, "n7/nginx.conf", "http {\n\n include conf.d/*.conf;\n}\n");
	harness_write(d, "n7/conf.d/a.conf", "a;\n");
	harness_write(d, "n7/conf.d/sub.conf/x", "x;\n");
	char path[512], err[512], want[1024];
	snprintf(path, sizeof(path), "%s/n7/nginx.conf", d);
	CHECK(!parse(path, NULL, err));
	snprintf(want, sizeof(want),
		 "%s:3: pread() \"%s/n7/conf.d/sub.conf\" failed (Is a directory)", path, d);
	CHECK_STR(err, want);
}

static void test_dump_glob_is_sorted_and_skips_hidden_files(void)
{
	/* b.conf was read first through a plain include, so the dump lists it
	 * before a.conf; the glob still reads a.conf first. */
	const char *dump = "# configuration file /e/nginx.conf:\n"
			   "include /e/c/b.conf;\ninclude /e/c/*.conf;\n\n"
			   "# configuration file /e/c/b.conf:\nb;\n\n"
			   "# configuration file /e/c/.h.conf:\nh;\n\n"
			   "# configuration file /e/c/a.conf:\na;\n\n";
	struct cf_dump *dd;
	CHECK_INT(cf_dump_parse(dump, strlen(dump), &dd), 0);
	struct cf_options o = {.dump = dd};
	char err[512];
	struct cf_tree *t = parse("/e/nginx.conf", &o, err);
	CHECK(t);
	if (t) {
		const char *want[] = {"b", "a", "b"};
		size_t i = 0;
		for (struct cf_node *n = t->root->children; n; n = n->next, i++)
			CHECK(i < 3 && streq(n->argv[0], want[i]));
		CHECK_INT(i, 3);
		CHECK_INT(t->nfiles, 3);
		cf_tree_free(t);
	}
	cf_dump_free(dd);
}

static void test_deep_nesting_with_many_words_stays_bounded(void)
{
	/* 64 levels of blocks, each directive with 1000 words: fine; one more
	 * level is refused. */
	size_t cap = 64 * 4200 + 1024, len = 0;
	char *text = xmalloc(cap);
	for (int lvl = 0; lvl < 65; lvl++) {
		for (int w = 0; w < 1000; w++)
			len += (size_t)snprintf(text + len, cap - len, "w ");
		len += (size_t)snprintf(text + len, cap - len, "{\n");
	}
	for (int lvl = 0; lvl < 65; lvl++)
		len += (size_t)snprintf(text + len, cap - len, "}\n");
	const char *d = harness_tmpdir();
	harness_write(d, "n8/nginx.conf", text);
	char path[512], err[512], want[1024];
	snprintf(path, sizeof(path), "%s/n8/nginx.conf", d);
	CHECK(!parse(path, NULL, err));
	snprintf(want, sizeof(want), "%s:65: blocks nested too deeply", path);
	CHECK_STR(err, want);
	/* drop the outermost level: 64 deep parses */
	char *inner = strchr(text, '\n') + 1;
	inner[strlen(inner) - 2] = '\0';
	harness_write(d, "n8/ok.conf", inner);
	snprintf(path, sizeof(path), "%s/n8/ok.conf", d);
	struct cf_tree *t = parse(path, NULL, err);
	CHECK(t);
	cf_tree_free(t);
	free(text);
}

/* A FIFO named by include (or as the main file) is refused at once with
 * file:line; opening it blocking would hang the daemon's loop forever. */
static void test_fifo_include_is_refused_without_blocking(void)
{
	const char *d = harness_tmpdir();
	char path[512], fifo[512], err[512], want[1200];
	harness_write(d, "f1/nginx.conf", "a;\ninclude pipe.conf;\n");
	snprintf(path, sizeof(path), "%s/f1/nginx.conf", d);
	snprintf(fifo, sizeof(fifo), "%s/f1/pipe.conf", d);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	alarm(20); /* a blocking open() fails the test instead of hanging it */
	CHECK(!parse(path, NULL, err));
	snprintf(want, sizeof(want), "%s:2: \"%s\" is not a regular file", path, fifo);
	CHECK_STR(err, want);
	CHECK(!parse(fifo, NULL, err));
	snprintf(want, sizeof(want), "%s: \"%s\" is not a regular file", fifo, fifo);
	CHECK_STR(err, want);
	CHECK(!parse("/dev/zero", NULL, err));
	CHECK_STR(err, "/dev/zero: \"/dev/zero\" is not a regular file");
	struct cf_tree *t = parse("/dev/null", NULL, err); /* "no configuration", as in nginx */
	CHECK(t && !t->root->children);
	cf_tree_free(t);
	alarm(0);
}

/* Three hard links to one 25 MiB file: each include counts, so the third
 * goes over the 64 MiB of one load and is refused where it is included. */
static void test_total_bytes_of_one_load_are_bounded_across_files(void)
{
	const char *d = harness_tmpdir();
	char path[512], big[512], link[512], err[512], want[1200];
	harness_write(d, "h1/nginx.conf",
		      "include big1.conf;\ninclude big2.conf;\ninclude big3.conf;\n");
	snprintf(path, sizeof(path), "%s/h1/nginx.conf", d);
	snprintf(big, sizeof(big), "%s/h1/big1.conf", d);
	size_t n = 25u << 20;
	char *blank = malloc(n);
	memset(blank, ' ', n);
	memcpy(blank, "a;", 2);
	FILE *f = fopen(big, "w");
	CHECK_INT(fwrite(blank, 1, n, f), n);
	fclose(f);
	free(blank);
	for (int i = 2; i <= 3; i++) {
		snprintf(link, sizeof(link), "%s/h1/big%d.conf", d, i);
		CHECK_INT(linkat(AT_FDCWD, big, AT_FDCWD, link, 0), 0);
	}
	CHECK(!parse(path, NULL, err));
	snprintf(link, sizeof(link), "%s/h1/big3.conf", d);
	snprintf(want, sizeof(want),
		 "%s:3: \"%s\": the configuration files read so far total more than 64 MiB (each "
		 "include counts)",
		 path, link);
	CHECK_STR(err, want);
}

/* An include glob over a directory that cannot be read loads without its
 * files — and says so in the tree's warnings with the include's file:line. */
static void test_unreadable_include_directory_is_a_warning(void)
{
	const char *d = harness_tmpdir();
	char path[512], loop[512], err[512], want[1200];
	harness_write(d, "u1/nginx.conf", "a;\ninclude loop/*.conf;\ninclude none/*.conf;\n");
	snprintf(path, sizeof(path), "%s/u1/nginx.conf", d);
	snprintf(loop, sizeof(loop), "%s/u1/loop", d);
	CHECK_INT(symlink("loop", loop), 0); /* opendir() fails with ELOOP, even for root */
	struct cf_tree *t = parse(path, NULL, err);
	CHECK(t);
	if (!t)
		return;
	CHECK_INT(t->warnings.n, 1); /* a missing directory is no warning, as in nginx */
	if (t->warnings.n == 1) {
		CHECK_STR(t->warnings.v[0].file, path);
		CHECK_INT(t->warnings.v[0].line, 2);
		snprintf(
		    want, sizeof(want),
		    "include \"loop/*.conf\": cannot read directory \"%s\" (%s), its files are "
		    "not read",
		    loop, strerror(ELOOP));
		CHECK_STR(t->warnings.v[0].text, want);
	}
	struct cf_warnings copy = {0};
	cf_warnings_copy(&copy, &t->warnings);
	CHECK_INT(copy.n, 1);
	cf_warnings_done(&copy);
	cf_tree_free(t);
}

int main(void)
{
	RUN(test_nested_blocks_keep_file_and_line);
	RUN(test_include_glob_sorted_relative_to_prefix);
	RUN(test_missing_plain_include_is_an_error);
	RUN(test_include_cycle_is_refused);
	RUN(test_syntax_errors_name_file_and_line);
	RUN(test_if_with_quoted_string_before_paren_parses);
	RUN(test_nul_byte_in_a_word_is_refused_with_file_and_line);
	RUN(test_lua_blocks_are_opaque);
	RUN(test_nginx_dump_is_split_into_files);
	RUN(test_glob_matching_a_directory_fails_like_nginx);
	RUN(test_dump_glob_is_sorted_and_skips_hidden_files);
	RUN(test_deep_nesting_with_many_words_stays_bounded);
	RUN(test_fifo_include_is_refused_without_blocking);
	RUN(test_total_bytes_of_one_load_are_bounded_across_files);
	RUN(test_unreadable_include_directory_is_a_warning);
	return harness_result();
}
