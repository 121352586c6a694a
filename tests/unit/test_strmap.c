/* Unit tests for strmap: first value wins, case folding, growth. */
#include <stdio.h>

#include "harness.h"
#include "strmap.h"

static void test_first_value_wins_and_lookup(void)
{
	struct strmap m;
	size_t v = 0;
	strmap_init(&m, false);
	CHECK(!strmap_get(&m, "a", &v));
	CHECK_INT(strmap_put(&m, "a", 1), 1);
	CHECK_INT(strmap_put(&m, "a", 2), 1);
	CHECK(strmap_get(&m, "a", &v) && v == 1);
	CHECK(!strmap_get(&m, "A", &v));
	strmap_done(&m);
}

static void test_nocase_keys(void)
{
	struct strmap m;
	size_t v = 0;
	strmap_init(&m, true);
	strmap_put(&m, "Backend", 7);
	CHECK(strmap_get(&m, "bACKEND", &v) && v == 7);
	CHECK_INT(strmap_put(&m, "BACKEND", 8), 7);
	strmap_done(&m);
}

static void test_grows_past_many_keys(void)
{
	static char keys[5000][16];
	struct strmap m;
	size_t v = 0;
	strmap_init(&m, false);
	for (size_t i = 0; i < 5000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		strmap_put(&m, keys[i], i);
	}
	CHECK_INT(m.n, 5000);
	int bad = 0;
	for (size_t i = 0; i < 5000; i++)
		bad += !strmap_get(&m, keys[i], &v) || v != i;
	CHECK_INT(bad, 0);
	CHECK(!strmap_get(&m, "k5000", &v));
	strmap_done(&m);
}

int main(void)
{
	RUN(test_first_value_wins_and_lookup);
	RUN(test_nocase_keys);
	RUN(test_grows_past_many_keys);
	return harness_result();
}
