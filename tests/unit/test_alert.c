/* Unit tests for alert: fire, refresh, resolve after hold, flap damping, history. */
#include <cjson/cJSON.h>

#include "core/hash.h"
#include "diagnose/alert.h"
#include "harness.h"
#include "output/json.h"
#include "core/util.h"

static int changes;
static const struct alert *last_change;
static struct {
	char superseded_by[17];
	bool firing;
} last_seen_change; /* copied: an absorbed alert is freed after its callback */

static void on_change(void *ud, const struct alert *a)
{
	(void)ud;
	changes++;
	last_change = a;
	memcpy(last_seen_change.superseded_by, a->superseded_by, sizeof(a->superseded_by));
	last_seen_change.firing = a->firing;
}

static struct alert_report report(enum cause c, const char *peer, int64_t t)
{
	static const char *const ev[] = {"log: connect() failed (111: Connection refused)",
					 "probe: refused"};
	return (struct alert_report){.cause = c,
				     .severity = ALERT_CRITICAL,
				     .peer = peer,
				     .upstream = "backend",
				     .summary = "127.0.0.1:8080 refuses",
				     .explanation = "x",
				     .fix = "y",
				     .config_ref = "/n.conf:3",
				     .evidence = ev,
				     .nevidence = 2,
				     .time_ms = t,
				     .occurrences = 1};
}

static void test_fires_once_refreshes_and_resolves_after_hold(void)
{
	struct alert_store *s = alert_store_new(30000, on_change, NULL);
	changes = 0;
	struct alert_report r = report(CAUSE_BACKEND_DOWN, "127.0.0.1:8080", 1000);
	const struct alert *a = alert_report(s, &r, 1000);
	CHECK_INT(changes, 1);
	CHECK(a->firing);
	CHECK_INT(a->count, 1);
	r.time_ms = 5000;
	const struct alert *b = alert_report(s, &r, 5000);
	CHECK(a == b);
	CHECK_INT(changes, 1); /* a refresh is not a change */
	CHECK_INT(a->count, 2);
	CHECK_INT(a->first_seen, 1000);
	CHECK_INT(a->last_seen, 5000);
	CHECK_INT(alert_firing_count(s), 1);
	alert_tick(s, 34999);
	CHECK(a->firing);
	alert_tick(s, 35000);
	CHECK(!a->firing);
	CHECK_INT(changes, 2);
	CHECK_INT(a->resolved_at, 35000);
	CHECK_INT(alert_firing_count(s), 0);
	CHECK_INT(alert_resolved_count(s), 1);
	CHECK(alert_find(s, CAUSE_BACKEND_DOWN, "127.0.0.1:8080") == NULL);
	alert_store_free(s);
}

/* The error line fires the alert before its access-log line is counted:
 * the first report that carries the impact is announced once more. */
static void test_impact_known_later_is_announced_once(void)
{
	struct alert_store *s = alert_store_new(30000, on_change, NULL);
	changes = 0;
	struct alert_report r = report(CAUSE_BACKEND_DOWN, "127.0.0.1:8080", 1000);
	alert_report(s, &r, 1000);
	CHECK_INT(changes, 1);
	r.impact = true;
	r.summary = "127.0.0.1:8080 refuses: 3 requests to location / (n.conf:3) answered 502";
	const struct alert *a = alert_report(s, &r, 2000);
	CHECK_INT(changes, 2);
	CHECK(last_change == a && a->firing);
	CHECK_STR(a->summary, r.summary);
	alert_report(s, &r, 3000);
	CHECK_INT(changes, 2); /* told: the counts moving is no news */
	r.impact = false;
	alert_report(s, &r, 4000);
	CHECK_INT(changes, 2);
	alert_store_free(s);
	/* known from the start: one announcement */
	s = alert_store_new(30000, on_change, NULL);
	changes = 0;
	r.impact = true;
	alert_report(s, &r, 1000);
	alert_report(s, &r, 2000);
	CHECK_INT(changes, 1);
	alert_store_free(s);
}

