/* key_wrap_test: wrapping round-trips for RSA, EC and Ed25519 keys; a blob does not
 * unwrap for another certificate, with a flipped byte anywhere, truncated, with an
 * unknown version, or under another KEK; two wraps of one key differ (fresh nonce). */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/bytestring.h>
#include <openssl/curve25519.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/rsa.h>

#include "service/common/status.h"
#include "service/keystore/kek.h"
#include "service/keystore/key_wrap.h"
#include "service/pkcs12/test_util.h"

static EVP_PKEY *make_rsa(void) {
  RSA *rsa = RSA_new();
  BIGNUM *e = BN_new();
  CHECK(rsa != NULL && e != NULL);
  CHECK(BN_set_word(e, RSA_F4));
  CHECK(RSA_generate_key_ex(rsa, 2048, e, NULL));
  BN_free(e);
  EVP_PKEY *pkey = EVP_PKEY_new();
  CHECK(pkey != NULL && EVP_PKEY_assign_RSA(pkey, rsa));
  return pkey;
}

static EVP_PKEY *make_ec(int nid) {
  EC_KEY *ec = EC_KEY_new_by_curve_name(nid);
  CHECK(ec != NULL && EC_KEY_generate_key(ec));
  EVP_PKEY *pkey = EVP_PKEY_new();
  CHECK(pkey != NULL && EVP_PKEY_assign_EC_KEY(pkey, ec));
  return pkey;
}

static EVP_PKEY *make_ed25519(void) {
  uint8_t pub[32], priv[64];
  ED25519_keypair(pub, priv);
  EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, 32);
  CHECK(pkey != NULL);
  OPENSSL_cleanse(priv, sizeof(priv));
  return pkey;
}

/* same_private checks that |a| and |b| hold the same private key. */
static void check_same_private(const EVP_PKEY *a, const EVP_PKEY *b) {
  CBB ca, cb;
  uint8_t *da, *db;
  size_t la, lb;
  CHECK(EVP_PKEY_cmp(a, b) == 1);
  CHECK(CBB_init(&ca, 0) && EVP_marshal_private_key(&ca, a) && CBB_finish(&ca, &da, &la));
  CHECK(CBB_init(&cb, 0) && EVP_marshal_private_key(&cb, b) && CBB_finish(&cb, &db, &lb));
  CHECK(la == lb && memcmp(da, db, la) == 0);
  OPENSSL_free(da);
  OPENSSL_free(db);
}

static KEK *load_kek(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  STATUS err;
  status_clear(&err);
  KEK *kek = kek_load_or_create(path, NULL, &err);
  CHECK(kek != NULL);
  return kek;
}

static void test_key(const KEK *kek, const KEK *other_kek, EVP_PKEY *pkey) {
  uint8_t cert[KEY_WRAP_CERT_HASH_LEN];
  uint8_t other_cert[KEY_WRAP_CERT_HASH_LEN];
  memset(cert, 0xab, sizeof(cert));
  memcpy(other_cert, cert, sizeof(cert));
  other_cert[31] ^= 1;

  uint8_t *blob = NULL, *blob2 = NULL;
  size_t len = 0, len2 = 0;
  CHECK(key_wrap(kek, pkey, cert, &blob, &len));
  CHECK(key_wrap(kek, pkey, cert, &blob2, &len2));
  CHECK(blob[0] == KEY_WRAP_VERSION);
  CHECK(len > KEY_WRAP_OVERHEAD);
  CHECK(len == len2);
  CHECK(memcmp(blob + 1, blob2 + 1, KEY_WRAP_NONCE_LEN) != 0);

  EVP_PKEY *back = key_unwrap(kek, blob, len, cert);
  CHECK(back != NULL);
  check_same_private(pkey, back);
  EVP_PKEY_free(back);
  back = key_unwrap(kek, blob2, len2, cert);
  CHECK(back != NULL);
  EVP_PKEY_free(back);

  /* Another certificate's row, another KEK. */
  CHECK(key_unwrap(kek, blob, len, other_cert) == NULL);
  CHECK(key_unwrap(other_kek, blob, len, cert) == NULL);
  /* Every byte matters: version, nonce, ciphertext, tag. */
  for (size_t i = 0; i < len; i++) {
    blob[i] ^= 0x01;
    CHECK(key_unwrap(kek, blob, len, cert) == NULL);
    blob[i] ^= 0x01;
  }
  /* Truncated, empty, just the overhead. */
  CHECK(key_unwrap(kek, blob, len - 1, cert) == NULL);
  CHECK(key_unwrap(kek, blob, KEY_WRAP_OVERHEAD, cert) == NULL);
  CHECK(key_unwrap(kek, blob, 0, cert) == NULL);
  /* Still fine after all that. */
  back = key_unwrap(kek, blob, len, cert);
  CHECK(back != NULL);
  EVP_PKEY_free(back);
  free(blob);
  free(blob2);
}

int main(void) {
  char *dir = tu_mkdtemp();
  KEK *kek = load_kek(dir, "kek");
  KEK *other = load_kek(dir, "other-kek");
  EVP_PKEY *keys[] = {make_rsa(), make_ec(NID_X9_62_prime256v1), make_ec(NID_secp384r1),
                      make_ed25519()};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    test_key(kek, other, keys[i]);
    EVP_PKEY_free(keys[i]);
  }
  /* A KEK reloaded from its file unwraps what it wrapped. */
  EVP_PKEY *pkey = make_ec(NID_X9_62_prime256v1);
  uint8_t cert[KEY_WRAP_CERT_HASH_LEN] = {1, 2, 3};
  uint8_t *blob = NULL;
  size_t len = 0;
  CHECK(key_wrap(kek, pkey, cert, &blob, &len));
  kek_free(kek);
  kek = load_kek(dir, "kek");
  EVP_PKEY *back = key_unwrap(kek, blob, len, cert);
  CHECK(back != NULL);
  check_same_private(pkey, back);
  EVP_PKEY_free(back);
  EVP_PKEY_free(pkey);
  free(blob);
  kek_free(kek);
  kek_free(other);
  free(dir);
  printf("key_wrap_test: all passed\n");
  return 0;
}
