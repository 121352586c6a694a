/* accessstats: what nginx's access logs say about each location and peer.
 *
 * Built from a model: one entry per followable access_log file (its
 * log_format compiled once; a file several directives share is matched
 * against each of their formats in turn). Every line is matched, its
 * request placed on the *_pass that served it (the peer's passes when the
 * format has $upstream_addr, else the server's locations, with nginx's
 * location rules) and counted:
 *   - per pass and per peer: requests, 502 / 503 / 504 / any 5xx and
 *     nginx's retries, in a ring of ACCESSSTATS_BUCKETS buckets of
 *     ACCESSSTATS_BUCKET_SECS seconds (sliding 1 m and 5 m windows), plus
 *     totals since start;
 *   - upstream response times in a log-scale histogram per minute over the
 *     last ACCESSSTATS_HIST_MINUTES minutes (quantiles within 10 %: bins 1.1 apart, 1 ms to an
 * hour);
 *   - per peer, the last time nginx got a non-5xx answer through it.
 * Memory is bounded by the passes and peers lines name (entries made on
 * first use), plus at most ACCESSSTATS_MAX_EXTRA peers the model does not
 * name (a *_pass with variables); never by lines. Times are the lines' own
 * ($time_local / $time_iso8601) when they have one, else the caller's now. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "nginx/ngxconf.h"

#define ACCESSSTATS_BUCKET_SECS	 10
#define ACCESSSTATS_BUCKETS	 30 /* 5 min */
#define ACCESSSTATS_HIST_MINUTES 5
#define ACCESSSTATS_HIST_BINS	 160
#define ACCESSSTATS_MAX_EXTRA	 256
#define ACCESSSTATS_MAX_LOGS	 256
#define ACCESSSTATS_MAX_FORMATS	 4 /* formats tried on one file */

struct accessstats;

struct accessstats_counts {
	uint64_t requests, s502, s503, s504, s5xx, retries;
};

/* One followed access-log file. */
struct accessstats_log {
	const char *path;
	const struct ngx_access_log *first; /* the first directive naming it */
	bool upstream_vars; /* every format it is written with has $upstream_addr and (http)
			       $upstream_status */
	uint64_t lines, unparsed, unmatched; /* unmatched: no *_pass fits the request */
};

/* m must outlive s. Formats that do not compile leave their file out. */
int accessstats_new(const struct ngx_model *m, struct accessstats **ret);
void accessstats_free(struct accessstats *s);

/* A reload: the counts of from (built on the previous model, still alive)
 * carried into to, built on the new one — logs by path, peers by key,
 * passes by server, location, directive and target (not by line, which an
 * edit above them moves). What the new model no longer has is dropped. The
 * followers keep their offsets, so no line is counted twice. */
void accessstats_carry(struct accessstats *to, const struct accessstats *from);

size_t accessstats_nlogs(const struct accessstats *s);
/* The followed log at path; NULL when path is none of the model's access logs. */
const struct accessstats_log *accessstats_log_by_path(const struct accessstats *s,
						      const char *path);
/* The entry time of one line of the access log at path (its formats'
 * $time_local / $time_iso8601): 0, -ENOENT (not an access log of the
 * model) or -EINVAL (no format matched, or the format has no time). For
 * logseek_since_by. */
int accessstats_line_time(const struct accessstats *s, const char *path, const char *line,
			  size_t len, time_t *ret);

/* The statistics hold only the lines of the last secs seconds (`explain
 * --since`): the impact then counts every line read (the totals) and says
 * "in the last <secs>". 0 (the default): the last 5 minutes' ring. */
void accessstats_set_span(struct accessstats *s, unsigned secs);
/* The counts an impact is told over: the last 5 min, or the span. */
bool accessstats_pass_recent(const struct accessstats *s, size_t pass, time_t now,
			     struct accessstats_counts *ret);
