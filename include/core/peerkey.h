/* peerkey: the one spelling of a peer that every module uses as its key.
 *
 * "127.0.0.1:8080", "[::1]:8080" (canonical inet_ntop form), "unix:/run/app.sock",
 * "backend.example:8443" (host names lower-cased, never resolved). The config
 * model, the log parser and the prober all produce keys through here so that
 * a log line and a probe result land on the same peer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define PEERKEY_MAX 300 /* "unix:" + sun_path (108) or a 253-byte host name + ":65535" */

enum peerkey_kind {
	PEERKEY_IPV4,
	PEERKEY_IPV6,
	PEERKEY_UNIX,
	PEERKEY_HOST,
};

struct peerkey {
	enum peerkey_kind kind;
	char key[PEERKEY_MAX]; /* normalised key */
	char host[256];	       /* address or host name without brackets; unix: the path */
	unsigned port;	       /* 0 for unix */
};

/* Normalise "addr[:port]", "[v6][:port]" or "unix:/path" of length len.
 * default_port applies when no port is given (0 = a port is required).
 * Returns 0, or -EINVAL when s is not a peer address. */
int peerkey_parse(const char *s, size_t len, unsigned default_port, struct peerkey *ret);

/* A port number 1..65535 of exactly len digits. */
int peerkey_parse_port(const char *s, size_t len, unsigned *ret);

/* Whether an IP key is a loopback address (127.0.0.0/8, ::1). Unix keys count
 * as local too. Host names are not local (they are not resolved here). */
bool peerkey_is_local(const struct peerkey *k);
