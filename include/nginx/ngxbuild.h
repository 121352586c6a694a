/* ngxbuild: the state of one model build and what every part of it shares.
 *
 * ngxconf_load() owns one struct ngxbuild for the time it takes to turn a
 * directive tree into a model; the parts that read the tree (ngxupstream,
 * ngxpass) and resolve it (ngxpeer) write into build->m and report errors
 * through here, so error text, refs and argument checks are written once.
 * Also builds the one model element any scope may hold: error_log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/strmap.h"
#include "nginx/ngxconf.h"

struct cf_node;
struct cf_tree;

struct ngxbuild {
	struct ngx_model *m;
	const char *prefix, *default_error_log;
	char *err;
	size_t errlen;
	struct strmap files;		/* tree file name → index into m->files */
	const char *last_in, *last_out; /* ref cache: nodes come in file runs */
	size_t logs_cap, ups_cap, passes_cap, stub_cap;
	size_t *timeouts_slots; /* index + 1 into m->timeouts, by hash_timeouts */
	size_t timeouts_cap, timeouts_alloc;
};

/* Start a build of m from t: copies the tree's file and glob lists into m.
 * opts may be NULL (ngxconf.h's defaults). */
void ngxbuild_init(struct ngxbuild *b, struct ngx_model *m, const struct cf_tree *t,
		   const struct ngxconf_options *opts, char *err, size_t errlen);
void ngxbuild_done(struct ngxbuild *b);

/* "file:line: message" of node n (or of ref) into the build's err; -EINVAL. */
int ngxbuild_err(struct ngxbuild *b, const struct cf_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ngxbuild_err_at(struct ngxbuild *b, const struct ngx_ref *ref, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The model's ref for a node (the file name owned by the model). */
struct ngx_ref ngxbuild_ref(struct ngxbuild *b, const struct cf_node *n);

/* nginx's argument checks, with its error texts. */
int ngxbuild_args(struct ngxbuild *b, const struct cf_node *n, unsigned min, unsigned max);
int ngxbuild_uint(struct ngxbuild *b, const struct cf_node *n, unsigned *ret);
int ngxbuild_flag(struct ngxbuild *b, const struct cf_node *n, bool *ret);

/* The model's shared copy of s (NULL for NULL): see ngxstr.h. */
const char *ngxbuild_str(struct ngxbuild *b, const char *s);
const char *ngxbuild_str_n(struct ngxbuild *b, const char *s, size_t len);

/* The model's shared copy of t (equal settings, one copy: strings and
 * files are the model's, so equal texts are equal pointers). */
const struct ngx_timeouts *ngxbuild_timeouts(struct ngxbuild *b, const struct ngx_timeouts *t);

/* An array grown by doubling, cut to its n elements once complete: the
 * model lives as long as the configuration (10k upstreams: -9 MB). */
void *ngxbuild_fit(void *arr, size_t n, size_t size);

/* An error_log directive, at any level. */
int ngxbuild_error_log(struct ngxbuild *b, const struct cf_node *n);
/* No main-level error_log: nginx's compiled-in one, first in the list. */
void ngxbuild_default_error_log(struct ngxbuild *b);
