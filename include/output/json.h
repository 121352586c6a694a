/* json: the JSON encoders of the stages below output — the one place that
 * turns their plain structs into cJSON (DESIGN.md: JSON at the edge). Each
 * stage keeps its own block, implemented in src/output/json_<stage>.c. */
#pragma once

struct cJSON;

/* log */
struct tail;
/* Append one object per followed log to array: {"path", "lines", "bytes",
 * "rotations", "truncations", "lines_cut", "lines_unparsed", "lines_lost",
 * "nul_bytes", "error": null | {"errno": N, "message": "..."}}. */
void json_log_stats(const struct tail *t, struct cJSON *array);
