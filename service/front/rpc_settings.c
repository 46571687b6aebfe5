/* rpc_settings.c: SettingsService, and the "integration enabled" gate of other RPCs. */
#include <stdlib.h>
#include <string.h>

#include "service/db/settings_store.h"
#include "service/front/app.h"
#include "smime/v1/settings.pb-c.h"

int precheck_enabled(void *app_ptr, const CALL_INFO *info, STATUS *err) {
  APP *app = app_ptr;
  int enabled = 0;
  (void)info;
  if (!settings_store_is_enabled(app->db, &enabled, err)) {
    return 0;
  }
  if (!enabled) {
    return status_set(err, STATUS_FAILED_PRECONDITION,
                      "S/MIME integration is disabled; an admin enables it with "
                      "UpdateSettings (smimectl update-settings --enabled)");
  }
  return 1;
}

/* service_status asks the workers how they are, for GetSettings. A worker that does not
 * answer is reported in the fields rather than failing the whole call. */
static Smime__V1__ServiceStatus *service_status(APP *app, const CALL_INFO *info) {
  Smime__V1__ServiceStatus *st = malloc(sizeof(Smime__V1__ServiceStatus));
  if (st == NULL) {
    return NULL;
  }
  smime__v1__service_status__init(st);
  WORKER_POOL_STATS stats;
  worker_pool_stats(app->pool, &stats);
  st->engines = stats.engines;
  st->engine_restarts = stats.engine_restarts;
  st->keystore_restarts = stats.keystore_restarts;
  st->schema_version = db_schema_version(app->db);
  st->version = strdup(SMIMED_VERSION);

  Smime__Ipc__EngineHelloRequest hello = SMIME__IPC__ENGINE_HELLO_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_HELLO;
  req.hello = &hello;
  Smime__Ipc__EngineResponse *resp = NULL;
  STATUS werr;
  if (worker_pool_engine_call(app->pool, &req, &resp, call_info_remaining_ms(info, 10000),
                              &werr) &&
      resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_HELLO) {
    st->engine_crypto_version = strdup(resp->hello->crypto_version);
  } else {
    st->engine_crypto_version = strdup("unavailable: the engine did not answer");
  }
  if (resp != NULL) {
    smime__ipc__engine_response__free_unpacked(resp, NULL);
  }

  Smime__Ipc__KeystoreHelloRequest khello = SMIME__IPC__KEYSTORE_HELLO_REQUEST__INIT;
  Smime__Ipc__KeystoreRequest kreq = SMIME__IPC__KEYSTORE_REQUEST__INIT;
  kreq.body_case = SMIME__IPC__KEYSTORE_REQUEST__BODY_HELLO;
  kreq.hello = &khello;
  Smime__Ipc__KeystoreResponse *kresp = NULL;
  if (worker_pool_keystore_call(app->pool, &kreq, &kresp, call_info_remaining_ms(info, 10000),
                                &werr) &&
      kresp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_HELLO) {
    st->kek_check_value = strdup(kresp->hello->kek_check_value);
  } else {
    st->kek_check_value = strdup("unavailable: the keystore did not answer");
  }
  if (kresp != NULL) {
    smime__ipc__keystore_response__free_unpacked(kresp, NULL);
  }
  if (st->version == NULL || st->engine_crypto_version == NULL || st->kek_check_value == NULL) {
    smime__v1__service_status__free_unpacked(st, NULL);
    return NULL;
  }
  return st;
}

int rpc_get_settings(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *req,
                     ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  (void)req;
  *out_resp = NULL;
  Smime__V1__GetSettingsResponse *resp = malloc(sizeof(Smime__V1__GetSettingsResponse));
  if (resp == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  smime__v1__get_settings_response__init(resp);
  if (!settings_store_get(app->db, &resp->settings, err)) {
    smime__v1__get_settings_response__free_unpacked(resp, NULL);
    return 0;
  }
  resp->status = service_status(app, info);
  if (resp->status == NULL) {
    smime__v1__get_settings_response__free_unpacked(resp, NULL);
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  *out_resp = &resp->base;
  return 1;
}

int rpc_update_settings(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *req,
                        ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  *out_resp = NULL;
  Smime__V1__UpdateSettingsResponse *resp = malloc(sizeof(Smime__V1__UpdateSettingsResponse));
  if (resp == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  smime__v1__update_settings_response__init(resp);
  if (!settings_store_update(app->db, (const Smime__V1__UpdateSettingsRequest *)req,
                             info->caller, info->method, &resp->settings, err)) {
    smime__v1__update_settings_response__free_unpacked(resp, NULL);
    return 0;
  }
  *out_resp = &resp->base;
  return 1;
}
