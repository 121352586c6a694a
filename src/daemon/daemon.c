/* daemon: the loop and the wiring between modules (see daemon.h).
 *
 *   tail line -> errlog_parse -> diag_log_event -> alerts (+ probe_now)
 *   prober result -> diag_probe_result -> alerts
 *   alert change -> journald, socket subscribers, stderr in the foreground
 *   diagnosis learned/expired a peer (callback) -> targets rebuilt at the next tick
 *   tick (1 s) -> diag_tick (resolve), metrics file
 *   SIGHUP / `reload` / config file changed -> load fresh -> swap on success
 *   SIGTERM -> STOPPING=1 -> everything freed, offsets saved, socket removed */
#include "daemon/daemon.h"

#include <ev.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "diagnose/alert.h"
#include "build-config.h"
#include "conf/cfgwatch.h"
#include "conf/config.h"
#include "conf/conftree.h"
#include "daemon/commands.h"
#include "daemon/pipeline.h"
#include "daemon/plan.h"
#include "diagnose/diagnose.h"
#include "log/accessstats.h"
#include "log/errlog.h"
#include "host/facts.h"
#include "output/ipc.h"
#include "output/journal.h"
#include "output/json.h"
#include "core/log.h"
#include "output/metrics.h"
#include "output/problems.h"
#include "nginx/ngxconf.h"
#include "probe/probe.h"
#include "host/host.h"
#include "host/ngxworker.h"
#include "probe/probe_unix.h"
#include "log/tail.h"
#include "core/peerkey.h"
#include "core/util.h"

#define PROBLEMS_CHECK_MS 30000 /* problems that appear while running (EIO, chmod) */

struct daemon {
	struct ev_loop *loop;
	const struct daemon_flags *flags;
	struct pipeline *p; /* config, model, facts, prober, alerts, diagnosis */
	struct ipc *ipc;
	struct tail *tail;
	struct cfgwatch *watch;
	struct journal *journal;
	struct commands_host commands;
	ev_signal sigterm, sigint, sighup;
	ev_timer watchdog, tick;
	ev_timer reload_timer; /* a requested reload runs from here, once */
	struct reload_waiter {
		commands_reload_fn done;
		void *userdata;
	} * waiters;
	size_t nwaiters, waiters_cap;
	bool answering_reload; /* inside reload_cb's answers: the outcome below */
	int reload_r;
	const char *reload_err;
	int64_t started_ms, metrics_written_ms, problems_checked_ms;
	unsigned reloads, reload_failures;
	char last_error[512];
	struct problems problems;
	char **log_paths; /* the logs handed to tail */
	size_t nlog_paths;
	char metrics_error[256];
	/* each failing call is logged when it starts failing, not every time */
	int tail_error, watch_error, journal_error;
};

/* --- what to probe and follow (planned by plan.c), handed to each module --- */

/* Log a failing setup call once when it starts failing, and its recovery. */
static void outcome(int *state, int r, const char *what)
{
	if (r < 0 && r != *state)
		log_warning("%s: %s", what, strerror(-r));
	else if (r >= 0 && *state < 0)
		log_notice("%s: working again", what);
	*state = r < 0 ? r : 0;
}

