/* cms_verify.c: SignedData verification. */
#include "service/cms/cms_verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>

#include "service/cms/cms_asn1.h"
#include "service/cms/cms_cert.h"
#include "service/cms/cms_sigalg.h"

/* VERIFY_CTX is what every SignerInfo of one message is checked against. */
typedef struct verify_ctx_st {
  CBS econtent_type;          /* OID contents */
  const uint8_t *content;     /* what is verified: detached content or eContent */
  size_t content_len;
  int content_mismatch;       /* detached content and eContent both there, different */
  CMS_CERT *certs;            /* carried certificates, then the caller's */
  size_t num_certs;
  uint8_t digests[CMS_MD_SHA512 + 1][EVP_MAX_MD_SIZE]; /* content digest per hash */
  int have_digest[CMS_MD_SHA512 + 1];
  int outline_only; /* cms_verify_outline: no certificate parsed, no digest, no signature */
} VERIFY_CTX;

static void signer_result_clear(CMS_SIGNER_RESULT *r) {
  OPENSSL_free(r->cert.data);
  OPENSSL_free(r->sid_ski.data);
  OPENSSL_free(r->sid_issuer.data);
  OPENSSL_free(r->sid_serial.data);
}

void cms_verify_result_free(CMS_VERIFY_RESULT *res) {
  if (res == NULL) {
    return;
  }
  for (size_t i = 0; i < res->num_signers; i++) {
    signer_result_clear(&res->signers[i]);
  }
  OPENSSL_free(res->signers);
  for (size_t i = 0; i < res->num_certs; i++) {
    OPENSSL_free(res->certs[i].data);
  }
  OPENSSL_free(res->certs);
  OPENSSL_free(res->content.data);
  OPENSSL_free(res);
}

/* copy_bytes sets |*out| to an owned copy of |data|. */
static int copy_bytes(CMS_BYTES *out, const uint8_t *data, size_t len) {
  out->data = OPENSSL_malloc(len > 0 ? len : 1);
  if (out->data == NULL) {
    return 0;
  }
  if (len > 0) {
    memcpy(out->data, data, len);
  }
  out->len = len;
  return 1;
}

/* signer_status sets the outcome of |r| with a printf-style reason. Returns 1: the
 * SignerInfo was dealt with (only allocation failures abort the whole message). */
