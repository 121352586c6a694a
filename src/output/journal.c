/* journal: alert -> journald entry (see journal.h). */
#include "output/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <sys/uio.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "diagnose/alert.h"
#include "core/util.h"

#define FIELDS_MAX (16 + ALERT_EVIDENCE_MAX)

int journal_send_alert(const struct alert *a)
{
	char *fields[FIELDS_MAX];
	struct iovec iov[FIELDS_MAX];
	size_t n = 0;

#define FIELD(...) (fields[n++] = xasprintf(__VA_ARGS__))
	FIELD("MESSAGE=%s%s", a->firing ? "" : "resolved: ", a->summary ? a->summary : "");
	FIELD("PRIORITY=%d", cause_alert_priority(a->cause, a->severity, a->firing));
	FIELD("MESSAGE_ID=%s", cause_message_id(a->cause));
	FIELD("SYSLOG_IDENTIFIER=upwatchd");
	FIELD("UPWATCH_ALERT_ID=%s", a->id);
	FIELD("UPWATCH_CAUSE=%s", cause_name(a->cause));
	FIELD("UPWATCH_STATE=%s", a->firing ? "firing" : "resolved");
	FIELD("UPWATCH_SEVERITY=%s", alert_severity_name(a->severity));
	FIELD("UPWATCH_COUNT=%llu", (unsigned long long)a->count);
	if (a->peer)
		FIELD("UPWATCH_PEER=%s", a->peer);
	if (a->upstream)
		FIELD("UPWATCH_UPSTREAM=%s", a->upstream);
	if (a->config_ref)
		FIELD("UPWATCH_CONFIG_REF=%s", a->config_ref);
	if (a->fix)
		FIELD("UPWATCH_FIX=%s", a->fix);
	if (a->explanation)
		FIELD("UPWATCH_EXPLANATION=%s", a->explanation);
	for (size_t i = 0; i < a->nevidence && n < FIELDS_MAX; i++)
		FIELD("UPWATCH_EVIDENCE=%s", a->evidence[i]);
#undef FIELD

	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec){.iov_base = fields[i], .iov_len = strlen(fields[i])};
	int r = sd_journal_sendv(iov, (int)n);
	for (size_t i = 0; i < n; i++)
		free(fields[i]);
	return r;
}
