#!/bin/sh
# Imports a minimal base image assembled from this host's files — the libraries `ldd` lists
# for dist/narwhal, a nonroot user and /tmp — for building the image with no registry access
# (CI): the same contents as distroless/cc, made locally.
#   docker/make-local-base.sh [TAG]    (default narwhal-base:local)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tag=${1:-narwhal-base:local}
fs=$(mktemp -d)
trap 'rm -rf "$fs"' EXIT
for lib in $(ldd "$root/dist/narwhal" | grep -o '/[^ ]*'); do
  mkdir -p "$fs$(dirname "$lib")"
  cp -L "$lib" "$fs$lib"
done
mkdir -p "$fs/etc" "$fs/tmp" "$fs/app"
chmod 1777 "$fs/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$fs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$fs/etc/group"
tar -C "$fs" -c . | docker import - "$tag" > /dev/null
echo "$tag"
