#!/usr/bin/env bash
# Starts or stops labstac's own processes (API, worker, beat) in the background, on top of
# the services that scripts/services.sh runs. Used by `make up` and `make down`.
#
#   scripts/stack.sh up | down | status
#
# Settings come from the env file ENV_FILE (default var/labstac.env, written on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
ENV_FILE=${ENV_FILE:-var/labstac.env}
RUN_DIR=${RUN_DIR:-var/run}
LOG_DIR=${LOG_DIR:-var/log}
PROCESSES=(api worker beat)

say() { echo "stack: $*"; }
die() { echo "stack: $*" >&2; exit 1; }

write_env_file() {
  [ -f "$ENV_FILE" ] && return 0
  mkdir -p "$(dirname "$ENV_FILE")"
  local secret
  secret=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))')
  umask 077
  cat >"$ENV_FILE" <<ENV
# labstac settings for \`make up\` (written once; edit freely). See README.md, "Configuration".
LABSTAC_GITLAB_URL=${LABSTAC_GITLAB_URL:-http://127.0.0.1:8090}
LABSTAC_WEBHOOK_SECRETS=$secret
LABSTAC_OPENSEARCH_URL=http://127.0.0.1:${OPENSEARCH_PORT:-9200}
LABSTAC_REDIS_URL=redis://127.0.0.1:${REDIS_PORT:-6379}/0
LABSTAC_HOST=127.0.0.1
LABSTAC_PORT=${LABSTAC_PORT:-8000}
LABSTAC_STATE_DIR=$PWD/var/state
LABSTAC_LOG_FORMAT=json
ENV
  say "wrote $ENV_FILE"
}

pid_of() {
  local pidfile="$RUN_DIR/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"
}

start() {
  local name=$1; shift
  if pid_of "$name" >/dev/null; then say "$name already running (pid $(pid_of "$name"))"; return; fi
  (
    set -a; . "$ENV_FILE"; set +a
    exec "$VENV/bin/labstac" "$@" >>"$LOG_DIR/$name.log" 2>&1
  ) &
  echo $! >"$RUN_DIR/$name.pid"
}

up() {
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  write_env_file
  start api serve
  start worker worker --concurrency 2
  start beat beat
  local port
  port=$(set -a; . "$ENV_FILE"; echo "${LABSTAC_PORT:-8000}")
  local waited=0
  until curl -sf -m 2 "http://127.0.0.1:$port/readyz" >/dev/null; do
    sleep 0.5; waited=$((waited + 1))
    pid_of api >/dev/null || { tail -20 "$LOG_DIR/api.log" >&2; die "the API exited; see $LOG_DIR/api.log"; }
    [ "$waited" -lt 120 ] || die "the API was not ready within 60 s; see $LOG_DIR/api.log"
  done
  say "API ready at http://127.0.0.1:$port (health /healthz, readiness /readyz, metrics /metrics)"
  say "logs in $LOG_DIR, settings in $ENV_FILE"
}

down() {
  local name pid
  for name in "${PROCESSES[@]}"; do
    if pid=$(pid_of "$name"); then
      kill "$pid"
      local waited=0
      while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 60 ]; do sleep 0.5; waited=$((waited + 1)); done
      kill -9 "$pid" 2>/dev/null || true
      say "$name stopped"
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
}

status() {
  local name pid
  for name in "${PROCESSES[@]}"; do
    if pid=$(pid_of "$name"); then say "$name: up (pid $pid)"; else say "$name: down"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up|down|status" ;;
esac
