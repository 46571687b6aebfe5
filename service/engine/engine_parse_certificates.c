/* engine_parse_certificates.c: the parse_certificates operation, behind the front's
 * ImportCertificates. The request carries either an uploaded file (|data|: PEM, DER,
 * PKCS#7 or PKCS#12, split by service/x509/containers.h) or DER certificates (|der|,
 * e.g. those the keystore took out of a PKCS#12); each certificate is read by
 * service/x509/cert_info.h. The answer lists them in input order, once each (a
 * certificate repeated in the input is listed at its first place only), or fails as a
 * whole: one unreadable certificate makes the file's import fail, naming where it was
 * ("PEM block 2 (CERTIFICATE): not a valid X.509 certificate (...)"). */
#include <stdio.h>
#include <string.h>

#include "service/engine/engine_ops.h"
#include "service/ipc/frame.h"
#include "service/x509/cert_info.h"
#include "service/x509/containers.h"

/* kResponseSlack is room left in a frame for the EngineResponse around the answer. */
static const size_t kResponseSlack = 4096;

/* copy_bytes sets |out| to a copy of |len| bytes of |p| in |arena|. */
static int copy_bytes(ARENA *arena, ProtobufCBinaryData *out, const uint8_t *p,
                      size_t len) {
  out->data = arena_memdup(arena, p, len);
  out->len = len;
  return out->data != NULL;
}

/* info_to_pb converts |info| into a CertificateInfo allocated in |arena|, or returns
 * NULL when out of memory. */
static Smime__Ipc__CertificateInfo *info_to_pb(ARENA *arena, const CERT_INFO *info) {
  Smime__Ipc__CertificateInfo *pb = arena_alloc(arena, sizeof(*pb));
  if (pb == NULL) {
    return NULL;
  }
  smime__ipc__certificate_info__init(pb);
  pb->subject = arena_strdup(arena, info->subject);
  pb->issuer = arena_strdup(arena, info->issuer);
  pb->serial_hex = arena_strdup(arena, info->serial_hex);
  pb->status_reason = arena_strdup(arena, info->status_reason);
  if (pb->subject == NULL || pb->issuer == NULL || pb->serial_hex == NULL ||
      pb->status_reason == NULL ||
      !copy_bytes(arena, &pb->der, info->der, info->der_len) ||
      !copy_bytes(arena, &pb->sha256, info->sha256, sizeof(info->sha256)) ||
      !copy_bytes(arena, &pb->sha1, info->sha1, sizeof(info->sha1)) ||
      !copy_bytes(arena, &pb->subject_der, info->subject_der, info->subject_der_len) ||
      !copy_bytes(arena, &pb->issuer_der, info->issuer_der, info->issuer_der_len) ||
      !copy_bytes(arena, &pb->serial_der, info->serial_der, info->serial_der_len) ||
      !copy_bytes(arena, &pb->subject_key_id, info->subject_key_id,
                  info->subject_key_id_len) ||
      !copy_bytes(arena, &pb->authority_key_id, info->authority_key_id,
                  info->authority_key_id_len) ||
      !copy_bytes(arena, &pb->spki_sha256, info->spki_sha256, sizeof(info->spki_sha256))) {
    return NULL;
  }
  if (info->num_emails > 0) {
    pb->emails = arena_alloc(arena, info->num_emails * sizeof(char *));
    if (pb->emails == NULL) {
      return NULL;
    }
    for (size_t i = 0; i < info->num_emails; i++) {
      pb->emails[i] = arena_strdup(arena, info->emails[i]);
      if (pb->emails[i] == NULL) {
        return NULL;
      }
    }
    pb->n_emails = info->num_emails;
  }
  pb->not_before = info->not_before;
  pb->not_after = info->not_after;
  pb->key_algorithm = (uint32_t)info->key_algorithm;
  pb->key_bits = info->key_bits;
  pb->can_sign = info->can_sign != 0;
  pb->can_encrypt = info->can_encrypt != 0;
  pb->is_ca = info->is_ca != 0;
  pb->status = (uint32_t)info->status;
  return pb;
}

/* struct seen_set is an open-addressing set of SHA-256 fingerprints (pointers into the
 * answer's CertificateInfos), for dropping repeated certificates in O(n). */
struct seen_set {
  const uint8_t **slots;
  size_t mask;
};

