/* conftree: parse an nginx-syntax configuration into a tree of directives,
 * expanding `include` (globs sorted, relative to a prefix directory, cycles
 * refused) the way nginx does. Sources are files on disk or an `nginx -T`
 * dump. Every node keeps the file and line it came from.
 *
 * The tree owns all its memory (one arena); nodes are read-only to callers. */
#pragma once

#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>

struct cf_node {
	const char *file; /* path as nginx names it in errors */
	unsigned line;
	unsigned argc; /* argv[0] is the directive name */
	char **argv;
	bool block;		  /* has a { } body (children may still be NULL) */
	struct cf_node *children; /* first child */
	struct cf_node *next;	  /* next sibling */
};

/* Something a load went on past but a reader should know (file:line + text),
 * e.g. an include directory that cannot be read. */
struct cf_warning {
	char *file;
	unsigned line; /* 0: no line */
	char *text;
};

struct cf_warnings {
	struct cf_warning *v;
	size_t n, cap;
};

/* Append a copy of each of src's warnings to dst (dst starts zeroed). */
void cf_warnings_copy(struct cf_warnings *dst, const struct cf_warnings *src);
void cf_warnings_done(struct cf_warnings *w);

struct cf_tree {
	struct cf_node *root; /* virtual node: root->children are the top-level directives */
	const char *main_file;
	char **files; /* every file read, in the order first read */
	size_t nfiles;
	char **globs; /* every include glob pattern (its directory may gain files) */
	size_t nglobs;
	struct cf_warnings warnings; /* from a successful parse */
	struct cf_arena *arena;
};

/* An `nginx -T` dump split on its "# configuration file PATH:" markers. */
struct cf_dump;
int cf_dump_parse(const char *data, size_t len, struct cf_dump **ret);
void cf_dump_free(struct cf_dump *d);
/* The first file of the dump: the main configuration file. */
const char *cf_dump_main(const struct cf_dump *d);

struct cf_options {
	const char *prefix;	    /* relative includes resolve here; NULL = main file's dir */
	const struct cf_dump *dump; /* read files from this dump instead of the disk */
	bool lua_blocks;	    /* treat *_by_lua_block bodies as opaque Lua */
};

/* Limits of one parse, all files together: bytes read (a file included
 * twice, or hard links to one file, count each time) and tree memory. */
#define CF_MAX_FILE_BYTES  (64u << 20)
#define CF_MAX_TOTAL_BYTES (64u << 20)
#define CF_MAX_TREE_BYTES  (256u << 20)

/* Files are opened with O_NONBLOCK and must be regular files (a FIFO named
 * by an include is refused, never waited on); /dev/null reads as empty. Errors are written to err
 * as "file:line: message" (or "file: message"). */
int cf_parse(const char *path, const struct cf_options *opts, struct cf_tree **ret, char *err,
	     size_t errlen);
void cf_tree_free(struct cf_tree *t);

/* Write "file:line: message" about node n into err; returns -EINVAL, so
 * callers can `return cf_node_verror(...)`. */
int cf_node_verror(char *err, size_t errlen, const struct cf_node *n, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* The first child of block named name. */
struct cf_node *cf_find(const struct cf_node *block, const char *name);
