/* backend: software identification and configuration readers against the
 * fixture tree tests/fixtures/backend (shaped like Debian 12's packages). */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "core/util.h"

#define ROOT	FIXTURES "/backend"
#define ARGC(a) ARRAY_SIZE(a)

static void test_identify_from_exe_and_titles(void)
{
	const char *fpm[] = {"php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"};
	CHECK_INT(backend_identify("/usr/sbin/php-fpm8.2", fpm, 1), BACKEND_PHPFPM);
	const char *fpm_pool[] = {"php-fpm: pool www"};
	CHECK_INT(backend_identify(NULL, fpm_pool, 1), BACKEND_PHPFPM);
	const char *gu[] = {"/usr/bin/python3", "/usr/bin/gunicorn", "--bind", "127.0.0.1:8011",
			    "app:app"};
	CHECK_INT(backend_identify("/usr/bin/python3.11", gu, ARGC(gu)), BACKEND_GUNICORN);
	const char *gu_title[] = {"gunicorn: master [app:app]"};
	CHECK_INT(backend_identify("/usr/bin/python3.11", gu_title, 1), BACKEND_GUNICORN);
	const char *gu_m[] = {"python3", "-m", "gunicorn", "app:app"};
	CHECK_INT(backend_identify("/usr/bin/python3.11", gu_m, ARGC(gu_m)), BACKEND_GUNICORN);
	const char *uw[] = {"/usr/bin/uwsgi", "--ini", "x.ini"};
	CHECK_INT(backend_identify("/usr/bin/uwsgi-core", uw, ARGC(uw)), BACKEND_UWSGI);
	const char *node[] = {"node", "server.js"};
	CHECK_INT(backend_identify("/usr/bin/node", node, ARGC(node)), BACKEND_NODE);
	const char *py[] = {"python3", "-m", "http.server"};
	CHECK_INT(backend_identify("/usr/bin/python3.11", py, ARGC(py)), BACKEND_UNKNOWN);
	CHECK_STR(backend_kind_name(BACKEND_PHPFPM), "php-fpm");
	CHECK_STR(backend_proto_name(BACKEND_PROTO_UWSGI), "uwsgi");
}

static void test_bind_matching(void)
{
	CHECK(backend_bind_matches("/run/php/php8.2-fpm.sock", "unix:/run/php/php8.2-fpm.sock"));
	CHECK(backend_bind_matches("unix:/run/app.sock", "unix:/run/app.sock"));
	CHECK(!backend_bind_matches("/run/app.sock", "unix:/run/app2.sock"));
	CHECK(backend_bind_matches("9000", "127.0.0.1:9000"));
	CHECK(backend_bind_matches(":9000", "[::1]:9000"));
	CHECK(backend_bind_matches("0.0.0.0:9000", "127.0.0.1:9000"));
	CHECK(backend_bind_matches("[::]:9000", "127.0.0.1:9000"));
	CHECK(backend_bind_matches("localhost:9000", "127.0.0.1:9000"));
	CHECK(backend_bind_matches("127.0.0.1:9000", "127.0.0.1:9000"));
	CHECK(!backend_bind_matches("127.0.0.1:9000", "127.0.0.1:9001"));
	CHECK(!backend_bind_matches("127.0.0.2:9000", "127.0.0.1:9000"));
	CHECK(!backend_bind_matches("127.0.0.1:9000", "unix:/run/x.sock"));
	CHECK(!backend_bind_matches("fd://3", "127.0.0.1:9000"));
}

static void test_phpfpm_debian_pool_by_socket(void)
{
	const char *argv[] = {"php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"};
	struct backend_info b;
	CHECK_INT(backend_describe(BACKEND_PHPFPM, "/usr/sbin/php-fpm8.2", argv, 1,
				   "unix:/run/php/php8.2-fpm.sock", ROOT, &b),
		  0);
	CHECK(b.bound);
	CHECK_STR(b.config_file, "/etc/php/8.2/fpm/php-fpm.conf");
	CHECK_STR(b.section, "www");
	CHECK_INT(b.proto, BACKEND_PROTO_FASTCGI);
	CHECK_STR(b.bind.file, "/etc/php/8.2/fpm/pool.d/www.conf");
	CHECK_INT(b.bind.line, 5);
	CHECK_STR(b.workers.value, "5");
	CHECK_INT(b.workers.line, 10);
	CHECK_STR(b.pm.value, "dynamic");
	CHECK_STR(b.owner.value, "www-data");
	CHECK(b.mode.value == NULL); /* commented out: php-fpm's default 0660 holds */
	CHECK(b.timeout.value == NULL);
	CHECK_STR(b.error_log.value, "/var/log/php8.2-fpm.log");
	CHECK_STR(b.error_log.file, "/etc/php/8.2/fpm/php-fpm.conf");
	backend_info_done(&b);
}

