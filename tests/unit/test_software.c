/* software: the software behind a listener, from a unit's ExecStart= when no
 * process tells it, read once per listener inode; command line splitting. */
#include "harness.h"

#include <stdio.h>
#include <unistd.h>

#include "backend/software.h"
#include "core/util.h"

static void write_unit(const char *root, const char *name, const char *text)
{
	char rel[300];
	snprintf(rel, sizeof(rel), "etc/systemd/system/%s", name);
	harness_write(root, rel, text);
}

static void test_split_cmdline_and_exec(void)
{
	char buf[] = "/usr/bin/python3\0/usr/bin/gunicorn\0--bind\0" /* no octal */
		     "127.0.0.1:8000\0\0";
	const char *argv[8];
	CHECK_INT(software_split_cmdline(buf, sizeof(buf) - 1, argv, 8), 4);
	CHECK_STR(argv[1], "/usr/bin/gunicorn");
	CHECK_STR(argv[3], "127.0.0.1:8000");
	char title[] = "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)";
	CHECK_INT(software_split_cmdline(title, strlen(title), argv, 8), 1);
	CHECK_STR(argv[0], "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)");
	char exec[] = "-/usr/bin/uwsgi  --socket 127.0.0.1:39001\t--processes 4";
	CHECK_INT(software_split_exec(exec, argv, 8), 5);
	CHECK_STR(argv[0], "/usr/bin/uwsgi");
	CHECK_STR(argv[4], "4");
}

static void test_unit_execstart_identifies_and_is_read_once_per_inode(void)
{
	const char *root = harness_tmpdir();
	write_unit(root, "app.service",
		   "[Unit]\nDescription=app\n[Service]\nUser=www-data\n"
		   "ExecStart=/usr/bin/uwsgi --socket 127.0.0.1:39001 \\\n  --processes 4\n");
	struct software_cache *c;
	CHECK_INT(software_cache_new(root, &c), 0);
	struct host_listener l = {.listening = true, .inode = 1001};
	snprintf(l.unit, sizeof(l.unit), "app.service");
	const struct backend_info *b = software_lookup(c, "127.0.0.1:39001", &l);
	CHECK(b != NULL);
	if (b) {
		CHECK_INT(b->kind, BACKEND_UWSGI);
		CHECK(b->bound);
		CHECK_INT(b->proto, BACKEND_PROTO_UWSGI);
		CHECK_STR(b->workers.value, "4");
		CHECK_STR(b->unit, "app.service"); /* whose journal holds its own signals */
	}
	/* the unit file goes: the same listener is not read again */
	char path[700];
	snprintf(path, sizeof(path), "%s/etc/systemd/system/app.service", root);
	CHECK_INT(unlink(path), 0);
	CHECK(software_lookup(c, "127.0.0.1:39001", &l) == b);
	/* nothing listens: the last identification stays known */
	struct host_listener down = {0};
	CHECK(software_lookup(c, "127.0.0.1:39001", &down) == b);
	CHECK(software_cached(c, "127.0.0.1:39001") == b);
	/* a new listener (a restart) is read again: now nothing tells */
	l.inode = 1002;
	CHECK(software_lookup(c, "127.0.0.1:39001", &l) == NULL);
	CHECK(software_cached(c, "127.0.0.1:39001") == NULL);
	/* a unit whose ExecStart does not bind the peer names nothing */
	write_unit(root, "other.service",
		   "[Service]\nExecStart=/usr/bin/uwsgi --socket 127.0.0.1:39002\n");
	snprintf(l.unit, sizeof(l.unit), "other.service");
	l.inode = 1003;
	CHECK(software_lookup(c, "127.0.0.1:39001", &l) == NULL);
	software_cache_free(c);
}

int main(void)
{
	RUN(test_split_cmdline_and_exec);
	RUN(test_unit_execstart_identifies_and_is_read_once_per_inode);
	return harness_result();
}
