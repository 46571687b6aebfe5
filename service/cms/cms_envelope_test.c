/* cms_envelope_test: what cms_envelope produces (AES-128/192/256-CBC, AES-128/256-GCM;
 * RSA PKCS#1 v1.5, OAEP, OAEP-SHA256, SKI recipients, ECDH P-256/P-384, several mixed)
 * decrypts with `openssl cms -decrypt` using each recipient's key, and with our own
 * parse + keystore + decrypt. */
#include "service/cms/cms_envelope.h"

#include <string.h>

#include <openssl/mem.h>

#include "service/cms/cms_decrypt.h"
#include "service/cms/cms_keystore_ops.h"
#include "service/cms/cms_test_util.h"

static const char kContent[] =
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Encrypted by smimed.\r\n";

typedef struct {
  const char *name;
  int method;
  int oaep_md;
  int use_ski;
} RCPT;

/* The mixed recipient list: every kind at once. */
static const RCPT kMixed[] = {
    {"alice", CMS_KEY_RSA_PKCS1, 0, 0},
    {"bob", CMS_KEY_RSA_OAEP, 0, 0},
    {"carol", CMS_KEY_RSA_OAEP, CMS_MD_SHA256, 1},
    {"dave", 0, 0, 0},
    {"erin", 0, 0, 1},
};

/* envelope_for encrypts kContent (or |content|) for |rcpts| with |cipher|. */
static uint8_t *envelope_for(const RCPT *rcpts, size_t n, int cipher, const uint8_t *content,
                             size_t content_len, size_t *out_len) {
  CMS_RECIPIENT r[8];
  uint8_t *certs[8];
  STATUS err;
  CHECK(n <= 8);
  for (size_t i = 0; i < n; i++) {
    char file[64];
    snprintf(file, sizeof(file), "%s.pem", rcpts[i].name);
    test_load_cert(test_path(test_pki(), file), &certs[i], &r[i].cert_len);
    r[i].cert = certs[i];
    r[i].key_method = rcpts[i].method;
    r[i].oaep_md = rcpts[i].oaep_md;
    r[i].use_ski = rcpts[i].use_ski;
  }
  CMS_ENVELOPE_OPTIONS opts = {cipher};
  uint8_t *der = NULL;
  if (!cms_envelope(content, content_len, r, n, &opts, &der, out_len, &err)) {
    fprintf(stderr, "cms_envelope: %s\n", err.message);
    CHECK(0);
  }
  for (size_t i = 0; i < n; i++) {
    free(certs[i]);
  }
  return der;
}

/* openssl_decrypt decrypts |der| with NAME.key (and NAME.pem as -recip) and compares. */
static void openssl_decrypt(const uint8_t *der, size_t len, const char *name,
                            const uint8_t *content, size_t content_len) {
  const char *dir = test_workdir();
  char key[64], cert[64];
  snprintf(key, sizeof(key), "%s.key", name);
  snprintf(cert, sizeof(cert), "%s.pem", name);
  test_write(test_path(dir, "env.der"), der, len);
  int rc = test_run(
      "openssl cms -decrypt -binary -inform DER -in '%s' -inkey '%s' -recip '%s' -out '%s' "
      "2>'%s'",
      test_path(dir, "env.der"), test_path(test_pki(), key), test_path(test_pki(), cert),
      test_path(dir, "plain.bin"), test_path(dir, "decrypt.log"));
  if (rc != 0) {
    fprintf(stderr, "openssl cms -decrypt for %s failed:\n", name);
    test_run("cat '%s' >&2", test_path(dir, "decrypt.log"));
  }
  CHECK(rc == 0);
  uint8_t *got;
  size_t got_len;
  test_read(test_path(dir, "plain.bin"), &got, &got_len);
  CHECK(got_len == content_len && memcmp(got, content, content_len) == 0);
  free(got);
}

