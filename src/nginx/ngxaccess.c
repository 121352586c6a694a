/* ngxaccess: access_log and log_format lines of http {} and stream {} (see
 * ngxaccess.h). */
#include "nginx/ngxaccess.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conftree.h"
#include "core/strbuf.h"
#include "core/util.h"
#include "nginx/ngxbuild.h"

struct scope {
	const char *server_name; /* NULL at http level */
	const char *location;	 /* NULL at http level, "" at server level */
	unsigned depth;
	bool stream;
	const struct cf_node *pass; /* stream server: its proxy_pass */
};

static struct ngx_log_format *new_format(struct ngxbuild *b)
{
	struct ngx_model *m = b->m;
	size_t cap = m->nlog_formats; /* fit exactly: formats are few */
	m->log_formats = xreallocarray(m->log_formats, cap + 1, sizeof(*m->log_formats));
	return &m->log_formats[m->nlog_formats++];
}

static struct ngx_access_log *new_access(struct ngxbuild *b)
{
	struct ngx_model *m = b->m;
	m->access_logs =
	    xreallocarray(m->access_logs, m->naccess_logs + 1, sizeof(*m->access_logs));
	return &m->access_logs[m->naccess_logs++];
}

void ngxaccess_builtin(struct ngxbuild *b)
{
	struct ngx_log_format *f = new_format(b);
	*f = (struct ngx_log_format){
	    .name = ngxbuild_str(b, "combined"),
	    .format = ngxbuild_str(b, NGXCONF_COMBINED_FORMAT),
	};
}

static size_t find_format(const struct ngx_model *m, const char *name, bool stream)
{
	for (size_t i = 0; i < m->nlog_formats; i++)
		if (m->log_formats[i].stream == stream && streq(m->log_formats[i].name, name))
			return i;
	return SIZE_MAX;
}

/* log_format NAME [escape=default|json|none] STRING...; */
static int add_format(struct ngxbuild *b, const struct cf_node *n, bool stream)
{
	int r = ngxbuild_args(b, n, 3, 1024);
	if (r < 0)
		return r;
	if (find_format(b->m, n->argv[1], stream) != SIZE_MAX)
		return ngxbuild_err(b, n, "duplicate \"log_format\" name \"%s\"", n->argv[1]);
	enum ngx_log_escape esc = NGX_ESCAPE_DEFAULT;
	unsigned first = 2;
	if (startswith(n->argv[2], "escape=")) {
		const char *v = n->argv[2] + strlen("escape=");
		if (streq(v, "default"))
			esc = NGX_ESCAPE_DEFAULT;
		else if (streq(v, "json"))
			esc = NGX_ESCAPE_JSON;
		else if (streq(v, "none"))
			esc = NGX_ESCAPE_NONE;
		else
			return ngxbuild_err(b, n, "unknown log format escaping \"%s\"", v);
		first = 3;
		if (n->argc < 4)
			return ngxbuild_err(b, n, "invalid number of arguments in \"log_format\"");
	}
	struct strbuf s = STRBUF_INIT;
	for (unsigned i = first; i < n->argc; i++)
		strbuf_puts(&s, n->argv[i]);
	struct ngx_log_format *f = new_format(b);
	*f = (struct ngx_log_format){
	    .name = ngxbuild_str(b, n->argv[1]),
	    .format = ngxbuild_str_n(b, s.p ? s.p : "", s.len),
	    .escape = esc,
	    .stream = stream,
	    .ref = ngxbuild_ref(b, n),
	};
	strbuf_done(&s);
	return 0;
}

static void set_target(struct ngxbuild *b, struct ngx_access_log *a, const char *target)
{
	if (startswith(target, "syslog:")) {
		a->path = ngxbuild_str(b, target);
		a->note = "sent to syslog, not a file";
		return;
	}
	if (target[0] == '|') {
		a->path = ngxbuild_str(b, target);
		a->note = "a pipe, not a file";
		return;
	}
	size_t plen = strlen(b->prefix);
	bool slash = plen > 0 && b->prefix[plen - 1] == '/';
	char *path = target[0] == '/' ? xstrdup(target)
				      : xasprintf("%s%s%s", b->prefix, slash ? "" : "/", target);
	a->path = ngxbuild_str(b, path);
	free(path);
	if (strchr(target, '$'))
		a->note = "the path holds variables: one file per value";
	else if (streq(a->path, "/dev/null"))
		a->note = "discarded (/dev/null)";
	else if (startswith(a->path, "/dev/") || startswith(a->path, "/proc/"))
		a->note = "a device, not a file";
	else
		a->followable = true;
}

