/* cert_info.c: see cert_info.h.
 *
 * cert_info_new reads a certificate twice: first its outer structure with CBS (so that
 * a broken encoding is refused with the field and offset where it breaks, and so that
 * the exact bytes of the serial, Names, validity and SubjectPublicKeyInfo come from the
 * input, not from a re-encoding), then with BoringSSL's X509 parser for the extensions,
 * the names as text and the public key.
 *
 * Usage rules (RFC 8550 section 4.4 and RFC 5280 section 4.2.1.3/12):
 *   - no keyUsage extension allows every usage;
 *   - an extendedKeyUsage is fine when absent or when it lists emailProtection or
 *     anyExtendedKeyUsage; otherwise the certificate cannot be used for mail at all;
 *   - RSA: digitalSignature or nonRepudiation -> sign, keyEncipherment -> encrypt;
 *     EC P-256/P-384: digitalSignature -> sign, keyAgreement -> encrypt (ECDH);
 *     Ed25519: digitalSignature -> sign; X25519: keyAgreement -> encrypt;
 *     any other key: neither. */
#include "service/x509/cert_info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/obj.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "service/x509/der_util.h"

/* kNameFlags prints Names as RFC 4514 (RFC 2253 order and escaping) but keeps UTF-8 as
 * UTF-8, which RFC 4514 allows and people can read. */
static const unsigned long kNameFlags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;

/* kNameDumpFlags is the fallback for a Name whose strings do not convert to UTF-8:
 * every value as "#" and the hex of its DER, which RFC 4514 also allows. */
static const unsigned long kNameDumpFlags =
    ASN1_STRFLGS_DUMP_ALL | ASN1_STRFLGS_DUMP_DER | XN_FLAG_SEP_COMMA_PLUS |
    XN_FLAG_DN_REV | XN_FLAG_FN_SN | XN_FLAG_DUMP_UNKNOWN_FIELDS;

/* der_parts are the pieces of a certificate that walk_certificate takes straight from
 * the DER. Each CBS points into the caller's copy of the certificate. */
struct der_parts {
  CBS serial;      /* INTEGER content octets */
  CBS issuer;      /* Name, whole element */
  CBS subject;     /* Name, whole element */
  int64_t not_before;
  int64_t not_after;
  CBS spki;        /* SubjectPublicKeyInfo, whole element */
  CBS key_oid;     /* the key algorithm's OBJECT IDENTIFIER content octets */
  CBS key_params;  /* what follows the OID in the AlgorithmIdentifier (may be empty) */
  uint64_t version; /* 0 for v1, 2 for v3 */
};

/* asn1_fail fills |err| for a structural error at |field|, |at| bytes into |base|. */
static int asn1_fail(STATUS *err, const char *field, const CBS *at, const uint8_t *base,
                     const char *what) {
  char why[DER_WHY_LEN];
  der_where(why, sizeof(why), field, at, base, what);
  return status_set(err, STATUS_INVALID_ARGUMENT,
                    "not a valid X.509 certificate (ASN.1 error %s)", why);
}

/* get_field is der_get_field with the failure as a STATUS. */
static int get_field(CBS *in, CBS *out, unsigned tag, int with_header, const char *field,
                     const uint8_t *base, STATUS *err) {
  char why[DER_WHY_LEN];
  if (!der_get_field(in, out, tag, with_header, field, base, why, sizeof(why))) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "not a valid X.509 certificate (ASN.1 error %s)", why);
  }
  return 1;
}

/* expect_end is der_expect_end with the failure as a STATUS. */
static int expect_end(const CBS *in, const char *field, const uint8_t *base,
                      STATUS *err) {
  char why[DER_WHY_LEN];
  if (!der_expect_end(in, field, base, why, sizeof(why))) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "not a valid X.509 certificate (ASN.1 error %s)", why);
  }
  return 1;
}

/* days_from_civil counts days from 1970-01-01 to |y|-|m|-|d| in the proleptic
 * Gregorian calendar (H. Hinnant's algorithm), negative before 1970. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* get_digits reads |n| decimal digits from |in| into |*out|. */
