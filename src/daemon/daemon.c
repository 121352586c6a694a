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
#include "daemon/plan.h"
#include "diagnose/diagnose.h"
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

#define NGINX_DUMP_MAX	  (256u << 20)
#define PROBLEMS_CHECK_MS 30000 /* problems that appear while running (EIO, chmod) */

struct daemon {
	struct ev_loop *loop;
	const struct daemon_flags *flags;
	struct config *cfg;
	struct ngx_model *model;
	struct ipc *ipc;
	struct tail *tail;
	struct prober *prober;
	struct facts *facts;
	struct alert_store *alerts;
	struct diag *diag;
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
	bool targets_stale; /* diagnosis learned or expired a peer: rebuild at the tick */
	unsigned reloads, reload_failures;
	char last_error[512];
	struct problems problems;
	char **log_paths; /* the logs handed to tail */
	size_t nlog_paths;
	char metrics_error[256];
	/* each failing call is logged when it starts failing, not every time */
	int tail_error, prober_error, watch_error, journal_error;
};

static void replace(char **dst, const char *src)
{
	if (src) {
		free(*dst);
		*dst = xstrdup(src);
	}
}

/* upwatch.conf with the command line applied on top. */
static int load_config(const struct daemon_flags *f, struct config **ret, char *err, size_t errlen)
{
	struct config *c;
	int r = config_load(f->config_path, !f->config_explicit, &c, err, errlen);
	if (r < 0)
		return r;
	replace(&c->nginx_conf, f->nginx_conf);
	if (f->nginx_dump)
		replace(&c->nginx_dump, f->nginx_dump);
	else if (f->nginx_conf) {
		free(c->nginx_dump); /* --nginx-conf beats a dump named in the file */
		c->nginx_dump = NULL;
	}
	replace(&c->socket_path, f->socket_path);
	replace(&c->state_dir, f->state_dir);
	if (f->nerror_logs) {
		c->error_logs =
		    xreallocarray(c->error_logs, c->nerror_logs + f->nerror_logs, sizeof(char *));
		for (size_t i = 0; i < f->nerror_logs; i++)
			c->error_logs[c->nerror_logs++] = xstrdup(f->error_logs[i]);
	}
	*ret = c;
	return 0;
}

/* The nginx model, from the configuration files or an `nginx -T` dump. */
static int load_model(const struct config *c, struct ngx_model **ret, char *err, size_t errlen)
{
	if (!c->nginx_dump)
		return ngxconf_load(c->nginx_conf, NULL, ret, err, errlen);

	static char *stdin_dump; /* standard input can be read once: reloads reuse it */
	static size_t stdin_len;
	char *data = NULL;
	size_t len = 0;
	int r;
	if (streq(c->nginx_dump, "-")) {
		if (!stdin_dump &&
		    (r = read_file("/dev/stdin", NGINX_DUMP_MAX, &stdin_dump, &stdin_len)) < 0) {
			snprintf(err, errlen, "cannot read the nginx dump from standard input: %s",
				 strerror(-r));
			return r;
		}
		data = stdin_dump;
		len = stdin_len;
	} else if ((r = read_file(c->nginx_dump, NGINX_DUMP_MAX, &data, &len)) < 0) {
		snprintf(err, errlen, "%s: %s", c->nginx_dump, strerror(-r));
		return r;
	}
	struct cf_dump *dump;
	r = cf_dump_parse(data, len, &dump);
	if (r < 0)
		snprintf(err, errlen,
			 "%s: not `nginx -T` output (no \"# configuration file\" line)",
			 c->nginx_dump);
	else
		r = ngxconf_load(NULL, dump, ret, err, errlen);
	cf_dump_free(dump);
	if (data != stdin_dump)
		free(data);
	return r;
}

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

static void set_targets(struct daemon *d)
{
	const char **learned;
	size_t nlearned = diag_learned_peers(d->diag, &learned);
	struct plan_targets t;
	plan_targets(d->cfg, d->model, learned, nlearned, &t);
	d->targets_stale = false;
	outcome(&d->prober_error, prober_set_targets(d->prober, t.v, t.n),
		"some peers cannot be probed (unusable address)");
	plan_targets_done(&t);
}

/* The nginx worker's identity, read from a running worker; else the user the
 * configuration names. */