/* seen_add adds |sha256| to |set| and returns 1, or returns 0 if it was there. */
static int seen_add(struct seen_set *set, const uint8_t *sha256) {
  uint64_t h = 0;
  for (int i = 0; i < 8; i++) {
    h = (h << 8) | sha256[i];
  }
  for (size_t i = (size_t)h & set->mask;; i = (i + 1) & set->mask) {
    if (set->slots[i] == NULL) {
      set->slots[i] = sha256;
      return 1;
    }
    if (memcmp(set->slots[i], sha256, 32) == 0) {
      return 0;
    }
  }
}

/* fill_answer lists in |answer| the certificates of |file|, or of |in|'s DER list
 * when |file| is NULL. */
static int fill_answer(ARENA *arena, Smime__Ipc__EngineParseCertificatesResponse *answer,
                       const CERT_FILE *file,
                       const Smime__Ipc__EngineParseCertificatesRequest *in, STATUS *err) {
  size_t count = file != NULL ? file->num_certs : in->n_der;
  answer->format = arena_strdup(arena, file != NULL ? file->format : CERT_FILE_FORMAT_DER);
  answer->contains_private_key = file != NULL && file->contains_private_key != 0;
  if (answer->format == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "engine out of memory");
  }
  if (count == 0) {
    return 1;
  }
  struct seen_set seen;
  size_t slots = 16;
  while (slots < 2 * count) {
    slots *= 2;
  }
  seen.slots = arena_alloc(arena, slots * sizeof(const uint8_t *));
  seen.mask = slots - 1;
  answer->certificates = arena_alloc(arena, count * sizeof(*answer->certificates));
  if (seen.slots == NULL || answer->certificates == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "engine out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    const uint8_t *der = file != NULL ? file->certs[i].der : in->der[i].data;
    size_t der_len = file != NULL ? file->certs[i].der_len : in->der[i].len;
    STATUS st;
    status_clear(&st);
    CERT_INFO *info = cert_info_new(der, der_len, &st);
    if (info == NULL) {
      if (file != NULL) {
        return status_set(err, st.code, "%s: %s", file->certs[i].where, st.message);
      }
      return status_set(err, st.code, "certificate %zu of %zu: %s", i + 1, count,
                        st.message);
    }
    Smime__Ipc__CertificateInfo *pb = info_to_pb(arena, info);
    cert_info_free(info);
    if (pb == NULL) {
      return status_set(err, STATUS_RESOURCE_EXHAUSTED, "engine out of memory");
    }
    if (seen_add(&seen, pb->sha256.data)) {
      answer->certificates[answer->n_certificates++] = pb;
    }
  }
  return 1;
}

int engine_op_parse_certificates(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                                 Smime__Ipc__EngineResponse *resp, STATUS *err) {
  static const Smime__Ipc__EngineParseCertificatesRequest kEmpty =
      SMIME__IPC__ENGINE_PARSE_CERTIFICATES_REQUEST__INIT;
  const Smime__Ipc__EngineParseCertificatesRequest *in =
      req->parse_certificates != NULL ? req->parse_certificates : &kEmpty;
  if (in->data.len > 0 && in->n_der > 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "parse_certificates takes a file (data) or DER certificates (der), "
                      "not both");
  }
  if (in->data.len == 0 && in->n_der == 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "the file is empty");
  }
  if (in->n_der > CERT_FILE_MAX_CERTS) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED,
                      "the request holds more than %d certificates (the limit per import)",
                      CERT_FILE_MAX_CERTS);
  }
  Smime__Ipc__EngineParseCertificatesResponse *answer = arena_alloc(arena, sizeof(*answer));
  if (answer == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "engine out of memory");
  }
  smime__ipc__engine_parse_certificates_response__init(answer);
  CERT_FILE *file = NULL;
  if (in->data.len > 0) {
    file = cert_file_parse(in->data.data, in->data.len, err);
    if (file == NULL) {
      return 0;
    }
  }
  int ok = fill_answer(arena, answer, file, in, err);
  cert_file_free(file);
  if (!ok) {
    return 0;
  }
  /* engine_op_parse_certificates refuses an answer that would not fit in a frame (the
   * loop would have to drop the connection instead). */
  size_t packed = smime__ipc__engine_parse_certificates_response__get_packed_size(answer);
  if (packed > FRAME_MAX_BODY - kResponseSlack) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED,
                      "the certificates found make an answer of %zu bytes, over the limit "
                      "of %u",
                      packed, (unsigned)(FRAME_MAX_BODY - kResponseSlack));
  }
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_PARSE_CERTIFICATES;
  resp->parse_certificates = answer;
  return 1;
}
