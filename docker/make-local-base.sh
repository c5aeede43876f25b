#!/bin/sh
# Loads a minimal base image assembled from this host's files — the libraries the narwhal
# executable links (its loader lists them), a nonroot user and /tmp — for building the image
# with no registry access (CI): the same contents as distroless/cc, made locally.
#   docker/make-local-base.sh [TAG] [--arch x64|arm64]    (default narwhal-base:local, x64)
# x64 reads dist/narwhal; arm64 reads dist/narwhal-linux-arm64 (node build/binary.mjs --arch
# arm64) and the host's arm64 libraries (Debian multiarch: libc6:arm64 libstdc++6:arm64
# libatomic1:arm64), listed by the arm64 loader under qemu-user. The image is loaded with its
# architecture in its config (docker load), so `docker build --platform linux/arm64` takes it.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tag=narwhal-base:local
arch=x64
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    *) tag=$1; shift ;;
  esac
done
case "$arch" in
  x64) bin=$root/dist/narwhal; platform=amd64; list() { ldd "$1"; } ;;
  arm64) bin=$root/dist/narwhal-linux-arm64; platform=arm64; list() { /lib/ld-linux-aarch64.so.1 --list "$1"; } ;;
  *) echo "docker/make-local-base.sh: --arch x64 or arm64, not $arch" >&2; exit 2 ;;
esac
[ -x "$bin" ] || { echo "docker/make-local-base.sh: $bin missing: run node build/binary.mjs --arch $arch" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fs=$work/fs
mkdir -p "$fs" "$work/image"
libs=$(list "$bin" | grep -o '/[^ ]*') || { echo "docker/make-local-base.sh: cannot list the libraries of $bin" >&2; exit 1; }
for lib in $libs; do
  mkdir -p "$fs$(dirname "$lib")"
  cp -L "$lib" "$fs$lib"
done
mkdir -p "$fs/etc" "$fs/tmp" "$fs/app"
chmod 1777 "$fs/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$fs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$fs/etc/group"
# A docker-archive: one layer, a config naming the architecture, a manifest naming the tag.
tar -C "$fs" --sort=name --owner=0 --group=0 --numeric-owner -cf "$work/image/layer.tar" .
diff_id=$(sha256sum "$work/image/layer.tar" | cut -d' ' -f1)
printf '{"architecture":"%s","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$platform" "$diff_id" > "$work/image/config.json"
printf '[{"Config":"config.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$tag" > "$work/image/manifest.json"
tar -C "$work/image" -cf - manifest.json config.json layer.tar | docker load > /dev/null
echo "$tag"
