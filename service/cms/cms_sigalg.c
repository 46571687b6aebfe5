/* cms_sigalg.c: signature AlgorithmIdentifiers and verification. */
#include "service/cms/cms_sigalg.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "service/cms/cms_asn1.h"
#include "service/cms/cms_types.h"

/* get_pss_params reads RSASSA-PSS-params (RFC 4055): every field has a default, so an
 * empty SEQUENCE means SHA-1, MGF1-SHA-1, salt 20. Only trailerField 1 exists. */
static int get_pss_params(CBS *params, CMS_SIGALG *out) {
  CBS seq, field;
  uint64_t salt = 20, trailer = 1;
  int md = CMS_MD_SHA1, mgf1_md = CMS_MD_SHA1;
  if (!CBS_get_asn1(params, &seq, CBS_ASN1_SEQUENCE) || CBS_len(params) != 0) {
    return 0;
  }
  if (CBS_peek_asn1_tag(&seq, CMS_TAG_CONSTRUCTED(0))) {
    if (!CBS_get_asn1(&seq, &field, CMS_TAG_CONSTRUCTED(0)) ||
        !cms_get_digest_algid(&field, &md, NULL) || CBS_len(&field) != 0) {
      return 0;
    }
  }
  if (CBS_peek_asn1_tag(&seq, CMS_TAG_CONSTRUCTED(1))) {
    if (!CBS_get_asn1(&seq, &field, CMS_TAG_CONSTRUCTED(1)) ||
        !cms_get_mgf1_algid(&field, &mgf1_md) || CBS_len(&field) != 0) {
      return 0;
    }
  }
  if (CBS_peek_asn1_tag(&seq, CMS_TAG_CONSTRUCTED(2))) {
    if (!CBS_get_asn1(&seq, &field, CMS_TAG_CONSTRUCTED(2)) ||
        !CBS_get_asn1_uint64(&field, &salt) || CBS_len(&field) != 0 || salt > 1024) {
      return 0;
    }
  }
  if (CBS_peek_asn1_tag(&seq, CMS_TAG_CONSTRUCTED(3))) {
    if (!CBS_get_asn1(&seq, &field, CMS_TAG_CONSTRUCTED(3)) ||
        !CBS_get_asn1_uint64(&field, &trailer) || CBS_len(&field) != 0) {
      return 0;
    }
  }
  if (CBS_len(&seq) != 0 || trailer != 1) {
    return 0;
  }
  out->md = md;
  out->mgf1_md = mgf1_md;
  out->salt_len = (int)salt;
  return 1;
}

int cms_get_sigalg(CBS *in, CMS_SIGALG *out) {
  CBS oid, params;
  CMS_SIGALG alg;
  memset(out, 0, sizeof(*out));
  memset(&alg, 0, sizeof(alg));
  if (!cms_get_algid(in, &oid, &params)) {
    return 0;
  }
  int id = cms_oid_find(&oid);
  switch (id) {
    case CMS_OID_RSA_ENCRYPTION:
    case CMS_OID_MD5_WITH_RSA:
    case CMS_OID_SHA1_WITH_RSA:
    case CMS_OID_SHA224_WITH_RSA:
    case CMS_OID_SHA256_WITH_RSA:
    case CMS_OID_SHA384_WITH_RSA:
    case CMS_OID_SHA512_WITH_RSA:
      if (!cms_params_absent_or_null(&params)) {
        return 0;
      }
      alg.scheme = CMS_SIG_RSA_PKCS1;
      alg.md = id == CMS_OID_MD5_WITH_RSA      ? CMS_MD_MD5
               : id == CMS_OID_SHA1_WITH_RSA   ? CMS_MD_SHA1
               : id == CMS_OID_SHA224_WITH_RSA ? CMS_MD_SHA224
               : id == CMS_OID_SHA256_WITH_RSA ? CMS_MD_SHA256
               : id == CMS_OID_SHA384_WITH_RSA ? CMS_MD_SHA384
               : id == CMS_OID_SHA512_WITH_RSA ? CMS_MD_SHA512
                                               : CMS_MD_NONE;
      break;
    case CMS_OID_RSASSA_PSS:
      alg.scheme = CMS_SIG_RSA_PSS;
      if (!get_pss_params(&params, &alg)) {
        return 0;
      }
      if (alg.md == CMS_MD_NONE || alg.mgf1_md == CMS_MD_NONE) {
        alg.scheme = CMS_SIG_NONE; /* a hash we do not know: unsupported */
      }
      break;
    case CMS_OID_ECDSA_SHA1:
    case CMS_OID_ECDSA_SHA224:
    case CMS_OID_ECDSA_SHA256:
    case CMS_OID_ECDSA_SHA384:
    case CMS_OID_ECDSA_SHA512:
    case CMS_OID_EC_PUBLIC_KEY:
      /* RFC 5758: ecdsa-with-SHA* have absent parameters; some old senders write the
       * key's algorithm, id-ecPublicKey, with the curve as parameters. */
      if (id != CMS_OID_EC_PUBLIC_KEY && CBS_len(&params) != 0) {
        return 0;
      }
      alg.scheme = CMS_SIG_ECDSA;
      alg.md = id == CMS_OID_ECDSA_SHA1     ? CMS_MD_SHA1
               : id == CMS_OID_ECDSA_SHA224 ? CMS_MD_SHA224
               : id == CMS_OID_ECDSA_SHA256 ? CMS_MD_SHA256
               : id == CMS_OID_ECDSA_SHA384 ? CMS_MD_SHA384
               : id == CMS_OID_ECDSA_SHA512 ? CMS_MD_SHA512
                                            : CMS_MD_NONE;
      break;
    case CMS_OID_ED25519:
      if (CBS_len(&params) != 0) {
        return 0;
      }
      alg.scheme = CMS_SIG_ED25519;
      break;
    default:
      alg.scheme = CMS_SIG_NONE;
      break;
  }
  *out = alg;
  return 1;
}

