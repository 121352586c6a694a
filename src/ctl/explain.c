/* explain: the pipeline once, in-process (see explain.h). */
#include "ctl/explain.h"

#include <ev.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "conf/config.h"
#include "core/log.h"
#include "core/util.h"
#include "ctl/ctl_render.h"
#include "daemon/pipeline.h"
#include "daemon/plan.h"
#include "diagnose/diagnose.h"
#include "diagnose/alert.h"
#include "log/accessstats.h"
#include "log/logseek.h"
#include "nginx/ngxconf.h"
#include "log/paste.h"
#include "output/json.h"
#include "probe/probe.h"

#define READ_CHUNK	 (1u << 20)
#define LINE_MAX_BYTES	 (64u << 10) /* longer lines are cut (nginx's own cap is 2 KiB) */
#define PROGRESS_MS	 1000
#define PROBE_SLACK_MS	 2000 /* past the slowest probe timeout, give up waiting */
#define PROBE_DEFAULT_MS 60000

struct explain {
	struct pipeline *p;
	const char *path; /* the log being read */
	uint64_t lines, upstream_lines;
	int64_t started_ms, progress_ms;
	bool progress_shown;
	unsigned pending; /* first probes not yet answered */
};

static void feed(struct explain *x, const char *line, size_t len)
{
	x->lines++;
	/* an entry paste joined: taken whole */
	x->upstream_lines +=
	    pipeline_line(x->p, x->path, line, len, now_wall_ms(), false) == TAIL_TAKEN;
}

static void paste_emit(void *ud, const char *line, size_t len)
{
	feed(ud, line, len);
}

/* Progress on stderr once reading has taken longer than a second. */
static void progress(struct explain *x, off_t done, off_t total)
{
	int64_t now = now_mono_ms();
	if (now - x->started_ms < PROGRESS_MS || now - x->progress_ms < PROGRESS_MS)
		return;
	x->progress_ms = now;
	x->progress_shown = true;
	if (total > 0)
		fprintf(stderr, "\rupwatchctl: reading %s: %lld of %lld MB, %llu lines ", x->path,
			(long long)(done >> 20), (long long)(total >> 20),
			(unsigned long long)x->lines);
	else
		fprintf(stderr, "\rupwatchctl: reading %s: %lld MB, %llu lines ", x->path,
			(long long)(done >> 20), (unsigned long long)x->lines);
}

/* Split fd's bytes from its current offset into lines; a line longer than
 * LINE_MAX_BYTES is cut there and its rest skipped. */
static int read_lines(struct explain *x, int fd, off_t start, off_t total, struct paste *paste)
{
	char *buf = xmalloc(READ_CHUNK);
	char *line = xmalloc(LINE_MAX_BYTES);
	size_t llen = 0;
	bool skipping = false;
	off_t done = start;
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		done += n;
		for (char *s = buf, *end = buf + n; s < end;) {
			char *nl = memchr(s, '\n', (size_t)(end - s));
			size_t take = (size_t)((nl ? nl : end) - s);
			if (!skipping) {
				size_t room = LINE_MAX_BYTES - llen;
				memcpy(line + llen, s, take < room ? take : room);
				llen += take < room ? take : room;
				skipping = take >= room;
			}
			if (nl) {
				if (paste)
					paste_feed(paste, line, llen);
				else
					feed(x, line, llen);
				llen = 0;
				skipping = false;
			}
			s += take + (nl != NULL);
		}
		progress(x, done, total);
	}
	if (r == 0 && llen) {
		if (paste)
			paste_feed(paste, line, llen);
		else
			feed(x, line, llen);
	}
	free(line);
	free(buf);
	return r;
}

static int read_stdin(struct explain *x)
{
	struct paste paste;
	x->path = "standard input";
	paste_init(&paste, paste_emit, x);
	int r = read_lines(x, STDIN_FILENO, 0, 0, &paste);
	paste_finish(&paste);
	paste_done(&paste);
	if (r < 0)
		fprintf(stderr, "upwatchctl: reading standard input: %s\n", strerror(-r));
	return r;
}

static int access_time(void *ud, const char *line, size_t len, time_t *ret)
{
	struct explain *x = ud;
	return accessstats_line_time(x->p->access, x->path, line, len, ret);
}

/* The entries of path from since on (an access log's by its format's time
 * variable). A missing log is no error: nginx has not written one yet. */
static int read_log(struct explain *x, const char *path, time_t since)
{
	struct stat st;
	off_t off = 0;
	x->path = path;
	int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return 0;
		fprintf(stderr, "upwatchctl: %s: %s\n", path, strerror(e));
		return -e;
	}
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = -EINVAL;
	if (r == 0 && x->p->access && accessstats_log_by_path(x->p->access, path))
		r = logseek_since_by(fd, since, access_time, x, &off);
	else if (r == 0)
		r = logseek_since(fd, since, &off);
	if (r == 0 && lseek(fd, off, SEEK_SET) < 0)
		r = -errno;
	if (r == 0)
		r = read_lines(x, fd, off, st.st_size, NULL);
	if (r < 0)
		fprintf(stderr, "upwatchctl: %s: %s\n", path,
			r == -EINVAL ? "not a regular file" : strerror(-r));
	close(fd);
	return r;
}

static void on_first_probe(void *userdata, const char *key, const struct probe_result *r,
			   enum peer_state state)
{
	struct explain *x = userdata;
	(void)key;
	(void)r;
	(void)state;
	if (x->pending && --x->pending == 0)
		ev_break(x->p->loop, EVBREAK_ALL);
}

