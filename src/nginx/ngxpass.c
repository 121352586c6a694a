/* ngxpass: *_pass lines and their inherited settings (see ngxpass.h).
 *
 * nginx merges a location's settings with its server's and http's no matter
 * where in the block a directive stands, so each scope is read in two
 * sweeps: scope_settings() collects the scope's own settings on top of a
 * copy of its parent's (struct scope), then walk_scope() visits the *_pass
 * lines and the nested blocks with them. Settings are kept as the directive
 * nodes that set them (validated when seen) and turned into values per pass.
 * Blocks that are not configuration scopes (map, geo, types, split_clients,
 * upstream, third-party) are skipped without looking inside. */
#include "nginx/ngxpass.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conftree.h"
#include "core/peerkey.h"
#include "core/strbuf.h"
#include "core/util.h"
#include "nginx/ngxbuild.h"
#include "nginx/ngxvalue.h"

/* The modules whose *_pass has connect/read/send settings. */
enum mod {
	MOD_PROXY,
	MOD_FASTCGI,
	MOD_UWSGI,
	MOD_SCGI,
	MOD_GRPC,
	MOD_MEMCACHED,
	MOD_STREAM, /* proxy_* inside stream {} */
	MOD_N,
};

static const char *const mod_prefix[MOD_N] = {
    "proxy_", "fastcgi_", "uwsgi_", "scgi_", "grpc_", "memcached_", "proxy_",
};

static const char *const mod_pass[MOD_N] = {
    "proxy_pass", "fastcgi_pass",   "uwsgi_pass", "scgi_pass",
    "grpc_pass",  "memcached_pass", "proxy_pass",
};

enum set {
	SET_CONNECT,
	SET_READ, /* stream: proxy_timeout, which bounds reads and writes alike */
	SET_SEND,
	SET_NEXT,
	SET_TRIES,
	SET_NEXT_TIMEOUT,
	SET_BUFFER,
	SET_SSL_VERIFY,
	SET_SSL_TRUSTED,
	SET_SSL_NAME,
	SET_SSL_SERVER_NAME,
	SET_N,
};

enum kind { K_TIME, K_UINT, K_SIZE, K_FLAG, K_STR, K_LIST };

static const struct {
	const char *suffix;
	enum kind kind;
} set_info[SET_N] = {
    [SET_CONNECT] = {"connect_timeout", K_TIME},
    [SET_READ] = {"read_timeout", K_TIME},
    [SET_SEND] = {"send_timeout", K_TIME},
    [SET_NEXT] = {"next_upstream", K_LIST},
    [SET_TRIES] = {"next_upstream_tries", K_UINT},
    [SET_NEXT_TIMEOUT] = {"next_upstream_timeout", K_TIME},
    [SET_BUFFER] = {"buffer_size", K_SIZE},
    [SET_SSL_VERIFY] = {"ssl_verify", K_FLAG},
    [SET_SSL_TRUSTED] = {"ssl_trusted_certificate", K_STR},
    [SET_SSL_NAME] = {"ssl_name", K_STR},
    [SET_SSL_SERVER_NAME] = {"ssl_server_name", K_FLAG},
};

/* Settings in effect in one scope: the nodes that set them, NULL = default. */
struct scope {
	const struct cf_node *set[MOD_N][SET_N];
	const struct cf_node *resolver;
	const struct cf_node *host_header; /* proxy_set_header Host in effect */
	const char *location;		   /* "" outside locations */
	const char *server_name;
	bool stream;
	bool in_server;
	bool udp;	/* stream server listening with `udp` */
	bool proxy_ssl; /* stream: proxy_ssl on */
};

static char *join_args(const struct cf_node *n, unsigned from)
{
	struct strbuf s = STRBUF_INIT;
	for (unsigned i = from; i < n->argc; i++) {
		if (i > from)
			strbuf_putc(&s, ' ');
		strbuf_puts(&s, n->argv[i]);
	}
	return strbuf_steal(&s);
}

/* --- scopes and passes --- */

