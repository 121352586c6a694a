/* config: upwatch.conf directives (see config.h).
 *
 * A table maps each directive to a handler that checks its arguments and
 * stores the value; every error names the directive's file:line. */
#include "conf/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "conf/conftree.h"
#include "core/util.h"

struct config *config_new(void)
{
	struct config *c = xcalloc(1, sizeof(*c));
	c->nginx_conf = xstrdup(CONFIG_DEFAULT_NGINX_CONF);
	c->socket_path = xstrdup(CONFIG_DEFAULT_SOCKET_PATH);
	c->state_dir = xstrdup(CONFIG_DEFAULT_STATE_DIR);
	c->probe_interval_ms = CONFIG_DEFAULT_PROBE_INTERVAL_MS;
	c->probe_timeout_ms = CONFIG_DEFAULT_PROBE_TIMEOUT_MS;
	c->probe_retry_ms = CONFIG_DEFAULT_PROBE_RETRY_MS;
	c->probe_retries = CONFIG_DEFAULT_PROBE_RETRIES;
	c->probe_max_inflight = CONFIG_DEFAULT_PROBE_MAX_INFLIGHT;
	c->probe_enabled = true;
	c->health_uri = xstrdup(CONFIG_DEFAULT_HEALTH_URI);
	c->expect_lo = CONFIG_DEFAULT_EXPECT_LO;
	c->expect_hi = CONFIG_DEFAULT_EXPECT_HI;
	c->start_at = TAIL_START_SAVED;
	c->alert_hold_ms = CONFIG_DEFAULT_ALERT_HOLD_MS;
	c->metrics_interval_ms = CONFIG_DEFAULT_METRICS_INTERVAL_MS;
	c->log_level = LOG_INFO;
	/* probe_allow defaults to loopback only */
	c->probe_allow = xcalloc(2, sizeof(*c->probe_allow));
	c->probe_allow[0] = (struct config_net){.family = AF_INET, .addr = {127}, .prefix = 8};
	c->probe_allow[1] =
	    (struct config_net){.family = AF_INET6, .addr = {[15] = 1}, .prefix = 128};
	c->nprobe_allow = 2;
	return c;
}

static void override_done(struct config_override *o)
{
	free(o->name);
	free(o->health_uri);
	free(o->host);
	free(o->ref);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->file);
	free(c->nginx_conf);
	free(c->nginx_dump);
	free(c->socket_path);
	free(c->state_dir);
	free(c->health_uri);
	free(c->probe_allow);
	for (size_t i = 0; i < c->nerror_logs; i++)
		free(c->error_logs[i]);
	free(c->error_logs);
	free(c->metrics_file);
	for (size_t i = 0; i < c->nupstreams; i++)
		override_done(&c->upstreams[i]);
	for (size_t i = 0; i < c->npeers; i++)
		override_done(&c->peers[i]);
	free(c->upstreams);
	free(c->peers);
	cf_warnings_done(&c->warnings);
	free(c);
}

struct loader {
	struct config *c;
	char *err;
	size_t errlen;
	size_t error_logs_cap, upstreams_cap, peers_cap;
	bool allow_set; /* first probe_allow replaces the default list */
};

static int bad(struct loader *ld, const struct cf_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct loader *ld, const struct cf_node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = cf_node_verror(ld->err, ld->errlen, n, fmt, ap);
	va_end(ap);
	return r;
}

static int want_args(struct loader *ld, const struct cf_node *n, unsigned min, unsigned max)
{
	if (n->block)
		return bad(ld, n, "\"%s\" takes no block", n->argv[0]);
	if (n->argc - 1 < min || n->argc - 1 > max)
		return bad(ld, n, "invalid number of arguments in \"%s\"", n->argv[0]);
	return 0;
}

static int set_string(struct loader *ld, const struct cf_node *n, char **dst)
{
	int r = want_args(ld, n, 1, 1);
	if (r < 0)
		return r;
	if (n->argv[1][0] == '\0')
		return bad(ld, n, "empty value in \"%s\"", n->argv[0]);
	free(*dst);
	*dst = xstrdup(n->argv[1]);
	return 0;
}

