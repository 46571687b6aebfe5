/* worker_calls.c: see worker_calls.h. */
#include "service/front/worker_calls.h"

/* error_status copies a worker's Error into |err|, keeping only codes a worker may
 * legitimately give (anything else becomes INTERNAL). */
static int error_status(const Smime__Ipc__Error *e, const char *who, STATUS *err) {
  int code = (int)e->code;
  if (code <= STATUS_OK || code > STATUS_UNAUTHENTICATED) {
    code = STATUS_INTERNAL;
  }
  return status_set(err, code, "%s", e->message != NULL && e->message[0] != '\0'
                                         ? e->message
                                         : who);
}

int engine_call(APP *app, const CALL_INFO *info, Smime__Ipc__EngineRequest *req,
                Smime__Ipc__EngineResponse__BodyCase want_case,
                Smime__Ipc__EngineResponse **out, STATUS *err) {
  return engine_call_dropping(app, info, req, NULL, want_case, out, err);
}

int engine_call_dropping(APP *app, const CALL_INFO *info, Smime__Ipc__EngineRequest *req,
                         ProtobufCBinaryData *drop,
                         Smime__Ipc__EngineResponse__BodyCase want_case,
                         Smime__Ipc__EngineResponse **out, STATUS *err) {
  Smime__Ipc__EngineResponse *resp = NULL;
  *out = NULL;
  if (!worker_pool_engine_call_dropping(app->pool, req, drop, &resp,
                                        call_info_remaining_ms(info, WORKER_CALL_CAP_MS),
                                        err)) {
    return 0;
  }
  if (resp->body_case == want_case) {
    *out = resp;
    return 1;
  }
  if (resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_ERROR && resp->error != NULL) {
    error_status(resp->error, "the engine refused the request", err);
  } else {
    status_set(err, STATUS_INTERNAL, "the engine answered an unexpected message");
  }
  smime__ipc__engine_response__free_unpacked(resp, NULL);
  return 0;
}

int keystore_call(APP *app, const CALL_INFO *info, Smime__Ipc__KeystoreRequest *req,
                  Smime__Ipc__KeystoreResponse__BodyCase want_case,
                  Smime__Ipc__KeystoreResponse **out, STATUS *err) {
  Smime__Ipc__KeystoreResponse *resp = NULL;
  *out = NULL;
  if (!worker_pool_keystore_call(app->pool, req, &resp,
                                 call_info_remaining_ms(info, WORKER_CALL_CAP_MS), err)) {
    return 0;
  }
  if (resp->body_case == want_case) {
    *out = resp;
    return 1;
  }
  if (resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_ERROR && resp->error != NULL) {
    error_status(resp->error, "the keystore refused the request", err);
  } else {
    status_set(err, STATUS_INTERNAL, "the keystore answered an unexpected message");
  }
  smime__ipc__keystore_response__free_unpacked(resp, NULL);
  return 0;
}
