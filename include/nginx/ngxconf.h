/* ngxconf: the nginx configuration model upwatch watches.
 *
 * Built from a conftree (files on disk or an `nginx -T` dump): the worker
 * user, worker limits, every error_log, every http/stream upstream block and
 * its servers, every *_pass with the effective (inherited) timeouts of its
 * location, and the distinct peers derived from them. Every element carries
 * the file:line of the directive it comes from. Host names stay names:
 * nothing is resolved here. The model owns all its memory; the strings of
 * upstream blocks, servers and passes are shared (const), freed with it.
 *
 * This header is the folder's public face: the model's types, loading it,
 * its lookups and its --check-config text. The build's parts (ngxbuild,
 * ngxupstream, ngxpass, ngxpeer) are private to src/nginx/; nginx's value
 * syntax is nginx/ngxvalue.h; the peer object's JSON is output/json.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/conftree.h"
#include "core/peerkey.h"

struct cf_dump;
struct ngxpeer_index;
struct ngxstr;

struct ngx_ref {
	const char *file;
	unsigned line;
};

enum ngx_proto {
	NGX_PROTO_HTTP,
	NGX_PROTO_HTTPS,
	NGX_PROTO_FASTCGI,
	NGX_PROTO_UWSGI,
	NGX_PROTO_SCGI,
	NGX_PROTO_GRPC,
	NGX_PROTO_TCP, /* stream proxy_pass */
	NGX_PROTO_SUWSGI,
	NGX_PROTO_GRPCS,
	NGX_PROTO_MEMCACHED,
	NGX_PROTO_UDP, /* stream server with listen ... udp */
};

enum ngx_log_target {
	NGX_LOG_FILE,
	NGX_LOG_STDERR,
	NGX_LOG_SYSLOG,
	NGX_LOG_MEMORY,
};

struct ngx_error_log {
	char *path;  /* file path, or the raw target when not a file */
	char *level; /* "error" when not given */
	enum ngx_log_target target;
	bool followable;    /* a plain file upwatch can tail */
	struct ngx_ref ref; /* NULL file: nginx's compiled-in default */
};

/* log_format NAME [escape=default|json|none] STRING...; (http level only).
 * The built-in `combined` is always first (ref.file NULL). */
enum ngx_log_escape {
	NGX_ESCAPE_DEFAULT, /* ", \ and bytes < 0x20 or > 0x7e as \xHH */
	NGX_ESCAPE_JSON,
	NGX_ESCAPE_NONE,
};

struct ngx_log_format {
	const char *name;
	const char *format; /* the strings concatenated, as nginx joins them */
	enum ngx_log_escape escape;
	bool stream; /* stream {}'s: its names are apart from http's */
	struct ngx_ref ref;
};

/* One access_log directive of http {} (or nginx's implicit one), with the
 * scope it sits in. nginx's inheritance: a scope with any access_log
 * directive (or `off`) uses only its own; one without inherits its
 * parent's. The implicit default applies when http {} has none. */
struct ngx_access_log {
	const char *path;	 /* the file (prefix applied), or the raw target */
	const char *format_name; /* "combined" when not given */
	size_t format;		 /* index into model->log_formats; SIZE_MAX when unknown */
	bool off;		 /* `access_log off;`: this scope logs nothing */
	bool followable;	 /* a plain file upwatch can tail */
	bool conditional;	 /* if=: only some requests are written */
	bool buffered;		 /* buffer= or flush=: lines arrive late */
	/* why upwatch does not follow it, or what to keep in mind when it
	 * does ("syslog", "gzip-compressed", "if= condition: ..."); NULL */
	const char *note;
	const char *server_name; /* first server_name of its server; NULL at http level */
	const char *location;	 /* location argument; "" at server level, NULL at http */
	struct ngx_ref ref;	 /* file NULL: nginx's implicit default */
	/* stream {} (ngx_stream_log_module): one line per session, $status 200
	 * or 400/403/500/502/503 (502: no upstream could be selected or
	 * reached); no request, no $upstream_status */
	bool stream;
	struct ngx_ref pass_ref; /* stream server level: its proxy_pass line; file NULL: none */
};

#define NGXCONF_DEFAULT_ACCESS_LOG "/var/log/nginx/access.log"
#define NGXCONF_COMBINED_FORMAT                                                                    \
	"$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "         \
	"\"$http_referer\" \"$http_user_agent\""

struct ngx_server {	  /* `server` inside upstream {} */
	const char *addr; /* as written: "127.0.0.1:8080", "unix:/x.sock", "app" */
	const char *key;  /* normalised peer key (default port applied) */
	unsigned weight, max_fails, max_conns;
	uint64_t fail_timeout_ms, slow_start_ms;
	bool backup, down, resolve;
	/* service=NAME: an SRV lookup, nginx never connects to addr; key is then
	 * "srv:_NAME._tcp.HOST" ("srv:NAME.HOST" when NAME holds a dot): the
	 * record nginx asks for, a peer without a port */
	const char *service;
	struct ngx_ref ref;
};