static int get_digits(CBS *in, size_t n, int *out) {
  int v = 0;
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

/* parse_time reads a UTCTime (YYMMDDhhmm[ss](Z|+hhmm|-hhmm), years 50-99 are 19xx) or a
 * GeneralizedTime (YYYYMMDDhhmm[ss[.fff]](Z|+hhmm|-hhmm)) into Unix seconds. RFC 5280
 * asks for seconds and "Z"; the other forms are old but were issued, and reading them
 * costs nothing. */
static int parse_time(CBS in, unsigned tag, int64_t *out) {
  int year, month, day, hour, minute, second = 0;
  if (tag == CBS_ASN1_UTCTIME) {
    if (!get_digits(&in, 2, &year)) {
      return 0;
    }
    year += year < 50 ? 2000 : 1900;
  } else if (!get_digits(&in, 4, &year)) {
    return 0;
  }
  if (!get_digits(&in, 2, &month) || !get_digits(&in, 2, &day) ||
      !get_digits(&in, 2, &hour) || !get_digits(&in, 2, &minute)) {
    return 0;
  }
  if (CBS_len(&in) > 0 && CBS_data(&in)[0] >= '0' && CBS_data(&in)[0] <= '9' &&
      !get_digits(&in, 2, &second)) {
    return 0;
  }
  if (tag == CBS_ASN1_GENERALIZEDTIME && CBS_len(&in) > 0 && CBS_data(&in)[0] == '.') {
    /* parse_time drops fractions of a second; at least one digit must follow. */
    size_t digits = 0;
    CBS_skip(&in, 1);
    while (CBS_len(&in) > 0 && CBS_data(&in)[0] >= '0' && CBS_data(&in)[0] <= '9') {
      CBS_skip(&in, 1);
      digits++;
    }
    if (digits == 0) {
      return 0;
    }
  }
  uint8_t zone;
  int64_t offset = 0;
  if (!CBS_get_u8(&in, &zone)) {
    return 0;
  }
  if (zone == '+' || zone == '-') {
    int oh, om;
    if (!get_digits(&in, 2, &oh) || !get_digits(&in, 2, &om) || oh > 23 || om > 59) {
      return 0;
    }
    offset = (int64_t)oh * 3600 + om * 60;
    if (zone == '-') {
      offset = -offset;
    }
  } else if (zone != 'Z') {
    return 0;
  }
  if (CBS_len(&in) != 0) {
    return 0;
  }
  static const int kDays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] || hour > 23 ||
      minute > 59 || second > 60) {
    return 0;
  }
  int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) {
    return 0;
  }
  *out = days_from_civil(year, month, day) * 86400 + (int64_t)hour * 3600 +
         (int64_t)minute * 60 + second - offset;
  return 1;
}

/* get_time reads one Time of a Validity. */
static int get_time(CBS *in, int64_t *out, const char *field, const uint8_t *base,
                    STATUS *err) {
  if (CBS_len(in) == 0) {
    return asn1_fail(err, field, in, base, "missing: the enclosing structure ends early");
  }
  CBS start = *in;
  CBS value;
  unsigned tag;
  if (!CBS_get_any_asn1(in, &value, &tag)) {
    return asn1_fail(err, field, in, base, "bad tag or length (truncated, or not DER)");
  }
  if (tag != CBS_ASN1_UTCTIME && tag != CBS_ASN1_GENERALIZEDTIME) {
    char found[48], what[96];
    snprintf(what, sizeof(what), "expected UTCTime or GeneralizedTime, found %s",
             der_tag_name(tag, found, sizeof(found)));
    return asn1_fail(err, field, &start, base, what);
  }
  if (!parse_time(value, tag, out)) {
    char what[96];
    snprintf(what, sizeof(what), "not a valid %s",
             tag == CBS_ASN1_UTCTIME ? "UTCTime" : "GeneralizedTime");
    return asn1_fail(err, field, &start, base, what);
  }
  return 1;
}

/* walk_name checks that |name| (a Name's content) is a SEQUENCE OF SET OF
 * SEQUENCE { OID, value }. */
static int walk_name(CBS name, const char *field, const uint8_t *base, STATUS *err) {
  char where[128];
  for (size_t i = 0; CBS_len(&name) > 0; i++) {
    CBS rdn;
    snprintf(where, sizeof(where), "%s, RDN %zu", field, i + 1);
    if (!get_field(&name, &rdn, CBS_ASN1_SET, 0, where, base, err)) {
      return 0;
    }
    if (CBS_len(&rdn) == 0) {
      return asn1_fail(err, where, &rdn, base, "empty SET");
    }
    while (CBS_len(&rdn) > 0) {
      CBS atv, oid, value;
      if (!get_field(&rdn, &atv, CBS_ASN1_SEQUENCE, 0, where, base, err) ||
          !get_field(&atv, &oid, CBS_ASN1_OBJECT, 0, where, base, err)) {
        return 0;
      }
      if (!CBS_get_any_asn1_element(&atv, &value, NULL, NULL)) {
        return asn1_fail(err, where, &atv, base, "bad or missing attribute value");
      }
      if (!expect_end(&atv, where, base, err)) {
        return 0;
      }
    }
  }
  return 1;
}

/* walk_extensions checks the shape of |exts| (the content of [3]): a SEQUENCE OF
 * SEQUENCE { OID, BOOLEAN OPTIONAL, OCTET STRING }. */
