#!/bin/bash
# make_pki.sh OUTDIR: a fresh test PKI made with the OpenSSL 3 command line, the
# independent peer of our tests. Everything is generated at test time (no private key
# is kept in the repository). Password of every encrypted file: "secret".
#
# OUTDIR/
#   root.pem root.key            root CA (RSA 3072), "smimed Test Root CA"
#   inter.pem inter.key          intermediate CA (RSA 2048) under the root
#   NAME.pem NAME.key            leaves under the intermediate (key: unencrypted PKCS#8):
#     alice    RSA 2048, SAN alice@example.com, sign+encrypt
#     bob      RSA 3072, SAN bob@example.com and Bob.Alias@Example.COM
#     carol    RSA 4096, carol@example.com
#     dave     EC P-256, dave@example.com (digitalSignature, keyAgreement)
#     erin     EC P-384, erin@example.com
#     subjmail RSA 2048, address only in the subject's emailAddress (no SAN)
#     expired  RSA 2048, expired@example.com, valid 2020-01-01 .. 2021-01-01
#     notyet   RSA 2048, notyet@example.com, valid from 2099-01-01
#     serverauth RSA 2048, srv@example.com, EKU serverAuth only (not for S/MIME)
#     noaddr   RSA 2048, no mail address at all
#     weak     RSA 1024, weak@example.com
#     dsa      DSA 2048, dsa@example.com
#     ed       Ed25519, ed@example.com
#   alice.der                    alice's certificate as DER
#   chain.pem                    alice, inter, root as PEM blocks (with text around)
#   chain.p7b chain.p7c          the same as a PKCS#7 bundle, PEM and DER
#   alice.p12                    alice's key and chain, OpenSSL 3 default (PBES2 AES-256)
#   alice-legacy.p12             the same, legacy algorithms (3DES, RC2-40, SHA-1 MAC)
#   alice-keyonly.p12            alice's key alone, no certificates
#   alice.pkcs1.pem              alice's key as PKCS#1 "RSA PRIVATE KEY"
#   alice.pkcs8.der              alice's key as unencrypted PKCS#8 DER
#   alice.enc.pem alice.enc.der  alice's key as encrypted PKCS#8 (PBES2 AES-256), PEM, DER
#   dave.sec1.pem                dave's key as SEC1 "EC PRIVATE KEY"
#   alice-bundle.pem             alice's key and certificate in one PEM file
#   dsa.p12                      a PKCS#12 holding the DSA key
set -euo pipefail
out=${1:?usage: make_pki.sh OUTDIR}
mkdir -p "$out"
cd "$out"
export OPENSSL_CONF=/dev/null

cat > ca.cnf <<'EOF'
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = optional
emailAddress = optional
organizationName = optional
[ v3_inter ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_smime ]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SAN
[ v3_smime_ec ]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SAN
[ v3_smime_nosan ]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_server ]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SAN
EOF
mkdir -p newcerts
: > index.txt
echo 1000 > serial
export SAN=email:none@example.com

# Root and intermediate.
openssl req -x509 -newkey rsa:3072 -nodes -keyout root.key -out root.pem -days 3650 \
  -subj "/O=smimed tests/CN=smimed Test Root CA" \
  -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr \
  -subj "/O=smimed tests/CN=smimed Test Intermediate CA" 2>/dev/null
openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -extensions v3_inter \
  -days 3000 -in inter.csr -out inter.pem -notext 2>/dev/null

# leaf NAME KEYSPEC EXTENSIONS SUBJECT SAN [STARTDATE ENDDATE]
leaf() {
  local name=$1 keyspec=$2 ext=$3 subj=$4 san=$5 start=${6:-} end=${7:-}
  case "$keyspec" in
    rsa:*) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:${keyspec#rsa:} -out "$name.key" 2>/dev/null ;;
    ec:*) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:${keyspec#ec:} -out "$name.key" 2>/dev/null ;;
    dsa) openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 -out dsa.params 2>/dev/null
         openssl genpkey -paramfile dsa.params -out "$name.key" 2>/dev/null ;;
    ed25519) openssl genpkey -algorithm ED25519 -out "$name.key" 2>/dev/null ;;
  esac
  openssl req -new -key "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  local dates=(-days 730)
  if [ -n "$start" ]; then
    dates=(-startdate "$start" -enddate "$end")
  fi
  SAN=$san openssl ca -batch -config ca.cnf -cert inter.pem -keyfile inter.key \
    -extensions "$ext" "${dates[@]}" -in "$name.csr" -out "$name.pem" -notext 2>/dev/null
  rm -f "$name.csr"
}

