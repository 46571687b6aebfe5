/* key_cache.c: see key_cache.h. A small array searched linearly: 32 comparisons of 64
 * bytes cost nothing next to one private-key operation. */
#include "service/keystore/key_cache.h"

#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot_st {
  /* id: HMAC-SHA256 of the wrapped blob under the KEK (so that the same blob with
   * another KEK, which key_unwrap refuses, is not a hit), then the certificate
   * fingerprint. */
  uint8_t id[SHA256_DIGEST_LENGTH + KEY_WRAP_CERT_HASH_LEN];
  EVP_PKEY *key; /* NULL: empty */
  uint64_t last_use;
} SLOT;

struct key_cache_st {
  SLOT slots[KEY_CACHE_SIZE];
  uint64_t clock;
};

KEY_CACHE *key_cache_new(void) { return calloc(1, sizeof(KEY_CACHE)); }

void key_cache_free(KEY_CACHE *c) {
  if (c == NULL) {
    return;
  }
  for (size_t i = 0; i < KEY_CACHE_SIZE; i++) {
    EVP_PKEY_free(c->slots[i].key);
  }
  free(c);
}

/* victim is an empty slot, else the least recently used one. */
static SLOT *victim(KEY_CACHE *c) {
  SLOT *v = &c->slots[0];
  for (size_t i = 0; i < KEY_CACHE_SIZE; i++) {
    if (c->slots[i].key == NULL) {
      return &c->slots[i];
    }
    if (c->slots[i].last_use < v->last_use) {
      v = &c->slots[i];
    }
  }
  return v;
}

EVP_PKEY *key_cache_unwrap(KEY_CACHE *c, const KEK *kek, const uint8_t *blob, size_t blob_len,
                           const uint8_t cert_sha256[KEY_WRAP_CERT_HASH_LEN]) {
  if (c == NULL) {
    return key_unwrap(kek, blob, blob_len, cert_sha256);
  }
  uint8_t id[sizeof(c->slots[0].id)];
  unsigned id_len = 0;
  if (HMAC(EVP_sha256(), kek_bytes(kek), KEK_LEN, blob, blob_len, id, &id_len) == NULL ||
      id_len != SHA256_DIGEST_LENGTH) {
    return NULL;
  }
  memcpy(id + SHA256_DIGEST_LENGTH, cert_sha256, KEY_WRAP_CERT_HASH_LEN);
  c->clock++;
  for (size_t i = 0; i < KEY_CACHE_SIZE; i++) {
    SLOT *s = &c->slots[i];
    if (s->key != NULL && memcmp(s->id, id, sizeof(id)) == 0) {
      s->last_use = c->clock;
      EVP_PKEY_up_ref(s->key);
      return s->key;
    }
  }
  EVP_PKEY *key = key_unwrap(kek, blob, blob_len, cert_sha256);
  if (key == NULL) {
    return NULL;
  }
  SLOT *s = victim(c);
  EVP_PKEY_free(s->key);
  memcpy(s->id, id, sizeof(id));
  s->key = key;
  s->last_use = c->clock;
  EVP_PKEY_up_ref(key);
  return key;
}

EVP_PKEY *key_cache_open(KEY_CACHE *c, const KEK *kek, const uint8_t *blob, size_t blob_len,
                         const uint8_t cert_sha256[KEY_WRAP_CERT_HASH_LEN], STATUS *err) {
  EVP_PKEY *key = key_cache_unwrap(c, kek, blob, blob_len, cert_sha256);
  if (key == NULL) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "the stored private key does not open with this keystore's "
               "key-encryption key (or does not belong to this certificate)");
  }
  return key;
}
