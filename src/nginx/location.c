/* location: request -> *_pass, with a per-(target, server, URI prefix) cache
 * (see location.h). */
#include "nginx/location.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void ngx_location_cache_init(struct ngx_location_cache *c)
{
	memset(c, 0, sizeof(*c));
	strmap_init(&c->map);
}

void ngx_location_cache_done(struct ngx_location_cache *c)
{
	strmap_done(&c->map);
	memset(c, 0, sizeof(*c));
}

size_t ngx_location_match(const char *loc, const char *uri)
{
	if (!loc || !uri || !*uri)
		return 0;
	if (startswith(loc, "= "))
		return streq(loc + 2, uri) ? strlen(uri) + 1000 : 0;
	if (startswith(loc, "^~ "))
		loc += 3;
	if (loc[0] != '/')
		return 0; /* regex or named location: unknown without a regex engine */
	size_t n = strlen(loc);
	return strncmp(loc, uri, n) == 0 ? n + 1 : 0;
}

static const struct ngx_pass *lookup(const struct ngx_model *m, const struct ngx_peer *peer,
				     const struct ngx_upstream *up, const char *server_name,
				     const char *uri)
{
	const struct ngx_pass *best_pass = NULL;
	size_t best = 0;
	bool best_server = false;

	/* a peer lists the passes that reach it; only a block without a peer
	 * (no_live_upstreams) needs to look at them all */
	bool all = !peer && up;
	size_t n = peer ? peer->npasses : all ? m->npasses : 0;
	for (size_t j = 0; j < n; j++) {
		const struct ngx_pass *p = &m->passes[all ? j : peer->passes[j]];
		bool reaches = (up && p->upstream && strcasecmp(p->upstream, up->name) == 0) ||
			       (peer && p->key && streq(p->key, peer->key));
		if (!reaches)
			continue;
		bool same_server =
		    server_name[0] && p->server_name && streq(p->server_name, server_name);
		size_t score = ngx_location_match(p->location, uri);
		if (!best_pass || (same_server && !best_server) ||
		    (same_server == best_server && score > best)) {
			best_pass = p;
			best = score;
			best_server = same_server;
		}
	}
	if (best_pass || peer || up)
		return best_pass;

	/* a peer the model does not name comes from a *_pass with variables:
	 * the one in the logging server whose location matches the request */
	for (size_t i = 0; i < m->npasses; i++) {
		const struct ngx_pass *p = &m->passes[i];
		if (!p->dynamic || p->key || p->upstream)
			continue;
		if (server_name[0] && p->server_name && !streq(p->server_name, server_name))
			continue;
		size_t score = ngx_location_match(p->location, uri);
		if (score > best) {
			best_pass = p;
			best = score;
		}
	}
	return best_pass;
}

static size_t longest_prefix(const struct ngx_model *m)
{
	size_t max = 0;
	for (size_t i = 0; i < m->npasses; i++) {
		const char *loc = m->passes[i].location;
		if (!loc)
			continue;
		if (startswith(loc, "= ") || startswith(loc, "^~ "))
			loc += loc[0] == '=' ? 2 : 3;
		max = MAX(max, strlen(loc));
	}
	return max;
}

const struct ngx_pass *ngx_location_pass(struct ngx_location_cache *c, const struct ngx_model *m,
					 const struct ngx_peer *peer, const struct ngx_upstream *up,
					 const char *server_name, const char *uri)
{
	if (!m)
		return NULL;
	server_name = server_name ? server_name : "";
	uri = uri ? uri : "";
	if (c->model != m) {
		strmap_done(&c->map);
		strmap_init(&c->map);
		c->len = 0;
		c->model = m;
		c->prefix_max = longest_prefix(m);
	}
	/* no location is longer than prefix_max: the bytes after it cannot
	 * change the answer (one more tells an exact match from a longer URI) */
	char key[768];
	int n = snprintf(key, sizeof(key), "%c%s\x1f%s\x1f%.*s",
			 peer ? 'p'
			 : up ? 'u'
			      : 'd',
			 peer ? peer->key
			 : up ? up->name
			      : "",
			 server_name, (int)MIN(strlen(uri), c->prefix_max + 1), uri);
	bool cacheable = n > 0 && (size_t)n < sizeof(key);
	size_t idx;
	if (cacheable && strmap_get_index(&c->map, key, &idx))
		return idx ? &m->passes[idx - 1] : NULL;

	const struct ngx_pass *p = lookup(m, peer, up, server_name, uri);
	if (cacheable) {
		if (c->len >= NGX_LOCATION_CACHE_MAX) {
			strmap_done(&c->map);
			strmap_init(&c->map);
			c->len = 0;
		}
		strmap_put_index(&c->map, key, p ? (size_t)(p - m->passes) + 1 : 0);
		c->len++;
	}
	return p;
}
