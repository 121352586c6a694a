/* diag_fixture: see diag_fixture.h. */
#include "diag_fixture.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "harness.h"
#include "log/errlog.h"

struct diag_fake fake;
bool fake_last_probe(void *ud, const char *key, struct probe_result *ret)
{
	(void)ud;
	for (size_t i = 0; i < fake.nprobe; i++) {
		if (streq(fake.probe_key[i], key)) {
			*ret = fake.probe[i];
			return true;
		}
	}
	return false;
}

static bool is_near(const struct peerkey *k)
{
	return k->kind == PEERKEY_IPV4 && k->port != 8081 && fake.nnearby;
}

static bool fake_listener(void *ud, const struct peerkey *k, bool fresh, struct host_listener *ret)
{
	(void)ud;
	(void)fresh;
	if (is_near(k)) {
		*ret = (struct host_listener){.listening = true};
		snprintf(ret->process, sizeof(ret->process), "%s", fake.near_process);
		return true;
	}
	fake.listener_asks++;
	*ret = fake.listener;
	return fake.listener_known;
}

static const struct backend_info *fake_software(void *ud, const char *key,
						const struct host_listener *l)
{
	struct peerkey k;
	(void)ud;
	(void)l;
	if (peerkey_parse(key, strlen(key), 0, &k) == 0 && is_near(&k))
		return fake.have_sw_near ? &fake.sw_near : NULL;
	return fake.have_sw_peer ? &fake.sw_peer : NULL;
}

struct backend_setting setting(const char *value, const char *file, unsigned line)
{
	return (struct backend_setting){.value = (char *)value, .file = (char *)file, .line = line};
}

static int fake_nearby(void *ud, const struct peerkey *k, unsigned *ports, size_t max)
{
	(void)ud;
	(void)k;
	for (int i = 0; i < fake.nnearby && (size_t)i < max; i++)
		ports[i] = fake.nearby[i];
	return fake.nnearby;
}

static void fake_probe_now(void *ud, const char *key)
{
	(void)ud;
	(void)key;
	fake.probes_asked++;
}

static int fake_connections(void *ud, const struct peerkey *k, struct diag_conns *ret)
{
	(void)ud;
	(void)k;
	if (!fake.conns_known)
		return -ENOENT;
	*ret = fake.conns;
	return 0;
}

static int fake_unit_signal(void *ud, const char *unit, int64_t since_ms,
			    struct unitlog_signal *ret)
{
	(void)ud;
	snprintf(fake.unit_asked, sizeof(fake.unit_asked), "%s", unit);
	fake.unit_since = since_ms;
	fake.unit_reads++;
	if (fake.unit_sig.kind == UNITLOG_NONE)
		return -ENOENT;
	*ret = fake.unit_sig;
	return 0;
}

static int fake_nginx_remotes(void *ud, unsigned port, struct sockdiag_remote *ret, size_t max)
{
	(void)ud;
	(void)port;
	for (int i = 0; i < fake.nremotes && (size_t)i < max; i++)
		ret[i] = fake.remotes[i];
	return fake.nremotes ? fake.nremotes : -EPERM;
}

static void fake_learned(void *ud, const char *key, bool added)
{
	(void)ud;
	(void)key;
	fake.learned += added ? 1 : -1;
}

void set_probe(const char *key, enum probe_result_kind res, int64_t t)
{
	size_t i;
	for (i = 0; i < fake.nprobe && !streq(fake.probe_key[i], key); i++)
		;
	if (i == fake.nprobe)
		fake.nprobe++;
	snprintf(fake.probe_key[i], PEERKEY_MAX, "%s", key);
	fake.probe[i] = (struct probe_result){.result = res, .time_ms = t, .latency_ms = 1};
	snprintf(fake.probe[i].detail, sizeof(fake.probe[i].detail), "%s", probe_result_name(res));
}

