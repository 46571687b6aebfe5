/* cms_decrypt.c: parsing EnvelopedData/AuthEnvelopedData and decrypting the content. */
#include "service/cms/cms_decrypt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/aead.h>
#include <openssl/bytestring.h>
#include <openssl/cipher.h>
#include <openssl/err.h>
#include <openssl/mem.h>

#include "service/cms/cms_asn1.h"
#include "service/cms/cms_cert.h"
#include "service/cms/cms_kdf.h"

/* to_buf points |b| at the bytes of |c|. */
static void to_buf(CMS_BUF *b, const CBS *c) {
  b->data = CBS_data(c);
  b->len = CBS_len(c);
}

/* unsupported marks |ri| as one we cannot open, with a reason for the log. */
static void unsupported(CMS_RECIPIENT_INFO *ri, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void unsupported(CMS_RECIPIENT_INFO *ri, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ri->reason, sizeof(ri->reason), fmt, ap);
  va_end(ap);
  ri->method = CMS_KEY_NONE;
}

void cms_envelope_free(CMS_ENVELOPE *env) {
  if (env == NULL) {
    return;
  }
  for (size_t i = 0; i < env->num_recipients; i++) {
    OPENSSL_free(env->recipients[i].owned_ski);
    OPENSSL_free(env->recipients[i].owned_shared_info);
  }
  OPENSSL_free(env->recipients);
  OPENSSL_free(env->owned_der);
  OPENSSL_free(env->owned_content);
  OPENSSL_free(env->owned_aad);
  OPENSSL_free(env);
}

/* add_recipient appends a zeroed CMS_RECIPIENT_INFO to |env| and returns it, growing the
 * array by doubling; NULL when out of memory or over CMS_DECRYPT_MAX_RECIPIENTS. */
static CMS_RECIPIENT_INFO *add_recipient(CMS_ENVELOPE *env, size_t *capacity) {
  if (env->num_recipients == CMS_DECRYPT_MAX_RECIPIENTS) {
    return NULL;
  }
  if (env->num_recipients == *capacity) {
    size_t n = *capacity == 0 ? 4 : *capacity * 2;
    CMS_RECIPIENT_INFO *grown = cms_calloc(n, sizeof(*grown));
    if (grown == NULL) {
      return NULL;
    }
    if (env->num_recipients > 0) {
      memcpy(grown, env->recipients, env->num_recipients * sizeof(*grown));
    }
    OPENSSL_free(env->recipients);
    env->recipients = grown;
    *capacity = n;
  }
  return &env->recipients[env->num_recipients++];
}

/* parse_oaep_params reads RSAES-OAEP-params (RFC 3560/8017): [0] hashFunc, [1]
 * maskGenFunc, [2] pSourceFunc, each with a default (SHA-1, MGF1-SHA-1, empty label);
 * absent parameters mean all defaults. Returns 0 when malformed. */
static int parse_oaep_params(CBS *params, CMS_RECIPIENT_INFO *ri) {
  CBS seq, field, oid, label_params, label;
  ri->oaep_md = CMS_MD_SHA1;
  ri->mgf1_md = CMS_MD_SHA1;
  ri->oaep_label.data = NULL;
  ri->oaep_label.len = 0;
  if (CBS_len(params) == 0) {
    return 1;
  }
  if (!CBS_get_asn1(params, &seq, CBS_ASN1_SEQUENCE) || CBS_len(params) != 0) {
    return 0;
  }
  if (CBS_peek_asn1_tag(&seq, CMS_TAG_CONSTRUCTED(0)) &&
      (!CBS_get_asn1(&seq, &field, CMS_TAG_CONSTRUCTED(0)) ||
       !cms_get_digest_algid(&field, &ri->oaep_md, NULL) || CBS_len(&field) != 0)) {
    return 0;
  }
  if (CBS_peek_asn1_tag(&seq, CMS_TAG_CONSTRUCTED(1)) &&
      (!CBS_get_asn1(&seq, &field, CMS_TAG_CONSTRUCTED(1)) ||
       !cms_get_mgf1_algid(&field, &ri->mgf1_md) || CBS_len(&field) != 0)) {
    return 0;
  }
  if (CBS_peek_asn1_tag(&seq, CMS_TAG_CONSTRUCTED(2))) {
    if (!CBS_get_asn1(&seq, &field, CMS_TAG_CONSTRUCTED(2)) ||
        !cms_get_algid(&field, &oid, &label_params) || CBS_len(&field) != 0 ||
        !cms_oid_is(&oid, CMS_OID_P_SPECIFIED) ||
        !CBS_get_asn1(&label_params, &label, CBS_ASN1_OCTETSTRING) ||
        CBS_len(&label_params) != 0) {
      return 0;
    }
    to_buf(&ri->oaep_label, &label);
  }
  return CBS_len(&seq) == 0;
}

