/* engine_incoming_test: the real smime-engine (argv[1]) over a socketpair, with messages
 * made at test time by the OpenSSL 3 command line and alice of tests/pki/make_pki.sh
 * (argv[2]): decrypt_layer and verify_layer asked to open the entity they produce
 * (open_inner) answer inner_opened byte for byte as a separate open_layer(top false)
 * does, and given the message, inner_assembled as assemble_opened does when that
 * entity is the innermost; without open_inner, when the layer fails, or when opening
 * the inner entity fails (a --max-mime-parts engine: open_layer then answers the
 * error) there is neither. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/engine/testing_engine.h"
#include "smime/ipc/ipc.pb-c.h"
#include "smime/v1/message.pb-c.h"
#include "tests/ctest/check.h"

static char g_pki[4096];
static uint64_t g_id;
static const ProtobufCBinaryData kNone = {0, NULL};

/* answer sends |req| and checks that the answer's body is |want|. */
static Smime__Ipc__EngineResponse *answer(int fd, Smime__Ipc__EngineRequest *req,
                                          Smime__Ipc__EngineResponse__BodyCase want) {
  Smime__Ipc__EngineResponse *resp = testing_engine_call(fd, ++g_id, req);
  if (resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_ERROR) {
    fprintf(stderr, "error %u: %s\n", resp->error->code, resp->error->message);
  }
  CHECK(resp->body_case == want);
  return resp;
}

/* open_layer asks open_layer for |entity| (top false). */
static Smime__Ipc__EngineResponse *open_layer(int fd, const ProtobufCBinaryData *entity) {
  Smime__Ipc__EngineOpenLayerRequest q = SMIME__IPC__ENGINE_OPEN_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  q.entity = *entity;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_OPEN_LAYER;
  req.open_layer = &q;
  return testing_engine_call(fd, ++g_id, &req);
}

/* decrypt_layer asks decrypt_layer; |message| (or kNone) is its assemble_message. */
static Smime__Ipc__EngineResponse *decrypt_layer(int fd, const ProtobufCBinaryData *entity,
                                                 const ProtobufCBinaryData *cek,
                                                 int open_inner, ProtobufCBinaryData message) {
  Smime__Ipc__EngineDecryptLayerRequest q = SMIME__IPC__ENGINE_DECRYPT_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  q.entity = *entity;
  q.cek = *cek;
  q.open_inner = open_inner;
  q.assemble_message = message;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_DECRYPT_LAYER;
  req.decrypt_layer = &q;
  return answer(fd, &req, SMIME__IPC__ENGINE_RESPONSE__BODY_DECRYPT_LAYER);
}

/* verify_layer asks verify_layer; |message| (or kNone) is its assemble_message. */
static Smime__Ipc__EngineResponse *verify_layer(int fd, const ProtobufCBinaryData *entity,
                                                int open_inner, ProtobufCBinaryData message) {
  Smime__Ipc__EngineVerifyLayerRequest q = SMIME__IPC__ENGINE_VERIFY_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  q.entity = *entity;
  q.now = (int64_t)time(NULL);
  q.open_inner = open_inner;
  q.assemble_message = message;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_VERIFY_LAYER;
  req.verify_layer = &q;
  Smime__Ipc__EngineResponse *resp =
      answer(fd, &req, SMIME__IPC__ENGINE_RESPONSE__BODY_VERIFY_LAYER);
  CHECK(resp->verify_layer->has_inner);
  return resp;
}

/* expect_same checks that |a| and |b| pack to the same bytes. */
static void expect_same(const ProtobufCMessage *a, const ProtobufCMessage *b) {
  size_t a_len = protobuf_c_message_get_packed_size(a);
  size_t b_len = protobuf_c_message_get_packed_size(b);
  uint8_t *ap = malloc(a_len + 1), *bp = malloc(b_len + 1);
  CHECK(ap != NULL && bp != NULL);
  CHECK(protobuf_c_message_pack(a, ap) == a_len);
  CHECK(protobuf_c_message_pack(b, bp) == b_len);
  CHECK(a_len == b_len && memcmp(ap, bp, a_len) == 0);
  free(ap);
  free(bp);
}

/* expect_same_open checks that |embedded| is what open_layer answers for |entity|,
 * byte for byte, and returns its kind. */
static Smime__Ipc__LayerKind expect_same_open(int fd, const ProtobufCBinaryData *entity,
                                              const Smime__Ipc__EngineOpenLayerResponse *embedded) {
  CHECK(embedded != NULL);
  Smime__Ipc__EngineResponse *sep = open_layer(fd, entity);
  CHECK(sep->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_OPEN_LAYER);
  expect_same(&embedded->base, &sep->open_layer->base);
  smime__ipc__engine_response__free_unpacked(sep, NULL);
  return embedded->kind;
}

