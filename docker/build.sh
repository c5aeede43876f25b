#!/bin/sh
# Builds the narwhal image for one architecture from the executable and a static tini.
#   docker/build.sh [-t TAG] [--arch x64|arm64] [--base IMAGE] [extra `docker build` args...]
# x64 (linux/amd64, the default): dist/narwhal (npm run build:binary).
# arm64 (linux/arm64): dist/narwhal-linux-arm64 (node build/binary.mjs --arch arm64). No RUN in
# the Dockerfile, so no emulation is needed to build it; running it on x64 takes qemu-user.
# TINI: a static tini for that architecture (default: x64 /usr/bin/tini-static from Debian's
# `tini`; arm64 extracted from Debian's tini:arm64 by `apt-get download`, which needs
# `dpkg --add-architecture arm64 && apt-get update`).
# libatomic.so.1 (Node.js >= 25 links it; distroless/cc and debian-slim lack it) comes from the
# host's libatomic1 (or libatomic1:arm64) into /usr/lib/<triplet>/ of the image.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tag=narwhal:latest
base=
arch=x64
while [ $# -gt 0 ]; do
  case "$1" in
    -t) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    *) break ;;
  esac
done
case "$arch" in
  x64) bin=$root/dist/narwhal; platform=linux/amd64; triplet=x86_64-linux-gnu; deb=amd64 ;;
  arm64) bin=$root/dist/narwhal-linux-arm64; platform=linux/arm64; triplet=aarch64-linux-gnu; deb=arm64 ;;
  *) echo "docker/build.sh: --arch x64 or arm64, not $arch" >&2; exit 2 ;;
esac
[ -x "$bin" ] || { echo "docker/build.sh: $bin missing: run node build/binary.mjs --arch $arch" >&2; exit 1; }
libatomic=/usr/lib/$triplet/libatomic.so.1
[ -e "$libatomic" ] || { echo "docker/build.sh: $libatomic missing: apt-get install libatomic1:$deb" >&2; exit 1; }
ctx=$(mktemp -d "${TMPDIR:-/tmp}/narwhal-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
tini=${TINI:-}
if [ -z "$tini" ] && [ "$arch" = x64 ]; then tini=/usr/bin/tini-static; fi
if [ -z "$tini" ]; then
  mkdir "$ctx/deb"
  (cd "$ctx/deb" && apt-get download -q "tini:$deb" >/dev/null 2>&1 && dpkg-deb -x tini_*.deb x) \
    || { echo "docker/build.sh: could not apt-get download tini:$deb (dpkg --add-architecture $deb && apt-get update), or set TINI=/path/to/static/tini" >&2; exit 1; }
  tini=$ctx/deb/x/usr/bin/tini-static
fi
[ -x "$tini" ] || { echo "docker/build.sh: $tini missing: apt-get install tini, or set TINI=/path/to/static/tini" >&2; exit 1; }
# Hard links when possible (same file system): the 100 MB binary is not copied twice.
ln "$bin" "$ctx/narwhal" 2>/dev/null || cp "$bin" "$ctx/narwhal"
cp "$tini" "$ctx/tini"
mkdir -p "$ctx/lib/$triplet"
cp -L "$libatomic" "$ctx/lib/$triplet/libatomic.so.1"
rm -rf "$ctx/deb"
cp "$root/docker/Dockerfile" "$ctx/Dockerfile"
docker build --platform "$platform" ${base:+--build-arg BASE="$base"} -t "$tag" "$@" "$ctx"
