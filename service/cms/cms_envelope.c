/* cms_envelope.c: EnvelopedData and AuthEnvelopedData for recipients' public keys. */
#include "service/cms/cms_envelope.h"

#include <string.h>

#include <openssl/aead.h>
#include <openssl/aes.h>
#include <openssl/bytestring.h>
#include <openssl/cipher.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/ecdh.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "service/cms/cms_asn1.h"
#include "service/cms/cms_cert.h"
#include "service/cms/cms_kdf.h"

/* kGcmNonceLen and kGcmTagLen are what RFC 5084 recommends and OpenSSL writes. */
#define kGcmNonceLen 12
#define kGcmTagLen 16

/* add_rid writes the recipient identifier of |cert|: issuerAndSerialNumber, or the
 * subjectKeyIdentifier with |ski_tag| (KTRI: [0] IMPLICIT OCTET STRING; KARI: [0]
 * IMPLICIT RecipientKeyIdentifier, a SEQUENCE around it). */
static int add_rid(CBB *cbb, const CMS_CERT *cert, int use_ski, int kari) {
  CBB rkey;
  if (!use_ski) {
    return cms_add_issuer_serial(cbb, cert);
  }
  if (kari) {
    return CBB_add_asn1(cbb, &rkey, CMS_TAG_CONSTRUCTED(0)) &&
           CBB_add_asn1_octet_string(&rkey, CBS_data(&cert->ski), CBS_len(&cert->ski)) &&
           CBB_flush(cbb);
  }
  return CBB_add_asn1(cbb, &rkey, CMS_TAG_IMPLICIT(0)) &&
         CBB_add_bytes(&rkey, CBS_data(&cert->ski), CBS_len(&cert->ski)) && CBB_flush(cbb);
}

/* add_oaep_algid writes id-RSAES-OAEP with its parameters, leaving out the fields that
 * equal the defaults (SHA-1, MGF1-SHA-1, empty label) as DER requires. */
static int add_oaep_algid(CBB *cbb, int md) {
  CBB seq, params, field;
  if (!CBB_add_asn1(cbb, &seq, CBS_ASN1_SEQUENCE) || !cms_add_oid(&seq, CMS_OID_RSAES_OAEP) ||
      !CBB_add_asn1(&seq, &params, CBS_ASN1_SEQUENCE)) {
    return 0;
  }
  if (md != CMS_MD_SHA1 &&
      (!CBB_add_asn1(&params, &field, CMS_TAG_CONSTRUCTED(0)) ||
       !cms_add_digest_algid(&field, md) ||
       !CBB_add_asn1(&params, &field, CMS_TAG_CONSTRUCTED(1)) ||
       !cms_add_mgf1_algid(&field, md))) {
    return 0;
  }
  return CBB_flush(cbb);
}

/* add_ktri writes a KeyTransRecipientInfo: the content key encrypted to an RSA key. */
static int add_ktri(CBB *ris, const CMS_CERT *cert, EVP_PKEY *key, const CMS_RECIPIENT *r,
                    const uint8_t *cek, size_t cek_len) {
  CBB ktri, ek;
  EVP_PKEY_CTX *pctx = NULL;
  uint8_t *enc;
  size_t enc_len = 0;
  int ok = 0;
  int oaep = r->key_method == CMS_KEY_RSA_OAEP;
  int md = r->oaep_md == CMS_MD_NONE ? CMS_MD_SHA1 : r->oaep_md;
  const EVP_MD *evp = cms_md_evp(md);
  if (!CBB_add_asn1(ris, &ktri, CBS_ASN1_SEQUENCE) ||
      !CBB_add_asn1_uint64(&ktri, r->use_ski ? 2 : 0) ||
      !add_rid(&ktri, cert, r->use_ski, 0) ||
      !(oaep ? add_oaep_algid(&ktri, md) : cms_add_algid(&ktri, CMS_OID_RSA_ENCRYPTION, 1))) {
    goto out;
  }
  pctx = EVP_PKEY_CTX_new(key, NULL);
  if (pctx == NULL || !EVP_PKEY_encrypt_init(pctx) ||
      !EVP_PKEY_CTX_set_rsa_padding(pctx, oaep ? RSA_PKCS1_OAEP_PADDING : RSA_PKCS1_PADDING) ||
      (oaep && (!EVP_PKEY_CTX_set_rsa_oaep_md(pctx, evp) ||
                !EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, evp))) ||
      !EVP_PKEY_encrypt(pctx, NULL, &enc_len, cek, cek_len) ||
      !CBB_add_asn1(&ktri, &ek, CBS_ASN1_OCTETSTRING) ||
      !CBB_reserve(&ek, &enc, enc_len) ||
      !EVP_PKEY_encrypt(pctx, enc, &enc_len, cek, cek_len) || !CBB_did_write(&ek, enc_len) ||
      !CBB_flush(ris)) {
    goto out;
  }
  ok = 1;

