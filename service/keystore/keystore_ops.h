/* keystore_ops.h: the operations of smime-keystore, one handler each, in their own
 * file (keystore_hello.c, ...), listed in the dispatch table in keystore_main.c.
 * Every handler validates its request completely (key id known, lengths as the
 * algorithm wants): the keystore trusts nothing it is sent. */
#ifndef SMIMED_KEYSTORE_KEYSTORE_OPS_H
#define SMIMED_KEYSTORE_KEYSTORE_OPS_H

#include "service/common/status.h"
#include "service/ipc/arena.h"
#include "service/keystore/kek.h"
#include "service/keystore/key_cache.h"
#include "smime/ipc/ipc.pb-c.h"

/* KEYSTORE is the keystore's state, shared by the handlers. |new_kek| is the key of
 * --new-kek-file (smimed --rotate-kek), NULL in a daemon's keystore. */
typedef struct keystore_st {
  KEK *kek;
  KEK *new_kek;
  /* keys: the last keys sign and unwrap_cek opened (key_cache.h); NULL: none kept. */
  KEY_CACHE *keys;
} KEYSTORE;

/* KEYSTORE_HANDLER runs one request, like ENGINE_HANDLER (engine_ops.h): on success it
 * sets |resp|'s body_case and body (allocated in |arena|, which is wiped when freed)
 * and returns 1; on failure it returns 0 and fills |err|, sent back as an Error. It
 * never puts key material in |err|. */
typedef int (*KEYSTORE_HANDLER)(KEYSTORE *ks, ARENA *arena,
                                const Smime__Ipc__KeystoreRequest *req,
                                Smime__Ipc__KeystoreResponse *resp, STATUS *err);

/* keystore_op_hello answers the KEK check value (and the new KEK's, if any) and the
 * keystore's pid. */
int keystore_op_hello(KEYSTORE *ks, ARENA *arena, const Smime__Ipc__KeystoreRequest *req,
                      Smime__Ipc__KeystoreResponse *resp, STATUS *err);

/* keystore_op_import_key reads a private key file (PEM, DER, PKCS#12), reports the
 * key's SPKI hash, algorithm and size and the certificates the file carried, and
 * wraps the key for each request certificate that holds its public key
 * (keystore_import_key.c). */
int keystore_op_import_key(KEYSTORE *ks, ARENA *arena,
                           const Smime__Ipc__KeystoreRequest *req,
                           Smime__Ipc__KeystoreResponse *resp, STATUS *err);

/* keystore_op_sign (keystore_sign.c) and keystore_op_unwrap_cek (keystore_unwrap_cek.c). */
int keystore_op_sign(KEYSTORE *ks, ARENA *arena, const Smime__Ipc__KeystoreRequest *req,
                     Smime__Ipc__KeystoreResponse *resp, STATUS *err);
int keystore_op_unwrap_cek(KEYSTORE *ks, ARENA *arena, const Smime__Ipc__KeystoreRequest *req,
                           Smime__Ipc__KeystoreResponse *resp, STATUS *err);

/* keystore_op_rewrap opens a stored wrapped key with the KEK and wraps it again, for
 * the same certificate, under the new KEK (keystore_rewrap.c); FAILED_PRECONDITION
 * without --new-kek-file. */
int keystore_op_rewrap(KEYSTORE *ks, ARENA *arena, const Smime__Ipc__KeystoreRequest *req,
                       Smime__Ipc__KeystoreResponse *resp, STATUS *err);

#endif /* SMIMED_KEYSTORE_KEYSTORE_OPS_H */
