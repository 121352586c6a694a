/* bench_diagnose: the storm — every line a failure of one of 50 configured
 * peers — through errlog_parse() and diagnosis into the alert store, with a
 * host whose answers cost nothing, so the figure is diagnosis and alerting
 * alone. Prints µs per line, and the same for lines that name no upstream.
 * The tick (once a second in the daemon) runs every 100,000 lines, about a
 * sixth of a second of a storm at today's speed.
 *
 *   bench_diagnose [LINES]   (default 1,000,000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "log/errlog.h"
#include "nginx/ngxconf.h"
#include "core/util.h"

#define NPEERS 50

static unsigned changes;

static void on_change(void *ud, const struct alert *a)
{
	(void)ud;
	(void)a;
	changes++;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU: load stretches wall time */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(struct diag *d, char **lines, size_t nlines, size_t n, int64_t t0)
{
	struct errlog_event ev;
	double start = now_s();
	for (size_t i = 0; i < n; i++) {
		const char *l = lines[i % nlines];
		size_t len = strlen(l);
		if (errlog_parse(l, len, &ev) == 0)
			diag_log_event(d, &ev, l, len, t0 + (int64_t)(i / 1000));
		if (i % 100000 == 99999)
			diag_tick(d, t0 + (int64_t)(i / 1000));
	}
	return (now_s() - start) * 1e6 / (double)n;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	char dir[] = "/tmp/bench-diagnose-XXXXXX", path[64], err[512];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/nginx.conf", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, "events {}\nhttp {\n");
	for (int i = 0; i < NPEERS; i++)
		fprintf(f, "  upstream u%d { server 127.0.0.1:%d; }\n", i, 20000 + i);
	fprintf(f, "  server {\n    server_name bench.test;\n");
	for (int i = 0; i < NPEERS; i++)
		fprintf(f, "    location /u%d/ { proxy_pass http://u%d; }\n", i, i);
	fprintf(f, "  }\n}\n");
	fclose(f);
	struct ngx_model *m;
	if (ngxconf_load(path, NULL, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct config *cfg = config_new();

	char *storm[NPEERS], *noise[1];
	for (int i = 0; i < NPEERS; i++)
		storm[i] = xasprintf(
		    "2026/11/21 10:00:00 [error] 7#7: *%d connect() failed (111: Connection "
		    "refused) while connecting to upstream, client: 127.0.0.1, server: bench.test, "
		    "request: \"GET /u%d/x HTTP/1.1\", upstream: \"http://127.0.0.1:%d/u%d/x\", "
		    "host: \"bench.test\"",
		    i, i, 20000 + i, i);
	noise[0] = xasprintf("2026/11/21 10:00:00 [notice] 7#7: signal process started");

	const struct diag_host host = {0}; /* nothing known of the host */
	struct alert_store *alerts = alert_store_new(30000, on_change, NULL);
	struct diag *d = diag_new(alerts, &host);
	diag_set_model(d, m, cfg);
	int64_t t0 = 1700000000000LL;
	double storm_us = run(d, storm, NPEERS, n, t0);
	double noise_us = run(d, noise, 1, n, t0);
	printf("storm (every line a failure of one of %d configured peers): %.3f us/line "
	       "(%.0f k lines/s), %u alert changes\n",
	       NPEERS, storm_us, 1e3 / storm_us, changes);
	printf("noise (lines naming no upstream):                          %.3f us/line\n",
	       noise_us);
	diag_free(d);
	alert_store_free(alerts);
	config_free(cfg);
	ngxconf_free(m);
	for (int i = 0; i < NPEERS; i++)
		free(storm[i]);
	free(noise[0]);
	unlink(path);
	rmdir(dir);
	return 0;
}
