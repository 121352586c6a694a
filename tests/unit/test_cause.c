/* Unit tests for cause: the table matches DESIGN.md's cause list, the message
 * ids are well-formed and unique, and systemd/upwatch.catalog has exactly one
 * entry per id, naming the same cause. */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>

#include "diagnose/alert.h"
#include "diagnose/cause.h"
#include "harness.h"
#include "core/util.h"

/* DESIGN.md's table, in its order. */
/* clang-format off */
static const char *const design_names[] = {
	"backend_down",
	"backend_restarted",
	"backend_unreachable",
	"backend_slow",
	"backend_reset",
	"invalid_response",
	"header_too_big",
	"socket_missing",
	"socket_permission",
	"socket_stale",
	"backend_overloaded",
	"dns_failure",
	"tls_failure",
	"no_live_upstreams",
	"worker_connections_exhausted",
	"peer_failing",
	"local_ports_exhausted",
	"dns_stale",
	"errors_unlogged",
};
/* clang-format on */

static void test_names_match_design(void)
{
	CHECK_INT(CAUSE__COUNT, ARRAY_SIZE(design_names));
	for (unsigned i = 0; i < ARRAY_SIZE(design_names); i++) {
		CHECK_STR(cause_name((enum cause)i), design_names[i]);
		CHECK_INT(cause_from_name(design_names[i]), i);
	}
	CHECK_INT(cause_from_name("peer_failing"), CAUSE_PEER_FAILING);
	CHECK_INT(cause_from_name("worker_connections_exhausted"),
		  CAUSE_WORKER_CONNECTIONS_EXHAUSTED);
}

static void test_unknown_names_are_refused(void)
{
	CHECK_INT(cause_from_name("Backend_Down"), -EINVAL);
	CHECK_INT(cause_from_name("backend_down "), -EINVAL);
	CHECK_INT(cause_from_name(""), -EINVAL);
	CHECK_INT(cause_from_name(NULL), -EINVAL);
	CHECK(cause_name(CAUSE__COUNT) == NULL);
	CHECK(cause_name((enum cause) - 1) == NULL);
	CHECK(cause_message_id(CAUSE__COUNT) == NULL);
	CHECK(cause_title(CAUSE__COUNT) == NULL);
	CHECK(cause_severity(CAUSE__COUNT) == NULL);
	CHECK_INT(cause_priority(CAUSE__COUNT), -EINVAL);
}

