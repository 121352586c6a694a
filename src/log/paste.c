/* paste: rebuild error-log entries from pasted text (see paste.h). */
#include "log/paste.h"

#include <stdbool.h>
#include <string.h>

#include "log/tail.h"

/* How far into a line a prompt or journal prefix may push the timestamp. */
#define PREFIX_MAX 256

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "YYYY/MM/DD HH:MM:SS [" at s (n bytes available). */
static bool stamp_at(const char *s, size_t n)
{
	return n >= 21 && digits(s, 4) && s[4] == '/' && digits(s + 5, 2) && s[7] == '/' &&
	       digits(s + 8, 2) && s[10] == ' ' && digits(s + 11, 2) && s[13] == ':' &&
	       digits(s + 14, 2) && s[16] == ':' && digits(s + 17, 2) && s[19] == ' ' &&
	       s[20] == '[';
}

/* A line of another program's in journal or syslog form: "Nov 29 20:00:01 "
 * or "2026-11-29T20:00:01". It ends the entry before it. */
static bool other_stamp_at_start(const char *s, size_t n)
{
	bool syslog = n >= 16 && s[0] >= 'A' && s[0] <= 'Z' && s[3] == ' ' &&
		      (s[4] == ' ' || digits(s + 4, 1)) && digits(s + 5, 1) && s[6] == ' ' &&
		      digits(s + 7, 2) && s[9] == ':' && digits(s + 10, 2) && s[12] == ':' &&
		      digits(s + 13, 2) && s[15] == ' ';
	bool iso = n >= 19 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
		   digits(s + 8, 2) && s[10] == 'T' && digits(s + 11, 2) && s[13] == ':';
	return syslog || iso;
}

static const char *find_stamp(const char *line, size_t len)
{
	size_t end = len < PREFIX_MAX ? len : PREFIX_MAX;
	for (size_t i = 0; i < end; i++)
		if (line[i] >= '0' && line[i] <= '9' && stamp_at(line + i, len - i))
			return line + i;
	return NULL;
}

void paste_init(struct paste *p, paste_emit_fn emit, void *ud)
{
	*p = (struct paste){.emit = emit, .ud = ud};
}

static void flush(struct paste *p)
{
	if (p->entry.len)
		p->emit(p->ud, p->entry.p, p->entry.len);
	strbuf_reset(&p->entry);
}

void paste_feed(struct paste *p, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\r'))
		len--;
	const char *stamp = find_stamp(line, len);
	if (stamp) {
		flush(p);
		strbuf_append(&p->entry, stamp, len - (size_t)(stamp - line));
		return;
	}
	size_t blank = 0;
	while (blank < len && (line[blank] == ' ' || line[blank] == '\t'))
		blank++;
	if (blank == len)
		return;
	if (other_stamp_at_start(line, len)) {
		flush(p);
		p->dropped++;
		return;
	}
	if (p->entry.len == 0 || p->entry.len + len > TAIL_LINE_MAX) {
		p->dropped++;
		return;
	}
	strbuf_append(&p->entry, line, len);
	p->joined++;
}

void paste_finish(struct paste *p)
{
	flush(p);
}

void paste_done(struct paste *p)
{
	strbuf_done(&p->entry);
}
