/* Unit tests for diagnose's dns_stale: a host-name peer whose name now
 * gives another address than the one nginx keeps using (a model of its own,
 * NGINX_NAMES, and the fake host's probe answers; diag_fixture.h). */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/unitlog.h"
#include "conf/config.h"
#include "core/util.h"
#include "diag_fixture.h"
#include "diagnose/advice.h"
#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "diagnose/evidence.h"
#include "diagnose/rules.h"
#include "harness.h"
#include "log/errlog.h"
#include "nginx/ngxconf.h"
#include "output/json.h"

static const char *NGINX_NAMES = "events { }\n"						    /* 1 */
				 "http {\n"						    /* 2 */
				 "  upstream named {\n"					    /* 3 */
				 "    server app.test:8080;\n"				    /* 4 */
				 "  }\n"						    /* 5 */
				 "  server {\n"						    /* 6 */
				 "    server_name dns.test;\n"				    /* 7 */
				 "    location /named { proxy_pass http://named; }\n"	    /* 8 */
				 "    location /lit { proxy_pass http://lit.test:8090; }\n" /* 9 */
				 "    location /fol { proxy_pass http://follows; }\n"	    /* 10 */
				 "  }\n"						    /* 11 */
				 "  upstream follows { zone follows 64k;\n"		    /* 12 */
				 "    server fol.test:8070 resolve; }\n"		    /* 13 */
				 "}\n";

#define REFUSED_AT                                                                                 \
	"2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while "    \
	"connecting to upstream, client: 127.0.0.1, server: dns.test, request: \"GET %s "          \
	"HTTP/1.1\", upstream: \"http://%s/\", host: \"dns.test\""

static char names_path[512];
static struct ngx_model *names_model;

static void setup_names(void)
{
	setup();
	diag_set_model(diag, names_model, cfg);
}

static void set_answers(const char *key, enum probe_result_kind res, const char *answers)
{
	set_probe(key, res, T0);
	struct probe_result r;
	fake_last_probe(NULL, key, &r);
	for (size_t i = 0; i < fake.nprobe; i++)
		if (streq(fake.probe_key[i], key))
			snprintf(fake.probe[i].dns_answers, sizeof(fake.probe[i].dns_answers), "%s",
				 answers);
}

static bool evidence_has(const struct alert *a, const char *needle)
{
	for (size_t i = 0; a && i < a->nevidence; i++)
		if (strstr(a->evidence[i], needle))
			return true;
	return false;
}

static void test_an_old_answer_of_a_moved_name_is_dns_stale(void)
{
	setup_names();
	/* the name resolves to 127.0.0.3 now; nginx still connects to .2 */
	set_answers("app.test:8080", PROBE_OK, "127.0.0.3");
	/* where the kernel shows them: nginx's own sockets to the old address */
	fake.remotes[0] = (struct sockdiag_remote){.family = AF_INET, .syn_sent = 2};
	inet_pton(AF_INET, "127.0.0.2", fake.remotes[0].addr);
	fake.nremotes = 1;
	feed(T0, REFUSED_AT, "/named", "127.0.0.2:8080");
	feed(T0 + 10, REFUSED_AT, "/named", "127.0.0.2:8080");
	const struct alert *a = alert_find(alerts, CAUSE_DNS_STALE, "app.test:8080");
	CHECK(a && a->firing);
	CHECK(a && a->count == 2);
	CHECK_STR(a ? a->upstream : NULL, "named");
	char want[600];
	snprintf(want, sizeof(want), "%s:4", names_path); /* the server line naming it */
	CHECK_STR(a ? a->config_ref : NULL, want);
	CHECK(a && strstr(a->summary, "nginx connects to an old address of app.test "
				      "(127.0.0.2:8080)"));
	CHECK(a && strstr(a->explanation, "nginx's error lines name 127.0.0.2:8080, an address "
					  "app.test no longer resolves to"));
	CHECK(a && strstr(a->fix, "nginx -t && nginx -s reload"));
	CHECK(a && strstr(a->fix, "server app.test:8080 resolve;"));
	CHECK(evidence_has(a, "dns: nginx connects to 127.0.0.2:8080 (its error log); app.test "
			      "resolves now to 127.0.0.3"));
	CHECK(evidence_has(a, "upstream: \"http://127.0.0.2:8080/\""));
	CHECK(evidence_has(a, "host: nginx's workers hold connections to 127.0.0.2:8080 (2 "
			      "connecting)"));
	/* one story: the old address gets no alert of its own, nor from its probe */
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:8080") == NULL);
	set_probe("127.0.0.2:8080", PROBE_REFUSED, T0 + 20);
	struct probe_result r;
	fake_last_probe(NULL, "127.0.0.2:8080", &r);
	diag_probe_result(diag, "127.0.0.2:8080", &r, T0 + 20);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:8080") == NULL);
	CHECK(alert_find(alerts, CAUSE_PEER_FAILING, "127.0.0.2:8080") == NULL);
	CHECK_INT(alert_firing_count(alerts), 1);
	teardown();
}

