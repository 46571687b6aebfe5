/* engine_ops.h: the operations of smime-engine, one handler each, in their own file
 * (engine_hello.c, ...), listed in the dispatch table in engine_main.c. Adding an
 * operation: a request/response message and a oneof case in protos/smime/ipc/ipc.proto,
 * a handler file here, its line in kEngineOps, and its file in BUILD. */
#ifndef SMIMED_ENGINE_ENGINE_OPS_H
#define SMIMED_ENGINE_ENGINE_OPS_H

#include "service/common/status.h"
#include "service/ipc/arena.h"
#include "smime/ipc/ipc.pb-c.h"

/* ENGINE_HANDLER runs one request. It reads its own oneof member of |req| (the loop
 * has checked the case), and on success sets |resp|'s body_case and body, allocating
 * everything it points to in |arena| (freed by the loop once the response is sent), and
 * returns 1. On failure it returns 0 and fills |err|; the loop then answers with an
 * Error body carrying that code and message, so the message must make sense to the
 * person who sent the input. A handler frees its own BoringSSL objects. A handler may
 * free a large bytes field of its request once it has made what it needs of it (data
 * NULL, len 0; the loop frees the rest of |req|), so that a large message is not held
 * to the end of the call. */
typedef int (*ENGINE_HANDLER)(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                              Smime__Ipc__EngineResponse *resp, STATUS *err);

/* engine_op_hello answers the crypto library's version and the engine's pid. */
int engine_op_hello(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                    Smime__Ipc__EngineResponse *resp, STATUS *err);

/* engine_op_parse_certificates reads the certificates of an uploaded file (PEM, DER,
 * PKCS#7; a PKCS#12 is only recognised) or of a list of DER certificates
 * (engine_parse_certificates.c). */
int engine_op_parse_certificates(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                                 Smime__Ipc__EngineResponse *resp, STATUS *err);

/* Outgoing mail (engine_outgoing*.c) and incoming mail (engine_incoming*.c). */
int engine_op_analyze_message(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                              Smime__Ipc__EngineResponse *resp, STATUS *err);
int engine_op_sign_prepare(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                           Smime__Ipc__EngineResponse *resp, STATUS *err);
int engine_op_sign_finish(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                          Smime__Ipc__EngineResponse *resp, STATUS *err);
int engine_op_encrypt(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                      Smime__Ipc__EngineResponse *resp, STATUS *err);
int engine_op_open_layer(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                         Smime__Ipc__EngineResponse *resp, STATUS *err);
int engine_op_verify_layer(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                           Smime__Ipc__EngineResponse *resp, STATUS *err);
int engine_op_decrypt_layer(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                            Smime__Ipc__EngineResponse *resp, STATUS *err);
int engine_op_assemble_opened(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                              Smime__Ipc__EngineResponse *resp, STATUS *err);

#endif /* SMIMED_ENGINE_ENGINE_OPS_H */
