/* upwatchctl: the command-line client of upwatchd's JSON socket, and
 * `explain`, the daemon's pipeline run once in-process (explain.h).
 *
 * One request line, one response line (watch: then a line per event).
 * Human output by default, the raw JSON with --json. Exit codes: 0 ok,
 * 1 the daemon said no, 2 the daemon cannot be reached; `check` and
 * `explain` use the Nagios codes 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "ctl/ctl_render.h"
#include "ctl/explain.h"
#include "core/util.h"

#define EXIT_NO		 1
#define EXIT_UNREACHABLE 2
#define REPLY_TIMEOUT_MS 30000
#define REPLY_MAX	 (64u << 20)
#define EXPLAIN_LOGS_MAX 64

enum {
	OPT_NGINX_CONF = 256,
	OPT_NGINX_DUMP,
	OPT_SINCE,
	OPT_LOG,
	OPT_NO_PROBE,
};

struct conn {
	int fd;
	const char *path;
	char *buf;
	size_t len, cap;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: upwatchctl [--socket PATH] [--json] COMMAND [ARGS]\n"
		"       upwatchctl explain [--nginx-conf FILE | --nginx-dump FILE|-] [--since "
		"DURATION]\n"
		"                          [--log PATH|-]... [--no-probe] [--json]\n"
		"Find out why nginx returns 502/504: ask upwatchd, or explain without it.\n"
		"\n"
		"Commands:\n"
		"  explain            no daemon needed: read the error logs' last 15 minutes,\n"
		"                     probe every peer once, print the alerts as alerts -v\n"
		"                     does and a verdict (exit status as check's)\n"
		"  status             daemon state\n"
		"  upstreams          every peer: upstream block, protocol, state, software,\n"
		"                     last probe, listener (long paths cut: full in --json)\n"
		"  alerts [--all] [-v]  firing alerts (--all: resolved too; -v: explanation,\n"
		"                     evidence and fix), then each block whose every peer\n"
		"                     is down\n"
		"  stats              counters: logs, events, probes, alerts, clients\n"
		"  probe PEER         probe PEER now (e.g. 127.0.0.1:8080, unix:/run/app.sock)\n"
		"  reload             re-read upwatch.conf and the nginx configuration\n"
		"  watch              print alert changes as they happen (until interrupted)\n"
		"  check              Nagios/Icinga plugin: one status line with perfdata\n"
		"  metrics            Prometheus text exposition\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH  daemon socket (default /run/upwatch/upwatch.sock)\n"
		"  -j, --json         print the daemon's JSON answer as is (explain: the alerts)\n"
		"\n"
		"explain options:\n"
		"  -c, --config FILE  upwatch.conf (default: the installed one, if present)\n"
		"  --nginx-conf FILE  nginx configuration (default /etc/nginx/nginx.conf)\n"
		"  --nginx-dump FILE  `nginx -T` output instead (- = standard input)\n"
		"  --since DURATION   read entries from this long ago on (default 15m)\n"
		"  --log PATH         read this error log instead of the configured ones\n"
		"                     (repeatable; - = standard input, pasted text welcome)\n"
		"  --no-probe         do not connect to any peer\n"
		"  -V, --version      print the version\n"
		"  -h, --help         print this help\n"
		"\n"
		"Exit status: 0 ok; 1 the daemon answered with an error; 2 the daemon could\n"
		"not be reached. check and explain: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n");
}

static int conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	c->path = path;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "upwatchctl: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		fprintf(stderr, "upwatchctl: cannot reach upwatchd at %s: %s\n", path, strerror(e));
		if (c->fd >= 0)
			close(c->fd);
		return -e;
	}
	return 0;
}

/* quiet: a failure is not reported here (the daemon may have said why
 * before it closed; the caller reads that first). */
static int conn_send(struct conn *c, const cJSON *req)
{
	char *s = cJSON_PrintUnformatted(req);
	size_t len = strlen(s), off = 0;
	s = xrealloc(s, len + 2);
	s[len++] = '\n';
	while (off < len) {
		ssize_t w = send(c->fd, s + off, len - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(s);
			return -e;
		}
		off += (size_t)w;
	}
	free(s);
	return 0;
}