/* our_decrypt opens |der| as recipient NAME: the engine's and the keystore's halves. */
static void our_decrypt(const uint8_t *der, size_t len, const char *name,
                        const uint8_t *content, size_t content_len) {
  char file[64];
  uint8_t *cert;
  size_t cert_len;
  CMS_ENVELOPE *env = NULL;
  STATUS err;
  snprintf(file, sizeof(file), "%s.pem", name);
  test_load_cert(test_path(test_pki(), file), &cert, &cert_len);
  snprintf(file, sizeof(file), "%s.key", name);
  EVP_PKEY *key = test_load_key(test_path(test_pki(), file));
  if (!cms_envelope_parse(der, len, &env, &err)) {
    fprintf(stderr, "parse: %s\n", err.message);
    CHECK(0);
  }
  int opened = 0;
  for (size_t i = 0; i < env->num_recipients; i++) {
    if (!cms_recipient_matches_cert(env, i, cert, cert_len)) {
      continue;
    }
    CMS_UNWRAP_REQUEST req;
    uint8_t cek[CMS_MAX_CEK_LEN], *plain;
    size_t plain_len;
    CHECK(cms_envelope_unwrap_request(env, i, &req, &err));
    CHECK(cms_keystore_unwrap_cek(key, &req, cek, &err));
    if (!cms_envelope_decrypt(env, cek, req.cek_len, &plain, &plain_len, &err)) {
      fprintf(stderr, "our decrypt for %s: %s\n", name, err.message);
      CHECK(0);
    }
    CHECK(plain_len == content_len && memcmp(plain, content, content_len) == 0);
    OPENSSL_free(plain);
    opened++;
  }
  CHECK(opened == 1);
  cms_envelope_free(env);
  EVP_PKEY_free(key);
  free(cert);
}

static void test_mixed(void) {
  static const int kCiphers[] = {CMS_CIPHER_AES128_CBC, CMS_CIPHER_AES192_CBC,
                                 CMS_CIPHER_AES256_CBC, CMS_CIPHER_AES128_GCM,
                                 CMS_CIPHER_AES256_GCM};
  const size_t n = sizeof(kMixed) / sizeof(kMixed[0]);
  for (size_t c = 0; c < sizeof(kCiphers) / sizeof(kCiphers[0]); c++) {
    size_t len;
    uint8_t *der = envelope_for(kMixed, n, kCiphers[c], (const uint8_t *)kContent,
                                strlen(kContent), &len);
    CMS_ENVELOPE *env = NULL;
    STATUS err;
    CHECK(cms_envelope_parse(der, len, &env, &err));
    CHECK(env->cipher == kCiphers[c] && env->num_recipients == n && env->content_is_data);
    CHECK(env->auth == cms_cipher_is_aead(kCiphers[c]));
    if (env->auth) {
      CHECK(env->iv.len == 12 && env->tag.len == 16 && env->tag_len == 16);
    }
    cms_envelope_free(env);
    for (size_t i = 0; i < n; i++) {
      openssl_decrypt(der, len, kMixed[i].name, (const uint8_t *)kContent, strlen(kContent));
      our_decrypt(der, len, kMixed[i].name, (const uint8_t *)kContent, strlen(kContent));
    }
    OPENSSL_free(der);
  }
  printf("mixed recipients: 5 ciphers x 5 recipients decrypted by OpenSSL and by us\n");
}

/* test_single checks each recipient kind alone, the version numbers RFC 5652 asks for,
 * and what OpenSSL prints of our structures. */
