/* rpc_logs.c: LogService. */
#include "service/db/log_store.h"
#include "service/front/app.h"

int rpc_list_logs(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *req,
                  ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  Smime__V1__ListLogsResponse *resp = NULL;
  (void)info;
  *out_resp = NULL;
  if (!log_store_list(app->db, (const Smime__V1__ListLogsRequest *)req, &resp, err)) {
    return 0;
  }
  *out_resp = &resp->base;
  return 1;
}
