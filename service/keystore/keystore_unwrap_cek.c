/* keystore_unwrap_cek.c: keystore operation of incoming mail (recovering a content key). */
#include "service/keystore/keystore_ops.h"

int keystore_op_unwrap_cek(KEYSTORE *ks, ARENA *arena, const Smime__Ipc__KeystoreRequest *req,
                           Smime__Ipc__KeystoreResponse *resp, STATUS *err) {
  (void)ks;
  (void)arena;
  (void)req;
  (void)resp;
  return status_set(err, STATUS_UNIMPLEMENTED, "unwrap_cek is not implemented yet");
}