leaf alice rsa:2048 v3_smime "/O=smimed tests/CN=Alice" email:alice@example.com
leaf bob rsa:3072 v3_smime "/O=smimed tests/CN=Bob" "email:bob@example.com,email:Bob.Alias@Example.COM"
leaf carol rsa:4096 v3_smime "/O=smimed tests/CN=Carol" email:carol@example.com
leaf dave ec:P-256 v3_smime_ec "/O=smimed tests/CN=Dave" email:dave@example.com
leaf erin ec:P-384 v3_smime_ec "/O=smimed tests/CN=Erin" email:erin@example.com
leaf subjmail rsa:2048 v3_smime_nosan "/O=smimed tests/CN=Subject Mail/emailAddress=SubjMail@Example.com" none
leaf expired rsa:2048 v3_smime "/O=smimed tests/CN=Expired" email:expired@example.com 20200101000000Z 20210101000000Z
leaf notyet rsa:2048 v3_smime "/O=smimed tests/CN=Not Yet" email:notyet@example.com 20990101000000Z 20991231000000Z
leaf serverauth rsa:2048 v3_server "/O=smimed tests/CN=Server" email:srv@example.com
leaf noaddr rsa:2048 v3_smime_nosan "/O=smimed tests/CN=No Address" none
leaf weak rsa:1024 v3_smime "/O=smimed tests/CN=Weak" email:weak@example.com
leaf dsa dsa v3_smime "/O=smimed tests/CN=DSA" email:dsa@example.com
leaf ed ed25519 v3_smime "/O=smimed tests/CN=Ed" email:ed@example.com

# Formats.
openssl x509 -in alice.pem -outform DER -out alice.der
{
  echo "Alice's chain, as exported by some mail client:"
  openssl x509 -in alice.pem
  echo "intermediate:"
  openssl x509 -in inter.pem
  openssl x509 -in root.pem
} > chain.pem
openssl crl2pkcs7 -nocrl -certfile chain.pem -out chain.p7b
openssl crl2pkcs7 -nocrl -certfile chain.pem -outform DER -out chain.p7c
cat inter.pem root.pem > inter-root.pem
openssl pkcs12 -export -in alice.pem -inkey alice.key -certfile inter-root.pem \
  -name alice -passout pass:secret -out alice.p12
openssl pkcs12 -export -legacy -in alice.pem -inkey alice.key -certfile inter-root.pem \
  -name alice -passout pass:secret -out alice-legacy.p12
openssl pkcs12 -export -nocerts -inkey alice.key -passout pass:secret -out alice-keyonly.p12
openssl pkcs12 -export -in dsa.pem -inkey dsa.key -passout pass:secret -out dsa.p12
openssl pkey -in alice.key -traditional -out alice.pkcs1.pem 2>/dev/null ||
  openssl rsa -in alice.key -traditional -out alice.pkcs1.pem 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in alice.key -outform DER -out alice.pkcs8.der
openssl pkcs8 -topk8 -in alice.key -v2 aes-256-cbc -passout pass:secret -out alice.enc.pem
openssl pkcs8 -topk8 -in alice.key -v2 aes-256-cbc -passout pass:secret -outform DER -out alice.enc.der
openssl ec -in dave.key -out dave.sec1.pem 2>/dev/null
cat alice.key alice.pem > alice-bundle.pem
rm -f ca.cnf index.txt* serial* dsa.params inter-root.pem inter.csr
rm -rf newcerts
