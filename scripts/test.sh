#!/bin/bash
# test.sh [bazel test flags...]: installs what is missing and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bazel test //... "$@"
