/* engine_incoming_open.c: open_layer, also for verify_layer's and decrypt_layer's inner
 * entity (see engine_incoming.h). */
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
#include "service/mime/mime_address.h"
#include "service/mime/mime_build.h"
#include "service/mime/mime_parse.h"
#include "service/mime/mime_smime.h"
#include "service/x509/cert_info.h"
#include "smime/v1/message.pb-c.h"

/* MAX_WANTED_SUBJECTS bounds the issuer Names reported for one signed layer. */
#define MAX_WANTED_SUBJECTS 64


/* add_wanted appends |name| to the wanted subjects unless it is there already. */
static int add_wanted(ARENA *arena, Smime__Ipc__EngineOpenLayerResponse *r, const uint8_t *name,
                      size_t len) {
  if (len == 0 || r->n_wanted_subjects >= MAX_WANTED_SUBJECTS) {
    return 1;
  }
  for (size_t i = 0; i < r->n_wanted_subjects; i++) {
    if (r->wanted_subjects[i].len == len && memcmp(r->wanted_subjects[i].data, name, len) == 0) {
      return 1;
    }
  }
  return incoming_copy_bytes(arena, &r->wanted_subjects[r->n_wanted_subjects++], name, len);
}

/* open_signed fills |r| for a signed layer: the signers' identifiers and the issuer
 * Names of the carried certificates and signers. */
static int open_signed(ARENA *arena, const LAYER_INPUT *in, Smime__Ipc__EngineOpenLayerResponse *r,
                       STATUS *err) {
  const uint8_t *der;
  size_t der_len;
  CMS_VERIFY_RESULT *res = NULL;
  STATUS why;
  int ok = 0;
  r->detached = in->sig != NULL;
  signed_der(in, &der, &der_len);
  /* Who signed is all this needs: verify_layer does the cryptography, with the store's
   * certificates the front fetches from what is found here. */
  if (!cms_verify_outline(der, der_len, in->sig != NULL ? in->sig->canonical : NULL,
                          in->sig != NULL ? in->sig->canonical_len : 0, &res, &why)) {
    r->malformed = 1;
    r->reason = arena_strdup(arena, why.message);
    return r->reason != NULL ? 1 : incoming_oom(err);
  }
  r->signer_ids = arena_alloc(arena, (res->num_signers + 1) * sizeof(*r->signer_ids));
  r->wanted_subjects = arena_alloc(arena, MAX_WANTED_SUBJECTS * sizeof(*r->wanted_subjects));
  if (r->signer_ids == NULL || r->wanted_subjects == NULL) {
    incoming_oom(err);
    goto out;
  }
  for (size_t i = 0; i < res->num_signers; i++) {
    const CMS_SIGNER_RESULT *s = &res->signers[i];
    Smime__Ipc__CmsIdentifier *id =
        identifier_new(arena, s->sid_issuer.data, s->sid_issuer.len, s->sid_serial.data,
                       s->sid_serial.len, s->sid_ski.data, s->sid_ski.len);
    if (id == NULL || !add_wanted(arena, r, s->sid_issuer.data, s->sid_issuer.len)) {
      incoming_oom(err);
      goto out;
    }
    r->signer_ids[r->n_signer_ids++] = id;
  }
  for (size_t i = 0; i < res->num_certs; i++) {
    STATUS ignored;
    CERT_OUTLINE o;
    /* Only the issuer is wanted here: the outline, not the whole cert_info_new (which
     * took a sixth of a verify's engine time). A certificate BoringSSL would refuse
     * only adds a Name the store is searched for. */
    if (cert_outline(res->certs[i].data, res->certs[i].len, &o, &ignored) &&
        !add_wanted(arena, r, o.issuer_der, o.issuer_der_len)) {
      incoming_oom(err);
      goto out;
    }
  }
  ok = 1;

out:
  cms_verify_result_free(res);
  return ok;
}

/* unwrap_params_new converts |u| (pointing into an envelope) into IPC form. */
static Smime__Ipc__UnwrapParams *unwrap_params_new(ARENA *arena, const CMS_UNWRAP_REQUEST *u) {
  Smime__Ipc__UnwrapParams *p = arena_alloc(arena, sizeof(*p));
  if (p == NULL) {
    return NULL;
  }
  smime__ipc__unwrap_params__init(p);
  p->method = (uint32_t)u->method;
  p->cek_len = (uint32_t)u->cek_len;
  p->oaep_md = (uint32_t)u->oaep_md;
  p->mgf1_md = (uint32_t)u->mgf1_md;
  p->kdf_md = (uint32_t)u->kdf_md;
  p->kek_len = (uint32_t)u->kek_len;
  if (!incoming_copy_bytes(arena, &p->encrypted_key, u->encrypted_key.data, u->encrypted_key.len) ||
      !incoming_copy_bytes(arena, &p->oaep_label, u->oaep_label.data, u->oaep_label.len) ||
      !incoming_copy_bytes(arena, &p->peer_point, u->peer_point.data, u->peer_point.len) ||
      !incoming_copy_bytes(arena, &p->shared_info, u->shared_info.data, u->shared_info.len)) {
    return NULL;
  }
  return p;
}