/* parse_ktri reads a KeyTransRecipientInfo's contents into |ri|. */
static int parse_ktri(CBS ktri, CMS_RECIPIENT_INFO *ri) {
  uint64_t version;
  CBS issuer, serial, ski, oid, params, ek;
  ri->type = CMS_RI_KTRI;
  if (!CBS_get_asn1_uint64(&ktri, &version) || (version != 0 && version != 2)) {
    return 0;
  }
  if (CBS_peek_asn1_tag(&ktri, CBS_ASN1_SEQUENCE)) {
    if (!cms_get_issuer_serial(&ktri, &issuer, &serial)) {
      return 0;
    }
    to_buf(&ri->rid_issuer, &issuer);
    to_buf(&ri->rid_serial, &serial);
  } else {
    if (!cms_get_implicit_octets(&ktri, 0, &ski, &ri->owned_ski) || CBS_len(&ski) == 0) {
      return 0;
    }
    ri->rid_is_ski = 1;
    to_buf(&ri->rid_ski, &ski);
  }
  if (!cms_get_algid(&ktri, &oid, &params) ||
      !CBS_get_asn1(&ktri, &ek, CBS_ASN1_OCTETSTRING) || CBS_len(&ktri) != 0) {
    return 0;
  }
  to_buf(&ri->encrypted_key, &ek);
  if (cms_oid_is(&oid, CMS_OID_RSA_ENCRYPTION)) {
    if (!cms_params_absent_or_null(&params)) {
      return 0;
    }
    ri->method = CMS_KEY_RSA_PKCS1;
  } else if (cms_oid_is(&oid, CMS_OID_RSAES_OAEP)) {
    if (!parse_oaep_params(&params, ri)) {
      return 0;
    }
    ri->method = CMS_KEY_RSA_OAEP;
    if (ri->oaep_md == CMS_MD_NONE || ri->mgf1_md == CMS_MD_NONE ||
        ri->oaep_md == CMS_MD_MD5 || ri->mgf1_md == CMS_MD_MD5) {
      unsupported(ri, "RSAES-OAEP with an unsupported hash");
    }
  } else {
    char text[64];
    cms_oid_text(&oid, text, sizeof(text));
    unsupported(ri, "unsupported key transport algorithm %s", text);
  }
  return 1;
}

/* kdf_md_of returns the KDF hash of an ECDH key-agreement OID (standard or cofactor:
 * the same computation on the cofactor-1 curves CMS uses), or CMS_MD_NONE. */
static int kdf_md_of(int oid) {
  switch (oid) {
    case CMS_OID_ECDH_STD_SHA1KDF:
    case CMS_OID_ECDH_COFACTOR_SHA1KDF:
      return CMS_MD_SHA1;
    case CMS_OID_ECDH_STD_SHA224KDF:
    case CMS_OID_ECDH_COFACTOR_SHA224KDF:
      return CMS_MD_SHA224;
    case CMS_OID_ECDH_STD_SHA256KDF:
    case CMS_OID_ECDH_COFACTOR_SHA256KDF:
      return CMS_MD_SHA256;
    case CMS_OID_ECDH_STD_SHA384KDF:
    case CMS_OID_ECDH_COFACTOR_SHA384KDF:
      return CMS_MD_SHA384;
    case CMS_OID_ECDH_STD_SHA512KDF:
    case CMS_OID_ECDH_COFACTOR_SHA512KDF:
      return CMS_MD_SHA512;
    default:
      return CMS_MD_NONE;
  }
}

/* parse_kari reads a KeyAgreeRecipientInfo's contents, adding one CMS_RECIPIENT_INFO
 * per RecipientEncryptedKey. Returns 0 when malformed (|*oom| set when out of memory). */
