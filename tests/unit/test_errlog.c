/* Unit tests for errlog: every corpus entry parses to the fields written out
 * below; spoofed, cut, huge and garbage lines behave. The corpus and its
 * index are tests/fixtures/nginx-error-samples.log and §13 of
 * tests/fixtures/nginx-error-catalog.md. */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "log/errlog.h"
#include "harness.h"

/* The span as a NUL-terminated string (NULL when absent), for CHECK_STR. */
static const char *str(struct errlog_span s)
{
	static char bufs[8][4096];
	static unsigned next;
	if (!s.p)
		return NULL;
	char *b = bufs[next++ % 8];
	size_t n = s.len < 4095 ? s.len : 4095;
	memcpy(b, s.p, n);
	b[n] = '\0';
	return b;
}

/* A span that must be absent (want == NULL) or equal to want. */
#define CHECK_SPAN(span, want)                                                                     \
	do {                                                                                       \
		const char *_w = (want);                                                           \
		if (_w)                                                                            \
			CHECK_STR(str(span), _w);                                                  \
		else if ((span).p) {                                                               \
			fprintf(stderr, "%s:%d: %s: %s == \"%s\", expected absent\n", __FILE__,    \
				__LINE__, harness_current, #span, str(span));                      \
			harness_failures++;                                                        \
		}                                                                                  \
	} while (0)

/* Every span of ev lies within [line, line + len). */
static bool spans_inside(const struct errlog_event *ev, const char *line, size_t len)
{
	const struct errlog_span *s[] = {
	    &ev->message,  &ev->errtext,  &ev->action,	     &ev->detail, &ev->client,
	    &ev->server,   &ev->request,  &ev->method,	     &ev->uri,	  &ev->subrequest,
	    &ev->upstream, &ev->scheme,	  &ev->upstream_uri, &ev->host,	  &ev->referrer,
	    &ev->name,	   &ev->resolver,
	};
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		if (!s[i]->p)
			continue;
		if (s[i]->p < line || s[i]->p > line + len || s[i]->len > len ||
		    (size_t)(s[i]->p - line) + s[i]->len > len)
			return false;
	}
	return true;
}

static bool has_prefix_str(struct errlog_span s, const char *prefix)
{
	size_t n = strlen(prefix);
	return s.p && s.len >= n && memcmp(s.p, prefix, n) == 0;
}

/* s in an exact-size heap copy, so that ASan catches any read past its
 * length (no NUL follows). The copy lives until the next call: spans stay
 * readable in between. */
static const char *heap_copy(const char *s, size_t len)
{
	static char *copy;
	free(copy);
	copy = malloc(len ? len : 1);
	memcpy(copy, s, len);
	return copy;
}

/* Parse s from heap_copy(), every span checked to lie in it. */
static int parse(const char *s, struct errlog_event *ev)
{
	size_t len = strlen(s);
	const char *copy = heap_copy(s, len);
	int r = errlog_parse(copy, len, ev);
	if (r == 0 && !spans_inside(ev, copy, len)) {
		fprintf(stderr, "span outside the line: %s\n", s);
		harness_failures++;
	}
	return r;
}

#define HDR "2025/03/14 09:12:01 [error] 23817#23817: *1184 "

/* ---- the corpus ------------------------------------------------------------ */

struct expect {
	int line;
	int level;
	uint64_t conn;
	enum errlog_kind kind;
	int err;
	enum errlog_phase phase;
	const char *peer; /* NULL: has_peer == 0 */
	const char *client, *server, *request;
	const char *upstream, *host, *referrer;
	const char *detail, *name, *action;
	int unparsed; /* continuation line: -EINVAL */
};

/* One row per physical line of nginx-error-samples.log. NULL = absent.
 * Line 84's request (1.8 KB of "A") is checked in its own test ("*"). */
