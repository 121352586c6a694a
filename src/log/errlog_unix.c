/* errlog_unix: errlog_peer_resolve_unix() (see errlog.h): a unix peer whose
 * socket path and URI nginx did not separate, re-keyed by the socket paths
 * the caller knows. */
#include <errno.h>
#include <string.h>

#include "core/peerkey.h"
#include "core/util.h"
#include "log/errlog.h"

int errlog_peer_resolve_unix(struct errlog_event *ev, const char *const *known, size_t n)
{
	if (!ev->has_peer || ev->peer.kind != PEERKEY_UNIX ||
	    ev->peer_split == ERRLOG_SPLIT_EXACT || !ev->upstream.p)
		return -EINVAL;
	/* the text after "unix:", socket path and URI together */
	const char *u = memmem(ev->upstream.p, ev->upstream.len, "unix:", 5);
	if (!u)
		return -EINVAL;
	const char *t = u + 5, *e = ev->upstream.p + ev->upstream.len;
	size_t tn = (size_t)(e - t), best = 0;
	for (size_t i = 0; i < n; i++) {
		const char *k = known[i];
		if (startswith(k, "unix:"))
			k += 5;
		size_t kn = strlen(k);
		if (kn > best && kn <= tn && memcmp(t, k, kn) == 0 &&
		    (kn == tn || t[kn] == '/' || t[kn] == '?'))
			best = kn;
	}
	struct peerkey key;
	if (best == 0 || peerkey_parse(u, best + 5, 0, &key) < 0)
		return 0;
	ev->peer = key;
	ev->upstream_uri = best < tn ? (struct errlog_span){t + best, (uint32_t)(e - t - best)}
				     : (struct errlog_span){NULL, 0};
	ev->peer_split = ERRLOG_SPLIT_EXACT;
	return 1;
}
