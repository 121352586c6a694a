/* daemon: the loop, its signals, sd_notify and the socket commands (see daemon.h).
 *
 * Start: load configs -> open socket -> READY=1. SIGHUP or the `reload`
 * command: RELOADING=1 -> load into fresh structs -> swap on success ->
 * READY=1. SIGTERM: STOPPING=1 -> free everything (socket file removed). */
#include "daemon.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "config.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

struct daemon {
	struct ev_loop *loop;
	const struct daemon_flags *flags;
	struct config *cfg;
	struct ipc *ipc;
	ev_signal sigterm, sigint, sighup;
	ev_timer watchdog;
	int64_t started_ms;
	unsigned reloads, reload_failures;
	char last_error[512];
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
	replace(&c->nginx_dump, f->nginx_dump);
	replace(&c->socket_path, f->socket_path);
	replace(&c->state_dir, f->state_dir);
	if (f->nerror_logs) {
		c->error_logs = xreallocarray(c->error_logs, c->nerror_logs + f->nerror_logs,
					      sizeof(char *));
		for (size_t i = 0; i < f->nerror_logs; i++)
			c->error_logs[c->nerror_logs++] = xstrdup(f->error_logs[i]);
	}
	*ret = c;
	return 0;
}

static void notify_status(struct daemon *d)
{
	sd_notifyf(0, "STATUS=watching; %u reloads%s%s", d->reloads,
		   d->last_error[0] ? "; last reload failed: " : "", d->last_error);
}

/* Parse everything anew; swap only when all of it parsed. */
static int daemon_reload(struct daemon *d, char *err, size_t errlen)
{
	struct config *c;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	int r = load_config(d->flags, &c, err, errlen);
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
	config_free(d->cfg);
	d->cfg = c;
	log_set_max_priority(c->log_level);
	d->reloads++;
	d->last_error[0] = '\0';
	log_notice("configuration reloaded");
	sd_notify(0, "READY=1");
	notify_status(d);
	return 0;
}

/* --- socket commands --- */

static cJSON *ok_object(void)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddTrueToObject(o, "ok");
	return o;
}

static void cmd_status(struct daemon *d, struct ipc_client *c)
{
	cJSON *o = ok_object();
	cJSON_AddStringToObject(o, "version", UPWATCH_VERSION);
	cJSON_AddNumberToObject(o, "pid", getpid());
	cJSON_AddNumberToObject(o, "uptime_s", (double)(now_wall_ms() - d->started_ms) / 1000.0);
	cJSON_AddStringToObject(o, "config", d->cfg->file ? d->cfg->file : "(defaults)");
	cJSON_AddStringToObject(o, "nginx_conf", d->cfg->nginx_conf);
	cJSON_AddNumberToObject(o, "reloads", d->reloads);
	cJSON_AddNumberToObject(o, "reload_failures", d->reload_failures);
	if (d->last_error[0])
		cJSON_AddStringToObject(o, "last_reload_error", d->last_error);
	else
		cJSON_AddNullToObject(o, "last_reload_error");
	ipc_reply(c, o);
}

static long rss_bytes(void)
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

static void cmd_stats(struct daemon *d, struct ipc_client *c)
{
	cJSON *o = ok_object();
	cJSON_AddArrayToObject(o, "logs");
	cJSON_AddObjectToObject(o, "events");
	cJSON *probes = cJSON_AddObjectToObject(o, "probes");
	cJSON_AddNumberToObject(probes, "sent", 0);
	cJSON_AddNumberToObject(probes, "failed", 0);
	cJSON_AddObjectToObject(probes, "by_result");
	cJSON *alerts = cJSON_AddObjectToObject(o, "alerts");
	cJSON_AddNumberToObject(alerts, "firing", 0);
	cJSON_AddNumberToObject(alerts, "raised", 0);
	cJSON_AddNumberToObject(alerts, "resolved", 0);
	cJSON *ipcs = cJSON_AddObjectToObject(o, "ipc");
	cJSON_AddNumberToObject(ipcs, "clients", ipc_clients(d->ipc));
	cJSON_AddNumberToObject(ipcs, "dropped", (double)ipc_dropped(d->ipc));
	cJSON_AddNumberToObject(o, "rss_bytes", (double)rss_bytes());
	ipc_reply(c, o);
}

static void on_request(void *userdata, struct ipc_client *c, const char *cmd, const cJSON *req)
{
	struct daemon *d = userdata;
	(void)req;

	if (streq(cmd, "status")) {
		cmd_status(d, c);
	} else if (streq(cmd, "stats")) {
		cmd_stats(d, c);
	} else if (streq(cmd, "reload")) {
		char err[512];
		if (daemon_reload(d, err, sizeof(err)) < 0)
			ipc_reply_error(c, "reload failed, running configuration kept: %s", err);
		else
			ipc_reply(c, ok_object());
	} else if (streq(cmd, "subscribe")) {
		ipc_subscribe(c);
		cJSON *o = ok_object();
		cJSON_AddTrueToObject(o, "subscribed");
		ipc_reply(c, o);
	} else {
		ipc_reply_error(c, "unknown command \"%.64s\"", cmd);
	}
}

/* --- signals and the watchdog --- */

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

int daemon_run(const struct daemon_flags *flags)
{
	struct daemon d = { .flags = flags, .started_ms = now_wall_ms() };
	char err[512];
	uint64_t wd_usec = 0;
	int r;

	signal(SIGPIPE, SIG_IGN);
	r = load_config(flags, &d.cfg, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return 1;
	}
	log_set_max_priority(d.cfg->log_level);

	d.loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
	r = ipc_new(d.loop, d.cfg->socket_path, on_request, &d, &d.ipc);
	if (r < 0) {
		log_error("cannot listen on %s: %s", d.cfg->socket_path,
			  r == -EADDRINUSE ? "another upwatchd is answering there" : strerror(-r));
		config_free(d.cfg);
		return 1;
	}

	ev_signal_init(&d.sigterm, on_stop, SIGTERM);
	ev_signal_init(&d.sigint, on_stop, SIGINT);
	ev_signal_init(&d.sighup, on_hup, SIGHUP);
	ev_signal_start(d.loop, &d.sigterm);
	ev_signal_start(d.loop, &d.sigint);
	ev_signal_start(d.loop, &d.sighup);
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		double half = (double)wd_usec / 2e6;
		ev_timer_init(&d.watchdog, on_watchdog, half, half);
		ev_timer_start(d.loop, &d.watchdog);
	}

	log_notice("upwatchd %s started, socket %s", UPWATCH_VERSION, d.cfg->socket_path);
	sd_notify(0, "READY=1");
	notify_status(&d);
	ev_run(d.loop, 0);

	ipc_free(d.ipc);
	config_free(d.cfg);
	ev_loop_destroy(d.loop);
	log_notice("stopped");
	return 0;
}

int daemon_check_config(const struct daemon_flags *flags)
{
	struct config *c;
	char err[512];

	if (load_config(flags, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "upwatchd: %s\n", err);
		return 1;
	}
	printf("upwatch configuration: %s\n", c->file ? c->file : "(built-in defaults)");
	config_free(c);
	return 0;
}
