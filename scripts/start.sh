#!/bin/bash
# start.sh [DATA_DIR] [smimed flags...]: installs what is missing, builds, and runs the
# service on its embedded default (default DATA_DIR /var/lib/smimed). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data_dir=${1:-/var/lib/smimed}
shift || true
bazel build -c opt //service:smimed //service:smime-engine //service:smime-keystore //client:smimectl
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
echo "smimectl is at $bin/client/smimectl; in another shell:"
echo "  export SMIMED_ADDR=unix:$data_dir/smimed.sock"
echo "  $bin/client/smimectl get-settings"
exec "$bin/service/smimed" --data-dir "$data_dir" "$@"
