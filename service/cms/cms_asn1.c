/* cms_asn1.c: object identifiers, AlgorithmIdentifier, digests, BER input and CMS
 * times on CBB/CBS. */
#include "service/cms/cms_asn1.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/mem.h>

#include "service/cms/cms_types.h"

/* CBS_asn1_ber_to_der is exported by Debian's BoringSSL but not declared in its
 * installed headers (DESIGN.md section 8). */
int CBS_asn1_ber_to_der(CBS *in, CBS *out, uint8_t **out_storage);

/* kOids holds the DER contents of each CMS_OID_*, in enum order. */
static const struct {
  uint8_t der[11];
  uint8_t len;
} kOids[CMS_OID_COUNT] = {
    [CMS_OID_DATA] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}, 9},
    [CMS_OID_SIGNED_DATA] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}, 9},
    [CMS_OID_ENVELOPED_DATA] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}, 9},
    [CMS_OID_AUTH_ENVELOPED_DATA] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10,
                                      0x01, 0x17},
                                     11},
    [CMS_OID_ATTR_CONTENT_TYPE] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03}, 9},
    [CMS_OID_ATTR_MESSAGE_DIGEST] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04},
                                     9},
    [CMS_OID_ATTR_SIGNING_TIME] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05}, 9},
    [CMS_OID_ATTR_SMIME_CAPABILITIES] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09,
                                          0x0f},
                                         9},
    [CMS_OID_MD5] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05}, 8},
    [CMS_OID_SHA1] = {{0x2b, 0x0e, 0x03, 0x02, 0x1a}, 5},
    [CMS_OID_SHA224] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04}, 9},
    [CMS_OID_SHA256] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}, 9},
    [CMS_OID_SHA384] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02}, 9},
    [CMS_OID_SHA512] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03}, 9},
    [CMS_OID_RSA_ENCRYPTION] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}, 9},
    [CMS_OID_MD5_WITH_RSA] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04}, 9},
    [CMS_OID_SHA1_WITH_RSA] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05}, 9},
    [CMS_OID_SHA224_WITH_RSA] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0e}, 9},
    [CMS_OID_SHA256_WITH_RSA] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b}, 9},
    [CMS_OID_SHA384_WITH_RSA] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c}, 9},
    [CMS_OID_SHA512_WITH_RSA] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d}, 9},
    [CMS_OID_RSASSA_PSS] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a}, 9},
    [CMS_OID_RSAES_OAEP] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07}, 9},
    [CMS_OID_MGF1] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08}, 9},
    [CMS_OID_P_SPECIFIED] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x09}, 9},
    [CMS_OID_ECDSA_SHA1] = {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01}, 7},
    [CMS_OID_ECDSA_SHA224] = {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x01}, 8},
    [CMS_OID_ECDSA_SHA256] = {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}, 8},
    [CMS_OID_ECDSA_SHA384] = {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}, 8},
    [CMS_OID_ECDSA_SHA512] = {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}, 8},
    [CMS_OID_EC_PUBLIC_KEY] = {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}, 7},
    [CMS_OID_ED25519] = {{0x2b, 0x65, 0x70}, 3},
    [CMS_OID_AES128_CBC] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02}, 9},
    [CMS_OID_AES192_CBC] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16}, 9},
    [CMS_OID_AES256_CBC] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a}, 9},
    [CMS_OID_AES128_GCM] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x06}, 9},
    [CMS_OID_AES192_GCM] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x1a}, 9},
    [CMS_OID_AES256_GCM] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e}, 9},
    [CMS_OID_AES128_WRAP] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x05}, 9},
    [CMS_OID_AES192_WRAP] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x19}, 9},
    [CMS_OID_AES256_WRAP] = {{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2d}, 9},
    [CMS_OID_DES_EDE3_CBC] = {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x03, 0x07}, 8},
    [CMS_OID_ECDH_STD_SHA1KDF] = {{0x2b, 0x81, 0x05, 0x10, 0x86, 0x48, 0x3f, 0x00, 0x02}, 9},
    [CMS_OID_ECDH_STD_SHA224KDF] = {{0x2b, 0x81, 0x04, 0x01, 0x0b, 0x00}, 6},
    [CMS_OID_ECDH_STD_SHA256KDF] = {{0x2b, 0x81, 0x04, 0x01, 0x0b, 0x01}, 6},
    [CMS_OID_ECDH_STD_SHA384KDF] = {{0x2b, 0x81, 0x04, 0x01, 0x0b, 0x02}, 6},
    [CMS_OID_ECDH_STD_SHA512KDF] = {{0x2b, 0x81, 0x04, 0x01, 0x0b, 0x03}, 6},
    [CMS_OID_ECDH_COFACTOR_SHA1KDF] = {{0x2b, 0x81, 0x05, 0x10, 0x86, 0x48, 0x3f, 0x00, 0x03},
                                       9},
    [CMS_OID_ECDH_COFACTOR_SHA224KDF] = {{0x2b, 0x81, 0x04, 0x01, 0x0e, 0x00}, 6},
    [CMS_OID_ECDH_COFACTOR_SHA256KDF] = {{0x2b, 0x81, 0x04, 0x01, 0x0e, 0x01}, 6},
    [CMS_OID_ECDH_COFACTOR_SHA384KDF] = {{0x2b, 0x81, 0x04, 0x01, 0x0e, 0x02}, 6},
    [CMS_OID_ECDH_COFACTOR_SHA512KDF] = {{0x2b, 0x81, 0x04, 0x01, 0x0e, 0x03}, 6},
    [CMS_OID_SUBJECT_KEY_IDENTIFIER] = {{0x55, 0x1d, 0x0e}, 3},
};

