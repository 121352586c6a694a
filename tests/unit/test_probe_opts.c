/* Unit tests for probe_opts: peers' option sets, shared when equal. */
#include <stdio.h>
#include <string.h>
#include "harness.h"
#include "conf/config.h"
#include "probe/probe_opts.h"

static struct probe_target opts_target(void)
{
	struct probe_target t = {0};
	t.proto = PROBE_PROTO_HTTP;
	t.enabled = t.probed = true;
	t.timeout_ms = 2000;
	t.read_timeout_ms = 60000;
	t.read_timeout_ref = "/etc/nginx/nginx.conf:12";
	return t;
}

static void test_equal_options_share_one_set_until_the_last_put(void)
{
	struct probe_opts_set s;
	probe_opts_set_init(&s);
	struct probe_target t = opts_target();
	char ref[] = "/etc/nginx/nginx.conf:12"; /* equal text, another pointer */
	struct probe_target u = opts_target();
	u.read_timeout_ref = ref;

	struct probe_opts *a = probe_opts_get(&s, &t), *b = probe_opts_get(&s, &u);
	CHECK(a == b);
	CHECK_INT(a->refs, 2);
	CHECK_INT(s.len, 1);
	CHECK(a->read_timeout_ref != t.read_timeout_ref); /* a copy */
	CHECK_STR(a->read_timeout_ref, "/etc/nginx/nginx.conf:12");
	probe_opts_put(&s, a);
	CHECK_INT(s.len, 1);
	probe_opts_put(&s, b);
	CHECK_INT(s.len, 0);
	probe_opts_put(&s, NULL);
	probe_opts_set_done(&s);
}

static void test_any_difference_is_another_set(void)
{
	struct probe_opts_set s;
	probe_opts_set_init(&s);
	struct probe_target t = opts_target();
	struct probe_opts *base = probe_opts_get(&s, &t);

	struct probe_target v[5];
	for (int i = 0; i < 5; i++)
		v[i] = opts_target();
	v[0].proto = PROBE_PROTO_TCP;
	v[1].retries = 3;
	v[2].expect_hi = 399;
	v[3].timeout_ms = 2001;
	v[4].read_timeout_ref = NULL;
	struct probe_opts *o[5];
	for (int i = 0; i < 5; i++) {
		o[i] = probe_opts_get(&s, &v[i]);
		CHECK(o[i] != base);
		CHECK_INT(o[i]->refs, 1);
	}
	CHECK_INT(s.len, 6);
	CHECK(o[4]->read_timeout_ref == NULL);
	/* the first options again, after others: found by their fields */
	CHECK(probe_opts_get(&s, &t) == base);
	CHECK_INT(base->refs, 2);
	probe_opts_put(&s, base);
	for (int i = 0; i < 5; i++)
		probe_opts_put(&s, o[i]);
	probe_opts_put(&s, base);
	CHECK_INT(s.len, 0);
	probe_opts_set_done(&s);
}

/* Strings are told apart by their lengths, not a separator the operator's
 * text could hold. */
static void test_strings_with_separators_do_not_collide(void)
{
	struct probe_opts_set s;
	probe_opts_set_init(&s);
	struct probe_target a = opts_target(), b = opts_target();
	a.proto = b.proto = PROBE_PROTO_HTTPS;
	a.health_uri = "/h|2:xy";
	a.tls_trusted = NULL;
	b.health_uri = "/h";
	b.tls_trusted = "xy";
	struct probe_opts *oa = probe_opts_get(&s, &a), *ob = probe_opts_get(&s, &b);
	CHECK(oa != ob);
	CHECK_STR(oa->health_uri, "/h|2:xy");
	CHECK(oa->tls_trusted == NULL);
	CHECK_STR(ob->tls_trusted, "xy");
	probe_opts_put(&s, oa);
	probe_opts_put(&s, ob);
	probe_opts_set_done(&s);
}

/* Past the first buckets (the table grows) and out of order: every set is
 * found again by its fields and leaves its chain when its last peer goes. */