static const struct expect corpus[] = {
    {1, LOG_EMERG, 0, EV_HOST_NOT_FOUND, 0, PHASE_NONE, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     "app:3000", "app:3000", NULL, 0},
    {2, LOG_EMERG, 0, EV_HOST_NOT_FOUND, 0, PHASE_NONE, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     "php-fpm", "php-fpm", NULL, 0},
    {3, LOG_ERR, 1184, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "127.0.12.21:8080", "203.0.113.45",
     "shop.example.com", "GET /api/v2/orders?page=3 HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/orders?page=3", "shop.example.com",
     "https://shop.example.com/account/orders", NULL, NULL, "connecting to upstream", 0},
    {4, LOG_WARNING, 1184, EV_PEER_DISABLED, 0, PHASE_CONNECTING, "127.0.12.21:8080",
     "203.0.113.45", "shop.example.com", "GET /api/v2/orders?page=3 HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/orders?page=3", "shop.example.com",
     "https://shop.example.com/account/orders", NULL, NULL, "connecting to upstream", 0},
    {5, LOG_ERR, 1191, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "127.0.12.22:8080", "198.51.100.7",
     "shop.example.com", "POST /api/v2/cart HTTP/1.1", "http://127.0.12.22:8080/api/v2/cart",
     "shop.example.com", NULL, NULL, NULL, "connecting to upstream", 0},
    {6, LOG_WARNING, 1191, EV_PEER_DISABLED, 0, PHASE_CONNECTING, "127.0.12.22:8080",
     "198.51.100.7", "shop.example.com", "POST /api/v2/cart HTTP/1.1",
     "http://127.0.12.22:8080/api/v2/cart", "shop.example.com", NULL, NULL, NULL,
     "connecting to upstream", 0},
    {7, LOG_ERR, 1195, EV_NO_LIVE_UPSTREAMS, 0, PHASE_CONNECTING, NULL, "203.0.113.45",
     "shop.example.com", "GET /api/v2/products/1432 HTTP/1.1",
     "http://app_backend/api/v2/products/1432", "shop.example.com",
     "https://shop.example.com/p/1432", NULL, "app_backend", "connecting to upstream", 0},
    {8, LOG_ERR, 1198, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "127.0.12.25:8080",
     "198.51.100.12", "shop.example.com", "GET /api/v2/products/1433 HTTP/1.1",
     "http://127.0.12.25:8080/api/v2/products/1433", "shop.example.com", NULL, NULL, NULL,
     "connecting to upstream", 0},
    {9, LOG_ERR, 1198, EV_NO_LIVE_UPSTREAMS, 0, PHASE_CONNECTING, NULL, "198.51.100.12",
     "shop.example.com", "GET /api/v2/products/1433 HTTP/1.1",
     "http://app_backend/api/v2/products/1433", "shop.example.com", NULL, NULL, "app_backend",
     "connecting to upstream", 0},
    {10, LOG_ERR, 1203, EV_TIMED_OUT, 110, PHASE_CONNECTING, "127.0.12.23:8080", "192.0.2.131",
     "shop.example.com", "GET /healthz HTTP/1.1", "http://127.0.12.23:8080/healthz",
     "shop.example.com", NULL, NULL, NULL, "connecting to upstream", 0},
    {11, LOG_ERR, 1210, EV_CONNECT_FAILED, 113, PHASE_CONNECTING, "127.0.12.24:8080",
     "203.0.113.45", "shop.example.com", "GET /api/v2/stock HTTP/1.1",
     "http://127.0.12.24:8080/api/v2/stock", "shop.example.com", NULL, NULL, NULL,
     "connecting to upstream", 0},
    {12, LOG_ERR, 1214, EV_CONNECT_FAILED, 101, PHASE_CONNECTING, "127.20.0.5:8443",
     "198.51.100.23", "shop.example.com", "GET /reports/daily.csv HTTP/1.1",
     "https://127.20.0.5:8443/reports/daily.csv", "shop.example.com", NULL, "127.20.0.5:8443", NULL,
     "connecting to upstream", 0},
    {13, LOG_ERR, 1215, EV_CONNECT_FAILED, 101, PHASE_CONNECTING, "[::1]:8080", "2001:db8:ff::9",
     "shop.example.com", "GET /api/v2/me HTTP/2.0", "http://[::1]:8080/api/v2/me",
     "shop.example.com", NULL, "[::1]:8080", NULL, "connecting to upstream", 0},
    {14, LOG_CRIT, 1220, EV_CONNECT_FAILED, 99, PHASE_CONNECTING, "127.0.12.21:8080",
     "203.0.113.88", "shop.example.com", "GET /api/v2/orders HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/orders", "shop.example.com", NULL, "127.0.12.21:8080", NULL,
     "connecting to upstream", 0},
    {15, LOG_WARNING, 0, EV_WORKER_CONNECTIONS, 0, PHASE_NONE, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, "1024", NULL, NULL, 0},
    {16, LOG_ALERT, 1226, EV_WORKER_CONNECTIONS, 0, PHASE_CONNECTING, "127.0.12.22:8080",
     "198.51.100.40", "shop.example.com", "GET /search?q=boots HTTP/1.1",
     "http://127.0.12.22:8080/search?q=boots", "shop.example.com", NULL, "1024", NULL,
     "connecting to upstream", 0},
    {17, LOG_ALERT, 1227, EV_TOO_MANY_FILES, 24, PHASE_CONNECTING, "127.0.12.21:8080",
     "198.51.100.41", "shop.example.com", "GET /search?q=hats HTTP/1.1",
     "http://127.0.12.21:8080/search?q=hats", "shop.example.com", NULL, NULL, NULL,
     "connecting to upstream", 0},
    {18, LOG_CRIT, 2001, EV_CONNECT_FAILED, 2, PHASE_CONNECTING, "unix:/run/php/php8.2-fpm.sock",
     "203.0.113.9", "blog.example.org", "GET /index.php HTTP/1.1",
     "fastcgi://unix:/run/php/php8.2-fpm.sock:", "blog.example.org", NULL,
     "unix:/run/php/php8.2-fpm.sock", NULL, "connecting to upstream", 0},
    {19, LOG_CRIT, 2004, EV_CONNECT_FAILED, 13, PHASE_CONNECTING, "unix:/run/php/php8.2-fpm.sock",
     "203.0.113.9", "blog.example.org", "GET /wp-admin/ HTTP/1.1",
     "fastcgi://unix:/run/php/php8.2-fpm.sock:", "blog.example.org",
     "https://blog.example.org/wp-login.php", "unix:/run/php/php8.2-fpm.sock", NULL,
     "connecting to upstream", 0},
    {20, LOG_ERR, 2007, EV_CONNECT_FAILED, 11, PHASE_CONNECTING, "unix:/run/php/php8.2-fpm.sock",
     "198.51.100.77", "blog.example.org", "POST /wp-admin/admin-ajax.php HTTP/1.1",
     "fastcgi://unix:/run/php/php8.2-fpm.sock:", "blog.example.org",
     "https://blog.example.org/wp-admin/post.php?post=88&action=edit",
     "unix:/run/php/php8.2-fpm.sock", NULL, "connecting to upstream", 0},
    {21, LOG_ERR, 2009, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "unix:/run/php/php8.2-fpm.sock",
     "203.0.113.9", "blog.example.org", "GET /feed/ HTTP/1.1",
     "fastcgi://unix:/run/php/php8.2-fpm.sock:", "blog.example.org", NULL,
     "unix:/run/php/php8.2-fpm.sock", NULL, "connecting to upstream", 0},
    {22, LOG_ERR, 2012, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "127.0.0.1:9000", "192.0.2.60",
     "blog.example.org", "GET /?p=42 HTTP/1.1", "fastcgi://127.0.0.1:9000", "blog.example.org",
     NULL, NULL, NULL, "connecting to upstream", 0},
    {23, LOG_ERR, 2015, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "unix:/run/gunicorn/app.sock",
     "192.0.2.61", "app.example.org", "GET /accounts/login/?next=/dashboard/ HTTP/1.1",
     "http://unix:/run/gunicorn/app.sock:/accounts/login/?next=/dashboard/", "app.example.org",
     NULL, "unix:/run/gunicorn/app.sock", NULL, "connecting to upstream", 0},
    {24, LOG_ERR, 2016, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "127.0.0.1:3031", "192.0.2.62",
     "app.example.org", "GET /legacy/report HTTP/1.1", "uwsgi://127.0.0.1:3031", "app.example.org",
     NULL, NULL, NULL, "connecting to upstream", 0},
    {25, LOG_ERR, 3001, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "127.0.30.7:50051",
     "198.51.100.200", "grpc.example.net", "POST /helloworld.Greeter/SayHello HTTP/2.0",
     "grpc://127.0.30.7:50051", "grpc.example.net", NULL, NULL, NULL, "connecting to upstream", 0},
    {26, LOG_CRIT, 3001, EV_CONNECT_FAILED, 2, PHASE_CONNECTING, "unix:/run/grpc/orders.sock",
     "198.51.100.200", "grpc.example.net", "POST /orders.v1.Orders/Get HTTP/2.0",
     "grpc://unix:/run/grpc/orders.sock:", "grpc.example.net", NULL, "unix:/run/grpc/orders.sock",
     NULL, "connecting to upstream", 0},
    {27, LOG_ERR, 3005, EV_INVALID_HEADER, 0, PHASE_READING_HEADER, "127.0.30.8:8080",
     "198.51.100.201", "grpc.example.net", "POST /helloworld.Greeter/SayHello HTTP/2.0",
     "grpc://127.0.30.8:8080", "grpc.example.net", NULL, "4740180", NULL,
     "reading response header from upstream", 0},
    {28, LOG_ERR, 4001, EV_SSL_HANDSHAKE_FAILED, 0, PHASE_SSL_HANDSHAKE, "127.0.12.21:8080",
     "203.0.113.17", "pay.example.com", "GET /checkout HTTP/1.1",
     "https://127.0.12.21:8080/checkout", "pay.example.com", NULL,
     "error:0A00010B:SSL routines::wrong version number", NULL, "SSL handshaking to upstream", 0},
    {29, LOG_ERR, 4003, EV_SSL_HANDSHAKE_FAILED, 0, PHASE_SSL_HANDSHAKE, "127.203.113.250:443",
     "203.0.113.17", "pay.example.com", "POST /v1/charges HTTP/1.1",
     "https://127.203.113.250:443/v1/charges", "pay.example.com", NULL,
     "error:0A000410:SSL routines::sslv3 alert handshake failure:SSL "
     "alert number 40",
     NULL, "SSL handshaking to upstream", 0},
    {30, LOG_CRIT, 4005, EV_SSL_HANDSHAKE_FAILED, 0, PHASE_SSL_HANDSHAKE, "127.203.113.251:443",
     "203.0.113.18", "pay.example.com", "POST /v1/refunds HTTP/1.1",
     "https://127.203.113.251:443/v1/refunds", "pay.example.com", NULL,
     "error:0A000458:SSL routines::tlsv1 unrecognized name:SSL alert "
     "number 112",
     NULL, "SSL handshaking to upstream", 0},
    {31, LOG_ERR, 4007, EV_SSL_HANDSHAKE_FAILED, 0, PHASE_SSL_HANDSHAKE, "127.0.12.30:443",
     "203.0.113.19", "pay.example.com", "GET /status HTTP/1.1", "https://127.0.12.30:443/status",
     "pay.example.com", NULL, NULL, NULL, "SSL handshaking to upstream", 0},
    {32, LOG_ERR, 4008, EV_SSL_HANDSHAKE_FAILED, 104, PHASE_SSL_HANDSHAKE, "127.0.12.31:443",
     "203.0.113.19", "pay.example.com", "GET /status HTTP/1.1", "https://127.0.12.31:443/status",
     "pay.example.com", NULL, NULL, NULL, "SSL handshaking to upstream", 0},
    {33, LOG_ERR, 4010, EV_SSL_VERIFY_FAILED, 0, PHASE_SSL_HANDSHAKE, "127.0.12.32:443",
     "203.0.113.20", "pay.example.com", "GET /v1/balance HTTP/1.1",
     "https://127.0.12.32:443/v1/balance", "pay.example.com", NULL,
     "20:unable to get local issuer certificate", NULL, "SSL handshaking to upstream", 0},
    {34, LOG_ERR, 4012, EV_SSL_VERIFY_FAILED, 0, PHASE_SSL_HANDSHAKE, "127.0.12.33:443",
     "203.0.113.21", "pay.example.com", "GET /v1/balance HTTP/1.1",
     "https://127.0.12.33:443/v1/balance", "pay.example.com", NULL, "10:certificate has expired",
     NULL, "SSL handshaking to upstream", 0},
    {35, LOG_ERR, 4013, EV_SSL_VERIFY_FAILED, 0, PHASE_SSL_HANDSHAKE, "127.0.12.34:443",
     "203.0.113.21", "pay.example.com", "GET /v1/balance HTTP/1.1",
     "https://127.0.12.34:443/v1/balance", "pay.example.com", NULL, "18:self-signed certificate",
     NULL, "SSL handshaking to upstream", 0},
    {36, LOG_ERR, 4015, EV_SSL_NAME_MISMATCH, 0, PHASE_SSL_HANDSHAKE, "127.0.12.35:443",
     "203.0.113.22", "pay.example.com", "GET /v1/balance HTTP/1.1",
     "https://127.0.12.35:443/v1/balance", "pay.example.com", NULL, NULL,
     "payments.internal.example.com", "SSL handshaking to upstream", 0},
    {37, LOG_ERR, 4017, EV_TIMED_OUT, 110, PHASE_SSL_HANDSHAKE, "127.0.12.36:443", "203.0.113.23",
     "pay.example.com", "GET /v1/balance HTTP/1.1", "https://127.0.12.36:443/v1/balance",
     "pay.example.com", NULL, NULL, NULL, "SSL handshaking to upstream", 0},
    {38, LOG_CRIT, 4019, EV_RECV_FAILED, 0, PHASE_READING_HEADER, "127.0.12.37:443", "203.0.113.24",
     "pay.example.com", "GET /v1/payouts HTTP/1.1", "https://127.0.12.37:443/v1/payouts",
     "pay.example.com", NULL,
     "error:0A00045C:SSL routines::tlsv13 alert certificate required:SSL "
     "alert number 116",
     NULL, "reading response header from upstream", 0},
    {39, LOG_WARNING, 5001, EV_OTHER, 0, PHASE_NONE, NULL, "198.51.100.90", "upload.example.com",
     "POST /upload/video HTTP/1.1", NULL, "upload.example.com", NULL, NULL, NULL, NULL, 0},
    {40, LOG_ERR, 5001, EV_TIMED_OUT, 110, PHASE_SENDING_REQUEST, "127.0.40.2:9000",
     "198.51.100.90", "upload.example.com", "POST /upload/video HTTP/1.1",
     "http://127.0.40.2:9000/upload/video", "upload.example.com", NULL, NULL, NULL,
     "sending request to upstream", 0},
    {41, LOG_ERR, 5004, EV_SEND_FAILED, 32, PHASE_SENDING_REQUEST, "127.0.40.3:3031",
     "198.51.100.91", "upload.example.com", "POST /upload/avatar HTTP/1.1",
     "uwsgi://127.0.40.3:3031", "upload.example.com", NULL, NULL, NULL,
     "sending request to upstream", 0},
    {42, LOG_ERR, 1302, EV_TIMED_OUT, 110, PHASE_READING_HEADER, "127.0.12.22:8080", "203.0.113.45",
     "shop.example.com", "GET /api/v2/reports/annual?year=2024 HTTP/1.1",
     "http://127.0.12.22:8080/api/v2/reports/annual?year=2024", "shop.example.com",
     "https://shop.example.com/admin/reports", NULL, NULL, "reading response header from upstream",
     0},
    {43, LOG_WARNING, 1305, EV_PEER_DISABLED, 0, PHASE_READING_HEADER, "127.0.12.21:8080",
     "198.51.100.7", "shop.example.com", "GET /api/v2/recommendations HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/recommendations", "shop.example.com", NULL, NULL, NULL,
     "reading response header from upstream", 0},
    {44, LOG_ERR, 1305, EV_TIMED_OUT, 110, PHASE_READING_HEADER, "127.0.12.21:8080", "198.51.100.7",
     "shop.example.com", "GET /api/v2/recommendations HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/recommendations", "shop.example.com", NULL, NULL, NULL,
     "reading response header from upstream", 0},
    {45, LOG_ERR, 1310, EV_PREMATURE_CLOSE, 0, PHASE_READING_HEADER, "127.0.12.22:8080",
     "192.0.2.131", "shop.example.com", "GET /api/v2/orders/99812 HTTP/1.1",
     "http://127.0.12.22:8080/api/v2/orders/99812", "shop.example.com", NULL, "connection", NULL,
     "reading response header from upstream", 0},
    {46, LOG_ERR, 1312, EV_RECV_FAILED, 104, PHASE_READING_HEADER, "127.0.12.22:8080",
     "192.0.2.132", "shop.example.com", "GET /api/v2/orders/99813 HTTP/1.1",
     "http://127.0.12.22:8080/api/v2/orders/99813", "shop.example.com", NULL, NULL, NULL,
     "reading response header from upstream", 0},
    {47, LOG_ERR, 1315, EV_TOO_BIG_HEADER, 0, PHASE_READING_HEADER, "127.0.12.21:8080",
     "203.0.113.45", "shop.example.com", "GET /account/sso/callback?code=9f8e7d HTTP/1.1",
     "http://127.0.12.21:8080/account/sso/callback?code=9f8e7d", "shop.example.com", NULL, NULL,
     NULL, "reading response header from upstream", 0},
    {48, LOG_ERR, 1317, EV_INVALID_HEADER, 0, PHASE_READING_HEADER, "127.0.12.21:8080",
     "203.0.113.46", "shop.example.com", "GET /api/v2/ping HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/ping", "shop.example.com", NULL, "X-Trace-Id: 5f2c\\x0d...",
     NULL, "reading response header from upstream", 0},
    {49, LOG_ERR, 1318, EV_INVALID_HEADER, 0, PHASE_READING_HEADER, "127.0.12.21:8080",
     "203.0.113.46", "shop.example.com", "GET /api/v2/ping HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/ping", "shop.example.com", NULL, "X\\x20...", NULL,
     "reading response header from upstream", 0},
    {50, LOG_ERR, 1320, EV_NO_VALID_HEADER, 0, PHASE_READING_HEADER, "127.0.12.40:22",
     "203.0.113.47", "shop.example.com", "GET /metrics HTTP/1.1", "http://127.0.12.40:22/metrics",
     "shop.example.com", NULL, NULL, NULL, "reading response header from upstream", 0},
    {51, LOG_ERR, 1322, EV_INVALID_HEADER, 0, PHASE_READING_HEADER, "127.0.12.21:8080",
     "203.0.113.48", "shop.example.com", "GET /api/v2/catalog HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/catalog", "shop.example.com", NULL, "Content-Length: 1534",
     NULL, "reading response header from upstream", 0},
    {52, LOG_ERR, 1323, EV_INVALID_BODY, 0, PHASE_READING_HEADER, "127.0.12.22:8080",
     "203.0.113.48", "shop.example.com", "GET /api/v2/catalog HTTP/1.1",
     "http://127.0.12.22:8080/api/v2/catalog", "shop.example.com", NULL, NULL, NULL,
     "reading response header from upstream", 0},
    {53, LOG_ERR, 1324, EV_INVALID_BODY, 0, PHASE_READING_HEADER, "127.0.12.21:8080",
     "203.0.113.48", "shop.example.com", "GET /api/v2/catalog HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/catalog", "shop.example.com", NULL, "Content-Length: -1", NULL,
     "reading response header from upstream", 0},
    {54, LOG_ERR, 1325, EV_INVALID_BODY, 0, PHASE_READING_HEADER, "127.0.12.22:8080",
     "203.0.113.48", "shop.example.com", "GET /api/v2/catalog HTTP/1.1",
     "http://127.0.12.22:8080/api/v2/catalog", "shop.example.com", NULL, "gzip, chunked", NULL,
     "reading response header from upstream", 0},
    {55, LOG_WARNING, 1326, EV_OTHER, 0, PHASE_READING_HEADER, "127.0.12.21:8080", "203.0.113.48",
     "shop.example.com", "GET /api/v2/catalog HTTP/1.1", "http://127.0.12.21:8080/api/v2/catalog",
     "shop.example.com", NULL, NULL, NULL, "reading response header from upstream", 0},
    {56, LOG_ERR, 2101, EV_FASTCGI_STDERR, 0, PHASE_READING_HEADER, "unix:/run/php/php8.2-fpm.sock",
     "192.0.2.200", "blog.example.org",
     "GET /wp-content/plugins/revslider/temp/update_extract/shell.php "
     "HTTP/1.1",
     "fastcgi://unix:/run/php/php8.2-fpm.sock:", "blog.example.org", NULL, "Primary script unknown",
     NULL, "reading response header from upstream", 0},
    {57, LOG_ERR, 2104, EV_FASTCGI_STDERR, 0, PHASE_READING_HEADER, "unix:/run/php/php8.2-fpm.sock",
     "203.0.113.9", "blog.example.org", "GET /2025/03/hello-world/ HTTP/1.1",
     "fastcgi://unix:/run/php/php8.2-fpm.sock:", "blog.example.org", "https://www.google.com/",
     "PHP message: PHP Warning:  Undefined variable $post in /var/www/blog/wp-co"
     "ntent/themes/zen/single.php on line 41; PHP message: PHP Warning: "
     " Undefined array key \"sidebar\" in /var/www/blog/wp-content/themes/zen/fu"
     "nctions.php on line 212",
     NULL, "reading response header from upstream", 0},
    {58, LOG_ERR, 2106, EV_FASTCGI_STDERR, 0, PHASE_NONE, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     "PHP message: PHP Fatal error:  Uncaught Error: Call to undefined "
     "function mysql_connect() in /var/www/blog/legacy/db.php:12",
     NULL, NULL, 0},
    {59, .unparsed = 1},
    {60, .unparsed = 1},
    {61, .unparsed = 1},
    {62, .unparsed = 1},
    {63, LOG_ERR, 2108, EV_FASTCGI_STDERR, 0, PHASE_READING_HEADER, "127.0.0.1:9000",
     "198.51.100.6", "blog.example.org", "GET /info.php HTTP/1.1", "fastcgi://127.0.0.1:9000",
     "blog.example.org", NULL,
     "Unable to open primary script: /var/www/blog/info.php (No such "
     "file or directory)",
     NULL, "reading response header from upstream", 0},
    {64, LOG_ERR, 2110, EV_PREMATURE_CLOSE, 0, PHASE_READING_HEADER,
     "unix:/run/php/php8.2-fpm.sock", "203.0.113.9", "blog.example.org",
     "POST /wp-admin/async-upload.php HTTP/1.1", "fastcgi://unix:/run/php/php8.2-fpm.sock:",
     "blog.example.org", NULL, "connection", NULL, "reading response header from upstream", 0},
    {65, LOG_ERR, 2112, EV_PREMATURE_CLOSE, 0, PHASE_READING_HEADER,
     "unix:/run/php/php8.2-fpm.sock", "203.0.113.9", "blog.example.org",
     "GET /wp-cron.php?doing_wp_cron=1741943826.1234 HTTP/1.1",
     "fastcgi://unix:/run/php/php8.2-fpm.sock:", "blog.example.org", NULL, "FastCGI stdout", NULL,
     "reading response header from upstream", 0},
    {66, LOG_ERR, 2114, EV_INVALID_HEADER, 0, PHASE_READING_HEADER, "127.0.0.1:9000",
     "203.0.113.10", "blog.example.org", "GET /shop/cart.php HTTP/1.1", "fastcgi://127.0.0.1:9000",
     "blog.example.org", NULL, "abc", NULL, "reading response header from upstream", 0},
    {67, LOG_ERR, 2116, EV_TIMED_OUT, 110, PHASE_READING_HEADER, "unix:/run/php/php8.2-fpm.sock",
     "198.51.100.5", "blog.example.org", "POST /wp-admin/admin-ajax.php HTTP/1.1",
     "fastcgi://unix:/run/php/php8.2-fpm.sock:", "blog.example.org",
     "https://blog.example.org/wp-admin/", NULL, NULL, "reading response header from upstream", 0},
    {68, LOG_ERR, 1401, EV_PREMATURE_CLOSE, 0, PHASE_READING_UPSTREAM, "127.0.12.21:8080",
     "203.0.113.60", "shop.example.com", "GET /downloads/catalog-2025.pdf HTTP/1.1",
     "http://127.0.12.21:8080/downloads/catalog-2025.pdf", "shop.example.com", NULL, "connection",
     NULL, "reading upstream", 0},
    {69, LOG_ERR, 1403, EV_TIMED_OUT, 110, PHASE_READING_UPSTREAM, "127.0.12.22:8080",
     "203.0.113.61", "shop.example.com", "GET /api/v2/export?format=csv HTTP/1.1",
     "http://127.0.12.22:8080/api/v2/export?format=csv", "shop.example.com", NULL, NULL, NULL,
     "reading upstream", 0},
    {70, LOG_ERR, 1405, EV_RECV_FAILED, 104, PHASE_READING_UPSTREAM, "127.0.12.21:8080",
     "203.0.113.62", "shop.example.com", "GET /api/v2/export?format=xlsx HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/export?format=xlsx", "shop.example.com", NULL, NULL, NULL,
     "reading upstream", 0},
    {71, LOG_ERR, 1407, EV_RECV_FAILED, 104, PHASE_READING_UPSTREAM, "127.0.12.22:8080",
     "203.0.113.63", "shop.example.com", "GET /events/stream HTTP/1.1",
     "http://127.0.12.22:8080/events/stream", "shop.example.com", NULL, NULL, NULL,
     "reading upstream", 0},
    {72, LOG_ERR, 1409, EV_INVALID_BODY, 0, PHASE_READING_UPSTREAM, "127.0.12.21:8080",
     "203.0.113.64", "shop.example.com", "GET /api/v2/feed HTTP/1.1",
     "http://127.0.12.21:8080/api/v2/feed", "shop.example.com", NULL, NULL, NULL,
     "reading upstream", 0},
    {73, LOG_INFO, 1411, EV_TIMED_OUT, 110, PHASE_UPGRADED, "127.0.12.21:8080", "203.0.113.65",
     "shop.example.com", "GET /ws/notifications HTTP/1.1",
     "http://127.0.12.21:8080/ws/notifications", "shop.example.com", NULL, NULL, NULL,
     "proxying upgraded connection", 0},
    {74, LOG_INFO, 1413, EV_OTHER, 0, PHASE_SENDING_REQUEST, "127.0.12.22:8080", "198.51.100.99",
     "shop.example.com", "GET /api/v2/reports/annual?year=2023 HTTP/1.1",
     "http://127.0.12.22:8080/api/v2/reports/annual?year=2023", "shop.example.com", NULL, NULL,
     NULL, "sending request to upstream", 0},
    {75, LOG_ERR, 6001, EV_RESOLVE_FAILED, 3, PHASE_NONE, NULL, "127.244.1.17", "gw.example.com",
     "GET /orders/v1/list HTTP/1.1", NULL, "gw.example.com", NULL, "orders.prod.svc.cluster.local",
     "orders.prod.svc.cluster.local", NULL, 0},
    {76, LOG_ERR, 0, EV_SEND_FAILED, 111, PHASE_RESOLVING, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, "resolving", 0},
    {77, LOG_ERR, 6003, EV_RESOLVE_FAILED, 110, PHASE_NONE, NULL, "127.244.1.18", "gw.example.com",
     "POST /payments/v1/charge HTTP/1.1", NULL, "gw.example.com", NULL,
     "payments.prod.svc.cluster.local", "payments.prod.svc.cluster.local", NULL, 0},
    {78, LOG_ERR, 6005, EV_RESOLVE_FAILED, 2, PHASE_NONE, NULL, "127.244.1.19", "gw.example.com",
     "GET /inventory/v1/sku/4411 HTTP/1.1", NULL, "gw.example.com", NULL,
     "inventory.prod.svc.cluster.local", "inventory.prod.svc.cluster.local", NULL, 0},
    {79, LOG_ERR, 6007, EV_NO_RESOLVER, 0, PHASE_NONE, NULL, "127.244.1.20", "gw.example.com",
     "GET /partner/quote HTTP/1.1", NULL, "gw.example.com", NULL, "api.partner.example",
     "api.partner.example", NULL, 0},
    {80, LOG_ERR, 6009, EV_OTHER, 0, PHASE_NONE, NULL, "127.244.1.21", "gw.example.com",
     "GET /legacy/index.php HTTP/1.1", NULL, "gw.example.com", NULL, NULL, "php-fpm", NULL, 0},
    {81, LOG_ERR, 7001, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "127.0.50.2:8080", "203.0.113.70",
     "www.example.com", "GET /index.shtml HTTP/1.1", "http://127.0.50.2:8080/fragments/header",
     "www.example.com", NULL, NULL, NULL, "connecting to upstream", 0},
    {82, LOG_ERR, 7002, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "127.0.0.1:8080", "203.0.113.71",
     "", "GET / HTTP/1.0", "http://127.0.0.1:8080/", NULL, NULL, NULL, NULL,
     "connecting to upstream", 0},
    {83, LOG_ERR, 7003, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, "127.0.0.1:8080", "203.0.113.72",
     "www.example.com", "GET /search?q=\"shoes\"&lang=café HTTP/1.1",
     "http://127.0.0.1:8080/search?q=\"shoes\"&lang=café", "www.example.com",
     "https://evil.example/?x=\"a\", host: \"spoof\"", NULL, NULL, "connecting to upstream", 0},
    {84, LOG_ERR, 7004, EV_CONNECT_FAILED, 111, PHASE_CONNECTING, NULL, "203.0.113.73",
     "www.example.com", "*", NULL, NULL, NULL, NULL, NULL, "connecting to upstream", 0},
};

