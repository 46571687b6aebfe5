#!/bin/bash
# bench_smoke_test.sh: runs the benchmark in --smoke mode (a few calls per operation,
# RSA-2048 and P-256 at 4 KiB) and checks that the table is complete: a header and one
# row per operation and key, each with a figure (not "fail") in the smimed columns.
set -eu
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$TEST_SRCDIR/$TEST_WORKSPACE/bench/bench.sh" --smoke | tee "$out"
grep -q '^| operation | key | size |' "$out" || { echo "FAIL: no table header"; exit 1; }
for key in RSA-2048 P-256; do
  for op in sign encrypt sign+encrypt verify decrypt decrypt+verify; do
    row=$(grep -F "| $op | $key | 4 KiB |" "$out" || true)
    if [ -z "$row" ]; then
      echo "FAIL: no row for $op $key"
      exit 1
    fi
    # Columns 4..7: smimed msgs/s, p50, p99, CPU per message: numbers.
    smimed=$(echo "$row" | awk -F'|' '{print $5 $6 $7 $8}')
    if echo "$smimed" | grep -q 'fail\|n/a'; then
      echo "FAIL: smimed did not measure $op $key: $row"
      exit 1
    fi
    # Every missed target has its line saying what bounds it.
    for name in $(echo "$row" | awk -F'|' '{print $18}' | grep -o '[a-z0-9+]* MISS' |
                  cut -d' ' -f1); do
      if ! grep -qF -- "- $op $key 4 KiB, $name: " "$out"; then
        echo "FAIL: $op $key misses $name with no line saying what bounds it"
        exit 1
      fi
    done
  done
done
echo "bench_smoke_test: complete table"