struct ngx_upstream { /* upstream NAME { } in http or stream */
	const char *name;
	bool stream;
	struct ngx_server *servers;
	size_t nservers;
	unsigned keepalive; /* 0 when not set */
	/* balancer_by_lua*: openresty's Lua picks the peer; the servers are
	 * placeholders nginx never connects to (`server 0.0.0.1;`) */
	bool balancer_lua;
	size_t *passes; /* indexes into model->passes naming this block, in order */
	size_t npasses;
	struct ngx_ref ref;
};

/* Effective per-location settings of the module a *_pass belongs to; passes
 * with equal settings share one (a location inherits them: 10,000 passes
 * had 10,000 copies of 168 bytes). */
struct ngx_timeouts {
	/* defaults 60s; stream: read = send = proxy_timeout (default 10m) */
	uint64_t connect_ms, read_ms, send_ms;
	struct ngx_ref connect_ref, read_ref, send_ref; /* where set; file NULL = default */
	const char *next_upstream;	   /* "error timeout" by default (stream: "on") */
	unsigned next_upstream_tries;	   /* 0 = unlimited */
	uint64_t next_upstream_timeout_ms; /* 0 = unlimited */
	uint64_t buffer_size; /* proxy_buffer_size etc.; default 4k (page size), stream 16k */
	struct ngx_ref buffer_size_ref;
	bool ssl_verify, ssl_server_name;
	const char *ssl_trusted_certificate;
	const char *resolver; /* first resolver address, NULL when none */
	struct ngx_ref resolver_ref;
};

struct ngx_pass {	       /* one *_pass directive */
	const char *directive; /* "proxy_pass", "fastcgi_pass", ... */
	const char *raw;       /* the argument as written */
	enum ngx_proto proto;
	bool tls;		      /* speaks TLS: https, grpcs, suwsgi, stream proxy_ssl on */
	bool stream;		      /* proxy_pass inside stream {} */
	bool dynamic;		      /* contains variables: target known only from logs */
	const char *upstream;	      /* names an upstream block, else NULL */
	const char *key;	      /* literal peer key when not an upstream and not dynamic */
	const char *uri;	      /* URI part ("/v1/"), NULL when none */
	const char *location;	      /* location argument(s), "" for server level */
	const char *server_name;      /* first server_name of the enclosing server */
	const struct ngx_timeouts *t; /* the model's, shared (never NULL) */
	const char *ssl_name;	 /* proxy_ssl_name (grpc_ssl_name, ...), else the pass's host */
	const char *host_header; /* Host nginx sends when knowable (proxy_set_header Host, or the
			      pass host) */
	struct ngx_ref ref;
	/* The address part as written (added): scheme "http", "https", "grpc",
	 * "grpcs", "uwsgi", "suwsgi" or NULL; host without port ("backend",
	 * "[::1]", "unix:/run/x.sock"), NULL when it holds variables; port as
	 * written, 0 when none. A dynamic pass whose host part is literal still
	 * names its upstream or key (only its URI varies). */
	const char *scheme;
	const char *host;
	unsigned port;
};

/* A peer's protocol is that of the first *_pass reaching it (in config
 * order); a block no pass names takes that of the first *_pass whose address
 * is a variable (it may name the block at run time), else http (stream:
 * tcp); a stream server
 * listening with `udp` makes its peers udp. A line read twice (a snippet
 * included in two places) is one ref.
 *
 * probed is false for a peer nginx never connects to through any line that
 * names it: `server ... down;`, the placeholder servers of a balancer_by_lua*
 * block, `service=` (SRV) servers; and for udp peers, which have no probe.
 *
 * What a udp peer can have as evidence: nginx's error lines only. A UDP
 * port has no handshake, so a probe proves nothing without speaking the
 * service's own protocol: no TCP connect, no datagram is ever sent to it.
 * Its lines are the stream module's (`udp client: ...`, `upstream:
 * "addr:port"`, the bytes fields); "recv() failed (111: Connection
 * refused)" is the ICMP port unreachable of a port nothing listens on
 * (backend_down), "upstream timed out ... while proxying" a peer that did
 * not answer within proxy_timeout (backend_slow). A DNS query through
 * probe_dns to a port-53 peer would be a real check; it is not done (a
 * resolver answering NXDOMAIN or SERVFAIL for the query's name would look
 * down), so udp peers stay unprobed.
 *
 * backup: every `server` line naming it says `backup` and no *_pass names it
 * directly (nginx uses it only when the primaries fail). */
