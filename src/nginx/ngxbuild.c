/* ngxbuild: build state, error text and error_log (see ngxbuild.h). */
#include "nginx/ngxbuild.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conftree.h"
#include "core/hash.h"
#include "core/util.h"
#include "nginx/ngxstr.h"
#include "nginx/ngxvalue.h"

void ngxbuild_init(struct ngxbuild *b, struct ngx_model *m, const struct cf_tree *t,
		   const struct ngxconf_options *opts, char *err, size_t errlen)
{
	*b = (struct ngxbuild){
	    .m = m,
	    .prefix = opts && opts->prefix ? opts->prefix : NGXCONF_DEFAULT_PREFIX,
	    .default_error_log = opts && opts->default_error_log ? opts->default_error_log
								 : NGXCONF_DEFAULT_ERROR_LOG,
	    .err = err,
	    .errlen = errlen,
	};
	strmap_init(&b->files);
	m->strings = ngxstr_new();
	m->main_file = xstrdup(t->main_file);
	m->files = xcalloc(t->nfiles + 1, sizeof(char *));
	for (size_t i = 0; i < t->nfiles; i++) {
		m->files[i] = xstrdup(t->files[i]);
		strmap_put_index(&b->files, m->files[i], i);
	}
	m->nfiles = t->nfiles;
	m->globs = xcalloc(t->nglobs + 1, sizeof(char *));
	for (size_t i = 0; i < t->nglobs; i++)
		m->globs[i] = xstrdup(t->globs[i]);
	m->nglobs = t->nglobs;
}

void ngxbuild_done(struct ngxbuild *b)
{
	strmap_done(&b->files);
	free(b->timeouts_slots);
	b->m->timeouts = ngxbuild_fit(b->m->timeouts, b->m->ntimeouts, sizeof(*b->m->timeouts));
}

/* ---- shared settings ---- */

static bool same_ref(const struct ngx_ref *a, const struct ngx_ref *b)
{
	return a->file == b->file && a->line == b->line;
}

/* Pointers compare: the strings are the pool's and the files the model's
 * (a literal default and a pooled copy of the same text only share less). */
static bool same_timeouts(const struct ngx_timeouts *a, const struct ngx_timeouts *b)
{
	return a->connect_ms == b->connect_ms && a->read_ms == b->read_ms &&
	       a->send_ms == b->send_ms && same_ref(&a->connect_ref, &b->connect_ref) &&
	       same_ref(&a->read_ref, &b->read_ref) && same_ref(&a->send_ref, &b->send_ref) &&
	       a->next_upstream == b->next_upstream &&
	       a->next_upstream_tries == b->next_upstream_tries &&
	       a->next_upstream_timeout_ms == b->next_upstream_timeout_ms &&
	       a->buffer_size == b->buffer_size &&
	       same_ref(&a->buffer_size_ref, &b->buffer_size_ref) &&
	       a->ssl_verify == b->ssl_verify && a->ssl_server_name == b->ssl_server_name &&
	       a->ssl_trusted_certificate == b->ssl_trusted_certificate &&
	       a->resolver == b->resolver && same_ref(&a->resolver_ref, &b->resolver_ref);
}

static uint64_t hash_timeouts(const struct ngx_timeouts *t)
{
	const uint64_t v[] = {t->connect_ms,
			      t->read_ms,
			      t->send_ms,
			      (uint64_t)(uintptr_t)t->read_ref.file ^ t->read_ref.line,
			      (uint64_t)(uintptr_t)t->connect_ref.file ^ t->connect_ref.line,
			      (uint64_t)(uintptr_t)t->next_upstream,
			      t->buffer_size,
			      (uint64_t)(uintptr_t)t->resolver ^ t->ssl_verify ^
				  ((uint64_t)t->ssl_server_name << 1)};
	uint64_t h = 0;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		h = hash_mix64(h ^ v[i]);
	return h;
}

static void timeouts_grow(struct ngxbuild *b)
{
	size_t cap = b->timeouts_cap ? b->timeouts_cap * 2 : 64;
	size_t *slots = xcalloc(cap, sizeof(*slots));
	for (size_t i = 0; i < b->m->ntimeouts; i++) {
		size_t j = hash_timeouts(b->m->timeouts[i]) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = i + 1;
	}
	free(b->timeouts_slots);
	b->timeouts_slots = slots;
	b->timeouts_cap = cap;
}

const struct ngx_timeouts *ngxbuild_timeouts(struct ngxbuild *b, const struct ngx_timeouts *t)
{
	struct ngx_model *m = b->m;
	if ((m->ntimeouts + 1) * 2 > b->timeouts_cap)
		timeouts_grow(b);
	size_t j = hash_timeouts(t) & (b->timeouts_cap - 1);
	for (; b->timeouts_slots[j]; j = (j + 1) & (b->timeouts_cap - 1)) {
		const struct ngx_timeouts *have = m->timeouts[b->timeouts_slots[j] - 1];
		if (same_timeouts(have, t))
			return have;
	}
	m->timeouts =
	    grow_array(m->timeouts, &b->timeouts_alloc, m->ntimeouts + 1, sizeof(*m->timeouts));
	struct ngx_timeouts *copy = xmalloc(sizeof(*copy));
	*copy = *t;
	m->timeouts[m->ntimeouts] = copy;
	b->timeouts_slots[j] = ++m->ntimeouts;
	return copy;
}

