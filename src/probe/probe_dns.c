/* probe_dns: getaddrinfo() on worker threads, answers back through ev_async.
 *
 * Owns: the job queues, up to DNS_MAX_THREADS detached threads (started on
 * demand, leaving after DNS_IDLE_S idle seconds) and the ev_async that wakes
 * the loop. The state the threads share is reference counted (owner + each
 * thread) because a thread stuck in a slow getaddrinfo() must be able to
 * outlive probe_dns_free() without the loop ever waiting for it.
 *
 * Chain: probe_dns_resolve -> pending queue -> thread: getaddrinfo -> done
 *        list + ev_async_send -> dns_async_cb (loop) -> fn(userdata, answer). */
#include "probe/probe_dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/util.h"

#define DNS_MAX_THREADS 4
#define DNS_IDLE_S	30

struct probe_dns_job {
	struct probe_dns_job *next;
	char name[256];
	unsigned port;
	probe_dns_fn fn;
	void *userdata;
	bool cancelled; /* only touched by the loop thread */
	bool queued;	/* still in the pending queue (under the lock) */
	struct probe_dns_answer ans;
};

struct probe_dns {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct probe_dns_job *pending, **pending_tail;
	struct probe_dns_job *done;
	unsigned nthreads, nidle, refs;
	bool closed;
	struct ev_loop *loop;
	ev_async async;
};

static void free_jobs(struct probe_dns_job *j)
{
	while (j) {
		struct probe_dns_job *next = j->next;
		free(j);
		j = next;
	}
}

static void dns_destroy(struct probe_dns *d)
{
	free_jobs(d->pending);
	free_jobs(d->done);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* RFC 6761 6.4: ".invalid" names never resolve; answer without a query. */
static bool is_invalid_tld(const char *name)
{
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 7 && strncasecmp(name, "invalid", 7) == 0)
		return true;
	return n > 8 && strncasecmp(name + n - 8, ".invalid", 8) == 0;
}

static void resolve_one(struct probe_dns_job *j)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char port[8];

	if (is_invalid_tld(j->name)) {
		j->ans.err = EAI_NONAME;
		return;
	}
	snprintf(port, sizeof(port), "%u", j->port);
	int r = getaddrinfo(j->name, port, &hints, &res);
	if (r != 0) {
		j->ans.err = r;
		j->ans.sys_errno = r == EAI_SYSTEM ? errno : 0;
		return;
	}
	for (struct addrinfo *ai = res; ai && j->ans.naddrs < PROBE_DNS_MAX_ADDRS;
	     ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(struct sockaddr_storage))
			continue;
		memcpy(&j->ans.addrs[j->ans.naddrs], ai->ai_addr, ai->ai_addrlen);
		j->ans.addrlens[j->ans.naddrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (j->ans.naddrs == 0)
		j->ans.err = EAI_NODATA;
}

static void *dns_thread(void *arg)
{
	struct probe_dns *d = arg;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (!d->closed && !d->pending) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += DNS_IDLE_S;
			d->nidle++;
			int r = pthread_cond_timedwait(&d->cond, &d->lock, &until);
			d->nidle--;
			if (r == ETIMEDOUT && !d->pending)
				goto out;
		}
		if (d->closed)
			break;
		struct probe_dns_job *j = d->pending;
		d->pending = j->next;
		if (!d->pending)
			d->pending_tail = &d->pending;
		j->queued = false;
		j->next = NULL;
		pthread_mutex_unlock(&d->lock);

		resolve_one(j);

		pthread_mutex_lock(&d->lock);
		if (d->closed) {
			free(j);
			break;
		}
		j->next = d->done;
		d->done = j;
		ev_async_send(d->loop, &d->async);
	}
out:
	d->nthreads--;
	bool last = --d->refs == 0;
	pthread_mutex_unlock(&d->lock);
	if (last)
		dns_destroy(d);
	return NULL;
}

