/* rpc_certificates.c: CertificateService.
 *
 * The front parses nothing itself: uploaded files go to an engine (certificates) and to
 * the keystore (private keys, PKCS#12), and what comes back is stored in one
 * transaction together with its audit entry. A failed import or delete is audited too,
 * with the reason, in an entry of its own. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/common/log.h"
#include "service/db/certificate_store.h"
#include "service/db/log_store.h"
#include "service/front/app.h"
#include "service/front/audit.h"
#include "service/front/worker_calls.h"
#include "smime/v1/certificate.pb-c.h"

/* MAX_KEY_CERTIFICATES bounds how many stored certificates one private key is attached
 * to (renewals keep the key: a handful is normal). */
#define MAX_KEY_CERTIFICATES 100

static int oom(STATUS *err) { return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory"); }

/* parse_certificates asks an engine to read |data| (a file) or |ders|. */
static int parse_certificates(APP *app, const CALL_INFO *info, const ProtobufCBinaryData *data,
                              ProtobufCBinaryData *ders, size_t n_ders,
                              Smime__Ipc__EngineResponse **out, STATUS *err) {
  Smime__Ipc__EngineParseCertificatesRequest p = SMIME__IPC__ENGINE_PARSE_CERTIFICATES_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  if (data != NULL) {
    p.data = *data;
  }
  p.der = ders;
  p.n_der = n_ders;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_PARSE_CERTIFICATES;
  req.parse_certificates = &p;
  return engine_call(app, info, &req, SMIME__IPC__ENGINE_RESPONSE__BODY_PARSE_CERTIFICATES, out,
                     err);
}

/* import_key asks the keystore to read the private key in |data| and to wrap it for
 * each of |ders| whose public key matches. */
static int import_key(APP *app, const CALL_INFO *info, const ProtobufCBinaryData *data,
                      const char *password, ProtobufCBinaryData *ders, size_t n_ders,
                      Smime__Ipc__KeystoreResponse **out, STATUS *err) {
  Smime__Ipc__KeystoreImportKeyRequest k = SMIME__IPC__KEYSTORE_IMPORT_KEY_REQUEST__INIT;
  Smime__Ipc__KeystoreRequest req = SMIME__IPC__KEYSTORE_REQUEST__INIT;
  k.data = *data;
  k.password = (char *)(password != NULL ? password : "");
  k.certificate_der = ders;
  k.n_certificate_der = n_ders;
  req.body_case = SMIME__IPC__KEYSTORE_REQUEST__BODY_IMPORT_KEY;
  req.import_key = &k;
  return keystore_call(app, info, &req, SMIME__IPC__KEYSTORE_RESPONSE__BODY_IMPORT_KEY, out, err);
}

/* refuse_unusable_leaf fails for an end-entity certificate the engine found unfit for
 * S/MIME: importing it could only mislead (CAs need no address or S/MIME usage). */
static int refuse_unusable_leaf(const Smime__Ipc__CertificateInfo *c, STATUS *err) {
  if (c->is_ca || c->status != SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_NOT_FOR_SMIME) {
    return 1;
  }
  return status_set(err, STATUS_INVALID_ARGUMENT, "certificate \"%s\" is not for S/MIME: %s",
                    c->subject, c->status_reason);
}

static int begin(APP *app, PGconn **out_conn, int *broken, STATUS *err) {
  *out_conn = db_acquire(app->db, err);
  if (*out_conn == NULL) {
    return 0;
  }
  if (!db_exec(*out_conn, "BEGIN", broken, err)) {
    db_release(app->db, *out_conn, *broken);
    *out_conn = NULL;
    return 0;
  }
  return 1;
}

/* finish commits (|ok|) or rolls back, and gives the connection back. */
static int finish(APP *app, PGconn *conn, int ok, int broken, STATUS *err) {
  if (conn == NULL) {
    return ok;
  }
  if (ok) {
    ok = db_exec(conn, "COMMIT", &broken, err);
    /* Even a failed COMMIT may have committed: the cache starts again either way. */
    db_note_change(app->db, broken ? NULL : conn);
  } else if (!broken) {
    STATUS ignored;
    db_exec(conn, "ROLLBACK", &broken, &ignored);
  }
  db_release(app->db, conn, broken);
  return ok;
}

/* store_import stores |certs|, attaches |wrapped| keys and writes the audit entry, in
 * one transaction, filling |resp|. */
static int store_import(APP *app, const CALL_INFO *info, Smime__Ipc__CertificateInfo **certs,
                        size_t n_certs, Smime__Ipc__WrappedKey **wrapped, size_t n_wrapped,
                        AUDIT *audit, Smime__V1__ImportCertificatesResponse *resp,
                        STATUS *err) {
  PGconn *conn = NULL;
  int broken = 0, ok = 0, n_new = 0;
  time_t now = time(NULL);
  (void)info;
  if (!begin(app, &conn, &broken, err)) {
    return 0;
  }
  resp->certificates = calloc(n_certs > 0 ? n_certs : 1, sizeof(*resp->certificates));
  if (resp->certificates == NULL) {
    oom(err);
    goto out;
  }
  for (size_t i = 0; i < n_certs; i++) {
    int is_new = 0;
    uint8_t sha256[CERT_SHA256_LEN];
    if (!certificate_store_insert(conn, certs[i], &is_new, &broken, err)) {
      goto out;
    }
    Smime__V1__ImportedCertificate *ic = malloc(sizeof(*ic));
    if (ic == NULL) {
      oom(err);
      goto out;
    }
    smime__v1__imported_certificate__init(ic);
    resp->certificates[resp->n_certificates++] = ic;
    ic->new_ = is_new;
    n_new += is_new;
    memcpy(sha256, certs[i]->sha256.data, CERT_SHA256_LEN);
    if (n_wrapped == 0 &&
        !certificate_store_get_on(NULL, conn, sha256, now, &ic->certificate, &broken, err)) {
      goto out;
    }
  }
  for (size_t i = 0; i < n_wrapped; i++) {
    if (!certificate_store_attach_key(conn, &wrapped[i]->certificate_sha256, &wrapped[i]->wrapped,
                                      app->kek_check_value, &broken, err)) {
      goto out;
    }
  }
  if (n_wrapped > 0) {
    /* Read the certificates back after the keys are attached, so has_private_key is
     * what is stored now. */
    for (size_t i = 0; i < n_certs; i++) {
      uint8_t sha256[CERT_SHA256_LEN];
      memcpy(sha256, certs[i]->sha256.data, CERT_SHA256_LEN);
      if (!certificate_store_get_on(NULL, conn, sha256, now, &resp->certificates[i]->certificate,
                                    &broken, err)) {
        goto out;
      }
    }
  }
  resp->private_key_imported = n_wrapped > 0;
  for (size_t i = 0; i < resp->n_certificates; i++) {
    audit_add_certificate(audit, resp->certificates[i]->certificate);
  }
  audit_comment(audit, "%zu certificate(s), %d new", n_certs, n_new);
  if (n_wrapped > 0) {
    audit_comment(audit, "; private key attached to %zu certificate(s)", n_wrapped);
  }
  ok = audit_write(app, conn, audit, 1, NULL, err);

out:
  return finish(app, conn, ok, broken, err);
}

int rpc_import_certificates(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *msg,
                            ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  const Smime__V1__ImportCertificatesRequest *req =
      (const Smime__V1__ImportCertificatesRequest *)msg;
  Smime__Ipc__EngineResponse *parsed = NULL;
  Smime__Ipc__KeystoreResponse *opened = NULL, *keys = NULL;
  Smime__V1__ImportCertificatesResponse *resp = NULL;
  AUDIT audit;
  int ok = 0;
  *out_resp = NULL;
  audit_init(&audit, info, SMIME__V1__DIRECTION__DIRECTION_ADMIN);
  audit_add_operation(&audit, SMIME__V1__OPERATION__OPERATION_IMPORT_CERTIFICATE);

  if (req->data.len == 0) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "data is empty: give the contents of a certificate file "
               "(smimectl import-certificates --data @FILE)");
    goto out;
  }
  if (!parse_certificates(app, info, &req->data, NULL, 0, &parsed, err)) {
    goto out;
  }
  Smime__Ipc__EngineParseCertificatesResponse *p = parsed->parse_certificates;
  if (strcmp(p->format, "pkcs12") == 0) {
    /* The keystore opens the PKCS#12 (it holds the key); the engine then reads the
     * certificates it carried. */
    audit_comment(&audit, "PKCS#12: ");
    if (!import_key(app, info, &req->data, req->password, NULL, 0, &opened, err)) {
      goto out;
    }
    Smime__Ipc__KeystoreImportKeyResponse *o = opened->import_key;
    if (o->n_container_certificates_der == 0) {
      status_set(err, STATUS_INVALID_ARGUMENT,
                 "the PKCS#12 file holds a private key but no certificate; import the "
                 "certificate, then the key with import-private-key");
      goto out;
    }
    smime__ipc__engine_response__free_unpacked(parsed, NULL);
    parsed = NULL;
    if (!parse_certificates(app, info, NULL, o->container_certificates_der,
                            o->n_container_certificates_der, &parsed, err)) {
      goto out;
    }
    p = parsed->parse_certificates;
    if (!import_key(app, info, &req->data, req->password, o->container_certificates_der,
                    o->n_container_certificates_der, &keys, err)) {
      goto out;
    }
  } else if (p->contains_private_key) {
    audit_comment(&audit, "certificates with a private key: ");
    ProtobufCBinaryData *ders = calloc(p->n_certificates ? p->n_certificates : 1, sizeof(*ders));
    if (ders == NULL) {
      oom(err);
      goto out;
    }
    for (size_t i = 0; i < p->n_certificates; i++) {
      ders[i] = p->certificates[i]->der;
    }
    int got = import_key(app, info, &req->data, req->password, ders, p->n_certificates, &keys, err);
    free(ders);
    if (!got) {
      goto out;
    }
  }
  if (keys != NULL && keys->import_key->n_wrapped == 0) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "the private key in the file belongs to none of its certificates");
    goto out;
  }
  for (size_t i = 0; i < p->n_certificates; i++) {
    if (!refuse_unusable_leaf(p->certificates[i], err)) {
      goto out;
    }
  }

  resp = malloc(sizeof(*resp));
  if (resp == NULL) {
    oom(err);
    goto out;
  }
  smime__v1__import_certificates_response__init(resp);
  if (!store_import(app, info, p->certificates, p->n_certificates,
                    keys != NULL ? keys->import_key->wrapped : NULL,
                    keys != NULL ? keys->import_key->n_wrapped : 0, &audit, resp, err)) {
    goto out;
  }
  if (p->n_certificates == 1 && !resp->certificates[0]->new_ && !resp->private_key_imported) {
    /* The write above stored nothing and its audit entry says so; the caller asked to
     * add one certificate that is there already. */
    status_set(err, STATUS_ALREADY_EXISTS, "certificate %s is already stored",
               resp->certificates[0]->certificate->sha256_fingerprint);
    goto out;
  }
  *out_resp = &resp->base;
  resp = NULL;
  ok = 1;

