/* worker_calls.h: one request to an engine or to the keystore from an RPC handler,
 * bounded by the call's deadline, with the worker's Error answer turned into the
 * handler's status (the worker's message is written for the caller). */
#ifndef SMIMED_FRONT_WORKER_CALLS_H
#define SMIMED_FRONT_WORKER_CALLS_H

#include "service/front/app.h"

/* engine_call sends |req| and expects an answer with body |want_case|. Returns 1 with
 * |*out| (free with smime__ipc__engine_response__free_unpacked) or 0 with |err|. */
int engine_call(APP *app, const CALL_INFO *info, Smime__Ipc__EngineRequest *req,
                Smime__Ipc__EngineResponse__BodyCase want_case,
                Smime__Ipc__EngineResponse **out, STATUS *err);

/* engine_call_dropping is engine_call that frees |drop| (a malloc'd bytes field of the
 * caller's that |req| carries for the last time; see worker_pool_engine_call_dropping)
 * once the request is written. */
int engine_call_dropping(APP *app, const CALL_INFO *info, Smime__Ipc__EngineRequest *req,
                         ProtobufCBinaryData *drop,
                         Smime__Ipc__EngineResponse__BodyCase want_case,
                         Smime__Ipc__EngineResponse **out, STATUS *err);

/* keystore_call: the same for the keystore. */
int keystore_call(APP *app, const CALL_INFO *info, Smime__Ipc__KeystoreRequest *req,
                  Smime__Ipc__KeystoreResponse__BodyCase want_case,
                  Smime__Ipc__KeystoreResponse **out, STATUS *err);

#endif /* SMIMED_FRONT_WORKER_CALLS_H */
