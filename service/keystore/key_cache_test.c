/* key_cache_test: the keystore's cache of unwrapped keys. The same blob and fingerprint
 * give the same EVP_PKEY from the second time on; another fingerprint, an altered blob
 * or another KEK get nothing, even with the right key cached; the 33rd key evicts the
 * least recently used one (fetched again, it is a new object; a recently used one is
 * the same); the caller's reference outlives eviction and the cache; c == NULL is plain
 * key_unwrap. */
#include "service/keystore/key_cache.h"

#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>

#include "service/common/status.h"
#include "service/keystore/kek.h"
#include "service/keystore/key_wrap.h"
#include "service/pkcs12/test_util.h"

#define NKEYS (KEY_CACHE_SIZE + 1)

static EVP_PKEY *make_ec(void) {
  EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  CHECK(ec != NULL && EC_KEY_generate_key(ec));
  EVP_PKEY *pkey = EVP_PKEY_new();
  CHECK(pkey != NULL && EVP_PKEY_assign_EC_KEY(pkey, ec));
  return pkey;
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

/* same_private says whether |a| and |b| hold the same private key. */
static int same_private(const EVP_PKEY *a, const EVP_PKEY *b) {
  CBB ca, cb;
  uint8_t *da = NULL, *db = NULL;
  size_t la = 0, lb = 0;
  CHECK(CBB_init(&ca, 0) && EVP_marshal_private_key(&ca, a) && CBB_finish(&ca, &da, &la));
  CHECK(CBB_init(&cb, 0) && EVP_marshal_private_key(&cb, b) && CBB_finish(&cb, &db, &lb));
  int same = la == lb && memcmp(da, db, la) == 0;
  OPENSSL_free(da);
  OPENSSL_free(db);
  return same;
}

typedef struct wrapped_st {
  EVP_PKEY *pkey;
  uint8_t cert[KEY_WRAP_CERT_HASH_LEN];
  uint8_t *blob;
  size_t len;
} WRAPPED;

static void wrap_one(const KEK *kek, WRAPPED *w, int i) {
  w->pkey = make_ec();
  memset(w->cert, 0, sizeof(w->cert));
  w->cert[0] = (uint8_t)i;
  w->cert[1] = (uint8_t)(i >> 8);
  w->cert[31] = 0x5a;
  CHECK(key_wrap(kek, w->pkey, w->cert, &w->blob, &w->len));
}

int main(void) {
  char *dir = tu_mkdtemp();
  KEK *kek = load_kek(dir, "kek");
  KEK *other_kek = load_kek(dir, "other-kek");
  WRAPPED keys[NKEYS];
  for (int i = 0; i < NKEYS; i++) {
    wrap_one(kek, &keys[i], i);
  }

  /* c == NULL: key_unwrap, a new object each time, and its refusals. */
  EVP_PKEY *p1 = key_cache_unwrap(NULL, kek, keys[0].blob, keys[0].len, keys[0].cert);
  EVP_PKEY *p2 = key_cache_unwrap(NULL, kek, keys[0].blob, keys[0].len, keys[0].cert);
  CHECK(p1 != NULL && p2 != NULL && p1 != p2);
  CHECK(same_private(p1, keys[0].pkey) && same_private(p2, keys[0].pkey));
  EVP_PKEY_free(p1);
  EVP_PKEY_free(p2);
  CHECK(key_cache_unwrap(NULL, kek, keys[0].blob, keys[0].len, keys[1].cert) == NULL);
  CHECK(key_cache_unwrap(NULL, other_kek, keys[0].blob, keys[0].len, keys[0].cert) == NULL);

  KEY_CACHE *c = key_cache_new();
  CHECK(c != NULL);

  /* The same blob and fingerprint: the same object from the second time on. */
  EVP_PKEY *first = key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, keys[0].cert);
  CHECK(first != NULL && same_private(first, keys[0].pkey));
  EVP_PKEY *second = key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, keys[0].cert);
  EVP_PKEY *third = key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, keys[0].cert);
  CHECK(second == first && third == first);
  /* Each return is a reference of the caller's own: freeing them leaves the cached one. */
  EVP_PKEY_free(second);
  EVP_PKEY_free(third);
  second = key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, keys[0].cert);
  CHECK(second == first && same_private(second, keys[0].pkey));
  EVP_PKEY_free(second);

  /* The right blob with another certificate's fingerprint: nothing, though the key is
   * cached (under the right one). */
  CHECK(key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, keys[1].cert) == NULL);
  uint8_t near[KEY_WRAP_CERT_HASH_LEN];
  memcpy(near, keys[0].cert, sizeof(near));
  near[31] ^= 1;
  CHECK(key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, near) == NULL);
  /* Altered anywhere, or truncated: nothing. */
  for (size_t i = 0; i < keys[0].len; i += 7) {
    keys[0].blob[i] ^= 0x80;
    CHECK(key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, keys[0].cert) == NULL);
    keys[0].blob[i] ^= 0x80;
  }
  keys[0].blob[keys[0].len - 1] ^= 1;
  CHECK(key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, keys[0].cert) == NULL);
  keys[0].blob[keys[0].len - 1] ^= 1;
  CHECK(key_cache_unwrap(c, kek, keys[0].blob, keys[0].len - 1, keys[0].cert) == NULL);
  /* A blob of another key with this key's fingerprint: nothing. */
  CHECK(key_cache_unwrap(c, kek, keys[1].blob, keys[1].len, keys[0].cert) == NULL);
  /* The right blob and fingerprint with another KEK: key_unwrap refuses it, and a hit
   * must prove no less (key_cache.h). */
  CHECK(key_cache_unwrap(c, other_kek, keys[0].blob, keys[0].len, keys[0].cert) == NULL);
  /* Still cached, the same object, after all those misses. */
  second = key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, keys[0].cert);
  CHECK(second == first);
  EVP_PKEY_free(second);

  /* A second wrap of the same key (another nonce) is another blob: another entry. */
  uint8_t *blob2 = NULL;
  size_t len2 = 0;
  CHECK(key_wrap(kek, keys[0].pkey, keys[0].cert, &blob2, &len2));
  EVP_PKEY *via2 = key_cache_unwrap(c, kek, blob2, len2, keys[0].cert);
  CHECK(via2 != NULL && via2 != first && same_private(via2, keys[0].pkey));
  EVP_PKEY_free(via2);
  free(blob2);
  EVP_PKEY_free(first);

  /* Eviction. Start again with an empty cache: keys 0..31 fill it, in that order. */
  key_cache_free(c);
  c = key_cache_new();
  EVP_PKEY *got[NKEYS];
  for (int i = 0; i < KEY_CACHE_SIZE; i++) {
    got[i] = key_cache_unwrap(c, kek, keys[i].blob, keys[i].len, keys[i].cert);
    CHECK(got[i] != NULL && same_private(got[i], keys[i].pkey));
  }
  /* All 32 are cached. Use key 0 again: key 1 becomes the least recently used. */
  for (int i = 0; i < KEY_CACHE_SIZE; i++) {
    EVP_PKEY *again = key_cache_unwrap(c, kek, keys[i].blob, keys[i].len, keys[i].cert);
    CHECK(again == got[i]);
    EVP_PKEY_free(again);
  }
  EVP_PKEY *again = key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, keys[0].cert);
  CHECK(again == got[0]);
  EVP_PKEY_free(again);
  /* The 33rd evicts key 1. */
  got[KEY_CACHE_SIZE] = key_cache_unwrap(c, kek, keys[KEY_CACHE_SIZE].blob,
                                         keys[KEY_CACHE_SIZE].len, keys[KEY_CACHE_SIZE].cert);
  CHECK(got[KEY_CACHE_SIZE] != NULL &&
        same_private(got[KEY_CACHE_SIZE], keys[KEY_CACHE_SIZE].pkey));
  /* Recently used ones are still the same objects (key 1 not asked for yet: asking
   * would evict another). */
  for (int i = 0; i < NKEYS; i++) {
    if (i == 1) {
      continue;
    }
    again = key_cache_unwrap(c, kek, keys[i].blob, keys[i].len, keys[i].cert);
    CHECK_MSG(again == got[i], "key %d was evicted", i);
    EVP_PKEY_free(again);
  }
  /* Key 1, evicted: unwrapped anew, another object holding the same key. The caller's
   * old reference is still good. */
  again = key_cache_unwrap(c, kek, keys[1].blob, keys[1].len, keys[1].cert);
  CHECK(again != NULL && again != got[1]);
  CHECK(same_private(again, keys[1].pkey) && same_private(got[1], keys[1].pkey));
  EVP_PKEY_free(again);
  /* That evicted the then least recently used: key 0 (used before 2..32 above). */
  again = key_cache_unwrap(c, kek, keys[0].blob, keys[0].len, keys[0].cert);
  CHECK(again != NULL && again != got[0] && same_private(again, keys[0].pkey));
  EVP_PKEY_free(again);

  /* References outlive the cache. */
  key_cache_free(c);
  key_cache_free(NULL);
  for (int i = 0; i < NKEYS; i++) {
    CHECK(same_private(got[i], keys[i].pkey));
    EVP_PKEY_free(got[i]);
    EVP_PKEY_free(keys[i].pkey);
    free(keys[i].blob);
  }
  kek_free(kek);
  kek_free(other_kek);
  free(dir);
  printf("key_cache_test: all passed\n");
  return 0;
}
