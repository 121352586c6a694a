/* Unit tests for cfgwatch: a change to a watched file or a new file matching
 * an include glob fires once per burst; unrelated files do not. */
#include <ev.h>
#include <stdio.h>
#include <unistd.h>

#include "conf/cfgwatch.h"
#include "harness.h"

static int fired;
static struct ev_loop *loop;

static void on_change(void *ud)
{
	(void)ud;
	fired++;
}

static void stop_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

static void run_for(double s)
{
	ev_timer t;
	ev_timer_init(&t, stop_cb, s, 0);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

static void test_file_and_glob_changes_fire_once_per_burst(void)
{
	const char *d = harness_tmpdir();
	char main_conf[512], glob[512], path[512];
	harness_write(d, "w/nginx.conf", "a;\n");
	harness_write(d, "w/conf.d/a.conf", "b;\n");
	harness_write(d, "w/unrelated.txt", "x\n");
	snprintf(main_conf, sizeof(main_conf), "%s/w/nginx.conf", d);
	snprintf(glob, sizeof(glob), "%s/w/conf.d/*.conf", d);
	const char *files[] = {main_conf};
	const char *globs[] = {glob};

	loop = ev_default_loop(0);
	struct cfgwatch *w = cfgwatch_new(loop, 0.1, on_change, NULL);
	CHECK(w != NULL);
	cfgwatch_set(w, files, 1, globs, 1);

	harness_write(d, "w/unrelated.txt", "y\n");
	run_for(0.3);
	CHECK_INT(fired, 0);

	/* an editor's burst: several writes, one reload */
	for (int i = 0; i < 5; i++)
		harness_write(d, "w/nginx.conf", "a;\nb;\n");
	run_for(0.3);
	CHECK_INT(fired, 1);

	harness_write(d, "w/conf.d/new.conf", "c;\n");
	run_for(0.3);
	CHECK_INT(fired, 2);

	harness_write(d, "w/conf.d/new.txt", "c;\n"); /* does not match the glob */
	run_for(0.3);
	CHECK_INT(fired, 2);

	snprintf(path, sizeof(path), "%s/w/conf.d/a.conf", d);
	unlink(path);
	run_for(0.3);
	CHECK_INT(fired, 3);
	cfgwatch_free(w);
}

int main(void)
{
	RUN(test_file_and_glob_changes_fire_once_per_burst);
	return harness_result();
}
