/* ngxpeer: peers of the nginx configuration model (see ngxpeer.h).
 *
 * Owns m->peers and m->peer_index. ngxpeer_build() runs once the whole
 * configuration is read: first every upstream block's servers become peers,
 * then each *_pass is resolved like ngx_http_upstream_add() does (a host
 * equal to a block name, case-insensitively and without a port, is the
 * block; anything else is an implicit upstream of its own address) and
 * reaches the peers it names. A peer's protocol is that of the first pass
 * reaching it; peers of a block no pass uses count as http (stream: tcp). */
#include "nginx/ngxpeer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nginx/ngxconf.h"
#include "core/strmap.h"
#include "core/util.h"

struct peers {
	struct ngx_model *m;
	size_t cap;
	bool *from_pass; /* protocol set by a pass, per peer */
	size_t from_cap;
	char *err;
	size_t errlen;
};

static int perr(struct peers *ps, const struct ngx_ref *ref, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(struct peers *ps, const struct ngx_ref *ref, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%u: %s", ref->file ? ref->file : "?", ref->line, msg);
	return -EINVAL;
}

static struct ngx_peer *get_peer(struct peers *ps, const struct peerkey *k, enum ngx_proto proto)
{
	struct ngx_model *m = ps->m;
	size_t i;
	if (strmap_get_index(m->peer_index, k->key, &i))
		return &m->peers[i];
	m->peers = grow_array(m->peers, &ps->cap, m->npeers + 1, sizeof(*m->peers));
	ps->from_pass = grow_array(ps->from_pass, &ps->from_cap, m->npeers + 1, sizeof(bool));
	ps->from_pass[m->npeers] = false;
	struct ngx_peer *p = &m->peers[m->npeers];
	*p = (struct ngx_peer){.addr = *k, .proto = proto};
	p->key = xstrdup(k->key);
	strmap_put_index(m->peer_index, p->key, m->npeers); /* p->key stays put when peers moves */
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
	p->upstreams[p->nupstreams++] = xstrdup(name);
}

static void add_pass(struct peers *ps, struct ngx_peer *p, size_t pass)
{
	const struct ngx_pass *ps_pass = &ps->m->passes[pass];
	size_t idx = (size_t)(p - ps->m->peers);
	if (!ps->from_pass[idx]) {
		p->proto = ps_pass->proto;
		ps->from_pass[idx] = true;
	}
	if (p->npasses > 0 && p->passes[p->npasses - 1] == pass)
		return;
	p->passes = xreallocarray(p->passes, p->npasses + 1, sizeof(size_t));
	p->passes[p->npasses++] = pass;
}

static int block_peers(struct peers *ps)
{
	struct ngx_model *m = ps->m;
	for (size_t i = 0; i < m->nupstreams; i++) {
		const struct ngx_upstream *u = &m->upstreams[i];
		for (size_t j = 0; j < u->nservers; j++) {
			struct peerkey k;
			/* the key is already normalised: this cannot fail */
			if (peerkey_parse(u->servers[j].key, strlen(u->servers[j].key), 0, &k) < 0)
				continue;
			enum ngx_proto proto = u->stream ? NGX_PROTO_TCP : NGX_PROTO_HTTP;
			struct ngx_peer *p = get_peer(ps, &k, proto);
			add_upstream_name(p, u->name);
			add_ref(p, u->servers[j].ref);
		}
	}
	return 0;
}

const char *ngxpeer_addr_error(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	if (startswith(addr, "unix:") || !colon || colon[1] == '\0' ||
	    (addr[0] == '[' && !strchr(addr, ']')))
		return "invalid host";
	for (const char *c = colon + 1; *c; c++)
		if (*c < '0' || *c > '9')
			return "invalid host";
	return "invalid port";
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
		const struct ngx_upstream *u = &m->upstreams[ui];
		if (!p->port) {
			p->upstream = xstrdup(u->name);
			for (size_t j = 0; j < u->nservers; j++) {
				size_t pi;
				if (strmap_get_index(m->peer_index, u->servers[j].key, &pi))
					add_pass(ps, &m->peers[pi], i);
			}
			return 0;
		}
		/* at run time a port never matches a block: an implicit upstream */
		if (!p->dynamic)
			return perr(ps, &p->ref, "upstream \"%s\" may not have port %u", p->host,
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
			return perr(ps, &p->ref, "no port in upstream \"%s\"", p->host);
		return perr(ps, &p->ref, "%s in upstream \"%s\"", ngxpeer_addr_error(addr), addr);
	}
	p->key = xstrdup(k.key);
	struct ngx_peer *peer = get_peer(ps, &k, p->proto);
	add_ref(peer, p->ref);
	add_pass(ps, peer, i);
	return 0;
}

int ngxpeer_build(struct ngx_model *m, char *err, size_t errlen)
{
	struct peers ps = {.m = m, .err = err, .errlen = errlen};
	struct strmap blocks[2]; /* http, stream: names compared case-insensitively */
	int r = 0;

	m->peer_index = xcalloc(1, sizeof(*m->peer_index));
	strmap_init(m->peer_index);
	strmap_init_nocase(&blocks[0]);
	strmap_init_nocase(&blocks[1]);
	for (size_t i = 0; i < m->nupstreams && r >= 0; i++) {
		const struct ngx_upstream *u = &m->upstreams[i];
		if (strmap_put_index(&blocks[u->stream], u->name, i) != i)
			r = perr(&ps, &u->ref, "duplicate upstream \"%s\"", u->name);
	}
	if (r >= 0)
		r = block_peers(&ps);
	for (size_t i = 0; i < m->npasses && r >= 0; i++)
		r = resolve_pass(&ps, &blocks[m->passes[i].stream], i);
	strmap_done(&blocks[0]);
	strmap_done(&blocks[1]);
	free(ps.from_pass);
	return r;
}

void ngxpeer_free(struct ngx_model *m)
{
	for (size_t i = 0; i < m->npeers; i++) {
		struct ngx_peer *p = &m->peers[i];
		free(p->key);
		for (size_t j = 0; j < p->nupstreams; j++)
			free(p->upstreams[j]);
		free(p->upstreams);
		free(p->refs);
		free(p->passes);
	}
	free(m->peers);
	if (m->peer_index)
		strmap_done(m->peer_index);
	free(m->peer_index);
}

const struct ngx_peer *ngxpeer_find(const struct ngx_model *m, const char *key)
{
	size_t i;
	if (!m->peer_index || !strmap_get_index(m->peer_index, key, &i))
		return NULL;
	return &m->peers[i];
}

/* --- presentation --- */

static void print_ref(FILE *out, const struct ngx_ref *r)
{
	if (r->file)
		fprintf(out, "%s:%u", r->file, r->line);
	else
		fputs("nginx's compiled-in default", out);
}

static const char *log_target_name(enum ngx_log_target t)
{
	switch (t) {
	case NGX_LOG_FILE:
		return "file";
	case NGX_LOG_STDERR:
		return "stderr";
	case NGX_LOG_SYSLOG:
		return "syslog";
	case NGX_LOG_MEMORY:
		return "memory";
	}
	return "?";
}

int ngxpeer_print(const struct ngx_model *m, FILE *out)
{
	size_t ndynamic = 0;
	for (size_t i = 0; i < m->npasses; i++)
		ndynamic += m->passes[i].dynamic && !m->passes[i].host;

	fprintf(out,
		"nginx configuration %s: %zu files, %zu upstream blocks, %zu peers, %zu passes\n",
		m->main_file, m->nfiles, m->nupstreams, m->npeers, m->npasses);
	fprintf(out, "worker user %s, group %s (", m->user, m->group);
	print_ref(out, &m->user_ref);
	fprintf(out, ")\n");
	fprintf(out, "worker_processes %s%.0u, worker_connections %u",
		m->worker_processes ? "" : "auto", m->worker_processes, m->worker_connections);
	if (m->worker_rlimit_nofile)
		fprintf(out, ", worker_rlimit_nofile %u", m->worker_rlimit_nofile);
	fputc('\n', out);

	fprintf(out, "\nerror logs:\n");
	for (size_t i = 0; i < m->nerror_logs; i++) {
		const struct ngx_error_log *e = &m->error_logs[i];
		fprintf(out, "  %s (%s, level %s, %s) ", e->path, log_target_name(e->target),
			e->level, e->followable ? "followed" : "not followable");
		print_ref(out, &e->ref);
		fputc('\n', out);
	}

	fprintf(out, "\npeers:\n");
	for (size_t i = 0; i < m->npeers; i++) {
		const struct ngx_peer *p = &m->peers[i];
		fprintf(out, "  %s %s", p->key, ngxconf_proto_name(p->proto));
		if (p->nupstreams) {
			fprintf(out, " upstream");
			for (size_t j = 0; j < p->nupstreams; j++)
				fprintf(out, "%s%s", j ? ", " : " ", p->upstreams[j]);
		}
		fputc('\n', out);
		for (size_t j = 0; j < p->nrefs; j++) {
			fputs("      ", out);
			print_ref(out, &p->refs[j]);
			fputc('\n', out);
		}
		for (size_t j = 0; j < p->npasses; j++) {
			const struct ngx_pass *ps = &m->passes[p->passes[j]];
			if (!ps->upstream)
				continue;
			fprintf(out, "      via %s %s at ", ps->directive, ps->raw);
			print_ref(out, &ps->ref);
			fputc('\n', out);
		}
	}
	if (ndynamic) {
		fprintf(out, "\ndynamic passes (dynamic: learned from logs):\n");
		for (size_t i = 0; i < m->npasses; i++) {
			const struct ngx_pass *ps = &m->passes[i];
			if (!ps->dynamic || ps->host)
				continue;
			fprintf(out, "  %s %s at ", ps->directive, ps->raw);
			print_ref(out, &ps->ref);
			if (ps->t.resolver)
				fprintf(out, " (resolver %s)", ps->t.resolver);
			fputc('\n', out);
		}
	}
	if (m->nstub_status) {
		fprintf(out, "\nstub_status:\n");
		for (size_t i = 0; i < m->nstub_status; i++) {
			fputs("  ", out);
			print_ref(out, &m->stub_status[i]);
			fputc('\n', out);
		}
	}
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}

struct cJSON *ngxpeer_json(const struct ngx_model *m, const struct ngx_peer *p)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "peer", p->key);
	cJSON_AddStringToObject(o, "protocol", ngxconf_proto_name(p->proto));
	cJSON *ups = cJSON_AddArrayToObject(o, "upstreams");
	for (size_t i = 0; i < p->nupstreams; i++)
		cJSON_AddItemToArray(ups, cJSON_CreateString(p->upstreams[i]));
	cJSON *locs = cJSON_AddArrayToObject(o, "locations");
	for (size_t i = 0; i < p->npasses; i++) {
		const struct ngx_ref *r = &m->passes[p->passes[i]].ref;
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = same_ref(&m->passes[p->passes[j]].ref, r);
		if (dup)
			continue;
		char buf[4200];
		snprintf(buf, sizeof(buf), "%s:%u", r->file, r->line);
		cJSON_AddItemToArray(locs, cJSON_CreateString(buf));
	}
	return o;
}
