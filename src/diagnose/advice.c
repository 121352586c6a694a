/* advice: summary, explanation and fix for each cause (see advice.h).
 *
 * Explanations read "Observed: ... Inferred: ...": the first part quotes the
 * log and the probe, the second says what upwatch concludes. Fixes name the
 * directive, its value computed from what was measured, and where it goes. */
#include "diagnose/advice.h"
#include "diagnose/advice_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/util.h"

typedef void (*writer_fn)(struct writer *w);

static const writer_fn writers[CAUSE__COUNT] = {
    [CAUSE_BACKEND_DOWN] = advice_write_down,
    [CAUSE_BACKEND_RESTARTED] = advice_write_restarted,
    [CAUSE_BACKEND_UNREACHABLE] = advice_write_unreachable,
    [CAUSE_BACKEND_SLOW] = advice_write_slow,
    [CAUSE_BACKEND_RESET] = advice_write_reset,
    [CAUSE_INVALID_RESPONSE] = advice_write_invalid,
    [CAUSE_HEADER_TOO_BIG] = advice_write_too_big,
    [CAUSE_SOCKET_MISSING] = advice_write_missing,
    [CAUSE_SOCKET_PERMISSION] = advice_write_permission,
    [CAUSE_SOCKET_STALE] = advice_write_stale,
    [CAUSE_BACKEND_OVERLOADED] = advice_write_overloaded,
    [CAUSE_DNS_FAILURE] = advice_write_dns,
    [CAUSE_TLS_FAILURE] = advice_write_tls,
    [CAUSE_NO_LIVE_UPSTREAMS] = advice_write_no_live,
    [CAUSE_WORKER_CONNECTIONS_EXHAUSTED] = advice_write_worker_connections,
    [CAUSE_PEER_FAILING] = advice_write_peer_failing,
    [CAUSE_LOCAL_PORTS_EXHAUSTED] = advice_write_local_ports,
    [CAUSE_DNS_STALE] = advice_write_dns_stale,
};

static char *take(struct strbuf *b)
{
	return strbuf_steal(b);
}

void advice_write(const struct advice_in *in, struct advice *out)
{
	struct writer w = {
	    .in = in,
	    .ref = out->config_ref,
	    .reflen = sizeof(out->config_ref),
	};
	out->config_ref[0] = '\0';
	/* room for the usual words at once: a strbuf that grows formats its
	 * text twice (733 of 1,401 strbuf_printf calls did, callgrind, daemon
	 * real-line run) */
	strbuf_reserve(&w.summary, 256);
	strbuf_reserve(&w.expl, 1024);
	strbuf_reserve(&w.fix, 1024);
	/* (and "" until written: words a cause does not write read empty) */
	strbuf_reset(&w.summary);
	strbuf_reset(&w.expl);
	strbuf_reset(&w.fix);
	if ((unsigned)in->cause < CAUSE__COUNT && writers[in->cause])
		writers[in->cause](&w);
	/* every primary of the block fails and a backup serves: degraded, not down */
	if (in->backup && in->up)
		strbuf_printf(&w.summary, "; every primary of upstream %s fails, backup %s serves",
			      in->up->name, in->backup);
	if (in->software && in->peer && in->cause != CAUSE_PEER_FAILING) {
		strbuf_printf(&w.fix, "\nBackend: ");
		advice_sw_name(&w.fix, in->software);
		strbuf_printf(&w.fix, "\n");
	}
	out->summary = take(&w.summary);
	out->explanation = take(&w.expl);

	/* a prediction's fix (and reference) is the fix of what it predicts */
	if (in->cause == CAUSE_PEER_FAILING && in->implied != CAUSE_NONE &&
	    in->implied != CAUSE_PEER_FAILING) {
		struct advice implied;
		struct advice_in sub = *in;
		sub.cause = in->implied;
		advice_write(&sub, &implied);
		strbuf_done(&w.fix);
		out->fix = implied.fix;
		implied.fix = NULL;
		memcpy(out->config_ref, implied.config_ref, sizeof(out->config_ref));
		advice_done(&implied);
	} else {
		/* drop a trailing newline from the fix */
		if (w.fix.len && w.fix.p[w.fix.len - 1] == '\n')
			w.fix.p[--w.fix.len] = '\0';
		out->fix = take(&w.fix);
	}
}

void advice_done(struct advice *a)
{
	free(a->summary);
	free(a->explanation);
	free(a->fix);
	a->summary = a->explanation = a->fix = NULL;
}
