/* ngxconf: the nginx configuration model (see ngxconf.h).
 *
 * The folder's entry: ngxconf_load() reads the directive tree and runs the
 * build in order — main-level settings and error_log (ngxbuild), upstream
 * blocks (ngxupstream), the *_pass lines of http {} and stream {} (ngxpass),
 * then the peers (ngxpeer) once everything is read, because a *_pass may
 * name a block defined after it. Also the model's lookups, its free and
 * the --check-config text. Dependencies run one way:
 * ngxvalue, ngxstr < ngxbuild < ngxupstream, ngxpass, ngxaccess, ngxpeer < ngxconf
 * (no file calls a module listed after it). */
#include "nginx/ngxconf.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conftree.h"
#include "core/util.h"
#include "nginx/ngxaccess.h"
#include "nginx/ngxbuild.h"
#include "nginx/ngxpass.h"
#include "nginx/ngxpeer.h"
#include "nginx/ngxstr.h"
#include "nginx/ngxupstream.h"

/* mail {} proxies no upstream upwatch probes, but logs like the rest. */
static int mail_error_logs(struct ngxbuild *b, const struct cf_node *mail)
{
	int r = 0;
	for (const struct cf_node *n = mail->children; n && r >= 0; n = n->next) {
		if (streq(n->argv[0], "error_log") && !n->block) {
			r = ngxbuild_error_log(b, n);
		} else if (streq(n->argv[0], "server") && n->block) {
			for (const struct cf_node *c = n->children; c && r >= 0; c = c->next)
				if (streq(c->argv[0], "error_log") && !c->block)
					r = ngxbuild_error_log(b, c);
		}
	}
	return r;
}

static int walk_main(struct ngxbuild *b, const struct cf_node *root)
{
	struct ngx_model *m = b->m;
	bool main_log = false;
	int r = 0;

	for (const struct cf_node *n = root->children; n && r >= 0; n = n->next) {
		const char *name = n->argv[0];
		if (streq(name, "user") && !n->block && !m->user) {
			r = ngxbuild_args(b, n, 2, 3);
			if (r == 0) {
				m->user = xstrdup(n->argv[1]);
				m->group = xstrdup(n->argv[n->argc == 3 ? 2 : 1]);
				m->user_ref = ngxbuild_ref(b, n);
			}
		} else if (streq(name, "worker_processes") && !n->block) {
			r = ngxbuild_args(b, n, 2, 2);
			if (r == 0 && !streq(n->argv[1], "auto"))
				r = ngxbuild_uint(b, n, &m->worker_processes);
			else if (r == 0)
				m->worker_processes = 0;
		} else if (streq(name, "worker_rlimit_nofile") && !n->block) {
			r = ngxbuild_uint(b, n, &m->worker_rlimit_nofile);
		} else if (streq(name, "error_log") && !n->block) {
			r = ngxbuild_error_log(b, n);
			main_log = true;
		} else if (streq(name, "events") && n->block) {
			const struct cf_node *wc = cf_find(n, "worker_connections");
			if (wc) {
				r = ngxbuild_uint(b, wc, &m->worker_connections);
				m->worker_connections_ref = ngxbuild_ref(b, wc);
			}
		}
	}
	if (r < 0)
		return r;
	if (!main_log)
		ngxbuild_default_error_log(b);

	/* upstream blocks first: a *_pass may name a block defined after it */
	for (const struct cf_node *n = root->children; n && r >= 0; n = n->next) {
		bool stream = streq(n->argv[0], "stream");
		if (!n->block || !(stream || streq(n->argv[0], "http")))
			continue;
		for (const struct cf_node *c = n->children; c && r >= 0; c = c->next)
			if (streq(c->argv[0], "upstream") && c->block)
				r = ngxupstream_add(b, c, stream);
	}
	for (const struct cf_node *n = root->children; n && r >= 0; n = n->next) {
		bool stream = streq(n->argv[0], "stream");
		if (n->block && (stream || streq(n->argv[0], "http")))
			r = ngxpass_walk(b, n, stream);
		if (r >= 0 && n->block && (stream || streq(n->argv[0], "http")))
			r = ngxaccess_walk(b, n, stream);
		else if (n->block && streq(n->argv[0], "mail"))
			r = mail_error_logs(b, n);
	}
	return r;
}

/* --- load / free --- */

