/* ngxaccess: the access_log and log_format lines of http {} and stream {}.
 * Part of the model build.
 *
 * Reads every log_format of the http block first (nginx wants a format
 * defined before an access_log names it; reading them all first only makes
 * the model forgiving of order), then walks http → server → location
 * (nested, if, limit_except) and appends one struct ngx_access_log per
 * access_log directive, plus nginx's implicit default when http {} has
 * none. A target upwatch cannot tail (syslog:, a pipe, gzip, variables in
 * the path, /dev/stdout) is kept with followable false and a note.
 *
 * stream {} (ngx_stream_log_module) has formats of its own (a name may be
 * reused apart from http's), no `combined`, no implicit access log, and an
 * access_log there must name its format. A stream server's access_log
 * records that server's proxy_pass line (pass_ref), so that a session line
 * without $upstream_addr is still counted on it. */
#pragma once

#include <stdbool.h>

struct cf_node;
struct ngxbuild;

/* Read one top-level http or stream block. Errors "file:line: message". */
int ngxaccess_walk(struct ngxbuild *b, const struct cf_node *block, bool stream);
/* The built-in combined format, first in the model's list; called once
 * per build whether or not there is an http block. */
void ngxaccess_builtin(struct ngxbuild *b);
