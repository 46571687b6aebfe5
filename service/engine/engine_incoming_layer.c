/* engine_incoming_layer.c: taking an entity apart down to its CMS object, for every
 * incoming-mail operation (see engine_incoming.h). */
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

/* incoming_copy_bytes sets |out| to a copy of |len| bytes of |p| in |arena| (a valid
 * pointer even for none, as protobuf-c wants). */
int incoming_copy_bytes(ARENA *arena, ProtobufCBinaryData *out, const uint8_t *p,
                        size_t len) {
  out->data = arena_memdup(arena, p != NULL ? p : (const uint8_t *)"", len);
  out->len = len;
  return out->data != NULL;
}

int incoming_oom(STATUS *err) {
  return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
}


void incoming_answer_inner(ARENA *arena, int open_inner, const ProtobufCBinaryData *message,
                           const ProtobufCBinaryData *inner,
                           Smime__Ipc__EngineOpenLayerResponse **opened,
                           Smime__Ipc__EngineAssembleOpenedResponse **assembled) {
  STATUS ignored;
  *opened = NULL;
  *assembled = NULL;
  if (!open_inner) {
    return;
  }
  *opened = incoming_open_entity(arena, inner, 0, &ignored);
  if (*opened == NULL || message->len == 0 ||
      (*opened)->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_SIGNED ||
      (*opened)->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_ENVELOPED ||
      (*opened)->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_AUTH_ENVELOPED) {
    return;
  }
  *assembled = incoming_assemble(arena, message, inner, &ignored);
}

void layer_input_cleanup(LAYER_INPUT *in) {
  mime_signed_free(in->sig);
  mime_pkcs7_free(in->p7);
  mime_tree_free(in->tree);
  memset(in, 0, sizeof(*in));
}

/* layer_input_open parses |entity| and decodes its S/MIME part. A broken S/MIME part is
 * not a failure (|malformed| with |why|): only limits and memory are. */
int layer_input_open(const ProtobufCBinaryData *entity, LAYER_INPUT *in,
                            STATUS *err) {
  MIME_CMS_TYPE declared = MIME_CMS_UNKNOWN;
  memset(in, 0, sizeof(*in));
  in->tree = engine_mime_parse(entity->data, entity->len, err);
  if (in->tree == NULL) {
    return 0;
  }
  in->kind = mime_smime_classify(mime_tree_root(in->tree), &declared);
  if (in->kind == MIME_SMIME_SIGNED) {
    in->sig = mime_signed_new(mime_tree_root(in->tree), &in->why);
    in->malformed = in->sig == NULL;
  } else if (in->kind == MIME_SMIME_PKCS7) {
    in->p7 = mime_pkcs7_new(mime_tree_root(in->tree), &in->why);
    in->malformed = in->p7 == NULL;
  }
  return 1;
}

/* layer_kind_of says which layer kind a pkcs7-mime object is: enveloped when declared or
 * sniffed so, certs-only, else signed (an unknown object is reported as a malformed
 * signed layer). */
Smime__Ipc__LayerKind layer_kind_of(const LAYER_INPUT *in) {
  if (in->kind == MIME_SMIME_NONE) {
    return SMIME__IPC__LAYER_KIND__LAYER_KIND_NONE;
  }
  if (in->kind == MIME_SMIME_SIGNED || in->p7 == NULL) {
    return SMIME__IPC__LAYER_KIND__LAYER_KIND_SIGNED;
  }
  switch (in->p7->type) {
    case MIME_CMS_ENVELOPED_DATA:
      return SMIME__IPC__LAYER_KIND__LAYER_KIND_ENVELOPED;
    case MIME_CMS_AUTH_ENVELOPED_DATA:
      return SMIME__IPC__LAYER_KIND__LAYER_KIND_AUTH_ENVELOPED;
    case MIME_CMS_CERTS_ONLY:
      return SMIME__IPC__LAYER_KIND__LAYER_KIND_CERTS_ONLY;
    default:
      return SMIME__IPC__LAYER_KIND__LAYER_KIND_SIGNED;
  }
}

/* signed_der returns the SignedData bytes of a signed layer. */
void signed_der(const LAYER_INPUT *in, const uint8_t **der, size_t *len) {
  if (in->sig != NULL) {
    *der = in->sig->signature;
    *len = in->sig->signature_len;
  } else {
    *der = in->p7->der;
    *len = in->p7->der_len;
  }
}

Smime__Ipc__CmsIdentifier *identifier_new(ARENA *arena, const uint8_t *issuer,
                                                 size_t issuer_len, const uint8_t *serial,
                                                 size_t serial_len, const uint8_t *ski,
                                                 size_t ski_len) {
  Smime__Ipc__CmsIdentifier *id = arena_alloc(arena, sizeof(*id));
  if (id == NULL) {
    return NULL;
  }
  smime__ipc__cms_identifier__init(id);
  if (!incoming_copy_bytes(arena, &id->issuer_der, issuer, issuer_len) ||
      !incoming_copy_bytes(arena, &id->serial_der, serial, serial_len) ||
      !incoming_copy_bytes(arena, &id->subject_key_id, ski, ski_len)) {
    return NULL;
  }
  return id;
}
