#!/usr/bin/env bash
# The whole labstac stack on one machine, for `make up` and `make down`: Redis and OpenSearch
# (scripts/services.sh), the GitLab simulator serving the demo world, labstac's system hook
# registered in it, a first `labstac reindex`, then the API, a worker and beat.
#
#   scripts/stack.sh up | down | status
#
# MLFLOW=1 also starts an MLflow tracking server (MLFLOW_PORT, default 5000; store in
# var/mlflow) with one model registered for the flood model, and points labstac at it.
#
# Settings: the env file ENV_FILE (default var/labstac.env, written on first use, with a fresh
# webhook secret); logs in LOG_DIR (var/log); pids in RUN_DIR (var/run). Ports: LABSTAC_PORT
# (8000) for the API, DEMO_GITLAB_PORT (8090) for the demo GitLab. `down` stops what `up`
# started, and only that (services that were already running stay).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
ENV_FILE=${ENV_FILE:-var/labstac.env}
RUN_DIR=${RUN_DIR:-var/run}
LOG_DIR=${LOG_DIR:-var/log}
STATE_DIR=${STATE_DIR:-$PWD/var/state}
API_PORT=${LABSTAC_PORT:-8000}
GITLAB_PORT=${DEMO_GITLAB_PORT:-8090}
MLFLOW_PORT=${MLFLOW_PORT:-5000}
MLFLOW_HOME=${LABSTAC_SERVICES_HOME:-/var/tmp/labstac}/mlflow-${MLFLOW_VERSION:-2.22.1}
PROCESSES=(beat worker api gitlab mlflow)
DEMO_USERS=(root alice bob carol)

say() { echo "stack: $*"; }
die() { echo "stack: $*" >&2; exit 1; }

demo_token() { echo "glpat-demo-$1-0123456789"; }

write_env_file() {
  [ -f "$ENV_FILE" ] && return 0
  mkdir -p "$(dirname "$ENV_FILE")"
  local secret
  secret=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))')
  (
    umask 077
    cat >"$ENV_FILE" <<ENV
# labstac settings for \`make up\` (written once; edit freely). See README.md, "Configuration".
# The demo GitLab is the simulator in gitlab_sim/; its admin token reads for labstac.
LABSTAC_GITLAB_URL=http://127.0.0.1:$GITLAB_PORT
LABSTAC_GITLAB_TOKEN=$(demo_token root)
LABSTAC_WEBHOOK_SECRETS=$secret
LABSTAC_OPENSEARCH_URL=http://127.0.0.1:${OPENSEARCH_PORT:-9200}
LABSTAC_REDIS_URL=redis://127.0.0.1:${REDIS_PORT:-6379}/0
LABSTAC_HOST=127.0.0.1
LABSTAC_PORT=$API_PORT
LABSTAC_STATE_DIR=$STATE_DIR
LABSTAC_LOG_FORMAT=json
ENV
  )
  say "wrote $ENV_FILE"
}

env_value() { (set -a; . "$ENV_FILE"; set +a; eval "echo \"\${$1}\""); }

pid_of() {
  local pidfile="$RUN_DIR/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"
}

start() {
  local name=$1; shift
  if pid_of "$name" >/dev/null; then say "$name already running (pid $(pid_of "$name"))"; return; fi
  (
    set -a; . "$ENV_FILE"; set +a
    exec "$@" >>"$LOG_DIR/$name.log" 2>&1
  ) &
  echo $! >"$RUN_DIR/$name.pid"
}

wait_for() {
  local what=$1 url=$2 name=$3 waited=0
  until curl -sf -m 2 "$url" >/dev/null; do
    sleep 0.5; waited=$((waited + 1))
    pid_of "$name" >/dev/null || { tail -20 "$LOG_DIR/$name.log" >&2; die "$what exited; see $LOG_DIR/$name.log"; }
    [ "$waited" -lt 120 ] || die "$what was not ready within 60 s; see $LOG_DIR/$name.log"
  done
}

services_up() {
  local service
  : >"$RUN_DIR/services-started.new"
  for service in redis opensearch; do
    scripts/services.sh running "$service" || echo "$service" >>"$RUN_DIR/services-started.new"
  done
  scripts/services.sh up
  # Remember what this stack started, for `down` (a second `up` adds nothing).
  cat "$RUN_DIR/services-started.new" >>"$RUN_DIR/services-started"
  rm -f "$RUN_DIR/services-started.new"
}

