#!/usr/bin/env bash
# Builds the web catalog labstac serves at /: STAC Browser 4.0.1, unmodified, from the npm
# registry, with the exact dependency versions of web/package-lock.json (upstream's own
# lockfile of that release, plus the package itself). Nothing is fetched at run time.
#
#   scripts/web.sh build     (skipped when web/dist is already the build of this lockfile)
#
# The one build step beyond `npm run build`: index.html loads /config.js, which labstac
# writes per request (the catalog's address, the sign-in link), as STAC Browser's own
# Docker image does. Output: web/dist.
set -euo pipefail
cd "$(dirname "$0")/../web"

say() { echo "web: $*"; }
die() { echo "web: $*" >&2; exit 1; }

build() {
  command -v npm >/dev/null || die "npm (Node.js 20) is needed to build the web catalog"
  local stamp
  stamp=$(cat package-lock.json ../scripts/web.sh | sha256sum | cut -c1-16)
  # The stamp sits beside dist/, not in it: dist/ is served as it is.
  if [ -f dist/index.html ] && [ -f .built ] && [ "$(cat .built)" = "$stamp" ]; then
    say "STAC Browser already built in web/dist"
    return
  fi
  npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed"
  rm -rf build dist
  mkdir build
  cp -r node_modules/@radiantearth/stac-browser/. build/
  ln -s ../node_modules build/node_modules
  local tag='<!-- <script defer="defer" src="/config.js"></script> -->'
  grep -qF "$tag" build/public/index.html || die "STAC Browser's index.html has no config.js tag to enable"
  sed -i "s#$tag#<script defer=\"defer\" src=\"/config.js\"></script>#" build/public/index.html
  (cd build && SB_pathPrefix=/ SB_historyMode=hash ./node_modules/.bin/vue-cli-service build \
    --dest ../dist >../build.log 2>&1) || { tail -30 build.log >&2; die "the build failed; see web/build.log"; }
  rm -rf build
  echo "$stamp" >.built
  say "STAC Browser built in web/dist"
}

case "${1:-}" in
  build) build ;;
  *) die "usage: $0 build" ;;
esac
