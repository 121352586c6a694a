/* Fuzz host's /proc/PID/cgroup parser: the text is the kernel's, but the
 * cgroup names inside it are chosen by whoever creates cgroups. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	char unit[128];
	bool user;
	if (procfs_unit_from_cgroup(s, unit, sizeof(unit), &user) == 0 &&
	    strlen(unit) >= sizeof(unit))
		abort();
	free(s);
	return 0;
}
