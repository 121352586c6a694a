/* Unit tests for diagnose: the backend's own word — what its systemd unit's
 * journal says (gunicorn's WORKER TIMEOUT, a SIGKILLed worker), when that
 * journal is read, and systemd's Result= and restarts — with the fake host
 * of diag_fixture.h. */
#include <stdio.h>
#include <string.h>

#include "backend/unitlog.h"
#include "core/util.h"
#include "diag_fixture.h"
#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "harness.h"

static void test_gunicorn_worker_timeout_in_its_journal_raises_its_timeout(void)
{
	setup();
	set_gunicorn();
	fake.unit_sig = (struct unitlog_signal){.kind = UNITLOG_WORKER_TIMEOUT,
						.pid = 124,
						.time_ms = T0 - 2000,
						.count = 2,
						.text = "[CRITICAL] WORKER TIMEOUT (pid:124)"};
	feed(T0, SLOW_RESET);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	CHECK(a != NULL);
	CHECK_STR(fake.unit_asked, "app.service");
	CHECK_INT(fake.unit_since, T0 - 60000); /* a minute before the first error */
	CHECK(has_evidence(a, "journal of app.service 2023-11-14T22:13:18.000Z: [CRITICAL] "
			      "WORKER TIMEOUT (pid:124) (2 such entries)"));
	CHECK(a && strstr(a->explanation, "Inferred: gunicorn killed the worker serving the "
					  "request at its own time limit (--timeout 5 s)"));
	/* above the 5 s it cut and the location's proxy_read_timeout 30s, with headroom */
	CHECK(a && strstr(a->fix, "Raise --timeout at /etc/gunicorn/app.conf.py:4 above what "
				  "these requests take (they ran more than 5 s; nginx waits 30 s "
				  "for them here):\n    timeout = 34\n"));
	CHECK(a && !strstr(a->fix, "keepalive_timeout"));
	CHECK_STR(a ? a->config_ref : "", "/etc/gunicorn/app.conf.py:4");
	teardown();

	/* on the command line (or the unit's ExecStart), the flag as written there */
	setup();
	set_gunicorn();
	fake.sw_peer.bind = setting("127.0.0.1:8081", NULL, 0);
	fake.sw_peer.workers = setting(NULL, NULL, 0);
	fake.sw_peer.timeout = setting("2", NULL, 0);
	fake.unit_sig = (struct unitlog_signal){.kind = UNITLOG_WORKER_TIMEOUT,
						.time_ms = T0,
						.count = 1,
						.text = "WORKER TIMEOUT (pid:9)"};
	feed(T0, SLOW_RESET);
	a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	CHECK(a && strstr(a->fix, "Raise --timeout at its command line above what these requests "
				  "take (they ran more than 2 s; nginx waits 30 s for them "
				  "here):\n    --timeout 34\n"));
	char server_line[600];
	snprintf(server_line, sizeof(server_line), "%s:4", conf_path); /* no file to point at */
	CHECK_STR(a ? a->config_ref : "", server_line);
	teardown();
}

/* gunicorn logs a SIGKILLed worker after nginx saw its connection close: the
 * journal is read again at the ticks of the next 3 s, then no more. */
static void test_the_units_journal_is_read_again_while_the_backend_may_write_why(void)
{
	setup();
	set_gunicorn();
	feed(T0, SLOW_RESET);
	CHECK_INT(fake.unit_reads, 1);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	CHECK(a && strstr(a->fix, "keepalive_timeout")); /* nothing known yet */
	fake.unit_sig =
	    (struct unitlog_signal){.kind = UNITLOG_WORKER_KILLED,
				    .time_ms = T0 + 50,
				    .count = 1,
				    .text = "Worker with pid 77 was terminated due to signal 9"};
	diag_tick(diag, T0 + 1000);
	CHECK_INT(fake.unit_reads, 2);
	a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	CHECK(has_evidence(a, "journal of app.service 2023-11-14T22:13:20.050Z: Worker with pid 77 "
			      "was terminated due to signal 9"));
	CHECK(a && strstr(a->explanation, "a worker was killed with SIGKILL"));
	diag_tick(diag, T0 + 2000);
	CHECK_INT(fake.unit_reads, 2); /* found: no more reading */
	teardown();

	/* nothing ever comes: read at the ticks within 3 s, then left alone */
	setup();
	set_gunicorn();
	feed(T0, SLOW_RESET);
	for (int t = 1; t <= 6; t++)
		diag_tick(diag, T0 + t * 1000);
	CHECK_INT(fake.unit_reads, 4); /* T0, +1 s, +2 s, +3 s (the last finds it too late) */
	teardown();
}

