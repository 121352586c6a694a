/* json_probe: the JSON of probe results and prober counters (DESIGN.md's
 * last_probe and stats "probes"), at the output edge. */
#include "output/json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "probe/probe.h"

static void add_time(cJSON *o, const char *name, int64_t ms)
{
	char buf[32];
	format_time_ms(ms, buf);
	cJSON_AddStringToObject(o, name, buf);
}

struct cJSON *json_probe_result(const struct probe_result *r)
{
	cJSON *o = cJSON_CreateObject();

	if (r->time_ms)
		add_time(o, "time", r->time_ms);
	else
		cJSON_AddNullToObject(o, "time");
	cJSON_AddStringToObject(o, "result", probe_result_name(r->result));
	cJSON_AddNumberToObject(o, "latency_ms", r->latency_ms);
	cJSON_AddStringToObject(o, "detail", r->detail);
	if (r->err)
		cJSON_AddNumberToObject(o, "errno", r->err);
	if (r->http_checked) {
		if (r->http_status)
			cJSON_AddNumberToObject(o, "http_status", r->http_status);
		else
			cJSON_AddNullToObject(o, "http_status");
		cJSON_AddNumberToObject(o, "connect_ms", r->connect_ms);
		cJSON_AddNumberToObject(o, "ttfb_ms", r->ttfb_ms);
		cJSON_AddNumberToObject(o, "total_ms", r->total_ms);
		cJSON_AddNumberToObject(o, "header_bytes", r->header_bytes);
		if (r->header_too_big)
			cJSON_AddBoolToObject(o, "header_too_big", true);
	}
	if (r->cert_not_after)
		add_time(o, "cert_not_after", r->cert_not_after * 1000);
	if (r->cert_subject[0])
		cJSON_AddStringToObject(o, "cert_subject", r->cert_subject);
	if (r->cert_issuer[0])
		cJSON_AddStringToObject(o, "cert_issuer", r->cert_issuer);
	if (r->tls_error[0])
		cJSON_AddStringToObject(o, "tls_error", r->tls_error);
	if (r->dns_answers[0]) {
		cJSON *a = cJSON_AddArrayToObject(o, "dns_answers");
		char buf[sizeof(r->dns_answers)], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", r->dns_answers);
		for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			cJSON_AddItemToArray(a, cJSON_CreateString(tok));
	}
	if (r->speaks)
		cJSON_AddStringToObject(o, "speaks", probe_speaks_name(r->speaks));
	if (r->self_denied)
		cJSON_AddBoolToObject(o, "self_denied", true);
	if (r->unix_checked) {
		char mode[8];
		snprintf(mode, sizeof(mode), "%04o", (unsigned)(r->sock_mode & 07777));
		if (r->sock_owner[0])
			cJSON_AddStringToObject(o, "sock_owner", r->sock_owner);
		if (r->sock_group[0])
			cJSON_AddStringToObject(o, "sock_group", r->sock_group);
		cJSON_AddNumberToObject(o, "sock_uid", r->sock_uid);
		cJSON_AddNumberToObject(o, "sock_gid", r->sock_gid);
		cJSON_AddStringToObject(o, "sock_mode", mode);
		if (r->denied_path[0])
			cJSON_AddStringToObject(o, "denied_path", r->denied_path);
		if (r->denied_why[0])
			cJSON_AddStringToObject(o, "denied_why", r->denied_why);
	}
	return o;
}

void json_prober_stats(const struct prober *p, struct cJSON *obj)
{
	struct prober_stats st;

	prober_stats(p, &st);
	cJSON_AddNumberToObject(obj, "sent", (double)st.sent);
	cJSON_AddNumberToObject(obj, "failed", (double)st.failed);
	cJSON *by = cJSON_AddObjectToObject(obj, "by_result");
	for (int i = 0; i < PROBE__COUNT; i++)
		cJSON_AddNumberToObject(by, probe_result_name((enum probe_result_kind)i),
					(double)st.by_result[i]);
	cJSON_AddNumberToObject(obj, "in_flight", st.in_flight);
	cJSON_AddNumberToObject(obj, "queued", (double)st.queued);
	cJSON_AddNumberToObject(obj, "peers", (double)st.peers);
}
