/* cms_sign_test: what cms_sign produces verifies with the OpenSSL 3 command line
 * (`openssl cms -verify`) and with cms_verify, for every key type, hash and scheme,
 * detached and opaque; and cms_sign_finish refuses what it must. */
#include "service/cms/cms_sign.h"

#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/mem.h>

#include "service/cms/cms_asn1.h"
#include "service/cms/cms_keystore_ops.h"
#include "service/cms/cms_test_util.h"
#include "service/cms/cms_verify.h"

static const char kContent[] =
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Hello from smimed.\r\n";

/* sign_with runs the two steps with the key file |key_path| standing in for the
 * keystore. Returns the DER ContentInfo (OPENSSL_free). */
static uint8_t *sign_with(const char *name, const CMS_SIGN_OPTIONS *opts,
                          const uint8_t *content, size_t content_len, int64_t when,
                          int with_chain, size_t *out_len) {
  char file[256];
  uint8_t *cert, *inter;
  size_t cert_len, inter_len;
  STATUS err;
  CMS_SIGN_REQUEST *req = NULL;
  snprintf(file, sizeof(file), "%s.pem", name);
  test_load_cert(test_path(test_pki(), file), &cert, &cert_len);
  test_load_cert(test_path(test_pki(), "inter.pem"), &inter, &inter_len);
  CMS_BUF chain[1] = {{inter, inter_len}};
  CHECK(cms_sign_prepare(content, content_len, opts, cert, cert_len, chain,
                         with_chain ? 1 : 0, when, &req, &err));
  snprintf(file, sizeof(file), "%s.key", name);
  EVP_PKEY *key = test_load_key(test_path(test_pki(), file));
  uint8_t *sig;
  size_t sig_len;
  const uint8_t *in = req->scheme == CMS_SIG_ED25519 ? req->tbs : req->digest;
  size_t in_len = req->scheme == CMS_SIG_ED25519 ? req->tbs_len : req->digest_len;
  CHECK(cms_keystore_sign(key, req->scheme, req->md, in, in_len, &sig, &sig_len, &err));
  uint8_t *der;
  if (!cms_sign_finish(req->state, req->state_len, content, content_len, sig, sig_len, &der,
                       out_len, &err)) {
    fprintf(stderr, "finish: %s\n", err.message);
    CHECK(0);
  }
  OPENSSL_free(sig);
  EVP_PKEY_free(key);
  cms_sign_request_free(req);
  free(cert);
  free(inter);
  return der;
}

/* check_ours verifies |der| with cms_verify and returns the result's first signer. */
static void check_ours(const uint8_t *der, size_t len, const uint8_t *content,
                       size_t content_len, int opaque, int want_md, int want_scheme) {
  CMS_VERIFY_RESULT *res = NULL;
  STATUS err;
  CHECK(cms_verify(der, len, opaque ? NULL : content, content_len, NULL, 0, &res, &err));
  CHECK(res->num_signers == 1);
  if (res->signers[0].status != CMS_SIGNER_VALID) {
    fprintf(stderr, "ours: %s\n", res->signers[0].reason);
  }
  CHECK(res->signers[0].status == CMS_SIGNER_VALID);
  CHECK(res->signers[0].md == want_md);
  CHECK(res->signers[0].sig_scheme == want_scheme);
  CHECK(res->signers[0].has_signing_time);
  CHECK(res->has_content == opaque);
  if (opaque) {
    CHECK(res->content.len == content_len && memcmp(res->content.data, content, content_len) == 0);
  }
  cms_verify_result_free(res);
}

/* check_openssl verifies |der| with `openssl cms -verify` against the test root. When
 * the message does not carry the intermediate, it goes into the CA file: OpenSSL 3.0's
 * `cms -verify -certfile` only searches those certificates for the signer, it does not
 * build chains with them ("unable to get local issuer certificate"). */
static void check_openssl(const uint8_t *der, size_t len, const uint8_t *content,
                          size_t content_len, int opaque, int chain_carried) {
  const char *dir = test_workdir();
  test_write(test_path(dir, "signed.der"), der, len);
  test_write(test_path(dir, "content.bin"), content, content_len);
  char content_opt[4200] = "";
  if (!opaque) {
    snprintf(content_opt, sizeof(content_opt), "-content '%s'",
             test_path(dir, "content.bin"));
  }
  CHECK(test_run("cat '%s' '%s' >'%s'", test_path(test_pki(), "root.pem"),
                 test_path(test_pki(), "inter.pem"), test_path(dir, "root-inter.pem")) == 0);
  int rc = test_run(
      "openssl cms -verify -binary -inform DER -in '%s' %s -CAfile '%s' -out '%s' 2>'%s'",
      test_path(dir, "signed.der"), content_opt,
      chain_carried ? test_path(test_pki(), "root.pem") : test_path(dir, "root-inter.pem"),
      test_path(dir, "verified.bin"), test_path(dir, "verify.log"));
  if (rc != 0) {
    test_run("cat '%s' >&2", test_path(dir, "verify.log"));
  }
  CHECK(rc == 0);
  uint8_t *got;
  size_t got_len;
  test_read(test_path(dir, "verified.bin"), &got, &got_len);
  CHECK(got_len == content_len && memcmp(got, content, content_len) == 0);
  free(got);
}