/* The corpus as physical lines (each an exact-size heap copy, no NUL). */
struct corpus_line {
	char *p;
	size_t len;
};
static struct corpus_line lines[128];
static size_t nlines;

static void load_corpus(void)
{
	FILE *f = fopen(FIXTURES "/nginx-error-samples.log", "r");
	CHECK(f != NULL);
	if (!f)
		return;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&buf, &cap, f)) > 0 && nlines < 128) {
		if (buf[n - 1] == '\n')
			n--;
		lines[nlines].p = malloc((size_t)n ? (size_t)n : 1);
		memcpy(lines[nlines].p, buf, (size_t)n);
		lines[nlines].len = (size_t)n;
		nlines++;
	}
	free(buf);
	fclose(f);
}

/* Expected epoch of a corpus line under TZ=UTC, computed independently. */
static time_t utc_of(const char *p)
{
	struct tm tm = {0};
	tm.tm_year = atoi(p) - 1900;
	tm.tm_mon = atoi(p + 5) - 1;
	tm.tm_mday = atoi(p + 8);
	tm.tm_hour = atoi(p + 11);
	tm.tm_min = atoi(p + 14);
	tm.tm_sec = atoi(p + 17);
	return timegm(&tm);
}

static void test_corpus_entries_parse_to_expected_fields(void)
{
	CHECK_INT(nlines, 84);
	CHECK_INT(sizeof(corpus) / sizeof(corpus[0]), 84);
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]) && i < nlines; i++) {
		const struct expect *x = &corpus[i];
		const struct corpus_line *l = &lines[x->line - 1];
		struct errlog_event ev;
		int r = errlog_parse(l->p, l->len, &ev);
		CHECK_INT(x->line, (int)i + 1);
		if (x->unparsed) {
			CHECK_INT(r, -EINVAL);
			continue;
		}
		CHECK_INT(r, 0);
		if (r != 0) {
			fprintf(stderr, "  line %d\n", x->line);
			continue;
		}
		int before = harness_failures;
		CHECK(spans_inside(&ev, l->p, l->len));
		CHECK_INT(ev.time, utc_of(l->p));
		CHECK_INT(ev.level, x->level);
		CHECK_INT(ev.pid, ev.tid); /* the corpus has main-thread lines only */
		CHECK_INT(ev.conn, x->conn);
		CHECK_STR(errlog_kind_name(ev.kind), errlog_kind_name(x->kind));
		CHECK_INT(ev.err, x->err);
		CHECK_STR(errlog_phase_name(ev.phase), errlog_phase_name(x->phase));
		CHECK_INT(ev.has_peer, x->peer != NULL);
		if (x->peer && ev.has_peer)
			CHECK_STR(ev.peer.key, x->peer);
		CHECK_SPAN(ev.client, x->client);
		CHECK_SPAN(ev.server, x->server);
		if (!x->request || strcmp(x->request, "*") != 0)
			CHECK_SPAN(ev.request, x->request);
		CHECK_SPAN(ev.upstream, x->upstream);
		CHECK_SPAN(ev.host, x->host);
		CHECK_SPAN(ev.referrer, x->referrer);
		CHECK_SPAN(ev.detail, x->detail);
		CHECK_SPAN(ev.name, x->name);
		CHECK_SPAN(ev.action, x->action);
		if (harness_failures != before)
			fprintf(stderr, "  ^ corpus line %d\n", x->line);
	}
}

static void test_corpus_pids_and_errno_texts(void)
{
	struct errlog_event ev;
	CHECK_INT(errlog_parse(lines[9].p, lines[9].len, &ev), 0); /* line 10 */
	CHECK_INT(ev.pid, 23818);
	CHECK_INT(ev.tid, 23818);
	CHECK_STR(str(ev.message), "upstream timed out");
	CHECK_STR(str(ev.errtext), "Connection timed out");
	CHECK_INT(errlog_parse(lines[76].p, lines[76].len, &ev), 0); /* line 77 */
	CHECK_STR(str(ev.errtext), "Operation timed out");
	CHECK_STR(str(ev.message), "payments.prod.svc.cluster.local could not be resolved");
}

static void test_continuation_lines_are_not_entries(void)
{
	struct errlog_event ev;
	for (int ln = 59; ln <= 62; ln++)
		CHECK_INT(errlog_parse(lines[ln - 1].p, lines[ln - 1].len, &ev), -EINVAL);
	/* The entry's first line parses with what it has: stderr text, no context. */
	CHECK_INT(errlog_parse(lines[57].p, lines[57].len, &ev), 0);
	CHECK_INT(ev.kind, EV_FASTCGI_STDERR);
	CHECK(!ev.client.p && !ev.upstream.p && !ev.has_peer);
}

static void test_line_cut_at_2047_keeps_what_is_there(void)
{
	const struct corpus_line *l = &lines[83];
	struct errlog_event ev;
	CHECK_INT(l->len, 2047);
	CHECK_INT(errlog_parse(l->p, l->len, &ev), 0);
	CHECK_INT(ev.kind, EV_CONNECT_FAILED);
	CHECK_INT(ev.err, 111);
	CHECK_STR(str(ev.client), "203.0.113.73");
	/* The request runs to the end of the line: no closing quote. */
	CHECK(ev.request.p != NULL);
	CHECK(ev.request.p + ev.request.len == l->p + l->len);
	CHECK_STR(str(ev.method), "GET");
	CHECK(ev.uri.p == ev.request.p + 4 && ev.uri.len == ev.request.len - 4);
	CHECK(has_prefix_str(ev.uri, "/search?q=AAAA"));
	CHECK(!ev.upstream.p && !ev.host.p && !ev.referrer.p && !ev.has_peer);

	/* Cut inside the upstream field: the peer is still there, the URI partly. */
	CHECK_INT(parse(HDR "connect() failed (111: Connection refused) while connecting to "
			    "upstream, client: 10.0.0.1, server: a, request: \"GET /x HTTP/1.1\", "
			    "upstream: \"http://127.0.0.1:8080/x",
			&ev),
		  0);
	CHECK_SPAN(ev.upstream, "http://127.0.0.1:8080/x");
	CHECK_STR(ev.peer.key, "127.0.0.1:8080");
	CHECK_SPAN(ev.request, "GET /x HTTP/1.1");
	CHECK_SPAN(ev.host, NULL);

	/* Stopped inside the action but far shorter than nginx's cut: nothing
	 * says upstream, so it is other (both entry points agree); the errno
	 * and the action text are still parsed. */
	CHECK_INT(parse(HDR "connect() failed (111: Connection refused) while connec", &ev), 0);
	CHECK_INT(ev.kind, EV_OTHER);
	CHECK_INT(ev.err, 111);
	CHECK_SPAN(ev.action, "connec");
	CHECK_INT(ev.phase, PHASE_OTHER);

	/* Cut inside ", client: " itself. */
	CHECK_INT(parse(HDR "upstream timed out (110: Connection timed out) while reading "
			    "upstream, cli",
			&ev),
		  0);
	CHECK_INT(ev.kind, EV_TIMED_OUT);
	CHECK_SPAN(ev.action, "reading upstream, cli");
	CHECK_SPAN(ev.client, NULL);

	/* Cut inside a FastCGI stderr text holding " while ": not an action. */
	CHECK_INT(parse(HDR "FastCGI sent in stderr: \"PHP Warning: error while reading "
			    "config in /x.php",
			&ev),
		  0);
	CHECK_INT(ev.kind, EV_FASTCGI_STDERR);
	CHECK_SPAN(ev.detail, "PHP Warning: error while reading config in /x.php");
	CHECK_SPAN(ev.action, NULL);
	CHECK_INT(ev.phase, PHASE_NONE);
}

