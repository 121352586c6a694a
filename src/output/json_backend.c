/* json_backend: the software behind a peer as JSON (see output/json.h). */
#include "output/json.h"

#include <cjson/cJSON.h>
#include <stdio.h>

#include "backend/backend.h"

static void add_setting(cJSON *o, const char *name, const struct backend_setting *s)
{
	if (!s->value)
		return;
	cJSON *v = cJSON_AddObjectToObject(o, name);
	cJSON_AddStringToObject(v, "value", s->value);
	if (s->file) {
		char ref[4200];
		snprintf(ref, sizeof(ref), "%s:%u", s->file, s->line);
		cJSON_AddStringToObject(v, "config_ref", ref);
	} else {
		cJSON_AddStringToObject(v, "config_ref", "command line");
	}
}

struct cJSON *json_backend_software(const struct backend_info *b)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", backend_kind_name(b->kind));
	if (b->bound && b->bind.file) {
		char ref[4200];
		snprintf(ref, sizeof(ref), "%s:%u", b->bind.file, b->bind.line);
		cJSON_AddStringToObject(o, "config_ref", ref);
	} else if (b->bound && b->bind.value) {
		cJSON_AddStringToObject(o, "config_ref", "command line");
	} else {
		cJSON_AddNullToObject(o, "config_ref");
	}
	if (b->config_file)
		cJSON_AddStringToObject(o, "config_file", b->config_file);
	if (b->section)
		cJSON_AddStringToObject(o, "section", b->section);
	if (b->proto != BACKEND_PROTO_UNKNOWN)
		cJSON_AddStringToObject(o, "protocol", backend_proto_name(b->proto));
	add_setting(o, "bind", &b->bind);
	add_setting(o, "workers", &b->workers);
	add_setting(o, "timeout", &b->timeout);
	add_setting(o, "pm", &b->pm);
	add_setting(o, "listen_owner", &b->owner);
	add_setting(o, "listen_group", &b->group);
	add_setting(o, "listen_mode", &b->mode);
	add_setting(o, "error_log", &b->error_log);
	return o;
}
