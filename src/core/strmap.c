/* strmap: open-addressing hash map over hash_str (see strmap.h). */
#include "core/strmap.h"

#include <stdint.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/util.h"

static char tombstone_marker;
#define STRMAP_TOMBSTONE (&tombstone_marker)

static uint64_t hash(const struct strmap *m, const char *s)
{
	return hash_str(s, m->nocase);
}

static bool same(const struct strmap *m, const char *a, const char *b)
{
	return m->nocase ? strcasecmp(a, b) == 0 : streq(a, b);
}

void strmap_init(struct strmap *m)
{
	*m = (struct strmap){0};
}

void strmap_init_nocase(struct strmap *m)
{
	*m = (struct strmap){.nocase = true};
}

void strmap_done(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != STRMAP_TOMBSTONE)
			free(m->slots[i].key);
	free(m->slots);
	*m = (struct strmap){.nocase = m->nocase};
}

static struct strmap_slot *find(const struct strmap *m, const char *key)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = hash(m, key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != STRMAP_TOMBSTONE && same(m, s->key, key))
			return s;
	}
}

static void rehash(struct strmap *m, size_t cap)
{
	struct strmap old = *m;
	m->slots = xcalloc(cap, sizeof(*m->slots));
	m->cap = cap;
	m->len = m->used = 0;
	for (size_t i = 0; i < old.cap; i++) {
		struct strmap_slot *s = &old.slots[i];
		if (!s->key || s->key == STRMAP_TOMBSTONE)
			continue;
		size_t j = hash(m, s->key) & (cap - 1);
		while (m->slots[j].key)
			j = (j + 1) & (cap - 1);
		m->slots[j] = *s;
		m->len++;
		m->used++;
	}
	free(old.slots);
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s = find(m, key);
	return s ? s->value : NULL;
}

void *strmap_put(struct strmap *m, const char *key, void *value)
{
	struct strmap_slot *s = find(m, key);
	if (s) {
		void *old = s->value;
		s->value = value;
		return old;
	}
	if ((m->used + 1) * 4 >= m->cap * 3)
		rehash(m, m->cap ? (m->len * 2 >= m->cap ? m->cap * 2 : m->cap) : 16);
	size_t i = hash(m, key) & (m->cap - 1);
	while (m->slots[i].key && m->slots[i].key != STRMAP_TOMBSTONE)
		i = (i + 1) & (m->cap - 1);
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = xstrdup(key);
	m->slots[i].value = value;
	m->len++;
	return NULL;
}

void *strmap_remove(struct strmap *m, const char *key)
{
	struct strmap_slot *s = find(m, key);
	if (!s)
		return NULL;
	void *v = s->value;
	free(s->key);
	s->key = STRMAP_TOMBSTONE;
	s->value = NULL;
	m->len--;
	return v;
}

bool strmap_next(const struct strmap *m, size_t *iter, const char **ret_key, void **ret_value)
{
	for (; *iter < m->cap; (*iter)++) {
		struct strmap_slot *s = &m->slots[*iter];
		if (s->key && s->key != STRMAP_TOMBSTONE) {
			if (ret_key)
				*ret_key = s->key;
			if (ret_value)
				*ret_value = s->value;
			(*iter)++;
			return true;
		}
	}
	return false;
}
