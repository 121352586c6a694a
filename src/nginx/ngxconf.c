/* ngxconf: the nginx configuration model (see ngxconf.h).
 *
 * Owns turning a conftree into a struct ngx_model: the main-level settings,
 * every error_log, the upstream blocks and their servers. The *_pass lines
 * with their inherited settings come from ngxpass (walking http {} and
 * stream {}), the peers from ngxpeer once everything is read, because a
 * *_pass may name an upstream block defined after it. */
#include "nginx/ngxconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conftree.h"
#include "nginx/ngxpass.h"
#include "nginx/ngxpeer.h"
#include "core/strmap.h"
#include "core/util.h"

struct build {
	struct ngx_model *m;
	const char *prefix, *default_error_log;
	char *err;
	size_t errlen;
	struct strmap files;
	const char *last_in, *last_out; /* intern cache: nodes come in file runs */
	size_t logs_cap, ups_cap;
	struct ngxpass_ctx pass;
};

static int berr(struct build *b, const struct cf_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int berr(struct build *b, const struct cf_node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = cf_node_verror(b->err, b->errlen, n, fmt, ap);
	va_end(ap);
	return r;
}

/* The model's own copy of a node's file name, so refs outlive the tree. */
static struct ngx_ref ref_of(struct build *b, const struct cf_node *n)
{
	if (n->file != b->last_in) {
		size_t i = 0;
		b->last_in = n->file;
		b->last_out = strmap_get_index(&b->files, n->file, &i) ? b->m->files[i] : NULL;
	}
	return (struct ngx_ref){.file = b->last_out, .line = n->line};
}

/* --- values --- */

int ngxconf_parse_time_ms(const char *s, uint64_t *ret_ms)
{
	/* ngx_parse_time(): components in falling order of unit, optionally
	 * separated by spaces; a trailing bare number is seconds. Years and
	 * months are refused for millisecond settings, as nginx does. */
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"ms", 1},	     {"w", 604800000}, {"d", 86400000},
		     {"h", 3600000}, {"m", 60000},     {"s", 1000}};
	static const unsigned rank[] = {6, 1, 2, 3, 4, 5}; /* order units must come in */
	uint64_t total = 0;
	unsigned last = 0;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	while (*p) {
		uint64_t v;
		int rc = parse_u64_prefix(&p, &v);
		if (rc < 0)
			return rc;
		uint64_t scale = 1000;
		unsigned r = 7;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t n = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, n) == 0) {
				scale = units[i].ms;
				r = rank[i];
				p += n;
				break;
			}
		}
		if (r <= last || (r == 7 && *p))
			return -EINVAL;
		last = r;
		if (v > (UINT64_MAX - total) / scale)
			return -ERANGE;
		total += v * scale;
		while (*p == ' ')
			p++;
	}
	*ret_ms = total;
	return 0;
}

int ngxconf_parse_size(const char *s, uint64_t *ret)
{
	uint64_t v, scale = 1;
	const char *p = s;
	int r = parse_u64_prefix(&p, &v);
	if (r < 0)
		return r;
	if (*p == 'k' || *p == 'K')
		scale = 1024, p++;
	else if (*p == 'm' || *p == 'M')
		scale = 1024 * 1024, p++;
	if (*p)
		return -EINVAL;
	if (v > UINT64_MAX / scale)
		return -ERANGE;
	*ret = v * scale;
	return 0;
}

static int check_args(struct build *b, const struct cf_node *n, unsigned min, unsigned max)
{
	if (n->argc < min || n->argc > max)
		return berr(b, n, "invalid number of arguments in \"%s\" directive", n->argv[0]);
	return 0;
}

static int dir_uint(struct build *b, const struct cf_node *n, unsigned *ret)
{
	int r = check_args(b, n, 2, 2);
	if (r < 0)
		return r;
	if (parse_uint(n->argv[1], NGX_UINT_MAX, ret) < 0)
		return berr(b, n, "invalid value \"%s\" in \"%s\" directive", n->argv[1],
			    n->argv[0]);
	return 0;
}

