/* uwsgi: the options uwsgi was started with — command-line flags and the ini
 * files they name — read to find the socket that serves a peer and what that
 * socket speaks (uwsgi's binary protocol, HTTP or FastCGI). */
#pragma once

#include "backend/backend.h"

/* Fills ret (config_file = the first ini, section, proto, bind, workers =
 * processes/workers, timeout = harakiri) for the socket that serves peer. */
int uwsgi_describe(const char *const *argv, size_t argc, const char *peer, const char *root,
		   struct backend_info *ret);
