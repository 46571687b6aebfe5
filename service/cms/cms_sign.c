/* cms_sign.c: SignedData in two steps around the keystore's signature. */
#include "service/cms/cms_sign.h"

#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>

#include "service/cms/cms_asn1.h"
#include "service/cms/cms_cert.h"
#include "service/cms/cms_sigalg.h"

/* kStateVersion tags our state encoding, so a state from another build is refused. */
#define kStateVersion 1

/* kCapabilities is our smimeCapabilities list, most preferred first (RFC 8551 section
 * 2.5.2): what we can decrypt, AES-256-CBC first because it is what every client
 * reads, then the AES-GCM ciphers of AuthEnvelopedData. */
static const int kCapabilities[] = {
    CMS_OID_AES256_CBC,
    CMS_OID_AES128_CBC,
    CMS_OID_AES256_GCM,
    CMS_OID_AES128_GCM,
};

void cms_sign_request_free(CMS_SIGN_REQUEST *req) {
  if (req == NULL) {
    return;
  }
  OPENSSL_free(req->tbs);
  OPENSSL_free(req->state);
  OPENSSL_free(req);
}

/* add_attribute opens an Attribute with type |oid| in |attrs| and its one-value SET in
 * |*value_set|; the caller writes the value and flushes. */
static int add_attribute(CBB *attrs, CBB *attr, CBB *value_set, int oid) {
  return CBB_add_asn1(attrs, attr, CBS_ASN1_SEQUENCE) && cms_add_oid(attr, oid) &&
         CBB_add_asn1(attr, value_set, CBS_ASN1_SET);
}

/* build_signed_attrs writes the DER SET OF signed attributes, sorted by encoding as DER
 * requires of a SET OF. */
static int build_signed_attrs(const uint8_t *digest, size_t digest_len,
                              int64_t signing_time, int capabilities, uint8_t **out,
                              size_t *out_len) {
  CBB cbb, set, attr, values, caps, cap;
  if (!CBB_init(&cbb, 256) || !CBB_add_asn1(&cbb, &set, CBS_ASN1_SET) ||
      !add_attribute(&set, &attr, &values, CMS_OID_ATTR_CONTENT_TYPE) ||
      !cms_add_oid(&values, CMS_OID_DATA) || !CBB_flush(&set) ||
      !add_attribute(&set, &attr, &values, CMS_OID_ATTR_SIGNING_TIME) ||
      !cms_add_time(&values, signing_time) || !CBB_flush(&set) ||
      !add_attribute(&set, &attr, &values, CMS_OID_ATTR_MESSAGE_DIGEST) ||
      !CBB_add_asn1_octet_string(&values, digest, digest_len) || !CBB_flush(&set)) {
    goto err;
  }
  if (capabilities) {
    if (!add_attribute(&set, &attr, &values, CMS_OID_ATTR_SMIME_CAPABILITIES) ||
        !CBB_add_asn1(&values, &caps, CBS_ASN1_SEQUENCE)) {
      goto err;
    }
    for (size_t i = 0; i < sizeof(kCapabilities) / sizeof(kCapabilities[0]); i++) {
      if (!CBB_add_asn1(&caps, &cap, CBS_ASN1_SEQUENCE) ||
          !cms_add_oid(&cap, kCapabilities[i]) || !CBB_flush(&caps)) {
        goto err;
      }
    }
    if (!CBB_flush(&set)) {
      goto err;
    }
  }
  if (!CBB_flush_asn1_set_of(&set) || !CBB_finish(&cbb, out, out_len)) {
    goto err;
  }
  return 1;

err:
  CBB_cleanup(&cbb);
  return 0;
}

/* check_one_cert returns 1 if |cert| is exactly one DER certificate. */
static int check_one_cert(const uint8_t *der, size_t len) {
  CMS_CERT cert;
  return cms_cert_parse(&cert, der, len);
}

/* encode_state writes our state: everything cms_sign_finish needs except the content,
 * which the caller still has (it may be megabytes; no need to ship it twice). */
