/* keystore_unwrap_cek.c: keystore operation of incoming mail (recovering a content key).
 *
 * The front sends the wrapped key of a certificate that matches a recipient of the
 * message, the certificate's fingerprint (bound into the wrapping) and the unwrap
 * parameters the engine extracted from the RecipientInfo (plain numbers and byte
 * strings: no ASN.1 from a message is parsed here). The answer is the content key only;
 * for ECDH the shared secret and the key-encryption key never leave this process.
 *
 * Every failure of the decryption itself is answered with the same DATA_LOSS
 * "decryption failed" (cms_keystore_ops.h), so that callers cannot tell a bad padding
 * from a wrong key. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/mem.h>

#include "service/cms/cms_keystore_ops.h"
#include "service/cms/cms_types.h"
#include "service/keystore/key_wrap.h"
#include "service/keystore/keystore_ops.h"

/* KEYSTORE_UNWRAP_MAX_FIELD caps each byte string of a request: an RSA-8192
 * ciphertext is 1 KiB, an EC point or a wrapped key far less. */
#define KEYSTORE_UNWRAP_MAX_FIELD (4u * 1024u)

/* unwrap_request_from_pb checks |p| and fills |out| (borrowing its bytes). */
static int unwrap_request_from_pb(const Smime__Ipc__UnwrapParams *p, CMS_UNWRAP_REQUEST *out,
                                  STATUS *err) {
  memset(out, 0, sizeof(*out));
  if (p == NULL || p->encrypted_key.len == 0 ||
      p->encrypted_key.len > KEYSTORE_UNWRAP_MAX_FIELD ||
      p->oaep_label.len > KEYSTORE_UNWRAP_MAX_FIELD ||
      p->peer_point.len > KEYSTORE_UNWRAP_MAX_FIELD ||
      p->shared_info.len > KEYSTORE_UNWRAP_MAX_FIELD) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "unwrap_cek: malformed request");
  }
  if (p->method != CMS_KEY_RSA_PKCS1 && p->method != CMS_KEY_RSA_OAEP &&
      p->method != CMS_KEY_ECDH) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "unwrap_cek: method %u is not allowed",
                      p->method);
  }
  if (p->cek_len != 16 && p->cek_len != 24 && p->cek_len != 32) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "unwrap_cek: key length %u",
                      p->cek_len);
  }
  out->method = (int)p->method;
  out->cek_len = p->cek_len;
  out->encrypted_key.data = p->encrypted_key.data;
  out->encrypted_key.len = p->encrypted_key.len;
  out->oaep_md = (int)p->oaep_md;
  out->mgf1_md = (int)p->mgf1_md;
  out->oaep_label.data = p->oaep_label.data;
  out->oaep_label.len = p->oaep_label.len;
  out->peer_point.data = p->peer_point.data;
  out->peer_point.len = p->peer_point.len;
  out->kdf_md = (int)p->kdf_md;
  out->kek_len = p->kek_len;
  out->shared_info.data = p->shared_info.data;
  out->shared_info.len = p->shared_info.len;
  return 1;
}

int keystore_op_unwrap_cek(KEYSTORE *ks, ARENA *arena, const Smime__Ipc__KeystoreRequest *req,
                           Smime__Ipc__KeystoreResponse *resp, STATUS *err) {
  const Smime__Ipc__KeystoreUnwrapCekRequest *r = req->unwrap_cek;
  Smime__Ipc__KeystoreUnwrapCekResponse *out = NULL;
  CMS_UNWRAP_REQUEST u;
  EVP_PKEY *key = NULL;
  uint8_t cek[CMS_MAX_CEK_LEN];
  int ok = 0;

  if (r == NULL || r->certificate_sha256.len != KEY_WRAP_CERT_HASH_LEN ||
      r->wrapped_key.len == 0 || r->wrapped_key.len > KEY_WRAP_MAX_BLOB) {
    status_set(err, STATUS_INVALID_ARGUMENT, "unwrap_cek: malformed request");
    goto err;
  }
  if (!unwrap_request_from_pb(r->unwrap, &u, err)) {
    goto err;
  }
  key = key_cache_open(ks->keys, ks->kek, r->wrapped_key.data, r->wrapped_key.len,
                       r->certificate_sha256.data, err);
  if (key == NULL) {
    goto err;
  }
  if (!cms_keystore_unwrap_cek(key, &u, cek, err)) {
    goto err;
  }
  out = arena_alloc(arena, sizeof(*out));
  if (out == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
    goto err;
  }
  smime__ipc__keystore_unwrap_cek_response__init(out);
  /* The arena is wiped when freed (arena.h), so the copy of the key is cleansed too. */
  out->cek.data = arena_memdup(arena, cek, u.cek_len);
  out->cek.len = u.cek_len;
  if (out->cek.data == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
    goto err;
  }
  resp->body_case = SMIME__IPC__KEYSTORE_RESPONSE__BODY_UNWRAP_CEK;
  resp->unwrap_cek = out;
  ok = 1;

err:
  OPENSSL_cleanse(cek, sizeof(cek));
  EVP_PKEY_free(key);
  return ok;
}
