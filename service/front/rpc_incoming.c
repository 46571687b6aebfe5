/* rpc_incoming.c: MessageService.DecryptVerify and LogService.ListRetryable (incoming mail).
 *
 * DecryptVerify walks the message one layer at a time, outermost first, at most
 * --max-layers deep. The front parses nothing: an engine says what each layer is
 * (open_layer), the front looks up what the engine asks for (stored certificates for
 * a signature, wrapped private keys for the recipients), the engine verifies
 * (verify_layer) or the keystore recovers the content key and the engine decrypts
 * (unwrap_cek, decrypt_layer); the innermost entity then replaces the message's
 * content (assemble_opened). verify_layer and decrypt_layer answer open_layer for the
 * entity they produce too (open_inner), so a layer below the top costs no open_layer
 * round trip of its own, and, given a message of at most ASSEMBLE_INLINE_MAX bytes,
 * assemble_opened when that entity is the innermost; when an answer is missing the
 * walk asks open_layer or assemble_opened.
 *
 * Several signers of one SignedData give one Layer each (same kind and format), in
 * SignerInfo order, so each verdict stands on its own.
 *
 * One audit entry per call (written with its retry hints and committed before the
 * answer): direction INCOMING, operations verify and/or decrypt, SUCCESS only when
 * every layer is valid or decrypted. What a failed layer was missing (a recipient's
 * key, a signer's certificate or issuer) goes to log_retry_hints for ListRetryable;
 * a later call that opens the same Message-ID without missing anything marks those
 * hints resolved. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/common/log.h"
#include "service/db/certificate_store.h"
#include "service/db/incoming_store.h"
#include "service/db/log_store.h"
#include "service/front/app.h"
#include "service/front/audit.h"
#include "service/front/worker_calls.h"
#include "smime/v1/log.pb-c.h"
#include "smime/v1/message.pb-c.h"


/* MAX_LISTED bounds the fingerprints and addresses named in one audit entry. */
#define MAX_LISTED 64

/* MAX_HINTS bounds the retry hints one call records. */
#define MAX_HINTS 32

/* ASSEMBLE_INLINE_MAX bounds the messages sent along with verify_layer and
 * decrypt_layer to be assembled there: above it the bytes sent again cost more than
 * the round trip saved, and two copies of the message would near FRAME_MAX_BODY. */
#define ASSEMBLE_INLINE_MAX (1u << 20)