static int encode_state(int md, int scheme, int opaque, const uint8_t *cert, size_t cert_len,
                        const CMS_BUF *chain, size_t num_chain, const uint8_t *tbs,
                        size_t tbs_len, const uint8_t *content_digest, size_t digest_len,
                        uint8_t **out, size_t *out_len) {
  CBB cbb, seq, certs;
  if (!CBB_init(&cbb, 1024 + cert_len) || !CBB_add_asn1(&cbb, &seq, CBS_ASN1_SEQUENCE) ||
      !CBB_add_asn1_uint64(&seq, kStateVersion) || !CBB_add_asn1_uint64(&seq, (uint64_t)md) ||
      !CBB_add_asn1_uint64(&seq, (uint64_t)scheme) || !CBB_add_asn1_bool(&seq, opaque) ||
      !CBB_add_asn1_octet_string(&seq, cert, cert_len) ||
      !CBB_add_asn1(&seq, &certs, CBS_ASN1_SEQUENCE)) {
    goto err;
  }
  for (size_t i = 0; i < num_chain; i++) {
    if (!CBB_add_asn1_octet_string(&certs, chain[i].data, chain[i].len)) {
      goto err;
    }
  }
  if (!CBB_add_asn1_octet_string(&seq, tbs, tbs_len) ||
      !CBB_add_asn1_octet_string(&seq, content_digest, digest_len) ||
      !CBB_finish(&cbb, out, out_len)) {
    goto err;
  }
  return 1;

err:
  CBB_cleanup(&cbb);
  return 0;
}

int cms_sign_prepare(const uint8_t *content, size_t content_len,
                     const CMS_SIGN_OPTIONS *options, const uint8_t *signer_cert,
                     size_t signer_cert_len, const CMS_BUF *chain, size_t num_chain,
                     int64_t signing_time, CMS_SIGN_REQUEST **out, STATUS *err) {
  static const CMS_SIGN_OPTIONS kDefaults = {0, 0, 0, 0};
  CMS_SIGN_REQUEST *req = NULL;
  CMS_CERT cert;
  EVP_PKEY *key = NULL;
  uint8_t content_digest[EVP_MAX_MD_SIZE];
  size_t content_digest_len;
  int md, scheme;
  *out = NULL;
  if (options == NULL) {
    options = &kDefaults;
  }
  if (!cms_cert_parse(&cert, signer_cert, signer_cert_len)) {
    status_set(err, STATUS_INVALID_ARGUMENT, "the signer certificate is not DER X.509");
    goto err;
  }
  key = cms_cert_public_key(&cert);
  if (key == NULL) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "the signer certificate's key type is not supported for signing");
    goto err;
  }
  for (size_t i = 0; i < num_chain; i++) {
    if (!check_one_cert(chain[i].data, chain[i].len)) {
      status_set(err, STATUS_INVALID_ARGUMENT, "chain certificate %zu is not DER X.509",
                 i);
      goto err;
    }
  }
  md = options->md == CMS_MD_NONE ? CMS_MD_SHA256 : options->md;
  switch (EVP_PKEY_id(key)) {
    case EVP_PKEY_RSA:
      scheme = options->rsa_pss ? CMS_SIG_RSA_PSS : CMS_SIG_RSA_PKCS1;
      break;
    case EVP_PKEY_EC:
      scheme = CMS_SIG_ECDSA;
      break;
    case EVP_PKEY_ED25519:
      scheme = CMS_SIG_ED25519;
      if (options->md == CMS_MD_NONE) {
        md = CMS_MD_SHA512;
      }
      if (md != CMS_MD_SHA512) {
        status_set(err, STATUS_INVALID_ARGUMENT, "Ed25519 signs with SHA-512 (RFC 8419)");
        goto err;
      }
      break;
    default:
      status_set(err, STATUS_INVALID_ARGUMENT,
                 "the signer certificate's key type is not supported for signing");
      goto err;
  }
  if (md != CMS_MD_SHA256 && md != CMS_MD_SHA384 && md != CMS_MD_SHA512) {
    status_set(err, STATUS_INVALID_ARGUMENT, "signing hash %s is not supported",
               cms_md_name(md));
    goto err;
  }
  req = cms_calloc(1, sizeof(*req));
  if (req == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  req->scheme = scheme;
  req->md = md;
  if (!cms_digest(md, content, content_len, content_digest, &content_digest_len) ||
      !build_signed_attrs(content_digest, content_digest_len, signing_time,
                          !options->no_smime_capabilities, &req->tbs, &req->tbs_len) ||
      !cms_digest(md, req->tbs, req->tbs_len, req->digest, &req->digest_len) ||
      !encode_state(md, scheme, options->opaque != 0, signer_cert, signer_cert_len, chain,
                    num_chain, req->tbs, req->tbs_len, content_digest, content_digest_len,
                    &req->state, &req->state_len)) {
    status_set(err, STATUS_INTERNAL, "cannot encode the signed attributes");
    goto err;
  }
  EVP_PKEY_free(key);
  *out = req;
  return 1;

err:
  EVP_PKEY_free(key);
  cms_sign_request_free(req);
  return 0;
}

