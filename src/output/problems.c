/* problems: the list of what keeps upwatchd from its whole job (see problems.h). */
#include "output/problems.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"

static const char *const kind_names[PROBLEM__COUNT] = {
    [PROBLEM_ERROR_LOG] = "error_log",
    [PROBLEM_STATE_DIR] = "state_dir",
    [PROBLEM_CONFIG] = "config",
    [PROBLEM_METRICS_FILE] = "metrics_file",
};

const char *problem_kind_name(enum problem_kind k)
{
	return k < PROBLEM__COUNT ? kind_names[k] : "?";
}

static void free_list(struct problem *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].subject);
		free(v[i].message);
	}
	free(v);
}

void problems_init(struct problems *p)
{
	*p = (struct problems){0};
}

void problems_done(struct problems *p)
{
	free_list(p->v, p->n);
	free_list(p->prev, p->nprev);
	*p = (struct problems){0};
}

void problems_begin(struct problems *p)
{
	free_list(p->prev, p->nprev);
	p->prev = p->v;
	p->nprev = p->n;
	p->v = NULL;
	p->n = p->cap = 0;
}

static const struct problem *find(const struct problem *v, size_t n, enum problem_kind kind,
				  const char *subject)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].kind == kind && streq(v[i].subject, subject))
			return &v[i];
	return NULL;
}

void problems_add(struct problems *p, enum problem_kind kind, const char *subject, const char *fmt,
		  ...)
{
	va_list ap;
	char *msg;
	if (find(p->v, p->n, kind, subject))
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup("?");
	va_end(ap);
	p->v = grow_array(p->v, &p->cap, p->n + 1, sizeof(*p->v));
	p->v[p->n++] = (struct problem){
	    .kind = kind,
	    .subject = xstrdup(subject),
	    .message = msg,
	};
}

void problems_end(struct problems *p, void (*gone)(void *ud, const struct problem *pr), void *ud)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct problem *old = find(p->prev, p->nprev, p->v[i].kind, p->v[i].subject);
		p->v[i].is_new = !old || !streq(old->message, p->v[i].message);
	}
	for (size_t i = 0; i < p->nprev && gone; i++)
		if (!find(p->v, p->n, p->prev[i].kind, p->prev[i].subject))
			gone(ud, &p->prev[i]);
	free_list(p->prev, p->nprev);
	p->prev = NULL;
	p->nprev = 0;
}

size_t problems_count(const struct problems *p, enum problem_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->v[i].kind == k;
	return n;
}

cJSON *problems_json(const struct problems *p)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < p->n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "kind", problem_kind_name(p->v[i].kind));
		cJSON_AddStringToObject(o, "subject", p->v[i].subject);
		cJSON_AddStringToObject(o, "message", p->v[i].message);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}