static int set_duration(struct loader *ld, const struct cf_node *n, uint64_t *dst, bool zero_ok)
{
	uint64_t ms;
	int r = want_args(ld, n, 1, 1);
	if (r < 0)
		return r;
	if (parse_duration_ms(n->argv[1], &ms) < 0 || (!zero_ok && ms == 0))
		return bad(ld, n, "invalid duration \"%s\" in \"%s\" (use e.g. 500ms, 5s, 1m, 1h)",
			   n->argv[1], n->argv[0]);
	*dst = ms;
	return 0;
}

static int set_uint(struct loader *ld, const struct cf_node *n, unsigned *dst, unsigned min,
		    unsigned max)
{
	int r = want_args(ld, n, 1, 1);
	if (r < 0)
		return r;
	unsigned v;
	if (parse_uint(n->argv[1], max, &v) < 0 || v < min)
		return bad(ld, n, "invalid number \"%s\" in \"%s\" (%u to %u)", n->argv[1],
			   n->argv[0], min, max);
	*dst = v;
	return 0;
}

static int set_onoff(struct loader *ld, const struct cf_node *n, int *dst)
{
	int r = want_args(ld, n, 1, 1);
	if (r < 0)
		return r;
	if (streq(n->argv[1], "on"))
		*dst = 1;
	else if (streq(n->argv[1], "off"))
		*dst = 0;
	else
		return bad(ld, n, "invalid value \"%s\" in \"%s\", expecting \"on\" or \"off\"",
			   n->argv[1], n->argv[0]);
	return 0;
}

static int parse_net(const char *s, struct config_net *ret)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct config_net net = {0};

	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, net.addr) == 1) {
		net.family = AF_INET;
		net.prefix = 32;
	} else if (inet_pton(AF_INET6, buf, net.addr) == 1) {
		net.family = AF_INET6;
		net.prefix = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		unsigned p;
		if (parse_uint(slash + 1, net.prefix, &p) < 0)
			return -EINVAL;
		net.prefix = p;
	}
	*ret = net;
	return 0;
}

static int parse_status_range(const char *s, int *lo, int *hi)
{
	uint64_t a, b;
	if (parse_u64_prefix(&s, &a) < 0)
		return -EINVAL;
	b = a;
	if (*s == '-') {
		s++;
		if (parse_u64_prefix(&s, &b) < 0)
			return -EINVAL;
	}
	if (*s || a < 100 || b > 599 || a > b)
		return -EINVAL;
	*lo = (int)a;
	*hi = (int)b;
	return 0;
}

