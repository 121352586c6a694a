/* ngxpeer: the peer table of the nginx model. Part of the model build.
 *
 * Once every block and *_pass is read, resolves each pass against the
 * upstream blocks the way nginx does (a host equal to a block name, without
 * a port, is the block) and derives the distinct peers with their
 * protocol, blocks and config refs, and the index ngxconf's lookups use. */
#pragma once

#include <stddef.h>

#include "core/strmap.h"

struct ngx_model;
struct ngx_peer;
struct ngxbuild;

/* A list of indexes into m->passes. */
struct ngxpeer_passes {
	size_t n;
	size_t v[];
};

/* The model's hashes (m->index), read by ngxconf's lookups. */
struct ngxpeer_index {
	struct strmap peers;	 /* key → index into m->peers */
	struct strmap blocks[2]; /* http, stream: name (case-insensitive) → index */
	struct strmap hosts;	 /* host name (case-insensitive) → first peer */
	struct strmap dynamic;	 /* server_name → struct ngxpeer_passes * */
	struct ngxpeer_passes *all_dynamic, *nameless_dynamic;
};

/* Fill m->peers, pass->upstream and pass->key. "file:line: message" in the
 * build's err (no port, port on a block name, duplicate upstream, invalid
 * address). */
int ngxpeer_build(struct ngxbuild *b);
/* Free m->peers and the index. */
void ngxpeer_free(struct ngx_model *m);
