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

#include <cjson/cJSON.h>
#include <errno.h>
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
#include "diagnose/diagnose.h"
#include "log/accessstats.h"
#include "log/errlog.h"
#include "host/facts.h"
#include "output/ipc.h"
#include "output/journal.h"
#include "output/json.h"
#include "core/log.h"
#include "output/metrics.h"
#include "nginx/ngxconf.h"
#include "probe/probe.h"
#include "host/host.h"
#include "host/ngxworker.h"
#include "probe/probe_unix.h"
#include "log/tail.h"
#include "core/util.h"

#define NGINX_DUMP_MAX (256u << 20)

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

/* --- what to probe and follow, from the model and upwatch.conf --- */

static void apply_override(struct probe_target *t, const struct config_override *o)
{
	if (!o)
		return;
	if (o->probe >= 0)
		t->enabled = t->enabled && o->probe;
	if (o->interval_ms)
		t->interval_ms = o->interval_ms;
	if (o->timeout_ms)
		t->timeout_ms = o->timeout_ms;
	if (o->health_uri)
		t->health_uri = o->health_uri;
	if (o->host)
		t->host_header = o->host;
	if (o->expect_lo) {
		t->expect_lo = o->expect_lo;
		t->expect_hi = o->expect_hi;
	}
}

static void target_defaults(const struct config *c, struct probe_target *t)
{
	t->enabled = c->probe_enabled;
	t->probed = true;
	t->interval_ms = c->probe_interval_ms;
	t->timeout_ms = c->probe_timeout_ms;
	t->retry_ms = c->probe_retry_ms;
	t->retries = c->probe_retries;
	/* no health_uri / expect_*: any HTTP status is a response, as for nginx */
	if (t->timeout_ms > t->interval_ms)
		t->timeout_ms = t->interval_ms;
}

/* How the prober checks a peer nginx speaks proto to; false: not probed. */
static bool probe_proto_of(enum ngx_proto proto, enum probe_proto *ret)
{
	switch (proto) {
	case NGX_PROTO_HTTP:
		*ret = PROBE_PROTO_HTTP;
		return true;
	case NGX_PROTO_HTTPS:
		*ret = PROBE_PROTO_HTTPS;
		return true;
	case NGX_PROTO_FASTCGI:
		*ret = PROBE_PROTO_FASTCGI;
		return true;
	case NGX_PROTO_GRPCS:
	case NGX_PROTO_SUWSGI:
		*ret = PROBE_PROTO_TLS;
		return true;
	case NGX_PROTO_UDP:
		*ret = PROBE_PROTO_TCP;
		return false;
	default:
		*ret = PROBE_PROTO_TCP;
		return true;
	}
}

/* nginx's own timeouts for the peer: the smallest connect and read timeouts
 * of the *_pass lines reaching it; the read timeout's file:line into ref. */
static void target_timeouts(const struct ngx_model *m, const struct ngx_peer *p,
			    struct probe_target *t, char *ref, size_t reflen)
{
	for (size_t i = 0; i < p->npasses; i++) {
		const struct ngx_timeouts *to = &m->passes[p->passes[i]].t;
		if (to->connect_ms &&
		    (!t->connect_timeout_ms || to->connect_ms < t->connect_timeout_ms))
			t->connect_timeout_ms = to->connect_ms;
		if (to->read_ms && (!t->read_timeout_ms || to->read_ms < t->read_timeout_ms)) {
			t->read_timeout_ms = to->read_ms;
			if (to->read_ref.file) {
				snprintf(ref, reflen, "%s:%u", to->read_ref.file,
					 to->read_ref.line);
				t->read_timeout_ref = ref;
			} else {
				t->read_timeout_ref = NULL;
			}
		}
	}
}