/* Directives allowed inside `upstream NAME { }` and `peer KEY { }`. */
static int load_override(struct loader *ld, const struct cf_node *block, struct config_override *o)
{
	for (const struct cf_node *n = block->children; n; n = n->next) {
		const char *d = n->argv[0];
		int r;
		if (streq(d, "health_uri")) {
			r = set_string(ld, n, &o->health_uri);
			if (r == 0 && o->health_uri[0] != '/')
				r = bad(ld, n, "health_uri must start with \"/\"");
		} else if (streq(d, "expect_status")) {
			r = want_args(ld, n, 1, 1);
			if (r == 0 &&
			    parse_status_range(n->argv[1], &o->expect_lo, &o->expect_hi) < 0)
				r = bad(ld, n, "invalid status range \"%s\" (e.g. 200-399)",
					n->argv[1]);
		} else if (streq(d, "probe")) {
			r = set_onoff(ld, n, &o->probe);
		} else if (streq(d, "probe_interval")) {
			r = set_duration(ld, n, &o->interval_ms, false);
		} else if (streq(d, "probe_timeout")) {
			r = set_duration(ld, n, &o->timeout_ms, false);
		} else if (streq(d, "host")) {
			r = set_string(ld, n, &o->host);
		} else {
			r = bad(ld, n, "unknown directive \"%s\" in \"%s\" block", d,
				block->argv[0]);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_override(struct loader *ld, const struct cf_node *n, struct config_override **arr,
			size_t *count, size_t *cap)
{
	if (!n->block)
		return bad(ld, n, "\"%s\" needs a block: %s NAME { ... }", n->argv[0], n->argv[0]);
	if (n->argc != 2)
		return bad(ld, n, "invalid number of arguments in \"%s\"", n->argv[0]);

	char name[PEERKEY_MAX];
	snprintf(name, sizeof(name), "%s", n->argv[1]);
	if (streq(n->argv[0], "peer")) {
		struct peerkey k;
		if (peerkey_parse(n->argv[1], strlen(n->argv[1]), 0, &k) < 0)
			return bad(ld, n,
				   "invalid peer \"%s\" (use ADDR:PORT, [V6]:PORT or unix:/path)",
				   n->argv[1]);
		snprintf(name, sizeof(name), "%s", k.key);
	}
	for (size_t i = 0; i < *count; i++)
		if (streq((*arr)[i].name, name))
			return bad(ld, n, "duplicate \"%s %s\"", n->argv[0], name);

	*arr = grow_array(*arr, cap, *count + 1, sizeof(**arr));
	struct config_override *o = &(*arr)[(*count)++];
	*o = (struct config_override){
	    .name = xstrdup(name), .probe = -1, .ref = xasprintf("%s:%u", n->file, n->line)};
	return load_override(ld, n, o);
}

static int load_directive(struct loader *ld, const struct cf_node *n)
{
	struct config *c = ld->c;
	const char *d = n->argv[0];
	int r, v = 0; /* set by set_onoff() on success (gcc -O3 cannot see it) */

	if (streq(d, "nginx_conf"))
		return set_string(ld, n, &c->nginx_conf);
	if (streq(d, "nginx_dump"))
		return set_string(ld, n, &c->nginx_dump);
	if (streq(d, "socket"))
		return set_string(ld, n, &c->socket_path);
	if (streq(d, "state_dir"))
		return set_string(ld, n, &c->state_dir);
	if (streq(d, "metrics_file"))
		return set_string(ld, n, &c->metrics_file);
	if (streq(d, "probe_interval"))
		return set_duration(ld, n, &c->probe_interval_ms, false);
	if (streq(d, "probe_timeout"))
		return set_duration(ld, n, &c->probe_timeout_ms, false);
	if (streq(d, "probe_retry_interval"))
		return set_duration(ld, n, &c->probe_retry_ms, false);
	if (streq(d, "probe_retries"))
		return set_uint(ld, n, &c->probe_retries, 0, 1000);
	if (streq(d, "probe_max_inflight"))
		return set_uint(ld, n, &c->probe_max_inflight, 1, 65536);
	if (streq(d, "alert_hold"))
		return set_duration(ld, n, &c->alert_hold_ms, true);
	if (streq(d, "metrics_interval"))
		return set_duration(ld, n, &c->metrics_interval_ms, false);
	if (streq(d, "probe")) {
		r = set_onoff(ld, n, &v);
		if (r == 0)
			c->probe_enabled = v;
		return r;
	}
	if (streq(d, "probe_allow")) {
		if (n->block || n->argc < 2)
			return bad(ld, n, "invalid number of arguments in \"probe_allow\"");
		if (!ld->allow_set) {
			c->nprobe_allow = 0;
			ld->allow_set = true;
		}
		c->probe_allow = xreallocarray(c->probe_allow, c->nprobe_allow + n->argc - 1,
					       sizeof(*c->probe_allow));
		for (unsigned i = 1; i < n->argc; i++) {
			if (streq(n->argv[i], "none"))
				continue;
			if (parse_net(n->argv[i], &c->probe_allow[c->nprobe_allow]) < 0)
				return bad(ld, n, "invalid network \"%s\" in \"probe_allow\"",
					   n->argv[i]);
			c->nprobe_allow++;
		}
		return 0;
	}
	if (streq(d, "error_log")) {
		r = want_args(ld, n, 1, 1);
		if (r < 0)
			return r;
		if (n->argv[1][0] != '/')
			return bad(ld, n, "error_log needs an absolute path");
		c->error_logs = grow_array(c->error_logs, &ld->error_logs_cap, c->nerror_logs + 1,
					   sizeof(char *));
		c->error_logs[c->nerror_logs++] = xstrdup(n->argv[1]);
		return 0;
	}
	if (streq(d, "start_at")) {
		static const char *const names[] = {"saved", "end", "beginning"};
		r = want_args(ld, n, 1, 1);
		if (r < 0)
			return r;
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			if (streq(n->argv[1], names[i])) {
				c->start_at = (enum tail_start)i;
				return 0;
			}
		}
		return bad(
		    ld, n,
		    "invalid value \"%s\" in \"start_at\", expecting saved, end or beginning",
		    n->argv[1]);
	}
	if (streq(d, "log_level")) {
		static const char *const names[] = {"emerg",   "alert",	 "crit", "error",
						    "warning", "notice", "info", "debug"};
		r = want_args(ld, n, 1, 1);
		if (r < 0)
			return r;
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			if (streq(n->argv[1], names[i])) {
				c->log_level = (int)i;
				return 0;
			}
		}
		return bad(ld, n, "invalid log level \"%s\"", n->argv[1]);
	}
	if (streq(d, "upstream"))
		return add_override(ld, n, &c->upstreams, &c->nupstreams, &ld->upstreams_cap);
	if (streq(d, "peer"))
		return add_override(ld, n, &c->peers, &c->npeers, &ld->peers_cap);
	return bad(ld, n, "unknown directive \"%s\"", d);
}

int config_load(const char *path, bool missing_ok, struct config **ret, char *err, size_t errlen)
{
	struct cf_tree *t;
	int r = cf_parse(path, NULL, &t, err, errlen);
	if (r < 0) {
		if (missing_ok && access(path, F_OK) < 0 && errno == ENOENT) {
			*ret = config_new();
			return 0;
		}
		return r;
	}

	struct loader ld = {.c = config_new(), .err = err, .errlen = errlen};
	ld.c->file = xstrdup(path);
	for (const struct cf_node *n = t->root->children; n && r >= 0; n = n->next)
		r = load_directive(&ld, n);
	if (r >= 0 && ld.c->probe_timeout_ms > ld.c->probe_interval_ms) {
		snprintf(err, errlen,
			 "%s: probe_timeout (%llums) is longer than probe_interval (%llums)", path,
			 (unsigned long long)ld.c->probe_timeout_ms,
			 (unsigned long long)ld.c->probe_interval_ms);
		r = -EINVAL;
	}
	if (r >= 0)
		cf_warnings_copy(&ld.c->warnings, &t->warnings);
	cf_tree_free(t);
	if (r < 0) {
		config_free(ld.c);
		return r;
	}
	*ret = ld.c;
	return 0;
}

static const struct config_override *find(const struct config_override *arr, size_t n,
					  const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (streq(arr[i].name, name))
			return &arr[i];
	return NULL;
}

const struct config_override *config_upstream(const struct config *c, const char *name)
{
	return find(c->upstreams, c->nupstreams, name);
}

const struct config_override *config_peer(const struct config *c, const char *key)
{
	return find(c->peers, c->npeers, key);
}

static bool net_contains(const struct config_net *net, int family, const uint8_t *addr)
{
	if (net->family != family)
		return false;
	unsigned bits = net->prefix;
	for (unsigned i = 0; bits > 0; i++, bits = bits > 8 ? bits - 8 : 0) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		if ((net->addr[i] & mask) != (addr[i] & mask))
			return false;
	}
	return true;
}

bool config_probe_allowed(const struct config *c, const struct peerkey *k)
{
	uint8_t addr[16];
	int family;

	if (k->kind == PEERKEY_UNIX)
		return true;
	if (k->kind == PEERKEY_HOST)
		return false; /* a name could resolve anywhere */
	family = k->kind == PEERKEY_IPV4 ? AF_INET : AF_INET6;
	if (inet_pton(family, k->host, addr) != 1)
		return false;
	for (size_t i = 0; i < c->nprobe_allow; i++)
		if (net_contains(&c->probe_allow[i], family, addr))
			return true;
	return false;
}
