/* backend: identify the software behind a listener and dispatch to the reader
 * of its configuration (see backend.h). */
#include "backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/gunicorn.h"
#include "backend/phpfpm.h"
#include "backend/uwsgi.h"
#include "core/util.h"

static const char *basename_of(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : path;
}

enum backend_kind backend_identify(const char *exe, const char *const *argv, size_t argc)
{
	const char *e = basename_of(exe);
	const char *a0 = argc ? argv[0] : NULL;
	const char *b0 = basename_of(a0);
	if ((e && startswith(e, "php-fpm")) || (a0 && startswith(a0, "php-fpm")))
		return BACKEND_PHPFPM;
	if ((e && startswith(e, "uwsgi")) || (b0 && startswith(b0, "uwsgi")))
		return BACKEND_UWSGI;
	/* gunicorn runs under python: "python3 /usr/bin/gunicorn ..." or, with
	 * setproctitle, "gunicorn: master [app]". */
	if ((b0 && startswith(b0, "gunicorn")) ||
	    (argc > 1 && streq(basename_of(argv[1]), "gunicorn")))
		return BACKEND_GUNICORN;
	for (size_t i = 1; i < argc && i < 4; i++)
		if (streq(argv[i], "-m") && i + 1 < argc && streq(argv[i + 1], "gunicorn"))
			return BACKEND_GUNICORN;
	if ((e && (streq(e, "node") || streq(e, "nodejs"))) ||
	    (b0 && (streq(b0, "node") || streq(b0, "nodejs"))))
		return BACKEND_NODE;
	return BACKEND_UNKNOWN;
}

const char *backend_kind_name(enum backend_kind k)
{
	static const char *const names[] = {
	    [BACKEND_UNKNOWN] = "unknown",   [BACKEND_PHPFPM] = "php-fpm",
	    [BACKEND_GUNICORN] = "gunicorn", [BACKEND_UWSGI] = "uwsgi",
	    [BACKEND_NODE] = "node",
	};
	return (unsigned)k < ARRAY_SIZE(names) ? names[k] : "unknown";
}

const char *backend_proto_name(enum backend_proto p)
{
	static const char *const names[] = {
	    [BACKEND_PROTO_UNKNOWN] = "unknown",
	    [BACKEND_PROTO_HTTP] = "http",
	    [BACKEND_PROTO_FASTCGI] = "fastcgi",
	    [BACKEND_PROTO_UWSGI] = "uwsgi",
	};
	return (unsigned)p < ARRAY_SIZE(names) ? names[p] : "unknown";
}

/* Splits "host:port", "[v6]:port", ":port" or "port" into host ("" = any)
 * and port. */
static bool split_hostport(const char *s, char *host, size_t hostsz, unsigned *port)
{
	const char *colon;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return false;
		snprintf(host, hostsz, "%.*s", (int)(close - s + 1), s);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon)
			snprintf(host, hostsz, "%.*s", (int)(colon - s), s);
		else
			host[0] = '\0';
	}
	return parse_uint(colon ? colon + 1 : s, 65535, port) == 0 && *port > 0;
}

static bool is_wildcard(const char *h)
{
	return !*h || streq(h, "*") || streq(h, "0.0.0.0") || streq(h, "[::]");
}

static bool is_loopback(const char *h)
{
	return startswith(h, "127.") || streq(h, "[::1]") || streq(h, "localhost");
}

bool backend_bind_matches(const char *bind, const char *peer)
{
	if (!bind || !peer)
		return false;
	if (startswith(bind, "unix:"))
		bind += 5;
	if (bind[0] == '/')
		return startswith(peer, "unix:") && streq(peer + 5, bind);
	if (startswith(peer, "unix:"))
		return false;
	char bh[256], ph[256];
	unsigned bp, pp;
	if (!split_hostport(bind, bh, sizeof(bh), &bp) ||
	    !split_hostport(peer, ph, sizeof(ph), &pp))
		return false;
	if (bp != pp)
		return false;
	if (is_wildcard(bh) || !strcasecmp(bh, ph))
		return true;
	return streq(bh, "localhost") && is_loopback(ph);
}

