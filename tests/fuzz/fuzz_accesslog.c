/* Fuzz the log_format compiler and the access-log line matcher. The first
 * byte picks the escaping, the rest of the first line is the format, every
 * further line is matched and its values read as the daemon reads them. */
#include <stdint.h>
#include <string.h>

#include "log/accesslog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	enum ngx_log_escape esc = (enum ngx_log_escape)(data[0] % 3);
	const char *s = (const char *)data + 1, *end = (const char *)data + size;
	const char *nl = memchr(s, '\n', (size_t)(end - s));
	size_t flen = nl ? (size_t)(nl - s) : (size_t)(end - s);
	char fmt[ACCESSLOG_MAX_FORMAT + 2];
	if (flen > ACCESSLOG_MAX_FORMAT + 1)
		return 0;
	memcpy(fmt, s, flen);
	fmt[flen] = '\0';
	struct accesslog_format *f = NULL;
	if (accesslog_format_new(fmt, esc, &f) < 0)
		return 0;
	s += flen + (nl ? 1 : 0);
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		struct accesslog_line l;
		if (accesslog_parse(f, s, len, &l) == 0) {
			char path[256];
			struct accesslog_try t[ACCESSLOG_MAX_TRIES];
			time_t when;
			volatile int sink = accesslog_status(&l);
			sink += (int)accesslog_path(&l, esc, path, sizeof(path));
			sink += (int)accesslog_tries(&l, t, ACCESSLOG_MAX_TRIES);
			sink += accesslog_time(&l, &when);
			(void)sink;
		}
		s += len + 1;
	}
	accesslog_format_free(f);
	return 0;
}
