#!/bin/bash
# run_py.sh SCRIPT [ARGS]: runs a Python test with Debian's /usr/bin/python3, which has
# python3-grpcio and python3-protobuf (a pyenv or venv python on PATH may not).
set -eu
script=$1
shift
cd "$TEST_SRCDIR/$TEST_WORKSPACE"
export PYTHONPATH="$TEST_SRCDIR/$TEST_WORKSPACE/tests${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$script" "$@"
