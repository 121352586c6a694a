/* probe_result: names and JSON of a probe's result (see probe_result.h). */
#include "probe/probe_result.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

static const char *const result_names[PROBE__COUNT] = {
    [PROBE_OK] = "ok",
    [PROBE_REFUSED] = "refused",
    [PROBE_TIMEOUT] = "timeout",
    [PROBE_UNREACHABLE] = "unreachable",
    [PROBE_RESET] = "reset",
    [PROBE_INVALID_HTTP] = "invalid_http",
    [PROBE_HTTP_STATUS] = "http_status",
    [PROBE_TLS_ERROR] = "tls_error",
    [PROBE_DNS_ERROR] = "dns_error",
    [PROBE_MISSING] = "missing",
    [PROBE_NOT_SOCKET] = "not_socket",
    [PROBE_PERMISSION] = "permission",
    [PROBE_STALE] = "stale",
    [PROBE_OVERLOADED] = "overloaded",
    [PROBE_LOCAL_ERROR] = "local_error",
    [PROBE_ERROR] = "error",
};

const char *probe_result_name(enum probe_result_kind r)
{
	if ((unsigned)r >= PROBE__COUNT)
		return "error";
	return result_names[r];
}

const char *peer_state_name(enum peer_state s)
{
	switch (s) {
	case PEER_UP:
		return "up";
	case PEER_DOWN:
		return "down";
	default:
		return "unknown";
	}
}

static void add_time(cJSON *o, const char *name, int64_t ms)
{
	char buf[32];
	format_time_ms(ms, buf);
	cJSON_AddStringToObject(o, name, buf);
}

struct cJSON *probe_result_json(const struct probe_result *r)
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
