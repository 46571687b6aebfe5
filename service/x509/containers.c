/* containers.c: see containers.h.
 *
 * Detection: a file whose first byte is 0x30 (a SEQUENCE) and whose outer header reads
 * is DER or BER; otherwise a file with a "-----BEGIN " line is PEM; anything else is
 * refused, saying whether it looked like text or binary. */
#include "service/x509/containers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/bytestring.h>
#include <openssl/mem.h>

#include "service/x509/der_util.h"

/* CBS_asn1_ber_to_der reads one BER element from |in| and sets |*out| to its DER form:
 * pointing into |in| with |*out_storage| NULL when it was DER already, else into
 * |*out_storage| (free with OPENSSL_free). Exported by Debian's BoringSSL but missing
 * from its headers (DESIGN.md section 8); BoringSSL's own PKCS#7 code uses it. */
int CBS_asn1_ber_to_der(CBS *in, CBS *out, uint8_t **out_storage);

/* kNotCertFile starts the message for input in no format we know. */
static const char kNotCertFile[] =
    "not a certificate file: expected PEM, DER, PKCS#7 or PKCS#12";

/* kMaxDepth is how deep der_find_break looks for the place a file breaks. */
static const int kMaxDepth = 32;

/* kSignedData is the OID 1.2.840.113549.1.7.2 (PKCS#7 signedData), content octets. */
static const uint8_t kSignedData[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};

