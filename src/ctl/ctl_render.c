/* ctl_render: tables and lines for people (see ctl_render.h). */
#include "ctl/ctl_render.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/escape.h"
#include "core/util.h"

/* Every string from the daemon reaches the terminal through here: control
 * characters shown visibly (escape_terminal), so a log-derived path cannot
 * retitle or clear the terminal. The copies live in a small ring, enough for
 * the strings of one printf. */
static const char *vis(const char *s)
{
	static char *ring[16];
	static size_t next;
	if (!s)
		return ""; /* never a NULL for printf's %s */
	free(ring[next]);
	ring[next] = escape_terminal(s);
	const char *r = ring[next];
	next = (next + 1) % ARRAY_SIZE(ring);
	return r;
}

static const char *str(const cJSON *o, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? vis(v->valuestring) : dflt;
}

/* Multi-line text, each line made terminal-safe on its own. */
static void put_lines(FILE *out, const char *indent, const char *text)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = xstrndup(p, n);
		fprintf(out, "%s%s\n", indent, vis(line));
		free(line);
		p += n + (nl ? 1 : 0);
	}
}

#define PEER_WIDTH 30 /* the alerts table's PEER column */

/* s in at most width columns: a longer value keeps its head and tail with
 * "..." between (a unix path's directory start and file name both matter).
 * The full value stays in --json. Counted in bytes: vis() output is ASCII
 * but for UTF-8 text, whose cut may then show one column short. */
static const char *fit(const char *s, size_t width)
{
	static char ring[8][128];
	static size_t next;
	size_t len = s ? strlen(s) : 0;
	if (!s || len <= width || width < 8 || width >= sizeof(ring[0]))
		return s;
	char *b = ring[next];
	next = (next + 1) % ARRAY_SIZE(ring);
	size_t tail = (width - 3) / 2, head = width - 3 - tail;
	snprintf(b, sizeof(ring[0]), "%.*s...%s", (int)head, s, s + len - tail);
	return b;
}

