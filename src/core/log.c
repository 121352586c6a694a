/* log: journald or stderr, chosen once at start (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

static bool use_journal;
static int max_prio = LOG_INFO;

void log_open(bool force_stderr)
{
	use_journal = !force_stderr && !isatty(STDERR_FILENO) &&
		      access("/run/systemd/journal/socket", W_OK) == 0;
}

void log_set_max_priority(int prio)
{
	max_prio = prio;
}

int log_get_max_priority(void)
{
	return max_prio;
}

bool log_to_journal(void)
{
	return use_journal;
}

void log_emit(int prio, const char *file, int line, const char *func, const char *fmt, ...)
{
	static const char *const names[] = {"emerg",   "alert",	 "crit", "error",
					    "warning", "notice", "info", "debug"};
	char msg[2048];
	va_list ap;

	if (prio > max_prio)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (use_journal) {
		char code_file[512], code_line[32];
		snprintf(code_file, sizeof(code_file), "CODE_FILE=%s", file);
		snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);
		sd_journal_send_with_location(code_file, code_line, func, "MESSAGE=%s", msg,
					      "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=upwatchd",
					      NULL);
		return;
	}
	fprintf(stderr, "upwatchd: %s: %s\n", names[prio & 7], msg);
}
