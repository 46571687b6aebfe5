#!/bin/bash
# linkage_test.sh FRONT ENGINE KEYSTORE: checks which crypto library each process loads.
# The front must load OpenSSL 3 (through gRPC and libpq) and never BoringSSL; the workers
# must load BoringSSL and never OpenSSL 3, gRPC or libpq. ldd shows the whole closure.
set -u
front=$1 engine=$2 keystore=$3
fail=0

libs() { ldd "$1" | awk '{print $1}'; }

check_absent() { # check_absent BINARY PATTERN WHY
  local hit
  hit=$(libs "$1" | grep -E "$2")
  if [ -n "$hit" ]; then
    echo "FAIL: $(basename "$1") loads $(echo $hit): $3"
    fail=1
  else
    echo "ok: $(basename "$1") does not load $2"
  fi
}

check_present() { # check_present BINARY PATTERN WHY
  if libs "$1" | grep -qE "$2"; then
    echo "ok: $(basename "$1") loads $2"
  else
    echo "FAIL: $(basename "$1") does not load $2: $3"
    fail=1
  fi
}

ldd "$front" | grep -q android && { echo "FAIL: smimed resolves a library from the android (BoringSSL) directory"; fail=1; }
check_absent "$front" 'libcrypto\.so\.0|libssl\.so\.0' "BoringSSL must never share a process with gRPC or libpq"
check_present "$front" 'libgrpc\.so' "the front serves gRPC"
check_present "$front" 'libpq\.so' "the front talks to PostgreSQL"
for w in "$engine" "$keystore"; do
  check_absent "$w" 'libgrpc|libgpr|libpq|libssl\.so\.3|libcrypto\.so\.3' "workers link BoringSSL only"
  check_present "$w" 'libcrypto\.so\.0' "workers do their cryptography with BoringSSL"
  ldd "$w" | grep 'libcrypto.so.0' | grep -q '/usr/lib/x86_64-linux-gnu/android/' \
    || { echo "FAIL: $(basename "$w"): libcrypto.so.0 does not resolve to Debian's BoringSSL"; fail=1; }
done
if [ $fail -ne 0 ]; then
  exit 1
fi
echo "linkage: all three processes link what they must, and nothing else"
