/* Unit tests for evidence: the table of subjects and the memo in front of it
 * (evidence_lookup answers what evidence_get answers, after every change). */
#include <stdio.h>
#include <string.h>

#include "diagnose/evidence.h"
#include "core/util.h"
#include "harness.h"

static struct evidence *lookup(struct evidence_table *t, enum cause_subject kind, const char *name)
{
	return evidence_lookup(t, kind, name, strlen(name));
}

static struct evidence *add(struct evidence_table *t, enum cause_subject kind, const char *name,
			    bool configured)
{
	bool created;
	return evidence_add(t, kind, name, configured, &created);
}

/* Every length class: short names (no memo), up to 16 bytes (the first and
 * last 8 bytes are the whole name) and longer ones (the middle compared). */
static void test_lookup_finds_what_get_finds(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	const char *names[] = {"",
			       "a:1",
			       "1.2.3.4:80",
			       "127.0.0.1:8080",
			       "127.203.113.250:443",
			       "unix:/run/php/php8.2-fpm.sock"};
	struct evidence *e[ARRAY_SIZE(names)];
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		CHECK(lookup(&t, CAUSE_SUBJECT_PEER, names[i]) == NULL);
		e[i] = add(&t, CAUSE_SUBJECT_PEER, names[i], true);
	}
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			CHECK(lookup(&t, CAUSE_SUBJECT_PEER, names[i]) == e[i]);
			CHECK(evidence_get(&t, CAUSE_SUBJECT_PEER, names[i]) == e[i]);
		}
	evidence_table_done(&t);
}

/* Names that agree on their length and first and last 8 bytes differ in
 * the middle: never one for the other. */
static void test_lookup_tells_names_apart_by_their_middle(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	struct evidence *a = add(&t, CAUSE_SUBJECT_PEER, "unix:/run/app-aaaa/x.sock", true);
	struct evidence *b = add(&t, CAUSE_SUBJECT_PEER, "unix:/run/app-bbbb/x.sock", true);
	struct evidence *c = add(&t, CAUSE_SUBJECT_PEER, "unix:/run/app-aaab/x.sock", true);
	for (int i = 0; i < 4; i++) {
		CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "unix:/run/app-aaaa/x.sock") == a);
		CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "unix:/run/app-bbbb/x.sock") == b);
		CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "unix:/run/app-aaab/x.sock") == c);
	}
	CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "unix:/run/app-cccc/x.sock") == NULL);
	evidence_table_done(&t);
}

/* A block and a peer of one spelling are two subjects. */
static void test_lookup_keeps_subject_kinds_apart(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	struct evidence *peer = add(&t, CAUSE_SUBJECT_PEER, "backend.example:80", true);
	CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "backend.example:80") == peer);
	CHECK(lookup(&t, CAUSE_SUBJECT_UPSTREAM, "backend.example:80") == NULL);
	struct evidence *block = add(&t, CAUSE_SUBJECT_UPSTREAM, "backend.example:80", true);
	CHECK(block != peer);
	for (int i = 0; i < 3; i++) {
		CHECK(lookup(&t, CAUSE_SUBJECT_UPSTREAM, "backend.example:80") == block);
		CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "backend.example:80") == peer);
	}
	evidence_table_done(&t);
}

/* More subjects than the memo holds, interleaved: every answer right. */
static void test_lookup_under_more_names_than_slots(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	enum { N = 1000 };
	static struct evidence *e[N];
	char name[32];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "10.0.%d.%d:8080", i / 250, i % 250);
		e[i] = add(&t, CAUSE_SUBJECT_PEER, name, true);
	}
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < N; i++) {
			int k = (i * 7 + round) % N;
			snprintf(name, sizeof(name), "10.0.%d.%d:8080", k / 250, k % 250);
			CHECK(lookup(&t, CAUSE_SUBJECT_PEER, name) == e[k]);
		}
	evidence_table_done(&t);
}

/* A record freed leaves the memo: the name is unknown until added again,
 * then the new record is the answer (never the freed one; ASan). */