static int walk_extensions(CBS exts, const uint8_t *base, STATUS *err) {
  CBS list;
  if (!get_field(&exts, &list, CBS_ASN1_SEQUENCE, 0, "tbsCertificate.extensions", base,
                 err) ||
      !expect_end(&exts, "tbsCertificate.extensions", base, err)) {
    return 0;
  }
  char where[96];
  for (size_t i = 0; CBS_len(&list) > 0; i++) {
    CBS ext, oid, value;
    snprintf(where, sizeof(where), "tbsCertificate.extensions, extension %zu", i + 1);
    if (!get_field(&list, &ext, CBS_ASN1_SEQUENCE, 0, where, base, err) ||
        !get_field(&ext, &oid, CBS_ASN1_OBJECT, 0, where, base, err)) {
      return 0;
    }
    if (CBS_peek_asn1_tag(&ext, CBS_ASN1_BOOLEAN)) {
      CBS critical;
      if (!get_field(&ext, &critical, CBS_ASN1_BOOLEAN, 0, where, base, err)) {
        return 0;
      }
    }
    if (!get_field(&ext, &value, CBS_ASN1_OCTETSTRING, 0, where, base, err) ||
        !expect_end(&ext, where, base, err)) {
      return 0;
    }
  }
  return 1;
}

/* walk_certificate checks the structure of the certificate |der| (RFC 5280 section
 * 4.1) down to the fields cert_info_new takes from it, and fills |out|. */
static int walk_certificate(const uint8_t *der, size_t der_len, struct der_parts *out,
                            STATUS *err) {
  CBS in, cert, tbs, tmp;
  CBS_init(&in, der, der_len);
  if (!get_field(&in, &cert, CBS_ASN1_SEQUENCE, 0, "Certificate", der, err)) {
    return 0;
  }
  if (CBS_len(&in) != 0) {
    char what[96];
    snprintf(what, sizeof(what), "%zu byte%s of trailing data after the certificate",
             CBS_len(&in), CBS_len(&in) == 1 ? "" : "s");
    return asn1_fail(err, "Certificate", &in, der, what);
  }
  if (!get_field(&cert, &tbs, CBS_ASN1_SEQUENCE, 0, "tbsCertificate", der, err) ||
      !get_field(&cert, &tmp, CBS_ASN1_SEQUENCE, 0, "signatureAlgorithm", der, err) ||
      !get_field(&cert, &tmp, CBS_ASN1_BITSTRING, 0, "signatureValue", der, err) ||
      !expect_end(&cert, "Certificate", der, err)) {
    return 0;
  }

  out->version = 0;
  if (CBS_peek_asn1_tag(&tbs, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0)) {
    CBS version;
    if (!get_field(&tbs, &version, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0,
                   0, "tbsCertificate.version", der, err)) {
      return 0;
    }
    CBS start = version;
    if (!CBS_get_asn1_uint64(&version, &out->version) || CBS_len(&version) != 0 ||
        out->version > 2) {
      return asn1_fail(err, "tbsCertificate.version", &start, der,
                       "not v1, v2 or v3");
    }
  }
  if (!get_field(&tbs, &out->serial, CBS_ASN1_INTEGER, 0, "tbsCertificate.serialNumber",
                 der, err)) {
    return 0;
  }
  if (CBS_len(&out->serial) == 0) {
    return asn1_fail(err, "tbsCertificate.serialNumber", &out->serial, der,
                     "empty INTEGER");
  }
  CBS validity;
  if (!get_field(&tbs, &tmp, CBS_ASN1_SEQUENCE, 0, "tbsCertificate.signature", der,
                 err) ||
      !get_field(&tbs, &out->issuer, CBS_ASN1_SEQUENCE, 1, "tbsCertificate.issuer", der,
                 err) ||
      !get_field(&tbs, &validity, CBS_ASN1_SEQUENCE, 0, "tbsCertificate.validity", der,
                 err) ||
      !get_time(&validity, &out->not_before, "tbsCertificate.validity.notBefore", der,
                err) ||
      !get_time(&validity, &out->not_after, "tbsCertificate.validity.notAfter", der,
                err) ||
      !expect_end(&validity, "tbsCertificate.validity", der, err) ||
      !get_field(&tbs, &out->subject, CBS_ASN1_SEQUENCE, 1, "tbsCertificate.subject",
                 der, err) ||
      !get_field(&tbs, &out->spki, CBS_ASN1_SEQUENCE, 1,
                 "tbsCertificate.subjectPublicKeyInfo", der, err)) {
    return 0;
  }
  CBS name = out->issuer;
  if (!CBS_get_asn1(&name, &tmp, CBS_ASN1_SEQUENCE) ||
      !walk_name(tmp, "tbsCertificate.issuer", der, err)) {
    return 0;
  }
  name = out->subject;
  if (!CBS_get_asn1(&name, &tmp, CBS_ASN1_SEQUENCE) ||
      !walk_name(tmp, "tbsCertificate.subject", der, err)) {
    return 0;
  }
  CBS spki = out->spki, spki_content, alg, bits;
  if (!CBS_get_asn1(&spki, &spki_content, CBS_ASN1_SEQUENCE) ||
      !get_field(&spki_content, &alg, CBS_ASN1_SEQUENCE, 0,
                 "tbsCertificate.subjectPublicKeyInfo.algorithm", der, err) ||
      !get_field(&alg, &out->key_oid, CBS_ASN1_OBJECT, 0,
                 "tbsCertificate.subjectPublicKeyInfo.algorithm", der, err) ||
      !get_field(&spki_content, &bits, CBS_ASN1_BITSTRING, 0,
                 "tbsCertificate.subjectPublicKeyInfo.subjectPublicKey", der, err) ||
      !expect_end(&spki_content, "tbsCertificate.subjectPublicKeyInfo", der, err)) {
    return 0;
  }
  out->key_params = alg;

  /* walk_certificate skips the unique identifiers of v2, which nobody uses. */
  for (unsigned n = 1; n <= 2; n++) {
    if (CBS_peek_asn1_tag(&tbs, CBS_ASN1_CONTEXT_SPECIFIC | n)) {
      if (!get_field(&tbs, &tmp, CBS_ASN1_CONTEXT_SPECIFIC | n, 0,
                     "tbsCertificate.uniqueID", der, err)) {
        return 0;
      }
    }
  }
  if (CBS_peek_asn1_tag(&tbs, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 3)) {
    CBS exts;
    if (!get_field(&tbs, &exts, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 3, 0,
                   "tbsCertificate.extensions", der, err) ||
        !walk_extensions(exts, der, err)) {
      return 0;
    }
  }
  return expect_end(&tbs, "tbsCertificate", der, err);
}

