#!/bin/bash
# build_image.sh: builds the smimed OCI image with podman from the Bazel outputs.
#
#   bazel run //container:build_image                 # tags registry.example.com/helpdesk/smimed:VERSION
#   bazel run //container:build_image -- --tag T      # another tag
#   build_image.sh [--tag TAG] [--context DIR] SMIMED ENGINE KEYSTORE SMIMECTL
#
# It assembles a build context (Containerfile + rootfs/) in DIR (default: a temporary
# directory, removed afterwards): the four binaries in /usr/bin, every shared library
# `ldd` lists for them at its canonical path (merged /usr: /lib, /lib64 and /bin are
# links into /usr as on Debian 12), an ld.so.cache for those directories, and
# /etc/passwd, /etc/group and /etc/nsswitch.conf naming the user smimed (65532). Then
# `podman --runtime runc build` FROM scratch, with CONTAINERS_CONF set to this directory's
# containers.conf unless already set (DESIGN.md section 4). Exits non-zero, saying what is
# missing, when podman or runc is not installed. Prints the image ID last.
set -euo pipefail

# runc and ldconfig live in sbin, which `bazel test` leaves out of PATH.
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
# here: the directory holding Containerfile and containers.conf: beside the script, or
# under `bazel run` (which starts it from bazel-bin with the runfiles as cwd) container/.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for d in "$here" "$PWD/container" "${BASH_SOURCE[0]}.runfiles/smimed/container"; do
  if [ -f "$d/Containerfile" ]; then
    here=$(cd "$d" && pwd)
    break
  fi
done
tag=""
context=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --context) context=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "build_image: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -ne 4 ]; then
  echo "usage: build_image.sh [--tag TAG] [--context DIR] SMIMED ENGINE KEYSTORE SMIMECTL" >&2
  exit 2
fi
smimed=$(readlink -f "$1")
bins=("$1" "$2" "$3" "$4")
for b in "${bins[@]}"; do
  if [ ! -x "$b" ]; then
    echo "build_image: $b is not an executable (build //service:smimed, //service:smime-engine," \
         "//service:smime-keystore and //client:smimectl first)" >&2
    exit 1
  fi
done

missing=()
command -v podman >/dev/null || missing+=("podman (Debian package podman)")
command -v runc >/dev/null || missing+=("runc (Debian package runc)")
command -v ldd >/dev/null || missing+=("ldd (Debian package libc-bin)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "build_image: cannot build the image: missing ${missing[*]}; run scripts/setup.sh as root" >&2
  exit 1
fi

version=$("$smimed" --version | awk '{print $2}')
tag=${tag:-registry.example.com/helpdesk/smimed:$version}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}

cleanup=""
if [ -z "$context" ]; then
  context=$(mktemp -d /tmp/smimed-image.XXXXXX)
  cleanup=$context
fi
trap '[ -n "$cleanup" ] && rm -rf "$cleanup"' EXIT
rm -rf "$context/rootfs"
root=$context/rootfs
mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/etc" "$root/tmp" "$root/run/smimed"
# Merged /usr, as on Debian 12: the loader path /lib64/ld-linux-x86-64.so.2 and the
# libraries' /lib/x86_64-linux-gnu both resolve into /usr.
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
ln -s usr/bin "$root/bin"
chmod 1777 "$root/tmp"

install -m 0755 "$1" "$root/usr/bin/smimed"
install -m 0755 "$2" "$root/usr/bin/smime-engine"
install -m 0755 "$3" "$root/usr/bin/smime-keystore"
install -m 0755 "$4" "$root/usr/bin/smimectl"

# copy_lib copies the file behind |path| to its canonical directory in the rootfs, under
# the name the binaries ask for (the soname), so that no symlink chain is needed.
copy_lib() {
  local path=$1 dir
  dir=$(readlink -f "$(dirname "$path")")
  mkdir -p "$root$dir"
  if [ ! -e "$root$dir/$(basename "$path")" ]; then
    cp -L "$path" "$root$dir/$(basename "$path")"
    chmod 0755 "$root$dir/$(basename "$path")"
    echo "$dir" >>"$context/libdirs"
  fi
}
: >"$context/libdirs"
for b in "${bins[@]}"; do
  out=$(ldd "$b") || { echo "build_image: ldd $b failed" >&2; exit 1; }
  if grep -q "not found" <<<"$out"; then
    echo "build_image: $b needs libraries that are not installed:" >&2
    grep "not found" <<<"$out" >&2
    exit 1
  fi
  while read -r lib; do
    copy_lib "$lib"
  done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out")
done
# The loader finds the libraries through an ld.so.cache of exactly these directories
# (Debian's compiled-in defaults would do too; the cache does not depend on them).
sort -u "$context/libdirs" >"$root/etc/ld.so.conf"
ldconfig -r "$root" -f /etc/ld.so.conf -C /etc/ld.so.cache
rm -f "$context/libdirs"

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/nonexistent:/nonexistent
smimed:x:65532:65532:smimed:/nonexistent:/nonexistent
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
smimed:x:65532:
EOF
cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
cp "$here/Containerfile" "$context/Containerfile"

echo "build_image: building $tag from $(du -sh "$root" | cut -f1) of files" >&2
# --timestamp 0: the same binaries give the same image ID.
podman --runtime runc build --quiet --timestamp 0 --build-arg "VERSION=$version" \
  --tag "$tag" --file "$context/Containerfile" "$context"
