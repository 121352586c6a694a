/* strmap: string → index hash map for the config model's lookups (upstream
 * names, peer keys). Keys are borrowed: they must outlive the map. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct strmap_slot;

struct strmap {
	struct strmap_slot *slots;
	size_t cap, n;
	bool nocase; /* ASCII case-insensitive keys (nginx compares upstream names so) */
};

void strmap_init(struct strmap *m, bool nocase);
void strmap_done(struct strmap *m);
/* Store key → value unless key is present; returns the value stored for key. */
size_t strmap_put(struct strmap *m, const char *key, size_t value);
bool strmap_get(const struct strmap *m, const char *key, size_t *ret);
