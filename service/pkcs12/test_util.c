/* test_util.c: see test_util.h. */
#include "service/pkcs12/test_util.h"

#include <string.h>
#include <sys/wait.h>

#include <openssl/bio.h>
#include <openssl/mem.h>
#include <openssl/pem.h>

uint8_t *tu_read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  size_t cap = 4096;
  size_t len = 0;
  uint8_t *buf = malloc(cap);
  CHECK(buf != NULL);
  for (;;) {
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      CHECK(buf != NULL);
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    if (n == 0) {
      break;
    }
    len += n;
  }
  CHECK(!ferror(f));
  fclose(f);
  *out_len = len;
  return buf;
}

void tu_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fwrite(data, 1, len, f) == len);
  CHECK(fclose(f) == 0);
}

char *tu_mkdtemp(void) {
  const char *base = getenv("TEST_TMPDIR");
  char path[4096];
  snprintf(path, sizeof(path), "%s/tuXXXXXX", base != NULL ? base : "/tmp");
  CHECK(mkdtemp(path) != NULL);
  char *copy = strdup(path);
  CHECK(copy != NULL);
  return copy;
}

uint8_t *tu_run(const char *cmd, size_t *out_len) {
  setenv("OPENSSL_CONF", "/dev/null", 1);
  /* tu_run runs the command through bash with pipefail, so that a failing first
   * stage of a pipeline is not hidden; the command travels in the environment to
   * spare quoting. */
  setenv("TU_CMD", cmd, 1);
  FILE *p = popen("exec bash -o pipefail -c \"$TU_CMD\"", "r");
  CHECK(p != NULL);
  size_t cap = 4096;
  size_t len = 0;
  uint8_t *buf = malloc(cap + 1);
  CHECK(buf != NULL);
  for (;;) {
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
      CHECK(buf != NULL);
    }
    size_t n = fread(buf + len, 1, cap - len, p);
    if (n == 0) {
      break;
    }
    len += n;
  }
  int st = pclose(p);
  if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "command failed (status %d): %s\n", st, cmd);
    exit(1);
  }
  buf[len] = '\0';
  *out_len = len;
  return buf;
}

int tu_system(const char *cmd) {
  setenv("OPENSSL_CONF", "/dev/null", 1);
  setenv("TU_CMD", cmd, 1);
  int st = system("exec bash -o pipefail -c \"$TU_CMD\"");
  if (st == -1 || !WIFEXITED(st)) {
    return -1;
  }
  return WEXITSTATUS(st);
}

void tu_make_pki(const char *script, const char *outdir) {
  char cmd[8192];
  snprintf(cmd, sizeof(cmd), "bash '%s' '%s' >/dev/null 2>&1", script, outdir);
  if (tu_system(cmd) != 0) {
    fprintf(stderr, "make_pki.sh failed: %s\n", cmd);
    exit(1);
  }
}

void tu_pem_certs(const uint8_t *pem, size_t len, uint8_t ***out, size_t **out_lens,
                  size_t *out_num) {
  *out = NULL;
  *out_lens = NULL;
  *out_num = 0;
  BIO *bio = BIO_new_mem_buf(pem, (ssize_t)len);
  CHECK(bio != NULL);
  for (;;) {
    char *name = NULL;
    char *header = NULL;
    uint8_t *data = NULL;
    long data_len = 0;
    if (!PEM_read_bio(bio, &name, &header, &data, &data_len)) {
      break;
    }
    if (strcmp(name, "CERTIFICATE") == 0) {
      *out = realloc(*out, (*out_num + 1) * sizeof(uint8_t *));
      *out_lens = realloc(*out_lens, (*out_num + 1) * sizeof(size_t));
      CHECK(*out != NULL && *out_lens != NULL);
      (*out)[*out_num] = malloc((size_t)data_len);
      CHECK((*out)[*out_num] != NULL);
      memcpy((*out)[*out_num], data, (size_t)data_len);
      (*out_lens)[*out_num] = (size_t)data_len;
      (*out_num)++;
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  BIO_free(bio);
}

void tu_free_list(uint8_t **items, size_t *lens, size_t num) {
  for (size_t i = 0; i < num; i++) {
    free(items[i]);
  }
  free(items);
  free(lens);
}

char *tu_hex(const uint8_t *p, size_t len) {
  static const char kHex[] = "0123456789abcdef";
  char *s = malloc(2 * len + 1);
  CHECK(s != NULL);
  for (size_t i = 0; i < len; i++) {
    s[2 * i] = kHex[p[i] >> 4];
    s[2 * i + 1] = kHex[p[i] & 15];
  }
  s[2 * len] = '\0';
  return s;
}