int backend_describe(enum backend_kind kind, const char *exe, const char *const *argv, size_t argc,
		     const char *peer, const char *root, struct backend_info *ret)
{
	switch (kind) {
	case BACKEND_PHPFPM: {
		char *config = phpfpm_config_path(exe, argv, argc);
		if (!config)
			return -ENOENT;
		int r = phpfpm_describe(config, peer, root, ret);
		free(config);
		return r;
	}
	case BACKEND_UWSGI:
		return uwsgi_describe(argv, argc, peer, root, ret);
	case BACKEND_GUNICORN:
		return gunicorn_describe(argv, argc, peer, root, ret);
	case BACKEND_NODE:
		*ret = (struct backend_info){.kind = BACKEND_NODE, .proto = BACKEND_PROTO_HTTP};
		return 0;
	default:
		return -EINVAL;
	}
}

static void setting_done(struct backend_setting *s)
{
	free(s->value);
	free(s->file);
}

void backend_info_done(struct backend_info *b)
{
	if (!b)
		return;
	free(b->config_file);
	free(b->section);
	struct backend_setting *all[] = {&b->bind,  &b->workers, &b->timeout,
					 &b->pm,    &b->backlog, &b->owner,
					 &b->group, &b->mode,	 &b->error_log};
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		setting_done(all[i]);
	*b = (struct backend_info){0};
}

/* "[29-Nov-2026 22:17:09] WARNING: ..." (php-fpm's stamp, local time) */
static int64_t fpm_stamp_ms(const char *line)
{
	struct tm tm = {0};
	if (line[0] != '[' || !strptime(line + 1, "%d-%b-%Y %H:%M:%S", &tm))
		return 0;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	return t == (time_t)-1 ? 0 : (int64_t)t * 1000;
}

int backend_log_signal(const struct backend_info *b, const char *root, char *line, size_t len,
		       enum backend_signal *ret_signal, int64_t *ret_ms)
{
	static const struct {
		const char *word;
		enum backend_signal sig;
	} words[] = {
	    {"reached pm.max_children setting", BACKEND_SIGNAL_POOL_FULL},
	    {"reached max_children setting", BACKEND_SIGNAL_POOL_FULL},
	    {"execution timed out", BACKEND_SIGNAL_KILLED},
	};
	if (!b || b->kind != BACKEND_PHPFPM || !b->error_log.value || b->error_log.value[0] != '/')
		return -ENOENT;
	char *path = xasprintf("%s%s", root ? root : "", b->error_log.value);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	free(path);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	off_t from = st.st_size > BACKEND_LOG_TAIL ? st.st_size - BACKEND_LOG_TAIL : 0;
	char *buf = xmalloc(BACKEND_LOG_TAIL + 1);
	ssize_t n = pread(fd, buf, BACKEND_LOG_TAIL, from);
	close(fd);
	if (n <= 0) {
		free(buf);
		return n < 0 ? -errno : -ENOENT;
	}
	buf[n] = '\0';
	int r = -ENOENT;
	/* newest first: walk the lines from the end */
	char *end = buf + n;
	while (end > buf && r == -ENOENT) {
		char *start = end;
		while (start > buf && start[-1] != '\n')
			start--;
		size_t l = (size_t)(end - start);
		for (size_t i = 0; i < ARRAY_SIZE(words) && r == -ENOENT; i++) {
			if (!memmem(start, l, words[i].word, strlen(words[i].word)))
				continue;
			size_t k = 0;
			for (size_t j = 0; j < l && k + 1 < len; j++)
				line[k++] = (unsigned char)start[j] < 0x20 ? ' ' : start[j];
			line[k] = '\0';
			*ret_signal = words[i].sig;
			*ret_ms = fpm_stamp_ms(line);
			r = 0;
		}
		end = start > buf ? start - 1 : buf;
	}
	free(buf);
	return r;
}
