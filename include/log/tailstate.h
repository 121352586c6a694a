/* tailstate: the offsets file of tail (one small text file in the state
 * directory).
 *
 * Format, one header line then one line per source:
 *   upwatch-tail-state 1
 *   DEV INO OFFSET FPHASH FPLEN SKIP PATH
 * numbers in decimal except FPHASH (16 hex digits); PATH runs to the end of
 * the line (paths containing a newline are not saved). Unknown or malformed
 * lines are skipped, so a damaged file costs positions, never a start. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAILSTATE_MAX_BYTES   (1u << 20)
#define TAILSTATE_MAX_ENTRIES 4096

struct tailstate_entry {
	char *path;
	uint64_t dev, ino;
	uint64_t offset;  /* start of the first line not yet delivered */
	uint64_t fp_hash; /* hash_fnv1a64() (core/hash.h) of the first fp_len bytes */
	uint32_t fp_len;
	bool skipping; /* offset is inside a cut line: skip to its newline */
};

struct tailstate {
	struct tailstate_entry *v;
	size_t n, cap;
};

void tailstate_init(struct tailstate *st);
void tailstate_done(struct tailstate *st);
/* Copies e (and its path). */
void tailstate_add(struct tailstate *st, const struct tailstate_entry *e);

/* Parse the text of a state file into st (appending). Malformed lines are
 * skipped; returns the number of entries added. */
int tailstate_parse(struct tailstate *st, const char *data, size_t len);
/* Render st; *ret_data is malloc'ed. */
void tailstate_format(const struct tailstate *st, char **ret_data, size_t *ret_len);

/* Load a state file (missing file = empty state, 0; not a regular file,
 * a symlink included: -EINVAL; never blocks on a FIFO) / write it atomically
 * (-EINVAL when FILE exists and is not a regular file). */
int tailstate_load(struct tailstate *st, const char *file);
int tailstate_save(const struct tailstate *st, const char *file);
