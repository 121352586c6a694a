/* plan: configuration + model -> targets, logs, watches (see plan.h). */
#include "daemon/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "core/util.h"
#include "log/accessstats.h"

void plan_target_defaults(const struct config *c, struct probe_target *t)
{
	t->enabled = c->probe_enabled;
	t->probed = true;
	t->interval_ms = c->probe_interval_ms;
	t->timeout_ms = c->probe_timeout_ms;
	t->retry_ms = c->probe_retry_ms;
	t->retries = c->probe_retries;
	/* no health_uri / expect_*: any HTTP status is a response, as for nginx */
}

/* How the prober checks a peer nginx speaks proto to; false: not probed. */
static bool probe_proto_of(enum ngx_proto proto, enum probe_proto *ret)
{
	switch (proto) {
	case NGX_PROTO_HTTP:
		*ret = PROBE_PROTO_HTTP;
		return true;
	case NGX_PROTO_HTTPS:
		*ret = PROBE_PROTO_HTTPS;
		return true;
	case NGX_PROTO_FASTCGI:
		*ret = PROBE_PROTO_FASTCGI;
		return true;
	case NGX_PROTO_GRPCS:
	case NGX_PROTO_SUWSGI:
		*ret = PROBE_PROTO_TLS;
		return true;
	case NGX_PROTO_UDP:
		*ret = PROBE_PROTO_TCP;
		return false;
	default:
		*ret = PROBE_PROTO_TCP;
		return true;
	}
}

/* nginx's own timeouts for the peer: the smallest connect and read timeouts
 * of the *_pass lines reaching it; the read timeout's file:line into ref. */
static void target_timeouts(const struct ngx_model *m, const struct ngx_peer *p,
			    struct probe_target *t, char *ref, size_t reflen)
{
	for (size_t i = 0; i < p->npasses; i++) {
		const struct ngx_timeouts *to = m->passes[p->passes[i]].t;
		if (to->connect_ms &&
		    (!t->connect_timeout_ms || to->connect_ms < t->connect_timeout_ms))
			t->connect_timeout_ms = to->connect_ms;
		if (to->read_ms && (!t->read_timeout_ms || to->read_ms < t->read_timeout_ms)) {
			t->read_timeout_ms = to->read_ms;
			if (to->read_ref.file) {
				snprintf(ref, reflen, "%s:%u", to->read_ref.file,
					 to->read_ref.line);
				t->read_timeout_ref = ref;
			} else {
				t->read_timeout_ref = NULL;
			}
		}
	}
}

void plan_apply_override(struct probe_target *t, const struct config_override *o)
{
	if (!o)
		return;
	if (o->probe >= 0)
		t->enabled = t->enabled && o->probe;
	if (o->interval_ms)
		t->interval_ms = o->interval_ms;
	if (o->timeout_ms)
		t->timeout_ms = o->timeout_ms;
	if (o->health_uri)
		t->health_uri = o->health_uri;
	if (o->host)
		t->host_header = o->host;
	if (o->expect_lo) {
		t->expect_lo = o->expect_lo;
		t->expect_hi = o->expect_hi;
	}
}

void plan_clamp(struct probe_target *t)
{
	if (t->timeout_ms > t->interval_ms)
		t->timeout_ms = t->interval_ms;
}

/* dir (without trailing slash) contains path: "dir/..." and no ".." step. */
static bool path_below(const char *dir, size_t dlen, const char *path)
{
	return strncmp(path, dir, dlen) == 0 && path[dlen] == '/' && path[dlen + 1] != '\0';
}

static bool unix_path_allowed(const struct ngx_model *m, const char *path)
{
	if (path[0] != '/' || strstr(path, "/../") || strstr(path, "/./") || strstr(path, "//"))
		return false;
	size_t plen = strlen(path);
	if (plen >= 3 && streq(path + plen - 3, "/.."))
		return false;
	if (path_below("/run", 4, path))
		return true;
	for (size_t i = 0; m && i < m->npeers; i++) {
		const char *key = m->peers[i].key;
		if (!startswith(key, "unix:"))
			continue;
		const char *dir = key + 5;
		const char *slash = strrchr(dir, '/');
		size_t dlen = slash ? (size_t)(slash - dir) : 0;
		/* the very directory the configured socket lives in, not below */
		if (dlen > 0 && path_below(dir, dlen, path) && !strchr(path + dlen + 1, '/'))
			return true;
	}
	return false;
}