static bool is_lower_hex32(const char *s)
{
	if (strlen(s) != CAUSE_MESSAGE_ID_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static void test_message_ids_are_unique_hex(void)
{
	for (unsigned i = 0; i < CAUSE__COUNT; i++) {
		const char *id = cause_message_id((enum cause)i);
		CHECK(id && is_lower_hex32(id));
		if (!id)
			continue;
		CHECK_INT(cause_from_message_id(id), i);
		for (unsigned j = i + 1; j < CAUSE__COUNT; j++)
			CHECK(strcmp(id, cause_message_id((enum cause)j)) != 0);
	}
	/* The ids are fixed forever: pin two of them. */
	CHECK_STR(cause_message_id(CAUSE_BACKEND_DOWN), "041426e3b0074910aaaf632247159fd4");
	CHECK_STR(cause_message_id(CAUSE_PEER_FAILING), "56b05138ab534203bc598cd0455da75b");
	CHECK_INT(cause_from_message_id("041426E3B0074910AAAF632247159FD4"), CAUSE_BACKEND_DOWN);
	CHECK_INT(cause_from_message_id("041426e3b0074910aaaf632247159fd"), -EINVAL);
	CHECK_INT(cause_from_message_id("00000000000000000000000000000000"), -EINVAL);
	CHECK_INT(cause_from_message_id(NULL), -EINVAL);
}

static void test_titles_and_priorities(void)
{
	for (unsigned i = 0; i < CAUSE__COUNT; i++) {
		const char *t = cause_title((enum cause)i);
		CHECK(t && *t);
		int prio = cause_priority((enum cause)i);
		CHECK(prio >= LOG_CRIT && prio <= LOG_WARNING);
	}
	CHECK_INT(cause_priority(CAUSE_BACKEND_DOWN), LOG_ERR);
	CHECK_INT(cause_priority(CAUSE_NO_LIVE_UPSTREAMS), LOG_CRIT);
	CHECK_INT(cause_priority(CAUSE_PEER_FAILING), LOG_WARNING);
	CHECK_STR(cause_severity(CAUSE_BACKEND_DOWN), "critical");
	CHECK_STR(cause_severity(CAUSE_BACKEND_SLOW), "warning");
}

/* One catalog entry: the id after "-- ", its Subject and Cause lines. */
struct entry {
	char id[CAUSE_MESSAGE_ID_LEN + 1];
	char *subject;
	char *cause;
	bool defined_by;
	bool support;
};

static void test_severity_has_one_source(void)
{
	/* the table's, lowered when degraded; priorities follow it */
	CHECK_INT(cause_severity_level(CAUSE_BACKEND_DOWN, false), ALERT_CRITICAL);
	CHECK_INT(cause_severity_level(CAUSE_BACKEND_DOWN, true), ALERT_WARNING);
	CHECK_INT(cause_severity_level(CAUSE_BACKEND_SLOW, false), ALERT_WARNING);
	CHECK_INT(cause_severity_level(CAUSE_NO_LIVE_UPSTREAMS, false), ALERT_CRITICAL);
	CHECK_INT(cause_severity_level(CAUSE_NONE, false), ALERT_WARNING);
	for (int c = 0; c < CAUSE__COUNT; c++)
		CHECK_STR(alert_severity_name(cause_severity_level((enum cause)c, false)),
			  cause_severity((enum cause)c));
	CHECK_INT(cause_alert_priority(CAUSE_BACKEND_DOWN, ALERT_CRITICAL, true), LOG_ERR);
	CHECK_INT(cause_alert_priority(CAUSE_NO_LIVE_UPSTREAMS, ALERT_CRITICAL, true), LOG_CRIT);
	CHECK_INT(cause_alert_priority(CAUSE_BACKEND_DOWN, ALERT_WARNING, true), LOG_WARNING);
	CHECK_INT(cause_alert_priority(CAUSE_BACKEND_DOWN, ALERT_CRITICAL, false), LOG_NOTICE);
	CHECK_INT(cause_subject(CAUSE_NO_LIVE_UPSTREAMS), CAUSE_SUBJECT_UPSTREAM);
	CHECK_INT(cause_subject(CAUSE_WORKER_CONNECTIONS_EXHAUSTED), CAUSE_SUBJECT_HOST);
	CHECK_INT(cause_subject(CAUSE_LOCAL_PORTS_EXHAUSTED), CAUSE_SUBJECT_PEER);
}

static void test_catalog_has_one_entry_per_cause(void)
{
	char *data;
	size_t len;
	int r = read_file(SOURCE_ROOT "/systemd/upwatch.catalog", 1 << 20, &data, &len);
	CHECK_INT(r, 0);
	if (r < 0)
		return;

	struct entry entries[64];
	unsigned n = 0;
	struct entry *cur = NULL;
	for (char *save = NULL, *line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (startswith(line, "-- ")) {
			CHECK(n < ARRAY_SIZE(entries));
			if (n >= ARRAY_SIZE(entries))
				break;
			cur = &entries[n++];
			memset(cur, 0, sizeof(*cur));
			CHECK_INT(strlen(line + 3), CAUSE_MESSAGE_ID_LEN);
			snprintf(cur->id, sizeof(cur->id), "%s", line + 3);
		} else if (cur && startswith(line, "Subject: ")) {
			cur->subject = line + 9;
		} else if (cur && startswith(line, "Cause: ")) {
			cur->cause = line + 7;
		} else if (cur && streq(line, "Defined-By: upwatch")) {
			cur->defined_by = true;
		} else if (cur && startswith(line, "Support: ")) {
			cur->support = true;
		}
	}

	CHECK_INT(n, CAUSE__COUNT);
	for (unsigned c = 0; c < CAUSE__COUNT; c++) {
		unsigned found = 0;
		for (unsigned i = 0; i < n; i++) {
			if (!streq(entries[i].id, cause_message_id((enum cause)c)))
				continue;
			found++;
			CHECK_STR(entries[i].cause, cause_name((enum cause)c));
			CHECK(entries[i].subject &&
			      startswith(entries[i].subject, cause_title((enum cause)c)));
			CHECK(entries[i].defined_by);
			CHECK(entries[i].support);
		}
		if (found != 1)
			fprintf(stderr, "cause %s: %u catalog entries\n", cause_name((enum cause)c),
				found);
		CHECK_INT(found, 1);
	}
	free(data);
}

int main(void)
{
	RUN(test_names_match_design);
	RUN(test_unknown_names_are_refused);
	RUN(test_message_ids_are_unique_hex);
	RUN(test_titles_and_priorities);
	RUN(test_severity_has_one_source);
	RUN(test_catalog_has_one_entry_per_cause);
	return harness_result();
}
