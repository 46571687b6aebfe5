/* app.h: what the front's RPC handlers share: the database, the worker processes, the
 * reflection index, and facts gathered at start. */
#ifndef SMIMED_FRONT_APP_H
#define SMIMED_FRONT_APP_H

#include <stddef.h>

#include "service/db/db.h"
#include "service/db/log_writer.h"
#include "service/front/reflection.h"
#include "service/front/server.h"
#include "service/front/sign_hint.h"
#include "service/pool/worker_pool.h"

/* SMIMED_VERSION is the daemon's version, reported by GetSettings and --version. */
#define SMIMED_VERSION "0.1.0"

/* WORKER_CALL_CAP_MS bounds any single worker request, whatever the call's deadline. */
#define WORKER_CALL_CAP_MS 60000

/* APP_MAX_RECIPIENTS and APP_MAX_LAYERS are the highest values the --max-recipients
 * and --max-layers flags accept (the engine's and CMS code's own caps). */
#define APP_MAX_RECIPIENTS 256
#define APP_MAX_LAYERS 16

typedef struct app_st {
  DB *db;
  /* log_writer group-commits the audit entries written outside a caller's transaction. */
  LOG_WRITER *log_writer;
  WORKER_POOL *pool;
  REFLECTION *reflection;
  char kek_check_value[32];
  /* max_recipients bounds one SignEncrypt's (or GetSecurityOptions') recipients, the
   * sender not counted; more answers RESOURCE_EXHAUSTED. */
  unsigned max_recipients;
  /* max_layers bounds how deep DecryptVerify opens nested S/MIME layers. */
  unsigned max_layers;
  /* sign_hint: SignEncrypt's guess of the next signer (sign_hint.h). */
  SIGN_HINT sign_hint;
} APP;

/* app_methods returns the table of every RPC the front serves (smime.v1, health,
 * reflection), derived from the protobuf-c service descriptors, and its size. RPCs of
 * the API without a handler yet answer UNIMPLEMENTED. */
const SERVER_METHOD *app_methods(size_t *out_n);

/* app_service_names lists the fully-qualified names of the served services. */
const char *const *app_service_names(size_t *out_n);

/* The handlers, one file per service. */
int rpc_get_settings(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                     ProtobufCMessage **out_resp, STATUS *err);
int rpc_update_settings(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                        ProtobufCMessage **out_resp, STATUS *err);
int rpc_list_logs(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                  ProtobufCMessage **out_resp, STATUS *err);
int rpc_import_certificates(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                            ProtobufCMessage **out_resp, STATUS *err);
int rpc_import_private_key(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                           ProtobufCMessage **out_resp, STATUS *err);
int rpc_list_certificates(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                          ProtobufCMessage **out_resp, STATUS *err);
int rpc_get_certificate(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                        ProtobufCMessage **out_resp, STATUS *err);
int rpc_export_certificate(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                           ProtobufCMessage **out_resp, STATUS *err);
int rpc_delete_certificate(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                           ProtobufCMessage **out_resp, STATUS *err);
int rpc_delete_private_key(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                           ProtobufCMessage **out_resp, STATUS *err);
int rpc_get_security_options(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                             ProtobufCMessage **out_resp, STATUS *err);
int rpc_sign_encrypt(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                     ProtobufCMessage **out_resp, STATUS *err);
int rpc_decrypt_verify(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                       ProtobufCMessage **out_resp, STATUS *err);
int rpc_list_retryable(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                       ProtobufCMessage **out_resp, STATUS *err);
int rpc_health_check(void *app, const CALL_INFO *info, ProtobufCMessage *req,
                     ProtobufCMessage **out_resp, STATUS *err);
int rpc_reflection_info(void *app, const CALL_INFO *info, SERVER_CALL *call, STATUS *err);

/* app_audit_denied writes an audit entry for a call refused for its caller's role
 * (server.h denied_fn), so that refused attempts are on record with their caller. */
void app_audit_denied(void *app, const CALL_INFO *info, const STATUS *st);

/* precheck_enabled answers FAILED_PRECONDITION while the integration is disabled. */
int precheck_enabled(void *app, const CALL_INFO *info, STATUS *err);

#endif /* SMIMED_FRONT_APP_H */
