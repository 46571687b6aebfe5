/* keystore_import_key_test: the import_key operation of the real smime-keystore (path
 * in argv[1]) over a socketpair, with Thunderbird's PKCS#12 files (argv[2]): it
 * reports the key and the file's certificates, wraps the key only for the given
 * certificates that hold its public key (once each), and the blob unwraps with the
 * KEK file for that certificate only; wrong password, garbage and empty data are
 * INVALID_ARGUMENT errors after which the keystore goes on serving. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bytestring.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "service/common/status.h"
#include "service/ipc/frame.h"
#include "service/keystore/kek.h"
#include "service/keystore/key_wrap.h"
#include "service/pkcs12/test_util.h"
#include "smime/ipc/ipc.pb-c.h"

extern char **environ;

static const char *g_keystore;
static const char *g_testdata;
static char g_kek[2048];
static uint64_t g_next_id = 100;

/* start_keystore runs the keystore with its end of a socketpair as fd 3. */
static pid_t start_keystore(int *out_fd) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  int child = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
  CHECK(child >= 0);
  posix_spawn_file_actions_t fa;
  CHECK(posix_spawn_file_actions_init(&fa) == 0);
  CHECK(posix_spawn_file_actions_adddup2(&fa, child, 3) == 0);
  char *argv[] = {(char *)g_keystore, "--fd", "3", "--kek-file", g_kek, NULL};
  pid_t pid;
  CHECK(posix_spawn(&pid, g_keystore, &fa, NULL, argv, environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  close(child);
  close(sv[1]);
  *out_fd = sv[0];
  return pid;
}

/* call sends |req| (its id set here) and returns the response with the same id. */
static Smime__Ipc__KeystoreResponse *call(int fd, Smime__Ipc__KeystoreRequest *req) {
  req->request_id = g_next_id++;
  CHECK(frame_write_message(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_KEYSTORE_REQUEST,
                            &req->base, 10000) == FRAME_OK);
  ProtobufCMessage *msg = NULL;
  CHECK(frame_read_message(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_KEYSTORE_RESPONSE,
                           &smime__ipc__keystore_response__descriptor, &msg,
                           30000) == FRAME_OK);
  Smime__Ipc__KeystoreResponse *resp = (Smime__Ipc__KeystoreResponse *)msg;
  CHECK(resp->request_id == req->request_id);
  return resp;
}

/* import sends an import_key request for |data| with |password| and |certs|. */
static Smime__Ipc__KeystoreResponse *import(int fd, const uint8_t *data, size_t len,
                                            const char *password,
                                            ProtobufCBinaryData *certs,
                                            size_t num_certs) {
  Smime__Ipc__KeystoreImportKeyRequest body = SMIME__IPC__KEYSTORE_IMPORT_KEY_REQUEST__INIT;
  body.data.data = (uint8_t *)data;
  body.data.len = len;
  body.password = (char *)password;
  body.certificate_der = certs;
  body.n_certificate_der = num_certs;
  Smime__Ipc__KeystoreRequest req = SMIME__IPC__KEYSTORE_REQUEST__INIT;
  req.body_case = SMIME__IPC__KEYSTORE_REQUEST__BODY_IMPORT_KEY;
  req.import_key = &body;
  return call(fd, &req);
}

static void expect_error(Smime__Ipc__KeystoreResponse *resp, const char *message) {
  CHECK(resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_ERROR);
  if (strncmp(resp->error->message, message, strlen(message)) != 0) {
    fprintf(stderr, "got \"%s\", want \"%s\"\n", resp->error->message, message);
  }
  CHECK(resp->error->code == STATUS_INVALID_ARGUMENT);
  CHECK(strncmp(resp->error->message, message, strlen(message)) == 0);
  protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static uint8_t *read_testdata(const char *name, size_t *len) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", g_testdata, name);
  return tu_read_file(path, len);
}

/* cert_key returns the public key of the certificate |der|. */
static EVP_PKEY *cert_key(const ProtobufCBinaryData *der) {
  const uint8_t *p = der->data;
  X509 *x = d2i_X509(NULL, &p, (long)der->len);
  CHECK(x != NULL);
  EVP_PKEY *pkey = X509_get_pubkey(x);
  CHECK(pkey != NULL);
  X509_free(x);
  return pkey;
}

/* spki_sha256 hashes the SubjectPublicKeyInfo of |pkey|. */
static void spki_sha256(const EVP_PKEY *pkey, uint8_t out[32]) {
  CBB cbb;
  uint8_t *spki;
  size_t len;
  CHECK(CBB_init(&cbb, 0) && EVP_marshal_public_key(&cbb, pkey) &&
        CBB_finish(&cbb, &spki, &len));
  SHA256(spki, len, out);
  OPENSSL_free(spki);
}

/* check_file imports |name| (password "nss", |alg|), first alone, then with its
 * certificates (one repeated) and |foreign| (another key's certificate). */
static void check_file(int fd, const KEK *kek, const char *name, uint32_t alg,
                       uint32_t bits, size_t num_certs, const ProtobufCBinaryData *foreign) {
  size_t len;
  uint8_t *data = read_testdata(name, &len);
  Smime__Ipc__KeystoreResponse *first = import(fd, data, len, "nss", NULL, 0);
  CHECK(first->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_IMPORT_KEY);
  Smime__Ipc__KeystoreImportKeyResponse *r = first->import_key;
  CHECK(r->key_algorithm == alg);
  CHECK(r->key_bits == bits);
  CHECK(r->spki_sha256.len == 32);
  CHECK(r->n_container_certificates_der == num_certs);
  CHECK(r->n_wrapped == 0);

  /* check_file sends every certificate of the file, the first twice, and a foreign
   * one. */
  ProtobufCBinaryData certs[8];
  size_t n = 0;
  for (size_t i = 0; i < r->n_container_certificates_der; i++) {
    certs[n++] = r->container_certificates_der[i];
  }
  certs[n++] = r->container_certificates_der[0];
  certs[n++] = *foreign;
  Smime__Ipc__KeystoreResponse *second = import(fd, data, len, "nss", certs, n);
  CHECK(second->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_IMPORT_KEY);
  Smime__Ipc__KeystoreImportKeyResponse *r2 = second->import_key;
  CHECK(r2->n_wrapped == 1);
  CHECK(memcmp(r2->spki_sha256.data, r->spki_sha256.data, 32) == 0);
  const Smime__Ipc__WrappedKey *w = r2->wrapped[0];
  CHECK(w->certificate_sha256.len == 32);
  CHECK(w->wrapped.len > KEY_WRAP_OVERHEAD);
  /* The wrapped certificate is the one with the key; it unwraps for it alone. */
  int found = 0;
  for (size_t i = 0; i < r->n_container_certificates_der; i++) {
    const ProtobufCBinaryData *cert = &r->container_certificates_der[i];
    uint8_t fp[32];
    SHA256(cert->data, cert->len, fp);
    EVP_PKEY *pub = cert_key(cert);
    EVP_PKEY *key = key_unwrap(kek, w->wrapped.data, w->wrapped.len, fp);
    if (memcmp(fp, w->certificate_sha256.data, 32) == 0) {
      found = 1;
      CHECK(key != NULL);
      CHECK(EVP_PKEY_cmp(key, pub) == 1);
      uint8_t spki[32];
      spki_sha256(pub, spki);
      CHECK(memcmp(spki, r->spki_sha256.data, 32) == 0);
    } else {
      CHECK(key == NULL);
    }
    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);
  }
  CHECK(found);

  /* The same file with the foreign certificate alone: nothing to wrap. */
  Smime__Ipc__KeystoreResponse *third = import(fd, data, len, "nss",
                                               (ProtobufCBinaryData *)foreign, 1);
  CHECK(third->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_IMPORT_KEY);
  CHECK(third->import_key->n_wrapped == 0);
  protobuf_c_message_free_unpacked(&third->base, NULL);
  protobuf_c_message_free_unpacked(&second->base, NULL);
  protobuf_c_message_free_unpacked(&first->base, NULL);
  free(data);
}