/* boringssl_fail fills |err| from BoringSSL's error queue after its X509 parser refused
 * a certificate that walk_certificate accepted: the innermost reason, then where it
 * was, from the "Field=..., Type=..." notes of the templates, outermost first
 * ("INVALID_UTF8STRING in X509.cert_info > X509_CINF.subject"). */
static int boringssl_fail(STATUS *err) {
  char reason[96] = "parse error";
  char places[8][80];
  size_t num_places = 0;
  const char *data;
  int flags;
  uint32_t e;
  int first = 1;
  while ((e = ERR_get_error_line_data(NULL, NULL, &data, &flags)) != 0) {
    if (first) {
      const char *r = ERR_reason_error_string(e);
      if (r != NULL) {
        snprintf(reason, sizeof(reason), "%s", r);
      }
      first = 0;
    }
    if ((flags & ERR_FLAG_STRING) == 0 || data == NULL || num_places == 8) {
      continue;
    }
    const char *field = strstr(data, "Field=");
    const char *type = strstr(data, "Type=");
    if (type == NULL) {
      continue;
    }
    int type_len = (int)strcspn(type + 5, ",");
    if (field != NULL) {
      snprintf(places[num_places++], sizeof(places[0]), "%.*s.%.*s", type_len, type + 5,
               (int)strcspn(field + 6, ","), field + 6);
    } else {
      snprintf(places[num_places++], sizeof(places[0]), "%.*s", type_len, type + 5);
    }
  }
  char where[400] = "";
  size_t used = 0;
  for (size_t i = num_places; i > 0 && used < sizeof(where); i--) {
    int n = snprintf(where + used, sizeof(where) - used, "%s%s",
                     i == num_places ? " in " : " > ", places[i - 1]);
    if (n > 0) {
      used += (size_t)n;
    }
  }
  return status_set(err, STATUS_INVALID_ARGUMENT,
                    "not a valid X.509 certificate (%s%s)", reason, where);
}

/* is_utf8 says whether the |len| bytes at |s| are valid UTF-8 (no overlong forms,
 * surrogates or code points above U+10FFFF) without NUL or other C0 controls. */
static int is_utf8(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x20 || c == 0x7f) {
      return 0;
    }
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return 0;
    }
    if (len - i - 1 < n) {
      return 0;
    }
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80) {
        return 0;
      }
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return 0;
    }
    i += n + 1;
  }
  return 1;
}

/* print_name prints |name| with |flags| into a new NUL-terminated string, or returns
 * NULL when BoringSSL cannot print it or the result is not clean UTF-8. */
static char *print_name(const X509_NAME *name, unsigned long flags) {
  char *ret = NULL;
  BIO *bio = BIO_new(BIO_s_mem());
  if (bio == NULL) {
    goto err;
  }
  if (X509_NAME_print_ex(bio, name, 0, flags) < 0) {
    goto err;
  }
  const uint8_t *contents;
  size_t len;
  if (!BIO_mem_contents(bio, &contents, &len) || !is_utf8(contents, len)) {
    goto err;
  }
  ret = malloc(len + 1);
  if (ret == NULL) {
    goto err;
  }
  memcpy(ret, contents, len);
  ret[len] = '\0';

err:
  BIO_free(bio);
  ERR_clear_error();
  return ret;
}

/* name_to_string returns |name| as RFC 4514 text: UTF-8 when its strings convert,
 * else every value as "#" and hex. NULL only when out of memory. */
static char *name_to_string(const X509_NAME *name) {
  char *s = print_name(name, kNameFlags);
  if (s == NULL) {
    s = print_name(name, kNameDumpFlags);
  }
  return s;
}

/* serial_to_hex returns the lowercase hex of the magnitude of the INTEGER whose content
 * octets are |serial| (two's complement), without leading zeros. */