/* v1_cipher maps a CMS_CIPHER_* to smime.v1.ContentCipher (AES-192-GCM has no number:
 * UNSPECIFIED, and the name says it). */
static uint32_t v1_cipher(int cipher) {
  switch (cipher) {
    case CMS_CIPHER_AES128_CBC:
      return SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES128_CBC;
    case CMS_CIPHER_AES192_CBC:
      return SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES192_CBC;
    case CMS_CIPHER_AES256_CBC:
      return SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES256_CBC;
    case CMS_CIPHER_AES128_GCM:
      return SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES128_GCM;
    case CMS_CIPHER_AES256_GCM:
      return SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES256_GCM;
    case CMS_CIPHER_DES_EDE3_CBC:
      return SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_DES_EDE3_CBC;
    default:
      return SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_UNSPECIFIED;
  }
}

/* open_enveloped fills |r| for an enveloped layer: cipher and recipients. */
static int open_enveloped(ARENA *arena, const LAYER_INPUT *in,
                          Smime__Ipc__EngineOpenLayerResponse *r, STATUS *err) {
  CMS_ENVELOPE *env = NULL;
  STATUS why;
  int ok = 0;
  if (!cms_envelope_parse(in->p7->der, in->p7->der_len, &env, &why)) {
    r->malformed = 1;
    r->reason = arena_strdup(arena, why.message);
    return r->reason != NULL ? 1 : incoming_oom(err);
  }
  r->kind = env->auth ? SMIME__IPC__LAYER_KIND__LAYER_KIND_AUTH_ENVELOPED
                      : SMIME__IPC__LAYER_KIND__LAYER_KIND_ENVELOPED;
  r->cipher = v1_cipher(env->cipher);
  r->cipher_name = arena_strdup(arena, env->cipher != CMS_CIPHER_NONE
                                           ? cms_cipher_name(env->cipher)
                                           : env->cipher_oid);
  r->recipients = arena_alloc(arena, (env->num_recipients + 1) * sizeof(*r->recipients));
  if (r->cipher_name == NULL || r->recipients == NULL) {
    incoming_oom(err);
    goto out;
  }
  for (size_t i = 0; i < env->num_recipients; i++) {
    const CMS_RECIPIENT_INFO *ri = &env->recipients[i];
    CMS_UNWRAP_REQUEST u;
    Smime__Ipc__RecipientEntry *e = arena_alloc(arena, sizeof(*e));
    if (e == NULL) {
      incoming_oom(err);
      goto out;
    }
    smime__ipc__recipient_entry__init(e);
    e->index = (uint32_t)i;
    e->rid = identifier_new(arena, ri->rid_issuer.data, ri->rid_issuer.len, ri->rid_serial.data,
                            ri->rid_serial.len, ri->rid_ski.data, ri->rid_ski.len);
    if (e->rid == NULL) {
      incoming_oom(err);
      goto out;
    }
    if (cms_envelope_unwrap_request(env, i, &u, &why)) {
      e->supported = 1;
      e->unwrap = unwrap_params_new(arena, &u);
      e->reason = arena_strdup(arena, "");
    } else {
      e->reason = arena_strdup(arena, why.message);
    }
    if (e->reason == NULL || (e->supported && e->unwrap == NULL)) {
      incoming_oom(err);
      goto out;
    }
    r->recipients[r->n_recipients++] = e;
  }
  ok = 1;

out:
  cms_envelope_free(env);
  return ok;
}

/* parse_date reads an RFC 5322 date-time ("Mon, 26 Jan 2026 14:38:03 +0000", the day
 * name optional, obsolete zone names read as UTC) into Unix seconds. */