static int parse_kari(CBS kari, CMS_ENVELOPE *env, size_t *capacity, int *oom) {
  uint64_t version;
  CBS orig, okey, alg_oid, alg_params, bits, ukm, ukm_wrap, kea_oid, wrap_algid, wrap,
      wrap_oid, wrap_params, reks, rek, rid, ski, issuer, serial, ek;
  int has_ukm = 0, static_originator = 0, kdf_md, kek_len = 0;
  uint8_t unused_bits;
  CBS_init(&ukm, NULL, 0);
  CBS_init(&bits, NULL, 0);
  if (!CBS_get_asn1_uint64(&kari, &version) || version != 3 ||
      !CBS_get_asn1(&kari, &orig, CMS_TAG_CONSTRUCTED(0))) {
    return 0;
  }
  if (CBS_peek_asn1_tag(&orig, CMS_TAG_CONSTRUCTED(1))) {
    if (!CBS_get_asn1(&orig, &okey, CMS_TAG_CONSTRUCTED(1)) || CBS_len(&orig) != 0 ||
        !cms_get_algid(&okey, &alg_oid, &alg_params) ||
        !CBS_get_asn1(&okey, &bits, CBS_ASN1_BITSTRING) || CBS_len(&okey) != 0 ||
        !CBS_get_u8(&bits, &unused_bits) || unused_bits != 0 || CBS_len(&bits) == 0) {
      return 0;
    }
    static_originator = !cms_oid_is(&alg_oid, CMS_OID_EC_PUBLIC_KEY);
  } else {
    /* issuerAndSerialNumber or subjectKeyIdentifier: static-static ECDH (rare). */
    static_originator = 1;
  }
  if (!CBS_get_optional_asn1(&kari, &ukm_wrap, &has_ukm, CMS_TAG_CONSTRUCTED(1)) ||
      (has_ukm && (!CBS_get_asn1(&ukm_wrap, &ukm, CBS_ASN1_OCTETSTRING) ||
                   CBS_len(&ukm_wrap) != 0)) ||
      !cms_get_algid(&kari, &kea_oid, &wrap_algid) ||
      !CBS_get_asn1(&kari, &reks, CBS_ASN1_SEQUENCE) || CBS_len(&kari) != 0) {
    return 0;
  }
  kdf_md = kdf_md_of(cms_oid_find(&kea_oid));
  wrap = wrap_algid;
  if (CBS_len(&wrap) != 0) {
    if (!cms_get_algid(&wrap, &wrap_oid, &wrap_params) || CBS_len(&wrap) != 0) {
      return 0;
    }
    if (cms_params_absent_or_null(&wrap_params)) {
      kek_len = cms_oid_is(&wrap_oid, CMS_OID_AES128_WRAP)   ? 16
                : cms_oid_is(&wrap_oid, CMS_OID_AES192_WRAP) ? 24
                : cms_oid_is(&wrap_oid, CMS_OID_AES256_WRAP) ? 32
                                                             : 0;
    }
  }
  while (CBS_len(&reks) != 0) {
    CMS_RECIPIENT_INFO *ri = add_recipient(env, capacity);
    if (ri == NULL) {
      *oom = 1;
      return 0;
    }
    ri->type = CMS_RI_KARI;
    if (!CBS_get_asn1(&reks, &rek, CBS_ASN1_SEQUENCE)) {
      return 0;
    }
    if (CBS_peek_asn1_tag(&rek, CBS_ASN1_SEQUENCE)) {
      if (!cms_get_issuer_serial(&rek, &issuer, &serial)) {
        return 0;
      }
      to_buf(&ri->rid_issuer, &issuer);
      to_buf(&ri->rid_serial, &serial);
    } else {
      /* rKeyId [0] IMPLICIT RecipientKeyIdentifier: SKI, optional date and other. */
      if (!CBS_get_asn1(&rek, &rid, CMS_TAG_CONSTRUCTED(0)) ||
          !CBS_get_asn1(&rid, &ski, CBS_ASN1_OCTETSTRING) || CBS_len(&ski) == 0 ||
          !CBS_get_optional_asn1(&rid, NULL, NULL, CBS_ASN1_GENERALIZEDTIME) ||
          !CBS_get_optional_asn1(&rid, NULL, NULL, CBS_ASN1_SEQUENCE) || CBS_len(&rid) != 0) {
        return 0;
      }
      ri->rid_is_ski = 1;
      to_buf(&ri->rid_ski, &ski);
    }
    if (!CBS_get_asn1(&rek, &ek, CBS_ASN1_OCTETSTRING) || CBS_len(&rek) != 0) {
      return 0;
    }
    to_buf(&ri->encrypted_key, &ek);
    ri->method = CMS_KEY_ECDH;
    to_buf(&ri->originator_point, &bits);
    to_buf(&ri->ukm, &ukm);
    ri->kdf_md = kdf_md;
    ri->kek_len = (size_t)kek_len;
    if (static_originator) {
      unsupported(ri, "key agreement with a static originator key");
    } else if (kdf_md == CMS_MD_NONE) {
      char text[64];
      cms_oid_text(&kea_oid, text, sizeof(text));
      unsupported(ri, "unsupported key agreement algorithm %s", text);
    } else if (kek_len == 0) {
      unsupported(ri, "unsupported key wrap algorithm");
    } else {
      size_t len;
      if (!cms_ecc_shared_info(&wrap_algid, has_ukm ? CBS_data(&ukm) : NULL, CBS_len(&ukm),
                               (size_t)kek_len, &ri->owned_shared_info, &len)) {
        *oom = 1;
        return 0;
      }
      ri->shared_info.data = ri->owned_shared_info;
      ri->shared_info.len = len;
    }
  }
  return 1;
}

