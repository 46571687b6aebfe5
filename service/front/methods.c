/* methods.c: the table of served RPCs, built once from the protobuf-c service
 * descriptors so that every RPC of the API is served (UNIMPLEMENTED until it has a
 * handler) without listing them by hand. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"
#include "service/common/log.h"
#include "service/front/audit.h"
#include "service/front/app.h"
#include "smime/v1/certificate.pb-c.h"
#include "smime/v1/log.pb-c.h"
#include "smime/v1/message.pb-c.h"
#include "smime/v1/settings.pb-c.h"

typedef struct served_service_st {
  const ProtobufCServiceDescriptor *desc;
  /* gated: answers FAILED_PRECONDITION while the integration is disabled. */
  int gated;
} SERVED_SERVICE;

static const SERVED_SERVICE kServices[] = {
    {&smime__v1__certificate_service__descriptor, 1},
    {&smime__v1__message_service__descriptor, 1},
    {&smime__v1__log_service__descriptor, 1},
    {&smime__v1__settings_service__descriptor, 0},
    {&grpc__health__v1__health__descriptor, 0},
    {&grpc__reflection__v1__server_reflection__descriptor, 0},
    {&grpc__reflection__v1alpha__server_reflection__descriptor, 0},
};
#define N_SERVICES (sizeof(kServices) / sizeof(kServices[0]))

typedef struct handler_binding_st {
  const char *path;
  unary_handler_fn unary;
  stream_handler_fn stream;
} HANDLER_BINDING;

static const HANDLER_BINDING kHandlers[] = {
    {"/smime.v1.SettingsService/GetSettings", rpc_get_settings, NULL},
    {"/smime.v1.SettingsService/UpdateSettings", rpc_update_settings, NULL},
    {"/smime.v1.LogService/ListLogs", rpc_list_logs, NULL},
    {"/smime.v1.CertificateService/ImportCertificates", rpc_import_certificates, NULL},
    {"/smime.v1.CertificateService/ImportPrivateKey", rpc_import_private_key, NULL},
    {"/smime.v1.CertificateService/ListCertificates", rpc_list_certificates, NULL},
    {"/smime.v1.CertificateService/GetCertificate", rpc_get_certificate, NULL},
    {"/smime.v1.CertificateService/ExportCertificate", rpc_export_certificate, NULL},
    {"/smime.v1.CertificateService/DeleteCertificate", rpc_delete_certificate, NULL},
    {"/smime.v1.CertificateService/DeletePrivateKey", rpc_delete_private_key, NULL},
    {"/smime.v1.MessageService/GetSecurityOptions", rpc_get_security_options, NULL},
    {"/smime.v1.MessageService/SignEncrypt", rpc_sign_encrypt, NULL},
    {"/smime.v1.MessageService/DecryptVerify", rpc_decrypt_verify, NULL},
    {"/smime.v1.LogService/ListRetryable", rpc_list_retryable, NULL},
    {"/grpc.health.v1.Health/Check", rpc_health_check, NULL},
    {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", NULL, rpc_reflection_info},
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", NULL, rpc_reflection_info},
};

static SERVER_METHOD *g_methods;
static size_t g_n_methods;
static const char *g_service_names[N_SERVICES];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
  size_t total = 0;
  for (size_t s = 0; s < N_SERVICES; s++) {
    total += kServices[s].desc->n_methods;
    g_service_names[s] = kServices[s].desc->name;
  }
  g_methods = calloc(total, sizeof(SERVER_METHOD));
  if (g_methods == NULL) {
    return;
  }
  for (size_t s = 0; s < N_SERVICES; s++) {
    const ProtobufCServiceDescriptor *desc = kServices[s].desc;
    for (unsigned m = 0; m < desc->n_methods; m++) {
      SERVER_METHOD *out = &g_methods[g_n_methods++];
      size_t len = strlen(desc->name) + strlen(desc->methods[m].name) + 3;
      char *path = malloc(len);
      if (path == NULL) {
        g_n_methods--;
        continue;
      }
      snprintf(path, len, "/%s/%s", desc->name, desc->methods[m].name);
      out->path = path;
      out->input = desc->methods[m].input;
      out->precheck = kServices[s].gated ? precheck_enabled : NULL;
      for (size_t h = 0; h < sizeof(kHandlers) / sizeof(kHandlers[0]); h++) {
        if (strcmp(kHandlers[h].path, path) == 0) {
          out->unary = kHandlers[h].unary;
          out->stream = kHandlers[h].stream;
        }
      }
    }
  }
}

const SERVER_METHOD *app_methods(size_t *out_n) {
  pthread_once(&g_once, build_tables);
  *out_n = g_n_methods;
  return g_methods;
}

const char *const *app_service_names(size_t *out_n) {
  pthread_once(&g_once, build_tables);
  *out_n = N_SERVICES;
  return g_service_names;
}

void app_audit_denied(void *app, const CALL_INFO *info, const STATUS *st) {
  APP *a = app;
  STATUS err;
  Smime__V1__LogEntry e = SMIME__V1__LOG_ENTRY__INIT;
  int64_t id = 0;
  char comment[sizeof(st->message) + 32];
  status_clear(&err);
  snprintf(comment, sizeof(comment), "%s: %s", status_code_name(st->code), st->message);
  /* An attempt on an admin RPC is an admin event; anything else has no direction. */
  e.direction = role_required(info->method) == ROLE_ADMIN
                    ? SMIME__V1__DIRECTION__DIRECTION_ADMIN
                    : SMIME__V1__DIRECTION__DIRECTION_UNSPECIFIED;
  e.status = SMIME__V1__LOG_STATUS__LOG_STATUS_FAILURE;
  e.caller = (char *)info->caller;
  e.rpc = (char *)info->method;
  e.comment = comment;
  if (a == NULL || a->db == NULL || !audit_append(a, &e, &id, &err)) {
    log_warn("cannot audit the refused call %s from %s: %s", info->method, info->caller,
             err.message);
  }
}
