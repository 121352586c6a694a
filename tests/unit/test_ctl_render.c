/* Unit tests for ctl_render: the human tables and the Nagios verdict. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_render.h"
#include "harness.h"

static char *render(const char *cmd, const char *json, bool verbose)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cJSON *o = cJSON_Parse(json);
	ctl_render(cmd, o, verbose, f);
	cJSON_Delete(o);
	fclose(f);
	return buf;
}

static int check(const char *json, char **out)
{
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	cJSON *o = cJSON_Parse(json);
	int code = ctl_check(o, f);
	cJSON_Delete(o);
	fclose(f);
	return code;
}

#define ALERT                                                                                      \
	"{\"id\":\"1\",\"cause\":\"backend_down\",\"severity\":\"%s\",\"state\":\"firing\","       \
	"\"upstream\":\"app\",\"peer\":\"127.0.0.1:8081\","                                        \
	"\"first_seen\":\"2026-11-21T10:00:00.000Z\",\"count\":3,"                                 \
	"\"summary\":\"127.0.0.1:8081 refuses connections\",\"explanation\":\"E.\","               \
	"\"fix\":\"line one\\nline two\",\"config_ref\":\"/n.conf:4\",\"evidence\":[\"log: x\"]}"

static void test_alerts_table_and_verbose_details(void)
{
	char json[2048], alert[1024];
	snprintf(alert, sizeof(alert), ALERT, "critical");
	snprintf(json, sizeof(json), "{\"ok\":true,\"alerts\":[%s]}", alert);
	char *s = render("alerts", json, false);
	CHECK(strstr(s, "CAUSE") && strstr(s, "backend_down") && strstr(s, "127.0.0.1:8081"));
	CHECK(!strstr(s, "explanation"));
	free(s);
	s = render("alerts", json, true);
	CHECK(strstr(s, "config:      /n.conf:4"));
	CHECK(strstr(s, "      line one\n      line two\n"));
	CHECK(strstr(s, "      - log: x\n"));
	free(s);
	s = render("alerts", "{\"ok\":true,\"alerts\":[]}", false);
	CHECK_STR(s, "no alerts\n");
	free(s);
}

static void test_check_codes_follow_the_worst_alert(void)
{
	char json[4096], a1[1024], a2[1024], *out;
	CHECK_INT(check("{\"ok\":true,\"alerts\":[]}", &out), CHECK_OK);
	CHECK_STR(out, "UPWATCH OK - no firing alerts | critical=0;;1 warning=0;1\n");
	free(out);
	snprintf(a1, sizeof(a1), ALERT, "warning");
	snprintf(json, sizeof(json), "{\"ok\":true,\"alerts\":[%s]}", a1);
	CHECK_INT(check(json, &out), CHECK_WARNING);
	free(out);
	snprintf(a2, sizeof(a2), ALERT, "critical");
	snprintf(json, sizeof(json), "{\"ok\":true,\"alerts\":[%s,%s]}", a1, a2);
	CHECK_INT(check(json, &out), CHECK_CRITICAL);
	CHECK(strstr(out, "UPWATCH CRITICAL - 1 critical, 1 warning: 127.0.0.1:8081 refuses") ==
	      out);
	CHECK(strstr(out, "| critical=1;;1 warning=1;1\n"));
	free(out);
	CHECK_INT(check("{\"ok\":false,\"error\":\"nope\"}", &out), CHECK_UNKNOWN);
	free(out);
}

static void test_upstreams_show_5xx_per_minute(void)
{
	char *out = render("upstreams",
			   "{\"ok\":true,\"peers\":[{\"peer\":\"127.0.0.1:9000\",\"protocol\":"
			   "\"http\",\"state\":\"up\",\"access\":{\"requests_1m\":40,"
			   "\"5xx_1m\":12}},{\"peer\":\"127.0.0.1:9001\",\"protocol\":\"http\","
			   "\"state\":\"up\",\"access\":null}]}",
			   false);
	CHECK(strstr(out, "STATE    5xx/min SOFTWARE     LAST") != NULL);
	CHECK(strstr(out, "127.0.0.1:9000                       -  "
			  "                http   up            12 ") != NULL);
	CHECK(strstr(out, "127.0.0.1:9001                       -  "
			  "                http   up             - ") != NULL);
	free(out);
}

static void test_check_answer_with_counts(void)
{
	char json[2048], a[1024], *out;
	snprintf(a, sizeof(a), ALERT, "critical");
	snprintf(json, sizeof(json), "{\"ok\":true,\"critical\":3,\"warning\":2,\"worst\":%s}", a);
	CHECK_INT(check(json, &out), CHECK_CRITICAL);
	CHECK_STR(out,
		  "UPWATCH CRITICAL - 3 critical, 2 warning: 127.0.0.1:8081 refuses connections "
		  "(127.0.0.1:8081) | critical=3;;1 warning=2;1\n");
	free(out);
	CHECK_INT(check("{\"ok\":true,\"critical\":0,\"warning\":0,\"worst\":null}", &out),
		  CHECK_OK);
	CHECK_STR(out, "UPWATCH OK - no firing alerts | critical=0;;1 warning=0;1\n");
	free(out);
}

/* A long unix path is cut in the middle so the columns after it stay in
 * line; -v prints it whole. upstreams shows the block and the software. */
