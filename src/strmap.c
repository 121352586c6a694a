/* strmap: open addressing with linear probing, FNV-1a, grown at 1/2 load. */
#include "strmap.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "util.h"

struct strmap_slot {
	const char *key;
	size_t value;
	uint32_t hash;
};

void strmap_init(struct strmap *m, bool nocase)
{
	*m = (struct strmap){ .nocase = nocase };
}

void strmap_done(struct strmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

static uint32_t hash_key(const struct strmap *m, const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		h = (h ^ (m->nocase ? (unsigned char)tolower(c) : c)) * 16777619u;
	}
	return h;
}

static bool same(const struct strmap *m, const char *a, const char *b)
{
	return m->nocase ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

static struct strmap_slot *find(const struct strmap *m, const char *key, uint32_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key || (s->hash == h && same(m, s->key, key)))
			return s;
	}
}

static void grow(struct strmap *m)
{
	struct strmap old = *m;
	m->cap = old.cap ? old.cap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key)
			*find(m, old.slots[i].key, old.slots[i].hash) = old.slots[i];
	free(old.slots);
}

size_t strmap_put(struct strmap *m, const char *key, size_t value)
{
	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	uint32_t h = hash_key(m, key);
	struct strmap_slot *s = find(m, key, h);
	if (s->key)
		return s->value;
	*s = (struct strmap_slot){ .key = key, .value = value, .hash = h };
	m->n++;
	return value;
}

bool strmap_get(const struct strmap *m, const char *key, size_t *ret)
{
	if (m->n == 0)
		return false;
	struct strmap_slot *s = find(m, key, hash_key(m, key));
	if (!s->key)
		return false;
	*ret = s->value;
	return true;
}