static void test_every_prefix_of_every_entry_stays_inside(void)
{
	/* Each corpus line cut at every length, in an exact-size buffer. */
	for (size_t i = 0; i < nlines; i++) {
		for (size_t n = 0; n <= lines[i].len; n++) {
			char *b = malloc(n ? n : 1);
			memcpy(b, lines[i].p, n);
			struct errlog_event ev;
			int r = errlog_parse(b, n, &ev);
			if (r == 0 && !spans_inside(&ev, b, n)) {
				fprintf(stderr, "line %zu cut at %zu: span outside\n", i + 1, n);
				harness_failures++;
			}
			if (r != 0 && r != -EINVAL)
				harness_failures++;
			free(b);
		}
	}
}

/* ---- spoofing ------------------------------------------------------------- */

static void test_referrer_spoofing_host_stays_in_referrer(void)
{
	struct errlog_event ev;
	CHECK_INT(errlog_parse(lines[82].p, lines[82].len, &ev), 0); /* corpus line 83 */
	CHECK_SPAN(ev.host, "www.example.com");
	CHECK_SPAN(ev.referrer, "https://evil.example/?x=\"a\", host: \"spoof\"");
	CHECK_SPAN(ev.request, "GET /search?q=\"shoes\"&lang=caf\xc3\xa9 HTTP/1.1");
	CHECK_SPAN(ev.uri, "/search?q=\"shoes\"&lang=caf\xc3\xa9");
	CHECK_STR(ev.peer.key, "127.0.0.1:8080");

	/* A referrer faking the whole context, upstream included. */
	CHECK_INT(parse(HDR "connect() failed (111: Connection refused) while connecting to "
			    "upstream, client: 10.0.0.1, server: shop, "
			    "request: \"GET / HTTP/1.1\", "
			    "upstream: \"http://127.0.0.1:8080/\", host: \"shop\", "
			    "referrer: \"x\", "
			    "client: 6.6.6.6, server: evil, request: \"GET /evil HTTP/1.1\", "
			    "upstream: \"http://127.6.6.6:1/\", host: \"evil\"",
			&ev),
		  0);
	CHECK_SPAN(ev.client, "10.0.0.1");
	CHECK_SPAN(ev.server, "shop");
	CHECK_SPAN(ev.request, "GET / HTTP/1.1");
	CHECK_SPAN(ev.host, "shop");
	CHECK_STR(ev.peer.key, "127.0.0.1:8080");
	CHECK_SPAN(ev.referrer, "x\", client: 6.6.6.6, server: evil, request: \"GET /evil "
				"HTTP/1.1\", upstream: \"http://127.6.6.6:1/\", host: \"evil");

	/* Without a host field, a referrer faking one. */
	CHECK_INT(parse(HDR "upstream timed out (110: Connection timed out) while reading "
			    "response header from upstream, client: 10.0.0.1, server: a, request: "
			    "\"GET / HTTP/1.0\", upstream: \"http://127.0.0.1:8080/\", referrer: "
			    "\"http://r/\", host: \"fake\"",
			&ev),
		  0);
	CHECK_SPAN(ev.host, NULL);
	CHECK_SPAN(ev.referrer, "http://r/\", host: \"fake");

	/* A request line with quotes and a fake field name in its URI. */
	CHECK_INT(parse(HDR "connect() failed (111: Connection refused) while connecting to "
			    "upstream, client: 10.0.0.1, server: a, request: \"GET /a\",host:\"b "
			    "HTTP/1.1\", upstream: \"http://127.0.0.1:8080/a\",host:\"b\", "
			    "host: \"h\"",
			&ev),
		  0);
	CHECK_SPAN(ev.request, "GET /a\",host:\"b HTTP/1.1");
	CHECK_SPAN(ev.upstream, "http://127.0.0.1:8080/a\",host:\"b");
	CHECK_SPAN(ev.host, "h");
}

static void test_message_text_with_context_words_is_message(void)
{
	struct errlog_event ev;
	/* stderr echoing ", client: " and " while ": the real context is later. */
	CHECK_INT(parse(HDR "FastCGI sent in stderr: \"PHP Warning: bad key \"x, client: 6.6.6.6\" "
			    "while parsing\" while reading response header from upstream, client: "
			    "10.0.0.1, server: blog, request: \"GET / HTTP/1.1\", upstream: "
			    "\"fastcgi://unix:/run/php/fpm.sock:\", host: \"blog\"",
			&ev),
		  0);
	CHECK_INT(ev.kind, EV_FASTCGI_STDERR);
	CHECK_SPAN(ev.detail, "PHP Warning: bad key \"x, client: 6.6.6.6\" while parsing");
	CHECK_SPAN(ev.client, "10.0.0.1");
	CHECK_INT(ev.phase, PHASE_READING_HEADER);
	CHECK_STR(ev.peer.key, "unix:/run/php/fpm.sock");

	/* An invalid header echoing "(104: ...)" is not an errno. */
	CHECK_INT(parse(HDR "upstream sent invalid header: \"X: (104: y)\\x0d...\" while reading "
			    "response header from upstream, client: 10.0.0.1, server: a, request: "
			    "\"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:8080/\"",
			&ev),
		  0);
	CHECK_INT(ev.kind, EV_INVALID_HEADER);
	CHECK_INT(ev.err, 0);
	CHECK_SPAN(ev.detail, "X: (104: y)\\x0d...");
}

/* ---- shapes --------------------------------------------------------------- */

static void test_garbage_lines_are_rejected(void)
{
	static const char *const bad[] = {
	    "",
	    "hello",
	    "2025/03/14 09:12:01",
	    "2025/03/14 09:12:01 [error] ",
	    "2025/03/14 09:12:01 [error] 1",
	    "2025/03/14 09:12:01 [error] 1#1",
	    "2025/03/14 09:12:01 [error] x#1: message",
	    "2025/03/14 09:12:01 [error] 1#x: message",
	    "2025/03/14 09:12:01 [errors] 1#1: message",
	    "2025/03/14 09:12:01 [ERROR] 1#1: message",
	    "2025/03/14 09:12:01 error 1#1: message here",
	    "2025/13/14 09:12:01 [error] 1#1: message",
	    "2025/03/00 09:12:01 [error] 1#1: message",
	    "2025/03/14 24:12:01 [error] 1#1: message",
	    "2025/03/14 09:60:01 [error] 1#1: message",
	    "2025-03-14 09:12:01 [error] 1#1: message",
	    "2025/03/14T09:12:01 [error] 1#1: message",
	    "2025/03/14 09:12:01 [error] 99999999999#1: message",
	    "nginx: [emerg] host not found in upstream \"app:3000\" in /etc/nginx/x.conf:14",
	    "127.0.0.1 - - [14/Mar/2025:09:12:01 +0000] \"GET / HTTP/1.1\" "
	    "502 157 \"-\" \"curl\"",
	    "Stack trace:",
	    "#0 /var/www/blog/legacy/index.php(3): require()",
	    "  thrown in /var/www/blog/legacy/db.php on line 12\" while reading "
	    "response header",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct errlog_event ev;
		memset(&ev, 0xa5, sizeof(ev));
		int r = parse(bad[i], &ev);
		if (r != -EINVAL)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK_INT(r, -EINVAL);
		/* ret is written only on success */
		size_t touched = 0;
		for (size_t b = 0; b < sizeof(ev); b++)
			touched += ((unsigned char *)&ev)[b] != 0xa5;
		CHECK_INT(touched, 0);
	}
	/* NULL-free: a NUL inside the line is just a byte. */
	struct errlog_event ev;
	CHECK_INT(errlog_parse("2025/03/14 09:12:01 [error] 1#1: a\0b", 36, &ev), 0);
	CHECK_INT(ev.message.len, 3);
}

static void test_minimal_and_debug_entries_parse(void)
{
	struct errlog_event ev;
	CHECK_INT(parse("2025/03/14 09:12:01 [debug] 37283#0: epoll add event", &ev), 0);
	CHECK_INT(ev.level, LOG_DEBUG);
	CHECK_INT(ev.pid, 37283);
	CHECK_INT(ev.tid, 0);
	CHECK_INT(ev.conn, 0);
	CHECK_INT(ev.kind, EV_OTHER);
	CHECK_SPAN(ev.message, "epoll add event");
	CHECK_INT(parse("2025/03/14 09:12:01 [notice] 1#2: ", &ev), 0);
	CHECK_INT(ev.level, LOG_NOTICE);
	CHECK_INT(ev.tid, 2);
	CHECK_INT(ev.message.len, 0);
	CHECK_INT(parse("2025/03/14 09:12:01 [info] 1#1: *9999999999999999999 x", &ev), 0);
	CHECK(ev.conn == 9999999999999999999ull);
	CHECK_SPAN(ev.message, "x");
	/* Numbers of every length, at the end of the line and before text. */
	uint64_t v = 0;
	for (int digits = 1; digits <= 19; digits++) {
		v = v * 10 + (uint64_t)(digits % 10);
		char line[128];
		snprintf(line, sizeof(line), "2025/03/14 09:12:01 [info] %u#%u: *%llu x",
			 (unsigned)(v % 4294967296u), (unsigned)((v / 3) % 4294967296u),
			 (unsigned long long)v);
		CHECK_INT(parse(line, &ev), 0);
		CHECK_INT(ev.pid, v % 4294967296u);
		CHECK_INT(ev.tid, (v / 3) % 4294967296u);
		CHECK(ev.conn == v);
		snprintf(line, sizeof(line), "2025/03/14 09:12:01 [info] 1#1: *%llu",
			 (unsigned long long)v);
		CHECK_INT(parse(line, &ev), 0);
		CHECK(ev.conn == v);
	}
	CHECK_INT(parse("2025/03/14 09:12:01 [info] 4294967296#1: x", &ev), -EINVAL);
	CHECK_INT(parse("2025/03/14 09:12:01 [info] 1#4294967295: x", &ev), 0);
	CHECK_INT(ev.tid, 4294967295u);
	/* Thread-pool lines carry another tid. */
	CHECK_INT(parse("2025/03/14 09:12:01 [alert] 23817#23830: *5 pread() failed", &ev), 0);
	CHECK_INT(ev.pid, 23817);
	CHECK_INT(ev.tid, 23830);
	CHECK_INT(ev.level, LOG_ALERT);
	/* A tid that starts with the pid's digits, or is a prefix of them, is
	 * its own number (the parser takes tid == pid from the bytes). */
	CHECK_INT(parse("2025/03/14 09:12:01 [error] 23817#238170: x", &ev), 0);
	CHECK_INT(ev.tid, 238170);
	CHECK_INT(parse("2025/03/14 09:12:01 [error] 23817#2381: x", &ev), 0);
	CHECK_INT(ev.tid, 2381);
	CHECK_INT(parse("2025/03/14 09:12:01 [error] 23817#23817: x", &ev), 0);
	CHECK_INT(ev.tid, 23817);
	CHECK_SPAN(ev.message, "x");
	CHECK_INT(parse("2025/03/14 09:12:01 [error] 23817#23817x x", &ev), -EINVAL);
	CHECK_INT(parse("2025/03/14 09:12:01 [error] 23817#23817", &ev), -EINVAL);
	CHECK_INT(parse("2025/03/14 09:12:01 [error] 123456789#123456789: x", &ev), 0);
	CHECK_INT(ev.tid, 123456789);
}

static void test_one_mebibyte_line(void)
{
	size_t big = 1 << 20;
	static const char head[] = HDR "upstream timed out (110: Connection timed out) while "
				       "reading response header from upstream, client: 10.0.0.1, "
				       "server: a, request: \"GET / HTTP/1.1\", upstream: "
				       "\"http://127.0.0.1:8080/\", host: \"a\", referrer: \"";
	char *b = malloc(big);
	memset(b, 'R', big);
	memcpy(b, head, sizeof(head) - 1);
	b[big - 1] = '"';
	struct errlog_event ev;
	CHECK_INT(errlog_parse(b, big, &ev), 0);
	CHECK(spans_inside(&ev, b, big));
	CHECK_INT(ev.kind, EV_TIMED_OUT);
	CHECK_STR(ev.peer.key, "127.0.0.1:8080");
	CHECK_INT(ev.referrer.len, big - (sizeof(head) - 1) - 1);

	/* A 1 MiB message of commas and quotes, no context. */
	memset(b, ',', big);
	memcpy(b, HDR, sizeof(HDR) - 1);
	for (size_t i = sizeof(HDR); i < big; i += 7)
		b[i] = '"';
	CHECK_INT(errlog_parse(b, big, &ev), 0);
	CHECK(spans_inside(&ev, b, big));
	CHECK_INT(ev.kind, EV_OTHER);
	CHECK_SPAN(ev.client, NULL);

	/* 1 MiB of garbage. */
	memset(b, 'x', big);
	CHECK_INT(errlog_parse(b, big, &ev), -EINVAL);
	free(b);
}