out:
  EVP_PKEY_CTX_free(pctx);
  return ok;
}

/* kdf_md_for_curve returns the KDF hash RFC 5753/RFC 5008 pair with a curve. */
static int kdf_md_for_curve(int nid) {
  switch (nid) {
    case NID_X9_62_prime256v1:
      return CMS_MD_SHA256;
    case NID_secp384r1:
      return CMS_MD_SHA384;
    case NID_secp521r1:
      return CMS_MD_SHA512;
    default:
      return CMS_MD_NONE;
  }
}

/* add_kari writes a KeyAgreeRecipientInfo: ECDH between a fresh ephemeral key and the
 * recipient's key, X9.63 KDF, AES key wrap of the content key. */
static int add_kari(CBB *ris, const CMS_CERT *cert, EVP_PKEY *key, const CMS_RECIPIENT *r,
                    const uint8_t *cek, size_t cek_len) {
  const EC_KEY *peer = EVP_PKEY_get0_EC_KEY(key);
  const EC_GROUP *group = EC_KEY_get0_group(peer);
  EC_KEY *eph = NULL;
  CBB cbb, kari, orig, okey, bits, kea, reks, rek, ek;
  CBS wrap_algid;
  uint8_t *wrap_der = NULL, *shared_info = NULL, *point = NULL, *wrapped;
  size_t wrap_der_len, shared_info_len, point_len, field_len;
  uint8_t z[66], kek[32];
  AES_KEY aes;
  int ok = 0;
  int md = kdf_md_for_curve(EC_GROUP_get_curve_name(group));
  int kdf_oid = md == CMS_MD_SHA256   ? CMS_OID_ECDH_STD_SHA256KDF
                : md == CMS_MD_SHA384 ? CMS_OID_ECDH_STD_SHA384KDF
                                      : CMS_OID_ECDH_STD_SHA512KDF;
  int wrap_oid = cek_len == 16   ? CMS_OID_AES128_WRAP
                 : cek_len == 24 ? CMS_OID_AES192_WRAP
                                 : CMS_OID_AES256_WRAP;
  CBB_zero(&cbb);
  field_len = (EC_GROUP_get_degree(group) + 7) / 8;
  if (md == CMS_MD_NONE || field_len > sizeof(z)) {
    goto out;
  }
  /* The key-wrap AlgorithmIdentifier, once: it goes into the message and, as is, into
   * the KDF's SharedInfo. */
  if (!CBB_init(&cbb, 16) || !cms_add_algid(&cbb, wrap_oid, 0) ||
      !CBB_finish(&cbb, &wrap_der, &wrap_der_len)) {
    goto out;
  }
  CBS_init(&wrap_algid, wrap_der, wrap_der_len);
  eph = EC_KEY_new();
  if (eph == NULL || !EC_KEY_set_group(eph, group) || !EC_KEY_generate_key(eph) ||
      ECDH_compute_key(z, field_len, EC_KEY_get0_public_key(peer), eph, NULL) !=
          (int)field_len ||
      !cms_ecc_shared_info(&wrap_algid, NULL, 0, cek_len, &shared_info, &shared_info_len) ||
      !cms_x963_kdf(md, z, field_len, shared_info, shared_info_len, kek, cek_len) ||
      AES_set_encrypt_key(kek, (unsigned)cek_len * 8, &aes) != 0) {
    goto out;
  }
  point_len = EC_KEY_key2buf(eph, POINT_CONVERSION_UNCOMPRESSED, &point, NULL);
  if (point_len == 0 || !CBB_add_asn1(ris, &kari, CMS_TAG_CONSTRUCTED(1)) ||
      !CBB_add_asn1_uint64(&kari, 3) || !CBB_add_asn1(&kari, &orig, CMS_TAG_CONSTRUCTED(0)) ||
      !CBB_add_asn1(&orig, &okey, CMS_TAG_CONSTRUCTED(1)) ||
      !cms_add_algid(&okey, CMS_OID_EC_PUBLIC_KEY, 0) ||
      !CBB_add_asn1(&okey, &bits, CBS_ASN1_BITSTRING) || !CBB_add_u8(&bits, 0) ||
      !CBB_add_bytes(&bits, point, point_len) ||
      !CBB_add_asn1(&kari, &kea, CBS_ASN1_SEQUENCE) || !cms_add_oid(&kea, kdf_oid) ||
      !CBB_add_bytes(&kea, wrap_der, wrap_der_len) ||
      !CBB_add_asn1(&kari, &reks, CBS_ASN1_SEQUENCE) ||
      !CBB_add_asn1(&reks, &rek, CBS_ASN1_SEQUENCE) || !add_rid(&rek, cert, r->use_ski, 1) ||
      !CBB_add_asn1(&rek, &ek, CBS_ASN1_OCTETSTRING) ||
      !CBB_reserve(&ek, &wrapped, cek_len + 8) ||
      AES_wrap_key(&aes, NULL, wrapped, cek, cek_len) != (int)(cek_len + 8) ||
      !CBB_did_write(&ek, cek_len + 8) || !CBB_flush(ris)) {
    goto out;
  }
  ok = 1;

out:
  OPENSSL_cleanse(z, sizeof(z));
  OPENSSL_cleanse(kek, sizeof(kek));
  OPENSSL_cleanse(&aes, sizeof(aes));
  CBB_cleanup(&cbb);
  OPENSSL_free(wrap_der);
  OPENSSL_free(shared_info);
  OPENSSL_free(point);
  EC_KEY_free(eph);
  return ok;
}