/* expect_same_assembled checks that |embedded| is what assemble_opened answers for
 * |message| and |entity|, byte for byte. */
static void expect_same_assembled(int fd, const ProtobufCBinaryData *message,
                                  const ProtobufCBinaryData *entity,
                                  const Smime__Ipc__EngineAssembleOpenedResponse *embedded) {
  Smime__Ipc__EngineAssembleOpenedRequest q = SMIME__IPC__ENGINE_ASSEMBLE_OPENED_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  CHECK(embedded != NULL);
  q.message = *message;
  q.entity = *entity;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_ASSEMBLE_OPENED;
  req.assemble_opened = &q;
  Smime__Ipc__EngineResponse *sep =
      answer(fd, &req, SMIME__IPC__ENGINE_RESPONSE__BODY_ASSEMBLE_OPENED);
  expect_same(&embedded->base, &sep->assemble_opened->base);
  smime__ipc__engine_response__free_unpacked(sep, NULL);
}

/* top_open asks open_layer for the message |m| (top true). */
static Smime__Ipc__EngineResponse *top_open(int fd, const ProtobufCBinaryData *m) {
  Smime__Ipc__EngineOpenLayerRequest q = SMIME__IPC__ENGINE_OPEN_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  q.entity = *m;
  q.top = 1;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_OPEN_LAYER;
  req.open_layer = &q;
  return answer(fd, &req, SMIME__IPC__ENGINE_RESPONSE__BODY_OPEN_LAYER);
}

/* recover_cek opens the only recipient's encrypted key of |m| with alice's key (the
 * OpenSSL command line plays the keystore). */
static ProtobufCBinaryData recover_cek(int fd, const ProtobufCBinaryData *m) {
  Smime__Ipc__EngineResponse *ol = top_open(fd, m);
  const Smime__Ipc__EngineOpenLayerResponse *o = ol->open_layer;
  CHECK(o->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_ENVELOPED && !o->malformed);
  CHECK(o->n_recipients == 1 && o->recipients[0]->supported);
  const Smime__Ipc__UnwrapParams *u = o->recipients[0]->unwrap;
  CHECK(u->method == 1);
  char path[4200], cmd[9000];
  snprintf(path, sizeof(path), "%s/ek.bin", g_pki);
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fwrite(u->encrypted_key.data, 1, u->encrypted_key.len, f) == u->encrypted_key.len);
  CHECK(fclose(f) == 0);
  snprintf(cmd, sizeof(cmd),
           "cd '%s' && OPENSSL_CONF=/dev/null openssl pkeyutl -decrypt -inkey alice.key "
           "-in ek.bin -out cek.bin",
           g_pki);
  CHECK(system(cmd) == 0);
  smime__ipc__engine_response__free_unpacked(ol, NULL);
  ProtobufCBinaryData cek;
  cek.data = testing_read_file(g_pki, "cek.bin", &cek.len);
  CHECK(cek.len == 32);
  return cek;
}

/* verify_trusted asks verify_layer for |entity| from alice, at |now|, with |anchors|
 * (|n| of them) as the store's certificates, and returns its one signer's verdict in
 * |*out_resp| (to be freed). */
static Smime__Ipc__SignerVerdict *verify_trusted(int fd, const ProtobufCBinaryData *entity,
                                                 int64_t now, ProtobufCBinaryData *anchors,
                                                 size_t n, Smime__Ipc__EngineResponse **out_resp) {
  Smime__Ipc__EngineVerifyLayerRequest q = SMIME__IPC__ENGINE_VERIFY_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  char *senders[] = {"alice@example.com"};
  q.entity = *entity;
  q.now = now;
  q.store_certificates = anchors;
  q.n_store_certificates = n;
  q.senders = senders;
  q.n_senders = 1;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_VERIFY_LAYER;
  req.verify_layer = &q;
  *out_resp = answer(fd, &req, SMIME__IPC__ENGINE_RESPONSE__BODY_VERIFY_LAYER);
  CHECK((*out_resp)->verify_layer->n_signers == 1);
  return (*out_resp)->verify_layer->signers[0];
}

/* check_chain_memo: a chain found trusted is remembered (chain_memo.h), and the memory
 * changes no answer: the same request answers the same, a later time across the
 * certificates' notAfter still finds them expired, other anchors still decide. */
