/* ngxstr: interned strings in chunks (see ngxstr.h).
 *
 * An open-addressing table of pointers into the chunks, core/hash.h's FNV-1a, grown at
 * half full. Strings longer than a chunk get a chunk of their own. */
#include "nginx/ngxstr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/util.h"

#define CHUNK 16384

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

struct ngxstr {
	const char **slots;
	size_t cap, len;
	struct chunk *chunks;
};

struct ngxstr *ngxstr_new(void)
{
	return xcalloc(1, sizeof(struct ngxstr));
}

void ngxstr_free(struct ngxstr *pool)
{
	if (!pool)
		return;
	for (struct chunk *c = pool->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(pool->slots);
	free(pool);
}

static const char *store(struct ngxstr *pool, const char *s, size_t len)
{
	struct chunk *c = pool->chunks;
	if (!c || c->size - c->used < len + 1) {
		size_t size = len + 1 > CHUNK ? len + 1 : CHUNK;
		c = xmalloc(sizeof(*c) + size);
		c->used = 0;
		c->size = size;
		/* a string-sized chunk goes second: the current one keeps filling */
		if (size > CHUNK && pool->chunks) {
			c->next = pool->chunks->next;
			pool->chunks->next = c;
		} else {
			c->next = pool->chunks;
			pool->chunks = c;
		}
	}
	char *p = c->data + c->used;
	memcpy(p, s, len);
	p[len] = '\0';
	c->used += len + 1;
	return p;
}

static void grow(struct ngxstr *pool)
{
	size_t cap = pool->cap ? pool->cap * 2 : 256;
	const char **slots = xcalloc(cap, sizeof(*slots));
	for (size_t i = 0; i < pool->cap; i++) {
		const char *s = pool->slots[i];
		if (!s)
			continue;
		size_t j = hash_fnv1a64(s, strlen(s)) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = s;
	}
	free(pool->slots);
	pool->slots = slots;
	pool->cap = cap;
}

const char *ngxstr_intern_n(struct ngxstr *pool, const char *s, size_t len)
{
	if (!s)
		return NULL;
	if ((pool->len + 1) * 2 > pool->cap)
		grow(pool);
	size_t j = hash_fnv1a64(s, len) & (pool->cap - 1);
	for (; pool->slots[j]; j = (j + 1) & (pool->cap - 1))
		if (strncmp(pool->slots[j], s, len) == 0 && pool->slots[j][len] == '\0')
			return pool->slots[j];
	pool->len++;
	return pool->slots[j] = store(pool, s, len);
}

const char *ngxstr_intern(struct ngxstr *pool, const char *s)
{
	return s ? ngxstr_intern_n(pool, s, strlen(s)) : NULL;
}
