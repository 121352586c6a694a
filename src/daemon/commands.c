/* commands: the JSON socket's commands (see commands.h).
 *
 * Each handler answers its client exactly once; `probe` answers from the
 * prober's completion callback and `reload` from the daemon's reload, each
 * holding a reference to the client. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "diagnose/alert.h"
#include "build-config.h"
#include "conf/config.h"
#include "daemon/plan.h"
#include "daemon/commands.h"
#include "diagnose/diagnose.h"
#include "backend/software.h"
#include "host/facts.h"
#include "output/ipc.h"
#include "output/journal.h"
#include "output/json.h"
#include "output/problems.h"
#include "core/log.h"
#include "nginx/ngxconf.h"
#include "probe/probe.h"
#include "log/tail.h"
#include "core/util.h"

static cJSON *ok_object(void)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddTrueToObject(o, "ok");
	return o;
}

static size_t peers_down(const struct commands_view *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->model->npeers; i++)
		n += prober_state(d->prober, d->model->peers[i].key) == PEER_DOWN;
	return n;
}

long commands_rss_bytes(void)
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

static void cmd_status(const struct commands_view *d, struct ipc_client *c)
{
	cJSON *o = ok_object();
	cJSON_AddStringToObject(o, "version", UPWATCH_VERSION);
	cJSON_AddNumberToObject(o, "pid", getpid());
	cJSON_AddNumberToObject(o, "uptime_s", (double)(now_wall_ms() - d->started_ms) / 1000.0);
	cJSON_AddStringToObject(o, "config", d->cfg->file ? d->cfg->file : "(defaults)");
	cJSON_AddStringToObject(o, "nginx_conf",
				d->cfg->nginx_dump ? d->cfg->nginx_dump : d->cfg->nginx_conf);
	cJSON_AddNumberToObject(o, "peers", (double)d->model->npeers);
	cJSON_AddNumberToObject(o, "peers_down", (double)peers_down(d));
	cJSON_AddNumberToObject(o, "upstreams", (double)d->model->nupstreams);
	cJSON *logs = cJSON_CreateArray();
	json_log_stats(d->tail, logs);
	cJSON_AddNumberToObject(o, "logs", cJSON_GetArraySize(logs));
	int failing = 0;
	const cJSON *l;
	cJSON_ArrayForEach(l, logs) failing += cJSON_IsObject(cJSON_GetObjectItem(l, "error"));
	cJSON_AddNumberToObject(o, "logs_failing", failing);
	cJSON_Delete(logs);
	cJSON_AddNumberToObject(o, "alerts_firing", alert_firing_count(d->alerts));
	cJSON_AddNumberToObject(o, "reloads", d->reloads);
	cJSON_AddNumberToObject(o, "reload_failures", d->reload_failures);
	if (d->last_error && d->last_error[0])
		cJSON_AddStringToObject(o, "last_reload_error", d->last_error);
	else
		cJSON_AddNullToObject(o, "last_reload_error");
	cJSON_AddItemToObject(o, "problems", problems_json(d->problems));
	ipc_reply(c, o);
}

static void cmd_stats(const struct commands_view *d, struct ipc_client *c)
{
	cJSON *o = ok_object();
	json_log_stats(d->tail, cJSON_AddArrayToObject(o, "logs"));
	cJSON_AddItemToObject(o, "access", json_access_stats(d->access, d->model, d->now));
	json_diag_events(d->diag, cJSON_AddObjectToObject(o, "events"));
	cJSON_AddItemToObject(o, "learned_peers", json_diag_learned(d->diag));
	json_prober_stats(d->prober, cJSON_AddObjectToObject(o, "probes"));
	cJSON *alerts = cJSON_AddObjectToObject(o, "alerts");
	cJSON_AddNumberToObject(alerts, "firing", alert_firing_count(d->alerts));
	cJSON_AddNumberToObject(alerts, "raised", (double)alert_raised_count(d->alerts));
	cJSON_AddNumberToObject(alerts, "resolved", (double)alert_resolved_count(d->alerts));
	struct ipc_stats is;
	ipc_get_stats(d->ipc, &is);
	cJSON *ipcs = cJSON_AddObjectToObject(o, "ipc");
	cJSON_AddNumberToObject(ipcs, "clients", is.clients);
	cJSON_AddNumberToObject(ipcs, "dropped", (double)is.dropped);
	cJSON_AddNumberToObject(ipcs, "refused", (double)is.refused);
	cJSON_AddNumberToObject(ipcs, "accept_errors", (double)is.accept_errors);
	cJSON *js = cJSON_AddObjectToObject(o, "journal");
	cJSON_AddNumberToObject(js, "queued", (double)journal_queued(d->journal));
	cJSON_AddNumberToObject(js, "dropped", (double)journal_dropped(d->journal));
	cJSON_AddNumberToObject(js, "log_dropped", (double)log_journal_dropped());
	cJSON_AddNumberToObject(o, "rss_bytes", (double)commands_rss_bytes());
	ipc_reply(c, o);
}

/* The dynamic part of a peer object: state, last_probe, listener. */
static void add_runtime(const struct commands_view *d, cJSON *o, const char *key,
			const struct peerkey *addr)
{
	struct host_listener l;
	cJSON_AddStringToObject(o, "state", peer_state_name(prober_state(d->prober, key)));
	struct probe_result *r = xmalloc(sizeof(*r));
	if (prober_last(d->prober, key, r) == 0 && r->time_ms)
		cJSON_AddItemToObject(o, "last_probe", json_probe_result(r));
	else
		cJSON_AddNullToObject(o, "last_probe");
	free(r);
	cJSON_AddItemToObject(o, "access", json_access_peer(d->access, key, d->now));
	bool known = addr && facts_listener(d->facts, addr, &l);
	if (known && (l.listening || l.pid || l.path != HOST_PATH_UNKNOWN))
		cJSON_AddItemToObject(o, "listener", json_host_listener(&l));
	else
		cJSON_AddNullToObject(o, "listener");
	const struct backend_info *sw = addr && d->software && peerkey_is_local(addr)
					    ? software_lookup(d->software, key, known ? &l : NULL)
					    : NULL;
	if (sw)
		cJSON_AddItemToObject(o, "software", json_backend_software(sw));
}

