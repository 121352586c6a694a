/* ngxpeer: peers of the nginx configuration model (see ngxpeer.h).
 *
 * Owns m->peers and m->index. ngxpeer_build() runs once the whole
 * configuration is read: first every upstream block's servers become peers,
 * then each *_pass is resolved like ngx_http_upstream_add() does (a host
 * equal to a block name, case-insensitively and without a port, is the
 * block; anything else is an implicit upstream of its own address) and
 * reaches the peers it names. A peer's protocol is that of the first pass
 * reaching it; peers of a block no pass names take that of the first pass
 * whose address is a variable, else http (stream: tcp).
 * Then each peer's probed and backup flags from every line naming it. */
#include "nginx/ngxpeer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"
#include "core/util.h"
#include "nginx/ngxbuild.h"
#include "nginx/ngxvalue.h"

struct peers {
	struct ngxbuild *b;
	struct ngx_model *m;
	size_t cap;
	struct seen *seen; /* per peer, while building */
	size_t seen_cap;
};

/* What the lines naming a peer say, gathered before its flags are set. */
struct seen {
	bool from_pass;	  /* protocol set by a pass */
	bool connectable; /* a line nginx connects through */
	bool primary;	  /* a line that is not `backup` */
	bool stream;	  /* its first block is a stream block */
};

static struct ngx_peer *get_peer(struct peers *ps, const struct peerkey *k, enum ngx_proto proto)
{
	struct ngx_model *m = ps->m;
	size_t i;
	if (strmap_get_index(&m->index->peers, k->key, &i))
		return &m->peers[i];
	m->peers = grow_array(m->peers, &ps->cap, m->npeers + 1, sizeof(*m->peers));
	ps->seen = grow_array(ps->seen, &ps->seen_cap, m->npeers + 1, sizeof(*ps->seen));
	ps->seen[m->npeers] = (struct seen){0};
	struct ngx_peer *p = &m->peers[m->npeers];
	/* key and host in one allocation: no per-peer maximum-size buffers */
	size_t klen = strlen(k->key), hlen = strlen(k->host);
	char *key = xmalloc(klen + hlen + 2);
	memcpy(key, k->key, klen + 1);
	*p = (struct ngx_peer){.key = key,
			       .host = memcpy(key + klen + 1, k->host, hlen + 1),
			       .port = k->port,
			       .kind = k->kind,
			       .proto = proto};
	strmap_put_index(&m->index->peers, p->key, m->npeers);
	if (p->kind == PEERKEY_HOST)
		strmap_put_index(&m->index->hosts, p->host, m->npeers); /* the first one stays */
	m->npeers++;
	return p;
}

static bool same_ref(const struct ngx_ref *a, const struct ngx_ref *b)
{
	return a->line == b->line && a->file == b->file; /* files are interned */
}

/* A line read twice (a snippet included in two locations) is one ref. */
static void add_ref(struct ngx_peer *p, struct ngx_ref ref)
{
	for (size_t i = p->nrefs; i-- > 0;)
		if (same_ref(&p->refs[i], &ref))
			return;
	p->refs = xreallocarray(p->refs, p->nrefs + 1, sizeof(*p->refs));
	p->refs[p->nrefs++] = ref;
}

static void add_upstream_name(struct ngx_peer *p, const char *name)
{
	for (size_t i = 0; i < p->nupstreams; i++)
		if (streq(p->upstreams[i], name))
			return;
	p->upstreams = xreallocarray(p->upstreams, p->nupstreams + 1, sizeof(char *));
	p->upstreams[p->nupstreams++] = name;
}

static void add_pass(struct peers *ps, struct ngx_peer *p, size_t pass)
{
	const struct ngx_pass *ps_pass = &ps->m->passes[pass];
	size_t idx = (size_t)(p - ps->m->peers);
	if (!ps->seen[idx].from_pass) {
		p->proto = ps_pass->proto;
		p->tls = ps_pass->tls;
		ps->seen[idx].from_pass = true;
	}
	if (p->npasses > 0 && p->passes[p->npasses - 1] == pass)
		return;
	p->passes = xreallocarray(p->passes, p->npasses + 1, sizeof(size_t));
	p->passes[p->npasses++] = pass;
}

/* "srv:_http._tcp.backend": a host-name peer without a port (the SRV
 * answer gives the ports); its host is the record name. */
static void srv_peerkey(const char *key, struct peerkey *ret)
{
	*ret = (struct peerkey){.kind = PEERKEY_HOST};
	snprintf(ret->key, sizeof(ret->key), "%s", key);
	snprintf(ret->host, sizeof(ret->host), "%s", key + 4);
}