static char *serial_to_hex(const CBS *serial) {
  const uint8_t *p = CBS_data(serial);
  size_t len = CBS_len(serial);
  uint8_t *mag = malloc(len);
  char *hex = malloc(2 * len + 1);
  if (mag == NULL || hex == NULL) {
    free(mag);
    free(hex);
    return NULL;
  }
  memcpy(mag, p, len);
  if ((mag[0] & 0x80) != 0) {
    /* serial_to_hex negates a negative serial: invert, then add one. */
    int carry = 1;
    for (size_t i = len; i > 0; i--) {
      unsigned v = (uint8_t)~mag[i - 1] + (unsigned)carry;
      mag[i - 1] = (uint8_t)v;
      carry = v > 0xff;
    }
  }
  static const char kHex[] = "0123456789abcdef";
  size_t out = 0;
  for (size_t i = 0; i < len; i++) {
    char hi = kHex[mag[i] >> 4], lo = kHex[mag[i] & 0xf];
    if (out > 0 || hi != '0') {
      hex[out++] = hi;
    }
    if (out > 0 || lo != '0') {
      hex[out++] = lo;
    }
  }
  if (out == 0) {
    hex[out++] = '0';
  }
  hex[out] = '\0';
  free(mag);
  return hex;
}

/* add_email adds the address in the |len| bytes at |s|, lowercased, unless |info| has
 * it already. Only printable ASCII with an '@' and at most 320 bytes is an address
 * (an rfc822Name or emailAddress is an IA5String); anything else is skipped, since it
 * can match no mail. Fails only when out of memory or over CERT_INFO_MAX_EMAILS. */
static int add_email(CERT_INFO *info, const uint8_t *s, size_t len, STATUS *err) {
  if (len == 0 || len > 320 || memchr(s, '@', len) == NULL) {
    return 1;
  }
  for (size_t i = 0; i < len; i++) {
    if (s[i] <= 0x20 || s[i] >= 0x7f) {
      return 1;
    }
  }
  char addr[321];
  for (size_t i = 0; i < len; i++) {
    addr[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : (char)s[i];
  }
  addr[len] = '\0';
  for (size_t i = 0; i < info->num_emails; i++) {
    if (strcmp(info->emails[i], addr) == 0) {
      return 1;
    }
  }
  if (info->num_emails >= CERT_INFO_MAX_EMAILS) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED,
                      "the certificate lists more than %d mail addresses",
                      CERT_INFO_MAX_EMAILS);
  }
  char **emails = realloc(info->emails, (info->num_emails + 1) * sizeof(char *));
  if (emails == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  info->emails = emails;
  info->emails[info->num_emails] = strdup(addr);
  if (info->emails[info->num_emails] == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  info->num_emails++;
  return 1;
}

/* ext_fail fills |err| for the extension |nid| that BoringSSL could not decode;
 * |crit| is X509_get_ext_d2i's: -2 when it appears more than once. */
static int ext_fail(STATUS *err, int nid, int crit) {
  return status_set(err, STATUS_INVALID_ARGUMENT,
                    "not a valid X.509 certificate (the %s extension %s)", OBJ_nid2sn(nid),
                    crit == -2 ? "appears more than once" : "is malformed");
}

/* collect_emails reads the SAN rfc822Names, then the subject's emailAddress values. */
static int collect_emails(CERT_INFO *info, X509 *x509, STATUS *err) {
  int crit = -1;
  GENERAL_NAMES *gens = X509_get_ext_d2i(x509, NID_subject_alt_name, &crit, NULL);
  if (gens == NULL && crit != -1) {
    return ext_fail(err, NID_subject_alt_name, crit);
  }
  for (size_t i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
    const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
    if (gen->type == GEN_EMAIL &&
        !add_email(info, ASN1_STRING_get0_data(gen->d.rfc822Name),
                   (size_t)ASN1_STRING_length(gen->d.rfc822Name), err)) {
      GENERAL_NAMES_free(gens);
      return 0;
    }
  }
  GENERAL_NAMES_free(gens);

  const X509_NAME *subject = X509_get_subject_name(x509);
  int idx = -1;
  while ((idx = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress, idx)) >= 0) {
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    if (!add_email(info, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), err)) {
      return 0;
    }
  }
  return 1;
}

/* known_curve says whether BoringSSL reads EC keys on the curve |nid|. */
static int known_curve(int nid) {
  return nid == NID_secp224r1 || nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 ||
         nid == NID_secp521r1;
}

/* key_info fills key_algorithm, key_bits and key_name, and says in |reason| (when not
 * empty) why the key is of no use for S/MIME here. A key of an algorithm BoringSSL
 * reads (RSA, EC on its curves, Ed25519, X25519, DSA) that does not parse makes the
 * certificate invalid: it fails with |err| then. */
