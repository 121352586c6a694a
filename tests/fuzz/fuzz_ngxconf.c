/* Fuzz the nginx configuration path end to end: lexer, conftree (includes,
 * globs, cycles, Lua blocks), the model and its presentation. The input is
 * an `nginx -T` dump; input without a dump marker is the main file of one.
 * Everything is read from the dump: no disk I/O. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conftree.h"
#include "nginx/ngxconf.h"
#include "output/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char marker[] = "# configuration file ";
	static const char header[] = "# configuration file /fuzz/nginx.conf:\n";
	static FILE *null_out;
	size_t hlen = 0;

	if (!null_out)
		null_out = fopen("/dev/null", "we");
	if (size < sizeof(marker) - 1 || memcmp(data, marker, sizeof(marker) - 1) != 0)
		hlen = sizeof(header) - 1;
	char *buf = malloc(hlen + size + 1);
	if (!buf)
		return 0;
	memcpy(buf, header, hlen);
	memcpy(buf + hlen, data, size);

	struct cf_dump *d = NULL;
	if (cf_dump_parse(buf, hlen + size, &d) == 0) {
		struct ngx_model *m = NULL;
		char err[512];
		if (ngxconf_load(NULL, d, &m, err, sizeof(err)) == 0) {
			if (null_out)
				ngxconf_print(m, null_out);
			for (size_t i = 0; i < m->npeers; i++) {
				cJSON *j = json_nginx_peer(m, &m->peers[i]);
				char *s = cJSON_PrintUnformatted(j);
				free(s);
				cJSON_Delete(j);
				if (ngxconf_peer(m, m->peers[i].key) != &m->peers[i])
					abort();
			}
			ngxconf_free(m);
		} else if (!memchr(err, ':', strlen(err))) {
			abort(); /* every error names where */
		}
		cf_dump_free(d);
	}
	free(buf);
	return 0;
}