static void test_one_alert_per_cause_and_peer(void)
{
	struct alert_store *s = alert_store_new(1000, on_change, NULL);
	struct alert_report r1 = report(CAUSE_BACKEND_DOWN, "127.0.0.1:1", 1);
	struct alert_report r2 = report(CAUSE_BACKEND_DOWN, "127.0.0.1:2", 1);
	struct alert_report r3 = report(CAUSE_BACKEND_SLOW, "127.0.0.1:1", 1);
	const struct alert *a1 = alert_report(s, &r1, 1);
	const struct alert *a2 = alert_report(s, &r2, 1);
	const struct alert *a3 = alert_report(s, &r3, 1);
	CHECK(a1 != a2 && a1 != a3);
	CHECK(strcmp(a1->id, a2->id) != 0);
	CHECK_INT(alert_firing_count(s), 3);
	CHECK(alert_peer_firing(s, "127.0.0.1:1", CAUSE_BACKEND_DOWN));
	CHECK(!alert_peer_firing(s, "127.0.0.1:2", CAUSE_BACKEND_DOWN));
	alert_supersede(s, CAUSE_BACKEND_SLOW, "127.0.0.1:1", 2);
	CHECK(!a3->firing);
	alert_store_free(s);
}

static void test_flapping_keeps_the_id_and_doubles_the_hold(void)
{
	struct alert_store *s = alert_store_new(1000, on_change, NULL);
	struct alert_report r = report(CAUSE_BACKEND_RESET, "unix:/run/a.sock", 0);
	const struct alert *a = alert_report(s, &r, 0);
	char id[17];
	memcpy(id, a->id, sizeof(id));
	alert_tick(s, 1000);
	CHECK(!a->firing);
	const struct alert *b = alert_report(s, &r, 2000);
	CHECK(a == b);
	CHECK_STR(b->id, id);
	CHECK(b->firing);
	CHECK_INT(b->flaps, 1);
	CHECK_INT(b->hold_ms, 2000);
	alert_tick(s, 3999);
	CHECK(b->firing);
	alert_tick(s, 4000);
	CHECK(!b->firing);
	/* long after: a new incident with a new id */
	const struct alert *c = alert_report(s, &r, 4000 + ALERT_FLAP_WINDOW_MS);
	CHECK(c != b || strcmp(c->id, id) != 0);
	CHECK_INT(c->flaps, 0);
	alert_store_free(s);
}

static void test_history_is_bounded(void)
{
	struct alert_store *s = alert_store_new(0, NULL, NULL);
	char peer[32];
	for (int i = 0; i < ALERT_HISTORY_MAX * 3; i++) {
		snprintf(peer, sizeof(peer), "127.0.0.1:%d", i + 1);
		struct alert_report r = report(CAUSE_BACKEND_DOWN, peer, i);
		alert_report(s, &r, i);
		alert_tick(s, i);
	}
	size_t n = 0;
	for (const struct alert *a = alert_first(s); a; a = alert_next(s, a))
		n++;
	CHECK_INT(n, ALERT_HISTORY_MAX);
	CHECK_INT(alert_resolved_count(s), ALERT_HISTORY_MAX * 3);
	alert_store_free(s);
}

static void test_touch_counts_without_words_and_only_while_firing(void)
{
	struct alert_store *s = alert_store_new(1000, on_change, NULL);
	struct alert_report r = report(CAUSE_BACKEND_DOWN, "127.0.0.1:1", 1);
	CHECK(!alert_touch(s, CAUSE_BACKEND_DOWN, "127.0.0.1:1", 1, 1));
	const struct alert *a = alert_report(s, &r, 1);
	const char *summary = a->summary;
	unsigned before = changes;
	CHECK(alert_touch(s, CAUSE_BACKEND_DOWN, "127.0.0.1:1", 500, 3));
	CHECK_INT(a->count, 4);
	CHECK_INT(a->last_seen, 500);
	CHECK(a->summary == summary); /* not re-copied */
	CHECK_INT(changes, before);   /* a count is no state change */
	alert_report(s, &r, 600);     /* the same words: kept, not re-copied */
	CHECK(a->summary == summary);
	alert_tick(s, 1499);
	CHECK(a->firing);
	alert_tick(s, 1500);
	CHECK(!a->firing);
	CHECK(!alert_touch(s, CAUSE_BACKEND_DOWN, "127.0.0.1:1", 1600, 1));
	alert_store_free(s);
}

/* A kept ref counts into the alert that fires now for its cause: never into
 * one resolved, of another cause (one ref handed every cause here), or
 * freed (absorbed) since. */
