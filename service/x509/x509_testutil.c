/* x509_testutil.c: see x509_testutil.h. */
#include "service/x509/x509_testutil.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *testutil_path(const char *dir, const char *name) {
  size_t len = strlen(dir) + strlen(name) + 2;
  char *p = malloc(len);
  CHECK(p != NULL);
  snprintf(p, len, "%s/%s", dir, name);
  return p;
}

char *testutil_make_pki(const char *script) {
  const char *base = getenv("TEST_TMPDIR");
  char *tmpl = testutil_path(base != NULL ? base : "/tmp", "pki.XXXXXX");
  CHECK(mkdtemp(tmpl) != NULL);
  free(testutil_run("bash '%s' '%s'", script, tmpl));
  return tmpl;
}

uint8_t *testutil_read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap + 1);
  CHECK(buf != NULL);
  for (;;) {
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (len < cap) {
      break;
    }
    cap *= 2;
    buf = realloc(buf, cap + 1);
    CHECK(buf != NULL);
  }
  CHECK(!ferror(f));
  fclose(f);
  buf[len] = '\0';
  *out_len = len;
  return buf;
}

void testutil_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fwrite(data, 1, len, f) == len);
  CHECK(fclose(f) == 0);
}

char *testutil_run(const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  CHECK(n > 0 && (size_t)n < sizeof(cmd));
  CHECK(setenv("OPENSSL_CONF", "/dev/null", 1) == 0);
  FILE *p = popen(cmd, "r");
  CHECK(p != NULL);
  size_t cap = 4096, len = 0;
  char *out = malloc(cap);
  CHECK(out != NULL);
  size_t got;
  while ((got = fread(out + len, 1, cap - len - 1, p)) > 0) {
    len += got;
    if (cap - len - 1 == 0) {
      cap *= 2;
      out = realloc(out, cap);
      CHECK(out != NULL);
    }
  }
  int st = pclose(p);
  if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "command failed (%d): %s\n", st, cmd);
    exit(1);
  }
  while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r')) {
    len--;
  }
  out[len] = '\0';
  return out;
}

char *testutil_hex(const uint8_t *p, size_t len) {
  char *s = malloc(2 * len + 1);
  CHECK(s != NULL);
  for (size_t i = 0; i < len; i++) {
    snprintf(s + 2 * i, 3, "%02x", p[i]);
  }
  s[2 * len] = '\0';
  return s;
}

char *testutil_unhex_colons(char *s) {
  size_t out = 0;
  for (size_t i = 0; s[i] != '\0'; i++) {
    if (isxdigit((unsigned char)s[i])) {
      s[out++] = (char)tolower((unsigned char)s[i]);
    }
  }
  s[out] = '\0';
  return s;
}