static void on_probe_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void probe_deadline(struct explain *x, uint64_t slowest_ms)
{
	ev_timer deadline;
	if (!x->pending)
		return;
	ev_timer_init(&deadline, on_probe_deadline,
		      (double)(slowest_ms ? slowest_ms : PROBE_DEFAULT_MS) / 1000.0 +
			  PROBE_SLACK_MS / 1000.0,
		      0);
	ev_timer_start(x->p->loop, &deadline);
	ev_run(x->p->loop, 0);
	ev_timer_stop(x->p->loop, &deadline);
	x->pending = 0;
}

/* The targets (configured, or with learned: only those learned from the
 * lines read) probed once, in parallel, through the prober's admission with
 * nginx's timeouts; the loop runs until all answered or the slowest timeout
 * passed. */
static void probe_once(struct explain *x, bool learned_only)
{
	struct pipeline *p = x->p;
	const char **learned;
	size_t nlearned = diag_learned_peers(p->diag, &learned);
	struct plan_targets t;
	uint64_t slowest = 0;

	if (learned_only && !nlearned)
		return;
	pipeline_set_targets(p);
	plan_targets(p->cfg, p->model, learned, nlearned, &t);
	for (size_t i = 0; i < t.n; i++) {
		const struct probe_target *pt = &t.v[i];
		if (learned_only != !ngxconf_peer(p->model, pt->key))
			continue;
		uint64_t c = pt->connect_timeout_ms ? pt->connect_timeout_ms : pt->timeout_ms;
		uint64_t rd = pt->read_timeout_ms ? pt->read_timeout_ms : pt->timeout_ms;
		if (c + rd > slowest)
			slowest = c + rd;
		if (prober_probe_now(p->prober, pt->key, on_first_probe, x) == 0)
			x->pending++;
	}
	plan_targets_done(&t);
	probe_deadline(x, slowest);
}

static int verdict(const struct alert_store *s)
{
	int code = CHECK_OK;
	for (const struct alert *a = alert_first(s); a; a = alert_next(s, a))
		if (a->firing)
			code = a->severity == ALERT_CRITICAL ? CHECK_CRITICAL
			       : code == CHECK_OK	     ? CHECK_WARNING
							     : code;
	return code;
}

int ctl_explain(const struct explain_opts *o)
{
	const struct daemon_flags flags = {
	    .config_path = o->config_path ? o->config_path : CONFIG_DEFAULT_PATH,
	    .config_explicit = o->config_path != NULL,
	    .nginx_conf = o->nginx_conf,
	    .nginx_dump = o->nginx_dump,
	};
	struct config *cfg;
	struct ngx_model *model;
	char err[512];
	struct explain x = {.started_ms = now_mono_ms()};
	int status = CHECK_UNKNOWN;

	log_open(true);
	log_set_max_priority(LOG_WARNING);
	if (pipeline_load(&flags, &cfg, &model, err, sizeof(err)) < 0) {
		fprintf(stderr, "upwatchctl: %s\n", err);
		return CHECK_UNKNOWN;
	}
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
	if (!loop) {
		fprintf(stderr, "upwatchctl: cannot create an event loop\n");
		config_free(cfg);
		return CHECK_UNKNOWN;
	}
	if (pipeline_new(loop, cfg, model, o->no_probe, NULL, NULL, &x.p) < 0)
		goto out;

	/* as the running daemon knows them: the peers' probes before the lines */
	if (!o->no_probe)
		probe_once(&x, false);
	time_t since = time(NULL) - (time_t)(o->since_ms / 1000);
	const char **logs = o->logs;
	size_t nlogs = o->nlogs, nread = 0;
	const char **planned = NULL;
	if (x.p->access)
		accessstats_set_span(x.p->access, (unsigned)MIN(o->since_ms / 1000, UINT_MAX));
	if (!nlogs)
		nlogs = plan_logs(x.p->cfg, x.p->model, x.p->access, &planned), logs = planned;
	/* the access logs first: the error lines' alerts then carry their impact */
	for (int access = 1; access >= 0; access--)
		for (size_t i = 0; i < nlogs; i++) {
			bool is_access =
			    x.p->access && accessstats_log_by_path(x.p->access, logs[i]);
			if (is_access != access)
				continue;
			nread += (streq(logs[i], "-") ? read_stdin(&x)
						      : read_log(&x, logs[i], since)) == 0;
		}
	free(planned);
	if (x.progress_shown)
		fputc('\n', stderr);
	if (nlogs && !nread) {
		fprintf(stderr, "upwatchctl: no log could be read\n");
		goto out;
	}
	if (!o->no_probe)
		probe_once(&x, true); /* the peers only the lines named */
	/* once, as the daemon's tick: the access logs' own causes
	 * (errors_unlogged, early backend_slow) */
	pipeline_tick(x.p, now_wall_ms());

	/* the `alerts` answer, built by the daemon's code, critical first */
	cJSON *resp = cJSON_CreateObject();
	cJSON_AddTrueToObject(resp, "ok");
	json_alerts_answer(resp, x.p->model, x.p->alerts, false, true);
	status = verdict(x.p->alerts);
	if (o->json) {
		char *s = cJSON_PrintUnformatted(resp);
		puts(s);
		free(s);
	} else {
		ctl_render("alerts", resp, true, stdout);
		ctl_check(resp, stdout);
	}
	cJSON_Delete(resp);
out:
	pipeline_free(x.p);
	ev_loop_destroy(loop);
	return status;
}
