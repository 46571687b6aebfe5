/* key_wrap.h: private keys at rest. A key leaves the keystore only wrapped under the
 * key-encryption key (kek.h), bound to one certificate; the front stores the blob in
 * the database and hands it back for each sign or decrypt.
 *
 * Blob format, version 1 (KEY_WRAP_OVERHEAD + PKCS#8 length bytes):
 *   version   1 byte   KEY_WRAP_VERSION (1)
 *   nonce    12 bytes  random (RAND_bytes), fresh for each wrap
 *   sealed    n bytes  AES-256-GCM (EVP_aead_aes_256_gcm) under the KEK of the
 *                      private key's PKCS#8 PrivateKeyInfo DER, followed by the
 *                      16-byte tag
 * with additional data "smimed-key-v1" (13 bytes, KEY_WRAP_AD_LABEL) || the SHA-256
 * of the certificate's DER (32 bytes). The additional data binds the blob to its
 * certificate: a blob copied onto another certificate's row does not unwrap. Random
 * 96-bit nonces are safe for far more than 2^32 wraps under one KEK, and there are
 * a few per imported key.
 *
 * Every buffer that held the PKCS#8 bytes is wiped before it is freed. */
#ifndef SMIMED_KEYSTORE_KEY_WRAP_H
#define SMIMED_KEYSTORE_KEY_WRAP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/base.h>

#include "service/keystore/kek.h"

#define KEY_WRAP_VERSION 1
#define KEY_WRAP_NONCE_LEN 12
#define KEY_WRAP_TAG_LEN 16
#define KEY_WRAP_OVERHEAD (1 + KEY_WRAP_NONCE_LEN + KEY_WRAP_TAG_LEN)
#define KEY_WRAP_AD_LABEL "smimed-key-v1"

/* KEY_WRAP_CERT_HASH_LEN is the length of the certificate fingerprint bound in. */
#define KEY_WRAP_CERT_HASH_LEN 32

/* KEY_WRAP_MAX_BLOB caps what key_unwrap reads (an RSA-8192 PKCS#8 is ~4.8 KiB). */
#define KEY_WRAP_MAX_BLOB (64u * 1024u)

/* key_wrap wraps |pkey| for the certificate whose DER has SHA-256 |cert_sha256|.
 * Sets |*out| (free with free()) and |*out_len| and returns 1; 0 on failure
 * (out of memory, or a key BoringSSL cannot encode as PKCS#8). */
int key_wrap(const KEK *kek, const EVP_PKEY *pkey,
             const uint8_t cert_sha256[KEY_WRAP_CERT_HASH_LEN], uint8_t **out,
             size_t *out_len);

/* key_unwrap opens |blob| (|blob_len| bytes) for the certificate with SHA-256
 * |cert_sha256| and returns its private key (free with EVP_PKEY_free), or NULL when
 * the blob is malformed, of an unknown version, wrapped under another KEK, for
 * another certificate, or altered. */
EVP_PKEY *key_unwrap(const KEK *kek, const uint8_t *blob, size_t blob_len,
                     const uint8_t cert_sha256[KEY_WRAP_CERT_HASH_LEN]);

#endif /* SMIMED_KEYSTORE_KEY_WRAP_H */
