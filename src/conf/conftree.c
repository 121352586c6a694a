/* conftree: directive tree with includes (see conftree.h).
 *
 * A recursive-descent parser over lex: parse_block() reads directives until
 * '}' or end of file; an `include` is parsed in place into the current block,
 * so callers never see include nodes. All nodes and strings live in one
 * arena freed with the tree. */
#include "conf/conftree.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "conf/lex.h"
#include "core/strmap.h"
#include "core/util.h"

#define CF_MAX_DEPTH 64 /* nested blocks + includes */
#define CF_MAX_ARGS  4096

struct cf_chunk {
	struct cf_chunk *next;
	size_t used, size;
	char data[];
};

struct cf_arena {
	struct cf_chunk *head;
	size_t total; /* bytes in all chunks, checked against CF_MAX_TREE_BYTES */
};

static void *arena_alloc(struct cf_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!a->head || a->head->size - a->head->used < n) {
		size_t size = MAX(n, (size_t)64 * 1024);
		struct cf_chunk *c = xmalloc(sizeof(*c) + size);
		c->next = a->head;
		c->used = 0;
		c->size = size;
		a->head = c;
		a->total += size;
	}
	void *p = a->head->data + a->head->used;
	a->head->used += n;
	return p;
}

static char *arena_strdup(struct cf_arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* --- warnings --- */

static void warnings_add(struct cf_warnings *w, const char *file, unsigned line, const char *text)
{
	w->v = grow_array(w->v, &w->cap, w->n + 1, sizeof(*w->v));
	w->v[w->n++] =
	    (struct cf_warning){.file = xstrdup(file), .line = line, .text = xstrdup(text)};
}

void cf_warnings_copy(struct cf_warnings *dst, const struct cf_warnings *src)
{
	for (size_t i = 0; i < src->n; i++)
		warnings_add(dst, src->v[i].file, src->v[i].line, src->v[i].text);
}

void cf_warnings_done(struct cf_warnings *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->v[i].file);
		free(w->v[i].text);
	}
	free(w->v);
	*w = (struct cf_warnings){0};
}

/* --- reading files --- */

/* Read a configuration file of at most max bytes. O_NONBLOCK so that opening
 * a FIFO returns at once; anything but a regular file is -ENOEXEC (a
 * directory -EISDIR, as nginx's pread() fails on one) except /dev/null, read
 * as empty like nginx does; too big is -EFBIG. */
static int read_conf_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3) {
		/* /dev/null: the usual way to say "an empty configuration" */
		close(fd);
		*ret_data = xstrdup("");
		*ret_len = 0;
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -ENOEXEC;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	/* the size may change under us: read until EOF, never past max */
	int r = read_fd(fd, max, ret_data, ret_len);
	close(fd);
	return r;
}

/* --- nginx -T dumps --- */

struct cf_dump_file {
	char *path;
	const char *data;
	size_t len;
};

struct cf_dump {
	char *copy;
	struct cf_dump_file *files;
	size_t nfiles, cap;
};

int cf_dump_parse(const char *data, size_t len, struct cf_dump **ret)
{
	static const char marker[] = "# configuration file ";
	struct cf_dump *d = xcalloc(1, sizeof(*d));
	d->copy = xmalloc(len + 1);
	memcpy(d->copy, data, len);
	d->copy[len] = '\0';

	struct cf_dump_file *cur = NULL;
	for (char *line = d->copy; line < d->copy + len;) {
		char *eol = memchr(line, '\n', (size_t)(d->copy + len - line));
		char *next = eol ? eol + 1 : d->copy + len;
		size_t n = (size_t)((eol ? eol : d->copy + len) - line);
		if (n > sizeof(marker) && strncmp(line, marker, sizeof(marker) - 1) == 0 &&
		    line[n - 1] == ':') {
			if (cur)
				cur->len = (size_t)(line - cur->data);
			d->files = grow_array(d->files, &d->cap, d->nfiles + 1, sizeof(*d->files));
			cur = &d->files[d->nfiles++];
			cur->path = xstrndup(line + sizeof(marker) - 1, n - sizeof(marker));
			cur->data = next;
		}
		line = next;
	}
	if (cur)
		cur->len = (size_t)(d->copy + len - cur->data);
	if (d->nfiles == 0) {
		cf_dump_free(d);
		return -ENOENT;
	}
	*ret = d;
	return 0;
}

void cf_dump_free(struct cf_dump *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nfiles; i++)
		free(d->files[i].path);
	free(d->files);
	free(d->copy);
	free(d);
}

const char *cf_dump_main(const struct cf_dump *d)
{
	return d->files[0].path;
}