static void set_logs(struct daemon *d)
{
	const char **paths;
	size_t n = plan_logs(d->p->cfg, d->p->model, d->p->access, &paths);
	/* before tail_set_files, which may deliver lines of the new logs */
	pipeline_set_logs(d->p, paths, n);
	int r = tail_set_files(d->tail, paths, n);
	if (r == -EINVAL) /* the old set stays, with its old positions: look up every line */
		pipeline_logs_by_path(d->p);
	outcome(&d->tail_error, r, "following the error logs");
	for (size_t i = 0; i < d->nlog_paths; i++)
		free(d->log_paths[i]);
	d->log_paths = xreallocarray(d->log_paths, n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		d->log_paths[i] = xstrdup(paths[i]);
	d->nlog_paths = n;
	free(paths);
}

static void set_watch(struct daemon *d)
{
	const char **files;
	if (!d->watch)
		return;
	size_t nglobs;
	size_t n = plan_watch(d->p->cfg, d->p->model, &files, &nglobs);
	outcome(&d->watch_error,
		cfgwatch_set(d->watch, files, n, (const char *const *)d->p->model->globs, nglobs),
		"watching the configuration files for changes");
	free(files);
}

/* The loaders' warnings (an include directory that cannot be read, ...). */
static void add_warnings(const struct cf_warnings *w, struct problems *p)
{
	char where[PATH_MAX + 16];
	for (size_t i = 0; i < w->n; i++) {
		if (w->v[i].line)
			snprintf(where, sizeof(where), "%s:%u", w->v[i].file, w->v[i].line);
		else
			snprintf(where, sizeof(where), "%s", w->v[i].file);
		problems_add(p, PROBLEM_CONFIG, where, "%s", w->v[i].text);
	}
}

/* What would keep us from the whole job, checked without blocking: the
 * configuration loaders' warnings; the state directory must take files;
 * every log must open and read as a regular file (a missing one is fine:
 * followed from when it appears). The running daemon adds tail's per-log
 * faults before these (check_problems). */
static void collect_problems(const struct config *c, const struct ngx_model *m,
			     const char *const *logs, size_t nlogs, const char *metrics_error,
			     struct problems *p)
{
	struct stat st;
	add_warnings(&c->warnings, p);
	add_warnings(&m->warnings, p);
	if (stat(c->state_dir, &st) < 0)
		problems_add(p, PROBLEM_STATE_DIR, c->state_dir,
			     "cannot use the state directory: %s; log offsets will not be saved "
			     "and lines written while upwatchd is down are lost",
			     strerror(errno));
	else if (!S_ISDIR(st.st_mode) || access(c->state_dir, W_OK | X_OK) < 0)
		problems_add(p, PROBLEM_STATE_DIR, c->state_dir,
			     "cannot write the state directory: %s; log offsets will not be saved "
			     "and lines written while upwatchd is down are lost",
			     S_ISDIR(st.st_mode) ? strerror(errno) : "not a directory");
	for (size_t i = 0; i < nlogs; i++) {
		int fd = open(logs[i], O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		char b;
		if (fd < 0) {
			if (errno != ENOENT)
				problems_add(p, PROBLEM_ERROR_LOG, logs[i], "cannot open: %s",
					     strerror(errno));
			continue;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			problems_add(p, PROBLEM_ERROR_LOG, logs[i], "not a regular file");
		else if (pread(fd, &b, 1, 0) < 0)
			problems_add(p, PROBLEM_ERROR_LOG, logs[i], "cannot read: %s",
				     strerror(errno));
		close(fd);
	}
	if (metrics_error)
		problems_add(p, PROBLEM_METRICS_FILE, c->metrics_file, "%s", metrics_error);
}

static void problem_gone(void *ud, const struct problem *pr)
{
	(void)ud;
	log_notice("resolved: %s %s", problem_kind_name(pr->kind), pr->subject);
}

/* Rebuild the problem list; each new problem is a warning once. */
static void check_problems(struct daemon *d)
{
	problems_begin(&d->problems);
	/* tail's own view first: a read that failed later (EIO), an offsets
	 * file that cannot be loaded or saved */
	for (size_t i = 0; d->tail && i < tail_count(d->tail); i++) {
		struct tail_log l;
		tail_log_at(d->tail, i, &l);
		if (l.error)
			problems_add(&d->problems, PROBLEM_ERROR_LOG, l.path, "%s", l.error_msg);
	}
	collect_problems(d->p->cfg, d->p->model, (const char *const *)d->log_paths, d->nlog_paths,
			 d->metrics_error[0] ? d->metrics_error : NULL, &d->problems);
	problems_end(&d->problems, problem_gone, d);
	for (size_t i = 0; i < d->problems.n; i++)
		if (d->problems.v[i].is_new)
			log_warning("%s: %s", d->problems.v[i].subject, d->problems.v[i].message);
}

/* Hand the freshly loaded configuration to the daemon's own modules (the
 * pipeline has it already). */
static void apply(struct daemon *d)
{
	log_set_max_priority(d->p->cfg->log_level);
	set_logs(d);
	if (d->watch)
		set_watch(d);
	check_problems(d);
	/* building the model and the targets peaks far above what stays: give
	 * the freed pages back (tests/bench/daemon.py, 10,000 TCP peers:
	 * RssAnon 17.5 -> 14.9 MB) */
	malloc_trim(0);
}

static void notify_status(struct daemon *d)
{
	sd_notifyf(0, "STATUS=%zu peers, %u alerts firing%s%s",
		   d->p->model ? d->p->model->npeers : 0, alert_firing_count(d->p->alerts),
		   d->last_error[0] ? "; last reload failed: " : "", d->last_error);
}

static int daemon_reload(struct daemon *d, char *err, size_t errlen)
{
	struct config *c;
	struct ngx_model *m = NULL;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ULL +
		       (unsigned long long)ts.tv_nsec / 1000);
	int r = pipeline_load(d->flags, &c, &m, err, errlen);
	if (r < 0) {
		d->reload_failures++;
		snprintf(d->last_error, sizeof(d->last_error), "%s", err);
		log_warning("reload failed, keeping the running configuration: %s", err);
		sd_notify(0, "READY=1");
		notify_status(d);
		return r;
	}
	if (!streq(c->socket_path, d->p->cfg->socket_path))
		log_warning("socket path change to %s takes effect at restart", c->socket_path);
	if (!streq(c->state_dir, d->p->cfg->state_dir))
		log_warning("state_dir change to %s takes effect at restart", c->state_dir);

	pipeline_swap(d->p, c, m);
	apply(d);

	d->reloads++;
	d->last_error[0] = '\0';
	log_notice("configuration reloaded: %zu peers, %zu upstream blocks", m->npeers,
		   m->nupstreams);
	sd_notify(0, "READY=1");
	notify_status(d);
	return 0;
}

static void reload_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, reload_timer);
	char err[512] = "";
	(void)loop;
	(void)revents;
	/* requests arriving from the callbacks below start a new round */
	struct reload_waiter *waiters = d->waiters;
	size_t n = d->nwaiters;
	d->waiters = NULL;
	d->nwaiters = d->waiters_cap = 0;
	int r = daemon_reload(d, err, sizeof(err));
	d->answering_reload = true;
	d->reload_r = r;
	d->reload_err = err;
	for (size_t i = 0; i < n; i++)
		if (waiters[i].done)
			waiters[i].done(waiters[i].userdata, r, err);
	d->answering_reload = false;
	free(waiters);
}

