/* upwatchd: command line, then daemon_run(). The only place that exits. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "build-config.h"
#include "conf/config.h"
#include "daemon/daemon.h"
#include "core/log.h"
#include "core/util.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: upwatchd [OPTION]...\n"
		"Find out why nginx returns 502/504: follow its error logs, probe every upstream\n"
		"peer, and raise one alert per root cause to journald and a JSON socket.\n"
		"\n"
		"  -c, --config FILE       upwatch configuration (default %s)\n"
		"  -n, --nginx-conf FILE   nginx configuration to read (default "
		"/etc/nginx/nginx.conf)\n"
		"      --nginx-dump FILE   read the nginx configuration from `nginx -T` output\n"
		"                          instead (- for standard input)\n"
		"  -e, --error-log PATH    also follow this error log (repeatable)\n"
		"  -s, --socket PATH       JSON socket (default /run/upwatch/upwatch.sock)\n"
		"  -d, --state-dir DIR     where log offsets are kept (default /var/lib/upwatch)\n"
		"  -f, --foreground        log to stderr instead of journald\n"
		"  -t, --check-config      parse both configurations, print the peers and logs\n"
		"                          that would be watched, exit 0 (ok) or 1 (error)\n"
		"  -V, --version           print the version and exit\n"
		"  -h, --help              print this help and exit\n"
		"\n"
		"Flags override upwatch.conf. SIGHUP reloads both configurations (the old ones\n"
		"stay when the new ones do not parse); SIGTERM stops.\n",
		CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"nginx-conf", required_argument, NULL, 'n'},
	    {"nginx-dump", required_argument, NULL, 'D'},
	    {"error-log", required_argument, NULL, 'e'},
	    {"socket", required_argument, NULL, 's'},
	    {"state-dir", required_argument, NULL, 'd'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"check-config", no_argument, NULL, 't'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct daemon_flags flags = {.config_path = CONFIG_DEFAULT_PATH};
	bool check = false;
	int c, status;

	flags.error_logs = xcalloc((size_t)argc, sizeof(char *));
	while ((c = getopt_long(argc, argv, "c:n:e:s:d:ftVh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			flags.config_path = optarg;
			flags.config_explicit = true;
			break;
		case 'n':
			flags.nginx_conf = optarg;
			break;
		case 'D':
			flags.nginx_dump = optarg;
			break;
		case 'e':
			flags.error_logs[flags.nerror_logs++] = optarg;
			break;
		case 's':
			flags.socket_path = optarg;
			break;
		case 'd':
			flags.state_dir = optarg;
			break;
		case 'f':
			flags.foreground = true;
			break;
		case 't':
			check = true;
			break;
		case 'V':
			printf("upwatchd %s\n", UPWATCH_VERSION);
			status = 0;
			goto out;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default:
			usage(stderr);
			status = 2;
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "upwatchd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		status = 2;
		goto out;
	}

	if (check) {
		status = daemon_check_config(&flags);
	} else {
		log_open(flags.foreground);
		status = daemon_run(&flags);
	}
out:
	free(flags.error_logs);
	return status;
}
