/* Unit tests for peerkey: every spelling normalises to the one key. */
#include <errno.h>

#include "harness.h"
#include "core/peerkey.h"

static void expect(const char *in, unsigned defport, const char *key)
{
	struct peerkey k;
	int r = peerkey_parse(in, strlen(in), defport, &k);
	if (!key) {
		CHECK_INT(r, -EINVAL);
		return;
	}
	CHECK_INT(r, 0);
	if (r == 0)
		CHECK_STR(k.key, key);
}

static void test_spellings_normalise(void)
{
	expect("127.0.0.1:8080", 0, "127.0.0.1:8080");
	expect("127.0.0.1", 80, "127.0.0.1:80");
	expect("[::1]:8080", 0, "[::1]:8080");
	expect("[0:0::1]:8080", 0, "[::1]:8080");
	expect("[::1]", 443, "[::1]:443");
	expect("Backend.Example:8443", 0, "backend.example:8443");
	expect("app", 9000, "app:9000");
	expect("unix:/run/php/php8.2-fpm.sock", 0, "unix:/run/php/php8.2-fpm.sock");
}

/* The dotted quads inet_ntop writes itself are taken as they are; any other
 * spelling is what inet_pton makes of it (leading zeros: a host name). */
static void expect_kind(const char *in, enum peerkey_kind kind, const char *host, const char *key)
{
	struct peerkey k;
	CHECK_INT(peerkey_parse(in, strlen(in), 80, &k), 0);
	CHECK_INT(k.kind, kind);
	CHECK_STR(k.host, host);
	CHECK_STR(k.key, key);
}

static void test_ipv4_spellings(void)
{
	expect_kind("127.0.0.1:20003", PEERKEY_IPV4, "127.0.0.1", "127.0.0.1:20003");
	expect_kind("0.0.0.0", PEERKEY_IPV4, "0.0.0.0", "0.0.0.0:80");
	expect_kind("255.255.255.255:65535", PEERKEY_IPV4, "255.255.255.255",
		    "255.255.255.255:65535");
	expect_kind("10.0.0.1:08080", PEERKEY_IPV4, "10.0.0.1", "10.0.0.1:8080");
	expect_kind("10.0.0.01:1", PEERKEY_HOST, "10.0.0.01", "10.0.0.01:1");
	expect_kind("1.2.3.256:1", PEERKEY_HOST, "1.2.3.256", "1.2.3.256:1");
	expect_kind("1.2.3:1", PEERKEY_HOST, "1.2.3", "1.2.3:1");
	expect_kind("1.2.3.4.5:1", PEERKEY_HOST, "1.2.3.4.5", "1.2.3.4.5:1");
	expect_kind("1234.1.1.1:1", PEERKEY_HOST, "1234.1.1.1", "1234.1.1.1:1");
	expect_kind("1.2.3.4.:1", PEERKEY_HOST, "1.2.3.4.", "1.2.3.4.:1");
}

static void test_garbage_is_refused(void)
{
	expect("127.0.0.1", 0, NULL);
	expect("127.0.0.1:0", 0, NULL);
	expect("127.0.0.1:65536", 0, NULL);
	expect("127.0.0.1:80x", 0, NULL);
	expect("::1", 80, NULL);
	expect("[::1", 80, NULL);
	expect("[zz]:80", 0, NULL);
	expect("unix:", 0, NULL);
	expect("unix:relative", 0, NULL);
	expect("a b:80", 0, NULL);
	expect("", 80, NULL);
}

static void test_locality(void)
{
	struct peerkey k;
	peerkey_parse("127.3.4.5:1", 11, 0, &k);
	CHECK(peerkey_is_local(&k));
	peerkey_parse("[::1]:1", 7, 0, &k);
	CHECK(peerkey_is_local(&k));
	peerkey_parse("10.0.0.1:1", 10, 0, &k);
	CHECK(!peerkey_is_local(&k));
	peerkey_parse("localhost:1", 11, 0, &k);
	CHECK(!peerkey_is_local(&k));
}

int main(void)
{
	RUN(test_spellings_normalise);
	RUN(test_ipv4_spellings);
	RUN(test_garbage_is_refused);
	RUN(test_locality);
	return harness_result();
}
