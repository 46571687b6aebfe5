/* keystore_sign.c: keystore operation of outgoing mail (signing a digest). */
#include "service/keystore/keystore_ops.h"

int keystore_op_sign(KEYSTORE *ks, ARENA *arena, const Smime__Ipc__KeystoreRequest *req,
                     Smime__Ipc__KeystoreResponse *resp, STATUS *err) {
  (void)ks;
  (void)arena;
  (void)req;
  (void)resp;
  return status_set(err, STATUS_UNIMPLEMENTED, "sign is not implemented yet");
}
