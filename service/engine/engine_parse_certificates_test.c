/* engine_parse_certificates_test: the real smime-engine (argv[1]) over a socketpair,
 * with files of a PKI made by tests/pki/make_pki.sh (argv[2]) at test time: a PEM
 * chain with text around it, DER certificates given as a list (a repeated one listed
 * once), a PKCS#12 (recognised, not read), a PEM key+certificate bundle, and errors
 * answered as Error bodies on the same connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/engine/testing_engine.h"
#include "smime/ipc/ipc.pb-c.h"
#include "tests/ctest/check.h"

static char g_pki[4096];

/* read_pki reads the PKI's file |name|. */
static uint8_t *read_pki(const char *name, size_t *out_len) {
  return testing_read_file(g_pki, name, out_len);
}

/* call sends one parse_certificates request and returns the engine's response (free
 * with smime__ipc__engine_response__free_unpacked). */
static Smime__Ipc__EngineResponse *call(int fd, uint64_t id, const uint8_t *data,
                                        size_t len, ProtobufCBinaryData *der,
                                        size_t n_der) {
  Smime__Ipc__EngineParseCertificatesRequest parse =
      SMIME__IPC__ENGINE_PARSE_CERTIFICATES_REQUEST__INIT;
  parse.data.data = (uint8_t *)data;
  parse.data.len = len;
  parse.der = der;
  parse.n_der = n_der;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_PARSE_CERTIFICATES;
  req.parse_certificates = &parse;
  return testing_engine_call(fd, id, &req);
}

