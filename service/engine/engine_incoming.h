/* engine_incoming.h: what the incoming-mail operations share (internal to the engine).
 *
 * The front walks a message one layer at a time (incoming.proto); the engine is
 * stateless, so each request carries the entity of the layer concerned and it is parsed
 * again (MIME, then CMS) every time. Everything untrusted is parsed in the engine: the
 * front only ever sees identifiers, verdicts and entity bytes.
 *
 * engine_incoming_open.c:    open_layer: what the entity is and what the front must
 *                            look up; verify_layer and decrypt_layer answer it for the
 *                            inner entity too when asked (open_inner), and
 *                            assemble_opened when that entity is the innermost
 *                            (incoming_answer_inner), saving the front round trips.
 * engine_incoming_verify.c:  verify_layer: the signed layer's verdicts (cms_verify
 *                            answers the cryptographic question; trust, dates, weak
 *                            algorithms and the sender are decided there).
 * engine_incoming_decrypt.c: decrypt_layer (plaintext with a content key from the
 *                            keystore) and assemble_opened (the original outer header
 *                            around the innermost entity). */
#ifndef SMIMED_ENGINE_ENGINE_INCOMING_H
#define SMIMED_ENGINE_ENGINE_INCOMING_H

#include "service/engine/engine_ops.h"
#include "service/mime/mime_parse.h"
#include "service/mime/mime_smime.h"

/* LAYER_INPUT is an entity taken apart down to its CMS object. */
typedef struct layer_input_st {
  MIME_TREE *tree;
  MIME_SMIME_KIND kind;
  MIME_SIGNED *sig;   /* kind SIGNED */
  MIME_PKCS7 *p7;     /* kind PKCS7 */
  STATUS why;         /* when the MIME side is malformed: how */
  int malformed;
} LAYER_INPUT;

/* layer_input_open parses |entity| and decodes its S/MIME part. A broken S/MIME part is
 * not a failure (|malformed| with |why|): only limits and memory are. */
int layer_input_open(const ProtobufCBinaryData *entity, LAYER_INPUT *in, STATUS *err);

/* layer_input_cleanup frees what layer_input_open made. */
void layer_input_cleanup(LAYER_INPUT *in);

/* layer_kind_of says which layer kind the entity is. */
Smime__Ipc__LayerKind layer_kind_of(const LAYER_INPUT *in);

/* signed_der returns the SignedData bytes of a signed layer. */
void signed_der(const LAYER_INPUT *in, const uint8_t **der, size_t *len);

/* incoming_open_entity is open_layer: it classifies the outermost S/MIME layer of
 * |entity| (with |top|, also the message's facts) into a response in |arena|. Returns
 * NULL with |err| only for limits and memory: a broken layer is an answer. */
Smime__Ipc__EngineOpenLayerResponse *incoming_open_entity(ARENA *arena,
                                                          const ProtobufCBinaryData *entity,
                                                          int top, STATUS *err);

/* incoming_assemble is assemble_opened: |message| with its content replaced by
 * |entity|, in |arena|; NULL with |err| on failure. */
Smime__Ipc__EngineAssembleOpenedResponse *incoming_assemble(ARENA *arena,
                                                           const ProtobufCBinaryData *message,
                                                           const ProtobufCBinaryData *entity,
                                                           STATUS *err);

/* incoming_answer_inner sets the inner_opened and inner_assembled of verify_layer and
 * decrypt_layer for their |inner| entity: with |open_inner|, |*opened| to
 * incoming_open_entity(|inner|, top false); with a |message| too, when that entity is
 * neither signed nor enveloped (the front's walk stops there), |*assembled| to
 * incoming_assemble(|message|, |inner|). A failure leaves the answer NULL: the front
 * then asks open_layer or assemble_opened, which answers the same error in its place. */
void incoming_answer_inner(ARENA *arena, int open_inner, const ProtobufCBinaryData *message,
                           const ProtobufCBinaryData *inner,
                           Smime__Ipc__EngineOpenLayerResponse **opened,
                           Smime__Ipc__EngineAssembleOpenedResponse **assembled);

/* identifier_new makes a CmsIdentifier (issuerAndSerialNumber and/or subjectKeyIdentifier)
 * in |arena|, or NULL when out of memory. */
Smime__Ipc__CmsIdentifier *identifier_new(ARENA *arena, const uint8_t *issuer,
                                          size_t issuer_len, const uint8_t *serial,
                                          size_t serial_len, const uint8_t *ski,
                                          size_t ski_len);

/* incoming_copy_bytes sets |out| to a copy of |len| bytes of |p| in |arena| (a valid
 * pointer even for none, as protobuf-c wants). */
int incoming_copy_bytes(ARENA *arena, ProtobufCBinaryData *out, const uint8_t *p, size_t len);

/* incoming_oom fills |err| for an allocation failure and returns 0. */
int incoming_oom(STATUS *err);

#endif /* SMIMED_ENGINE_ENGINE_INCOMING_H */
