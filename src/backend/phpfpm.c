/* phpfpm: read php-fpm's configuration (see phpfpm.h).
 *
 * php-fpm's file is INI: a [global] section, then one section per pool;
 * `include=` takes a glob (relative paths are relative to the prefix, which
 * for a packaged php-fpm is the configuration's directory); `$pool` in a value
 * stands for the pool's name. Settings of one pool may be split over several
 * files, so every file is read before a pool is chosen. */
#include "backend/phpfpm.h"

#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ini.h"
#include "core/util.h"

#define PHPFPM_FILE_MAX	 (1u << 20)
#define PHPFPM_FILES_MAX 256
#define PHPFPM_POOLS_MAX 256

struct pool {
	char *name;
	struct backend_setting listen, max_children, terminate, pm, owner, group, mode, error_log;
};

struct reader {
	const char *root;
	char *dir; /* of the main file, for relative includes */
	const char *file;
	struct pool pools[PHPFPM_POOLS_MAX];
	size_t npools;
	struct backend_setting global_error_log;
	unsigned nfiles;
	int err;
};

static void set(struct backend_setting *s, const char *value, const char *file, unsigned line)
{
	free(s->value);
	free(s->file);
	s->value = xstrdup(value);
	s->file = xstrdup(file);
	s->line = line;
}

static void setting_move(struct backend_setting *to, struct backend_setting *from)
{
	free(to->value);
	free(to->file);
	*to = *from;
	*from = (struct backend_setting){0};
}

static void setting_done(struct backend_setting *s)
{
	free(s->value);
	free(s->file);
	*s = (struct backend_setting){0};
}

static struct pool *pool_get(struct reader *rd, const char *name)
{
	for (size_t i = 0; i < rd->npools; i++)
		if (streq(rd->pools[i].name, name))
			return &rd->pools[i];
	if (rd->npools == PHPFPM_POOLS_MAX)
		return NULL;
	struct pool *p = &rd->pools[rd->npools++];
	*p = (struct pool){.name = xstrdup(name)};
	return p;
}

static char *rooted(const char *root, const char *path)
{
	return xasprintf("%s%s", root ? root : "", path);
}

static int read_one(struct reader *rd, const char *path);

static void include_glob(struct reader *rd, const char *pattern)
{
	char *abs = pattern[0] == '/' ? xstrdup(pattern) : xasprintf("%s/%s", rd->dir, pattern);
	char *full = rooted(rd->root, abs);
	glob_t g;
	if (glob(full, 0, NULL, &g) == 0) {
		size_t skip = rd->root ? strlen(rd->root) : 0;
		for (size_t i = 0; i < g.gl_pathc && rd->nfiles < PHPFPM_FILES_MAX; i++)
			read_one(rd, g.gl_pathv[i] + skip);
		globfree(&g);
	}
	free(full);
	free(abs);
}

/* "$pool" in a pool's value is its name. */
static char *expand(const char *value, const char *pool)
{
	const char *at = strstr(value, "$pool");
	if (!at || !pool)
		return xstrdup(value);
	return xasprintf("%.*s%s%s", (int)(at - value), value, pool, at + 5);
}

static int on_setting(void *ud, const char *section, const char *key, const char *value,
		      unsigned line)
{
	struct reader *rd = ud;
	if (streq(key, "include")) {
		include_glob(rd, value);
		return 0;
	}
	if (section[0] == '\0' || streq(section, "global")) {
		if (streq(key, "error_log"))
			set(&rd->global_error_log, value, rd->file, line);
		return 0;
	}
	struct pool *p = pool_get(rd, section);
	if (!p)
		return 0;
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
	    {"listen", offsetof(struct pool, listen)},
	    {"pm.max_children", offsetof(struct pool, max_children)},
	    {"request_terminate_timeout", offsetof(struct pool, terminate)},
	    {"pm", offsetof(struct pool, pm)},
	    {"listen.owner", offsetof(struct pool, owner)},
	    {"listen.group", offsetof(struct pool, group)},
	    {"listen.mode", offsetof(struct pool, mode)},
	    {"php_admin_value[error_log]", offsetof(struct pool, error_log)},
	    {"php_value[error_log]", offsetof(struct pool, error_log)},
	};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (streq(key, keys[i].key)) {
			char *v = expand(value, p->name);
			set((struct backend_setting *)((char *)p + keys[i].off), v, rd->file, line);
			free(v);
			break;
		}
	}
	return 0;
}