static void set_targets(struct daemon *d)
{
	const struct ngx_model *m = d->model;
	const char **learned;
	size_t nlearned = diag_learned_peers(d->diag, &learned);
	struct probe_target *t = xcalloc(m->npeers + nlearned + 1, sizeof(*t));
	char(*refs)[PROBE_REF_MAX] = xcalloc(m->npeers + 1, sizeof(*refs));
	size_t n = 0;

	for (size_t i = 0; i < m->npeers; i++) {
		const struct ngx_peer *p = &m->peers[i];
		struct probe_target *pt = &t[n++];
		snprintf(pt->key, sizeof(pt->key), "%s", p->key);
		ngxconf_peer_addr(p, &pt->addr);
		target_defaults(d->cfg, pt);
		pt->probed = probe_proto_of(p->proto, &pt->proto) && p->probed;
		if (p->tls && pt->proto == PROBE_PROTO_TCP)
			pt->proto = PROBE_PROTO_TLS; /* stream proxy_ssl on */
		target_timeouts(m, p, pt, refs[i], sizeof(refs[i]));
		if (p->npasses > 0) {
			const struct ngx_pass *pass = &m->passes[p->passes[0]];
			pt->host_header = pass->host_header;
			pt->tls_verify = pass->t.ssl_verify;
			pt->tls_sni = pass->t.ssl_server_name;
			pt->tls_trusted = pass->t.ssl_trusted_certificate;
			pt->tls_name = pass->t.ssl_name;
		}
		for (size_t u = 0; u < p->nupstreams; u++)
			apply_override(pt, config_upstream(d->cfg, p->upstreams[u]));
		apply_override(pt, config_peer(d->cfg, p->key));
	}
	/* peers named only by log lines: probed only inside probe_allow */
	for (size_t i = 0; i < nlearned; i++) {
		struct peerkey k;
		if (peerkey_parse(learned[i], strlen(learned[i]), 0, &k) < 0 ||
		    !config_probe_allowed(d->cfg, &k))
			continue;
		struct probe_target *pt = &t[n++];
		snprintf(pt->key, sizeof(pt->key), "%s", k.key);
		pt->addr = k;
		pt->proto = PROBE_PROTO_TCP;
		target_defaults(d->cfg, pt);
		apply_override(pt, config_peer(d->cfg, k.key));
	}
	d->targets_stale = false;
	prober_set_targets(d->prober, t, n);
	free(t);
	free(refs);
}

/* The nginx worker's identity, read from a running worker; else the user the
 * configuration names. */
static int identity_from_worker(struct probe_identity *ret)
{
	uid_t uid;
	gid_t gid, groups[64];
	size_t n = ARRAY_SIZE(groups);
	int r = ngxworker_find(&uid, &gid, groups, &n);
	if (r < 0)
		return r;
	probe_identity_from_ids(uid, gid, groups, n, ret);
	return 0;
}

static void set_identity(struct daemon *d)
{
	struct probe_identity id;
	if (identity_from_worker(&id) < 0 &&
	    probe_identity_from_user(d->model->user ? d->model->user : "nobody", &id) < 0) {
		memset(&id, 0, sizeof(id));
		snprintf(id.user, sizeof(id.user), "%s",
			 d->model->user ? d->model->user : "nobody");
		id.uid = id.gid = 65534;
	}
	prober_set_identity(d->prober, &id);
}

/* The access logs not already in paths[0..n): appended, their count returned. */
static size_t access_paths(struct daemon *d, const char **paths, size_t n)
{
	size_t added = 0;
	for (size_t i = 0; d->access && i < accessstats_nlogs(d->access); i++) {
		const char *p = accessstats_log_at(d->access, i)->path;
		bool dup = false;
		for (size_t j = 0; j < n + added && !dup; j++)
			dup = streq(paths[j], p);
		if (!dup)
			paths[n + added++] = p;
	}
	return added;
}

/* Fresh access statistics for the model just loaded (they point into it). */
static void set_access(struct daemon *d)
{
	struct accessstats *old = d->access, *s = NULL;
	if (accessstats_new(d->model, &s) < 0)
		s = NULL;
	d->access = s;
	diag_set_access(d->diag, s);
	accessstats_free(old);
}

static void set_logs(struct daemon *d)
{
	const struct ngx_model *m = d->model;
	size_t naccess = d->access ? accessstats_nlogs(d->access) : 0;
	const char **paths =
	    xcalloc(m->nerror_logs + d->cfg->nerror_logs + naccess + 1, sizeof(char *));
	size_t n = 0;
	for (size_t i = 0; i < m->nerror_logs + d->cfg->nerror_logs; i++) {
		const char *p;
		if (i < m->nerror_logs) {
			if (!m->error_logs[i].followable)
				continue;
			p = m->error_logs[i].path;
		} else {
			p = d->cfg->error_logs[i - m->nerror_logs];
		}
		bool dup = false;
		for (size_t j = 0; j < n && !dup; j++)
			dup = streq(paths[j], p);
		if (!dup)
			paths[n++] = p;
	}
	n += access_paths(d, paths, n);
	if (tail_set_files(d->tail, paths, n) < 0) {
		/* once per start and reload: each log that cannot be followed */
		for (size_t i = 0; i < tail_count(d->tail); i++) {
			struct tail_log l;
			tail_log_at(d->tail, i, &l);
			if (l.error)
				log_warning("error log: %s", l.error_msg);
		}
	}
	free(paths);
}