static void cmd_upstreams(const struct commands_host *h, const struct commands_view *d,
			  struct ipc_client *c)
{
	cJSON *o = ok_object();
	cJSON *peers = cJSON_AddArrayToObject(o, "peers");
	for (size_t i = 0; i < d->model->npeers; i++) {
		const struct ngx_peer *p = &d->model->peers[i];
		cJSON *po = json_nginx_peer(d->model, p);
		struct peerkey addr;
		ngxconf_peer_addr(p, &addr);
		add_runtime(d, po, p->key, &addr);
		cJSON_AddItemToArray(peers, po);
	}
	const char **learned;
	size_t n = diag_learned_peers(d->diag, &learned);
	for (size_t i = 0; i < n; i++) {
		struct peerkey k;
		if (peerkey_parse(learned[i], strlen(learned[i]), 0, &k) < 0)
			continue;
		cJSON *po = cJSON_CreateObject();
		cJSON_AddStringToObject(po, "peer", k.key);
		cJSON_AddStringToObject(po, "protocol", ngxconf_proto_name(PLAN_LEARNED_PROTO));
		cJSON_AddArrayToObject(po, "upstreams");
		cJSON_AddArrayToObject(po, "locations");
		cJSON_AddTrueToObject(po, "learned_from_logs");
		/* no listener lookup (a stat of the path) outside probe_allow */
		add_runtime(d, po, k.key, h->learned_allowed(h->ud, &k) ? &k : NULL);
		cJSON_AddItemToArray(peers, po);
	}
	cJSON *blocks = cJSON_AddArrayToObject(o, "upstreams");
	for (size_t i = 0; i < d->model->nupstreams; i++) {
		const struct ngx_upstream *u = &d->model->upstreams[i];
		cJSON *uo = cJSON_CreateObject();
		char ref[300];
		cJSON_AddStringToObject(uo, "name", u->name);
		snprintf(ref, sizeof(ref), "%s:%u", u->ref.file, u->ref.line);
		cJSON_AddStringToObject(uo, "config_ref", ref);
		cJSON *servers = cJSON_AddArrayToObject(uo, "peers");
		for (size_t s = 0; s < u->nservers; s++)
			cJSON_AddItemToArray(servers, cJSON_CreateString(u->servers[s].key
									     ? u->servers[s].key
									     : u->servers[s].addr));
		cJSON_AddItemToArray(blocks, uo);
	}
	ipc_reply(c, o);
}

static void cmd_alerts(const struct commands_view *d, struct ipc_client *c, const cJSON *req)
{
	bool all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "all"));
	cJSON *o = ok_object();
	json_alerts_answer(o, d->model, d->alerts, all, false);
	ipc_reply(c, o);
}

