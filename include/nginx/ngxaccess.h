/* ngxaccess: the access_log and log_format lines of http {}. Part of the
 * model build.
 *
 * Reads every log_format of the http block first (nginx wants a format
 * defined before an access_log names it; reading them all first only makes
 * the model forgiving of order), then walks http → server → location
 * (nested, if, limit_except) and appends one struct ngx_access_log per
 * access_log directive, plus nginx's implicit default when http {} has
 * none. A target upwatch cannot tail (syslog:, a pipe, gzip, variables in
 * the path, /dev/stdout) is kept with followable false and a note. */
#pragma once

struct cf_node;
struct ngxbuild;

/* Read one top-level http block. Errors "file:line: message". */
int ngxaccess_walk(struct ngxbuild *b, const struct cf_node *http);
/* The built-in combined format, first in the model's list; called once
 * per build whether or not there is an http block. */
void ngxaccess_builtin(struct ngxbuild *b);