void *cms_calloc(size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) {
    return NULL;
  }
  size_t total = n * size > 0 ? n * size : 1;
  void *p = OPENSSL_malloc(total);
  if (p != NULL) {
    memset(p, 0, total);
  }
  return p;
}

int cms_oid_find(const CBS *oid) {
  for (int i = 0; i < CMS_OID_COUNT; i++) {
    if (CBS_mem_equal(oid, kOids[i].der, kOids[i].len)) {
      return i;
    }
  }
  return CMS_OID_UNKNOWN;
}

int cms_oid_is(const CBS *oid, int id) {
  if (id < 0 || id >= CMS_OID_COUNT) {
    return 0;
  }
  return CBS_mem_equal(oid, kOids[id].der, kOids[id].len);
}

int cms_add_oid(CBB *cbb, int id) {
  CBB child;
  if (id < 0 || id >= CMS_OID_COUNT) {
    return 0;
  }
  return CBB_add_asn1(cbb, &child, CBS_ASN1_OBJECT) &&
         CBB_add_bytes(&child, kOids[id].der, kOids[id].len) && CBB_flush(cbb);
}

void cms_oid_text(const CBS *oid, char *buf, size_t len) {
  char *text = CBS_asn1_oid_to_text(oid);
  snprintf(buf, len, "%s", text != NULL ? text : "?");
  OPENSSL_free(text);
}

int cms_get_algid(CBS *in, CBS *out_oid, CBS *out_params) {
  CBS seq, oid, params;
  if (!CBS_get_asn1(in, &seq, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&seq, &oid, CBS_ASN1_OBJECT)) {
    return 0;
  }
  CBS_init(&params, NULL, 0);
  if (CBS_len(&seq) != 0) {
    if (!CBS_get_any_asn1_element(&seq, &params, NULL, NULL) || CBS_len(&seq) != 0) {
      return 0;
    }
  }
  *out_oid = oid;
  *out_params = params;
  return 1;
}

int cms_params_absent_or_null(const CBS *params) {
  static const uint8_t kNull[] = {0x05, 0x00};
  return CBS_len(params) == 0 || CBS_mem_equal(params, kNull, sizeof(kNull));
}

int cms_add_algid(CBB *cbb, int id, int null_params) {
  CBB seq, null;
  if (!CBB_add_asn1(cbb, &seq, CBS_ASN1_SEQUENCE) || !cms_add_oid(&seq, id)) {
    return 0;
  }
  if (null_params && !CBB_add_asn1(&seq, &null, CBS_ASN1_NULL)) {
    return 0;
  }
  return CBB_flush(cbb);
}

const EVP_MD *cms_md_evp(int md) {
  switch (md) {
    case CMS_MD_MD5:
      return EVP_md5();
    case CMS_MD_SHA1:
      return EVP_sha1();
    case CMS_MD_SHA224:
      return EVP_sha224();
    case CMS_MD_SHA256:
      return EVP_sha256();
    case CMS_MD_SHA384:
      return EVP_sha384();
    case CMS_MD_SHA512:
      return EVP_sha512();
    default:
      return NULL;
  }
}

