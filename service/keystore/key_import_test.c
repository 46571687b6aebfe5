/* key_import_test: key_import_parse on every format of tests/pki's keys (made by the
 * OpenSSL 3 command line at test time), on more made here (PKCS#8 with each PBE,
 * legacy encrypted PEM, SEC1 DER, X25519, unsupported curves and algorithms) and on
 * Thunderbird's NSS files; every refusal with its text. The key's spki_sha256 must
 * equal SHA-256 of `openssl x509 -pubkey | openssl pkey -pubin -outform DER` for its
 * certificate, and the key must match that certificate and no other.
 * Usage: key_import_test MAKE_PKI_SH TESTDATA_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/common/status.h"
#include "service/keystore/key_import.h"
#include "service/pkcs12/test_util.h"

static char g_pki[2048];
static const char *g_testdata;

/* CASE is one file and what key_import_parse must make of it. */
typedef struct case_st {
  /* file: "pki/NAME" (tests/pki's output and files made here) or "td/NAME"
   * (Thunderbird's files). */
  const char *file;
  const char *password;
  /* error: NULL for success, else the start of the expected message. */
  const char *error;
  uint32_t alg;
  uint32_t bits;
  size_t certs;
  /* cert: the PEM certificate of the key in "pki/", "td:" for the first
   * certificate openssl finds with the key in the PKCS#12 file, or NULL (then the
   * public key comes from |file| itself, unencrypted). */
  const char *cert;
} CASE;

/* REFUSED is a case that must fail with INVALID_ARGUMENT and |message|. */
#define REFUSED(file, password, message) \
  { file, password, message, 0, 0, 0, NULL }

