/* cms_verify_test: what the OpenSSL 3 command line signs (`openssl cms -sign`:
 * detached, -nodetach, -stream BER, SHA-1/256/384/512, RSA PKCS#1 v1.5 and PSS, ECDSA,
 * -noattr, -keyid, -nocerts, two signers) verifies with cms_verify with the right
 * algorithms; tampered content or signature is invalid; truncated or garbage input is
 * malformed; and among look-alike certificates the one whose key verifies is chosen. */
#include "service/cms/cms_verify.h"

#include <string.h>

#include <openssl/mem.h>

#include "service/cms/cms_cert.h"
#include "service/cms/cms_test_util.h"

static const char kMsg[] =
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "Signed by the OpenSSL command line.\r\n";

/* openssl_sign runs `openssl cms -sign` with |opts| over kMsg and returns the output. */
static void openssl_sign(const char *opts, uint8_t **der, size_t *len) {
  const char *dir = test_workdir();
  const char *pki = test_pki();
  test_write(test_path(dir, "msg.txt"), (const uint8_t *)kMsg, strlen(kMsg));
  int rc = test_run("cd '%s' && openssl cms -sign -binary -in '%s' -outform DER -out '%s' %s",
                    pki, test_path(dir, "msg.txt"), test_path(dir, "ossl.der"), opts);
  if (rc != 0) {
    fprintf(stderr, "openssl cms -sign %s failed\n", opts);
  }
  CHECK(rc == 0);
  test_read(test_path(dir, "ossl.der"), der, len);
}

/* verify_one checks |der| and returns the result (caller frees). */
static CMS_VERIFY_RESULT *verify_one(const uint8_t *der, size_t len, int detached,
                                     const CMS_BUF *extra, size_t num_extra) {
  CMS_VERIFY_RESULT *res = NULL;
  STATUS err;
  if (!cms_verify(der, len, detached ? (const uint8_t *)kMsg : NULL,
                  detached ? strlen(kMsg) : 0, extra, num_extra, &res, &err)) {
    fprintf(stderr, "cms_verify: %s\n", err.message);
    CHECK(0);
  }
  return res;
}

static void expect_valid(CMS_VERIFY_RESULT *res, size_t i, int md, int scheme, int sig_md,
                         const char *cert_pem) {
  CHECK(i < res->num_signers);
  CMS_SIGNER_RESULT *r = &res->signers[i];
  if (r->status != CMS_SIGNER_VALID) {
    fprintf(stderr, "signer %zu: status %d: %s\n", i, r->status, r->reason);
  }
  CHECK(r->status == CMS_SIGNER_VALID);
  CHECK(r->reason[0] == '\0');
  CHECK(r->md == md);
  CHECK(r->sig_scheme == scheme);
  CHECK(r->sig_md == sig_md);
  if (cert_pem != NULL) {
    uint8_t *cert;
    size_t cert_len;
    test_load_cert(test_path(test_pki(), cert_pem), &cert, &cert_len);
    CHECK(r->cert.len == cert_len && memcmp(r->cert.data, cert, cert_len) == 0);
    free(cert);
  }
}