/* add_entry appends a copy of |der| as a certificate found at |where|. */
static int add_entry(CERT_FILE *f, const uint8_t *der, size_t der_len, const char *where,
                     STATUS *err) {
  if (f->num_certs >= CERT_FILE_MAX_CERTS) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED,
                      "the file holds more than %d certificates (the limit per import)",
                      CERT_FILE_MAX_CERTS);
  }
  /* add_entry grows the array by doubling: a bundle may hold thousands. */
  size_t n = f->num_certs;
  if (n == f->certs_cap) {
    size_t cap = n == 0 ? 4 : 2 * n;
    CERT_FILE_ENTRY *certs = realloc(f->certs, cap * sizeof(CERT_FILE_ENTRY));
    if (certs == NULL) {
      return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    f->certs = certs;
    f->certs_cap = cap;
  }
  CERT_FILE_ENTRY *e = &f->certs[n];
  memset(e, 0, sizeof(*e));
  e->der = malloc(der_len > 0 ? der_len : 1);
  if (e->der == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  memcpy(e->der, der, der_len);
  e->der_len = der_len;
  snprintf(e->where, sizeof(e->where), "%s", where);
  f->num_certs++;
  return 1;
}

/* parse_pkcs7 reads the certificates of the PKCS#7 ContentInfo |ci| (DER, whole
 * element) into |f|. |name| names the container in messages ("the PKCS#7 file",
 * "PEM block 1 (PKCS7)"), |entry| its certificates ("PKCS#7 certificate 2"); |base| is
 * where offsets count from (NULL: none). Elements of the certificate SET that are not
 * plain certificates (attribute certificates, other formats) are skipped. */
static int parse_pkcs7(CERT_FILE *f, CBS ci, const char *name, const char *entry,
                       const uint8_t *base, STATUS *err) {
  char why[DER_WHY_LEN];
  CBS content_info, oid, explicit_content, sd, tmp, certs;
  if (!der_get_field(&ci, &content_info, CBS_ASN1_SEQUENCE, 0, "ContentInfo", base, why,
                     sizeof(why)) ||
      !der_get_field(&content_info, &oid, CBS_ASN1_OBJECT, 0, "ContentInfo.contentType",
                     base, why, sizeof(why))) {
    goto malformed;
  }
  if (!CBS_mem_equal(&oid, kSignedData, sizeof(kSignedData))) {
    char type[80];
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%s has content type %s, not signedData (a certificate bundle)", name,
                      der_oid_name(&oid, type, sizeof(type)));
  }
  if (!der_get_field(&content_info, &explicit_content,
                     CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0, 0,
                     "ContentInfo.content", base, why, sizeof(why)) ||
      !der_expect_end(&content_info, "ContentInfo", base, why, sizeof(why)) ||
      !der_get_field(&explicit_content, &sd, CBS_ASN1_SEQUENCE, 0, "SignedData", base, why,
                     sizeof(why)) ||
      !der_expect_end(&explicit_content, "ContentInfo.content", base, why, sizeof(why)) ||
      !der_get_field(&sd, &tmp, CBS_ASN1_INTEGER, 0, "SignedData.version", base, why,
                     sizeof(why)) ||
      !der_get_field(&sd, &tmp, CBS_ASN1_SET, 0, "SignedData.digestAlgorithms", base, why,
                     sizeof(why)) ||
      !der_get_field(&sd, &tmp, CBS_ASN1_SEQUENCE, 0, "SignedData.encapContentInfo", base,
                     why, sizeof(why))) {
    goto malformed;
  }
  CBS_init(&certs, NULL, 0);
  if (CBS_peek_asn1_tag(&sd, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0) &&
      !der_get_field(&sd, &certs, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0, 0,
                     "SignedData.certificates", base, why, sizeof(why))) {
    goto malformed;
  }
  if (CBS_peek_asn1_tag(&sd, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 1) &&
      !der_get_field(&sd, &tmp, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 1, 0,
                     "SignedData.crls", base, why, sizeof(why))) {
    goto malformed;
  }
  if (!der_get_field(&sd, &tmp, CBS_ASN1_SET, 0, "SignedData.signerInfos", base, why,
                     sizeof(why)) ||
      !der_expect_end(&sd, "SignedData", base, why, sizeof(why))) {
    goto malformed;
  }
  for (size_t i = 1; CBS_len(&certs) > 0; i++) {
    CBS cert;
    unsigned tag;
    char where[80];
    snprintf(where, sizeof(where), "SignedData.certificates, element %zu", i);
    if (!CBS_get_any_asn1_element(&certs, &cert, &tag, NULL)) {
      der_where(why, sizeof(why), where, &certs, base,
                "bad tag or length (truncated, or not DER)");
      goto malformed;
    }
    if (tag != CBS_ASN1_SEQUENCE) {
      continue;
    }
    snprintf(where, sizeof(where), "%s %zu", entry, i);
    if (!add_entry(f, CBS_data(&cert), CBS_len(&cert), where, err)) {
      return 0;
    }
  }
  return 1;

malformed:
  return status_set(err, STATUS_INVALID_ARGUMENT, "%s is malformed (ASN.1 error %s)", name,
                    why);
}

/* parse_ber_pkcs7 reads the PKCS#7 bundle that makes up all |len| bytes at |data| (BER
 * or DER), for a PEM PKCS7 block. */
static int parse_ber_pkcs7(CERT_FILE *f, const uint8_t *data, size_t len,
                           const char *name, STATUS *err) {
  CBS in, der;
  uint8_t *storage = NULL;
  CBS_init(&in, data, len);
  if (!CBS_asn1_ber_to_der(&in, &der, &storage)) {
    CBS at;
    CBS_init(&in, data, len);
    if (der_find_break(in, kMaxDepth, &at)) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "%s is malformed (the element at offset %zu of the decoded block "
                        "is truncated or overruns its parent)",
                        name, der_offset(&at, data));
    }
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%s is malformed (not valid BER or DER: truncated, or lengths that "
                      "do not add up)",
                      name);
  }
  int ok;
  if (CBS_len(&in) != 0) {
    ok = status_set(err, STATUS_INVALID_ARGUMENT,
                    "%s has %zu byte%s of trailing data after the PKCS#7 bundle", name,
                    CBS_len(&in), CBS_len(&in) == 1 ? "" : "s");
  } else {
    char entry[80];
    snprintf(entry, sizeof(entry), "%s, certificate", name);
    ok = parse_pkcs7(f, der, name, entry, storage == NULL ? data : NULL, err);
  }
  OPENSSL_free(storage);
  return ok;
}

