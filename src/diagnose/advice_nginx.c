/* advice_nginx: the fixes that live in nginx and the network — DNS, TLS,
 * a block with no live peer, worker connections, local ports. */
#include "diagnose/advice_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const char *nameserver(const struct advice_in *in)
{
	return in->nameserver && in->nameserver[0] ? in->nameserver : "NAMESERVER";
}

static void resolver_line(struct writer *w)
{
	strbuf_printf(&w->fix, "    resolver %s valid=30s;%s\n", nameserver(w->in),
		      w->in->nameserver && w->in->nameserver[0]
			  ? "   # the first nameserver of /etc/resolv.conf"
			  : "   # one of /etc/resolv.conf");
}

/* "name:port" as nginx names the peer, the port kept. */
static const char *name_port(const struct advice_in *in, char *buf, size_t len)
{
	if (in->addr && in->addr->kind == PEERKEY_HOST && in->addr->port)
		snprintf(buf, len, "%s:%u", in->addr->host, in->addr->port);
	else
		snprintf(buf, len, "%s", in->peer ? in->peer : "NAME:PORT");
	return buf;
}

void advice_write_dns(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300], np[300];
	const char *name = in->addr && in->addr->kind == PEERKEY_HOST ? in->addr->host : in->peer;
	strbuf_printf(&w->summary, "nginx cannot resolve %s", name ? name : "a host name");
	advice_observed_log(w, in->host_not_found ? "\"host not found in upstream\""
						  : "name resolution errors");
	if (in->detail && in->detail[0])
		strbuf_printf(&w->expl, " Last: %s.", in->detail);
	advice_observed_probe(w);
	advice_where(w);
	const struct ngx_ref *rr =
	    in->pass && in->pass->t->resolver_ref.file ? &in->pass->t->resolver_ref : NULL;
	advice_set_ref(w, in->host_not_found
			      ? advice_peer_ref(in)
			      : (rr ? rr : (in->pass ? &in->pass->ref : advice_peer_ref(in))));
	if (in->host_not_found) {
		/* nginx resolves names of `server` lines and literal passes when it
		 * loads the configuration: a name that does not resolve refuses it */
		strbuf_printf(
		    &w->expl,
		    " Inferred: nginx resolves this name when it loads its configuration, and the "
		    "name does not resolve, so nginx refused the configuration: a reload failed "
		    "and nginx still runs the previous configuration (the next restart will fail "
		    "to start nginx at all).");
		strbuf_printf(&w->fix,
			      "Fix the name, or write an address instead, at %s; then check before "
			      "reloading:\n    nginx -t && nginx -s reload\n",
			      advice_ref(advice_peer_ref(in), b, sizeof(b)));
		strbuf_printf(&w->fix, "Check the name: getent hosts %s\n", name ? name : "");
		return;
	}
	if (in->no_resolver || (in->pass && in->pass->dynamic && !in->pass->t->resolver)) {
		strbuf_printf(&w->expl,
			      " Inferred: the *_pass holds a variable, so nginx resolves the name "
			      "at request time, and it has no resolver to ask.");
		strbuf_printf(
		    &w->fix, "Give nginx a resolver, in the http or server block (%s):\n",
		    advice_ref(in->pass ? &in->pass->ref : advice_peer_ref(in), b, sizeof(b)));
		resolver_line(w);
		strbuf_printf(&w->fix, "Check the name: getent hosts %s\n", name ? name : "");
		return;
	}
	strbuf_printf(&w->expl,
		      " Inferred: the name does not exist, or the resolver nginx uses does not "
		      "answer for it.");
	strbuf_printf(&w->fix, "Check the name: getent hosts %s\n", name ? name : "");
	if (in->pass && in->pass->t->resolver)
		strbuf_printf(&w->fix, "and what nginx's resolver (%s) answers: dig @%s %s\n",
			      advice_ref(&in->pass->t->resolver_ref, b, sizeof(b)),
			      in->pass->t->resolver, name ? name : "");
	(void)np;
}