struct ngx_peer { /* a distinct probe target */
	char *key;
	/* the key's parts (ngxconf_peer_addr() gives a struct peerkey): the
	 * address or host name without brackets, or the unix path; port 0 for
	 * unix. host shares key's allocation. */
	const char *host;
	unsigned port;
	enum peerkey_kind kind;
	enum ngx_proto proto;
	bool tls; /* that first *_pass speaks TLS */
	bool probed;
	bool backup;
	const char **upstreams; /* names of blocks that list it (the blocks' own) */
	size_t nupstreams;
	struct ngx_ref *refs; /* the `server` and *_pass lines that name it */
	size_t nrefs;
	size_t *passes; /* indexes into model->passes that reach it */
	size_t npasses;
};

struct ngx_model {
	char *main_file;
	char **files; /* every file read */
	size_t nfiles;
	char **globs; /* every include glob (directories to watch) */
	size_t nglobs;
	struct cf_warnings warnings; /* conftree's load warnings (file:line + text) */

	char *user, *group; /* worker user; "nobody"/"nogroup" when not set */
	bool user_default;  /* no `user` directive: compiled-in default */
	struct ngx_ref user_ref;
	unsigned worker_processes;   /* 0 = auto */
	unsigned worker_connections; /* default 512 */
	unsigned worker_rlimit_nofile;
	struct ngx_ref worker_connections_ref;

	struct ngx_error_log *error_logs;
	size_t nerror_logs;
	struct ngx_upstream *upstreams;
	size_t nupstreams;
	struct ngx_pass *passes;
	size_t npasses;
	struct ngx_peer *peers;
	size_t npeers;
	struct ngx_ref *stub_status; /* locations with stub_status */
	size_t nstub_status;
	struct ngx_log_format *log_formats; /* [0] is the built-in combined */
	size_t nlog_formats;
	struct ngx_access_log *access_logs; /* http {} access_log lines, config order */
	size_t naccess_logs;

	struct ngxpeer_index *index;	/* private to src/nginx/: the lookups' hashes */
	struct ngxstr *strings;		/* private: the pool every pass/server string lives in */
	struct ngx_timeouts **timeouts; /* private: the passes' distinct settings */
	size_t ntimeouts;
};

/* What nginx was built with and started as; what `nginx -V` prints. */
#define NGXCONF_DEFAULT_PREFIX "/usr/share/nginx"
/* Debian 12 builds nginx with --error-log-path=stderr (changelog of
 * 1.22.1-6: "default error-log-path is stderr"); older packages used
 * /var/log/nginx/error.log. */
#define NGXCONF_DEFAULT_ERROR_LOG "stderr"

struct ngxconf_options {
	const char *prefix; /* nginx -p: relative error_log paths; NULL = default */
	/* --error-log-path, used when no main-level error_log; NULL = default */
	const char *default_error_log;
};

/* Parse the configuration rooted at path (or the dump, when non-NULL; then
 * path may be NULL and the dump's first file is the main file). Errors are
 * "file:line: message" in err. */
int ngxconf_load(const char *path, const struct cf_dump *dump, struct ngx_model **ret, char *err,
		 size_t errlen);
/* The same with explicit options (NULL = defaults above). */
int ngxconf_load_opts(const char *path, const struct cf_dump *dump,
		      const struct ngxconf_options *opts, struct ngx_model **ret, char *err,
		      size_t errlen);
void ngxconf_free(struct ngx_model *m);

/* Lookups the diagnoser makes per log line: O(1) whatever the size of the
 * configuration (hash tables built with the model). */

/* The peer with this normalised key ("127.0.0.1:8080", "unix:/x.sock"). */
const struct ngx_peer *ngxconf_peer(const struct ngx_model *m, const char *key);
/* The upstream block of this name, case-insensitively as nginx compares
 * them; an http block before a stream block of the same name. */
const struct ngx_upstream *ngxconf_upstream(const struct ngx_model *m, const char *name);
/* The first peer (in model order) whose key is this host name with any
 * port, case-insensitively ("Backend.Example" → "backend.example:8443");
 * NULL when no peer is named so (IP and unix peers are not host names). */
const struct ngx_peer *ngxconf_peer_by_host(const struct ngx_model *m, const char *name);
/* The *_pass lines with variables in their address (dynamic, no literal
 * key, no block) that a line logged by server_name may come from, as
 * indexes into m->passes in model order: those of servers whose first
 * server_name is server_name plus those of servers without a server_name;
 * every dynamic pass when server_name is NULL. Returns the count; *ret
 * points into the model. */
size_t ngxconf_dynamic_passes(const struct ngx_model *m, const char *server_name,
			      const size_t **ret);
/* The peer's address as a struct peerkey (for the prober and host facts). */
void ngxconf_peer_addr(const struct ngx_peer *p, struct peerkey *ret);

const char *ngxconf_proto_name(enum ngx_proto p);

/* Human-readable target list for `upwatchd --check-config`. 0 or -errno of
 * the failed write. */
int ngxconf_print(const struct ngx_model *m, FILE *out);
