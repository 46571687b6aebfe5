/* rpc_incoming.c: MessageService.DecryptVerify and LogService.ListRetryable (incoming mail). */
#include "service/front/app.h"

int rpc_decrypt_verify(void *app, const CALL_INFO *info, const ProtobufCMessage *req,
                       ProtobufCMessage **out_resp, STATUS *err) {
  (void)app;
  (void)req;
  *out_resp = NULL;
  return status_set(err, STATUS_UNIMPLEMENTED,
                    "%s is part of the API but not implemented in this version", info->method);
}

int rpc_list_retryable(void *app, const CALL_INFO *info, const ProtobufCMessage *req,
                       ProtobufCMessage **out_resp, STATUS *err) {
  (void)app;
  (void)req;
  *out_resp = NULL;
  return status_set(err, STATUS_UNIMPLEMENTED,
                    "%s is part of the API but not implemented in this version", info->method);
}
