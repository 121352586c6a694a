/* paste: turns text a person pasted or piped in — `journalctl -u nginx`
 * output, a terminal copy with a shell prompt, lines wrapped at the terminal's
 * width — back into nginx error-log entries, one per line. */
#pragma once

#include <stddef.h>

#include "core/strbuf.h"

typedef void (*paste_emit_fn)(void *ud, const char *line, size_t len);

struct paste {
	struct strbuf entry; /* the entry being joined */
	size_t joined;	     /* input lines appended to an entry (unwrapped) */
	size_t dropped;	     /* input lines before the first entry, or past the length cap */
	paste_emit_fn emit;
	void *ud;
};

void paste_init(struct paste *p, paste_emit_fn emit, void *ud);
/* One input line without its newline. Whatever precedes an nginx timestamp
 * ("2026/11/29 20:00:01 [error] ...") on the line — a prompt, journalctl's
 * "Nov 29 20:00:01 host nginx[42]: " — is dropped; a line with no timestamp
 * continues the entry before it (a terminal wrapped it), joined as it was
 * cut. An entry is emitted when the next one starts, and by paste_finish. */
void paste_feed(struct paste *p, const char *line, size_t len);
void paste_finish(struct paste *p);
void paste_done(struct paste *p);
