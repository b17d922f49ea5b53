# Sourced by scripts/nginx.sh and scripts/redis.sh: stop_server PIDFILE DIR ends the server
# whose pid PIDFILE holds (SIGCONT in case it is paused, SIGTERM, SIGKILL after 5 s) and
# removes DIR.
stop_server() {
  local pidfile=$1 dir=$2 pid
  if [[ -f $pidfile ]]; then
    pid=$(<"$pidfile")
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -rf "$dir"
}