/* looks_like_pkcs12 says whether |data| starts like a PKCS#12 PFX: a SEQUENCE (BER:
 * NSS writes indefinite lengths) whose first element is INTEGER 3 and second a
 * SEQUENCE starting with an OBJECT IDENTIFIER (the authSafe ContentInfo). */
static int looks_like_pkcs12(const uint8_t *data, size_t len) {
  CBS in, elem, content, version;
  unsigned tag;
  size_t header_len;
  int ber_found, indefinite;
  CBS_init(&in, data, len);
  if (!CBS_get_any_ber_asn1_element(&in, &elem, &tag, &header_len, &ber_found,
                                    &indefinite) ||
      tag != CBS_ASN1_SEQUENCE) {
    return 0;
  }
  if (indefinite) {
    content = in;
  } else {
    content = elem;
    if (!CBS_skip(&content, header_len)) {
      return 0;
    }
  }
  if (!CBS_get_any_ber_asn1_element(&content, &version, &tag, &header_len, &ber_found,
                                    &indefinite) ||
      tag != CBS_ASN1_INTEGER || indefinite || !CBS_skip(&version, header_len)) {
    return 0;
  }
  static const uint8_t kThree[] = {3};
  if (!CBS_mem_equal(&version, kThree, sizeof(kThree))) {
    return 0;
  }
  if (!CBS_get_any_ber_asn1_element(&content, &elem, &tag, &header_len, &ber_found,
                                    &indefinite) ||
      tag != CBS_ASN1_SEQUENCE) {
    return 0;
  }
  CBS auth_safe;
  if (indefinite) {
    auth_safe = content;
  } else {
    auth_safe = elem;
    if (!CBS_skip(&auth_safe, header_len)) {
      return 0;
    }
  }
  return CBS_peek_asn1_tag(&auth_safe, CBS_ASN1_OBJECT);
}

/* private_key_kind names the private key format a DER SEQUENCE's first two elements
 * (|first|, whole element, and the tag of the second, 0 if none) look like, or
 * returns NULL. */
static const char *private_key_kind(CBS first, unsigned first_tag, unsigned second_tag) {
  if (first_tag == CBS_ASN1_SEQUENCE && second_tag == CBS_ASN1_OCTETSTRING) {
    return "an encrypted PKCS#8 private key";
  }
  CBS value;
  if (first_tag != CBS_ASN1_INTEGER || !CBS_get_asn1(&first, &value, CBS_ASN1_INTEGER)) {
    return NULL;
  }
  static const uint8_t kZero[] = {0}, kOne[] = {1};
  if (CBS_mem_equal(&value, kZero, 1) && second_tag == CBS_ASN1_SEQUENCE) {
    return "a PKCS#8 private key";
  }
  if (CBS_mem_equal(&value, kZero, 1) && second_tag == CBS_ASN1_INTEGER) {
    return "a PKCS#1 RSA (or DSA) private key";
  }
  if (CBS_mem_equal(&value, kOne, 1) && second_tag == CBS_ASN1_OCTETSTRING) {
    return "an EC (SEC1) private key";
  }
  return NULL;
}

/* classify_der reads the DER form |der| of a file (|data|, |len| bytes; |converted|
 * when |der| is a BER-to-DER conversion of it rather than the file itself). */
