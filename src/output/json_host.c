/* json_host: host facts as JSON (see output/json.h). */
#include "output/json.h"

#include <cjson/cJSON.h>

#include "core/util.h"
#include "host/host.h"

struct cJSON *json_host_listener(const struct host_listener *l)
{
	cJSON *o = cJSON_CreateObject();
	if (l->pid > 0)
		cJSON_AddNumberToObject(o, "pid", l->pid);
	if (l->process[0])
		cJSON_AddStringToObject(o, "process", l->process);
	if (l->started_ms > 0) {
		char buf[32];
		format_time_ms(l->started_ms, buf);
		cJSON_AddStringToObject(o, "started", buf);
	}
	if (l->unit[0])
		cJSON_AddStringToObject(o, "unit", l->unit);
	if (l->unit_known) {
		if (l->active_state[0])
			cJSON_AddStringToObject(o, "active_state", l->active_state);
		if (l->sub_state[0])
			cJSON_AddStringToObject(o, "sub_state", l->sub_state);
		if (l->result[0])
			cJSON_AddStringToObject(o, "result", l->result);
		cJSON_AddNumberToObject(o, "restarts", l->nrestarts);
	}
	return o;
}
