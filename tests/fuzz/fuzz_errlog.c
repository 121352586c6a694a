/* fuzz_errlog: errlog_parse() and errlog_parse_upstream() on arbitrary
 * bytes, plus the multi-line predicates and the unix re-keying.
 * Invariants: it returns 0 or -EINVAL; on 0 every span lies within the
 * input (the input is an exact-size copy, so ASan also catches any read past
 * it), the enums are in range, has_peer implies a NUL-terminated non-empty
 * key, and parsing the same bytes again gives the same event (the caches
 * must not change results). The pre-filtered parse accepts the same lines
 * and gives the same kind and peer; errlog_peer_resolve_unix() keeps the
 * event valid; errlog_event_open() agrees for both parses. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/errlog.h"

static int inside(struct errlog_span s, const char *b, size_t n)
{
	if (!s.p)
		return s.len == 0;
	return s.p >= b && s.len <= n && (size_t)(s.p - b) <= n - s.len;
}

static void check(const struct errlog_event *ev, const char *b, size_t n)
{
	const struct errlog_span *s[] = {
	    &ev->message,  &ev->errtext,  &ev->action,	     &ev->detail, &ev->client,
	    &ev->server,   &ev->request,  &ev->method,	     &ev->uri,	  &ev->subrequest,
	    &ev->upstream, &ev->scheme,	  &ev->upstream_uri, &ev->host,	  &ev->referrer,
	    &ev->name,	   &ev->resolver,
	};
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (!inside(*s[i], b, n))
			abort();
	if ((unsigned)ev->peer_split > ERRLOG_SPLIT_NONE)
		abort();
	if ((unsigned)ev->kind >= EV__COUNT || (unsigned)ev->phase >= PHASE__COUNT || ev->level > 7)
		abort();
	if (ev->has_peer && (ev->peer.key[0] == '\0' || !memchr(ev->peer.key, '\0', PEERKEY_MAX)))
		abort();
	if (!ev->has_peer && ev->peer.key[0] != '\0')
		abort();
	/* sub-spans sit inside their field */
	if (ev->method.p && (ev->method.p < ev->request.p ||
			     ev->method.p + ev->method.len > ev->request.p + ev->request.len))
		abort();
	if (ev->scheme.p && (ev->scheme.p != ev->upstream.p || ev->scheme.len > ev->upstream.len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *b = malloc(size ? size : 1);
	memcpy(b, data, size);
	struct errlog_event ev, again;
	int r = errlog_parse(b, size, &ev);
	if (r != 0 && r != -EINVAL)
		abort();
	if (r == 0) {
		check(&ev, b, size);
		if (errlog_parse(b, size, &again) != 0 || again.kind != ev.kind ||
		    again.time != ev.time || again.has_peer != ev.has_peer ||
		    (ev.has_peer && strcmp(again.peer.key, ev.peer.key) != 0))
			abort();
		struct errlog_event up;
		if (errlog_parse_upstream(b, size, &up) != 0 || up.kind != ev.kind ||
		    up.has_peer != ev.has_peer || strcmp(up.peer.key, ev.peer.key) != 0)
			abort();
		check(&up, b, size);
		static const char *const known[] = {"/run/app.sock", "unix:/run", "/"};
		int k = errlog_peer_resolve_unix(&ev, known, 3);
		if (k < -EINVAL || k > 1)
			abort();
		check(&ev, b, size);
	}
	/* an entry is open exactly when the whole line parses as a FastCGI
	 * stderr message without a client context (and is not cut), whichever
	 * parse the reader used */
	bool open = size < 2047 && r == 0 && again.kind == EV_FASTCGI_STDERR && !again.client.p;
	struct errlog_event up2;
	if (r == 0 &&
	    (errlog_event_open(&again, size) != open ||
	     (errlog_parse_upstream(b, size, &up2) == 0 && errlog_event_open(&up2, size) != open)))
		abort();
	(void)errlog_entry_start(b, size);
	free(b);
	return 0;
}
