/* bulk.c: see bulk.h. */
#include "service/ipc/bulk.h"

#include <stddef.h>

ProtobufCBinaryData *engine_response_bulk_field(Smime__Ipc__EngineResponse *resp) {
  switch (resp->body_case) {
    case SMIME__IPC__ENGINE_RESPONSE__BODY_SIGN_FINISH:
      return resp->sign_finish != NULL ? &resp->sign_finish->message : NULL;
    case SMIME__IPC__ENGINE_RESPONSE__BODY_ENCRYPT:
      return resp->encrypt != NULL ? &resp->encrypt->message : NULL;
    default:
      return NULL;
  }
}