static void test_lookup_forgets_a_removed_record(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	const char *names[] = {"127.0.0.1:8080", "unix:/run/php/php8.2-fpm.sock"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct evidence *old = add(&t, CAUSE_SUBJECT_PEER, names[i], false);
		CHECK(lookup(&t, CAUSE_SUBJECT_PEER, names[i]) == old);
		evidence_remove(&t, old);
		CHECK(lookup(&t, CAUSE_SUBJECT_PEER, names[i]) == NULL);
		CHECK_INT(t.nlearned, 0);
		/* another record, likely where the freed one was */
		struct evidence *other = add(&t, CAUSE_SUBJECT_PEER, "192.0.2.1:80", false);
		CHECK(lookup(&t, CAUSE_SUBJECT_PEER, names[i]) == NULL);
		struct evidence *fresh = add(&t, CAUSE_SUBJECT_PEER, names[i], false);
		CHECK(lookup(&t, CAUSE_SUBJECT_PEER, names[i]) == fresh);
		CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "192.0.2.1:80") == other);
		evidence_remove(&t, fresh);
		evidence_remove(&t, other);
	}
	evidence_table_done(&t);
}

/* The cap: a learned name beyond it has no record, whatever the memo
 * held for it before its record expired. */
static void test_lookup_past_the_cap_finds_nothing(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	struct evidence *x = add(&t, CAUSE_SUBJECT_PEER, "127.0.9.9:80", false);
	CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "127.0.9.9:80") == x);
	evidence_remove(&t, x);
	char name[32];
	for (int i = 0; i < EVIDENCE_LEARNED_MAX; i++) {
		snprintf(name, sizeof(name), "10.1.%d.%d:80", i / 250, i % 250);
		CHECK(add(&t, CAUSE_SUBJECT_PEER, name, false) != NULL);
	}
	CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "127.0.9.9:80") == NULL);
	CHECK(add(&t, CAUSE_SUBJECT_PEER, "127.0.9.9:80", false) == NULL);
	CHECK_INT(t.untracked, 1);
	CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "127.0.9.9:80") == NULL);
	evidence_table_done(&t);
}

/* A table done and made again (diag_free, a new diagnosis) starts empty. */
static void test_a_table_made_again_remembers_nothing(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	add(&t, CAUSE_SUBJECT_PEER, "127.0.0.1:8080", true);
	CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "127.0.0.1:8080") != NULL);
	evidence_table_done(&t);
	evidence_table_init(&t);
	CHECK(lookup(&t, CAUSE_SUBJECT_PEER, "127.0.0.1:8080") == NULL);
	evidence_table_done(&t);
}

static struct errlog_span span_of(const char *line, const char *word)
{
	const char *p = strstr(line, word);
	return (struct errlog_span){.p = p, .len = p ? (uint32_t)strlen(word) : 0};
}

/* A cause line kept whole: its details stay where they lie in the ring
 * until read, then read right. */
static void test_fields_stay_in_the_ring_until_read(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	struct evidence *e = add(&t, CAUSE_SUBJECT_PEER, "127.0.0.1:8080", true);
	const char *line = "connect() failed, server: shop.test, request: \"GET /cart HTTP/1.1\"";
	struct errlog_event ev = {.server = span_of(line, "shop.test"),
				  .uri = span_of(line, "/cart")};
	size_t kept = evidence_remember(e, line, strlen(line));
	CHECK_INT(kept, strlen(line));
	evidence_set_fields(e, line, kept, &ev);
	CHECK_INT(e->fields_at, 1);
	evidence_fields(e);
	CHECK_INT(e->fields_at, 0);
	CHECK_STR(e->last_detail, "");
	CHECK_STR(e->last_server, "shop.test");
	CHECK_STR(e->last_uri, "/cart");
	evidence_table_done(&t);
}

/* The ring keeps a line of any length byte for byte, up to the cut, and
 * nothing of its slot's last line past it (the copy's blocks overlap as the
 * length needs: every length of the fixed blocks' range checked). */