static int key_info(CERT_INFO *info, X509 *x509, const struct der_parts *parts,
                    char *reason, size_t reason_len, STATUS *err) {
  reason[0] = '\0';
  info->key_algorithm = CERT_KEY_OTHER;
  info->key_bits = 0;
  char alg[64];
  der_oid_name(&parts->key_oid, alg, sizeof(alg));
  EVP_PKEY *pkey = X509_get_pubkey(x509);
  ERR_clear_error();
  if (pkey == NULL) {
    int nid = OBJ_cbs2nid(&parts->key_oid);
    CBS params = parts->key_params, curve;
    int named = nid == NID_X9_62_id_ecPublicKey &&
                CBS_get_asn1(&params, &curve, CBS_ASN1_OBJECT);
    if (nid == NID_rsaEncryption || nid == NID_dsa || nid == NID_ED25519 ||
        nid == NID_X25519 || (named && known_curve(OBJ_cbs2nid(&curve)))) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "not a valid X.509 certificate (its %s public key is malformed)",
                        alg);
    }
    if (named) {
      /* key_info names the curve BoringSSL does not know. */
      char curve_name[64];
      der_oid_name(&curve, curve_name, sizeof(curve_name));
      snprintf(info->key_name, sizeof(info->key_name), "EC %s", curve_name);
      snprintf(reason, reason_len, "EC keys on curve %s are not supported for S/MIME here",
               curve_name);
    } else if (nid == NID_X9_62_id_ecPublicKey) {
      snprintf(info->key_name, sizeof(info->key_name), "EC (explicit parameters)");
      snprintf(reason, reason_len,
               "EC keys with explicit curve parameters are not supported for S/MIME here");
    } else {
      snprintf(info->key_name, sizeof(info->key_name), "%s", alg);
      snprintf(reason, reason_len, "%s keys are not supported for S/MIME here", alg);
    }
    return 1;
  }
  switch (EVP_PKEY_id(pkey)) {
    case EVP_PKEY_RSA:
      info->key_algorithm = CERT_KEY_RSA;
      info->key_bits = (unsigned)EVP_PKEY_bits(pkey);
      snprintf(info->key_name, sizeof(info->key_name), "RSA");
      if (info->key_bits < 2048) {
        snprintf(reason, reason_len,
                 "RSA key of %u bits is too weak; at least 2048 are required",
                 info->key_bits);
      }
      break;
    case EVP_PKEY_EC: {
      const EC_GROUP *group = EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(pkey));
      int curve = group != NULL ? EC_GROUP_get_curve_name(group) : NID_undef;
      info->key_bits = (unsigned)EVP_PKEY_bits(pkey);
      if (curve == NID_X9_62_prime256v1) {
        info->key_algorithm = CERT_KEY_EC_P256;
        snprintf(info->key_name, sizeof(info->key_name), "EC P-256");
      } else if (curve == NID_secp384r1) {
        info->key_algorithm = CERT_KEY_EC_P384;
        snprintf(info->key_name, sizeof(info->key_name), "EC P-384");
      } else {
        const char *sn = curve != NID_undef ? OBJ_nid2sn(curve) : "(unnamed curve)";
        snprintf(info->key_name, sizeof(info->key_name), "EC %s", sn);
        snprintf(reason, reason_len, "EC keys on curve %s are not supported for S/MIME here",
                 sn);
      }
      break;
    }
    case EVP_PKEY_ED25519:
      info->key_algorithm = CERT_KEY_ED25519;
      info->key_bits = 256;
      snprintf(info->key_name, sizeof(info->key_name), "Ed25519");
      break;
    case EVP_PKEY_X25519:
      info->key_algorithm = CERT_KEY_X25519;
      info->key_bits = 256;
      snprintf(info->key_name, sizeof(info->key_name), "X25519");
      break;
    default: {
      int bits = EVP_PKEY_bits(pkey);
      info->key_bits = bits > 0 ? (unsigned)bits : 0;
      snprintf(info->key_name, sizeof(info->key_name), "%s",
               EVP_PKEY_id(pkey) == EVP_PKEY_DSA ? "DSA" : alg);
      snprintf(reason, reason_len, "%s keys are not supported for S/MIME here",
               info->key_name);
      break;
    }
  }
  EVP_PKEY_free(pkey);
  return 1;
}

/* eku_check says in |*out_ok| whether the extended key usage allows mail, and when not,
 * writes the usages it lists into |has| ("serverAuth, clientAuth"). */
static int eku_check(X509 *x509, int *out_ok, char *has, size_t has_len, STATUS *err) {
  *out_ok = 0;
  has[0] = '\0';
  int crit = -1;
  EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x509, NID_ext_key_usage, &crit, NULL);
  if (eku == NULL) {
    if (crit != -1) {
      return ext_fail(err, NID_ext_key_usage, crit);
    }
    *out_ok = 1;
    return 1;
  }
  size_t used = 0;
  for (size_t i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
    const ASN1_OBJECT *obj = sk_ASN1_OBJECT_value(eku, i);
    int nid = OBJ_obj2nid(obj);
    if (nid == NID_email_protect || nid == NID_anyExtendedKeyUsage) {
      *out_ok = 1;
    }
    char name[80];
    if (nid != NID_undef) {
      snprintf(name, sizeof(name), "%s", OBJ_nid2sn(nid));
    } else if (OBJ_obj2txt(name, sizeof(name), obj, 1) <= 0) {
      snprintf(name, sizeof(name), "(invalid OID)");
    }
    if (used < has_len) {
      int n = snprintf(has + used, has_len - used, "%s%s", used == 0 ? "" : ", ", name);
      if (n > 0) {
        used += (size_t)n;
      }
    }
  }
  if (used == 0) {
    snprintf(has, has_len, "nothing");
  }
  sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
  return 1;
}

