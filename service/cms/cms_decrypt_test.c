/* cms_decrypt_test: what the OpenSSL 3 command line envelopes (`openssl cms -encrypt`
 * with -aes128/-aes256/-des3/-aes-128-gcm/-aes-256-gcm, RSA PKCS#1 v1.5 and OAEP with
 * SHA-256/MGF1-SHA-256 and a label, -keyid, EC recipients with its default SHA-1 KDF and
 * others, cofactor ECDH, -stream BER with chunked content, several recipients) opens
 * with cms_envelope_parse + cms_keystore_unwrap_cek + cms_envelope_decrypt; and every
 * failure (wrong key, tampered key or content, bad tag) is the one "decryption failed". */
#include "service/cms/cms_decrypt.h"

#include <string.h>

#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>

#include "service/cms/cms_keystore_ops.h"
#include "service/cms/cms_test_util.h"

/* kLen is the content size: big enough for OpenSSL's -stream to chunk it. */
#define kLen 70000

static uint8_t content[kLen];

/* openssl_encrypt runs `openssl cms -encrypt OPTS` over |content| in the PKI directory. */
static void openssl_encrypt(const char *opts, uint8_t **der, size_t *len) {
  const char *dir = test_workdir();
  test_write(test_path(dir, "content.bin"), content, kLen);
  int rc = test_run("cd '%s' && openssl cms -encrypt -binary -in '%s' -outform DER -out '%s' %s",
                    test_pki(), test_path(dir, "content.bin"), test_path(dir, "env.der"), opts);
  if (rc != 0) {
    fprintf(stderr, "openssl cms -encrypt %s failed\n", opts);
  }
  CHECK(rc == 0);
  test_read(test_path(dir, "env.der"), der, len);
}

/* open_as tries every recipient of |env| that names NAME's certificate with NAME's key
 * (or |key| when given), as the engine and keystore will. Returns 1 when the content
 * came out right; 0 with |*err| when no matching recipient opened. */
static int open_as(const CMS_ENVELOPE *env, const char *name, EVP_PKEY *key, STATUS *err) {
  char file[64];
  uint8_t *cert;
  size_t cert_len;
  int matched = 0, ok = 0;
  snprintf(file, sizeof(file), "%s.pem", name);
  test_load_cert(test_path(test_pki(), file), &cert, &cert_len);
  EVP_PKEY *own = NULL;
  if (key == NULL) {
    snprintf(file, sizeof(file), "%s.key", name);
    key = own = test_load_key(test_path(test_pki(), file));
  }
  for (size_t i = 0; i < env->num_recipients && !ok; i++) {
    if (!cms_recipient_matches_cert(env, i, cert, cert_len)) {
      continue;
    }
    matched = 1;
    CMS_UNWRAP_REQUEST req;
    uint8_t cek[CMS_MAX_CEK_LEN], *plain = NULL;
    size_t plain_len;
    if (!cms_envelope_unwrap_request(env, i, &req, err) ||
        !cms_keystore_unwrap_cek(key, &req, cek, err) ||
        !cms_envelope_decrypt(env, cek, req.cek_len, &plain, &plain_len, err)) {
      continue;
    }
    CHECK(plain_len == kLen && memcmp(plain, content, kLen) == 0);
    OPENSSL_free(plain);
    ok = 1;
  }
  CHECK(matched);
  EVP_PKEY_free(own);
  free(cert);
  return ok;
}

static CMS_ENVELOPE *parse(const uint8_t *der, size_t len) {
  CMS_ENVELOPE *env = NULL;
  STATUS err;
  if (!cms_envelope_parse(der, len, &env, &err)) {
    fprintf(stderr, "parse: %s\n", err.message);
    CHECK(0);
  }
  return env;
}

