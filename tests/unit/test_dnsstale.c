/* Unit tests for dnsstale: the comparison of the address nginx connects to
 * with what host names resolve to now. */
#include <string.h>

#include "diagnose/dnsstale.h"
#include "harness.h"

static struct peerkey key(const char *s)
{
	struct peerkey k;
	int r = peerkey_parse(s, strlen(s), 0, &k);
	CHECK_INT(r, 0);
	return k;
}

static void test_answers_are_compared_as_addresses_not_text(void)
{
	CHECK(dnsstale_in_answers("127.0.0.2", "127.0.0.2"));
	CHECK(dnsstale_in_answers("127.0.0.2", "127.0.0.3 127.0.0.2 ::1"));
	CHECK(dnsstale_in_answers("::1", "127.0.0.1 0:0:0:0:0:0:0:1"));
	CHECK(!dnsstale_in_answers("127.0.0.2", "127.0.0.20"));
	CHECK(!dnsstale_in_answers("127.0.0.2", "127.0.0.3"));
	CHECK(!dnsstale_in_answers("127.0.0.1", "::ffff:127.0.0.1")); /* no mapping */
	CHECK(!dnsstale_in_answers("127.0.0.2", ""));
	CHECK(!dnsstale_in_answers("127.0.0.2", NULL));
	CHECK(!dnsstale_in_answers("app.test", "127.0.0.2"));
}

static void test_an_address_the_name_no_longer_gives_is_old(void)
{
	struct peerkey used = key("127.0.0.2:8080");
	struct dnsstale_name names[] = {{.host = "app.test", .port = 8080, .answers = "127.0.0.3"}};
	size_t idx = 99;
	CHECK_INT(dnsstale_judge(&used, names, 1, &idx), DNSSTALE_OLD);
	CHECK_INT(idx, 0);
}

static void test_an_address_the_name_still_gives_is_current(void)
{
	struct peerkey used = key("127.0.0.2:8080");
	struct dnsstale_name names[] = {
	    {.host = "other.test", .port = 8080, .answers = "127.0.0.9"},
	    {.host = "app.test", .port = 8080, .answers = "127.0.0.3 127.0.0.2"},
	};
	size_t idx = 99;
	CHECK_INT(dnsstale_judge(&used, names, 2, &idx), DNSSTALE_CURRENT);
	CHECK_INT(idx, 99); /* untouched */
}

static void test_names_on_other_ports_never_count(void)
{
	struct peerkey used = key("127.0.0.2:8080");
	struct dnsstale_name names[] = {{.host = "app.test", .port = 9090, .answers = "127.0.0.3"}};
	size_t idx = 99;
	CHECK_INT(dnsstale_judge(&used, names, 1, &idx), DNSSTALE_NONE);
	CHECK_INT(dnsstale_judge(&used, names, 0, &idx), DNSSTALE_NONE);
	CHECK_INT(idx, 99);
}

static void test_a_name_not_resolved_yet_leaves_it_unknown(void)
{
	struct peerkey used = key("127.0.0.2:8080");
	struct dnsstale_name names[] = {
	    {.host = "app.test", .port = 8080, .answers = "127.0.0.3"},
	    {.host = "new.test", .port = 8080, .answers = ""},
	};
	size_t idx = 99;
	CHECK_INT(dnsstale_judge(&used, names, 2, &idx), DNSSTALE_UNKNOWN);
	/* unless the request's location names the resolved one */
	names[0].location = true;
	CHECK_INT(dnsstale_judge(&used, names, 2, &idx), DNSSTALE_OLD);
	CHECK_INT(idx, 0);
}

static void test_two_moved_names_need_the_location_to_choose(void)
{
	struct peerkey used = key("127.0.0.2:8080");
	struct dnsstale_name names[] = {
	    {.host = "a.test", .port = 8080, .answers = "127.0.0.3"},
	    {.host = "b.test", .port = 8080, .answers = "127.0.0.4"},
	};
	size_t idx = 99;
	CHECK_INT(dnsstale_judge(&used, names, 2, &idx), DNSSTALE_AMBIGUOUS);
	CHECK_INT(idx, 99);
	names[1].location = true;
	CHECK_INT(dnsstale_judge(&used, names, 2, &idx), DNSSTALE_OLD);
	CHECK_INT(idx, 1);
	/* a name that gives the address now wins over any location */
	names[0].answers = "127.0.0.2";
	CHECK_INT(dnsstale_judge(&used, names, 2, &idx), DNSSTALE_CURRENT);
}

static void test_ipv6_addresses_and_non_ip_peers(void)
{
	struct peerkey used = key("[::1]:8080");
	struct dnsstale_name names[] = {{.host = "app.test", .port = 8080, .answers = "127.0.0.1"}};
	size_t idx = 99;
	CHECK_INT(dnsstale_judge(&used, names, 1, &idx), DNSSTALE_OLD);
	names[0].answers = "127.0.0.1 ::1";
	CHECK_INT(dnsstale_judge(&used, names, 1, &idx), DNSSTALE_CURRENT);
	/* a name or a unix socket is not an answer of another name */
	struct peerkey host = key("app.test:8080"), sock = key("unix:/run/a.sock");
	CHECK_INT(dnsstale_judge(&host, names, 1, &idx), DNSSTALE_NONE);
	CHECK_INT(dnsstale_judge(&sock, names, 1, &idx), DNSSTALE_NONE);
}

int main(void)
{
	RUN(test_answers_are_compared_as_addresses_not_text);
	RUN(test_an_address_the_name_no_longer_gives_is_old);
	RUN(test_an_address_the_name_still_gives_is_current);
	RUN(test_names_on_other_ports_never_count);
	RUN(test_a_name_not_resolved_yet_leaves_it_unknown);
	RUN(test_two_moved_names_need_the_location_to_choose);
	RUN(test_ipv6_addresses_and_non_ip_peers);
	return harness_result();
}