int ngxconf_load_opts(const char *path, const struct cf_dump *dump,
		      const struct ngxconf_options *opts, struct ngx_model **ret, char *err,
		      size_t errlen)
{
	struct cf_options co = {.dump = dump, .lua_blocks = true};
	struct cf_tree *t = NULL;
	if (!path && !dump)
		return -EINVAL;
	if (!path)
		path = cf_dump_main(dump);
	int r = cf_parse(path, &co, &t, err, errlen);
	if (r < 0)
		return r;

	struct ngx_model *m = xcalloc(1, sizeof(*m));
	struct ngxbuild b;
	ngxbuild_init(&b, m, t, opts, err, errlen);
	cf_warnings_copy(&m->warnings, &t->warnings);
	m->worker_processes = 1;
	m->worker_connections = 512;

	ngxaccess_builtin(&b);
	r = walk_main(&b, t->root);
	if (r >= 0 && !m->user) {
		/* nginx's compiled-in NGX_USER / NGX_GROUP */
		m->user = xstrdup("nobody");
		m->group = xstrdup("nogroup");
		m->user_default = true;
	}
	if (r >= 0)
		r = ngxpeer_build(&b);
	if (r >= 0) {
		m->error_logs = ngxbuild_fit(m->error_logs, m->nerror_logs, sizeof(*m->error_logs));
		m->upstreams = ngxbuild_fit(m->upstreams, m->nupstreams, sizeof(*m->upstreams));
		m->passes = ngxbuild_fit(m->passes, m->npasses, sizeof(*m->passes));
		m->stub_status =
		    ngxbuild_fit(m->stub_status, m->nstub_status, sizeof(*m->stub_status));
	}
	ngxbuild_done(&b);
	cf_tree_free(t);
	/* the directive tree was several times the model's size: give it back
	 * (10k upstreams: RSS +24 MB -> +14 MB after a load) */
	malloc_trim(0);
	if (r < 0) {
		ngxconf_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

int ngxconf_load(const char *path, const struct cf_dump *dump, struct ngx_model **ret, char *err,
		 size_t errlen)
{
	return ngxconf_load_opts(path, dump, NULL, ret, err, errlen);
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void ngxconf_free(struct ngx_model *m)
{
	if (!m)
		return;
	ngxpeer_free(m);
	free(m->main_file);
	free_strv(m->files, m->nfiles);
	free_strv(m->globs, m->nglobs);
	cf_warnings_done(&m->warnings);
	free(m->user);
	free(m->group);
	for (size_t i = 0; i < m->nerror_logs; i++) {
		free(m->error_logs[i].path);
		free(m->error_logs[i].level);
	}
	free(m->error_logs);
	for (size_t i = 0; i < m->nupstreams; i++)
		ngxupstream_done(&m->upstreams[i]);
	free(m->upstreams);
	free(m->passes);
	for (size_t i = 0; i < m->ntimeouts; i++)
		free(m->timeouts[i]);
	free(m->timeouts);
	free(m->stub_status);
	free(m->log_formats);
	free(m->access_logs);
	ngxstr_free(m->strings);
	free(m);
}

/* --- lookups --- */

const struct ngx_peer *ngxconf_peer(const struct ngx_model *m, const char *key)
{
	size_t i;
	if (!m->index || !strmap_get_index(&m->index->peers, key, &i))
		return NULL;
	return &m->peers[i];
}

const struct ngx_upstream *ngxconf_upstream(const struct ngx_model *m, const char *name)
{
	size_t i;
	if (!m->index)
		return NULL;
	if (strmap_get_index(&m->index->blocks[0], name, &i) ||
	    strmap_get_index(&m->index->blocks[1], name, &i))
		return &m->upstreams[i];
	return NULL;
}

const struct ngx_peer *ngxconf_peer_by_host(const struct ngx_model *m, const char *name)
{
	size_t i;
	if (!m->index || !strmap_get_index(&m->index->hosts, name, &i))
		return NULL;
	return &m->peers[i];
}

size_t ngxconf_dynamic_passes(const struct ngx_model *m, const char *server_name,
			      const size_t **ret)
{
	const struct ngxpeer_passes *l;
	if (!m->index) {
		*ret = NULL;
		return 0;
	}
	if (!server_name)
		l = m->index->all_dynamic;
	else if (!(l = strmap_get(&m->index->dynamic, server_name)))
		l = m->index->nameless_dynamic;
	*ret = l->v;
	return l->n;
}

void ngxconf_peer_addr(const struct ngx_peer *p, struct peerkey *ret)
{
	*ret = (struct peerkey){.kind = p->kind, .port = p->port};
	snprintf(ret->key, sizeof(ret->key), "%s", p->key);
	snprintf(ret->host, sizeof(ret->host), "%s", p->host);
}

const char *ngxconf_proto_name(enum ngx_proto p)
{
	static const char *const names[] = {
	    [NGX_PROTO_HTTP] = "http",	     [NGX_PROTO_HTTPS] = "https",
	    [NGX_PROTO_FASTCGI] = "fastcgi", [NGX_PROTO_UWSGI] = "uwsgi",
	    [NGX_PROTO_SCGI] = "scgi",	     [NGX_PROTO_GRPC] = "grpc",
	    [NGX_PROTO_TCP] = "tcp",	     [NGX_PROTO_SUWSGI] = "suwsgi",
	    [NGX_PROTO_GRPCS] = "grpcs",     [NGX_PROTO_MEMCACHED] = "memcached",
	    [NGX_PROTO_UDP] = "udp",
	};
	return (unsigned)p < ARRAY_SIZE(names) ? names[p] : "unknown";
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

int ngxconf_print(const struct ngx_model *m, FILE *out)
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
		if (!p->probed)
			fprintf(out, "      not probed: %s\n",
				p->proto == NGX_PROTO_UDP ? "udp" : "nginx never connects to it");
		if (p->backup)
			fputs("      backup: used when the primary peers fail\n", out);
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
			if (ps->t->resolver)
				fprintf(out, " (resolver %s)", ps->t->resolver);
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
