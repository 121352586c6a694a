/* list: insertion order, removal while iterating, double removal. */
#include "harness.h"

#include "core/list.h"

struct item {
	int v;
	struct list link;
};

static void test_append_keeps_order_and_remove_is_idempotent(void)
{
	struct list head;
	struct item it[4] = {{.v = 1}, {.v = 2}, {.v = 3}, {.v = 4}};
	list_init(&head);
	CHECK(list_empty(&head));
	for (int i = 0; i < 4; i++)
		list_append(&head, &it[i].link);
	int seen[8], n = 0;
	list_for_each(x, &head, struct item, link) seen[n++] = x->v;
	CHECK_INT(n, 4);
	CHECK_INT(seen[0], 1);
	CHECK_INT(seen[3], 4);
	list_remove(&it[3].link);
	list_insert(&head, &it[3].link); /* to the front */
	CHECK_INT(list_entry(head.next, struct item, link)->v, 4);
	list_init(&head);
	for (int i = 0; i < 4; i++)
		list_append(&head, &it[i].link);
	n = 0;
	list_for_each_safe(x, &head, struct item, link)
	{
		if (x->v % 2 == 0)
			list_remove(&x->link);
		seen[n++] = x->v;
	}
	CHECK_INT(n, 4);
	CHECK_INT(seen[0], 1);
	CHECK_INT(seen[3], 4);
	n = 0;
	list_for_each(x, &head, struct item, link) seen[n++] = x->v;
	CHECK_INT(n, 2);
	CHECK_INT(seen[0], 1);
	CHECK_INT(seen[1], 3);
	list_remove(&it[1].link); /* already removed: harmless */
	list_remove(&it[0].link);
	list_remove(&it[2].link);
	CHECK(list_empty(&head));
}

int main(void)
{
	RUN(test_append_keeps_order_and_remove_is_idempotent);
	return harness_result();
}
