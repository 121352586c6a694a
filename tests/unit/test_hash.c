/* hash: FNV-1a 64 against the published test vectors; hash_str's folding
 * and that every byte of a key reaches the hash. */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/hash.h"

static void test_fnv1a64_vectors(void)
{
	CHECK(hash_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
	CHECK(hash_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
	CHECK(hash_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
}

static uint64_t word(const char *s)
{
	uint64_t w;
	memcpy(&w, s, 8);
	return w;
}

static void test_fold_word_only_ascii_capitals(void)
{
	/* '@' and '[' border 'A'..'Z'; 0xc1 and 0xda are 'A' and 'Z' with bit 7 */
	CHECK(hash_fold_word(word("AZaz@[\xc1\xda")) == word("azaz@[\xc1\xda"));
	CHECK(hash_fold_word(word("MiXeD.0`")) == word("mixed.0`"));
	CHECK(hash_fold_word(word("{~\x7f\x80 19_")) == word("{~\x7f\x80 19_"));
}

static void test_str_nocase(void)
{
	CHECK(hash_str("FooBar", 1) == hash_str("foobar", 0));
	CHECK(hash_str("BACKEND_Pool.Example", 1) == hash_str("backend_pool.example", 1));
	CHECK(hash_str("FooBar", 0) != hash_str("foobar", 0));
	CHECK(hash_str("@[`{", 1) == hash_str("@[`{", 0));
	CHECK(hash_str("foobar", 0) == hash_bytes("foobar", 6, 0));
	CHECK(hash_str("", 0) == hash_bytes("x", 0, 0));
}

/* Keys differing in one byte anywhere, or only in length, hash apart, also
 * in their low bits (the peers of a storm differ in their last digit). */
static void test_every_byte_counts(void)
{
	char a[41], b[41];
	for (size_t len = 1; len <= 40; len++) {
		memset(a, 'x', len);
		a[len] = '\0';
		for (size_t i = 0; i < len; i++) {
			memcpy(b, a, len + 1);
			b[i] = 'y';
			CHECK(hash_str(a, 0) != hash_str(b, 0));
			CHECK((hash_str(a, 0) & 0xffff) != (hash_str(b, 0) & 0xffff));
		}
		CHECK(hash_bytes(a, len, 0) != hash_bytes(a, len - 1, 0));
	}
	/* "127.0.0.1:20000".."20049": their low 8 bits (a 256-slot table)
	 * spread over at least 40 slots */
	bool used[256] = {false};
	unsigned slots = 0;
	for (int i = 0; i < 50; i++) {
		char k[32];
		snprintf(k, sizeof(k), "127.0.0.1:%d", 20000 + i);
		unsigned s = (unsigned)(hash_str(k, 0) & 255);
		slots += !used[s];
		used[s] = true;
	}
	CHECK(slots >= 40);
}

int main(void)
{
	RUN(test_fnv1a64_vectors);
	RUN(test_fold_word_only_ascii_capitals);
	RUN(test_str_nocase);
	RUN(test_every_byte_counts);
	return harness_result();
}