/* Reload soon, from the loop: requests that arrive while one is pending join
 * it (at most one pending) and each requester hears the outcome. A reload
 * never runs inside a client's read callback, so pipelined requests cannot
 * hold the loop. */
static void request_reload(void *ud, commands_reload_fn done, void *userdata)
{
	struct daemon *d = ud;
	/* Asked while the answers of a reload go out: the request was read
	 * before that reload started (no client is read meanwhile), so the
	 * reload that just ran satisfies it. Pipelined reloads cost one. */
	if (d->answering_reload) {
		if (done)
			done(userdata, d->reload_r, d->reload_err);
		return;
	}
	d->waiters = grow_array(d->waiters, &d->waiters_cap, d->nwaiters + 1, sizeof(*d->waiters));
	d->waiters[d->nwaiters++] = (struct reload_waiter){done, userdata};
	if (!ev_is_active(&d->reload_timer))
		ev_timer_start(d->loop, &d->reload_timer);
}

/* --- module callbacks --- */

static void on_alert_change(void *userdata, const struct alert *a)
{
	struct daemon *d = userdata;
	outcome(&d->journal_error, journal_send_alert(d->journal, a),
		"sending alerts to journald (counted as dropped)");
	/* JSON only for someone to read it: building and printing it for no
	 * client was 23% of the daemon's CPU ingesting real lines (perf,
	 * tests/bench/daemon.py: 4,174 alert changes in 336 k lines) */
	if (ipc_has_subscribers(d->ipc)) {
		cJSON *o = json_alert(a);
		ipc_publish(d->ipc, o);
		cJSON_Delete(o);
	}
	log_notice("alert %s %s %s %s: %s", a->firing ? "firing" : "resolved",
		   alert_severity_name(a->severity), cause_name(a->cause),
		   a->peer ? a->peer : (a->upstream ? a->upstream : "-"), a->summary);
	notify_status(d);
}

