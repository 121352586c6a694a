/* errlog_time: the "YYYY/MM/DD HH:MM:SS" stamp of an nginx error-log line
 * (local time) → epoch seconds, without a mktime() per line. */
#pragma once

#include <time.h>

#define ERRLOG_TIME_LEN 19

/* p holds at least ERRLOG_TIME_LEN bytes. Returns 0 and sets *ret, or
 * -EINVAL when they are not a valid stamp. The UTC offset is looked up with
 * mktime() once per local hour, cached per thread (errlog.c remembers the
 * last stamp's minute itself, inline). */
int errlog_time_parse(const char *p, time_t *ret);