static int parse_date(const char *value, int64_t *out) {
  struct tm tm;
  const char *p = value, *rest;
  long off = 0;
  *out = 0;
  while (*p == ' ' || *p == '\t') {
    p++;
  }
  if (strchr(p, ',') != NULL) {
    p = strchr(p, ',') + 1;
  }
  memset(&tm, 0, sizeof(tm));
  rest = strptime(p, " %d %b %Y %H:%M", &tm);
  if (rest == NULL) {
    return 0;
  }
  if (*rest == ':') {
    const char *sec = strptime(rest, ":%S", &tm);
    if (sec == NULL) {
      return 0;
    }
    rest = sec;
  }
  while (*rest == ' ') {
    rest++;
  }
  if ((rest[0] == '+' || rest[0] == '-') && strlen(rest) >= 5) {
    int hh = (rest[1] - '0') * 10 + (rest[2] - '0');
    int mm = (rest[3] - '0') * 10 + (rest[4] - '0');
    off = (hh * 60L + mm) * 60L * (rest[0] == '-' ? -1 : 1);
  }
  *out = (int64_t)timegm(&tm) - off;
  return 1;
}

/* message_facts fills the Message-ID and the From and Sender addresses of |msg|. */
static int message_facts(ARENA *arena, const MIME_ENTITY *msg,
                         Smime__Ipc__EngineOpenLayerResponse *r, STATUS *err) {
  MIME_ADDRESS_LIST *l = mime_address_list_new();
  const char *mid = mime_entity_header(msg, "Message-ID");
  char *bare = NULL;
  int ok = 0;
  if (l == NULL) {
    return incoming_oom(err);
  }
  if (!mime_address_from_header(l, msg, "From", err) ||
      !mime_address_from_header(l, msg, "Sender", err)) {
    goto out;
  }
  if (mid != NULL) {
    bare = mime_message_id(mid);
  }
  const char *date = mime_entity_header(msg, "Date");
  if (date != NULL && parse_date(date, &r->date)) {
    r->has_date = 1;
  }
  r->message_id = arena_strdup(arena, bare != NULL ? bare : "");
  r->senders = arena_alloc(arena, (l->num + 1) * sizeof(char *));
  if (r->message_id == NULL || r->senders == NULL) {
    incoming_oom(err);
    goto out;
  }
  for (size_t i = 0; i < l->num; i++) {
    r->senders[i] = arena_strdup(arena, l->addrs[i].addr);
    if (r->senders[i] == NULL) {
      incoming_oom(err);
      goto out;
    }
  }
  r->n_senders = l->num;
  ok = 1;

out:
  free(bare);
  mime_address_list_free(l);
  return ok;
}

Smime__Ipc__EngineOpenLayerResponse *incoming_open_entity(ARENA *arena,
                                                          const ProtobufCBinaryData *entity,
                                                          int top, STATUS *err) {
  Smime__Ipc__EngineOpenLayerResponse *r = arena_alloc(arena, sizeof(*r));
  LAYER_INPUT in;
  int ok = 0;
  memset(&in, 0, sizeof(in));
  if (r == NULL) {
    incoming_oom(err);
    return NULL;
  }
  smime__ipc__engine_open_layer_response__init(r);
  if (!layer_input_open(entity, &in, err)) {
    goto out;
  }
  if (top && !message_facts(arena, mime_tree_root(in.tree), r, err)) {
    goto out;
  }
  r->kind = layer_kind_of(&in);
  if (in.malformed) {
    r->malformed = 1;
    r->reason = arena_strdup(arena, in.why.message);
    if (r->reason == NULL) {
      incoming_oom(err);
      goto out;
    }
  } else if (r->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_SIGNED) {
    if (in.p7 != NULL && in.p7->type != MIME_CMS_SIGNED_DATA) {
      r->malformed = 1;
      r->reason = arena_strdup(arena, in.p7->type == MIME_CMS_UNKNOWN
                                          ? "the S/MIME part holds no CMS object this "
                                            "service recognises"
                                          : "this CMS content type is not supported");
    } else if (!open_signed(arena, &in, r, err)) {
      goto out;
    }
  } else if (r->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_ENVELOPED ||
             r->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_AUTH_ENVELOPED) {
    if (!open_enveloped(arena, &in, r, err)) {
      goto out;
    }
  }
  ok = 1;

out:
  layer_input_cleanup(&in);
  return ok ? r : NULL;
}

int engine_op_open_layer(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                         Smime__Ipc__EngineResponse *resp, STATUS *err) {
  const Smime__Ipc__EngineOpenLayerRequest *q = req->open_layer;
  Smime__Ipc__EngineOpenLayerResponse *r = incoming_open_entity(arena, &q->entity, q->top, err);
  if (r == NULL) {
    return 0;
  }
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_OPEN_LAYER;
  resp->open_layer = r;
  return 1;
}
