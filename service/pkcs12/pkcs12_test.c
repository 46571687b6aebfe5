/* pkcs12_test: our PKCS#12 reader against the OpenSSL 3 command line, on NSS's files
 * (Thunderbird's test keys, copied into testdata/), on tests/pki's files and on files
 * made here with `openssl pkcs12 -export` variants: the keys and certificates we
 * extract must equal what `openssl pkcs12 -nodes` prints. Also the PKCS#12 KDF against
 * known answers, password encodings, wrong and missing passwords.
 * Usage: pkcs12_test MAKE_PKI_SH TESTDATA_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/digest.h>
#include <openssl/evp.h>
#include <openssl/mem.h>

#include "service/pkcs12/pbe.h"
#include "service/pkcs12/pkcs12.h"
#include "service/pkcs12/test_util.h"

static const char *g_testdata;
static char *g_tmp;

static void from_hex(const char *hex, uint8_t *out, size_t *out_len) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    CHECK(sscanf(hex + 2 * i, "%2x", &v) == 1);
    out[i] = (uint8_t)v;
  }
  *out_len = n;
}

/* test_kdf checks pbe_pkcs12_kdf against answers from OpenSSL 3's PKCS12KDF (`openssl
 * kdf ... PKCS12KDF`), the first also BouncyCastle's published vector. */
static void test_kdf(void) {
  static const struct {
    const char *md;
    const char *pass_hex;
    const char *salt_hex;
    uint8_t id;
    uint32_t iterations;
    const char *out_hex;
  } kVectors[] = {
      {"sha1", "0073006d006500670000", "0a58cf64530d823f", 1, 1,
       "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3"},
      {"sha1", "736d6567", "0a58cf64530d823f", 2, 1, "f90c6f00ed097684"},
      {"sha1", "007100750065006500670000", "1682c0fc5b3f7ec5", 3, 1000,
       "022db40d747da404972b3144296ba4b80a96b1f3"},
      {"sha512", "7175656567", "1682c0fc5b3f7ec5", 3, 1000,
       "3c3be35bf57617cce2c7676c234ced2ea893eab1683e29b94b15cef51a1c82068436ef2bd377156b"
       "654ba57a74080d2133bd16e961daefe9f2c0c3d4b182ac4f"},
      {"sha256", "7175656567", "1682c0fc5b3f7ec5", 1, 10,
       "c8a8e0cf2cfc3b533882c3e5470aa3261b79ca6b72dd6518b7cfb88b960bf96c812fa50c77bb9d2f"
       "8682955dde702db04633e215d10b522bf1d2f1e91089c488403b6eb9d7b266e0087264b95a289f53"
       "cc4250e20fc8ac211c42090e954373fd3a208e56"},
  };
  for (size_t i = 0; i < sizeof(kVectors) / sizeof(kVectors[0]); i++) {
    uint8_t pass[64], salt[64], want[128], got[128];
    size_t pass_len, salt_len, want_len;
    from_hex(kVectors[i].pass_hex, pass, &pass_len);
    from_hex(kVectors[i].salt_hex, salt, &salt_len);
    from_hex(kVectors[i].out_hex, want, &want_len);
    const EVP_MD *md = strcmp(kVectors[i].md, "sha1") == 0     ? EVP_sha1()
                       : strcmp(kVectors[i].md, "sha256") == 0 ? EVP_sha256()
                                                               : EVP_sha512();
    STATUS err;
    status_clear(&err);
    CHECK(pbe_pkcs12_kdf(md, pass, pass_len, salt, salt_len, kVectors[i].id,
                         kVectors[i].iterations, got, want_len, &err) == P12_OK);
    CHECK(memcmp(got, want, want_len) == 0);
  }
}

/* test_password_bmp checks the BMPString encodings, surrogates and the Latin-1
 * fallback. */
static void test_password_bmp(void) {
  static const struct {
    const char *in;
    const char *out_hex;
  } kCases[] = {
      {"", "0000"},
      {"nss", "006e007300730000"},
      {"p\xc3\xa4", "007000e40000"},
      {"\xf0\x9f\x98\x80", "d83dde000000"},
      {"a\xff", "006100ff0000"},
  };
  for (size_t i = 0; i < sizeof(kCases) / sizeof(kCases[0]); i++) {
    uint8_t *out = NULL;
    size_t out_len = 0;
    STATUS err;
    status_clear(&err);
    CHECK(pbe_password_bmp(kCases[i].in, strlen(kCases[i].in), &out, &out_len, &err) ==
          P12_OK);
    char *hex = tu_hex(out, out_len);
    if (strcmp(hex, kCases[i].out_hex) != 0) {
      fprintf(stderr, "bmp(%zu): %s != %s\n", i, hex, kCases[i].out_hex);
    }
    CHECK(strcmp(hex, kCases[i].out_hex) == 0);
    free(hex);
    pbe_secret_free(out, out_len);
  }
  char long_pw[PBE_MAX_PASSWORD_LEN + 2];
  memset(long_pw, 'a', sizeof(long_pw) - 1);
  long_pw[sizeof(long_pw) - 1] = '\0';
  uint8_t *out = NULL;
  size_t out_len = 0;
  STATUS err;
  status_clear(&err);
  CHECK(pbe_password_bmp(long_pw, strlen(long_pw), &out, &out_len, &err) ==
        P12_ERR_LIMIT);
  CHECK(out == NULL);
}

