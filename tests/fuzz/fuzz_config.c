/* fuzz_config: upwatch.conf is read as root at start-up and after every
 * SIGHUP; any bytes must load or fail with "file:line: message", never
 * crash, and what loaded must free cleanly. Includes are resolved as the
 * daemon would (a fuzzed `include` may name files on this machine). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("upwatch.conf", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();

	struct config *c = NULL;
	char err[512] = "";
	if (config_load(path, false, &c, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < c->warnings.n; i++)
			if (!c->warnings.v[i].text || !c->warnings.v[i].text[0])
				abort(); /* a warning says what */
		config_free(c);
	} else if (!strchr(err, ':')) {
		abort(); /* every error names where */
	}
	return 0;
}