out:
  if (!ok && err->code != STATUS_ALREADY_EXISTS) {
    audit_failure(app, &audit, err);
  }
  if (resp != NULL) {
    smime__v1__import_certificates_response__free_unpacked(resp, NULL);
  }
  if (parsed != NULL) {
    smime__ipc__engine_response__free_unpacked(parsed, NULL);
  }
  if (opened != NULL) {
    smime__ipc__keystore_response__free_unpacked(opened, NULL);
  }
  if (keys != NULL) {
    smime__ipc__keystore_response__free_unpacked(keys, NULL);
  }
  return ok;
}

int rpc_import_private_key(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *msg,
                           ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  const Smime__V1__ImportPrivateKeyRequest *req = (const Smime__V1__ImportPrivateKeyRequest *)msg;
  Smime__Ipc__KeystoreResponse *opened = NULL, *keys = NULL;
  Smime__Ipc__EngineResponse *parsed = NULL;
  ProtobufCBinaryData *stored = NULL, *candidates = NULL;
  size_t n_stored = 0, n_candidates = 0;
  Smime__V1__ImportPrivateKeyResponse *resp = NULL;
  Smime__V1__ImportCertificatesResponse *stored_resp = NULL;
  AUDIT audit;
  int ok = 0;
  *out_resp = NULL;
  audit_init(&audit, info, SMIME__V1__DIRECTION__DIRECTION_ADMIN);
  audit_add_operation(&audit, SMIME__V1__OPERATION__OPERATION_IMPORT_PRIVATE_KEY);

  if (req->data.len == 0) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "data is empty: give the contents of a private key file "
               "(smimectl import-private-key --data @FILE --password ...)");
    goto out;
  }
  if (!import_key(app, info, &req->data, req->password, NULL, 0, &opened, err)) {
    goto out;
  }
  Smime__Ipc__KeystoreImportKeyResponse *o = opened->import_key;
  if (!certificate_store_ders_by_spki(app->db, &o->spki_sha256, MAX_KEY_CERTIFICATES, &stored,
                                      &n_stored, err)) {
    goto out;
  }
  /* Candidates: the stored certificates of this public key, and the certificates a
   * PKCS#12 carried (stored along with the key if it matches them). */
  candidates = calloc(n_stored + o->n_container_certificates_der + 1, sizeof(*candidates));
  if (candidates == NULL) {
    oom(err);
    goto out;
  }
  for (size_t i = 0; i < n_stored; i++) {
    candidates[n_candidates++] = stored[i];
  }
  for (size_t i = 0; i < o->n_container_certificates_der; i++) {
    candidates[n_candidates++] = o->container_certificates_der[i];
  }
  if (n_candidates == 0) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "no certificate matches this private key; import its certificate first");
    goto out;
  }
  if (!import_key(app, info, &req->data, req->password, candidates, n_candidates, &keys, err)) {
    goto out;
  }
  if (keys->import_key->n_wrapped == 0) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "no certificate matches this private key; import its certificate first");
    goto out;
  }
  /* Every certificate the key goes to must be stored: the PKCS#12's are parsed by an
   * engine and stored in the same transaction (stored ones are left as they are). */
  size_t n_parsed = 0;
  Smime__Ipc__CertificateInfo **infos = NULL;
  if (o->n_container_certificates_der > 0) {
    if (!parse_certificates(app, info, NULL, o->container_certificates_der,
                            o->n_container_certificates_der, &parsed, err)) {
      goto out;
    }
    for (size_t i = 0; i < parsed->parse_certificates->n_certificates; i++) {
      if (!refuse_unusable_leaf(parsed->parse_certificates->certificates[i], err)) {
        goto out;
      }
    }
    infos = parsed->parse_certificates->certificates;
    n_parsed = parsed->parse_certificates->n_certificates;
  }
  stored_resp = malloc(sizeof(*stored_resp));
  if (stored_resp == NULL) {
    oom(err);
    goto out;
  }
  smime__v1__import_certificates_response__init(stored_resp);
  if (n_parsed == 0) {
    /* Only stored certificates: attach without inserting. */
    PGconn *conn = NULL;
    int broken = 0, wrote = 0;
    Smime__V1__Certificate **certs = calloc(keys->import_key->n_wrapped, sizeof(*certs));
    if (certs == NULL) {
      oom(err);
      goto out;
    }
    if (begin(app, &conn, &broken, err)) {
      size_t n = 0;
      wrote = 1;
      for (size_t i = 0; wrote && i < keys->import_key->n_wrapped; i++) {
        Smime__Ipc__WrappedKey *w = keys->import_key->wrapped[i];
        if (w->certificate_sha256.len != CERT_SHA256_LEN) {
          wrote = status_set(err, STATUS_INTERNAL, "the keystore named a certificate oddly");
          break;
        }
        wrote = certificate_store_attach_key(conn, &w->certificate_sha256, &w->wrapped,
                                             app->kek_check_value, &broken, err) &&
                certificate_store_get_on(NULL, conn, w->certificate_sha256.data, time(NULL),
                                         &certs[n++], &broken, err);
      }
      for (size_t i = 0; wrote && i < n; i++) {
        audit_add_certificate(&audit, certs[i]);
      }
      if (wrote) {
        audit_comment(&audit, "private key attached to %zu certificate(s)", n);
        wrote = audit_write(app, conn, &audit, 1, NULL, err);
      }
      wrote = finish(app, conn, wrote, broken, err);
      if (wrote) {
        resp = malloc(sizeof(*resp));
        if (resp != NULL) {
          smime__v1__import_private_key_response__init(resp);
          resp->certificate = certs[0];
          certs[0] = NULL;
        } else {
          oom(err);
          wrote = 0;
        }
      }
      for (size_t i = 0; i < n; i++) {
        if (certs[i] != NULL) {
          smime__v1__certificate__free_unpacked(certs[i], NULL);
        }
      }
    }
    free(certs);
    if (!wrote) {
      goto out;
    }
  } else {
    if (!store_import(app, info, infos, n_parsed, keys->import_key->wrapped,
                      keys->import_key->n_wrapped, &audit, stored_resp, err)) {
      goto out;
    }
    resp = malloc(sizeof(*resp));
    if (resp == NULL) {
      oom(err);
      goto out;
    }
    smime__v1__import_private_key_response__init(resp);
    /* Answer with the certificate the key was attached to (the first). */
    for (size_t i = 0; i < stored_resp->n_certificates; i++) {
      Smime__V1__Certificate *c = stored_resp->certificates[i]->certificate;
      if (c != NULL && c->has_private_key && resp->certificate == NULL) {
        resp->certificate = c;
        stored_resp->certificates[i]->certificate = NULL;
      }
    }
  }
  *out_resp = &resp->base;
  resp = NULL;
  ok = 1;