static void test_ring_keeps_every_length_exactly(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	struct evidence *e = add(&t, CAUSE_SUBJECT_PEER, "127.0.0.1:8080", true);
	char line[EVIDENCE_LINE_MAX + 40], buf[EVIDENCE_LINE_MAX + 4];
	unsigned wrong = 0;
	for (size_t len = 1; len <= sizeof(line); len++) {
		/* printable ASCII, other bytes than the slot's last line had */
		for (size_t i = 0; i < sizeof(line); i++)
			line[i] = (char)('!' + (i * 7 + len) % 90);
		size_t kept = evidence_remember(e, line, len);
		size_t want = len < EVIDENCE_LINE_MAX ? len : EVIDENCE_LINE_MAX;
		const char *got = evidence_line(e, e->nlines - 1, buf, sizeof(buf));
		wrong += kept != want || strncmp(got, line, want) != 0 ||
			 strcmp(got + want, len > want ? "..." : "") != 0;
	}
	CHECK_INT(wrong, 0);
	evidence_table_done(&t);
}

/* A cause line cut by the ring: details past the cut are copied at once,
 * from the line itself. */
static void test_fields_past_the_cut_are_copied_at_once(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	struct evidence *e = add(&t, CAUSE_SUBJECT_PEER, "127.0.0.1:8080", true);
	char line[600];
	memset(line, 'x', sizeof(line));
	memcpy(line, "server: a.test, ", 16);
	memcpy(line + 400, "/late/uri", 9);
	struct errlog_event ev = {.server = {line + 8, 6}, .uri = {line + 400, 9}};
	size_t kept = evidence_remember(e, line, sizeof(line));
	CHECK_INT(kept, EVIDENCE_LINE_MAX);
	CHECK_INT(e->lines[0].len, EVIDENCE_LINE_MAX);
	evidence_set_fields(e, line, kept, &ev);
	CHECK_INT(e->fields_at, 0);
	CHECK_STR(e->last_server, "a.test");
	CHECK_STR(e->last_uri, "/late/uri");
	/* one ending exactly at the cut stays in the ring */
	struct errlog_event at = {.uri = {line + EVIDENCE_LINE_MAX - 4, 4}};
	kept = evidence_remember(e, line, sizeof(line));
	evidence_set_fields(e, line, kept, &at);
	CHECK_INT(e->fields_at, 2);
	evidence_fields(e);
	CHECK_STR(e->last_uri, "xxxx");
	CHECK_STR(e->last_server, "");
	evidence_table_done(&t);
}

/* Spans from outside the line (against diag_log_event's contract) are
 * never read outside the ring (ASan): copied when they end past it, else
 * nothing or bytes of the kept line. */
static void test_fields_from_outside_the_line_stay_in_the_ring(void)
{
	struct evidence_table t;
	evidence_table_init(&t);
	struct evidence *e = add(&t, CAUSE_SUBJECT_PEER, "127.0.0.1:8080", true);
	char buf[512];
	memset(buf, 'y', sizeof(buf));
	const char *line = buf + 256; /* 40 bytes of line; other bytes around it */
	struct errlog_event before = {.detail = {buf, 200}, .uri = {buf + 10, 30}};
	size_t kept = evidence_remember(e, line, 40);
	evidence_set_fields(e, line, kept, &before);
	evidence_fields(e);
	CHECK(strlen(e->last_detail) == 0 || strlen(e->last_detail) <= 40);
	CHECK(strlen(e->last_uri) == 0 || strlen(e->last_uri) <= 40);
	struct errlog_event after = {.detail = {buf + 400, 50}};
	kept = evidence_remember(e, line, 40);
	evidence_set_fields(e, line, kept, &after);
	CHECK_INT(e->fields_at, 0); /* ends past the kept bytes: copied */
	CHECK_INT(strlen(e->last_detail), 50);
	evidence_table_done(&t);
}

int main(void)
{
	RUN(test_lookup_finds_what_get_finds);
	RUN(test_lookup_tells_names_apart_by_their_middle);
	RUN(test_lookup_keeps_subject_kinds_apart);
	RUN(test_lookup_under_more_names_than_slots);
	RUN(test_lookup_forgets_a_removed_record);
	RUN(test_lookup_past_the_cap_finds_nothing);
	RUN(test_a_table_made_again_remembers_nothing);
	RUN(test_fields_stay_in_the_ring_until_read);
	RUN(test_ring_keeps_every_length_exactly);
	RUN(test_fields_past_the_cut_are_copied_at_once);
	RUN(test_fields_from_outside_the_line_stay_in_the_ring);
	return harness_result();
}
