/* containers_test: cert_file_parse on every format the OpenSSL 3 command line makes
 * from the test PKI (tests/pki/make_pki.sh, argv[1]) and on Thunderbird's NSS-made
 * PKCS#12 (argv[3]), and its messages for broken files. The certificates it finds are
 * compared byte for byte with what `openssl x509 -outform DER` writes. */
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/mem.h>

#include "service/common/status.h"
#include "service/x509/cert_info.h"
#include "service/x509/containers.h"
#include "service/x509/x509_testutil.h"

static char *g_pki;

/* der_of returns the DER of the PKI's certificate |name| ("alice"), as openssl writes
 * it. */
static uint8_t *der_of(const char *name, size_t *out_len) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s.ref.der", g_pki, name);
  free(testutil_run("openssl x509 -in '%s/%s.pem' -outform DER -out '%s'", g_pki, name,
                    path));
  return testutil_read_file(path, out_len);
}

/* has_cert says whether |f| holds the PKI's certificate |name| at index |i| (or
 * anywhere, for |i| < 0). */
static int has_cert(const CERT_FILE *f, const char *name, int i) {
  size_t len;
  uint8_t *der = der_of(name, &len);
  int found = 0;
  for (size_t k = 0; k < f->num_certs; k++) {
    if ((i < 0 || (size_t)i == k) && f->certs[k].der_len == len &&
        memcmp(f->certs[k].der, der, len) == 0) {
      found = 1;
    }
  }
  free(der);
  return found;
}

/* parse_file parses |path| and checks the format and count. */
static CERT_FILE *parse_file(const char *path, const char *format, size_t count) {
  size_t len;
  uint8_t *data = testutil_read_file(path, &len);
  STATUS st;
  status_clear(&st);
  CERT_FILE *f = cert_file_parse(data, len, &st);
  if (f == NULL) {
    fprintf(stderr, "%s: %s\n", path, st.message);
  }
  CHECK(f != NULL);
  if (strcmp(f->format, format) != 0 || f->num_certs != count) {
    fprintf(stderr, "%s: format %s, %zu certificates\n", path, f->format, f->num_certs);
  }
  CHECK(strcmp(f->format, format) == 0);
  CHECK(f->num_certs == count);
  free(data);
  return f;
}

/* parse_pki parses the PKI's file |name|. */
static CERT_FILE *parse_pki(const char *name, const char *format, size_t count) {
  char *path = testutil_path(g_pki, name);
  CERT_FILE *f = parse_file(path, format, count);
  free(path);
  return f;
}

/* parse_all does what the engine does with a file: split it, then read every
 * certificate, the message prefixed with where the certificate was. Returns 1 or 0
 * with |st| filled. */
static int parse_all(const uint8_t *data, size_t len, STATUS *st) {
  status_clear(st);
  CERT_FILE *f = cert_file_parse(data, len, st);
  if (f == NULL) {
    return 0;
  }
  for (size_t i = 0; i < f->num_certs; i++) {
    STATUS inner;
    status_clear(&inner);
    CERT_INFO *info = cert_info_new(f->certs[i].der, f->certs[i].der_len, &inner);
    if (info == NULL) {
      status_set(st, inner.code, "%s: %s", f->certs[i].where, inner.message);
      cert_file_free(f);
      return 0;
    }
    cert_info_free(info);
  }
  cert_file_free(f);
  return 1;
}

/* expect_error checks that the |len| bytes at |data| are refused with |code| and a
 * message that contains |part|. */
static void expect_error(const void *data, size_t len, int code, const char *part) {
  STATUS st;
  int ok = parse_all(data, len, &st);
  if (ok || st.code != code || strstr(st.message, part) == NULL) {
    fprintf(stderr, "got %d code %d [%s], want code %d [...%s...]\n", ok, st.code,
            st.message, code, part);
  }
  CHECK(!ok);
  CHECK(st.code == code);
  CHECK(strstr(st.message, part) != NULL);
}

/* expect_error_str: expect_error on a C string. */
static void expect_error_str(const char *s, int code, const char *part) {
  expect_error(s, strlen(s), code, part);
}

