#!/usr/bin/env bash
# The one test command (`make test`, and CI through .ci/run): installs labstac into .venv,
# starts the services the tests need (only those not already running), runs ruff, mypy and
# pytest, stops what it started, and prints how long it all took.
#
# LABSTAC_TEST_SUITE=cluster (`make test-cluster`, which .ci/run runs too) runs only the
# tests on a three-node OpenSearch cluster (tests/cluster, about 5 minutes), which the
# default suite leaves out to stay well under 30 minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
started_at=$(date +%s)
VENV=${VENV:-.venv}

make --no-print-directory venv

to_stop=()
for service in redis opensearch; do
  scripts/services.sh running "$service" || to_stop+=("$service")
done
stop_started() {
  local status=$?
  if [ "${#to_stop[@]}" -gt 0 ]; then scripts/services.sh down "${to_stop[@]}" || true; fi
  echo "test: finished in $(( $(date +%s) - started_at )) s (exit $status)"
  exit "$status"
}
trap stop_started EXIT
scripts/services.sh up
scripts/services.sh install-mlflow
scripts/web.sh build
scripts/tools.sh install
# The browser tests drive Debian's Chromium.
if ! command -v chromium >/dev/null; then
  echo "test: installing Debian's chromium for the browser tests"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } >/dev/null ||
    { echo "test: chromium is missing and could not be installed (apt-get, as root)" >&2; exit 1; }
fi

# pytest exits 5 when it collected no test: that is a failure here, as any non-zero code is.
if [ "${LABSTAC_TEST_SUITE:-default}" = cluster ]; then
  echo "test: pytest, the cluster tests"
  "$VENV/bin/pytest" tests/cluster "$@"
  exit
fi
echo "test: ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "test: mypy"
"$VENV/bin/mypy"
echo "test: pytest"
"$VENV/bin/pytest" --ignore=tests/cluster "$@"
