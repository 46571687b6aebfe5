/* malformed_test: hostile input for cert_file_parse and cert_info_new, built with
 * AddressSanitizer and UndefinedBehaviorSanitizer (see BUILD), so that a memory error
 * or a leak fails the test even where the result looks right.
 *   1. Every file of testdata/malformed/ (argv[2] is its README; the files are made
 *      by testdata/make_malformed.py) must be refused: INVALID_ARGUMENT, or
 *      RESOURCE_EXHAUSTED for the limit-* files. At least 50 of them.
 *   2. Thunderbird's TestCA.pem (argv[1]), as DER, PEM and in a PKCS#7 bundle:
 *      truncated at every length, every byte flipped in three ways, and many random
 *      multi-byte mutations (fixed seed). Each result must be a success with sane
 *      fields or INVALID_ARGUMENT; never a crash. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/bytestring.h>
#include <openssl/mem.h>

#include "service/common/status.h"
#include "service/x509/cert_info.h"
#include "service/x509/containers.h"
#include "tests/ctest/check.h"


/* read_file reads all of |path|. */
static uint8_t *read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  CHECK(fseek(f, 0, SEEK_END) == 0);
  long len = ftell(f);
  CHECK(len >= 0);
  CHECK(fseek(f, 0, SEEK_SET) == 0);
  uint8_t *buf = malloc((size_t)len + 1);
  CHECK(buf != NULL);
  CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len);
  fclose(f);
  *out_len = (size_t)len;
  return buf;
}

/* touch_info reads every field of |info|, so that the sanitizers see any bad one. */
static void touch_info(const CERT_INFO *info) {
  CHECK(info->der != NULL && info->der_len > 0);
  CHECK(info->subject != NULL && info->issuer != NULL && info->serial_hex != NULL);
  size_t sum = strlen(info->subject) + strlen(info->issuer) + strlen(info->serial_hex);
  for (size_t i = 0; i < info->num_emails; i++) {
    sum += strlen(info->emails[i]);
    CHECK(strchr(info->emails[i], '@') != NULL);
  }
  for (size_t i = 0; i < info->subject_der_len; i++) {
    sum += info->subject_der[i];
  }
  for (size_t i = 0; i < info->issuer_der_len; i++) {
    sum += info->issuer_der[i];
  }
  for (size_t i = 0; i < info->serial_der_len; i++) {
    sum += info->serial_der[i];
  }
  for (size_t i = 0; i < info->subject_key_id_len; i++) {
    sum += info->subject_key_id[i];
  }
  for (size_t i = 0; i < info->authority_key_id_len; i++) {
    sum += info->authority_key_id[i];
  }
  CHECK(info->status == CERT_STATUS_VALID || info->status == CERT_STATUS_NOT_FOR_SMIME);
  CHECK((info->status == CERT_STATUS_VALID) == (info->status_reason[0] == '\0'));
  CHECK(info->key_algorithm >= CERT_KEY_RSA && info->key_algorithm <= CERT_KEY_OTHER);
  CHECK(sum > 0);
}

/* parse_all does what the engine does with a file: split it, then read every
 * certificate. Returns 1, or 0 with |st| filled. */
static int parse_all(const uint8_t *data, size_t len, STATUS *st) {
  status_clear(st);
  CERT_FILE *f = cert_file_parse(data, len, st);
  if (f == NULL) {
    CHECK(st->code != STATUS_OK && st->message[0] != '\0');
    return 0;
  }
  CHECK(f->format != NULL);
  for (size_t i = 0; i < f->num_certs; i++) {
    STATUS inner;
    status_clear(&inner);
    CERT_INFO *info = cert_info_new(f->certs[i].der, f->certs[i].der_len, &inner);
    if (info == NULL) {
      CHECK(inner.code != STATUS_OK && inner.message[0] != '\0');
      status_set(st, inner.code, "%s: %s", f->certs[i].where, inner.message);
      cert_file_free(f);
      return 0;
    }
    touch_info(info);
    cert_info_free(info);
  }
  cert_file_free(f);
  return 1;
}

/* check_corpus runs every file of the directory |dir|. */
static void check_corpus(const char *dir) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *ent;
  int count = 0;
  while ((ent = readdir(d)) != NULL) {
    if (ent->d_name[0] == '.' || strcmp(ent->d_name, "README") == 0) {
      continue;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name);
    size_t len;
    uint8_t *data = read_file(path, &len);
    STATUS st;
    int ok = parse_all(data, len, &st);
    int want = strncmp(ent->d_name, "limit-", 6) == 0 ? STATUS_RESOURCE_EXHAUSTED
                                                       : STATUS_INVALID_ARGUMENT;
    printf("%-40s %s: %s\n", ent->d_name, ok ? "ACCEPTED" : status_code_name(st.code),
           ok ? "" : st.message);
    CHECK(!ok);
    CHECK(st.code == want);
    free(data);
    count++;
  }
  closedir(d);
  printf("%d malformed files refused\n", count);
  CHECK(count >= 50);
}

/* expect_no_crash parses |data| and accepts a success or an INVALID_ARGUMENT. */
static void expect_no_crash(const uint8_t *data, size_t len) {
  STATUS st;
  if (!parse_all(data, len, &st)) {
    if (st.code != STATUS_INVALID_ARGUMENT) {
      fprintf(stderr, "unexpected: %s: %s\n", status_code_name(st.code), st.message);
    }
    CHECK(st.code == STATUS_INVALID_ARGUMENT);
  }
}

