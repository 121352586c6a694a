/* uwsgi: read uwsgi's options (see uwsgi.h).
 *
 * uwsgi takes every option both as a flag (--socket x, --socket=x, -s x) and
 * as an ini key (socket = x); it reads ini files where --ini names them (or a
 * bare *.ini argument), in order, and the last value of a single-valued option
 * wins. %(name) in a value is another option's value: Debian's default.ini
 * builds its socket path from the --deb-confnamespace and --deb-confname flags
 * its init script passes. */
#include "backend/uwsgi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ini.h"
#include "core/util.h"

#define UWSGI_FILE_MAX	  (1u << 20)
#define UWSGI_OPTIONS_MAX 4096

struct option {
	char *key, *value, *file;
	unsigned line;
};

struct reader {
	const char *root;
	const char *file, *want_section;
	struct option *opts;
	size_t n, cap;
	unsigned depth;
};

static void add(struct reader *rd, const char *key, const char *value, const char *file,
		unsigned line)
{
	if (rd->n == UWSGI_OPTIONS_MAX)
		return;
	rd->opts = grow_array(rd->opts, &rd->cap, rd->n + 1, sizeof(*rd->opts));
	rd->opts[rd->n++] = (struct option){
	    .key = xstrdup(key),
	    .value = xstrdup(value),
	    .file = file ? xstrdup(file) : NULL,
	    .line = line,
	};
}

static void read_ini(struct reader *rd, const char *spec);

static int on_setting(void *ud, const char *section, const char *key, const char *value,
		      unsigned line)
{
	struct reader *rd = ud;
	if (!streq(section, rd->want_section))
		return 0;
	if (streq(key, "ini"))
		read_ini(rd, value);
	else
		add(rd, key, value, rd->file, line);
	return 0;
}

/* "file.ini" or "file.ini:section". */
static void read_ini(struct reader *rd, const char *spec)
{
	if (rd->depth >= 8)
		return;
	char *path = xstrdup(spec);
	char *colon = strrchr(path, ':');
	const char *section = "uwsgi";
	if (colon && colon > path && !strchr(colon, '/')) {
		*colon = '\0';
		section = colon + 1;
	}
	char *full = xasprintf("%s%s", rd->root ? rd->root : "", path);
	const char *saved_file = rd->file, *saved_section = rd->want_section;
	rd->file = path;
	rd->want_section = section;
	rd->depth++;
	ini_read(full, UWSGI_FILE_MAX, true, on_setting, rd);
	rd->depth--;
	rd->file = saved_file;
	rd->want_section = saved_section;
	free(full);
	free(path);
}

static const char *short_flag(char c)
{
	switch (c) {
	case 's':
		return "socket";
	case 'p':
		return "processes";
	case 't':
		return "harakiri";
	case 'l':
		return "listen";
	default:
		return NULL;
	}
}

static void read_argv(struct reader *rd, const char *const *argv, size_t argc)
{
	for (size_t i = 1; i < argc; i++) {
		const char *a = argv[i];
		char key[128];
		const char *value = NULL;
		if (startswith(a, "--")) {
			const char *eq = strchr(a, '=');
			size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			snprintf(key, sizeof(key), "%.*s", (int)MIN(n, sizeof(key) - 1), a + 2);
			if (eq)
				value = eq + 1;
			else if (i + 1 < argc && argv[i + 1][0] != '-')
				value = argv[++i];
			else
				value = "true";
		} else if (a[0] == '-' && a[1] && !a[2] && short_flag(a[1])) {
			snprintf(key, sizeof(key), "%s", short_flag(a[1]));
			if (i + 1 >= argc)
				break;
			value = argv[++i];
		} else if (a[0] != '-' && strlen(a) > 4 && streq(a + strlen(a) - 4, ".ini")) {
			read_ini(rd, a);
			continue;
		} else {
			continue;
		}
		if (streq(key, "ini"))
			read_ini(rd, value);
		else
			add(rd, key, value, NULL, 0);
	}
}

static const struct option *last(const struct reader *rd, const char *key)
{
	for (size_t i = rd->n; i-- > 0;)
		if (streq(rd->opts[i].key, key))
			return &rd->opts[i];
	return NULL;
}

/* %(name) -> the last value of option name; anything else stays. */
static char *expand(const struct reader *rd, const char *v)
{
	char out[1024];
	size_t o = 0;
	for (const char *p = v; *p && o < sizeof(out) - 1;) {
		const char *close = startswith(p, "%(") ? strchr(p, ')') : NULL;
		if (close) {
			char name[128];
			snprintf(name, sizeof(name), "%.*s", (int)MIN((size_t)(close - p - 2), 127),
				 p + 2);
			const struct option *opt = last(rd, name);
			if (opt) {
				o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", opt->value);
				o = MIN(o, sizeof(out) - 1);
				p = close + 1;
				continue;
			}
		}
		out[o++] = *p++;
	}
	out[o] = '\0';
	return xstrdup(out);
}

static void put(struct backend_setting *s, const struct option *opt, char *value)
{
	if (!opt)
		return;
	s->value = value ? value : xstrdup(opt->value);
	s->file = opt->file ? xstrdup(opt->file) : NULL;
	s->line = opt->line;
}

int uwsgi_describe(const char *const *argv, size_t argc, const char *peer, const char *root,
		   struct backend_info *ret)
{
	struct reader rd = {.root = root && *root ? root : NULL, .want_section = "uwsgi"};
	read_argv(&rd, argv, argc);

	static const struct {
		const char *key;
		enum backend_proto proto;
	} binds[] = {
	    {"socket", BACKEND_PROTO_UWSGI},	       {"uwsgi-socket", BACKEND_PROTO_UWSGI},
	    {"http-socket", BACKEND_PROTO_HTTP},       {"http", BACKEND_PROTO_HTTP},
	    {"fastcgi-socket", BACKEND_PROTO_FASTCGI},
	};
	struct backend_info b = {.kind = BACKEND_UWSGI};
	for (size_t i = 0; i < rd.n && !b.bound; i++) {
		if (!b.config_file && rd.opts[i].file)
			b.config_file = xstrdup(rd.opts[i].file);
		for (size_t k = 0; k < ARRAY_SIZE(binds); k++) {
			if (!streq(rd.opts[i].key, binds[k].key))
				continue;
			char *v = expand(&rd, rd.opts[i].value);
			if (backend_bind_matches(v, peer)) {
				b.bound = true;
				b.proto = binds[k].proto;
				put(&b.bind, &rd.opts[i], v);
			} else {
				free(v);
			}
			break;
		}
	}
	const struct option *workers = last(&rd, "processes");
	const struct option *w2 = last(&rd, "workers");
	if (!workers || (w2 && w2 > workers))
		workers = w2;
	put(&b.workers, workers, NULL);
	put(&b.timeout, last(&rd, "harakiri"), NULL);
	put(&b.backlog, last(&rd, "listen"), NULL);
	if (b.bound && b.bind.file)
		b.section = xstrdup("uwsgi");
	for (size_t i = 0; i < rd.n; i++) {
		if (!b.config_file && rd.opts[i].file)
			b.config_file = xstrdup(rd.opts[i].file);
		free(rd.opts[i].key);
		free(rd.opts[i].value);
		free(rd.opts[i].file);
	}
	free(rd.opts);
	*ret = b;
	return 0;
}