static void check_hello(int fd, pid_t pid) {
  Smime__Ipc__KeystoreHelloRequest hello = SMIME__IPC__KEYSTORE_HELLO_REQUEST__INIT;
  Smime__Ipc__KeystoreRequest req = SMIME__IPC__KEYSTORE_REQUEST__INIT;
  req.body_case = SMIME__IPC__KEYSTORE_REQUEST__BODY_HELLO;
  req.hello = &hello;
  Smime__Ipc__KeystoreResponse *resp = call(fd, &req);
  CHECK(resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_HELLO);
  CHECK(resp->hello->pid == (uint32_t)pid);
  protobuf_c_message_free_unpacked(&resp->base, NULL);
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  g_keystore = argv[1];
  g_testdata = argv[2];
  char *dir = tu_mkdtemp();
  snprintf(g_kek, sizeof(g_kek), "%s/kek", dir);

  int fd;
  pid_t pid = start_keystore(&fd);
  check_hello(fd, pid);
  STATUS err;
  status_clear(&err);
  KEK *kek = kek_load(g_kek, &err);
  CHECK(kek != NULL);

  /* A certificate of another key: Fran's, from her file. */
  size_t len;
  uint8_t *fran = read_testdata("Fran.p12", &len);
  Smime__Ipc__KeystoreResponse *fran_resp = import(fd, fran, len, "nss", NULL, 0);
  CHECK(fran_resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_IMPORT_KEY);
  CHECK(fran_resp->import_key->n_container_certificates_der == 1);
  const ProtobufCBinaryData *foreign = &fran_resp->import_key->container_certificates_der[0];

  check_file(fd, kek, "Bob.p12", 1, 2048, 2, foreign);
  check_file(fd, kek, "Alice-ec.p12", 3, 384, 2, foreign);

  /* Refusals, each followed by the keystore still answering. */
  uint8_t *bob = read_testdata("Bob.p12", &len);
  expect_error(import(fd, bob, len, "wrong", NULL, 0), "wrong password for the PKCS#12 file");
  expect_error(import(fd, bob, len, "", NULL, 0),
               "the PKCS#12 file is encrypted: give its password");
  expect_error(import(fd, bob, len / 2, "nss", NULL, 0), "malformed or truncated PKCS#12");
  expect_error(import(fd, (const uint8_t *)"garbage", 7, "", NULL, 0),
               "the data is not a private key");
  expect_error(import(fd, NULL, 0, "", NULL, 0), "the private key data is empty");
  check_hello(fd, pid);
  free(bob);

  protobuf_c_message_free_unpacked(&fran_resp->base, NULL);
  free(fran);
  CHECK(shutdown(fd, SHUT_WR) == 0);
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(fd);
  kek_free(kek);
  free(dir);
  printf("keystore_import_key_test: all passed\n");
  return 0;
}
