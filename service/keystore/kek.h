/* kek.h: the key-encryption key (KEK), which wraps every private key at rest. Only
 * smime-keystore loads it (DESIGN.md section 2).
 *
 * The KEK file holds 32 bytes, in either of two forms (both accepted when loading):
 *   - raw: exactly 32 bytes (what kek_load_or_create writes), or
 *   - hex: 64 hex digits (either case), optionally followed by one "\n", so that an
 *     operator can create one with `openssl rand -hex 32 > kek` or keep it in a secret
 *     store as text.
 * It must be a regular file (a symlink to one is followed, as secret mounts use them)
 * that neither group nor others may read or write: 0600 or 0400.
 *
 * The key lives in its own page, mlock'ed (never swapped), excluded from core dumps,
 * and wiped by kek_free. Nothing here logs the key. */
#ifndef SMIMED_KEYSTORE_KEK_H
#define SMIMED_KEYSTORE_KEK_H

#include <stdint.h>

#include "service/common/status.h"

/* KEK_LEN is the key size: AES-256. */
#define KEK_LEN 32

/* KEK_CHECK_VALUE_LEN is the length of the check value text (8 bytes in hex). */
#define KEK_CHECK_VALUE_LEN 16

typedef struct kek_st KEK;

/* kek_load_or_create loads the KEK from |path|, or, when |path| does not exist,
 * creates it with 32 fresh random bytes (mode 0600, fsync'ed with its directory).
 * Sets |*out_created| (if not NULL) to whether it created the file. Returns NULL and
 * fills |err| (FAILED_PRECONDITION, with a message naming the file and what to do)
 * when the file cannot be used. */
KEK *kek_load_or_create(const char *path, int *out_created, STATUS *err);

/* kek_load loads the KEK from |path| like kek_load_or_create, but never creates it: a
 * keystore restarted while smimed runs must find the key it started with, not a new
 * one. */
KEK *kek_load(const char *path, STATUS *err);

/* kek_free wipes the key and frees |kek|. Accepts NULL. */
void kek_free(KEK *kek);

/* kek_wipe overwrites the key with zeros in place, without freeing anything: it is
 * async-signal-safe, for a signal handler that is about to _exit. Accepts NULL. */
void kek_wipe(KEK *kek);

/* kek_bytes returns the KEK_LEN key bytes, valid until kek_free. */
const uint8_t *kek_bytes(const KEK *kek);

/* kek_check_value writes the KEK's check value into |out| (KEK_CHECK_VALUE_LEN lowercase
 * hex digits and a NUL): the first 8 bytes of HMAC-SHA256(KEK, "smimed kek check"). It
 * identifies the key without revealing it, so replicas and the database can tell
 * whether they share one KEK. Returns 1, or 0 if HMAC fails. */
int kek_check_value(const KEK *kek, char out[KEK_CHECK_VALUE_LEN + 1]);

#endif /* SMIMED_KEYSTORE_KEK_H */
