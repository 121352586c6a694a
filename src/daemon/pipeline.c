/* pipeline: configuration, model and the diagnosis wiring shared by
 * upwatchd and `upwatchctl explain` (see pipeline.h). */
#include "daemon/pipeline.h"

#include <ev.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/conftree.h"
#include "core/log.h"
#include "core/util.h"
#include "core/peerkey.h"
#include "daemon/plan.h"
#include "diagnose/diagnose.h"
#include "backend/software.h"
#include "backend/unitlog.h"
#include "host/facts.h"
#include "host/ngxworker.h"
#include "host/sockdiag.h"
#include "log/accessstats.h"
#include "log/errlog.h"
#include "nginx/ngxconf.h"
#include "probe/probe.h"
#include "probe/probe_unix.h"

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

int pipeline_load(const struct daemon_flags *f, struct config **ret_cfg,
		  struct ngx_model **ret_model, char *err, size_t errlen)
{
	struct config *c;
	struct ngx_model *m;
	int r = load_config(f, &c, err, errlen);
	if (r < 0)
		return r;
	r = load_model(c, &m, err, errlen);
	if (r < 0) {
		config_free(c);
		return r;
	}
	*ret_cfg = c;
	*ret_model = m;
	return 0;
}

void pipeline_set_targets(struct pipeline *p)
{
	const char **learned;
	size_t nlearned = diag_learned_peers(p->diag, &learned);
	struct plan_targets t;
	plan_targets(p->cfg, p->model, learned, nlearned, &t);
	p->targets_stale = false;
	int r = prober_set_targets(p->prober, t.v, p->no_probe ? 0 : t.n);
	if (r < 0 && r != p->prober_error)
		log_warning("some peers cannot be probed (unusable address): %s", strerror(-r));
	else if (r >= 0 && p->prober_error < 0)
		log_notice("some peers cannot be probed: working again");
	p->prober_error = r < 0 ? r : 0;
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

static void set_identity(struct pipeline *p)
{
	struct probe_identity id;
	if (identity_from_worker(p->model->user, &id) < 0 &&
	    probe_identity_from_user(p->model->user ? p->model->user : "nobody", &id) < 0) {
		memset(&id, 0, sizeof(id));
		snprintf(id.user, sizeof(id.user), "%s",
			 p->model->user ? p->model->user : "nobody");
		id.uid = id.gid = 65534;
	}
	p->worker_uid = id.uid;
	prober_set_identity(p->prober, &id);
}

/* Access statistics for the model just loaded (they point into it), with
 * the counts so far carried over from the previous model's. */
static void set_access(struct pipeline *p)
{
	struct accessstats *old = p->access, *s = NULL;
	if (accessstats_new(p->model, &s) < 0)
		s = NULL;
	accessstats_carry(s, old);
	p->access = s;
	diag_set_access(p->diag, s);
	accessstats_free(old);
}

static void apply(struct pipeline *p)
{
	diag_set_model(p->diag, p->model, p->cfg);
	set_access(p);
	set_identity(p);
	pipeline_set_targets(p);
}

void pipeline_swap(struct pipeline *p, struct config *cfg, struct ngx_model *model)
{
	struct config *old_cfg = p->cfg;
	struct ngx_model *old_model = p->model;
	p->cfg = cfg;
	p->model = model;
	apply(p);
	config_free(old_cfg);
	ngxconf_free(old_model);
}

/* pipeline_line's body, inlined into the tail's callback too */
static inline __attribute__((always_inline)) enum tail_take take_line(struct pipeline *p,
								      const char *path,
								      const char *line, size_t len,
								      int64_t now_ms, bool may_open)
{
	struct errlog_event ev;
	if (p->access && path) {
		int r = accessstats_line(p->access, path, line, len, (time_t)(now_ms / 1000));
		if (r != -ENOENT)
			return r == 0 ? TAIL_TAKEN : TAIL_UNPARSED;
	}
	if (errlog_parse_upstream(line, len, &ev) < 0)
		return TAIL_UNPARSED;
	if (may_open && errlog_event_open(&ev, len))
		return TAIL_OPEN;
	diag_log_event(p->diag, &ev, line, len, now_ms);
	return TAIL_TAKEN;
}

enum tail_take pipeline_line(struct pipeline *p, const char *path, const char *line, size_t len,
			     int64_t now_ms, bool may_open)
{
	return take_line(p, path, line, len, now_ms, may_open);
}

bool pipeline_access_line(struct pipeline *p, size_t log, const char *line, size_t len,
			  int64_t now_ms)
{
	return p->access &&
	       accessstats_line_at(p->access, log, line, len, (time_t)(now_ms / 1000)) == 0;
}

void pipeline_set_logs(struct pipeline *p, const char *const *paths, size_t n)
{
	p->log_access = xreallocarray(p->log_access, n + 1, sizeof(*p->log_access));
	for (size_t i = 0; i < n; i++) {
		size_t k;
		p->log_access[i] =
		    p->access && accessstats_log_index(p->access, paths[i], &k) ? k + 1 : 0;
	}
	p->nlogs = n;
}

void pipeline_logs_by_path(struct pipeline *p)
{
	for (size_t i = 0; i < p->nlogs; i++)
		p->log_access[i] = SIZE_MAX;
}

/* The tail calls this for every line, with no adapter of the daemon's in
 * between and pipeline_line's body inlined: the daemon's on_log_line and
 * pipeline_line were 41 + 48 instructions a real line, this is 58. The
 * feed's inclusive Ir, Bcm, Bim, D1mr, D1mw 101.4 M, 635 k, 70 k, 576 k,
 * 238 k -> 99.1 M, 682 k, 69 k, 560 k, 233 k (callgrind, real.log, 67,496
 * lines; estimate 118.5 -> 116.6 M). The Bcm rise is diag_log_event's
 * switch (ev->kind), its code unchanged: the simulator's predictor is
 * indexed by the last branches' outcomes too, so a shift of the history
 * moves it. */
enum tail_take pipeline_tail_line(void *userdata, const char *path, size_t index, const char *line,
				  size_t len, bool may_open)
{
	struct pipeline *p = userdata;
	size_t access = index < p->nlogs ? p->log_access[index] : SIZE_MAX;
	/* the loop's time: no clock call per line */
	int64_t now_ms = (int64_t)(ev_now(p->loop) * 1000.0);
	if (access && access != SIZE_MAX)
		return pipeline_access_line(p, access - 1, line, len, now_ms) ? TAIL_TAKEN
									      : TAIL_UNPARSED;
	return take_line(p, access ? path : NULL, line, len, now_ms, may_open);
}

void pipeline_tick(struct pipeline *p, int64_t now_ms)
{
	diag_tick(p->diag, now_ms);
	if (p->targets_stale)
		pipeline_set_targets(p);
}

/* --- what diagnosis asks of the host and the prober --- */

/* upwatch itself was refused a unix socket that nginx's worker may use: the
 * probe has no verdict, the socket tables have one (sock_diag, no connect()
 * needed). A listener on the path with room in its accept queue is up; no
 * listener is a stale file; no file is missing. Returns false when the facts
 * cannot tell either (the local error stays no verdict). */
static bool judge_by_facts(struct pipeline *p, const struct peerkey *k, struct probe_result *r)
{
	struct host_listener l;
	if (k->kind != PEERKEY_UNIX || !facts_listener_now(p->facts, k, &l))
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
	struct pipeline *p = userdata;
	(void)state;
	struct peerkey k;
	bool local = peerkey_parse(key, strlen(key), 0, &k) == 0 && peerkey_is_local(&k);
	if (local && r->self_denied) {
		struct probe_result *j = xmalloc(sizeof(*j));
		*j = *r;
		if (judge_by_facts(p, &k, j))
			diag_probe_result(p->diag, key, j, now_wall_ms());
		free(j);
		return;
	}
	/* a failing local peer's listener is noted (at most once per FACTS_TTL_MS):
	 * a restart is then told by a new listening socket after the errors
	 * (host_listener_new_since), without seeing another user's /proc */
	struct host_listener l;
	if (local && r->result != PROBE_OK)
		facts_listener(p->facts, &k, &l);
	diag_probe_result(p->diag, key, r, now_wall_ms());
}

static bool host_last_probe(void *ud, const char *key, struct probe_result *ret)
{
	struct pipeline *p = ud;
	return prober_last(p->prober, key, ret) == 0;
}

static bool host_listener(void *ud, const struct peerkey *k, bool fresh, struct host_listener *ret)
{
	struct pipeline *p = ud;
	if (!ngxconf_peer(p->model, k->key) && !plan_learned_allowed(p->cfg, p->model, k))
		return false; /* a path a log line named is not ours to stat */
	return fresh ? facts_listener_now(p->facts, k, ret) : facts_listener(p->facts, k, ret);
}

static int host_ports_nearby(void *ud, const struct peerkey *k, unsigned *ports, size_t max)
{
	struct pipeline *p = ud;
	return facts_ports_nearby(p->facts, k, ports, max);
}

/* The software behind a peer (backend/software.h), read once per listener. */
static const struct backend_info *host_software(void *ud, const char *key,
						const struct host_listener *l)
{
	struct pipeline *p = ud;
	return software_lookup(p->software, key, l);
}

static int host_connections(void *ud, const struct peerkey *k, struct diag_conns *ret)
{
	struct pipeline *p = ud;
	unsigned tw, est;
	if (!facts_conns(p->facts, k, &tw, &est))
		return -ENODATA;
	*ret = (struct diag_conns){.time_wait = tw, .established = est};
	return 0;
}

/* The backend's own failure signals in its unit's journal (read when an
 * alert's words are written, kept on its evidence between reads: see
 * diagnose.h; the daemon's group reads the journal). */
static int host_unit_signal(void *ud, const char *unit, int64_t since_ms,
			    struct unitlog_signal *ret)
{
	(void)ud;
	return unitlog_read(unit, NULL, since_ms, ret);
}

static int host_nginx_remotes(void *ud, unsigned port, struct sockdiag_remote *ret, size_t max)
{
	struct pipeline *p = ud;
	return sockdiag_inet_remotes(port, p->worker_uid, ret, max);
}

/* `probe off;` (global, per upstream block, per peer) holds for on-demand
 * probes too: diagnosis only asks. */
static bool may_probe(const struct pipeline *p, const char *key)
{
	const struct config_override *o = config_peer(p->cfg, key);
	if (o && o->probe >= 0)
		return o->probe;
	const struct ngx_peer *peer = ngxconf_peer(p->model, key);
	bool on = p->cfg->probe_enabled;
	for (size_t u = 0; peer && u < peer->nupstreams; u++) {
		const struct config_override *uo = config_upstream(p->cfg, peer->upstreams[u]);
		if (uo && uo->probe >= 0)
			on = on && uo->probe;
	}
	return on;
}

static void host_probe_now(void *ud, const char *key)
{
	struct pipeline *p = ud;
	if (!p->no_probe && may_probe(p, key))
		prober_probe_now(p->prober, key, NULL, NULL);
}

static void host_learned(void *ud, const char *key, bool added)
{
	struct pipeline *p = ud;
	(void)key;
	(void)added;
	p->targets_stale = true;
}

int pipeline_new(struct ev_loop *loop, struct config *cfg, struct ngx_model *model, bool no_probe,
		 alert_change_fn on_alert, void *ud, struct pipeline **ret)
{
	struct pipeline *p = xcalloc(1, sizeof(*p));
	*p = (struct pipeline){.loop = loop, .cfg = cfg, .model = model, .no_probe = no_probe};
	int r = facts_new(loop, &p->facts);
	if (r < 0) {
		log_error("cannot set up host facts: %s", strerror(-r));
		goto fail;
	}
	r = software_cache_new(NULL, &p->software);
	if (r < 0) {
		log_error("cannot set up the backend software cache: %s", strerror(-r));
		goto fail;
	}
	const struct diag_host host = {
	    .last_probe = host_last_probe,
	    .listener = host_listener,
	    .ports_nearby = host_ports_nearby,
	    .software = host_software,
	    .connections = host_connections,
	    .unit_signal = host_unit_signal,
	    .nginx_remotes = host_nginx_remotes,
	    .probe_now = host_probe_now,
	    .learned = host_learned,
	    .ud = p,
	};
	p->alerts = alert_store_new(cfg->alert_hold_ms, on_alert, ud);
	p->diag = diag_new(p->alerts, &host);
	r = prober_new(loop, cfg->probe_max_inflight, on_probe_done, p, &p->prober);
	if (r < 0) {
		log_error("cannot start the prober: %s", strerror(-r));
		goto fail;
	}
	apply(p);
	*ret = p;
	return 0;
fail:
	pipeline_free(p);
	return r;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	prober_free(p->prober);
	diag_free(p->diag);
	accessstats_free(p->access);
	alert_store_free(p->alerts);
	software_cache_free(p->software);
	facts_free(p->facts);
	ngxconf_free(p->model);
	config_free(p->cfg);
	free(p->log_access);
	free(p);
}
