/* Fuzz the backend configuration readers: the input's first byte picks
 * php-fpm, uwsgi or gunicorn, the rest is that software's configuration file
 * (read from a private temporary root, so includes stay inside it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!root[0]) {
		strcpy(root, "/tmp/fuzz-backend-XXXXXX");
		if (!mkdtemp(root))
			abort();
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/c.conf", root);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fwrite(data + 1, 1, size - 1, f);
	fclose(f);

	struct backend_info b;
	const char *peers[] = {"127.0.0.1:9000", "unix:/run/x.sock", "[::1]:8000"};
	for (size_t i = 0; i < 3; i++) {
		int r;
		switch (data[0] % 3) {
		case 0: {
			const char *argv[] = {"php-fpm", "-y", "/c.conf"};
			r = backend_describe(BACKEND_PHPFPM, NULL, argv, 3, peers[i], root, &b);
			break;
		}
		case 1: {
			const char *argv[] = {"uwsgi", "--ini", "/c.conf"};
			r = backend_describe(BACKEND_UWSGI, NULL, argv, 3, peers[i], root, &b);
			break;
		}
		default: {
			const char *argv[] = {"gunicorn", "-c", "/c.conf"};
			r = backend_describe(BACKEND_GUNICORN, NULL, argv, 3, peers[i], root, &b);
			break;
		}
		}
		if (r == 0)
			backend_info_done(&b);
	}
	return 0;
}
