/* cms_keystore_ops.c: signing and CEK recovery with a private key. */
#include "service/cms/cms_keystore_ops.h"

#include <string.h>

#include <openssl/aes.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/ecdh.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "service/cms/cms_asn1.h"
#include "service/cms/cms_kdf.h"

/* decrypt_failed sets the one result of a failed decryption (see CMS_DECRYPT_FAILED). */
static int decrypt_failed(STATUS *err) {
  ERR_clear_error();
  return status_set(err, STATUS_DATA_LOSS, CMS_DECRYPT_FAILED);
}

/* key_type_fits returns 1 if |key| can make |scheme| signatures. */
static int key_type_fits(const EVP_PKEY *key, int scheme) {
  switch (scheme) {
    case CMS_SIG_RSA_PKCS1:
    case CMS_SIG_RSA_PSS:
      return EVP_PKEY_id(key) == EVP_PKEY_RSA;
    case CMS_SIG_ECDSA:
      return EVP_PKEY_id(key) == EVP_PKEY_EC;
    case CMS_SIG_ED25519:
      return EVP_PKEY_id(key) == EVP_PKEY_ED25519;
    default:
      return 0;
  }
}

int cms_keystore_sign(EVP_PKEY *key, int scheme, int md, const uint8_t *in, size_t in_len,
                      uint8_t **out_sig, size_t *out_sig_len, STATUS *err) {
  EVP_PKEY_CTX *pctx = NULL;
  EVP_MD_CTX *mctx = NULL;
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  const EVP_MD *evp = cms_md_evp(md);
  *out_sig = NULL;
  *out_sig_len = 0;
  if (md != CMS_MD_SHA256 && md != CMS_MD_SHA384 && md != CMS_MD_SHA512) {
    status_set(err, STATUS_INVALID_ARGUMENT, "signing hash %s is not allowed",
               cms_md_name(md));
    goto err;
  }
  if (!key_type_fits(key, scheme)) {
    status_set(err, STATUS_INVALID_ARGUMENT, "the key cannot make %s signatures",
               cms_sig_name(scheme));
    goto err;
  }
  if (scheme == CMS_SIG_ED25519) {
    if (md != CMS_MD_SHA512) {
      status_set(err, STATUS_INVALID_ARGUMENT, "Ed25519 goes with SHA-512 (RFC 8419)");
      goto err;
    }
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL || !EVP_DigestSignInit(mctx, NULL, NULL, NULL, key) ||
        !EVP_DigestSign(mctx, NULL, &sig_len, in, in_len) ||
        (sig = OPENSSL_malloc(sig_len)) == NULL ||
        !EVP_DigestSign(mctx, sig, &sig_len, in, in_len)) {
      status_set(err, STATUS_INTERNAL, "Ed25519 signing failed");
      goto err;
    }
    goto done;
  }
  if (in_len != (size_t)EVP_MD_size(evp)) {
    status_set(err, STATUS_INVALID_ARGUMENT, "digest of %zu bytes, %s has %zu", in_len,
               cms_md_name(md), (size_t)EVP_MD_size(evp));
    goto err;
  }
  pctx = EVP_PKEY_CTX_new(key, NULL);
  if (pctx == NULL || !EVP_PKEY_sign_init(pctx) ||
      !EVP_PKEY_CTX_set_signature_md(pctx, evp)) {
    status_set(err, STATUS_INTERNAL, "cannot set up signing");
    goto err;
  }
  if (scheme == CMS_SIG_RSA_PSS &&
      (!EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) ||
       !EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, evp) ||
       !EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, -1 /* digest length */))) {
    status_set(err, STATUS_INTERNAL, "cannot set up RSASSA-PSS");
    goto err;
  }
  if (!EVP_PKEY_sign(pctx, NULL, &sig_len, in, in_len) ||
      (sig = OPENSSL_malloc(sig_len)) == NULL ||
      !EVP_PKEY_sign(pctx, sig, &sig_len, in, in_len)) {
    status_set(err, STATUS_INTERNAL, "%s signing failed", cms_sig_name(scheme));
    goto err;
  }

done:
  *out_sig = sig;
  *out_sig_len = sig_len;
  EVP_PKEY_CTX_free(pctx);
  EVP_MD_CTX_free(mctx);
  return 1;

err:
  ERR_clear_error();
  OPENSSL_free(sig);
  EVP_PKEY_CTX_free(pctx);
  EVP_MD_CTX_free(mctx);
  return 0;
}

/* ct_is_zero returns 0xff if |x| is zero, else 0, without branching on |x|. */
static uint8_t ct_is_zero(uint8_t x) {
  return (uint8_t)(0u - (((uint32_t)x - 1u) >> 31));
}