/* answer returns |resp|'s parse_certificates body, checking it is one. */
static Smime__Ipc__EngineParseCertificatesResponse *answer(
    Smime__Ipc__EngineResponse *resp) {
  if (resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_ERROR) {
    fprintf(stderr, "error %u: %s\n", resp->error->code, resp->error->message);
  }
  CHECK(resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_PARSE_CERTIFICATES);
  return resp->parse_certificates;
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  testing_make_pki(argv[2], g_pki, sizeof(g_pki));

  int fd;
  pid_t pid = testing_engine_start(argv[1], NULL, &fd);
  size_t alice_len, chain_len, len;
  uint8_t *alice = read_pki("alice.der", &alice_len);
  uint8_t *chain = read_pki("chain.pem", &chain_len);

  /* A PEM chain with text around it: alice, the intermediate, the root. */
  Smime__Ipc__EngineResponse *resp = call(fd, 1, chain, chain_len, NULL, 0);
  Smime__Ipc__EngineParseCertificatesResponse *a = answer(resp);
  CHECK(strcmp(a->format, "pem") == 0);
  CHECK(!a->contains_private_key);
  CHECK(a->n_certificates == 3);
  Smime__Ipc__CertificateInfo *c = a->certificates[0];
  CHECK(c->der.len == alice_len && memcmp(c->der.data, alice, alice_len) == 0);
  CHECK(c->sha256.len == 32 && c->sha1.len == 20 && c->spki_sha256.len == 32);
  CHECK(strcmp(c->subject, "O=smimed tests,CN=Alice") == 0);
  CHECK(strcmp(c->issuer, "O=smimed tests,CN=smimed Test Intermediate CA") == 0);
  CHECK(c->n_emails == 1 && strcmp(c->emails[0], "alice@example.com") == 0);
  CHECK(c->key_algorithm == 1 && c->key_bits == 2048);
  CHECK(c->can_sign && c->can_encrypt && !c->is_ca);
  CHECK(c->status == 1 && strcmp(c->status_reason, "") == 0);
  CHECK(c->not_after > c->not_before);
  CHECK(c->serial_der.len > 0 && c->subject_key_id.len == 20 &&
        c->authority_key_id.len == 20);
  /* The intermediate's subject is alice's issuer, byte for byte; the root, made by
   * `openssl req`, keeps the order it was given (RFC 4514 prints it reversed). */
  Smime__Ipc__CertificateInfo *inter = a->certificates[1];
  CHECK(inter->is_ca && inter->status == 1 && inter->n_emails == 0);
  CHECK(inter->subject_der.len == c->issuer_der.len &&
        memcmp(inter->subject_der.data, c->issuer_der.data, c->issuer_der.len) == 0);
  CHECK(a->certificates[2]->is_ca);
  CHECK(strcmp(a->certificates[2]->subject, "CN=smimed Test Root CA,O=smimed tests") == 0);
  smime__ipc__engine_response__free_unpacked(resp, NULL);

  /* A file that is no certificate file. */
  static const char kText[] = "hello, this is not a certificate\n";
  testing_expect_error(call(fd, 2, (const uint8_t *)kText, strlen(kText), NULL, 0), 3,
                       "not a certificate file: expected PEM, DER, PKCS#7 or PKCS#12 "
                       "(first bytes look like text without a PEM block)");

  /* DER certificates as a list: a repeated one is listed once. */
  ProtobufCBinaryData der[3] = {{alice_len, alice}, {alice_len, alice}, {5, NULL}};
  a = answer(resp = call(fd, 3, NULL, 0, der, 2));
  CHECK(strcmp(a->format, "der") == 0);
  CHECK(a->n_certificates == 1);
  CHECK(a->certificates[0]->der.len == alice_len);
  smime__ipc__engine_response__free_unpacked(resp, NULL);
  der[2].data = (uint8_t *)"\x30\x03\x02\x01\x01";
  testing_expect_error(call(fd, 4, NULL, 0, der, 3), 3,
                       "certificate 3 of 3: not a valid X.509 certificate (ASN.1 error at "
                       "tbsCertificate, offset 2: expected SEQUENCE, found INTEGER)");

  /* Both forms at once, and neither. */
  testing_expect_error(call(fd, 5, chain, chain_len, der, 1), 3, "not both");
  testing_expect_error(call(fd, 6, NULL, 0, NULL, 0), 3, "the file is empty");

  /* A PEM chain whose second block is broken: the whole file fails, naming it. */
  char *second = strstr(strstr((char *)chain, "-----END CERTIFICATE-----"),
                        "-----BEGIN CERTIFICATE-----\n");
  CHECK(second != NULL);
  second[28 + 4] = '*';
  testing_expect_error(call(fd, 7, chain, chain_len, NULL, 0), 3,
                       "PEM block 2 (CERTIFICATE) is not valid base64 (character 0x2a "
                       "on line");

  /* A PKCS#12: recognised, left to the keystore. */
  uint8_t *p12 = read_pki("alice.p12", &len);
  a = answer(resp = call(fd, 8, p12, len, NULL, 0));
  CHECK(strcmp(a->format, "pkcs12") == 0 && a->n_certificates == 0);
  smime__ipc__engine_response__free_unpacked(resp, NULL);
  free(p12);

  /* A PEM bundle with alice's key: noted, not read; the DSA leaf: not for S/MIME. */
  uint8_t *bundle = read_pki("alice-bundle.pem", &len);
  a = answer(resp = call(fd, 9, bundle, len, NULL, 0));
  CHECK(strcmp(a->format, "pem") == 0 && a->contains_private_key);
  CHECK(a->n_certificates == 1);
  smime__ipc__engine_response__free_unpacked(resp, NULL);
  free(bundle);
  uint8_t *dsa = read_pki("dsa.pem", &len);
  a = answer(resp = call(fd, 10, dsa, len, NULL, 0));
  CHECK(a->n_certificates == 1 && a->certificates[0]->status == 4);
  CHECK(a->certificates[0]->key_algorithm == 6);
  CHECK(strcmp(a->certificates[0]->status_reason,
               "DSA keys are not supported for S/MIME here") == 0);
  smime__ipc__engine_response__free_unpacked(resp, NULL);
  free(dsa);

  /* The engine is still there: end of stream ends it cleanly. */
  testing_engine_stop(pid, fd);
  free(alice);
  free(chain);
  testing_remove_dir(g_pki);
  printf("engine_parse_certificates_test: all passed\n");
  return 0;
}
