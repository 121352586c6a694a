/* rules: which cause an observation points at. Pure functions of one log
 * event or one probe result and what is known of the peer; no state, no
 * text. The lifecycle (which alert an observation raises, keeps or
 * resolves) is diagnose.c's. */
#pragma once

#include <stdbool.h>

#include "diagnose/cause.h"
#include "log/errlog.h"
#include "probe/probe_result.h"

/* The cause of a log event; CAUSE_NONE when it names none. listener_up:
 * something listens on the (local) peer, which turns a connect timeout
 * into a full accept queue. */
enum cause rules_event_cause(const struct errlog_event *ev, bool is_unix, bool listener_up);

/* Whether evaluating the event needs listener_up (only connect timeouts do:
 * the hot path skips the lookup otherwise). */
bool rules_event_needs_listener(const struct errlog_event *ev);

/* The cause a failing probe points at; CAUSE_NONE when it names none. */
enum cause rules_probe_cause(const struct probe_result *r, bool is_unix);

/* A verdict about the peer: a probe that ran and did not fail for upwatch's
 * own reasons (PROBE_LOCAL_ERROR is upwatch out of descriptors or memory). */
bool rules_probe_is_verdict(const struct probe_result *r);

/* Causes of which one peer has at most one at a time: what the socket file
 * is (missing, stale) is one fact, and the newest observation of it wins. */
bool rules_exclusive(enum cause a, enum cause b);

/* Causes a backend that came back (backend_restarted) tells the story of. */
bool rules_restart_chapter(enum cause c);

/* A chapter that shows nothing listened on a local peer when nginx saw it
 * (refused, stale socket file, no socket file): a listener seen first after
 * it is a new one. */
bool rules_absence_chapter(enum cause c);
