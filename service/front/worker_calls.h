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

/* keystore_call: the same for the keystore. */
int keystore_call(APP *app, const CALL_INFO *info, Smime__Ipc__KeystoreRequest *req,
                  Smime__Ipc__KeystoreResponse__BodyCase want_case,
                  Smime__Ipc__KeystoreResponse **out, STATUS *err);

#endif /* SMIMED_FRONT_WORKER_CALLS_H */
