/* tail_int: what tail.c and tailpath.c share — the structs of a followed
 * path (struct tfile) and its sources (struct tsrc). Private to src/log/:
 * nothing outside tail includes it. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "log/tail.h"
#include "log/tailmiss.h"
#include "log/tailsrc.h"
#include "log/tailstate.h"
#include "log/tailwatch.h"

/* read per source per wakeup: a quarter of the reads and turns of the loop
 * of 64 KB (the daemon ingesting 200 MB of real lines, 12 runs each: CPU
 * median 0.224 -> 0.198 s, best 0.178 -> 0.173 s); untouched until a
 * backlog fills it */
#define TAIL_CHUNK	      (256 * 1024)
#define TAIL_HISTORY	      8		 /* closed sources remembered per path */
#define TAIL_MAX_RETIRED      8		 /* rotated files drained at once per path */
#define TAIL_FINISH_MAX	      (1u << 20) /* bytes read from a source closed early */
#define TAIL_GRACE_MS_DEFAULT 2000
#define TAIL_STATE_FILE	      "tail.state"

struct tfile;

struct tsrc {
	struct tailsrc src;
	struct tfile *tf;
	int wd;
	bool need_read, retired;
	ev_timer grace;
};

struct thist {
	uint64_t dev, ino, offset, fp_hash;
	uint32_t fp_len;
};

/* What failed for a log, by source: each is cleared by its own success. */
enum tail_err { ERR_OPEN, ERR_READ, ERR_WATCH, ERR__COUNT };

struct tail_fault {
	int err; /* -errno, 0 = fine */
	char msg[160];
};

struct tfile {
	struct tail *t;
	char *path;
	char *dir;	  /* the path's directory */
	const char *base; /* the path's last component */
	struct tailmiss miss;
	struct tail_stats stats;
	struct tailsrc_sink sink; /* path, stats and the user callback */
	struct tsrc *cur;
	struct tsrc *retired[TAIL_MAX_RETIRED];
	size_t n_retired;
	struct thist hist[TAIL_HISTORY];
	size_t n_hist, hist_next;
	int dwd[TAILWATCH_DIRS]; /* see tailwatch_dirs */
	struct tail_fault fault[ERR__COUNT];
	bool need_check;
	bool initial;  /* the first look at the path: tail_start applies */
	bool had_file; /* a later file at the path is a rotation */
};

struct tail {
	struct ev_loop *loop;
	char *state_file;
	enum tail_start start;
	tail_line_fn fn;
	void *userdata;
	struct tailwatch watch;
	ev_io io;
	ev_idle idle;
	ev_timer save_timer;
	struct tfile **files;
	size_t n_files, cap_files;
	struct tailstate saved;
	double grace_s;
	bool dirty;
	struct tail_fault state_fault; /* loading or saving the offsets file */
	char *buf;		       /* TAIL_CHUNK */
};

/* tail.c: sources */
struct tsrc *tail_src_new(struct tfile *tf, int fd, const struct stat *st, uint64_t offset,
			  bool skipping);
/* Keep reading a source the path no longer names until it is quiet. */
void tail_src_retire(struct tsrc *s);
/* One chunk, then what the loop must do about it. */
int64_t tail_src_read(struct tsrc *s);
void tail_retired_remove(struct tfile *tf, struct tsrc *s);
/* A new file is at the path: the retired sources may run out their grace. */
void tail_retired_rearm(struct tfile *tf);
void tail_mark_dirty(struct tail *t);
/* Every source of a path, current first; v holds TAIL_MAX_RETIRED + 1. */
size_t tail_sources(struct tfile *tf, struct tsrc **v);
/* Record a fault of the path (returns err) / clear it. */
int tail_set_error(struct tfile *tf, enum tail_err which, int err, const char *what);
void tail_clear_error(struct tfile *tf, enum tail_err which);

/* tailpath.c: what the path names */
/* Look at the path: read the file it names, or switch to a new one.
 * Returns 0, or -errno when the path names a file that cannot be followed
 * (also kept as the path's fault). */
int tailpath_check(struct tfile *tf);
/* Saved sources of this path that are not the file it names now were
 * rotated while we were down: drain their remainder. */
void tailpath_recover(struct tfile *tf);
