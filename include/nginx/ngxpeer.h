/* ngxpeer: the peers of an nginx configuration model (part of ngxconf).
 *
 * Resolves each *_pass against the upstream blocks the way nginx does (a
 * host equal to a block name, without a port, is the block), derives the
 * distinct peers with their protocol, blocks and config refs, and presents
 * them (--check-config text, the peer object's static JSON). Used by
 * ngxconf only; callers use the ngxconf_* functions. */
#pragma once

#include <stddef.h>
#include <stdio.h>

struct cJSON;
struct ngx_model;
struct ngx_peer;

/* Fill m->peers, pass->upstream and pass->key. "file:line: message" in err
 * (no port, port on a block name, duplicate upstream, invalid address). */
int ngxpeer_build(struct ngx_model *m, char *err, size_t errlen);
/* Free m->peers and the index. */
void ngxpeer_free(struct ngx_model *m);
/* nginx's word for what is wrong with an address: "invalid port" or
 * "invalid host" (as in "invalid port in upstream \"...\""). */
const char *ngxpeer_addr_error(const char *addr);
const struct ngx_peer *ngxpeer_find(const struct ngx_model *m, const char *key);
int ngxpeer_print(const struct ngx_model *m, FILE *out);
struct cJSON *ngxpeer_json(const struct ngx_model *m, const struct ngx_peer *p);