/* find_bad_extension fills |err| for a certificate BoringSSL flagged EXFLAG_INVALID,
 * naming the extension when it is one of those it checks. */
static int find_bad_extension(X509 *x509, STATUS *err) {
  static const int kChecked[] = {
      NID_basic_constraints,       NID_key_usage,          NID_ext_key_usage,
      NID_subject_key_identifier,  NID_authority_key_identifier,
      NID_subject_alt_name,        NID_name_constraints,   NID_netscape_cert_type,
      NID_certificate_policies,    NID_policy_constraints, NID_inhibit_any_policy,
      NID_policy_mappings,         NID_crl_distribution_points,
      NID_freshest_crl,            NID_issuer_alt_name,
  };
  for (size_t i = 0; i < sizeof(kChecked) / sizeof(kChecked[0]); i++) {
    int crit = -1;
    void *ext = X509_get_ext_d2i(x509, kChecked[i], &crit, NULL);
    if (ext != NULL) {
      X509V3_EXT_free(kChecked[i], ext);
    } else if (crit != -1) {
      ERR_clear_error();
      return ext_fail(err, kChecked[i], crit);
    }
  }
  ERR_clear_error();
  return status_set(err, STATUS_INVALID_ARGUMENT,
                    "not a valid X.509 certificate (an extension is malformed, repeated or "
                    "inconsistent)");
}

/* append_reason adds |reason| to info->status_reason, "; "-separated. */
static void append_reason(CERT_INFO *info, const char *reason) {
  size_t used = strlen(info->status_reason);
  snprintf(info->status_reason + used, sizeof(info->status_reason) - used, "%s%s",
           used == 0 ? "" : "; ", reason);
}

/* copy_octets copies an OCTET STRING's content into a new buffer (NULL, 0 when |s| is
 * NULL). */
static int copy_octets(const ASN1_OCTET_STRING *s, uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (s == NULL) {
    return 1;
  }
  size_t len = (size_t)ASN1_STRING_length(s);
  uint8_t *p = malloc(len > 0 ? len : 1);
  if (p == NULL) {
    return 0;
  }
  memcpy(p, ASN1_STRING_get0_data(s), len);
  *out = p;
  *out_len = len;
  return 1;
}

/* fill_fields sets what |info| takes straight from the certificate: hashes, the
 * pieces of DER, names, serial, key identifiers and mail addresses. */
static int fill_fields(CERT_INFO *info, X509 *x509, const struct der_parts *parts,
                       STATUS *err) {
  SHA256(info->der, info->der_len, info->sha256);
  SHA1(info->der, info->der_len, info->sha1);
  SHA256(CBS_data(&parts->spki), CBS_len(&parts->spki), info->spki_sha256);
  info->subject_der = CBS_data(&parts->subject);
  info->subject_der_len = CBS_len(&parts->subject);
  info->issuer_der = CBS_data(&parts->issuer);
  info->issuer_der_len = CBS_len(&parts->issuer);
  info->serial_der = CBS_data(&parts->serial);
  info->serial_der_len = CBS_len(&parts->serial);
  info->not_before = parts->not_before;
  info->not_after = parts->not_after;
  info->subject = name_to_string(X509_get_subject_name(x509));
  info->issuer = name_to_string(X509_get_issuer_name(x509));
  info->serial_hex = serial_to_hex(&parts->serial);
  if (info->subject == NULL || info->issuer == NULL || info->serial_hex == NULL ||
      !copy_octets(X509_get0_subject_key_id(x509), &info->subject_key_id,
                   &info->subject_key_id_len) ||
      !copy_octets(X509_get0_authority_key_id(x509), &info->authority_key_id,
                   &info->authority_key_id_len)) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  return collect_emails(info, x509, err);
}

/* decide_usage sets is_ca, the key fields, can_sign, can_encrypt and the status (see
 * the rules at the top of this file). */
