/* gunicorn: its command line and --config file, read to find the --bind
 * that serves a peer, --workers and --timeout, with where each is set. */
#pragma once

#include "backend/backend.h"

int gunicorn_describe(const char *const *argv, size_t argc, const char *peer, const char *root,
		      struct backend_info *ret);
