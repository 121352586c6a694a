/* Fuzz host's parsers of outside text: the /proc/PID/cgroup parser (cgroup
 * names are chosen by whoever creates cgroups) and the sock_diag reply
 * parsers (a unix socket's bound name is chosen by any local user). The
 * first byte picks the parser. */
#include <linux/netlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/procfs.h"
#include "host/sockdiag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cgroup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	char unit[128];
	bool user;
	if (procfs_unit_from_cgroup(s, unit, sizeof(unit), &user) == 0 &&
	    strlen(unit) >= sizeof(unit))
		abort();
	free(s);
}

/* The bytes as a netlink reply buffer, walked as the dump loop walks it. */
static void replies(const uint8_t *data, size_t size, bool unix_)
{
	static uint32_t buf[16384]; /* aligned as recv()'s buffer is */
	if (size > sizeof(buf))
		size = sizeof(buf);
	memcpy(buf, data, size);
	int n = (int)size;
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		if (unix_) {
			struct sockdiag_unix u;
			if (sockdiag_parse_unix(h, &u) == 0 && strlen(u.path) >= sizeof(u.path))
				abort();
		} else {
			struct sockdiag_inet s;
			(void)sockdiag_parse_inet(h, &s);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		cgroup(data + 1, size - 1);
		break;
	case 1:
		replies(data + 1, size - 1, false);
		break;
	default:
		replies(data + 1, size - 1, true);
	}
	return 0;
}
