/* json_host: host facts as JSON (see output/json.h). */
#include "output/json.h"

#include <cjson/cJSON.h>

#include "core/util.h"
#include "host/host.h"

static void add_time(cJSON *o, const char *name, int64_t ms)
{
	char buf[32];
	format_time_ms(ms, buf);
	cJSON_AddStringToObject(o, name, buf);
}

static void add_hidden(cJSON *o, unsigned hidden)
{
	cJSON *a = cJSON_AddArrayToObject(o, "not_visible");
	for (unsigned bit = 1; bit && bit <= hidden; bit <<= 1) {
		if (!(hidden & bit) || !host_hidden_what(bit))
			continue;
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "what", host_hidden_what(bit));
		if (host_hidden_dropin(bit))
			cJSON_AddStringToObject(h, "dropin", host_hidden_dropin(bit));
		cJSON_AddItemToArray(a, h);
	}
}

struct cJSON *json_host_listener(const struct host_listener *l)
{
	cJSON *o = cJSON_CreateObject();
	if (host_path_name(l->path))
		cJSON_AddStringToObject(o, "path", host_path_name(l->path));
	if (l->inode)
		cJSON_AddNumberToObject(o, "inode", (double)l->inode);
	if (l->uid_known && l->listening)
		cJSON_AddNumberToObject(o, "uid", l->uid);
	if (l->queue_known && l->listening) {
		cJSON_AddNumberToObject(o, "accept_queue", l->queue);
		cJSON_AddNumberToObject(o, "accept_backlog", l->backlog);
	}
	if (l->pid > 0)
		cJSON_AddNumberToObject(o, "pid", l->pid);
	if (l->process[0])
		cJSON_AddStringToObject(o, "process", l->process);
	if (l->started_ms > 0)
		add_time(o, "started", l->started_ms);
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
	if (l->before_ms > 0) {
		cJSON_AddNumberToObject(o, "prev_inode", (double)l->prev_inode);
		add_time(o, "prev_seen", l->before_ms);
		add_time(o, "since", l->since_ms);
	}
	if (l->conns_known) {
		cJSON_AddNumberToObject(o, "time_wait", l->time_wait);
		cJSON_AddNumberToObject(o, "established", l->established);
	}
	if (l->hidden)
		add_hidden(o, l->hidden);
	return o;
}