static void check_formats(const char *nss_p12) {
  CERT_FILE *f = parse_pki("chain.pem", CERT_FILE_FORMAT_PEM, 3);
  CHECK(has_cert(f, "alice", 0) && has_cert(f, "inter", 1) && has_cert(f, "root", 2));
  CHECK(strcmp(f->certs[0].where, "PEM block 1 (CERTIFICATE)") == 0);
  CHECK(strcmp(f->certs[2].where, "PEM block 3 (CERTIFICATE)") == 0);
  CHECK(!f->contains_private_key);
  cert_file_free(f);

  f = parse_pki("chain.p7b", CERT_FILE_FORMAT_PKCS7, 3);
  CHECK(has_cert(f, "alice", -1) && has_cert(f, "inter", -1) && has_cert(f, "root", -1));
  CHECK(strcmp(f->certs[0].where, "PEM block 1 (PKCS7), certificate 1") == 0);
  cert_file_free(f);

  f = parse_pki("chain.p7c", CERT_FILE_FORMAT_PKCS7, 3);
  CHECK(has_cert(f, "alice", -1) && has_cert(f, "inter", -1) && has_cert(f, "root", -1));
  CHECK(strcmp(f->certs[1].where, "PKCS#7 certificate 2") == 0);
  cert_file_free(f);

  f = parse_pki("alice.der", CERT_FILE_FORMAT_DER, 1);
  CHECK(has_cert(f, "alice", 0));
  CHECK(strcmp(f->certs[0].where, "the DER certificate") == 0);
  cert_file_free(f);

  f = parse_pki("alice-bundle.pem", CERT_FILE_FORMAT_PEM, 1);
  CHECK(has_cert(f, "alice", 0));
  CHECK(f->contains_private_key);
  cert_file_free(f);

  static const char *const kP12[] = {"alice.p12", "alice-legacy.p12", "alice-keyonly.p12",
                                     "dsa.p12"};
  for (size_t i = 0; i < sizeof(kP12) / sizeof(kP12[0]); i++) {
    f = parse_pki(kP12[i], CERT_FILE_FORMAT_PKCS12, 0);
    cert_file_free(f);
  }
  /* check_formats: NSS writes BER with indefinite lengths. */
  f = parse_file(nss_p12, CERT_FILE_FORMAT_PKCS12, 0);
  cert_file_free(f);

  /* check_formats: a CMS SignedData streamed by openssl (BER, indefinite lengths, a
   * real signerInfo) carries the signer's certificate and the extra ones. */
  free(testutil_run(
      "cd '%s' && echo hello > msg.txt && cat inter.pem root.pem > ir.pem && "
      "openssl cms -sign -in msg.txt -signer alice.pem -inkey alice.key -certfile ir.pem "
      "-nodetach -stream -outform DER -out signed.ber && "
      "openssl cms -sign -in msg.txt -signer alice.pem -inkey alice.key -certfile ir.pem "
      "-outform PEM -stream -out signed.pem",
      g_pki));
  char *path = testutil_path(g_pki, "signed.ber");
  size_t len;
  uint8_t *ber = testutil_read_file(path, &len);
  CHECK(len > 2 && ber[0] == 0x30 && ber[1] == 0x80);
  free(ber);
  f = parse_file(path, CERT_FILE_FORMAT_PKCS7, 3);
  CHECK(has_cert(f, "alice", -1) && has_cert(f, "inter", -1) && has_cert(f, "root", -1));
  cert_file_free(f);
  free(path);
  f = parse_pki("signed.pem", CERT_FILE_FORMAT_PKCS7, 3);
  CHECK(strcmp(f->certs[0].where, "PEM block 1 (CMS), certificate 1") == 0);
  cert_file_free(f);

  /* check_formats: OpenSSL's trusted form, the old "X509 CERTIFICATE" label, CRLF line
   * ends, RFC 1421 headers, other blocks around, and text starting with "0". */
  free(testutil_run(
      "cd '%s' && openssl x509 -in alice.pem -trustout -addtrust emailProtection "
      "-out trusted.pem && "
      "sed 's/CERTIFICATE/X509 CERTIFICATE/' bob.pem > x509label.pem && "
      "sed 's/$/\\r/' chain.pem > crlf.pem && "
      "{ echo 0 leading zero; echo '-----BEGIN CERTIFICATE-----'; echo 'Comment: hi';"
      "  echo; sed -n '2,/END/p' carol.pem; "
      "  openssl req -new -key alice.key -subj /CN=x; cat dave.pem; } > mixed.pem",
      g_pki));
  f = parse_pki("trusted.pem", CERT_FILE_FORMAT_PEM, 1);
  CHECK(has_cert(f, "alice", 0));
  CHECK(strcmp(f->certs[0].where, "PEM block 1 (TRUSTED CERTIFICATE)") == 0);
  cert_file_free(f);
  f = parse_pki("x509label.pem", CERT_FILE_FORMAT_PEM, 1);
  CHECK(has_cert(f, "bob", 0));
  cert_file_free(f);
  f = parse_pki("crlf.pem", CERT_FILE_FORMAT_PEM, 3);
  CHECK(has_cert(f, "alice", 0) && has_cert(f, "root", 2));
  cert_file_free(f);
  f = parse_pki("mixed.pem", CERT_FILE_FORMAT_PEM, 2);
  CHECK(has_cert(f, "carol", 0) && has_cert(f, "dave", 1));
  CHECK(strcmp(f->certs[1].where, "PEM block 3 (CERTIFICATE)") == 0);
  cert_file_free(f);
}

