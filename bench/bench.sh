#!/bin/bash
# bench.sh: entry point of //bench (bazel run) and of bench_smoke_test: finds the
# runfiles and runs bench.py with Debian's python3 (it has python3-grpcio and
# python3-protobuf, which smimed_fixture needs to start the daemon and load the PKI).
set -eu
if [ -n "${TEST_SRCDIR:-}" ]; then
  runfiles=$TEST_SRCDIR
elif [ -n "${RUNFILES_DIR:-}" ]; then
  runfiles=$RUNFILES_DIR
elif [ -d "$0.runfiles" ]; then
  runfiles=$0.runfiles
else
  echo "bench: cannot find the runfiles of $0" >&2
  exit 1
fi
runfiles=$(cd "$runfiles" && pwd)
export TEST_SRCDIR=$runfiles TEST_WORKSPACE=smimed
export PYTHONPATH="$runfiles/smimed/tests${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
cd "$runfiles/smimed"
exec /usr/bin/python3 bench/bench.py "$@"