static int read_one(struct reader *rd, const char *path)
{
	if (rd->nfiles++ >= PHPFPM_FILES_MAX)
		return -E2BIG;
	char *full = rooted(rd->root, path);
	const char *saved = rd->file;
	rd->file = path;
	int r = ini_read(full, PHPFPM_FILE_MAX, false, on_setting, rd);
	rd->file = saved;
	free(full);
	return r;
}

char *phpfpm_config_path(const char *exe, const char *const *argv, size_t argc)
{
	for (size_t i = 0; i < argc; i++) {
		const char *a = argv[i];
		/* The master's process title names its file in parentheses. */
		const char *open = startswith(a, "php-fpm") ? strstr(a, "master process (") : NULL;
		if (open) {
			open += strlen("master process (");
			const char *close = strrchr(open, ')');
			if (close && close > open)
				return xstrndup(open, (size_t)(close - open));
		}
		if ((streq(a, "--fpm-config") || streq(a, "-y")) && i + 1 < argc)
			return xstrdup(argv[i + 1]);
		if (startswith(a, "--fpm-config="))
			return xstrdup(a + strlen("--fpm-config="));
	}
	/* Debian: /usr/sbin/php-fpm8.2 reads /etc/php/8.2/fpm/php-fpm.conf. */
	const char *base = exe ? strrchr(exe, '/') : NULL;
	base = base ? base + 1 : exe;
	if (base && startswith(base, "php-fpm") && base[7] >= '0' && base[7] <= '9')
		return xasprintf("/etc/php/%s/fpm/php-fpm.conf", base + 7);
	return NULL;
}

int phpfpm_describe(const char *config, const char *peer, const char *root,
		    struct backend_info *ret)
{
	struct reader *rd = xcalloc(1, sizeof(*rd));
	rd->root = root && *root ? root : NULL;
	char *copy = xstrdup(config);
	rd->dir = xstrdup(dirname(copy));
	free(copy);
	int r = read_one(rd, config);
	if (r < 0 && rd->nfiles == 1) {
		free(rd->dir);
		setting_done(&rd->global_error_log);
		free(rd);
		return r;
	}

	struct backend_info b = {
	    .kind = BACKEND_PHPFPM,
	    .config_file = xstrdup(config),
	    .proto = BACKEND_PROTO_FASTCGI,
	};
	for (size_t i = 0; i < rd->npools; i++) {
		struct pool *p = &rd->pools[i];
		if (b.bound || !p->listen.value || !backend_bind_matches(p->listen.value, peer))
			continue;
		b.bound = true;
		b.section = xstrdup(p->name);
		setting_move(&b.bind, &p->listen);
		setting_move(&b.workers, &p->max_children);
		setting_move(&b.timeout, &p->terminate);
		setting_move(&b.pm, &p->pm);
		setting_move(&b.owner, &p->owner);
		setting_move(&b.group, &p->group);
		setting_move(&b.mode, &p->mode);
		setting_move(&b.error_log,
			     p->error_log.value ? &p->error_log : &rd->global_error_log);
	}
	if (!b.bound)
		setting_move(&b.error_log, &rd->global_error_log);
	for (size_t i = 0; i < rd->npools; i++) {
		struct pool *p = &rd->pools[i];
		free(p->name);
		struct backend_setting *all[] = {&p->listen, &p->max_children, &p->terminate,
						 &p->pm,     &p->owner,	       &p->group,
						 &p->mode,   &p->error_log};
		for (size_t k = 0; k < ARRAY_SIZE(all); k++)
			setting_done(all[k]);
	}
	setting_done(&rd->global_error_log);
	free(rd->dir);
	free(rd);
	*ret = b;
	return 0;
}
