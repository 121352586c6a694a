/* strmap: string-keyed hash map (open addressing, linear probing).
 * Keys are copied; values are caller-owned pointers. O(1) lookups for the
 * per-peer tables that grow to tens of thousands of entries. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct strmap {
	struct strmap_slot *slots;
	size_t cap, len, used; /* used counts tombstones too */
};

struct strmap_slot {
	char *key;             /* NULL empty; STRMAP_TOMBSTONE deleted */
	void *value;
};

void strmap_init(struct strmap *m);
/* Frees keys, not values. */
void strmap_done(struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
/* Insert or replace; returns the previous value or NULL. */
void *strmap_put(struct strmap *m, const char *key, void *value);
/* Remove; returns the value or NULL. */
void *strmap_remove(struct strmap *m, const char *key);

/* Iterate: for (size_t i = 0; strmap_next(m, &i, &key, &value);) */
bool strmap_next(const struct strmap *m, size_t *iter, const char **ret_key, void **ret_value);