static void test_touch_ref_follows_the_firing_alert(void)
{
	struct alert_store *s = alert_store_new(1000, on_change, NULL);
	struct alert_ref ref = {0};
	const char *peer = "127.0.0.1:1";
	struct alert_report down = report(CAUSE_BACKEND_DOWN, peer, 1);
	struct alert_report reset = report(CAUSE_BACKEND_RESET, peer, 1);
	struct alert_report back = report(CAUSE_BACKEND_RESTARTED, peer, 1);

	CHECK(!alert_touch_ref(s, &ref, CAUSE_BACKEND_DOWN, peer, 1, 1));
	const struct alert *a = alert_report(s, &down, 1);
	CHECK(alert_touch_ref(s, &ref, CAUSE_BACKEND_DOWN, peer, 2, 1));
	CHECK(alert_touch_ref(s, &ref, CAUSE_BACKEND_DOWN, peer, 3, 1));
	CHECK_INT(a->count, 3);
	CHECK_INT(a->last_seen, 3);
	/* another cause of the same peer */
	CHECK(!alert_touch_ref(s, &ref, CAUSE_BACKEND_RESET, peer, 4, 1));
	const struct alert *b = alert_report(s, &reset, 4);
	CHECK(alert_touch_ref(s, &ref, CAUSE_BACKEND_RESET, peer, 5, 1));
	CHECK_INT(b->count, 2);
	CHECK_INT(a->count, 3);
	/* resolved: nothing counted */
	CHECK(alert_touch_ref(s, &ref, CAUSE_BACKEND_DOWN, peer, 6, 1));
	alert_supersede(s, CAUSE_BACKEND_DOWN, peer, 7);
	CHECK(!alert_touch_ref(s, &ref, CAUSE_BACKEND_DOWN, peer, 8, 1));
	CHECK_INT(a->count, 4);
	/* freed: a fresh alert of the same cause gets the count (ASan: no use
	 * of the freed one) */
	a = alert_report(s, &down, 2000);
	CHECK(alert_touch_ref(s, &ref, CAUSE_BACKEND_DOWN, peer, 2001, 1));
	const struct alert *story = alert_report(s, &back, 2002);
	alert_absorb(s, CAUSE_BACKEND_DOWN, peer, story, 2003);
	CHECK(!alert_touch_ref(s, &ref, CAUSE_BACKEND_DOWN, peer, 2004, 1));
	a = alert_report(s, &down, 2005);
	CHECK(alert_touch_ref(s, &ref, CAUSE_BACKEND_DOWN, peer, 2006, 5));
	CHECK_INT(a->count, 6);
	CHECK_INT(a->last_seen, 2006);
	alert_store_free(s);
}

/* An alert's id: the FNV-1a hash over its cause and subject, salted with
 * the time and the store's sequence, as 16 lower-case hex digits. */
static void test_id_is_the_salted_hash_in_hex(void)
{
	struct alert_store *s = alert_store_new(1000, on_change, NULL);
	const char *peer = "127.0.0.1:1";
	struct alert_report down = report(CAUSE_BACKEND_DOWN, peer, 1700000000123);
	const struct alert *a = alert_report(s, &down, 1700000000123);
	unsigned char cause = (unsigned char)CAUSE_BACKEND_DOWN;
	uint64_t h = HASH_FNV1A64_INIT ^ (uint64_t)1700000000123 ^ (1ULL << 32);
	h = hash_fnv1a64_update(h, &cause, 1);
	h = hash_fnv1a64_update(h, peer, strlen(peer));
	char want[17];
	snprintf(want, sizeof(want), "%016llx", (unsigned long long)h);
	CHECK_STR(a->id, want);
	/* 16 digits whatever the value (leading zeros kept) */
	CHECK_INT(strlen(a->id), 16);
	alert_store_free(s);
}

/* One ref a cause counts a peer whose lines mix causes into each cause's
 * alert: the ref of one cause is not the other's. */
