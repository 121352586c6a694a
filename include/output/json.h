/* json: every JSON encoding of the pipeline's plain structs, in one place
 * (as sway's ipc-json.c). Each stage keeps to its own block below. */
#pragma once

struct cJSON;

/* host */
struct host_listener;
/* {"path", "inode", "uid", "accept_queue", "accept_backlog", "pid", "process",
 * "started", "unit", "active_state", "sub_state", "result", "restarts",
 * "prev_inode", "prev_seen", "since", "time_wait", "established",
 * "not_visible": [{"what", "dropin"}]}: only the fields that are known. */
struct cJSON *json_host_listener(const struct host_listener *l);
