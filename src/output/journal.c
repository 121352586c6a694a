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
#include "core/strbuf.h"
#include "core/util.h"
#include "diagnose/alert.h"

#define FIELDS_MAX (16 + ALERT_EVIDENCE_MAX)
#define RETRY_S	   0.25

/* One entry's fields, "NAME=value" each, end to end in one allocation:
 * field i is buf[off[i] .. off[i + 1]). One xasprintf() per field cost more
 * than the send (callgrind, upwatchd on 20 MB of real lines, 1.2 k alert
 * changes: journal_send_alert 42.7 -> 16.4 M instructions, the whole
 * daemon 272 -> 245 M). */
struct entry {
	char *buf;
	size_t off[FIELDS_MAX + 1];
	size_t n;
};

struct journal {
	struct ev_loop *loop;
	ev_timer retry;
	/* JOURNAL_QUEUE_MAX entries (62 KB), made when journald first pushes
	 * back: a daemon it keeps up with never holds them */
	struct entry *queue;
	size_t head, len;
	uint64_t dropped;
};

static void entry_free(struct entry *e)
{
	free(e->buf);
	e->buf = NULL;
	e->n = 0;
}

static int entry_send(const struct entry *e)
{
	struct iovec iov[FIELDS_MAX];
	for (size_t i = 0; i < e->n; i++)
		iov[i] = (struct iovec){.iov_base = e->buf + e->off[i],
					.iov_len = e->off[i + 1] - e->off[i]};
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
	free(j->queue);
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

/* name is "NAME=" */
static void field(struct strbuf *b, struct entry *e, const char *name, const char *v1,
		  const char *v2)
{
	if (e->n == FIELDS_MAX)
		return;
	e->off[e->n] = b->len;
	strbuf_puts(b, name);
	strbuf_puts(b, v1);
	if (v2)
		strbuf_puts(b, v2);
	e->off[++e->n] = b->len;
}

static void build(struct entry *e, const struct alert *a)
{
	struct strbuf b = STRBUF_INIT;
	char prio[16], count[24];
	snprintf(prio, sizeof(prio), "%d", cause_alert_priority(a->cause, a->severity, a->firing));
	snprintf(count, sizeof(count), "%llu", (unsigned long long)a->count);
	e->n = 0;
	field(&b, e, "MESSAGE=", a->firing ? "" : "resolved: ", a->summary ? a->summary : "");
	field(&b, e, "PRIORITY=", prio, NULL);
	field(&b, e, "MESSAGE_ID=", cause_message_id(a->cause), NULL);
	field(&b, e, "SYSLOG_IDENTIFIER=", "upwatchd", NULL);
	field(&b, e, "UPWATCH_ALERT_ID=", a->id, NULL);
	field(&b, e, "UPWATCH_CAUSE=", cause_name(a->cause), NULL);
	field(&b, e, "UPWATCH_STATE=", a->firing ? "firing" : "resolved", NULL);
	field(&b, e, "UPWATCH_SEVERITY=", alert_severity_name(a->severity), NULL);
	field(&b, e, "UPWATCH_COUNT=", count, NULL);
	if (a->peer)
		field(&b, e, "UPWATCH_PEER=", a->peer, NULL);
	if (a->upstream)
		field(&b, e, "UPWATCH_UPSTREAM=", a->upstream, NULL);
	if (a->config_ref)
		field(&b, e, "UPWATCH_CONFIG_REF=", a->config_ref, NULL);
	if (a->fix)
		field(&b, e, "UPWATCH_FIX=", a->fix, NULL);
	if (a->explanation)
		field(&b, e, "UPWATCH_EXPLANATION=", a->explanation, NULL);
	for (size_t i = 0; i < a->nevidence; i++)
		field(&b, e, "UPWATCH_EVIDENCE=", a->evidence[i], NULL);
	e->buf = strbuf_steal(&b);
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
	if (!j->queue)
		j->queue = xcalloc(JOURNAL_QUEUE_MAX, sizeof(*j->queue));
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