/* The request line's two spaces and its end, whatever precedes each space:
 * the usual "METHOD URI PROTO" and the shapes around it (errlog_ctx.h takes
 * the first from one 64-byte mask, the rest from its loop). */
static void test_request_line_spaces_and_separators(void)
{
	static const struct {
		const char *request, *method, *uri;
	} cases[] = {
	    {"GET /x HTTP/1.1", "GET", "/x"},
	    /* no protocol: the second space is the field's end */
	    {"GET /x", "GET", "/x"},
	    /* an old nginx's space in the URI */
	    {"GET /a b HTTP/1.1", "GET", "/a"},
	    /* `", ` inside, not followed by a key */
	    {"GET /a\", b HTTP/1.1", "GET", "/a\","},
	    {"GET /a HTTP/1.1\", zzz: \"q", "GET", "/a"},
	    /* no method */
	    {" /x HTTP/1.1", "", "/x"},
	    {"GET", "GET", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[512];
		struct errlog_event ev;
		snprintf(line, sizeof(line),
			 HDR "connect() failed (111: Connection refused) while connecting to "
			     "upstream, client: 10.0.0.1, server: a, request: \"%s\", upstream: "
			     "\"http://127.0.0.1:8080/x\", host: \"a-long-enough-host.example\"",
			 cases[i].request);
		CHECK_INT(parse(line, &ev), 0);
		CHECK_SPAN(ev.request, cases[i].request);
		CHECK_SPAN(ev.method, cases[i].method);
		CHECK_SPAN(ev.uri, cases[i].uri);
		CHECK_SPAN(ev.upstream, "http://127.0.0.1:8080/x");
		CHECK_SPAN(ev.host, "a-long-enough-host.example");
	}
}

static void test_ipv6_client_and_upstream(void)
{
	struct errlog_event ev;
	CHECK_INT(errlog_parse(lines[12].p, lines[12].len, &ev), 0); /* corpus line 13 */
	CHECK_SPAN(ev.client, "2001:db8:ff::9");
	CHECK_SPAN(ev.scheme, "http");
	CHECK_SPAN(ev.upstream_uri, "/api/v2/me");
	CHECK_INT(ev.peer.kind, PEERKEY_IPV6);
	CHECK_STR(ev.peer.key, "[::1]:8080");

	CHECK_INT(parse(HDR "connect() failed (113: No route to host) while connecting to "
			    "upstream, client: ::ffff:10.0.0.1, server: a, request: \"GET /v6 "
			    "HTTP/1.1\", upstream: \"https://[2001:DB8:0::10]:8443/v6\", "
			    "host: \"a\"",
			&ev),
		  0);
	CHECK_SPAN(ev.client, "::ffff:10.0.0.1");
	CHECK_STR(ev.peer.key, "[2001:db8::10]:8443");
	CHECK_SPAN(ev.upstream_uri, "/v6");

	/* No port: the scheme's default. */
	CHECK_INT(parse(HDR "connect() failed (111: Connection refused) while connecting to "
			    "upstream, client: ::1, server: a, request: \"GET /x HTTP/1.1\", "
			    "upstream: \"http://[::1]/x\"",
			&ev),
		  0);
	CHECK_STR(ev.peer.key, "[::1]:80");
}

static void test_unix_upstreams(void)
{
	struct errlog_event ev;
	CHECK_INT(errlog_parse(lines[22].p, lines[22].len, &ev), 0); /* corpus line 23 */
	CHECK_INT(ev.peer.kind, PEERKEY_UNIX);
	CHECK_STR(ev.peer.key, "unix:/run/gunicorn/app.sock");
	CHECK_SPAN(ev.scheme, "http");
	CHECK_SPAN(ev.upstream_uri, "/accounts/login/?next=/dashboard/");

	CHECK_INT(errlog_parse(lines[17].p, lines[17].len, &ev), 0); /* corpus line 18 */
	CHECK_SPAN(ev.scheme, "fastcgi");
	CHECK_SPAN(ev.upstream_uri, NULL); /* the trailing ":" only */
	CHECK_STR(ev.peer.key, "unix:/run/php/php8.2-fpm.sock");
	CHECK_SPAN(ev.detail, "unix:/run/php/php8.2-fpm.sock");

	CHECK_INT(parse(HDR "connect() to unix:/srv/x.sock failed (2: No such file or directory) "
			    "while connecting to upstream, client: 10.0.0.1, server: a, request: "
			    "\"GET /app/ HTTP/1.1\", upstream: \"http://unix:/srv/x.sock:/app/\"",
			&ev),
		  0);
	CHECK_STR(ev.peer.key, "unix:/srv/x.sock");
	CHECK_SPAN(ev.upstream_uri, "/app/");
}

/* The peer of a line repeated is the peer of its first parse, whatever the
 * spelling: the parser keeps results by the raw text, in a compact slot
 * when the raw text is where the key starts and the key is short, apart
 * otherwise (long names, spellings the key normalises), failures too. */
static void test_repeated_peers_parse_the_same(void)
{
	static const struct {
		const char *up, *key, *host;
		int kind;
		unsigned port;
	} cases[] = {
	    {"http://127.0.0.1:8080", "127.0.0.1:8080", "127.0.0.1", PEERKEY_IPV4, 8080},
	    {"http://192.168.100.200:18080", "192.168.100.200:18080", "192.168.100.200",
	     PEERKEY_IPV4, 18080},
	    {"http://LOCALHOST:8080", "localhost:8080", "localhost", PEERKEY_HOST, 8080},
	    {"https://app", "app:443", "app", PEERKEY_HOST, 443},
	    {"http://Backend.Example:81", "backend.example:81", "backend.example", PEERKEY_HOST,
	     81},
	    {"http://orders-api.production.svc.cluster.local:8443",
	     "orders-api.production.svc.cluster.local:8443",
	     "orders-api.production.svc.cluster.local", PEERKEY_HOST, 8443},
	    {"http://[::1]:8080", "[::1]:8080", "::1", PEERKEY_IPV6, 8080},
	    {"http://[2001:db8:85a3::8a2e:370:7334]:8080", "[2001:db8:85a3::8a2e:370:7334]:8080",
	     "2001:db8:85a3::8a2e:370:7334", PEERKEY_IPV6, 8080},
	    {"http://[2001:DB8:0::10]:8443", "[2001:db8::10]:8443", "2001:db8::10", PEERKEY_IPV6,
	     8443},
	    {"http://unix:/run/php/php8.2-fpm.sock:", "unix:/run/php/php8.2-fpm.sock",
	     "/run/php/php8.2-fpm.sock", PEERKEY_UNIX, 0},
	    {"http://unix:/var/lib/some/rather/long/path/to/the/app.sock:",
	     "unix:/var/lib/some/rather/long/path/to/the/app.sock",
	     "/var/lib/some/rather/long/path/to/the/app.sock", PEERKEY_UNIX, 0},
	    {"fastcgi://php-fpm", NULL, NULL, 0, 0},
	    {"fastcgi://a-rather-long-name-without-any-port.example", NULL, NULL, 0, 0},
	};
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char line[512];
			snprintf(line, sizeof(line),
				 HDR
				 "upstream prematurely closed connection while reading upstream, "
				 "client: 10.0.0.1, server: a, request: \"GET / HTTP/1.1\", "
				 "upstream: \"%s/\"",
				 cases[i].up);
			struct errlog_event ev;
			memset(&ev, 0x5a, sizeof(ev));
			CHECK_INT(parse(line, &ev), 0);
			CHECK_INT(ev.has_peer, cases[i].key != NULL);
			if (!cases[i].key) {
				CHECK_STR(ev.peer.key, "");
				continue;
			}
			CHECK_STR(ev.peer.key, cases[i].key);
			CHECK_STR(ev.peer.host, cases[i].host);
			CHECK_INT(ev.peer.kind, cases[i].kind);
			CHECK_INT(ev.peer.port, cases[i].port);
		}
	}
}

