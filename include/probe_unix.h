/* probe_unix: the unix-socket check (src/probe_unix.c): stat, owner and mode
 * of the socket and its parent directories against the worker identity, then
 * a non-blocking connect(). Synchronous but never blocking. */
#pragma once

#include "probe.h"

void probe_unix_check(const struct probe_target *t, const struct probe_identity *id, struct probe_result *ret);
