/* cms_test_util.h: helpers for the CMS tests: CHECK, a fresh test PKI from
 * tests/pki/make_pki.sh, files, PEM loading, and running the OpenSSL 3 command line (the
 * independent peer). Test-only. */
#ifndef SMIMED_CMS_TEST_UTIL_H
#define SMIMED_CMS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "tests/ctest/check.h"

/* test_workdir returns a fresh private directory for this test run (under
 * TEST_TMPDIR), created on the first call. */
const char *test_workdir(void);

/* test_pki returns the directory holding a PKI made by tests/pki/make_pki.sh, made on
 * the first call (about 6 seconds). */
const char *test_pki(void);

/* test_path returns "DIR/NAME" in a static rotating buffer (8 slots). */
const char *test_path(const char *dir, const char *name);

/* test_run runs a shell command (printf-style) with OPENSSL_CONF=/dev/null and returns
 * its exit status (-1 if it did not exit). The command is echoed on failure. */
int test_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* test_read reads a whole file; aborts the test when it cannot. |*out| is malloc'd and
 * NUL-terminated (not counted in |*len|). */
void test_read(const char *path, uint8_t **out, size_t *len);

/* test_write writes a whole file; aborts the test when it cannot. */
void test_write(const char *path, const uint8_t *data, size_t len);

/* test_load_key loads a PEM private key (PKCS#8 or traditional). */
EVP_PKEY *test_load_key(const char *path);

/* test_load_cert loads the first PEM certificate of |path| as DER (malloc'd). */
void test_load_cert(const char *path, uint8_t **der, size_t *len);

/* test_runfile returns the path of a data dependency given its workspace path. */
const char *test_runfile(const char *workspace_path);

/* test_base64 decodes base64 text, skipping whitespace (malloc'd result). */
void test_base64(const char *text, size_t text_len, uint8_t **out, size_t *out_len);

#endif /* SMIMED_CMS_TEST_UTIL_H */
