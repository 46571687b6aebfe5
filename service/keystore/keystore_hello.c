/* keystore_hello.c: the hello operation: tells the front that the keystore is up and
 * which KEK it holds (by check value, never the key), and which new KEK too when it
 * was started for a rotation (--new-kek-file). */
#include <unistd.h>

#include "service/keystore/keystore_ops.h"

int keystore_op_hello(KEYSTORE *ks, ARENA *arena, const Smime__Ipc__KeystoreRequest *req,
                      Smime__Ipc__KeystoreResponse *resp, STATUS *err) {
  (void)req;
  char check[KEK_CHECK_VALUE_LEN + 1];
  char new_check[KEK_CHECK_VALUE_LEN + 1] = "";
  if (!kek_check_value(ks->kek, check) ||
      (ks->new_kek != NULL && !kek_check_value(ks->new_kek, new_check))) {
    return status_set(err, STATUS_INTERNAL, "cannot compute the KEK check value");
  }
  Smime__Ipc__KeystoreHelloResponse *hello =
      arena_alloc(arena, sizeof(Smime__Ipc__KeystoreHelloResponse));
  if (hello == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
  }
  smime__ipc__keystore_hello_response__init(hello);
  hello->kek_check_value = arena_strdup(arena, check);
  hello->new_kek_check_value = arena_strdup(arena, new_check);
  if (hello->kek_check_value == NULL || hello->new_kek_check_value == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
  }
  hello->pid = (uint32_t)getpid();
  resp->body_case = SMIME__IPC__KEYSTORE_RESPONSE__BODY_HELLO;
  resp->hello = hello;
  return 1;
}
