/* evidence: per-subject windows, the learned-subject cap (see evidence.h). */
#include "diagnose/evidence.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "core/util.h"

void evidence_table_init(struct evidence_table *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < ARRAY_SIZE(t->subjects); i++)
		strmap_init(&t->subjects[i]);
}

void evidence_table_done(struct evidence_table *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(t->subjects); i++) {
		size_t it = 0;
		struct evidence *e;
		while (strmap_next(&t->subjects[i], &it, NULL, (void **)&e)) {
			free(e->lines);
			free(e->unit);
			free(e->stale_of);
			free(e->key);
			free(e);
		}
		strmap_done(&t->subjects[i]);
	}
	free(t->learned);
	memset(t, 0, sizeof(*t));
}

struct evidence *evidence_get(const struct evidence_table *t, enum cause_subject kind,
			      const char *name)
{
	return strmap_get(&t->subjects[kind], name);
}

struct evidence *evidence_lookup_slow(struct evidence_table *t, enum cause_subject kind,
				      const char *name, size_t len)
{
	struct evidence *e = evidence_get(t, kind, name);
	if (!e)
		return e;
	uint64_t a, b;
	struct evidence_memo *set = evidence_memo_set(t, name, len, &a, &b);
	set[1] = set[0];
	set[0] = (struct evidence_memo){a, b, EVIDENCE_MEMO_LK(len, kind), e};
	return e;
}

struct evidence *evidence_add(struct evidence_table *t, enum cause_subject kind, const char *name,
			      bool configured, bool *ret_new)
{
	struct evidence *e = strmap_get(&t->subjects[kind], name);
	*ret_new = false;
	if (e)
		return e;
	/* the configuration bounds its own subjects; what the logs name is capped */
	if (!configured && t->nlearned >= EVIDENCE_LEARNED_MAX) {
		t->untracked++;
		return NULL;
	}
	t->nlearned += !configured;
	e = xcalloc_lines(sizeof(*e));
	e->key = xstrdup(name);
	e->subject = (struct diag_subject){kind, e->key};
	e->configured = configured;
	if (kind == CAUSE_SUBJECT_PEER) {
		e->addr_ok = peerkey_parse(name, strlen(name), 0, &e->addr) == 0;
		e->addr_local = e->addr_ok && peerkey_is_local(&e->addr);
		e->addr_unix = e->addr_ok && e->addr.kind == PEERKEY_UNIX;
		if (!configured) {
			t->learned = grow_array(t->learned, &t->learned_cap, t->nlearned_peers + 1,
						sizeof(char *));
			t->learned[t->nlearned_peers++] = e->key;
		}
	}
	strmap_put(&t->subjects[kind], e->key, e);
	*ret_new = true;
	return e;
}

void evidence_remove(struct evidence_table *t, struct evidence *e)
{
	for (size_t i = 0; i < ARRAY_SIZE(t->memo); i++)
		for (size_t w = 0; w < EVIDENCE_MEMO_WAYS; w++)
			if (t->memo[i][w].e == e)
				t->memo[i][w] = (struct evidence_memo){0};
	strmap_remove(&t->subjects[e->subject.kind], e->key);
	if (!e->configured)
		t->nlearned--;
	for (size_t i = 0; i < t->nlearned_peers; i++) {
		if (t->learned[i] == e->key) {
			memmove(&t->learned[i], &t->learned[i + 1],
				(t->nlearned_peers - i - 1) * sizeof(char *));
			t->nlearned_peers--;
			break;
		}
	}
	free(e->lines);
	free(e->unit);
	free(e->stale_of);
	free(e->key);
	free(e);
}

/* Log text into a field: cut on a character boundary. */
static void copy_span(char *dst, size_t cap, const char *p, size_t len)
{
	size_t n = p ? utf8_cut(p, len, cap - 1) : 0;
	if (n)
		memcpy(dst, p, n);
	dst[n] = '\0';
}

void evidence_fields(struct evidence *e)
{
	if (!e->fields_at)
		return;
	const struct evidence_line *l = &e->lines[e->fields_at - 1];
	char *dst[3] = {e->last_detail, e->last_server, e->last_uri};
	size_t cap[3] = {sizeof(e->last_detail), sizeof(e->last_server), sizeof(e->last_uri)};
	for (int i = 0; i < 3; i++) {
		const struct evidence_span *s = &e->pending[i];
		/* (a span from outside the line it was checked against: nothing) */
		bool in = s->off <= l->len && s->len <= l->len - s->off;
		copy_span(dst[i], cap[i], l->text + (in ? s->off : 0), in ? s->len : 0);
	}
	e->fields_at = 0;
}

void evidence_copy_fields(struct evidence *e, const struct errlog_event *ev)
{
	e->fields_at = 0;
	copy_span(e->last_detail, sizeof(e->last_detail), ev->detail.p, ev->detail.len);
	copy_span(e->last_server, sizeof(e->last_server), ev->server.p, ev->server.len);
	copy_span(e->last_uri, sizeof(e->last_uri), ev->uri.p, ev->uri.len);
}

size_t evidence_remember_slow(struct evidence *e, const char *line, size_t len)
{
	/* (most lines fit: no call then, diagnosis 496 -> 488 instructions a
	 * storm line, tests/bench/storm_callgrind.py) */
	size_t n = len <= EVIDENCE_LINE_MAX ? len : utf8_cut(line, len, EVIDENCE_LINE_MAX);
	if (!e->lines)
		e->lines = xcalloc_lines(EVIDENCE_LINES * sizeof(*e->lines));
	if (e->fields_at == e->next_line + 1)
		evidence_fields(e); /* the line they lie in leaves the ring */
	memcpy(e->lines[e->next_line].text, line, n);
	e->lines[e->next_line].len = (uint16_t)n;
	e->lines[e->next_line].cut = len > n;
	e->next_line = (e->next_line + 1) % EVIDENCE_LINES;
	e->nlines += e->nlines < EVIDENCE_LINES;
	return n;
}

const char *evidence_line(const struct evidence *e, unsigned i, char *buf, size_t len)
{
	unsigned idx = (e->next_line + EVIDENCE_LINES - e->nlines + i) % EVIDENCE_LINES;
	const char *src = e->lines[idx].text;
	size_t n = utf8_cut(src, e->lines[idx].len, len - 4);
	/* evidence is shown to people and sent to journald: no control bytes */
	for (size_t k = 0; k < n; k++)
		buf[k] = (unsigned char)src[k] < 0x20 || src[k] == 0x7f ? '?' : src[k];
	if (e->lines[idx].cut || n < e->lines[idx].len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

void evidence_reset_episode(struct evidence *e)
{
	e->first_error_ms = e->last_error_ms = 0;
	e->queue_peak = 0;
	e->pool_asked_ms = 0;
	free(e->unit); /* the next episode reads the journal from its own first error */
	e->unit = NULL;
	e->burst_start_ms = 0;
	e->burst_n = e->burst_peak = 0;
	for (int c = 0; c < CAUSE__COUNT; c++) {
		/* (where they counted stays: alert_touch_ref checks it) */
		e->cause[c].n = 0;
		e->cause[c].last_ms = 0;
	}
	memset(e->cause_first_ms, 0, sizeof(e->cause_first_ms));
}