out:
  if (!ok) {
    audit_failure(app, &audit, err);
  }
  if (resp != NULL) {
    smime__v1__import_private_key_response__free_unpacked(resp, NULL);
  }
  if (stored_resp != NULL) {
    smime__v1__import_certificates_response__free_unpacked(stored_resp, NULL);
  }
  if (parsed != NULL) {
    smime__ipc__engine_response__free_unpacked(parsed, NULL);
  }
  if (opened != NULL) {
    smime__ipc__keystore_response__free_unpacked(opened, NULL);
  }
  if (keys != NULL) {
    smime__ipc__keystore_response__free_unpacked(keys, NULL);
  }
  certificate_ders_free(stored, n_stored);
  free(candidates);
  return ok;
}

int rpc_list_certificates(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *msg,
                          ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  Smime__V1__ListCertificatesResponse *resp = NULL;
  (void)info;
  *out_resp = NULL;
  if (!certificate_store_list(app->db, (const Smime__V1__ListCertificatesRequest *)msg, time(NULL),
                              &resp, err)) {
    return 0;
  }
  *out_resp = &resp->base;
  return 1;
}

int rpc_get_certificate(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *msg,
                        ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  const Smime__V1__GetCertificateRequest *req = (const Smime__V1__GetCertificateRequest *)msg;
  uint8_t sha256[CERT_SHA256_LEN];
  (void)info;
  *out_resp = NULL;
  if (!certificate_fingerprint_parse(req->sha256_fingerprint, "sha256_fingerprint", sha256, err)) {
    return 0;
  }
  Smime__V1__GetCertificateResponse *resp = malloc(sizeof(*resp));
  if (resp == NULL) {
    return oom(err);
  }
  smime__v1__get_certificate_response__init(resp);
  if (!certificate_store_get(app->db, sha256, time(NULL), &resp->certificate, err)) {
    smime__v1__get_certificate_response__free_unpacked(resp, NULL);
    return 0;
  }
  *out_resp = &resp->base;
  return 1;
}

