/* rpc_health.c: grpc.health.v1.Health/Check, and the reflection stream binding.
 *
 * SERVING means a call would be served now: the database answers. The integration
 * being disabled is not "unhealthy": the settings RPCs still work. Watch answers
 * UNIMPLEMENTED, which the health protocol allows; Kubernetes and grpcurl use Check. */
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "service/front/app.h"

static int database_answers(APP *app) {
  STATUS err;
  PGconn *conn = db_acquire(app->db, &err);
  if (conn == NULL) {
    return 0;
  }
  PGresult *res = PQexec(conn, "SELECT 1");
  int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
  int broken = 0;
  if (!ok) {
    db_result_status(conn, res, "health check", &broken, &err);
  }
  PQclear(res);
  db_release(app->db, conn, broken);
  return ok;
}

int rpc_health_check(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *req,
                     ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  const Grpc__Health__V1__HealthCheckRequest *hreq =
      (const Grpc__Health__V1__HealthCheckRequest *)req;
  (void)info;
  *out_resp = NULL;
  if (hreq->service != NULL && hreq->service[0] != '\0') {
    size_t n = 0;
    const char *const *names = app_service_names(&n);
    int known = 0;
    for (size_t i = 0; i < n; i++) {
      known |= strcmp(names[i], hreq->service) == 0;
    }
    if (!known) {
      return status_set(err, STATUS_NOT_FOUND, "unknown service %s", hreq->service);
    }
  }
  Grpc__Health__V1__HealthCheckResponse *resp = malloc(sizeof(*resp));
  if (resp == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  grpc__health__v1__health_check_response__init(resp);
  resp->status = database_answers(app)
                     ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                     : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
  *out_resp = &resp->base;
  return 1;
}

int rpc_reflection_info(void *app_ptr, const CALL_INFO *info, SERVER_CALL *call, STATUS *err) {
  APP *app = app_ptr;
  (void)info;
  return reflection_serve(app->reflection, call, err);
}
