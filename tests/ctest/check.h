/* check.h: the assertion of the C unit tests. CHECK(x) prints file:line and the failed
 * expression and ends the test with status 1; CHECK_MSG adds a printf-style detail. */
#ifndef SMIMED_TESTS_CTEST_CHECK_H
#define SMIMED_TESTS_CTEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                            \
  do {                                                                      \
    if (!(x)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #x); \
      exit(1);                                                              \
    }                                                                       \
  } while (0)

#define CHECK_MSG(x, ...)                                                   \
  do {                                                                      \
    if (!(x)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #x); \
      fprintf(stderr, __VA_ARGS__);                                         \
      fprintf(stderr, "\n");                                                \
      exit(1);                                                              \
    }                                                                       \
  } while (0)

#endif /* SMIMED_TESTS_CTEST_CHECK_H */