int cms_add_sigalg(CBB *cbb, int scheme, int md) {
  CBB seq, params, field, salt;
  switch (scheme) {
    case CMS_SIG_RSA_PKCS1:
      return cms_add_algid(cbb, CMS_OID_RSA_ENCRYPTION, 1);
    case CMS_SIG_RSA_PSS:
      return CBB_add_asn1(cbb, &seq, CBS_ASN1_SEQUENCE) &&
             cms_add_oid(&seq, CMS_OID_RSASSA_PSS) &&
             CBB_add_asn1(&seq, &params, CBS_ASN1_SEQUENCE) &&
             CBB_add_asn1(&params, &field, CMS_TAG_CONSTRUCTED(0)) &&
             cms_add_digest_algid(&field, md) &&
             CBB_add_asn1(&params, &field, CMS_TAG_CONSTRUCTED(1)) &&
             cms_add_mgf1_algid(&field, md) &&
             CBB_add_asn1(&params, &salt, CMS_TAG_CONSTRUCTED(2)) &&
             CBB_add_asn1_uint64(&salt, cms_md_size(md)) && CBB_flush(cbb);
    case CMS_SIG_ECDSA:
      switch (md) {
        case CMS_MD_SHA256:
          return cms_add_algid(cbb, CMS_OID_ECDSA_SHA256, 0);
        case CMS_MD_SHA384:
          return cms_add_algid(cbb, CMS_OID_ECDSA_SHA384, 0);
        case CMS_MD_SHA512:
          return cms_add_algid(cbb, CMS_OID_ECDSA_SHA512, 0);
        default:
          return 0;
      }
    case CMS_SIG_ED25519:
      return cms_add_algid(cbb, CMS_OID_ED25519, 0);
    default:
      return 0;
  }
}

int cms_key_fits_scheme(const EVP_PKEY *key, int scheme) {
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

int cms_sigalg_verify(EVP_PKEY *key, const CMS_SIGALG *alg, int md, const uint8_t *digest,
                      size_t digest_len, const uint8_t *msg, size_t msg_len,
                      const uint8_t *sig, size_t sig_len) {
  int ok = 0;
  EVP_PKEY_CTX *pctx = NULL;
  EVP_MD_CTX *mctx = NULL;
  const EVP_MD *evp = cms_md_evp(md), *mgf1 = cms_md_evp(alg->mgf1_md);
  if (!cms_key_fits_scheme(key, alg->scheme)) {
    goto out;
  }
  if (alg->scheme == CMS_SIG_ED25519) {
    mctx = EVP_MD_CTX_new();
    ok = mctx != NULL && EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key) &&
         EVP_DigestVerify(mctx, sig, sig_len, msg, msg_len);
    goto out;
  }
  if (evp == NULL || digest_len != EVP_MD_size(evp)) {
    goto out;
  }
  pctx = EVP_PKEY_CTX_new(key, NULL);
  if (pctx == NULL || !EVP_PKEY_verify_init(pctx) ||
      !EVP_PKEY_CTX_set_signature_md(pctx, evp)) {
    goto out;
  }
  if (alg->scheme == CMS_SIG_RSA_PSS) {
    if (mgf1 == NULL || !EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) ||
        !EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1) ||
        !EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, alg->salt_len)) {
      goto out;
    }
  }
  ok = EVP_PKEY_verify(pctx, sig, sig_len, digest, digest_len) == 1;

out:
  /* A failed verification leaves errors queued; they are not the caller's business. */
  ERR_clear_error();
  EVP_PKEY_CTX_free(pctx);
  EVP_MD_CTX_free(mctx);
  return ok;
}
