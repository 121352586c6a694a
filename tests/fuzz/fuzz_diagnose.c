/* fuzz_diagnose: lines of arbitrary bytes through errlog_parse() and
 * diagnosis (diag_log_event, diag_tick) against a small nginx model, as the
 * daemon feeds them. What it guards: the evidence kept per subject — the
 * ring of raw lines and the last cause line's details, which stay as spans
 * into that ring until read (evidence.h: fields_at) — never reads outside
 * what it kept (ASan), whatever the lines' lengths and order; and rendering
 * the alerts at the ticks never fails. Each input starts from nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "log/errlog.h"
#include "nginx/ngxconf.h"

#define T0 1700000000000LL

static struct ngx_model *model;
static struct config *cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char path[] = "/tmp/fuzz-diagnose-XXXXXX", err[512];
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		abort();
	fputs("events {}\nhttp {\n"
	      "  upstream app { server 127.0.0.1:8081; server 127.0.0.1:8082 backup; }\n"
	      "  upstream pool { server localhost:9001; }\n"
	      "  server {\n    server_name diag.test;\n"
	      "    location / { proxy_pass http://app; }\n"
	      "    location /slow/ { proxy_read_timeout 30s; proxy_pass http://app; }\n"
	      "    location /php { fastcgi_pass unix:/run/php/fpm.sock; }\n"
	      "    location /pool { proxy_pass http://pool; }\n"
	      "  }\n}\n",
	      f);
	fclose(f);
	if (ngxconf_load(path, NULL, &model, err, sizeof(err)) < 0)
		abort();
	unlink(path);
	cfg = config_new();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct diag_host host = {0}; /* nothing known of the host */
	struct alert_store *alerts = alert_store_new(30000, NULL, NULL);
	struct diag *d = diag_new(alerts, &host);
	diag_set_model(d, model, cfg);
	const char *p = (const char *)data, *end = p + size;
	int64_t now = T0;
	for (unsigned i = 0; p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		/* an exact-size copy: ASan sees any read past the line */
		char *line = malloc(len ? len : 1);
		memcpy(line, p, len);
		struct errlog_event ev;
		if (errlog_parse(line, len, &ev) == 0)
			diag_log_event(d, &ev, line, len, now);
		free(line); /* kept spans into it would now be read after free */
		now += 137;
		if (i % 8 == 7)
			diag_tick(d, now);
		p += len + (nl ? 1 : 0);
	}
	diag_tick(d, now + 1000);
	diag_tick(d, now + 24 * 3600 * 1000LL); /* everything resolves and expires */
	diag_free(d);
	alert_store_free(alerts);
	return 0;
}