/* pem_append writes one certificate as a PEM block (base64 of the stored DER). */
static size_t pem_append(char *out, const ProtobufCBinaryData *der) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = 0, line = 0;
  n += (size_t)sprintf(out + n, "-----BEGIN CERTIFICATE-----\n");
  for (size_t i = 0; i < der->len; i += 3) {
    uint32_t v = (uint32_t)der->data[i] << 16;
    size_t left = der->len - i;
    if (left > 1) {
      v |= (uint32_t)der->data[i + 1] << 8;
    }
    if (left > 2) {
      v |= der->data[i + 2];
    }
    out[n++] = b64[(v >> 18) & 63];
    out[n++] = b64[(v >> 12) & 63];
    out[n++] = left > 1 ? b64[(v >> 6) & 63] : '=';
    out[n++] = left > 2 ? b64[v & 63] : '=';
    line += 4;
    if (line == 64) {
      out[n++] = '\n';
      line = 0;
    }
  }
  if (line > 0) {
    out[n++] = '\n';
  }
  n += (size_t)sprintf(out + n, "-----END CERTIFICATE-----\n");
  return n;
}

int rpc_export_certificate(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *msg,
                           ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  const Smime__V1__ExportCertificateRequest *req = (const Smime__V1__ExportCertificateRequest *)msg;
  uint8_t sha256[CERT_SHA256_LEN];
  ProtobufCBinaryData *ders = NULL;
  size_t n = 0;
  int der = req->format == SMIME__V1__CERTIFICATE_FORMAT__CERTIFICATE_FORMAT_DER;
  (void)info;
  *out_resp = NULL;
  if (!certificate_fingerprint_parse(req->sha256_fingerprint, "sha256_fingerprint", sha256, err)) {
    return 0;
  }
  if (der && req->with_chain) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "with_chain needs format PEM: DER holds one certificate");
  }
  if (!certificate_store_export(app->db, sha256, req->with_chain, &ders, &n, err)) {
    return 0;
  }
  Smime__V1__ExportCertificateResponse *resp = malloc(sizeof(*resp));
  size_t cap = 0;
  for (size_t i = 0; i < n; i++) {
    cap += ders[i].len * 2 + 128;
  }
  uint8_t *buf = malloc(cap + 1);
  if (resp == NULL || buf == NULL) {
    free(resp);
    free(buf);
    certificate_ders_free(ders, n);
    return oom(err);
  }
  smime__v1__export_certificate_response__init(resp);
  size_t len = 0;
  if (der) {
    memcpy(buf, ders[0].data, ders[0].len);
    len = ders[0].len;
  } else {
    for (size_t i = 0; i < n; i++) {
      len += pem_append((char *)buf + len, &ders[i]);
    }
  }
  certificate_ders_free(ders, n);
  resp->data.data = buf;
  resp->data.len = len;
  *out_resp = &resp->base;
  return 1;
}