/* --- error_log --- */

static bool is_level(const char *s)
{
	static const char *const levels[] = {"debug", "info", "notice", "warn",
					     "error", "crit", "alert",	"emerg"};
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		if (streq(s, levels[i]))
			return true;
	return false;
}

/* ngx_log_set_log(): stderr, syslog:, memory: or a file below the prefix. */
static void set_log_target(struct build *b, struct ngx_error_log *e, const char *target)
{
	if (streq(target, "stderr")) {
		e->target = NGX_LOG_STDERR;
		e->path = xstrdup(target);
	} else if (startswith(target, "syslog:")) {
		e->target = NGX_LOG_SYSLOG;
		e->path = xstrdup(target);
	} else if (startswith(target, "memory:")) {
		e->target = NGX_LOG_MEMORY;
		e->path = xstrdup(target);
	} else {
		e->target = NGX_LOG_FILE;
		size_t plen = strlen(b->prefix);
		bool slash = plen > 0 && b->prefix[plen - 1] == '/';
		if (target[0] == '/')
			e->path = xstrdup(target);
		else
			e->path = xasprintf("%s%s%s", b->prefix, slash ? "" : "/", target);
		/* a character device, nothing to follow */
		e->followable = !streq(e->path, "/dev/null");
	}
}

static int add_error_log(struct build *b, const struct cf_node *n)
{
	int r = check_args(b, n, 2, 64);
	if (r < 0)
		return r;
	const char *level = NULL;
	bool debug = false;
	for (unsigned i = 2; i < n->argc; i++) {
		if (startswith(n->argv[i], "debug_")) {
			debug = true;
		} else if (!is_level(n->argv[i])) {
			return berr(b, n, "invalid log level \"%s\"", n->argv[i]);
		} else if (level) {
			return berr(b, n, "duplicate log level \"%s\"", n->argv[i]);
		} else {
			level = n->argv[i];
		}
	}
	struct ngx_model *m = b->m;
	m->error_logs =
	    grow_array(m->error_logs, &b->logs_cap, m->nerror_logs + 1, sizeof(*m->error_logs));
	struct ngx_error_log *e = &m->error_logs[m->nerror_logs++];
	*e = (struct ngx_error_log){.ref = ref_of(b, n)};
	e->level = xstrdup(level ? level : debug ? "debug" : "error");
	set_log_target(b, e, n->argv[1]);
	return 0;
}

static struct ngx_ref pass_ref(void *opaque, const struct cf_node *n)
{
	return ref_of(opaque, n);
}

static int pass_error_log(void *opaque, const struct cf_node *n)
{
	return add_error_log(opaque, n);
}

/* No main-level error_log: nginx logs to its compiled-in path. It goes first,
 * as nginx opens it before anything else. */
static void add_default_error_log(struct build *b)
{
	struct ngx_model *m = b->m;
	m->error_logs =
	    grow_array(m->error_logs, &b->logs_cap, m->nerror_logs + 1, sizeof(*m->error_logs));
	memmove(m->error_logs + 1, m->error_logs, m->nerror_logs * sizeof(*m->error_logs));
	m->nerror_logs++;
	struct ngx_error_log *e = &m->error_logs[0];
	*e = (struct ngx_error_log){.level = xstrdup("error")};
	set_log_target(b, e, b->default_error_log);
}

/* --- upstream blocks --- */