static void test_touch_ref_keeps_one_alert_per_cause(void)
{
	struct alert_store *s = alert_store_new(1000, on_change, NULL);
	struct alert_ref ref[CAUSE__COUNT] = {{0}};
	const char *peer = "127.0.0.1:1";
	struct alert_report down = report(CAUSE_BACKEND_DOWN, peer, 1);
	struct alert_report reset = report(CAUSE_BACKEND_RESET, peer, 1);
	const struct alert *a = alert_report(s, &down, 1);
	const struct alert *b = alert_report(s, &reset, 1);
	for (int i = 0; i < 10; i++) {
		CHECK(alert_touch_ref(s, &ref[CAUSE_BACKEND_DOWN], CAUSE_BACKEND_DOWN, peer, 2 + i,
				      1));
		CHECK(alert_touch_ref(s, &ref[CAUSE_BACKEND_RESET], CAUSE_BACKEND_RESET, peer,
				      2 + i, 2));
	}
	CHECK_INT(a->count, 11);
	CHECK_INT(b->count, 21);
	CHECK(ref[CAUSE_BACKEND_DOWN].a == a);
	CHECK(ref[CAUSE_BACKEND_RESET].a == b);
	/* a cause with no alert: nothing counted, nothing kept */
	CHECK(!alert_touch_ref(s, &ref[CAUSE_BACKEND_SLOW], CAUSE_BACKEND_SLOW, peer, 20, 1));
	CHECK(ref[CAUSE_BACKEND_SLOW].a == NULL);
	CHECK(!alert_touch_ref(s, &ref[0], CAUSE_NONE, peer, 20, 1));
	alert_store_free(s);
}

/* Resolved, then opened again past the flap window: a new alert for the
 * same (cause, subject) while the old one stays in the history (nothing
 * freed, so the epoch holds). The ref must count into the new one. */
static void test_touch_ref_moves_to_a_new_alert_of_the_same_subject(void)
{
	struct alert_store *s = alert_store_new(1000, on_change, NULL);
	struct alert_ref ref[CAUSE__COUNT] = {{0}};
	const char *peer = "127.0.0.1:1";
	struct alert_report down = report(CAUSE_BACKEND_DOWN, peer, 1);
	const struct alert *old = alert_report(s, &down, 1);
	CHECK(alert_touch_ref(s, &ref[CAUSE_BACKEND_DOWN], CAUSE_BACKEND_DOWN, peer, 2, 1));
	alert_tick(s, 2000);
	CHECK(!old->firing);
	int64_t later = 2000 + ALERT_FLAP_WINDOW_MS + 1;
	down.time_ms = later;
	const struct alert *fresh = alert_report(s, &down, later);
	CHECK(fresh != old);
	CHECK(old == alert_first(s) || alert_next(s, fresh) == old); /* still in the history */
	CHECK(alert_touch_ref(s, &ref[CAUSE_BACKEND_DOWN], CAUSE_BACKEND_DOWN, peer, later + 1, 1));
	CHECK_INT(old->count, 2);
	CHECK_INT(fresh->count, 2);
	CHECK_INT(fresh->last_seen, later + 1);
	alert_store_free(s);
}

/* An alert freed (absorbed) invalidates every cause's ref, not only its
 * own: another cause's alert may be the one freed. */
static void test_touch_ref_forgets_every_cause_when_an_alert_is_freed(void)
{
	struct alert_store *s = alert_store_new(1000, on_change, NULL);
	struct alert_ref ref[CAUSE__COUNT] = {{0}};
	const char *peer = "127.0.0.1:1";
	struct alert_report down = report(CAUSE_BACKEND_DOWN, peer, 1);
	struct alert_report reset = report(CAUSE_BACKEND_RESET, peer, 1);
	struct alert_report back = report(CAUSE_BACKEND_RESTARTED, peer, 1);
	alert_report(s, &down, 1);
	alert_report(s, &reset, 1);
	CHECK(alert_touch_ref(s, &ref[CAUSE_BACKEND_DOWN], CAUSE_BACKEND_DOWN, peer, 2, 1));
	CHECK(alert_touch_ref(s, &ref[CAUSE_BACKEND_RESET], CAUSE_BACKEND_RESET, peer, 2, 1));
	const struct alert *story = alert_report(s, &back, 3);
	alert_absorb(s, CAUSE_BACKEND_RESET, peer, story, 4);
	/* another alert, likely where the freed one was (ASan: the freed one
	 * is never read) */
	struct alert_report slow = report(CAUSE_BACKEND_SLOW, "127.0.0.1:2", 4);
	const struct alert *other = alert_report(s, &slow, 4);
	CHECK(!alert_touch_ref(s, &ref[CAUSE_BACKEND_RESET], CAUSE_BACKEND_RESET, peer, 5, 1));
	CHECK_INT(other->count, 1);
	const struct alert *again = alert_report(s, &reset, 6);
	CHECK(alert_touch_ref(s, &ref[CAUSE_BACKEND_RESET], CAUSE_BACKEND_RESET, peer, 7, 1));
	CHECK_INT(again->count, 2);
	CHECK(alert_touch_ref(s, &ref[CAUSE_BACKEND_DOWN], CAUSE_BACKEND_DOWN, peer, 8, 1));
	CHECK_INT(alert_find(s, CAUSE_BACKEND_DOWN, peer)->count, 3);
	alert_store_free(s);
}

