/* key_import_malformed_test: every file of the malformed corpus
 * (service/pkcs12/testdata/malformed/, made by make_malformed.py) is refused with
 * INVALID_ARGUMENT by key_import_parse, whatever the password (p12_parse, run too,
 * may accept a well-formed file whose key is bad), without a crash or a sanitizer report
 * (built with -fsanitize=address,undefined) and without running a long key derivation.
 * Usage: key_import_malformed_test CORPUS_DIR */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/common/status.h"
#include "service/keystore/key_import.h"
#include "service/pkcs12/pkcs12.h"
#include "service/pkcs12/test_util.h"

/* kMaxSecondsPerFile bounds the time of one file (all passwords): a refused file must
 * not have run a long derivation first. */
static const double kMaxSecondsPerFile = 3.0;

/* now is CPU time: the per-file limit is about our parsers' work (a hostile PKCS#12
 * iteration count), and must not fail because other work shares the machine. */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
  CHECK(argc == 2);
  struct dirent **entries = NULL;
  int n = scandir(argv[1], &entries, NULL, by_name);
  CHECK(n > 0);
  size_t files = 0;
  for (int i = 0; i < n; i++) {
    if (entries[i]->d_name[0] == '.') {
      free(entries[i]);
      continue;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", argv[1], entries[i]->d_name);
    size_t len;
    uint8_t *data = tu_read_file(path, &len);
    double start = now();
    static const char *const kPasswords[] = {"nss", "", "secret"};
    for (size_t j = 0; j < sizeof(kPasswords) / sizeof(kPasswords[0]); j++) {
      STATUS err;
      status_clear(&err);
      KEY_IMPORT *ki = key_import_parse(data, len, kPasswords[j], &err);
      if (ki != NULL || err.code != STATUS_INVALID_ARGUMENT || err.message[0] == '\0') {
        fprintf(stderr, "%s (password \"%s\"): %s %s\n", entries[i]->d_name,
                kPasswords[j], ki != NULL ? "accepted" : status_code_name(err.code),
                err.message);
      }
      CHECK(ki == NULL);
      CHECK(err.code == STATUS_INVALID_ARGUMENT);
      CHECK(err.message[0] != '\0');
      if (j == 0) {
        printf("%-40s %s\n", entries[i]->d_name, err.message);
      }
      /* main lets p12_parse accept a well-formed file whose key is bad (key_import
       * refuses it) but requires INVALID_ARGUMENT when it fails. */
      P12_CONTENTS *c = NULL;
      status_clear(&err);
      if (p12_parse(data, len, kPasswords[j], strlen(kPasswords[j]), &c, &err) ==
          P12_OK) {
        CHECK(c != NULL);
        p12_contents_free(c);
      } else {
        CHECK(c == NULL);
        CHECK(err.code == STATUS_INVALID_ARGUMENT);
      }
    }
    double took = now() - start;
    if (took > kMaxSecondsPerFile) {
      fprintf(stderr, "%s took %.1f s\n", entries[i]->d_name, took);
    }
    CHECK(took <= kMaxSecondsPerFile);
    free(data);
    free(entries[i]);
    files++;
  }
  free(entries);
  CHECK(files >= 50);
  printf("key_import_malformed_test: all %zu files refused\n", files);
  return 0;
}
