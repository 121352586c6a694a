/* errlog_header: the numbers and level of an error-log line's header,
 * "YYYY/MM/DD HH:MM:SS [level] PID#TID: [*CONN ]", for errlog.c only.
 *
 * Static inline in this private header: they run for every line, in
 * errlog.c's parse(), where a call costs more than most of them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/textscan.h"

static inline bool errlog_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Bit 7 of each byte of x that is not an ASCII digit. A carry out of a byte
 * >= 0xfa only disturbs the bytes after it, and only the first non-digit
 * counts. */
static inline uint64_t nondigits(uint64_t x)
{
	uint64_t hi = x & 0xf0f0f0f0f0f0f0f0ull;
	uint64_t hi6 = (x + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull;
	uint64_t bad = (hi ^ 0x3030303030303030ull) | (hi6 ^ 0x3030303030303030ull);
	/* non-zero byte -> bit 7 set */
	uint64_t lo7 = (bad & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full;
	return (lo7 | bad) & 0x8080808080808080ull;
}

/* At most maxdig (<= 19: no overflow) digits; more digits is an error.
 * pid, tid and *N are read for every line: 1..7 digits followed by more of
 * the line are read as one 8-byte word (little-endian only). The byte loop
 * was 244 instructions a line for the three (callgrind, bench_errlog run:
 * 2001 -> 1921 per line). Inline, since three calls a line: 1888 -> 1834
 * instructions a line, 0.211 s -> 0.185 s CPU on 200 MB (errlog.sh, same run).
 * Checked again with the tid taken from the pid (same_number): the byte loop
 * alone is 92.8 M instructions on 20 MB of real lines, the word 88.8 M. */
static inline const char *scan_uint(const char *p, const char *e, unsigned maxdig, uint64_t *ret)
{
	uint64_t v = 0;
	const char *b = p;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* fewer than 8 digits are within maxdig (>= 8 at every call): the
	 * bound is computed only for the byte loop (20 MB of real lines:
	 * 91.2 -> 91.0 M instructions, callgrind, bench_errlog run) */
	if (e - p >= 8 && maxdig >= 8) {
		uint64_t x;
		memcpy(&x, p, 8);
		uint64_t nd = nondigits(x);
		unsigned n = nd ? (unsigned)__builtin_ctzll(nd) / 8 : 8;
		if (n > 0 && n < 8) {
			/* the n digits, most significant first, in the high bytes:
			 * pairs, then quadruples, then the eight */
			x -= 0x3030303030303030ull;
			x <<= 8 * (8 - n);
			x = (x * 10) + (x >> 8);
			x = (((x & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +
			     (((x >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>
			    32;
			*ret = x;
			return p + n;
		}
	}
#endif
	const char *lim = e - p > maxdig ? p + maxdig : e;
	while (p < lim && errlog_is_digit(*p))
		v = v * 10 + (uint64_t)(*p++ - '0');
	if (p == b || (p < e && errlog_is_digit(*p)))
		return NULL;
	*ret = v;
	return p;
}

/* Does the number after [b, m)'s '#' at m repeat the digits [b, m)? nginx
 * writes PID#TID and the tid of a worker without threads is its pid
 * ("23819#23819"): one compare instead of a second scan_uint() (20 MB of real
 * lines: 97.2 -> 95.7 M instructions, callgrind, bench_errlog run). m < e. */
static inline bool same_number(const char *b, const char *m, const char *e)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	size_t n = (size_t)(m - b);
	if (n == 0 || n > 8 || e - m < 10)
		return false;
	/* the first n bytes are the low ones */
	uint64_t x, y, mask = n == 8 ? ~0ull : (1ull << (8 * n)) - 1;
	memcpy(&x, b, 8);
	memcpy(&y, m + 1, 8);
	return ((x ^ y) & mask) == 0 && !errlog_is_digit(m[1 + n]);
#else
	(void)b, (void)m, (void)e;
	return false;
#endif
}

/* A switch on the length and inline compares: the loop over the names with
 * strlen() + memcmp() per name cost 140 instructions a line (callgrind,
 * bench_errlog run: 2141 -> 2001 per line). */
static inline int parse_level(const char *p, size_t n)
{
	/* nginx's order is syslog's: LOG_EMERG .. LOG_DEBUG */
	switch (n) {
	case 4:
		return textscan_same(p, "crit", 4)   ? 2
		       : textscan_same(p, "warn", 4) ? 4
		       : textscan_same(p, "info", 4) ? 6
						     : -1;
	case 5:
		return textscan_same(p, "error", 5)   ? 3
		       : textscan_same(p, "emerg", 5) ? 0
		       : textscan_same(p, "alert", 5) ? 1
		       : textscan_same(p, "debug", 5) ? 7
						      : -1;
	case 6:
		return textscan_same(p, "notice", 6) ? 5 : -1;
	}
	return -1;
}