/* A storm keeps a firing alert's counts changing, so its words are written
 * at every tick; the unit's journal (sd_journal_open and up to 2,000 entries)
 * is not read at each: when the alert opens, at the ticks of the first 3 s,
 * then once a minute, its word kept between reads. */
static void test_a_storm_reads_the_units_journal_a_bounded_number_of_times(void)
{
	setup();
	set_gunicorn();
	feed(T0, SLOW_RESET);
	const struct alert *a = NULL;
	for (int t = 1; t <= 600; t++) {
		feed(T0 + t * 1000 - 500, SLOW_RESET);
		if (t == 30) /* the backend writes why only half a minute in */
			fake.unit_sig = (struct unitlog_signal){
			    .kind = UNITLOG_WORKER_KILLED,
			    .time_ms = T0 + 29000,
			    .count = 1,
			    .text = "Worker with pid 77 was terminated due to signal 9"};
		diag_tick(diag, T0 + t * 1000);
		a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
		if (t == 62) /* the last read was at +3 s */
			CHECK(a && !strstr(a->explanation, "a worker was killed with SIGKILL"));
		if (t == 63) { /* a minute later: read again, and told */
			CHECK(a && strstr(a->explanation, "a worker was killed with SIGKILL"));
			CHECK(has_evidence(a, "journal of app.service 2023-11-14T22:13:49.000Z: "
					      "Worker with pid 77 was terminated due to signal 9"));
		}
		if (t == 64) /* kept on the evidence, not forgotten between reads */
			CHECK(has_evidence(a, "journal of app.service 2023-11-14T22:13:49.000Z: "
					      "Worker with pid 77 was terminated due to signal 9"));
	}
	/* T0, +1 s, +2 s, +3 s, then +63 s, +123 s, ..., +543 s: 13 reads for
	 * 601 renders */
	CHECK_INT(fake.unit_reads, 4 + 9);
	CHECK(a && a->firing);
	CHECK_INT(a ? (int)a->count : 0, 601);
	CHECK_INT(fake.unit_since, T0 - 60000);
	teardown();

	/* a word written within the first 3 s is seen at the next tick, storm
	 * or not; several renders at one instant (a line and the tick of one
	 * loop turn) read once */
	setup();
	set_gunicorn();
	feed(T0, SLOW_RESET);
	feed(T0, SLOW_RESET);
	diag_tick(diag, T0);
	CHECK_INT(fake.unit_reads, 1);
	fake.unit_sig = (struct unitlog_signal){.kind = UNITLOG_WORKER_TIMEOUT,
						.time_ms = T0 + 1500,
						.count = 1,
						.text = "[CRITICAL] WORKER TIMEOUT (pid:124)"};
	feed(T0 + 1600, SLOW_RESET);
	diag_tick(diag, T0 + 2000);
	CHECK_INT(fake.unit_reads, 2);
	a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	CHECK(has_evidence(a, "journal of app.service 2023-11-14T22:13:21.500Z: [CRITICAL] "
			      "WORKER TIMEOUT (pid:124)"));
	teardown();

	/* a new episode reads its own: from a minute before its first error */
	setup();
	set_gunicorn();
	feed(T0, SLOW_RESET);
	for (int t = 1; t <= 40; t++) /* quiet: the alert resolves, the episode ends */
		diag_tick(diag, T0 + t * 1000);
	CHECK(!alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081"));
	int reads = fake.unit_reads;
	feed(T0 + 50000, SLOW_RESET);
	CHECK_INT(fake.unit_reads, reads + 1);
	CHECK_INT(fake.unit_since, T0 + 50000 - 60000);
	teardown();
}

static void test_an_oom_killed_unit_is_told_from_its_result(void)
{
	setup();
	set_gunicorn();
	fake.listener.unit_known = true;
	snprintf(fake.listener.active_state, sizeof(fake.listener.active_state), "active");
	snprintf(fake.listener.result, sizeof(fake.listener.result), "oom-kill");
	fake.listener.nrestarts = 2;
	feed(T0, SLOW_RESET);
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	/* no exit time from the bus: the time it was read */
	CHECK(has_evidence(a, "systemd: unit app.service Result=oom-kill, NRestarts=2, as of "
			      "2023-11-14T22:13:20.000Z"));
	CHECK(a && strstr(a->explanation, "systemd says unit app.service Result=oom-kill"));
	CHECK(a && strstr(a->explanation, "the kernel's OOM killer ended a backend process"));
	CHECK(a && strstr(a->fix, "run fewer at /etc/gunicorn/app.conf.py:3 (now 4)"));
	CHECK(a && strstr(a->fix, "systemctl set-property app.service MemoryMax="));
	CHECK(a && !strstr(a->fix, "Raise --timeout"));
	teardown();

	/* a SIGKILLed worker with no OOM word: the kernel log is where to look */
	setup();
	set_gunicorn();
	fake.unit_sig =
	    (struct unitlog_signal){.kind = UNITLOG_WORKER_KILLED,
				    .time_ms = T0,
				    .count = 1,
				    .text = "Worker with pid 77 was terminated due to signal 9"};
	feed(T0, SLOW_RESET);
	a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	CHECK(a && strstr(a->explanation, "a worker was killed with SIGKILL"));
	CHECK(a && strstr(a->fix, "journalctl -k --grep 'Out of memory'"));
	teardown();

	/* no unit: nothing is asked, and the reset keeps its general words */
	setup();
	set_gunicorn();
	fake.listener.unit[0] = '\0';
	feed(T0, SLOW_RESET);
	CHECK_STR(fake.unit_asked, "");
	a = alert_find(alerts, CAUSE_BACKEND_RESET, "127.0.0.1:8081");
	CHECK(a && strstr(a->fix, "keepalive_timeout"));
	teardown();
}

/* A unit that exits with an error: what systemd says, with the time its main
 * process exited, is evidence and part of the explanation of backend_down. */
static void test_a_failed_units_result_and_exit_time_are_told(void)
{
	setup();
	fake.listener_known = true;
	fake.listener = (struct host_listener){.listening = false,
					       .unit = "app.service",
					       .active_state = "activating",
					       .sub_state = "auto-restart",
					       .result = "exit-code",
					       .nrestarts = 3,
					       .unit_exit_ms = T0 - 5000,
					       .unit_known = true};
	feed(T0, REFUSED, "/");
	const struct alert *a = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	CHECK(has_evidence(a, "systemd: unit app.service Result=exit-code, NRestarts=3, main "
			      "process last exited 2023-11-14T22:13:15.000Z"));
	CHECK(a &&
	      strstr(a->explanation,
		     " systemd says unit app.service Result=exit-code (its main process exited "
		     "with an error status), its main process last exited at "
		     "2023-11-14T22:13:15.000Z, and restarted it 3 times."));
	CHECK(a &&
	      strstr(a->fix, "systemctl restart app.service   # it is activating/auto-restart"));
	CHECK(a && strstr(a->fix, "What it said as it exited: journalctl -u app.service --since "
				  "'2023-11-14 22:13:15'"));
	teardown();

	/* success and no restarts: nothing said */
	setup();
	fake.listener_known = true;
	fake.listener =
	    (struct host_listener){.unit = "app.service", .result = "success", .unit_known = true};
	feed(T0, REFUSED, "/");
	a = alert_find(alerts, CAUSE_BACKEND_DOWN, "127.0.0.1:8081");
	CHECK(a && !strstr(a->explanation, "systemd says"));
	for (size_t i = 0; a && i < a->nevidence; i++)
		CHECK(!startswith(a->evidence[i], "systemd:"));
	teardown();
}

int main(void)
{
	if (diag_fixture_load() != 0)
		return 1;
	RUN(test_gunicorn_worker_timeout_in_its_journal_raises_its_timeout);
	RUN(test_the_units_journal_is_read_again_while_the_backend_may_write_why);
	RUN(test_a_storm_reads_the_units_journal_a_bounded_number_of_times);
	RUN(test_an_oom_killed_unit_is_told_from_its_result);
	RUN(test_a_failed_units_result_and_exit_time_are_told);
	ngxconf_free(model);
	config_free(cfg);
	return harness_result();
}
