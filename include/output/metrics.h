/* metrics: upwatch's state as Prometheus text exposition (format 0.0.4),
 * for `upwatchctl metrics` and the metrics_file node_exporter reads. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ngx_model;
struct prober;
struct diag;
struct alert_store;
struct tail;
struct ipc;
struct accessstats;
struct problems;

struct metrics_sources {
	const struct ngx_model *model;
	const struct prober *prober;
	const struct diag *diag;
	const struct alert_store *alerts;
	const struct tail *tail;
	const struct ipc *ipc;
	const char *const *extra_peers; /* peers learned from logs */
	size_t nextra_peers;
	const char *extra_proto; /* the protocol they are probed with */
	const struct problems *problems;
	uint64_t journal_dropped; /* alerts and log entries journald did not take */
	unsigned reloads, reload_failures;
	long rss_bytes;
	const struct accessstats *access; /* access-log counts; NULL: none */
	long now;			  /* epoch s, for the access windows */
};

/* The whole exposition, malloc'd. */
char *metrics_render(const struct metrics_sources *s);