static int block_peers(struct peers *ps)
{
	struct ngx_model *m = ps->m;
	for (size_t i = 0; i < m->nupstreams; i++) {
		const struct ngx_upstream *u = &m->upstreams[i];
		for (size_t j = 0; j < u->nservers; j++) {
			struct peerkey k;
			const struct ngx_server *s = &u->servers[j];
			if (s->service)
				srv_peerkey(s->key, &k);
			/* the key is already normalised: this cannot fail */
			else if (peerkey_parse(s->key, strlen(s->key), 0, &k) < 0)
				continue;
			enum ngx_proto proto = u->stream ? NGX_PROTO_TCP : NGX_PROTO_HTTP;
			struct ngx_peer *p = get_peer(ps, &k, proto);
			struct seen *seen = &ps->seen[p - m->peers];
			if (p->nupstreams == 0)
				seen->stream = u->stream;
			seen->connectable |= !s->down && !s->service && !u->balancer_lua;
			seen->primary |= !s->backup;
			add_upstream_name(p, u->name);
			add_ref(p, s->ref);
		}
	}
	return 0;
}

/* One pass: its upstream block, or its own address. */
static int resolve_pass(struct peers *ps, struct strmap *blocks, size_t i)
{
	struct ngx_model *m = ps->m;
	struct ngx_pass *p = &m->passes[i];
	size_t ui;

	if (!p->host)
		return 0; /* the address holds variables: known from logs only */
	if (!startswith(p->host, "unix:") && strmap_get_index(blocks, p->host, &ui)) {
		struct ngx_upstream *u = &m->upstreams[ui];
		if (!p->port) {
			p->upstream = u->name;
			u->passes = xreallocarray(u->passes, u->npasses + 1, sizeof(size_t));
			u->passes[u->npasses++] = i;
			for (size_t j = 0; j < u->nservers; j++) {
				size_t pi;
				if (strmap_get_index(&m->index->peers, u->servers[j].key, &pi))
					add_pass(ps, &m->peers[pi], i);
			}
			return 0;
		}
		/* at run time a port never matches a block: an implicit upstream */
		if (!p->dynamic)
			return ngxbuild_err_at(ps->b, &p->ref,
					       "upstream \"%s\" may not have port %u", p->host,
					       p->port);
	}

	/* proxy_pass has its scheme's port; every other *_pass needs one */
	unsigned dflt = 0;
	if (!p->stream && streq(p->directive, "proxy_pass"))
		dflt = p->proto == NGX_PROTO_HTTPS ? 443 : 80;
	char addr[PEERKEY_MAX + 16];
	if (p->port)
		snprintf(addr, sizeof(addr), "%s:%u", p->host, p->port);
	else
		snprintf(addr, sizeof(addr), "%s", p->host);
	struct peerkey k;
	if (peerkey_parse(addr, strlen(addr), dflt, &k) < 0) {
		if (p->dynamic)
			return 0;
		bool unix_path = startswith(addr, "unix:");
		if (!p->port && !unix_path && peerkey_parse(addr, strlen(addr), 1, &k) == 0)
			return ngxbuild_err_at(ps->b, &p->ref, "no port in upstream \"%s\"",
					       p->host);
		return ngxbuild_err_at(ps->b, &p->ref, "%s in upstream \"%s\"",
				       ngxvalue_addr_error(addr), addr);
	}
	struct ngx_peer *peer = get_peer(ps, &k, p->proto);
	p->key = peer->key;
	ps->seen[peer - m->peers].connectable = true;
	ps->seen[peer - m->peers].primary = true;
	add_ref(peer, p->ref);
	add_pass(ps, peer, i);
	return 0;
}

static bool is_dynamic(const struct ngx_pass *p)
{
	return p->dynamic && !p->key && !p->upstream;
}

static struct ngxpeer_passes *passes_new(size_t cap)
{
	struct ngxpeer_passes *l = xmalloc(sizeof(*l) + cap * sizeof(size_t));
	l->n = 0;
	return l;
}

/* The dynamic passes by server_name, each list merged in model order with
 * the passes of servers without a name (which any line may come from). */
