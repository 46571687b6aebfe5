/* key_wrap.c: see key_wrap.h. */
#include "service/keystore/key_wrap.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/aead.h>
#include <openssl/bytestring.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

/* KEY_WRAP_AD_LEN is the length of the additional data: label and fingerprint. */
#define KEY_WRAP_AD_LEN (sizeof(KEY_WRAP_AD_LABEL) - 1 + KEY_WRAP_CERT_HASH_LEN)

/* make_ad writes the additional data for |cert_sha256| into |ad|. */
static void make_ad(uint8_t ad[KEY_WRAP_AD_LEN],
                    const uint8_t cert_sha256[KEY_WRAP_CERT_HASH_LEN]) {
  memcpy(ad, KEY_WRAP_AD_LABEL, sizeof(KEY_WRAP_AD_LABEL) - 1);
  memcpy(ad + sizeof(KEY_WRAP_AD_LABEL) - 1, cert_sha256, KEY_WRAP_CERT_HASH_LEN);
}

/* aead_init keys |ctx| with the KEK. */
static int aead_init(EVP_AEAD_CTX *ctx, const KEK *kek) {
  EVP_AEAD_CTX_zero(ctx);
  return EVP_AEAD_CTX_init(ctx, EVP_aead_aes_256_gcm(), kek_bytes(kek), KEK_LEN,
                           KEY_WRAP_TAG_LEN, NULL);
}

/* aead_cleanup frees |ctx| and wipes the expanded KEK it held. */
static void aead_cleanup(EVP_AEAD_CTX *ctx) {
  EVP_AEAD_CTX_cleanup(ctx);
  OPENSSL_cleanse(ctx, sizeof(*ctx));
}

int key_wrap(const KEK *kek, const EVP_PKEY *pkey,
             const uint8_t cert_sha256[KEY_WRAP_CERT_HASH_LEN], uint8_t **out,
             size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  int ret = 0;
  CBB cbb;
  uint8_t *pkcs8 = NULL;
  size_t pkcs8_len = 0;
  uint8_t *blob = NULL;
  size_t blob_len = 0;
  uint8_t ad[KEY_WRAP_AD_LEN];
  EVP_AEAD_CTX ctx;
  EVP_AEAD_CTX_zero(&ctx);
  if (!CBB_init(&cbb, 2048) || !EVP_marshal_private_key(&cbb, pkey) ||
      !CBB_finish(&cbb, &pkcs8, &pkcs8_len)) {
    CBB_cleanup(&cbb);
    goto out;
  }
  blob_len = KEY_WRAP_OVERHEAD + pkcs8_len;
  blob = malloc(blob_len);
  if (blob == NULL) {
    goto out;
  }
  blob[0] = KEY_WRAP_VERSION;
  RAND_bytes(blob + 1, KEY_WRAP_NONCE_LEN);
  make_ad(ad, cert_sha256);
  size_t sealed_len = 0;
  if (!aead_init(&ctx, kek) ||
      !EVP_AEAD_CTX_seal(&ctx, blob + 1 + KEY_WRAP_NONCE_LEN, &sealed_len,
                         blob_len - 1 - KEY_WRAP_NONCE_LEN, blob + 1, KEY_WRAP_NONCE_LEN,
                         pkcs8, pkcs8_len, ad, sizeof(ad)) ||
      sealed_len != pkcs8_len + KEY_WRAP_TAG_LEN) {
    goto out;
  }
  *out = blob;
  *out_len = blob_len;
  blob = NULL;
  ret = 1;

out:
  aead_cleanup(&ctx);
  if (pkcs8 != NULL) {
    OPENSSL_cleanse(pkcs8, pkcs8_len);
    OPENSSL_free(pkcs8);
  }
  free(blob);
  return ret;
}

EVP_PKEY *key_unwrap(const KEK *kek, const uint8_t *blob, size_t blob_len,
                     const uint8_t cert_sha256[KEY_WRAP_CERT_HASH_LEN]) {
  EVP_PKEY *pkey = NULL;
  uint8_t *pkcs8 = NULL;
  size_t pkcs8_len = 0;
  size_t alloc = 0;
  uint8_t ad[KEY_WRAP_AD_LEN];
  EVP_AEAD_CTX ctx;
  EVP_AEAD_CTX_zero(&ctx);
  if (blob_len <= KEY_WRAP_OVERHEAD || blob_len > KEY_WRAP_MAX_BLOB ||
      blob[0] != KEY_WRAP_VERSION) {
    goto out;
  }
  alloc = blob_len - 1 - KEY_WRAP_NONCE_LEN;
  pkcs8 = malloc(alloc);
  if (pkcs8 == NULL) {
    goto out;
  }
  make_ad(ad, cert_sha256);
  if (!aead_init(&ctx, kek) ||
      !EVP_AEAD_CTX_open(&ctx, pkcs8, &pkcs8_len, alloc, blob + 1, KEY_WRAP_NONCE_LEN,
                         blob + 1 + KEY_WRAP_NONCE_LEN, alloc, ad, sizeof(ad))) {
    goto out;
  }
  CBS cbs;
  CBS_init(&cbs, pkcs8, pkcs8_len);
  pkey = EVP_parse_private_key(&cbs);
  if (pkey != NULL && CBS_len(&cbs) != 0) {
    EVP_PKEY_free(pkey);
    pkey = NULL;
  }

out:
  aead_cleanup(&ctx);
  if (pkcs8 != NULL) {
    OPENSSL_cleanse(pkcs8, alloc);
    free(pkcs8);
  }
  return pkey;
}
