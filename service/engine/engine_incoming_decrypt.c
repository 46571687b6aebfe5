/* engine_incoming_decrypt.c: decrypt_layer and assemble_opened (see engine_incoming.h). */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/x509.h>

#include "service/cms/cms_decrypt.h"
#include "service/cms/cms_verify.h"
#include "service/engine/engine_incoming.h"
#include "service/engine/engine_limits.h"
#include "service/mime/mime_address.h"
#include "service/mime/mime_build.h"
#include "service/mime/mime_parse.h"
#include "service/mime/mime_smime.h"
#include "service/x509/cert_info.h"
#include "smime/v1/message.pb-c.h"

int engine_op_decrypt_layer(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                            Smime__Ipc__EngineResponse *resp, STATUS *err) {
  const Smime__Ipc__EngineDecryptLayerRequest *q = req->decrypt_layer;
  Smime__Ipc__EngineDecryptLayerResponse *r = arena_alloc(arena, sizeof(*r));
  CMS_ENVELOPE *env = NULL;
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  LAYER_INPUT in;
  STATUS why;
  int ok = 0;
  memset(&in, 0, sizeof(in));
  if (r == NULL) {
    return incoming_oom(err);
  }
  smime__ipc__engine_decrypt_layer_response__init(r);
  if (!layer_input_open(&q->entity, &in, err)) {
    goto out;
  }
  if (in.p7 == NULL || !cms_envelope_parse(in.p7->der, in.p7->der_len, &env, &why)) {
    status_set(err, STATUS_INVALID_ARGUMENT, "decrypt_layer: the entity is not enveloped");
    goto out;
  }
  if (q->recipient_index >= env->num_recipients) {
    status_set(err, STATUS_INVALID_ARGUMENT, "decrypt_layer: no recipient %u",
               q->recipient_index);
    goto out;
  }
  r->key_transport = (uint32_t)env->recipients[q->recipient_index].method;
  if (q->cek.len > 0 &&
      cms_envelope_decrypt(env, q->cek.data, q->cek.len, &plain, &plain_len, &why)) {
    r->decrypted = 1;
    if (!incoming_copy_bytes(arena, &r->inner, plain, plain_len)) {
      incoming_oom(err);
      goto out;
    }
  }
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_DECRYPT_LAYER;
  resp->decrypt_layer = r;
  ok = 1;

out:
  if (plain != NULL) {
    OPENSSL_cleanse(plain, plain_len);
    OPENSSL_free(plain);
  }
  cms_envelope_free(env);
  layer_input_cleanup(&in);
  /* The inner entity is opened once the layer's own parse is freed (peak memory). */
  if (ok && r->decrypted) {
    incoming_answer_inner(arena, q->open_inner, &q->assemble_message, &r->inner,
                          &r->inner_opened, &r->inner_assembled);
  }
  return ok;
}

Smime__Ipc__EngineAssembleOpenedResponse *incoming_assemble(ARENA *arena,
                                                           const ProtobufCBinaryData *message,
                                                           const ProtobufCBinaryData *entity,
                                                           STATUS *err) {
  Smime__Ipc__EngineAssembleOpenedResponse *r = arena_alloc(arena, sizeof(*r));
  uint8_t *out = NULL;
  size_t out_len = 0;
  MIME_LIMITS lim;
  int ok = 0;
  if (r == NULL) {
    incoming_oom(err);
    return NULL;
  }
  smime__ipc__engine_assemble_opened_response__init(r);
  engine_mime_limits(&lim);
  if (!mime_build_replace_content(message->data, message->len, entity->data, entity->len,
                                  &lim, &out, &out_len, err)) {
    goto out;
  }
  if (!incoming_copy_bytes(arena, &r->message, out, out_len)) {
    incoming_oom(err);
    goto out;
  }
  ok = 1;

out:
  free(out);
  return ok ? r : NULL;
}

int engine_op_assemble_opened(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                              Smime__Ipc__EngineResponse *resp, STATUS *err) {
  const Smime__Ipc__EngineAssembleOpenedRequest *q = req->assemble_opened;
  Smime__Ipc__EngineAssembleOpenedResponse *r =
      incoming_assemble(arena, &q->message, &q->entity, err);
  if (r == NULL) {
    return 0;
  }
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_ASSEMBLE_OPENED;
  resp->assemble_opened = r;
  return 1;
}