static void test_openssl_shapes(void) {
  static const struct {
    const char *opts;
    const char *who; /* space-separated recipients to open as */
    int cipher;
    int method;      /* of the first recipient */
  } kCases[] = {
      {"-aes256 alice.pem", "alice", CMS_CIPHER_AES256_CBC, CMS_KEY_RSA_PKCS1},
      {"-aes128 bob.pem", "bob", CMS_CIPHER_AES128_CBC, CMS_KEY_RSA_PKCS1},
      {"-aes192 carol.pem", "carol", CMS_CIPHER_AES192_CBC, CMS_KEY_RSA_PKCS1},
      {"-des3 alice.pem", "alice", CMS_CIPHER_DES_EDE3_CBC, CMS_KEY_RSA_PKCS1},
      {"-aes-256-gcm alice.pem", "alice", CMS_CIPHER_AES256_GCM, CMS_KEY_RSA_PKCS1},
      {"-aes-128-gcm -stream bob.pem", "bob", CMS_CIPHER_AES128_GCM, CMS_KEY_RSA_PKCS1},
      {"-aes256 -stream alice.pem", "alice", CMS_CIPHER_AES256_CBC, CMS_KEY_RSA_PKCS1},
      {"-aes256 -recip alice.pem -keyopt rsa_padding_mode:oaep", "alice",
       CMS_CIPHER_AES256_CBC, CMS_KEY_RSA_OAEP},
      {"-aes256 -recip alice.pem -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256 "
       "-keyopt rsa_mgf1_md:sha256",
       "alice", CMS_CIPHER_AES256_CBC, CMS_KEY_RSA_OAEP},
      {"-aes128 -recip bob.pem -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256",
       "bob", CMS_CIPHER_AES128_CBC, CMS_KEY_RSA_OAEP},
      {"-aes128 -recip carol.pem -keyopt rsa_padding_mode:oaep -keyopt "
       "rsa_oaep_label:0102030405",
       "carol", CMS_CIPHER_AES128_CBC, CMS_KEY_RSA_OAEP},
      {"-aes256 -keyid alice.pem", "alice", CMS_CIPHER_AES256_CBC, CMS_KEY_RSA_PKCS1},
      {"-aes256 dave.pem", "dave", CMS_CIPHER_AES256_CBC, CMS_KEY_ECDH},
      {"-aes128 -recip erin.pem -keyopt ecdh_kdf_md:sha256", "erin", CMS_CIPHER_AES128_CBC,
       CMS_KEY_ECDH},
      {"-aes256 -recip dave.pem -keyopt ecdh_kdf_md:sha512", "dave", CMS_CIPHER_AES256_CBC,
       CMS_KEY_ECDH},
      {"-aes-256-gcm -recip erin.pem -keyopt ecdh_kdf_md:sha384 -keyopt ecdh_cofactor_mode:1",
       "erin", CMS_CIPHER_AES256_GCM, CMS_KEY_ECDH},
      {"-aes128 -keyid -stream dave.pem", "dave", CMS_CIPHER_AES128_CBC, CMS_KEY_ECDH},
      /* ECDH with 3DES content: OpenSSL wraps with id-alg-CMS3DESwrap (RFC 3217), which
       * we do not implement: listed as unsupported, not an error. */
      {"-des3 -recip dave.pem -keyopt ecdh_kdf_md:sha224", "", CMS_CIPHER_DES_EDE3_CBC,
       CMS_KEY_NONE},
      {"-aes192 -recip dave.pem -keyopt ecdh_kdf_md:sha224", "dave", CMS_CIPHER_AES192_CBC,
       CMS_KEY_ECDH},
      {"-aes-128-gcm -recip alice.pem -recip bob.pem -keyopt rsa_padding_mode:oaep "
       "-recip dave.pem -recip erin.pem -keyid",
       "alice bob dave erin", CMS_CIPHER_AES128_GCM, CMS_KEY_RSA_PKCS1},
  };
  for (size_t c = 0; c < sizeof(kCases) / sizeof(kCases[0]); c++) {
    uint8_t *der;
    size_t len;
    openssl_encrypt(kCases[c].opts, &der, &len);
    if (strstr(kCases[c].opts, "-stream") != NULL) {
      CHECK(der[1] == 0x80);
    }
    CMS_ENVELOPE *env = parse(der, len);
    CHECK(env->cipher == kCases[c].cipher);
    CHECK(env->content_is_data);
    CHECK(env->encrypted_content.len >= kLen);
    if (env->recipients[0].method != kCases[c].method) {
      fprintf(stderr, "case %zu: method %d reason %s\n", c, env->recipients[0].method,
              env->recipients[0].reason);
    }
    CHECK(env->recipients[0].method == kCases[c].method);
    CHECK(env->recipients[0].rid_is_ski == (strstr(kCases[c].opts, "-keyid") != NULL));
    if (kCases[c].method == CMS_KEY_NONE) {
      CMS_UNWRAP_REQUEST req;
      STATUS err;
      CHECK(env->recipients[0].reason[0] != '\0');
      CHECK(!cms_envelope_unwrap_request(env, 0, &req, &err));
      CHECK(err.code == STATUS_UNIMPLEMENTED);
    }
    char who[64];
    snprintf(who, sizeof(who), "%s", kCases[c].who);
    for (char *save = NULL, *name = strtok_r(who, " ", &save); name != NULL;
         name = strtok_r(NULL, " ", &save)) {
      STATUS err;
      if (!open_as(env, name, NULL, &err)) {
        fprintf(stderr, "case %zu (%s) as %s: %s\n", c, kCases[c].opts, name, err.message);
        CHECK(0);
      }
    }
    cms_envelope_free(env);
    free(der);
  }
  printf("opened %zu OpenSSL-made shapes\n", sizeof(kCases) / sizeof(kCases[0]));
}

