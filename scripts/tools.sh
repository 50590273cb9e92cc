#!/usr/bin/env bash
# Installs the tools the Helm chart's tests need (tests/deploy/), pinned, into a folder of
# their own: helm and kubeconform (Go modules, built with `go install` through the Go module
# proxy) and the JSON schemas kubeconform validates against, offline: Kubernetes' from the
# kubernetes-validate wheel (PyPI) and the ServiceMonitor CRD's from prometheus-operator's
# Go module (deploy/offline_schemas.py builds both). Idempotent: what is in place at the
# pinned version is left alone.
#
#   scripts/tools.sh install    install what is missing, then say where everything is
#   scripts/tools.sh path       print the tools folder (bin/, schemas/)
#
# Settings (environment): LABSTAC_TOOLS_HOME (default $LABSTAC_SERVICES_HOME/tools, that is
# /var/tmp/labstac/tools), GO (default: go on PATH, else /usr/local/go/bin/go), PYTHON
# (python3), PIP (the virtualenv's pip, else python3 -m pip).
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
HELM_MODULE_SUM="h1:n1if5iQgHYsujPAcO5oonH/KiSNUmqmUF0iGVjSF3AU="
HELM_KUBERNETES_VERSION=1.37  # its k8s.io/client-go is v0.37.0
KUBECONFORM_VERSION=v0.8.0
KUBECONFORM_MODULE_SUM="h1:loDYd3a3spjIFrauqW67CDKF55Oo9R6uvC8AvpVd4ug="
# The Kubernetes version the manifests are validated for, and the wheel that carries its
# schemas (kubernetes_validate/kubernetes-json-schema/v1.37.0-local-strict/).
KUBERNETES_VERSION=1.37.0
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBERNETES_VALIDATE_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
# v0.95.x is listed by the module proxy but refused ("This module version is not
# available") here; v0.94.1 is the newest it serves.
PROMETHEUS_OPERATOR_VERSION=v0.94.1
PROMETHEUS_OPERATOR_MODULE_SUM="h1:QEIb2wenPH+SdMN1xMf8l4Pmj00YYXXI6HlbLlQWkww="

SERVICES_HOME="${LABSTAC_SERVICES_HOME:-/var/tmp/labstac}"
TOOLS_HOME="${LABSTAC_TOOLS_HOME:-$SERVICES_HOME/tools}"
BIN="$TOOLS_HOME/bin"
SCHEMAS="$TOOLS_HOME/schemas"
KUBERNETES_SCHEMAS="$SCHEMAS/kubernetes"
CRD_SCHEMAS="$SCHEMAS/crds"
PYTHON="${PYTHON:-python3}"

die() { echo "tools: $*" >&2; exit 1; }
say() { echo "tools: $*"; }

find_go() {
  if [ -n "${GO:-}" ]; then
    command -v "$GO" >/dev/null || die "GO=$GO is not a command"
  elif command -v go >/dev/null; then
    GO=go
  elif [ -x /usr/local/go/bin/go ]; then
    GO=/usr/local/go/bin/go
  else
    die "go is missing: helm and kubeconform are built from their Go modules; install Go 1.26+ (https://go.dev/dl/) or set GO"
  fi
}

# The module's checksum as the Go checksum database has it must be the pinned one.
download_module() {
  local module=$1 version=$2 sum=$3 json
  json=$("$GO" mod download -json "$module@$version" 2>&1) ||
    die "could not download $module@$version through the Go module proxy ($("$GO" env GOPROXY)): $(printf '%s' "$json" | tr -s '\n\t' '  ')"
  printf '%s' "$json" | grep -q "\"Sum\": \"$sum\"" ||
    die "$module@$version does not have the pinned checksum $sum"
  printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p'
}

