/* ngxvalue: nginx's value syntax (see ngxvalue.h). */
#include "nginx/ngxvalue.h"

#include <errno.h>
#include <string.h>

#include "core/util.h"

int ngxvalue_time_ms(const char *s, uint64_t *ret_ms)
{
	/* ngx_parse_time(): components in falling order of unit, optionally
	 * separated by spaces; a trailing bare number is seconds. Years and
	 * months are refused for millisecond settings, as nginx does. */
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"ms", 1},	     {"w", 604800000}, {"d", 86400000},
		     {"h", 3600000}, {"m", 60000},     {"s", 1000}};
	static const unsigned rank[] = {6, 1, 2, 3, 4, 5}; /* order units must come in */
	uint64_t total = 0;
	unsigned last = 0;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	while (*p) {
		uint64_t v;
		int rc = parse_u64_prefix(&p, &v);
		if (rc < 0)
			return rc;
		uint64_t scale = 1000;
		unsigned r = 7;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t n = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, n) == 0) {
				scale = units[i].ms;
				r = rank[i];
				p += n;
				break;
			}
		}
		if (r <= last || (r == 7 && *p))
			return -EINVAL;
		last = r;
		if (v > (UINT64_MAX - total) / scale)
			return -ERANGE;
		total += v * scale;
		while (*p == ' ')
			p++;
	}
	*ret_ms = total;
	return 0;
}

int ngxvalue_size(const char *s, uint64_t *ret)
{
	uint64_t v, scale = 1;
	const char *p = s;
	int r = parse_u64_prefix(&p, &v);
	if (r < 0)
		return r;
	if (*p == 'k' || *p == 'K')
		scale = 1024, p++;
	else if (*p == 'm' || *p == 'M')
		scale = 1024 * 1024, p++;
	if (*p)
		return -EINVAL;
	if (v > UINT64_MAX / scale)
		return -ERANGE;
	*ret = v * scale;
	return 0;
}

const char *ngxvalue_addr_error(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	if (startswith(addr, "unix:") || !colon || colon[1] == '\0' ||
	    (addr[0] == '[' && !strchr(addr, ']')))
		return "invalid host";
	for (const char *c = colon + 1; *c; c++)
		if (*c < '0' || *c > '9')
			return "invalid host";
	return "invalid port";
}
