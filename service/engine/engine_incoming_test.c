/* engine_incoming_test: the real smime-engine (argv[1]) over a socketpair, with messages
 * made at test time by the OpenSSL 3 command line and alice of tests/pki/make_pki.sh
 * (argv[2]): decrypt_layer and verify_layer asked to open the entity they produce
 * (open_inner) answer inner_opened byte for byte as a separate open_layer(top false)
 * does; without open_inner, when the layer fails, or when opening the inner entity
 * fails (a --max-mime-parts engine: open_layer then answers the error) there is none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/engine/testing_engine.h"
#include "smime/ipc/ipc.pb-c.h"
#include "tests/ctest/check.h"

static char g_pki[4096];
static uint64_t g_id;

/* open_layer asks open_layer for |entity| (top false). */
static Smime__Ipc__EngineResponse *open_layer(int fd, const ProtobufCBinaryData *entity) {
  Smime__Ipc__EngineOpenLayerRequest q = SMIME__IPC__ENGINE_OPEN_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  q.entity = *entity;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_OPEN_LAYER;
  req.open_layer = &q;
  return testing_engine_call(fd, ++g_id, &req);
}

static Smime__Ipc__EngineResponse *decrypt_layer(int fd, const ProtobufCBinaryData *entity,
                                                 const ProtobufCBinaryData *cek,
                                                 int open_inner) {
  Smime__Ipc__EngineDecryptLayerRequest q = SMIME__IPC__ENGINE_DECRYPT_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  q.entity = *entity;
  q.cek = *cek;
  q.open_inner = open_inner;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_DECRYPT_LAYER;
  req.decrypt_layer = &q;
  Smime__Ipc__EngineResponse *resp = testing_engine_call(fd, ++g_id, &req);
  CHECK(resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_DECRYPT_LAYER);
  return resp;
}

static Smime__Ipc__EngineResponse *verify_layer(int fd, const ProtobufCBinaryData *entity,
                                                int open_inner) {
  Smime__Ipc__EngineVerifyLayerRequest q = SMIME__IPC__ENGINE_VERIFY_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  q.entity = *entity;
  q.now = (int64_t)time(NULL);
  q.open_inner = open_inner;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_VERIFY_LAYER;
  req.verify_layer = &q;
  Smime__Ipc__EngineResponse *resp = testing_engine_call(fd, ++g_id, &req);
  CHECK(resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_VERIFY_LAYER);
  CHECK(resp->verify_layer->has_inner);
  return resp;
}

/* expect_same_open checks that |embedded| is what open_layer answers for |entity|,
 * byte for byte, and returns its kind. */
static Smime__Ipc__LayerKind expect_same_open(int fd, const ProtobufCBinaryData *entity,
                                              const Smime__Ipc__EngineOpenLayerResponse *embedded) {
  CHECK(embedded != NULL);
  Smime__Ipc__EngineResponse *sep = open_layer(fd, entity);
  CHECK(sep->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_OPEN_LAYER);
  size_t a_len = protobuf_c_message_get_packed_size(&embedded->base);
  size_t b_len = protobuf_c_message_get_packed_size(&sep->open_layer->base);
  uint8_t *a = malloc(a_len + 1), *b = malloc(b_len + 1);
  CHECK(a != NULL && b != NULL);
  CHECK(protobuf_c_message_pack(&embedded->base, a) == a_len);
  CHECK(protobuf_c_message_pack(&sep->open_layer->base, b) == b_len);
  CHECK(a_len == b_len && memcmp(a, b, a_len) == 0);
  free(a);
  free(b);
  smime__ipc__engine_response__free_unpacked(sep, NULL);
  return embedded->kind;
}