static int classify_der(CERT_FILE *f, CBS der, int converted, const uint8_t *data,
                        size_t len, STATUS *err) {
  CBS top = der, seq, rest, first;
  unsigned first_tag = 0, second_tag = 0;
  if (!CBS_get_asn1(&top, &seq, CBS_ASN1_SEQUENCE)) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "%s (the outer SEQUENCE is malformed)",
                      kNotCertFile);
  }
  rest = seq;
  if (!CBS_get_any_asn1_element(&rest, &first, &first_tag, NULL)) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%s (a DER SEQUENCE that is empty or malformed)", kNotCertFile);
  }
  if (CBS_len(&rest) > 0 && !CBS_get_any_asn1_element(&rest, NULL, &second_tag, NULL)) {
    second_tag = 0;
  }
  const char *key_kind = private_key_kind(first, first_tag, second_tag);
  if (first_tag == CBS_ASN1_OBJECT) {
    f->format = CERT_FILE_FORMAT_PKCS7;
    return parse_pkcs7(f, der, "the PKCS#7 file", "PKCS#7 certificate",
                       converted ? NULL : data, err);
  }
  if (first_tag == CBS_ASN1_SEQUENCE && second_tag != CBS_ASN1_OCTETSTRING) {
    /* classify_der takes any other SEQUENCE starting with a SEQUENCE for a certificate
     * (tbsCertificate first), so that cert_info_new says where a broken one breaks. */
    if (converted) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "the certificate is BER-encoded (indefinite or non-minimal "
                        "lengths); certificates must be DER");
    }
    f->format = CERT_FILE_FORMAT_DER;
    return add_entry(f, data, len, "the DER certificate", err);
  }
  if (key_kind != NULL) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "the file is %s, not a certificate: import it with ImportPrivateKey",
                      key_kind);
  }
  char name[48];
  return status_set(err, STATUS_INVALID_ARGUMENT,
                    "%s (a DER SEQUENCE starting with %s: not a certificate, a PKCS#7 "
                    "bundle or a PKCS#12 file)",
                    kNotCertFile, der_tag_name(first_tag, name, sizeof(name)));
}

/* parse_der reads a file that starts with a SEQUENCE: a certificate, a PKCS#7 bundle
 * or a PKCS#12, each making up the whole file. */
static int parse_der(CERT_FILE *f, const uint8_t *data, size_t len, STATUS *err) {
  if (looks_like_pkcs12(data, len)) {
    f->format = CERT_FILE_FORMAT_PKCS12;
    return 1;
  }
  CBS in, outer, der, at;
  unsigned tag;
  size_t header_len;
  int ber_found, indefinite;
  CBS_init(&in, data, len);
  if (!CBS_get_any_ber_asn1_element(&in, &outer, &tag, &header_len, &ber_found,
                                    &indefinite)) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "not a valid DER file: the outer SEQUENCE's length runs past the end "
                      "of the file, or its header is malformed (truncated file?)");
  }
  if (!indefinite && CBS_len(&in) != 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%zu byte%s of trailing data after the DER structure (at offset %zu)",
                      CBS_len(&in), CBS_len(&in) == 1 ? "" : "s", der_offset(&in, data));
  }
  uint8_t *storage = NULL;
  CBS_init(&in, data, len);
  if (!CBS_asn1_ber_to_der(&in, &der, &storage)) {
    if (!indefinite && der_find_break(outer, kMaxDepth, &at)) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "not a valid DER file: the element at offset %zu is truncated or "
                        "overruns its parent",
                        der_offset(&at, data));
    }
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "not a valid DER or BER file: an element inside is truncated, its "
                      "length does not fit in its parent, or it nests too deep");
  }
  int ok;
  if (CBS_len(&in) != 0) {
    ok = status_set(err, STATUS_INVALID_ARGUMENT,
                    "%zu byte%s of trailing data after the BER structure (at offset %zu)",
                    CBS_len(&in), CBS_len(&in) == 1 ? "" : "s", der_offset(&in, data));
  } else {
    ok = classify_der(f, der, storage != NULL, data, len, err);
  }
  OPENSSL_free(storage);
  return ok;
}

/* line_of returns the 1-based line number of |p| in |data|. */
static size_t line_of(const uint8_t *data, const uint8_t *p) {
  size_t line = 1;
  for (const uint8_t *q = data; q < p; q++) {
    if (*q == '\n') {
      line++;
    }
  }
  return line;
}

