/* json_log: the log stage's JSON (see output/json.h). */
#include <cjson/cJSON.h>

#include "core/util.h"
#include "log/tail.h"
#include "output/json.h"

void json_log_stats(const struct tail *t, struct cJSON *array)
{
	for (size_t i = 0; i < tail_count(t); i++) {
		struct tail_log l;
		tail_log_at(t, i, &l);
		const struct tail_stats *s = l.stats;
		const struct {
			const char *name;
			uint64_t v;
		} fields[] = {
		    {"lines", s->lines},	   {"bytes", s->bytes},
		    {"rotations", s->rotations},   {"truncations", s->truncations},
		    {"lines_cut", s->lines_cut},   {"lines_unparsed", s->lines_unparsed},
		    {"lines_lost", s->lines_lost}, {"nul_bytes", s->nul_bytes},
		};
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", l.path);
		for (size_t k = 0; k < ARRAY_SIZE(fields); k++)
			cJSON_AddNumberToObject(o, fields[k].name, (double)fields[k].v);
		if (l.error) {
			cJSON *e = cJSON_AddObjectToObject(o, "error");
			cJSON_AddNumberToObject(e, "errno", l.error);
			cJSON_AddStringToObject(e, "message", l.error_msg);
		} else {
			cJSON_AddNullToObject(o, "error");
		}
		cJSON_AddItemToArray(array, o);
	}
}
