/* journal: write an alert change to journald as one structured entry.
 *
 * MESSAGE is the summary; MESSAGE_ID the cause's fixed id (so `journalctl -x`
 * shows the catalog text); UPWATCH_* fields carry the alert. Written whether
 * or not upwatchd's own log goes to the journal: alerts are the product.
 *
 * Never blocks the loop: an entry journald cannot take now (its queue is
 * full) waits in a queue of JOURNAL_QUEUE_MAX entries retried on a timer;
 * beyond that the oldest waiting entry is dropped and counted. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_QUEUE_MAX 256

struct alert;
struct ev_loop;
struct journal;

int journal_new(struct ev_loop *loop, struct journal **ret);
void journal_free(struct journal *j);

/* 0 sent, 1 queued for later, -errno when journald is not there or refused
 * the entry (then it is dropped and counted). */
int journal_send_alert(struct journal *j, const struct alert *a);

/* Entries dropped (queue full, or journald absent or refusing). */
uint64_t journal_dropped(const struct journal *j);
size_t journal_queued(const struct journal *j);
