/* engine_incoming.c: engine operations of incoming mail (DecryptVerify). */
#include "service/engine/engine_ops.h"

int engine_op_open_layer(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                         Smime__Ipc__EngineResponse *resp, STATUS *err) {
  (void)arena;
  (void)req;
  (void)resp;
  return status_set(err, STATUS_UNIMPLEMENTED, "open_layer is not implemented yet");
}

int engine_op_verify_layer(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                           Smime__Ipc__EngineResponse *resp, STATUS *err) {
  (void)arena;
  (void)req;
  (void)resp;
  return status_set(err, STATUS_UNIMPLEMENTED, "verify_layer is not implemented yet");
}

int engine_op_decrypt_layer(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                            Smime__Ipc__EngineResponse *resp, STATUS *err) {
  (void)arena;
  (void)req;
  (void)resp;
  return status_set(err, STATUS_UNIMPLEMENTED, "decrypt_layer is not implemented yet");
}

int engine_op_assemble_opened(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                              Smime__Ipc__EngineResponse *resp, STATUS *err) {
  (void)arena;
  (void)req;
  (void)resp;
  return status_set(err, STATUS_UNIMPLEMENTED, "assemble_opened is not implemented yet");
}
