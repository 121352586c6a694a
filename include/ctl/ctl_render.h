/* ctl_render: upwatchctl's human output for each answer of the JSON socket,
 * and the Nagios/Icinga `check` verdict. Pure functions of the JSON. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

struct cJSON;

#define CHECK_OK       0
#define CHECK_WARNING  1
#define CHECK_CRITICAL 2
#define CHECK_UNKNOWN  3

void ctl_render(const char *cmd, const struct cJSON *resp, bool verbose, FILE *out);
/* One line per alert change from `watch`. */
void ctl_render_event(const struct cJSON *ev, FILE *out);
/* From an `alerts` answer: print the status line, return the Nagios code. */
int ctl_check(const struct cJSON *resp, FILE *out);
int ctl_check_unreachable(const char *path);