static void test_long_peers_are_cut_in_the_middle(void)
{
	const char *json =
	    "{\"ok\":true,\"alerts\":[{\"severity\":\"critical\",\"state\":\"firing\","
	    "\"cause\":\"socket_missing\",\"peer\":\"unix:/run/some/long/dir/app-server.sock\","
	    "\"count\":2,\"summary\":\"s\"}]}";
	char *s = render("alerts", json, false);
	CHECK(s && strstr(s, "critical firing    socket_missing               "
			     "unix:/run/some...p-server.sock -              2  s\n"));
	free(s);
	s = render("alerts", json, true);
	CHECK(s && strstr(s, "    peer:        unix:/run/some/long/dir/app-server.sock\n"));
	free(s);
	s = render("upstreams",
		   "{\"ok\":true,\"peers\":[{\"peer\":\"127.0.0.1:9000\",\"protocol\":\"fastcgi\","
		   "\"state\":\"up\",\"upstreams\":[\"php\",\"php_backup\"],\"software\":"
		   "{\"name\":\"php-fpm\"}},{\"peer\":\"127.0.0.1:8000\",\"protocol\":\"http\","
		   "\"upstreams\":[]}]}",
		   false);
	CHECK_STR(s, "PEER                                 UPSTREAM   "
		     "        PROTO  STATE    5xx/min SOFTWARE     LAST          LATENCY  DETAIL\n"
		     "127.0.0.1:9000                       php+1      "
		     "        fastcgi up             - php-fpm      -                   -  \n"
		     "127.0.0.1:8000                       -          "
		     "        http   unknown        - -            -                   -  \n");
	free(s);
}

/* A block whose every peer is down is named after the table, also when
 * no no_live_upstreams alert fires for it any more. */
static void test_blocks_down_follow_the_table(void)
{
	char *s = render("alerts",
			 "{\"ok\":true,\"alerts\":[{\"severity\":\"critical\",\"state\":"
			 "\"firing\",\"cause\":\"backend_down\",\"peer\":\"127.0.0.1:1\","
			 "\"summary\":\"s\"}],\"blocks_down\":[{\"upstream\":\"pool\","
			 "\"config_ref\":\"/etc/nginx/nginx.conf:7\",\"peers\":[\"127.0.0.1:1\","
			 "\"127.0.0.1:2\"]}]}",
			 false);
	CHECK(s && strstr(s, "\nupstream pool (/etc/nginx/nginx.conf:7): every peer is down: "
			     "127.0.0.1:1 127.0.0.1:2\n"));
	free(s);
}

/* A log-derived unix path with OSC/CSI sequences, and invalid UTF-8 in a
 * summary: the terminal gets them escaped, never raw ESC or BEL. */
static void test_terminal_output_shows_control_characters_visibly(void)
{
	const char *json =
	    "{\"ok\":true,\"alerts\":[{\"severity\":\"critical\",\"state\":\"firing\","
	    "\"cause\":\"socket_missing\",\"peer\":\"unix:/run/app/\\u001b]0;PWNED\\u0007"
	    "\\u001b[2J.sock\",\"summary\":\"GET /caf\xe9\xff\",\"fix\":\"a\\u001b[1mb\\nc\","
	    "\"evidence\":[\"x\\u0007y\"]}]}";
	char *s = render("alerts", json, true);
	CHECK(s && !strchr(s, '\x1b') && !strchr(s, '\x07'));
	CHECK(s && strstr(s, "unix:/run/app/\\x1b]0;PWNED\\x07\\x1b[2J.sock"));
	CHECK(s && strstr(s, "GET /caf\\xe9\\xff"));
	CHECK(s && strstr(s, "      a\\x1b[1mb\n      c\n"));
	CHECK(s && strstr(s, "      - x\\x07y\n"));
	free(s);
	s = render(
	    "upstreams",
	    "{\"ok\":true,\"peers\":[{\"peer\":\"unix:/run/\\u001b[2J\",\"protocol\":\"tcp\"}]}",
	    false);
	CHECK(s && !strchr(s, '\x1b') && strstr(s, "unix:/run/\\x1b[2J"));
	free(s);
}

static void test_missing_fields_do_not_crash(void)
{
	const char *cmds[] = {"status", "stats",   "upstreams", "alerts",
			      "probe",	"metrics", "reload"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		free(render(cmds[i], "{\"ok\":true}", true));
		free(render(cmds[i],
			    "{\"ok\":true,\"alerts\":[1,\"x\",{}],\"peers\":[null,{}],"
			    "\"logs\":[{}],\"last_probe\":7}",
			    true));
	}
	char *out;
	check("{\"ok\":true,\"alerts\":[1,{\"state\":\"firing\"}]}", &out);
	free(out);
}

int main(void)
{
	RUN(test_alerts_table_and_verbose_details);
	RUN(test_check_codes_follow_the_worst_alert);
	RUN(test_upstreams_show_5xx_per_minute);
	RUN(test_check_answer_with_counts);
	RUN(test_long_peers_are_cut_in_the_middle);
	RUN(test_blocks_down_follow_the_table);
	RUN(test_terminal_output_shows_control_characters_visibly);
	RUN(test_missing_fields_do_not_crash);
	return harness_result();
}