void advice_write_tls(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct probe_result *r = in->probe;
	const char *why = r && r->tls_error[0] ? r->tls_error : (in->detail ? in->detail : "");
	char b[300];
	strbuf_printf(&w->summary, "TLS to %s fails%s%s", in->peer, why[0] ? ": " : "", why);
	advice_observed_log(w, "TLS errors");
	if (in->detail && in->detail[0])
		strbuf_printf(&w->expl, " Last: %s.", in->detail);
	advice_observed_probe(w);
	if (r && r->cert_subject[0])
		strbuf_printf(&w->expl, " Certificate: subject %s, issuer %s.", r->cert_subject,
			      r->cert_issuer);
	if (r && r->cert_not_after) {
		char t[32];
		format_time_ms(r->cert_not_after * 1000, t);
		strbuf_printf(&w->expl, " It expires%s %s.",
			      r->cert_not_after * 1000 < now_wall_ms() ? "d" : "", t);
	}
	strbuf_printf(&w->expl, " Inferred: nginx and the backend do not agree on TLS.");
	advice_where(w);
	advice_set_ref(w, in->pass ? &in->pass->ref : advice_peer_ref(in));
	const char *at = advice_ref(in->pass ? &in->pass->ref : advice_peer_ref(in), b, sizeof(b));
	if (strstr(why, "expired"))
		strbuf_printf(&w->fix, "Renew the backend's certificate; it has expired.\n");
	else if (strstr(why, "self") || strstr(why, "issuer") || strstr(why, "unable to get"))
		strbuf_printf(&w->fix,
			      "Trust the backend's CA in location %s (%s):\n"
			      "    proxy_ssl_trusted_certificate /etc/nginx/backend-ca.pem;\n"
			      "    proxy_ssl_verify on;\n",
			      in->pass && in->pass->location ? in->pass->location : "/", at);
	else if (strstr(why, "match") || strstr(why, "name"))
		strbuf_printf(&w->fix,
			      "Verify the name the certificate carries (%s):\n"
			      "    proxy_ssl_name CERT_NAME;\n    proxy_ssl_server_name on;\n",
			      at);
	else if (strstr(why, "wrong version"))
		strbuf_printf(&w->fix, "The backend speaks plain HTTP: use http:// in %s.\n", at);
	else
		strbuf_printf(
		    &w->fix,
		    "Send SNI and check the protocols (%s):\n    proxy_ssl_server_name on;\n"
		    "    proxy_ssl_protocols TLSv1.2 TLSv1.3;\n",
		    at);
}

void advice_write_no_live(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	const char *name = in->up ? in->up->name : "?";
	strbuf_printf(&w->summary,
		      "upstream %s has no live peers: nginx answers 502 without trying", name);
	advice_observed_log(w, "\"no live upstreams\"");
	if (in->block_states)
		strbuf_printf(&w->expl, " %s.", in->block_states);
	strbuf_printf(&w->expl,
		      " Inferred: every peer is down, or nginx marked them failed after max_fails "
		      "errors and will not retry them until fail_timeout passes.");
	if (in->up)
		strbuf_printf(&w->expl, " The block is at %s.",
			      advice_ref(&in->up->ref, b, sizeof(b)));
	advice_set_ref(w, in->up ? &in->up->ref : NULL);
	strbuf_printf(&w->fix, "Bring the failing peers back (see their own alerts).\n");
	for (size_t i = 0; in->up && i < in->up->nservers; i++) {
		const struct ngx_server *s = &in->up->servers[i];
		if (s->max_fails == 1 && s->fail_timeout_ms >= 30000)
			strbuf_printf(&w->fix,
				      "One error takes %s out for %llus; tolerate a few (%s):\n"
				      "    server %s max_fails=3 fail_timeout=10s;\n",
				      s->addr, (unsigned long long)(s->fail_timeout_ms / 1000),
				      advice_ref(&s->ref, b, sizeof(b)), s->addr);
	}
}

/* worker_connections from what was seen at once: the connections a worker
 * held (all of them, at the limit) plus those refused in the fullest burst
 * of "worker_connections are not enough" lines, twice over — each proxied
 * request holds a client and an upstream connection. Never below double. */
static unsigned worker_connections_size(const struct advice_in *in, unsigned have,
					unsigned *ret_seen)
{
	unsigned seen = have + in->burst_peak;
	*ret_seen = seen;
	return MAX(seen * 2, have * 2);
}

void advice_write_worker_connections(struct writer *w)
{
	const struct advice_in *in = w->in;
	unsigned have =
	    in->model && in->model->worker_connections ? in->model->worker_connections : 512;
	unsigned seen, want = worker_connections_size(in, have, &seen);
	strbuf_printf(&w->summary, "nginx ran out of worker connections (worker_connections %u)",
		      have);
	advice_observed_log(w, "\"worker_connections are not enough\" or \"Too many open files\"");
	if (in->burst_peak > 1)
		strbuf_printf(&w->expl,
			      " Up to %u connections found no free slot within one second, on top "
			      "of the %u a worker held: about %u at once.",
			      in->burst_peak, have, seen);
	strbuf_printf(
	    &w->expl,
	    " Inferred: each worker holds a client and an upstream connection per request; "
	    "the limit is reached under this load or with slow upstreams. A connection nginx "
	    "has no slot for is closed without any answer: those clients saw a dropped "
	    "connection (curl: \"Empty reply from server\" or a reset), not a 502, and the "
	    "access log has no line for them.");
	if (in->model)
		advice_set_ref(w, &in->model->worker_connections_ref);
	strbuf_printf(&w->fix,
		      "In the events block (%u connections were wanted at once; twice that for "
		      "their upstream connections):\n    worker_connections %u;\nand at the top "
		      "level:\n    worker_rlimit_nofile %u;\n",
		      seen, want, want * 2);
}