bool accessstats_peer_recent(const struct accessstats *s, const char *peer, time_t now,
			     struct accessstats_counts *ret);
/* "in the last 5 min", or the span's ("in the last 2 h"). */
const char *accessstats_recent_words(const struct accessstats *s);
const struct accessstats_log *accessstats_log_at(const struct accessstats *s, size_t i);

/* Peers with counts, model peers first then the others:
 * for (size_t i = 0; accessstats_next_peer(s, &i, &key);) */
bool accessstats_next_peer(const struct accessstats *s, size_t *iter, const char **ret_key);

/* One line of log path. -ENOENT: not an access log of the model (the line
 * belongs to someone else); -EINVAL: no format matched (counted as
 * unparsed); 0: counted. */
int accessstats_line(struct accessstats *s, const char *path, const char *line, size_t len,
		     time_t now);
/* Whether path is one of the model's access logs, and its index
 * (accessstats_log_at's) for accessstats_line_at: looked up once per log,
 * not per line (an error log's lines need no lookup by path at all). */
bool accessstats_log_index(const struct accessstats *s, const char *path, size_t *ret);
/* accessstats_line for the log at index i, without looking its path up (a
 * strcmp() of the path on every line was 20 of 1,036 instructions a
 * `combined` line, callgrind). -ENOENT when no log has index i. */
int accessstats_line_at(struct accessstats *s, size_t i, const char *line, size_t len, time_t now);

/* The log the pass's latest line came from; NULL before any. */
const struct accessstats_log *accessstats_pass_log(const struct accessstats *s, size_t pass);

/* Sums over the last secs seconds (rounded up to whole buckets, at most
 * 300) up to now. false when the pass / peer has no entry (no line yet). */
bool accessstats_pass_window(const struct accessstats *s, size_t pass, unsigned secs, time_t now,
			     struct accessstats_counts *ret);
bool accessstats_peer_window(const struct accessstats *s, const char *peer, unsigned secs,
			     time_t now, struct accessstats_counts *ret);
bool accessstats_pass_total(const struct accessstats *s, size_t pass,
			    struct accessstats_counts *ret);
bool accessstats_peer_total(const struct accessstats *s, const char *peer,
			    struct accessstats_counts *ret);
/* The q-quantile (0 < q <= 1) of upstream response times through peer over
 * the last minutes (1..ACCESSSTATS_HIST_MINUTES) in ms: the upper bound of
 * its histogram bin. -ENOENT when no time was logged then. */
int accessstats_peer_quantile_ms(const struct accessstats *s, const char *peer, double q,
				 unsigned minutes, time_t now, uint64_t *ret);
/* The same over what an impact is told over: the last 5 minutes, or every
 * line read with a span (accessstats_set_span). */
int accessstats_peer_quantile_recent_ms(const struct accessstats *s, const char *peer, double q,
					time_t now, uint64_t *ret);
/* Whether nginx got a 2xx/3xx/4xx answer through peer within secs of now. */
bool accessstats_peer_served(const struct accessstats *s, const char *peer, unsigned secs,
			     time_t now);

/* The gateway status counted most in c (502, then 504, then 503 on a tie)
 * and, in *ret_n, how often. */
int accessstats_worst(const struct accessstats_counts *c, uint64_t *ret_n);

/* "412 requests to location /api/ (site.conf:12) answered 502 in the last
 * 5 min, 3.1 % of its traffic": the pass's most frequent of 502/503/504
 * over the last 5 minutes (or the span). Returns the length written (0 when the pass had
 * no such answer). */
size_t accessstats_impact(const struct accessstats *s, size_t pass, time_t now, char *buf,
			  size_t len);
/* For a log whose format lacks the upstream variables: the lines to add
 * (a log_format with them, and the access_log directive naming it), with
 * the file:line of the directive to change. Returns the length written. */
size_t accessstats_format_advice(const struct accessstats_log *l, char *buf, size_t len);
