/* rpc_outgoing.c: MessageService.GetSecurityOptions and SignEncrypt (outgoing mail). */
#include "service/front/app.h"

int rpc_get_security_options(void *app, const CALL_INFO *info, const ProtobufCMessage *req,
                             ProtobufCMessage **out_resp, STATUS *err) {
  (void)app;
  (void)req;
  *out_resp = NULL;
  return status_set(err, STATUS_UNIMPLEMENTED,
                    "%s is part of the API but not implemented in this version", info->method);
}

int rpc_sign_encrypt(void *app, const CALL_INFO *info, const ProtobufCMessage *req,
                     ProtobufCMessage **out_resp, STATUS *err) {
  (void)app;
  (void)req;
  *out_resp = NULL;
  return status_set(err, STATUS_UNIMPLEMENTED,
                    "%s is part of the API but not implemented in this version", info->method);
}