/* check_is_der asserts our output needs no BER conversion (definite, minimal lengths). */
static void check_is_der(const uint8_t *der, size_t len) {
  CBS out;
  uint8_t *storage = NULL;
  CHECK(cms_ber_to_der(der, len, &out, &storage));
  CHECK(storage == NULL);
  CHECK(CBS_len(&out) == len);
}

static void test_matrix(void) {
  static const struct {
    const char *name;
    int pss;
    int scheme;
  } kSigners[] = {
      {"alice", 0, CMS_SIG_RSA_PKCS1}, {"alice", 1, CMS_SIG_RSA_PSS},
      {"bob", 0, CMS_SIG_RSA_PKCS1},   {"bob", 1, CMS_SIG_RSA_PSS},
      {"dave", 0, CMS_SIG_ECDSA},      {"erin", 0, CMS_SIG_ECDSA},
  };
  static const int kMds[] = {CMS_MD_SHA256, CMS_MD_SHA384, CMS_MD_SHA512};
  int n = 0;
  for (size_t s = 0; s < sizeof(kSigners) / sizeof(kSigners[0]); s++) {
    for (size_t m = 0; m < 3; m++) {
      for (int opaque = 0; opaque <= 1; opaque++) {
        /* Bob covers the schemes with one hash; Alice, Dave and Erin every hash. */
        if (strcmp(kSigners[s].name, "bob") == 0 && m != 1) {
          continue;
        }
        CMS_SIGN_OPTIONS opts = {kMds[m], kSigners[s].pss, opaque, 0};
        size_t len;
        int with_chain = (s + m + (size_t)opaque) % 2;
        uint8_t *der = sign_with(kSigners[s].name, &opts, (const uint8_t *)kContent,
                                 strlen(kContent), 1700000000, with_chain, &len);
        check_is_der(der, len);
        check_ours(der, len, (const uint8_t *)kContent, strlen(kContent), opaque, kMds[m],
                   kSigners[s].scheme);
        check_openssl(der, len, (const uint8_t *)kContent, strlen(kContent), opaque,
                      with_chain);
        OPENSSL_free(der);
        n++;
      }
    }
  }
  printf("sign matrix: %d signatures verified by OpenSSL and by us\n", n);
}

/* test_ed25519 signs with Ed25519 (SHA-512 digest algorithm, RFC 8419). Checked by
 * cms_verify only: OpenSSL 3 can neither make ("no default digest") nor check
 * ("eddsa_digest_signverify_init: invalid digest") Ed25519 CMS signatures
 * (openssl/openssl#11915, #32248), so no mail client built on it can either. */
static void test_ed25519(void) {
  CMS_SIGN_OPTIONS opts = {0, 0, 0, 0};
  for (int opaque = 0; opaque <= 1; opaque++) {
    size_t len;
    opts.opaque = opaque;
    uint8_t *der = sign_with("ed", &opts, (const uint8_t *)kContent, strlen(kContent),
                             1700000000, 1, &len);
    check_ours(der, len, (const uint8_t *)kContent, strlen(kContent), opaque, CMS_MD_SHA512,
               CMS_SIG_ED25519);
    OPENSSL_free(der);
  }
}

/* test_binary_and_large: every byte value, and 3 MiB, opaque and detached. */
static void test_binary_and_large(void) {
  size_t big_len = 3 << 20;
  uint8_t *big = malloc(big_len);
  CHECK(big != NULL);
  for (size_t i = 0; i < big_len; i++) {
    big[i] = (uint8_t)(i * 7 + (i >> 11));
  }
  for (int opaque = 0; opaque <= 1; opaque++) {
    CMS_SIGN_OPTIONS opts = {CMS_MD_SHA256, 0, opaque, 0};
    size_t len;
    uint8_t *der = sign_with("alice", &opts, big, big_len, 1700000000, 1, &len);
    check_is_der(der, len);
    check_ours(der, len, big, big_len, opaque, CMS_MD_SHA256, CMS_SIG_RSA_PKCS1);
    check_openssl(der, len, big, big_len, opaque, 1);
    OPENSSL_free(der);
  }
  /* Empty content signs and verifies too. */
  CMS_SIGN_OPTIONS opts = {CMS_MD_SHA256, 0, 1, 0};
  size_t len;
  uint8_t *der = sign_with("dave", &opts, (const uint8_t *)"", 0, 1700000000, 1, &len);
  check_ours(der, len, (const uint8_t *)"", 0, 1, CMS_MD_SHA256, CMS_SIG_ECDSA);
  check_openssl(der, len, (const uint8_t *)"", 0, 1, 1);
  OPENSSL_free(der);
  free(big);
}