/* Which module setting a directive name is, if any. */
static bool match_setting(const char *name, bool stream, enum mod *ret_mod, enum set *ret_set)
{
	for (int mod = stream ? MOD_STREAM : 0; mod < (stream ? MOD_N : MOD_STREAM); mod++) {
		if (!startswith(name, mod_prefix[mod]))
			continue;
		const char *suffix = name + strlen(mod_prefix[mod]);
		if (mod == MOD_STREAM && streq(suffix, "timeout")) {
			*ret_mod = MOD_STREAM;
			*ret_set = SET_READ;
			return true;
		}
		for (int s = 0; s < SET_N; s++) {
			if (mod == MOD_STREAM && (s == SET_READ || s == SET_SEND))
				continue;
			if (streq(suffix, set_info[s].suffix)) {
				*ret_mod = (enum mod)mod;
				*ret_set = (enum set)s;
				return true;
			}
		}
		return false;
	}
	return false;
}

static int check_setting(struct ngxbuild *b, const struct cf_node *n, enum kind kind)
{
	uint64_t v64;
	unsigned u;
	bool f;
	int r = ngxbuild_args(b, n, 2, kind == K_LIST ? 64 : 2);
	if (r < 0)
		return r;
	switch (kind) {
	case K_TIME:
		r = ngxvalue_time_ms(n->argv[1], &v64);
		break;
	case K_UINT:
		r = parse_uint(n->argv[1], NGX_UINT_MAX, &u);
		break;
	case K_SIZE:
		r = ngxvalue_size(n->argv[1], &v64);
		break;
	case K_FLAG:
		return ngxbuild_flag(b, n, &f);
	case K_STR:
	case K_LIST:
		break;
	}
	if (r < 0)
		return ngxbuild_err(b, n, "\"%s\" directive invalid value", n->argv[0]);
	return 0;
}

static bool is_pass(const char *name, bool stream, enum mod *ret)
{
	if (stream) {
		*ret = MOD_STREAM;
		return streq(name, "proxy_pass");
	}
	for (int mod = 0; mod < MOD_STREAM; mod++) {
		if (streq(name, mod_pass[mod])) {
			*ret = (enum mod)mod;
			return true;
		}
	}
	return false;
}

static bool isalnum_or_us(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* In "http://backend$request_uri" the variable can only be the URI: these
 * variables start with '/' or '?' (or are empty). */
static const char *uri_var(const char *s)
{
	static const char *const vars[] = {"$request_uri",   "$uri",   "$document_uri",	 "$is_args",
					   "${request_uri}", "${uri}", "${document_uri}"};
	const char *v = strchr(s, '$');
	if (!v || v == s)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
		size_t n = strlen(vars[i]);
		if (strncmp(v, vars[i], n) == 0 && !isalnum_or_us(v[n]))
			return v;
	}
	return NULL;
}

/* Split a *_pass argument into scheme, host, port and URI the way
 * ngx_parse_url() does; a host part holding variables stays NULL. */