static void test_phpfpm_pools_by_port_and_pool_variable(void)
{
	const char *argv[] = {"/usr/sbin/php-fpm8.2", "--nodaemonize", "--fpm-config",
			      "/etc/php/8.2/fpm/php-fpm.conf"};
	struct backend_info b;
	CHECK_INT(
	    backend_describe(BACKEND_PHPFPM, NULL, argv, ARGC(argv), "127.0.0.1:9001", ROOT, &b),
	    0);
	CHECK(b.bound);
	CHECK_STR(b.section, "shop");
	CHECK_STR(b.workers.value, "12");
	CHECK_STR(b.workers.file, "/etc/php/8.2/fpm/pool.d/shop.conf");
	CHECK_INT(b.workers.line, 6);
	CHECK_STR(b.timeout.value, "30s");
	CHECK_STR(b.error_log.value, "/var/log/php/shop.log");
	backend_info_done(&b);

	CHECK_INT(backend_describe(BACKEND_PHPFPM, NULL, argv, ARGC(argv), "unix:/run/php/api.sock",
				   ROOT, &b),
		  0);
	CHECK(b.bound);
	CHECK_STR(b.section, "api");
	CHECK_STR(b.workers.value, "3");
	CHECK_STR(b.mode.value, "0600");
	backend_info_done(&b);

	CHECK_INT(
	    backend_describe(BACKEND_PHPFPM, NULL, argv, ARGC(argv), "127.0.0.1:9999", ROOT, &b),
	    0);
	CHECK(!b.bound);
	CHECK_STR(b.error_log.value, "/var/log/php8.2-fpm.log");
	backend_info_done(&b);

	const char *missing[] = {"php-fpm", "-y", "/etc/php/7.4/fpm/php-fpm.conf"};
	CHECK_INT(backend_describe(BACKEND_PHPFPM, NULL, missing, ARGC(missing), "127.0.0.1:9001",
				   ROOT, &b),
		  -ENOENT);
}

static void test_uwsgi_debian_default_ini_and_flags(void)
{
	/* Debian's init script: default.ini, the app's ini, the namespace flags. */
	const char *argv[] = {"/usr/bin/uwsgi",
			      "--ini",
			      "/usr/share/uwsgi/conf/default.ini",
			      "--ini",
			      "/etc/uwsgi/apps-enabled/blog.ini",
			      "--deb-confnamespace",
			      "app",
			      "--deb-confname",
			      "blog"};
	struct backend_info b;
	CHECK_INT(backend_describe(BACKEND_UWSGI, "/usr/bin/uwsgi-core", argv, ARGC(argv),
				   "unix:/run/uwsgi/app/blog/socket", ROOT, &b),
		  0);
	CHECK(b.bound);
	CHECK_INT(b.proto, BACKEND_PROTO_UWSGI);
	CHECK_STR(b.bind.file, "/usr/share/uwsgi/conf/default.ini");
	CHECK_INT(b.bind.line, 8);
	CHECK_STR(b.workers.value, "4"); /* processes in blog.ini, after workers = 2 */
	CHECK_STR(b.workers.file, "/etc/uwsgi/apps-enabled/blog.ini");
	CHECK_STR(b.timeout.value, "20");
	backend_info_done(&b);

	const char *http[] = {"uwsgi", "/srv/app/api.ini", "--processes", "8"};
	CHECK_INT(
	    backend_describe(BACKEND_UWSGI, NULL, http, ARGC(http), "127.0.0.1:8031", ROOT, &b), 0);
	CHECK(b.bound);
	CHECK_INT(b.proto, BACKEND_PROTO_HTTP);
	CHECK_STR(b.bind.file, "/srv/app/api.ini");
	CHECK_INT(b.bind.line, 2);
	CHECK_STR(b.workers.value, "8");
	CHECK(b.workers.file == NULL); /* the command line */
	backend_info_done(&b);

	/* [other] is not read without :other. */
	CHECK_INT(
	    backend_describe(BACKEND_UWSGI, NULL, http, ARGC(http), "127.0.0.1:9999", ROOT, &b), 0);
	CHECK(!b.bound);
	backend_info_done(&b);

	const char *flags[] = {
	    "uwsgi", "--socket=127.0.0.1:3031", "-p", "3", "--harakiri", "60", "-l", "8"};
	CHECK_INT(
	    backend_describe(BACKEND_UWSGI, NULL, flags, ARGC(flags), "127.0.0.1:3031", ROOT, &b),
	    0);
	CHECK(b.bound);
	CHECK_INT(b.proto, BACKEND_PROTO_UWSGI);
	CHECK_STR(b.workers.value, "3");
	CHECK_STR(b.timeout.value, "60");
	CHECK_STR(b.backlog.value, "8"); /* -l: listen, the socket's queue */
	CHECK(b.backlog.file == NULL);
	backend_info_done(&b);
}

