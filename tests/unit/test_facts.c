/* Unit tests for facts: cached listener facts of local peers only. */
#include <arpa/inet.h>
#include <ev.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/facts.h"
#include "harness.h"

static void test_local_listener_is_found_then_cached_until_read_now(void)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct facts *f;
	CHECK_INT(facts_new(loop, &f), 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t len = sizeof(sa);
	CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	char key[64];
	snprintf(key, sizeof(key), "127.0.0.1:%u", ntohs(sa.sin_port));
	struct peerkey k;
	CHECK_INT(peerkey_parse(key, strlen(key), 0, &k), 0);

	struct host_listener l;
	CHECK(facts_listener(f, &k, &l));
	CHECK(l.listening);
	CHECK_INT(l.pid, getpid());
	CHECK(l.inode != 0);
	CHECK(l.queue_known);
	CHECK_INT(l.backlog, 4);
	CHECK(!l.conns_known); /* counted only on demand */
	CHECK(facts_cached(f, key, &l) && l.listening);

	/* One connection to the peer: counted, and kept with the listener. */
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_INT(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	unsigned tw = 1, est = 0;
	CHECK(facts_conns(f, &k, &tw, &est));
	CHECK_INT(tw, 0);
	CHECK_INT(est, 1);
	CHECK(facts_cached(f, key, &l) && l.conns_known);
	CHECK_INT(l.established, 1);
	close(c);

	close(fd);
	CHECK(facts_listener(f, &k, &l) && l.listening); /* still the cached answer */
	CHECK(facts_listener_now(f, &k, &l));
	CHECK(!l.listening);

	struct peerkey remote;
	CHECK_INT(peerkey_parse("192.0.2.1:80", 12, 0, &remote), 0);
	CHECK(!facts_listener(f, &remote, &l));	   /* not local: nothing to know */
	CHECK(facts_conns(f, &remote, &tw, &est)); /* but our connections to it */
	CHECK_INT(tw, 0);
	CHECK_INT(est, 0);
	struct peerkey sock;
	CHECK_INT(peerkey_parse("unix:/run/x.sock", 16, 0, &sock), 0);
	CHECK(!facts_conns(f, &sock, &tw, &est));
	facts_free(f);
}

int main(void)
{
	RUN(test_local_listener_is_found_then_cached_until_read_now);
	return harness_result();
}