up() {
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  touch "$RUN_DIR/services-started"
  write_env_file
  services_up
  local gitlab api secret
  gitlab=$(env_value LABSTAC_GITLAB_URL)
  api="http://127.0.0.1:$(env_value LABSTAC_PORT)"
  secret=$(env_value LABSTAC_WEBHOOK_SECRETS | cut -d, -f1)

  if ! pid_of gitlab >/dev/null; then
    start gitlab "$VENV/bin/python" -m gitlab_sim serve --demo --port "$GITLAB_PORT"
    wait_for "the demo GitLab" "$gitlab/-/sim/health" gitlab
    curl -sf -X POST "$gitlab/-/sim/hooks" -H 'Content-Type: application/json' \
      -d "{\"kind\": \"system\", \"url\": \"$api/hooks/gitlab\", \"token\": \"$secret\",
           \"push_events\": true, \"tag_push_events\": true, \"repository_update_events\": true}" \
      >/dev/null || die "could not register labstac's system hook in the demo GitLab"
    say "demo GitLab on $gitlab, labstac's system hook registered"
    # Sign-in with GitLab: labstac's OAuth application in the demo GitLab.
    curl -sf -X POST "$gitlab/-/sim/oauth/applications" -H 'Content-Type: application/json' \
      -d "{\"name\": \"labstac\", \"redirect_uris\": [\"$api/auth/callback\"],
           \"scopes\": [\"read_api\", \"read_user\"]}" |
      "$VENV/bin/python" -c 'import json, sys; a = json.load(sys.stdin); print("LABSTAC_OAUTH_CLIENT_ID=" + a["uid"]); print("LABSTAC_OAUTH_CLIENT_SECRET=" + a["secret"]); print("LABSTAC_OAUTH_SCOPES=\"read_api read_user\"")' \
      >"$RUN_DIR/oauth.env" || die "could not register labstac's OAuth application in the demo GitLab"
    say "indexing the demo GitLab"
    (set -a; . "$ENV_FILE"; set +a; "$VENV/bin/labstac" reindex) >>"$LOG_DIR/reindex.log" 2>&1 ||
      { tail -20 "$LOG_DIR/reindex.log" >&2; die "labstac reindex failed; see $LOG_DIR/reindex.log"; }
  fi
  if [ "${MLFLOW:-0}" = 1 ]; then mlflow_up; fi
  scripts/web.sh build
  # The API signs people in with the demo GitLab's OAuth application.
  set -a; . "$RUN_DIR/oauth.env"; set +a
  start api "$VENV/bin/labstac" serve
  start worker "$VENV/bin/labstac" worker --concurrency 8
  start beat "$VENV/bin/labstac" beat
  wait_for "the API" "$api/readyz" api
  explain "$api" "$gitlab"
  if [ "${MLFLOW:-0}" = 1 ]; then explain_mlflow "$api"; fi
}

mlflow_up() {
  scripts/services.sh install-mlflow
  local mlflow="http://127.0.0.1:$MLFLOW_PORT"
  mkdir -p var/mlflow
  if ! pid_of mlflow >/dev/null; then
    # A process group of its own: `down` stops the server and its gunicorn workers.
    start mlflow setsid "$MLFLOW_HOME/bin/mlflow" server --host 127.0.0.1 \
      --port "$MLFLOW_PORT" --workers 1 --backend-store-uri "sqlite:///$PWD/var/mlflow/mlflow.db" \
      --default-artifact-root "$PWD/var/mlflow/artifacts"
    wait_for "MLflow" "$mlflow/health" mlflow
    if ! curl -sf "$mlflow/api/2.0/mlflow/registered-models/get?name=Flood%20UNet%20(1)" >/dev/null; then
      (cd var/mlflow && MLFLOW_TRACKING_URI="$mlflow" "$MLFLOW_HOME/bin/python" -c "$DEMO_MODEL") \
        >>"$LOG_DIR/mlflow.log" 2>&1 ||
        die "could not register the demo model in MLflow; see $LOG_DIR/mlflow.log"
    fi
    say "MLflow on $mlflow, a model registered for the flood model"
  fi
  # For the API, the worker and beat: link MLflow's models, read its registry every 30 s.
  export LABSTAC_MLFLOW_URL="$mlflow" LABSTAC_MLFLOW_TYPE=mlflow LABSTAC_MLFLOW_PASS_SECONDS=30
}

