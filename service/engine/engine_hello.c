/* engine_hello.c: the hello operation, which the pool uses to check that an engine is
 * up and which crypto library it runs. */
#include <stdio.h>
#include <unistd.h>

#include <openssl/base.h>
#include <openssl/crypto.h>

#include "service/engine/engine_ops.h"

int engine_op_hello(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                    Smime__Ipc__EngineResponse *resp, STATUS *err) {
  (void)req;
  char version[256];
  snprintf(version, sizeof(version), "%s, API %d", OpenSSL_version(OPENSSL_VERSION),
           BORINGSSL_API_VERSION);
  Smime__Ipc__EngineHelloResponse *hello =
      arena_alloc(arena, sizeof(Smime__Ipc__EngineHelloResponse));
  if (hello == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "engine out of memory");
  }
  smime__ipc__engine_hello_response__init(hello);
  hello->crypto_version = arena_strdup(arena, version);
  if (hello->crypto_version == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "engine out of memory");
  }
  hello->pid = (uint32_t)getpid();
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_HELLO;
  resp->hello = hello;
  return 1;
}
