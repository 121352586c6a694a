/* curl_lib: libcurl, opened with dlopen() by the first HTTP, HTTPS or TLS
 * probe instead of linked (internal to src/probe: probe_run opens it,
 * probe_http calls through it).
 *
 * Linking libcurl maps and relocates its whole dependency chain (OpenSSL,
 * GnuTLS, Kerberos, LDAP, libssh2, ...) at start: 5.5 MB of a 10 MB idle
 * RSS, for a daemon that may probe only TCP and unix sockets. Loaded on
 * demand, the chain costs nothing until an HTTP or TLS peer is probed.
 * The table holds every libcurl function upwatch calls, with the types of
 * <curl/curl.h> (the header is still needed at build time; the library
 * only on a machine that probes HTTP or TLS). */
#pragma once
#include <curl/curl.h>
#include <stddef.h>

#define CURL_LIB_SONAME "libcurl.so.4"

struct curl_lib {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_global_cleanup) *global_cleanup;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_reset) *easy_reset;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
	__typeof__(curl_multi_setopt) *multi_setopt;
	__typeof__(curl_multi_assign) *multi_assign;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_socket_action) *multi_socket_action;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
};

/* Open soname (CURL_LIB_SONAME; tests name a missing one) and resolve every
 * function into *ret. -ENOENT when the library cannot be loaded, -ENOSYS
 * when it lacks a function; either way why[0..whylen) says so in one line
 * (dlerror's words), and *ret is not touched. The library stays mapped for
 * the life of the process (RTLD_NODELETE: TLS libraries do not survive
 * being unloaded), so the table may be copied freely. */
int curl_lib_open(const char *soname, struct curl_lib *ret, char *why, size_t whylen);
