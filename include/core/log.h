/* log: the one place upwatch writes its own diagnostics.
 *
 * To journald (with the caller's CODE_FILE/CODE_LINE/CODE_FUNC) when stderr is
 * not a terminal and the journal socket exists; to stderr otherwise or when
 * forced with log_open(true). Priorities are syslog's. Sending never blocks:
 * an entry journald cannot take now is dropped and counted. On stderr,
 * control characters are shown escaped (escape_terminal). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <syslog.h>

void log_open(bool force_stderr);
void log_set_max_priority(int prio);

/* Send one journal entry of "NAME=value" fields without blocking: -EAGAIN
 * when journald's queue is full, -errno when it is not there. */
int log_journal_sendv(const struct iovec *iov, size_t n);
/* upwatchd's own log entries journald could not take (and were dropped). */
uint64_t log_journal_dropped(void);

void log_emit(int prio, const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define log_full(prio, ...) log_emit((prio), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...)	    log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)	    log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...)    log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)	    log_full(LOG_ERR, __VA_ARGS__)
