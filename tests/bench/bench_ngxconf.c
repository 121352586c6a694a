/* Time ngxconf_load() on a configuration: bench_ngxconf NGINX_CONF [RUNS].
 * Prints the best and the median wall time and what the model holds. */
#include <stdio.h>
#include <stdlib.h>

#include "nginx/ngxconf.h"
#include "core/util.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s NGINX_CONF [RUNS]\n", argv[0]);
		return 2;
	}
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
