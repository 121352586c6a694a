/* Unit tests for nginx/location: request -> *_pass, and its cache. */
#include <stdio.h>

#include "harness.h"
#include "nginx/location.h"
#include "nginx/ngxconf.h"

static const char *NGINX = "events {}\n"					    /* 1 */
			   "http {\n"						    /* 2 */
			   "  upstream app { server 127.0.0.1:8081; }\n"	    /* 3 */
			   "  server {\n"					    /* 4 */
			   "    server_name a.test;\n"				    /* 5 */
			   "    location / { proxy_pass http://app; }\n"	    /* 6 */
			   "    location /api/ { proxy_pass http://app; }\n"	    /* 7 */
			   "    location = /api/exact { proxy_pass http://app; }\n" /* 8 */
			   "    location ~ \\.php$ { proxy_pass http://app; }\n"    /* 9 */
			   "  }\n"						    /* 10 */
			   "  server {\n"					    /* 11 */
			   "    server_name b.test;\n"				    /* 12 */
			   "    location /api/ { proxy_pass http://app; }\n"	    /* 13 */
			   "  }\n"						    /* 14 */
			   "}\n";

static struct ngx_model *model;

static unsigned line_of(const struct ngx_pass *p)
{
	return p ? p->ref.line : 0;
}

static void test_scores_follow_nginx(void)
{
	CHECK(ngx_location_match("= /a", "/a") > ngx_location_match("/a", "/a"));
	CHECK_INT(ngx_location_match("= /a", "/ab"), 0);
	CHECK(ngx_location_match("/api/", "/api/x") > ngx_location_match("/", "/api/x"));
	CHECK(ngx_location_match("^~ /img/", "/img/x") > 0);
	CHECK_INT(ngx_location_match("~ \\.php$", "/x.php"), 0); /* no regex engine */
	CHECK_INT(ngx_location_match("@named", "/"), 0);
}

static void test_same_server_then_longest_location_and_cached_alike(void)
{
	struct ngx_location_cache c;
	ngx_location_cache_init(&c);
	const struct ngx_peer *peer = ngxconf_peer(model, "127.0.0.1:8081");
	const struct ngx_upstream *up = ngxconf_upstream(model, "app");
	CHECK(peer && up);
	for (int round = 0; round < 2; round++) { /* the second round is answered by the cache */
		CHECK_INT(line_of(ngx_location_pass(&c, model, peer, up, "a.test", "/api/x")), 7);
		CHECK_INT(line_of(ngx_location_pass(&c, model, peer, up, "a.test", "/api/exact")),
			  8);
		CHECK_INT(line_of(ngx_location_pass(&c, model, peer, up, "a.test", "/api/exactly")),
			  7);
		CHECK_INT(line_of(ngx_location_pass(&c, model, peer, up, "a.test", "/other")), 6);
		CHECK_INT(line_of(ngx_location_pass(&c, model, peer, up, "b.test", "/api/y")), 13);
	}
	/* URIs that differ only past the longest location share one entry */
	size_t before = c.len;
	ngx_location_pass(&c, model, peer, up, "a.test", "/api/exact-and-then-some-1");
	ngx_location_pass(&c, model, peer, up, "a.test", "/api/exact-and-then-some-2");
	CHECK_INT(c.len, before + 1);
	ngx_location_cache_done(&c);
}

int main(void)
{
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/loc/nginx.conf", harness_tmpdir());
	harness_write(harness_tmpdir(), "loc/nginx.conf", NGINX);
	if (ngxconf_load(path, NULL, &model, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	RUN(test_scores_follow_nginx);
	RUN(test_same_server_then_longest_location_and_cached_alike);
	ngxconf_free(model);
	return harness_result();
}