static int parse_server(struct build *b, const struct cf_node *n, bool stream, struct ngx_server *s)
{
	int r = check_args(b, n, 2, 64);
	if (r < 0)
		return r;
	*s = (struct ngx_server){
	    .weight = 1, .max_fails = 1, .fail_timeout_ms = 10000, .ref = ref_of(b, n)};
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
			r = ngxconf_parse_time_ms(v, &s->fail_timeout_ms);
		else if (v && klen == 10 && startswith(a, "slow_start"))
			r = ngxconf_parse_time_ms(v, &s->slow_start_ms);
		else if (v && klen == 7 && startswith(a, "service") && *v && !s->service)
			s->service = xstrdup(v);
		else if (!v && streq(a, "backup"))
			s->backup = true;
		else if (!v && streq(a, "down"))
			s->down = true;
		else if (!v && streq(a, "resolve"))
			s->resolve = true;
		else
			r = -EINVAL;
		if (r < 0) {
			free(s->service);
			return berr(b, n, "invalid parameter \"%s\"", a);
		}
	}

	/* http upstream servers default to port 80 whatever the *_pass using
	 * them (ngx_http_upstream_server()); stream ones need a port. */
	struct peerkey k;
	const char *addr = n->argv[1];
	if (peerkey_parse(addr, strlen(addr), stream ? 0 : 80, &k) < 0) {
		free(s->service);
		if (stream && peerkey_parse(addr, strlen(addr), 1, &k) == 0)
			return berr(b, n, "no port in upstream \"%s\"", addr);
		return berr(b, n, "%s in upstream \"%s\"", ngxpeer_addr_error(addr), addr);
	}
	s->addr = xstrdup(addr);
	s->key = xstrdup(k.key);
	return 0;
}