/* pki_file reads the PKI's file |name|. */
static uint8_t *pki_file(const char *name, size_t *len) {
  char *path = testutil_path(g_pki, name);
  uint8_t *data = testutil_read_file(path, len);
  free(path);
  return data;
}

static void check_errors(void) {
  expect_error("", 0, STATUS_INVALID_ARGUMENT, "the file is empty");
  expect_error_str("hello, this is not a certificate\n", STATUS_INVALID_ARGUMENT,
                   "not a certificate file: expected PEM, DER, PKCS#7 or PKCS#12 (first "
                   "bytes look like text without a PEM block)");
  expect_error("\x01\x02\x03", 3, STATUS_INVALID_ARGUMENT,
               "not a certificate file: expected PEM, DER, PKCS#7 or PKCS#12 (binary data "
               "starting with byte 0x01");
  expect_error("\x30", 1, STATUS_INVALID_ARGUMENT, "not a valid DER file");

  size_t len;
  uint8_t *chain = pki_file("chain.pem", &len);
  /* check_errors: a '!' in the second block's base64. */
  char *second = strstr(strstr((char *)chain, "-----END CERTIFICATE-----"),
                        "-----BEGIN CERTIFICATE-----\n");
  CHECK(second != NULL);
  second[28 + 10] = '!';
  expect_error(chain, len, STATUS_INVALID_ARGUMENT,
               "PEM block 2 (CERTIFICATE) is not valid base64 (character 0x21 on line");
  free(chain);

  chain = pki_file("chain.pem", &len);
  second = strstr((char *)chain, "-----END CERTIFICATE-----");
  CHECK(second != NULL);
  memmove(second - 2, second, len - (size_t)(second - (char *)chain));
  expect_error(chain, len - 2, STATUS_INVALID_ARGUMENT,
               "PEM block 1 (CERTIFICATE) is not valid base64 (truncated, or bad padding)");
  free(chain);

  expect_error_str("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n",
                   STATUS_INVALID_ARGUMENT,
                   "PEM block 1 (CERTIFICATE): not a valid X.509 certificate (ASN.1 error "
                   "at tbsCertificate, offset 2: expected SEQUENCE, found INTEGER)");
  expect_error_str("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n", STATUS_INVALID_ARGUMENT,
                   "PEM block 1 (CERTIFICATE) has no END line");
  expect_error_str("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----BEGIN CERTIFICATE-----\n"
                   "MAMCAQE=\n-----END CERTIFICATE-----\n",
                   STATUS_INVALID_ARGUMENT,
                   "PEM block 1 (CERTIFICATE) has no END line before the next BEGIN");
  expect_error_str("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END X509 CRL-----\n",
                   STATUS_INVALID_ARGUMENT,
                   "PEM block 1: BEGIN CERTIFICATE ends with a different END line (line 3)");
  expect_error_str("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n",
                   STATUS_INVALID_ARGUMENT, "PEM block 1 (CERTIFICATE) is empty");
  expect_error_str("-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQE=\n"
                   "-----END CERTIFICATE REQUEST-----\n",
                   STATUS_INVALID_ARGUMENT,
                   "the file holds no certificate (PEM blocks found: CERTIFICATE REQUEST)");
  expect_error_str("-----BEGIN ?\n", STATUS_INVALID_ARGUMENT,
                   "PEM block 1: the BEGIN line (line 1) has no valid label");

  uint8_t *key = pki_file("alice.key", &len);
  expect_error(key, len, STATUS_INVALID_ARGUMENT,
               "the file holds no certificate, only a private key: import it with "
               "ImportPrivateKey");
  free(key);
  /* check_errors: make_pki.sh's alice.pkcs8.der is PKCS#1 in fact (OpenSSL 3.0's
   * `pkey -outform DER` writes the traditional form), so PKCS#8 is made here. */
  key = pki_file("alice.pkcs8.der", &len);
  expect_error(key, len, STATUS_INVALID_ARGUMENT,
               "private key, not a certificate: import it with ImportPrivateKey");
  free(key);
  free(testutil_run("cd '%s' && openssl pkcs8 -topk8 -nocrypt -in alice.key -outform DER "
                    "-out real.pkcs8.der && openssl ec -in dave.key -outform DER "
                    "-out dave.sec1.der 2>/dev/null",
                    g_pki));
  key = pki_file("real.pkcs8.der", &len);
  expect_error(key, len, STATUS_INVALID_ARGUMENT,
               "the file is a PKCS#8 private key, not a certificate: import it with "
               "ImportPrivateKey");
  free(key);
  key = pki_file("dave.sec1.der", &len);
  expect_error(key, len, STATUS_INVALID_ARGUMENT,
               "the file is an EC (SEC1) private key, not a certificate");
  free(key);
  key = pki_file("alice.enc.der", &len);
  expect_error(key, len, STATUS_INVALID_ARGUMENT,
               "the file is an encrypted PKCS#8 private key, not a certificate");
  free(key);

  uint8_t *der = pki_file("alice.der", &len);
  uint8_t *longer = malloc(len + 1);
  CHECK(longer != NULL);
  memcpy(longer, der, len);
  longer[len] = '\n';
  char want[128];
  snprintf(want, sizeof(want),
           "1 byte of trailing data after the DER structure (at offset %zu)", len);
  expect_error(longer, len + 1, STATUS_INVALID_ARGUMENT, want);
  free(longer);
  expect_error(der, len - 10, STATUS_INVALID_ARGUMENT,
               "not a valid DER file: the outer SEQUENCE's length runs past the end");
  /* check_errors: the signatureAlgorithm's tag broken: the certificate is then read as
   * the DER certificate and refused there. */
  der[4 + 4 + (((size_t)der[6] << 8) | der[7])] = 0x31;
  expect_error(der, len, STATUS_INVALID_ARGUMENT,
               "the DER certificate: not a valid X.509 certificate (ASN.1 error at "
               "signatureAlgorithm");
  free(der);

  uint8_t *p7 = pki_file("chain.p7c", &len);
  p7[len - 1] ^= 0xff; /* check_errors: inside the last certificate's signature */
  expect_error(p7, len - 3, STATUS_INVALID_ARGUMENT, "not a valid DER file");
  free(p7);

  /* check_errors: a PKCS#7 of another content type (EnvelopedData). */
  free(testutil_run("cd '%s' && echo hi | openssl cms -encrypt -recip alice.pem "
                    "-outform DER -out enveloped.der",
                    g_pki));
  uint8_t *env = pki_file("enveloped.der", &len);
  expect_error(env, len, STATUS_INVALID_ARGUMENT,
               "the PKCS#7 file has content type pkcs7-envelopedData, not signedData (a "
               "certificate bundle)");
  free(env);
}