static void test_many_sets_are_found_and_freed_in_any_order(void)
{
	struct probe_opts_set s;
	probe_opts_set_init(&s);
	enum { N = 100 };
	struct probe_opts *o[N];
	char uri[N][16];
	for (int i = 0; i < N; i++) {
		struct probe_target t = opts_target();
		snprintf(uri[i], sizeof(uri[i]), "/h%d", i % 10);
		t.health_uri = uri[i];
		t.timeout_ms = 1000 + (uint64_t)(i / 10);
		o[i] = probe_opts_get(&s, &t);
	}
	CHECK_INT(s.len, N);
	CHECK(s.nbuckets >= N);
	for (int i = N - 1; i >= 0; i--) {
		struct probe_target t = opts_target();
		t.health_uri = uri[i];
		t.timeout_ms = 1000 + (uint64_t)(i / 10);
		CHECK(probe_opts_get(&s, &t) == o[i]);
		CHECK_INT(o[i]->refs, 2);
	}
	for (int i = 0; i < N; i += 2) /* every other set goes, the rest stay */
		for (int k = 0; k < 2; k++)
			probe_opts_put(&s, o[i]);
	CHECK_INT(s.len, N / 2);
	for (int i = 1; i < N; i += 2) {
		struct probe_target t = opts_target();
		t.health_uri = uri[i];
		t.timeout_ms = 1000 + (uint64_t)(i / 10);
		CHECK(probe_opts_get(&s, &t) == o[i]);
		for (int k = 0; k < 3; k++)
			probe_opts_put(&s, o[i]);
	}
	CHECK_INT(s.len, 0);
	probe_opts_set_done(&s);
}

static void test_defaults_applied_and_empty_strings_are_null(void)
{
	struct probe_opts_set s;
	probe_opts_set_init(&s);
	struct probe_target t = opts_target();
	t.health_uri = "";
	struct probe_opts *o = probe_opts_get(&s, &t);
	CHECK_INT(o->interval_ms, CONFIG_DEFAULT_PROBE_INTERVAL_MS);
	CHECK_INT(o->retry_ms, CONFIG_DEFAULT_PROBE_RETRY_MS);
	CHECK(o->health_uri == NULL);

	/* and back into a target, as a run gets it */
	struct probe_target back = {0};
	probe_opts_target(o, &back);
	CHECK_INT(back.proto, PROBE_PROTO_HTTP);
	CHECK(back.enabled && back.probed);
	CHECK_INT(back.timeout_ms, 2000);
	CHECK_INT(back.read_timeout_ms, 60000);
	CHECK_STR(back.read_timeout_ref, "/etc/nginx/nginx.conf:12");
	CHECK_INT(back.interval_ms, CONFIG_DEFAULT_PROBE_INTERVAL_MS);
	probe_opts_put(&s, o);
	probe_opts_set_done(&s);
}

/* A plain HTTP or TCP peer's TLS settings (nginx's proxy_ssl_name is the
 * pass's host by default) do not make its set distinct. */
static void test_tls_settings_count_only_for_tls_protocols(void)
{
	struct probe_opts_set s;
	probe_opts_set_init(&s);
	struct probe_target a = opts_target(), b = opts_target();
	a.tls_verify = a.tls_sni = true;
	a.tls_trusted = "/etc/ssl/a.pem";
	struct probe_opts *oa = probe_opts_get(&s, &a), *ob = probe_opts_get(&s, &b);
	CHECK(oa == ob);
	CHECK(!oa->tls_verify && !oa->tls_sni && !oa->tls_trusted);
	CHECK(probe_opts_uses_host(PROBE_PROTO_HTTP) && probe_opts_uses_host(PROBE_PROTO_HTTPS));
	CHECK(!probe_opts_uses_host(PROBE_PROTO_TCP) && !probe_opts_uses_host(PROBE_PROTO_TLS));
	CHECK(probe_opts_uses_tls(PROBE_PROTO_TLS) && probe_opts_uses_tls(PROBE_PROTO_HTTPS));
	CHECK(!probe_opts_uses_tls(PROBE_PROTO_HTTP) && !probe_opts_uses_tls(PROBE_PROTO_FASTCGI));

	a.proto = b.proto = PROBE_PROTO_TLS;
	struct probe_opts *ta = probe_opts_get(&s, &a), *tb = probe_opts_get(&s, &b);
	CHECK(ta != tb);
	CHECK(ta->tls_verify && ta->tls_sni);
	CHECK_STR(ta->tls_trusted, "/etc/ssl/a.pem");
	probe_opts_put(&s, oa);
	probe_opts_put(&s, ob);
	probe_opts_put(&s, ta);
	probe_opts_put(&s, tb);
	CHECK_INT(s.len, 0);
	probe_opts_set_done(&s);
}

int main(void)
{
	RUN(test_equal_options_share_one_set_until_the_last_put);
	RUN(test_any_difference_is_another_set);
	RUN(test_strings_with_separators_do_not_collide);
	RUN(test_many_sets_are_found_and_freed_in_any_order);
	RUN(test_defaults_applied_and_empty_strings_are_null);
	RUN(test_tls_settings_count_only_for_tls_protocols);
	return harness_result();
}
