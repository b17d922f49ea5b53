#!/usr/bin/env bash
# A throwaway redis-server (Debian's, 7.0) on a free loopback port, for the shared-limit and
# queue tests and benchmarks:
#   scripts/redis.sh start DIR [ARGS...]  starts it with its data in DIR (append-only file,
#                                         fsync on every write: a restart loses nothing),
#                                         writes its URL (redis://127.0.0.1:PORT) to DIR/url,
#                                         its port to DIR/port and its pid to DIR/redis.pid;
#                                         ARGS go to redis-server (--requirepass SECRET)
#   scripts/redis.sh stop DIR             stops it (SIGTERM, then SIGKILL) and removes DIR
set -euo pipefail
cmd=${1:?usage: redis.sh start|stop DIR [ARGS...]}
dir=${2:?usage: redis.sh start|stop DIR [ARGS...]}
shift 2
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}

source "$(dirname "$0")/stop_server.sh"
stop() { stop_server "$dir/redis.pid" "$dir"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  mkdir -p "$dir"
  local port
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save '' \
      --appendonly yes --appendfsync always --protected-mode no "$@" || true
    for _ in $(seq 100); do
      if [[ -s $dir/redis.pid ]] && kill -0 "$(<"$dir/redis.pid")" 2>/dev/null &&
        (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
        echo "redis://127.0.0.1:$port" >"$dir/url"
        echo "$port" >"$dir/port"
        return 0
      fi
      sleep 0.05
    done
    rm -f "$dir/redis.pid"  # the port was taken meanwhile: another one
  done
  echo "redis.sh: redis-server did not start; see $dir/redis.log" >&2
  exit 1
}

case $cmd in
  start) start "$@" ;;
  stop) stop ;;
  *) echo "usage: redis.sh start|stop DIR [ARGS...]" >&2; exit 2 ;;
esac
