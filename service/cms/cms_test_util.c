/* cms_test_util.c: test helpers (see the header). */
#include "service/cms/cms_test_util.h"

#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/base64.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

const char *test_workdir(void) {
  static char dir[4096];
  if (dir[0] == '\0') {
    const char *base = getenv("TEST_TMPDIR");
    snprintf(dir, sizeof(dir), "%s/cmsXXXXXX", base != NULL ? base : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
  }
  return dir;
}

const char *test_runfile(const char *workspace_path) {
  static char buf[4][4096];
  static int slot;
  char *p = buf[slot++ % 4];
  const char *srcdir = getenv("TEST_SRCDIR");
  const char *ws = getenv("TEST_WORKSPACE");
  if (srcdir != NULL && ws != NULL) {
    snprintf(p, 4096, "%s/%s/%s", srcdir, ws, workspace_path);
  } else {
    snprintf(p, 4096, "%s", workspace_path);
  }
  return p;
}

const char *test_pki(void) {
  static char dir[4096];
  if (dir[0] == '\0') {
    snprintf(dir, sizeof(dir), "%s/pki", test_workdir());
    CHECK(test_run("bash '%s' '%s' >'%s.log' 2>&1", test_runfile("tests/pki/make_pki.sh"),
                   dir, dir) == 0);
  }
  return dir;
}

const char *test_path(const char *dir, const char *name) {
  static char buf[8][4096];
  static int slot;
  char *p = buf[slot++ % 8];
  snprintf(p, 4096, "%s/%s", dir, name);
  return p;
}

int test_run(const char *fmt, ...) {
  char cmd[8192], full[8300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  snprintf(full, sizeof(full), "OPENSSL_CONF=/dev/null; export OPENSSL_CONF; %s", cmd);
  int status = system(full);
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (rc != 0 && getenv("CMS_TEST_VERBOSE") != NULL) {
    fprintf(stderr, "command exited %d: %s\n", rc, cmd);
  }
  return rc;
}

void test_read(const char *path, uint8_t **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
  }
  CHECK(f != NULL);
  CHECK(fseek(f, 0, SEEK_END) == 0);
  long n = ftell(f);
  CHECK(n >= 0);
  CHECK(fseek(f, 0, SEEK_SET) == 0);
  *out = malloc((size_t)n + 1);
  CHECK(*out != NULL);
  CHECK(fread(*out, 1, (size_t)n, f) == (size_t)n);
  (*out)[n] = 0;
  *len = (size_t)n;
  fclose(f);
}

void test_write(const char *path, const uint8_t *data, size_t len) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fwrite(data, 1, len, f) == len);
  CHECK(fclose(f) == 0);
}

EVP_PKEY *test_load_key(const char *path) {
  BIO *bio = BIO_new_file(path, "r");
  CHECK(bio != NULL);
  EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (key == NULL) {
    fprintf(stderr, "cannot load key %s\n", path);
  }
  CHECK(key != NULL);
  return key;
}

void test_load_cert(const char *path, uint8_t **der, size_t *len) {
  BIO *bio = BIO_new_file(path, "r");
  CHECK(bio != NULL);
  X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  CHECK(x != NULL);
  uint8_t *p = NULL;
  int n = i2d_X509(x, &p);
  CHECK(n > 0);
  *der = malloc((size_t)n);
  CHECK(*der != NULL);
  memcpy(*der, p, (size_t)n);
  *len = (size_t)n;
  OPENSSL_free(p);
  X509_free(x);
}

void test_base64(const char *text, size_t text_len, uint8_t **out, size_t *out_len) {
  char *clean = malloc(text_len + 1);
  size_t n = 0;
  CHECK(clean != NULL);
  for (size_t i = 0; i < text_len; i++) {
    char c = text[i];
    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') {
      clean[n++] = c;
    }
  }
  size_t max = 0;
  CHECK(EVP_DecodedLength(&max, n));
  *out = malloc(max + 1);
  CHECK(*out != NULL);
  CHECK(EVP_DecodeBase64(*out, out_len, max, (const uint8_t *)clean, n));
  free(clean);
}
