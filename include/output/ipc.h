/* ipc: the local JSON socket. Newline-delimited JSON over a unix stream
 * socket: one request line, one response line; subscribers then receive one
 * line per event.
 *
 * Callback chain: listen fd readable -> accept (credentials checked) ->
 * client readable -> split lines (64 KiB max) -> parse -> handler; the
 * handler answers now or later with ipc_reply() (a client's further requests
 * wait until then, so answers stay in order). A client whose unsent output
 * passes IPC_OUTPUT_MAX when more is to be queued is not reading: it is
 * disconnected and counted as dropped; one large answer alone never is.
 *
 * Hostile or unlucky clients: at most IPC_CLIENTS_MAX at once, the others get
 * an error line and are closed; out of descriptors, a reserved one is given
 * up to refuse the waiting client (else accepting pauses), so the loop never
 * spins on EMFILE; a client idle for IPC_IDLE_MS is cut off. Every line sent
 * is valid UTF-8 (escape_json_utf8). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
struct cJSON;
struct ipc;
struct ipc_client;

#define IPC_LINE_MAX	    (64 * 1024)
#define IPC_OUTPUT_MAX	    (1024 * 1024) /* unsent output of a client that does not read */
#define IPC_CLIENTS_MAX	    256		  /* more are answered with an error and closed */
#define IPC_IDLE_MS	    (60 * 1000)	  /* no whole request and no reading: cut off */
#define IPC_LOG_INTERVAL_MS (10 * 1000)	  /* repeated accept/refusal failures: one line */
#define IPC_ACCEPT_PAUSE_S  0.25	  /* out of descriptors and no reserve left */

struct ipc_stats {
	unsigned clients;
	uint64_t dropped;	/* cut off for not reading or idling */
	uint64_t refused;	/* turned away: credentials or the client cap */
	uint64_t accept_errors; /* accept() failures for lack of descriptors or memory */
};

/* req is a JSON object with a string "cmd". The handler must call ipc_reply()
 * exactly once, now or later (take a reference with ipc_client_ref to answer
 * later). */
typedef void (*ipc_request_fn)(void *userdata, struct ipc_client *c, const char *cmd,
			       const struct cJSON *req);

/* Listen on the socket systemd passed (sd_listen_fds) or bind path (mode
 * 0660, parent directory created). */
int ipc_new(struct ev_loop *loop, const char *path, ipc_request_fn fn, void *userdata,
	    struct ipc **ret);
/* Change the client cap and idle timeout (defaults above). */
void ipc_set_limits(struct ipc *ipc, unsigned max_clients, uint64_t idle_ms);
/* Close every client and the listener; remove the socket file if we made it. */
void ipc_free(struct ipc *ipc);

/* Send resp (consumed) as the answer to the pending request. A client that
 * has gone away is fine: the answer is dropped. */
void ipc_reply(struct ipc_client *c, struct cJSON *resp);
void ipc_reply_error(struct ipc_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct ipc_client *ipc_client_ref(struct ipc_client *c);
void ipc_client_unref(struct ipc_client *c);

/* Make c a subscriber: ipc_publish() lines go to it from now on. */
void ipc_subscribe(struct ipc_client *c);
/* Send obj (not consumed) as one line to every subscriber. */
void ipc_publish(struct ipc *ipc, const struct cJSON *obj);
/* Whether anyone would receive a publish: callers skip building the line. */
bool ipc_has_subscribers(const struct ipc *ipc);

void ipc_get_stats(const struct ipc *ipc, struct ipc_stats *ret);
