/* Unit tests for config: defaults, every directive, durations, errors with file:line. */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "harness.h"
#include "core/util.h"

static struct config *load(const char *text, char *err)
{
	static int n;
	char rel[64], path[512];
	snprintf(rel, sizeof(rel), "c%d/upwatch.conf", n++);
	harness_write(harness_tmpdir(), rel, text);
	snprintf(path, sizeof(path), "%s/%s", harness_tmpdir(), rel);
	struct config *c = NULL;
	err[0] = '\0';
	if (config_load(path, false, &c, err, 512) < 0)
		return NULL;
	return c;
}

static void expect_error(const char *text, const char *want_suffix)
{
	char err[512];
	struct config *c = load(text, err);
	CHECK(!c);
	config_free(c);
	const char *colon = strstr(err, "upwatch.conf:");
	CHECK(colon != NULL);
	if (colon)
		CHECK_STR(colon + strlen("upwatch.conf:"), want_suffix);
}

static void test_durations(void)
{
	uint64_t ms;
	CHECK_INT(parse_duration_ms("500ms", &ms), 0);
	CHECK_INT(ms, 500);
	CHECK_INT(parse_duration_ms("5s", &ms), 0);
	CHECK_INT(ms, 5000);
	CHECK_INT(parse_duration_ms("1m", &ms), 0);
	CHECK_INT(ms, 60000);
	CHECK_INT(parse_duration_ms("1h", &ms), 0);
	CHECK_INT(ms, 3600000);
	CHECK_INT(parse_duration_ms("7", &ms), 0);
	CHECK_INT(ms, 7000);
	CHECK_INT(parse_duration_ms("5x", &ms), -EINVAL);
	CHECK_INT(parse_duration_ms("", &ms), -EINVAL);
	CHECK_INT(parse_duration_ms("-1s", &ms), -EINVAL);
	CHECK_INT(parse_duration_ms("99999999999999999999s", &ms), -ERANGE);
}

static void test_defaults(void)
{
	struct config *c = config_new();
	CHECK_STR(c->nginx_conf, "/etc/nginx/nginx.conf");
	CHECK_STR(c->socket_path, "/run/upwatch/upwatch.sock");
	CHECK_STR(c->state_dir, "/var/lib/upwatch");
	CHECK_INT(c->probe_interval_ms, 5000);
	CHECK_INT(c->probe_timeout_ms, 2000);
	CHECK_INT(c->start_at, TAIL_START_SAVED);
	CHECK_INT(c->alert_hold_ms, 30000);
	CHECK_STR(c->health_uri, "/");
	CHECK_INT(c->expect_lo, 200);
	CHECK_INT(c->expect_hi, 399);
	struct peerkey k;
	peerkey_parse("127.0.0.9:80", 12, 0, &k);
	CHECK(config_probe_allowed(c, &k));
	peerkey_parse("[::1]:80", 8, 0, &k);
	CHECK(config_probe_allowed(c, &k));
	peerkey_parse("192.0.2.1:80", 12, 0, &k);
	CHECK(!config_probe_allowed(c, &k));
	peerkey_parse("app.example:80", 14, 0, &k);
	CHECK(!config_probe_allowed(c, &k));
	config_free(c);
}

static void test_design_example_loads(void)
{
	char err[512];
	struct config *c =
	    load("nginx_conf /etc/nginx/nginx.conf;\n"
		 "socket /run/upwatch/upwatch.sock;\n"
		 "probe_interval 5s;\n"
		 "probe_timeout 2s;\n"
		 "upstream backend {            # overrides for one nginx upstream block\n"
		 "    health_uri /healthz;\n"
		 "    expect_status 200-399;\n"
		 "}\n"
		 "peer unix:/run/php/php8.2-fpm.sock { probe off; }\n"
		 "error_log /var/log/nginx/extra-error.log;\n"
		 "start_at saved;\n"
		 "probe_allow 10.1.0.0/16 ::1;\n"
		 "metrics_file /run/upwatch/metrics.prom;\n"
		 "alert_hold 0;\n"
		 "log_level debug;\n",
		 err);
	CHECK(c);
	if (!c) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	const struct config_override *u = config_upstream(c, "backend");
	CHECK(u && streq(u->health_uri, "/healthz") && u->expect_lo == 200 && u->expect_hi == 399);
	CHECK(u && strstr(u->ref, "upwatch.conf:5"));
	const struct config_override *p = config_peer(c, "unix:/run/php/php8.2-fpm.sock");
	CHECK(p && p->probe == 0);
	CHECK_INT(c->nerror_logs, 1);
	CHECK_STR(c->error_logs[0], "/var/log/nginx/extra-error.log");
	CHECK_INT(c->alert_hold_ms, 0);
	CHECK_INT(c->log_level, 7);
	struct peerkey k;
	peerkey_parse("10.1.2.3:80", 11, 0, &k);
	CHECK(config_probe_allowed(c, &k));
	peerkey_parse("127.0.0.1:80", 12, 0, &k); /* replaced the default list */
	CHECK(!config_probe_allowed(c, &k));
	config_free(c);
}

