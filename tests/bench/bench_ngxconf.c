/* The nginx model at configuration size: bench_ngxconf [NGINX_CONF [RUNS]].
 *
 * Without arguments, generates two configurations in a temporary directory,
 * one with 50 upstream blocks and one with 10,000 (10,000 `server {}` blocks,
 * each with a static proxy_pass to its own upstream and a dynamic one; every
 * tenth upstream names its server by host name), and prints for each: load
 * time, the model's size, and the cost of the lookups the diagnoser makes per
 * log line (upstream by name, peer by host name, the dynamic passes of a
 * server), with the 10k / 50 ratio. With a path, times ngxconf_load() on it. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "nginx/ngxconf.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

static int write_conf(const char *path, unsigned n)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "events {}\nhttp {\n");
	for (unsigned i = 0; i < n; i++) {
		if (i % 10 == 9)
			fprintf(f, "upstream u%u { server h%u.example.internal:8080; }\n", i, i);
		else
			fprintf(f, "upstream u%u { server 127.%u.%u.%u:8080; keepalive 4; }\n", i,
				(i >> 16) & 255, (i >> 8) & 255, i & 255);
	}
	for (unsigned i = 0; i < n; i++)
		fprintf(f,
			"server { listen 127.0.0.1:80; server_name s%u.example;\n"
			"  location / { proxy_pass http://u%u; }\n"
			"  location /d/ { proxy_pass http://$arg_b; }\n}\n",
			i, i);
	fprintf(f, "}\n");
	return fclose(f) == 0 ? 0 : -errno;
}

/* The per-line lookups the diagnoser makes. Before the model had hashes for
 * them (this bench at commit 5b6ae14, scans over every peer and pass, same
 * machine, best of 5):
 *      50 upstreams: upstream 222 ns, host 59 ns, dynamic passes 482 ns
 *   10000 upstreams: upstream 38301 ns, host 10941 ns, dynamic passes 204748 ns
 *   sizeof(struct ngx_peer) 632 B; model heap 34.5 MB at 10k; load 115-131 ms.
 * After: 16-46 ns each at either size, 80 B per peer, 13.4 MB, 62 ms. */
static const struct ngx_peer *by_host(const struct ngx_model *m, const char *name)
{
	return ngxconf_peer_by_host(m, name);
}

static size_t dynamic_of(const struct ngx_model *m, const char *server_name)
{
	const size_t *v;
	return ngxconf_dynamic_passes(m, server_name, &v);
}

struct figures {
	double load_ms, upstream_ns, host_ns, dynamic_ns;
	long rss_kb;
	size_t heap_kb; /* bytes the model holds on the heap */
	size_t npeers;
};

static volatile size_t sink;

/* The best of five rounds of LOOKUPS calls, in ns per call. */
#define TIME_LOOKUPS(expr)                                                                         \
	({                                                                                         \
		double best_ = 1e18;                                                               \
		for (int round_ = 0; round_ < 5; round_++) {                                       \
			int64_t t0_ = now_ns();                                                    \
			for (unsigned i = 0; i < LOOKUPS; i++) {                                   \
				expr;                                                              \
			}                                                                          \
			double ns_ = (double)(now_ns() - t0_) / LOOKUPS;                           \
			best_ = ns_ < best_ ? ns_ : best_;                                         \
		}                                                                                  \
		best_;                                                                             \
	})

static int measure(const char *path, unsigned n, struct figures *ret)
{
	enum { LOOKUPS = 4000 };
	char err[1024];
	struct ngx_model *m;
	long rss0 = rss_kb();
	size_t heap0 = mallinfo2().uordblks + mallinfo2().hblkhd;
	int64_t t0 = now_ns();
	if (ngxconf_load(path, NULL, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -EINVAL;
	}
	ret->load_ms = (double)(now_ns() - t0) / 1e6;
	ret->rss_kb = rss_kb() - rss0;
	ret->heap_kb = (mallinfo2().uordblks + mallinfo2().hblkhd - heap0) / 1024;
	ret->npeers = m->npeers;

	/* the names are formatted outside the timed part */
	char(*names)[64] = xcalloc(LOOKUPS, sizeof(*names));
	for (unsigned i = 0; i < LOOKUPS; i++)
		snprintf(names[i], sizeof(names[i]), "U%u", (i * 7919u) % n);
	ret->upstream_ns = TIME_LOOKUPS(sink += ngxconf_upstream(m, names[i]) != NULL);
	for (unsigned i = 0; i < LOOKUPS; i++)
		snprintf(names[i], sizeof(names[i]), "H%u.example.internal",
			 ((i * 7919u) % (n / 10)) * 10 + 9);
	ret->host_ns = TIME_LOOKUPS(sink += by_host(m, names[i]) != NULL);
	for (unsigned i = 0; i < LOOKUPS; i++)
		snprintf(names[i], sizeof(names[i]), "s%u.example", (i * 7919u) % n);
	ret->dynamic_ns = TIME_LOOKUPS(sink += dynamic_of(m, names[i]));
	free(names);
	ngxconf_free(m);
	return 0;
}

static int generated(void)
{
	static const unsigned sizes[2] = {50, 10000};
	struct figures f[2];
	char dir[] = "/tmp/bench_ngxconf.XXXXXX", path[64];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/nginx.conf", dir);
	printf("sizeof(struct ngx_peer) %zu B, sizeof(struct ngx_pass) %zu B\n",
	       sizeof(struct ngx_peer), sizeof(struct ngx_pass));
	for (int i = 0; i < 2; i++) {
		if (write_conf(path, sizes[i]) < 0 || measure(path, sizes[i], &f[i]) < 0)
			return 1;
		printf("%5u upstreams: load %8.1f ms, model heap %6zu kB, RSS +%6ld kB (%zu "
		       "peers), per lookup: "
		       "upstream %7.0f ns, host %7.0f ns, dynamic passes %7.0f ns\n",
		       sizes[i], f[i].load_ms, f[i].heap_kb, f[i].rss_kb, f[i].npeers,
		       f[i].upstream_ns, f[i].host_ns, f[i].dynamic_ns);
	}
	printf("10k/50 ratio per lookup: upstream %.1f, host %.1f, dynamic passes %.1f\n",
	       f[1].upstream_ns / f[0].upstream_ns, f[1].host_ns / f[0].host_ns,
	       f[1].dynamic_ns / f[0].dynamic_ns);
	unlink(path);
	rmdir(dir);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return generated();
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	if (runs < 1 || runs > 1000)
		runs = 5;
	int64_t *t = xcalloc((size_t)runs, sizeof(*t));
	struct ngx_model *m = NULL;
	char err[1024];
	for (int i = 0; i < runs; i++) {
		int64_t t0 = now_mono_ms();
		if (ngxconf_load(argv[1], NULL, &m, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		t[i] = now_mono_ms() - t0;
		if (i + 1 < runs)
			ngxconf_free(m);
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp_i64);
	printf("upwatch model: best of %d %lld ms, median %lld ms (%zu files, %zu upstreams, "
	       "%zu passes, %zu peers)\n",
	       runs, (long long)t[0], (long long)t[runs / 2], m->nfiles, m->nupstreams, m->npasses,
	       m->npeers);
	ngxconf_free(m);
	free(t);
	return 0;
}