static void test_openssl_shapes(void) {
  static const struct {
    const char *opts;
    int detached;
    int md, scheme, sig_md;
    const char *cert;
    int bits;
  } kCases[] = {
      {"-signer alice.pem -inkey alice.key", 1, CMS_MD_SHA256, CMS_SIG_RSA_PKCS1,
       CMS_MD_SHA256, "alice.pem", 2048},
      {"-signer alice.pem -inkey alice.key -nodetach", 0, CMS_MD_SHA256, CMS_SIG_RSA_PKCS1,
       CMS_MD_SHA256, "alice.pem", 2048},
      /* -stream with DER output embeds the content even without -nodetach; detached BER
       * comes from NSS in the Thunderbird corpus (cms_corpus_test). */
      {"-signer alice.pem -inkey alice.key -stream", 0, CMS_MD_SHA256, CMS_SIG_RSA_PKCS1,
       CMS_MD_SHA256, "alice.pem", 2048},
      {"-signer alice.pem -inkey alice.key -stream -nodetach", 0, CMS_MD_SHA256,
       CMS_SIG_RSA_PKCS1, CMS_MD_SHA256, "alice.pem", 2048},
      {"-signer alice.pem -inkey alice.key -md sha1", 1, CMS_MD_SHA1, CMS_SIG_RSA_PKCS1,
       CMS_MD_SHA1, "alice.pem", 2048},
      {"-signer alice.pem -inkey alice.key -md sha224 -nodetach", 0, CMS_MD_SHA224,
       CMS_SIG_RSA_PKCS1, CMS_MD_SHA224, "alice.pem", 2048},
      {"-signer bob.pem -inkey bob.key -md sha384", 1, CMS_MD_SHA384, CMS_SIG_RSA_PKCS1,
       CMS_MD_SHA384, "bob.pem", 3072},
      {"-signer carol.pem -inkey carol.key -md sha512 -stream -nodetach", 0, CMS_MD_SHA512,
       CMS_SIG_RSA_PKCS1, CMS_MD_SHA512, "carol.pem", 4096},
      {"-signer alice.pem -inkey alice.key -keyopt rsa_padding_mode:pss", 1, CMS_MD_SHA256,
       CMS_SIG_RSA_PSS, CMS_MD_SHA256, "alice.pem", 2048},
      {"-signer bob.pem -inkey bob.key -md sha384 -keyopt rsa_padding_mode:pss "
       "-keyopt rsa_pss_saltlen:20",
       1, CMS_MD_SHA384, CMS_SIG_RSA_PSS, CMS_MD_SHA384, "bob.pem", 3072},
      {"-signer dave.pem -inkey dave.key", 1, CMS_MD_SHA256, CMS_SIG_ECDSA, CMS_MD_SHA256,
       "dave.pem", 256},
      {"-signer dave.pem -inkey dave.key -md sha512 -nodetach -stream", 0, CMS_MD_SHA512,
       CMS_SIG_ECDSA, CMS_MD_SHA512, "dave.pem", 256},
      {"-signer erin.pem -inkey erin.key -md sha384", 1, CMS_MD_SHA384, CMS_SIG_ECDSA,
       CMS_MD_SHA384, "erin.pem", 384},
      {"-signer alice.pem -inkey alice.key -md sha1 -keyid -certfile inter.pem", 1,
       CMS_MD_SHA1, CMS_SIG_RSA_PKCS1, CMS_MD_SHA1, "alice.pem", 2048},
      {"-signer dave.pem -inkey dave.key -keyid -nodetach", 0, CMS_MD_SHA256, CMS_SIG_ECDSA,
       CMS_MD_SHA256, "dave.pem", 256},
      {"-signer alice.pem -inkey alice.key -noattr", 1, CMS_MD_SHA256, CMS_SIG_RSA_PKCS1,
       CMS_MD_SHA256, "alice.pem", 2048},
      {"-signer dave.pem -inkey dave.key -noattr -nodetach -stream", 0, CMS_MD_SHA256,
       CMS_SIG_ECDSA, CMS_MD_SHA256, "dave.pem", 256},
  };
  for (size_t i = 0; i < sizeof(kCases) / sizeof(kCases[0]); i++) {
    uint8_t *der;
    size_t len;
    openssl_sign(kCases[i].opts, &der, &len);
    if (strstr(kCases[i].opts, "-stream") != NULL) {
      CHECK(len > 2 && der[1] == 0x80); /* really indefinite-length BER */
    }
    CMS_VERIFY_RESULT *res = verify_one(der, len, kCases[i].detached, NULL, 0);
    CHECK(res->num_signers == 1);
    expect_valid(res, 0, kCases[i].md, kCases[i].scheme, kCases[i].sig_md, kCases[i].cert);
    CMS_SIGNER_RESULT *r = &res->signers[0];
    CHECK(r->key_bits == kCases[i].bits);
    int noattr = strstr(kCases[i].opts, "-noattr") != NULL;
    CHECK(r->has_signing_time == !noattr);
    if (!noattr) {
      CHECK(r->signing_time > 1700000000 && r->signing_time < 4102444800);
    }
    CHECK(r->sid_is_ski == (strstr(kCases[i].opts, "-keyid") != NULL));
    CHECK(r->sid_is_ski ? r->sid_ski.len == 20 : r->sid_issuer.len > 0 && r->sid_serial.len > 0);
    CHECK(res->num_certs == (strstr(kCases[i].opts, "-certfile") != NULL ? 2u : 1u));
    CHECK(res->econtent_is_data);
    CHECK(strcmp(res->econtent_type, "1.2.840.113549.1.7.1") == 0);
    if (res->has_content != !kCases[i].detached) {
      fprintf(stderr, "case %zu (%s): has_content %d\n", i, kCases[i].opts, res->has_content);
    }
    CHECK(res->has_content == !kCases[i].detached);
    if (!kCases[i].detached) {
      CHECK(res->content.len == strlen(kMsg) && memcmp(res->content.data, kMsg, strlen(kMsg)) == 0);
    }
    cms_verify_result_free(res);

    /* Tampered content: invalid (digest, or signature when there are no attributes). */
    if (kCases[i].detached) {
      CMS_VERIFY_RESULT *bad = NULL;
      STATUS err;
      char altered[sizeof(kMsg)];
      memcpy(altered, kMsg, sizeof(kMsg));
      altered[strlen(kMsg) - 4] ^= 1;
      CHECK(cms_verify(der, len, (const uint8_t *)altered, strlen(kMsg), NULL, 0, &bad, &err));
      CHECK(bad->num_signers == 1 && bad->signers[0].status == CMS_SIGNER_INVALID);
      CHECK(bad->signers[0].cert.len > 0);
      cms_verify_result_free(bad);
    } else {
      uint8_t *copy = malloc(len);
      CHECK(copy != NULL);
      memcpy(copy, der, len);
      uint8_t *hit = memmem(copy, len, "OpenSSL command", 15);
      CHECK(hit != NULL);
      hit[0] ^= 0x20;
      CMS_VERIFY_RESULT *bad = verify_one(copy, len, 0, NULL, 0);
      CHECK(bad->signers[0].status == CMS_SIGNER_INVALID);
      cms_verify_result_free(bad);
      free(copy);
    }
    /* Tampered signature (the last bytes of a DER detached message are the signature). */
    if (kCases[i].detached && der[1] != 0x80) {
      der[len - 1] ^= 0x01;
      CMS_VERIFY_RESULT *bad = verify_one(der, len, 1, NULL, 0);
      CHECK(bad->signers[0].status == CMS_SIGNER_INVALID);
      cms_verify_result_free(bad);
    }
    /* Truncations are malformed, never a crash. */
    for (size_t cut = 0; cut < len; cut += 1 + len / 23) {
      CMS_VERIFY_RESULT *none = NULL;
      STATUS err;
      CHECK(!cms_verify(der, cut, (const uint8_t *)kMsg, strlen(kMsg), NULL, 0, &none, &err));
      CHECK(none == NULL && err.code == STATUS_INVALID_ARGUMENT);
    }
    free(der);
  }
  printf("verified %zu OpenSSL-made shapes\n", sizeof(kCases) / sizeof(kCases[0]));
}

