/* check.h: the CHECK macro of smimectl's unit tests: on failure it prints file, line
 * and the expression, and exits 1, so that bazel test shows where. */
#ifndef SMIMED_CLIENT_CHECK_H
#define SMIMED_CLIENT_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(expr)                                                            \
  do {                                                                         \
    if (!(expr)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

#endif /* SMIMED_CLIENT_CHECK_H */
