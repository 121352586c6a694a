/* Unit tests for cfgwatch: a change to a watched file or a new file matching
 * an include glob fires once per burst; unrelated files do not.
 *
 * No sleeps: inotify queues an event during the write itself, so one
 * non-blocking loop iteration sees it, and the debounce runs on a clock the
 * test moves by hand. */
#include <ev.h>
#include <stdio.h>
#include <unistd.h>

#include "conf/cfgwatch.h"
#include "harness.h"

static int fired;
static uint64_t fake_now = 1000000;

static uint64_t fake_clock(void *ud)
{
	(void)ud;
	return fake_now;
}

static void on_change(void *ud)
{
	(void)ud;
	fired++;
}

/* Let the loop read what the kernel queued, after moving the clock. */
static void step(struct ev_loop *loop, uint64_t advance_ms)
{
	fake_now += advance_ms;
	ev_run(loop, EVRUN_NOWAIT);
}

static void test_file_and_glob_changes_fire_once_per_burst(void)
{
	const char *d = harness_tmpdir();
	char main_conf[512], glob[512], path[512], tmp[512];
	harness_write(d, "w/nginx.conf", "a;\n");
	harness_write(d, "w/conf.d/a.conf", "b;\n");
	harness_write(d, "w/unrelated.txt", "x\n");
	snprintf(main_conf, sizeof(main_conf), "%s/w/nginx.conf", d);
	snprintf(glob, sizeof(glob), "%s/w/conf.d/*.conf", d);
	const char *files[] = {main_conf};
	const char *globs[] = {glob};

	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	const struct cfgwatch_clock clock = {.now_ms = fake_clock};
	struct cfgwatch *w = NULL;
	CHECK_INT(cfgwatch_new(loop, 100, &clock, on_change, NULL, &w), 0);
	if (!w)
		return;
	CHECK_INT(cfgwatch_set(w, files, 1, globs, 1), 0);

	harness_write(d, "w/unrelated.txt", "y\n");
	step(loop, 0);
	step(loop, 1000);
	CHECK_INT(fired, 0);

	/* an editor's burst: several writes, one reload, 100 ms after the last */
	for (int i = 0; i < 5; i++)
		harness_write(d, "w/nginx.conf", "a;\nb;\n");
	step(loop, 0);
	step(loop, 99);
	CHECK_INT(fired, 0);
	harness_write(d, "w/nginx.conf", "a;\nb;\nc;\n"); /* moves the deadline */
	step(loop, 0);
	step(loop, 60);
	CHECK_INT(fired, 0);
	step(loop, 40);
	CHECK_INT(fired, 1);
	step(loop, 1000);
	CHECK_INT(fired, 1);

	harness_write(d, "w/conf.d/new.conf", "c;\n");
	step(loop, 0);
	step(loop, 100);
	CHECK_INT(fired, 2);

	harness_write(d, "w/conf.d/new.txt", "c;\n"); /* does not match the glob */
	step(loop, 0);
	step(loop, 1000);
	CHECK_INT(fired, 2);

	snprintf(path, sizeof(path), "%s/w/conf.d/a.conf", d);
	unlink(path);
	step(loop, 0);
	step(loop, 100);
	CHECK_INT(fired, 3);

	/* the rename dance of editors that write a temporary file */
	harness_write(d, "w/.nginx.conf.swp", "a;\n");
	snprintf(tmp, sizeof(tmp), "%s/w/.nginx.conf.swp", d);
	CHECK_INT(rename(tmp, main_conf), 0);
	step(loop, 0);
	step(loop, 100);
	CHECK_INT(fired, 4);

	cfgwatch_free(w);
	ev_loop_destroy(loop);
}

/* With the loop's own clock the wake-up timer ends the wait: ev_run returns
 * once the callback ran (it breaks the loop), bounded by a 10 s guard. */
static struct ev_loop *real_loop;

static void on_change_break(void *ud)
{
	(void)ud;
	fired++;
	ev_break(real_loop, EVBREAK_ALL);
}

static void on_guard(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void test_loop_clock_fires_after_debounce(void)
{
	const char *d = harness_tmpdir();
	char conf[512];
	harness_write(d, "r/nginx.conf", "a;\n");
	snprintf(conf, sizeof(conf), "%s/r/nginx.conf", d);
	const char *files[] = {conf};
	real_loop = ev_loop_new(EVFLAG_AUTO);
	struct cfgwatch *w = NULL;
	CHECK_INT(cfgwatch_new(real_loop, 20, NULL, on_change_break, NULL, &w), 0);
	if (!w)
		return;
	cfgwatch_set(w, files, 1, NULL, 0);
	fired = 0;
	harness_write(d, "r/nginx.conf", "b;\n");
	ev_timer guard;
	ev_timer_init(&guard, on_guard, 10.0, 0);
	ev_timer_start(real_loop, &guard);
	ev_run(real_loop, 0);
	ev_timer_stop(real_loop, &guard);
	CHECK_INT(fired, 1);
	cfgwatch_free(w);
	ev_loop_destroy(real_loop);
}

int main(void)
{
	RUN(test_file_and_glob_changes_fire_once_per_burst);
	RUN(test_loop_clock_fires_after_debounce);
	return harness_result();
}