/* delete_common runs DeleteCertificate (|key_only| 0) or DeletePrivateKey (1). */
static int delete_common(APP *app, const CALL_INFO *info, const char *fingerprint, int key_only,
                         int *out_had_key, STATUS *err) {
  uint8_t sha256[CERT_SHA256_LEN];
  PGconn *conn = NULL;
  int broken = 0, ok = 0, had_key = 0;
  Smime__V1__Certificate *cert = NULL;
  AUDIT audit;
  audit_init(&audit, info, SMIME__V1__DIRECTION__DIRECTION_ADMIN);
  audit_add_operation(&audit, key_only ? SMIME__V1__OPERATION__OPERATION_DELETE_PRIVATE_KEY
                                       : SMIME__V1__OPERATION__OPERATION_DELETE_CERTIFICATE);
  if (!certificate_fingerprint_parse(fingerprint, "sha256_fingerprint", sha256, err)) {
    goto out;
  }
  if (!begin(app, &conn, &broken, err)) {
    goto out;
  }
  if (key_only) {
    ok = certificate_store_delete_key(conn, sha256, time(NULL), &cert, &broken, err);
    had_key = ok;
  } else {
    ok = certificate_store_delete(conn, sha256, time(NULL), &cert, &had_key, &broken, err);
  }
  if (ok) {
    audit_add_certificate(&audit, cert);
    audit_comment(&audit, key_only ? "private key of %s deleted"
                                    : had_key ? "%s deleted with its private key" : "%s deleted",
                  cert->subject);
    ok = audit_write(app, conn, &audit, 1, NULL, err);
  }
  ok = finish(app, conn, ok, broken, err);

out:
  if (!ok) {
    audit_comment(&audit, "%s", fingerprint != NULL ? fingerprint : "");
    audit_failure(app, &audit, err);
  }
  if (cert != NULL) {
    smime__v1__certificate__free_unpacked(cert, NULL);
  }
  *out_had_key = had_key;
  return ok;
}