/* rsa_pkcs1_implicit recovers a |cek_len|-byte key from a PKCS#1 v1.5 encryption block
 * without revealing, by time or result, whether the padding was right: the raw RSA
 * result is checked at the fixed positions the expected key length implies
 * (00 02 PS 00 CEK, PS at least 8 non-zero octets), and a random key is selected
 * instead when anything is wrong. */
static int rsa_pkcs1_implicit(RSA *rsa, const CMS_UNWRAP_REQUEST *req, uint8_t *out_cek,
                              STATUS *err) {
  size_t k = RSA_size(rsa), em_len = 0, sep;
  uint8_t *em = NULL, good;
  uint8_t fake[CMS_MAX_CEK_LEN];
  int ok = 0;
  if (req->encrypted_key.len != k || k < req->cek_len + 11) {
    /* The length is public: this is a malformed request, not a padding question. */
    status_set(err, STATUS_INVALID_ARGUMENT,
               "encryptedKey of %zu bytes does not fit an RSA key of %zu bytes",
               req->encrypted_key.len, k);
    goto out;
  }
  em = OPENSSL_malloc(k);
  if (em == NULL || !RAND_bytes(fake, req->cek_len)) {
    status_set(err, STATUS_INTERNAL, "out of memory");
    goto out;
  }
  if (!RSA_decrypt(rsa, &em_len, em, k, req->encrypted_key.data, k, RSA_NO_PADDING) ||
      em_len != k) {
    /* Only a ciphertext not below the modulus (another key's) gets here: public, but
     * answered like every other failure, with a random key. */
    memset(em, 0, k);
  }
  sep = k - req->cek_len - 1;
  good = ct_is_zero(em[0]) & ct_is_zero(em[1] ^ 2) & ct_is_zero(em[sep]);
  for (size_t i = 2; i < sep; i++) {
    good &= (uint8_t)~ct_is_zero(em[i]);
  }
  for (size_t i = 0; i < req->cek_len; i++) {
    out_cek[i] = (uint8_t)((em[sep + 1 + i] & good) | (fake[i] & (uint8_t)~good));
  }
  ok = 1;

out:
  OPENSSL_cleanse(fake, sizeof(fake));
  if (em != NULL) {
    OPENSSL_cleanse(em, k);
    OPENSSL_free(em);
  }
  ERR_clear_error();
  return ok;
}

/* rsa_oaep decrypts an RSAES-OAEP encryptedKey; OAEP decoding is constant time in
 * BoringSSL, and every failure gives the same result. */
static int rsa_oaep(EVP_PKEY *key, const CMS_UNWRAP_REQUEST *req, uint8_t *out_cek,
                    STATUS *err) {
  EVP_PKEY_CTX *pctx = NULL;
  uint8_t *label = NULL, *buf = NULL;
  size_t k = (size_t)EVP_PKEY_size(key), len = k;
  const EVP_MD *md = cms_md_evp(req->oaep_md), *mgf1 = cms_md_evp(req->mgf1_md);
  int ok = 0;
  if (md == NULL || mgf1 == NULL || req->oaep_md == CMS_MD_MD5 ||
      req->mgf1_md == CMS_MD_MD5) {
    status_set(err, STATUS_INVALID_ARGUMENT, "unsupported RSAES-OAEP hash");
    goto out;
  }
  if (req->encrypted_key.len != k) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "encryptedKey of %zu bytes does not fit an RSA key of %zu bytes",
               req->encrypted_key.len, k);
    goto out;
  }
  if (req->oaep_label.len != 0) {
    label = OPENSSL_malloc(req->oaep_label.len);
    if (label == NULL) {
      status_set(err, STATUS_INTERNAL, "out of memory");
      goto out;
    }
    memcpy(label, req->oaep_label.data, req->oaep_label.len);
  }
  buf = OPENSSL_malloc(k);
  pctx = EVP_PKEY_CTX_new(key, NULL);
  if (buf == NULL || pctx == NULL || !EVP_PKEY_decrypt_init(pctx) ||
      !EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) ||
      !EVP_PKEY_CTX_set_rsa_oaep_md(pctx, md) || !EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1)) {
    status_set(err, STATUS_INTERNAL, "cannot set up RSAES-OAEP");
    goto out;
  }
  if (label != NULL) {
    if (!EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, label, req->oaep_label.len)) {
      status_set(err, STATUS_INTERNAL, "cannot set the RSAES-OAEP label");
      goto out;
    }
    label = NULL; /* owned by pctx now */
  }
  if (!EVP_PKEY_decrypt(pctx, buf, &len, req->encrypted_key.data, k) ||
      len != req->cek_len) {
    decrypt_failed(err);
    goto out;
  }
  memcpy(out_cek, buf, len);
  ok = 1;

out:
  ERR_clear_error();
  OPENSSL_free(label);
  if (buf != NULL) {
    OPENSSL_cleanse(buf, k);
    OPENSSL_free(buf);
  }
  EVP_PKEY_CTX_free(pctx);
  return ok;
}

