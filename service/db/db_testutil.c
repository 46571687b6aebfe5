/* db_testutil.c: see db_testutil.h. */
#include "service/db/db_testutil.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/common/status.h"

int g_test_passed = 0;
int g_test_failed = 0;

char *test_tmpdir(void) {
  char tmpl[] = "/tmp/smimed-dbtest.XXXXXX";
  char *dir = mkdtemp(tmpl);
  if (dir == NULL || chmod(dir, 0755) != 0) {
    perror("mkdtemp");
    exit(2);
  }
  return strdup(dir);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  if (flag == FTW_DP) {
    rmdir(path);
  } else {
    unlink(path);
  }
  return 0;
}

void test_rmtree(const char *path) {
  nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

PG_CLUSTER *test_start_cluster(const char *dir) {
  STATUS err;
  PG_CLUSTER_CONFIG config = {dir, NULL, NULL};
  PG_CLUSTER *c;
  status_clear(&err);
  c = pg_cluster_start(&config, &err);
  if (c == NULL) {
    fprintf(stderr, "starting PostgreSQL in %s: %s: %s\n", dir, status_code_name(err.code),
            err.message);
    exit(2);
  }
  return c;
}

int test_summary(const char *name) {
  printf("%s: %d passed, %d failed\n", name, g_test_passed, g_test_failed);
  return g_test_failed == 0 ? 0 : 1;
}