static const struct cf_dump_file *dump_find(const struct cf_dump *d, const char *path)
{
	for (size_t i = 0; i < d->nfiles; i++)
		if (streq(d->files[i].path, path))
			return &d->files[i];
	return NULL;
}

/* --- the parser --- */

struct parser {
	struct cf_tree *tree;
	const struct cf_options *opts;
	const char *prefix;
	char *err;
	size_t errlen;
	const char *stack[CF_MAX_DEPTH]; /* files being parsed, for cycle detection */
	unsigned nstack;
	unsigned depth;
	size_t files_cap, globs_cap;
	/* Words of the directive being read. One array serves every nested
	 * parse_block(): a frame recurses only once its words are copied into a
	 * node, so no two frames use it at once (a CF_MAX_ARGS array per frame
	 * would put 32 KiB per nesting level on the stack). */
	char **args;
	size_t args_cap;
	struct strmap seen; /* file name → index in tree->files */
	size_t bytes_read;  /* all files so far, against CF_MAX_TOTAL_BYTES */
};

/* glob(3)'s error callback has no user pointer: the parser whose glob runs.
 * One parse at a time per process (the daemon's loop thread). */
static struct parser *glob_parser;
static const char *glob_file, *glob_pattern;
static unsigned glob_line;

static int perr(struct parser *ps, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(struct parser *ps, const char *file, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(ps->err, ps->errlen, "%s:%u: %s", file, line, msg);
	else
		snprintf(ps->err, ps->errlen, "%s: %s", file, msg);
	return -EINVAL;
}

static int parse_file(struct parser *ps, const char *path, struct cf_node *parent,
		      struct cf_node ***tail, const char *from_file, unsigned from_line);

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && streq(s + a - b, suffix);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A directory the glob cannot read: nginx (as root) would read it, we go
 * on without its files and say so. A missing directory is no warning: nginx
 * treats it as "no files" too. */
static int glob_error(const char *path, int e)
{
	if (!glob_parser || e == ENOENT || e == ENOTDIR)
		return 0;
	char text[PATH_MAX + 256];
	snprintf(text, sizeof(text),
		 "include \"%s\": cannot read directory \"%s\" (%s), its files are not read",
		 glob_pattern, path, strerror(e));
	warnings_add(&glob_parser->tree->warnings, glob_file, glob_line, text);
	return 0;
}

static int include_one(struct parser *ps, const char *pattern, struct cf_node *parent,
		       struct cf_node ***tail, const char *file, unsigned line)
{
	char full[PATH_MAX];
	if (pattern[0] == '/')
		snprintf(full, sizeof(full), "%s", pattern);
	else
		snprintf(full, sizeof(full), "%s%s%s", ps->prefix,
			 ends_with(ps->prefix, "/") ? "" : "/", pattern);

	if (!strpbrk(full, "*?["))
		return parse_file(ps, full, parent, tail, file, line);

	struct cf_tree *t = ps->tree;
	t->globs = grow_array(t->globs, &ps->globs_cap, t->nglobs + 1, sizeof(char *));
	t->globs[t->nglobs++] = arena_strdup(t->arena, full, strlen(full));

	if (ps->opts->dump) {
		const struct cf_dump *d = ps->opts->dump;
		/* What glob(3) would have matched: sorted, no leading dots. A file
		 * the dump shows once may have been read earlier by another include,
		 * so the dump's order is not the glob's. */
		const char **match = xcalloc(d->nfiles + 1, sizeof(*match));
		size_t n = 0;
		for (size_t i = 0; i < d->nfiles; i++)
			if (fnmatch(full, d->files[i].path, FNM_PATHNAME | FNM_PERIOD) == 0)
				match[n++] = d->files[i].path;
		qsort(match, n, sizeof(*match), cmp_str);
		int r = 0;
		for (size_t i = 0; i < n && r >= 0; i++)
			r = parse_file(ps, match[i], parent, tail, file, line);
		free(match);
		return r < 0 ? r : 0;
	}

	glob_t g;
	glob_parser = ps;
	glob_file = file;
	glob_line = line;
	glob_pattern = pattern;
	int r = glob(full, 0, glob_error, &g);
	glob_parser = NULL;
	if (r == GLOB_NOMATCH)
		return 0;
	if (r != 0)
		return perr(ps, file, line, "include \"%s\": glob failed", pattern);
	/* A directory matched by the glob is read like a file and fails, as in
	 * nginx ("pread() ... failed (21: Is a directory)"). */
	for (size_t i = 0; i < g.gl_pathc && r >= 0; i++)
		r = parse_file(ps, g.gl_pathv[i], parent, tail, file, line);
	globfree(&g);
	return r < 0 ? r : 0;
}

/* Parse directives into parent until '}' (when in_block) or end of file.
 * New nodes are linked at *tail, which is advanced. */
static int parse_block(struct parser *ps, struct lex *lx, const char *file, struct cf_node *parent,
		       struct cf_node ***tail, bool in_block)
{
	struct cf_arena *a = ps->tree->arena;
	unsigned argc = 0, first_line = 0;

	for (;;) {
		int tok = lex_next(lx);
		if (tok < 0)
			return perr(ps, file, lx->err_line, "%s", lx->error);

		if (a->total > CF_MAX_TREE_BYTES)
			return perr(ps, file, lx->line,
				    "configuration takes more than %u MiB in memory",
				    CF_MAX_TREE_BYTES >> 20);

		if (tok == LEX_WORD) {
			/* nginx keeps a NUL inside a word and most directives then
			 * fail on it; as a C string it would be cut short, so it is
			 * refused here rather than read as something else */
			if (memchr(lx->word, '\0', lx->word_len))
				return perr(ps, file, lx->tok_line,
					    "NUL byte in parameter \"%s...\"", lx->word);
			if (argc == 0)
				first_line = lx->tok_line;
			if (argc == CF_MAX_ARGS)
				return perr(ps, file, lx->tok_line, "too many arguments");
			ps->args = grow_array(ps->args, &ps->args_cap, argc + 1, sizeof(char *));
			char **args = ps->args;
			args[argc++] = arena_strdup(a, lx->word, lx->word_len);
			continue;
		}
		if (tok == LEX_EOF) {
			if (argc > 0)
				return perr(ps, file, lx->line,
					    "unexpected end of file, expecting \";\" or \"}\"");
			if (in_block)
				return perr(ps, file, lx->line,
					    "unexpected end of file, expecting \"}\"");
			return 0;
		}
		if (tok == LEX_BLOCK_CLOSE) {
			if (argc > 0)
				return perr(ps, file, lx->tok_line, "unexpected \"}\"");
			if (!in_block)
				return perr(ps, file, lx->tok_line, "unexpected \"}\"");
			return 0;
		}
		if (argc == 0)
			return perr(ps, file, lx->tok_line, "unexpected \"%c\"",
				    tok == LEX_SEMICOLON ? ';' : '{');

		char **args = ps->args;
		if (tok == LEX_SEMICOLON && streq(args[0], "include")) {
			if (argc != 2)
				return perr(ps, file, first_line,
					    "invalid number of arguments in \"include\" directive");
			int r = include_one(ps, args[1], parent, tail, file, first_line);
			if (r < 0)
				return r;
			argc = 0;
			continue;
		}

		struct cf_node *n = arena_alloc(a, sizeof(*n));
		*n = (struct cf_node){.file = file, .line = first_line, .argc = argc};
		n->argv = arena_alloc(a, sizeof(char *) * (argc + 1));
		memcpy(n->argv, args, sizeof(char *) * argc);
		n->argv[argc] = NULL;
		**tail = n;
		*tail = &n->next;
		argc = 0;

		if (tok == LEX_BLOCK_OPEN) {
			n->block = true;
			if (ps->opts->lua_blocks && ends_with(n->argv[0], "_by_lua_block")) {
				if (lex_skip_lua_block(lx) < 0)
					return perr(ps, file, lx->err_line, "%s", lx->error);
				continue;
			}
			if (++ps->depth > CF_MAX_DEPTH)
				return perr(ps, file, n->line, "blocks nested too deeply");
			struct cf_node **child_tail = &n->children;
			int r = parse_block(ps, lx, file, n, &child_tail, true);
			ps->depth--;
			if (r < 0)
				return r;
		}
	}
}

static int parse_file(struct parser *ps, const char *path, struct cf_node *parent,
		      struct cf_node ***tail, const char *from_file, unsigned from_line)
{
	struct cf_tree *t = ps->tree;
	char *data = NULL;
	size_t len = 0;
	const char *data_ro;
	const char *name;
	int r;

	if (ps->opts->dump) {
		const struct cf_dump_file *f = dump_find(ps->opts->dump, path);
		if (!f)
			goto missing;
		data_ro = f->data;
		len = f->len;
	} else {
		size_t budget = CF_MAX_TOTAL_BYTES - ps->bytes_read;
		r = read_conf_file(path, MIN(budget, (size_t)CF_MAX_FILE_BYTES), &data, &len);
		if (r < 0) {
			if (r == -ENOENT)
				goto missing;
			if (r == -EFBIG && budget < CF_MAX_FILE_BYTES)
				return perr(
				    ps, from_file ? from_file : path, from_line,
				    "\"%s\": the configuration files read so far total more "
				    "than %u MiB (each include counts)",
				    path, CF_MAX_TOTAL_BYTES >> 20);
			if (r == -EFBIG)
				return perr(ps, from_file ? from_file : path, from_line,
					    "\"%s\" is larger than %u MiB", path,
					    CF_MAX_FILE_BYTES >> 20);
			if (r == -ENOEXEC)
				return perr(ps, from_file ? from_file : path, from_line,
					    "\"%s\" is not a regular file", path);
			if (r == -EISDIR && from_file)
				return perr(ps, from_file, from_line, "pread() \"%s\" failed (%s)",
					    path, strerror(-r));
			if (from_file)
				return perr(ps, from_file, from_line, "open() \"%s\" failed (%s)",
					    path, strerror(-r));
			return perr(ps, path, 0, "cannot read: %s", strerror(-r));
		}
		data_ro = data;
		ps->bytes_read += len;
	}

	for (unsigned i = 0; i < ps->nstack; i++) {
		if (streq(ps->stack[i], path)) {
			free(data);
			return perr(ps, from_file, from_line,
				    "include cycle: \"%s\" includes itself", path);
		}
	}
	if (ps->nstack == CF_MAX_DEPTH) {
		free(data);
		return perr(ps, from_file, from_line, "includes nested too deeply");
	}

	name = arena_strdup(t->arena, path, strlen(path));
	/* files read more than once (fastcgi_params in every PHP location) are
	 * listed once; a map keeps that linear for trees of many files */
	if (strmap_put_index(&ps->seen, name, t->nfiles) == t->nfiles) {
		t->files = grow_array(t->files, &ps->files_cap, t->nfiles + 1, sizeof(char *));
		t->files[t->nfiles++] = (char *)name;
	}

	ps->stack[ps->nstack++] = name;
	struct lex lx;
	lex_init(&lx, data_ro, len);
	r = parse_block(ps, &lx, name, parent, tail, false);
	lex_done(&lx);
	ps->nstack--;
	free(data);
	return r;

missing:
	if (from_file)
		return perr(ps, from_file, from_line,
			    "open() \"%s\" failed (No such file or directory)", path);
	return perr(ps, path, 0, "No such file or directory");
}

int cf_parse(const char *path, const struct cf_options *opts, struct cf_tree **ret, char *err,
	     size_t errlen)
{
	static const struct cf_options defaults = {0};
	char prefix[PATH_MAX];
	struct parser ps = {.opts = opts ? opts : &defaults, .err = err, .errlen = errlen};

	if (ps.opts->prefix) {
		snprintf(prefix, sizeof(prefix), "%s", ps.opts->prefix);
	} else {
		const char *slash = strrchr(path, '/');
		if (slash == path)
			snprintf(prefix, sizeof(prefix), "/");
		else if (slash)
			snprintf(prefix, sizeof(prefix), "%.*s", (int)(slash - path), path);
		else
			snprintf(prefix, sizeof(prefix), ".");
	}
	ps.prefix = prefix;

	struct cf_tree *t = xcalloc(1, sizeof(*t));
	t->arena = xcalloc(1, sizeof(*t->arena));
	t->root = arena_alloc(t->arena, sizeof(*t->root));
	*t->root = (struct cf_node){.file = "", .block = true};
	ps.tree = t;

	struct cf_node **tail = &t->root->children;
	strmap_init(&ps.seen);
	int r = parse_file(&ps, path, t->root, &tail, NULL, 0);
	free(ps.args);
	strmap_done(&ps.seen);
	if (r < 0) {
		cf_tree_free(t);
		return r;
	}
	t->main_file = t->files[0];
	*ret = t;
	return 0;
}

void cf_tree_free(struct cf_tree *t)
{
	if (!t)
		return;
	if (t->arena) {
		for (struct cf_chunk *c = t->arena->head, *next; c; c = next) {
			next = c->next;
			free(c);
		}
		free(t->arena);
	}
	free(t->files);
	free(t->globs);
	cf_warnings_done(&t->warnings);
	free(t);
}

int cf_node_verror(char *err, size_t errlen, const struct cf_node *n, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(err, errlen, "%s:%u: %s", n->file, n->line, msg);
	return -EINVAL;
}

struct cf_node *cf_find(const struct cf_node *block, const char *name)
{
	for (struct cf_node *n = block->children; n; n = n->next)
		if (streq(n->argv[0], name))
			return n;
	return NULL;
}