static void test_a_literal_pass_target_that_moved_is_dns_stale_at_its_line(void)
{
	setup_names();
	set_answers("lit.test:8090", PROBE_OK, "127.0.0.5 ::1");
	feed(T0, REFUSED_AT, "/lit/x", "127.0.0.4:8090");
	const struct alert *a = alert_find(alerts, CAUSE_DNS_STALE, "lit.test:8090");
	CHECK(a && a->firing);
	char want[600];
	snprintf(want, sizeof(want), "%s:9", names_path);
	CHECK_STR(a ? a->config_ref : NULL, want);
	CHECK(a && strstr(a->fix, "set $backend \"lit.test:8090\";"));
	teardown();
}

static void test_a_name_that_still_gives_the_address_is_backend_down(void)
{
	setup_names();
	set_answers("app.test:8080", PROBE_REFUSED, "127.0.0.2");
	feed(T0, REFUSED_AT, "/named", "127.0.0.2:8080");
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:8080") != NULL);
	CHECK(alert_find(alerts, CAUSE_DNS_STALE, "app.test:8080") == NULL);
	/* a name on another port never claims the address */
	feed(T0, REFUSED_AT, "/named", "127.0.0.2:9999");
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:9999") != NULL);
	CHECK(alert_find(alerts, CAUSE_DNS_STALE, "app.test:8080") == NULL);
	teardown();
}

static void test_a_name_nginx_resolves_itself_never_goes_stale(void)
{
	/* `server ... resolve`: nginx follows the name; an old address failing
	 * is that address's own story */
	setup_names();
	set_answers("fol.test:8070", PROBE_OK, "127.0.0.7");
	feed(T0, REFUSED_AT, "/fol", "127.0.0.6:8070");
	CHECK(alert_find(alerts, CAUSE_DNS_STALE, "fol.test:8070") == NULL);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.6:8070") != NULL);
	teardown();
}

static void test_a_slow_old_address_is_not_dns_stale(void)
{
	/* the old address answers (slowly): the name moving is not the failure */
	setup_names();
	set_answers("app.test:8080", PROBE_OK, "127.0.0.3");
	feed(T0,
	     "2026/11/21 10:00:00 [error] 7#7: *1 upstream timed out (110: Connection "
	     "timed out) "
	     "while reading response header from upstream, client: 127.0.0.1, server: "
	     "dns.test, "
	     "request: \"GET %s HTTP/1.1\", upstream: \"http://127.0.0.2:8080/\", host: "
	     "\"d\"",
	     "/named");
	CHECK(alert_find(alerts, CAUSE_DNS_STALE, "app.test:8080") == NULL);
	CHECK(alert_find(alerts, CAUSE_BACKEND_SLOW, "127.0.0.2:8080") != NULL);
	teardown();
}

static void test_a_fresh_answer_turns_the_old_address_alert_into_dns_stale(void)
{
	setup_names();
	/* not resolved yet: the address's own alert, and the name is asked for */
	feed(T0, REFUSED_AT, "/named", "127.0.0.2:8080");
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:8080") != NULL);
	CHECK(fake.probes_asked >= 2); /* the address, and the name */
	set_answers("app.test:8080", PROBE_OK, "127.0.0.3");
	struct probe_result r;
	fake_last_probe(NULL, "app.test:8080", &r);
	diag_probe_result(diag, "app.test:8080", &r, T0 + 1000);
	const struct alert *a = alert_find(alerts, CAUSE_DNS_STALE, "app.test:8080");
	CHECK(a && a->firing);
	CHECK(alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.2:8080") == NULL);
	CHECK_INT(alert_firing_count(alerts), 1);
	/* and the next line on the old address counts there */
	feed(T0 + 2000, REFUSED_AT, "/named", "127.0.0.2:8080");
	CHECK(a && a->count == 2);
	CHECK_INT(alert_firing_count(alerts), 1);
	teardown();
}

int main(void)
{
	char err[512];
	if (diag_fixture_load() != 0)
		return 1;
	snprintf(names_path, sizeof(names_path), "%s/names/nginx.conf", harness_tmpdir());
	harness_write(harness_tmpdir(), "names/nginx.conf", NGINX_NAMES);
	if (ngxconf_load(names_path, NULL, &names_model, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}

	RUN(test_an_old_answer_of_a_moved_name_is_dns_stale);
	RUN(test_a_literal_pass_target_that_moved_is_dns_stale_at_its_line);
	RUN(test_a_name_that_still_gives_the_address_is_backend_down);
	RUN(test_a_slow_old_address_is_not_dns_stale);
	RUN(test_a_name_nginx_resolves_itself_never_goes_stale);
	RUN(test_a_fresh_answer_turns_the_old_address_alert_into_dns_stale);

	config_free(cfg);
	ngxconf_free(model);
	ngxconf_free(names_model);
	return harness_result();
}