/* test_two_signers: one message, Alice (RSA) and Dave (ECDSA): a result for each. */
static void test_two_signers(void) {
  uint8_t *der;
  size_t len;
  openssl_sign("-signer alice.pem -inkey alice.key -signer dave.pem -inkey dave.key "
               "-md sha384 -nodetach",
               &der, &len);
  CMS_VERIFY_RESULT *res = verify_one(der, len, 0, NULL, 0);
  CHECK(res->num_signers == 2 && res->num_certs == 2);
  /* OpenSSL writes SignerInfos in DER SET OF order: whichever encodes smaller first. */
  size_t rsa = res->signers[0].sig_scheme == CMS_SIG_RSA_PKCS1 ? 0 : 1;
  expect_valid(res, rsa, CMS_MD_SHA384, CMS_SIG_RSA_PKCS1, CMS_MD_SHA384, "alice.pem");
  expect_valid(res, 1 - rsa, CMS_MD_SHA384, CMS_SIG_ECDSA, CMS_MD_SHA384, "dave.pem");
  cms_verify_result_free(res);
  free(der);
}

/* test_no_certs: a message without certificates needs the caller's. */
static void test_no_certs(void) {
  uint8_t *der, *alice;
  size_t len, alice_len;
  openssl_sign("-signer alice.pem -inkey alice.key -nocerts", &der, &len);
  CMS_VERIFY_RESULT *res = verify_one(der, len, 1, NULL, 0);
  CHECK(res->num_certs == 0 && res->signers[0].status == CMS_SIGNER_NO_CERT);
  CHECK(res->signers[0].cert.len == 0);
  cms_verify_result_free(res);
  test_load_cert(test_path(test_pki(), "alice.pem"), &alice, &alice_len);
  CMS_BUF extra[1] = {{alice, alice_len}};
  res = verify_one(der, len, 1, extra, 1);
  expect_valid(res, 0, CMS_MD_SHA256, CMS_SIG_RSA_PKCS1, CMS_MD_SHA256, "alice.pem");
  cms_verify_result_free(res);
  free(alice);
  free(der);
}

/* test_look_alike: a certificate with Alice's issuer and serial but another key. The
 * signer is the certificate whose key verifies, wherever it comes from. */
