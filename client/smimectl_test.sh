#!/bin/bash
# smimectl_test.sh SMIMECTL: runs the binary as a user would, without a server: help,
# usage errors (exit 2), the UNAVAILABLE path (exit 1), and that it never loads
# BoringSSL (DESIGN.md section 2: the CLI uses gRPC, hence OpenSSL 3).
set -u
smimectl=$1
tmp=${TEST_TMPDIR:-$(mktemp -d)}
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect CODE PATTERN-ON-STDOUT PATTERN-ON-STDERR ARGS...: runs smimectl and checks
# the exit status and that each output matches its pattern (empty: must be empty).
expect() {
  local code=$1 out_re=$2 err_re=$3
  shift 3
  "$smimectl" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  local got=$?
  [ "$got" -eq "$code" ] || fail "smimectl $*: exit $got, want $code ($(head -c 300 "$tmp/err"))"
  if [ -n "$out_re" ]; then
    grep -qE -- "$out_re" "$tmp/out" || fail "smimectl $*: stdout lacks /$out_re/"
  else
    [ ! -s "$tmp/out" ] || fail "smimectl $*: unexpected stdout: $(head -c 300 "$tmp/out")"
  fi
  if [ -n "$err_re" ]; then
    grep -qE -- "$err_re" "$tmp/err" || fail "smimectl $*: stderr lacks /$err_re/: $(head -c 300 "$tmp/err")"
  else
    [ ! -s "$tmp/err" ] || fail "smimectl $*: unexpected stderr: $(head -c 300 "$tmp/err")"
  fi
}

# A short path: unix socket paths are limited to 107 bytes, and TEST_TMPDIR is long.
nothing=unix:/tmp/smimectl_test_$$_nothing.sock

expect 0 '^  update-settings +Changes settings' '' --help
expect 0 '^  check ' '' -h
expect 0 '^smimectl [0-9]+\.[0-9]+\.[0-9]+$' '' --version
expect 0 '^  --enabled\[=false\]' '' update-settings --help
expect 0 'enabled turns the integration on or off' '' update-settings --bogus --help
expect 0 '^  --direction NAME' '' list-logs -h

expect 2 '' 'no subcommand given' 
expect 2 '' 'unknown subcommand "update-setings" \(did you mean update-settings\?\)' update-setings
expect 2 '' "^smimectl: unknown flag --bogus$" update-settings --bogus
grep -q "^Run 'smimectl update-settings --help' for its flags.$" "$tmp/err" || fail "no help hint"
expect 2 '' '--page-size: "ten" is not a valid int32' list-logs --page-size ten
expect 2 '' '--direction: "sideways" is not one of' list-logs --direction sideways
expect 2 '' 'like --enabled=false' update-settings --enabled false
expect 2 '' 'unknown global flag --bogus' --bogus get-settings
expect 2 '' '--deadline' --deadline -1 get-settings
expect 2 '' '--tls-cert and --tls-key go together' --tls-cert x.pem get-settings
expect 2 '' 'cannot read CA file' --tls-ca "$tmp/none.pem" --addr localhost:1 get-settings
expect 2 '' '--raw: the response \(smime.v1.ExportCertificateResponse\) has no field "dta"' export-certificate --raw dta
expect 2 '' '--raw settings.group-defaults: group_defaults is repeated' get-settings --raw settings.group-defaults
expect 2 '' '--data: cannot read' import-certificates --data "@$tmp/none.p12"

# Nothing listens: the gRPC status, as a server error would be.
expect 1 '' '^error: UNAVAILABLE: ' --addr "$nothing" get-settings
expect 1 '' '^error: UNAVAILABLE: ' update-settings --enabled=false --addr "$nothing"
SMIMED_ADDR=$nothing expect 1 '' '^error: UNAVAILABLE: .*nothing.sock' check
expect 1 '' '^error: UNAVAILABLE: ' --addr 127.0.0.1:1 --deadline 5 check
long=unix:/tmp/$(printf 'x%.0s' $(seq 120)).sock
expect 2 '' '^smimectl: cannot use the address unix:/tmp/x+\.sock: .*107 characters' --addr "$long" get-settings

libs=$(ldd "$smimectl")
if echo "$libs" | grep -qE 'libcrypto\.so\.0|libssl\.so\.0|/android/'; then
  fail "smimectl loads BoringSSL: $(echo "$libs" | grep -E 'so\.0|android')"
fi
echo "$libs" | grep -q 'libgrpc\.so' || fail "smimectl does not load libgrpc"

if [ "$failures" -ne 0 ]; then
  echo "smimectl_test: $failures failed"
  exit 1
fi
echo "smimectl_test: ok"