/* The Nagios verdict's inputs without the alert list: counts by severity and
 * the alert to name (the first critical, else the first warning). */
static void cmd_check(const struct commands_view *d, struct ipc_client *c)
{
	const struct alert *worst = NULL;
	unsigned crit = 0, warn = 0;
	for (const struct alert *a = alert_first(d->alerts); a; a = alert_next(d->alerts, a)) {
		if (!a->firing)
			continue;
		bool is_crit = a->severity == ALERT_CRITICAL;
		crit += is_crit;
		warn += !is_crit;
		if (!worst || (is_crit && crit == 1))
			worst = a;
	}
	cJSON *o = ok_object();
	cJSON_AddNumberToObject(o, "critical", crit);
	cJSON_AddNumberToObject(o, "warning", warn);
	cJSON_AddItemToObject(o, "worst", worst ? json_alert(worst) : cJSON_CreateNull());
	ipc_reply(c, o);
}

static void reload_answer(void *userdata, int r, const char *err)
{
	struct ipc_client *c = userdata;
	if (r < 0)
		ipc_reply_error(c, "reload failed, running configuration kept: %s", err);
	else
		ipc_reply(c, ok_object());
	ipc_client_unref(c);
}

static void probe_answer(void *userdata, const char *key, const struct probe_result *r,
			 enum peer_state state)
{
	struct ipc_client *c = userdata;
	cJSON *o = ok_object();
	cJSON_AddStringToObject(o, "peer", key);
	cJSON_AddStringToObject(o, "state", peer_state_name(state));
	cJSON_AddItemToObject(o, "last_probe", json_probe_result(r));
	ipc_reply(c, o);
	ipc_client_unref(c);
}

static void cmd_probe(const struct commands_view *d, struct ipc_client *c, const cJSON *req)
{
	const cJSON *peer = cJSON_GetObjectItemCaseSensitive(req, "peer");
	struct peerkey k;
	if (!cJSON_IsString(peer)) {
		ipc_reply_error(c, "probe needs \"peer\": a peer such as \"127.0.0.1:8080\"");
		return;
	}
	if (peerkey_parse(peer->valuestring, strlen(peer->valuestring), 0, &k) < 0) {
		ipc_reply_error(c,
				"not a peer: \"%.200s\" (use ADDR:PORT, [V6]:PORT or unix:/path)",
				peer->valuestring);
		return;
	}
	ipc_client_ref(c);
	int r = prober_probe_now(d->prober, k.key, probe_answer, c);
	if (r == -EPERM) {
		ipc_client_unref(c);
		ipc_reply_error(
		    c, "peer \"%s\" is not probed (probe off, or nginx never connects to it)",
		    k.key);
	} else if (r < 0) {
		ipc_client_unref(c);
		ipc_reply_error(
		    c, "unknown peer \"%s\": not in the nginx configuration or not probed", k.key);
	}
}

static void cmd_metrics(const struct commands_host *h, struct ipc_client *c)
{
	char *text = h->metrics(h->ud);
	cJSON *o = ok_object();
	cJSON_AddStringToObject(o, "text", text);
	free(text);
	ipc_reply(c, o);
}

void commands_handle(void *userdata, struct ipc_client *c, const char *cmd, const cJSON *req)
{
	const struct commands_host *h = userdata;
	struct commands_view view;
	const struct commands_view *d = &view;
	h->view(h->ud, &view);

	if (streq(cmd, "status")) {
		cmd_status(d, c);
	} else if (streq(cmd, "stats")) {
		cmd_stats(d, c);
	} else if (streq(cmd, "upstreams")) {
		cmd_upstreams(h, d, c);
	} else if (streq(cmd, "alerts")) {
		cmd_alerts(d, c, req);
	} else if (streq(cmd, "probe")) {
		cmd_probe(d, c, req);
	} else if (streq(cmd, "metrics")) {
		cmd_metrics(h, c);
	} else if (streq(cmd, "check")) {
		cmd_check(d, c);
	} else if (streq(cmd, "reload")) {
		h->reload(h->ud, reload_answer, ipc_client_ref(c));
	} else if (streq(cmd, "subscribe")) {
		ipc_subscribe(c);
		cJSON *o = ok_object();
		cJSON_AddTrueToObject(o, "subscribed");
		ipc_reply(c, o);
	} else {
		ipc_reply_error(c, "unknown command \"%.64s\"", cmd);
	}
}
