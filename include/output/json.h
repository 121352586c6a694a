/* json: every JSON encoder of upwatch's plain structs, in one place at the
 * output edge (sway's ipc-json.c). The caller owns what is returned. Each
 * stage keeps to its own block. */
#pragma once

#include <cjson/cJSON.h>

/* diagnose */
struct alert;
struct diag;
/* DESIGN.md's alert object. */
cJSON *json_alert(const struct alert *a);
/* {"connect_failed": N, ...} for every event kind, added to obj. */
void json_diag_events(const struct diag *d, cJSON *obj);
/* {"tracked": N, "untracked_events": N}: peers learned from the logs. */
cJSON *json_diag_learned(const struct diag *d);