static int add_upstream(struct build *b, const struct cf_node *n, bool stream)
{
	if (!n->block || n->argc != 2)
		return berr(b, n, "invalid number of arguments in \"upstream\" directive");
	struct ngx_model *m = b->m;
	m->upstreams =
	    grow_array(m->upstreams, &b->ups_cap, m->nupstreams + 1, sizeof(*m->upstreams));
	struct ngx_upstream *u = &m->upstreams[m->nupstreams++];
	*u = (struct ngx_upstream){
	    .name = xstrdup(n->argv[1]), .stream = stream, .ref = ref_of(b, n)};
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
			r = dir_uint(b, c, &u->keepalive);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* mail {} proxies no upstream upwatch probes, but logs like the rest. */
static int mail_error_logs(struct build *b, const struct cf_node *mail)
{
	int r = 0;
	for (const struct cf_node *n = mail->children; n && r >= 0; n = n->next) {
		if (streq(n->argv[0], "error_log") && !n->block) {
			r = add_error_log(b, n);
		} else if (streq(n->argv[0], "server") && n->block) {
			for (const struct cf_node *c = n->children; c && r >= 0; c = c->next)
				if (streq(c->argv[0], "error_log") && !c->block)
					r = add_error_log(b, c);
		}
	}
	return r;
}

static int walk_main(struct build *b, const struct cf_node *root)
{
	struct ngx_model *m = b->m;
	bool main_log = false;
	int r = 0;

	for (const struct cf_node *n = root->children; n && r >= 0; n = n->next) {
		const char *name = n->argv[0];
		if (streq(name, "user") && !n->block && !m->user) {
			r = check_args(b, n, 2, 3);
			if (r == 0) {
				m->user = xstrdup(n->argv[1]);
				m->group = xstrdup(n->argv[n->argc == 3 ? 2 : 1]);
				m->user_ref = ref_of(b, n);
			}
		} else if (streq(name, "worker_processes") && !n->block) {
			r = check_args(b, n, 2, 2);
			if (r == 0 && !streq(n->argv[1], "auto"))
				r = dir_uint(b, n, &m->worker_processes);
			else if (r == 0)
				m->worker_processes = 0;
		} else if (streq(name, "worker_rlimit_nofile") && !n->block) {
			r = dir_uint(b, n, &m->worker_rlimit_nofile);
		} else if (streq(name, "error_log") && !n->block) {
			r = add_error_log(b, n);
			main_log = true;
		} else if (streq(name, "events") && n->block) {
			const struct cf_node *wc = cf_find(n, "worker_connections");
			if (wc) {
				r = dir_uint(b, wc, &m->worker_connections);
				m->worker_connections_ref = ref_of(b, wc);
			}
		}
	}
	if (r < 0)
		return r;
	if (!main_log)
		add_default_error_log(b);

	/* upstream blocks first: a *_pass may name a block defined after it */
	for (const struct cf_node *n = root->children; n && r >= 0; n = n->next) {
		bool stream = streq(n->argv[0], "stream");
		if (!n->block || !(stream || streq(n->argv[0], "http")))
			continue;
		for (const struct cf_node *c = n->children; c && r >= 0; c = c->next)
			if (streq(c->argv[0], "upstream") && c->block)
				r = add_upstream(b, c, stream);
	}
	for (const struct cf_node *n = root->children; n && r >= 0; n = n->next) {
		bool stream = streq(n->argv[0], "stream");
		if (n->block && (stream || streq(n->argv[0], "http")))
			r = ngxpass_walk(&b->pass, n, stream);
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
	struct build b = {
	    .m = m,
	    .prefix = opts && opts->prefix ? opts->prefix : NGXCONF_DEFAULT_PREFIX,
	    .default_error_log = opts && opts->default_error_log ? opts->default_error_log
								 : NGXCONF_DEFAULT_ERROR_LOG,
	    .err = err,
	    .errlen = errlen,
	};
	b.pass = (struct ngxpass_ctx){.m = m,
				      .err = err,
				      .errlen = errlen,
				      .opaque = &b,
				      .ref = pass_ref,
				      .error_log = pass_error_log};
	strmap_init(&b.files);
	m->main_file = xstrdup(t->main_file);
	m->files = xcalloc(t->nfiles + 1, sizeof(char *));
	for (size_t i = 0; i < t->nfiles; i++) {
		m->files[i] = xstrdup(t->files[i]);
		strmap_put_index(&b.files, m->files[i], i);
	}
	m->nfiles = t->nfiles;
	m->globs = xcalloc(t->nglobs + 1, sizeof(char *));
	for (size_t i = 0; i < t->nglobs; i++)
		m->globs[i] = xstrdup(t->globs[i]);
	m->nglobs = t->nglobs;
	cf_warnings_copy(&m->warnings, &t->warnings);
	m->worker_processes = 1;
	m->worker_connections = 512;

	r = walk_main(&b, t->root);
	if (r >= 0 && !m->user) {
		/* nginx's compiled-in NGX_USER / NGX_GROUP */
		m->user = xstrdup("nobody");
		m->group = xstrdup("nogroup");
		m->user_default = true;
	}
	if (r >= 0)
		r = ngxpeer_build(m, err, errlen);
	strmap_done(&b.files);
	cf_tree_free(t);
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
	for (size_t i = 0; i < m->nupstreams; i++) {
		struct ngx_upstream *u = &m->upstreams[i];
		for (size_t j = 0; j < u->nservers; j++) {
			free(u->servers[j].addr);
			free(u->servers[j].key);
			free(u->servers[j].service);
		}
		free(u->servers);
		free(u->name);
	}
	free(m->upstreams);
	for (size_t i = 0; i < m->npasses; i++)
		ngxpass_done(&m->passes[i]);
	free(m->passes);
	ngxpeer_free(m);
	free(m->stub_status);
	free(m);
}

const struct ngx_peer *ngxconf_peer(const struct ngx_model *m, const char *key)
{
	return ngxpeer_find(m, key);
}

const struct ngx_upstream *ngxconf_upstream(const struct ngx_model *m, const char *name)
{
	for (size_t i = 0; i < m->nupstreams; i++)
		if (strcasecmp(m->upstreams[i].name, name) == 0)
			return &m->upstreams[i];
	return NULL;
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

int ngxconf_print(const struct ngx_model *m, FILE *out)
{
	return ngxpeer_print(m, out);
}

struct cJSON *ngxconf_peer_json(const struct ngx_model *m, const struct ngx_peer *p)
{
	return ngxpeer_json(m, p);
}