/* SIGN_STATE is a decoded state; its CBSs point into the state bytes. */
typedef struct sign_state_st {
  int md;
  int scheme;
  int opaque;
  CBS cert;
  CBS chain; /* SEQUENCE contents: OCTET STRINGs */
  CBS tbs;
  CBS content_digest;
} SIGN_STATE;

/* decode_state parses what encode_state wrote, strictly. */
static int decode_state(const uint8_t *in, size_t len, SIGN_STATE *out) {
  CBS cbs, seq, chain, one;
  uint64_t version, md, scheme;
  int opaque;
  CMS_CERT cert;
  CBS_init(&cbs, in, len);
  if (!CBS_get_asn1(&cbs, &seq, CBS_ASN1_SEQUENCE) || CBS_len(&cbs) != 0 ||
      !CBS_get_asn1_uint64(&seq, &version) || version != kStateVersion ||
      !CBS_get_asn1_uint64(&seq, &md) || !CBS_get_asn1_uint64(&seq, &scheme) ||
      !CBS_get_asn1_bool(&seq, &opaque) ||
      !CBS_get_asn1(&seq, &out->cert, CBS_ASN1_OCTETSTRING) ||
      !CBS_get_asn1(&seq, &out->chain, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&seq, &out->tbs, CBS_ASN1_OCTETSTRING) ||
      !CBS_get_asn1(&seq, &out->content_digest, CBS_ASN1_OCTETSTRING) ||
      CBS_len(&seq) != 0 || cms_md_size((int)md) != CBS_len(&out->content_digest) ||
      !cms_cert_parse(&cert, CBS_data(&out->cert), CBS_len(&out->cert))) {
    return 0;
  }
  chain = out->chain;
  while (CBS_len(&chain) != 0) {
    if (!CBS_get_asn1(&chain, &one, CBS_ASN1_OCTETSTRING) ||
        !cms_cert_parse(&cert, CBS_data(&one), CBS_len(&one))) {
      return 0;
    }
  }
  out->md = (int)md;
  out->scheme = (int)scheme;
  out->opaque = opaque;
  return 1;
}

/* add_certificates writes certificates [0] IMPLICIT: the signer's and the chain,
 * without repeats, in DER SET OF order. */
static int add_certificates(CBB *sd, const SIGN_STATE *st) {
  CBB certs;
  CBS chain, one, seen, prev;
  if (!CBB_add_asn1(sd, &certs, CMS_TAG_CONSTRUCTED(0)) ||
      !CBB_add_bytes(&certs, CBS_data(&st->cert), CBS_len(&st->cert))) {
    return 0;
  }
  chain = st->chain;
  while (CBS_get_asn1(&chain, &one, CBS_ASN1_OCTETSTRING)) {
    int repeat = CBS_mem_equal(&one, CBS_data(&st->cert), CBS_len(&st->cert));
    seen = st->chain;
    while (!repeat && CBS_get_asn1(&seen, &prev, CBS_ASN1_OCTETSTRING) &&
           CBS_data(&prev) != CBS_data(&one)) {
      repeat = CBS_mem_equal(&one, CBS_data(&prev), CBS_len(&prev));
    }
    if (!repeat && !CBB_add_bytes(&certs, CBS_data(&one), CBS_len(&one))) {
      return 0;
    }
  }
  return CBB_flush_asn1_set_of(&certs) && CBB_flush(sd);
}