static void check_chain_memo(int fd, const ProtobufCBinaryData *signed_entity) {
  ProtobufCBinaryData anchors[2];
  Smime__Ipc__EngineResponse *first, *again, *later, *none;
  anchors[0].data = testing_read_file(g_pki, "root.der", &anchors[0].len);
  anchors[1].data = testing_read_file(g_pki, "inter.der", &anchors[1].len);
  int64_t now = (int64_t)time(NULL);
  Smime__Ipc__SignerVerdict *v = verify_trusted(fd, signed_entity, now, anchors, 2, &first);
  CHECK_MSG(v->status == SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_VALID, "%s", v->comment);
  verify_trusted(fd, signed_entity, now, anchors, 2, &again);
  expect_same(&first->verify_layer->base, &again->verify_layer->base);
  /* Twenty years on, every certificate of the chain has expired: the signature made
   * today stays valid, with the note, though the check at signing time is remembered. */
  v = verify_trusted(fd, signed_entity, now + 20 * 366 * 86400LL, anchors, 2, &later);
  CHECK_MSG(v->status == SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_VALID &&
                strstr(v->comment, "has expired since") != NULL,
            "%s", v->comment);
  v = verify_trusted(fd, signed_entity, now, NULL, 0, &none);
  CHECK_MSG(v->status == SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_UNTRUSTED, "%s",
            v->comment);
  smime__ipc__engine_response__free_unpacked(first, NULL);
  smime__ipc__engine_response__free_unpacked(again, NULL);
  smime__ipc__engine_response__free_unpacked(later, NULL);
  smime__ipc__engine_response__free_unpacked(none, NULL);
  free(anchors[0].data);
  free(anchors[1].data);
}

/* make_messages writes, with alice: signed.eml (multipart/signed), enc.eml (signed.eml
 * encrypted to alice), plain.eml (body.eml encrypted to alice) and opaque.eml (opaque
 * signed-data of a multipart/mixed). */
