/* escape: the one rule for bytes from outside (log lines, paths, request
 * text) at each output edge. Strings inside upwatch are raw bytes as they
 * came; they are made safe only where they leave:
 *  - JSON (socket replies, subscriber lines): always valid UTF-8. Each byte
 *    that is not part of a well-formed UTF-8 sequence becomes U+FFFD, written
 *    as the escape \ufffd (one per byte, so a cut character shows as many
 *    marks as it lost bytes). Control characters are already \u00XX by cJSON.
 *  - terminals (upwatchctl's tables, the foreground stderr log): C0 controls,
 *    DEL and invalid bytes as \xHH, C1 controls as \u00XX, so no ESC or BEL
 *    reaches the terminal; valid UTF-8 text is shown as is.
 *  - Prometheus label values: \\, \" and \n as the exposition format wants,
 *    invalid bytes as U+FFFD (the bytes EF BF BD), so promtool accepts it.
 * Validity and cuts on character boundaries are utf8.h's. */
#pragma once

#include <stddef.h>

/* s (malloc'd, *len bytes, NUL-terminated, typically cJSON's output) with
 * every invalid byte replaced by the 6 characters \ufffd. Returns s itself
 * when nothing needed escaping, else a new string (s is freed); *len is
 * updated. */
char *escape_json_utf8(char *s, size_t *len);

/* Terminal-safe copy of s (malloc'd). */
char *escape_terminal(const char *s);

/* A Prometheus label value (without the quotes), malloc'd. */
char *escape_prom_label(const char *s);
