/* Unit tests for ngxconf: the fixture corpus (tests/fixtures/nginx/NAME/)
 * with exact peers and refs, inheritance of settings, errors nginx would
 * raise, and — where nginx is installed — the same trees checked against
 * `nginx -T`: the files it read and the peers of its dump. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conftree.h"
#include "harness.h"
#include "nginx/ngxconf.h"
#include "nginx/ngxstr.h"
#include "nginx/ngxvalue.h"
#include "output/json.h"
#include "core/util.h"

#define FIX FIXTURES "/nginx"

static char fixdir[1024];

/* Load tests/fixtures/nginx/NAME/nginx.conf with nginx's prefix set to the
 * fixture directory (what `nginx -p DIR` does). */
static struct ngx_model *load_in(const char *dir, char *err)
{
	char path[1200];
	struct ngx_model *m = NULL;
	struct ngxconf_options o = {.prefix = dir};
	snprintf(fixdir, sizeof(fixdir), "%s", dir);
	snprintf(path, sizeof(path), "%s/nginx.conf", dir);
	err[0] = '\0';
	if (ngxconf_load_opts(path, NULL, &o, &m, err, 1024) < 0)
		return NULL;
	return m;
}

static struct ngx_model *load_fixture(const char *name, char *err)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/%s", FIX, name);
	return load_in(dir, err);
}

/* A path below the fixture directory, relative to it. */
static const char *rel(const char *path)
{
	size_t n = strlen(fixdir);
	if (path && strncmp(path, fixdir, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path ? path : "(default)";
}

static const char *ref_str(const struct ngx_ref *r, char *buf, size_t len)
{
	if (!r->file)
		snprintf(buf, len, "(default)");
	else
		snprintf(buf, len, "%s:%u", rel(r->file), r->line);
	return buf;
}

#define REF(r) ref_str(&(r), (char[1200]){0}, 1200)

/* Peer summary: "proto upstreams=a,b refs=f:1 f:2 passes=f:3" */
static const char *peer_str(const struct ngx_model *m, const char *key, char *out, size_t len)
{
	const struct ngx_peer *p = ngxconf_peer(m, key);
	if (!p) {
		snprintf(out, len, "(no peer)");
		return out;
	}
	size_t n = (size_t)snprintf(out, len, "%s upstreams=", ngxconf_proto_name(p->proto));
	for (size_t i = 0; i < p->nupstreams && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "", p->upstreams[i]);
	n += (size_t)snprintf(out + n, len - n, " refs=");
	for (size_t i = 0; i < p->nrefs && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? " " : "", REF(p->refs[i]));
	n += (size_t)snprintf(out + n, len - n, " passes=");
	for (size_t i = 0; i < p->npasses && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? " " : "",
				      REF(m->passes[p->passes[i]].ref));
	return out;
}

#define CHECK_PEER(m, key, want) CHECK_STR(peer_str(m, key, (char[4096]){0}, 4096), want)

static const char *keys_str(const struct ngx_model *m, char *out, size_t len)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < m->npeers && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? " " : "", m->peers[i].key);
	return out;
}

/* A peer's protocol and flags: "udp tls=0 probed=0 backup=1" */
static const char *flags_str(const struct ngx_model *m, const char *key, char *out, size_t len)
{
	const struct ngx_peer *p = ngxconf_peer(m, key);
	if (!p)
		snprintf(out, len, "(no peer)");
	else
		snprintf(out, len, "%s tls=%d probed=%d backup=%d", ngxconf_proto_name(p->proto),
			 p->tls, p->probed, p->backup);
	return out;
}

#define CHECK_FLAGS(m, key, want) CHECK_STR(flags_str(m, key, (char[256]){0}, 256), want)

#define CHECK_KEYS(m, want) CHECK_STR(keys_str(m, (char[4096]){0}, 4096), want)

static const char *files_str(const struct ngx_model *m, char *out, size_t len)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < m->nfiles && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? " " : "", rel(m->files[i]));
	return out;
}

