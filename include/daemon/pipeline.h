/* pipeline: the diagnosis pipeline that upwatchd and `upwatchctl explain`
 * share — one code path from a log line or a probe result to an alert.
 *
 *   log line -> errlog_parse_upstream -> diag_log_event -> alerts (+ probe_now)
 *   prober result -> diag_probe_result -> alerts
 *   diagnosis learned/expired a peer -> targets rebuilt at the next tick
 *
 * Owns the configuration, the nginx model, host facts, the prober, the
 * alert store and diagnosis, all on the caller's ev_loop. The daemon adds
 * its own parts around it (socket, signals, sd_notify, tail, reload);
 * explain feeds the lines it read once and probes every target once. The
 * struct is public for reading; only pipeline.c writes it. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/daemon.h"
#include "diagnose/alert.h"
#include "log/tail.h"

struct accessstats;
struct config;
struct diag;
struct ev_loop;
struct facts;
struct ngx_model;
struct prober;
struct software_cache;

struct pipeline {
	struct ev_loop *loop;
	struct config *cfg;
	struct ngx_model *model;
	struct facts *facts;
	struct software_cache *software; /* backend/software.h */
	struct prober *prober;
	struct alert_store *alerts;
	struct diag *diag;
	struct accessstats *access; /* the model's access logs; rebuilt with it */
	bool no_probe;		    /* no targets: nothing is ever probed */
	bool targets_stale;	    /* diagnosis learned or expired a peer */
	int prober_error;	    /* last prober_set_targets outcome, logged on change */
	uid_t worker_uid;	    /* nginx's workers (running ones, else the configured user) */
	/* per log of pipeline_set_logs: its index among the access logs + 1
	 * (accessstats_log_index), 0 for an error log, SIZE_MAX: look its
	 * lines up by path. Neither kind is looked up by path per line: that
	 * was 10 % of a storm's CPU (perf, tests/bench/daemon.py) and 20 of
	 * 1,036 instructions a `combined` access line (callgrind) */
	size_t *log_access;
	size_t nlogs;
};

/* upwatch.conf with the command line applied on top, then the nginx model
 * (configuration files or an `nginx -T` dump, "-" = standard input, read
 * once: reloads reuse it). On failure err says why. */
int pipeline_load(const struct daemon_flags *f, struct config **ret_cfg,
		  struct ngx_model **ret_model, char *err, size_t errlen);

/* Takes cfg and model (freed by pipeline_free, also on failure). on_alert
 * hears every alert change. */
int pipeline_new(struct ev_loop *loop, struct config *cfg, struct ngx_model *model, bool no_probe,
		 alert_change_fn on_alert, void *ud, struct pipeline **ret);
void pipeline_free(struct pipeline *p);

/* Swap in a fresh configuration and model (taken; the old ones freed) and
 * hand them to diagnosis and the prober. pipeline_new applies the first. */
void pipeline_swap(struct pipeline *p, struct config *cfg, struct ngx_model *model);

/* One line of the log at path: an access log's line goes to the access
 * statistics, an error log's to diagnosis; TAIL_UNPARSED when it is neither
 * an access entry nor an upstream line. path NULL: an error log, known to
 * be no access log (not looked up). may_open: a FastCGI stderr entry that
 * goes on over the next lines is TAIL_OPEN, not diagnosed (tail gives it
 * again, joined); false to take whatever the line is. */
enum tail_take pipeline_line(struct pipeline *p, const char *path, const char *line, size_t len,
			     int64_t now_ms, bool may_open);
/* One line of the access log at index log (accessstats_log_index of the
 * pipeline's statistics, taken after the last pipeline_swap): no lookup by
 * path. false when it is no access entry. */
bool pipeline_access_line(struct pipeline *p, size_t log, const char *line, size_t len,
			  int64_t now_ms);

/* The logs handed to tail_set_files (paths[i] is its index i), after the
 * last pipeline_swap: call before tail_set_files, which may deliver lines
 * of the new logs. pipeline_logs_by_path: the tail kept its old set (its
 * indexes are not these): every line is looked up by path. */
void pipeline_set_logs(struct pipeline *p, const char *const *paths, size_t n);
void pipeline_logs_by_path(struct pipeline *p);
/* The tail's tail_line_fn, userdata the pipeline: an access log's line by
 * its index, an error log's to pipeline_line at the loop's time. */
enum tail_take pipeline_tail_line(void *userdata, const char *path, size_t index, const char *line,
				  size_t len, bool may_open);

/* Rebuild the prober's targets from the plan (configured + learned peers). */
void pipeline_set_targets(struct pipeline *p);

/* Periodic: resolve alerts past their hold; rebuild stale targets. */
void pipeline_tick(struct pipeline *p, int64_t now_ms);