int cms_sign_finish(const uint8_t *state, size_t state_len, const uint8_t *content,
                    size_t content_len, const uint8_t *signature, size_t signature_len,
                    uint8_t **out, size_t *out_len, STATUS *err) {
  SIGN_STATE st;
  CMS_CERT cert;
  CMS_SIGALG alg;
  EVP_PKEY *key = NULL;
  CBB cbb, ci, wrap, sd, set, eci, econtent, sis, si, attrs;
  CBS tbs_contents, tbs;
  uint8_t digest[EVP_MAX_MD_SIZE];
  size_t digest_len;
  *out = NULL;
  *out_len = 0;
  CBB_zero(&cbb);
  if (!decode_state(state, state_len, &st) ||
      !cms_cert_parse(&cert, CBS_data(&st.cert), CBS_len(&st.cert))) {
    status_set(err, STATUS_INVALID_ARGUMENT, "not a signing state of this service");
    goto err;
  }
  if (content == NULL || !cms_digest(st.md, content, content_len, digest, &digest_len) ||
      !CBS_mem_equal(&st.content_digest, digest, digest_len)) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "the content differs from the one the signature was prepared for");
    goto err;
  }
  /* Check the keystore's signature before sending it out: a key that does not belong
   * to the certificate, or a faulty RSA-CRT result, must not leave the service. */
  memset(&alg, 0, sizeof(alg));
  alg.scheme = st.scheme;
  alg.md = st.md;
  alg.mgf1_md = st.md;
  alg.salt_len = (int)cms_md_size(st.md);
  key = cms_cert_public_key(&cert);
  if (key == NULL ||
      !cms_digest(st.md, CBS_data(&st.tbs), CBS_len(&st.tbs), digest, &digest_len) ||
      !cms_sigalg_verify(key, &alg, st.md, digest, digest_len, CBS_data(&st.tbs),
                         CBS_len(&st.tbs), signature, signature_len)) {
    status_set(err, STATUS_INTERNAL,
               "the signature does not verify with the signer certificate (key and "
               "certificate do not match?)");
    goto err;
  }
  tbs = st.tbs;
  if (!CBS_get_asn1(&tbs, &tbs_contents, CBS_ASN1_SET) || CBS_len(&tbs) != 0) {
    status_set(err, STATUS_INVALID_ARGUMENT, "not a signing state of this service");
    goto err;
  }
  if (!CBB_init(&cbb, (st.opaque ? content_len : 0) + 4096) ||
      !CBB_add_asn1(&cbb, &ci, CBS_ASN1_SEQUENCE) || !cms_add_oid(&ci, CMS_OID_SIGNED_DATA) ||
      !CBB_add_asn1(&ci, &wrap, CMS_TAG_CONSTRUCTED(0)) ||
      !CBB_add_asn1(&wrap, &sd, CBS_ASN1_SEQUENCE) || !CBB_add_asn1_uint64(&sd, 1) ||
      !CBB_add_asn1(&sd, &set, CBS_ASN1_SET) || !cms_add_digest_algid(&set, st.md) ||
      !CBB_add_asn1(&sd, &eci, CBS_ASN1_SEQUENCE) || !cms_add_oid(&eci, CMS_OID_DATA) ||
      (st.opaque && (!CBB_add_asn1(&eci, &econtent, CMS_TAG_CONSTRUCTED(0)) ||
                     !CBB_add_asn1_octet_string(&econtent, content, content_len))) ||
      !CBB_flush(&sd) || !add_certificates(&sd, &st) ||
      !CBB_add_asn1(&sd, &sis, CBS_ASN1_SET) || !CBB_add_asn1(&sis, &si, CBS_ASN1_SEQUENCE) ||
      !CBB_add_asn1_uint64(&si, 1) || !cms_add_issuer_serial(&si, &cert) ||
      !cms_add_digest_algid(&si, st.md) ||
      !CBB_add_asn1(&si, &attrs, CMS_TAG_CONSTRUCTED(0)) ||
      !CBB_add_bytes(&attrs, CBS_data(&tbs_contents), CBS_len(&tbs_contents)) ||
      !cms_add_sigalg(&si, st.scheme, st.md) ||
      !CBB_add_asn1_octet_string(&si, signature, signature_len) ||
      !CBB_finish(&cbb, out, out_len)) {
    status_set(err, STATUS_INTERNAL, "cannot encode the SignedData");
    goto err;
  }
  EVP_PKEY_free(key);
  return 1;

err:
  ERR_clear_error();
  CBB_cleanup(&cbb);
  EVP_PKEY_free(key);
  return 0;
}