/* parse_cipher reads the contentEncryptionAlgorithm into |env|. An unknown cipher
 * leaves env->cipher at CMS_CIPHER_NONE; bad parameters of a known one are malformed. */
static int parse_cipher(CBS *in, CMS_ENVELOPE *env) {
  CBS oid, params, iv, gcm;
  uint64_t icv_len = 12;
  if (!cms_get_algid(in, &oid, &params)) {
    return 0;
  }
  cms_oid_text(&oid, env->cipher_oid, sizeof(env->cipher_oid));
  int id = cms_oid_find(&oid);
  int cipher = id == CMS_OID_AES128_CBC     ? CMS_CIPHER_AES128_CBC
               : id == CMS_OID_AES192_CBC   ? CMS_CIPHER_AES192_CBC
               : id == CMS_OID_AES256_CBC   ? CMS_CIPHER_AES256_CBC
               : id == CMS_OID_DES_EDE3_CBC ? CMS_CIPHER_DES_EDE3_CBC
               : id == CMS_OID_AES128_GCM   ? CMS_CIPHER_AES128_GCM
               : id == CMS_OID_AES192_GCM   ? CMS_CIPHER_AES192_GCM
               : id == CMS_OID_AES256_GCM   ? CMS_CIPHER_AES256_GCM
                                            : CMS_CIPHER_NONE;
  if (cipher == CMS_CIPHER_NONE) {
    return 1;
  }
  if (cms_cipher_is_aead(cipher)) {
    /* GCMParameters ::= SEQUENCE { aes-nonce OCTET STRING, aes-ICVlen INTEGER DEFAULT 12 } */
    if (!CBS_get_asn1(&params, &gcm, CBS_ASN1_SEQUENCE) || CBS_len(&params) != 0 ||
        !CBS_get_asn1(&gcm, &iv, CBS_ASN1_OCTETSTRING) || CBS_len(&iv) < 8 ||
        CBS_len(&iv) > 64 ||
        (CBS_len(&gcm) != 0 && !CBS_get_asn1_uint64(&gcm, &icv_len)) ||
        CBS_len(&gcm) != 0 || icv_len < 12 || icv_len > 16) {
      return 0;
    }
    if (!env->auth) {
      return 1; /* GCM belongs in AuthEnvelopedData: unsupported elsewhere */
    }
    env->tag_len = (size_t)icv_len;
  } else {
    size_t iv_len = cipher == CMS_CIPHER_DES_EDE3_CBC ? 8 : 16;
    if (!CBS_get_asn1(&params, &iv, CBS_ASN1_OCTETSTRING) || CBS_len(&params) != 0 ||
        CBS_len(&iv) != iv_len) {
      return 0;
    }
    if (env->auth) {
      return 1; /* AuthEnvelopedData needs an authenticated cipher */
    }
  }
  to_buf(&env->iv, &iv);
  env->cipher = cipher;
  return 1;
}

/* malformed sets |err| for input that is not a well-formed (Auth)EnvelopedData. */
static int malformed(STATUS *err, const char *what) {
  return status_set(err, STATUS_INVALID_ARGUMENT, "malformed EnvelopedData: %s", what);
}