/* marshal_key parses PKCS#8 |der| and writes it back, so that two encodings of one
 * key compare equal. */
static uint8_t *marshal_key(const uint8_t *der, size_t len, size_t *out_len) {
  CBS cbs;
  CBS_init(&cbs, der, len);
  EVP_PKEY *pkey = EVP_parse_private_key(&cbs);
  CHECK(pkey != NULL);
  CHECK(CBS_len(&cbs) == 0);
  CBB cbb;
  uint8_t *out = NULL;
  CHECK(CBB_init(&cbb, 0));
  CHECK(EVP_marshal_private_key(&cbb, pkey));
  CHECK(CBB_finish(&cbb, &out, out_len));
  EVP_PKEY_free(pkey);
  return out;
}

/* parse_file runs p12_parse on |path| and returns the result code. */
static int parse_file(const char *path, const char *password, P12_CONTENTS **out,
                      STATUS *err) {
  size_t len;
  uint8_t *data = tu_read_file(path, &len);
  status_clear(err);
  int rc = p12_parse(data, len, password, strlen(password), out, err);
  free(data);
  return rc;
}

/* check_like_openssl parses |path| with |password| and compares the keys and
 * certificates with `openssl pkcs12 -nodes`'s; |num_keys| is 0 or 1. */
static void check_like_openssl(const char *path, const char *password, size_t num_keys,
                               size_t num_certs) {
  P12_CONTENTS *c = NULL;
  STATUS err;
  int rc = parse_file(path, password, &c, &err);
  if (rc != P12_OK) {
    fprintf(stderr, "%s: %d %s\n", path, rc, err.message);
  }
  CHECK(rc == P12_OK);
  CHECK(c != NULL);
  CHECK(p12_contents_num_keys(c) == num_keys);
  CHECK(p12_contents_num_certs(c) == num_certs);
  setenv("TU_PW", password, 1);
  char cmd[4096];
  size_t len;
  if (num_keys > 0) {
    snprintf(cmd, sizeof(cmd),
             "openssl pkcs12 -legacy -in '%s' -passin env:TU_PW -nocerts -nodes "
             "| openssl pkcs8 -topk8 -nocrypt -outform DER",
             path);
    uint8_t *want_der = tu_run(cmd, &len);
    size_t want_len, got_len, key_len;
    uint8_t *want = marshal_key(want_der, len, &want_len);
    const uint8_t *key = p12_contents_key(c, 0, &key_len);
    uint8_t *got = marshal_key(key, key_len, &got_len);
    CHECK(want_len == got_len);
    CHECK(memcmp(want, got, got_len) == 0);
    OPENSSL_free(want);
    OPENSSL_free(got);
    free(want_der);
  }
  snprintf(cmd, sizeof(cmd), "openssl pkcs12 -legacy -in '%s' -passin env:TU_PW -nokeys",
           path);
  uint8_t *pem = tu_run(cmd, &len);
  uint8_t **certs;
  size_t *lens;
  size_t n;
  tu_pem_certs(pem, len, &certs, &lens, &n);
  CHECK(n == num_certs);
  for (size_t i = 0; i < n; i++) {
    size_t got_len;
    const uint8_t *got = p12_contents_cert(c, i, &got_len);
    CHECK(got_len == lens[i]);
    CHECK(memcmp(got, certs[i], got_len) == 0);
  }
  tu_free_list(certs, lens, n);
  free(pem);
  p12_contents_free(c);
}

/* check_wrong_password expects a wrong and (unless |right| is empty) an empty
 * password to be told apart. */
static void check_wrong_password(const char *path, const char *right, const char *wrong) {
  P12_CONTENTS *c = NULL;
  STATUS err;
  CHECK(parse_file(path, wrong, &c, &err) == P12_ERR_WRONG_PASSWORD);
  CHECK(c == NULL);
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "wrong password for the PKCS#12 file") == err.message);
  if (right[0] != '\0') {
    CHECK(parse_file(path, "", &c, &err) == P12_ERR_WRONG_PASSWORD);
    CHECK(strcmp(err.message, "the PKCS#12 file is encrypted: give its password") == 0);
  }
}