void advice_write_peer_failing(struct writer *w)
{
	const struct advice_in *in = w->in;
	const struct probe_result *r = in->probe;
	strbuf_printf(&w->summary, "%s fails its probe (%s): nginx has not hit it %s", in->peer,
		      r ? probe_result_name(r->result) : "?", in->last_error_ms ? "lately" : "yet");
	if (in->last_error_ms) {
		char t[32];
		format_time_ms(in->last_error_ms, t);
		strbuf_printf(&w->expl, "Observed: nginx's last error for %s was at %s.", in->peer,
			      t);
	} else {
		strbuf_printf(&w->expl, "Observed: nginx has logged no error for %s yet.",
			      in->peer);
	}
	advice_observed_probe(w);
	advice_observed_listener(w);
	strbuf_printf(&w->expl, " Inferred: requests nginx sends to this peer will fail%s%s.",
		      in->implied != CAUSE_NONE ? " with " : "",
		      in->implied != CAUSE_NONE ? cause_name(in->implied) : "");
	advice_where(w);
	advice_set_ref(w, advice_peer_ref(in));
}

void advice_write_local_ports(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300];
	strbuf_printf(&w->summary, "nginx cannot open more connections to %s: no free local port",
		      in->peer ? in->peer : "its upstreams");
	advice_observed_log(w, "\"connect() failed (99: Cannot assign requested address)\"");
	if (in->conns_known)
		strbuf_printf(
		    &w->expl,
		    " This host has %u connections to %s in TIME_WAIT and %u established.",
		    in->time_wait, in->peer ? in->peer : "the peer", in->established);
	strbuf_printf(&w->expl,
		      " Inferred: nginx opens a new connection per request and the closed ones "
		      "wait in TIME_WAIT, so the ephemeral ports run out (or nginx asked for a "
		      "local address this host does not have, e.g. [::1] without IPv6).");
	advice_where(w);
	advice_set_ref(w, in->pass ? &in->pass->ref : advice_peer_ref(in));
	if (in->up)
		strbuf_printf(&w->fix,
			      "Reuse connections: in upstream %s (%s):\n    keepalive 32;\n",
			      in->up->name, advice_ref(&in->up->ref, b, sizeof(b)));
	else
		strbuf_printf(&w->fix,
			      "Reuse connections: put %s in an upstream block with:\n"
			      "    keepalive 32;\n",
			      in->peer ? in->peer : "the peer");
	if (!in->pass || in->pass->proto == NGX_PROTO_HTTP || in->pass->proto == NGX_PROTO_HTTPS)
		strbuf_printf(&w->fix,
			      "and in location %s (%s):\n    proxy_http_version 1.1;\n"
			      "    proxy_set_header Connection \"\";\n",
			      in->pass && in->pass->location && in->pass->location[0]
				  ? in->pass->location
				  : "/",
			      advice_ref(in->pass ? &in->pass->ref : NULL, b, sizeof(b)));
	strbuf_printf(&w->fix, "Widen the port range meanwhile:\n"
			       "    sysctl -w net.ipv4.ip_local_port_range=\"15000 64999\"\n");
}

void advice_write_dns_stale(struct writer *w)
{
	const struct advice_in *in = w->in;
	char b[300], np[300];
	const char *name = in->addr && in->addr->kind == PEERKEY_HOST ? in->addr->host : in->peer;
	strbuf_printf(&w->summary, "nginx connects to an old address of %s",
		      name ? name : "a host name");
	if (in->stale_addr) {
		strbuf_printf(&w->summary, " (%s)", in->stale_addr);
		strbuf_printf(&w->expl,
			      "Observed: nginx's error lines name %s, an address %s no longer "
			      "resolves to, and connecting there fails.",
			      in->stale_addr, name ? name : "the name");
	} else {
		advice_observed_log(w, "failures on the address resolved at start-up");
	}
	advice_observed_probe(w);
	strbuf_printf(&w->expl,
		      " Inferred: nginx resolved the name once, at start-up or reload, and the "
		      "name now points elsewhere.");
	advice_where(w);
	/* the line that names the host: the block's server line, else the pass */
	advice_set_ref(w, in->server && in->up ? &in->server->ref
			  : in->pass	       ? &in->pass->ref
					       : advice_peer_ref(in));
	strbuf_printf(&w->fix, "Resolve again now:\n    nginx -t && nginx -s reload\n");
	name_port(in, np, sizeof(np));
	if (in->server && in->up) {
		strbuf_printf(
		    &w->fix,
		    "To follow the name from now on (nginx >= 1.27.3), in upstream %s (%s):\n"
		    "    zone %s 64k;\n    server %s resolve;\nand in the http block:\n",
		    in->up->name, advice_ref(&in->server->ref, b, sizeof(b)), in->up->name, np);
		resolver_line(w);
	} else if (in->pass) {
		strbuf_printf(&w->fix, "To follow the name from now on, in location %s (%s):\n",
			      in->pass->location && in->pass->location[0] ? in->pass->location
									  : "/",
			      advice_ref(&in->pass->ref, b, sizeof(b)));
		resolver_line(w);
		strbuf_printf(&w->fix, "    set $backend \"%s\";\n    %s %s://$backend;\n", np,
			      in->pass->directive, in->pass->scheme ? in->pass->scheme : "http");
	}
}
