/* unitlog: a backend's failure signals in its unit's journal — the words
 * gunicorn, uwsgi, systemd and the kernel write, picked from a fake entry
 * source newest first, and (where journalctl can write a journal file) read
 * back from a real journal directory with the unit match. */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/unitlog.h"

static void expect_kind(const char *msg, enum unitlog_kind want, unsigned want_pid)
{
	unsigned pid = 12345;
	CHECK_INT(unitlog_classify(msg, strlen(msg), &pid), want);
	if (want != UNITLOG_NONE)
		CHECK_INT(pid, want_pid);
	else
		CHECK_INT(pid, 12345); /* untouched */
}

static void test_classify_the_softwares_own_words(void)
{
	expect_kind("[2026-11-30 00:10:03 +0000] [120] [CRITICAL] WORKER TIMEOUT (pid:124)",
		    UNITLOG_WORKER_TIMEOUT, 124);
	expect_kind("[2026-11-30 00:10:04 +0000] [120] [WARNING] Worker with pid 124 was "
		    "terminated due to signal 9",
		    UNITLOG_WORKER_KILLED, 124);
	/* SIGABRT is gunicorn's own timeout kill, told by WORKER TIMEOUT */
	expect_kind("[2026-11-30 00:10:04 +0000] [120] [WARNING] Worker with pid 124 was "
		    "terminated due to signal 6",
		    UNITLOG_NONE, 0);
	expect_kind("Worker with pid 124 was terminated due to signal 90", UNITLOG_NONE, 0);
	expect_kind("*** HARAKIRI ON WORKER 1 (pid: 2201, try: 1) ***", UNITLOG_WORKER_TIMEOUT,
		    2201);
	expect_kind("DAMN ! worker 1 (pid: 2201) died, killed by signal 9 :( trying respawn ...",
		    UNITLOG_WORKER_KILLED, 2201);
	expect_kind("app.service: A process of this unit has been killed by the OOM killer.",
		    UNITLOG_OOM_KILL, 0);
	expect_kind("app.service: Failed with result 'oom-kill'.", UNITLOG_OOM_KILL, 0);
	expect_kind("Out of memory: Killed process 2201 (gunicorn) total-vm:1000kB",
		    UNITLOG_OOM_KILL, 2201);
	expect_kind("[2026-11-30 00:10:00 +0000] [120] [INFO] Booting worker with pid: 124",
		    UNITLOG_NONE, 0);
	expect_kind("", UNITLOG_NONE, 0);
}

/* --- a fake journal: entries oldest first, handed out newest first --- */

struct fake {
	const char *const *msgs;
	const int64_t *ms;
	size_t n, next; /* entries still to hand out: [0, n - next) */
	int fail;	/* returned instead of an entry when non-zero */
	unsigned calls;
};

static int fake_prev(void *ud, const char **msg, size_t *len, int64_t *ms)
{
	struct fake *f = ud;
	f->calls++;
	if (f->fail)
		return f->fail;
	if (f->next >= f->n)
		return -ENOENT;
	size_t i = f->n - 1 - f->next++;
	*msg = f->msgs[i];
	*len = strlen(f->msgs[i]);
	*ms = f->ms[i];
	return 0;
}

static void test_scan_keeps_the_newest_timeout_and_counts_its_kind(void)
{
	const char *msgs[] = {
	    "[CRITICAL] WORKER TIMEOUT (pid:101)",
	    "Worker with pid 101 was terminated due to signal 9",
	    "[CRITICAL] WORKER TIMEOUT (pid:102)",
	    "Booting worker with pid: 103",
	    "[CRITICAL] WORKER TIMEOUT (pid:103)\n",
	    "Booting worker with pid: 104",
	};
	int64_t ms[] = {1000, 1100, 2000, 2100, 3000, 3100};
	struct fake f = {msgs, ms, 6, 0, 0, 0};
	struct unitlog_signal s;
	CHECK_INT(unitlog_scan(fake_prev, &f, 0, &s), 0);
	CHECK_INT(s.kind, UNITLOG_WORKER_TIMEOUT);
	CHECK_INT(s.pid, 103);
	CHECK_INT(s.time_ms, 3000);
	CHECK_INT(s.count, 3);
	CHECK_STR(s.text, "[CRITICAL] WORKER TIMEOUT (pid:103) "); /* newline blanked */

	/* only what is newer than `since` counts */
	f = (struct fake){msgs, ms, 6, 0, 0, 0};
	CHECK_INT(unitlog_scan(fake_prev, &f, 1500, &s), 0);
	CHECK_INT(s.count, 2);
	f = (struct fake){msgs, ms, 6, 0, 0, 0};
	CHECK_INT(unitlog_scan(fake_prev, &f, 3050, &s), -ENOENT);
	CHECK_INT(f.calls, 2); /* stopped at the first entry older than since */
}

static void test_scan_an_oom_kill_outranks_newer_timeouts(void)
{
	const char *msgs[] = {
	    "app.service: A process of this unit has been killed by the OOM killer.",
	    "[CRITICAL] WORKER TIMEOUT (pid:7)",
	};
	int64_t ms[] = {5000, 6000};
	struct fake f = {msgs, ms, 2, 0, 0, 0};
	struct unitlog_signal s;
	CHECK_INT(unitlog_scan(fake_prev, &f, 0, &s), 0);
	CHECK_INT(s.kind, UNITLOG_OOM_KILL);
	CHECK_INT(s.time_ms, 5000);
	CHECK_INT(s.count, 1);
	CHECK_STR(unitlog_kind_name(s.kind), "oom_kill");
}