static void test_single(void) {
  const char *dir = test_workdir();
  static const struct {
    RCPT r;
    int cipher;
    const char *expect; /* a line `openssl cms -cmsout -print` must show */
  } kCases[] = {
      {{"alice", 0, 0, 0}, 0, "version: 0"},
      {{"alice", CMS_KEY_RSA_OAEP, CMS_MD_SHA256, 0}, CMS_CIPHER_AES128_CBC, "mgf1"},
      {{"bob", CMS_KEY_RSA_OAEP, CMS_MD_SHA512, 1}, CMS_CIPHER_AES256_GCM, "sha512"},
      {{"alice", 0, 0, 1}, CMS_CIPHER_AES256_CBC, "d.subjectKeyIdentifier"},
      {{"dave", 0, 0, 0}, CMS_CIPHER_AES128_CBC, "dhSinglePass-stdDH-sha256kdf-scheme"},
      {{"dave", 0, 0, 1}, CMS_CIPHER_AES256_GCM, "id-aes256-wrap"},
      {{"erin", 0, 0, 0}, CMS_CIPHER_AES256_CBC, "dhSinglePass-stdDH-sha384kdf-scheme"},
      {{"erin", 0, 0, 0}, CMS_CIPHER_AES128_GCM, "id-aes128-wrap"},
  };
  for (size_t i = 0; i < sizeof(kCases) / sizeof(kCases[0]); i++) {
    size_t len;
    uint8_t *der = envelope_for(&kCases[i].r, 1, kCases[i].cipher, (const uint8_t *)kContent,
                                strlen(kContent), &len);
    test_write(test_path(dir, "one.der"), der, len);
    CHECK(test_run("openssl cms -cmsout -print -inform DER -in '%s' >'%s'",
                   test_path(dir, "one.der"), test_path(dir, "one.txt")) == 0);
    if (test_run("grep -q -- '%s' '%s'", kCases[i].expect, test_path(dir, "one.txt")) != 0) {
      fprintf(stderr, "case %zu: no '%s' in the structure\n", i, kCases[i].expect);
      CHECK(0);
    }
    openssl_decrypt(der, len, kCases[i].r.name, (const uint8_t *)kContent, strlen(kContent));
    our_decrypt(der, len, kCases[i].r.name, (const uint8_t *)kContent, strlen(kContent));
    OPENSSL_free(der);
  }
}

/* test_sizes: empty, one block exactly, binary, and 5 MiB. */
static void test_sizes(void) {
  static const size_t kSizes[] = {0, 1, 15, 16, 17, 4096, 5 << 20};
  for (size_t s = 0; s < sizeof(kSizes) / sizeof(kSizes[0]); s++) {
    uint8_t *content = malloc(kSizes[s] + 1);
    CHECK(content != NULL);
    for (size_t i = 0; i < kSizes[s]; i++) {
      content[i] = (uint8_t)(i * 131 + 7);
    }
    int cipher = s % 2 ? CMS_CIPHER_AES256_GCM : CMS_CIPHER_AES256_CBC;
    size_t len;
    uint8_t *der = envelope_for(kMixed, 1, cipher, content, kSizes[s], &len);
    openssl_decrypt(der, len, "alice", content, kSizes[s]);
    our_decrypt(der, len, "alice", content, kSizes[s]);
    OPENSSL_free(der);
    free(content);
  }
}

/* test_refusals: recipients the library must refuse, with the recipient named. */
static void test_refusals(void) {
  uint8_t *cert, *der = NULL;
  size_t cert_len, len = 0;
  STATUS err;
  test_load_cert(test_path(test_pki(), "dsa.pem"), &cert, &cert_len);
  CMS_RECIPIENT r = {cert, cert_len, 0, 0, 0};
  CHECK(!cms_envelope((const uint8_t *)"x", 1, &r, 1, NULL, &der, &len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT && strstr(err.message, "recipient 0") != NULL);
  CHECK(der == NULL && len == 0);
  free(cert);
  test_load_cert(test_path(test_pki(), "ed.pem"), &cert, &cert_len);
  r.cert = cert;
  r.cert_len = cert_len;
  CHECK(!cms_envelope((const uint8_t *)"x", 1, &r, 1, NULL, &der, &len, &err));
  free(cert);
  test_load_cert(test_path(test_pki(), "alice.pem"), &cert, &cert_len);
  r.cert = cert;
  r.cert_len = cert_len;
  CMS_ENVELOPE_OPTIONS des = {CMS_CIPHER_DES_EDE3_CBC};
  CHECK(!cms_envelope((const uint8_t *)"x", 1, &r, 1, &des, &der, &len, &err));
  CHECK(!cms_envelope((const uint8_t *)"x", 1, &r, 0, NULL, &der, &len, &err));
  r.cert_len--;
  CHECK(!cms_envelope((const uint8_t *)"x", 1, &r, 1, NULL, &der, &len, &err));
  r.cert_len++;
  r.key_method = CMS_KEY_ECDH;
  CHECK(!cms_envelope((const uint8_t *)"x", 1, &r, 1, NULL, &der, &len, &err));
  free(cert);
}

int main(void) {
  test_refusals();
  test_single();
  test_mixed();
  test_sizes();
  printf("PASS\n");
  return 0;
}