int rpc_delete_certificate(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *msg,
                           ProtobufCMessage **out_resp, STATUS *err) {
  const Smime__V1__DeleteCertificateRequest *req = (const Smime__V1__DeleteCertificateRequest *)msg;
  int had_key = 0;
  *out_resp = NULL;
  if (!delete_common(app_ptr, info, req->sha256_fingerprint, 0, &had_key, err)) {
    return 0;
  }
  Smime__V1__DeleteCertificateResponse *resp = malloc(sizeof(*resp));
  if (resp == NULL) {
    return oom(err);
  }
  smime__v1__delete_certificate_response__init(resp);
  resp->private_key_deleted = had_key;
  *out_resp = &resp->base;
  return 1;
}

int rpc_delete_private_key(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *msg,
                           ProtobufCMessage **out_resp, STATUS *err) {
  const Smime__V1__DeletePrivateKeyRequest *req = (const Smime__V1__DeletePrivateKeyRequest *)msg;
  int had_key = 0;
  *out_resp = NULL;
  if (!delete_common(app_ptr, info, req->sha256_fingerprint, 1, &had_key, err)) {
    return 0;
  }
  Smime__V1__DeletePrivateKeyResponse *resp = malloc(sizeof(*resp));
  if (resp == NULL) {
    return oom(err);
  }
  smime__v1__delete_private_key_response__init(resp);
  *out_resp = &resp->base;
  return 1;
}
