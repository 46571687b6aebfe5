/* engine_outgoing.c: engine operations of outgoing mail (SignEncrypt). */
#include "service/engine/engine_ops.h"

int engine_op_analyze_message(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                              Smime__Ipc__EngineResponse *resp, STATUS *err) {
  (void)arena;
  (void)req;
  (void)resp;
  return status_set(err, STATUS_UNIMPLEMENTED, "analyze_message is not implemented yet");
}

int engine_op_sign_prepare(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                           Smime__Ipc__EngineResponse *resp, STATUS *err) {
  (void)arena;
  (void)req;
  (void)resp;
  return status_set(err, STATUS_UNIMPLEMENTED, "sign_prepare is not implemented yet");
}

int engine_op_sign_finish(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                          Smime__Ipc__EngineResponse *resp, STATUS *err) {
  (void)arena;
  (void)req;
  (void)resp;
  return status_set(err, STATUS_UNIMPLEMENTED, "sign_finish is not implemented yet");
}

int engine_op_encrypt(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                      Smime__Ipc__EngineResponse *resp, STATUS *err) {
  (void)arena;
  (void)req;
  (void)resp;
  return status_set(err, STATUS_UNIMPLEMENTED, "encrypt is not implemented yet");
}
