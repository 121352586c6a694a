/* ngxpeer: the peer table of the nginx model. Part of the model build.
 *
 * Once every block and *_pass is read, resolves each pass against the
 * upstream blocks the way nginx does (a host equal to a block name, without
 * a port, is the block) and derives the distinct peers with their
 * protocol, blocks and config refs, and the index ngxconf's lookups use. */
#pragma once

struct ngx_model;
struct ngx_peer;
struct ngxbuild;

/* Fill m->peers, pass->upstream and pass->key. "file:line: message" in the
 * build's err (no port, port on a block name, duplicate upstream, invalid
 * address). */
int ngxpeer_build(struct ngxbuild *b);
/* Free m->peers and the index. */
void ngxpeer_free(struct ngx_model *m);
const struct ngx_peer *ngxpeer_find(const struct ngx_model *m, const char *key);
