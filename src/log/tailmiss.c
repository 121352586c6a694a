/* tailmiss: siblings holding lines tail never opened (see tailmiss.h). */
#include "log/tailmiss.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core/util.h"

#define HEAD 64

void tailmiss_init(struct tailmiss *m)
{
	*m = (struct tailmiss){0};
}

void tailmiss_reset(struct tailmiss *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->names[i]);
	m->n = 0;
	m->replaced = false;
	m->cookie = 0;
}

void tailmiss_done(struct tailmiss *m)
{
	tailmiss_reset(m);
}

static void add(struct tailmiss *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (streq(m->names[i], name))
			return;
	if (m->n < TAILMISS_MAX)
		m->names[m->n++] = xstrdup(name);
}

void tailmiss_event(struct tailmiss *m, const char *base, uint32_t mask, uint32_t cookie,
		    const char *name)
{
	if (!name || !name[0])
		return;
	if (streq(name, base)) {
		if (mask & (IN_CREATE | IN_MOVED_TO))
			m->replaced = true;
		if (mask & IN_MOVED_FROM)
			m->cookie = cookie;
		return;
	}
	if ((mask & IN_MOVED_TO) && m->cookie && cookie == m->cookie)
		add(m, name); /* where the path's file went */
	else if ((mask & IN_CREATE) && m->replaced && startswith(name, base))
		add(m, name); /* a copy made of a file we have not opened */
}

static bool compressed(const char *name)
{
	static const char *const ext[] = {".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z", ".zip"};
	size_t n = strlen(name);
	for (size_t i = 0; i < ARRAY_SIZE(ext); i++) {
		size_t k = strlen(ext[i]);
		if (n > k && streq(name + n - k, ext[i]))
			return true;
	}
	return false;
}

int tailmiss_open(const struct tailmiss *m, size_t i, const char *dir, int path_fd,
		  struct stat *ret_st)
{
	char path[PATH_MAX], head[HEAD], phead[HEAD];
	struct stat st, pst;

	if (i >= m->n || compressed(m->names[i]))
		return -ENOENT;
	if (snprintf(path, sizeof(path), "%s/%s", dir, m->names[i]) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -errno;
	ssize_t hn = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? pread(fd, head, HEAD, 0) : -1;
	bool ok = hn > 0 && !memchr(head, '\0', (size_t)hn);
	if (ok && path_fd >= 0 && fstat(path_fd, &pst) == 0) {
		/* the file at the path still holds this content (the same inode,
		 * or a copy that was never truncated): nothing was missed */
		ssize_t pn = pread(path_fd, phead, HEAD, 0);
		if ((pst.st_dev == st.st_dev && pst.st_ino == st.st_ino) ||
		    (pn == hn && memcmp(head, phead, (size_t)hn) == 0 && pst.st_size >= st.st_size))
			ok = false;
	}
	if (!ok) {
		close(fd);
		return -ENOENT;
	}
	*ret_st = st;
	return fd;
}