static int split_pass(struct ngxbuild *b, const struct cf_node *n, enum mod mod, struct ngx_pass *p)
{
	static const struct {
		enum mod mod;
		const char *prefix, *scheme;
		enum ngx_proto proto;
	} schemes[] = {
	    {MOD_PROXY, "http://", "http", NGX_PROTO_HTTP},
	    {MOD_PROXY, "https://", "https", NGX_PROTO_HTTPS},
	    {MOD_GRPC, "grpc://", "grpc", NGX_PROTO_GRPC},
	    {MOD_GRPC, "grpcs://", "grpcs", NGX_PROTO_GRPCS},
	    {MOD_UWSGI, "uwsgi://", "uwsgi", NGX_PROTO_UWSGI},
	    {MOD_UWSGI, "suwsgi://", "suwsgi", NGX_PROTO_SUWSGI},
	};
	static const enum ngx_proto protos[MOD_N] = {
	    NGX_PROTO_HTTP, NGX_PROTO_FASTCGI,	 NGX_PROTO_UWSGI, NGX_PROTO_SCGI,
	    NGX_PROTO_GRPC, NGX_PROTO_MEMCACHED, NGX_PROTO_TCP,
	};
	const char *s = p->raw;
	bool uri_part = mod == MOD_PROXY;

	p->proto = protos[mod];
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
		size_t len = strlen(schemes[i].prefix);
		if (schemes[i].mod == mod && strncasecmp(s, schemes[i].prefix, len) == 0) {
			p->scheme = schemes[i].scheme;
			p->proto = schemes[i].proto;
			s += len;
			break;
		}
	}
	if (mod == MOD_PROXY && !p->scheme && !p->dynamic)
		return ngxbuild_err(b, n, "invalid URL prefix in \"%s\"", p->raw);

	const char *host = s, *end, *uri = NULL;
	size_t hostlen;
	unsigned port = 0;
	int r = 0;
	size_t slen = strlen(s);
	if (slen >= 5 && strncasecmp(s, "unix:", 5) == 0) {
		/* "unix:/path:/uri": the path ends at the first ':' */
		end = uri_part ? memchr(s + 5, ':', slen - 5) : NULL;
		hostlen = end ? (size_t)(end - s) : slen;
		uri = end ? end + 1 : NULL;
		end = s + hostlen;
	} else {
		end = s + slen;
		if (uri_part) {
			const char *slash = strchr(s, '/'), *q = strchr(s, '?'), *v = uri_var(s);
			if (q && (!slash || q < slash))
				slash = q;
			if (v && (!slash || v < slash))
				slash = v;
			if (slash)
				end = uri = slash;
		}
		const char *colon;
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(end - s));
			colon = close && close + 1 < end && close[1] == ':' ? close + 1 : NULL;
			if (close && close + 1 < end && !colon)
				r = -EINVAL;
		} else {
			colon = memchr(s, ':', (size_t)(end - s));
		}
		hostlen = colon ? (size_t)(colon - s) : (size_t)(end - s);
		if (colon && !memchr(colon, '$', (size_t)(end - colon)) &&
		    peerkey_parse_port(colon + 1, (size_t)(end - colon - 1), &port) < 0)
			r = -EINVAL;
		if (hostlen == 0)
			r = -EINVAL;
	}
	bool host_vars = memchr(host, '$', (size_t)(end - host)) != NULL;
	if (host_vars || (p->dynamic && r < 0))
		return 0;
	if (r < 0) {
		char *addr = xstrndup(host, (size_t)(end - host));
		r = ngxbuild_err(b, n, "%s in upstream \"%s\"", ngxvalue_addr_error(addr), addr);
		free(addr);
		return r;
	}
	if (uri && !uri_part)
		return ngxbuild_err(b, n, "invalid host in \"%s\"", p->raw);
	p->host = ngxbuild_str_n(b, host, hostlen);
	p->port = port;
	if (uri && *uri)
		p->uri = ngxbuild_str(b, uri);
	return 0;
}

/* $proxy_host and $proxy_port of ngx_http_proxy_set_vars(). */
static void proxy_host_port(const struct ngx_pass *p, char *host, size_t hostlen, char *port,
			    size_t portlen)
{
	unsigned def = p->proto == NGX_PROTO_HTTPS ? 443 : 80;
	if (startswith(p->host, "unix:")) {
		snprintf(host, hostlen, "localhost");
		port[0] = '\0';
	} else if (!p->port || p->port == def) {
		snprintf(host, hostlen, "%s", p->host);
		snprintf(port, portlen, "%u", def);
	} else {
		snprintf(host, hostlen, "%s:%u", p->host, p->port);
		snprintf(port, portlen, "%u", p->port);
	}
}

/* The Host header: proxy_set_header Host with $proxy_host/$proxy_port
 * expanded, or nginx's default "$proxy_host". NULL when it depends on the
 * request or is not sent. */
static const char *host_header(struct ngxbuild *b, const struct scope *sc, const struct ngx_pass *p)
{
	enum { HOST_HEADER_MAX = 1024 }; /* longer: nothing a probe should send */
	char host[320], port[8];
	if (!p->host)
		return NULL;
	proxy_host_port(p, host, sizeof(host), port, sizeof(port));
	if (!sc->host_header)
		return ngxbuild_str(b, host);
	const char *v = sc->host_header->argv[2];
	struct strbuf out = STRBUF_INIT;
	while (*v) {
		const char *val = NULL;
		size_t skip = 0;
		if (*v != '$') {
			strbuf_putc(&out, *v++);
			continue;
		}
		if (startswith(v, "${proxy_host}"))
			val = host, skip = 13;
		else if (startswith(v, "${proxy_port}"))
			val = port, skip = 13;
		else if (startswith(v, "$proxy_host") && !isalnum_or_us(v[11]))
			val = host, skip = 11;
		else if (startswith(v, "$proxy_port") && !isalnum_or_us(v[11]))
			val = port, skip = 11;
		else
			break; /* a variable of the request: not knowable */
		strbuf_puts(&out, val);
		v += skip;
	}
	/* an empty value removes the header */
	const char *r =
	    !*v && out.len > 0 && out.len < HOST_HEADER_MAX ? ngxbuild_str(b, out.p) : NULL;
	strbuf_done(&out);
	return r;
}

