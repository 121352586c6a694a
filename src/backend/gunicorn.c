/* gunicorn: read gunicorn's settings (see gunicorn.h).
 *
 * The command line wins over the config file (a Python file, of which only
 * top-level `name = literal` assignments are understood: strings, numbers and
 * lists of strings — anything computed is reported as written). With no
 * --bind anywhere gunicorn binds 127.0.0.1:8000. */
#include "backend/gunicorn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define GUNICORN_FILE_MAX (1u << 20)
#define GUNICORN_BINDS	  32

struct settings {
	struct backend_setting bind[GUNICORN_BINDS];
	size_t nbind;
	struct backend_setting workers, timeout;
};

static void set(struct backend_setting *s, const char *value, size_t n, const char *file,
		unsigned line)
{
	free(s->value);
	free(s->file);
	s->value = xstrndup(value, n);
	s->file = file ? xstrdup(file) : NULL;
	s->line = line;
}

static void add_bind(struct settings *st, const char *v, size_t n, const char *file, unsigned line)
{
	if (st->nbind < GUNICORN_BINDS)
		set(&st->bind[st->nbind++], v, n, file, line);
}

static void clear_binds(struct settings *st)
{
	for (size_t i = 0; i < st->nbind; i++) {
		free(st->bind[i].value);
		free(st->bind[i].file);
		st->bind[i] = (struct backend_setting){0};
	}
	st->nbind = 0;
}

/* `bind = "a"` or `bind = ["a", "b"]`: every quoted string on the line. */
static void file_binds(struct settings *st, const char *v, const char *file, unsigned line)
{
	clear_binds(st);
	for (const char *p = v; (p = strpbrk(p, "\"'"));) {
		const char *e = strchr(p + 1, *p);
		if (!e)
			break;
		add_bind(st, p + 1, (size_t)(e - p - 1), file, line);
		p = e + 1;
	}
}

static void read_config(struct settings *st, const char *path, const char *root)
{
	char *full = xasprintf("%s%s", root ? root : "", path);
	char *data;
	size_t len;
	int r = read_regular_file(full, GUNICORN_FILE_MAX, &data, &len);
	free(full);
	if (r < 0)
		return;
	unsigned line = 0;
	for (char *p = data, *next; p; p = next) {
		line++;
		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		if (*p == ' ' || *p == '\t' || *p == '#') /* only top-level statements */
			continue;
		char *eq = strchr(p, '=');
		if (!eq || eq[1] == '=')
			continue;
		char *name_end = eq;
		while (name_end > p && name_end[-1] == ' ')
			name_end--;
		size_t nlen = (size_t)(name_end - p);
		char *v = eq + 1;
		while (*v == ' ')
			v++;
		char *hash = strstr(v, " #");
		size_t vlen = hash ? (size_t)(hash - v) : strlen(v);
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\r'))
			vlen--;
		if (nlen == 4 && !strncmp(p, "bind", 4)) {
			v[vlen] = '\0';
			file_binds(st, v, path, line);
		} else if (nlen == 7 && !strncmp(p, "workers", 7)) {
			set(&st->workers, v, vlen, path, line);
		} else if (nlen == 7 && !strncmp(p, "timeout", 7)) {
			set(&st->timeout, v, vlen, path, line);
		}
	}
	free(data);
}

/* The value of option `lng`/`shrt` at argv[*i] ("--bind=x", "--bind x",
 * "-b x", "-bx"), advancing *i past a separate value; NULL if argv[*i] is
 * not that option. */
static const char *opt_value(const char *const *argv, size_t argc, size_t *i, const char *lng,
			     const char *shrt)
{
	const char *a = argv[*i];
	size_t n = strlen(lng);
	if (!strncmp(a, lng, n) && a[n] == '=')
		return a + n + 1;
	if (streq(a, lng) || (shrt && streq(a, shrt)))
		return *i + 1 < argc ? argv[++*i] : NULL;
	if (shrt && !strncmp(a, shrt, 2) && a[2])
		return a + 2;
	return NULL;
}

int gunicorn_describe(const char *const *argv, size_t argc, const char *peer, const char *root,
		      struct backend_info *ret)
{
	root = root && *root ? root : NULL;
	struct settings st = {0}, cli = {0};
	const char *config = NULL;
	for (size_t i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argv, argc, &i, "--config", "-c")))
			config = v;
		else if ((v = opt_value(argv, argc, &i, "--bind", "-b")))
			add_bind(&cli, v, strlen(v), NULL, 0);
		else if ((v = opt_value(argv, argc, &i, "--workers", "-w")))
			set(&cli.workers, v, strlen(v), NULL, 0);
		else if ((v = opt_value(argv, argc, &i, "--timeout", "-t")))
			set(&cli.timeout, v, strlen(v), NULL, 0);
	}
	if (config && startswith(config, "python:"))
		config = NULL; /* a module: not a file we can read */
	if (config)
		read_config(&st, config, root);
	if (cli.nbind) {
		clear_binds(&st);
		st.nbind = cli.nbind;
		memcpy(st.bind, cli.bind, cli.nbind * sizeof(*cli.bind));
	}
	if (cli.workers.value) {
		set(&st.workers, cli.workers.value, strlen(cli.workers.value), NULL, 0);
		free(cli.workers.value);
	}
	if (cli.timeout.value) {
		set(&st.timeout, cli.timeout.value, strlen(cli.timeout.value), NULL, 0);
		free(cli.timeout.value);
	}

	struct backend_info b = {
	    .kind = BACKEND_GUNICORN,
	    .config_file = config ? xstrdup(config) : NULL,
	    .proto = BACKEND_PROTO_HTTP,
	    .workers = st.workers,
	    .timeout = st.timeout,
	};
	for (size_t i = 0; i < st.nbind; i++) {
		if (!b.bound && backend_bind_matches(st.bind[i].value, peer)) {
			b.bound = true;
			b.bind = st.bind[i];
		} else {
			free(st.bind[i].value);
			free(st.bind[i].file);
		}
	}
	if (st.nbind == 0 && backend_bind_matches("127.0.0.1:8000", peer)) {
		b.bound = true; /* gunicorn's default bind */
		b.bind.value = xstrdup("127.0.0.1:8000");
	}
	*ret = b;
	return 0;
}
