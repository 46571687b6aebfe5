/* kek_test: kek.c on real files in a temporary directory: creation, reload, both file
 * forms, and the files it must refuse. */
#include "service/keystore/kek.h"
#include "tests/ctest/check.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* kKnownCheck is the check value of the key 00 01 .. 1f, computed independently:
 * python3 -c 'import hmac,hashlib;print(hmac.new(bytes(range(32)),
 *   b"smimed kek check",hashlib.sha256).hexdigest()[:16])' */
static const char kKnownCheck[] = "de5f323d4a98fd2a";

static char g_dir[4096];

static void path_in_dir(char *out, size_t len, const char *name) {
  CHECK((size_t)snprintf(out, len, "%s/%s", g_dir, name) < len);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode) {
  unlink(path);
  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
  CHECK(fd >= 0);
  CHECK(write(fd, data, len) == (ssize_t)len);
  CHECK(fchmod(fd, mode) == 0);
  CHECK(close(fd) == 0);
}

static void check_value_of(const char *path, char out[KEK_CHECK_VALUE_LEN + 1]) {
  STATUS err;
  status_clear(&err);
  int created = -1;
  KEK *kek = kek_load_or_create(path, &created, &err);
  if (kek == NULL) {
    fprintf(stderr, "unexpected failure: %s\n", err.message);
  }
  CHECK(kek != NULL);
  CHECK(created == 0);
  CHECK(kek_check_value(kek, out));
  kek_free(kek);
}

/* expect_refused loads |path|, which must fail with a message containing |want|. */
static void expect_refused(const char *path, const char *want) {
  STATUS err;
  status_clear(&err);
  int created = -1;
  KEK *kek = kek_load_or_create(path, &created, &err);
  CHECK(kek == NULL);
  CHECK(created == 0);
  CHECK(err.code == STATUS_FAILED_PRECONDITION);
  if (strstr(err.message, want) == NULL) {
    fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.message, want);
  }
  CHECK(strstr(err.message, want) != NULL);
  CHECK(strstr(err.message, path) != NULL || strstr(want, "directory") != NULL);
}

