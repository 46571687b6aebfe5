/* x509_testutil.h: helpers for the //service/x509 tests: CHECK, files, and running the
 * OpenSSL 3 command line (the independent referee) and tests/pki/make_pki.sh. */
#ifndef SMIMED_X509_X509_TESTUTIL_H
#define SMIMED_X509_X509_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/ctest/check.h"

/* testutil_make_pki runs |script| (tests/pki/make_pki.sh) into a new directory under
 * $TEST_TMPDIR (or /tmp) and returns that directory (malloc'ed). Exits on failure. */
char *testutil_make_pki(const char *script);

/* testutil_path returns "|dir|/|name|" (malloc'ed). */
char *testutil_path(const char *dir, const char *name);

/* testutil_read_file reads all of |path| (malloc'ed, NUL-terminated beyond |*out_len|).
 * Exits on failure. */
uint8_t *testutil_read_file(const char *path, size_t *out_len);

/* testutil_write_file writes |len| bytes to |path|. Exits on failure. */
void testutil_write_file(const char *path, const void *data, size_t len);

/* testutil_run runs the shell command |fmt| (printf-style) with OPENSSL_CONF=/dev/null
 * and returns its stdout (malloc'ed, NUL-terminated, trailing newlines removed). Exits
 * when the command fails. */
char *testutil_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* testutil_hex returns the lowercase hex of |len| bytes (malloc'ed). */
char *testutil_hex(const uint8_t *p, size_t len);

/* testutil_unhex_colons turns "AB:CD:.." or "ABCD" into lowercase "abcd.." in place
 * and returns |s|. */
char *testutil_unhex_colons(char *s);

#endif /* SMIMED_X509_X509_TESTUTIL_H */