# A data scientist's first model for the flood project, named as MLflow SharingHub names a
# project's models: "<name> (<GitLab project id>)".
DEMO_MODEL='
import mlflow
from sklearn.linear_model import LogisticRegression
mlflow.set_experiment("eo-lab/models/flood-segmentation")
with mlflow.start_run():
    mlflow.set_tag("project", "eo-lab/models/flood-segmentation")
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    mlflow.sklearn.log_model(model, artifact_path="model", registered_model_name="Flood UNet (1)")
'

explain_mlflow() {
  local item="$1/api/v1/stac/collections/ai-model/items/eo-lab/models/flood-segmentation"
  cat <<EOF

MLflow        http://127.0.0.1:$MLFLOW_PORT   (its registry read every 30 s)

# 4. The flood model's registered MLflow models, as its item links them
\$ curl -s -H 'PRIVATE-TOKEN: $(demo_token alice)' "$item" | python3 -c 'import json, sys; print([l["title"] for l in json.load(sys.stdin)["links"] if l["rel"] == "mlflow:model"])'

# 5. Log a new version (MLflow's own client), and see the item follow within 30 s
\$ cd var/mlflow && MLFLOW_TRACKING_URI=http://127.0.0.1:$MLFLOW_PORT $MLFLOW_HOME/bin/python -c '$DEMO_MODEL'
EOF
}

explain() {
  local api=$1 gitlab=$2 stac="$1/api/v1/stac"
  cat <<EOF

labstac is up.
  web catalog   $api/   (sign in with GitLab as a demo user: the password is <user>-demo-password)
  STAC API      $stac   (OpenAPI page: $stac/api.html)
  demo GitLab   $gitlab/api/v4
  settings      $ENV_FILE
  logs          $LOG_DIR/
  stop with     make down

Demo users (send the token as PRIVATE-TOKEN or Authorization: Bearer):
  root    $(demo_token root)    admin: sees everything
  alice   $(demo_token alice)   Developer of eo-lab: its internal and private projects too
  bob     $(demo_token bob)     external user, Reporter of wine-co/wine-quality only
  carol   $(demo_token carol)   signed in, in no group: public and internal projects
  (no token: public projects only)

Try it:

# 1. How many items each caller sees
\$ for who in "" alice bob carol root; do printf '%-6s' "\${who:-anon}"; curl -s -H "PRIVATE-TOKEN: \${who:+glpat-demo-\$who-0123456789}" "$stac/search?limit=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["numberMatched"], "items")'; done

# 2. pystac-client: the AI models alice can read
\$ $VENV/bin/python -c "from pystac_client import Client; c = Client.open('$stac', headers={'PRIVATE-TOKEN': '$(demo_token alice)'}); print(sorted(i.id for i in c.search(collections=['ai-model']).items()))"

# 3. A change in GitLab, then a search that shows it: tag Sen1Floods11 as a tool too
\$ curl -s -X PUT "$gitlab/-/sim/projects/2" -H 'Content-Type: application/json' -d '{"topics": ["sharinghub:dataset", "sharinghub:tools", "flood"]}' > /dev/null; sleep 3; curl -s -o /dev/null -w '%{http_code}\n' "$stac/collections/tools/items/eo-lab/data/sen1floods11"
EOF
}

stop_pid() {
  local name=$1 pid
  if pid=$(pid_of "$name"); then
    if [ "$name" = mlflow ]; then kill -- "-$pid" 2>/dev/null || kill "$pid"; else kill "$pid"; fi
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 60 ]; do sleep 0.5; waited=$((waited + 1)); done
    kill -9 "$pid" 2>/dev/null || true
    say "$name stopped"
  fi
  rm -f "$RUN_DIR/$name.pid"
}

down() {
  local name service
  for name in "${PROCESSES[@]}"; do stop_pid "$name"; done
  if [ -f "$RUN_DIR/services-started" ]; then
    for service in $(sort -u "$RUN_DIR/services-started"); do
      scripts/services.sh down "$service"
    done
    rm -f "$RUN_DIR/services-started"
  fi
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
