/* textscan: bounded, allocation-free helpers for the line parsers.
 *
 * Static inline on purpose: they run several times per log line, where a
 * libc call (memcmp, memchr) costs more than the work. Nothing here reads
 * outside the bounds it is given. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* A string literal as (pointer, length) arguments. */
#define TEXTSCAN_LIT(s) (s), (sizeof(s) - 1)

/* memcmp(a, b, n) == 0 for the short constant n of a literal: inlined, the
 * loop unrolls into a few 8-byte loads (the last one overlapping, so there
 * is no byte-wise tail). */
static inline bool textscan_same(const char *a, const char *b, size_t n)
{
	uint64_t x, y;
	uint32_t u, v;
	if (n >= 8) {
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			if (x != y)
				return false;
		}
		memcpy(&x, a + n - 8, 8);
		memcpy(&y, b + n - 8, 8);
		return x == y;
	}
	if (n >= 4) {
		memcpy(&u, a, 4);
		memcpy(&v, b, 4);
		if (u != v)
			return false;
		memcpy(&u, a + n - 4, 4);
		memcpy(&v, b + n - 4, 4);
		return u == v;
	}
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static inline bool textscan_prefix(const char *p, size_t n, const char *lit, size_t litlen)
{
	return n >= litlen && textscan_same(p, lit, litlen);
}

static inline bool textscan_suffix(const char *p, size_t n, const char *lit, size_t litlen)
{
	return n >= litlen && textscan_same(p + n - litlen, lit, litlen);
}

/* The n bytes at p as two words for a memo's key: with n, they name all
 * n bytes when n <= 16 (a longer text's middle is compared apart). The
 * first and the last 8 bytes (the loads overlap as in hash_bytes()); under
 * 8, two overlapping 4-byte loads, or the first, middle and last of 1 to 3
 * bytes, in w0, and w1 0. One definition for the caches of errlog's peers,
 * diagnosis's subjects and accessstats' locations. */
static inline void textscan_words(const char *p, size_t n, uint64_t *w0, uint64_t *w1)
{
	uint32_t a, b;
	if (n >= 8) {
		memcpy(w0, p, 8);
		memcpy(w1, p + n - 8, 8);
		return;
	}
	if (n >= 4) {
		memcpy(&a, p, 4);
		memcpy(&b, p + n - 4, 4);
		*w0 = a | (uint64_t)b << 32;
	} else {
		*w0 = n ? (unsigned char)p[0] | (uint64_t)(unsigned char)p[n / 2] << 8 |
			      (uint64_t)(unsigned char)p[n - 1] << 16
			: 0;
	}
	*w1 = 0;
}

/* memchr(p, c, e - p), 16 bytes at a time with SSE2. lo <= p is where the
 * readable buffer starts: when it holds 16 bytes before e, the last partial
 * block is one overlapping load instead of a byte loop. */
static inline const char *textscan_chr(const char *p, const char *e, char c, const char *lo)
{
#ifdef __SSE2__
	__m128i n = _mm_set1_epi8(c);
	/* 32 bytes a round: half the loop overhead on long fields */
	for (; e - p >= 32; p += 32) {
		__m128i a = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), n);
		__m128i b =
		    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), n);
		unsigned m = (unsigned)_mm_movemask_epi8(a) | (unsigned)_mm_movemask_epi8(b) << 16;
		if (m)
			return p + __builtin_ctz(m);
	}
	if (e - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, n));
		if (m)
			return p + __builtin_ctz(m);
		p += 16;
	}
	if (p < e && e - lo >= 16) {
		/* the 16 bytes ending at e, of which the last e - p are ours */
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(e - 16));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, n));
		m >>= 16 - (e - p);
		return m ? p + __builtin_ctz(m) : NULL;
	}
#else
	(void)lo;
#endif
	for (; p < e; p++)
		if (*p == c)
			return p;
	return NULL;
}

/* memrchr(p, c, e - p) likewise; hi >= e is where the readable buffer ends. */
static inline const char *textscan_rchr(const char *p, const char *e, char c, const char *hi)
{
#ifdef __SSE2__
	__m128i n = _mm_set1_epi8(c);
	for (; e - p >= 16; e -= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(e - 16));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, n));
		if (m)
			return e - 16 + (31 - __builtin_clz(m));
	}
	if (p < e && hi - p >= 16) {
		/* the 16 bytes starting at p, of which the first e - p are ours */
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, n));
		m &= (1u << (e - p)) - 1;
		return m ? p + (31 - __builtin_clz(m)) : NULL;
	}
#else
	(void)hi;
#endif
	while (e > p)
		if (*--e == c)
			return e;
	return NULL;
}
