/* accessstats_internal: private to src/log/accessstats*.c — the counters'
 * layout, shared by counting (accessstats.c) and reading them
 * (accessstats_read.c: windows, quantiles, impact words). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/strmap.h"
#include "log/accesslog.h"
#include "log/accessstats.h"

#define URI_MAX	  1024
#define LOC_MAX	  4096 /* cached (server, uri prefix) -> pass answers */
#define LOC_SLOTS 8192 /* twice LOC_MAX: a probe meets an empty slot soon */

struct bucket {
	int64_t slot;
	struct accessstats_counts c;
};

struct entity {
	struct bucket b[ACCESSSTATS_BUCKETS];
	int64_t minute[ACCESSSTATS_HIST_MINUTES];
	uint32_t hist[ACCESSSTATS_HIST_MINUTES][ACCESSSTATS_HIST_BINS];
	uint64_t hist_total[ACCESSSTATS_HIST_BINS]; /* since start: a span's quantiles */
	struct accessstats_counts total;
	int64_t last_served; /* epoch s; 0 never */
	size_t log;	     /* index + 1 of the log of the latest line; 0 none */
};

/* One cached answer of accessstats_pass_by_location(). */
struct loc_slot {
	uint64_t hash; /* 0: empty */
	uint32_t off;  /* the key, server then path prefix: loc_keys + off */
	uint16_t slen, plen;
	uint32_t pass; /* index + 1; 0: no pass fits */
};

/* Where a line's time falls: its bucket's slot and its minute, and their
 * places in an entity's rings (see when_of()). */
struct when {
	time_t t;
	int64_t slot, min;
	size_t b, k; /* slot % ACCESSSTATS_BUCKETS, min % ACCESSSTATS_HIST_MINUTES */
};

/* One answer of the location cache's front (accessstats_loc.c): a server
 * named by its pointer, a path prefix of at most 16 bytes as two words. */
#define FRONT_BITS  8
#define FRONT_SLOTS (1u << FRONT_BITS)
struct front_slot {
	uint64_t w0, w1;
	const char *server;
	uint32_t plen1; /* the prefix's length + 1; 0: empty */
	uint32_t pass;	/* index + 1; 0: no pass fits */
};

struct log {
	struct accessstats_log pub;
	struct accesslog_format *fmt[ACCESSSTATS_MAX_FORMATS];
	const struct ngx_access_log *dir[ACCESSSTATS_MAX_FORMATS];
	/* each format's last line (accesslog_parse_into) */
	struct accesslog_line line[ACCESSSTATS_MAX_FORMATS];
	/* decided once per format, not per line (count_line): its escape,
	 * whether its lines name their server ($server_name, $host), and
	 * else the directive's server and that name's length */
	enum ngx_log_escape esc[ACCESSSTATS_MAX_FORMATS];
	bool named[ACCESSSTATS_MAX_FORMATS];
	const char *server[ACCESSSTATS_MAX_FORMATS];
	size_t server_len[ACCESSSTATS_MAX_FORMATS];
	size_t nfmt;
};

struct accessstats {
	const struct ngx_model *m;
	struct log *logs;
	size_t nlogs;
	struct strmap by_path; /* path -> index into logs */
	struct entity **pass;  /* m->npasses, made on first use */
	struct entity **peer;  /* m->npeers */
	struct strmap extra;   /* peer key the model does not name -> struct entity * */
	size_t nextra;
	struct front_slot *front; /* FRONT_SLOTS, made on first use */
	struct loc_slot *loc;	  /* LOC_SLOTS, made on first use */
	char *loc_keys;		  /* the cached keys, one after the other */
	size_t loc_keys_len, loc_keys_cap;
	size_t nloc, prefix_max;
	size_t last_log; /* index + 1 of the log of the latest line; 0 none */
	/* the previous line's time stamp as written, and its time: lines of
	 * one second share it (a pure memo; parsing it was 265 of 2,340
	 * instructions a `combined` line, the memo costs 30) */
	char stamp[32];
	size_t stamp_len;
	time_t stamp_time;
	struct when when; /* the previous line's (a pure memo); valid when when_set */
	bool when_set;
	unsigned span;	     /* accessstats_set_span; 0: the 5 min ring */
	char span_words[48]; /* "in the last 15 min" */
};

/* A line's request path: its text as written, unescaped (into buf, cut at
 * the query) only when a caller needs more than its raw prefix. */
struct path {
	const struct accesslog_line *l;
	enum ngx_log_escape esc;
	bool done;
	char buf[URI_MAX];
};

/* The path unescaped, cut at the query (accessstats_loc.c). */
const char *accessstats_path_text(struct path *p);
/* The pass of server (slen bytes, NUL-terminated) whose location fits the
 * path best (nginx: exact, then the longest prefix); a pass of the same
 * server wins over any other. The answer is cached per (server, path
 * prefix). server_fixed: server's text lives, unchanged, as long as s (a
 * format's server, not one read from the line): its address may stand for
 * it in the cache. */
const struct ngx_pass *accessstats_pass_by_location(struct accessstats *s, const char *server,
						    size_t slen, bool server_fixed,
						    struct path *path);
/* Of the passes that reach peer p, the one whose location fits uri best
 * (same server first); NULL when no location of theirs matches. */
const struct ngx_pass *accessstats_pass_by_peer(const struct ngx_model *m, const struct ngx_peer *p,
						const char *server, const char *uri);
/* Free the location cache. */
void accessstats_loc_done(struct accessstats *s);

/* The counters of a peer key (the model's or one learned); NULL none. */
const struct entity *accessstats_peer_entity(const struct accessstats *s, const char *key);
/* The upper bound of a response-time histogram bin. */
uint64_t accessstats_bin_upper_ms(unsigned b);