/* clear_cek clears the caller's CEK buffer on entry (its size is req->cek_len, when
 * that is a size we accept at all). */
static void clear_cek(const CMS_UNWRAP_REQUEST *req, uint8_t *out_cek) {
  if (req->cek_len <= CMS_MAX_CEK_LEN) {
    memset(out_cek, 0, req->cek_len);
  }
}

int cms_rsa_decrypt_cek(EVP_PKEY *key, const CMS_UNWRAP_REQUEST *req, uint8_t *out_cek,
                        STATUS *err) {
  clear_cek(req, out_cek);
  if (EVP_PKEY_id(key) != EVP_PKEY_RSA) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "RSA key transport needs an RSA key");
  }
  if (req->cek_len == 0 || req->cek_len > CMS_MAX_CEK_LEN) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "bad content key length %zu",
                      req->cek_len);
  }
  if (req->method == CMS_KEY_RSA_PKCS1) {
    return rsa_pkcs1_implicit(EVP_PKEY_get0_RSA(key), req, out_cek, err);
  }
  if (req->method == CMS_KEY_RSA_OAEP) {
    return rsa_oaep(key, req, out_cek, err);
  }
  return status_set(err, STATUS_INVALID_ARGUMENT, "not an RSA key transport method");
}

int cms_ecdh_unwrap_cek(EVP_PKEY *key, const CMS_UNWRAP_REQUEST *req, uint8_t *out_cek,
                        STATUS *err) {
  const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(key);
  const EC_GROUP *group = NULL;
  size_t field_len = 0;
  EC_POINT *peer = NULL;
  uint8_t z[66], kek[32], cek[CMS_MAX_CEK_LEN + 8];
  AES_KEY aes;
  int ok = 0, z_len = 0;
  clear_cek(req, out_cek);
  if (ec == NULL || req->method != CMS_KEY_ECDH) {
    status_set(err, STATUS_INVALID_ARGUMENT, "ECDH needs an EC key");
    goto out;
  }
  if ((req->kek_len != 16 && req->kek_len != 24 && req->kek_len != 32) ||
      req->cek_len == 0 || req->cek_len > CMS_MAX_CEK_LEN || req->cek_len % 8 != 0 ||
      cms_md_evp(req->kdf_md) == NULL || req->kdf_md == CMS_MD_MD5) {
    status_set(err, STATUS_INVALID_ARGUMENT, "bad ECDH parameters");
    goto out;
  }
  if (req->encrypted_key.len != req->cek_len + 8) {
    decrypt_failed(err);
    goto out;
  }
  group = EC_KEY_get0_group(ec);
  field_len = (EC_GROUP_get_degree(group) + 7) / 8;
  peer = EC_POINT_new(group);
  if (peer == NULL || field_len > sizeof(z) ||
      !EC_POINT_oct2point(group, peer, req->peer_point.data, req->peer_point.len, NULL)) {
    /* The point is public: not on the curve is a malformed message. */
    status_set(err, STATUS_INVALID_ARGUMENT,
               "the originator's public key is not a point on the recipient's curve");
    goto out;
  }
  z_len = ECDH_compute_key(z, field_len, peer, ec, NULL);
  if (z_len != (int)field_len ||
      !cms_x963_kdf(req->kdf_md, z, field_len, req->shared_info.data, req->shared_info.len,
                    kek, req->kek_len) ||
      AES_set_decrypt_key(kek, (unsigned)req->kek_len * 8, &aes) != 0 ||
      AES_unwrap_key(&aes, NULL, cek, req->encrypted_key.data, req->encrypted_key.len) !=
          (int)req->cek_len) {
    decrypt_failed(err);
    goto out;
  }
  memcpy(out_cek, cek, req->cek_len);
  ok = 1;

out:
  ERR_clear_error();
  OPENSSL_cleanse(z, sizeof(z));
  OPENSSL_cleanse(kek, sizeof(kek));
  OPENSSL_cleanse(cek, sizeof(cek));
  OPENSSL_cleanse(&aes, sizeof(aes));
  EC_POINT_free(peer);
  return ok;
}

int cms_keystore_unwrap_cek(EVP_PKEY *key, const CMS_UNWRAP_REQUEST *req, uint8_t *out_cek,
                            STATUS *err) {
  clear_cek(req, out_cek);
  switch (req->method) {
    case CMS_KEY_RSA_PKCS1:
    case CMS_KEY_RSA_OAEP:
      return cms_rsa_decrypt_cek(key, req, out_cek, err);
    case CMS_KEY_ECDH:
      return cms_ecdh_unwrap_cek(key, req, out_cek, err);
    default:
      return status_set(err, STATUS_INVALID_ARGUMENT, "unknown key recovery method %d",
                        req->method);
  }
}
