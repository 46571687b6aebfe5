/* db_testutil.h: what the service/db tests share: CHECK, a summary line, a temporary
 * data directory, and a PostgreSQL cluster in it. Test-only. */
#ifndef SMIMED_DB_DB_TESTUTIL_H
#define SMIMED_DB_DB_TESTUTIL_H

#include <stdio.h>

#include "service/db/pg_cluster.h"

extern int g_test_passed;
extern int g_test_failed;

/* CHECK counts |expr| as a passed or failed check, printing the failed ones. */
#define CHECK(expr)                                                           \
  do {                                                                        \
    if (expr) {                                                               \
      g_test_passed++;                                                        \
    } else {                                                                  \
      g_test_failed++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
    }                                                                         \
  } while (0)

/* CHECK_STATUS checks a STATUS's code, printing its message when it differs. */
#define CHECK_STATUS(st, want)                                                   \
  do {                                                                           \
    if ((st).code == (want)) {                                                   \
      g_test_passed++;                                                           \
    } else {                                                                     \
      g_test_failed++;                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: status %d (%s), want %d: %s\n",      \
              __FILE__, __LINE__, (st).code, status_code_name((st).code), (want), \
              (st).message);                                                     \
    }                                                                            \
  } while (0)

/* test_tmpdir creates a fresh directory under /tmp, mode 0755 so that the smimed user
 * can traverse it when the test runs as root. Exits on failure. */
char *test_tmpdir(void);

/* test_rmtree removes |path| and everything under it. */
void test_rmtree(const char *path);

/* test_start_cluster starts a cluster in |dir|, exiting the test if it cannot. */
PG_CLUSTER *test_start_cluster(const char *dir);

/* test_summary prints "N passed, N failed" and returns the exit status. */
int test_summary(const char *name);

#endif /* SMIMED_DB_DB_TESTUTIL_H */