install_helm() {
  # What `make build` of Helm's own repository stamps in: its version, and the Kubernetes
  # version of its client-go (v0.37.0: 1.37) that `helm template` and `helm lint` assume.
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  local var
  for var in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $var.k8sVersionMajor=${HELM_KUBERNETES_VERSION%%.*}"
    ldflags+=" -X $var.k8sVersionMinor=${HELM_KUBERNETES_VERSION#*.}"
  done
  local stamp="$BIN/.helm" want="helm $HELM_VERSION $ldflags"
  if [ -x "$BIN/helm" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  say "building helm $HELM_VERSION (go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION)"
  download_module helm.sh/helm/v3 "$HELM_VERSION" "$HELM_MODULE_SUM" >/dev/null
  GOBIN="$BIN" CGO_ENABLED=0 "$GO" install -ldflags "$ldflags" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" || die "could not build helm $HELM_VERSION"
  echo "$want" > "$stamp"
}

install_kubeconform() {
  if [ -x "$BIN/kubeconform" ] && [ "$("$BIN/kubeconform" -v 2>/dev/null)" = "$KUBECONFORM_VERSION" ]; then
    return 0
  fi
  say "building kubeconform $KUBECONFORM_VERSION (go install github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION)"
  download_module github.com/yannh/kubeconform "$KUBECONFORM_VERSION" "$KUBECONFORM_MODULE_SUM" >/dev/null
  GOBIN="$BIN" CGO_ENABLED=0 "$GO" install -ldflags "-s -w -X main.version=$KUBECONFORM_VERSION" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" ||
    die "could not build kubeconform $KUBECONFORM_VERSION"
}

pip_download() {
  local dest=$1 pip
  if [ -n "${PIP:-}" ]; then
    pip=("$PIP")
  elif [ -x "${VENV:-.venv}/bin/pip" ]; then
    pip=("${VENV:-.venv}/bin/pip")
  else
    pip=("$PYTHON" -m pip)
  fi
  "${pip[@]}" download -q --no-deps --only-binary=:all: -d "$dest" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
}

install_kubernetes_schemas() {
  local stamp="$KUBERNETES_SCHEMAS/.installed" want
  want="kubernetes-validate $KUBERNETES_VALIDATE_VERSION $KUBERNETES_VALIDATE_SHA256 $(sha256sum deploy/offline_schemas.py | cut -d' ' -f1)"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  local wheel="$TOOLS_HOME/dist/kubernetes_validate-$KUBERNETES_VALIDATE_VERSION-py3-none-any.whl"
  if ! { [ -f "$wheel" ] && echo "$KUBERNETES_VALIDATE_SHA256  $wheel" | sha256sum -c --status; }; then
    say "downloading kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI (22 MB: Kubernetes' JSON schemas)"
    mkdir -p "$TOOLS_HOME/dist"
    rm -f "$wheel"
    pip_download "$TOOLS_HOME/dist" ||
      die "could not download kubernetes-validate==$KUBERNETES_VALIDATE_VERSION from PyPI"
    echo "$KUBERNETES_VALIDATE_SHA256  $wheel" | sha256sum -c --status ||
      die "$wheel does not have the pinned sha256 $KUBERNETES_VALIDATE_SHA256"
  fi
  say "building standalone strict schemas for Kubernetes $KUBERNETES_VERSION"
  rm -rf "$KUBERNETES_SCHEMAS"
  "$PYTHON" deploy/offline_schemas.py kubernetes "$wheel" "$KUBERNETES_VERSION" "$KUBERNETES_SCHEMAS" ||
    die "could not build the Kubernetes schemas"
  echo "$want" > "$stamp"
}

install_crd_schemas() {
  local stamp="$CRD_SCHEMAS/.installed" want dir
  want="prometheus-operator $PROMETHEUS_OPERATOR_VERSION $(sha256sum deploy/offline_schemas.py | cut -d' ' -f1)"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  say "fetching prometheus-operator $PROMETHEUS_OPERATOR_VERSION's ServiceMonitor CRD (Go module)"
  dir=$(download_module github.com/prometheus-operator/prometheus-operator \
    "$PROMETHEUS_OPERATOR_VERSION" "$PROMETHEUS_OPERATOR_MODULE_SUM")
  [ -f "$dir/jsonnet/prometheus-operator/servicemonitors-crd.json" ] ||
    die "$dir has no jsonnet/prometheus-operator/servicemonitors-crd.json"
  rm -rf "$CRD_SCHEMAS"
  "$PYTHON" deploy/offline_schemas.py crd \
    "$dir/jsonnet/prometheus-operator/servicemonitors-crd.json" "$CRD_SCHEMAS" ||
    die "could not build the ServiceMonitor schema"
  echo "$want" > "$stamp"
}

install() {
  find_go
  command -v "$PYTHON" >/dev/null || die "$PYTHON is missing (it builds the schemas)"
  mkdir -p "$BIN" "$SCHEMAS"
  install_helm
  install_kubeconform
  install_kubernetes_schemas
  install_crd_schemas
  say "helm $("$BIN/helm" version --template '{{ .Version }}') at $BIN/helm"
  say "kubeconform $("$BIN/kubeconform" -v) at $BIN/kubeconform"
  say "schemas: Kubernetes $KUBERNETES_VERSION under $KUBERNETES_SCHEMAS, CRDs under $CRD_SCHEMAS"
}

case "${1:-}" in
  install) install ;;
  path) echo "$TOOLS_HOME" ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