/* is_b64 says whether |c| is in the base64 alphabet (padding included). */
static int is_b64(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/' || c == '=';
}

/* is_space says whether |c| is whitespace allowed in a PEM body. */
static int is_space(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* pem_decode decodes the base64 between a BEGIN and an END line (|body|, |len|
 * bytes). RFC 1421 header lines ("Name: value", up to a blank line) before the base64
 * are skipped; whitespace is ignored. On failure returns NULL and sets |*out_bad| to
 * the first byte that is not base64, or to NULL when the length or padding is wrong.
 * An empty body decodes to an empty, non-NULL buffer. */
static uint8_t *pem_decode(const uint8_t *body, size_t len, size_t *out_len,
                           const uint8_t **out_bad) {
  uint8_t *b64 = NULL, *out = NULL;
  size_t n = 0, i = 0, max_out;
  int state = 0; /* 0: before anything, 1: in headers, 2: in base64 */
  *out_len = 0;
  *out_bad = NULL;
  b64 = malloc(len > 0 ? len : 1);
  if (b64 == NULL) {
    goto err;
  }
  while (i < len) {
    size_t end = i;
    while (end < len && body[end] != '\n') {
      end++;
    }
    int blank = 1, colon = 0;
    for (size_t k = i; k < end; k++) {
      if (!is_space(body[k])) {
        blank = 0;
      }
      if (body[k] == ':') {
        colon = 1;
      }
    }
    if (state == 0 && !blank) {
      state = colon ? 1 : 2;
    } else if (state == 1 && blank) {
      state = 2;
      i = end + 1;
      continue;
    }
    if (state == 2) {
      for (size_t k = i; k < end; k++) {
        if (is_space(body[k])) {
          continue;
        }
        if (!is_b64(body[k])) {
          *out_bad = &body[k];
          goto err;
        }
        b64[n++] = body[k];
      }
    }
    i = end + 1;
  }
  if (!EVP_DecodedLength(&max_out, n)) {
    goto err;
  }
  out = malloc(max_out > 0 ? max_out : 1);
  if (out == NULL || !EVP_DecodeBase64(out, out_len, max_out, b64, n)) {
    goto err;
  }
  free(b64);
  return out;

err:
  free(b64);
  free(out);
  *out_len = 0;
  return NULL;
}

/* is_private_key_label says whether |label| is a private key block's. */
static int is_private_key_label(const char *label) {
  static const char *const kKeyLabels[] = {
      "PRIVATE KEY",        "RSA PRIVATE KEY", "EC PRIVATE KEY",
      "ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY", "ANY PRIVATE KEY",
  };
  for (size_t i = 0; i < sizeof(kKeyLabels) / sizeof(kKeyLabels[0]); i++) {
    if (strcmp(label, kKeyLabels[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

/* read_label reads a PEM label ending in "-----" at |p| (at most 64 printable ASCII
 * characters, no '-', on one line) into |label|. Returns a pointer just past the
 * "-----", or NULL. */
static const uint8_t *read_label(const uint8_t *p, const uint8_t *end, char label[65]) {
  size_t n = 0;
  while (p < end && *p != '-') {
    if (*p < 0x20 || *p > 0x7e || n == 64) {
      return NULL;
    }
    label[n++] = (char)*p++;
  }
  label[n] = '\0';
  if (n == 0 || (size_t)(end - p) < 5 || memcmp(p, "-----", 5) != 0) {
    return NULL;
  }
  return p + 5;
}

/* pem_block_state is what parse_pem has seen so far, for the format and messages. */
struct pem_state {
  int cert_blocks;
  int pkcs7_blocks;
  char other_labels[160];
};

/* note_other_label remembers up to a few labels of skipped blocks. */
static void note_other_label(struct pem_state *st, const char *label) {
  if (strstr(st->other_labels, label) != NULL) {
    return;
  }
  size_t used = strlen(st->other_labels);
  if (used + strlen(label) + 3 < sizeof(st->other_labels)) {
    snprintf(st->other_labels + used, sizeof(st->other_labels) - used, "%s%s",
             used == 0 ? "" : ", ", label);
  }
}

/* pem_block handles one block: |label|, base64 |body| of |body_len| bytes. */
static int pem_block(CERT_FILE *f, struct pem_state *st, const uint8_t *data, int block,
                     const char *label, const uint8_t *body, size_t body_len,
                     STATUS *err) {
  int is_cert = strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0;
  int is_trusted = strcmp(label, "TRUSTED CERTIFICATE") == 0;
  int is_pkcs7 = strcmp(label, "PKCS7") == 0 || strcmp(label, "PKCS #7 SIGNED DATA") == 0 ||
                 strcmp(label, "CMS") == 0;
  if (is_private_key_label(label)) {
    f->contains_private_key = 1;
    return 1;
  }
  if (!is_cert && !is_trusted && !is_pkcs7) {
    note_other_label(st, label);
    return 1;
  }
  char where[80];
  snprintf(where, sizeof(where), "PEM block %d (%s)", block, label);
  size_t der_len;
  const uint8_t *bad;
  uint8_t *der = pem_decode(body, body_len, &der_len, &bad);
  if (der == NULL) {
    if (bad != NULL) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "%s is not valid base64 (character 0x%02x on line %zu)", where, *bad,
                        line_of(data, bad));
    }
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%s is not valid base64 (truncated, or bad padding)", where);
  }
  int ok = 0;
  if (der_len == 0) {
    status_set(err, STATUS_INVALID_ARGUMENT, "%s is empty", where);
    goto out;
  }
  if (is_cert) {
    st->cert_blocks++;
    ok = add_entry(f, der, der_len, where, err);
  } else if (is_trusted) {
    /* pem_block takes the certificate of OpenSSL's trusted form and leaves the trust
     * settings (an X509_CERT_AUX) after it: they are OpenSSL's, not ours. */
    st->cert_blocks++;
    CBS in, cert;
    char why[DER_WHY_LEN];
    CBS_init(&in, der, der_len);
    if (!der_get_field(&in, &cert, CBS_ASN1_SEQUENCE, 1, "Certificate", der, why,
                       sizeof(why))) {
      status_set(err, STATUS_INVALID_ARGUMENT,
                 "%s: not a valid X.509 certificate (ASN.1 error %s)", where, why);
      goto out;
    }
    ok = add_entry(f, CBS_data(&cert), CBS_len(&cert), where, err);
  } else {
    st->pkcs7_blocks++;
    ok = parse_ber_pkcs7(f, der, der_len, where, err);
  }

out:
  free(der);
  return ok;
}

/* parse_pem reads every PEM block of |data|. */
static int parse_pem(CERT_FILE *f, const uint8_t *data, size_t len, STATUS *err) {
  static const char kBegin[] = "-----BEGIN ", kEnd[] = "-----END ";
  const size_t begin_len = sizeof(kBegin) - 1, end_len = sizeof(kEnd) - 1;
  const uint8_t *const end = data + len;
  const uint8_t *p = data;
  struct pem_state st;
  memset(&st, 0, sizeof(st));
  int block = 0;
  for (;;) {
    const uint8_t *begin = memmem(p, (size_t)(end - p), kBegin, begin_len);
    if (begin == NULL) {
      break;
    }
    block++;
    char label[65], end_label[65];
    const uint8_t *body = read_label(begin + begin_len, end, label);
    if (body == NULL) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "PEM block %d: the BEGIN line (line %zu) has no valid label ending "
                        "in \"-----\"",
                        block, line_of(data, begin));
    }
    const uint8_t *stop = memmem(body, (size_t)(end - body), kEnd, end_len);
    const uint8_t *next = memmem(body, (size_t)(end - body), kBegin, begin_len);
    if (stop == NULL || (next != NULL && next < stop)) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "PEM block %d (%s) has no END line%s", block, label,
                        stop == NULL ? "" : " before the next BEGIN");
    }
    const uint8_t *after = read_label(stop + end_len, end, end_label);
    if (after == NULL || strcmp(label, end_label) != 0) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "PEM block %d: BEGIN %s ends with a different END line (line %zu)",
                        block, label, line_of(data, stop));
    }
    if (!pem_block(f, &st, data, block, label, body, (size_t)(stop - body), err)) {
      return 0;
    }
    p = after;
  }
  if (block == 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%s (first bytes look like text without a PEM block)", kNotCertFile);
  }
  f->format = st.cert_blocks == 0 && st.pkcs7_blocks > 0 ? CERT_FILE_FORMAT_PKCS7
                                                         : CERT_FILE_FORMAT_PEM;
  if (f->num_certs == 0) {
    if (st.pkcs7_blocks > 0) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "the file holds no certificate (its PKCS#7 bundle is empty)");
    }
    if (f->contains_private_key) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "the file holds no certificate, only a private key: import it "
                        "with ImportPrivateKey");
    }
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "the file holds no certificate (PEM blocks found: %s)",
                      st.other_labels[0] != '\0' ? st.other_labels : "none");
  }
  return 1;
}