/* Next line from the daemon (NUL-terminated in c->buf, returned length), or
 * < 0. timeout_ms < 0 waits forever. */
static long conn_line(struct conn *c, int timeout_ms)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			*nl = '\0';
			return nl - c->buf;
		}
		if (c->len + 4096 > REPLY_MAX) {
			fprintf(stderr, "upwatchctl: answer from %s too long\n", c->path);
			return -EMSGSIZE;
		}
		c->buf = grow_array(c->buf, &c->cap, c->len + 4096, 1);
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			fprintf(stderr, "upwatchctl: no answer from %s\n", c->path);
			return -ETIMEDOUT;
		}
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "upwatchctl: upwatchd at %s closed the connection\n",
				c->path);
			return -EPIPE;
		}
		c->len += (size_t)n;
	}
}

static void conn_consume(struct conn *c, long linelen)
{
	size_t used = (size_t)linelen + 1;
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
}

/* Send req and read the one answer. */
static int request(struct conn *c, const cJSON *req, cJSON **ret)
{
	int r = conn_send(c, req);
	/* refused clients get an error line before the daemon closes: read it */
	long n = conn_line(c, r < 0 ? 1000 : REPLY_TIMEOUT_MS);
	if (n < 0 && r < 0)
		fprintf(stderr, "upwatchctl: writing to %s: %s\n", c->path, strerror(-r));
	if (n < 0)
		return (int)n;
	cJSON *resp = cJSON_Parse(c->buf);
	conn_consume(c, n);
	if (!cJSON_IsObject(resp)) {
		cJSON_Delete(resp);
		fprintf(stderr, "upwatchctl: upwatchd at %s sent an unreadable answer\n", c->path);
		return -EPROTO;
	}
	*ret = resp;
	return 0;
}

static bool answer_ok(const cJSON *resp)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"));
}