/* test_nss reads Thunderbird's NSS-made files (password "nss"). */
static void test_nss(void) {
  static const struct {
    const char *name;
    size_t certs;
  } kFiles[] = {
      {"Alice.p12", 2}, {"Alice-ec.p12", 2}, {"Bob.p12", 2},     {"Dave.p12", 2},
      {"Eve.p12", 2},   {"Fran.p12", 1},     {"Fran-ec.p12", 1},
  };
  for (size_t i = 0; i < sizeof(kFiles) / sizeof(kFiles[0]); i++) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", g_testdata, kFiles[i].name);
    check_like_openssl(path, "nss", 1, kFiles[i].certs);
    check_wrong_password(path, "nss", "NSS");
  }
}

/* test_pki reads tests/pki's OpenSSL 3 files (password "secret"). */
static void test_pki(const char *pki) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/alice.p12", pki);
  check_like_openssl(path, "secret", 1, 3);
  check_wrong_password(path, "secret", "Secret");
  snprintf(path, sizeof(path), "%s/alice-legacy.p12", pki);
  check_like_openssl(path, "secret", 1, 3);
  check_wrong_password(path, "secret", "secrets");
  snprintf(path, sizeof(path), "%s/alice-keyonly.p12", pki);
  check_like_openssl(path, "secret", 1, 0);
  snprintf(path, sizeof(path), "%s/dsa.p12", pki);
  check_like_openssl(path, "secret", 1, 1);

  /* A private key is not a PKCS#12 file. */
  size_t len;
  snprintf(path, sizeof(path), "%s/alice.pkcs8.der", pki);
  uint8_t *der = tu_read_file(path, &len);
  CHECK(!p12_looks_like_pfx(der, len));
  P12_CONTENTS *c = NULL;
  STATUS err;
  status_clear(&err);
  CHECK(p12_parse(der, len, "x", 1, &c, &err) == P12_ERR_MALFORMED);
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  free(der);
}

/* test_variants makes files with `openssl pkcs12 -export` options and reads them. */
static void test_variants(const char *pki) {
  static const struct {
    const char *options;
    const char *password;
    int mac;
  } kVariants[] = {
      {"-macalg sha512", "secret", 1},
      {"-macalg sha384", "secret", 1},
      {"-macalg sha224", "secret", 1},
      {"-macalg sha1", "secret", 1},
      {"-keypbe AES-128-CBC -certpbe AES-192-CBC", "secret", 1},
      {"-keypbe DES-EDE3-CBC -certpbe AES-256-CBC", "secret", 1},
      {"-legacy -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-RC2-128", "secret", 1},
      {"-legacy -keypbe PBE-SHA1-RC2-40 -certpbe PBE-SHA1-RC2-40", "secret", 1},
      {"-legacy -keypbe PBE-SHA1-2DES -certpbe PBE-SHA1-RC4-128", "secret", 1},
      {"-legacy -keypbe PBE-SHA1-RC4-40 -certpbe NONE", "secret", 1},
      {"-nomac", "secret", 0},
      {"-legacy -nomac", "secret", 0},
      {"-keypbe NONE -certpbe NONE -nomac", "", 0},
      {"-keypbe NONE -certpbe NONE", "secret", 1},
      {"-iter 1", "secret", 1},
      {"-noiter -nomaciter", "secret", 1},
      {"", "", 1},
      {"-legacy", "", 1},
      {"", "p\xc3\xa4sswd \xf0\x9f\x98\x80", 1},
      {"-legacy", "p\xc3\xa4sswd", 1},
  };
  for (size_t i = 0; i < sizeof(kVariants) / sizeof(kVariants[0]); i++) {
    char path[4096];
    char cmd[8192];
    snprintf(path, sizeof(path), "%s/variant%zu.p12", g_tmp, i);
    setenv("TU_PW", kVariants[i].password, 1);
    snprintf(cmd, sizeof(cmd),
             "openssl pkcs12 -export %s -in '%s/alice.pem' -inkey '%s/alice.key' "
             "-certfile '%s/inter.pem' -passout env:TU_PW -out '%s'",
             kVariants[i].options, pki, pki, pki, path);
    size_t len;
    free(tu_run(cmd, &len));
    check_like_openssl(path, kVariants[i].password, 1, 2);
    /* test_variants: an encrypted file refuses a wrong password, with or without a
     * MAC (without one, the bags do not decrypt). */
    if (kVariants[i].mac || strstr(kVariants[i].options, "-keypbe NONE") == NULL) {
      check_wrong_password(path, kVariants[i].password, "wrong");
    }
  }
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  g_testdata = argv[2];
  test_kdf();
  test_password_bmp();
  test_nss();
  g_tmp = tu_mkdtemp();
  char pki[4096];
  snprintf(pki, sizeof(pki), "%s/pki", g_tmp);
  tu_make_pki(argv[1], pki);
  test_pki(pki);
  test_variants(pki);
  printf("pkcs12_test: all passed\n");
  free(g_tmp);
  return 0;
}