static void test_gunicorn_cli_over_config_file(void)
{
	const char *argv[] = {"/usr/bin/python3", "/usr/bin/gunicorn", "-c",
			      "/srv/app/gunicorn.conf.py", "app:app"};
	struct backend_info b;
	CHECK_INT(backend_describe(BACKEND_GUNICORN, NULL, argv, ARGC(argv),
				   "unix:/run/app/app.sock", ROOT, &b),
		  0);
	CHECK(b.bound);
	CHECK_INT(b.proto, BACKEND_PROTO_HTTP);
	CHECK_STR(b.bind.file, "/srv/app/gunicorn.conf.py");
	CHECK_INT(b.bind.line, 4);
	CHECK_STR(b.workers.value, "multiprocessing.cpu_count() * 2 + 1");
	CHECK_STR(b.timeout.value, "45");
	CHECK_INT(b.timeout.line, 6);
	backend_info_done(&b);

	const char *cli[] = {"/usr/bin/python3",
			     "/usr/bin/gunicorn",
			     "-c",
			     "/srv/app/gunicorn.conf.py",
			     "--bind=127.0.0.1:8012",
			     "-w",
			     "3",
			     "app:app"};
	CHECK_INT(
	    backend_describe(BACKEND_GUNICORN, NULL, cli, ARGC(cli), "127.0.0.1:8011", ROOT, &b),
	    0);
	CHECK(!b.bound); /* --bind replaces the file's binds */
	CHECK_STR(b.workers.value, "3");
	CHECK(b.workers.file == NULL);
	backend_info_done(&b);

	const char *bare[] = {"gunicorn", "app:app"};
	CHECK_INT(
	    backend_describe(BACKEND_GUNICORN, NULL, bare, ARGC(bare), "127.0.0.1:8000", ROOT, &b),
	    0);
	CHECK(b.bound); /* gunicorn's default bind */
	backend_info_done(&b);
}

static void test_phpfpm_log_signal_newest_line_and_time(void)
{
	const char *dir = harness_tmpdir();
	harness_write(dir, "fpm.log",
		      "[29-Nov-2026 22:17:01] NOTICE: ready to handle connections\n"
		      "[29-Nov-2026 22:17:05] WARNING: [pool www] server reached pm.max_children "
		      "setting (1), consider raising it\n"
		      "[29-Nov-2026 22:17:09] WARNING: [pool www] child 42, script '/x.php' "
		      "(request: \"GET /x.php\") execution timed out (3.001 sec), terminating\n"
		      "[29-Nov-2026 22:17:10] NOTICE: child 42 exited\n");
	struct backend_info b = {.kind = BACKEND_PHPFPM,
				 .error_log = {.value = (char *)"/fpm.log"}};
	char line[300];
	enum backend_signal sig;
	int64_t at;
	CHECK_INT(backend_log_signal(&b, dir, line, sizeof(line), &sig, &at), 0);
	CHECK_INT(sig, BACKEND_SIGNAL_KILLED);
	CHECK(strstr(line, "execution timed out (3.001 sec), terminating") != NULL);
	struct tm tm = {.tm_mday = 29,
			.tm_mon = 10,
			.tm_year = 126,
			.tm_hour = 22,
			.tm_min = 17,
			.tm_sec = 9,
			.tm_isdst = -1};
	CHECK(at == (int64_t)mktime(&tm) * 1000);
	b.kind = BACKEND_GUNICORN;
	CHECK_INT(backend_log_signal(&b, dir, line, sizeof(line), &sig, &at), -ENOENT);
	b.kind = BACKEND_PHPFPM;
	b.error_log.value = (char *)"/none.log";
	CHECK_INT(backend_log_signal(&b, dir, line, sizeof(line), &sig, &at), -ENOENT);
}

int main(void)
{
	RUN(test_identify_from_exe_and_titles);
	RUN(test_bind_matching);
	RUN(test_phpfpm_debian_pool_by_socket);
	RUN(test_phpfpm_pools_by_port_and_pool_variable);
	RUN(test_uwsgi_debian_default_ini_and_flags);
	RUN(test_gunicorn_cli_over_config_file);
	RUN(test_phpfpm_log_signal_newest_line_and_time);
	return harness_result();
}