bool plan_learned_allowed(const struct config *c, const struct ngx_model *m,
			  const struct peerkey *k)
{
	if (k->kind == PEERKEY_UNIX)
		return unix_path_allowed(m, k->host);
	return config_probe_allowed(c, k);
}

void plan_targets(const struct config *c, const struct ngx_model *m, const char *const *learned,
		  size_t nlearned, struct plan_targets *ret)
{
	struct probe_target *t = xcalloc(m->npeers + nlearned + 1, sizeof(*t));
	char(*refs)[PROBE_REF_MAX] = xcalloc(m->npeers + 1, sizeof(*refs));
	size_t n = 0;

	for (size_t i = 0; i < m->npeers; i++) {
		const struct ngx_peer *p = &m->peers[i];
		struct probe_target *pt = &t[n];
		memset(pt, 0, sizeof(*pt));
		snprintf(pt->key, sizeof(pt->key), "%s", p->key);
		ngxconf_peer_addr(p, &pt->addr);
		plan_target_defaults(c, pt);
		pt->probed = probe_proto_of(p->proto, &pt->proto) && p->probed;
		if (p->tls && pt->proto == PROBE_PROTO_TCP)
			pt->proto = PROBE_PROTO_TLS; /* stream proxy_ssl on */
		target_timeouts(m, p, pt, refs[i], sizeof(refs[i]));
		if (p->npasses > 0) {
			const struct ngx_pass *pass = &m->passes[p->passes[0]];
			pt->host_header = pass->host_header;
			pt->tls_verify = pass->t->ssl_verify;
			pt->tls_sni = pass->t->ssl_server_name;
			pt->tls_trusted = pass->t->ssl_trusted_certificate;
			pt->tls_name = pass->ssl_name;
		}
		for (size_t u = 0; u < p->nupstreams; u++)
			plan_apply_override(pt, config_upstream(c, p->upstreams[u]));
		plan_apply_override(pt, config_peer(c, p->key));
		plan_clamp(pt);
		n += pt->enabled;
	}
	for (size_t i = 0; i < nlearned; i++) {
		struct peerkey k;
		if (peerkey_parse(learned[i], strlen(learned[i]), 0, &k) < 0 ||
		    !plan_learned_allowed(c, m, &k))
			continue;
		struct probe_target *pt = &t[n];
		memset(pt, 0, sizeof(*pt));
		snprintf(pt->key, sizeof(pt->key), "%s", k.key);
		pt->addr = k;
		pt->proto = PROBE_PROTO_TCP; /* PLAN_LEARNED_PROTO */
		plan_target_defaults(c, pt);
		plan_apply_override(pt, config_peer(c, k.key));
		plan_clamp(pt);
		n += pt->enabled;
	}
	*ret = (struct plan_targets){.v = t, .n = n, .refs = refs};
}

void plan_targets_done(struct plan_targets *t)
{
	free(t->v);
	free(t->refs);
	*t = (struct plan_targets){0};
}

size_t plan_logs(const struct config *c, const struct ngx_model *m, const struct accessstats *a,
		 const char ***ret)
{
	size_t nerr = m->nerror_logs + c->nerror_logs, nacc = a ? accessstats_nlogs(a) : 0;
	const char **paths = xcalloc(nerr + nacc + 1, sizeof(char *));
	size_t n = 0;
	for (size_t i = 0; i < nerr + nacc; i++) {
		const char *p;
		if (i < m->nerror_logs) {
			if (!m->error_logs[i].followable)
				continue;
			p = m->error_logs[i].path;
		} else if (i < nerr) {
			p = c->error_logs[i - m->nerror_logs];
		} else {
			p = accessstats_log_at(a, i - nerr)->path;
		}
		bool dup = false;
		for (size_t j = 0; j < n && !dup; j++)
			dup = streq(paths[j], p);
		if (!dup)
			paths[n++] = p;
	}
	*ret = paths;
	return n;
}

size_t plan_watch(const struct config *c, const struct ngx_model *m, const char ***ret,
		  size_t *ret_nglobs)
{
	const char **files = xcalloc(m->nfiles + 2, sizeof(char *));
	size_t n = 0;
	if (c->file)
		files[n++] = c->file;
	if (c->nginx_dump && !streq(c->nginx_dump, "-"))
		files[n++] = c->nginx_dump;
	else
		for (size_t i = 0; i < m->nfiles; i++)
			files[n++] = m->files[i];
	*ret_nglobs = c->nginx_dump ? 0 : m->nglobs;
	*ret = files;
	return n;
}