int cms_envelope_parse(const uint8_t *in, size_t in_len, CMS_ENVELOPE **out, STATUS *err) {
  CMS_ENVELOPE *env = NULL;
  CBS der, ci, oid, wrap, body, ris, ri, eci, content_type, content, attrs, mac;
  uint64_t version;
  size_t capacity = 0;
  int has_attrs = 0, oom = 0;
  uint8_t *storage = NULL;
  *out = NULL;
  env = cms_calloc(1, sizeof(*env));
  if (env == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  if (!cms_ber_to_der(in, in_len, &der, &storage)) {
    malformed(err, "not a BER encoding (truncated, trailing data or too deep)");
    goto err;
  }
  if (storage == NULL) {
    /* Already DER: keep our own copy, since the result points into it. */
    storage = OPENSSL_malloc(CBS_len(&der) + 1);
    if (storage == NULL) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
      goto err;
    }
    memcpy(storage, CBS_data(&der), CBS_len(&der));
    CBS_init(&der, storage, CBS_len(&der));
  }
  env->owned_der = storage;
  if (!CBS_get_asn1(&der, &ci, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&ci, &oid, CBS_ASN1_OBJECT)) {
    malformed(err, "not a ContentInfo");
    goto err;
  }
  if (cms_oid_is(&oid, CMS_OID_AUTH_ENVELOPED_DATA)) {
    env->auth = 1;
  } else if (!cms_oid_is(&oid, CMS_OID_ENVELOPED_DATA)) {
    malformed(err, "the content type is not enveloped-data or authEnveloped-data");
    goto err;
  }
  if (!CBS_get_asn1(&ci, &wrap, CMS_TAG_CONSTRUCTED(0)) || CBS_len(&ci) != 0 ||
      !CBS_get_asn1(&wrap, &body, CBS_ASN1_SEQUENCE) || CBS_len(&wrap) != 0 ||
      !CBS_get_asn1_uint64(&body, &version) || version > 4 ||
      !CBS_get_optional_asn1(&body, NULL, NULL, CMS_TAG_CONSTRUCTED(0)) ||
      !CBS_get_asn1(&body, &ris, CBS_ASN1_SET) ||
      !CBS_get_asn1(&body, &eci, CBS_ASN1_SEQUENCE)) {
    malformed(err, "bad header");
    goto err;
  }
  while (CBS_len(&ris) != 0) {
    unsigned tag;
    if (!CBS_get_any_asn1(&ris, &ri, &tag)) {
      malformed(err, "bad recipientInfos");
      goto err;
    }
    if (tag == CBS_ASN1_SEQUENCE) {
      CMS_RECIPIENT_INFO *r = add_recipient(env, &capacity);
      if (r == NULL) {
        oom = 1;
      }
      if (r == NULL || !parse_ktri(ri, r)) {
        malformed(err, "bad KeyTransRecipientInfo");
        goto err;
      }
    } else if (tag == CMS_TAG_CONSTRUCTED(1)) {
      if (!parse_kari(ri, env, &capacity, &oom)) {
        malformed(err, "bad KeyAgreeRecipientInfo");
        goto err;
      }
    } else {
      CMS_RECIPIENT_INFO *r = add_recipient(env, &capacity);
      if (r == NULL) {
        oom = 1;
        malformed(err, "too many recipients");
        goto err;
      }
      r->type = CMS_RI_OTHER;
      unsupported(r, "unsupported recipient type [%u]", tag & CBS_ASN1_TAG_NUMBER_MASK);
    }
  }
  if (env->num_recipients == 0) {
    malformed(err, "no recipients");
    goto err;
  }
  if (!CBS_get_asn1(&eci, &content_type, CBS_ASN1_OBJECT) || !parse_cipher(&eci, env)) {
    malformed(err, "bad EncryptedContentInfo");
    goto err;
  }
  if (CBS_len(&eci) == 0) {
    malformed(err, "no encryptedContent (detached encrypted content is not supported)");
    goto err;
  }
  if (!cms_get_implicit_octets(&eci, 0, &content, &env->owned_content) || CBS_len(&eci) != 0) {
    malformed(err, "bad encryptedContent");
    goto err;
  }
  to_buf(&env->encrypted_content, &content);
  cms_oid_text(&content_type, env->content_type, sizeof(env->content_type));
  env->content_is_data = cms_oid_is(&content_type, CMS_OID_DATA);
  if (env->auth) {
    if (!CBS_get_optional_asn1(&body, &attrs, &has_attrs, CMS_TAG_CONSTRUCTED(1)) ||
        !CBS_get_asn1(&body, &mac, CBS_ASN1_OCTETSTRING) ||
        !CBS_get_optional_asn1(&body, NULL, NULL, CMS_TAG_CONSTRUCTED(2)) ||
        CBS_len(&body) != 0) {
      malformed(err, "bad AuthEnvelopedData trailer");
      goto err;
    }
    if (env->cipher != CMS_CIPHER_NONE && CBS_len(&mac) != env->tag_len) {
      malformed(err, "the mac length differs from the GCM parameters");
      goto err;
    }
    to_buf(&env->tag, &mac);
    if (has_attrs) {
      /* RFC 5083: the authenticated attributes enter GCM as their DER SET OF. */
      CBB cbb, set;
      size_t len;
      if (!CBB_init(&cbb, CBS_len(&attrs) + 8) || !CBB_add_asn1(&cbb, &set, CBS_ASN1_SET) ||
          !CBB_add_bytes(&set, CBS_data(&attrs), CBS_len(&attrs)) ||
          !CBB_finish(&cbb, &env->owned_aad, &len)) {
        CBB_cleanup(&cbb);
        status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto err;
      }
      env->aad.data = env->owned_aad;
      env->aad.len = len;
    }
  } else if (!CBS_get_optional_asn1(&body, NULL, NULL, CMS_TAG_CONSTRUCTED(1)) ||
             CBS_len(&body) != 0) {
    malformed(err, "bad EnvelopedData trailer");
    goto err;
  }
  *out = env;
  return 1;

err:
  if (oom) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory or more than %d recipients",
               CMS_DECRYPT_MAX_RECIPIENTS);
  }
  if (env != NULL && env->owned_der == NULL) {
    OPENSSL_free(storage);
  }
  cms_envelope_free(env);
  return 0;
}

