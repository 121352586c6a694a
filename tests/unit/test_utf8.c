/* utf8: validity of the classic bad sequences, cuts on boundaries. */
#include "harness.h"

#include "core/utf8.h"

static void test_valid_and_invalid_sequences(void)
{
	CHECK(utf8_valid("caf\xc3\xa9", 5));
	CHECK(!utf8_valid("caf\xe9", 4)); /* latin-1 */
	CHECK(!utf8_valid("\xff", 1));
	CHECK(!utf8_valid("\xc0\xaf", 2));	   /* overlong '/' */
	CHECK(!utf8_valid("\xed\xa0\x80", 3));	   /* surrogate */
	CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(!utf8_valid("\xe2\x82", 2));	   /* truncated */
	CHECK(utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */
	CHECK_INT(utf8_char_len("\xe2\x82\xac", 3), 3);
	CHECK_INT(utf8_char_len("\x80", 1), 0);
}

static void test_cut_never_splits_a_character(void)
{
	const char *s = "ab\xe2\x82\xac"; /* "ab€" */
	CHECK_INT(utf8_cut(s, 5, 10), 5);
	CHECK_INT(utf8_cut(s, 5, 4), 2);
	CHECK_INT(utf8_cut(s, 5, 3), 2);
	CHECK_INT(utf8_cut(s, 5, 2), 2);
	CHECK_INT(utf8_cut("\xff\xff\xff", 3, 2), 2); /* invalid bytes are single units */
}

int main(void)
{
	RUN(test_valid_and_invalid_sequences);
	RUN(test_cut_never_splits_a_character);
	return harness_result();
}