static void test_create_and_reload(void) {
  char path[4200];
  path_in_dir(path, sizeof(path), "kek");
  STATUS err;
  status_clear(&err);
  int created = 0;
  /* The umask must not weaken (or break) the file's mode. */
  mode_t old_umask = umask(0777);
  KEK *kek = kek_load_or_create(path, &created, &err);
  umask(old_umask);
  CHECK(kek != NULL);
  CHECK(created == 1);
  struct stat st;
  CHECK(lstat(path, &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_size == KEK_LEN);
  char check[KEK_CHECK_VALUE_LEN + 1];
  CHECK(kek_check_value(kek, check));
  CHECK(strlen(check) == KEK_CHECK_VALUE_LEN);
  CHECK(strspn(check, "0123456789abcdef") == KEK_CHECK_VALUE_LEN);
  uint8_t first[KEK_LEN];
  memcpy(first, kek_bytes(kek), KEK_LEN);
  kek_free(kek);
  kek_free(NULL);

  char again[KEK_CHECK_VALUE_LEN + 1];
  check_value_of(path, again);
  CHECK(strcmp(check, again) == 0);
  kek = kek_load_or_create(path, NULL, &err);
  CHECK(kek != NULL);
  CHECK(memcmp(first, kek_bytes(kek), KEK_LEN) == 0);
  kek_free(kek);

  /* The file on disk is the key itself. */
  uint8_t disk[KEK_LEN + 1];
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  CHECK(read(fd, disk, sizeof(disk)) == KEK_LEN);
  close(fd);
  CHECK(memcmp(first, disk, KEK_LEN) == 0);
}

static void test_forms(void) {
  uint8_t raw[KEK_LEN];
  for (int i = 0; i < KEK_LEN; i++) {
    raw[i] = (uint8_t)i;
  }
  static const char kHex[] =
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  static const char kHexUpper[] =
      "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
  char path[4200];
  char check[KEK_CHECK_VALUE_LEN + 1];
  path_in_dir(path, sizeof(path), "raw");
  write_file(path, raw, sizeof(raw), 0600);
  check_value_of(path, check);
  CHECK(strcmp(check, kKnownCheck) == 0);

  path_in_dir(path, sizeof(path), "hex-newline");
  char hex_newline[66];
  snprintf(hex_newline, sizeof(hex_newline), "%s\n", kHex);
  write_file(path, hex_newline, 65, 0600);
  check_value_of(path, check);
  CHECK(strcmp(check, kKnownCheck) == 0);

  path_in_dir(path, sizeof(path), "hex");
  write_file(path, kHexUpper, 64, 0400);
  check_value_of(path, check);
  CHECK(strcmp(check, kKnownCheck) == 0);

  /* A symlink to a good file is followed (secret mounts are made of them). */
  char link_path[4200];
  path_in_dir(link_path, sizeof(link_path), "link");
  CHECK(symlink(path, link_path) == 0);
  check_value_of(link_path, check);
  CHECK(strcmp(check, kKnownCheck) == 0);
}

static void test_refused(void) {
  char path[4200];
  uint8_t raw[KEK_LEN + 2] = {0};

  path_in_dir(path, sizeof(path), "short");
  write_file(path, raw, KEK_LEN - 1, 0600);
  expect_refused(path, "has 31 bytes");

  path_in_dir(path, sizeof(path), "long");
  write_file(path, raw, KEK_LEN + 1, 0600);
  expect_refused(path, "has 33 bytes");

  path_in_dir(path, sizeof(path), "empty");
  write_file(path, raw, 0, 0600);
  expect_refused(path, "has 0 bytes");

  path_in_dir(path, sizeof(path), "world-readable");
  write_file(path, raw, KEK_LEN, 0644);
  char want[9000];
  snprintf(want, sizeof(want), "KEK file %s is readable by others (mode 0644); chmod 600 %s",
           path, path);
  expect_refused(path, want);

  path_in_dir(path, sizeof(path), "group-readable");
  write_file(path, raw, KEK_LEN, 0640);
  expect_refused(path, "(mode 0640); chmod 600");

  path_in_dir(path, sizeof(path), "group-writable");
  write_file(path, raw, KEK_LEN, 0620);
  expect_refused(path, "(mode 0620); chmod 600");

  path_in_dir(path, sizeof(path), "bad-hex");
  char hex[65];
  memset(hex, 'a', 64);
  hex[10] = 'g';
  write_file(path, hex, 64, 0600);
  expect_refused(path, "byte 10 is not a hex digit");

  path_in_dir(path, sizeof(path), "hex-two-newlines");
  memset(hex, 'a', 64);
  hex[64] = '\r';
  write_file(path, hex, 65, 0600);
  expect_refused(path, "has 65 bytes");

  path_in_dir(path, sizeof(path), "a-directory");
  CHECK(mkdir(path, 0700) == 0);
  expect_refused(path, "is not a regular file");

  path_in_dir(path, sizeof(path), "no-such-dir/kek");
  expect_refused(path, "cannot create KEK file");

  /* kek_load never creates. */
  path_in_dir(path, sizeof(path), "absent");
  STATUS err;
  status_clear(&err);
  CHECK(kek_load(path, &err) == NULL);
  CHECK(err.code == STATUS_FAILED_PRECONDITION);
  CHECK(strstr(err.message, "cannot open KEK file") != NULL);
  CHECK(access(path, F_OK) != 0);
  path_in_dir(path, sizeof(path), "raw");
  KEK *kek = kek_load(path, &err);
  CHECK(kek != NULL);
  kek_free(kek);
}

int main(void) {
  const char *tmp = getenv("TEST_TMPDIR");
  if (tmp == NULL || tmp[0] == '\0') {
    tmp = "/tmp";
  }
  CHECK((size_t)snprintf(g_dir, sizeof(g_dir), "%s/kek_test.XXXXXX", tmp) < sizeof(g_dir));
  CHECK(mkdtemp(g_dir) != NULL);
  test_create_and_reload();
  test_forms();
  test_refused();
  printf("kek_test: all passed\n");
  return 0;
}