static void on_config_changed(void *userdata)
{
	struct daemon *d = userdata;
	log_info("configuration files changed, reloading");
	request_reload(d, NULL, NULL);
}

/* --- signals and timers --- */

static void on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_notice("received %s, stopping", strsignal(w->signum));
	sd_notify(0, "STOPPING=1");
	ev_break(loop, EVBREAK_ALL);
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, sighup);
	(void)loop;
	(void)revents;
	request_reload(d, NULL, NULL);
}

/* Fires only while the loop runs, so a stalled loop stops the pings and
 * systemd restarts us. */
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	sd_notify(0, "WATCHDOG=1");
}

static char *metrics(void *ud)
{
	struct daemon *d = ud;
	const char **learned;
	size_t nlearned = diag_learned_peers(d->p->diag, &learned);
	struct metrics_sources s = {
	    .model = d->p->model,
	    .prober = d->p->prober,
	    .diag = d->p->diag,
	    .alerts = d->p->alerts,
	    .tail = d->tail,
	    .ipc = d->ipc,
	    .extra_peers = learned,
	    .nextra_peers = nlearned,
	    .extra_proto = ngxconf_proto_name(PLAN_LEARNED_PROTO),
	    .problems = &d->problems,
	    .journal_dropped = journal_dropped(d->journal) + log_journal_dropped(),
	    .reloads = d->reloads,
	    .reload_failures = d->reload_failures,
	    .rss_bytes = commands_rss_bytes(),
	    .access = d->p->access,
	    .now = (long)ev_now(d->loop),
	};
	return metrics_render(&s);
}

static void view(void *ud, struct commands_view *ret)
{
	struct daemon *d = ud;
	*ret = (struct commands_view){
	    .cfg = d->p->cfg,
	    .model = d->p->model,
	    .access = d->p->access,
	    .now = (long)ev_now(d->loop),
	    .prober = d->p->prober,
	    .diag = d->p->diag,
	    .alerts = d->p->alerts,
	    .tail = d->tail,
	    .ipc = d->ipc,
	    .facts = d->p->facts,
	    .software = d->p->software,
	    .journal = d->journal,
	    .problems = &d->problems,
	    .started_ms = d->started_ms,
	    .reloads = d->reloads,
	    .reload_failures = d->reload_failures,
	    .last_error = d->last_error,
	};
}

static bool learned_allowed(void *ud, const struct peerkey *k)
{
	struct daemon *d = ud;
	return plan_learned_allowed(d->p->cfg, d->p->model, k);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, tick);
	int64_t now = now_wall_ms();
	(void)loop;
	(void)revents;

	pipeline_tick(d->p, now);
	if (d->p->cfg->metrics_file &&
	    now - d->metrics_written_ms >= (int64_t)d->p->cfg->metrics_interval_ms) {
		char *text = metrics(d);
		int r = write_file_atomic(d->p->cfg->metrics_file, text, strlen(text), 0644);
		bool was = d->metrics_error[0];
		if (r < 0)
			snprintf(d->metrics_error, sizeof(d->metrics_error), "cannot write: %s",
				 strerror(-r));
		else
			d->metrics_error[0] = '\0';
		free(text);
		d->metrics_written_ms = now;
		if (was != (r < 0))
			check_problems(d);
	}
	if (now - d->problems_checked_ms >= PROBLEMS_CHECK_MS) {
		d->problems_checked_ms = now;
		check_problems(d);
	}
}

