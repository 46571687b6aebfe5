/* key_cache.h: the keystore's recently used private keys, unwrapped and parsed.
 *
 * Why: every sign or decrypt request carries the key as stored (wrapped under the
 * KEK). Opening it (AES-GCM, PKCS#8 parsing, and for RSA the precomputation BoringSSL
 * does on a fresh key) cost about as much again as the RSA operation itself (issue 7).
 * A helpdesk signs with a handful of keys, so the last few are kept.
 *
 * An entry is found only by the exact wrapped blob, KEK and certificate fingerprint
 * that opened it before (an HMAC of the blob under the KEK, and the fingerprint), so a
 * hit proves no less than key_unwrap would: a blob wrapped under another KEK, for
 * another certificate, or altered is never in the cache. Bounded by
 * count; the least recently used key is freed (BoringSSL wipes what it frees) when a
 * new one needs room, and every key when the keystore exits. The cached keys live in
 * the keystore only, which is undumpable, without core files and under seccomp, in
 * locked memory (BoringSSL allocates them through locked_alloc.c). */
#ifndef SMIMED_KEYSTORE_KEY_CACHE_H
#define SMIMED_KEYSTORE_KEY_CACHE_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/keystore/kek.h"
#include "service/keystore/key_wrap.h"

/* KEY_CACHE_SIZE is how many keys are kept. */
#define KEY_CACHE_SIZE 32

typedef struct key_cache_st KEY_CACHE;

/* key_cache_new makes an empty cache (NULL when out of memory). */
KEY_CACHE *key_cache_new(void);

/* key_cache_free frees every key and |c|. Accepts NULL. */
void key_cache_free(KEY_CACHE *c);

/* key_cache_unwrap is key_unwrap with the cache in front: the caller owns the returned
 * reference (EVP_PKEY_free it). |c| NULL: plain key_unwrap. */
EVP_PKEY *key_cache_unwrap(KEY_CACHE *c, const KEK *kek, const uint8_t *blob, size_t blob_len,
                           const uint8_t cert_sha256[KEY_WRAP_CERT_HASH_LEN]);

/* key_cache_open is key_cache_unwrap for a request: NULL fills |err| with the
 * FAILED_PRECONDITION every keystore operation answers for a stored key that does not
 * open. |c| NULL: no cache (rewrap, which must prove the blob opens). */
EVP_PKEY *key_cache_open(KEY_CACHE *c, const KEK *kek, const uint8_t *blob, size_t blob_len,
                         const uint8_t cert_sha256[KEY_WRAP_CERT_HASH_LEN], STATUS *err);

#endif /* SMIMED_KEYSTORE_KEY_CACHE_H */
