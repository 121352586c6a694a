/* probe_last: a peer's last result, stored small (internal to src/probe).
 *
 * Kept because tests/bench/probe.sh shows it pays: with a whole struct
 * probe_result (1.8 KB) per peer, 10,000 TCP peers take VmRSS 29.8 MB
 * (RssAnon 21.1 MB), over the 16 MB target; stored this way 14.5 MB
 * (RssAnon 5.9 MB). The table of shared detail strings it once had saved
 * under 1 MB and is gone. The common part is inline, the detail line on the heap,
 * and a whole result only when it carries TLS, DNS or unix-socket facts. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "probe/probe_result.h"

struct probe_last {
	bool have;
	enum probe_result_kind result;
	int64_t time_ms;
	uint32_t latency_ms;
	int err;
	bool http_checked;
	int http_status;
	uint32_t connect_ms, ttfb_ms, total_ms, header_bytes;
	char *detail;		   /* NULL = "" */
	struct probe_result *full; /* NULL unless the result has TLS, DNS or unix facts */
};

void probe_last_done(struct probe_last *l);
void probe_last_store(struct probe_last *l, const struct probe_result *r);
/* -ENODATA when nothing was stored (ret untouched). */
int probe_last_get(const struct probe_last *l, struct probe_result *ret);
