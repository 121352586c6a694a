/* log: journald or stderr, chosen once at start (see log.h).
 *
 * journald is spoken to directly (its native datagram protocol) over a
 * non-blocking socket: a journald that does not read costs a dropped entry
 * (counted), never a stalled loop. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/escape.h"
#include "core/utf8.h"
#include "core/util.h"

#define JOURNAL_SOCKET	  "/run/systemd/journal/socket"
#define JOURNAL_ENTRY_MAX (192 * 1024) /* below the default datagram limit */

static bool use_journal;
static int max_prio = LOG_INFO;
static int journal_fd = -1;
static uint64_t journal_dropped;

void log_open(bool force_stderr)
{
	use_journal = !force_stderr && !isatty(STDERR_FILENO) && access(JOURNAL_SOCKET, W_OK) == 0;
}

void log_set_max_priority(int prio)
{
	max_prio = prio;
}

uint64_t log_journal_dropped(void)
{
	return journal_dropped;
}

/* Append one field. A value with a newline uses the binary form
 * NAME\n<64-bit little-endian length><value>\n. */
static bool put_field(char *buf, size_t *len, const char *field, size_t flen)
{
	const char *eq = memchr(field, '=', flen);
	if (!eq)
		return true;
	size_t nlen = (size_t)(eq - field), vlen = flen - nlen - 1;
	bool binary = memchr(eq + 1, '\n', vlen) != NULL;
	size_t need = flen + 1 + (binary ? 8 : 0);
	if (*len + need > JOURNAL_ENTRY_MAX)
		return false;
	if (!binary) {
		memcpy(buf + *len, field, flen);
		*len += flen;
	} else {
		memcpy(buf + *len, field, nlen);
		*len += nlen;
		buf[(*len)++] = '\n';
		for (int i = 0; i < 8; i++)
			buf[(*len)++] = (char)((uint64_t)vlen >> (8 * i));
		memcpy(buf + *len, eq + 1, vlen);
		*len += vlen;
	}
	buf[(*len)++] = '\n';
	return true;
}

int log_journal_sendv(const struct iovec *iov, size_t n)
{
	static const struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET};
	static char *buf;
	size_t len = 0;

	if (journal_fd < 0) {
		journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (journal_fd < 0)
			return -errno;
	}
	if (!buf)
		buf = xmalloc(JOURNAL_ENTRY_MAX);
	for (size_t i = 0; i < n; i++)
		if (!put_field(buf, &len, iov[i].iov_base, iov[i].iov_len))
			return -EMSGSIZE;
	for (;;) {
		ssize_t r = sendto(journal_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT,
				   (const struct sockaddr *)&sa, sizeof(sa));
		if (r >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static void journal_log(int prio, const char *file, int line, const char *func, const char *msg)
{
	char f[5][600];
	struct iovec iov[6];
	size_t n = 0;
	snprintf(f[0], sizeof(f[0]), "PRIORITY=%d", prio);
	snprintf(f[1], sizeof(f[1]), "CODE_FILE=%s", file);
	snprintf(f[2], sizeof(f[2]), "CODE_LINE=%d", line);
	snprintf(f[3], sizeof(f[3]), "CODE_FUNC=%s", func);
	snprintf(f[4], sizeof(f[4]), "SYSLOG_IDENTIFIER=upwatchd");
	for (; n < 5; n++)
		iov[n] = (struct iovec){.iov_base = f[n], .iov_len = strlen(f[n])};
	char *m = xasprintf("MESSAGE=%s", msg);
	iov[n++] = (struct iovec){.iov_base = m, .iov_len = strlen(m)};
	if (log_journal_sendv(iov, n) < 0)
		journal_dropped++;
	free(m);
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
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg)) /* truncated: not in the middle of a character */
		msg[utf8_cut(msg, (size_t)n, sizeof(msg) - 2)] = '\0';

	if (use_journal) {
		journal_log(prio, file, line, func, msg);
		return;
	}
	/* a terminal gets no control characters from log-derived text */
	char *safe = escape_terminal(msg);
	fprintf(stderr, "upwatchd: %s: %s\n", names[prio & 7], safe);
	free(safe);
}
