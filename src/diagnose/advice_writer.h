/* advice_writer: private to src/diagnose/advice*.c. One writer per cause
 * fills a summary, an explanation and a fix; the sentences they share (where
 * a peer sits in the configuration, what was observed) and the backend's own
 * words (its settings, their file:line, how to reload it) are declared here. */
#pragma once

#include "core/strbuf.h"
#include "diagnose/advice.h"

struct writer {
	const struct advice_in *in;
	struct strbuf summary, expl, fix;
	char *ref;
	size_t reflen;
};

/* advice_words.c: configuration references and what was observed */
const char *advice_ref(const struct ngx_ref *r, char *buf, size_t len);
void advice_set_ref(struct writer *w, const struct ngx_ref *r);
const struct ngx_ref *advice_peer_ref(const struct advice_in *in);
void advice_where(struct writer *w);
void advice_observed_log(struct writer *w, const char *what);
void advice_observed_probe(struct writer *w);
void advice_observed_listener(struct writer *w);

/* advice_backend.c: the backend's own configuration */
bool advice_sw_is(const struct advice_in *in, enum backend_kind k);
const char *advice_sw_where(const struct backend_info *sw, const struct backend_setting *s,
			    char *buf, size_t len);
void advice_sw_name(struct strbuf *b, const struct backend_info *sw);
void advice_sw_observed(struct writer *w);
unsigned advice_sw_workers(const struct backend_info *sw);
const char *advice_sw_workers_name(const struct backend_info *sw);
const char *advice_sw_timeout_name(const struct backend_info *sw);
void advice_sw_setting_line(struct strbuf *b, const struct backend_info *sw, const char *name,
			    const char *value);
unsigned advice_sw_seconds(const char *v);
const char *advice_sw_reload(const struct backend_info *sw);

/* the writers, one per cause: advice_peer.c (the backend process),
 * advice_socket.c (unix sockets), advice_nginx.c (nginx and the network) */
void advice_write_down(struct writer *w);
void advice_write_restarted(struct writer *w);
void advice_write_unreachable(struct writer *w);
void advice_write_slow(struct writer *w);
void advice_write_reset(struct writer *w);
void advice_write_invalid(struct writer *w);
void advice_write_too_big(struct writer *w);
void advice_write_overloaded(struct writer *w);
void advice_write_missing(struct writer *w);
void advice_write_permission(struct writer *w);
void advice_write_stale(struct writer *w);
void advice_write_dns(struct writer *w);
void advice_write_tls(struct writer *w);
void advice_write_no_live(struct writer *w);
void advice_write_worker_connections(struct writer *w);
void advice_write_peer_failing(struct writer *w);
void advice_write_local_ports(struct writer *w);
void advice_write_dns_stale(struct writer *w);