int cms_md_from_oid(int oid) {
  switch (oid) {
    case CMS_OID_MD5:
      return CMS_MD_MD5;
    case CMS_OID_SHA1:
      return CMS_MD_SHA1;
    case CMS_OID_SHA224:
      return CMS_MD_SHA224;
    case CMS_OID_SHA256:
      return CMS_MD_SHA256;
    case CMS_OID_SHA384:
      return CMS_MD_SHA384;
    case CMS_OID_SHA512:
      return CMS_MD_SHA512;
    default:
      return CMS_MD_NONE;
  }
}

int cms_md_oid(int md) {
  switch (md) {
    case CMS_MD_MD5:
      return CMS_OID_MD5;
    case CMS_MD_SHA1:
      return CMS_OID_SHA1;
    case CMS_MD_SHA224:
      return CMS_OID_SHA224;
    case CMS_MD_SHA256:
      return CMS_OID_SHA256;
    case CMS_MD_SHA384:
      return CMS_OID_SHA384;
    case CMS_MD_SHA512:
      return CMS_OID_SHA512;
    default:
      return CMS_OID_UNKNOWN;
  }
}

int cms_get_digest_algid(CBS *in, int *out_md, CBS *oid_out) {
  CBS oid, params;
  if (!cms_get_algid(in, &oid, &params) || !cms_params_absent_or_null(&params)) {
    return 0;
  }
  *out_md = cms_md_from_oid(cms_oid_find(&oid));
  if (oid_out != NULL) {
    *oid_out = oid;
  }
  return 1;
}

int cms_add_digest_algid(CBB *cbb, int md) {
  return cms_add_algid(cbb, cms_md_oid(md), 0);
}

int cms_get_mgf1_algid(CBS *in, int *out_md) {
  CBS oid, params;
  if (!cms_get_algid(in, &oid, &params) || !cms_oid_is(&oid, CMS_OID_MGF1) ||
      !cms_get_digest_algid(&params, out_md, NULL) || CBS_len(&params) != 0) {
    return 0;
  }
  return 1;
}

int cms_add_mgf1_algid(CBB *cbb, int md) {
  CBB seq;
  return CBB_add_asn1(cbb, &seq, CBS_ASN1_SEQUENCE) && cms_add_oid(&seq, CMS_OID_MGF1) &&
         cms_add_digest_algid(&seq, md) && CBB_flush(cbb);
}

int cms_digest(int md, const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len) {
  const EVP_MD *evp = cms_md_evp(md);
  unsigned len = 0;
  if (evp == NULL || !EVP_Digest(in, in_len, out, &len, evp, NULL)) {
    return 0;
  }
  *out_len = len;
  return 1;
}

/* ber_walk_element reads one BER element from |in| and checks its nesting stays within
 * CMS_MAX_INPUT_DEPTH, so that the recursive conversion that follows cannot exhaust the
 * stack on hostile input. Indefinite-length children follow the header in |in| and end
 * with an end-of-contents octet pair. */
static int ber_walk_element(CBS *in, unsigned depth) {
  CBS elem;
  unsigned tag;
  size_t header_len;
  int ber_found, indefinite;
  if (depth > CMS_MAX_INPUT_DEPTH ||
      !CBS_get_any_ber_asn1_element(in, &elem, &tag, &header_len, &ber_found,
                                    &indefinite)) {
    return 0;
  }
  if ((tag & CBS_ASN1_CONSTRUCTED) == 0) {
    return 1;
  }
  if (indefinite) {
    for (;;) {
      static const uint8_t kEoc[2] = {0, 0};
      if (CBS_len(in) >= 2 && memcmp(CBS_data(in), kEoc, 2) == 0) {
        return CBS_skip(in, 2);
      }
      if (!ber_walk_element(in, depth + 1)) {
        return 0;
      }
    }
  }
  if (!CBS_skip(&elem, header_len)) {
    return 0;
  }
  while (CBS_len(&elem) != 0) {
    if (!ber_walk_element(&elem, depth + 1)) {
      return 0;
    }
  }
  return 1;
}

int cms_ber_to_der(const uint8_t *in, size_t in_len, CBS *out, uint8_t **out_storage) {
  CBS walk, one, der;
  uint8_t *storage = NULL;
  *out_storage = NULL;
  CBS_init(&walk, in, in_len);
  if (!ber_walk_element(&walk, 0) || CBS_len(&walk) != 0) {
    return 0;
  }
  CBS_init(&one, in, in_len);
  if (!CBS_asn1_ber_to_der(&one, &der, &storage) || CBS_len(&one) != 0) {
    OPENSSL_free(storage);
    return 0;
  }
  *out = der;
  *out_storage = storage;
  return 1;
}

