/* Unit tests for plan: targets, logs and watches from upwatch.conf and the
 * nginx model — override order and the timeout clamp, `probe off` at every
 * level, learned peers (protocol, probe_allow, unix paths). */
#include <stdio.h>
#include <stdlib.h>

#include "conf/config.h"
#include "core/util.h"
#include "daemon/plan.h"
#include "harness.h"
#include "nginx/ngxconf.h"

static struct config *cfg;
static struct ngx_model *model;

static void load(const char *upwatch_conf, const char *nginx_conf)
{
	const char *dir = harness_tmpdir();
	char path[512], err[512];
	config_free(cfg);
	ngxconf_free(model);
	cfg = NULL;
	model = NULL;
	harness_write(dir, "upwatch.conf", upwatch_conf);
	harness_write(dir, "nginx.conf", nginx_conf);
	snprintf(path, sizeof(path), "%s/upwatch.conf", dir);
	if (config_load(path, false, &cfg, err, sizeof(err)) < 0)
		fprintf(stderr, "upwatch.conf: %s\n", err);
	snprintf(path, sizeof(path), "%s/nginx.conf", dir);
	if (ngxconf_load(path, NULL, &model, err, sizeof(err)) < 0)
		fprintf(stderr, "nginx.conf: %s\n", err);
}

#define NGINX                                                                                      \
	"events {}\n"                                                                              \
	"http {\n"                                                                                 \
	"  upstream app { server 127.0.0.1:8081; server 127.0.0.1:8082; }\n"                       \
	"  upstream php { server unix:/var/run/php/fpm.sock; }\n"                                  \
	"  server { listen 80;\n"                                                                  \
	"    location / { proxy_pass http://app; }\n"                                              \
	"    location /p { fastcgi_pass php; }\n"                                                  \
	"    location /n { proxy_pass http://127.0.0.1:9000; } } }\n"

static const struct probe_target *find(const struct probe_target *t, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (streq(t[i].key, key))
			return &t[i];
	return NULL;
}

static void test_timeout_clamp_applies_after_overrides(void)
{
	load("probe_interval 2s;\nprobe_timeout 1s;\n"
	     "upstream app { probe_timeout 5s; }\n"
	     "peer 127.0.0.1:8082 { probe_interval 10s; }\n"
	     "peer 127.0.0.1:9000 { probe_timeout 1500ms; }\n",
	     NGINX);
	struct plan_targets pt;
	struct probe_target *t;
	plan_targets(cfg, model, NULL, 0, &pt);
	t = pt.v;
	size_t n = pt.n;
	CHECK_INT(n, 4);
	const struct probe_target *a = find(t, n, "127.0.0.1:8081");
	const struct probe_target *b = find(t, n, "127.0.0.1:8082");
	const struct probe_target *c = find(t, n, "127.0.0.1:9000");
	CHECK(a && b && c);
	if (a && b && c) {
		CHECK_INT(a->interval_ms, 2000);
		CHECK_INT(a->timeout_ms, 2000); /* the block's 5s clamped to the interval */
		CHECK_INT(b->interval_ms, 10000);
		CHECK_INT(b->timeout_ms, 5000); /* block's 5s fits the peer's 10s */
		CHECK_INT(c->timeout_ms, 1500);
	}
	plan_targets_done(&pt);
}