static void test_schemes_and_default_ports(void)
{
	static const struct {
		const char *up, *scheme, *key, *uri;
	} cases[] = {
	    {"fastcgi://127.0.0.1:9000", "fastcgi", "127.0.0.1:9000", NULL},
	    {"http://Backend.Example/x?y=1", "http", "backend.example:80", "/x?y=1"},
	    {"https://api.example/", "https", "api.example:443", "/"},
	    {"grpcs://127.0.0.1:18090", "grpcs", "127.0.0.1:18090", NULL},
	    {"grpc://unix:/srv/lab/run/grpc.sock:", "grpc", "unix:/srv/lab/run/grpc.sock", NULL},
	    {"uwsgi://unix:/srv/lab/run/uwsgi.sock:", "uwsgi", "unix:/srv/lab/run/uwsgi.sock",
	     NULL},
	    {"scgi://127.0.0.1:4000", "scgi", "127.0.0.1:4000", NULL},
	    {"http://127.0.0.1:8080?q", "http", "127.0.0.1:8080", "?q"},
	    {"fastcgi://php-fpm", "fastcgi", NULL, NULL}, /* no port, no default */
	    {"nonsense", NULL, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[512];
		snprintf(line, sizeof(line),
			 HDR "upstream prematurely closed connection while reading response header "
			     "from upstream, client: 10.0.0.1, server: a, request: \"GET / "
			     "HTTP/1.1\", "
			     "upstream: \"%s\", host: \"a\"",
			 cases[i].up);
		struct errlog_event ev;
		CHECK_INT(parse(line, &ev), 0);
		CHECK_SPAN(ev.upstream, cases[i].up);
		CHECK_SPAN(ev.scheme, cases[i].scheme);
		CHECK_SPAN(ev.upstream_uri, cases[i].uri);
		CHECK_INT(ev.has_peer, cases[i].key != NULL);
		if (cases[i].key)
			CHECK_STR(ev.peer.key, cases[i].key);
		else
			CHECK_STR(ev.peer.key, "");
		CHECK_SPAN(ev.host, "a");
	}
}

static void test_missing_fields(void)
{
	struct errlog_event ev;
	/* corpus line 82: empty server name, no host (HTTP/1.0) */
	CHECK_INT(errlog_parse(lines[81].p, lines[81].len, &ev), 0);
	CHECK_SPAN(ev.server, "");
	CHECK_SPAN(ev.host, NULL);
	CHECK_SPAN(ev.request, "GET / HTTP/1.0");

	/* Before a request exists: server is the listen address, nothing else. */
	CHECK_INT(parse(HDR "peer closed connection in SSL handshake (104: Connection reset by "
			    "peer) while SSL handshaking, client: 10.0.0.1, server: 0.0.0.0:443",
			&ev),
		  0);
	CHECK_SPAN(ev.client, "10.0.0.1");
	CHECK_SPAN(ev.server, "0.0.0.0:443");
	CHECK_SPAN(ev.request, NULL);
	CHECK_SPAN(ev.action, "SSL handshaking");
	CHECK_INT(ev.kind, EV_OTHER); /* the client's handshake, not an upstream's */

	/* HTTP/0.9 request line: method and URI only. */
	CHECK_INT(parse(HDR "upstream timed out (110: Connection timed out) while reading "
			    "response header from upstream, client: 10.0.0.1, server: a, request: "
			    "\"GET /old\", upstream: \"http://127.0.0.1:8080/old\"",
			&ev),
		  0);
	CHECK_SPAN(ev.method, "GET");
	CHECK_SPAN(ev.uri, "/old");
	CHECK_SPAN(ev.host, NULL);

	/* subrequest (corpus line 81) */
	CHECK_INT(errlog_parse(lines[80].p, lines[80].len, &ev), 0);
	CHECK_SPAN(ev.request, "GET /index.shtml HTTP/1.1");
	CHECK_SPAN(ev.subrequest, "/fragments/header");
	CHECK_SPAN(ev.upstream_uri, "/fragments/header");

	/* resolver context (corpus line 76) */
	CHECK_INT(errlog_parse(lines[75].p, lines[75].len, &ev), 0);
	CHECK_SPAN(ev.resolver, "127.96.0.10:53");
	CHECK_SPAN(ev.client, NULL);
	CHECK_INT(ev.has_peer, 0);
}

/* ---- kinds ---------------------------------------------------------------- */

static void test_catalog_messages_map_to_kinds(void)
{
	static const struct {
		const char *msg;
		enum errlog_kind kind;
		int err;
		const char *detail;
	} cases[] = {
	    {"kevent() reported that connect() failed (111: Connection refused) while "
	     "connecting to upstream",
	     EV_CONNECT_FAILED, 111, NULL},
	    {"connect() failed (110: Connection timed out) while connecting to upstream",
	     EV_CONNECT_FAILED, 110, NULL},
	    {"sendfile() failed (32: Broken pipe) while sending request to upstream",
	     EV_SEND_FAILED, 32, NULL},
	    {"SSL_write() failed (SSL: error:0A00045C:SSL routines::x) while sending request "
	     "to upstream",
	     EV_SEND_FAILED, 0, "error:0A00045C:SSL routines::x"},
	    {"SSL_do_handshake() failed (SSL: error:0A000126:SSL routines::unexpected eof) "
	     "(104: Connection reset by peer) while SSL handshaking to upstream",
	     EV_SSL_HANDSHAKE_FAILED, 104, "error:0A000126:SSL routines::unexpected eof"},
	    {"upstream prematurely closed FastCGI request while reading upstream",
	     EV_PREMATURE_CLOSE, 0, "FastCGI request"},
	    {"upstream prematurely closed stream while reading response header from upstream",
	     EV_PREMATURE_CLOSE, 0, "stream"},
	    {"kevent() reported that upstream closed connection while reading upstream",
	     EV_PREMATURE_CLOSE, 0, NULL},
	    {"upstream sent invalid header \"X: y\" while reading response "
	     "header from upstream",
	     EV_INVALID_HEADER, 0, "X: y"},
	    {"upstream sent unexpected FastCGI record: 3 while reading response header from "
	     "upstream",
	     EV_INVALID_HEADER, 0, NULL},
	    {"upstream sent goaway with error 2 while reading response header from upstream",
	     EV_INVALID_HEADER, 0, NULL},
	    {"upstream rejected request with error 7 while reading response header from "
	     "upstream",
	     EV_UPSTREAM_REJECTED, 0, "7"},
	    {"invalid header after joining FastCGI records while reading response header from "
	     "upstream",
	     EV_INVALID_HEADER, 0, NULL},
	    {"upstream sent response body larger than indicated content length while reading "
	     "upstream",
	     EV_INVALID_BODY, 0, NULL},
	    {"upstream sent more data than specified in \"Content-Length\" header while "
	     "reading upstream",
	     EV_INVALID_BODY, 0, NULL},
	    {"upstream sent data after final chunk while reading upstream", EV_OTHER, 0, NULL},
	    {"accept4() failed (24: Too many open files)", EV_TOO_MANY_FILES, 24, NULL},
	    {"socket() failed (23: Too many open files in system) while connecting "
	     "to upstream",
	     EV_TOO_MANY_FILES, 23, NULL},
	    {"open() \"/var/www/x\" failed (24: No file descriptors available)", EV_TOO_MANY_FILES,
	     24, NULL},
	    {"socket() failed (97: Address family not supported by protocol) while connecting "
	     "to upstream",
	     EV_OTHER, 97, NULL},
	    {"service _http._tcp.app of app.example could not be resolved (3: Host not found)",
	     EV_RESOLVE_FAILED, 3, "app.example"},
	    {"connect() to 127.0.0.53:53 failed (111: Connection refused) while resolving",
	     EV_CONNECT_FAILED, 111, "127.0.0.53:53"},
	    {"recv() failed (111: Connection refused) while resolving", EV_RECV_FAILED, 111, NULL},
	    /* the two halves of "connect() to A failed" overlapping (fuzz) */
	    {"connect() to failed (101: Network is unreachable) while connecting to upstream",
	     EV_OTHER, 101, NULL},
	    {"connect() to x failed (101: Network is unreachable) while connecting "
	     "to upstream",
	     EV_CONNECT_FAILED, 101, "x"},
	    /* client-side I/O: not upstream events */
	    {"recv() failed (104: Connection reset by peer) while reading client request line",
	     EV_OTHER, 104, NULL},
	    {"writev() failed (104: Connection reset by peer) while sending "
	     "to client",
	     EV_OTHER, 104, NULL},
	    {"SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) "
	     "while SSL handshaking",
	     EV_OTHER, 0, "error:0A00006C:SSL routines::bad key share"},
	    {"client timed out (110: Connection timed out) while sending to client", EV_OTHER, 110,
	     NULL},
	    {"client prematurely closed connection, so upstream connection "
	     "is closed too while "
	     "reading upstream",
	     EV_OTHER, 0, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[1024];
		snprintf(line, sizeof(line), HDR "%s, client: 10.0.0.1, server: a", cases[i].msg);
		struct errlog_event ev;
		CHECK_INT(parse(line, &ev), 0);
		int before = harness_failures;
		CHECK_STR(errlog_kind_name(ev.kind), errlog_kind_name(cases[i].kind));
		CHECK_INT(ev.err, cases[i].err);
		if (cases[i].detail)
			CHECK_SPAN(ev.detail, cases[i].detail);
		if (before != harness_failures)
			fprintf(stderr, "  ^ %s\n", cases[i].msg);
	}
}

static void test_no_live_upstreams_names_group_not_peer(void)
{
	struct errlog_event ev;
	CHECK_INT(errlog_parse(lines[6].p, lines[6].len, &ev), 0); /* corpus line 7 */
	CHECK_SPAN(ev.name, "app_backend");
	CHECK_INT(ev.has_peer, 0);
	CHECK_STR(ev.peer.key, "");
	/* implicit upstream from proxy_pass http://127.0.0.1:8080: the name is an address */
	CHECK_INT(parse(HDR "no live upstreams while connecting to upstream, client: 10.0.0.1, "
			    "server: a, request: \"GET / HTTP/1.1\", upstream: "
			    "\"http://127.0.0.1:8080/\"",
			&ev),
		  0);
	CHECK_SPAN(ev.name, "127.0.0.1:8080");
	CHECK_INT(ev.has_peer, 1);
	CHECK_STR(ev.peer.key, "127.0.0.1:8080");
}

static void test_kind_and_phase_names(void)
{
	static const char *const want[EV__COUNT] = {
	    "connect_failed",	 "timed_out",
	    "recv_failed",	 "send_failed",
	    "premature_close",	 "invalid_header",
	    "no_valid_header",	 "too_big_header",
	    "invalid_body",	 "no_live_upstreams",
	    "peer_disabled",	 "ssl_handshake_failed",
	    "ssl_verify_failed", "ssl_name_mismatch",
	    "resolve_failed",	 "no_resolver",
	    "host_not_found",	 "worker_connections",
	    "too_many_files",	 "fastcgi_stderr",
	    "upstream_rejected", "other",
	};
	for (int k = 0; k < EV__COUNT; k++)
		CHECK_STR(errlog_kind_name((enum errlog_kind)k), want[k]);
	CHECK_STR(errlog_kind_name(EV__COUNT), "unknown");
	for (int p = 0; p < PHASE__COUNT; p++)
		CHECK(strcmp(errlog_phase_name((enum errlog_phase)p), "unknown") != 0);
	CHECK_STR(errlog_phase_name(PHASE_READING_HEADER), "reading_header");
}

/* ---- stream, unix paths, new kinds ----------------------------------------- */

static void test_stream_context_gives_peer_and_bytes(void)
{
	struct errlog_event ev;
	CHECK_INT(parse(HDR "recv() failed (104: Connection reset by peer) while proxying and "
			    "reading from upstream, client: 127.0.0.1, server: 0.0.0.0:12345, "
			    "upstream: \"127.0.0.2:443\", bytes from/to client:46/16, bytes "
			    "from/to upstream:16/46",
			&ev),
		  0);
	CHECK_STR(errlog_kind_name(ev.kind), "recv_failed");
	CHECK_INT(ev.err, 104);
	CHECK_INT(ev.phase, PHASE_PROXYING_FROM_UPSTREAM);
	CHECK_SPAN(ev.client, "127.0.0.1");
	CHECK_SPAN(ev.server, "0.0.0.0:12345");
	CHECK_SPAN(ev.upstream, "127.0.0.2:443");
	CHECK_INT(ev.has_peer, 1);
	CHECK_STR(ev.peer.key, "127.0.0.2:443");
	CHECK_INT(ev.stream, 1);
	CHECK_INT(ev.udp, 0);
	CHECK_INT(ev.has_bytes, 1);
	CHECK_INT(ev.bytes_from_client, 46);
	CHECK_INT(ev.bytes_to_client, 16);
	CHECK_INT(ev.bytes_from_upstream, 16);
	CHECK_INT(ev.bytes_to_upstream, 46);
	CHECK_INT(ev.scheme.p == NULL, 1);

	CHECK_INT(parse(HDR "connect() failed (111: Connection refused) while connecting to "
			    "upstream, udp client: 127.0.0.1, server: 127.0.0.1:53, upstream: "
			    "\"[::1]:5353\", bytes from/to client:40/0, bytes from/to upstream:0/0",
			&ev),
		  0);
	CHECK_STR(errlog_kind_name(ev.kind), "connect_failed");
	CHECK_INT(ev.udp, 1);
	CHECK_INT(ev.stream, 1);
	CHECK_STR(ev.peer.key, "[::1]:5353");
	CHECK_INT(ev.bytes_from_client, 40);

	/* a unix peer in a stream context, and a line before the upstream was chosen */
	CHECK_INT(parse(HDR "connect() to unix:/run/app.sock failed (2: No such file or "
			    "directory) while connecting to upstream, client: 127.0.0.1, server: "
			    "127.0.0.1:9000, upstream: \"unix:/run/app.sock\", bytes from/to "
			    "client:0/0, bytes from/to upstream:0/0",
			&ev),
		  0);
	CHECK_STR(ev.peer.key, "unix:/run/app.sock");
	CHECK_INT(ev.err, 2);
	CHECK_INT(parse(HDR "no live upstreams while connecting to upstream, client: 127.0.0.1, "
			    "server: 0.0.0.0:12345, upstream: \"dns_servers\", bytes from/to "
			    "client:0/0, bytes from/to upstream:0/0",
			&ev),
		  0);
	CHECK_STR(errlog_kind_name(ev.kind), "no_live_upstreams");
	CHECK_SPAN(ev.name, "dns_servers");
	CHECK_INT(ev.has_peer, 0);
}

static void test_unix_peer_without_separator(void)
{
	struct errlog_event ev;
	const char *line =
	    HDR "connect() to unix:/var/run/app/puma.sock failed (111: Connection "
		"refused) while connecting to upstream, client: 127.0.0.1, server: "
		"_, request: \"GET /orders/1 HTTP/1.1\", upstream: "
		"\"http://unix:/var/run/app/puma.sock/orders/1\", host: \"localhost\"";
	CHECK_INT(parse(line, &ev), 0);
	CHECK_STR(ev.peer.key, "unix:/var/run/app/puma.sock");
	CHECK_INT(ev.peer_split, ERRLOG_SPLIT_SOCK);
	CHECK_SPAN(ev.upstream_uri, "/orders/1");

	/* no ".sock": the whole text is the key until known paths split it */
	CHECK_INT(parse(HDR "upstream prematurely closed connection while reading response "
			    "header from upstream, client: 127.0.0.1, server: _, request: \"GET "
			    "/a/b HTTP/1.1\", upstream: \"http://unix:/run/gunicorn/a/b\"",
			&ev),
		  0);
	CHECK_INT(ev.peer_split, ERRLOG_SPLIT_NONE);
	CHECK_STR(ev.peer.key, "unix:/run/gunicorn/a/b");
	const char *const none[] = {"/run/other.socket"};
	CHECK_INT(errlog_peer_resolve_unix(&ev, none, 1), 0);
	CHECK_STR(ev.peer.key, "unix:/run/gunicorn/a/b");
	const char *const known[] = {"/run/gun", "unix:/run/gunicorn", "/run/gunicorn/a"};
	CHECK_INT(errlog_peer_resolve_unix(&ev, known, 3), 1);
	CHECK_STR(ev.peer.key, "unix:/run/gunicorn/a");
	CHECK_SPAN(ev.upstream_uri, "/b");
	CHECK_INT(ev.peer_split, ERRLOG_SPLIT_EXACT);
	CHECK_INT(errlog_peer_resolve_unix(&ev, known, 3), -EINVAL);

	/* nginx's own spelling: exact */
	CHECK_INT(parse(HDR "connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource "
			    "temporarily unavailable) while connecting to upstream, client: "
			    "127.0.0.1, server: _, request: \"GET / HTTP/1.1\", upstream: "
			    "\"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"localhost\"",
			&ev),
		  0);
	CHECK_INT(ev.peer_split, ERRLOG_SPLIT_EXACT);
	CHECK_STR(ev.peer.key, "unix:/run/php/php8.2-fpm.sock");
}

static void test_upstream_modules_messages(void)
{
	static const struct {
		const char *msg;
		const char *kind;
		enum errlog_phase phase;
		const char *detail;
	} cases[] = {
	    {"upstream sent invalid chunked response while reading upstream", "invalid_body",
	     PHASE_READING_UPSTREAM, NULL},
	    {"upstream sent more data than specified in \"Content-Length\" header while reading "
	     "upstream",
	     "invalid_body", PHASE_READING_UPSTREAM, NULL},
	    {"upstream timed out (110: Connection timed out) while SSL handshaking to upstream",
	     "timed_out", PHASE_SSL_HANDSHAKE, NULL},
	    {"upstream rejected request with error 2 while reading response header from upstream",
	     "upstream_rejected", PHASE_READING_HEADER, "2"},
	    {"memcached sent invalid trailer while reading upstream", "invalid_body",
	     PHASE_READING_UPSTREAM, NULL},
	    {"memcached sent invalid response: \"SERVER_ERROR out of memory\" while reading "
	     "response header from upstream",
	     "invalid_header", PHASE_READING_HEADER, NULL},
	    {"memcached sent invalid length in response \"VALUE k 0 x\" for key \"k\" while "
	     "reading response header from upstream",
	     "invalid_header", PHASE_READING_HEADER, NULL},
	    {"upstream sent duplicate header line: \"Content-Length: 5\", previous value: "
	     "\"Content-Length: 4\" while reading response header from upstream",
	     "invalid_header", PHASE_READING_HEADER, "Content-Length: 5"},
	    {"upstream sent invalid status \"abc\" while reading response header from upstream",
	     "invalid_header", PHASE_READING_HEADER, "abc"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[1024];
		struct errlog_event ev;
		int before = harness_failures;
		snprintf(line, sizeof(line),
			 HDR "%s, client: 127.0.0.1, server: _, request: \"GET / HTTP/1.1\", "
			     "upstream: \"scgi://127.0.0.1:4000\", host: \"localhost\"",
			 cases[i].msg);
		CHECK_INT(parse(line, &ev), 0);
		CHECK_STR(errlog_kind_name(ev.kind), cases[i].kind);
		CHECK_INT(ev.phase, cases[i].phase);
		CHECK_SPAN(ev.detail, cases[i].detail);
		CHECK_STR(ev.peer.key, "127.0.0.1:4000");
		CHECK_SPAN(ev.scheme, "scgi");
		if (harness_failures != before)
			fprintf(stderr, "  ^ %s\n", cases[i].msg);
	}
}

/* errno 99 stays connect_failed with its number (the diagnoser calls it
 * local_ports_exhausted). */
/* ngx_lua's ", context: PHASE" ends the message; a PHASE with a space or a
 * comma, or an empty one, is no such context and stays in the message. */
static void test_lua_context_ends_the_message(void)
{
	struct errlog_event ev;
	CHECK_INT(parse(HDR "lua udp socket read timed out, context: ngx.timer", &ev), 0);
	CHECK_SPAN(ev.message, "lua udp socket read timed out");
	CHECK_STR(errlog_kind_name(ev.kind), "other");

	CHECK_INT(parse(HDR "connect() to unix:/tmp/shell.sock failed (13: Permission denied), "
			    "context: ssl_certificate_by_lua*, client: 192.0.2.7, server: "
			    "0.0.0.0:443",
			&ev),
		  0);
	CHECK_SPAN(ev.message, "connect() to unix:/tmp/shell.sock failed");
	CHECK_INT(ev.err, 13);
	CHECK_SPAN(ev.client, "192.0.2.7");
	CHECK_SPAN(ev.server, "0.0.0.0:443");

	const char *kept[] = {
	    "oops, context: a,b",
	    "oops, context: two words",
	    "oops, context: ",
	    ", context: x y",
	};
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		char line[256];
		snprintf(line, sizeof(line), HDR "%s", kept[i]);
		CHECK_INT(parse(line, &ev), 0);
		CHECK_SPAN(ev.message, kept[i]);
	}
	CHECK_INT(parse(HDR "a, context: x, client: 192.0.2.7, server: s", &ev), 0);
	CHECK_SPAN(ev.message, "a");
	CHECK_SPAN(ev.client, "192.0.2.7");
}

static void test_errno_99_is_connect_failed(void)
{
	struct errlog_event ev;
	CHECK_INT(parse(HDR
			"connect() failed (99: Cannot assign requested address) while "
			"connecting to upstream, client: 127.0.0.1, server: _, request: \"GET / "
			"HTTP/1.1\", upstream: \"http://[::1]:8080/\", host: \"localhost\"",
			&ev),
		  0);
	CHECK_STR(errlog_kind_name(ev.kind), "connect_failed");
	CHECK_INT(ev.err, 99);
	CHECK_SPAN(ev.errtext, "Cannot assign requested address");
	CHECK_STR(ev.peer.key, "[::1]:8080");
}

/* Does line open a multi-line entry? Asked of its parsed event, as the
 * daemon asks; both parses agree. */
static bool entry_opens(const char *line)
{
	struct errlog_event up, full;
	size_t len = strlen(line);
	bool open = errlog_parse_upstream(line, len, &up) == 0 && errlog_event_open(&up, len);
	CHECK_INT(errlog_parse(line, len, &full) == 0 && errlog_event_open(&full, len), open);
	return open;
}

static void test_multiline_entry_predicates(void)
{
	const char *open = HDR "FastCGI sent in stderr: \"PHP message: PHP Fatal error:  Uncaught "
			       "Exception: boom in /var/www/index.php:3";
	const char *closed =
	    HDR "FastCGI sent in stderr: \"Primary script unknown\" while "
		"reading response header from upstream, client: 127.0.0.1, "
		"server: _, request: \"GET / HTTP/1.1\", upstream: "
		"\"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"localhost\"";
	CHECK(entry_opens(open));
	CHECK(!entry_opens(closed));
	CHECK(errlog_entry_start(closed, strlen(closed)));
	CHECK(!errlog_entry_start("Stack trace:", 12));
	CHECK(!errlog_entry_start("#0 {main}", 9));

	/* the joined entry parses as one */
	char joined[2048];
	snprintf(joined, sizeof(joined),
		 "%s\nStack trace:\n#0 {main}\n  thrown in /var/www/index.php on line 3\" while "
		 "reading response header from upstream, client: 127.0.0.1, server: _, request: "
		 "\"GET / HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", "
		 "host: \"localhost\"",
		 open);
	struct errlog_event ev;
	CHECK(!entry_opens(joined));
	CHECK_INT(parse(joined, &ev), 0);
	CHECK_STR(errlog_kind_name(ev.kind), "fastcgi_stderr");
	CHECK_INT(ev.phase, PHASE_READING_HEADER);
	CHECK_STR(ev.peer.key, "unix:/run/php/php8.2-fpm.sock");
	CHECK(ev.detail.p && memmem(ev.detail.p, ev.detail.len, "Stack trace:", 12));

	/* Where the message starts: every header shape opens, a message that
	 * only holds the words later does not. */
	static const char *const opens[] = {
	    "2025/03/14 09:12:01 [error] 1#0: FastCGI sent in stderr: \"x",
	    "2025/03/14 09:12:01 [warn] 1#1: *1 FastCGI sent in stderr: \"x",
	    "2025/03/14 09:12:01 [emerg] 4294967295#4294967295: *9999999999999999999 "
	    "FastCGI sent in stderr: \"x",
	    "2025/03/14 09:12:01 [error] 23818#23818:FastCGI sent in stderr: \"x",
	};
	for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++)
		CHECK(entry_opens(opens[i]));
	static const char *const not_open[] = {
	    "2025/03/14 09:12:01 [error] 1#0: *1x FastCGI sent in stderr: \"x",
	    "2025/03/14 09:12:01 [error] 1#0: *1 x FastCGI sent in stderr: \"x",
	    "2025/03/14 09:12:01 [error] 1#0 FastCGI sent in stderr: \"x",
	    "2025/03/14 09:12:01 [error] 1#0: *99999999999999999999 FastCGI sent in stderr: \"x",
	    "2025/03/14 09:12:01 [bogus] 1#0: FastCGI sent in stderr: \"x",
	};
	for (size_t i = 0; i < sizeof(not_open) / sizeof(not_open[0]); i++)
		CHECK(!entry_opens(not_open[i]));

	/* cut by nginx at 2048 bytes (newline included): complete as it is */
	char cut[2048];
	snprintf(cut, sizeof(cut), "%s", open);
	size_t n = strlen(cut);
	memset(cut + n, 'x', sizeof(cut) - 1 - n);
	cut[sizeof(cut) - 1] = '\0';
	CHECK(!entry_opens(cut));
	cut[sizeof(cut) - 2] = '\0';
	CHECK(entry_opens(cut));
}

/* A FastCGI stderr entry is open until a ", client: " anchor holds a
 * client value: one ending in ',' before "server: ", or running to the end
 * of the line. An anchor with anything else is part of the stderr text. */
/* A held entry need not be parsed again for a next line that cannot bring
 * the context: what the parse would say of the joined entry. */
static void test_entry_stays_open_without_a_client_anchor(void)
{
	const char *open = HDR "FastCGI sent in stderr: \"PHP message: boom";
	static const char *const next[] = {"Stack trace:", "#0 /var/www/a.php(3): f()",
					   "  thrown in /var/www/a.php on line 3\", client: 1"};
	char joined[2048];
	size_t n = (size_t)snprintf(joined, sizeof(joined), "%s", open);
	for (size_t i = 0; i < 3; i++) {
		bool stays = errlog_entry_stays_open(n, next[i], strlen(next[i]));
		n += (size_t)snprintf(joined + n, sizeof(joined) - n, "\n%s", next[i]);
		CHECK_INT(stays, i < 2);
		CHECK_INT(entry_opens(joined), i < 2); /* the parse agrees */
	}
	/* a line that names a client may close it, and one past nginx's cut is whole */
	CHECK(!errlog_entry_stays_open(100, "x, client: 1, server: y", 23));
	CHECK(errlog_entry_stays_open(2046, "#1 {main}", 9));
	CHECK(!errlog_entry_stays_open(2047, "#1 {main}", 9));
}

static void test_entry_opens_until_a_client_context(void)
{
	static const char *const opens[] = {
	    HDR "FastCGI sent in stderr: \"a, client: b c",
	    HDR "FastCGI sent in stderr: \"a, client: b, c",
	    HDR "FastCGI sent in stderr: \"a, client: , server: x",
	    HDR "FastCGI sent in stderr: \"a,client: b, server: x",
	    HDR "FastCGI sent in stderr: \"a, resolver: 127.0.0.1:53",
	};
	for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++)
		CHECK(entry_opens(opens[i]));
	static const char *const closed[] = {
	    HDR "FastCGI sent in stderr: \"a\", client: 127.0.0.1, server: ",
	    HDR "FastCGI sent in stderr: \"a\", client: 127.0.0.1",
	    HDR "FastCGI sent in stderr: \"a\", udp client: 127.0.0.1, server: x",
	    HDR "FastCGI sent in stderr: \"a, client: b c, client: 1, server: x",
	};
	for (size_t i = 0; i < sizeof(closed) / sizeof(closed[0]); i++) {
		struct errlog_event ev;
		CHECK(!entry_opens(closed[i]));
		/* what errlog_parse() says of the same line */
		CHECK_INT(parse(closed[i], &ev), 0);
		CHECK(ev.client.p != NULL);
	}
}

