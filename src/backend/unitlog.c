/* unitlog: failure signals in a unit's journal (see unitlog.h). The words
 * matched are the software's own, as Debian 12 ships it:
 *   gunicorn 20.1  "WORKER TIMEOUT (pid:124)"
 *                  "Worker with pid 124 was terminated due to signal 9"
 *   uwsgi 2.0      "*** HARAKIRI ON WORKER 1 (pid: 124, try: 1) ***"
 *                  "DAMN ! worker 1 (pid: 124) died, killed by signal 9 :( ..."
 *   systemd 252    "app.service: A process of this unit has been killed by the OOM killer."
 *                  "app.service: Failed with result 'oom-kill'."
 *   kernel         "Out of memory: Killed process 124 (gunicorn) ..." */
#include "backend/unitlog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "core/util.h"

const char *unitlog_kind_name(enum unitlog_kind k)
{
	static const char *const names[] = {
	    [UNITLOG_NONE] = "none",
	    [UNITLOG_WORKER_KILLED] = "worker_killed",
	    [UNITLOG_WORKER_TIMEOUT] = "worker_timeout",
	    [UNITLOG_OOM_KILL] = "oom_kill",
	};
	return (unsigned)k < ARRAY_SIZE(names) ? names[k] : "none";
}

static const char *find(const char *msg, size_t len, const char *word)
{
	return memmem(msg, len, word, strlen(word));
}

/* The decimal number right after `word` (blanks skipped) in msg; 0 = none. */
static unsigned number_after(const char *msg, size_t len, const char *word)
{
	const char *p = find(msg, len, word);
	if (!p)
		return 0;
	const char *end = msg + len;
	p += strlen(word);
	while (p < end && *p == ' ')
		p++;
	unsigned n = 0;
	for (; p < end && *p >= '0' && *p <= '9' && n < 100000000; p++)
		n = n * 10 + (unsigned)(*p - '0');
	return n;
}

/* word (ending in "signal 9") not followed by another digit: 9, not 90 */
static bool signal9(const char *msg, size_t len, const char *word)
{
	const char *p = find(msg, len, word);
	if (!p)
		return false;
	p += strlen(word);
	return p == msg + len || *p < '0' || *p > '9';
}

enum unitlog_kind unitlog_classify(const char *msg, size_t len, unsigned *ret_pid)
{
	unsigned pid = 0;
	enum unitlog_kind k = UNITLOG_NONE;
	if (find(msg, len, "killed by the OOM killer") || find(msg, len, "result 'oom-kill'")) {
		k = UNITLOG_OOM_KILL;
	} else if (find(msg, len, "Out of memory: Killed process")) {
		k = UNITLOG_OOM_KILL;
		pid = number_after(msg, len, "Killed process");
	} else if (find(msg, len, "WORKER TIMEOUT")) {
		k = UNITLOG_WORKER_TIMEOUT;
		pid = number_after(msg, len, "(pid:");
	} else if (find(msg, len, "HARAKIRI ON WORKER")) {
		k = UNITLOG_WORKER_TIMEOUT;
		pid = number_after(msg, len, "(pid:");
	} else if (signal9(msg, len, "was terminated due to signal 9")) {
		k = UNITLOG_WORKER_KILLED;
		pid = number_after(msg, len, "Worker with pid");
	} else if (signal9(msg, len, "killed by signal 9")) {
		k = UNITLOG_WORKER_KILLED;
		pid = number_after(msg, len, "(pid:");
	}
	if (k != UNITLOG_NONE)
		*ret_pid = pid;
	return k;
}

/* Newest first, the signal kept is: an OOM kill over anything; else the
 * newest worker timeout or SIGKILL — but a SIGKILL of a worker the software
 * had just timed out (gunicorn escalates SIGABRT to SIGKILL) is that timeout. */
static bool better(const struct unitlog_signal *best, enum unitlog_kind k, unsigned pid)
{
	if (best->kind == UNITLOG_NONE)
		return true;
	if (k == UNITLOG_OOM_KILL)
		return best->kind != UNITLOG_OOM_KILL;
	return best->kind == UNITLOG_WORKER_KILLED && k == UNITLOG_WORKER_TIMEOUT && pid &&
	       pid == best->pid;
}

int unitlog_scan(unitlog_prev_fn prev, void *ud, int64_t since_ms, struct unitlog_signal *ret)
{
	struct unitlog_signal best = {0};
	for (unsigned i = 0; i < UNITLOG_SCAN; i++) {
		const char *msg;
		size_t len;
		int64_t ms;
		int r = prev(ud, &msg, &len, &ms);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return r;
		if (ms < since_ms)
			break;
		unsigned pid = 0;
		enum unitlog_kind k = unitlog_classify(msg, len, &pid);
		if (k == UNITLOG_NONE)
			continue;
		if (!better(&best, k, pid)) {
			best.count += k == best.kind; /* an older one of the same kind */
			continue;
		}
		unsigned count = k == best.kind ? best.count : 0;
		best = (struct unitlog_signal){
		    .kind = k, .pid = pid, .time_ms = ms, .count = count + 1};
		size_t n = 0;
		for (size_t j = 0; j < len && n + 1 < sizeof(best.text); j++)
			best.text[n++] = (unsigned char)msg[j] < 0x20 ? ' ' : msg[j];
		best.text[n] = '\0';
	}
	if (best.kind == UNITLOG_NONE)
		return -ENOENT;
	*ret = best;
	return 0;
}

static int journal_prev(void *ud, const char **msg, size_t *len, int64_t *ms)
{
	sd_journal *j = ud;
	for (;;) {
		int r = sd_journal_previous(j);
		if (r < 0)
			return r;
		if (r == 0)
			return -ENOENT;
		const void *data;
		size_t n;
		uint64_t usec;
		if (sd_journal_get_realtime_usec(j, &usec) < 0)
			continue;
		if (sd_journal_get_data(j, "MESSAGE", &data, &n) < 0 || n < 8)
			continue; /* no text (or binary beyond the threshold): not ours */
		*msg = (const char *)data + 8; /* past "MESSAGE=" */
		*len = n - 8;
		*ms = (int64_t)(usec / 1000);
		return 0;
	}
}

int unitlog_read(const char *unit, const char *dir, int64_t since_ms, struct unitlog_signal *ret)
{
	if (!unit || !*unit || !strchr(unit, '.') || strlen(unit) > 256 || strchr(unit, '\n'))
		return -EINVAL;
	sd_journal *j = NULL;
	int r = dir ? sd_journal_open_directory(&j, dir, 0)
		    : sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	if (r < 0)
		return r;
	/* as `journalctl -u`: the unit's processes, or PID 1 about the unit */
	char *own = xasprintf("_SYSTEMD_UNIT=%s", unit);
	char *about = xasprintf("UNIT=%s", unit);
	sd_journal_set_data_threshold(j, 4096);
	if ((r = sd_journal_add_match(j, own, 0)) >= 0 &&
	    (r = sd_journal_add_disjunction(j)) >= 0 &&
	    (r = sd_journal_add_match(j, about, 0)) >= 0 &&
	    (r = sd_journal_add_match(j, "_PID=1", 0)) >= 0 && (r = sd_journal_seek_tail(j)) >= 0)
		r = unitlog_scan(journal_prev, j, since_ms, ret);
	free(own);
	free(about);
	sd_journal_close(j);
	return r;
}
