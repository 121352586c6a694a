/* json_nginx: JSON of the nginx model (see json.h). */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

#include "nginx/ngxconf.h"
#include "output/json.h"

cJSON *json_nginx_peer(const struct ngx_model *m, const struct ngx_peer *p)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "peer", p->key);
	cJSON_AddStringToObject(o, "protocol", ngxconf_proto_name(p->proto));
	/* only the exceptions: most peers are probed primaries */
	if (!p->probed)
		cJSON_AddFalseToObject(o, "probed");
	if (p->backup)
		cJSON_AddTrueToObject(o, "backup");
	if (p->tls && p->proto == NGX_PROTO_TCP)
		cJSON_AddTrueToObject(o, "tls"); /* stream proxy_ssl: the protocol does not say */
	cJSON *ups = cJSON_AddArrayToObject(o, "upstreams");
	for (size_t i = 0; i < p->nupstreams; i++)
		cJSON_AddItemToArray(ups, cJSON_CreateString(p->upstreams[i]));
	cJSON *locs = cJSON_AddArrayToObject(o, "locations");
	for (size_t i = 0; i < p->npasses; i++) {
		const struct ngx_ref *r = &m->passes[p->passes[i]].ref;
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++) {
			const struct ngx_ref *o2 = &m->passes[p->passes[j]].ref;
			dup = o2->line == r->line && o2->file == r->file; /* files are interned */
		}
		if (dup)
			continue;
		char buf[4200];
		snprintf(buf, sizeof(buf), "%s:%u", r->file, r->line);
		cJSON_AddItemToArray(locs, cJSON_CreateString(buf));
	}
	return o;
}
