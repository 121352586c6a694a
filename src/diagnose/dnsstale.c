/* dnsstale: the comparison behind dns_stale (see dnsstale.h).
 *
 * Addresses are compared as binary values, not as text: "::1" and
 * "0:0:0:0:0:0:0:1" are one address, and an IPv4 address never equals an
 * IPv6 one (nginx connects to what getaddrinfo gave it, mapped forms
 * included, so no mapping is done here either). */
#include "diagnose/dnsstale.h"

#include <arpa/inet.h>
#include <string.h>

struct ipbin {
	int family;
	unsigned char b[16];
};

static bool ip_parse(const char *s, size_t len, struct ipbin *ret)
{
	char buf[INET6_ADDRSTRLEN + 1];
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, ret->b) == 1) {
		ret->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf, ret->b) == 1) {
		ret->family = AF_INET6;
		return true;
	}
	return false;
}

static bool ip_equal(const struct ipbin *a, const struct ipbin *b)
{
	return a->family == b->family && memcmp(a->b, b->b, a->family == AF_INET ? 4 : 16) == 0;
}

bool dnsstale_in_answers(const char *ip, const char *answers)
{
	struct ipbin want, have;
	if (!answers || !ip_parse(ip, strlen(ip), &want))
		return false;
	for (const char *p = answers; *p;) {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, " ");
		if (len && ip_parse(p, len, &have) && ip_equal(&want, &have))
			return true;
		p += len;
	}
	return false;
}

enum dnsstale_verdict dnsstale_judge(const struct peerkey *used, const struct dnsstale_name *names,
				     size_t n, size_t *ret_index)
{
	size_t resolved = 0, located = 0, unknown = 0, pick = 0, pick_located = 0;
	bool located_unknown = false;

	if (used->kind != PEERKEY_IPV4 && used->kind != PEERKEY_IPV6)
		return DNSSTALE_NONE;
	for (size_t i = 0; i < n; i++) {
		const struct dnsstale_name *nm = &names[i];
		if (nm->port != used->port)
			continue;
		if (!nm->answers || !nm->answers[0]) {
			unknown++;
			located_unknown |= nm->location;
			continue;
		}
		if (dnsstale_in_answers(used->host, nm->answers))
			return DNSSTALE_CURRENT;
		resolved++;
		pick = i;
		if (nm->location) {
			located++;
			pick_located = i;
		}
	}
	/* the request's own location names exactly one candidate: that one */
	if (located == 1 && !located_unknown) {
		*ret_index = pick_located;
		return DNSSTALE_OLD;
	}
	if (unknown)
		return DNSSTALE_UNKNOWN;
	if (resolved == 0)
		return DNSSTALE_NONE;
	if (resolved > 1)
		return DNSSTALE_AMBIGUOUS;
	*ret_index = pick;
	return DNSSTALE_OLD;
}