/* top_open asks open_layer for the message |m| (top true). */
static Smime__Ipc__EngineResponse *top_open(int fd, const ProtobufCBinaryData *m) {
  Smime__Ipc__EngineOpenLayerRequest q = SMIME__IPC__ENGINE_OPEN_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  q.entity = *m;
  q.top = 1;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_OPEN_LAYER;
  req.open_layer = &q;
  Smime__Ipc__EngineResponse *resp = testing_engine_call(fd, ++g_id, &req);
  CHECK(resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_OPEN_LAYER);
  return resp;
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

/* make_messages writes, with alice: signed.eml (multipart/signed), enc.eml (signed.eml
 * encrypted to alice) and opaque.eml (opaque signed-data of a multipart/mixed). */
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
           "openssl cms -sign -nodetach -in mixed.eml -signer alice.pem -inkey alice.key "
           "-out opaque.eml",
           g_pki);
  CHECK(system(cmd) == 0);
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  testing_make_pki(argv[2], g_pki, sizeof(g_pki));
  make_messages();
  ProtobufCBinaryData enc, opaque;
  enc.data = testing_read_file(g_pki, "enc.eml", &enc.len);
  opaque.data = testing_read_file(g_pki, "opaque.eml", &opaque.len);

  int fd;
  pid_t pid = testing_engine_start(argv[1], NULL, &fd);
  ProtobufCBinaryData cek = recover_cek(fd, &enc);

  /* decrypt_layer with open_inner: the decrypted multipart/signed, opened. */
  Smime__Ipc__EngineResponse *d = decrypt_layer(fd, &enc, &cek, 1);
  CHECK(d->decrypt_layer->decrypted);
  const ProtobufCBinaryData *signed_entity = &d->decrypt_layer->inner;
  CHECK(expect_same_open(fd, signed_entity, d->decrypt_layer->inner_opened) ==
        SMIME__IPC__LAYER_KIND__LAYER_KIND_SIGNED);
  CHECK(d->decrypt_layer->inner_opened->detached);
  CHECK(d->decrypt_layer->inner_opened->n_signer_ids == 1);

  /* verify_layer with open_inner: the signed text/plain, opened (not S/MIME). */
  Smime__Ipc__EngineResponse *v = verify_layer(fd, signed_entity, 1);
  CHECK(v->verify_layer->n_signers == 1);
  CHECK(expect_same_open(fd, &v->verify_layer->inner, v->verify_layer->inner_opened) ==
        SMIME__IPC__LAYER_KIND__LAYER_KIND_NONE);
  smime__ipc__engine_response__free_unpacked(v, NULL);

  /* Without open_inner, nothing is opened. */
  v = verify_layer(fd, signed_entity, 0);
  CHECK(v->verify_layer->inner_opened == NULL);
  smime__ipc__engine_response__free_unpacked(v, NULL);
  smime__ipc__engine_response__free_unpacked(d, NULL);
  d = decrypt_layer(fd, &enc, &cek, 0);
  CHECK(d->decrypt_layer->decrypted && d->decrypt_layer->inner_opened == NULL);
  smime__ipc__engine_response__free_unpacked(d, NULL);

  /* A wrong content key: not decrypted, nothing opened. */
  uint8_t zeros[32] = {0};
  ProtobufCBinaryData wrong = {sizeof(zeros), zeros};
  d = decrypt_layer(fd, &enc, &wrong, 1);
  CHECK(!d->decrypt_layer->decrypted && d->decrypt_layer->inner_opened == NULL);
  smime__ipc__engine_response__free_unpacked(d, NULL);

  /* Opaque signed-data of a multipart/mixed: its content opened too. */
  v = verify_layer(fd, &opaque, 1);
  CHECK(expect_same_open(fd, &v->verify_layer->inner, v->verify_layer->inner_opened) ==
        SMIME__IPC__LAYER_KIND__LAYER_KIND_NONE);
  smime__ipc__engine_response__free_unpacked(v, NULL);
  testing_engine_stop(pid, fd);

  /* An engine allowing 2 MIME parts: the enveloped and the opaque layers (one part
   * each) open, their inner entities (3 parts) do not; the layer is still answered,
   * without inner_opened, and open_layer answers the error. */
  static const char *const kLimit[] = {"--max-mime-parts", "2", NULL};
  pid = testing_engine_start(argv[1], kLimit, &fd);
  d = decrypt_layer(fd, &enc, &cek, 1);
  CHECK(d->decrypt_layer->decrypted && d->decrypt_layer->inner_opened == NULL);
  testing_expect_error(open_layer(fd, &d->decrypt_layer->inner), 8, "(--max-mime-parts)");
  smime__ipc__engine_response__free_unpacked(d, NULL);
  v = verify_layer(fd, &opaque, 1);
  CHECK(v->verify_layer->n_signers == 1 && v->verify_layer->inner_opened == NULL);
  testing_expect_error(open_layer(fd, &v->verify_layer->inner), 8, "(--max-mime-parts)");
  smime__ipc__engine_response__free_unpacked(v, NULL);
  testing_engine_stop(pid, fd);

  free(cek.data);
  free(enc.data);
  free(opaque.data);
  testing_remove_dir(g_pki);
  printf("engine_incoming_test: all passed\n");
  return 0;
}