/* mutate runs |len| bytes through truncation at every length, flips of every byte,
 * and |rounds| random mutations. With |truncations_fail|, every truncation must fail
 * (true of DER; a PEM cut after its END line still parses). */
static void mutate(const uint8_t *data, size_t len, int truncations_fail, int rounds,
                   uint64_t *rng) {
  uint8_t *buf = malloc(len);
  CHECK(buf != NULL);
  for (size_t cut = 0; cut < len; cut++) {
    /* mutate copies each prefix to its own buffer, so that ASan sees any read past
     * its end. */
    uint8_t *prefix = malloc(cut > 0 ? cut : 1);
    CHECK(prefix != NULL);
    memcpy(prefix, data, cut);
    STATUS st;
    int ok = parse_all(prefix, cut, &st);
    if (truncations_fail) {
      CHECK(!ok && st.code == STATUS_INVALID_ARGUMENT);
    } else {
      CHECK(ok || st.code == STATUS_INVALID_ARGUMENT);
    }
    free(prefix);
  }
  static const uint8_t kFlips[] = {0x01, 0x80, 0xff};
  for (size_t i = 0; i < len; i++) {
    for (size_t k = 0; k < sizeof(kFlips); k++) {
      memcpy(buf, data, len);
      buf[i] ^= kFlips[k];
      expect_no_crash(buf, len);
    }
  }
  for (int r = 0; r < rounds; r++) {
    memcpy(buf, data, len);
    /* mutate: xorshift64, fixed seed: the same mutations on every run. */
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    int changes = 1 + (int)(*rng % 4);
    for (int c = 0; c < changes; c++) {
      *rng ^= *rng << 13;
      *rng ^= *rng >> 7;
      *rng ^= *rng << 17;
      buf[(*rng >> 8) % len] = (uint8_t)*rng;
    }
    expect_no_crash(buf, len);
  }
  free(buf);
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  char *dir = strdup(argv[2]);
  CHECK(dir != NULL);
  char *slash = strrchr(dir, '/');
  CHECK(slash != NULL);
  *slash = '\0';
  check_corpus(dir);
  free(dir);

  size_t pem_len;
  uint8_t *pem = read_file(argv[1], &pem_len);
  STATUS st;
  CHECK(parse_all(pem, pem_len, &st));
  CERT_FILE *f = cert_file_parse(pem, pem_len, &st);
  CHECK(f != NULL && f->num_certs == 1);
  uint64_t rng = 0x9e3779b97f4a7c15u;
  mutate(f->certs[0].der, f->certs[0].der_len, 1, 20000, &rng);
  mutate(pem, pem_len, 0, 5000, &rng);

  /* main: the certificate in a PKCS#7 bundle, built with CBB. */
  static const uint8_t kSignedData[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                        0x0d, 0x01, 0x07, 0x02};
  CBB cbb, ci, oid, content, sd, set, eci, certs;
  uint8_t *p7;
  size_t p7_len;
  CHECK(CBB_init(&cbb, 0));
  CHECK(CBB_add_asn1(&cbb, &ci, CBS_ASN1_SEQUENCE));
  CHECK(CBB_add_asn1(&ci, &oid, CBS_ASN1_OBJECT));
  CHECK(CBB_add_bytes(&oid, kSignedData, sizeof(kSignedData)));
  CHECK(CBB_add_asn1(&ci, &content, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0));
  CHECK(CBB_add_asn1(&content, &sd, CBS_ASN1_SEQUENCE));
  CHECK(CBB_add_asn1_uint64(&sd, 1));
  CHECK(CBB_add_asn1(&sd, &set, CBS_ASN1_SET));
  CHECK(CBB_add_asn1(&sd, &eci, CBS_ASN1_SEQUENCE));
  CHECK(CBB_add_asn1(&eci, &oid, CBS_ASN1_OBJECT));
  CHECK(CBB_add_bytes(&oid, kSignedData, sizeof(kSignedData)));
  CHECK(CBB_add_asn1(&sd, &certs, CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0));
  CHECK(CBB_add_bytes(&certs, f->certs[0].der, f->certs[0].der_len));
  CHECK(CBB_add_bytes(&certs, f->certs[0].der, f->certs[0].der_len));
  CHECK(CBB_add_asn1(&sd, &set, CBS_ASN1_SET));
  CHECK(CBB_finish(&cbb, &p7, &p7_len));
  CHECK(parse_all(p7, p7_len, &st));
  mutate(p7, p7_len, 1, 20000, &rng);

  /* main: the bundle as a PEM PKCS7 block. */
  size_t b64_len;
  CHECK(EVP_EncodedLength(&b64_len, p7_len));
  char *b64 = malloc(b64_len + 128);
  CHECK(b64 != NULL);
  int n = snprintf(b64, 64, "-----BEGIN PKCS7-----\n");
  size_t used = (size_t)n + EVP_EncodeBlock((uint8_t *)b64 + n, p7, p7_len);
  used += (size_t)snprintf(b64 + used, 64, "\n-----END PKCS7-----\n");
  CHECK(parse_all((uint8_t *)b64, used, &st));
  mutate((uint8_t *)b64, used, 0, 5000, &rng);

  free(b64);
  OPENSSL_free(p7);
  cert_file_free(f);
  free(pem);
  printf("malformed_test: all passed\n");
  return 0;
}
