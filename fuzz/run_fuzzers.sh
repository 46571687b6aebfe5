#!/bin/bash
# run_fuzzers.sh SECONDS [NAME...]: builds the libFuzzer targets of this directory with
# clang (-fsanitize=fuzzer,address,undefined) from the sources Bazel hands over as
# runfiles, and runs each for SECONDS on its seed corpus (the repository's malformed
# and real-world inputs). Fails on any crash, leak, sanitizer report or timeout, and
# prints each target's executions and coverage.
#
# In the test suite (//fuzz:fuzz_smoke_test) each runs a few seconds; docs/FUZZING.md
# records a longer run: `bazel run //fuzz:fuzz -- 600`. With FUZZ_KEEP_CORPUS=DIR (an
# absolute path, e.g. $PWD/fuzz/corpus) the inputs a run found that add coverage are
# merged into DIR/NAME, which the next runs (and the smoke test) use as seeds too.
set -euo pipefail
seconds=${1:?usage: run_fuzzers.sh SECONDS [NAME...]}
shift
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(mime cms import frame)
fi

root=${TEST_SRCDIR:-${RUNFILES_DIR:-$PWD/..}}/${TEST_WORKSPACE:-smimed}
[ -d "$root/fuzz" ] || root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/smimed-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

if ! command -v clang >/dev/null; then
  echo "run_fuzzers: clang is missing: apt-get install clang-14 libclang-rt-14-dev (scripts/setup.sh does)" >&2
  exit 1
fi

CFLAGS=(-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=all -fno-omit-frame-pointer -Wno-unused-command-line-argument
        -I"$root" -I"$root/protos" -I/usr/include/android)
BORINGSSL=(-L/usr/lib/x86_64-linux-gnu/android -Wl,-rpath,/usr/lib/x86_64-linux-gnu/android -lcrypto)
common=("$root"/service/common/status.c "$root"/service/common/log.c)

build() { # build NAME SOURCES... -- LIBS...
  local name=$1
  shift
  local srcs=() libs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do srcs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  libs=("$@")
  clang "${CFLAGS[@]}" -o "$work/$name" "$root/fuzz/${name}_fuzzer.c" "${srcs[@]}" \
    "${common[@]}" "${libs[@]}"
}

seeds() { # seeds NAME: the seed directories of a target
  case $1 in
    mime) echo "$root/tests/interop/thunderbird/smime $root/tests/interop/thunderbird/smime-manual $root/service/mime/testdata/malformed" ;;
    cms) echo "$root/service/cms/testdata/malformed $root/tests/interop/thunderbird/smime-interop" ;;
    import) echo "$root/service/x509/testdata/malformed $root/service/pkcs12/testdata/malformed $root/service/pkcs12/testdata" ;;
    frame) echo "$root/fuzz/corpus/frame" ;;
  esac
  # Corpora kept from earlier runs (FUZZ_KEEP_CORPUS), frame's seeds among them.
  if [ "$1" != frame ] && [ -d "$root/fuzz/corpus/$1" ]; then
    echo "$root/fuzz/corpus/$1"
  fi
}

status=0
for name in "${names[@]}"; do
  case $name in
    mime) build mime $(ls "$root"/service/mime/mime_*.c) ;;
    cms) build cms $(ls "$root"/service/cms/cms_*.c) -- "${BORINGSSL[@]}" ;;
    import) build import "$root"/service/x509/cert_info.c "$root"/service/x509/containers.c \
              "$root"/service/x509/der_util.c "$root"/service/keystore/key_import.c \
              "$root"/service/pkcs12/pbe.c "$root"/service/pkcs12/pkcs12.c -- "${BORINGSSL[@]}" ;;
    frame) build frame "$root"/service/ipc/frame.c "$root"/protos/smime/ipc/ipc.pb-c.c \
             "$root"/protos/smime/ipc/certificate.pb-c.c "$root"/protos/smime/ipc/incoming.pb-c.c \
             "$root"/protos/smime/ipc/outgoing.pb-c.c \
             -- -lprotobuf-c ;;
    *) echo "run_fuzzers: unknown target $name" >&2; exit 2 ;;
  esac
  mkdir -p "$work/corpus-$name"
  # Seed files only (directories may hold READMEs and scripts: harmless inputs too).
  set +e
  (cd "$work" && ASAN_OPTIONS=detect_leaks=1 "./$name" -max_total_time="$seconds" \
      -max_len=65536 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
      "corpus-$name" $(seeds "$name")) > "$work/$name.log" 2>&1
  rc=$?
  set -e
  runs=$(grep -E '^stat::number_of_executed_units' "$work/$name.log" | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+' "$work/$name.log" | tail -1)
  corpus=$(ls "$work/corpus-$name" | wc -l)
  if [ $rc -ne 0 ]; then
    echo "fuzz $name: FAILED (exit $rc) after ${runs:-?} executions:"
    grep -E 'ERROR|SUMMARY|Test unit written|runtime error|deadly signal|Timeout' "$work/$name.log" | head -20
    status=1
  else
    echo "fuzz $name: ok, ${runs:-?} executions in ${seconds}s, ${cov:-cov: ?}, $corpus new corpus inputs"
    if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
      mkdir -p "$FUZZ_KEEP_CORPUS/$name"
      before=$(ls "$FUZZ_KEEP_CORPUS/$name" | wc -l)
      (cd "$work" && ASAN_OPTIONS=detect_leaks=0 "./$name" -merge=1 -max_len=65536 \
          "$FUZZ_KEEP_CORPUS/$name" "corpus-$name") > "$work/$name.merge.log" 2>&1
      echo "fuzz $name: kept $(( $(ls "$FUZZ_KEEP_CORPUS/$name" | wc -l) - before )) inputs that add coverage in $FUZZ_KEEP_CORPUS/$name"
    fi
  fi
done
exit $status
