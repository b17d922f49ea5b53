#!/usr/bin/env bash
# A throwaway nginx (Debian's nginx-light) on a free loopback port, for the HTTP tests and
# benchmarks:
#   scripts/nginx.sh start DIR   writes DIR/nginx.conf and DIR/www, starts nginx, and writes
#                                its base URL (http://127.0.0.1:PORT) to DIR/url
#   scripts/nginx.sh stop DIR    stops it (waits for the master to exit) and removes DIR
# What it serves (the tests and bench/http.sh rely on it):
#   /small.txt         100 bytes of text        /data.json   {"n":1,"name":"sluice"}
#   /big.bin           1 MiB                    /status/N    status N (200 404 429 500 503)
#   /conn              "CONNECTION REQUESTS": nginx's connection serial number and how many
#                      requests that connection has carried (keep-alive reuse, seen by nginx)
#   /moved             301 to /small.txt        /method      the request's method
#   /counted/ANY       200 "counted"; each arrival logged to DIR/counted.log as "MSEC URI"
#                      (the server's own count of starts, for window and rate tests)
#   /limited/TAG/ANY   nginx's own limit_req: 50 r/s with a burst of 5 (excess delayed), 429
#                      with Retry-After: 1 beyond, one bucket per TAG; each answer logged to
#                      DIR/limited.log as "MSEC STATUS URI" (the judge of -r and --adaptive)
#   /limited200/TAG/ANY the same at 200 r/s with a burst of 5 (bench/redis.sh: a rate shared
#                      by several processes)
set -euo pipefail
cmd=${1:?usage: nginx.sh start|stop DIR}
dir=${2:?usage: nginx.sh start|stop DIR}
NGINX=${NGINX:-/usr/sbin/nginx}

source "$(dirname "$0")/stop_server.sh"
stop() { stop_server "$dir/nginx.pid" "$dir"; }

write_config() {  # write_config PORT
  local user=""
  # As root, nginx's workers would run as nobody, who cannot read a private temporary dir.
  [[ $(id -u) == 0 ]] && user="user root;"
  cat >"$dir/nginx.conf" <<EOF
$user
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  log_format arrivals '\$msec \$request_uri';
  log_format answers '\$msec \$status \$request_uri';
  # One bucket per /limited/TAG/ (each test or benchmark run has its own tag).
  map \$uri \$limited_tag { ~^/limited(200)?/(?<tag>[^/]+)/ \$tag; default ""; }
  limit_req_zone \$limited_tag zone=fifty:1m rate=50r/s;
  limit_req_zone \$limited_tag zone=twohundred:1m rate=200r/s;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  types { text/plain txt; application/json json; application/octet-stream bin; }
  server {
    listen 127.0.0.1:$1 backlog=4096;
    root $dir/www;
    location = /conn { default_type text/plain; return 200 "\$connection \$connection_requests"; }
    location = /method { default_type text/plain; return 200 "\$request_method"; }
    location = /moved { return 301 /small.txt; }
    # Arrivals counted by the server: each request's time (ms) to counted.log, the judge of
    # window and rate tests.
    location /counted/ { access_log $dir/counted.log arrivals; default_type text/plain; return 200 "counted"; }
    # (try_files, not return: return answers before limit_req is consulted.)
$(for place in "limited fifty" "limited200 twohundred"; do
    set -- $place
    echo "    location /$1/ {"
    echo "      limit_req zone=$2 burst=5;"
    echo "      limit_req_status 429;"
    echo "      add_header Retry-After 1 always;"
    echo "      access_log $dir/limited.log answers;"
    echo "      default_type text/plain;"
    echo "      try_files /small.txt =404;"
    echo "    }"
  done)
$(for s in 200 404 429 500 503; do
    echo "    location = /status/$s { default_type text/plain; return $s \"status $s\"; }"
  done)
  }
}
EOF
}

start() {
  [[ -f $dir/nginx.pid ]] && stop  # one left by a run that did not get to stop it
  [[ -x $NGINX ]] || { echo "nginx.sh: $NGINX not found (scripts/install-deps.sh installs nginx-light)" >&2; exit 1; }
  mkdir -p "$dir/www" "$dir/tmp"
  head -c 100 /dev/zero | tr '\0' 'a' >"$dir/www/small.txt"
  printf '{"n":1,"name":"sluice"}' >"$dir/www/data.json"
  head -c 1048576 /dev/urandom >"$dir/www/big.bin"
  for _ in $(seq 20); do  # a port another process takes between the pick and the bind: again
    local port
    port=$(shuf -i 20000-59999 -n 1)
    write_config "$port"
    if "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" 2>"$dir/start.log"; then
      for _ in $(seq 100); do
        if curl -sf -o /dev/null "http://127.0.0.1:$port/small.txt"; then
          echo "http://127.0.0.1:$port" >"$dir/url"
          echo "nginx.sh: serving $dir/www at http://127.0.0.1:$port"
          return 0
        fi
        sleep 0.05
      done
      stop
      echo "nginx.sh: nginx started but did not answer on port $port" >&2
      exit 1
    fi
    grep -q 'Address already in use' "$dir/start.log" || break
  done
  echo "nginx.sh: nginx failed to start:" >&2
  cat "$dir/start.log" >&2
  exit 1
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: nginx.sh start|stop DIR" >&2; exit 2 ;;
esac
