/* strmap: string-keyed hash map (open addressing, linear probing).
 * Keys are copied; values are caller-owned pointers. O(1) lookups for the
 * per-peer tables that grow to tens of thousands of entries. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap {
	struct strmap_slot *slots;
	size_t cap, len, used; /* used counts tombstones too */
	bool nocase;	       /* ASCII case-insensitive keys (nginx's upstream names) */
};

struct strmap_slot {
	char *key; /* NULL empty; STRMAP_TOMBSTONE deleted */
	void *value;
};

void strmap_init(struct strmap *m);
void strmap_init_nocase(struct strmap *m);
/* Frees keys, not values. */
void strmap_done(struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
/* Insert or replace; returns the previous value or NULL. */
void *strmap_put(struct strmap *m, const char *key, void *value);
/* Remove; returns the value or NULL. */
void *strmap_remove(struct strmap *m, const char *key);

/* Maps of indexes (into an array the caller owns): store index + 1 so that
 * index 0 is not NULL. put_index keeps an existing entry and returns the
 * index stored for key. */
static inline bool strmap_get_index(const struct strmap *m, const char *key, size_t *ret)
{
	void *v = strmap_get(m, key);
	if (v)
		*ret = (size_t)(uintptr_t)v - 1;
	return v != NULL;
}

static inline size_t strmap_put_index(struct strmap *m, const char *key, size_t index)
{
	size_t have;
	if (strmap_get_index(m, key, &have))
		return have;
	strmap_put(m, key, (void *)(uintptr_t)(index + 1));
	return index;
}

/* Iterate: for (size_t i = 0; strmap_next(m, &i, &key, &value);) */
bool strmap_next(const struct strmap *m, size_t *iter, const char **ret_key, void **ret_value);