/* A SIGKILL of another worker, newer than a timeout, is the news; gunicorn's
 * own SIGKILL of the worker it just timed out is that timeout. */
static void test_scan_a_newer_sigkill_wins_unless_it_ends_a_timed_out_worker(void)
{
	const char *msgs[] = {
	    "[CRITICAL] WORKER TIMEOUT (pid:7)",
	    "Worker with pid 9 was terminated due to signal 9",
	};
	int64_t ms[] = {1000, 2000};
	struct fake f = {msgs, ms, 2, 0, 0, 0};
	struct unitlog_signal s;
	CHECK_INT(unitlog_scan(fake_prev, &f, 0, &s), 0);
	CHECK_INT(s.kind, UNITLOG_WORKER_KILLED);
	CHECK_INT(s.pid, 9);
	CHECK_INT(s.time_ms, 2000);

	const char *same[] = {
	    "[CRITICAL] WORKER TIMEOUT (pid:7)",
	    "Worker with pid 7 was terminated due to signal 9",
	};
	f = (struct fake){same, ms, 2, 0, 0, 0};
	CHECK_INT(unitlog_scan(fake_prev, &f, 0, &s), 0);
	CHECK_INT(s.kind, UNITLOG_WORKER_TIMEOUT);
	CHECK_INT(s.pid, 7);
	CHECK_INT(s.time_ms, 1000);
	CHECK_INT(s.count, 1);
}

static void test_scan_is_bounded_and_passes_source_errors(void)
{
	enum { N = UNITLOG_SCAN + 500 };
	const char **msgs = calloc(N, sizeof(*msgs));
	int64_t *ms = calloc(N, sizeof(*ms));
	for (size_t i = 0; i < N; i++) {
		msgs[i] = i == 0 ? "WORKER TIMEOUT (pid:1)" : "nothing here";
		ms[i] = (int64_t)i;
	}
	struct fake f = {msgs, ms, N, 0, 0, 0};
	struct unitlog_signal s;
	/* the only signal lies beyond the scan limit */
	CHECK_INT(unitlog_scan(fake_prev, &f, 0, &s), -ENOENT);
	CHECK_INT(f.calls, UNITLOG_SCAN);
	free(msgs);
	free(ms);
	f = (struct fake){NULL, NULL, 0, 0, -EACCES, 0};
	CHECK_INT(unitlog_scan(fake_prev, &f, 0, &s), -EACCES);
}

static void test_read_rejects_what_is_no_unit(void)
{
	struct unitlog_signal s;
	CHECK_INT(unitlog_read("", NULL, 0, &s), -EINVAL);
	CHECK_INT(unitlog_read("nodot", NULL, 0, &s), -EINVAL);
	CHECK_INT(unitlog_read("a.service\nMESSAGE=x", NULL, 0, &s), -EINVAL);
}

/* A real journal file (systemd-journal-remote writes export format into a
 * file) with entries of two units: only the asked unit's count. */
static void test_read_matches_the_unit_in_a_real_journal_file(void)
{
	const char *remote = "/lib/systemd/systemd-journal-remote";
	if (access(remote, X_OK) != 0)
		SKIP("no %s (package systemd-journal-remote)", remote);
	char dir[] = "/tmp/unitlog-XXXXXX";
	if (!mkdtemp(dir))
		SKIP("mkdtemp");
	char cmd[1024];
	snprintf(
	    cmd, sizeof(cmd),
	    "printf '%s' | %s -o %s/remote.journal - 2>/dev/null", /* export format */
	    "__REALTIME_TIMESTAMP=1700000000000000\n_SYSTEMD_UNIT=app.service\n"
	    "MESSAGE=[CRITICAL] WORKER TIMEOUT (pid:42)\n\n"
	    "__REALTIME_TIMESTAMP=1700000001000000\n_SYSTEMD_UNIT=other.service\n"
	    "MESSAGE=[CRITICAL] WORKER TIMEOUT (pid:43)\n\n"
	    "__REALTIME_TIMESTAMP=1700000002000000\n_PID=1\nUNIT=app.service\n"
	    "MESSAGE=app.service: A process of this unit has been killed by the OOM killer.\n\n",
	    remote, dir);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK_INT(system(cmd), 0);
		SKIP("systemd-journal-remote could not write a journal file");
	}
	struct unitlog_signal s;
	CHECK_INT(unitlog_read("app.service", dir, 0, &s), 0);
	CHECK_INT(s.kind, UNITLOG_OOM_KILL);
	CHECK_INT(s.time_ms, 1700000002000);
	CHECK_INT(unitlog_read("other.service", dir, 0, &s), 0);
	CHECK_INT(s.kind, UNITLOG_WORKER_TIMEOUT);
	CHECK_INT(s.pid, 43);
	CHECK_INT(unitlog_read("third.service", dir, 0, &s), -ENOENT);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
}

int main(void)
{
	RUN(test_classify_the_softwares_own_words);
	RUN(test_scan_keeps_the_newest_timeout_and_counts_its_kind);
	RUN(test_scan_an_oom_kill_outranks_newer_timeouts);
	RUN(test_scan_a_newer_sigkill_wins_unless_it_ends_a_timed_out_worker);
	RUN(test_scan_is_bounded_and_passes_source_errors);
	RUN(test_read_rejects_what_is_no_unit);
	RUN(test_read_matches_the_unit_in_a_real_journal_file);
	return harness_result();
}