static int identity_from_worker(const char *user, struct probe_identity *ret)
{
	uid_t uid;
	gid_t gid, groups[64];
	size_t n = ARRAY_SIZE(groups);
	/* another nginx may run on the host: prefer the configured user's workers */
	struct probe_identity conf;
	uid_t prefer = user && probe_identity_from_user(user, &conf) == 0 ? conf.uid : (uid_t)-1;
	int r = ngxworker_find_prefer(prefer, &uid, &gid, groups, &n);
	if (r < 0)
		return r;
	probe_identity_from_ids(uid, gid, groups, n, ret);
	return 0;
}

static void set_identity(struct daemon *d)
{
	struct probe_identity id;
	if (identity_from_worker(d->model->user, &id) < 0 &&
	    probe_identity_from_user(d->model->user ? d->model->user : "nobody", &id) < 0) {
		memset(&id, 0, sizeof(id));
		snprintf(id.user, sizeof(id.user), "%s",
			 d->model->user ? d->model->user : "nobody");
		id.uid = id.gid = 65534;
	}
	prober_set_identity(d->prober, &id);
}

static void set_logs(struct daemon *d)
{
	const char **paths;
	size_t n = plan_logs(d->cfg, d->model, &paths);
	outcome(&d->tail_error, tail_set_files(d->tail, paths, n), "following the error logs");
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
	size_t n = plan_watch(d->cfg, d->model, &files, &nglobs);
	outcome(&d->watch_error,
		cfgwatch_set(d->watch, files, n, (const char *const *)d->model->globs, nglobs),
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
	collect_problems(d->cfg, d->model, (const char *const *)d->log_paths, d->nlog_paths,
			 d->metrics_error[0] ? d->metrics_error : NULL, &d->problems);
	problems_end(&d->problems, problem_gone, d);
	for (size_t i = 0; i < d->problems.n; i++)
		if (d->problems.v[i].is_new)
			log_warning("%s: %s", d->problems.v[i].subject, d->problems.v[i].message);
}

/* Hand the freshly loaded configuration to every module. */
static void apply(struct daemon *d)
{
	log_set_max_priority(d->cfg->log_level);
	diag_set_model(d->diag, d->model, d->cfg);
	set_identity(d);
	set_targets(d);
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
	sd_notifyf(0, "STATUS=%zu peers, %u alerts firing%s%s", d->model ? d->model->npeers : 0,
		   alert_firing_count(d->alerts), d->last_error[0] ? "; last reload failed: " : "",
		   d->last_error);
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
	int r = load_config(d->flags, &c, err, errlen);
	if (r >= 0) {
		r = load_model(c, &m, err, errlen);
		if (r < 0)
			config_free(c);
	}
	if (r < 0) {
		d->reload_failures++;
		snprintf(d->last_error, sizeof(d->last_error), "%s", err);
		log_warning("reload failed, keeping the running configuration: %s", err);
		sd_notify(0, "READY=1");
		notify_status(d);
		return r;
	}
	if (!streq(c->socket_path, d->cfg->socket_path))
		log_warning("socket path change to %s takes effect at restart", c->socket_path);
	if (!streq(c->state_dir, d->cfg->state_dir))
		log_warning("state_dir change to %s takes effect at restart", c->state_dir);

	struct config *old_cfg = d->cfg;
	struct ngx_model *old_model = d->model;
	d->cfg = c;
	d->model = m;
	apply(d);
	config_free(old_cfg);
	ngxconf_free(old_model);

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

static bool on_log_line(void *userdata, const char *path, const char *line, size_t len)
{
	struct daemon *d = userdata;
	struct errlog_event ev;
	(void)path;
	if (errlog_parse_upstream(line, len, &ev) < 0)
		return false;
	/* the loop's time: no clock call per line */
	diag_log_event(d->diag, &ev, line, len, (int64_t)(ev_now(d->loop) * 1000.0));
	return true;
}

/* upwatch itself was refused a unix socket that nginx's worker may use: the
 * probe has no verdict, the socket tables have one (sock_diag, no connect()
 * needed). A listener on the path with room in its accept queue is up; no
 * listener is a stale file; no file is missing. Returns false when the facts
 * cannot tell either (the local error stays no verdict). */
static bool judge_by_facts(struct daemon *d, const struct peerkey *k, struct probe_result *r)
{
	struct host_listener l;
	if (k->kind != PEERKEY_UNIX || !facts_listener_now(d->facts, k, &l))
		return false;
	switch (l.path) {
	case HOST_PATH_LIVE:
		if (l.queue_known && l.backlog && l.queue >= l.backlog) {
			r->result = PROBE_OVERLOADED;
			snprintf(r->detail, sizeof(r->detail),
				 "accept queue full (%u of %u, sock_diag); upwatch itself may not "
				 "connect",
				 l.queue, l.backlog);
		} else {
			r->result = PROBE_OK;
			snprintf(r->detail, sizeof(r->detail),
				 "a listener on %.120s (sock_diag, accept queue %u of %u); upwatch "
				 "itself "
				 "may not connect",
				 k->host, l.queue, l.backlog);
		}
		break;
	case HOST_PATH_STALE:
		r->result = PROBE_STALE;
		r->err = ECONNREFUSED;
		snprintf(r->detail, sizeof(r->detail),
			 "nobody listens on %.120s (sock_diag): a stale socket file", k->host);
		break;
	case HOST_PATH_MISSING:
		r->result = PROBE_MISSING;
		r->err = ENOENT;
		snprintf(r->detail, sizeof(r->detail), "%.120s does not exist", k->host);
		break;
	default:
		return false;
	}
	return true;
}

static void on_probe_done(void *userdata, const char *key, const struct probe_result *r,
			  enum peer_state state)
{
	struct daemon *d = userdata;
	(void)state;
	struct peerkey k;
	bool local = peerkey_parse(key, strlen(key), 0, &k) == 0 && peerkey_is_local(&k);
	if (local && r->self_denied) {
		struct probe_result *j = xmalloc(sizeof(*j));
		*j = *r;
		if (judge_by_facts(d, &k, j))
			diag_probe_result(d->diag, key, j, now_wall_ms());
		free(j);
		return;
	}
	/* a failing local peer's listener is noted (at most once per FACTS_TTL_MS):
	 * a restart is then told by a new listening socket after the errors
	 * (host_listener_new_since), without seeing another user's /proc */
	struct host_listener l;
	if (local && r->result != PROBE_OK)
		facts_listener(d->facts, &k, &l);
	diag_probe_result(d->diag, key, r, now_wall_ms());
}

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

static bool host_last_probe(void *ud, const char *key, struct probe_result *ret)
{
	struct daemon *d = ud;
	return prober_last(d->prober, key, ret) == 0;
}

static bool host_listener(void *ud, const struct peerkey *k, bool fresh, struct host_listener *ret)
{
	struct daemon *d = ud;
	if (!ngxconf_peer(d->model, k->key) && !plan_learned_allowed(d->cfg, d->model, k))
		return false; /* a path a log line named is not ours to stat */
	return fresh ? facts_listener_now(d->facts, k, ret) : facts_listener(d->facts, k, ret);
}

static int host_ports_nearby(void *ud, const struct peerkey *k, unsigned *ports, size_t max)
{
	struct daemon *d = ud;
	return facts_ports_nearby(d->facts, k, ports, max);
}

static int host_connections(void *ud, const struct peerkey *k, struct diag_conns *ret)
{
	struct daemon *d = ud;
	unsigned tw, est;
	if (!facts_conns(d->facts, k, &tw, &est))
		return -ENODATA;
	*ret = (struct diag_conns){.time_wait = tw, .established = est};
	return 0;
}

/* `probe off;` (global, per upstream block, per peer) holds for on-demand
 * probes too: diagnosis only asks. */
static bool may_probe(const struct daemon *d, const char *key)
{
	const struct config_override *o = config_peer(d->cfg, key);
	if (o && o->probe >= 0)
		return o->probe;
	const struct ngx_peer *p = ngxconf_peer(d->model, key);
	bool on = d->cfg->probe_enabled;
	for (size_t u = 0; p && u < p->nupstreams; u++) {
		const struct config_override *uo = config_upstream(d->cfg, p->upstreams[u]);
		if (uo && uo->probe >= 0)
			on = on && uo->probe;
	}
	return on;
}

static void host_probe_now(void *ud, const char *key)
{
	struct daemon *d = ud;
	if (may_probe(d, key))
		prober_probe_now(d->prober, key, NULL, NULL);
}

static void host_learned(void *ud, const char *key, bool added)
{
	struct daemon *d = ud;
	(void)key;
	(void)added;
	d->targets_stale = true;
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
	size_t nlearned = diag_learned_peers(d->diag, &learned);
	struct metrics_sources s = {
	    .model = d->model,
	    .prober = d->prober,
	    .diag = d->diag,
	    .alerts = d->alerts,
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
	};
	return metrics_render(&s);
}

static void view(void *ud, struct commands_view *ret)
{
	struct daemon *d = ud;
	*ret = (struct commands_view){
	    .cfg = d->cfg,
	    .model = d->model,
	    .prober = d->prober,
	    .diag = d->diag,
	    .alerts = d->alerts,
	    .tail = d->tail,
	    .ipc = d->ipc,
	    .facts = d->facts,
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
	return plan_learned_allowed(d->cfg, d->model, k);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, tick);
	int64_t now = now_wall_ms();
	(void)loop;
	(void)revents;

	diag_tick(d->diag, now);
	if (d->targets_stale)
		set_targets(d);
	if (d->cfg->metrics_file &&
	    now - d->metrics_written_ms >= (int64_t)d->cfg->metrics_interval_ms) {
		char *text = metrics(d);
		int r = write_file_atomic(d->cfg->metrics_file, text, strlen(text), 0644);
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
	if (load_config(flags, &d.cfg, err, sizeof(err)) < 0 ||
	    load_model(d.cfg, &d.model, err, sizeof(err)) < 0) {
		log_error("%s", err);
		config_free(d.cfg);
		return 1;
	}
	log_set_max_priority(d.cfg->log_level);

	d.loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
	r = facts_new(d.loop, &d.facts);
	if (r < 0) {
		log_error("cannot set up host facts: %s", strerror(-r));
		goto out;
	}
	d.commands = (struct commands_host){
	    .view = view,
	    .reload = request_reload,
	    .metrics = metrics,
	    .learned_allowed = learned_allowed,
	    .ud = &d,
	};
	r = ipc_new(d.loop, d.cfg->socket_path, commands_handle, &d.commands, &d.ipc);
	if (r < 0) {
		log_error("cannot listen on %s: %s", d.cfg->socket_path,
			  r == -EADDRINUSE ? "another upwatchd is answering there" : strerror(-r));
		goto out;
	}
	if (mkdir(d.cfg->state_dir, 0750) < 0 && errno != EEXIST)
		log_debug("cannot create state directory %s: %m", d.cfg->state_dir);
	problems_init(&d.problems);

	const struct diag_host host = {
	    .last_probe = host_last_probe,
	    .listener = host_listener,
	    .ports_nearby = host_ports_nearby,
	    .connections = host_connections,
	    .probe_now = host_probe_now,
	    .learned = host_learned,
	    .ud = &d,
	};
	journal_new(d.loop, &d.journal);
	ev_timer_init(&d.reload_timer, reload_cb, 0, 0);
	d.alerts = alert_store_new(d.cfg->alert_hold_ms, on_alert_change, &d);
	d.diag = diag_new(d.alerts, &host);
	r = prober_new(d.loop, d.cfg->probe_max_inflight, on_probe_done, &d, &d.prober);
	if (r < 0) {
		log_error("cannot start the prober: %s", strerror(-r));
		goto stop;
	}
	r = tail_new(d.loop, d.cfg->state_dir, d.cfg->start_at, on_log_line, &d, &d.tail);
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
		   UPWATCH_VERSION, d.model->npeers, d.model->nupstreams, d.cfg->socket_path);
	sd_notify(0, "READY=1");
	notify_status(&d);
	ev_run(d.loop, 0);
	status = 0;
stop:
	cfgwatch_free(d.watch);
	tail_free(d.tail);
	prober_free(d.prober);
	diag_free(d.diag);
	alert_store_free(d.alerts);
	ev_timer_stop(d.loop, &d.reload_timer);
	for (size_t i = 0; i < d.nwaiters; i++)
		if (d.waiters[i].done)
			d.waiters[i].done(d.waiters[i].userdata, -ECANCELED, "stopping");
	free(d.waiters);
	ipc_free(d.ipc);
	journal_free(d.journal);
	problems_done(&d.problems);
	for (size_t i = 0; i < d.nlog_paths; i++)
		free(d.log_paths[i]);
	free(d.log_paths);
	if (status == 0)
		log_notice("stopped");
out:
	facts_free(d.facts);
	ngxconf_free(d.model);
	config_free(d.cfg);
	ev_loop_destroy(d.loop);
	return status;
}

int daemon_check_config(const struct daemon_flags *flags)
{
	struct config *c;
	struct ngx_model *m;
	char err[512];

	if (load_config(flags, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "upwatchd: %s\n", err);
		return 1;
	}
	if (load_model(c, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "upwatchd: %s\n", err);
		config_free(c);
		return 1;
	}
	printf("upwatch configuration: %s\n", c->file ? c->file : "(built-in defaults)");
	ngxconf_print(m, stdout);
	for (size_t i = 0; i < c->nerror_logs; i++)
		printf("error log (upwatch.conf/--error-log): %s\n", c->error_logs[i]);
	struct problems p;
	const char **logs;
	size_t nlogs = plan_logs(c, m, &logs);
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