int ngxbuild_err(struct ngxbuild *b, const struct cf_node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = cf_node_verror(b->err, b->errlen, n, fmt, ap);
	va_end(ap);
	return r;
}

int ngxbuild_err_at(struct ngxbuild *b, const struct ngx_ref *ref, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(b->err, b->errlen, "%s:%u: %s", ref->file ? ref->file : "?", ref->line, msg);
	return -EINVAL;
}

struct ngx_ref ngxbuild_ref(struct ngxbuild *b, const struct cf_node *n)
{
	if (n->file != b->last_in) {
		size_t i = 0;
		b->last_in = n->file;
		b->last_out = strmap_get_index(&b->files, n->file, &i) ? b->m->files[i] : NULL;
	}
	return (struct ngx_ref){.file = b->last_out, .line = n->line};
}

int ngxbuild_args(struct ngxbuild *b, const struct cf_node *n, unsigned min, unsigned max)
{
	if (n->argc < min || n->argc > max)
		return ngxbuild_err(b, n, "invalid number of arguments in \"%s\" directive",
				    n->argv[0]);
	return 0;
}

int ngxbuild_uint(struct ngxbuild *b, const struct cf_node *n, unsigned *ret)
{
	int r = ngxbuild_args(b, n, 2, 2);
	if (r < 0)
		return r;
	if (parse_uint(n->argv[1], NGX_UINT_MAX, ret) < 0)
		return ngxbuild_err(b, n, "invalid value \"%s\" in \"%s\" directive", n->argv[1],
				    n->argv[0]);
	return 0;
}

int ngxbuild_flag(struct ngxbuild *b, const struct cf_node *n, bool *ret)
{
	int r = ngxbuild_args(b, n, 2, 2);
	if (r < 0)
		return r;
	if (strcasecmp(n->argv[1], "on") == 0)
		*ret = true;
	else if (strcasecmp(n->argv[1], "off") == 0)
		*ret = false;
	else
		return ngxbuild_err(b, n,
				    "invalid value \"%s\" in \"%s\" directive, "
				    "it must be \"on\" or \"off\"",
				    n->argv[1], n->argv[0]);
	return 0;
}

const char *ngxbuild_str(struct ngxbuild *b, const char *s)
{
	return ngxstr_intern(b->m->strings, s);
}

const char *ngxbuild_str_n(struct ngxbuild *b, const char *s, size_t len)
{
	return ngxstr_intern_n(b->m->strings, s, len);
}

void *ngxbuild_fit(void *arr, size_t n, size_t size)
{
	return n ? xreallocarray(arr, n, size) : arr;
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
static void set_log_target(struct ngxbuild *b, struct ngx_error_log *e, const char *target)
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

static struct ngx_error_log *new_log(struct ngxbuild *b)
{
	struct ngx_model *m = b->m;
	m->error_logs =
	    grow_array(m->error_logs, &b->logs_cap, m->nerror_logs + 1, sizeof(*m->error_logs));
	return &m->error_logs[m->nerror_logs++];
}

int ngxbuild_error_log(struct ngxbuild *b, const struct cf_node *n)
{
	int r = ngxbuild_args(b, n, 2, 64);
	if (r < 0)
		return r;
	const char *level = NULL;
	bool debug = false;
	for (unsigned i = 2; i < n->argc; i++) {
		if (startswith(n->argv[i], "debug_")) {
			debug = true;
		} else if (!is_level(n->argv[i])) {
			return ngxbuild_err(b, n, "invalid log level \"%s\"", n->argv[i]);
		} else if (level) {
			return ngxbuild_err(b, n, "duplicate log level \"%s\"", n->argv[i]);
		} else {
			level = n->argv[i];
		}
	}
	struct ngx_error_log *e = new_log(b);
	*e = (struct ngx_error_log){.ref = ngxbuild_ref(b, n)};
	e->level = xstrdup(level ? level : debug ? "debug" : "error");
	set_log_target(b, e, n->argv[1]);
	return 0;
}

void ngxbuild_default_error_log(struct ngxbuild *b)
{
	struct ngx_model *m = b->m;
	new_log(b);
	memmove(m->error_logs + 1, m->error_logs, (m->nerror_logs - 1) * sizeof(*m->error_logs));
	struct ngx_error_log *e = &m->error_logs[0];
	*e = (struct ngx_error_log){.level = xstrdup("error")};
	set_log_target(b, e, b->default_error_log);
}
