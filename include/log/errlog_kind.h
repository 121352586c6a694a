/* errlog_kind: the text of an nginx error message → its event kind.
 *
 * The mapping of tests/fixtures/nginx-error-catalog.md §4, kept apart from
 * the line grammar (errlog.c) because it is the part that grows with nginx
 * versions. Used by errlog_parse(); exported for it only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "log/errlog.h"

/* msg is the message without " (errno: text)", " (SSL: ...)", the action and
 * the context. upstream_io tells whether the line's phase is one in which
 * nginx talks to an upstream (a "recv() failed" while reading a client
 * request is not an upstream event). Sets ev->detail and ev->name where the
 * message carries them. */
enum errlog_kind errlog_kind_of(const char *msg, size_t len, struct errlog_event *ev,
				bool upstream_io);