static const CASE kCases[] = {
    /* tests/pki's formats. */
    {"pki/alice.key", "", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.key", "ignored", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.pkcs1.pem", "", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.pkcs8.der", "", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.enc.pem", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.enc.der", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice-bundle.pem", "", NULL, 1, 2048, 1, "pki/alice.pem"},
    {"pki/alice.p12", "secret", NULL, 1, 2048, 3, "pki/alice.pem"},
    {"pki/alice-legacy.p12", "secret", NULL, 1, 2048, 3, "pki/alice.pem"},
    {"pki/alice-keyonly.p12", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/bob.key", "", NULL, 1, 3072, 0, "pki/bob.pem"},
    {"pki/carol.key", "", NULL, 1, 4096, 0, "pki/carol.pem"},
    {"pki/dave.key", "", NULL, 2, 256, 0, "pki/dave.pem"},
    {"pki/dave.sec1.pem", "", NULL, 2, 256, 0, "pki/dave.pem"},
    {"pki/erin.key", "", NULL, 3, 384, 0, "pki/erin.pem"},
    {"pki/ed.key", "", NULL, 4, 253, 0, "pki/ed.pem"},
    /* Made here. */
    {"pki/alice.p8.der", "", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.pkcs1.der", "", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.p8-sha1.der", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.p8-sha384.pem", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.p8-sha512.pem", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.p8-des3.pem", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.p8-scrypt.pem", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.p8-v1-3des.pem", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.p8-v1-md5des.pem", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.p8-v1-sha1rc2.pem", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.p8-empty.pem", "", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/alice.trad-aes.pem", "secret", NULL, 1, 2048, 0, "pki/alice.pem"},
    {"pki/dave.trad-aes.pem", "secret", NULL, 2, 256, 0, "pki/dave.pem"},
    {"pki/dave.sec1.der", "", NULL, 2, 256, 0, "pki/dave.pem"},
    {"pki/dave.p8-enc.der", "secret", NULL, 2, 256, 0, "pki/dave.pem"},
    {"pki/erin.p12", "secret", NULL, 3, 384, 1, "pki/erin.pem"},
    {"pki/ecparams-key.pem", "", NULL, 2, 256, 0, NULL},
    {"pki/x25519.key", "", NULL, 5, 253, 0, NULL},
    {"pki/alice-twice.pem", "", NULL, 1, 2048, 2, "pki/alice.pem"},
    /* Thunderbird's NSS files. */
    {"td/Alice.p12", "nss", NULL, 1, 2048, 2, "td:"},
    {"td/Bob.p12", "nss", NULL, 1, 2048, 2, "td:"},
    {"td/Alice-ec.p12", "nss", NULL, 3, 384, 2, "td:"},
    {"td/Dave.p12", "nss", NULL, 1, 2048, 2, "td:"},
    {"td/Eve.p12", "nss", NULL, 1, 2048, 2, "td:"},
    {"td/Fran.p12", "nss", NULL, 1, 2048, 1, "td:"},
    {"td/Fran-ec.p12", "nss", NULL, 3, 384, 1, "td:"},
    /* Passwords. */
    REFUSED("pki/alice.enc.pem", "wrong", "wrong password for the encrypted private key"),
    REFUSED("pki/alice.enc.pem", "", "the private key is encrypted: give its password"),
    REFUSED("pki/alice.enc.der", "Secret",
            "wrong password for the encrypted private key"),
    REFUSED("pki/alice.enc.der", "", "the private key is encrypted: give its password"),
    REFUSED("pki/alice.p8-v1-3des.pem", "wrong",
            "wrong password for the encrypted private key"),
    REFUSED("pki/alice.trad-aes.pem", "wrong",
            "wrong password for the encrypted private key"),
    REFUSED("pki/alice.trad-aes.pem", "",
            "the private key is encrypted: give its password"),
    REFUSED("pki/dave.trad-aes.pem", "wrong",
            "wrong password for the encrypted private key"),
    REFUSED("pki/alice.p12", "wrong", "wrong password for the PKCS#12 file"),
    REFUSED("pki/alice.p12", "", "the PKCS#12 file is encrypted: give its password"),
    REFUSED("pki/alice-legacy.p12", "secrets", "wrong password for the PKCS#12 file"),
    REFUSED("td/Bob.p12", "NSS", "wrong password for the PKCS#12 file"),
    REFUSED("td/Bob.p12", "", "the PKCS#12 file is encrypted: give its password"),
    REFUSED("td/Fran.p12", "secret", "wrong password for the PKCS#12 file"),
    /* Keys refused. */
    REFUSED("pki/weak.key", "",
            "RSA key of 1024 bits is too weak; at least 2048 are required"),
    REFUSED("pki/dsa.key", "",
            "DSA private keys are not supported; use RSA or EC (P-256, P-384)"),
    REFUSED("pki/dsa.p12", "secret",
            "DSA private keys are not supported; use RSA or EC (P-256, P-384)"),
    REFUSED("pki/dsa.trad.pem", "",
            "DSA private keys are not supported; use RSA or EC (P-256, P-384)"),
    REFUSED("pki/p521.key", "",
            "EC private keys on curve P-521 are not supported; use P-256 or P-384"),
    REFUSED("pki/k1.key", "",
            "EC private keys on curve secp256k1 are not supported; use P-256 or P-384"),
    REFUSED("pki/k1.sec1.pem", "",
            "EC private keys on curve secp256k1 are not supported; use P-256 or P-384"),
    REFUSED("pki/ed448.key", "", "Ed448 private keys are not supported; use RSA or EC"),
    REFUSED("pki/rsa-bad.der", "", "malformed or inconsistent RSA private key"),
    REFUSED("pki/two-keys.pem", "", "the file holds more than one private key"),
    /* Not keys. */
    REFUSED("pki/alice.pem", "",
            "the PEM data holds no private key (blocks found: CERTIFICATE x1)"),
    REFUSED("pki/chain.pem", "",
            "the PEM data holds no private key (blocks found: CERTIFICATE x3)"),
    REFUSED("pki/alice.der", "",
            "the data is a certificate, not a private key; import it with "
            "ImportCertificates"),
    REFUSED("pki/chain.p7c", "", "the data is not a private key"),
    REFUSED("pki/chain.p7b", "",
            "the PEM data holds no private key (blocks found: PKCS7)"),
    REFUSED("pki/ssh.key", "", "OpenSSH private keys are not supported"),
    REFUSED("pki/text.txt", "", "the data is not a private key"),
};

/* gen runs one `openssl` (or shell) command in the PKI directory. */
static void gen(const char *cmd) {
  char full[8192];
  snprintf(full, sizeof(full), "cd '%s' && %s", g_pki, cmd);
  size_t len;
  free(tu_run(full, &len));
}

static void make_files(void) {
  gen("openssl pkcs8 -topk8 -nocrypt -in alice.key -outform DER -out alice.p8.der");
  gen("openssl rsa -in alice.key -traditional -outform DER -out alice.pkcs1.der "
      "2>/dev/null");
  gen("openssl pkcs8 -topk8 -in alice.key -v2 aes-128-cbc -v2prf hmacWithSHA1 "
      "-passout pass:secret -outform DER -out alice.p8-sha1.der");
  gen("openssl pkcs8 -topk8 -in alice.key -v2 aes-256-cbc -v2prf hmacWithSHA384 "
      "-passout pass:secret -out alice.p8-sha384.pem");
  gen("openssl pkcs8 -topk8 -in alice.key -v2 aes-192-cbc -v2prf hmacWithSHA512 "
      "-passout pass:secret -out alice.p8-sha512.pem");
  gen("openssl pkcs8 -topk8 -in alice.key -v2 des3 -passout pass:secret "
      "-out alice.p8-des3.pem");
  gen("openssl pkcs8 -topk8 -in alice.key -scrypt -passout pass:secret "
      "-out alice.p8-scrypt.pem");
  gen("openssl pkcs8 -topk8 -in alice.key -v1 PBE-SHA1-3DES -passout pass:secret "
      "-out alice.p8-v1-3des.pem");
  gen("openssl pkcs8 -topk8 -provider legacy -provider default -in alice.key "
      "-v1 PBE-MD5-DES -passout pass:secret -out alice.p8-v1-md5des.pem");
  gen("openssl pkcs8 -topk8 -provider legacy -provider default -in alice.key "
      "-v1 PBE-SHA1-RC2-64 -passout pass:secret -out alice.p8-v1-sha1rc2.pem");
  gen("openssl pkcs8 -topk8 -in alice.key -passout pass: -out alice.p8-empty.pem");
  gen("openssl rsa -in alice.key -aes256 -traditional -passout pass:secret "
      "-out alice.trad-aes.pem 2>/dev/null");
  gen("openssl ec -in dave.key -aes128 -passout pass:secret -out dave.trad-aes.pem "
      "2>/dev/null");
  gen("openssl ec -in dave.key -outform DER -out dave.sec1.der 2>/dev/null");
  gen("openssl pkcs8 -topk8 -in dave.key -passout pass:secret -outform DER "
      "-out dave.p8-enc.der");
  gen("openssl pkcs12 -export -in erin.pem -inkey erin.key -passout pass:secret "
      "-out erin.p12");
  gen("openssl ecparam -name prime256v1 -genkey -out ecparams-key.pem");
  gen("openssl genpkey -algorithm X25519 -out x25519.key");
  gen("openssl dsa -in dsa.key -out dsa.trad.pem 2>/dev/null");
  gen("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out p521.key");
  gen("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out k1.key");
  gen("openssl ec -in k1.key -out k1.sec1.pem 2>/dev/null");
  gen("openssl genpkey -algorithm ED448 -out ed448.key");
  gen("cat alice.key alice.pem alice.pkcs1.pem inter.pem > alice-twice.pem");
  gen("cat alice.key bob.key > two-keys.pem");
  gen("printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n"
      "-----END OPENSSH PRIVATE KEY-----\\n' > ssh.key");
  gen("echo 'not a key at all' > text.txt");
  /* make_files damages the private exponent of alice's PKCS#1 DER. */
  char path[4096];
  snprintf(path, sizeof(path), "%s/alice.pkcs1.der", g_pki);
  size_t len;
  uint8_t *der = tu_read_file(path, &len);
  der[len / 2] ^= 0x40;
  snprintf(path, sizeof(path), "%s/rsa-bad.der", g_pki);
  tu_write_file(path, der, len);
  free(der);
}

static void case_path(const char *file, char *out, size_t out_len) {
  if (strncmp(file, "pki/", 4) == 0) {
    snprintf(out, out_len, "%s/%s", g_pki, file + 4);
  } else {
    CHECK(strncmp(file, "td/", 3) == 0);
    snprintf(out, out_len, "%s/%s", g_testdata, file + 3);
  }
}

/* expected_spki returns the hex SHA-256 of the SPKI DER of the key, as openssl
 * computes it from |c|'s certificate (or key). */
static char *expected_spki(const CASE *c, const char *path) {
  char cmd[8192];
  char cert[4096];
  if (c->cert == NULL) {
    snprintf(cmd, sizeof(cmd),
             "openssl pkey -in '%s' -pubout -outform DER | sha256sum | cut -c1-64", path);
  } else if (strcmp(c->cert, "td:") == 0) {
    snprintf(cmd, sizeof(cmd),
             "openssl pkcs12 -legacy -in '%s' -passin pass:nss -nokeys -clcerts "
             "| openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER "
             "| sha256sum | cut -c1-64",
             path);
  } else {
    case_path(c->cert, cert, sizeof(cert));
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin -outform DER "
             "| sha256sum | cut -c1-64",
             cert);
  }
  size_t len;
  char *out = (char *)tu_run(cmd, &len);
  CHECK(len >= 64);
  out[64] = '\0';
  return out;
}

/* cert_der returns |c|'s certificate as DER, from openssl. */
static uint8_t *cert_der(const CASE *c, const char *path, size_t *len) {
  char cmd[8192];
  char cert[4096];
  if (strcmp(c->cert, "td:") == 0) {
    snprintf(cmd, sizeof(cmd),
             "openssl pkcs12 -legacy -in '%s' -passin pass:nss -nokeys -clcerts "
             "| openssl x509 -outform DER",
             path);
  } else {
    case_path(c->cert, cert, sizeof(cert));
    snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s' -outform DER", cert);
  }
  return tu_run(cmd, len);
}

static void run_case(const CASE *c, const uint8_t *other_cert, size_t other_len) {
  char path[4096];
  case_path(c->file, path, sizeof(path));
  size_t len;
  uint8_t *data = tu_read_file(path, &len);
  STATUS err;
  status_clear(&err);
  KEY_IMPORT *ki = key_import_parse(data, len, c->password, &err);
  free(data);
  if (c->error != NULL) {
    if (ki != NULL || err.code != STATUS_INVALID_ARGUMENT ||
        strncmp(err.message, c->error, strlen(c->error)) != 0) {
      fprintf(stderr, "%s (\"%s\"): got %s \"%s\", want \"%s\"\n", c->file, c->password,
              ki != NULL ? "success" : status_code_name(err.code), err.message, c->error);
    }
    CHECK(ki == NULL);
    CHECK(err.code == STATUS_INVALID_ARGUMENT);
    CHECK(strncmp(err.message, c->error, strlen(c->error)) == 0);
    return;
  }
  if (ki == NULL) {
    fprintf(stderr, "%s (\"%s\"): %s %s\n", c->file, c->password,
            status_code_name(err.code), err.message);
  }
  CHECK(ki != NULL);
  if (ki->key_algorithm != c->alg || ki->key_bits != c->bits ||
      ki->num_certs != c->certs) {
    fprintf(stderr, "%s: alg %u bits %u certs %zu\n", c->file, ki->key_algorithm,
            ki->key_bits, ki->num_certs);
  }
  CHECK(ki->key_algorithm == c->alg);
  CHECK(ki->key_bits == c->bits);
  CHECK(ki->num_certs == c->certs);
  CHECK(ki->format != NULL);
  char *want = expected_spki(c, path);
  char *got = tu_hex(ki->spki_sha256, sizeof(ki->spki_sha256));
  if (strcmp(want, got) != 0) {
    fprintf(stderr, "%s: spki %s, openssl %s\n", c->file, got, want);
  }
  CHECK(strcmp(want, got) == 0);
  free(want);
  free(got);
  if (c->cert != NULL) {
    size_t der_len;
    uint8_t *der = cert_der(c, path, &der_len);
    CHECK(key_import_matches_certificate(ki, der, der_len) == 1);
    /* run_case: a certificate with one byte too many or too few is not read. */
    CHECK(key_import_matches_certificate(ki, der, der_len - 1) == 0);
    free(der);
    /* Exactly one of the file's certificates is the key's (the CAs are not). */
    if (c->certs > 0) {
      size_t matching = 0;
      for (size_t i = 0; i < ki->num_certs; i++) {
        matching +=
            (size_t)key_import_matches_certificate(ki, ki->certs[i], ki->cert_lens[i]);
      }
      CHECK(matching == 1);
    }
  }
  CHECK(key_import_matches_certificate(ki, other_cert, other_len) == 0);
  CHECK(key_import_matches_certificate(ki, (const uint8_t *)"junk", 4) == 0);
  key_import_free(ki);
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  g_testdata = argv[2];
  char *tmp = tu_mkdtemp();
  snprintf(g_pki, sizeof(g_pki), "%s/pki", tmp);
  tu_make_pki(argv[1], g_pki);
  make_files();
  /* main uses carol's certificate as the one that matches no key in the cases. */
  char cmd[8192];
  snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s/carol.pem' -outform DER", g_pki);
  size_t other_len;
  uint8_t *other = tu_run(cmd, &other_len);
  for (size_t i = 0; i < sizeof(kCases) / sizeof(kCases[0]); i++) {
    const CASE *c = &kCases[i];
    if (strcmp(c->file, "pki/carol.key") == 0) {
      continue;
    }
    run_case(c, other, other_len);
  }
  /* carol against alice's certificate instead. */
  snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s/alice.pem' -outform DER", g_pki);
  size_t alice_len;
  uint8_t *alice = tu_run(cmd, &alice_len);
  for (size_t i = 0; i < sizeof(kCases) / sizeof(kCases[0]); i++) {
    if (strcmp(kCases[i].file, "pki/carol.key") == 0) {
      run_case(&kCases[i], alice, alice_len);
    }
  }

  /* Empty input, over-size input. */
  STATUS err;
  status_clear(&err);
  CHECK(key_import_parse((const uint8_t *)"", 0, "", &err) == NULL);
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  uint8_t *big = calloc(1, KEY_IMPORT_MAX_DATA + 1);
  CHECK(big != NULL);
  status_clear(&err);
  CHECK(key_import_parse(big, KEY_IMPORT_MAX_DATA + 1, "", &err) == NULL);
  CHECK(err.code == STATUS_RESOURCE_EXHAUSTED);
  free(big);
  free(other);
  free(alice);
  free(tmp);
  printf("key_import_test: all %zu cases passed\n", sizeof(kCases) / sizeof(kCases[0]));
  return 0;
}