/* cipher_info gives the OID, EVP_CIPHER or EVP_AEAD of a content cipher we encrypt with. */
static int cipher_info(int cipher, int *oid, const EVP_CIPHER **evp, const EVP_AEAD **aead) {
  *evp = NULL;
  *aead = NULL;
  switch (cipher) {
    case CMS_CIPHER_AES128_CBC:
      *oid = CMS_OID_AES128_CBC;
      *evp = EVP_aes_128_cbc();
      return 1;
    case CMS_CIPHER_AES192_CBC:
      *oid = CMS_OID_AES192_CBC;
      *evp = EVP_aes_192_cbc();
      return 1;
    case CMS_CIPHER_AES256_CBC:
      *oid = CMS_OID_AES256_CBC;
      *evp = EVP_aes_256_cbc();
      return 1;
    case CMS_CIPHER_AES128_GCM:
      *oid = CMS_OID_AES128_GCM;
      *aead = EVP_aead_aes_128_gcm();
      return 1;
    case CMS_CIPHER_AES256_GCM:
      *oid = CMS_OID_AES256_GCM;
      *aead = EVP_aead_aes_256_gcm();
      return 1;
    default:
      return 0;
  }
}

/* add_encrypted_content writes the EncryptedContentInfo (id-data, the cipher with its
 * IV or GCM parameters, the ciphertext as a primitive [0]) and, for GCM, sets |tag|. */
