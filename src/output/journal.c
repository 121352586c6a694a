/* journal: alert -> journald entry (see journal.h).
 *
 * Entries journald cannot take now wait in a bounded queue, retried on a
 * timer, oldest first; when the queue is full the oldest is dropped and
 * counted. */
#include "output/journal.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <syslog.h>

#include "core/log.h"
#include "core/util.h"
#include "diagnose/alert.h"

#define FIELDS_MAX (16 + ALERT_EVIDENCE_MAX)
#define RETRY_S	   0.25

struct entry {
	char *fields[FIELDS_MAX];
	size_t n;
};

struct journal {
	struct ev_loop *loop;
	ev_timer retry;
	struct entry queue[JOURNAL_QUEUE_MAX];
	size_t head, len;
	uint64_t dropped;
};

static void entry_free(struct entry *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->fields[i]);
	e->n = 0;
}

static int entry_send(const struct entry *e)
{
	struct iovec iov[FIELDS_MAX];
	for (size_t i = 0; i < e->n; i++)
		iov[i] = (struct iovec){.iov_base = e->fields[i], .iov_len = strlen(e->fields[i])};
	return log_journal_sendv(iov, e->n);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct journal *j = container_of(w, struct journal, retry);
	(void)revents;
	while (j->len > 0) {
		struct entry *e = &j->queue[j->head];
		int r = entry_send(e);
		if (r == -EAGAIN || r == -ENOBUFS)
			return; /* the repeating timer tries again */
		if (r < 0)
			j->dropped++;
		entry_free(e);
		j->head = (j->head + 1) % JOURNAL_QUEUE_MAX;
		j->len--;
	}
	ev_timer_stop(loop, w);
}

int journal_new(struct ev_loop *loop, struct journal **ret)
{
	struct journal *j = xcalloc(1, sizeof(*j));
	j->loop = loop;
	ev_timer_init(&j->retry, retry_cb, RETRY_S, RETRY_S);
	*ret = j;
	return 0;
}

void journal_free(struct journal *j)
{
	if (!j)
		return;
	ev_timer_stop(j->loop, &j->retry);
	for (size_t i = 0; i < j->len; i++)
		entry_free(&j->queue[(j->head + i) % JOURNAL_QUEUE_MAX]);
	free(j);
}

uint64_t journal_dropped(const struct journal *j)
{
	return j->dropped;
}

size_t journal_queued(const struct journal *j)
{
	return j->len;
}

static void build(struct entry *e, const struct alert *a)
{
	size_t n = 0;
#define FIELD(...) (e->fields[n++] = xasprintf(__VA_ARGS__))
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
	e->n = n;
}

int journal_send_alert(struct journal *j, const struct alert *a)
{
	struct entry e;
	build(&e, a);
	int r = j->len == 0 ? entry_send(&e) : -EAGAIN; /* keep the order */
	if (r != -EAGAIN && r != -ENOBUFS) {
		entry_free(&e);
		if (r < 0)
			j->dropped++;
		return r;
	}
	if (j->len == JOURNAL_QUEUE_MAX) {
		entry_free(&j->queue[j->head]);
		j->head = (j->head + 1) % JOURNAL_QUEUE_MAX;
		j->len--;
		j->dropped++;
	}
	j->queue[(j->head + j->len) % JOURNAL_QUEUE_MAX] = e;
	j->len++;
	if (!ev_is_active(&j->retry))
		ev_timer_start(j->loop, &j->retry);
	return 1;
}
