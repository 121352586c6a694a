/* impact: what the access logs add to a diagnosis — how many requests a
 * cause hurt, and whether nginx itself is being served by a peer a probe
 * dislikes. Reads log/accessstats.h; writes nothing but text.
 *
 * Times are the diagnosis' own (epoch ms); the access statistics count by
 * the lines' times in seconds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct accessstats;
struct alert_store;
struct ngx_model;
struct ngx_pass;

/* The impact sentence of an alert about peer (or, with peer NULL, upstream
 * block): the pass given when the error line named one, else the pass
 * through which the subject's 502/503/504 were most numerous over the last
 * 5 min; for a peer no pass names, its own counts ("12 requests through
 * peer 10.0.0.5:80 answered 502 in the last 5 min, 4.0 % of its traffic").
 * 0 when access is NULL or nothing was answered 5xx. */
size_t impact_text(const struct accessstats *access, const struct ngx_model *m, const char *peer,
		   const char *upstream, const struct ngx_pass *pass, int64_t now_ms, char *buf,
		   size_t len);

/* Whether nginx got a 2xx/3xx/4xx answer through peer within the last
 * minute: then a probe alone never calls it failing. */
bool impact_served(const struct accessstats *access, const char *peer, int64_t now_ms);

/* A peer nginx was served through in the last minute fails its configured
 * health check (health_uri): not a page — users are answered — but a
 * warning-level peer_failing that says so, with the probe's result and the
 * access log's last-minute figures. Raises or refreshes it. */
struct probe_result;
void impact_report_health(struct alert_store *alerts, const struct accessstats *access,
			  const struct ngx_model *m, const char *peer, const char *health_uri,
			  const struct probe_result *r, int64_t now_ms);

/* Whether a is such a health warning (NULL: no). */
struct alert;
bool impact_is_health(const struct alert *a);

/* backend_slow before anything times out: for each peer the access logs
 * timed at least IMPACT_SLOW_MIN_SAMPLES times over the last 5 min (or,
 * with accessstats_set_span, over every line explain --since read), whose
 * p99 upstream_response_time is above 80 % of the tightest
 * proxy_read_timeout (or fastcgi_, uwsgi_, ...) of the passes reaching it,
 * raise or refresh a warning-level backend_slow alert, unless one raised
 * from the error log already fires. Returns how many it reported. */
#define IMPACT_SLOW_MIN_SAMPLES 20
#define IMPACT_SLOW_PERCENT	80
unsigned impact_check_slow(const struct accessstats *access, const struct ngx_model *m,
			   struct alert_store *alerts, int64_t now_ms);

/* errors_unlogged: the location with the most 502/503/504 over the last
 * 5 min (at least IMPACT_UNLOGGED_MIN) that no firing alert explains (none
 * about a peer it reaches or its upstream block) raises or refreshes one
 * host-level alert: the impact, the error_log whose level hides the reason
 * (above "error") with the line to write at its file:line, else that the
 * backend answered so itself. Once an alert explains that location, the
 * errors_unlogged alert is superseded. Returns 1 when it reported. */
#define IMPACT_UNLOGGED_MIN 5
unsigned impact_check_unlogged(const struct accessstats *access, const struct ngx_model *m,
			       struct alert_store *alerts, int64_t now_ms);
