/* der_util.c: see der_util.h. */
#include "service/x509/der_util.h"

#include <stdio.h>
#include <string.h>

#include <openssl/mem.h>
#include <openssl/obj.h>

const char *der_tag_name(unsigned tag, char *buf, size_t len) {
  static const struct {
    unsigned tag;
    const char *name;
  } kNames[] = {
      {CBS_ASN1_BOOLEAN, "BOOLEAN"},
      {CBS_ASN1_INTEGER, "INTEGER"},
      {CBS_ASN1_BITSTRING, "BIT STRING"},
      {CBS_ASN1_OCTETSTRING, "OCTET STRING"},
      {CBS_ASN1_NULL, "NULL"},
      {CBS_ASN1_OBJECT, "OBJECT IDENTIFIER"},
      {CBS_ASN1_UTF8STRING, "UTF8String"},
      {CBS_ASN1_SEQUENCE, "SEQUENCE"},
      {CBS_ASN1_SET, "SET"},
      {CBS_ASN1_PRINTABLESTRING, "PrintableString"},
      {CBS_ASN1_IA5STRING, "IA5String"},
      {CBS_ASN1_UTCTIME, "UTCTime"},
      {CBS_ASN1_GENERALIZEDTIME, "GeneralizedTime"},
  };
  for (size_t i = 0; i < sizeof(kNames) / sizeof(kNames[0]); i++) {
    if (kNames[i].tag == tag) {
      snprintf(buf, len, "%s", kNames[i].name);
      return buf;
    }
  }
  unsigned number = tag & CBS_ASN1_TAG_NUMBER_MASK;
  if ((tag & CBS_ASN1_CLASS_MASK) == CBS_ASN1_CONTEXT_SPECIFIC) {
    snprintf(buf, len, "[%u]%s", number,
             (tag & CBS_ASN1_CONSTRUCTED) != 0 ? "" : " (primitive)");
  } else {
    snprintf(buf, len, "tag %u%s%s", number,
             (tag & CBS_ASN1_CLASS_MASK) == CBS_ASN1_UNIVERSAL ? "" : " (non-universal)",
             (tag & CBS_ASN1_CONSTRUCTED) != 0 ? " (constructed)" : "");
  }
  return buf;
}

const char *der_oid_name(const CBS *oid, char *buf, size_t len) {
  int nid = OBJ_cbs2nid(oid);
  if (nid != NID_undef) {
    snprintf(buf, len, "%s", OBJ_nid2sn(nid));
    return buf;
  }
  char *text = CBS_asn1_oid_to_text(oid);
  if (text == NULL) {
    snprintf(buf, len, "(invalid OID)");
    return buf;
  }
  snprintf(buf, len, "%s", text);
  OPENSSL_free(text);
  return buf;
}

size_t der_offset(const CBS *at, const uint8_t *base) {
  return (size_t)(CBS_data(at) - base);
}

int der_where(char *why, size_t why_len, const char *field, const CBS *at,
              const uint8_t *base, const char *what) {
  if (base != NULL) {
    snprintf(why, why_len, "at %s, offset %zu: %s", field, der_offset(at, base), what);
  } else {
    snprintf(why, why_len, "at %s: %s", field, what);
  }
  return 0;
}

int der_get_field(CBS *in, CBS *out, unsigned tag, int with_header, const char *field,
                  const uint8_t *base, char *why, size_t why_len) {
  if (CBS_len(in) == 0) {
    return der_where(why, why_len, field, in, base,
                     "missing: the enclosing structure ends early");
  }
  CBS elem;
  unsigned got;
  size_t header_len;
  if (!CBS_get_any_asn1_element(in, &elem, &got, &header_len)) {
    return der_where(why, why_len, field, in, base,
                     "bad tag or length (truncated, or not DER)");
  }
  if (got != tag) {
    char want[48], found[48], what[128];
    snprintf(what, sizeof(what), "expected %s, found %s",
             der_tag_name(tag, want, sizeof(want)), der_tag_name(got, found, sizeof(found)));
    return der_where(why, why_len, field, &elem, base, what);
  }
  if (!with_header && !CBS_skip(&elem, header_len)) {
    return der_where(why, why_len, field, &elem, base, "bad length");
  }
  *out = elem;
  return 1;
}

int der_expect_end(const CBS *in, const char *field, const uint8_t *base, char *why,
                   size_t why_len) {
  if (CBS_len(in) == 0) {
    return 1;
  }
  char what[96];
  snprintf(what, sizeof(what), "%zu unexpected byte%s at its end", CBS_len(in),
           CBS_len(in) == 1 ? "" : "s");
  return der_where(why, why_len, field, in, base, what);
}

int der_find_break(CBS in, int depth, CBS *out_at) {
  while (CBS_len(&in) > 0) {
    CBS start = in, elem;
    unsigned tag;
    size_t header_len;
    if (!CBS_get_any_asn1_element(&in, &elem, &tag, &header_len)) {
      *out_at = start;
      return 1;
    }
    if ((tag & CBS_ASN1_CONSTRUCTED) != 0 && depth > 0 && CBS_skip(&elem, header_len) &&
        der_find_break(elem, depth - 1, out_at)) {
      return 1;
    }
  }
  return 0;
}
