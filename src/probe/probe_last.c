/* probe_last: a peer's last result, stored small (see probe_last.h for why). */
#include "probe/probe_last.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static bool result_is_rich(const struct probe_result *r)
{
	return r->cert_not_after || r->cert_subject[0] || r->cert_issuer[0] || r->tls_error[0] ||
	       r->dns_answers[0] || r->speaks || r->unix_checked || r->self_denied ||
	       r->header_too_big;
}

void probe_last_done(struct probe_last *l)
{
	free(l->detail);
	free(l->full);
	memset(l, 0, sizeof(*l));
}

void probe_last_store(struct probe_last *l, const struct probe_result *r)
{
	probe_last_done(l);
	l->have = true;
	if (result_is_rich(r)) {
		l->full = xmalloc(sizeof(*l->full));
		*l->full = *r;
		return;
	}
	l->result = r->result;
	l->time_ms = r->time_ms;
	l->latency_ms = r->latency_ms;
	l->err = r->err;
	l->http_checked = r->http_checked;
	l->http_status = r->http_status;
	l->connect_ms = r->connect_ms;
	l->ttfb_ms = r->ttfb_ms;
	l->total_ms = r->total_ms;
	l->header_bytes = r->header_bytes;
	l->detail = r->detail[0] ? xstrdup(r->detail) : NULL;
}

int probe_last_get(const struct probe_last *l, struct probe_result *ret)
{
	if (!l->have)
		return -ENODATA;
	if (l->full) {
		*ret = *l->full;
		return 0;
	}
	memset(ret, 0, sizeof(*ret));
	ret->result = l->result;
	ret->time_ms = l->time_ms;
	ret->latency_ms = l->latency_ms;
	ret->err = l->err;
	ret->http_checked = l->http_checked;
	ret->http_status = l->http_status;
	ret->connect_ms = l->connect_ms;
	ret->ttfb_ms = l->ttfb_ms;
	ret->total_ms = l->total_ms;
	ret->header_bytes = l->header_bytes;
	if (l->detail)
		snprintf(ret->detail, sizeof(ret->detail), "%s", l->detail);
	return 0;
}