static void fill_settings(struct ngxbuild *b, const struct scope *sc, enum mod mod,
			  struct ngx_pass *p)
{
	const struct cf_node *const *set = sc->set[mod];
	struct ngx_timeouts tmo = {0}, *t = &tmo;
	uint64_t dflt = 60000;
	bool flag;

	t->connect_ms = t->read_ms = t->send_ms = dflt;
	if (set[SET_CONNECT]) {
		ngxvalue_time_ms(set[SET_CONNECT]->argv[1], &t->connect_ms);
		t->connect_ref = ngxbuild_ref(b, set[SET_CONNECT]);
	}
	if (mod == MOD_STREAM)
		t->read_ms = t->send_ms = 600000; /* proxy_timeout 10m */
	if (set[SET_READ]) {
		ngxvalue_time_ms(set[SET_READ]->argv[1], &t->read_ms);
		t->read_ref = ngxbuild_ref(b, set[SET_READ]);
		if (mod == MOD_STREAM) {
			t->send_ms = t->read_ms;
			t->send_ref = t->read_ref;
		}
	}
	if (set[SET_SEND]) {
		ngxvalue_time_ms(set[SET_SEND]->argv[1], &t->send_ms);
		t->send_ref = ngxbuild_ref(b, set[SET_SEND]);
	}
	if (set[SET_NEXT]) {
		char *next = join_args(set[SET_NEXT], 1);
		t->next_upstream = ngxbuild_str(b, next);
		free(next);
	} else {
		t->next_upstream = mod == MOD_STREAM ? "on" : "error timeout";
	}
	if (set[SET_TRIES])
		parse_uint(set[SET_TRIES]->argv[1], NGX_UINT_MAX, &t->next_upstream_tries);
	if (set[SET_NEXT_TIMEOUT])
		ngxvalue_time_ms(set[SET_NEXT_TIMEOUT]->argv[1], &t->next_upstream_timeout_ms);
	t->buffer_size = mod == MOD_STREAM ? 16384 : 4096;
	if (set[SET_BUFFER]) {
		ngxvalue_size(set[SET_BUFFER]->argv[1], &t->buffer_size);
		t->buffer_size_ref = ngxbuild_ref(b, set[SET_BUFFER]);
	}
	if (set[SET_SSL_VERIFY] && ngxbuild_flag(b, set[SET_SSL_VERIFY], &flag) == 0)
		t->ssl_verify = flag;
	if (set[SET_SSL_SERVER_NAME] && ngxbuild_flag(b, set[SET_SSL_SERVER_NAME], &flag) == 0)
		t->ssl_server_name = flag;
	if (set[SET_SSL_TRUSTED])
		t->ssl_trusted_certificate = ngxbuild_str(b, set[SET_SSL_TRUSTED]->argv[1]);
	/* default proxy_ssl_name: the pass's host without its port */
	if (set[SET_SSL_NAME])
		p->ssl_name = ngxbuild_str(b, set[SET_SSL_NAME]->argv[1]);
	else if (p->host && !startswith(p->host, "unix:"))
		p->ssl_name = p->host;
	if (sc->resolver) {
		for (unsigned i = 1; i < sc->resolver->argc; i++) {
			if (!strchr(sc->resolver->argv[i], '=')) {
				t->resolver = ngxbuild_str(b, sc->resolver->argv[i]);
				break;
			}
		}
		t->resolver_ref = ngxbuild_ref(b, sc->resolver);
	}
	p->t = ngxbuild_timeouts(b, t);
}