static void dns_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct probe_dns *d = container_of(w, struct probe_dns, async);
	struct probe_dns_job *list, *rev = NULL;

	pthread_mutex_lock(&d->lock);
	list = d->done;
	d->done = NULL;
	pthread_mutex_unlock(&d->lock);

	/* The done list is LIFO; answer in completion order. */
	while (list) {
		struct probe_dns_job *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	/* A callback may cancel a job further down this list: the flag is read
	 * only when its turn comes. */
	while (rev) {
		struct probe_dns_job *j = rev;
		rev = j->next;
		if (!j->cancelled)
			j->fn(j->userdata, &j->ans);
		free(j);
	}
}

int probe_dns_new(struct ev_loop *loop, struct probe_dns **ret)
{
	struct probe_dns *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->pending_tail = &d->pending;
	d->refs = 1;
	d->loop = loop;
	ev_async_init(&d->async, dns_async_cb);
	ev_async_start(loop, &d->async);
	/* Not a reason to keep the loop running on its own. */
	ev_unref(loop);
	*ret = d;
	return 0;
}

void probe_dns_free(struct probe_dns *d)
{
	if (!d)
		return;
	ev_ref(d->loop);
	ev_async_stop(d->loop, &d->async);
	pthread_mutex_lock(&d->lock);
	d->closed = true;
	free_jobs(d->pending);
	d->pending = NULL;
	d->pending_tail = &d->pending;
	free_jobs(d->done);
	d->done = NULL;
	pthread_cond_broadcast(&d->cond);
	bool last = --d->refs == 0;
	pthread_mutex_unlock(&d->lock);
	if (last)
		dns_destroy(d);
}

struct probe_dns_job *probe_dns_resolve(struct probe_dns *d, const char *name, unsigned port,
					probe_dns_fn fn, void *userdata)
{
	struct probe_dns_job *j = xcalloc(1, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->port = port;
	j->fn = fn;
	j->userdata = userdata;
	j->queued = true;

	pthread_mutex_lock(&d->lock);
	*d->pending_tail = j;
	d->pending_tail = &j->next;
	if (d->nidle == 0 && d->nthreads < DNS_MAX_THREADS) {
		pthread_t tid;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 1024 * 1024); /* NSS modules want room */
		d->nthreads++;
		d->refs++;
		if (pthread_create(&tid, &attr, dns_thread, d) != 0) {
			d->nthreads--;
			d->refs--;
		}
		pthread_attr_destroy(&attr);
	} else {
		pthread_cond_signal(&d->cond);
	}
	if (d->nthreads == 0) {
		/* No thread could be started: fail the job through the same path. */
		d->pending = NULL;
		d->pending_tail = &d->pending;
		j->queued = false;
		j->ans.err = EAI_SYSTEM;
		j->ans.sys_errno = EAGAIN;
		j->next = d->done;
		d->done = j;
		ev_async_send(d->loop, &d->async);
	}
	pthread_mutex_unlock(&d->lock);
	return j;
}

void probe_dns_cancel(struct probe_dns *d, struct probe_dns_job *job)
{
	pthread_mutex_lock(&d->lock);
	if (job->queued) {
		struct probe_dns_job **pp = &d->pending;
		while (*pp && *pp != job)
			pp = &(*pp)->next;
		if (*pp) {
			*pp = job->next;
			if (d->pending_tail == &job->next)
				d->pending_tail = pp;
		}
		pthread_mutex_unlock(&d->lock);
		free(job);
		return;
	}
	job->cancelled = true;
	pthread_mutex_unlock(&d->lock);
}

void probe_dns_format(const struct probe_dns_answer *a, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < a->naddrs; i++) {
		char ip[INET6_ADDRSTRLEN];
		const struct sockaddr *sa = (const struct sockaddr *)&a->addrs[i];
		const void *src = sa->sa_family == AF_INET6
				      ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
				      : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
		if (!inet_ntop(sa->sa_family, src, ip, sizeof(ip)))
			continue;
		/* getaddrinfo repeats an address per socket type on some setups. */
		char padded[INET6_ADDRSTRLEN + 2];
		snprintf(padded, sizeof(padded), " %s ", ip);
		char hay[512];
		snprintf(hay, sizeof(hay), " %s ", buf);
		if (strstr(hay, padded))
			continue;
		size_t need = strlen(ip) + (used ? 1 : 0);
		if (used + need + 1 > len)
			break;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", ip);
	}
}
