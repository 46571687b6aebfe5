/* cms_sniff.c: the contentType of a ContentInfo from its first bytes. */
#include "service/cms/cms_sniff.h"

#include <openssl/bytestring.h>

#include "service/cms/cms_asn1.h"

int cms_sniff(const uint8_t *in, size_t in_len) {
  CBS cbs, element, oid;
  unsigned tag;
  size_t header_len;
  int ber_found, indefinite;
  CBS_init(&cbs, in, in_len);
  if (!CBS_get_any_ber_asn1_element(&cbs, &element, &tag, &header_len, &ber_found,
                                    &indefinite) ||
      tag != CBS_ASN1_SEQUENCE) {
    return CMS_TYPE_UNKNOWN;
  }
  /* An indefinite-length element is returned as its header; its contents follow in
   * |cbs|. A definite one is returned whole. */
  if (!indefinite) {
    cbs = element;
    if (!CBS_skip(&cbs, header_len)) {
      return CMS_TYPE_UNKNOWN;
    }
  }
  if (!CBS_get_asn1(&cbs, &oid, CBS_ASN1_OBJECT)) {
    return CMS_TYPE_UNKNOWN;
  }
  switch (cms_oid_find(&oid)) {
    case CMS_OID_SIGNED_DATA:
      return CMS_TYPE_SIGNED_DATA;
    case CMS_OID_ENVELOPED_DATA:
      return CMS_TYPE_ENVELOPED_DATA;
    case CMS_OID_AUTH_ENVELOPED_DATA:
      return CMS_TYPE_AUTH_ENVELOPED_DATA;
    default:
      return CMS_TYPE_UNKNOWN;
  }
}
