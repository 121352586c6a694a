#!/bin/sh
# Generate a large nginx configuration for tests/bench/ngxconf.sh:
#   gen_ngxconf.sh DIR [FILES] [PER_FILE]
# DIR/nginx.conf includes DIR/conf.d/*.conf: FILES files (default 1000), each
# with PER_FILE upstream blocks (two loopback servers each) and PER_FILE
# server blocks (default 10), every server proxying to its block and to a
# literal loopback address. Loopback addresses only; nothing is contacted.
set -eu
dir=$1
files=${2:-1000}
per=${3:-10}
mkdir -p "$dir/conf.d" "$dir/logs"
cat >"$dir/nginx.conf" <<CONF
error_log $dir/logs/error.log;
pid $dir/nginx.pid;
worker_processes 1;

events {
	worker_connections 1024;
}

http {
	access_log off;
	server_names_hash_max_size 131072;
	server_names_hash_bucket_size 128;
	proxy_connect_timeout 5s;
	include conf.d/*.conf;
}
CONF
awk -v dir="$dir" -v files="$files" -v per="$per" 'BEGIN {
	for (f = 0; f < files; f++) {
		out = sprintf("%s/conf.d/%04d.conf", dir, f);
		for (i = 0; i < per; i++) {
			n = f * per + i;
			a = int(n / 250) % 250 + 1; b = n % 250 + 1;
			printf("upstream u%d {\n\tserver 127.%d.%d.1:8080 max_fails=3 fail_timeout=10s;\n\tserver 127.%d.%d.2:8080 backup;\n\tkeepalive 8;\n}\n\n", n, a, b, a, b) > out;
		}
		for (i = 0; i < per; i++) {
			n = f * per + i;
			a = int(n / 250) % 250 + 1; b = n % 250 + 1;
			printf("server {\n\tlisten 127.0.0.1:8080;\n\tserver_name s%d.bench.test;\n\tproxy_read_timeout 30s;\n\n\tlocation / {\n\t\tproxy_pass http://u%d;\n\t\tproxy_set_header Host $host;\n\t}\n\n\tlocation /api/ {\n\t\tproxy_read_timeout 1m30s;\n\t\tproxy_pass http://127.%d.%d.3:9000/v1/;\n\t}\n}\n\n", n, n, a, b) > out;
		}
		close(out);
	}
}'