static const char *raw(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const cJSON *item(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static void render_status(const cJSON *r, FILE *out)
{
	fprintf(out, "upwatchd %s, pid %.0f, up %.0fs\n", str(r, "version", "?"), num(r, "pid", 0),
		num(r, "uptime_s", 0));
	fprintf(out, "config:      %s\n", str(r, "config", "?"));
	fprintf(out, "nginx:       %s\n", str(r, "nginx_conf", "?"));
	if (item(r, "peers"))
		fprintf(out, "peers:       %.0f (%.0f down)\n", num(r, "peers", 0),
			num(r, "peers_down", 0));
	if (item(r, "logs"))
		fprintf(out, "logs:        %.0f followed\n", num(r, "logs", 0));
	if (item(r, "alerts_firing"))
		fprintf(out, "alerts:      %.0f firing\n", num(r, "alerts_firing", 0));
	fprintf(out, "reloads:     %.0f (%.0f failed)\n", num(r, "reloads", 0),
		num(r, "reload_failures", 0));
	const char *e = str(r, "last_reload_error", NULL);
	if (e)
		fprintf(out, "last reload: FAILED: %s\n", e);
	const cJSON *p;
	cJSON_ArrayForEach(p, item(r, "problems"))
	{
		fprintf(out, "problem:     %s: %s (%s)\n", str(p, "subject", "?"),
			str(p, "message", "?"), str(p, "kind", "?"));
	}
}

static void render_counts(const char *title, const cJSON *obj, FILE *out)
{
	const cJSON *v;
	fprintf(out, "%s:", title);
	bool any = false;
	cJSON_ArrayForEach(v, obj)
	{
		if (cJSON_IsNumber(v)) {
			fprintf(out, " %s=%.0f", vis(v->string), v->valuedouble);
			any = true;
		}
	}
	fprintf(out, "%s\n", any ? "" : " none");
}

static void render_stats(const cJSON *r, FILE *out)
{
	const cJSON *l;
	fprintf(out, "%-40s %10s %12s %5s %5s %5s %5s %5s\n", "log", "lines", "bytes", "rot",
		"trunc", "cut", "unpar", "lost");
	cJSON_ArrayForEach(l, item(r, "logs"))
	{
		fprintf(out, "%-40s %10.0f %12.0f %5.0f %5.0f %5.0f %5.0f %5.0f\n",
			str(l, "path", "?"), num(l, "lines", 0), num(l, "bytes", 0),
			num(l, "rotations", 0), num(l, "truncations", 0), num(l, "lines_cut", 0),
			num(l, "lines_unparsed", 0), num(l, "lines_lost", 0));
	}
	render_counts("events", item(r, "events"), out);
	const cJSON *p = item(r, "probes");
	fprintf(out, "probes: sent=%.0f failed=%.0f\n", num(p, "sent", 0), num(p, "failed", 0));
	render_counts("probe results", item(p, "by_result"), out);
	render_counts("alerts", item(r, "alerts"), out);
	render_counts("clients", item(r, "ipc"), out);
	fprintf(out, "rss: %.0f KiB\n", num(r, "rss_bytes", 0) / 1024);
}

static void render_probe_line(const cJSON *lp, FILE *out)
{
	if (!cJSON_IsObject(lp)) {
		fprintf(out, "%-12s %8s  %s", "-", "-", "");
		return;
	}
	fprintf(out, "%-12s %6.0fms  %s", str(lp, "result", "?"), num(lp, "latency_ms", 0),
		str(lp, "detail", ""));
}

static void render_listener(const cJSON *l, FILE *out)
{
	if (!cJSON_IsObject(l))
		return;
	if (item(l, "pid"))
		fprintf(out, "  [%s pid %.0f", str(l, "process", "?"), num(l, "pid", 0));
	else
		fprintf(out, "  [listener");
	if (str(l, "unit", NULL))
		fprintf(out, " %s %s/%s", str(l, "unit", ""), str(l, "active_state", "?"),
			str(l, "sub_state", "?"));
	fprintf(out, "]");
}

/* The access logs' 5xx answers through the peer in the last minute. */
static void render_5xx(const cJSON *a, FILE *out)
{
	if (cJSON_IsObject(a))
		fprintf(out, "%7.0f ", num(a, "5xx_1m", 0));
	else
		fprintf(out, "%7s ", "-");
}

/* The peer's upstream blocks: the first, "+N" for more, "-" for none. */
static const char *blocks(const cJSON *p, char *buf, size_t len)
{
	const cJSON *ups = item(p, "upstreams"), *first = cJSON_GetArrayItem(ups, 0);
	int n = cJSON_GetArraySize(ups);
	if (!cJSON_IsString(first))
		return "-";
	const char *name = fit(vis(first->valuestring), n > 1 ? 14 : 18);
	if (n > 1)
		snprintf(buf, len, "%s+%d", name, n - 1);
	else
		snprintf(buf, len, "%s", name);
	return buf;
}

/* What was identified behind the peer: a string, or an object's "name". */
static const char *software(const cJSON *p)
{
	const cJSON *sw = item(p, "software");
	if (cJSON_IsObject(sw))
		return fit(str(sw, "name", "-"), 12);
	return fit(str(p, "software", "-"), 12);
}

static void render_upstreams(const cJSON *r, FILE *out)
{
	const cJSON *p;
	char ub[64];
	fprintf(out, "%-36s %-18s %-6s %-8s %7s %-12s %-12s %8s  %s\n", "PEER", "UPSTREAM", "PROTO",
		"STATE", "5xx/min", "SOFTWARE", "LAST", "LATENCY", "DETAIL");
	cJSON_ArrayForEach(p, item(r, "peers"))
	{
		fprintf(out, "%-36s %-18s %-6s %-8s ", fit(str(p, "peer", "?"), 36),
			blocks(p, ub, sizeof(ub)), str(p, "protocol", "?"),
			str(p, "state", "unknown"));
		render_5xx(item(p, "access"), out);
		fprintf(out, "%-12s ", software(p));
		render_probe_line(item(p, "last_probe"), out);
		render_listener(item(p, "listener"), out);
		fputc('\n', out);
	}
}

static void render_since(double epoch_s, char *buf, size_t len)
{
	double age = (double)time(NULL) - epoch_s;
	if (epoch_s <= 0)
		snprintf(buf, len, "-");
	else if (age < 120)
		snprintf(buf, len, "%.0fs ago", age < 0 ? 0 : age);
	else if (age < 7200)
		snprintf(buf, len, "%.0fm ago", age / 60);
	else
		snprintf(buf, len, "%.0fh ago", age / 3600);
}

/* Alert times are RFC 3339 strings in the protocol. */
static double alert_time(const cJSON *a, const char *key)
{
	const char *s = str(a, key, NULL);
	struct tm tm = {0};
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (double)timegm(&tm);
}

static void render_alert(const cJSON *a, bool verbose, FILE *out)
{
	char since[32];
	render_since(alert_time(a, "first_seen"), since, sizeof(since));
	fprintf(out, "%-8s %-9s %-28s %-30s %-10s %5.0f  %s\n", str(a, "severity", "?"),
		str(a, "state", "?"), str(a, "cause", "?"), fit(str(a, "peer", "-"), PEER_WIDTH),
		since, num(a, "count", 0), str(a, "summary", ""));
	if (!verbose)
		return;
	const char *peer = str(a, "peer", NULL);
	if (peer && strlen(peer) > PEER_WIDTH)
		fprintf(out, "    peer:        %s\n", peer); /* cut in the table */
	const char *up = str(a, "upstream", NULL);
	if (up)
		fprintf(out, "    upstream:    %s\n", up);
	fprintf(out, "    config:      %s\n", str(a, "config_ref", "-"));
	fprintf(out, "    explanation: %s\n", str(a, "explanation", ""));
	const cJSON *e;
	fprintf(out, "    evidence:\n");
	cJSON_ArrayForEach(e, item(a, "evidence"))
	{
		if (cJSON_IsString(e))
			fprintf(out, "      - %s\n", vis(e->valuestring));
	}
	fprintf(out, "    fix:\n");
	put_lines(out, "      ", raw(a, "fix"));
	fputc('\n', out);
}

static void render_alerts(const cJSON *r, bool verbose, FILE *out)
{
	const cJSON *a, *alerts = item(r, "alerts");
	if (cJSON_GetArraySize(alerts) == 0) {
		fprintf(out, "no alerts\n");
		return;
	}
	fprintf(out, "%-8s %-9s %-28s %-30s %-10s %5s  %s\n", "SEVERITY", "STATE", "CAUSE", "PEER",
		"SINCE", "COUNT", "SUMMARY");
	cJSON_ArrayForEach(a, alerts) render_alert(a, verbose, out);
	/* a block nginx has no peer left in, said even after its
	 * no_live_upstreams alert resolved */
	const cJSON *b, *p;
	cJSON_ArrayForEach(b, item(r, "blocks_down"))
	{
		fprintf(out, "upstream %s (%s): every peer is down:", str(b, "upstream", "?"),
			str(b, "config_ref", "?"));
		cJSON_ArrayForEach(p, item(b, "peers"))
		{
			if (cJSON_IsString(p))
				fprintf(out, " %s", vis(p->valuestring));
		}
		fputc('\n', out);
	}
}

static void render_probe(const cJSON *r, FILE *out)
{
	const cJSON *lp = item(r, "last_probe");
	fprintf(out, "%s: ", str(r, "peer", "?"));
	render_probe_line(lp, out);
	fputc('\n', out);
	const cJSON *v;
	cJSON_ArrayForEach(v, lp)
	{
		if (streq(v->string, "result") || streq(v->string, "detail") ||
		    streq(v->string, "latency_ms"))
			continue;
		if (cJSON_IsString(v))
			fprintf(out, "  %-14s %s\n", vis(v->string), vis(v->valuestring));
		else if (cJSON_IsNumber(v))
			fprintf(out, "  %-14s %.0f\n", vis(v->string), v->valuedouble);
	}
}

void ctl_render(const char *cmd, const cJSON *resp, bool verbose, FILE *out)
{
	if (streq(cmd, "status"))
		render_status(resp, out);
	else if (streq(cmd, "stats"))
		render_stats(resp, out);
	else if (streq(cmd, "upstreams"))
		render_upstreams(resp, out);
	else if (streq(cmd, "alerts"))
		render_alerts(resp, verbose, out);
	else if (streq(cmd, "probe"))
		render_probe(resp, out);
	else if (streq(cmd, "metrics"))
		put_lines(out, "", raw(resp, "text"));
	else if (streq(cmd, "reload"))
		fprintf(out, "reloaded\n");
}

void ctl_render_event(const cJSON *ev, FILE *out)
{
	const cJSON *a = item(ev, "alert");
	if (!cJSON_IsObject(a))
		a = ev;
	fprintf(out, "%s %s %s %s: %s\n", str(a, "state", "?"), str(a, "severity", "?"),
		str(a, "cause", "?"), str(a, "peer", "-"), str(a, "summary", ""));
	fflush(out);
}

int ctl_check(const cJSON *resp, FILE *out)
{
	if (!cJSON_IsTrue(item(resp, "ok"))) {
		fprintf(out, "UPWATCH UNKNOWN - %s\n", str(resp, "error", "daemon error"));
		return CHECK_UNKNOWN;
	}
	const cJSON *a, *worst = NULL;
	int crit = 0, warn = 0;
	if (cJSON_IsNumber(item(resp, "critical"))) {
		/* a `check` answer: the daemon counted */
		crit = (int)num(resp, "critical", 0);
		warn = (int)num(resp, "warning", 0);
		worst = item(resp, "worst");
	} else {
		cJSON_ArrayForEach(a, item(resp, "alerts"))
		{
			if (!streq(str(a, "state", ""), "firing"))
				continue;
			bool is_crit = streq(str(a, "severity", ""), "critical");
			crit += is_crit;
			warn += !is_crit;
			/* name the first critical alert, else the first warning */
			if (!worst || (is_crit && crit == 1))
				worst = a;
		}
	}
	int code = crit ? CHECK_CRITICAL : warn ? CHECK_WARNING : CHECK_OK;
	static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
	if (code == CHECK_OK)
		fprintf(out, "UPWATCH OK - no firing alerts");
	else
		fprintf(out, "UPWATCH %s - %d critical, %d warning: %s (%s)", names[code], crit,
			warn, str(worst, "summary", ""), str(worst, "peer", "-"));
	fprintf(out, " | critical=%d;;1 warning=%d;1\n", crit, warn);
	return code;
}

int ctl_check_unreachable(const char *path)
{
	printf("UPWATCH UNKNOWN - cannot reach upwatchd at %s\n", path);
	return CHECK_UNKNOWN;
}
