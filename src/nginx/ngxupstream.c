/* ngxupstream: upstream blocks and servers (see ngxupstream.h). */
#include "nginx/ngxupstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conftree.h"
#include "core/peerkey.h"
#include "core/util.h"
#include "nginx/ngxbuild.h"
#include "nginx/ngxvalue.h"

/* A service= server names no address nginx connects to: nginx asks the
 * resolver for the SRV records of "_NAME._tcp.HOST" (or "NAME.HOST" when
 * NAME holds a dot, as in service=_http._tcp) and takes hosts and ports
 * from the answer. Its key is "srv:" and that record name, never HOST:80. */
static int srv_key(struct ngxbuild *b, const struct cf_node *n, struct ngx_server *s,
		   const struct peerkey *k)
{
	if (k->kind != PEERKEY_HOST || strchr(s->addr, ':'))
		return ngxbuild_err(b, n, "service upstream \"%s\" may not have port", s->addr);
	char key[PEERKEY_MAX];
	int len = strchr(s->service, '.')
		      ? snprintf(key, sizeof(key), "srv:%s.%s", s->service, k->host)
		      : snprintf(key, sizeof(key), "srv:_%s._tcp.%s", s->service, k->host);
	if (len < 0 || (size_t)len >= sizeof(key))
		return ngxbuild_err(b, n, "invalid service \"%s\"", s->service);
	for (char *c = key; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	s->key = ngxbuild_str(b, key);
	return 0;
}

static int parse_server(struct ngxbuild *b, const struct cf_node *n, bool stream,
			struct ngx_server *s)
{
	int r = ngxbuild_args(b, n, 2, 64);
	if (r < 0)
		return r;
	*s = (struct ngx_server){
	    .weight = 1, .max_fails = 1, .fail_timeout_ms = 10000, .ref = ngxbuild_ref(b, n)};
	for (unsigned i = 2; i < n->argc; i++) {
		const char *a = n->argv[i];
		const char *v = strchr(a, '=');
		size_t klen = v ? (size_t)(v - a) : strlen(a);
		v = v ? v + 1 : NULL;
		r = 0;
		if (v && klen == 6 && startswith(a, "weight"))
			r = parse_uint(v, NGX_UINT_MAX, &s->weight) < 0 || s->weight == 0 ? -EINVAL
											  : 0;
		else if (v && klen == 9 && startswith(a, "max_fails"))
			r = parse_uint(v, NGX_UINT_MAX, &s->max_fails);
		else if (v && klen == 9 && startswith(a, "max_conns"))
			r = parse_uint(v, NGX_UINT_MAX, &s->max_conns);
		else if (v && klen == 12 && startswith(a, "fail_timeout"))
			r = ngxvalue_time_ms(v, &s->fail_timeout_ms);
		else if (v && klen == 10 && startswith(a, "slow_start"))
			r = ngxvalue_time_ms(v, &s->slow_start_ms);
		else if (v && klen == 7 && startswith(a, "service") && *v && !s->service)
			s->service = ngxbuild_str(b, v);
		else if (!v && streq(a, "backup"))
			s->backup = true;
		else if (!v && streq(a, "down"))
			s->down = true;
		else if (!v && streq(a, "resolve"))
			s->resolve = true;
		else
			r = -EINVAL;
		if (r < 0)
			return ngxbuild_err(b, n, "invalid parameter \"%s\"", a);
	}

	/* http upstream servers default to port 80 whatever the *_pass using
	 * them (ngx_http_upstream_server()); stream ones need a port. */
	struct peerkey k;
	const char *addr = n->argv[1];
	if (peerkey_parse(addr, strlen(addr), stream ? 0 : 80, &k) < 0) {
		if (stream && peerkey_parse(addr, strlen(addr), 1, &k) == 0)
			return ngxbuild_err(b, n, "no port in upstream \"%s\"", addr);
		return ngxbuild_err(b, n, "%s in upstream \"%s\"", ngxvalue_addr_error(addr), addr);
	}
	s->addr = ngxbuild_str(b, addr);
	s->key = ngxbuild_str(b, k.key);
	if (s->service)
		return srv_key(b, n, s, &k);
	return 0;
}

int ngxupstream_add(struct ngxbuild *b, const struct cf_node *n, bool stream)
{
	if (!n->block || n->argc != 2)
		return ngxbuild_err(b, n, "invalid number of arguments in \"upstream\" directive");
	struct ngx_model *m = b->m;
	m->upstreams =
	    grow_array(m->upstreams, &b->ups_cap, m->nupstreams + 1, sizeof(*m->upstreams));
	struct ngx_upstream *u = &m->upstreams[m->nupstreams++];
	*u = (struct ngx_upstream){
	    .name = ngxbuild_str(b, n->argv[1]), .stream = stream, .ref = ngxbuild_ref(b, n)};
	size_t cap = 0;
	for (const struct cf_node *c = n->children; c; c = c->next) {
		int r = 0;
		if (streq(c->argv[0], "server") && !c->block) {
			u->servers =
			    grow_array(u->servers, &cap, u->nservers + 1, sizeof(*u->servers));
			r = parse_server(b, c, stream, &u->servers[u->nservers]);
			if (r == 0)
				u->nservers++;
		} else if (streq(c->argv[0], "keepalive") && !c->block) {
			r = ngxbuild_uint(b, c, &u->keepalive);
		} else if (startswith(c->argv[0], "balancer_by_lua")) {
			u->balancer_lua = true; /* _block, _file, or the old form */
		}
		if (r < 0)
			return r;
	}
	u->servers = ngxbuild_fit(u->servers, u->nservers, sizeof(*u->servers));
	return 0;
}

void ngxupstream_done(struct ngx_upstream *u)
{
	free(u->servers);
	free(u->passes);
}
