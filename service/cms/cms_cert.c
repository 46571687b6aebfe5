/* cms_cert.c: certificate fields for CMS, read with CBS. */
#include "service/cms/cms_cert.h"

#include <string.h>

#include "service/cms/cms_asn1.h"

/* find_ski looks for the subjectKeyIdentifier extension in |extensions| (the contents of
 * the [3] EXPLICIT wrapper) and sets |*out| to the keyIdentifier contents. A malformed
 * extension list fails the whole certificate: a parser that skipped it might disagree
 * with the caller's X.509 library about which key identifier the certificate has. */
static int find_ski(CBS *extensions, CBS *out) {
  CBS exts, ext, oid, value, ski;
  if (!CBS_get_asn1(extensions, &exts, CBS_ASN1_SEQUENCE) || CBS_len(extensions) != 0) {
    return 0;
  }
  while (CBS_len(&exts) != 0) {
    if (!CBS_get_asn1(&exts, &ext, CBS_ASN1_SEQUENCE) ||
        !CBS_get_asn1(&ext, &oid, CBS_ASN1_OBJECT)) {
      return 0;
    }
    if (CBS_peek_asn1_tag(&ext, CBS_ASN1_BOOLEAN) &&
        !CBS_get_asn1(&ext, NULL, CBS_ASN1_BOOLEAN)) {
      return 0;
    }
    if (!CBS_get_asn1(&ext, &value, CBS_ASN1_OCTETSTRING) || CBS_len(&ext) != 0) {
      return 0;
    }
    if (cms_oid_is(&oid, CMS_OID_SUBJECT_KEY_IDENTIFIER)) {
      if (!CBS_get_asn1(&value, &ski, CBS_ASN1_OCTETSTRING) || CBS_len(&value) != 0) {
        return 0;
      }
      *out = ski;
    }
  }
  return 1;
}

int cms_cert_parse(CMS_CERT *out, const uint8_t *der, size_t len) {
  CMS_CERT c;
  CBS in, whole, cert, tbs, extensions;
  memset(out, 0, sizeof(*out));
  memset(&c, 0, sizeof(c));
  CBS_init(&in, der, len);
  if (!CBS_get_asn1_element(&in, &c.der, CBS_ASN1_SEQUENCE) || CBS_len(&in) != 0) {
    return 0;
  }
  whole = c.der;
  if (!CBS_get_asn1(&whole, &cert, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&cert, &tbs, CBS_ASN1_SEQUENCE) ||
      !CBS_get_optional_asn1(&tbs, NULL, NULL, CMS_TAG_CONSTRUCTED(0)) ||
      !CBS_get_asn1(&tbs, &c.serial, CBS_ASN1_INTEGER) ||
      !CBS_get_asn1(&tbs, NULL, CBS_ASN1_SEQUENCE) /* signature */ ||
      !CBS_get_asn1_element(&tbs, &c.issuer, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&tbs, NULL, CBS_ASN1_SEQUENCE) /* validity */ ||
      !CBS_get_asn1(&tbs, NULL, CBS_ASN1_SEQUENCE) /* subject */ ||
      !CBS_get_asn1_element(&tbs, &c.spki, CBS_ASN1_SEQUENCE) ||
      !CBS_get_optional_asn1(&tbs, NULL, NULL, CMS_TAG_IMPLICIT(1)) ||
      !CBS_get_optional_asn1(&tbs, NULL, NULL, CMS_TAG_IMPLICIT(2))) {
    return 0;
  }
  CBS_init(&c.ski, NULL, 0);
  if (CBS_peek_asn1_tag(&tbs, CMS_TAG_CONSTRUCTED(3))) {
    if (!CBS_get_asn1(&tbs, &extensions, CMS_TAG_CONSTRUCTED(3)) ||
        !find_ski(&extensions, &c.ski)) {
      return 0;
    }
  }
  if (CBS_len(&tbs) != 0) {
    return 0;
  }
  *out = c;
  return 1;
}

EVP_PKEY *cms_cert_public_key(const CMS_CERT *cert) {
  CBS spki = cert->spki;
  EVP_PKEY *key = EVP_parse_public_key(&spki);
  if (key != NULL && CBS_len(&spki) != 0) {
    EVP_PKEY_free(key);
    return NULL;
  }
  return key;
}

int cms_add_issuer_serial(CBB *cbb, const CMS_CERT *cert) {
  CBB seq, serial;
  return CBB_add_asn1(cbb, &seq, CBS_ASN1_SEQUENCE) &&
         CBB_add_bytes(&seq, CBS_data(&cert->issuer), CBS_len(&cert->issuer)) &&
         CBB_add_asn1(&seq, &serial, CBS_ASN1_INTEGER) &&
         CBB_add_bytes(&serial, CBS_data(&cert->serial), CBS_len(&cert->serial)) &&
         CBB_flush(cbb);
}

int cms_get_issuer_serial(CBS *in, CBS *out_issuer, CBS *out_serial) {
  CBS seq, issuer, serial;
  if (!CBS_get_asn1(in, &seq, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1_element(&seq, &issuer, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&seq, &serial, CBS_ASN1_INTEGER) || CBS_len(&seq) != 0 ||
      CBS_len(&serial) == 0) {
    return 0;
  }
  *out_issuer = issuer;
  *out_serial = serial;
  return 1;
}

int cms_cert_has_issuer_serial(const CMS_CERT *cert, const CBS *issuer, const CBS *serial) {
  return CBS_mem_equal(issuer, CBS_data(&cert->issuer), CBS_len(&cert->issuer)) &&
         CBS_mem_equal(serial, CBS_data(&cert->serial), CBS_len(&cert->serial));
}

int cms_cert_has_ski(const CMS_CERT *cert, const CBS *ski) {
  return CBS_len(&cert->ski) != 0 &&
         CBS_mem_equal(ski, CBS_data(&cert->ski), CBS_len(&cert->ski));
}