static int add_pass(struct ngxbuild *b, const struct cf_node *n, const struct scope *sc,
		    enum mod mod)
{
	int r = ngxbuild_args(b, n, 2, 2);
	if (r < 0)
		return r;
	struct ngx_pass p = {
	    .directive = ngxbuild_str(b, n->argv[0]),
	    .raw = ngxbuild_str(b, n->argv[1]),
	    .stream = sc->stream,
	    .dynamic = strchr(n->argv[1], '$') != NULL,
	    .location = ngxbuild_str(b, sc->location),
	    .server_name = ngxbuild_str(b, sc->server_name),
	    .ref = ngxbuild_ref(b, n),
	};
	r = split_pass(b, n, mod, &p);
	if (sc->stream && sc->udp)
		p.proto = NGX_PROTO_UDP;
	p.tls = p.proto == NGX_PROTO_HTTPS || p.proto == NGX_PROTO_GRPCS ||
		p.proto == NGX_PROTO_SUWSGI || (p.proto == NGX_PROTO_TCP && sc->proxy_ssl);
	struct ngx_model *m = b->m;
	m->passes = grow_array(m->passes, &b->passes_cap, m->npasses + 1, sizeof(*m->passes));
	m->passes[m->npasses++] = p; /* freed with the model even on error */
	if (r < 0)
		return r;
	struct ngx_pass *pp = &m->passes[m->npasses - 1];
	fill_settings(b, sc, mod, pp);
	if (mod == MOD_PROXY)
		pp->host_header = host_header(b, sc, pp);
	return 0;
}

static char *location_name(const struct cf_node *n)
{
	return join_args(n, 1);
}

/* The scope's own settings, on top of its parent's. */
static int scope_settings(struct ngxbuild *b, const struct cf_node *block, struct scope *sc)
{
	bool headers = false;
	const struct cf_node *host = NULL;
	for (const struct cf_node *n = block->children; n; n = n->next) {
		const char *name = n->argv[0];
		enum mod mod;
		enum set set;
		int r = 0;
		if (n->block)
			continue;
		if (streq(name, "error_log")) {
			r = ngxbuild_error_log(b, n);
		} else if (streq(name, "resolver")) {
			r = ngxbuild_args(b, n, 2, 64);
			sc->resolver = n;
		} else if (!sc->stream && streq(name, "proxy_set_header")) {
			r = ngxbuild_args(b, n, 3, 3);
			headers = true;
			if (!host && r == 0 && strcasecmp(n->argv[1], "Host") == 0)
				host = n;
		} else if (sc->stream && sc->in_server && streq(name, "listen")) {
			for (unsigned i = 2; i < n->argc; i++)
				sc->udp |= streq(n->argv[i], "udp");
		} else if (sc->stream && streq(name, "proxy_ssl")) {
			r = ngxbuild_flag(b, n, &sc->proxy_ssl);
		} else if (streq(name, "server_name") && sc->in_server && n->argc > 1) {
			sc->server_name = n->argv[1];
		} else if (!sc->stream && streq(name, "stub_status")) {
			struct ngx_model *m = b->m;
			m->stub_status = grow_array(m->stub_status, &b->stub_cap,
						    m->nstub_status + 1, sizeof(*m->stub_status));
			m->stub_status[m->nstub_status++] = ngxbuild_ref(b, n);
		} else if (match_setting(name, sc->stream, &mod, &set)) {
			r = check_setting(b, n, set_info[set].kind);
			sc->set[mod][set] = n;
		}
		if (r < 0)
			return r;
	}
	/* proxy_set_header is inherited only by scopes that set none */
	if (headers)
		sc->host_header = host;
	return 0;
}

static int walk_scope(struct ngxbuild *b, const struct cf_node *block, const struct scope *parent,
		      unsigned depth)
{
	struct scope sc = *parent;
	int r = scope_settings(b, block, &sc);
	if (r < 0)
		return r;
	for (const struct cf_node *n = block->children; n && r >= 0; n = n->next) {
		const char *name = n->argv[0];
		enum mod mod;
		if (!n->block) {
			if (is_pass(name, sc.stream, &mod) && (sc.in_server || depth > 0))
				r = add_pass(b, n, &sc, mod);
			continue;
		}
		struct scope child = sc;
		if (streq(name, "server") && depth == 0) {
			child.in_server = true;
			child.server_name = NULL;
			child.location = "";
			r = walk_scope(b, n, &child, depth + 1);
		} else if (!sc.stream && depth > 0 && streq(name, "location")) {
			char *loc = location_name(n);
			child.location = loc;
			r = walk_scope(b, n, &child, depth + 1);
			free(loc);
		} else if (!sc.stream && depth > 0 &&
			   (streq(name, "if") || streq(name, "limit_except"))) {
			r = walk_scope(b, n, &child, depth + 1);
		}
	}
	return r;
}

int ngxpass_walk(struct ngxbuild *b, const struct cf_node *block, bool stream)
{
	struct scope top = {.stream = stream, .location = ""};
	return walk_scope(b, block, &top, 0);
}
