/* list: the one intrusive doubly linked list (circular, with a head node).
 *
 * Embed a `struct list` in the element and reach the element with
 * container_of(). A head is an empty list node; list_init() it first. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct list {
	struct list *prev, *next;
};

static inline void list_init(struct list *head)
{
	head->prev = head->next = head;
}

static inline bool list_empty(const struct list *head)
{
	return head->next == head;
}

/* Insert elm right after pos (after the head: at the front). */
static inline void list_insert(struct list *pos, struct list *elm)
{
	elm->prev = pos;
	elm->next = pos->next;
	pos->next->prev = elm;
	pos->next = elm;
}

/* Append at the back of the list headed by head. */
static inline void list_append(struct list *head, struct list *elm)
{
	list_insert(head->prev, elm);
}

/* Unlink elm; it is left pointing at itself, so a second remove is harmless. */
static inline void list_remove(struct list *elm)
{
	elm->prev->next = elm->next;
	elm->next->prev = elm->prev;
	elm->prev = elm->next = elm;
}

/* for (pos each element of type `type` linked by `member`); pos may not be
 * removed inside the loop: use list_for_each_safe for that. */
#define list_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define list_for_each(pos, head, type, member)                                                     \
	for (type *pos = list_entry((head)->next, type, member); &pos->member != (head);           \
	     pos = list_entry(pos->member.next, type, member))
#define list_for_each_safe(pos, head, type, member)                                                \
	for (type *pos = list_entry((head)->next, type, member),                                   \
		  *pos##_next = list_entry(pos->member.next, type, member);                        \
	     &pos->member != (head);                                                               \
	     pos = pos##_next, pos##_next = list_entry(pos->member.next, type, member))