static int oom(STATUS *err) { return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory"); }

/* HINT is one thing a failed layer was missing (incoming_store.h INCOMING_NEED_*). */
typedef struct hint_st {
  int need;
  ProtobufCBinaryData issuer_der, serial_der, subject_key_id; /* malloc'd */
} HINT;

/* WALK is the state of one DecryptVerify. */
typedef struct walk_st {
  APP *app;
  const CALL_INFO *info;
  time_t now;
  Smime__V1__DecryptVerifyResponse *resp;
  size_t cap_layers;
  /* The message's facts, from the first open_layer answer (owned by |top|). */
  Smime__Ipc__EngineResponse *top;
  /* The entity being opened and the response that holds it (NULL: the request), with
   * what that response answered about it: open_layer's answer (owned by the walk until
   * taken) and assemble_opened's (held by |cur_owner|), each NULL when missing. */
  ProtobufCBinaryData cur;
  Smime__Ipc__EngineResponse *cur_owner;
  Smime__Ipc__EngineOpenLayerResponse *cur_opened;
  const Smime__Ipc__EngineAssembleOpenedResponse *cur_assembled;
  /* open_inner: ask verify_layer and decrypt_layer to open the entity they produce
   * (the walk will open it: --max-layers is not reached); assemble: the message to
   * send along with them for assemble_opened, or empty. */
  int open_inner;
  ProtobufCBinaryData assemble;
  int verified, decrypted, failed;
  HINT hints[MAX_HINTS];
  size_t n_hints;
  char *fingerprints[MAX_LISTED]; /* malloc'd */
  size_t n_fingerprints;
  char comment[2048];
} WALK;

static void walk_cleanup(WALK *w) {
  for (size_t i = 0; i < w->n_hints; i++) {
    free(w->hints[i].issuer_der.data);
    free(w->hints[i].serial_der.data);
    free(w->hints[i].subject_key_id.data);
  }
  for (size_t i = 0; i < w->n_fingerprints; i++) {
    free(w->fingerprints[i]);
  }
  if (w->cur_opened != NULL) {
    smime__ipc__engine_open_layer_response__free_unpacked(w->cur_opened, NULL);
  }
  if (w->cur_owner != NULL) {
    smime__ipc__engine_response__free_unpacked(w->cur_owner, NULL);
  }
  if (w->top != NULL) {
    smime__ipc__engine_response__free_unpacked(w->top, NULL);
  }
  if (w->resp != NULL) {
    smime__v1__decrypt_verify_response__free_unpacked(w->resp, NULL);
  }
}

static void walk_note(WALK *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void walk_note(WALK *w, const char *fmt, ...) {
  size_t used = strlen(w->comment);
  va_list ap;
  if (used > 0 && used + 2 < sizeof(w->comment)) {
    memcpy(w->comment + used, "; ", 3);
    used += 2;
  }
  va_start(ap, fmt);
  vsnprintf(w->comment + used, sizeof(w->comment) - used, fmt, ap);
  va_end(ap);
}

/* walk_advance makes |inner| (held by |owner|, which the walk takes) the entity to
 * open next, with the engine's |*opened| (taken: set to NULL) and |assembled| for it. */
static void walk_advance(WALK *w, Smime__Ipc__EngineResponse *owner, ProtobufCBinaryData inner,
                         Smime__Ipc__EngineOpenLayerResponse **opened,
                         const Smime__Ipc__EngineAssembleOpenedResponse *assembled) {
  Smime__Ipc__EngineResponse *old = w->cur_owner;
  if (w->cur_opened != NULL) {
    smime__ipc__engine_open_layer_response__free_unpacked(w->cur_opened, NULL);
  }
  w->cur = inner;
  w->cur_owner = owner;
  w->cur_opened = *opened;
  *opened = NULL;
  w->cur_assembled = assembled;
  if (old != NULL) {
    smime__ipc__engine_response__free_unpacked(old, NULL);
  }
}

static int dup_bytes(ProtobufCBinaryData *out, const ProtobufCBinaryData *in) {
  out->len = 0;
  out->data = NULL;
  if (in == NULL || in->len == 0) {
    return 1;
  }
  out->data = malloc(in->len);
  if (out->data == NULL) {
    return 0;
  }
  memcpy(out->data, in->data, in->len);
  out->len = in->len;
  return 1;
}

/* walk_hint records a missing certificate or key (dropped silently past MAX_HINTS). */
static int walk_hint(WALK *w, int need, const ProtobufCBinaryData *issuer,
                     const ProtobufCBinaryData *serial, const ProtobufCBinaryData *ski) {
  if (w->n_hints == MAX_HINTS ||
      ((issuer == NULL || issuer->len == 0) && (ski == NULL || ski->len == 0))) {
    return 1;
  }
  HINT *h = &w->hints[w->n_hints];
  memset(h, 0, sizeof(*h));
  h->need = need;
  if (!dup_bytes(&h->issuer_der, issuer) || !dup_bytes(&h->serial_der, serial) ||
      !dup_bytes(&h->subject_key_id, ski)) {
    free(h->issuer_der.data);
    free(h->serial_der.data);
    free(h->subject_key_id.data);
    return 0;
  }
  w->n_hints++;
  return 1;
}

static void walk_fingerprint(WALK *w, const char *hex) {
  if (hex == NULL || hex[0] == '\0' || w->n_fingerprints == MAX_LISTED) {
    return;
  }
  for (size_t i = 0; i < w->n_fingerprints; i++) {
    if (strcmp(w->fingerprints[i], hex) == 0) {
      return;
    }
  }
  char *copy = strdup(hex);
  if (copy != NULL) {
    w->fingerprints[w->n_fingerprints++] = copy;
  }
}

/* layer_add appends a new Layer of |kind| to the response. */
static Smime__V1__Layer *layer_add(WALK *w, Smime__V1__Layer__Kind kind) {
  Smime__V1__DecryptVerifyResponse *r = w->resp;
  if (r->n_layers == w->cap_layers) {
    size_t cap = w->cap_layers == 0 ? 4 : w->cap_layers * 2;
    Smime__V1__Layer **nl = realloc(r->layers, cap * sizeof(*nl));
    if (nl == NULL) {
      return NULL;
    }
    r->layers = nl;
    w->cap_layers = cap;
  }
  Smime__V1__Layer *l = malloc(sizeof(*l));
  if (l == NULL) {
    return NULL;
  }
  smime__v1__layer__init(l);
  l->kind = kind;
  r->layers[r->n_layers++] = l;
  return l;
}

static Google__Protobuf__Timestamp *timestamp_new(int64_t seconds) {
  Google__Protobuf__Timestamp *t = malloc(sizeof(*t));
  if (t != NULL) {
    google__protobuf__timestamp__init(t);
    t->seconds = seconds;
  }
  return t;
}

static char *hex_of(const ProtobufCBinaryData *b) {
  static const char kHex[] = "0123456789abcdef";
  char *s = malloc(b->len * 2 + 1);
  if (s == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < b->len; i++) {
    s[2 * i] = kHex[b->data[i] >> 4];
    s[2 * i + 1] = kHex[b->data[i] & 15];
  }
  s[b->len * 2] = '\0';
  return s;
}

/* certificate_from_facts builds the API view of a certificate found in a message and
 * not stored (has_private_key false, no import time), status computed for |now|. */
static Smime__V1__Certificate *certificate_from_facts(const Smime__Ipc__CertificateInfo *f,
                                                      time_t now) {
  Smime__V1__Certificate *c = malloc(sizeof(*c));
  if (c == NULL) {
    return NULL;
  }
  smime__v1__certificate__init(c);
  c->sha256_fingerprint = hex_of(&f->sha256);
  c->sha1_fingerprint = hex_of(&f->sha1);
  c->subject = strdup(f->subject);
  c->issuer = strdup(f->issuer);
  c->serial = strdup(f->serial_hex);
  c->not_before = timestamp_new(f->not_before);
  c->not_after = timestamp_new(f->not_after);
  c->key_algorithm = (Smime__V1__KeyAlgorithm)f->key_algorithm;
  c->key_bits = f->key_bits;
  c->can_sign = f->can_sign;
  c->can_encrypt = f->can_encrypt;
  c->is_ca = f->is_ca;
  char reason[600];
  if (f->status == SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_NOT_FOR_SMIME) {
    c->status = SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_NOT_FOR_SMIME;
    snprintf(reason, sizeof(reason), "%s", f->status_reason);
  } else if ((int64_t)now >= f->not_after) {
    c->status = SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_EXPIRED;
    snprintf(reason, sizeof(reason), "expired");
  } else if ((int64_t)now < f->not_before) {
    c->status = SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_NOT_YET_VALID;
    snprintf(reason, sizeof(reason), "not yet valid");
  } else {
    c->status = SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_VALID;
    reason[0] = '\0';
  }
  c->status_reason = strdup(reason);
  c->email_addresses = calloc(f->n_emails + 1, sizeof(char *));
  int ok = c->sha256_fingerprint != NULL && c->sha1_fingerprint != NULL && c->subject != NULL &&
           c->issuer != NULL && c->serial != NULL && c->not_before != NULL &&
           c->not_after != NULL && c->status_reason != NULL && c->email_addresses != NULL;
  for (size_t i = 0; ok && i < f->n_emails; i++) {
    c->email_addresses[i] = strdup(f->emails[i]);
    ok = c->email_addresses[i] != NULL;
    c->n_email_addresses += ok;
  }
  if (!ok) {
    smime__v1__certificate__free_unpacked(c, NULL);
    return NULL;
  }
  return c;
}

/* signer_certificate returns the stored view of the signer's certificate when it is
 * stored, else the view built from the message. */
static int signer_certificate(WALK *w, const Smime__Ipc__CertificateInfo *f,
                              Smime__V1__Certificate **out, STATUS *err) {
  STATUS why;
  *out = NULL;
  if (f->sha256.len == CERT_SHA256_LEN &&
      certificate_store_get(w->app->db, f->sha256.data, w->now, out, &why)) {
    return 1;
  }
  if (f->sha256.len == CERT_SHA256_LEN && why.code != STATUS_NOT_FOUND) {
    *err = why;
    return 0;
  }
  *out = certificate_from_facts(f, w->now);
  return *out != NULL ? 1 : oom(err);
}

static int open_layer(WALK *w, const ProtobufCBinaryData *entity, int top,
                      Smime__Ipc__EngineResponse **out, STATUS *err) {
  Smime__Ipc__EngineOpenLayerRequest q = SMIME__IPC__ENGINE_OPEN_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  q.entity = *entity;
  q.top = top;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_OPEN_LAYER;
  req.open_layer = &q;
  return engine_call(w->app, w->info, &req, SMIME__IPC__ENGINE_RESPONSE__BODY_OPEN_LAYER, out,
                     err);
}

static const char *signature_status_name(uint32_t s) {
  static const char *const kNames[] = {"unspecified", "valid",   "invalid",
                                       "untrusted",   "signer not sender",
                                       "expired",     "weak algorithm", "malformed"};
  return s < sizeof(kNames) / sizeof(kNames[0]) ? kNames[s] : "unknown";
}

/* walk_signed handles a signed layer. Sets |*go_on| when there is an inner entity. */
static int walk_signed(WALK *w, const Smime__Ipc__EngineOpenLayerResponse *ol, int *go_on,
                       STATUS *err) {
  Smime__Ipc__EngineVerifyLayerRequest q = SMIME__IPC__ENGINE_VERIFY_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  Smime__Ipc__EngineResponse *resp = NULL;
  ProtobufCBinaryData *certs = NULL;
  size_t n_certs = 0;
  int ok = 0;
  *go_on = 0;
  w->verified = 1;
  if (!ol->malformed &&
      !incoming_store_trust_certs(w->app->db, ol->signer_ids, ol->n_signer_ids,
                                  ol->wanted_subjects, ol->n_wanted_subjects, &certs, &n_certs,
                                  err)) {
    goto out;
  }
  q.entity = w->cur;
  q.store_certificates = certs;
  q.n_store_certificates = n_certs;
  q.senders = w->top->open_layer->senders;
  q.n_senders = w->top->open_layer->n_senders;
  q.now = (int64_t)w->now;
  q.has_message_date = w->top->open_layer->has_date;
  q.message_date = w->top->open_layer->date;
  q.open_inner = w->open_inner;
  q.assemble_message = w->assemble;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_VERIFY_LAYER;
  req.verify_layer = &q;
  if (!engine_call(w->app, w->info, &req, SMIME__IPC__ENGINE_RESPONSE__BODY_VERIFY_LAYER, &resp,
                   err)) {
    goto out;
  }
  const Smime__Ipc__EngineVerifyLayerResponse *v = resp->verify_layer;
  if (v->n_signers == 0) {
    Smime__V1__Layer *l = layer_add(w, SMIME__V1__LAYER__KIND__KIND_SIGNED);
    if (l == NULL) {
      oom(err);
      goto out;
    }
    l->detached = v->detached;
    l->signature_status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_MALFORMED;
    l->comment = strdup(v->malformed_reason[0] != '\0' ? v->malformed_reason
                                                       : "the signature is malformed");
    if (l->comment == NULL) {
      oom(err);
      goto out;
    }
    w->failed = 1;
    walk_note(w, "signature malformed: %s", l->comment);
  }
  for (size_t i = 0; i < v->n_signers; i++) {
    const Smime__Ipc__SignerVerdict *s = v->signers[i];
    Smime__V1__Layer *l = layer_add(w, SMIME__V1__LAYER__KIND__KIND_SIGNED);
    if (l == NULL) {
      oom(err);
      goto out;
    }
    l->detached = v->detached;
    l->signature_status = (Smime__V1__SignatureStatus)s->status;
    l->digest = (Smime__V1__DigestAlgorithm)s->digest;
    l->signature_scheme = (Smime__V1__SignatureScheme)s->scheme;
    l->comment = strdup(s->comment);
    if (l->comment == NULL) {
      oom(err);
      goto out;
    }
    if (s->has_signing_time && (l->signing_time = timestamp_new(s->signing_time)) == NULL) {
      oom(err);
      goto out;
    }
    if (s->certificate != NULL) {
      if (!signer_certificate(w, s->certificate, &l->signer_certificate, err)) {
        goto out;
      }
      walk_fingerprint(w, l->signer_certificate->sha256_fingerprint);
    }
    if (s->status != SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_VALID) {
      w->failed = 1;
    }
    if (s->status == SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_UNTRUSTED) {
      const Smime__Ipc__CmsIdentifier *m = s->missing_signer;
      ProtobufCBinaryData none = {0, NULL};
      if ((m != NULL && !walk_hint(w, INCOMING_NEED_SIGNER, &m->issuer_der, &m->serial_der,
                                   &m->subject_key_id)) ||
          !walk_hint(w, INCOMING_NEED_ISSUER, &s->missing_issuer_subject, &none,
                     &s->missing_issuer_key_id)) {
        oom(err);
        goto out;
      }
    }
    walk_note(w, "signature %s: %s", signature_status_name(s->status), s->comment);
  }
  if (v->has_inner) {
    walk_advance(w, resp, v->inner, &resp->verify_layer->inner_opened, v->inner_assembled);
    resp = NULL;
    *go_on = 1;
  }
  ok = 1;

out:
  certificate_ders_free(certs, n_certs);
  if (resp != NULL) {
    smime__ipc__engine_response__free_unpacked(resp, NULL);
  }
  return ok;
}

/* try_key recovers the content key with one stored key and decrypts. Returns 1 with
 * |*out| (decrypted or not), or 0 with |err| for a failure that is not about this key
 * (a worker down, the database). */
static int try_key(WALK *w, const INCOMING_KEY_MATCH *m,
                   const Smime__Ipc__RecipientEntry *r, Smime__Ipc__EngineResponse **out,
                   STATUS *err) {
  Smime__Ipc__KeystoreUnwrapCekRequest kq = SMIME__IPC__KEYSTORE_UNWRAP_CEK_REQUEST__INIT;
  Smime__Ipc__KeystoreRequest kreq = SMIME__IPC__KEYSTORE_REQUEST__INIT;
  Smime__Ipc__KeystoreResponse *kresp = NULL;
  Smime__Ipc__EngineDecryptLayerRequest dq = SMIME__IPC__ENGINE_DECRYPT_LAYER_REQUEST__INIT;
  Smime__Ipc__EngineRequest dreq = SMIME__IPC__ENGINE_REQUEST__INIT;
  STATUS why;
  int ok = 0;
  *out = NULL;
  kq.wrapped_key = m->wrapped;
  kq.certificate_sha256.data = (uint8_t *)m->sha256;
  kq.certificate_sha256.len = CERT_SHA256_LEN;
  kq.unwrap = r->unwrap;
  kreq.body_case = SMIME__IPC__KEYSTORE_REQUEST__BODY_UNWRAP_CEK;
  kreq.unwrap_cek = &kq;
  if (!keystore_call(w->app, w->info, &kreq, SMIME__IPC__KEYSTORE_RESPONSE__BODY_UNWRAP_CEK,
                     &kresp, &why)) {
    /* This key does not open it (wrong key, bad padding, a key that does not unwrap):
     * one answer for all; anything else is the call's failure. */
    if (why.code == STATUS_DATA_LOSS || why.code == STATUS_FAILED_PRECONDITION ||
        why.code == STATUS_INVALID_ARGUMENT) {
      return 1;
    }
    *err = why;
    return 0;
  }
  dq.entity = w->cur;
  dq.recipient_index = r->index;
  dq.cek = kresp->unwrap_cek->cek;
  dq.open_inner = w->open_inner;
  dq.assemble_message = w->assemble;
  dreq.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_DECRYPT_LAYER;
  dreq.decrypt_layer = &dq;
  ok = engine_call(w->app, w->info, &dreq, SMIME__IPC__ENGINE_RESPONSE__BODY_DECRYPT_LAYER, out,
                   err);
  /* The content key is secret: wipe it before the response is freed. */
  memset(kresp->unwrap_cek->cek.data, 0, kresp->unwrap_cek->cek.len);
  smime__ipc__keystore_response__free_unpacked(kresp, NULL);
  return ok;
}

static const char *key_transport_name(uint32_t m) {
  switch (m) {
    case 1:
      return "RSA PKCS#1 v1.5";
    case 2:
      return "RSA-OAEP";
    case 3:
      return "ECDH";
    default:
      return "unknown key transport";
  }
}

/* walk_enveloped handles an enveloped layer. Sets |*go_on| once decrypted. */
static int walk_enveloped(WALK *w, const Smime__Ipc__EngineOpenLayerResponse *ol, int *go_on,
                          STATUS *err) {
  INCOMING_KEY_MATCH *keys = NULL;
  size_t n_keys = 0;
  int ok = 0;
  *go_on = 0;
  w->decrypted = 1;
  Smime__V1__Layer *l = layer_add(w, ol->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_AUTH_ENVELOPED
                                         ? SMIME__V1__LAYER__KIND__KIND_AUTH_ENVELOPED
                                         : SMIME__V1__LAYER__KIND__KIND_ENVELOPED);
  if (l == NULL) {
    return oom(err);
  }
  l->cipher = (Smime__V1__ContentCipher)ol->cipher;
  char comment[1024];
  if (ol->malformed) {
    l->decryption_status = SMIME__V1__DECRYPTION_STATUS__DECRYPTION_STATUS_MALFORMED;
    snprintf(comment, sizeof(comment), "the encrypted part is malformed: %s", ol->reason);
    goto done;
  }
  if (!incoming_store_recipient_keys(w->app->db, ol->recipients, ol->n_recipients, &keys,
                                     &n_keys, err)) {
    goto out;
  }
  if (n_keys == 0) {
    l->decryption_status = SMIME__V1__DECRYPTION_STATUS__DECRYPTION_STATUS_NO_PRIVATE_KEY;
    snprintf(comment, sizeof(comment),
             "no stored private key belongs to any of the %zu recipient(s) of this message",
             ol->n_recipients);
    for (size_t i = 0; i < ol->n_recipients; i++) {
      if (!ol->recipients[i]->supported) {
        size_t used = strlen(comment);
        snprintf(comment + used, sizeof(comment) - used, "; recipient %zu: %s", i + 1,
                 ol->recipients[i]->reason);
      }
    }
    for (size_t i = 0; i < ol->n_recipients; i++) {
      const Smime__Ipc__CmsIdentifier *rid = ol->recipients[i]->rid;
      if (rid != NULL &&
          !walk_hint(w, INCOMING_NEED_PRIVATE_KEY, &rid->issuer_der, &rid->serial_der,
                     &rid->subject_key_id)) {
        oom(err);
        goto out;
      }
    }
    goto done;
  }
  for (size_t k = 0; k < n_keys; k++) {
    const Smime__Ipc__RecipientEntry *r = NULL;
    Smime__Ipc__EngineResponse *d = NULL;
    for (size_t i = 0; i < ol->n_recipients; i++) {
      if (ol->recipients[i]->index == keys[k].recipient_index) {
        r = ol->recipients[i];
      }
    }
    if (r == NULL || r->unwrap == NULL) {
      continue;
    }
    if (!try_key(w, &keys[k], r, &d, err)) {
      goto out;
    }
    if (d != NULL && d->decrypt_layer->decrypted) {
      STATUS why;
      l->decryption_status = SMIME__V1__DECRYPTION_STATUS__DECRYPTION_STATUS_DECRYPTED;
      l->key_transport = (Smime__V1__KeyTransport)d->decrypt_layer->key_transport;
      if (!certificate_store_get(w->app->db, keys[k].sha256, w->now, &l->recipient_certificate,
                                 &why)) {
        log_warn("DecryptVerify: the recipient certificate vanished: %s", why.message);
      } else {
        walk_fingerprint(w, l->recipient_certificate->sha256_fingerprint);
      }
      snprintf(comment, sizeof(comment), "decrypted (%s, %s) with the key of %s",
               ol->cipher_name, key_transport_name(l->key_transport),
               l->recipient_certificate != NULL ? l->recipient_certificate->subject
                                                : "a stored certificate");
      walk_advance(w, d, d->decrypt_layer->inner, &d->decrypt_layer->inner_opened,
                   d->decrypt_layer->inner_assembled);
      *go_on = 1;
      goto done;
    }
    if (d != NULL) {
      smime__ipc__engine_response__free_unpacked(d, NULL);
    }
  }
  l->decryption_status = SMIME__V1__DECRYPTION_STATUS__DECRYPTION_STATUS_FAILED;
  snprintf(comment, sizeof(comment),
           "decryption failed with each of the %zu stored key(s) that match a recipient",
           n_keys);

done:
  if (l->decryption_status != SMIME__V1__DECRYPTION_STATUS__DECRYPTION_STATUS_DECRYPTED) {
    w->failed = 1;
  }
  walk_note(w, "%s", comment);
  l->comment = strdup(comment);
  ok = l->comment != NULL ? 1 : oom(err);

out:
  incoming_key_matches_free(keys, n_keys);
  return ok;
}

/* AUDIT_WRITE is what write_entry needs: the walk, its entry, and whether it failed. */
typedef struct audit_write_st {
  WALK *w;
  AUDIT *audit;
  int success;
  int resolve; /* a success without hints resolves earlier hints of its message_id */
} AUDIT_WRITE;

/* write_entry is the log writer's LOG_WRITE_FN for DecryptVerify: the entry and its
 * retry hints, inside the writer's transaction. */
static int write_entry(PGconn *conn, void *arg, int *out_id_statement, STATUS *err) {
  AUDIT_WRITE *aw = arg;
  int n = 0;
  if (aw->resolve) {
    if (!incoming_store_send_resolve(conn, aw->audit->entry.message_id, err)) {
      return 0;
    }
    n++;
  }
  /* The entry comes after the resolve, which concerns earlier entries only, and before
   * its hints, which name it. */
  *out_id_statement = n;
  if (!audit_send(conn, aw->audit, aw->success, err)) {
    return 0;
  }
  n++;
  for (size_t i = 0; i < aw->w->n_hints; i++) {
    const HINT *h = &aw->w->hints[i];
    if (!incoming_store_send_hint(conn, h->need, &h->issuer_der, &h->serial_der,
                                  &h->subject_key_id, err)) {
      return 0;
    }
    n++;
  }
  return n;
}

/* walk_audit writes the audit entry and the retry hints in one transaction (the log
 * writer's) and sets the response's log_entry_id. With |why| the call failed. */
static int walk_audit(WALK *w, const STATUS *why, STATUS *err) {
  AUDIT audit;
  const Smime__Ipc__EngineOpenLayerResponse *facts = w->top != NULL ? w->top->open_layer : NULL;
  int64_t id = 0;

  audit_init(&audit, w->info, SMIME__V1__DIRECTION__DIRECTION_INCOMING);
  if (w->verified || !w->decrypted) {
    audit_add_operation(&audit, SMIME__V1__OPERATION__OPERATION_VERIFY);
  }
  if (w->decrypted) {
    audit_add_operation(&audit, SMIME__V1__OPERATION__OPERATION_DECRYPT);
  }
  audit.entry.message_id = facts != NULL ? facts->message_id : (char *)"";
  for (size_t i = 0; facts != NULL && i < facts->n_senders; i++) {
    audit_add_address(&audit, facts->senders[i]);
  }
  for (size_t i = 0; i < w->n_fingerprints; i++) {
    audit_add_fingerprint(&audit, w->fingerprints[i]);
  }
  if (why != NULL) {
    walk_note(w, "failed: %s: %s", status_code_name(why->code), why->message);
  } else if (w->resp->n_layers == 0) {
    walk_note(w, "not an S/MIME message");
  }
  audit_comment(&audit, "%s", w->comment);

  AUDIT_WRITE aw = {.w = w, .audit = &audit, .success = why == NULL && !w->failed,
                    .resolve = why == NULL && w->n_hints == 0 &&
                               audit.entry.message_id[0] != '\0'};
  int ok = log_writer_run(w->app->log_writer, write_entry, &aw, &id, err);
  if (ok && w->resp != NULL) {
    w->resp->log_entry_id = id;
  }
  return ok;
}

/* walk_message opens every layer and builds the response's message. */
static int walk_message(WALK *w, const ProtobufCBinaryData *message, STATUS *err) {
  Smime__Ipc__EngineResponse *ol = NULL;
  Smime__Ipc__EngineOpenLayerResponse *opened = NULL;
  const ProtobufCBinaryData none = {0, NULL};
  int depth = 0;
  if (!open_layer(w, message, 1, &w->top, err)) {
    return 0;
  }
  w->cur = *message;
  for (depth = 0; depth < (int)w->app->max_layers; depth++) {
    int go_on = 0;
    const Smime__Ipc__EngineOpenLayerResponse *o;
    w->open_inner = depth + 1 < (int)w->app->max_layers;
    w->assemble = w->open_inner && message->len <= ASSEMBLE_INLINE_MAX ? *message : none;
    if (depth == 0) {
      o = w->top->open_layer;
    } else if (w->cur_opened != NULL) {
      o = opened = w->cur_opened;
      w->cur_opened = NULL;
    } else {
      if (!open_layer(w, &w->cur, 0, &ol, err)) {
        return 0;
      }
      o = ol->open_layer;
    }
    int ok = 1;
    if (o->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_SIGNED) {
      ok = walk_signed(w, o, &go_on, err);
    } else if (o->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_ENVELOPED ||
               o->kind == SMIME__IPC__LAYER_KIND__LAYER_KIND_AUTH_ENVELOPED) {
      ok = walk_enveloped(w, o, &go_on, err);
    }
    if (ol != NULL) {
      smime__ipc__engine_response__free_unpacked(ol, NULL);
      ol = NULL;
    }
    if (opened != NULL) {
      smime__ipc__engine_open_layer_response__free_unpacked(opened, NULL);
      opened = NULL;
    }
    if (!ok) {
      return 0;
    }
    if (!go_on) {
      break;
    }
  }
  if (depth == (int)w->app->max_layers) {
    walk_note(w, "stopped after %d nested layers (--max-layers)", depth);
  }

  if (w->resp->n_layers == 0) {
    w->resp->message.data = malloc(message->len > 0 ? message->len : 1);
    if (w->resp->message.data == NULL) {
      return oom(err);
    }
    memcpy(w->resp->message.data, message->data, message->len);
    w->resp->message.len = message->len;
    return 1;
  }
  const Smime__Ipc__EngineAssembleOpenedResponse *assembled = w->cur_assembled;
  Smime__Ipc__EngineResponse *a = NULL;
  if (assembled == NULL) {
    Smime__Ipc__EngineAssembleOpenedRequest aq = SMIME__IPC__ENGINE_ASSEMBLE_OPENED_REQUEST__INIT;
    Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
    aq.message = *message;
    aq.entity = w->cur;
    req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_ASSEMBLE_OPENED;
    req.assemble_opened = &aq;
    if (!engine_call(w->app, w->info, &req, SMIME__IPC__ENGINE_RESPONSE__BODY_ASSEMBLE_OPENED,
                     &a, err)) {
      return 0;
    }
    assembled = a->assemble_opened;
  }
  /* Take the bytes over from the worker's response. */
  const ProtobufCBinaryData *m = &assembled->message;
  w->resp->message.data = malloc(m->len > 0 ? m->len : 1);
  if (w->resp->message.data != NULL) {
    memcpy(w->resp->message.data, m->data, m->len);
    w->resp->message.len = m->len;
  }
  if (a != NULL) {
    smime__ipc__engine_response__free_unpacked(a, NULL);
  }
  return w->resp->message.data != NULL ? 1 : oom(err);
}

int rpc_decrypt_verify(void *app, const CALL_INFO *info, ProtobufCMessage *msg,
                       ProtobufCMessage **out_resp, STATUS *err) {
  const Smime__V1__DecryptVerifyRequest *req = (const Smime__V1__DecryptVerifyRequest *)msg;
  WALK w;
  int ok = 0;
  *out_resp = NULL;
  memset(&w, 0, sizeof(w));
  w.app = app;
  w.info = info;
  w.now = time(NULL);
  if (req->message.len == 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "message is empty: give the raw message as received");
  }
  w.resp = malloc(sizeof(*w.resp));
  if (w.resp == NULL) {
    return oom(err);
  }
  smime__v1__decrypt_verify_response__init(w.resp);
  if (!walk_message(&w, &req->message, err)) {
    STATUS ignored;
    if (!walk_audit(&w, err, &ignored)) {
      log_warn("could not write the audit entry of a failed DecryptVerify: %s",
               ignored.message);
    }
    goto out;
  }
  if (!walk_audit(&w, NULL, err)) {
    goto out;
  }
  *out_resp = &w.resp->base;
  w.resp = NULL;
  ok = 1;

out:
  walk_cleanup(&w);
  return ok;
}

int rpc_list_retryable(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *req,
                       ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  Smime__V1__ListRetryableResponse *resp = NULL;
  (void)info;
  *out_resp = NULL;
  if (!incoming_store_list_retryable(app->db, (const Smime__V1__ListRetryableRequest *)req,
                                     &resp, err)) {
    return 0;
  }
  *out_resp = &resp->base;
  return 1;
}