/* test_attributes checks the signed attributes as OpenSSL prints them: signingTime as
 * UTCTime before 2050 and GeneralizedTime after, smimeCapabilities present or not. */
static void test_attributes(void) {
  const char *dir = test_workdir();
  CMS_SIGN_OPTIONS opts = {CMS_MD_SHA256, 0, 0, 0};
  size_t len;
  uint8_t *der = sign_with("alice", &opts, (const uint8_t *)kContent, strlen(kContent),
                           2524608000 /* 2050-01-01 */, 1, &len);
  test_write(test_path(dir, "attrs.der"), der, len);
  CHECK(test_run("openssl cms -cmsout -print -inform DER -in '%s' >'%s'",
                 test_path(dir, "attrs.der"), test_path(dir, "attrs.txt")) == 0);
  CHECK(test_run("grep -q 'GENERALIZEDTIME:Jan  1 00:00:00 2050 GMT' '%s'",
                 test_path(dir, "attrs.txt")) == 0);
  CHECK(test_run("grep -q 'S/MIME Capabilities' '%s'", test_path(dir, "attrs.txt")) == 0);
  CHECK(test_run("grep -q 'aes-256-cbc' '%s'", test_path(dir, "attrs.txt")) == 0);
  CHECK(test_run("grep -q ':aes-128-gcm' '%s'", test_path(dir, "attrs.txt")) == 0);
  check_openssl(der, len, (const uint8_t *)kContent, strlen(kContent), 0, 1);
  OPENSSL_free(der);

  opts.no_smime_capabilities = 1;
  der = sign_with("alice", &opts, (const uint8_t *)kContent, strlen(kContent),
                  2524607999 /* 2049-12-31 23:59:59 */, 1, &len);
  test_write(test_path(dir, "attrs.der"), der, len);
  CHECK(test_run("openssl cms -cmsout -print -inform DER -in '%s' >'%s'",
                 test_path(dir, "attrs.der"), test_path(dir, "attrs.txt")) == 0);
  CHECK(test_run("grep -q 'UTCTIME:Dec 31 23:59:59 2049 GMT' '%s'",
                 test_path(dir, "attrs.txt")) == 0);
  CHECK(test_run("grep -q 'S/MIME Capabilities' '%s'", test_path(dir, "attrs.txt")) != 0);
  check_ours(der, len, (const uint8_t *)kContent, strlen(kContent), 0, CMS_MD_SHA256,
             CMS_SIG_RSA_PKCS1);
  OPENSSL_free(der);
}

/* test_refusals: a key that does not match the certificate, a different content (opaque
 * or detached), a damaged state, and bad options are refused. */
