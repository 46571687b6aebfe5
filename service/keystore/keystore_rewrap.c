/* keystore_rewrap.c: keystore operation of key-encryption key rotation (smimed
 * --rotate-kek).
 *
 * The front sends one stored wrapped key and its certificate's fingerprint; the answer
 * is the same private key wrapped, for the same certificate, under the new KEK
 * (--new-kek-file). Unwrapping and wrapping happen in this one request so that the
 * plaintext key exists only here, and only for its duration. Before answering, the new
 * blob is opened once with the new KEK: a blob the database would keep must be known
 * to open. */
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/mem.h>

#include "service/keystore/key_wrap.h"
#include "service/keystore/keystore_ops.h"

/* rewrap_checked wraps |key| under |new_kek| for |cert_sha256| and checks that the
 * result opens. Returns the blob (free with free()) or NULL. */
static uint8_t *rewrap_checked(const KEK *new_kek, const EVP_PKEY *key,
                               const uint8_t cert_sha256[KEY_WRAP_CERT_HASH_LEN],
                               size_t *out_len) {
  uint8_t *blob = NULL;
  size_t blob_len = 0;
  if (!key_wrap(new_kek, key, cert_sha256, &blob, &blob_len)) {
    return NULL;
  }
  EVP_PKEY *check = key_unwrap(new_kek, blob, blob_len, cert_sha256);
  int same = check != NULL && EVP_PKEY_cmp(check, key) == 1;
  EVP_PKEY_free(check);
  if (!same) {
    free(blob);
    return NULL;
  }
  *out_len = blob_len;
  return blob;
}

int keystore_op_rewrap(KEYSTORE *ks, ARENA *arena, const Smime__Ipc__KeystoreRequest *req,
                       Smime__Ipc__KeystoreResponse *resp, STATUS *err) {
  const Smime__Ipc__KeystoreRewrapRequest *r = req->rewrap;
  const Smime__Ipc__WrappedKey *k = r != NULL ? r->key : NULL;
  Smime__Ipc__KeystoreRewrapResponse *out = NULL;
  EVP_PKEY *key = NULL;
  uint8_t *blob = NULL;
  size_t blob_len = 0;
  int ok = 0;

  if (ks->new_kek == NULL) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "rewrap: this keystore has no new key-encryption key (--new-kek-file)");
    goto err;
  }
  if (k == NULL || k->certificate_sha256.len != KEY_WRAP_CERT_HASH_LEN ||
      k->wrapped.len == 0 || k->wrapped.len > KEY_WRAP_MAX_BLOB) {
    status_set(err, STATUS_INVALID_ARGUMENT, "rewrap: malformed request");
    goto err;
  }
  key = key_cache_open(NULL, ks->kek, k->wrapped.data, k->wrapped.len,
                       k->certificate_sha256.data, err);
  if (key == NULL) {
    goto err;
  }
  blob = rewrap_checked(ks->new_kek, key, k->certificate_sha256.data, &blob_len);
  if (blob == NULL) {
    status_set(err, STATUS_INTERNAL,
               "cannot wrap the private key under the new key-encryption key");
    goto err;
  }
  out = arena_alloc(arena, sizeof(*out));
  if (out == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
    goto err;
  }
  smime__ipc__keystore_rewrap_response__init(out);
  out->wrapped.data = arena_memdup(arena, blob, blob_len);
  out->wrapped.len = blob_len;
  if (out->wrapped.data == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
    goto err;
  }
  resp->body_case = SMIME__IPC__KEYSTORE_RESPONSE__BODY_REWRAP;
  resp->rewrap = out;
  ok = 1;

err:
  /* EVP_PKEY_free wipes the key (BoringSSL zeroes what it frees) and key_wrap and
   * key_unwrap wipe their PKCS#8 buffers; the wrapped blobs are not secret. */
  EVP_PKEY_free(key);
  free(blob);
  return ok;
}