static const char *NGINX =
    "user www-data;\n"						   /* 1 */
    "events { worker_connections 256; }\n"			   /* 2 */
    "http {\n"							   /* 3 */
    "  upstream app { server 127.0.0.1:8081; }\n"		   /* 4 */
    "  upstream pool {\n"					   /* 5 */
    "    server 127.0.0.1:9001 max_fails=1 fail_timeout=60s;\n"	   /* 6 */
    "    server 127.0.0.1:9002;\n"				   /* 7 */
    "  }\n"							   /* 8 */
    "  server {\n"						   /* 9 */
    "    server_name diag.test;\n"				   /* 10 */
    "    location / { proxy_pass http://app; }\n"		   /* 11 */
    "    location /slow/ {\n"					   /* 12 */
    "      proxy_read_timeout 30s;\n"				   /* 13 */
    "      proxy_pass http://app;\n"				   /* 14 */
    "    }\n"							   /* 15 */
    "    location /php { fastcgi_pass unix:/run/php/fpm.sock; }\n" /* 16 */
    "    location /pool { proxy_pass http://pool; }\n"		   /* 17 */
    "  }\n"							   /* 18 */
    "  upstream bk { server 127.0.0.1:9101; server 127.0.0.1:9102 backup; }\n"
    "  server { server_name bk.test; location / { proxy_pass http://bk; }"
    " location /app { proxy_pass http://unix:/run/app/socket; } }\n"
    "}\n"
    "stream {\n"				 /* 22 */
    "  upstream pg { server 127.0.0.1:5433; }\n" /* 23 */
    "  server { listen 5432; proxy_pass pg; }\n" /* 24 */
    "}\n";

char conf_path[512];
struct ngx_model *model;
struct config *cfg;
struct alert_store *alerts;
struct diag *diag;
unsigned published; /* alert changes handed to the outputs */

static void count_published(void *ud, const struct alert *a)
{
	(void)ud;
	(void)a;
	published++;
}

void setup(void)
{
	memset(&fake, 0, sizeof(fake));
	published = 0;
	alerts = alert_store_new(30000, count_published, NULL);
	const struct diag_host host = {
	    .last_probe = fake_last_probe,
	    .listener = fake_listener,
	    .ports_nearby = fake_nearby,
	    .software = fake_software,
	    .connections = fake_connections,
	    .unit_signal = fake_unit_signal,
	    .probe_now = fake_probe_now,
	    .learned = fake_learned,
	    .nginx_remotes = fake_nginx_remotes,
	};
	diag = diag_new(alerts, &host);
	diag_set_model(diag, model, cfg);
}

void teardown(void)
{
	diag_free(diag);
	alert_store_free(alerts);
}

void feed(int64_t now, const char *fmt, ...)
{
	char line[2048];
	struct errlog_event ev;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	int r = errlog_parse(line, strlen(line), &ev);
	CHECK_INT(r, 0);
	if (r == 0)
		diag_log_event(diag, &ev, line, strlen(line), now);
}

void expect_alert(enum cause c, const char *peer, const char *upstream, const char *ref,
		  enum alert_severity sev)
{
	const struct alert *a = alert_find(alerts, c, peer ? peer : upstream);
	CHECK(a != NULL);
	if (!a) {
		for (a = alert_first(alerts); a; a = alert_next(alerts, a))
			fprintf(stderr, "  have: %s %s firing=%d\n", cause_name(a->cause),
				a->peer ? a->peer : "-", a->firing);
		return;
	}
	if (peer)
		CHECK_STR(a->peer, peer);
	else
		CHECK(a->peer == NULL);
	if (upstream)
		CHECK_STR(a->upstream, upstream);
	else
		CHECK(a->upstream == NULL);
	char want[600];
	snprintf(want, sizeof(want), "%s:%s", conf_path, ref);
	CHECK_STR(a->config_ref, want);
	CHECK_INT(a->severity, sev);
	CHECK(a->summary && a->explanation && a->fix && a->fix[0]);
	CHECK(a->nevidence >= 1);
}

bool has_evidence(const struct alert *a, const char *want)
{
	for (size_t i = 0; a && i < a->nevidence; i++)
		if (streq(a->evidence[i], want))
			return true;
	for (size_t i = 0; a && i < a->nevidence; i++)
		fprintf(stderr, "  evidence: %s\n", a->evidence[i]);
	return false;
}

void set_gunicorn(void)
{
	fake.sw_peer = (struct backend_info){
	    .kind = BACKEND_GUNICORN,
	    .config_file = "/etc/gunicorn/app.conf.py",
	    .bound = true,
	    .proto = BACKEND_PROTO_HTTP,
	    .bind = setting("127.0.0.1:8081", "/etc/gunicorn/app.conf.py", 2),
	    .workers = setting("4", "/etc/gunicorn/app.conf.py", 3),
	    .timeout = setting("5", "/etc/gunicorn/app.conf.py", 4),
	};
	fake.have_sw_peer = true;
	fake.listener_known = true;
	fake.listener = (struct host_listener){.listening = true, .unit = "app.service"};
}

int diag_fixture_load(void)
{
	char err[512];
	snprintf(conf_path, sizeof(conf_path), "%s/diag/nginx.conf", harness_tmpdir());
	harness_write(harness_tmpdir(), "diag/nginx.conf", NGINX);
	if (ngxconf_load(conf_path, NULL, &model, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	cfg = config_new();
	return 0;
}