static void test_refusals(void) {
  uint8_t *cert;
  size_t cert_len;
  STATUS err;
  CMS_SIGN_REQUEST *req = NULL;
  CMS_SIGN_OPTIONS opts = {CMS_MD_SHA256, 0, 1, 0};
  const uint8_t *content = (const uint8_t *)kContent;
  test_load_cert(test_path(test_pki(), "alice.pem"), &cert, &cert_len);
  CHECK(cms_sign_prepare(content, strlen(kContent), &opts, cert, cert_len, NULL, 0,
                         1700000000, &req, &err));
  CHECK(req->scheme == CMS_SIG_RSA_PKCS1 && req->md == CMS_MD_SHA256 &&
        req->digest_len == 32 && req->tbs[0] == 0x31);

  /* Carol's key signing for Alice's certificate. */
  EVP_PKEY *carol = test_load_key(test_path(test_pki(), "carol.key"));
  uint8_t *sig, *der = NULL;
  size_t sig_len, der_len = 0;
  CHECK(cms_keystore_sign(carol, req->scheme, req->md, req->digest, req->digest_len, &sig,
                          &sig_len, &err));
  CHECK(!cms_sign_finish(req->state, req->state_len, content, strlen(kContent), sig, sig_len,
                         &der, &der_len, &err));
  CHECK(err.code == STATUS_INTERNAL && der == NULL && der_len == 0);
  OPENSSL_free(sig);
  EVP_PKEY_free(carol);

  EVP_PKEY *alice = test_load_key(test_path(test_pki(), "alice.key"));
  CHECK(cms_keystore_sign(alice, req->scheme, req->md, req->digest, req->digest_len, &sig,
                          &sig_len, &err));
  /* Another content than prepared. */
  CHECK(!cms_sign_finish(req->state, req->state_len, (const uint8_t *)"other", 5, sig,
                         sig_len, &der, &der_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  CHECK(!cms_sign_finish(req->state, req->state_len, NULL, 0, sig, sig_len, &der, &der_len,
                         &err));
  /* A damaged state (the structure; the state is not secret nor authenticated: it
   * comes back from the front, a trusted process). */
  req->state[0] ^= 0x55;
  CHECK(!cms_sign_finish(req->state, req->state_len, content, strlen(kContent), sig, sig_len,
                         &der, &der_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  req->state[0] ^= 0x55;
  CHECK(!cms_sign_finish(req->state, req->state_len - 1, content, strlen(kContent), sig,
                         sig_len, &der, &der_len, &err));
  CHECK(!cms_sign_finish(req->state, 3, content, strlen(kContent), sig, sig_len, &der,
                         &der_len, &err));
  CHECK(cms_sign_finish(req->state, req->state_len, content, strlen(kContent), sig, sig_len,
                        &der, &der_len, &err));
  OPENSSL_free(der);
  OPENSSL_free(sig);

  /* Detached, the content is checked all the same (it is not inside to be verified
   * later): another content than prepared is refused. */
  CMS_SIGN_REQUEST *detached = NULL;
  opts.opaque = 0;
  CHECK(cms_sign_prepare(content, strlen(kContent), &opts, cert, cert_len, NULL, 0,
                         1700000000, &detached, &err));
  CHECK(cms_keystore_sign(alice, detached->scheme, detached->md, detached->digest,
                          detached->digest_len, &sig, &sig_len, &err));
  der = NULL;
  CHECK(!cms_sign_finish(detached->state, detached->state_len, (const uint8_t *)"other", 5,
                         sig, sig_len, &der, &der_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT && der == NULL);
  CHECK(!cms_sign_finish(detached->state, detached->state_len, NULL, 0, sig, sig_len, &der,
                         &der_len, &err));
  CHECK(cms_sign_finish(detached->state, detached->state_len, content, strlen(kContent), sig,
                        sig_len, &der, &der_len, &err));
  OPENSSL_free(der);
  OPENSSL_free(sig);
  cms_sign_request_free(detached);

  /* The keystore refuses a digest of the wrong length and hashes it does not sign with. */
  CHECK(!cms_keystore_sign(alice, CMS_SIG_RSA_PKCS1, CMS_MD_SHA256, req->digest, 20, &sig,
                           &sig_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  CHECK(!cms_keystore_sign(alice, CMS_SIG_RSA_PKCS1, CMS_MD_SHA1, req->digest, 20, &sig,
                           &sig_len, &err));
  CHECK(!cms_keystore_sign(alice, CMS_SIG_ECDSA, CMS_MD_SHA256, req->digest, 32, &sig,
                           &sig_len, &err));
  EVP_PKEY_free(alice);
  cms_sign_request_free(req);

  /* Bad inputs to prepare. */
  req = NULL;
  opts.md = CMS_MD_SHA1;
  CHECK(!cms_sign_prepare(content, 5, &opts, cert, cert_len, NULL, 0, 0, &req, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT && req == NULL);
  opts.md = CMS_MD_SHA256;
  CHECK(!cms_sign_prepare(content, 5, &opts, cert, cert_len - 1, NULL, 0, 0, &req, &err));
  CMS_BUF bad_chain[1] = {{content, 5}};
  CHECK(!cms_sign_prepare(content, 5, &opts, cert, cert_len, bad_chain, 1, 0, &req, &err));
  free(cert);
  uint8_t *dsa;
  size_t dsa_len;
  test_load_cert(test_path(test_pki(), "dsa.pem"), &dsa, &dsa_len);
  CHECK(!cms_sign_prepare(content, 5, &opts, dsa, dsa_len, NULL, 0, 0, &req, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  free(dsa);
  cms_sign_request_free(NULL);
}

int main(void) {
  test_refusals();
  test_attributes();
  test_matrix();
  test_ed25519();
  test_binary_and_large();
  printf("PASS\n");
  return 0;
}
