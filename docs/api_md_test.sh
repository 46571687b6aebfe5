#!/bin/bash
# api_md_test.sh GENERATED COMMITTED: the committed API reference matches the protos.
if ! diff -u "$2" "$1"; then
  echo "docs/API.md is out of date with protos/: run bazel run //docs:update_api_md" >&2
  exit 1
fi
echo "docs/API.md matches the protos"