int daemon_run(const struct daemon_flags *flags)
{
	struct daemon d = {.flags = flags, .started_ms = now_wall_ms()};
	char err[512];
	uint64_t wd_usec = 0;
	int status = 1, r;

	signal(SIGPIPE, SIG_IGN);
	struct config *cfg;
	struct ngx_model *model;
	if (pipeline_load(flags, &cfg, &model, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	log_set_max_priority(cfg->log_level);

	d.loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
	journal_new(d.loop, &d.journal);
	problems_init(&d.problems);
	if (pipeline_new(d.loop, cfg, model, false, on_alert_change, &d, &d.p) < 0)
		goto out;
	d.commands = (struct commands_host){
	    .view = view,
	    .reload = request_reload,
	    .metrics = metrics,
	    .learned_allowed = learned_allowed,
	    .ud = &d,
	};
	r = ipc_new(d.loop, d.p->cfg->socket_path, commands_handle, &d.commands, &d.ipc);
	if (r < 0) {
		log_error("cannot listen on %s: %s", d.p->cfg->socket_path,
			  r == -EADDRINUSE ? "another upwatchd is answering there" : strerror(-r));
		goto out;
	}
	if (mkdir(d.p->cfg->state_dir, 0750) < 0 && errno != EEXIST)
		log_debug("cannot create state directory %s: %m", d.p->cfg->state_dir);

	ev_timer_init(&d.reload_timer, reload_cb, 0, 0);
	r = tail_new(d.loop, d.p->cfg->state_dir, d.p->cfg->start_at, pipeline_tail_line, d.p,
		     &d.tail);
	if (r < 0) {
		log_error("cannot watch error logs (inotify): %s", strerror(-r));
		goto stop;
	}
	r = cfgwatch_new(d.loop, 500, NULL, on_config_changed, &d, &d.watch);
	if (r < 0)
		log_warning("cannot watch configuration files (inotify: %s); reload with SIGHUP",
			    strerror(-r));
	apply(&d);

	ev_signal_init(&d.sigterm, on_stop, SIGTERM);
	ev_signal_init(&d.sigint, on_stop, SIGINT);
	ev_signal_init(&d.sighup, on_hup, SIGHUP);
	ev_signal_start(d.loop, &d.sigterm);
	ev_signal_start(d.loop, &d.sigint);
	ev_signal_start(d.loop, &d.sighup);
	ev_timer_init(&d.tick, on_tick, 1.0, 1.0);
	ev_timer_start(d.loop, &d.tick);
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		double half = (double)wd_usec / 2e6;
		ev_timer_init(&d.watchdog, on_watchdog, half, half);
		ev_timer_start(d.loop, &d.watchdog);
	}

	log_notice("upwatchd %s started: %zu peers, %zu upstream blocks, socket %s",
		   UPWATCH_VERSION, d.p->model->npeers, d.p->model->nupstreams,
		   d.p->cfg->socket_path);
	sd_notify(0, "READY=1");
	notify_status(&d);
	ev_run(d.loop, 0);
	status = 0;
stop:
	cfgwatch_free(d.watch);
	tail_free(d.tail);
	ev_timer_stop(d.loop, &d.reload_timer);
	for (size_t i = 0; i < d.nwaiters; i++)
		if (d.waiters[i].done)
			d.waiters[i].done(d.waiters[i].userdata, -ECANCELED, "stopping");
	free(d.waiters);
	for (size_t i = 0; i < d.nlog_paths; i++)
		free(d.log_paths[i]);
	free(d.log_paths);
	if (status == 0)
		log_notice("stopped");
out:
	pipeline_free(d.p);
	ipc_free(d.ipc);
	journal_free(d.journal);
	problems_done(&d.problems);
	ev_loop_destroy(d.loop);
	return status;
}

int daemon_check_config(const struct daemon_flags *flags)
{
	struct config *c;
	struct ngx_model *m;
	char err[512];

	if (pipeline_load(flags, &c, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "upwatchd: %s\n", err);
		return 1;
	}
	printf("upwatch configuration: %s\n", c->file ? c->file : "(built-in defaults)");
	ngxconf_print(m, stdout);
	for (size_t i = 0; i < c->nerror_logs; i++)
		printf("error log (upwatch.conf/--error-log): %s\n", c->error_logs[i]);
	struct problems p;
	const char **logs;
	size_t nlogs = plan_logs(c, m, NULL, &logs);
	problems_init(&p);
	collect_problems(c, m, logs, nlogs, NULL, &p);
	for (size_t i = 0; i < p.n; i++)
		printf("warning: %s: %s\n", p.v[i].subject, p.v[i].message);
	problems_done(&p);
	free(logs);
	printf("upwatchd: configuration ok\n");
	ngxconf_free(m);
	config_free(c);
	return 0;
}