int cms_recipient_matches_cert(const CMS_ENVELOPE *env, size_t i, const uint8_t *cert_der,
                               size_t cert_len) {
  CMS_CERT cert;
  CBS a, b;
  if (i >= env->num_recipients || !cms_cert_parse(&cert, cert_der, cert_len)) {
    return 0;
  }
  const CMS_RECIPIENT_INFO *ri = &env->recipients[i];
  if (ri->rid_is_ski) {
    CBS_init(&a, ri->rid_ski.data, ri->rid_ski.len);
    return cms_cert_has_ski(&cert, &a);
  }
  if (ri->type == CMS_RI_OTHER) {
    return 0;
  }
  CBS_init(&a, ri->rid_issuer.data, ri->rid_issuer.len);
  CBS_init(&b, ri->rid_serial.data, ri->rid_serial.len);
  return cms_cert_has_issuer_serial(&cert, &a, &b);
}

int cms_envelope_unwrap_request(const CMS_ENVELOPE *env, size_t i, CMS_UNWRAP_REQUEST *out,
                                STATUS *err) {
  memset(out, 0, sizeof(*out));
  if (i >= env->num_recipients) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "no recipient %zu", i);
  }
  const CMS_RECIPIENT_INFO *ri = &env->recipients[i];
  if (ri->method == CMS_KEY_NONE) {
    return status_set(err, STATUS_UNIMPLEMENTED, "%s", ri->reason);
  }
  if (env->cipher == CMS_CIPHER_NONE) {
    return status_set(err, STATUS_UNIMPLEMENTED, "unsupported content encryption %s%s",
                      env->cipher_oid, env->auth ? " in AuthEnvelopedData" : "");
  }
  out->method = ri->method;
  out->cek_len = cms_cipher_key_len(env->cipher);
  out->encrypted_key = ri->encrypted_key;
  out->oaep_md = ri->oaep_md;
  out->mgf1_md = ri->mgf1_md;
  out->oaep_label = ri->oaep_label;
  out->peer_point = ri->originator_point;
  out->kdf_md = ri->kdf_md;
  out->kek_len = ri->kek_len;
  out->shared_info = ri->shared_info;
  return 1;
}

/* ct_lt returns all ones if |a| < |b|, else 0, without branching (values < 2^31). */
static size_t ct_lt(size_t a, size_t b) {
  return (size_t)0 - ((a - b) >> (sizeof(size_t) * 8 - 1));
}