int cms_get_implicit_octets(CBS *in, unsigned tag_number, CBS *out, uint8_t **out_storage) {
  CBS contents, chunk;
  CBB joined;
  uint8_t *data = NULL;
  size_t len;
  *out_storage = NULL;
  if (CBS_peek_asn1_tag(in, CMS_TAG_IMPLICIT(tag_number))) {
    return CBS_get_asn1(in, out, CMS_TAG_IMPLICIT(tag_number));
  }
  if (!CBS_get_asn1(in, &contents, CMS_TAG_CONSTRUCTED(tag_number)) ||
      !CBB_init(&joined, CBS_len(&contents))) {
    return 0;
  }
  while (CBS_len(&contents) != 0) {
    if (!CBS_get_asn1(&contents, &chunk, CBS_ASN1_OCTETSTRING) ||
        !CBB_add_bytes(&joined, CBS_data(&chunk), CBS_len(&chunk))) {
      CBB_cleanup(&joined);
      return 0;
    }
  }
  if (!CBB_finish(&joined, &data, &len)) {
    CBB_cleanup(&joined);
    return 0;
  }
  CBS_init(out, data, len);
  *out_storage = data;
  return 1;
}

/* days_from_civil returns the days since 1970-01-01 of a proleptic Gregorian date
 * (Howard Hinnant's algorithm): timegm would depend on the C library's range. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* civil_from_days is the inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int cms_add_time(CBB *cbb, int64_t t) {
  CBB child;
  char buf[32];
  int64_t days = t / 86400, secs = t % 86400, year;
  unsigned month, day;
  if (secs < 0) {
    secs += 86400;
    days--;
  }
  civil_from_days(days, &year, &month, &day);
  if (year < 0 || year > 9999) {
    return 0;
  }
  int n;
  if (year >= 1950 && year < 2050) {
    n = snprintf(buf, sizeof(buf), "%02u%02u%02u%02u%02u%02uZ", (unsigned)(year % 100),
                 month, day, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
                 (unsigned)(secs % 60));
    if (!CBB_add_asn1(cbb, &child, CBS_ASN1_UTCTIME)) {
      return 0;
    }
  } else {
    n = snprintf(buf, sizeof(buf), "%04u%02u%02u%02u%02u%02uZ", (unsigned)year, month, day,
                 (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
    if (!CBB_add_asn1(cbb, &child, CBS_ASN1_GENERALIZEDTIME)) {
      return 0;
    }
  }
  return n > 0 && CBB_add_bytes(&child, (const uint8_t *)buf, (size_t)n) && CBB_flush(cbb);
}

/* get_digits parses |n| decimal digits from |in|. */
static int get_digits(CBS *in, size_t n, unsigned *out) {
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c;
    if (!CBS_get_u8(in, &c) || c < '0' || c > '9') {
      return 0;
    }
    v = v * 10 + (c - '0');
  }
  *out = v;
  return 1;
}

int cms_get_time(CBS *in, int64_t *out) {
  CBS t;
  unsigned year, month, day, hour, minute, second;
  uint8_t z;
  if (CBS_peek_asn1_tag(in, CBS_ASN1_UTCTIME)) {
    if (!CBS_get_asn1(in, &t, CBS_ASN1_UTCTIME) || CBS_len(&t) != 13 ||
        !get_digits(&t, 2, &year)) {
      return 0;
    }
    year += year < 50 ? 2000 : 1900;
  } else if (!CBS_get_asn1(in, &t, CBS_ASN1_GENERALIZEDTIME) || CBS_len(&t) != 15 ||
             !get_digits(&t, 4, &year)) {
    return 0;
  }
  if (!get_digits(&t, 2, &month) || !get_digits(&t, 2, &day) || !get_digits(&t, 2, &hour) ||
      !get_digits(&t, 2, &minute) || !get_digits(&t, 2, &second) || !CBS_get_u8(&t, &z) ||
      z != 'Z' || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 ||
      second > 59) {
    return 0;
  }
  static const unsigned kDays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[month - 1] || (month == 2 && day == 29 && !leap)) {
    return 0;
  }
  *out = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return 1;
}
