/* phpfpm: php-fpm's configuration — the master file, its include globs, the
 * [pool] sections — read to find the pool whose `listen` serves a peer. */
#pragma once

#include "backend/backend.h"

/* The master configuration file php-fpm was started with: the path in its
 * process title ("php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"),
 * --fpm-config/-y, else Debian's default for the version in the exe name
 * (/usr/sbin/php-fpm8.2 -> /etc/php/8.2/fpm/php-fpm.conf). NULL if unknown.
 * The caller frees it. */
char *phpfpm_config_path(const char *exe, const char *const *argv, size_t argc);

/* Fills ret (kind, config_file, section = pool name, proto fastcgi, bind =
 * listen, workers = pm.max_children, timeout = request_terminate_timeout, pm,
 * owner/group/mode = listen.owner/.group/.mode, error_log) for the pool that
 * serves peer. root prefixes every path read. */
int phpfpm_describe(const char *config, const char *peer, const char *root,
		    struct backend_info *ret);
