#!/bin/sh
# Builds the narwhal image from dist/narwhal (npm run build:binary) and a static tini.
#   docker/build.sh [-t TAG] [--base IMAGE] [extra `docker build` args...]
# TINI: a static tini binary (default: /usr/bin/tini-static, Debian/Ubuntu package `tini`).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tag=narwhal:latest
base=
while [ $# -gt 0 ]; do
  case "$1" in
    -t) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    *) break ;;
  esac
done
tini=${TINI:-/usr/bin/tini-static}
[ -x "$root/dist/narwhal" ] || { echo "docker/build.sh: dist/narwhal missing: run npm run build:binary" >&2; exit 1; }
[ -x "$tini" ] || { echo "docker/build.sh: $tini missing: apt-get install tini, or set TINI=/path/to/static/tini" >&2; exit 1; }
ctx=$(mktemp -d "${TMPDIR:-/tmp}/narwhal-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
# Hard links when possible (same file system): the 100 MB binary is not copied twice.
ln "$root/dist/narwhal" "$ctx/narwhal" 2>/dev/null || cp "$root/dist/narwhal" "$ctx/narwhal"
cp "$tini" "$ctx/tini"
cp "$root/docker/Dockerfile" "$ctx/Dockerfile"
docker build ${base:+--build-arg BASE="$base"} -t "$tag" "$@" "$ctx"
