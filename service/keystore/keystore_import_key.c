/* keystore_import_key.c: the import_key operation. Parses the private key file the
 * admin uploaded (key_import.h), reports what the key is (SPKI hash, algorithm, size)
 * and the certificates its file carried, and wraps the key (key_wrap.h) for each
 * given certificate whose public key is the key's. The front matches the key to
 * certificates by spki_sha256, stores the wrapped blobs, and never sees the key. */
#include <stdlib.h>
#include <string.h>

#include <openssl/mem.h>
#include <openssl/sha.h>

#include "service/common/log.h"
#include "service/keystore/key_import.h"
#include "service/keystore/key_wrap.h"
#include "service/keystore/keystore_ops.h"

/* KEYSTORE_IMPORT_MAX_CERTS caps the request's certificate_der. */
#define KEYSTORE_IMPORT_MAX_CERTS 1000u

/* wipe_request wipes the key file and password in the request once they are used:
 * the request is freed without being wiped by the loop. */
static void wipe_request(const Smime__Ipc__KeystoreImportKeyRequest *r) {
  if (r->data.data != NULL) {
    OPENSSL_cleanse(r->data.data, r->data.len);
  }
  if (r->password != NULL) {
    OPENSSL_cleanse(r->password, strlen(r->password));
  }
}

/* algorithm_name names a KEY_ALG_* for the log. */
static const char *algorithm_name(uint32_t alg) {
  switch (alg) {
    case KEY_ALG_RSA:
      return "RSA";
    case KEY_ALG_EC_P256:
      return "EC P-256";
    case KEY_ALG_EC_P384:
      return "EC P-384";
    case KEY_ALG_ED25519:
      return "Ed25519";
    case KEY_ALG_X25519:
      return "X25519";
    default:
      return "other";
  }
}

/* add_wrapped wraps the key for |cert| (|len| bytes) into |resp|'s next slot. */
static int add_wrapped(KEYSTORE *ks, ARENA *arena, const KEY_IMPORT *ki,
                       const uint8_t *cert, size_t len,
                       Smime__Ipc__KeystoreImportKeyResponse *resp, STATUS *err) {
  uint8_t fingerprint[SHA256_DIGEST_LENGTH];
  SHA256(cert, len, fingerprint);
  /* add_wrapped wraps once per certificate, even when the request repeats one. */
  for (size_t i = 0; i < resp->n_wrapped; i++) {
    if (memcmp(resp->wrapped[i]->certificate_sha256.data, fingerprint,
               sizeof(fingerprint)) == 0) {
      return 1;
    }
  }
  uint8_t *blob = NULL;
  size_t blob_len = 0;
  if (!key_wrap(ks->kek, ki->pkey, fingerprint, &blob, &blob_len)) {
    return status_set(err, STATUS_INTERNAL, "cannot wrap the private key");
  }
  Smime__Ipc__WrappedKey *w = arena_alloc(arena, sizeof(Smime__Ipc__WrappedKey));
  if (w == NULL) {
    free(blob);
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
  }
  smime__ipc__wrapped_key__init(w);
  w->certificate_sha256.data = arena_memdup(arena, fingerprint, sizeof(fingerprint));
  w->certificate_sha256.len = sizeof(fingerprint);
  w->wrapped.data = arena_memdup(arena, blob, blob_len);
  w->wrapped.len = blob_len;
  free(blob);
  if (w->certificate_sha256.data == NULL || w->wrapped.data == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
  }
  resp->wrapped[resp->n_wrapped++] = w;
  return 1;
}

int keystore_op_import_key(KEYSTORE *ks, ARENA *arena,
                           const Smime__Ipc__KeystoreRequest *req,
                           Smime__Ipc__KeystoreResponse *resp, STATUS *err) {
  int ret = 0;
  KEY_IMPORT *ki = NULL;
  const Smime__Ipc__KeystoreImportKeyRequest *r = req->import_key;
  if (r == NULL) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "import_key request without a body");
  }
  if (r->n_certificate_der > KEYSTORE_IMPORT_MAX_CERTS) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "%zu certificates given to match the key; at most %u are accepted",
               r->n_certificate_der, KEYSTORE_IMPORT_MAX_CERTS);
    goto out;
  }
  ki = key_import_parse(r->data.data, r->data.len, r->password, err);
  if (ki == NULL) {
    goto out;
  }
  Smime__Ipc__KeystoreImportKeyResponse *body =
      arena_alloc(arena, sizeof(Smime__Ipc__KeystoreImportKeyResponse));
  if (body == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
    goto out;
  }
  smime__ipc__keystore_import_key_response__init(body);
  body->spki_sha256.data = arena_memdup(arena, ki->spki_sha256, sizeof(ki->spki_sha256));
  body->spki_sha256.len = sizeof(ki->spki_sha256);
  body->key_algorithm = ki->key_algorithm;
  body->key_bits = ki->key_bits;
  body->container_certificates_der =
      arena_alloc(arena, (ki->num_certs + 1) * sizeof(ProtobufCBinaryData));
  body->wrapped =
      arena_alloc(arena, (r->n_certificate_der + 1) * sizeof(Smime__Ipc__WrappedKey *));
  if (body->spki_sha256.data == NULL || body->container_certificates_der == NULL ||
      body->wrapped == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
    goto out;
  }
  for (size_t i = 0; i < ki->num_certs; i++) {
    ProtobufCBinaryData *c = &body->container_certificates_der[i];
    c->data = arena_memdup(arena, ki->certs[i], ki->cert_lens[i]);
    c->len = ki->cert_lens[i];
    if (c->data == NULL) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
      goto out;
    }
  }
  body->n_container_certificates_der = ki->num_certs;
  for (size_t i = 0; i < r->n_certificate_der; i++) {
    const ProtobufCBinaryData *cert = &r->certificate_der[i];
    /* keystore_op_import_key skips a certificate for another key: the front says
     * "no certificate matches" when none is left. */
    if (!key_import_matches_certificate(ki, cert->data, cert->len)) {
      continue;
    }
    if (!add_wrapped(ks, arena, ki, cert->data, cert->len, body, err)) {
      goto out;
    }
  }
  log_info("import_key: %s key of %u bits read from %s with %zu certificate(s); "
           "wrapped for %zu of %zu certificate(s) given",
           algorithm_name(ki->key_algorithm), ki->key_bits, ki->format, ki->num_certs,
           body->n_wrapped, r->n_certificate_der);
  resp->body_case = SMIME__IPC__KEYSTORE_RESPONSE__BODY_IMPORT_KEY;
  resp->import_key = body;
  ret = 1;

out:
  if (!ret) {
    log_info("import_key refused: %s", err->message);
  }
  key_import_free(ki);
  wipe_request(r);
  return ret;
}
