/* hash: the string hashes.
 * - 64-bit FNV-1a (offset basis 14695981039346656037, prime 1099511628211)
 *   for what is stored or shown: the log-state fingerprints, alert ids, the
 *   nginx string pool.
 * - hash_str/hash_bytes for the in-memory tables (strmap): eight bytes a
 *   step, then murmur3's finaliser (hash_mix64), so every byte reaches the
 *   low bits a table takes.
 * Not for anything an attacker may choose to collide on where the cost of a
 * collision is more than a longer probe sequence. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HASH_FNV1A64_INIT  0xcbf29ce484222325ULL
#define HASH_FNV1A64_PRIME 0x100000001b3ULL

/* Continue a hash h over n bytes; start with HASH_FNV1A64_INIT. */
static inline uint64_t hash_fnv1a64_update(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * HASH_FNV1A64_PRIME;
	return h;
}

static inline uint64_t hash_fnv1a64(const void *data, size_t n)
{
	return hash_fnv1a64_update(HASH_FNV1A64_INIT, data, n);
}

/* murmur3's 64-bit finaliser: every input bit reaches every output bit. */
static inline uint64_t hash_mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* ASCII 'A'..'Z' to lower case in each byte of w, other bytes unchanged. */
static inline uint64_t hash_fold_word(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t low7 = w & ~high;
	uint64_t ge_a = low7 + ones * (0x80 - 'A');	/* bit 7: byte >= 'A' */
	uint64_t gt_z = low7 + ones * (0x80 - 'Z' - 1); /* bit 7: byte > 'Z' */
	uint64_t upper = ge_a & ~gt_z & ~w & high;
	return w | (upper >> 2); /* 0x80 >> 2 == 0x20, the case bit */
}

/* Of n bytes, eight a step; nocase folds ASCII letters (nginx compares
 * upstream names that way). Byte-wise FNV-1a here (a multiply per byte, one
 * after the other) made strmap's lookups 14 % of a storm's CPU in upwatchd
 * (perf, tests/bench/daemon.py); this: bench_diagnose storm 0.335 -> 0.321
 * us/line (best of 6, same run), callgrind 365 -> 346 M instructions. */
static inline uint64_t hash_bytes(const void *data, size_t n, int nocase)
{
	const unsigned char *p = data, *e = p + n;
	uint64_t h = HASH_FNV1A64_INIT ^ n, w;
	uint32_t a, b;
	for (; e - p > 8; p += 8) {
		memcpy(&w, p, 8);
		h = (h ^ (nocase ? hash_fold_word(w) : w)) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	/* the last 1..8 bytes in one word, without a byte loop: overlapping
	 * loads (bytes hashed twice are hashed the same way every time) */
	if (n >= 8) {
		memcpy(&w, e - 8, 8);
	} else if (n >= 4) {
		memcpy(&a, p, 4);
		memcpy(&b, e - 4, 4);
		w = a | (uint64_t)b << 32;
	} else {
		w = n ? p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)e[-1] << 16 : 0;
	}
	h = (h ^ (nocase ? hash_fold_word(w) : w)) * 0x9e3779b97f4a7c15ULL;
	return hash_mix64(h);
}

/* Of a NUL-terminated string. */
static inline uint64_t hash_str(const char *s, int nocase)
{
	return hash_bytes(s, strlen(s), nocase);
}
