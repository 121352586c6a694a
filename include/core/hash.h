/* hash: the one string hash, 64-bit FNV-1a (offset basis 14695981039346656037,
 * prime 1099511628211). Used by strmap, the log-state fingerprints and alert
 * keys. Not for anything an attacker may choose to collide on where the cost of
 * a collision is more than a longer probe sequence. */
#pragma once

#include <stddef.h>
#include <stdint.h>

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

/* Of a NUL-terminated string; nocase folds ASCII letters (nginx compares
 * upstream names that way). */
static inline uint64_t hash_str(const char *s, int nocase)
{
	uint64_t h = HASH_FNV1A64_INIT;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (nocase && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + ('a' - 'A'));
		h = (h ^ c) * HASH_FNV1A64_PRIME;
	}
	return h;
}
