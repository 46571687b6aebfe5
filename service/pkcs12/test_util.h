/* test_util.h: helpers for the tests of service/pkcs12 and service/keystore (plain C,
 * no framework): CHECK, files, running the OpenSSL command line, a fresh test PKI. */
#ifndef SMIMED_PKCS12_TEST_UTIL_H
#define SMIMED_PKCS12_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/ctest/check.h"

/* tu_read_file returns the contents of |path| (free with free()); exits on error. */
uint8_t *tu_read_file(const char *path, size_t *out_len);

/* tu_write_file writes |len| bytes to |path|; exits on error. */
void tu_write_file(const char *path, const void *data, size_t len);

/* tu_mkdtemp returns a new directory under $TEST_TMPDIR (or /tmp). */
char *tu_mkdtemp(void);

/* tu_run runs |cmd| with bash -o pipefail and returns its stdout (NUL-terminated,
 * free with free()), setting |*out_len|; exits when the command (any stage of a
 * pipeline) fails. OPENSSL_CONF is /dev/null for everything run here. */
uint8_t *tu_run(const char *cmd, size_t *out_len);

/* tu_system runs |cmd| like tu_run, output not captured, and returns its exit
 * status (-1 if killed). */
int tu_system(const char *cmd);

/* tu_make_pki runs tests/pki/make_pki.sh (|script|) into |outdir|. */
void tu_make_pki(const char *script, const char *outdir);

/* tu_pem_certs returns the DER of every CERTIFICATE block of the PEM |pem|: sets
 * |*out| (an array of |*out_num| malloc'ed buffers) and |*out_lens|. */
void tu_pem_certs(const uint8_t *pem, size_t len, uint8_t ***out, size_t **out_lens,
                  size_t *out_num);

/* tu_free_list frees what tu_pem_certs returned. */
void tu_free_list(uint8_t **items, size_t *lens, size_t num);

/* tu_hex returns the lowercase hex of |len| bytes (free with free()). */
char *tu_hex(const uint8_t *p, size_t len);

#endif /* SMIMED_PKCS12_TEST_UTIL_H */