static int add_encrypted_content(CBB *cbb, int cipher, const uint8_t *cek, size_t cek_len,
                                 const uint8_t *content, size_t content_len, uint8_t *tag) {
  CBB eci, algid, params, ec;
  const EVP_CIPHER *evp;
  const EVP_AEAD *aead;
  EVP_CIPHER_CTX ctx;
  EVP_AEAD_CTX actx;
  uint8_t iv[16], *buf;
  size_t tag_len = 0;
  int oid, n1 = 0, n2 = 0, ok = 0;
  EVP_CIPHER_CTX_init(&ctx);
  EVP_AEAD_CTX_zero(&actx);
  if (!cipher_info(cipher, &oid, &evp, &aead) || content_len > SIZE_MAX - 64 ||
      !RAND_bytes(iv, sizeof(iv)) || !CBB_add_asn1(cbb, &eci, CBS_ASN1_SEQUENCE) ||
      !cms_add_oid(&eci, CMS_OID_DATA) || !CBB_add_asn1(&eci, &algid, CBS_ASN1_SEQUENCE) ||
      !cms_add_oid(&algid, oid)) {
    goto out;
  }
  if (aead != NULL) {
    if (!CBB_add_asn1(&algid, &params, CBS_ASN1_SEQUENCE) ||
        !CBB_add_asn1_octet_string(&params, iv, kGcmNonceLen) ||
        !CBB_add_asn1_uint64(&params, kGcmTagLen) ||
        !CBB_add_asn1(&eci, &ec, CMS_TAG_IMPLICIT(0)) ||
        !CBB_reserve(&ec, &buf, content_len) ||
        !EVP_AEAD_CTX_init(&actx, aead, cek, cek_len, kGcmTagLen, NULL) ||
        !EVP_AEAD_CTX_seal_scatter(&actx, buf, tag, &tag_len, kGcmTagLen, iv, kGcmNonceLen,
                                   content, content_len, NULL, 0, NULL, 0) ||
        tag_len != kGcmTagLen || !CBB_did_write(&ec, content_len)) {
      goto out;
    }
  } else {
    if (!CBB_add_asn1_octet_string(&algid, iv, 16) ||
        !CBB_add_asn1(&eci, &ec, CMS_TAG_IMPLICIT(0)) ||
        !CBB_reserve(&ec, &buf, content_len + 16) ||
        !EVP_EncryptInit_ex(&ctx, evp, NULL, cek, iv) ||
        !EVP_EncryptUpdate(&ctx, buf, &n1, content, (int)content_len) ||
        !EVP_EncryptFinal_ex(&ctx, buf + n1, &n2) ||
        !CBB_did_write(&ec, (size_t)n1 + (size_t)n2)) {
      goto out;
    }
  }
  ok = CBB_flush(cbb);

out:
  EVP_CIPHER_CTX_cleanup(&ctx);
  EVP_AEAD_CTX_cleanup(&actx);
  return ok;
}