static int print_answer(const char *cmd, const cJSON *resp, bool json, bool verbose)
{
	if (json) {
		char *s = cJSON_PrintUnformatted(resp);
		puts(s);
		free(s);
	} else if (answer_ok(resp)) {
		ctl_render(cmd, resp, verbose, stdout);
	}
	if (!answer_ok(resp)) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
		if (!json)
			fprintf(stderr, "upwatchctl: %s\n",
				cJSON_IsString(e) ? e->valuestring : "the daemon refused");
		return EXIT_NO;
	}
	return 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int cmd_watch(struct conn *c, bool json)
{
	cJSON *req = cJSON_CreateObject(), *resp;
	cJSON_AddStringToObject(req, "cmd", "subscribe");
	int r = request(c, req, &resp);
	cJSON_Delete(req);
	if (r < 0)
		return EXIT_UNREACHABLE;
	if (!answer_ok(resp))
		return print_answer("subscribe", resp, json, false);
	cJSON_Delete(resp);

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!stop) {
		long n = conn_line(c, -1);
		if (n < 0)
			return stop ? 0 : EXIT_UNREACHABLE;
		if (json) {
			puts(c->buf);
		} else {
			cJSON *ev = cJSON_Parse(c->buf);
			if (ev)
				ctl_render_event(ev, stdout);
			cJSON_Delete(ev);
		}
		conn_consume(c, n);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"all", no_argument, NULL, 'a'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {"config", required_argument, NULL, 'c'},
	    {"nginx-conf", required_argument, NULL, OPT_NGINX_CONF},
	    {"nginx-dump", required_argument, NULL, OPT_NGINX_DUMP},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"log", required_argument, NULL, OPT_LOG},
	    {"no-probe", no_argument, NULL, OPT_NO_PROBE},
	    {0},
	};
	static const char *const commands[] = {"status",  "upstreams", "alerts", "stats",
					       "probe",	  "reload",    "watch",	 "check",
					       "metrics", "explain"};
	const char *path = "/run/upwatch/upwatch.sock";
	const char *logs[EXPLAIN_LOGS_MAX];
	bool json = false, all = false, verbose = false, explain_only = false;
	struct explain_opts ex = {.since_ms = 15 * 60 * 1000};
	const char *since = NULL;
	int opt;

	/* "+" would stop at the command; options may follow it (alerts --all -v) */
	while ((opt = getopt_long(argc, argv, "s:javVhc:", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			ex.config_path = optarg;
			explain_only = true;
			break;
		case OPT_NGINX_CONF:
			ex.nginx_conf = optarg;
			explain_only = true;
			break;
		case OPT_NGINX_DUMP:
			ex.nginx_dump = optarg;
			explain_only = true;
			break;
		case OPT_SINCE:
			since = optarg;
			explain_only = true;
			break;
		case OPT_LOG:
			if (ex.nlogs >= EXPLAIN_LOGS_MAX) {
				fprintf(stderr, "upwatchctl: at most %d --log\n", EXPLAIN_LOGS_MAX);
				return EXIT_NO;
			}
			logs[ex.nlogs++] = optarg;
			explain_only = true;
			break;
		case OPT_NO_PROBE:
			ex.no_probe = true;
			explain_only = true;
			break;
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'a':
			all = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'V':
			printf("upwatchctl %s\n", UPWATCH_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_NO;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_NO;
	}
	const char *cmd = argv[optind++];
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		known |= streq(cmd, commands[i]);
	if (!known) {
		fprintf(stderr, "upwatchctl: unknown command \"%s\" (see --help)\n", cmd);
		return EXIT_NO;
	}
	if (explain_only && !streq(cmd, "explain")) {
		fprintf(stderr, "upwatchctl: --config, --nginx-conf, --nginx-dump, --since, --log "
				"and --no-probe are explain's options\n");
		return EXIT_NO;
	}
	if (streq(cmd, "explain")) {
		if (optind < argc) {
			fprintf(stderr, "upwatchctl: unexpected argument \"%s\"\n", argv[optind]);
			return CHECK_UNKNOWN;
		}
		if (ex.nginx_conf && ex.nginx_dump) {
			fprintf(stderr, "upwatchctl: --nginx-conf or --nginx-dump, not both\n");
			return CHECK_UNKNOWN;
		}
		if (since && parse_duration_ms(since, &ex.since_ms) < 0) {
			fprintf(stderr, "upwatchctl: --since %s: not a duration (e.g. 15m, 2h)\n",
				since);
			return CHECK_UNKNOWN;
		}
		unsigned stdin_users = ex.nginx_dump && streq(ex.nginx_dump, "-");
		for (size_t i = 0; i < ex.nlogs; i++)
			stdin_users += streq(logs[i], "-");
		if (stdin_users > 1) {
			fprintf(stderr,
				"upwatchctl: standard input can be read once (one \"-\")\n");
			return CHECK_UNKNOWN;
		}
		ex.logs = logs;
		ex.json = json;
		return ctl_explain(&ex);
	}
	const char *peer = NULL;
	if (streq(cmd, "probe")) {
		if (optind >= argc) {
			fprintf(stderr, "upwatchctl: probe needs a PEER (e.g. 127.0.0.1:8080)\n");
			return EXIT_NO;
		}
		peer = argv[optind++];
	}
	if (optind < argc) {
		fprintf(stderr, "upwatchctl: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_NO;
	}

	struct conn c = {.fd = -1};
	if (conn_open(&c, path) < 0)
		return streq(cmd, "check") ? ctl_check_unreachable(path) : EXIT_UNREACHABLE;

	int status;
	if (streq(cmd, "watch")) {
		status = cmd_watch(&c, json);
	} else {
		cJSON *req = cJSON_CreateObject(), *resp = NULL;
		cJSON_AddStringToObject(req, "cmd", cmd);
		if (all)
			cJSON_AddTrueToObject(req, "all");
		if (peer)
			cJSON_AddStringToObject(req, "peer", peer);
		int r = request(&c, req, &resp);
		cJSON_Delete(req);
		if (r < 0)
			status =
			    streq(cmd, "check") ? ctl_check_unreachable(path) : EXIT_UNREACHABLE;
		else if (streq(cmd, "check"))
			status = ctl_check(resp, stdout);
		else
			status = print_answer(cmd, resp, json, verbose);
		cJSON_Delete(resp);
	}
	free(c.buf);
	close(c.fd);
	return status;
}