static void set_watch(struct daemon *d)
{
	const struct ngx_model *m = d->model;
	if (!d->watch)
		return;
	const char **files = xcalloc(m->nfiles + 2, sizeof(char *));
	size_t n = 0;
	if (d->cfg->file)
		files[n++] = d->cfg->file;
	if (d->cfg->nginx_dump && !streq(d->cfg->nginx_dump, "-"))
		files[n++] = d->cfg->nginx_dump;
	else
		for (size_t i = 0; i < m->nfiles; i++)
			files[n++] = m->files[i];
	cfgwatch_set(d->watch, files, n, (const char *const *)m->globs,
		     d->cfg->nginx_dump ? 0 : m->nglobs);
	free(files);
}

/* Hand the freshly loaded configuration to every module. */
static void apply(struct daemon *d)
{
	log_set_max_priority(d->cfg->log_level);
	diag_set_model(d->diag, d->model, d->cfg);
	set_access(d);
	set_identity(d);
	set_targets(d);
	set_logs(d);
	if (d->watch)
		set_watch(d);
}

static void notify_status(struct daemon *d)
{
	sd_notifyf(0, "STATUS=%zu peers, %u alerts firing%s%s", d->model ? d->model->npeers : 0,
		   alert_firing_count(d->alerts), d->last_error[0] ? "; last reload failed: " : "",
		   d->last_error);
}

int daemon_reload(struct daemon *d, char *err, size_t errlen)
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

/* --- module callbacks --- */

static bool on_log_line(void *userdata, const char *path, const char *line, size_t len)
{
	struct daemon *d = userdata;
	struct errlog_event ev;
	if (d->access) {
		int r = accessstats_line(d->access, path, line, len, (time_t)ev_now(d->loop));
		if (r != -ENOENT)
			return r == 0;
	}
	if (errlog_parse_upstream(line, len, &ev) < 0)
		return false;
	/* the loop's time: no clock call per line */
	diag_log_event(d->diag, &ev, line, len, (int64_t)(ev_now(d->loop) * 1000.0));
	return true;
}

static void on_probe_done(void *userdata, const char *key, const struct probe_result *r,
			  enum peer_state state)
{
	struct daemon *d = userdata;
	(void)state;
	diag_probe_result(d->diag, key, r, now_wall_ms());
}

static void on_alert_change(void *userdata, const struct alert *a)
{
	struct daemon *d = userdata;
	journal_send_alert(a);
	cJSON *o = json_alert(a);
	ipc_publish(d->ipc, o);
	cJSON_Delete(o);
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
	char err[512];
	log_info("configuration files changed, reloading");
	daemon_reload(d, err, sizeof(err));
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
	char err[512];
	(void)loop;
	(void)revents;
	daemon_reload(d, err, sizeof(err));
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

long daemon_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long pages = 0, rss = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

char *daemon_metrics(struct daemon *d)
{
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
	    .reloads = d->reloads,
	    .reload_failures = d->reload_failures,
	    .rss_bytes = daemon_rss_bytes(),
	    .access = d->access,
	    .now = (long)ev_now(d->loop),
	};
	return metrics_render(&s);
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
		char *text = daemon_metrics(d);
		int r = write_file_atomic(d->cfg->metrics_file, text, strlen(text), 0644);
		if (r < 0)
			log_warning("cannot write %s: %s", d->cfg->metrics_file, strerror(-r));
		free(text);
		d->metrics_written_ms = now;
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
	r = ipc_new(d.loop, d.cfg->socket_path, commands_handle, &d, &d.ipc);
	if (r < 0) {
		log_error("cannot listen on %s: %s", d.cfg->socket_path,
			  r == -EADDRINUSE ? "another upwatchd is answering there" : strerror(-r));
		goto out;
	}
	if (mkdir(d.cfg->state_dir, 0750) < 0 && errno != EEXIST)
		log_warning("cannot create state directory %s: %m; offsets will not be saved",
			    d.cfg->state_dir);

	const struct diag_host host = {
	    .last_probe = host_last_probe,
	    .listener = host_listener,
	    .ports_nearby = host_ports_nearby,
	    .connections = host_connections,
	    .probe_now = host_probe_now,
	    .learned = host_learned,
	    .ud = &d,
	};
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
	accessstats_free(d.access);
	alert_store_free(d.alerts);
	ipc_free(d.ipc);
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
	printf("upwatchd: configuration ok\n");
	ngxconf_free(m);
	config_free(c);
	return 0;
}