static void test_errors_name_file_and_line(void)
{
	expect_error("probe_interval 5s;\nbogus 1;\n", "2: unknown directive \"bogus\"");
	expect_error(
	    "\nprobe_interval 5x;\n",
	    "2: invalid duration \"5x\" in \"probe_interval\" (use e.g. 500ms, 5s, 1m, 1h)");
	expect_error("probe_timeout;\n", "1: invalid number of arguments in \"probe_timeout\"");
	expect_error(
	    "start_at middle;\n",
	    "1: invalid value \"middle\" in \"start_at\", expecting saved, end or beginning");
	expect_error("upstream b {\n  expect_status 99;\n}\n",
		     "2: invalid status range \"99\" (e.g. 200-399)");
	/* one digit parser: no sign, no blanks, no trailing text */
	expect_error("upstream b {\n  expect_status +200;\n}\n",
		     "2: invalid status range \"+200\" (e.g. 200-399)");
	expect_error("upstream b {\n  expect_status 200-;\n}\n",
		     "2: invalid status range \"200-\" (e.g. 200-399)");
	expect_error("upstream b {\n  expect_status 399-200;\n}\n",
		     "2: invalid status range \"399-200\" (e.g. 200-399)");
	expect_error("probe_retries -1;\n",
		     "1: invalid number \"-1\" in \"probe_retries\" (0 to 1000)");
	expect_error("probe_retries 1x;\n",
		     "1: invalid number \"1x\" in \"probe_retries\" (0 to 1000)");
	expect_error("probe_allow 10.0.0.0/+8;\n",
		     "1: invalid network \"10.0.0.0/+8\" in \"probe_allow\"");
	expect_error("probe_allow 10.0.0.0/33;\n",
		     "1: invalid network \"10.0.0.0/33\" in \"probe_allow\"");
	expect_error("upstream b {\n  frobnicate;\n}\n",
		     "2: unknown directive \"frobnicate\" in \"upstream\" block");
	expect_error("peer nonsense { probe off; }\n",
		     "1: invalid peer \"nonsense\" (use ADDR:PORT, [V6]:PORT or unix:/path)");
	expect_error("peer 127.0.0.1:80 { probe maybe; }\n",
		     "1: invalid value \"maybe\" in \"probe\", expecting \"on\" or \"off\"");
	expect_error("upstream a { }\nupstream a { }\n", "2: duplicate \"upstream a\"");
	expect_error("probe_allow 300.1.1.1;\n",
		     "1: invalid network \"300.1.1.1\" in \"probe_allow\"");
	expect_error("error_log relative.log;\n", "1: error_log needs an absolute path");
	expect_error("probe_max_inflight 0;\n",
		     "1: invalid number \"0\" in \"probe_max_inflight\" (1 to 65536)");
	expect_error("socket {\n}\n", "1: \"socket\" takes no block");
}

static void test_include_and_missing_files(void)
{
	const char *d = harness_tmpdir();
	harness_write(d, "inc/upwatch.conf", "include conf.d/*.conf;\n");
	harness_write(d, "inc/conf.d/a.conf", "probe_interval 9s;\n");
	char path[512], err[512];
	snprintf(path, sizeof(path), "%s/inc/upwatch.conf", d);
	struct config *c = NULL;
	CHECK_INT(config_load(path, false, &c, err, sizeof(err)), 0);
	CHECK(c && c->probe_interval_ms == 9000);
	config_free(c);

	snprintf(path, sizeof(path), "%s/inc/absent.conf", d);
	c = NULL;
	CHECK_INT(config_load(path, true, &c, err, sizeof(err)), 0);
	CHECK(c && c->file == NULL && c->probe_interval_ms == 5000);
	config_free(c);
	CHECK(config_load(path, false, &c, err, sizeof(err)) < 0);
	CHECK(strstr(err, "No such file or directory") != NULL);
}

static void test_timeout_longer_than_interval_is_refused(void)
{
	char err[512];
	struct config *c = load("probe_interval 1s;\nprobe_timeout 2s;\n", err);
	CHECK(!c);
	CHECK(strstr(err, "probe_timeout (2000ms) is longer than probe_interval (1000ms)") != NULL);
}

/* An include over an unreadable directory: the load succeeds and the
 * config carries the warning for status and --check-config. */
static void test_unreadable_include_directory_is_a_load_warning(void)
{
	char err[512], loop[600];
	snprintf(loop, sizeof(loop), "%s/w1/loop", harness_tmpdir());
	harness_write(harness_tmpdir(), "w1/x", "");
	CHECK_INT(symlink("loop", loop), 0);
	struct config *c = NULL;
	char path[600];
	harness_write(harness_tmpdir(), "w1/upwatch.conf",
		      "probe_interval 5s;\ninclude loop/*.conf;\n");
	snprintf(path, sizeof(path), "%s/w1/upwatch.conf", harness_tmpdir());
	CHECK_INT(config_load(path, false, &c, err, sizeof(err)), 0);
	if (!c)
		return;
	CHECK_INT(c->warnings.n, 1);
	if (c->warnings.n == 1) {
		CHECK_STR(c->warnings.v[0].file, path);
		CHECK_INT(c->warnings.v[0].line, 2);
	}
	config_free(c);
}

int main(void)
{
	RUN(test_durations);
	RUN(test_defaults);
	RUN(test_design_example_loads);
	RUN(test_errors_name_file_and_line);
	RUN(test_include_and_missing_files);
	RUN(test_timeout_longer_than_interval_is_refused);
	RUN(test_unreadable_include_directory_is_a_load_warning);
	return harness_result();
}