static void test_probe_off_removes_targets_at_every_level(void)
{
	struct plan_targets pt;
	struct probe_target *t;
	load("probe off;\n", NGINX);
	plan_targets(cfg, model, NULL, 0, &pt);
	CHECK_INT(pt.n, 0);
	plan_targets_done(&pt);

	load("upstream app { probe off; }\npeer unix:/var/run/php/fpm.sock { probe off; }\n",
	     NGINX);
	plan_targets(cfg, model, NULL, 0, &pt);
	t = pt.v;
	size_t n = pt.n;
	CHECK_INT(n, 1);
	CHECK_STR(t[0].key, "127.0.0.1:9000");
	plan_targets_done(&pt);

	/* off globally, a peer's own `probe on` does not bring it back... */
	load("probe off;\npeer 127.0.0.1:9000 { probe on; }\n", NGINX);
	plan_targets(cfg, model, NULL, 0, &pt);
	CHECK_INT(pt.n, 0);
	plan_targets_done(&pt);

	/* ...and a learned peer is not probed either */
	const char *learned[] = {"127.0.0.1:7000"};
	load("probe off;\n", NGINX);
	plan_targets(cfg, model, learned, 1, &pt);
	CHECK_INT(pt.n, 0);
	plan_targets_done(&pt);
}

static void test_learned_peers_are_tcp_and_inside_probe_allow(void)
{
	load("", NGINX);
	const char *learned[] = {
	    "127.0.0.1:7000",		  /* loopback: allowed by default */
	    "10.1.2.3:80",		  /* outside probe_allow */
	    "unix:/etc/shadow",		  /* a file a log line named */
	    "unix:/run/app/x.sock",	  /* below /run */
	    "unix:/run/../etc/shadow",	  /* not really below /run */
	    "unix:/var/run/php/b.sock",	  /* next to a configured unix peer */
	    "unix:/var/run/php/d/c.sock", /* below it: no */
	};
	struct plan_targets pt;
	struct probe_target *t;
	plan_targets(cfg, model, learned, ARRAY_SIZE(learned), &pt);
	t = pt.v;
	size_t n = pt.n;
	CHECK_INT(n, 4 + 3);
	const struct probe_target *l = find(t, n, "127.0.0.1:7000");
	CHECK(l && l->proto == PROBE_PROTO_TCP);
	CHECK_STR(ngxconf_proto_name(PLAN_LEARNED_PROTO), "tcp");
	CHECK(!find(t, n, "10.1.2.3:80"));
	CHECK(!find(t, n, "unix:/etc/shadow"));
	CHECK(find(t, n, "unix:/run/app/x.sock"));
	CHECK(!find(t, n, "unix:/run/../etc/shadow"));
	CHECK(find(t, n, "unix:/var/run/php/b.sock"));
	CHECK(!find(t, n, "unix:/var/run/php/d/c.sock"));
	plan_targets_done(&pt);
}

static void test_logs_without_repeats_and_watched_files(void)
{
	const char *dir = harness_tmpdir();
	char up[1024], ngx[1024];
	snprintf(up, sizeof(up), "error_log %s/a.log;\nerror_log %s/b.log;\n", dir, dir);
	snprintf(ngx, sizeof(ngx), "error_log %s/a.log;\nevents {}\nhttp {}\n", dir);
	load(up, ngx);
	const char **logs;
	size_t n = plan_logs(cfg, model, NULL, &logs);
	CHECK_INT(n, 2);
	char want[512];
	snprintf(want, sizeof(want), "%s/a.log", dir);
	CHECK_STR(logs[0], want);
	snprintf(want, sizeof(want), "%s/b.log", dir);
	CHECK_STR(n > 1 ? logs[1] : NULL, want);
	free(logs);

	const char **files;
	size_t nglobs;
	n = plan_watch(cfg, model, &files, &nglobs);
	CHECK_INT(n, 2); /* upwatch.conf and nginx.conf */
	snprintf(want, sizeof(want), "%s/upwatch.conf", dir);
	CHECK_STR(files[0], want);
	CHECK_INT(nglobs, 0);
	free(files);
}

int main(void)
{
	RUN(test_timeout_clamp_applies_after_overrides);
	RUN(test_probe_off_removes_targets_at_every_level);
	RUN(test_learned_peers_are_tcp_and_inside_probe_allow);
	RUN(test_logs_without_repeats_and_watched_files);
	config_free(cfg);
	ngxconf_free(model);
	return harness_result();
}
