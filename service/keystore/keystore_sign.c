/* keystore_sign.c: keystore operation of outgoing mail (signing a digest).
 *
 * The front sends the wrapped key of the signing certificate as it is stored, the
 * certificate's fingerprint (bound into the wrapping as additional data, so a blob
 * moved to another certificate does not open), and what cms_sign_prepare computed in
 * the engine: the scheme, the hash and the digest (for Ed25519 the signed attributes,
 * a few hundred bytes). The message itself never comes here. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/mem.h>

#include "service/cms/cms_keystore_ops.h"
#include "service/cms/cms_types.h"
#include "service/keystore/key_wrap.h"
#include "service/keystore/keystore_ops.h"

/* KEYSTORE_SIGN_MAX_TBS caps the Ed25519 input: DER signed attributes are small. */
#define KEYSTORE_SIGN_MAX_TBS (16u * 1024u)

int keystore_op_sign(KEYSTORE *ks, ARENA *arena, const Smime__Ipc__KeystoreRequest *req,
                     Smime__Ipc__KeystoreResponse *resp, STATUS *err) {
  const Smime__Ipc__KeystoreSignRequest *r = req->sign;
  Smime__Ipc__KeystoreSignResponse *out = NULL;
  EVP_PKEY *key = NULL;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  const uint8_t *in;
  size_t in_len;
  int ok = 0;

  if (r == NULL || r->certificate_sha256.len != KEY_WRAP_CERT_HASH_LEN ||
      r->wrapped_key.len == 0 || r->wrapped_key.len > KEY_WRAP_MAX_BLOB) {
    status_set(err, STATUS_INVALID_ARGUMENT, "sign: malformed request");
    goto err;
  }
  if (r->md != CMS_MD_SHA256 && r->md != CMS_MD_SHA384 && r->md != CMS_MD_SHA512) {
    status_set(err, STATUS_INVALID_ARGUMENT, "sign: hash %u is not allowed", r->md);
    goto err;
  }
  if (r->scheme == CMS_SIG_ED25519) {
    if (r->tbs.len == 0 || r->tbs.len > KEYSTORE_SIGN_MAX_TBS) {
      status_set(err, STATUS_INVALID_ARGUMENT, "sign: Ed25519 input of %zu bytes",
                 r->tbs.len);
      goto err;
    }
    in = r->tbs.data;
    in_len = r->tbs.len;
  } else {
    /* keystore_op_sign checks the digest length here too (cms_keystore_sign does as
     * well): a request that does not fit its algorithm is refused before the key is
     * unwrapped. */
    if (r->digest.len != cms_md_size((int)r->md)) {
      status_set(err, STATUS_INVALID_ARGUMENT, "sign: digest of %zu bytes, %s has %zu",
                 r->digest.len, cms_md_name((int)r->md), cms_md_size((int)r->md));
      goto err;
    }
    in = r->digest.data;
    in_len = r->digest.len;
  }
  key = key_cache_open(ks->keys, ks->kek, r->wrapped_key.data, r->wrapped_key.len,
                       r->certificate_sha256.data, err);
  if (key == NULL) {
    goto err;
  }
  if (!cms_keystore_sign(key, (int)r->scheme, (int)r->md, in, in_len, &sig, &sig_len, err)) {
    goto err;
  }
  out = arena_alloc(arena, sizeof(*out));
  if (out == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
    goto err;
  }
  smime__ipc__keystore_sign_response__init(out);
  out->signature.data = arena_memdup(arena, sig, sig_len);
  out->signature.len = sig_len;
  if (out->signature.data == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
    goto err;
  }
  resp->body_case = SMIME__IPC__KEYSTORE_RESPONSE__BODY_SIGN;
  resp->sign = out;
  ok = 1;

err:
  /* EVP_PKEY_free wipes the key: BoringSSL's OPENSSL_free zeroes every block it
   * frees, the key's bignums included. The wrapped blob is not secret. */
  EVP_PKEY_free(key);
  OPENSSL_free(sig);
  return ok;
}