static void make_messages(void) {
  char cmd[12000];
  snprintf(cmd, sizeof(cmd),
           "cd '%s' && export OPENSSL_CONF=/dev/null && "
           "printf 'Content-Type: text/plain\\r\\n\\r\\nHello.\\r\\n' > body.eml && "
           "printf 'Content-Type: multipart/mixed; boundary=\"b\"\\r\\n\\r\\n--b\\r\\n"
           "Content-Type: text/plain\\r\\n\\r\\none\\r\\n--b\\r\\n"
           "Content-Type: text/plain\\r\\n\\r\\ntwo\\r\\n--b--\\r\\n' > mixed.eml && "
           "openssl cms -sign -in body.eml -signer alice.pem -inkey alice.key -out signed.eml && "
           "openssl cms -encrypt -aes256 -in signed.eml -out enc.eml alice.pem && "
           "openssl cms -encrypt -aes256 -in body.eml -out plain.eml alice.pem && "
           "openssl cms -sign -nodetach -in mixed.eml -signer alice.pem -inkey alice.key "
           "-out opaque.eml && "
           "openssl x509 -in root.pem -outform DER -out root.der && "
           "openssl x509 -in inter.pem -outform DER -out inter.der",
           g_pki);
  CHECK(system(cmd) == 0);
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  testing_make_pki(argv[2], g_pki, sizeof(g_pki));
  make_messages();
  ProtobufCBinaryData enc, plain, opaque;
  enc.data = testing_read_file(g_pki, "enc.eml", &enc.len);
  plain.data = testing_read_file(g_pki, "plain.eml", &plain.len);
  opaque.data = testing_read_file(g_pki, "opaque.eml", &opaque.len);

  int fd;
  pid_t pid = testing_engine_start(argv[1], NULL, &fd);
  ProtobufCBinaryData cek = recover_cek(fd, &enc);
  ProtobufCBinaryData plain_cek = recover_cek(fd, &plain);

  /* decrypt_layer with open_inner: the decrypted multipart/signed, opened; not the
   * innermost, so not assembled. */
  Smime__Ipc__EngineResponse *d = decrypt_layer(fd, &enc, &cek, 1, enc);
  CHECK(d->decrypt_layer->decrypted);
  const ProtobufCBinaryData *signed_entity = &d->decrypt_layer->inner;
  CHECK(expect_same_open(fd, signed_entity, d->decrypt_layer->inner_opened) ==
        SMIME__IPC__LAYER_KIND__LAYER_KIND_SIGNED);
  CHECK(d->decrypt_layer->inner_opened->detached);
  CHECK(d->decrypt_layer->inner_opened->n_signer_ids == 1);
  CHECK(d->decrypt_layer->inner_assembled == NULL);

  /* verify_layer with open_inner: the signed text/plain, opened (not S/MIME), and with
   * the message, assembled. */
  Smime__Ipc__EngineResponse *v = verify_layer(fd, signed_entity, 1, enc);
  CHECK(v->verify_layer->n_signers == 1);
  CHECK(expect_same_open(fd, &v->verify_layer->inner, v->verify_layer->inner_opened) ==
        SMIME__IPC__LAYER_KIND__LAYER_KIND_NONE);
  expect_same_assembled(fd, &enc, &v->verify_layer->inner, v->verify_layer->inner_assembled);
  smime__ipc__engine_response__free_unpacked(v, NULL);

  check_chain_memo(fd, signed_entity);

  /* Without the message, not assembled; without open_inner, neither. */
  v = verify_layer(fd, signed_entity, 1, kNone);
  CHECK(v->verify_layer->inner_opened != NULL && v->verify_layer->inner_assembled == NULL);
  smime__ipc__engine_response__free_unpacked(v, NULL);
  v = verify_layer(fd, signed_entity, 0, enc);
  CHECK(v->verify_layer->inner_opened == NULL && v->verify_layer->inner_assembled == NULL);
  smime__ipc__engine_response__free_unpacked(v, NULL);
  smime__ipc__engine_response__free_unpacked(d, NULL);
  d = decrypt_layer(fd, &enc, &cek, 0, enc);
  CHECK(d->decrypt_layer->decrypted && d->decrypt_layer->inner_opened == NULL);
  smime__ipc__engine_response__free_unpacked(d, NULL);

  /* Encrypted only: the decrypted text is the innermost, assembled. */
  d = decrypt_layer(fd, &plain, &plain_cek, 1, plain);
  CHECK(d->decrypt_layer->decrypted);
  CHECK(expect_same_open(fd, &d->decrypt_layer->inner, d->decrypt_layer->inner_opened) ==
        SMIME__IPC__LAYER_KIND__LAYER_KIND_NONE);
  expect_same_assembled(fd, &plain, &d->decrypt_layer->inner,
                        d->decrypt_layer->inner_assembled);
  smime__ipc__engine_response__free_unpacked(d, NULL);

  /* A wrong content key: not decrypted, nothing opened. */
  uint8_t zeros[32] = {0};
  ProtobufCBinaryData wrong = {sizeof(zeros), zeros};
  d = decrypt_layer(fd, &plain, &wrong, 1, plain);
  CHECK(!d->decrypt_layer->decrypted && d->decrypt_layer->inner_opened == NULL &&
        d->decrypt_layer->inner_assembled == NULL);
  smime__ipc__engine_response__free_unpacked(d, NULL);

  /* Opaque signed-data of a multipart/mixed: its content opened and assembled too. */
  v = verify_layer(fd, &opaque, 1, opaque);
  CHECK(expect_same_open(fd, &v->verify_layer->inner, v->verify_layer->inner_opened) ==
        SMIME__IPC__LAYER_KIND__LAYER_KIND_NONE);
  expect_same_assembled(fd, &opaque, &v->verify_layer->inner,
                        v->verify_layer->inner_assembled);
  smime__ipc__engine_response__free_unpacked(v, NULL);
  testing_engine_stop(pid, fd);

  /* An engine allowing 2 MIME parts: the enveloped and the opaque layers (one part
   * each) open, their inner entities (3 parts) do not; the layer is still answered,
   * without inner_opened or inner_assembled, and open_layer answers the error. */
  static const char *const kLimit[] = {"--max-mime-parts", "2", NULL};
  pid = testing_engine_start(argv[1], kLimit, &fd);
  d = decrypt_layer(fd, &enc, &cek, 1, enc);
  CHECK(d->decrypt_layer->decrypted && d->decrypt_layer->inner_opened == NULL);
  testing_expect_error(open_layer(fd, &d->decrypt_layer->inner), 8, "(--max-mime-parts)");
  smime__ipc__engine_response__free_unpacked(d, NULL);
  v = verify_layer(fd, &opaque, 1, opaque);
  CHECK(v->verify_layer->n_signers == 1 && v->verify_layer->inner_opened == NULL &&
        v->verify_layer->inner_assembled == NULL);
  testing_expect_error(open_layer(fd, &v->verify_layer->inner), 8, "(--max-mime-parts)");
  smime__ipc__engine_response__free_unpacked(v, NULL);
  testing_engine_stop(pid, fd);

  free(cek.data);
  free(plain_cek.data);
  free(enc.data);
  free(plain.data);
  free(opaque.data);
  testing_remove_dir(g_pki);
  printf("engine_incoming_test: all passed\n");
  return 0;
}