/* expect_failed asserts the one indistinguishable failure. */
static void expect_failed(const STATUS *err) {
  if (err->code != STATUS_DATA_LOSS || strcmp(err->message, CMS_DECRYPT_FAILED) != 0) {
    fprintf(stderr, "got %d: %s\n", err->code, err->message);
  }
  CHECK(err->code == STATUS_DATA_LOSS);
  CHECK(strcmp(err->message, CMS_DECRYPT_FAILED) == 0);
}

/* test_failures: a wrong key or tampering gives CMS_DECRYPT_FAILED and nothing else. */
static void test_failures(void) {
  uint8_t *der;
  size_t len;
  STATUS err;
  EVP_PKEY *bob = test_load_key(test_path(test_pki(), "bob.key"));
  EVP_PKEY *alice = test_load_key(test_path(test_pki(), "alice.key"));

  /* RSA v1.5 for Alice: Alice's 2048-bit key length with Carol's... use a fresh 2048-bit
   * key so the ciphertext length fits and only the padding check can fail. */
  EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
  EVP_PKEY *other = NULL;
  CHECK(kctx != NULL && EVP_PKEY_keygen_init(kctx) &&
        EVP_PKEY_CTX_set_rsa_keygen_bits(kctx, 2048) && EVP_PKEY_keygen(kctx, &other));
  EVP_PKEY_CTX_free(kctx);
  static const char *kRsa[] = {"-aes256 alice.pem", "-aes-128-gcm alice.pem",
                               "-aes128 -recip alice.pem -keyopt rsa_padding_mode:oaep",
                               "-des3 alice.pem"};
  for (size_t i = 0; i < 4; i++) {
    openssl_encrypt(kRsa[i], &der, &len);
    CMS_ENVELOPE *env = parse(der, len);
    CHECK(!open_as(env, "alice", other, &err));
    expect_failed(&err);
    /* The keystore's half alone: PKCS#1 v1.5 "succeeds" with a random key
     * (implicit rejection), OAEP fails with the same result. */
    CMS_UNWRAP_REQUEST req;
    uint8_t cek1[CMS_MAX_CEK_LEN], cek2[CMS_MAX_CEK_LEN];
    CHECK(cms_envelope_unwrap_request(env, 0, &req, &err));
    if (req.method == CMS_KEY_RSA_PKCS1) {
      CHECK(cms_keystore_unwrap_cek(other, &req, cek1, &err));
      CHECK(cms_keystore_unwrap_cek(other, &req, cek2, &err));
      CHECK(memcmp(cek1, cek2, req.cek_len) != 0);
      /* A tampered encryptedKey with the right key: the same silent path. */
      uint8_t *ek = (uint8_t *)req.encrypted_key.data;
      ek[5] ^= 0x40;
      CHECK(cms_keystore_unwrap_cek(alice, &req, cek1, &err));
      CHECK(!cms_envelope_decrypt(env, cek1, req.cek_len, &(uint8_t *){NULL}, &len, &err));
      expect_failed(&err);
      ek[5] ^= 0x40;
    } else {
      CHECK(!cms_keystore_unwrap_cek(other, &req, cek1, &err));
      expect_failed(&err);
    }
    /* Bob's 3072-bit key cannot even take a 2048-bit ciphertext: a request error. */
    CHECK(!cms_keystore_unwrap_cek(bob, &req, cek1, &err));
    CHECK(err.code == STATUS_INVALID_ARGUMENT);
    /* Tampered content (last block, i.e. the padding or the tag) with the right key. */
    CHECK(cms_keystore_unwrap_cek(alice, &req, cek1, &err));
    uint8_t *plain = NULL;
    size_t plain_len;
    CHECK(cms_envelope_decrypt(env, cek1, req.cek_len, &plain, &plain_len, &err));
    OPENSSL_free(plain);
    uint8_t *last = (uint8_t *)env->encrypted_content.data + env->encrypted_content.len - 1;
    *last ^= 0x01;
    plain = NULL;
    CHECK(!cms_envelope_decrypt(env, cek1, req.cek_len, &plain, &plain_len, &err));
    CHECK(plain == NULL);
    expect_failed(&err);
    *last ^= 0x01;
    if (env->auth) {
      ((uint8_t *)env->tag.data)[0] ^= 0x80;
      CHECK(!cms_envelope_decrypt(env, cek1, req.cek_len, &plain, &plain_len, &err));
      expect_failed(&err);
      ((uint8_t *)env->tag.data)[0] ^= 0x80;
    }
    /* A CEK of the wrong length is the same failure too. */
    CHECK(!cms_envelope_decrypt(env, cek1, req.cek_len - 8, &plain, &plain_len, &err));
    expect_failed(&err);
    cms_envelope_free(env);
    free(der);
  }

  /* ECDH with another P-256 key: the key unwrap check fails. */
  EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  CHECK(ec != NULL && EC_KEY_generate_key(ec));
  EVP_PKEY *other_ec = EVP_PKEY_new();
  CHECK(other_ec != NULL && EVP_PKEY_assign_EC_KEY(other_ec, ec));
  openssl_encrypt("-aes256 dave.pem", &der, &len);
  CMS_ENVELOPE *env = parse(der, len);
  CHECK(!open_as(env, "dave", other_ec, &err));
  expect_failed(&err);
  /* Erin's P-384 key for a P-256 point: a malformed request, not a padding question. */
  EVP_PKEY *erin = test_load_key(test_path(test_pki(), "erin.key"));
  CMS_UNWRAP_REQUEST req;
  uint8_t cek[CMS_MAX_CEK_LEN];
  CHECK(cms_envelope_unwrap_request(env, 0, &req, &err));
  CHECK(!cms_keystore_unwrap_cek(erin, &req, cek, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  /* RSA method on an EC key, and nonsense lengths, are refused. */
  req.method = CMS_KEY_RSA_PKCS1;
  CHECK(!cms_keystore_unwrap_cek(erin, &req, cek, &err));
  req.method = CMS_KEY_ECDH;
  req.cek_len = 33;
  CHECK(!cms_keystore_unwrap_cek(other_ec, &req, cek, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  cms_envelope_free(env);
  free(der);
  EVP_PKEY_free(erin);
  EVP_PKEY_free(other_ec);
  EVP_PKEY_free(other);
  EVP_PKEY_free(bob);
  EVP_PKEY_free(alice);
}

/* test_not_enveloped: signed data, garbage and truncations are malformed. */
static void test_not_enveloped(void) {
  const char *dir = test_workdir();
  uint8_t *der;
  size_t len;
  STATUS err;
  CMS_ENVELOPE *env = NULL;
  test_write(test_path(dir, "c.bin"), content, 100);
  CHECK(test_run("cd '%s' && openssl cms -sign -binary -nodetach -in '%s' -signer alice.pem "
                 "-inkey alice.key -outform DER -out '%s'",
                 test_pki(), test_path(dir, "c.bin"), test_path(dir, "signed.der")) == 0);
  test_read(test_path(dir, "signed.der"), &der, &len);
  CHECK(!cms_envelope_parse(der, len, &env, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT && env == NULL);
  free(der);
  openssl_encrypt("-aes128 -stream alice.pem dave.pem", &der, &len);
  for (size_t cut = 0; cut < len; cut += 1 + len / 97) {
    CHECK(!cms_envelope_parse(der, cut, &env, &err));
    CHECK(err.code == STATUS_INVALID_ARGUMENT && env == NULL);
  }
  free(der);
}

int main(void) {
  for (size_t i = 0; i < kLen; i++) {
    content[i] = (uint8_t)(i ^ (i >> 8));
  }
  test_openssl_shapes();
  test_failures();
  test_not_enveloped();
  printf("PASS\n");
  return 0;
}