static void test_absorbed_alert_names_its_story_and_leaves_the_history(void)
{
	struct alert_store *s = alert_store_new(1000, on_change, NULL);
	struct alert_report down = report(CAUSE_BACKEND_DOWN, "127.0.0.1:1", 1);
	struct alert_report back = report(CAUSE_BACKEND_RESTARTED, "127.0.0.1:1", 2);
	alert_report(s, &down, 1);
	const struct alert *story = alert_report(s, &back, 2);
	alert_absorb(s, CAUSE_BACKEND_DOWN, "127.0.0.1:1", story, 3);
	CHECK_STR(last_seen_change.superseded_by, story->id);
	CHECK(!last_seen_change.firing);
	CHECK(alert_first(s) == story && alert_next(s, story) == NULL);
	CHECK_INT(alert_firing_count(s), 1);
	CHECK_INT(alert_resolved_count(s), 1);
	alert_store_free(s);
}

static void test_host_and_block_subjects_do_not_meet_peers(void)
{
	struct alert_store *s = alert_store_new(1000, on_change, NULL);
	struct alert_report host = report(CAUSE_WORKER_CONNECTIONS_EXHAUSTED, NULL, 1);
	host.upstream = NULL;
	struct alert_report block = report(CAUSE_NO_LIVE_UPSTREAMS, NULL, 1);
	block.upstream = "pool";
	struct alert_report peer = report(CAUSE_BACKEND_DOWN, "pool", 1);
	alert_report(s, &host, 1);
	alert_report(s, &block, 1);
	alert_report(s, &peer, 1);
	CHECK(alert_find(s, CAUSE_WORKER_CONNECTIONS_EXHAUSTED, NULL) != NULL);
	CHECK(alert_find(s, CAUSE_NO_LIVE_UPSTREAMS, "pool") != NULL);
	CHECK(alert_find(s, CAUSE_BACKEND_DOWN, "pool") != NULL);
	CHECK_INT(alert_firing_count(s), 3);
	alert_store_free(s);
}

static void test_json_has_the_design_fields(void)
{
	struct alert_store *s = alert_store_new(1000, NULL, NULL);
	struct alert_report r = report(CAUSE_SOCKET_MISSING, "unix:/run/app.sock", 1700000000000);
	cJSON *o = json_alert(alert_report(s, &r, 1700000000000));
	const char *fields[] = {"id",	       "cause",	     "severity",   "state",   "upstream",
				"peer",	       "first_seen", "last_seen",  "count",   "summary",
				"explanation", "fix",	     "config_ref", "evidence"};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		CHECK(cJSON_GetObjectItemCaseSensitive(o, fields[i]) != NULL);
	CHECK_STR(cJSON_GetObjectItem(o, "cause")->valuestring, "socket_missing");
	CHECK_STR(cJSON_GetObjectItem(o, "state")->valuestring, "firing");
	CHECK_STR(cJSON_GetObjectItem(o, "first_seen")->valuestring, "2023-11-14T22:13:20.000Z");
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "evidence")), 2);
	cJSON_Delete(o);
	alert_store_free(s);
}

int main(void)
{
	RUN(test_fires_once_refreshes_and_resolves_after_hold);
	RUN(test_one_alert_per_cause_and_peer);
	RUN(test_flapping_keeps_the_id_and_doubles_the_hold);
	RUN(test_history_is_bounded);
	RUN(test_touch_counts_without_words_and_only_while_firing);
	RUN(test_id_is_the_salted_hash_in_hex);
	RUN(test_touch_ref_follows_the_firing_alert);
	RUN(test_touch_ref_keeps_one_alert_per_cause);
	RUN(test_touch_ref_moves_to_a_new_alert_of_the_same_subject);
	RUN(test_touch_ref_forgets_every_cause_when_an_alert_is_freed);
	RUN(test_absorbed_alert_names_its_story_and_leaves_the_history);
	RUN(test_host_and_block_subjects_do_not_meet_peers);
	RUN(test_json_has_the_design_fields);
	RUN(test_impact_known_later_is_announced_once);
	return harness_result();
}
