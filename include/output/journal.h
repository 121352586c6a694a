/* journal: write an alert change to journald as one structured entry.
 *
 * MESSAGE is the summary; MESSAGE_ID the cause's fixed id (so `journalctl -x`
 * shows the catalog text); UPWATCH_* fields carry the alert. Written whether
 * or not upwatchd's own log goes to the journal: alerts are the product. */
#pragma once

struct alert;

/* Returns 0, or -errno when journald is not there (then nothing is written). */
int journal_send_alert(const struct alert *a);