/* The same message on lines with other headers and contexts: each line's
 * event has its own spans, and a kind that depends on the context (an I/O
 * failure without an action counts only with an upstream field) follows
 * the line, however often the message repeats. */
static void test_repeated_message_follows_its_line(void)
{
	const char *with = HDR "recv() failed (104: Connection reset by peer), client: 127.0.0.1, "
			       "server: x, request: \"GET / HTTP/1.1\", upstream: "
			       "\"http://127.0.0.1:8080/\"";
	const char *without = "2025/03/14 09:12:02 [crit] 7#7: recv() failed (104: Connection "
			      "reset by peer), client: 127.0.0.1, server: x";
	for (int round = 0; round < 3; round++) {
		struct errlog_event ev;
		CHECK_INT(parse(with, &ev), 0);
		CHECK_STR(errlog_kind_name(ev.kind), "recv_failed");
		CHECK_INT(ev.err, 104);
		CHECK_SPAN(ev.message, "recv() failed");
		CHECK_SPAN(ev.errtext, "Connection reset by peer");
		CHECK_INT(ev.phase, PHASE_NONE);
		CHECK_STR(ev.peer.key, "127.0.0.1:8080");
		CHECK_INT(parse(without, &ev), 0);
		CHECK_STR(errlog_kind_name(ev.kind), "other");
		CHECK_INT(ev.err, 104);
		CHECK_SPAN(ev.message, "recv() failed");
		CHECK_SPAN(ev.errtext, "Connection reset by peer");
		CHECK_INT(ev.level, LOG_CRIT);
		CHECK_INT(ev.pid, 7);
		CHECK_INT(ev.conn, 0);
	}
}

/* Messages sharing their first words, as many as fill the memo's set and
 * more, interleaved: each line parses to its own action, kind and errno,
 * whichever of them were kept before. */
static void test_messages_sharing_their_start_stay_apart(void)
{
	static const struct {
		const char *action;
		enum errlog_phase phase;
	} actions[] = {
	    {"reading response header from upstream", PHASE_READING_HEADER},
	    {"connecting to upstream", PHASE_CONNECTING},
	    {"SSL handshaking to upstream", PHASE_SSL_HANDSHAKE},
	    {"sending request to upstream", PHASE_SENDING_REQUEST},
	    {"reading upstream", PHASE_READING_UPSTREAM},
	    {"proxying and reading from upstream", PHASE_PROXYING_FROM_UPSTREAM},
	    {"proxying and sending to upstream", PHASE_PROXYING_TO_UPSTREAM},
	    {"proxying upgraded connection", PHASE_UPGRADED},
	    {"resolving", PHASE_RESOLVING},
	    {"sending to client", PHASE_SENDING_TO_CLIENT},
	};
	const size_t n = sizeof(actions) / sizeof(actions[0]);
	for (int round = 0; round < 4; round++) {
		for (size_t k = 0; k < n; k++) {
			/* a different order each round */
			size_t i = (k * (size_t)(2 * round + 1) + (size_t)round) % n;
			char line[512];
			snprintf(line, sizeof(line),
				 HDR "upstream timed out (110: Connection timed out) while %s, "
				     "client: 10.0.0.%zu, server: a, request: \"GET / HTTP/1.1\", "
				     "upstream: \"http://127.0.0.1:%zu/\"",
				 actions[i].action, i, 8080 + i);
			char key[32];
			snprintf(key, sizeof(key), "127.0.0.1:%zu", 8080 + i);
			char client[32];
			snprintf(client, sizeof(client), "10.0.0.%zu", i);
			struct errlog_event ev;
			CHECK_INT(errlog_parse_upstream(line, strlen(line), &ev), 0);
			CHECK_STR(errlog_kind_name(ev.kind), "timed_out");
			CHECK_INT(ev.phase, actions[i].phase);
			CHECK_SPAN(ev.action, actions[i].action);
			CHECK_SPAN(ev.message, "upstream timed out");
			CHECK_INT(ev.err, 110);
			CHECK_SPAN(ev.client, client);
			CHECK_STR(ev.peer.key, key);
		}
	}
}

/* A known message tells where a later line's message ends only when the
 * context starts right there: a line that continues the same text past
 * that comma, or whose known text holds a context anchor that was not the
 * context, parses as if the message were new. Both entry points. */