static void index_dynamic(struct ngx_model *m)
{
	struct ngxpeer_index *ix = m->index;
	size_t ndyn = 0, nameless = 0;
	for (size_t i = 0; i < m->npasses; i++) {
		const struct ngx_pass *p = &m->passes[i];
		if (!is_dynamic(p))
			continue;
		ndyn++;
		if (!p->server_name) {
			nameless++;
			continue;
		}
		/* count per name first: the value is the count until lists exist */
		uintptr_t c = (uintptr_t)strmap_get(&ix->dynamic, p->server_name);
		strmap_put(&ix->dynamic, p->server_name, (void *)(c + 1));
	}
	ix->all_dynamic = passes_new(ndyn);
	ix->nameless_dynamic = passes_new(nameless);
	const char *name;
	void *v;
	for (size_t it = 0; strmap_next(&ix->dynamic, &it, &name, &v);)
		strmap_put(&ix->dynamic, name, passes_new((uintptr_t)v + nameless));
	for (size_t i = 0; i < m->npasses; i++) {
		const struct ngx_pass *p = &m->passes[i];
		if (!is_dynamic(p))
			continue;
		ix->all_dynamic->v[ix->all_dynamic->n++] = i;
		if (p->server_name) {
			struct ngxpeer_passes *l = strmap_get(&ix->dynamic, p->server_name);
			l->v[l->n++] = i;
		} else {
			ix->nameless_dynamic->v[ix->nameless_dynamic->n++] = i;
		}
	}
	/* merge the nameless ones into every named list, keeping model order */
	if (nameless == 0)
		return;
	size_t *tmp = xcalloc(ndyn, sizeof(size_t));
	const struct ngxpeer_passes *nl = ix->nameless_dynamic;
	for (size_t it = 0; strmap_next(&ix->dynamic, &it, &name, &v);) {
		struct ngxpeer_passes *l = v;
		size_t a = 0, b = 0, n = 0;
		while (a < l->n || b < nl->n)
			tmp[n++] =
			    b == nl->n || (a < l->n && l->v[a] < nl->v[b]) ? l->v[a++] : nl->v[b++];
		memcpy(l->v, tmp, n * sizeof(size_t));
		l->n = n;
	}
	free(tmp);
}

/* A block no literal pass names may still be reached by a pass whose
 * address is a variable ("fastcgi_pass $arg_b": nginx looks the value up
 * among the block names at run time); the first such pass of the same kind
 * (http or stream) gives the block's peers their protocol. */
static void variable_pass_proto(const struct ngx_model *m, bool stream, struct ngx_peer *p)
{
	for (size_t i = 0; i < m->npasses; i++) {
		const struct ngx_pass *pass = &m->passes[i];
		if (pass->host || pass->stream != stream)
			continue;
		p->proto = pass->proto;
		p->tls = pass->tls;
		return;
	}
}

int ngxpeer_build(struct ngxbuild *b)
{
	struct ngx_model *m = b->m;
	struct peers ps = {.b = b, .m = m};
	int r = 0;

	struct ngxpeer_index *ix = m->index = xcalloc(1, sizeof(*m->index));
	strmap_init(&ix->peers);
	strmap_init_nocase(&ix->blocks[0]);
	strmap_init_nocase(&ix->blocks[1]);
	strmap_init_nocase(&ix->hosts);
	strmap_init(&ix->dynamic);
	struct strmap *blocks = ix->blocks; /* names compared case-insensitively */
	for (size_t i = 0; i < m->nupstreams && r >= 0; i++) {
		const struct ngx_upstream *u = &m->upstreams[i];
		if (strmap_put_index(&blocks[u->stream], u->name, i) != i)
			r = ngxbuild_err_at(b, &u->ref, "duplicate upstream \"%s\"", u->name);
	}
	if (r >= 0)
		r = block_peers(&ps);
	for (size_t i = 0; i < m->npasses && r >= 0; i++)
		r = resolve_pass(&ps, &blocks[m->passes[i].stream], i);
	for (size_t i = 0; i < m->npeers && r >= 0; i++) {
		struct ngx_peer *p = &m->peers[i];
		if (!ps.seen[i].from_pass)
			variable_pass_proto(m, ps.seen[i].stream, p);
		p->probed = ps.seen[i].connectable && p->proto != NGX_PROTO_UDP;
		p->backup = !ps.seen[i].primary;
	}
	if (r >= 0) {
		index_dynamic(m);
		m->peers = ngxbuild_fit(m->peers, m->npeers, sizeof(*m->peers));
	}
	free(ps.seen);
	return r;
}

void ngxpeer_free(struct ngx_model *m)
{
	for (size_t i = 0; i < m->npeers; i++) {
		struct ngx_peer *p = &m->peers[i];
		free(p->key);
		free(p->upstreams);
		free(p->refs);
		free(p->passes);
	}
	free(m->peers);
	struct ngxpeer_index *ix = m->index;
	if (!ix)
		return;
	strmap_done(&ix->peers);
	strmap_done(&ix->blocks[0]);
	strmap_done(&ix->blocks[1]);
	strmap_done(&ix->hosts);
	const char *name;
	void *v;
	for (size_t it = 0; strmap_next(&ix->dynamic, &it, &name, &v);)
		free(v);
	strmap_done(&ix->dynamic);
	free(ix->all_dynamic);
	free(ix->nameless_dynamic);
	free(ix);
}