static void test_debian_default_tree(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("debian", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_STR(files_str(m, (char[1024]){0}, 1024),
		  "nginx.conf mime.types sites-enabled/default");
	CHECK_INT(m->nglobs, 3);
	CHECK_STR(rel(m->globs[2]), "sites-enabled/*");
	CHECK_STR(m->user, "www-data");
	CHECK_STR(m->group, "www-data"); /* `user www-data;`: group of the same name */
	CHECK(!m->user_default);
	CHECK_STR(REF(m->user_ref), "nginx.conf:1");
	CHECK_INT(m->worker_processes, 0); /* auto */
	CHECK_INT(m->worker_connections, 768);
	CHECK_STR(REF(m->worker_connections_ref), "nginx.conf:8");
	CHECK_INT(m->nerror_logs, 1);
	CHECK_STR(m->error_logs[0].path, "/var/log/nginx/error.log");
	CHECK_STR(m->error_logs[0].level, "error");
	CHECK(m->error_logs[0].target == NGX_LOG_FILE && m->error_logs[0].followable);
	CHECK_STR(REF(m->error_logs[0].ref), "nginx.conf:4");
	CHECK_INT(m->npeers, 0);
	CHECK_INT(m->npasses, 0);
	CHECK_INT(m->nupstreams, 0);
	ngxconf_free(m);
}

static void test_php_fpm_over_unix_socket(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("php-fpm", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_STR(files_str(m, (char[1024]){0}, 1024),
		  "nginx.conf mime.types sites-enabled/php snippets/fastcgi-php.conf fastcgi.conf");
	CHECK_KEYS(m, "unix:/run/php/php8.2-fpm.sock");
	CHECK_PEER(m, "unix:/run/php/php8.2-fpm.sock",
		   "fastcgi upstreams= refs=sites-enabled/php:19 sites-enabled/php:24 "
		   "passes=sites-enabled/php:19 sites-enabled/php:24");
	CHECK_INT(m->npasses, 2);
	if (m->npasses == 2) {
		const struct ngx_pass *p = &m->passes[0];
		CHECK_STR(p->directive, "fastcgi_pass");
		CHECK_STR(p->location, "~ \\.php$");
		CHECK_STR(p->server_name, "php.test");
		CHECK_INT(p->t->read_ms, 300000);
		CHECK_STR(REF(p->t->read_ref), "sites-enabled/php:18");
		CHECK_INT(p->t->connect_ms, 60000);
		CHECK_STR(REF(p->t->connect_ref), "(default)");
		CHECK_INT(p->t->buffer_size, 32768); /* server level, inherited */
		CHECK_STR(REF(p->t->buffer_size_ref), "sites-enabled/php:10");
		CHECK(p->host_header == NULL && p->upstream == NULL && !p->dynamic);
		CHECK_INT(m->passes[1].t->read_ms, 60000);
		CHECK_STR(m->passes[1].location, "= /fpm-status");
	}
	ngxconf_free(m);
}

static void test_gunicorn_over_unix_socket(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("gunicorn", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "unix:/tmp/gunicorn.sock");
	CHECK_PEER(m, "unix:/tmp/gunicorn.sock",
		   "http upstreams=app_server refs=nginx.conf:22 passes=nginx.conf:54");
	CHECK_STR(m->user, "nobody");
	CHECK_STR(m->group, "nogroup");
	CHECK(!m->user_default);
	CHECK_INT(m->worker_connections, 1024);
	CHECK_INT(m->nerror_logs, 1);
	char want[1200];
	snprintf(want, sizeof(want), "%s/logs/error.log", fixdir);
	CHECK_STR(m->error_logs[0].path, want);
	CHECK_STR(m->error_logs[0].level, "warn");
	const struct ngx_upstream *u = ngxconf_upstream(m, "app_server");
	CHECK(u && u->nservers == 1);
	if (u && u->nservers == 1) {
		CHECK_INT(u->servers[0].fail_timeout_ms, 0);
		CHECK_STR(u->servers[0].addr, "unix:/tmp/gunicorn.sock");
	}
	const struct ngx_pass *p = &m->passes[0];
	CHECK_STR(p->upstream, "app_server");
	CHECK_STR(p->location, "@proxy_to_app");
	CHECK_STR(p->server_name, "example.test");
	CHECK(p->host_header == NULL); /* proxy_set_header Host $http_host: per request */
	ngxconf_free(m);
}

static void test_pool_parameters_and_inherited_timeouts(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("pool", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "127.0.0.1:8001 127.0.0.1:8002 127.0.0.2:8003 127.0.0.3:8004");
	const char *passes = "passes=nginx.conf:30 nginx.conf:43 nginx.conf:47";
	char want[512];
	snprintf(want, sizeof(want), "http upstreams=pool refs=nginx.conf:17 %s", passes);
	CHECK_PEER(m, "127.0.0.1:8001", want);
	snprintf(want, sizeof(want), "http upstreams=pool refs=nginx.conf:20 %s", passes);
	CHECK_PEER(m, "127.0.0.3:8004", want);

	const struct ngx_upstream *u = ngxconf_upstream(m, "pool");
	CHECK(u && u->nservers == 4 && u->keepalive == 16);
	if (u && u->nservers == 4) {
		const struct ngx_server *s = u->servers;
		CHECK(s[0].weight == 5 && s[0].max_fails == 3 && s[0].fail_timeout_ms == 30000);
		CHECK(s[1].weight == 1 && s[1].max_fails == 1 && s[1].fail_timeout_ms == 10000 &&
		      s[1].max_conns == 100);
		CHECK(s[2].backup && !s[2].down);
		CHECK(s[3].down && !s[3].backup);
		CHECK_STR(REF(s[3].ref), "nginx.conf:20");
		CHECK_STR(REF(u->ref), "nginx.conf:16");
	}

	CHECK_INT(m->worker_processes, 4);
	CHECK_INT(m->worker_connections, 4096);
	CHECK_INT(m->worker_rlimit_nofile, 8192);
	CHECK_INT(m->nerror_logs, 3);
	if (m->nerror_logs == 3) {
		CHECK_STR(m->error_logs[0].level, "notice");
		CHECK_STR(rel(m->error_logs[1].path), "logs/http-error.log");
		CHECK_STR(m->error_logs[1].level, "error");
		CHECK_STR(rel(m->error_logs[2].path), "logs/api-error.log");
		CHECK_STR(m->error_logs[2].level, "debug");
		CHECK_STR(REF(m->error_logs[2].ref), "nginx.conf:40");
	}
	CHECK_INT(m->nstub_status, 1);
	if (m->nstub_status)
		CHECK_STR(REF(m->stub_status[0]), "nginx.conf:52");

	CHECK_INT(m->npasses, 3);
	if (m->npasses != 3) {
		ngxconf_free(m);
		return;
	}
	/* location /: http connect, server read (bare seconds), send set after it */
	const struct ngx_pass *p = &m->passes[0];
	CHECK_INT(p->t->connect_ms, 5000);
	CHECK_STR(REF(p->t->connect_ref), "nginx.conf:11");
	CHECK_INT(p->t->read_ms, 120000);
	CHECK_STR(REF(p->t->read_ref), "nginx.conf:27");
	CHECK_INT(p->t->send_ms, 10000);
	CHECK_STR(REF(p->t->send_ref), "nginx.conf:56");
	CHECK_STR(p->t->next_upstream, "error timeout http_502");
	CHECK_INT(p->t->next_upstream_tries, 2);
	CHECK_INT(p->t->next_upstream_timeout_ms, 10000);
	CHECK_INT(p->t->buffer_size, 4096);
	CHECK_STR(p->host_header, "pool");
	CHECK_STR(p->server_name, "pool.test");
	/* nested location: /api/'s settings */
	p = &m->passes[1];
	CHECK_STR(p->location, "/api/slow/");
	CHECK_STR(p->uri, "/slow/");
	CHECK_INT(p->t->read_ms, 5000);
	CHECK_STR(REF(p->t->read_ref), "nginx.conf:37");
	CHECK_INT(p->t->buffer_size, 16384);
	CHECK_STR(p->t->next_upstream, "error timeout");
	CHECK_INT(p->t->next_upstream_tries, 0);
	CHECK_STR(p->host_header, "api.pool.test");
	/* if inside /api/ inherits the same */
	p = &m->passes[2];
	CHECK_STR(p->location, "/api/");
	CHECK_INT(p->t->read_ms, 5000);
	CHECK_INT(p->t->send_ms, 10000);
	CHECK_STR(p->host_header, "api.pool.test");
	/* equal settings are one copy, shared; other settings another */
	CHECK(m->passes[1].t == m->passes[2].t);
	CHECK(m->passes[0].t != m->passes[1].t);
	CHECK_INT(m->ntimeouts, 2);
	ngxconf_free(m);
}

static void test_stream_block(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("stream", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "127.0.0.1:5432 unix:/run/postgresql/.s.PGSQL.5432 127.0.0.1:8090 "
		      "127.0.0.1:6379 [::1]:53");
	CHECK_PEER(m, "127.0.0.1:5432", "tcp upstreams=db refs=nginx.conf:11 passes=nginx.conf:17");
	CHECK_PEER(m, "unix:/run/postgresql/.s.PGSQL.5432",
		   "tcp upstreams=db refs=nginx.conf:12 passes=nginx.conf:17");
	CHECK_PEER(m, "127.0.0.1:8090",
		   "http upstreams=db refs=nginx.conf:35 passes=nginx.conf:41");
	CHECK_PEER(m, "127.0.0.1:6379", "tcp upstreams= refs=nginx.conf:23 passes=nginx.conf:23");
	/* listen [::1]:10053 udp */
	CHECK_PEER(m, "[::1]:53", "udp upstreams= refs=nginx.conf:28 passes=nginx.conf:28");
	CHECK_INT(m->npasses, 4);
	if (m->npasses == 4) {
		const struct ngx_pass *p = &m->passes[0];
		CHECK(p->stream && p->proto == NGX_PROTO_TCP);
		CHECK_STR(p->upstream, "db");
		CHECK_INT(p->t->connect_ms, 2000);
		CHECK_STR(REF(p->t->connect_ref), "nginx.conf:8");
		CHECK_INT(p->t->read_ms, 1800000);
		CHECK_INT(p->t->send_ms, 1800000);
		CHECK_STR(REF(p->t->read_ref), "nginx.conf:18");
		CHECK_STR(p->t->next_upstream, "on");
		CHECK_INT(p->t->buffer_size, 16384);
		CHECK_INT(m->passes[1].t->read_ms, 600000); /* proxy_timeout's 10m default */
		CHECK(!m->passes[3].stream && m->passes[3].proto == NGX_PROTO_HTTP);
	}
	CHECK_INT(m->nerror_logs, 2);
	if (m->nerror_logs == 2)
		CHECK_STR(m->error_logs[1].level, "info");
	ngxconf_free(m);
}

static void test_variables_make_passes_dynamic(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("dynamic", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "127.0.0.1:9000");
	CHECK_PEER(m, "127.0.0.1:9000",
		   "http upstreams=backend refs=nginx.conf:20 passes=nginx.conf:32");
	CHECK_INT(m->npasses, 4);
	if (m->npasses == 4) {
		const struct ngx_pass *p = m->passes;
		CHECK(p[0].dynamic && !p[0].host && !p[0].key && !p[0].upstream);
		CHECK_STR(p[0].t->resolver, "127.0.0.53");
		CHECK_STR(REF(p[0].t->resolver_ref), "nginx.conf:7");
		CHECK(p[1].dynamic);
		CHECK_STR(p[1].upstream, "backend");
		CHECK_STR(p[1].uri, "$request_uri");
		CHECK(p[2].dynamic && !p[2].host);
		CHECK(p[3].dynamic && p[3].proto == NGX_PROTO_FASTCGI);
		CHECK_STR(p[3].t->resolver, "127.0.0.1"); /* location level wins */
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK_INT(ngxconf_print(m, f), 0);
	fclose(f);
	CHECK(strstr(buf, "dynamic: learned from logs"));
	CHECK(strstr(buf, "  proxy_pass http://$target at "));
	free(buf);
	ngxconf_free(m);
}

static void test_map_geo_types_blocks_are_skipped(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("map", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	/* the map's "server" and "proxy_pass" keys are not directives */
	CHECK_KEYS(m, "127.0.0.1:3000");
	CHECK_PEER(m, "127.0.0.1:3000",
		   "http upstreams=ws refs=nginx.conf:38 passes=nginx.conf:45");
	CHECK_INT(m->npasses, 1);
	ngxconf_free(m);
}

static void test_lua_blocks_are_skipped(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("lua", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "127.0.0.1:7000");
	CHECK_PEER(m, "127.0.0.1:7000",
		   "http upstreams=lua_app refs=nginx.conf:14 passes=nginx.conf:35");
	CHECK_INT(m->npasses, 1);
	ngxconf_free(m);
}

static void test_quoted_paths_with_spaces(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("spaces", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_STR(files_str(m, (char[1024]){0}, 1024), "nginx.conf conf.d/my site.conf");
	CHECK_KEYS(m, "unix:/run/php/php fpm.sock 127.0.0.1:8000");
	CHECK_PEER(m, "unix:/run/php/php fpm.sock",
		   "fastcgi upstreams= refs=conf.d/my site.conf:6 passes=conf.d/my site.conf:6");
	CHECK_INT(m->nerror_logs, 2);
	if (m->nerror_logs == 2) {
		CHECK_STR(rel(m->error_logs[0].path), "logs/error log with spaces.log");
		CHECK_STR(rel(m->error_logs[1].path), "logs/site error.log");
	}
	CHECK_STR(m->passes[1].uri, "/with space/");
	ngxconf_free(m);
}

static void test_deep_include_chain(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("deep", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_STR(files_str(m, (char[1024]){0}, 1024),
		  "nginx.conf l1/http.conf l1/l2/servers.conf l1/l2/l3/l4/locations.conf "
		  "l1/l2/l3/a.conf l1/l2/l3/l4/l5/upstream.conf l1/l2/l3/b.conf");
	CHECK_KEYS(m, "127.0.0.1:9001 127.0.0.1:9002");
	CHECK_PEER(m, "127.0.0.1:9001",
		   "http upstreams=deep_pool refs=l1/l2/l3/l4/l5/upstream.conf:2 "
		   "passes=l1/l2/servers.conf:5");
	CHECK_PEER(m, "127.0.0.1:9002",
		   "http upstreams=deep_pool,other_pool refs=l1/l2/l3/l4/l5/upstream.conf:3 "
		   "l1/l2/l3/b.conf:2 passes=l1/l2/servers.conf:5 l1/l2/l3/l4/locations.conf:2");
	ngxconf_free(m);
}

/* `nginx -T -p /srv/x/deep/ -c /srv/x/deep/nginx.conf` of the deep fixture,
 * stored: the dump path works without nginx installed. */
static void test_stored_nginx_dump_of_deep_tree(void)
{
	char *data = NULL, err[1024];
	size_t len = 0;
	CHECK_INT(read_file(FIXTURES "/nginx-dump/deep.txt", 1 << 20, &data, &len), 0);
	struct cf_dump *d = NULL;
	CHECK_INT(cf_dump_parse(data, len, &d), 0);
	free(data);
	if (!d)
		return;
	struct ngx_model *m = NULL;
	struct ngxconf_options o = {.prefix = "/srv/x/deep/"};
	snprintf(fixdir, sizeof(fixdir), "/srv/x/deep");
	CHECK_INT(ngxconf_load_opts(NULL, d, &o, &m, err, sizeof(err)), 0);
	cf_dump_free(d);
	if (!m)
		return;
	CHECK_STR(m->main_file, "/srv/x/deep/nginx.conf");
	CHECK_STR(files_str(m, (char[1024]){0}, 1024),
		  "nginx.conf l1/http.conf l1/l2/servers.conf l1/l2/l3/l4/locations.conf "
		  "l1/l2/l3/a.conf l1/l2/l3/l4/l5/upstream.conf l1/l2/l3/b.conf");
	CHECK_PEER(m, "127.0.0.1:9002",
		   "http upstreams=deep_pool,other_pool refs=l1/l2/l3/l4/l5/upstream.conf:3 "
		   "l1/l2/l3/b.conf:2 passes=l1/l2/servers.conf:5 l1/l2/l3/l4/locations.conf:2");
	CHECK_STR(m->error_logs[0].path, "/srv/x/deep/logs/error.log");
	ngxconf_free(m);
}

static void test_include_cycle_is_an_error(void)
{
	char err[1024], want[2048];
	CHECK(!load_fixture("cycle", err));
	snprintf(
	    want, sizeof(want),
	    "%s/cycle/conf.d/b.conf:2: include cycle: \"%s/cycle/conf.d/a.conf\" includes itself",
	    FIX, FIX);
	CHECK_STR(err, want);
}

static void test_missing_include_is_an_error(void)
{
	char err[1024], want[2048];
	CHECK(!load_fixture("missing", err));
	snprintf(want, sizeof(want),
		 "%s/missing/nginx.conf:4: open() \"%s/missing/sites/app.conf\" failed "
		 "(No such file or directory)",
		 FIX, FIX);
	CHECK_STR(err, want);
}

static void test_ipv6_peers(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("ipv6", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "[::1]:8080 [::1]:8081 [::1]:80 [::1]:9000 [::1]:50051");
	CHECK_PEER(
	    m, "[::1]:8080",
	    "http upstreams=v6 refs=nginx.conf:8 nginx.conf:24 passes=nginx.conf:17 nginx.conf:24");
	CHECK_PEER(m, "[::1]:80", "http upstreams=v6 refs=nginx.conf:10 passes=nginx.conf:17");
	CHECK_PEER(m, "[::1]:9000", "http upstreams= refs=nginx.conf:20 passes=nginx.conf:20");
	CHECK_PEER(m, "[::1]:50051", "grpc upstreams= refs=nginx.conf:27 passes=nginx.conf:27");
	if (m->npasses == 4) {
		CHECK_STR(m->passes[1].host_header, "[::1]:9000");
		CHECK_STR(m->passes[1].uri, "/v1/");
		CHECK_STR(m->passes[3].scheme, "grpc");
	}
	ngxconf_free(m);
}

static void test_default_ports(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("ports", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "127.0.0.3:80 127.0.0.1:80 127.0.0.2:443 127.0.0.1:8080 127.0.0.1:3031 "
		      "unix:/run/scgi.sock 127.0.0.1:11211 127.0.0.1:50051 127.0.0.1:50052 "
		      "unix:/run/app.sock");
	/* an http upstream server's default port is 80 even behind https:// */
	CHECK_PEER(m, "127.0.0.3:80",
		   "https upstreams=tls_pool refs=nginx.conf:8 passes=nginx.conf:28");
	CHECK_PEER(
	    m, "127.0.0.1:80",
	    "http upstreams= refs=nginx.conf:16 nginx.conf:19 passes=nginx.conf:16 nginx.conf:19");
	CHECK_PEER(
	    m, "127.0.0.2:443",
	    "https upstreams= refs=nginx.conf:22 nginx.conf:34 passes=nginx.conf:22 nginx.conf:34");
	CHECK_PEER(m, "127.0.0.1:3031", "uwsgi upstreams= refs=nginx.conf:37 passes=nginx.conf:37");
	CHECK_PEER(m, "unix:/run/scgi.sock",
		   "scgi upstreams= refs=nginx.conf:40 passes=nginx.conf:40");
	CHECK_PEER(m, "127.0.0.1:11211",
		   "memcached upstreams= refs=nginx.conf:43 passes=nginx.conf:43");
	CHECK_PEER(m, "127.0.0.1:50052",
		   "grpcs upstreams= refs=nginx.conf:49 passes=nginx.conf:49");
	CHECK_PEER(m, "unix:/run/app.sock",
		   "http upstreams= refs=nginx.conf:52 passes=nginx.conf:52");
	CHECK_INT(m->npasses, 12);
	if (m->npasses == 12) {
		const struct ngx_pass *p = m->passes;
		CHECK_STR(p[0].host_header, "127.0.0.1");
		CHECK_STR(p[1].host_header, "127.0.0.1"); /* :80 is http's default */
		CHECK_STR(p[2].host_header, "127.0.0.2");
		CHECK(p[2].t->ssl_verify && p[2].t->ssl_server_name);
		CHECK_STR(p[2].t->ssl_trusted_certificate, "/etc/ssl/certs/ca-certificates.crt");
		CHECK_STR(p[2].ssl_name, "127.0.0.2");
		CHECK(!p[0].t->ssl_verify && !p[0].t->ssl_trusted_certificate);
		CHECK_STR(p[3].host_header, "tls_pool");
		CHECK_STR(p[4].host_header, "127.0.0.1:8080");
		CHECK_STR(p[10].scheme, "grpcs");
		CHECK_STR(p[11].host_header, "localhost");
		CHECK_STR(p[11].uri, "/api/");
		CHECK_STR(p[11].key, "unix:/run/app.sock");
	}
	ngxconf_free(m);
}

static void test_host_names_stay_names(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("hostnames", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "app1.invalid:8080 app2.invalid:80 backend.test:8443");
	CHECK_PEER(m, "app2.invalid:80",
		   "http upstreams=Named refs=nginx.conf:7 passes=nginx.conf:14");
	CHECK_PEER(m, "backend.test:8443",
		   "https upstreams= refs=nginx.conf:17 passes=nginx.conf:17");
	CHECK_STR(m->passes[0].upstream, "Named");
	CHECK_STR(m->passes[1].host_header, "Backend.Test:8443");
	CHECK(m->user_default);
	CHECK_STR(m->user, "nobody");
	CHECK_STR(m->group, "nogroup");
	/* no main-level error_log: the compiled-in default, stderr on Debian 12 */
	CHECK_INT(m->nerror_logs, 1);
	CHECK_STR(m->error_logs[0].path, "stderr");
	CHECK(m->error_logs[0].target == NGX_LOG_STDERR && !m->error_logs[0].followable);
	CHECK(m->error_logs[0].ref.file == NULL);
	ngxconf_free(m);
}

static void test_fastcgi_pass_without_port_is_refused(void)
{
	char err[1024], want[2048];
	CHECK(!load_fixture("noport", err));
	snprintf(want, sizeof(want), "%s/noport/nginx.conf:7: no port in upstream \"127.0.0.1\"",
		 FIX);
	CHECK_STR(err, want);
}

/* --- inline configurations --- */

static struct ngx_model *load_text(const char *name, const char *text, char *err)
{
	const char *d = harness_tmpdir();
	char rel_path[256], dir[1024];
	snprintf(rel_path, sizeof(rel_path), "%s/nginx.conf", name);
	harness_write(d, rel_path, text);
	snprintf(dir, sizeof(dir), "%s/%s", d, name);
	return load_in(dir, err);
}

/* service=NAME: the SRV record nginx asks for is the key, no port implied;
 * a name with a dot is a prefix of its own (service=_http._tcp). */
static void test_service_servers_are_keyed_by_their_srv_record(void)
{
	char err[1024];
	struct ngx_model *m =
	    load_text("srv",
		      "events {}\nhttp {\n resolver 127.0.0.53;\n"
		      " upstream u { zone z 1m; server Backend.Test service=http resolve; }\n"
		      " upstream v { zone y 1m; server b.test service=_h._udp resolve; }\n"
		      " server { location / { proxy_pass http://u; }\n"
		      "  location /v { proxy_pass http://v; } }\n}\n",
		      err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "srv:_http._tcp.backend.test srv:_h._udp.b.test");
	CHECK_FLAGS(m, "srv:_http._tcp.backend.test", "http tls=0 probed=0 backup=0");
	ngxconf_free(m);
}

/* "fastcgi_pass $arg_b" may name block u at run time: u speaks FastCGI
 * (nginx-tests fastcgi_unix.t); with no such pass an unnamed block is http. */
static void test_a_variable_pass_gives_unnamed_blocks_its_protocol(void)
{
	char err[1024];
	struct ngx_model *m =
	    load_text("varproto",
		      "events {}\nhttp {\n upstream u { server 127.0.0.1:8081; }\n"
		      " server { location / { fastcgi_pass unix:/run/x.sock; }\n"
		      "  location /v { fastcgi_pass $arg_b; } }\n}\n"
		      "stream {\n upstream s { server 127.0.0.1:9000; }\n}\n",
		      err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_FLAGS(m, "127.0.0.1:8081", "fastcgi tls=0 probed=1 backup=0");
	CHECK_FLAGS(m, "127.0.0.1:9000", "tcp tls=0 probed=1 backup=0");
	ngxconf_free(m);
}

static void test_errors_nginx_would_raise(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"stream {\n upstream s {\n  server 127.0.0.1;\n }\n}\n",
	     "3: no port in upstream \"127.0.0.1\""},
	    {"stream {\n server {\n  proxy_pass 127.0.0.1;\n }\n}\n",
	     "3: no port in upstream \"127.0.0.1\""},
	    {"http {\n upstream b { server 127.0.0.1:1; }\n server { location / {\n"
	     "  proxy_pass http://b:8080; } }\n}\n",
	     "4: upstream \"b\" may not have port 8080"},
	    {"http {\n upstream b { server 127.0.0.1:1; }\n upstream B { server 127.0.0.1:2; "
	     "}\n}\n",
	     "3: duplicate upstream \"B\""},
	    {"http {\n server { location / {\n proxy_pass 127.0.0.1:80; } }\n}\n",
	     "3: invalid URL prefix in \"127.0.0.1:80\""},
	    {"http {\n proxy_read_timeout 5x;\n}\n",
	     "2: \"proxy_read_timeout\" directive invalid value"},
	    {"http {\n upstream u {\n  server 127.0.0.1:1 weight=0;\n }\n}\n",
	     "3: invalid parameter \"weight=0\""},
	    {"http {\n upstream u {\n  server 127.0.0.1:99999;\n }\n}\n",
	     "3: invalid port in upstream \"127.0.0.1:99999\""},
	    {"error_log x.log loud;\n", "1: invalid log level \"loud\""},
	    {"events {\n worker_connections many;\n}\n",
	     "2: invalid value \"many\" in \"worker_connections\" directive"},
	    {"http {\n server { location / {\n grpc_pass grpc://127.0.0.1; } }\n}\n",
	     "3: no port in upstream \"127.0.0.1\""},
	    {"http {\n server { location / {\n proxy_pass http://[::1:80; } }\n}\n",
	     "3: invalid host in upstream \"[::1:80\""},
	    {"http {\n server { location / {\n proxy_pass http://127.0.0.1:0; } }\n}\n",
	     "3: invalid port in upstream \"127.0.0.1:0\""},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char name[32], err[1024], want[2048];
		snprintf(name, sizeof(name), "err%zu", i);
		struct ngx_model *m = load_text(name, cases[i].text, err);
		CHECK(!m);
		ngxconf_free(m);
		snprintf(want, sizeof(want), "%s/nginx.conf:%s", fixdir, cases[i].msg);
		CHECK_STR(err, want);
	}
}

static void test_error_log_targets(void)
{
	char err[1024];
	struct ngx_model *m =
	    load_text("logs",
		      "error_log stderr;\n"
		      "error_log syslog:server=unix:/dev/log,tag=nginx warn;\n"
		      "error_log memory:32m debug;\n"
		      "error_log /dev/null crit;\n"
		      "error_log rel.log debug_http;\n"
		      "http {\n error_log /var/log/a.log info;\n error_log /var/log/b.log;\n"
		      " server { location / { error_log /var/log/c.log alert; } }\n}\n"
		      "mail {\n server { error_log /var/log/mail.log; }\n}\n",
		      err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_INT(m->nerror_logs, 9);
	if (m->nerror_logs == 9) {
		const struct ngx_error_log *e = m->error_logs;
		CHECK(e[0].target == NGX_LOG_STDERR && !e[0].followable);
		CHECK(e[1].target == NGX_LOG_SYSLOG && !e[1].followable);
		CHECK_STR(e[1].path, "syslog:server=unix:/dev/log,tag=nginx");
		CHECK_STR(e[1].level, "warn");
		CHECK(e[2].target == NGX_LOG_MEMORY && !e[2].followable);
		CHECK(e[3].target == NGX_LOG_FILE && !e[3].followable);
		CHECK_STR(rel(e[4].path), "rel.log");
		CHECK_STR(e[4].level, "debug");
		CHECK(e[4].followable);
		CHECK_STR(e[5].path, "/var/log/a.log");
		CHECK_STR(e[6].level, "error");
		CHECK_STR(e[7].level, "alert");
		CHECK_STR(REF(e[7].ref), "nginx.conf:9");
		CHECK_STR(REF(e[8].ref), "nginx.conf:12");
	}
	ngxconf_free(m);
}

static void test_default_error_log_and_prefix_options(void)
{
	const char *d = harness_tmpdir();
	harness_write(d, "opts/nginx.conf", "http {\n error_log logs/h.log;\n}\n");
	char path[1024], err[1024];
	snprintf(path, sizeof(path), "%s/opts/nginx.conf", d);
	struct ngx_model *m = NULL;
	/* Debian's own prefix when none is given */
	CHECK_INT(ngxconf_load(path, NULL, &m, err, sizeof(err)), 0);
	if (m) {
		CHECK_INT(m->nerror_logs, 2);
		CHECK_STR(m->error_logs[0].path, "stderr");
		CHECK_STR(m->error_logs[1].path, "/usr/share/nginx/logs/h.log");
		ngxconf_free(m);
	}
	/* an nginx built with --error-log-path=/var/log/nginx/error.log, run with -p /srv/ */
	struct ngxconf_options o = {.prefix = "/srv/",
				    .default_error_log = "/var/log/nginx/error.log"};
	m = NULL;
	CHECK_INT(ngxconf_load_opts(path, NULL, &o, &m, err, sizeof(err)), 0);
	if (m) {
		CHECK_STR(m->error_logs[0].path, "/var/log/nginx/error.log");
		CHECK(m->error_logs[0].followable && !m->error_logs[0].ref.file);
		CHECK_STR(m->error_logs[1].path, "/srv/logs/h.log");
		ngxconf_free(m);
	}
}

static void test_host_header_expansion(void)
{
	char err[1024];
	struct ngx_model *m = load_text(
	    "host",
	    "http {\n proxy_set_header X-Real-IP $remote_addr;\n"
	    " server {\n"
	    "  location /a { proxy_pass http://127.0.0.1:81; }\n"
	    "  location /b { proxy_set_header Host $proxy_host:$proxy_port; proxy_pass "
	    "http://127.0.0.1; }\n"
	    "  location /c { proxy_set_header host ${proxy_host}.x; proxy_pass https://h.test; }\n"
	    "  location /d { proxy_set_header Host \"\"; proxy_pass http://127.0.0.1; }\n"
	    "  location /e { proxy_set_header Host $host; proxy_pass http://127.0.0.1; }\n"
	    "  location /f { proxy_set_header X-Y z; proxy_pass http://127.0.0.1; }\n"
	    " }\n}\n",
	    err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_INT(m->npasses, 6);
	if (m->npasses == 6) {
		CHECK_STR(m->passes[0].host_header, "127.0.0.1:81");
		CHECK_STR(m->passes[1].host_header, "127.0.0.1:80");
		CHECK_STR(m->passes[2].host_header, "h.test.x");
		CHECK(m->passes[3].host_header == NULL);
		CHECK(m->passes[4].host_header == NULL);
		/* a location setting other headers still sends the default Host */
		CHECK_STR(m->passes[5].host_header, "127.0.0.1");
	}
	ngxconf_free(m);
}

static void test_snippet_included_twice_is_one_ref(void)
{
	const char *d = harness_tmpdir();
	harness_write(d, "twice/php.conf", "fastcgi_pass unix:/run/php.sock;\n");
	char err[1024];
	struct ngx_model *m = load_text("twice",
					"http {\n server {\n  location /a { include php.conf; }\n"
					"  location /b { include php.conf; }\n }\n}\n",
					err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_INT(m->nfiles, 2);
	CHECK_INT(m->npasses, 2);
	CHECK_PEER(m, "unix:/run/php.sock",
		   "fastcgi upstreams= refs=php.conf:1 passes=php.conf:1 php.conf:1");
	cJSON *j = json_nginx_peer(m, ngxconf_peer(m, "unix:/run/php.sock"));
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "locations")), 1);
	cJSON_Delete(j);
	ngxconf_free(m);
}

static void test_time_and_size_syntax(void)
{
	static const struct {
		const char *s;
		int r;
		uint64_t ms;
	} times[] = {
	    {"500ms", 0, 500},	  {"30s", 0, 30000},	  {"30", 0, 30000},
	    {"1m30s", 0, 90000},  {"1h 30m", 0, 5400000}, {"2d", 0, 172800000},
	    {"1w", 0, 604800000}, {"1s500ms", 0, 1500},	  {"30s1m", -EINVAL, 0},
	    {"1y", -EINVAL, 0},	  {"1M", -EINVAL, 0},	  {"", -EINVAL, 0},
	    {"5x", -EINVAL, 0},	  {"1s 2", 0, 3000},	  {"m", -EINVAL, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(times); i++) {
		uint64_t v = 0;
		int r = ngxvalue_time_ms(times[i].s, &v);
		if (r != times[i].r || v != times[i].ms)
			fprintf(stderr, "time \"%s\": %d %llu\n", times[i].s, r,
				(unsigned long long)v);
		CHECK_INT(r, times[i].r);
		CHECK_INT(v, times[i].ms);
	}
	static const struct {
		const char *s;
		int r;
		uint64_t v;
	} sizes[] = {
	    {"4k", 0, 4096}, {"16K", 0, 16384},	 {"1m", 0, 1048576},
	    {"512", 0, 512}, {"1g", -EINVAL, 0}, {"k", -EINVAL, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint64_t v = 0;
		CHECK_INT(ngxvalue_size(sizes[i].s, &v), sizes[i].r);
		CHECK_INT(v, sizes[i].v);
	}
}

static void test_peer_json_and_print(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("pool", err);
	if (!m)
		return;
	cJSON *j = json_nginx_peer(m, ngxconf_peer(m, "127.0.0.2:8003"));
	char *s = cJSON_PrintUnformatted(j);
	char want[4096];
	snprintf(want, sizeof(want),
		 "{\"peer\":\"127.0.0.2:8003\",\"protocol\":\"http\",\"backup\":true,"
		 "\"upstreams\":[\"pool\"],"
		 "\"locations\":[\"%s/nginx.conf:30\",\"%s/nginx.conf:43\",\"%s/nginx.conf:47\"]}",
		 fixdir, fixdir, fixdir);
	CHECK_STR(s, want);
	free(s);
	cJSON_Delete(j);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK_INT(ngxconf_print(m, f), 0);
	fclose(f);
	snprintf(want, sizeof(want), "worker user www-data, group www-data (%s/nginx.conf:1)\n",
		 fixdir);
	CHECK(strstr(buf, want));
	CHECK(strstr(buf, "  127.0.0.2:8003 http upstream pool\n"));
	CHECK(strstr(buf, "(file, level notice, followed)"));
	snprintf(want, sizeof(want), "      via proxy_pass http://pool at %s/nginx.conf:30\n",
		 fixdir);
	CHECK(strstr(buf, want));
	free(buf);
	CHECK(ngxconf_peer(m, "127.0.0.9:1") == NULL);
	CHECK(ngxconf_upstream(m, "POOL") == &m->upstreams[0]);
	CHECK(ngxconf_upstream(m, "nope") == NULL);
	ngxconf_free(m);
}

static void test_protocols_tls_memcached_udp(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("protocols", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "127.0.0.53:53 127.0.0.54:53 127.0.0.1:50051 127.0.0.1:50052 127.0.0.1:3031 "
		      "127.0.0.1:3032 127.0.0.1:11211 127.0.0.1:8443 127.0.0.1:514 127.0.0.1:5516 "
		      "127.0.0.1:9443");
	CHECK_FLAGS(m, "127.0.0.1:50051", "grpc tls=0 probed=1 backup=0");
	CHECK_FLAGS(m, "127.0.0.1:50052", "grpcs tls=1 probed=1 backup=0");
	CHECK_FLAGS(m, "127.0.0.1:3031", "uwsgi tls=0 probed=1 backup=0");
	CHECK_FLAGS(m, "127.0.0.1:3032", "suwsgi tls=1 probed=1 backup=0");
	CHECK_FLAGS(m, "127.0.0.1:11211", "memcached tls=0 probed=1 backup=0");
	CHECK_FLAGS(m, "127.0.0.1:8443", "https tls=1 probed=1 backup=0");
	/* a udp server's block and literal peers: udp, never TCP-probed */
	CHECK_FLAGS(m, "127.0.0.53:53", "udp tls=0 probed=0 backup=0");
	CHECK_FLAGS(m, "127.0.0.54:53", "udp tls=0 probed=0 backup=1");
	CHECK_FLAGS(m, "127.0.0.1:514", "udp tls=0 probed=0 backup=0");
	CHECK_FLAGS(m, "127.0.0.1:5516", "tcp tls=0 probed=1 backup=0");
	CHECK_FLAGS(m, "127.0.0.1:9443", "tcp tls=1 probed=1 backup=0");
	CHECK_PEER(m, "127.0.0.53:53", "udp upstreams=dns refs=nginx.conf:25 passes=nginx.conf:31");
	CHECK_PEER(m, "127.0.0.1:514", "udp upstreams= refs=nginx.conf:36 passes=nginx.conf:36");
	CHECK_INT(m->npasses, 10);
	if (m->npasses == 10) {
		CHECK(m->passes[3].tls && m->passes[3].proto == NGX_PROTO_SUWSGI);
		CHECK_STR(m->passes[3].scheme, "suwsgi");
		CHECK(m->passes[6].stream && m->passes[6].proto == NGX_PROTO_UDP);
	}

	cJSON *j = json_nginx_peer(m, ngxconf_peer(m, "127.0.0.54:53"));
	char *s = cJSON_PrintUnformatted(j);
	CHECK_STR(s, "{\"peer\":\"127.0.0.54:53\",\"protocol\":\"udp\",\"probed\":false,"
		     "\"backup\":true,\"upstreams\":[\"dns\"],\"locations\":[\"" FIX
		     "/protocols/nginx.conf:31\"]}");
	free(s);
	cJSON_Delete(j);
	j = json_nginx_peer(m, ngxconf_peer(m, "127.0.0.1:9443"));
	s = cJSON_PrintUnformatted(j);
	CHECK_STR(s, "{\"peer\":\"127.0.0.1:9443\",\"protocol\":\"tcp\",\"tls\":true,"
		     "\"upstreams\":[],\"locations\":[\"" FIX "/protocols/nginx.conf:47\"]}");
	free(s);
	cJSON_Delete(j);
	ngxconf_free(m);
}

static void test_peers_nginx_never_connects_to_are_not_probed(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("unprobed", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	CHECK_KEYS(m, "127.0.0.1:8001 127.0.0.1:8002 127.0.0.1:8003 "
		      "srv:_http._tcp.backend.internal 0.0.0.1:80 "
		      "0.0.0.2:80 127.0.0.1:8004 127.0.0.1:8006");
	CHECK_FLAGS(m, "127.0.0.1:8001", "http tls=0 probed=1 backup=0");
	CHECK_FLAGS(m, "127.0.0.1:8002", "http tls=0 probed=0 backup=0"); /* down */
	CHECK_FLAGS(m, "127.0.0.1:8003", "http tls=0 probed=1 backup=1");
	CHECK_FLAGS(m, "srv:_http._tcp.backend.internal",
		    "http tls=0 probed=0 backup=0");		      /* service= */
	CHECK_FLAGS(m, "0.0.0.1:80", "http tls=0 probed=0 backup=0"); /* balancer_by_lua_block */
	CHECK_FLAGS(m, "0.0.0.2:80", "http tls=0 probed=0 backup=0"); /* balancer_by_lua_file */
	/* down in `retired`, live in `current`: nginx connects through current */
	CHECK_FLAGS(m, "127.0.0.1:8004", "http tls=0 probed=1 backup=0");
	/* backup in `current`, and a proxy_pass names it directly */
	CHECK_FLAGS(m, "127.0.0.1:8006", "http tls=0 probed=1 backup=0");
	CHECK_PEER(m, "127.0.0.1:8004",
		   "http upstreams=retired,current refs=nginx.conf:35 nginx.conf:39 "
		   "passes=nginx.conf:48 nginx.conf:49");
	const struct ngx_upstream *u = ngxconf_upstream(m, "lua_pool");
	CHECK(u && u->balancer_lua);
	u = ngxconf_upstream(m, "pool");
	CHECK(u && !u->balancer_lua && u->nservers == 4);
	if (u && u->nservers == 4) {
		CHECK_STR(u->servers[3].service, "http");
		CHECK(u->servers[3].resolve && u->servers[1].down && u->servers[2].backup);
	}

	cJSON *j = json_nginx_peer(m, ngxconf_peer(m, "0.0.0.1:80"));
	char *s = cJSON_PrintUnformatted(j);
	CHECK_STR(s, "{\"peer\":\"0.0.0.1:80\",\"protocol\":\"http\",\"probed\":false,"
		     "\"upstreams\":[\"lua_pool\"],\"locations\":[\"" FIX
		     "/unprobed/nginx.conf:46\"]}");
	free(s);
	cJSON_Delete(j);
	j = json_nginx_peer(m, ngxconf_peer(m, "127.0.0.1:8001"));
	s = cJSON_PrintUnformatted(j);
	CHECK(s && !strstr(s, "\"probed\"") && !strstr(s, "\"backup\""));
	free(s);
	cJSON_Delete(j);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK_INT(ngxconf_print(m, f), 0);
	fclose(f);
	CHECK(strstr(buf, "  0.0.0.1:80 http upstream lua_pool\n      not probed: nginx never "
			  "connects to it\n"));
	CHECK(strstr(buf, "  127.0.0.1:8003 http upstream pool\n      backup: used when the "
			  "primary peers fail\n"));
	free(buf);
	ngxconf_free(m);
}

static const char *passes_str(const struct ngx_model *m, const size_t *v, size_t n, char *out,
			      size_t len)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && k < len; i++)
		k += (size_t)snprintf(out + k, len - k, "%s%s", i ? " " : "",
				      REF(m->passes[v[i]].ref));
	return out;
}

#define PASSES(m, v, n) passes_str(m, v, n, (char[4096]){0}, 4096)

static void test_lookups_by_name_host_and_server(void)
{
	char err[1024];
	struct ngx_model *m = load_fixture("lookups", err);
	CHECK_STR(err, "");
	if (!m)
		return;
	/* block names: case-insensitive, http first */
	const struct ngx_upstream *u = ngxconf_upstream(m, "sHaReD");
	CHECK(u && !u->stream && streq(u->name, "shared"));
	CHECK(ngxconf_upstream(m, "nope") == NULL);
	CHECK(ngxconf_upstream(m, "STREAM_ONLY_NAME_DIFFERS") == &m->upstreams[2]);
	if (u)
		CHECK_STR(PASSES(m, u->passes, u->npasses),
			  "nginx.conf:26 nginx.conf:39 nginx.conf:40");
	u = &m->upstreams[0];
	CHECK(u->stream);
	CHECK_STR(PASSES(m, u->passes, u->npasses), "nginx.conf:11");

	/* host names: the first peer of that name, any port, any case */
	const struct ngx_peer *p = ngxconf_peer_by_host(m, "APP.example.test");
	CHECK(p && streq(p->key, "app.example.test:8443"));
	CHECK(ngxconf_peer_by_host(m, "127.0.0.1") == NULL); /* not a host name */
	CHECK(ngxconf_peer_by_host(m, "other.test") == NULL);
	if (p) {
		struct peerkey k;
		ngxconf_peer_addr(p, &k);
		CHECK_STR(k.key, "app.example.test:8443");
		CHECK_STR(k.host, "app.example.test");
		CHECK_INT(k.port, 8443);
		CHECK_INT(k.kind, PEERKEY_HOST);
	}

	/* dynamic passes: the server's own plus those of nameless servers */
	const size_t *v;
	size_t n = ngxconf_dynamic_passes(m, "a.test", &v);
	CHECK_STR(PASSES(m, v, n), "nginx.conf:27 nginx.conf:32");
	n = ngxconf_dynamic_passes(m, "b.test", &v);
	CHECK_STR(PASSES(m, v, n), "nginx.conf:32 nginx.conf:38");
	n = ngxconf_dynamic_passes(m, "unknown.test", &v);
	CHECK_STR(PASSES(m, v, n), "nginx.conf:32");
	n = ngxconf_dynamic_passes(m, NULL, &v);
	CHECK_STR(PASSES(m, v, n), "nginx.conf:27 nginx.conf:32 nginx.conf:38");
	ngxconf_free(m);
}

static void test_string_pool_stores_each_string_once(void)
{
	struct ngxstr *pool = ngxstr_new();
	const char *a = ngxstr_intern(pool, "proxy_pass");
	char copy[] = "proxy_pass";
	CHECK(ngxstr_intern(pool, copy) == a);
	CHECK(ngxstr_intern_n(pool, "proxy_passXYZ", 10) == a);
	CHECK(ngxstr_intern(pool, "proxy_pas") != a);
	CHECK(ngxstr_intern(pool, NULL) == NULL);
	CHECK_STR(ngxstr_intern(pool, ""), "");
	/* longer than a chunk, and many: the table grows, pointers stay */
	char *big = xmalloc(40000);
	memset(big, 'x', 39999);
	big[39999] = '\0';
	const char *b = ngxstr_intern(pool, big);
	CHECK(b != big && strcmp(b, big) == 0);
	const char *first = NULL;
	for (unsigned i = 0; i < 5000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%u.example", i);
		const char *s = ngxstr_intern(pool, name);
		if (i == 0)
			first = s;
		CHECK_STR(s, name);
	}
	CHECK(ngxstr_intern(pool, "s0.example") == first);
	CHECK(ngxstr_intern(pool, big) == b);
	CHECK(ngxstr_intern(pool, "proxy_pass") == a);
	free(big);
	ngxstr_free(pool);
	ngxstr_free(NULL);
}

/* --- the same trees through nginx itself --- */

static bool has_nginx(void)
{
	return access("/usr/sbin/nginx", X_OK) == 0;
}

/* Run `nginx -T` on a copy of the fixture (nginx creates its logs there).
 * Returns the dump, or NULL when nginx refused the configuration. */
static char *nginx_dump(const char *dir, bool add_pid, size_t *ret_len, char *errfile,
			size_t errlen)
{
	char cmd[4096];
	snprintf(errfile, errlen, "%s.nginx-err", dir);
	snprintf(cmd, sizeof(cmd), "/usr/sbin/nginx -T -p '%s/' -c '%s/nginx.conf' %s%s%s 2>'%s'",
		 dir, dir, add_pid ? "-g 'pid " : "", add_pid ? dir : "",
		 add_pid ? "/nginx.pid;'" : "", errfile);
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *buf = xmalloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len, p)) > 0) {
		len += n;
		if (len == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	if (pclose(p) != 0) {
		free(buf);
		return NULL;
	}
	*ret_len = len;
	return buf;
}

static bool same_peers(const struct ngx_model *a, const struct ngx_model *b)
{
	if (a->npeers != b->npeers)
		return false;
	for (size_t i = 0; i < a->npeers; i++) {
		char x[4096], y[4096];
		peer_str(a, a->peers[i].key, x, sizeof(x));
		peer_str(b, a->peers[i].key, y, sizeof(y));
		if (!streq(x, y)) {
			fprintf(stderr, "peer %s: disk \"%s\" dump \"%s\"\n", a->peers[i].key, x,
				y);
			return false;
		}
	}
	return true;
}

static void crosscheck(const char *name, bool add_pid)
{
	const char *d = harness_tmpdir();
	char dir[1024], cmd[4096], errfile[1200], err[1024];
	snprintf(dir, sizeof(dir), "%s/nginx-%s", d, name);
	snprintf(cmd, sizeof(cmd), "cp -a '%s/%s' '%s' && mkdir -p '%s/logs'", FIX, name, dir, dir);
	CHECK_INT(system(cmd), 0);

	size_t len = 0;
	char *dump = nginx_dump(dir, add_pid, &len, errfile, sizeof(errfile));
	CHECK(dump);
	if (!dump) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", errfile);
		if (system(cmd) != 0)
			fprintf(stderr, "nginx failed on %s\n", name);
		return;
	}
	struct ngx_model *disk = load_in(dir, err);
	CHECK_STR(err, "");
	struct cf_dump *cd = NULL;
	CHECK_INT(cf_dump_parse(dump, len, &cd), 0);
	struct ngx_model *fromdump = NULL;
	struct ngxconf_options o = {.prefix = dir};
	if (cd)
		CHECK_INT(ngxconf_load_opts(NULL, cd, &o, &fromdump, err, sizeof(err)), 0);
	if (disk && fromdump) {
		/* the files nginx read are the files the model read */
		bool same = disk->nfiles == fromdump->nfiles;
		for (size_t i = 0; same && i < disk->nfiles; i++) {
			bool found = false;
			for (size_t j = 0; j < fromdump->nfiles && !found; j++)
				found = streq(disk->files[i], fromdump->files[j]);
			same = found;
		}
		if (!same)
			fprintf(stderr, "%s: files differ: disk %s\n", name,
				files_str(disk, (char[4096]){0}, 4096));
		CHECK(same);
		CHECK(same_peers(disk, fromdump));
		CHECK_INT(disk->npasses, fromdump->npasses);
		CHECK_INT(disk->nerror_logs, fromdump->nerror_logs);
		/* nginx -t opened (created) every log file the model follows */
		for (size_t i = 0; i < disk->nerror_logs; i++) {
			const struct ngx_error_log *e = &disk->error_logs[i];
			struct stat st;
			if (e->followable && stat(e->path, &st) != 0) {
				fprintf(stderr, "%s: %s not created by nginx\n", name, e->path);
				CHECK(false);
			}
		}
	}
	ngxconf_free(disk);
	ngxconf_free(fromdump);
	cf_dump_free(cd);
	free(dump);
}

static void test_nginx_reads_the_same_files_and_peers(void)
{
	if (!has_nginx()) {
		SKIP("/usr/sbin/nginx not installed");
	}
	if (geteuid() != 0) {
		/* `user` needs root, Debian's tree writes /var/log/nginx */
		SKIP("nginx -t of the fixtures needs root");
	}
	static const struct {
		const char *name;
		bool add_pid;
	} ok[] = {
	    {"debian", false}, {"php-fpm", false}, {"gunicorn", true}, {"pool", true},
	    {"dynamic", true}, {"map", true},	   {"spaces", true},   {"deep", true},
	    {"ipv6", true},    {"ports", true},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		crosscheck(ok[i].name, ok[i].add_pid);
}

static void test_nginx_refuses_what_the_model_refuses(void)
{
	if (!has_nginx() || geteuid() != 0)
		return;
	const char *names[] = {"noport", "cycle", "missing"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char dir[1024], cmd[4096], errfile[1200];
		size_t len;
		snprintf(dir, sizeof(dir), "%s/refuse-%s", harness_tmpdir(), names[i]);
		snprintf(cmd, sizeof(cmd), "cp -a '%s/%s' '%s' && mkdir -p '%s/logs'", FIX,
			 names[i], dir, dir);
		CHECK_INT(system(cmd), 0);
		char *dump = nginx_dump(dir, true, &len, errfile, sizeof(errfile));
		CHECK(!dump);
		free(dump);
	}
}

int main(void)
{
	RUN(test_service_servers_are_keyed_by_their_srv_record);
	RUN(test_a_variable_pass_gives_unnamed_blocks_its_protocol);
	RUN(test_debian_default_tree);
	RUN(test_php_fpm_over_unix_socket);
	RUN(test_gunicorn_over_unix_socket);
	RUN(test_pool_parameters_and_inherited_timeouts);
	RUN(test_stream_block);
	RUN(test_variables_make_passes_dynamic);
	RUN(test_map_geo_types_blocks_are_skipped);
	RUN(test_lua_blocks_are_skipped);
	RUN(test_quoted_paths_with_spaces);
	RUN(test_deep_include_chain);
	RUN(test_stored_nginx_dump_of_deep_tree);
	RUN(test_include_cycle_is_an_error);
	RUN(test_missing_include_is_an_error);
	RUN(test_ipv6_peers);
	RUN(test_default_ports);
	RUN(test_host_names_stay_names);
	RUN(test_fastcgi_pass_without_port_is_refused);
	RUN(test_errors_nginx_would_raise);
	RUN(test_error_log_targets);
	RUN(test_default_error_log_and_prefix_options);
	RUN(test_host_header_expansion);
	RUN(test_snippet_included_twice_is_one_ref);
	RUN(test_time_and_size_syntax);
	RUN(test_peer_json_and_print);
	RUN(test_protocols_tls_memcached_udp);
	RUN(test_lookups_by_name_host_and_server);
	RUN(test_string_pool_stores_each_string_once);
	RUN(test_peers_nginx_never_connects_to_are_not_probed);
	RUN(test_nginx_reads_the_same_files_and_peers);
	RUN(test_nginx_refuses_what_the_model_refuses);
	return harness_result();
}