static void test_known_message_is_a_prefix_only(void)
{
	const char *known =
	    HDR "upstream timed out (110: Connection timed out) while reading "
		"response header from upstream, client: 10.0.0.1, server: a, request: "
		"\"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:8080/\"";
	/* the known text, then ", clientele: ..." and a later real context */
	const char *longer = HDR "upstream timed out (110: Connection timed out) while reading "
				 "response header from upstream, clientele: 7, client: 10.0.0.2, "
				 "server: b";
	/* a fake anchor inside the message, before the real context */
	const char *fake =
	    HDR "upstream sent invalid header: \"X, client: y\" while reading "
		"response header from upstream, client: 10.0.0.3, server: c, request: "
		"\"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:8081/\"";
	for (int round = 0; round < 3; round++) {
		for (int up = 0; up < 2; up++) {
			struct errlog_event ev;
			int (*fn)(const char *, size_t, struct errlog_event *) =
			    up ? errlog_parse_upstream : errlog_parse;
			CHECK_INT(fn(known, strlen(known), &ev), 0);
			CHECK_STR(errlog_kind_name(ev.kind), "timed_out");
			CHECK_SPAN(ev.client, "10.0.0.1");
			CHECK_SPAN(ev.action, "reading response header from upstream");
			CHECK_STR(ev.peer.key, "127.0.0.1:8080");

			CHECK_INT(fn(longer, strlen(longer), &ev), 0);
			CHECK_SPAN(ev.message, "upstream timed out");
			CHECK_SPAN(ev.client, "10.0.0.2");
			CHECK_SPAN(ev.server, "b");
			CHECK_INT(ev.phase, PHASE_OTHER);
			CHECK_SPAN(ev.action,
				   "reading response header from upstream, clientele: 7");
			CHECK_INT(ev.has_peer, 0);

			CHECK_INT(fn(fake, strlen(fake), &ev), 0);
			CHECK_STR(errlog_kind_name(ev.kind), "invalid_header");
			CHECK_SPAN(ev.client, "10.0.0.3");
			CHECK_SPAN(ev.server, "c");
			CHECK_SPAN(ev.detail, "X, client: y");
			CHECK_STR(ev.peer.key, "127.0.0.1:8081");
		}
	}
}

/* errlog_parse_upstream() of s from an exact-size heap copy (as parse()) */
static int parse_upstream(const char *s, struct errlog_event *ev)
{
	size_t len = strlen(s);
	return errlog_parse_upstream(heap_copy(s, len), len, ev);
}

/* The pre-filter of a line whose message is known looks for its words in
 * the known text (remembered) and after it, not across it: a word in the
 * text, one in the context, or none, line after line. */
static void test_prefilter_word_in_known_text_or_after(void)
{
	for (int round = 0; round < 3; round++) {
		struct errlog_event ev;
		/* "resolv" in the text */
		CHECK_INT(parse_upstream(HDR
					 "no resolver defined to resolve backend.example.internal, "
					 "client: 10.0.0.1, server: a, request: \"GET / HTTP/1.1\"",
					 &ev),
			  0);
		CHECK_STR(errlog_kind_name(ev.kind), "no_resolver");
		CHECK_SPAN(ev.client, "10.0.0.1");
		/* no word in the text; "upstream" in the context */
		CHECK_INT(
		    parse_upstream(HDR "recv() failed (104: Connection reset by peer), client: "
				       "10.0.0.2, server: a, upstream: \"http://127.0.0.1:8080/\"",
				   &ev),
		    0);
		CHECK_STR(errlog_kind_name(ev.kind), "recv_failed");
		CHECK_SPAN(ev.client, "10.0.0.2");
		CHECK_STR(ev.peer.key, "127.0.0.1:8080");
		/* no word at all: the pre-filter's other */
		CHECK_INT(parse_upstream(HDR
					 "recv() failed (104: Connection reset by peer), client: "
					 "10.0.0.3, server: a",
					 &ev),
			  0);
		CHECK_STR(errlog_kind_name(ev.kind), "other");
		CHECK_SPAN(ev.message, "recv() failed (104: Connection reset by peer), client: "
				       "10.0.0.3, server: a");
		CHECK(ev.client.p == NULL);
	}
}

/* A known message on a line too short to read 64 bytes from its start, or
 * ending with the text: the memo answers only where the line has the text
 * and a ',' after it. */
static void test_known_message_on_short_lines(void)
{
	for (int round = 0; round < 3; round++) {
		struct errlog_event ev;
		CHECK_INT(
		    parse_upstream(HDR "upstream timed out (110: Connection timed out), client: "
				       "10.0.0.1, server: a, upstream: \"http://127.0.0.1:8080/\"",
				   &ev),
		    0);
		CHECK_STR(errlog_kind_name(ev.kind), "timed_out");
		CHECK_SPAN(ev.client, "10.0.0.1");
		/* 57 bytes from the message's start */
		CHECK_INT(parse_upstream(
			      HDR "upstream timed out (110: Connection timed out), client: 1", &ev),
			  0);
		CHECK_STR(errlog_kind_name(ev.kind), "timed_out");
		CHECK_SPAN(ev.message, "upstream timed out");
		CHECK_INT(ev.err, 110);
		CHECK_SPAN(ev.client, "1");
		/* the text alone */
		CHECK_INT(parse_upstream(HDR "upstream timed out (110: Connection timed out)", &ev),
			  0);
		CHECK_STR(errlog_kind_name(ev.kind), "timed_out");
		CHECK_SPAN(ev.message, "upstream timed out");
		CHECK_INT(ev.err, 110);
		CHECK(ev.client.p == NULL);
	}
}

/* Workers interleave; each line's level, pid, tid and connection are its
 * own, also when its header repeats another's up to the tid. */
static void test_interleaved_workers_keep_their_numbers(void)
{
	static const struct {
		const char *line;
		int level;
		uint32_t pid, tid;
		uint64_t conn;
	} cases[] = {
	    {"2025/03/14 09:12:01 [error] 23818#23818: *12 upstream timed out", LOG_ERR, 23818,
	     23818, 12},
	    {"2025/03/14 09:12:01 [crit] 23819#23820: *13 upstream timed out", LOG_CRIT, 23819,
	     23820, 13},
	    {"2025/03/14 09:12:01 [error] 23818#238180: *14 upstream timed out", LOG_ERR, 23818,
	     238180, 14},
	    {"2025/03/14 09:12:01 [error] 23818#23818:*15 upstream timed out", LOG_ERR, 23818,
	     23818, 15},
	    {"2025/03/14 09:12:01 [notice] 4294967295#4294967294: *16 upstream timed out",
	     LOG_NOTICE, 4294967295u, 4294967294u, 16},
	    {"2025/03/14 09:12:01 [error] 23818#23818: upstream timed out (110: Connection timed "
	     "out)",
	     LOG_ERR, 23818, 23818, 0},
	};
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct errlog_event ev;
			CHECK_INT(parse(cases[i].line, &ev), 0);
			CHECK_INT(ev.level, cases[i].level);
			CHECK_INT(ev.pid, cases[i].pid);
			CHECK_INT(ev.tid, cases[i].tid);
			CHECK_INT(ev.conn, cases[i].conn);
			CHECK_STR(errlog_kind_name(ev.kind), "timed_out");
		}
}

/* The pre-filter never changes what an upstream-related line gives: over the
 * sample corpus, errlog_parse_upstream() agrees with errlog_parse() on
 * acceptance, kind, errno and peer, and differs only by leaving the context
 * of EV_OTHER lines unparsed. */
static void test_prefilter_agrees_with_full_parse(void)
{
	unsigned filtered = 0;
	for (size_t i = 0; i < nlines; i++) {
		struct errlog_event a, b;
		int ra = errlog_parse(lines[i].p, lines[i].len, &a);
		int rb = errlog_parse_upstream(lines[i].p, lines[i].len, &b);
		CHECK_INT(rb, ra);
		if (ra < 0 || rb < 0)
			continue;
		CHECK_STR(errlog_kind_name(b.kind), errlog_kind_name(a.kind));
		CHECK_INT(b.has_peer, a.has_peer);
		CHECK_STR(b.peer.key, a.peer.key);
		CHECK_INT(b.time, a.time);
		if (b.kind != EV_OTHER)
			CHECK_INT(b.err, a.err);
		filtered += a.kind == EV_OTHER && !b.client.p && a.client.p;
	}
	CHECK(filtered > 0);
}

/* tests/corpus/errlog/lines.tsv: real lines quoted in public issue trackers,
 * one per row with the kind, errno and peer each must give and the thread it
 * came from. Every row is asserted, through both entry points. */
static void test_issue_corpus(void)
{
	FILE *f = fopen(SOURCE_ROOT "/tests/corpus/errlog/lines.tsv", "re");
	CHECK(f != NULL);
	if (!f)
		return;
	char *row = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned rows = 0;
	while ((len = getline(&row, &cap, f)) > 0) {
		if (row[0] == '#')
			continue;
		if (row[len - 1] == '\n')
			row[--len] = '\0';
		char *save, *kind = strtok_r(row, "\t", &save), *err = strtok_r(NULL, "\t", &save),
			    *peer = strtok_r(NULL, "\t", &save), *src = strtok_r(NULL, "\t", &save),
			    *line = strtok_r(NULL, "", &save);
		CHECK(kind && err && peer && src && line);
		if (!line)
			continue;
		rows++;
		int before = harness_failures;
		struct errlog_event ev, up;
		CHECK_INT(errlog_parse(line, strlen(line), &ev), 0);
		CHECK_STR(errlog_kind_name(ev.kind), kind);
		CHECK_INT(ev.err, atoi(err));
		if (strcmp(peer, "-") == 0)
			CHECK_INT(ev.has_peer, 0);
		else
			CHECK_STR(ev.has_peer ? ev.peer.key : "(none)", peer);
		CHECK_INT(errlog_parse_upstream(line, strlen(line), &up), 0);
		CHECK_STR(errlog_kind_name(up.kind), kind);
		CHECK_INT(up.has_peer, ev.has_peer);
		CHECK_STR(up.peer.key, ev.peer.key);
		if (up.kind != EV_OTHER)
			CHECK_INT(up.err, ev.err);
		if (harness_failures != before)
			fprintf(stderr, "  ^ %s\n    %s\n", src, line);
	}
	free(row);
	fclose(f);
	CHECK(rows >= 100);
}

/* ---- time ----------------------------------------------------------------- */

static void test_local_time_follows_dst(void)
{
	/* Central European rules, without depending on tzdata. Dates unlike the
	 * corpus's, so the per-hour offset cache is not shared with UTC tests. */
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	static const struct {
		const char *stamp;
		time_t want;
	} cases[] = {
	    {"2024/03/31 01:59:59", 1711846799}, /* CET, UTC+1 */
	    {"2024/03/31 03:00:00", 1711846800}, /* CEST, UTC+2: 02:xx does not exist */
	    {"2024/07/01 12:00:00", 1719828000},
	    {"2024/10/27 03:30:00", 1729996200}, /* after the fall back: CET */
	    {"2024/12/31 23:59:59", 1735685999},
	    {"2024/02/29 00:00:00", 1709161200},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "%s [error] 1#1: x", cases[i].stamp);
		struct errlog_event ev;
		CHECK_INT(parse(line, &ev), 0);
		CHECK_INT(ev.time, cases[i].want);
		/* again, from the cache */
		CHECK_INT(parse(line, &ev), 0);
		CHECK_INT(ev.time, cases[i].want);
	}
	setenv("TZ", "UTC", 1);
	tzset();
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	load_corpus();
	RUN(test_corpus_entries_parse_to_expected_fields);
	RUN(test_corpus_pids_and_errno_texts);
	RUN(test_continuation_lines_are_not_entries);
	RUN(test_line_cut_at_2047_keeps_what_is_there);
	RUN(test_every_prefix_of_every_entry_stays_inside);
	RUN(test_referrer_spoofing_host_stays_in_referrer);
	RUN(test_message_text_with_context_words_is_message);
	RUN(test_garbage_lines_are_rejected);
	RUN(test_minimal_and_debug_entries_parse);
	RUN(test_one_mebibyte_line);
	RUN(test_request_line_spaces_and_separators);
	RUN(test_ipv6_client_and_upstream);
	RUN(test_unix_upstreams);
	RUN(test_repeated_peers_parse_the_same);
	RUN(test_schemes_and_default_ports);
	RUN(test_missing_fields);
	RUN(test_catalog_messages_map_to_kinds);
	RUN(test_no_live_upstreams_names_group_not_peer);
	RUN(test_kind_and_phase_names);
	RUN(test_stream_context_gives_peer_and_bytes);
	RUN(test_unix_peer_without_separator);
	RUN(test_upstream_modules_messages);
	RUN(test_errno_99_is_connect_failed);
	RUN(test_lua_context_ends_the_message);
	RUN(test_multiline_entry_predicates);
	RUN(test_entry_opens_until_a_client_context);
	RUN(test_entry_stays_open_without_a_client_anchor);
	RUN(test_repeated_message_follows_its_line);
	RUN(test_messages_sharing_their_start_stay_apart);
	RUN(test_known_message_is_a_prefix_only);
	RUN(test_prefilter_word_in_known_text_or_after);
	RUN(test_known_message_on_short_lines);
	RUN(test_interleaved_workers_keep_their_numbers);
	RUN(test_prefilter_agrees_with_full_parse);
	RUN(test_issue_corpus);
	RUN(test_local_time_follows_dst);
	for (size_t i = 0; i < nlines; i++)
		free(lines[i].p);
	return harness_result();
}