/* ct_eq returns all ones if |a| == |b|, else 0, without branching (values < 2^31). */
static size_t ct_eq(size_t a, size_t b) {
  return ~(ct_lt(a, b) | ct_lt(b, a));
}

/* cbc_unpad checks PKCS#7 padding of the last block of |buf| in constant time and sets
 * |*out_len|. Returns 1 if the padding is good. */
static int cbc_unpad(const uint8_t *buf, size_t len, size_t block, size_t *out_len) {
  size_t pad = buf[len - 1];
  size_t good = ct_lt(0, pad) & ~ct_lt(block, pad);
  for (size_t i = 0; i < block; i++) {
    size_t in_pad = ct_lt(i, pad);
    good &= ~in_pad | ct_eq(buf[len - 1 - i], pad);
  }
  *out_len = len - (pad & good);
  return (int)(good & 1);
}

int cms_envelope_decrypt(const CMS_ENVELOPE *env, const uint8_t *cek, size_t cek_len,
                         uint8_t **out, size_t *out_len, STATUS *err) {
  const EVP_CIPHER *evp = NULL;
  const EVP_AEAD *aead = NULL;
  EVP_CIPHER_CTX ctx;
  EVP_AEAD_CTX actx;
  uint8_t *buf = NULL;
  size_t len = env->encrypted_content.len, plain_len = 0;
  int n = 0, ok = 0;
  *out = NULL;
  *out_len = 0;
  EVP_CIPHER_CTX_init(&ctx);
  EVP_AEAD_CTX_zero(&actx);
  switch (env->cipher) {
    case CMS_CIPHER_AES128_CBC:
      evp = EVP_aes_128_cbc();
      break;
    case CMS_CIPHER_AES192_CBC:
      evp = EVP_aes_192_cbc();
      break;
    case CMS_CIPHER_AES256_CBC:
      evp = EVP_aes_256_cbc();
      break;
    case CMS_CIPHER_DES_EDE3_CBC:
      evp = EVP_des_ede3_cbc();
      break;
    case CMS_CIPHER_AES128_GCM:
      aead = EVP_aead_aes_128_gcm();
      break;
    case CMS_CIPHER_AES192_GCM:
      aead = EVP_aead_aes_192_gcm();
      break;
    case CMS_CIPHER_AES256_GCM:
      aead = EVP_aead_aes_256_gcm();
      break;
    default:
      status_set(err, STATUS_UNIMPLEMENTED, "unsupported content encryption %s",
                 env->cipher_oid);
      goto out;
  }
  if (len > 0x7fffff00) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "encrypted content too large");
    goto out;
  }
  buf = OPENSSL_malloc(len + 1);
  if (buf == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto out;
  }
  if (cek_len != cms_cipher_key_len(env->cipher)) {
    status_set(err, STATUS_DATA_LOSS, CMS_DECRYPT_FAILED);
    goto out;
  }
  if (aead != NULL) {
    if (!EVP_AEAD_CTX_init(&actx, aead, cek, cek_len, env->tag_len, NULL) ||
        !EVP_AEAD_CTX_open_gather(&actx, buf, env->iv.data, env->iv.len,
                                  env->encrypted_content.data, len, env->tag.data,
                                  env->tag.len, env->aad.data, env->aad.len)) {
      status_set(err, STATUS_DATA_LOSS, CMS_DECRYPT_FAILED);
      goto out;
    }
    plain_len = len;
  } else {
    size_t block = (size_t)EVP_CIPHER_block_size(evp);
    if (len == 0 || len % block != 0 || !EVP_DecryptInit_ex(&ctx, evp, NULL, cek, env->iv.data) ||
        !EVP_CIPHER_CTX_set_padding(&ctx, 0) ||
        !EVP_DecryptUpdate(&ctx, buf, &n, env->encrypted_content.data, (int)len) ||
        (size_t)n != len || !cbc_unpad(buf, len, block, &plain_len)) {
      status_set(err, STATUS_DATA_LOSS, CMS_DECRYPT_FAILED);
      goto out;
    }
  }
  *out = buf;
  *out_len = plain_len;
  buf = NULL;
  ok = 1;

out:
  ERR_clear_error();
  if (buf != NULL) {
    OPENSSL_cleanse(buf, len);
    OPENSSL_free(buf);
  }
  EVP_CIPHER_CTX_cleanup(&ctx);
  EVP_AEAD_CTX_cleanup(&actx);
  return ok;
}