static int decide_usage(CERT_INFO *info, X509 *x509, const struct der_parts *parts,
                        STATUS *err) {
  /* decide_usage: is_ca is basicConstraints cA. A v1 certificate has no extensions at
   * all; a self-issued one is an old root CA (OpenSSL's X509_check_ca agrees). */
  int crit = -1;
  BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x509, NID_basic_constraints, &crit, NULL);
  if (bc == NULL && crit != -1) {
    return ext_fail(err, NID_basic_constraints, crit);
  }
  info->is_ca = (bc != NULL && bc->ca) ||
                (parts->version == 0 && CBS_mem_equal(&parts->subject, info->issuer_der,
                                                      info->issuer_der_len));
  BASIC_CONSTRAINTS_free(bc);

  char key_reason[160];
  int eku_ok;
  char eku_has[200];
  if (!key_info(info, x509, parts, key_reason, sizeof(key_reason), err) ||
      !eku_check(x509, &eku_ok, eku_has, sizeof(eku_has), err)) {
    return 0;
  }
  uint32_t ku = X509_get_key_usage(x509); /* UINT32_MAX: no keyUsage extension */
  int sign = 0, encrypt = 0;
  switch (info->key_algorithm) {
    case CERT_KEY_RSA:
      sign = (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0;
      encrypt = (ku & KU_KEY_ENCIPHERMENT) != 0;
      break;
    case CERT_KEY_EC_P256:
    case CERT_KEY_EC_P384:
      sign = (ku & KU_DIGITAL_SIGNATURE) != 0;
      encrypt = (ku & KU_KEY_AGREEMENT) != 0;
      break;
    case CERT_KEY_ED25519:
      sign = (ku & KU_DIGITAL_SIGNATURE) != 0;
      break;
    case CERT_KEY_X25519:
      encrypt = (ku & KU_KEY_AGREEMENT) != 0;
      break;
    default:
      break;
  }
  info->can_sign = sign && eku_ok && key_reason[0] == '\0';
  info->can_encrypt = encrypt && eku_ok && key_reason[0] == '\0';

  info->status = CERT_STATUS_VALID;
  if (!info->is_ca) {
    char buf[300];
    if (!eku_ok) {
      snprintf(buf, sizeof(buf), "extended key usage lacks emailProtection (has: %s)",
               eku_has);
      append_reason(info, buf);
    }
    if (info->num_emails == 0) {
      append_reason(info, "no mail address in subjectAltName or subject emailAddress");
    }
    if (key_reason[0] != '\0') {
      append_reason(info, key_reason);
    }
    if (eku_ok && key_reason[0] == '\0' && !sign && !encrypt) {
      append_reason(info, "key usage allows neither signing nor encryption");
    }
    if (info->status_reason[0] != '\0') {
      info->status = CERT_STATUS_NOT_FOR_SMIME;
    }
  }
  return 1;
}

/* over_size_limit fills |err| when |der_len| is over CERT_INFO_MAX_DER. */
static int over_size_limit(size_t der_len, STATUS *err) {
  if (der_len <= CERT_INFO_MAX_DER) {
    return 0;
  }
  status_set(err, STATUS_RESOURCE_EXHAUSTED, "a certificate of %zu bytes is over the limit of %u",
             der_len, CERT_INFO_MAX_DER);
  return 1;
}

int cert_outline(const uint8_t *der, size_t der_len, CERT_OUTLINE *out, STATUS *err) {
  struct der_parts parts;
  memset(out, 0, sizeof(*out));
  if (over_size_limit(der_len, err) || !walk_certificate(der, der_len, &parts, err)) {
    return 0;
  }
  out->issuer_der = CBS_data(&parts.issuer);
  out->issuer_der_len = CBS_len(&parts.issuer);
  out->not_before = parts.not_before;
  out->not_after = parts.not_after;
  return 1;
}

CERT_INFO *cert_info_new(const uint8_t *der, size_t der_len, STATUS *err) {
  CERT_INFO *info = NULL;
  X509 *x509 = NULL;
  struct der_parts parts;
  const uint8_t *p;

  if (over_size_limit(der_len, err)) {
    goto err;
  }
  info = calloc(1, sizeof(CERT_INFO));
  if (info != NULL) {
    info->refs = 1;
  }
  if (info == NULL || (info->der = malloc(der_len > 0 ? der_len : 1)) == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  memcpy(info->der, der, der_len);
  info->der_len = der_len;
  if (!walk_certificate(info->der, info->der_len, &parts, err)) {
    goto err;
  }
  p = info->der;
  ERR_clear_error();
  x509 = d2i_X509(NULL, &p, (long)info->der_len);
  if (x509 == NULL) {
    boringssl_fail(err);
    goto err;
  }
  if (p != info->der + info->der_len) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "not a valid X.509 certificate (trailing data after it)");
    goto err;
  }
  if ((X509_get_extension_flags(x509) & EXFLAG_INVALID) != 0) {
    find_bad_extension(x509, err);
    goto err;
  }
  if (!fill_fields(info, x509, &parts, err) || !decide_usage(info, x509, &parts, err)) {
    goto err;
  }
  X509_free(x509);
  ERR_clear_error();
  return info;

err:
  X509_free(x509);
  cert_info_free(info);
  ERR_clear_error();
  return NULL;
}

CERT_INFO *cert_info_ref(CERT_INFO *info) {
  __atomic_add_fetch(&info->refs, 1, __ATOMIC_RELAXED);
  return info;
}

void cert_info_free(CERT_INFO *info) {
  if (info == NULL || __atomic_sub_fetch(&info->refs, 1, __ATOMIC_ACQ_REL) > 0) {
    return;
  }
  free(info->der);
  free(info->subject);
  free(info->issuer);
  free(info->serial_hex);
  for (size_t i = 0; i < info->num_emails; i++) {
    free(info->emails[i]);
  }
  free(info->emails);
  free(info->subject_key_id);
  free(info->authority_key_id);
  free(info);
}