/* looks_like_text says whether the start of |data| is text: no control characters
 * but tab, CR and LF (bytes over 0x7f count as text when they can be UTF-8). */
static int looks_like_text(const uint8_t *data, size_t len) {
  size_t n = len < 512 ? len : 512;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = data[i];
    /* looks_like_text: 0xc0, 0xc1 and 0xf5..0xff never occur in UTF-8. */
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f || c == 0xc0 ||
        c == 0xc1 || c >= 0xf5) {
      return 0;
    }
  }
  return 1;
}

/* split_file detects the format of |data| and fills |f|. */
static int split_file(CERT_FILE *f, const uint8_t *data, size_t len, STATUS *err) {
  if (len == 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "the file is empty");
  }
  CBS probe, elem;
  CBS_init(&probe, data, len);
  unsigned tag;
  size_t header_len;
  int ber_found, indefinite;
  /* split_file takes a file for DER when its outer element spans all of it, so that a
   * PEM file whose text happens to start with "0" (0x30) is still PEM. */
  int der_whole = data[0] == 0x30 &&
                  CBS_get_any_ber_asn1_element(&probe, &elem, &tag, &header_len,
                                               &ber_found, &indefinite) &&
                  (indefinite || CBS_len(&probe) == 0);
  int has_pem = memmem(data, len, "-----BEGIN ", 11) != NULL;
  if (der_whole || (data[0] == 0x30 && !has_pem)) {
    if (!parse_der(f, data, len, err)) {
      return 0;
    }
  } else if (has_pem) {
    if (!parse_pem(f, data, len, err)) {
      return 0;
    }
  } else if (looks_like_text(data, len)) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%s (first bytes look like text without a PEM block)", kNotCertFile);
  } else {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%s (binary data starting with byte 0x%02x, which is not an ASN.1 "
                      "SEQUENCE)",
                      kNotCertFile, data[0]);
  }
  if (f->num_certs == 0 && strcmp(f->format, CERT_FILE_FORMAT_PKCS12) != 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "the file holds no certificate%s",
                      strcmp(f->format, CERT_FILE_FORMAT_PKCS7) == 0
                          ? " (its PKCS#7 bundle is empty)"
                          : "");
  }
  return 1;
}

CERT_FILE *cert_file_parse(const uint8_t *data, size_t len, STATUS *err) {
  CERT_FILE *f = calloc(1, sizeof(CERT_FILE));
  if (f == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return NULL;
  }
  if (!split_file(f, data, len, err)) {
    cert_file_free(f);
    return NULL;
  }
  return f;
}

void cert_file_free(CERT_FILE *f) {
  if (f == NULL) {
    return;
  }
  for (size_t i = 0; i < f->num_certs; i++) {
    free(f->certs[i].der);
  }
  free(f->certs);
  free(f);
}
