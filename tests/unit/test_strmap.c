/* Unit tests for strmap: put/get/replace/remove across growth and tombstones. */
#include <stdio.h>

#include "harness.h"
#include "core/strmap.h"

static void test_put_get_replace_remove_many(void)
{
	struct strmap m;
	char key[32];
	strmap_init(&m);
	for (long i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "127.0.0.%ld:%ld", i % 250, i);
		CHECK(strmap_put(&m, key, (void *)(i + 1)) == NULL);
	}
	CHECK_INT(m.len, 20000);
	snprintf(key, sizeof(key), "127.0.0.%d:%d", 7, 7);
	CHECK(strmap_get(&m, key) == (void *)8);
	CHECK(strmap_put(&m, key, (void *)99) == (void *)8);
	CHECK(strmap_get(&m, key) == (void *)99);
	for (long i = 0; i < 20000; i += 2) {
		snprintf(key, sizeof(key), "127.0.0.%ld:%ld", i % 250, i);
		CHECK(strmap_remove(&m, key) != NULL);
	}
	CHECK_INT(m.len, 10000);
	CHECK(strmap_get(&m, "127.0.0.0:0") == NULL);
	CHECK(strmap_get(&m, "127.0.0.1:1") == (void *)2);
	size_t it = 0, n = 0;
	const char *k;
	void *v;
	while (strmap_next(&m, &it, &k, &v))
		n++;
	CHECK_INT(n, 10000);
	/* churn through tombstones without growing without bound */
	for (int round = 0; round < 50; round++) {
		strmap_put(&m, "churn", (void *)1);
		strmap_remove(&m, "churn");
	}
	CHECK(m.cap <= 65536);
	strmap_done(&m);
}

int main(void)
{
	RUN(test_put_get_replace_remove_many);
	return harness_result();
}
