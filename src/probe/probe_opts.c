/* probe_opts: option sets interned by their printed form (see probe_opts.h). */
#include "probe/probe_opts.h"

#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "core/strbuf.h"
#include "core/util.h"

static const char *nonempty(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* Every string with its length first: no separator can be confused with
 * the text (paths and URIs are the operator's). */
static void put_str(struct strbuf *b, const char *s)
{
	if (s)
		strbuf_printf(b, "|%zu:%s", strlen(s), s);
	else
		strbuf_puts(b, "|-");
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void probe_opts_set_init(struct probe_opts_set *s)
{
	strmap_init(&s->map);
	s->last = NULL;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && streq(a, b));
}

static bool same_opts(const struct probe_opts *a, const struct probe_opts *b,
		      const char *const str[3])
{
	return a->proto == b->proto && a->enabled == b->enabled && a->probed == b->probed &&
	       a->tls_verify == b->tls_verify && a->tls_sni == b->tls_sni &&
	       a->retries == b->retries && a->expect_lo == b->expect_lo &&
	       a->expect_hi == b->expect_hi && a->interval_ms == b->interval_ms &&
	       a->retry_ms == b->retry_ms && a->timeout_ms == b->timeout_ms &&
	       a->connect_timeout_ms == b->connect_timeout_ms &&
	       a->read_timeout_ms == b->read_timeout_ms && same_str(a->health_uri, str[0]) &&
	       same_str(a->tls_trusted, str[1]) && same_str(a->read_timeout_ref, str[2]);
}

void probe_opts_set_done(struct probe_opts_set *s)
{
	strmap_done(&s->map);
}

bool probe_opts_uses_host(enum probe_proto proto)
{
	return proto == PROBE_PROTO_HTTP || proto == PROBE_PROTO_HTTPS;
}

bool probe_opts_uses_tls(enum probe_proto proto)
{
	return proto == PROBE_PROTO_HTTPS || proto == PROBE_PROTO_TLS;
}

struct probe_opts *probe_opts_get(struct probe_opts_set *s, const struct probe_target *t)
{
	struct probe_opts o = {
	    .proto = t->proto,
	    .enabled = t->enabled,
	    .probed = t->probed,
	    .tls_verify = probe_opts_uses_tls(t->proto) && t->tls_verify,
	    .tls_sni = probe_opts_uses_tls(t->proto) && t->tls_sni,
	    .retries = t->retries,
	    .expect_lo = t->expect_lo,
	    .expect_hi = t->expect_hi,
	    .interval_ms = t->interval_ms ? t->interval_ms : CONFIG_DEFAULT_PROBE_INTERVAL_MS,
	    .retry_ms = t->retry_ms ? t->retry_ms : CONFIG_DEFAULT_PROBE_RETRY_MS,
	    .timeout_ms = t->timeout_ms,
	    .connect_timeout_ms = t->connect_timeout_ms,
	    .read_timeout_ms = t->read_timeout_ms,
	};
	const char *str[] = {nonempty(t->health_uri),
			     probe_opts_uses_tls(t->proto) ? nonempty(t->tls_trusted) : NULL,
			     nonempty(t->read_timeout_ref)};
	/* Targets come from one configuration in order, and neighbours mostly
	 * share their options: those of the set returned last are compared
	 * before an id is printed (callgrind, bench_probe 1,000 peers:
	 * prober_set_targets 7.38 -> 1.88 M instructions; 1.72 M before
	 * the sets). */
	if (s->last && same_opts(s->last, &o, str)) {
		s->last->refs++;
		return s->last;
	}
	struct strbuf id = STRBUF_INIT;
	strbuf_printf(&id, "%d %d%d%d%d %u %d %d %llu %llu %llu %llu %llu", (int)o.proto, o.enabled,
		      o.probed, o.tls_verify, o.tls_sni, o.retries, o.expect_lo, o.expect_hi,
		      (unsigned long long)o.interval_ms, (unsigned long long)o.retry_ms,
		      (unsigned long long)o.timeout_ms, (unsigned long long)o.connect_timeout_ms,
		      (unsigned long long)o.read_timeout_ms);
	for (size_t i = 0; i < sizeof(str) / sizeof(str[0]); i++)
		put_str(&id, str[i]);

	struct probe_opts *have = strmap_get(&s->map, id.p);
	if (have) {
		strbuf_done(&id);
		have->refs++;
		return s->last = have;
	}
	have = xmalloc(sizeof(*have));
	*have = o;
	have->health_uri = dup_or_null(str[0]);
	have->tls_trusted = dup_or_null(str[1]);
	have->read_timeout_ref = dup_or_null(str[2]);
	have->refs = 1;
	have->id = strbuf_steal(&id);
	strmap_put(&s->map, have->id, have);
	return s->last = have;
}

void probe_opts_put(struct probe_opts_set *s, struct probe_opts *o)
{
	if (!o || --o->refs > 0)
		return;
	if (s->last == o)
		s->last = NULL;
	strmap_remove(&s->map, o->id);
	free(o->health_uri);
	free(o->tls_trusted);
	free(o->read_timeout_ref);
	free(o->id);
	free(o);
}

void probe_opts_target(const struct probe_opts *o, struct probe_target *t)
{
	t->proto = o->proto;
	t->enabled = o->enabled;
	t->probed = o->probed;
	t->interval_ms = o->interval_ms;
	t->retry_ms = o->retry_ms;
	t->retries = o->retries;
	t->timeout_ms = o->timeout_ms;
	t->connect_timeout_ms = o->connect_timeout_ms;
	t->read_timeout_ms = o->read_timeout_ms;
	t->read_timeout_ref = o->read_timeout_ref;
	t->health_uri = o->health_uri;
	t->expect_lo = o->expect_lo;
	t->expect_hi = o->expect_hi;
	t->tls_verify = o->tls_verify;
	t->tls_sni = o->tls_sni;
	t->tls_trusted = o->tls_trusted;
}