static void test_look_alike(void) {
  const char *pki = test_pki();
  uint8_t *alice, *fake, *der;
  size_t alice_len, fake_len, len;
  CMS_CERT a, f;
  CHECK(test_run("cd '%s' && serial=$(openssl x509 -in alice.pem -noout -serial | cut -d= -f2) "
                 "&& openssl req -x509 -newkey rsa:2048 -nodes -keyout fake.key -out fake.pem "
                 "-subj '/CN=smimed Test Intermediate CA/O=smimed tests' -set_serial 0x$serial "
                 "-days 30 -addext keyUsage=digitalSignature 2>/dev/null",
                 pki) == 0);
  test_load_cert(test_path(pki, "alice.pem"), &alice, &alice_len);
  test_load_cert(test_path(pki, "fake.pem"), &fake, &fake_len);
  CHECK(cms_cert_parse(&a, alice, alice_len) && cms_cert_parse(&f, fake, fake_len));
  CHECK(cms_cert_has_issuer_serial(&f, &a.issuer, &a.serial)); /* a true look-alike */

  /* Alice signed, no certificates carried; the caller offers the fake first. */
  openssl_sign("-signer alice.pem -inkey alice.key -nocerts", &der, &len);
  CMS_BUF both[2] = {{fake, fake_len}, {alice, alice_len}};
  CMS_VERIFY_RESULT *res = verify_one(der, len, 1, both, 2);
  expect_valid(res, 0, CMS_MD_SHA256, CMS_SIG_RSA_PKCS1, CMS_MD_SHA256, "alice.pem");
  cms_verify_result_free(res);
  /* Only the fake is offered: invalid, and the fake is named as the (failed) signer. */
  res = verify_one(der, len, 1, both, 1);
  CHECK(res->signers[0].status == CMS_SIGNER_INVALID);
  CHECK(res->signers[0].cert.len == fake_len &&
        memcmp(res->signers[0].cert.data, fake, fake_len) == 0);
  cms_verify_result_free(res);
  free(der);

  /* The fake signed and carries itself; the store has Alice's: the signer is the fake
   * (cryptographically valid; the caller's chain check makes it untrusted). */
  openssl_sign("-signer fake.pem -inkey fake.key", &der, &len);
  res = verify_one(der, len, 1, both + 1, 1);
  expect_valid(res, 0, CMS_MD_SHA256, CMS_SIG_RSA_PKCS1, CMS_MD_SHA256, "fake.pem");
  cms_verify_result_free(res);
  free(der);
  free(alice);
  free(fake);
}

/* test_detached_and_econtent: an opaque signature given a detached content too. */
static void test_detached_and_econtent(void) {
  uint8_t *der;
  size_t len;
  STATUS err;
  CMS_VERIFY_RESULT *res = NULL;
  openssl_sign("-signer alice.pem -inkey alice.key -nodetach", &der, &len);
  res = verify_one(der, len, 1, NULL, 0); /* same bytes: valid */
  expect_valid(res, 0, CMS_MD_SHA256, CMS_SIG_RSA_PKCS1, CMS_MD_SHA256, "alice.pem");
  cms_verify_result_free(res);
  CHECK(cms_verify(der, len, (const uint8_t *)"something else", 14, NULL, 0, &res, &err));
  CHECK(res->signers[0].status == CMS_SIGNER_INVALID);
  cms_verify_result_free(res);
  free(der);

  /* A detached signature without content is a caller error, not a crash. */
  openssl_sign("-signer alice.pem -inkey alice.key", &der, &len);
  res = NULL;
  CHECK(!cms_verify(der, len, NULL, 0, NULL, 0, &res, &err));
  CHECK(res == NULL && err.code == STATUS_INVALID_ARGUMENT);
  free(der);
}

/* test_not_signed_data: garbage, other content types, trailing data. */
static void test_not_signed_data(void) {
  const char *dir = test_workdir();
  uint8_t *der;
  size_t len;
  STATUS err;
  CMS_VERIFY_RESULT *res = NULL;
  test_write(test_path(dir, "m.txt"), (const uint8_t *)kMsg, strlen(kMsg));
  CHECK(test_run("openssl cms -encrypt -binary -in '%s' -outform DER -out '%s' '%s'",
                 test_path(dir, "m.txt"), test_path(dir, "env.der"),
                 test_path(test_pki(), "alice.pem")) == 0);
  test_read(test_path(dir, "env.der"), &der, &len);
  CHECK(!cms_verify(der, len, NULL, 0, NULL, 0, &res, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT && strstr(err.message, "signed-data") != NULL);
  free(der);

  static const uint8_t kGarbage[] = "this is not ASN.1 at all";
  CHECK(!cms_verify(kGarbage, sizeof(kGarbage), NULL, 0, NULL, 0, &res, &err));
  CHECK(!cms_verify(kGarbage, 0, NULL, 0, NULL, 0, &res, &err));
  CHECK(res == NULL);

  openssl_sign("-signer alice.pem -inkey alice.key -nodetach", &der, &len);
  uint8_t *longer = malloc(len + 1);
  CHECK(longer != NULL);
  memcpy(longer, der, len);
  longer[len] = 0x00;
  CHECK(!cms_verify(longer, len + 1, NULL, 0, NULL, 0, &res, &err));
  free(longer);
  free(der);
}

int main(void) {
  test_openssl_shapes();
  test_two_signers();
  test_no_certs();
  test_look_alike();
  test_detached_and_econtent();
  test_not_signed_data();
  printf("PASS\n");
  return 0;
}
