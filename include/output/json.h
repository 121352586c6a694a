/* json: every JSON encoding of the pipeline's plain structs, in one place
 * (as sway's ipc-json.c). Each stage keeps to its own block below. */
#pragma once

struct cJSON;

/* host */
struct host_listener;
/* {"pid", "process", "started", "unit", "active_state", "sub_state", "result",
 * "restarts"}: only the fields that are known. */
struct cJSON *json_host_listener(const struct host_listener *l);