static int signer_status(CMS_SIGNER_RESULT *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int signer_status(CMS_SIGNER_RESULT *r, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
  va_end(ap);
  r->status = status;
  return 1;
}

/* content_digest returns |md| over the verified content, computed once per hash. */
static const uint8_t *content_digest(VERIFY_CTX *ctx, int md) {
  size_t len;
  if (md <= CMS_MD_NONE || md > CMS_MD_SHA512) {
    return NULL;
  }
  if (!ctx->have_digest[md]) {
    if (!cms_digest(md, ctx->content, ctx->content_len, ctx->digests[md], &len)) {
      return NULL;
    }
    ctx->have_digest[md] = 1;
  }
  return ctx->digests[md];
}

/* SIGNED_ATTRS holds the attributes a verifier must look at. */
typedef struct signed_attrs_st {
  CBS content_type;   /* OID contents */
  CBS message_digest; /* OCTET STRING contents */
  int has_signing_time;
  int64_t signing_time;
} SIGNED_ATTRS;

/* parse_signed_attrs reads the SignedAttributes contents |attrs|. contentType and
 * messageDigest must each be there once with one value (RFC 5652 section 11); a
 * signingTime likewise if present. Returns 0 with |why| set when malformed. */
static int parse_signed_attrs(CBS attrs, SIGNED_ATTRS *out, const char **why) {
  CBS attr, type, values, value;
  int have_type = 0, have_digest = 0;
  memset(out, 0, sizeof(*out));
  if (CBS_len(&attrs) == 0) {
    *why = "empty signed attributes";
    return 0;
  }
  while (CBS_len(&attrs) != 0) {
    if (!CBS_get_asn1(&attrs, &attr, CBS_ASN1_SEQUENCE) ||
        !CBS_get_asn1(&attr, &type, CBS_ASN1_OBJECT) ||
        !CBS_get_asn1(&attr, &values, CBS_ASN1_SET) || CBS_len(&attr) != 0 ||
        CBS_len(&values) == 0) {
      *why = "malformed signed attribute";
      return 0;
    }
    int id = cms_oid_find(&type);
    if (id == CMS_OID_ATTR_CONTENT_TYPE) {
      if (have_type || !CBS_get_asn1(&values, &value, CBS_ASN1_OBJECT) ||
          CBS_len(&values) != 0) {
        *why = "malformed or repeated contentType attribute";
        return 0;
      }
      out->content_type = value;
      have_type = 1;
    } else if (id == CMS_OID_ATTR_MESSAGE_DIGEST) {
      if (have_digest || !CBS_get_asn1(&values, &value, CBS_ASN1_OCTETSTRING) ||
          CBS_len(&values) != 0) {
        *why = "malformed or repeated messageDigest attribute";
        return 0;
      }
      out->message_digest = value;
      have_digest = 1;
    } else if (id == CMS_OID_ATTR_SIGNING_TIME) {
      if (out->has_signing_time || !cms_get_time(&values, &out->signing_time) ||
          CBS_len(&values) != 0) {
        *why = "malformed or repeated signingTime attribute";
        return 0;
      }
      out->has_signing_time = 1;
    }
  }
  if (!have_type || !have_digest) {
    *why = have_type ? "signed attributes without messageDigest"
                     : "signed attributes without contentType";
    return 0;
  }
  return 1;
}

/* cert_matches_sid returns 1 if |cert| is named by the SignerIdentifier. */
static int cert_matches_sid(const CMS_CERT *cert, int is_ski, const CBS *ski,
                            const CBS *issuer, const CBS *serial) {
  return is_ski ? cms_cert_has_ski(cert, ski) : cms_cert_has_issuer_serial(cert, issuer, serial);
}

/* verify_signer checks one SignerInfo (contents |si|) into |r|. Returns 0 only when
 * memory ran out. */
static int verify_signer(VERIFY_CTX *ctx, CBS si, CMS_SIGNER_RESULT *r) {
  uint64_t version;
  CBS sid_issuer, sid_serial, sid_ski, attrs_contents, digest_oid, signature;
  CMS_SIGALG alg;
  SIGNED_ATTRS attrs;
  int is_ski = 0, has_attrs = 0, ok = 0;
  uint8_t *ski_storage = NULL, *tbs = NULL;
  size_t tbs_len = 0;
  const uint8_t *msg;
  size_t msg_len;
  uint8_t sig_digest[EVP_MAX_MD_SIZE];
  size_t sig_digest_len = 0;
  const char *why = NULL;
  char oid_text[64];
  EVP_PKEY *key = NULL;
  const CMS_CERT *chosen = NULL;
  const uint8_t *digest;
  int sig_ok = 0;
  CBB cbb, set;

  CBS_init(&sid_issuer, NULL, 0);
  CBS_init(&sid_serial, NULL, 0);
  CBS_init(&sid_ski, NULL, 0);
  memset(&attrs, 0, sizeof(attrs));
  if (!CBS_get_asn1_uint64(&si, &version) || (version != 1 && version != 3)) {
    ok = signer_status(r, CMS_SIGNER_MALFORMED, "SignerInfo version is not 1 or 3");
    goto out;
  }
  if (CBS_peek_asn1_tag(&si, CBS_ASN1_SEQUENCE)) {
    if (!cms_get_issuer_serial(&si, &sid_issuer, &sid_serial)) {
      ok = signer_status(r, CMS_SIGNER_MALFORMED, "malformed issuerAndSerialNumber");
      goto out;
    }
  } else {
    if (!cms_get_implicit_octets(&si, 0, &sid_ski, &ski_storage) || CBS_len(&sid_ski) == 0) {
      ok = signer_status(r, CMS_SIGNER_MALFORMED, "malformed signer identifier");
      goto out;
    }
    is_ski = 1;
  }
  r->sid_is_ski = is_ski;
  if (!(is_ski ? copy_bytes(&r->sid_ski, CBS_data(&sid_ski), CBS_len(&sid_ski))
               : copy_bytes(&r->sid_issuer, CBS_data(&sid_issuer), CBS_len(&sid_issuer)) &&
                     copy_bytes(&r->sid_serial, CBS_data(&sid_serial), CBS_len(&sid_serial)))) {
    goto out;
  }
  if (!cms_get_digest_algid(&si, &r->md, &digest_oid)) {
    ok = signer_status(r, CMS_SIGNER_MALFORMED, "malformed digestAlgorithm");
    goto out;
  }
  if (CBS_peek_asn1_tag(&si, CMS_TAG_CONSTRUCTED(0))) {
    if (!CBS_get_asn1(&si, &attrs_contents, CMS_TAG_CONSTRUCTED(0))) {
      ok = signer_status(r, CMS_SIGNER_MALFORMED, "malformed signed attributes");
      goto out;
    }
    has_attrs = 1;
  }
  if (!cms_get_sigalg(&si, &alg) || !CBS_get_asn1(&si, &signature, CBS_ASN1_OCTETSTRING) ||
      !CBS_get_optional_asn1(&si, NULL, NULL, CMS_TAG_CONSTRUCTED(1)) || CBS_len(&si) != 0) {
    ok = signer_status(r, CMS_SIGNER_MALFORMED, "malformed SignerInfo");
    goto out;
  }
  r->sig_scheme = alg.scheme;
  r->sig_md = alg.scheme == CMS_SIG_ED25519 ? CMS_MD_NONE
              : alg.md != CMS_MD_NONE       ? alg.md
                                            : r->md;
  if (has_attrs) {
    if (!parse_signed_attrs(attrs_contents, &attrs, &why)) {
      ok = signer_status(r, CMS_SIGNER_MALFORMED, "%s", why);
      goto out;
    }
    r->has_signing_time = attrs.has_signing_time;
    r->signing_time = attrs.signing_time;
  } else if (!cms_oid_is(&ctx->econtent_type, CMS_OID_DATA)) {
    ok = signer_status(r, CMS_SIGNER_MALFORMED,
                       "no signed attributes although the content type is not id-data");
    goto out;
  }
  if (r->md == CMS_MD_NONE) {
    cms_oid_text(&digest_oid, oid_text, sizeof(oid_text));
    ok = signer_status(r, CMS_SIGNER_UNSUPPORTED, "unsupported digest algorithm %s",
                       oid_text);
    goto out;
  }
  if (alg.scheme == CMS_SIG_NONE) {
    ok = signer_status(r, CMS_SIGNER_UNSUPPORTED, "unsupported signature algorithm");
    goto out;
  }
  if (ctx->outline_only) {
    ok = signer_status(r, CMS_SIGNER_UNCHECKED, "%s", "not checked (outline only)");
    goto out;
  }
  digest = content_digest(ctx, r->md);
  if (digest == NULL) {
    goto out;
  }

  /* What the signature covers: the DER SET OF the signed attributes as received, or
   * the content itself when there are none. */
  if (has_attrs) {
    if (!CBB_init(&cbb, CBS_len(&attrs_contents) + 8) ||
        !CBB_add_asn1(&cbb, &set, CBS_ASN1_SET) ||
        !CBB_add_bytes(&set, CBS_data(&attrs_contents), CBS_len(&attrs_contents)) ||
        !CBB_finish(&cbb, &tbs, &tbs_len)) {
      CBB_cleanup(&cbb);
      goto out;
    }
    msg = tbs;
    msg_len = tbs_len;
  } else {
    msg = ctx->content;
    msg_len = ctx->content_len;
  }
  if (alg.scheme != CMS_SIG_ED25519) {
    if (!has_attrs && r->sig_md == r->md) {
      sig_digest_len = cms_md_size(r->md);
      memcpy(sig_digest, digest, sig_digest_len);
    } else if (!cms_digest(r->sig_md, msg, msg_len, sig_digest, &sig_digest_len)) {
      goto out;
    }
  }

  /* The signer is whichever matching certificate's key verifies the signature: several
   * may match the sid (a look-alike certificate carried in the message, a renewed one in
   * the store), and the caller must judge the one that actually signed. */
  for (size_t i = 0, tried = 0; i < ctx->num_certs && !sig_ok; i++) {
    if (!cert_matches_sid(&ctx->certs[i], is_ski, &sid_ski, &sid_issuer, &sid_serial)) {
      continue;
    }
    if (tried++ == CMS_VERIFY_MAX_CANDIDATES) {
      break;
    }
    EVP_PKEY_free(key);
    key = cms_cert_public_key(&ctx->certs[i]);
    if (chosen == NULL) {
      chosen = &ctx->certs[i];
    }
    if (key != NULL && cms_sigalg_verify(key, &alg, r->sig_md, sig_digest, sig_digest_len,
                                         msg, msg_len, CBS_data(&signature),
                                         CBS_len(&signature))) {
      chosen = &ctx->certs[i];
      sig_ok = 1;
    }
  }
  if (chosen == NULL) {
    ok = signer_status(r, CMS_SIGNER_NO_CERT,
                       "no certificate for the signer in the message or given");
    goto out;
  }
  if (!copy_bytes(&r->cert, CBS_data(&chosen->der), CBS_len(&chosen->der))) {
    goto out;
  }
  EVP_PKEY_free(key);
  key = cms_cert_public_key(chosen);
  r->key_bits = key != NULL ? EVP_PKEY_bits(key) : 0;
  if (!sig_ok) {
    ok = signer_status(r, CMS_SIGNER_INVALID,
                       key == NULL ? "the signer certificate's key type is not supported"
                                   : "the signature does not verify with the signer's "
                                     "certificate");
    if (key == NULL) {
      r->status = CMS_SIGNER_UNSUPPORTED;
    }
    goto out;
  }
  if (has_attrs) {
    if (!CBS_mem_equal(&attrs.message_digest, digest, cms_md_size(r->md))) {
      ok = signer_status(r, CMS_SIGNER_INVALID,
                         "the content does not match the signed message digest (altered "
                         "after signing)");
      goto out;
    }
    if (!CBS_mem_equal(&attrs.content_type, CBS_data(&ctx->econtent_type),
                       CBS_len(&ctx->econtent_type))) {
      ok = signer_status(r, CMS_SIGNER_INVALID,
                         "the signed contentType differs from the content's type");
      goto out;
    }
  }
  if (ctx->content_mismatch) {
    ok = signer_status(r, CMS_SIGNER_INVALID,
                       "the content embedded in the signature differs from the signed "
                       "MIME part");
    goto out;
  }
  ok = signer_status(r, CMS_SIGNER_VALID, "%s", "");

out:
  ERR_clear_error();
  EVP_PKEY_free(key);
  OPENSSL_free(ski_storage);
  OPENSSL_free(tbs);
  return ok;
}

/* malformed sets |err| for a message that is not a well-formed SignedData. */
static int malformed(STATUS *err, const char *what) {
  return status_set(err, STATUS_INVALID_ARGUMENT, "malformed SignedData: %s", what);
}

/* verify_signed_data is cms_verify, or cms_verify_outline when |outline_only|. */
static int verify_signed_data(const uint8_t *in, size_t in_len, const uint8_t *detached,
                              size_t detached_len, const CMS_BUF *extra_certs,
                              size_t num_extra_certs, int outline_only,
                              CMS_VERIFY_RESULT **out, STATUS *err) {
  CMS_VERIFY_RESULT *res = NULL;
  VERIFY_CTX *ctx = NULL;
  uint8_t *storage = NULL;
  CBS der, ci, oid, wrap, sd, digest_algs, eci, econtent_wrap, econtent, certs, cert,
      signer_infos, si, count;
  uint64_t version;
  int has_econtent = 0, has_certs = 0;
  size_t num_carried = 0, num_signers = 0;
  *out = NULL;

  res = cms_calloc(1, sizeof(*res));
  ctx = cms_calloc(1, sizeof(*ctx));
  if (res == NULL || ctx == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  ctx->outline_only = outline_only;
  if (!cms_ber_to_der(in, in_len, &der, &storage)) {
    malformed(err, "not a BER encoding (truncated, trailing data or too deep)");
    goto err;
  }
  if (!CBS_get_asn1(&der, &ci, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&ci, &oid, CBS_ASN1_OBJECT)) {
    malformed(err, "not a ContentInfo");
    goto err;
  }
  if (!cms_oid_is(&oid, CMS_OID_SIGNED_DATA)) {
    malformed(err, "the content type is not signed-data");
    goto err;
  }
  if (!CBS_get_asn1(&ci, &wrap, CMS_TAG_CONSTRUCTED(0)) || CBS_len(&ci) != 0 ||
      !CBS_get_asn1(&wrap, &sd, CBS_ASN1_SEQUENCE) || CBS_len(&wrap) != 0 ||
      !CBS_get_asn1_uint64(&sd, &version) || version < 1 || version > 5 ||
      !CBS_get_asn1(&sd, &digest_algs, CBS_ASN1_SET) ||
      !CBS_get_asn1(&sd, &eci, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&eci, &ctx->econtent_type, CBS_ASN1_OBJECT) ||
      !CBS_get_optional_asn1(&eci, &econtent_wrap, &has_econtent, CMS_TAG_CONSTRUCTED(0)) ||
      CBS_len(&eci) != 0) {
    malformed(err, "bad SignedData header");
    goto err;
  }
  if (has_econtent && (!CBS_get_asn1(&econtent_wrap, &econtent, CBS_ASN1_OCTETSTRING) ||
                       CBS_len(&econtent_wrap) != 0)) {
    malformed(err, "eContent is not an OCTET STRING");
    goto err;
  }
  if (!CBS_get_optional_asn1(&sd, &certs, &has_certs, CMS_TAG_CONSTRUCTED(0)) ||
      !CBS_get_optional_asn1(&sd, NULL, NULL, CMS_TAG_CONSTRUCTED(1)) ||
      !CBS_get_asn1(&sd, &signer_infos, CBS_ASN1_SET) || CBS_len(&sd) != 0) {
    malformed(err, "bad certificates, crls or signerInfos");
    goto err;
  }
  cms_oid_text(&ctx->econtent_type, res->econtent_type, sizeof(res->econtent_type));
  res->econtent_is_data = cms_oid_is(&ctx->econtent_type, CMS_OID_DATA);

  /* The content: the caller's detached bytes win (they are what the reader sees). */
  if (detached != NULL) {
    ctx->content = detached;
    ctx->content_len = detached_len;
    ctx->content_mismatch =
        has_econtent && !CBS_mem_equal(&econtent, detached, detached_len);
  } else if (has_econtent) {
    ctx->content = CBS_data(&econtent);
    ctx->content_len = CBS_len(&econtent);
  } else {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "a detached signature needs the signed content, and none was given");
    goto err;
  }
  if (has_econtent) {
    if (!copy_bytes(&res->content, CBS_data(&econtent), CBS_len(&econtent))) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
      goto err;
    }
    res->has_content = 1;
  }

  /* Certificates: carried ones (CertificateChoices other than Certificate are
   * skipped), reported to the caller and used to find signers, then the caller's. */
  if (has_certs) {
    count = certs;
    while (CBS_len(&count) != 0) {
      unsigned tag;
      if (!CBS_get_any_asn1_element(&count, NULL, &tag, NULL)) {
        malformed(err, "bad certificates");
        goto err;
      }
      num_carried += tag == CBS_ASN1_SEQUENCE;
    }
  }
  if (num_carried + num_extra_certs > CMS_VERIFY_MAX_CERTS) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "more than %d certificates",
               CMS_VERIFY_MAX_CERTS);
    goto err;
  }
  res->certs = cms_calloc(num_carried + 1, sizeof(CMS_BYTES));
  ctx->certs = cms_calloc(num_carried + num_extra_certs + 1, sizeof(CMS_CERT));
  if (res->certs == NULL || ctx->certs == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  while (has_certs && CBS_len(&certs) != 0) {
    unsigned tag;
    if (!CBS_get_any_asn1_element(&certs, &cert, &tag, NULL)) {
      malformed(err, "bad certificates");
      goto err;
    }
    if (tag != CBS_ASN1_SEQUENCE) {
      continue;
    }
    if (!copy_bytes(&res->certs[res->num_certs], CBS_data(&cert), CBS_len(&cert))) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
      goto err;
    }
    res->num_certs++;
    /* Parse the caller's copy: it outlives |storage|. */
    if (!outline_only && cms_cert_parse(&ctx->certs[ctx->num_certs], res->certs[res->num_certs - 1].data,
                       res->certs[res->num_certs - 1].len)) {
      ctx->num_certs++;
    }
  }
  for (size_t i = 0; i < num_extra_certs && !outline_only; i++) {
    if (cms_cert_parse(&ctx->certs[ctx->num_certs], extra_certs[i].data,
                       extra_certs[i].len)) {
      ctx->num_certs++;
    }
  }

  /* Signers. */
  count = signer_infos;
  while (CBS_len(&count) != 0) {
    if (!CBS_get_asn1(&count, NULL, CBS_ASN1_SEQUENCE)) {
      malformed(err, "bad signerInfos");
      goto err;
    }
    num_signers++;
  }
  if (num_signers == 0) {
    malformed(err, "no SignerInfo");
    goto err;
  }
  if (num_signers > CMS_VERIFY_MAX_SIGNERS) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "more than %d signers",
               CMS_VERIFY_MAX_SIGNERS);
    goto err;
  }
  res->signers = cms_calloc(num_signers, sizeof(CMS_SIGNER_RESULT));
  if (res->signers == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  while (CBS_get_asn1(&signer_infos, &si, CBS_ASN1_SEQUENCE)) {
    CMS_SIGNER_RESULT *r = &res->signers[res->num_signers++];
    if (!verify_signer(ctx, si, r)) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
      goto err;
    }
  }
  OPENSSL_free(ctx->certs);
  OPENSSL_free(ctx);
  OPENSSL_free(storage);
  *out = res;
  return 1;

err:
  if (ctx != NULL) {
    OPENSSL_free(ctx->certs);
  }
  OPENSSL_free(ctx);
  OPENSSL_free(storage);
  cms_verify_result_free(res);
  return 0;
}

int cms_verify(const uint8_t *in, size_t in_len, const uint8_t *detached,
               size_t detached_len, const CMS_BUF *extra_certs, size_t num_extra_certs,
               CMS_VERIFY_RESULT **out, STATUS *err) {
  return verify_signed_data(in, in_len, detached, detached_len, extra_certs, num_extra_certs,
                            0, out, err);
}

int cms_verify_outline(const uint8_t *in, size_t in_len, const uint8_t *detached,
                       size_t detached_len, CMS_VERIFY_RESULT **out, STATUS *err) {
  return verify_signed_data(in, in_len, detached, detached_len, NULL, 0, 1, out, err);
}