/* access_log off | PATH [FORMAT [buffer=] [gzip[=]] [flush=] [if=]]; */
static int add_access(struct ngxbuild *b, const struct cf_node *n, const struct scope *sc)
{
	int r = ngxbuild_args(b, n, 2, 64);
	if (r < 0)
		return r;
	struct ngx_access_log *a = new_access(b);
	*a = (struct ngx_access_log){
	    .format = SIZE_MAX,
	    .server_name = ngxbuild_str(b, sc->server_name),
	    .location = ngxbuild_str(b, sc->location),
	    .ref = ngxbuild_ref(b, n),
	    .stream = sc->stream,
	};
	if (sc->pass)
		a->pass_ref = ngxbuild_ref(b, sc->pass);
	if (streq(n->argv[1], "off")) {
		a->off = true;
		a->path = ngxbuild_str(b, "off");
		a->note = "off: this scope logs nothing";
		return 0;
	}
	if (sc->stream && n->argc < 3) /* stream {} has no default format */
		return ngxbuild_err(b, n, "log format is not specified");
	set_target(b, a, n->argv[1]);
	a->format_name = ngxbuild_str(b, n->argc > 2 ? n->argv[2] : "combined");
	a->format = find_format(b->m, a->format_name, sc->stream);
	if (a->format == SIZE_MAX) {
		a->followable = false;
		a->note = "unknown log format";
		return 0;
	}
	for (unsigned i = 3; i < n->argc; i++) {
		const char *o = n->argv[i];
		if (startswith(o, "buffer=") || startswith(o, "flush=")) {
			a->buffered = true;
		} else if (streq(o, "gzip") || startswith(o, "gzip=")) {
			a->followable = false;
			a->note = "gzip-compressed, not a text file";
		} else if (startswith(o, "if=")) {
			a->conditional = true;
		} else {
			return ngxbuild_err(b, n, "invalid parameter \"%s\"", o);
		}
	}
	if (a->followable && a->conditional)
		a->note = "if= condition: only the requests it keeps are counted";
	else if (a->followable && a->buffered)
		a->note = "buffered: lines arrive up to the flush time late";
	return 0;
}

static int walk_scope(struct ngxbuild *b, const struct cf_node *block, const struct scope *sc)
{
	int r = 0;
	struct scope inner = *sc;
	if (sc->server_name == NULL && sc->location && sc->location[0] == '\0') {
		/* a server block: its first server_name names it */
		for (const struct cf_node *n = block->children; n; n = n->next)
			if (!n->block && streq(n->argv[0], "server_name") && n->argc > 1) {
				inner.server_name = n->argv[1];
				break;
			}
	}
	for (const struct cf_node *n = block->children; n && r >= 0; n = n->next) {
		const char *name = n->argv[0];
		if (!n->block) {
			if (streq(name, "access_log"))
				r = add_access(b, n, &inner);
			continue;
		}
		struct scope child = inner;
		child.depth = sc->depth + 1;
		if (sc->depth == 0 && streq(name, "server")) {
			child.server_name = NULL;
			child.location = "";
			child.pass = NULL;
			for (const struct cf_node *c = n->children; sc->stream && c; c = c->next)
				if (!c->block && streq(c->argv[0], "proxy_pass"))
					child.pass = c;
			r = walk_scope(b, n, &child);
		} else if (sc->depth > 0 && streq(name, "location")) {
			struct strbuf s = STRBUF_INIT;
			for (unsigned i = 1; i < n->argc; i++) {
				if (i > 1)
					strbuf_putc(&s, ' ');
				strbuf_puts(&s, n->argv[i]);
			}
			char *loc = strbuf_steal(&s);
			child.location = loc;
			r = walk_scope(b, n, &child);
			free(loc);
		} else if (sc->depth > 0 && (streq(name, "if") || streq(name, "limit_except"))) {
			r = walk_scope(b, n, &child);
		}
	}
	return r;
}

int ngxaccess_walk(struct ngxbuild *b, const struct cf_node *http, bool stream)
{
	int r = 0;
	bool top = false;
	for (const struct cf_node *n = http->children; n && r >= 0; n = n->next) {
		if (n->block)
			continue;
		if (streq(n->argv[0], "log_format"))
			r = add_format(b, n, stream);
		else if (streq(n->argv[0], "access_log"))
			top = true;
	}
	if (r < 0)
		return r;
	if (!top && !stream) {
		/* ngx_http_log_merge_loc_conf(): http {} without access_log
		 * logs to the compiled-in path in combined */
		struct ngx_access_log *a = new_access(b);
		*a = (struct ngx_access_log){
		    .path = ngxbuild_str(b, NGXCONF_DEFAULT_ACCESS_LOG),
		    .format_name = ngxbuild_str(b, "combined"),
		    .format = 0,
		    .followable = true,
		};
	}
	struct scope sc = {.stream = stream};
	return walk_scope(b, http, &sc);
}
