/* hash: FNV-1a 64 against the published test vectors; nocase folding. */
#include "harness.h"

#include "core/hash.h"

static void test_fnv1a64_vectors(void)
{
	CHECK(hash_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
	CHECK(hash_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
	CHECK(hash_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
	CHECK(hash_str("foobar", 0) == 0x85944171f73967e8ULL);
	CHECK(hash_str("FooBar", 1) == hash_str("foobar", 0));
	CHECK(hash_str("FooBar", 0) != hash_str("foobar", 0));
}

int main(void)
{
	RUN(test_fnv1a64_vectors);
	return harness_result();
}