int cms_envelope(const uint8_t *content, size_t content_len, const CMS_RECIPIENT *recipients,
                 size_t num_recipients, const CMS_ENVELOPE_OPTIONS *options, uint8_t **out,
                 size_t *out_len, STATUS *err) {
  static const CMS_ENVELOPE_OPTIONS kDefaults = {0};
  CBB cbb, ci, wrap, body, ris;
  EVP_PKEY *key = NULL;
  CMS_CERT cert;
  uint8_t cek[32], tag[kGcmTagLen];
  int cipher, auth, version = 0;
  size_t cek_len;
  *out = NULL;
  *out_len = 0;
  CBB_zero(&cbb);
  if (options == NULL) {
    options = &kDefaults;
  }
  cipher = options->cipher == CMS_CIPHER_NONE ? CMS_CIPHER_AES256_CBC : options->cipher;
  auth = cms_cipher_is_aead(cipher);
  cek_len = cms_cipher_key_len(cipher);
  if (cipher == CMS_CIPHER_DES_EDE3_CBC || cipher == CMS_CIPHER_AES192_GCM || cek_len == 0) {
    status_set(err, STATUS_INVALID_ARGUMENT, "cannot encrypt with %s", cms_cipher_name(cipher));
    goto err;
  }
  if (num_recipients == 0 || num_recipients > CMS_ENVELOPE_MAX_RECIPIENTS) {
    status_set(err, STATUS_INVALID_ARGUMENT, "between 1 and %d recipients, not %zu",
               CMS_ENVELOPE_MAX_RECIPIENTS, num_recipients);
    goto err;
  }
  /* content_len <= INT_MAX - 64 for EVP_EncryptUpdate's int length. */
  if (content_len > 0x7fffff00) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "content too large");
    goto err;
  }
  if (!RAND_bytes(cek, cek_len) || !CBB_init(&cbb, content_len + 1024 * num_recipients) ||
      !CBB_add_asn1(&cbb, &ci, CBS_ASN1_SEQUENCE) ||
      !cms_add_oid(&ci, auth ? CMS_OID_AUTH_ENVELOPED_DATA : CMS_OID_ENVELOPED_DATA) ||
      !CBB_add_asn1(&ci, &wrap, CMS_TAG_CONSTRUCTED(0)) ||
      !CBB_add_asn1(&wrap, &body, CBS_ASN1_SEQUENCE)) {
    status_set(err, STATUS_INTERNAL, "cannot start the EnvelopedData");
    goto err;
  }
  /* The version depends on the recipients (RFC 5652 section 6.1): 0 when every one is a
   * KeyTransRecipientInfo by issuerAndSerialNumber, else 2. AuthEnvelopedData: 0. */
  for (size_t i = 0; i < num_recipients; i++) {
    if (!cms_cert_parse(&cert, recipients[i].cert, recipients[i].cert_len)) {
      status_set(err, STATUS_INVALID_ARGUMENT, "recipient %zu: not a DER certificate", i);
      goto err;
    }
    key = cms_cert_public_key(&cert);
    if (key == NULL || (EVP_PKEY_id(key) != EVP_PKEY_RSA && EVP_PKEY_id(key) != EVP_PKEY_EC)) {
      status_set(err, STATUS_INVALID_ARGUMENT,
                 "recipient %zu: the key type cannot receive encrypted mail (RSA or EC)", i);
      goto err;
    }
    if (recipients[i].use_ski && CBS_len(&cert.ski) == 0) {
      status_set(err, STATUS_INVALID_ARGUMENT,
                 "recipient %zu: the certificate has no subject key identifier", i);
      goto err;
    }
    if (EVP_PKEY_id(key) == EVP_PKEY_EC || recipients[i].use_ski) {
      version = 2;
    }
    EVP_PKEY_free(key);
    key = NULL;
  }
  if (!CBB_add_asn1_uint64(&body, auth ? 0 : (uint64_t)version) ||
      !CBB_add_asn1(&body, &ris, CBS_ASN1_SET)) {
    status_set(err, STATUS_INTERNAL, "cannot encode the EnvelopedData");
    goto err;
  }
  for (size_t i = 0; i < num_recipients; i++) {
    const CMS_RECIPIENT *r = &recipients[i];
    if (!cms_cert_parse(&cert, r->cert, r->cert_len) ||
        (key = cms_cert_public_key(&cert)) == NULL) {
      status_set(err, STATUS_INTERNAL, "recipient %zu: certificate parse failed", i);
      goto err;
    }
    if (EVP_PKEY_id(key) == EVP_PKEY_RSA) {
      if ((r->key_method != CMS_KEY_NONE && r->key_method != CMS_KEY_RSA_PKCS1 &&
           r->key_method != CMS_KEY_RSA_OAEP) ||
          (r->key_method == CMS_KEY_RSA_OAEP && r->oaep_md != CMS_MD_NONE &&
           r->oaep_md != CMS_MD_SHA1 && r->oaep_md != CMS_MD_SHA256 &&
           r->oaep_md != CMS_MD_SHA384 && r->oaep_md != CMS_MD_SHA512)) {
        status_set(err, STATUS_INVALID_ARGUMENT, "recipient %zu: bad RSA key transport", i);
        goto err;
      }
      if (!add_ktri(&ris, &cert, key, r, cek, cek_len)) {
        status_set(err, STATUS_INVALID_ARGUMENT,
                   "recipient %zu: cannot encrypt the content key to this RSA key", i);
        goto err;
      }
    } else if (!add_kari(&ris, &cert, key, r, cek, cek_len)) {
      status_set(err, STATUS_INVALID_ARGUMENT,
                 "recipient %zu: cannot agree a key with this EC key (P-256, P-384 or P-521)",
                 i);
      goto err;
    }
    EVP_PKEY_free(key);
    key = NULL;
  }
  if (!CBB_flush_asn1_set_of(&ris) ||
      !add_encrypted_content(&body, cipher, cek, cek_len, content, content_len, tag) ||
      (auth && !CBB_add_asn1_octet_string(&body, tag, sizeof(tag))) ||
      !CBB_finish(&cbb, out, out_len)) {
    status_set(err, STATUS_INTERNAL, "cannot encrypt the content");
    goto err;
  }
  OPENSSL_cleanse(cek, sizeof(cek));
  return 1;

err:
  ERR_clear_error();
  OPENSSL_cleanse(cek, sizeof(cek));
  EVP_PKEY_free(key);
  CBB_cleanup(&cbb);
  return 0;
}
