/* diag_fixture: what the diagnose unit tests share (test_diagnose.c,
 * test_diagnose_journal.c) — a real nginx model (NGINX in diag_fixture.c),
 * a fake host whose probe results, listeners, software and unit journal the
 * test sets, and a diagnosis fed with real log lines. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/unitlog.h"
#include "conf/config.h"
#include "diagnose/alert.h"
#include "diagnose/diagnose.h"
#include "nginx/ngxconf.h"

#define T0		     1700000000000LL
#define DIAG_TEST_EPISODE_MS (5 * 60 * 1000 + 1) /* past diagnose.c's "hit by nginx" window */

struct diag_fake {
	struct probe_result probe[8];
	char probe_key[8][PEERKEY_MAX];
	size_t nprobe;
	struct host_listener listener;
	bool listener_known;
	int listener_asks; /* of the peer's listener (not a nearby port's) */
	unsigned nearby[16];
	int nnearby;
	/* software: of the peer (port 8081 or the unix socket) and of every
	 * other port; a nearby port listens when near_sw or near_process is set */
	struct backend_info sw_peer, sw_near;
	bool have_sw_peer, have_sw_near;
	char near_process[64];
	int probes_asked;
	bool conns_known;
	struct diag_conns conns;
	int learned;
	struct unitlog_signal unit_sig; /* what the unit's journal says; kind NONE: nothing */
	char unit_asked[128];
	int64_t unit_since;
	int unit_reads;
	struct sockdiag_remote remotes[2];
	int nremotes;
};
extern struct diag_fake fake; /* cleared by setup() */

extern char conf_path[512]; /* NGINX's file: config_ref is "<conf_path>:<line>" */
extern struct ngx_model *model;
extern struct config *cfg;
extern struct alert_store *alerts;
extern struct diag *diag;
extern unsigned published; /* alert changes handed to the outputs */

#define REFUSED                                                                                    \
	"2026/11/21 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while "    \
	"connecting to upstream, client: 127.0.0.1, server: diag.test, request: \"GET %s "         \
	"HTTP/1.1\", upstream: \"http://127.0.0.1:8081/\", host: \"diag.test\""

#define SLOW_RESET                                                                                 \
	"2026/11/21 10:00:00 [error] 7#7: *1 upstream prematurely closed connection while "        \
	"reading response header from upstream, client: 127.0.0.1, server: diag.test, request: "   \
	"\"GET /slow/x HTTP/1.1\", upstream: \"http://127.0.0.1:8081/slow/x\", host: \"d\""

/* NGINX written and loaded into model, cfg made: 0, or 1 (told on stderr). */
int diag_fixture_load(void);
/* A fresh alert store and diagnosis on model with the fake host. */
void setup(void);
void teardown(void);
/* One log line (printf format) parsed and handed to diagnosis at now. */
void feed(int64_t now, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void set_probe(const char *key, enum probe_result_kind res, int64_t t);
/* The host's last probe of key as the fake answers it (set_probe). */
bool fake_last_probe(void *ud, const char *key, struct probe_result *ret);
struct backend_setting setting(const char *value, const char *file, unsigned line);
/* The firing alert of (c, peer or upstream) with these reference and severity. */
void expect_alert(enum cause c, const char *peer, const char *upstream, const char *ref,
		  enum alert_severity sev);
/* Whether a has exactly this evidence line (else its lines on stderr). */
bool has_evidence(const struct alert *a, const char *want);
/* The peer 127.0.0.1:8081 served by gunicorn in unit app.service. */
void set_gunicorn(void);