/* bundle builds a DER PKCS#7 SignedData holding |n| copies of |cert|. */
static uint8_t *bundle(const uint8_t *cert, size_t cert_len, size_t n, size_t *out_len) {
  static const uint8_t kSignedData[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                        0x0d, 0x01, 0x07, 0x02};
  static const uint8_t kData[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
  CBB cbb, ci, oid, explicit_content, sd, set, eci, certs, signers;
  uint8_t *out = NULL;
  CHECK(CBB_init(&cbb, n * cert_len + 64));
  CHECK(CBB_add_asn1(&cbb, &ci, CBS_ASN1_SEQUENCE));
  CHECK(CBB_add_asn1(&ci, &oid, CBS_ASN1_OBJECT));
  CHECK(CBB_add_bytes(&oid, kSignedData, sizeof(kSignedData)));
  CHECK(CBB_add_asn1(&ci, &explicit_content,
                     CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0));
  CHECK(CBB_add_asn1(&explicit_content, &sd, CBS_ASN1_SEQUENCE));
  CHECK(CBB_add_asn1_uint64(&sd, 1));
  CHECK(CBB_add_asn1(&sd, &set, CBS_ASN1_SET));
  CHECK(CBB_add_asn1(&sd, &eci, CBS_ASN1_SEQUENCE));
  CHECK(CBB_add_asn1(&eci, &oid, CBS_ASN1_OBJECT));
  CHECK(CBB_add_bytes(&oid, kData, sizeof(kData)));
  CHECK(CBB_add_asn1(&sd, &certs, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0));
  for (size_t i = 0; i < n; i++) {
    CHECK(CBB_add_bytes(&certs, cert, cert_len));
  }
  CHECK(CBB_add_asn1(&sd, &signers, CBS_ASN1_SET));
  CHECK(CBB_finish(&cbb, &out, out_len));
  return out;
}

static void check_limits(void) {
  size_t len;
  uint8_t *der = pki_file("alice.der", &len);
  size_t p7_len;
  uint8_t *p7 = bundle(der, len, CERT_FILE_MAX_CERTS, &p7_len);
  STATUS st;
  status_clear(&st);
  CERT_FILE *f = cert_file_parse(p7, p7_len, &st);
  CHECK(f != NULL);
  CHECK(f->num_certs == CERT_FILE_MAX_CERTS);
  CHECK(strcmp(f->certs[CERT_FILE_MAX_CERTS - 1].where, "PKCS#7 certificate 10000") == 0);
  cert_file_free(f);
  OPENSSL_free(p7);
  p7 = bundle(der, len, CERT_FILE_MAX_CERTS + 1, &p7_len);
  expect_error(p7, p7_len, STATUS_RESOURCE_EXHAUSTED,
               "the file holds more than 10000 certificates");
  OPENSSL_free(p7);
  p7 = bundle(der, len, 0, &p7_len);
  expect_error(p7, p7_len, STATUS_INVALID_ARGUMENT,
               "the file holds no certificate (its PKCS#7 bundle is empty)");
  OPENSSL_free(p7);
  free(der);

  uint8_t *pem = pki_file("alice.pem", &len);
  size_t big_len = len * (CERT_FILE_MAX_CERTS + 1);
  uint8_t *big = malloc(big_len);
  CHECK(big != NULL);
  for (size_t i = 0; i <= CERT_FILE_MAX_CERTS; i++) {
    memcpy(big + i * len, pem, len);
  }
  expect_error(big, big_len, STATUS_RESOURCE_EXHAUSTED,
               "the file holds more than 10000 certificates");
  free(big);
  free(pem);
}

int main(int argc, char **argv) {
  CHECK(argc == 4);
  g_pki = testutil_make_pki(argv[1]);
  check_formats(argv[3]);
  check_errors();
  check_limits();

  /* main: Thunderbird's CA as PEM. */
  size_t len;
  uint8_t *ca = testutil_read_file(argv[2], &len);
  STATUS st;
  CHECK(parse_all(ca, len, &st));
  free(ca);
  cert_file_free(NULL);

  free(testutil_run("rm -rf '%s'", g_pki));
  free(g_pki);
  printf("containers_test: all passed\n");
  return 0;
}
