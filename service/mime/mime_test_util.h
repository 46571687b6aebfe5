/* mime_test_util.h: what the service/mime tests share: CHECK, files, running the
 * OpenSSL command line. Test-only. */
#ifndef SMIMED_MIME_TEST_UTIL_H
#define SMIMED_MIME_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/ctest/check.h"


/* test_read_file reads |path| into a malloc'd buffer (NUL-terminated); NULL if it
 * cannot. */
uint8_t *test_read_file(const char *path, size_t *len);

/* test_write_file writes |len| bytes to |path|; 1 or 0. */
int test_write_file(const char *path, const void *data, size_t len);

/* test_tmpdir returns $TEST_TMPDIR, or /tmp. */
const char *test_tmpdir(void);

/* test_run runs |argv| (argv[0] a path), stdout and stderr appended to |log| (NULL:
 * /dev/null), and returns its exit status (-1 if it could not run or was killed). */
int test_run(const char *const argv[], const char *log);

/* test_now returns the CPU seconds this process has used: durations measured with it
 * do not grow when other work shares the machine. */
double test_now(void);

/* test_contains says whether |needle| occurs in |len| bytes at |p|. */
int test_contains(const uint8_t *p, size_t len, const char *needle);

#endif /* SMIMED_MIME_TEST_UTIL_H */
