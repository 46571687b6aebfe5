/* engine_incoming_verify.c: verify_layer (see engine_incoming.h). */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "service/cms/cms_decrypt.h"
#include "service/cms/cms_verify.h"
#include "service/engine/chain_memo.h"
#include "service/engine/engine_incoming.h"
#include "service/engine/engine_limits.h"
#include "service/mime/mime_address.h"
#include "service/mime/mime_build.h"
#include "service/mime/mime_parse.h"
#include "service/mime/mime_smime.h"
#include "service/x509/cert_info.h"
#include "service/x509/cert_info_memo.h"
#include "smime/v1/message.pb-c.h"

/* FUTURE_SKEW_SECONDS is how far a signing time may lie ahead of our clock (the
 * sender's clock may be off) before the signature is refused as dated in the future. */
#define FUTURE_SKEW_SECONDS (15 * 60)

/* DATE_SKEW_SECONDS is how far the signing time may be from the message's Date header:
 * a mail client signs when it sends, and sets Date then too. Further apart, the
 * signature was made for another message or the signer's clock lies (Thunderbird
 * shows such signatures as bad: corpus alice.future.dsig). */
#define DATE_SKEW_SECONDS (60 * 60)

/* MIN_RSA_BITS is the smallest RSA signing key not reported as weak (RFC 8551). */
#define MIN_RSA_BITS 2048

/* v1_digest maps a CMS_MD_* to smime.v1.DigestAlgorithm. */
static uint32_t v1_digest(int md) {
  switch (md) {
    case CMS_MD_MD5:
      return SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_MD5;
    case CMS_MD_SHA1:
      return SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_SHA1;
    case CMS_MD_SHA224:
      return SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_SHA224;
    case CMS_MD_SHA256:
      return SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_SHA256;
    case CMS_MD_SHA384:
      return SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_SHA384;
    case CMS_MD_SHA512:
      return SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_SHA512;
    default:
      return SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_UNSPECIFIED;
  }
}

static int md_is_weak(int md) { return md == CMS_MD_MD5 || md == CMS_MD_SHA1; }

/* format_time writes |t| as "2026-11-29 07:34:43 UTC". */
static void format_time(int64_t t, char *out, size_t out_len) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (gmtime_r(&tt, &tm) == NULL || strftime(out, out_len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
    snprintf(out, out_len, "%lld", (long long)t);
  }
}

/* facts_new converts |ci| into a CertificateInfo in |arena| (the fields the API's Certificate shows), or NULL when out of memory. */
static Smime__Ipc__CertificateInfo *facts_new(ARENA *arena, const CERT_INFO *ci) {
  Smime__Ipc__CertificateInfo *f = arena_alloc(arena, sizeof(*f));
  if (f == NULL) {
    return NULL;
  }
  smime__ipc__certificate_info__init(f);
  f->subject = arena_strdup(arena, ci->subject);
  f->issuer = arena_strdup(arena, ci->issuer);
  f->serial_hex = arena_strdup(arena, ci->serial_hex);
  f->status_reason = arena_strdup(arena, ci->status_reason);
  f->emails = arena_alloc(arena, (ci->num_emails + 1) * sizeof(char *));
  if (f->subject == NULL || f->issuer == NULL || f->serial_hex == NULL ||
      f->status_reason == NULL || f->emails == NULL ||
      !incoming_copy_bytes(arena, &f->der, ci->der, ci->der_len) ||
      !incoming_copy_bytes(arena, &f->sha256, ci->sha256, sizeof(ci->sha256)) ||
      !incoming_copy_bytes(arena, &f->sha1, ci->sha1, sizeof(ci->sha1))) {
    return NULL;
  }
  for (size_t i = 0; i < ci->num_emails; i++) {
    f->emails[i] = arena_strdup(arena, ci->emails[i]);
    if (f->emails[i] == NULL) {
      return NULL;
    }
  }
  f->n_emails = ci->num_emails;
  f->not_before = ci->not_before;
  f->not_after = ci->not_after;
  f->key_algorithm = (uint32_t)ci->key_algorithm;
  f->key_bits = ci->key_bits;
  f->can_sign = ci->can_sign != 0;
  f->can_encrypt = ci->can_encrypt != 0;
  f->is_ca = ci->is_ca != 0;
  f->status = (uint32_t)ci->status;
  return f;
}

/* TRUST is what chains are built from for one signed layer: the anchors (every stored
 * certificate the front sent, also as a list) and the certificates the message
 * carried, parsed only when a check is not answered by the chain memo (built), and
 * their hash and validity bounds for the memo. */
typedef struct trust_st {
  const Smime__Ipc__EngineVerifyLayerRequest *q; /* store_certificates: the anchors */
  const CMS_VERIFY_RESULT *res;                  /* certs: the carried ones */
  CHAIN_INPUTS memo;
  int built;
  X509_STORE *anchors;
  STACK_OF(X509) *anchor_list;
  STACK_OF(X509) *carried;
} TRUST;

static void trust_cleanup(TRUST *t) {
  X509_STORE_free(t->anchors);
  sk_X509_pop_free(t->anchor_list, X509_free);
  sk_X509_pop_free(t->carried, X509_free);
  chain_inputs_cleanup(&t->memo);
  memset(t, 0, sizeof(*t));
}

/* x509_from_der parses one DER certificate, or returns NULL. */
static X509 *x509_from_der(const uint8_t *der, size_t len) {
  const uint8_t *p = der;
  X509 *x = d2i_X509(NULL, &p, (long)len);
  if (x != NULL && p != der + len) {
    X509_free(x);
    x = NULL;
  }
  return x;
}

/* trust_init starts |t| for the anchors of |q| and the certificates |res| carried. */
static void trust_init(TRUST *t, const Smime__Ipc__EngineVerifyLayerRequest *q,
                       const CMS_VERIFY_RESULT *res) {
  memset(t, 0, sizeof(*t));
  t->q = q;
  t->res = res;
  chain_inputs_init(&t->memo, engine_limits()->max_chain_length);
  for (size_t i = 0; i < q->n_store_certificates; i++) {
    chain_inputs_add(&t->memo, CHAIN_ROLE_ANCHOR, q->store_certificates[i].data,
                     q->store_certificates[i].len);
  }
  for (size_t i = 0; i < res->num_certs; i++) {
    chain_inputs_add(&t->memo, CHAIN_ROLE_CARRIED, res->certs[i].data, res->certs[i].len);
  }
}

/* trust_build parses |t|'s certificates, once. Certificates that do not parse are
 * skipped: they cannot be in a chain. Returns 0 when memory ran out. */
static int trust_build(TRUST *t) {
  if (t->built) {
    return 1;
  }
  t->anchors = X509_STORE_new();
  t->anchor_list = sk_X509_new_null();
  t->carried = sk_X509_new_null();
  if (t->anchors == NULL || t->anchor_list == NULL || t->carried == NULL) {
    return 0;
  }
  for (size_t i = 0; i < t->q->n_store_certificates; i++) {
    X509 *x = x509_from_der(t->q->store_certificates[i].data, t->q->store_certificates[i].len);
    if (x != NULL) {
      /* A duplicate is refused by some versions: harmless. */
      X509_STORE_add_cert(t->anchors, x);
      if (!sk_X509_push(t->anchor_list, x)) {
        X509_free(x);
        return 0;
      }
    }
  }
  for (size_t i = 0; i < t->res->num_certs; i++) {
    X509 *x = x509_from_der(t->res->certs[i].data, t->res->certs[i].len);
    if (x != NULL && !sk_X509_push(t->carried, x)) {
      X509_free(x);
      return 0;
    }
  }
  ERR_clear_error();
  t->built = 1;
  return 1;
}

/* has_issuer_in says whether |list| holds an issuer of |x| other than |x| itself (by
 * name and key identifier; signatures are not checked). */
static int has_issuer_in(STACK_OF(X509) *list, X509 *x) {
  for (size_t i = 0; i < sk_X509_num(list); i++) {
    X509 *c = sk_X509_value(list, i);
    if (X509_cmp(c, x) != 0 && X509_check_issued(c, x) == X509_V_OK) {
      return 1;
    }
  }
  return 0;
}

/* CHAIN_TOO_LONG is chain_check's answer when the chain would be longer than
 * --max-chain-length; not an X509_V_* code. */
#define CHAIN_TOO_LONG (-1L)

/* LEAF is a signer's certificate for chain_check: its DER, its X509 (parsed when first
 * needed: the memo usually answers without it) and its part of the memo's key. */
typedef struct leaf_st {
  const CMS_BYTES *der;
  X509 *x509;
  CHAIN_LEAF memo;
} LEAF;

/* chain_check verifies the certificate |leaf| at time |when| against |t|,
 * allowing a chain to end at any anchor (X509_V_FLAG_PARTIAL_CHAIN: an imported
 * end-entity certificate is trusted by itself), with at most --max-chain-length
 * certificates, the leaf and the anchor included. Returns the X509_V_* result
 * (X509_V_OK when trusted), or CHAIN_TOO_LONG, and, if |out_top| is not NULL and the
 * answer is not X509_V_OK, a new reference to the topmost certificate of the chain
 * built (whose issuer is missing). A trusted answer is remembered (chain_memo.h). */
static long chain_check(TRUST *t, LEAF *leaf, int64_t when, X509 **out_top) {
  X509_STORE_CTX *ctx = NULL;
  long e = X509_V_ERR_OUT_OF_MEM;
  unsigned max_chain = engine_limits()->max_chain_length;
  if (out_top != NULL) {
    *out_top = NULL;
  }
  if (chain_memo_trusted(&t->memo, &leaf->memo, when)) {
    return X509_V_OK;
  }
  if (leaf->x509 == NULL) {
    leaf->x509 = x509_from_der(leaf->der->data, leaf->der->len);
  }
  if (leaf->x509 == NULL || !trust_build(t) || (ctx = X509_STORE_CTX_new()) == NULL ||
      !X509_STORE_CTX_init(ctx, t->anchors, leaf->x509, t->carried)) {
    goto out;
  }
  X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
  X509_STORE_CTX_set_time(ctx, 0, (time_t)when);
  /* chain_check sets BoringSSL's depth, the number of certificates above the leaf
   * (measured: depth d builds chains of at most d + 1 certificates). */
  X509_STORE_CTX_set_depth(ctx, (int)max_chain - 1);
  if (X509_verify_cert(ctx) == 1) {
    e = X509_V_OK;
    chain_memo_remember(&t->memo, &leaf->memo, when);
  } else {
    e = X509_STORE_CTX_get_error(ctx);
    if (e == X509_V_OK) {
      e = X509_V_ERR_UNSPECIFIED;
    }
    /* BoringSSL stops building at the depth and then reports the top's issuer as
     * missing (not X509_V_ERR_CERT_CHAIN_TOO_LONG): a chain built to the limit whose
     * top has an issuer at hand was cut by the limit. */
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    size_t n = chain != NULL ? sk_X509_num(chain) : 0;
    if (e == X509_V_ERR_CERT_CHAIN_TOO_LONG ||
        ((e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
          e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) &&
         n >= max_chain &&
         (has_issuer_in(t->carried, sk_X509_value(chain, n - 1)) ||
          has_issuer_in(t->anchor_list, sk_X509_value(chain, n - 1))))) {
      e = CHAIN_TOO_LONG;
    }
  }
  if (out_top != NULL && e != X509_V_OK) {
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    X509 *top = chain != NULL && sk_X509_num(chain) > 0
                    ? sk_X509_value(chain, sk_X509_num(chain) - 1)
                    : leaf->x509;
    X509_up_ref(top);
    *out_top = top;
  }

out:
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  return e;
}

static int is_date_error(long e) {
  return e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID ||
         e == X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD ||
         e == X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD;
}

/* note appends a sentence to a comment. */
static void note(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char *buf, size_t size, const char *fmt, ...) {
  size_t used = strlen(buf);
  va_list ap;
  if (used > 0 && used + 2 < size) {
    memcpy(buf + used, "; ", 3);
    used += 2;
  }
  va_start(ap, fmt);
  vsnprintf(buf + used, size - used, fmt, ap);
  va_end(ap);
}

/* sender_matches says whether a From/Sender address is one of the signer's. */
static int sender_matches(const CERT_INFO *ci, const Smime__Ipc__EngineVerifyLayerRequest *q) {
  for (size_t i = 0; i < q->n_senders; i++) {
    for (size_t j = 0; j < ci->num_emails; j++) {
      if (strcasecmp(q->senders[i], ci->emails[j]) == 0) {
        return 1;
      }
    }
  }
  return 0;
}

/* set_missing records what to import for an untrusted signer: the issuer of |top| (the
 * last certificate of the chain we could build), and the signer's own certificate. */
static int set_missing(ARENA *arena, Smime__Ipc__SignerVerdict *v, const CERT_INFO *leaf,
                       X509 *top) {
  uint8_t *der = NULL;
  int len = top != NULL ? i2d_X509(top, &der) : -1;
  int ok = 1;
  if (len > 0) {
    STATUS ignored;
    CERT_INFO *ti = cert_info_new(der, (size_t)len, &ignored);
    if (ti != NULL) {
      ok = incoming_copy_bytes(arena, &v->missing_issuer_subject, ti->issuer_der,
                               ti->issuer_der_len) &&
           incoming_copy_bytes(arena, &v->missing_issuer_key_id, ti->authority_key_id,
                               ti->authority_key_id_len);
      cert_info_free(ti);
    }
  }
  OPENSSL_free(der);
  if (ok && leaf != NULL) {
    v->missing_signer = identifier_new(arena, leaf->issuer_der, leaf->issuer_der_len,
                                       leaf->serial_der, leaf->serial_der_len, NULL, 0);
    ok = v->missing_signer != NULL;
  }
  return ok;
}

/* signer_verdict decides the status of one SignerInfo whose cryptographic result is
 * |s|. Order of precedence (the comment names every problem found): malformed, invalid
 * (including a signing time in the future), weak algorithm, untrusted, expired (not
 * valid at signing time, or now when the signature has no signing time), signer not
 * sender, valid. A certificate valid when the message was signed but expired since
 * keeps the signature valid, with a note: the signing time is the signer's claim, but
 * rejecting every old mail would be worse (Thunderbird does the same). */
static Smime__Ipc__SignerVerdict *signer_verdict(ARENA *arena, TRUST *trust,
                                                 const CMS_SIGNER_RESULT *s,
                                                 const Smime__Ipc__EngineVerifyLayerRequest *q,
                                                 STATUS *err) {
  Smime__Ipc__SignerVerdict *v = arena_alloc(arena, sizeof(*v));
  CERT_INFO *ci = NULL;
  LEAF leaf = {.der = &s->cert, .x509 = NULL};
  X509 *top = NULL;
  char comment[1536], when[64];
  int ok = 0;
  comment[0] = '\0';
  if (v == NULL) {
    incoming_oom(err);
    return NULL;
  }
  smime__ipc__signer_verdict__init(v);
  v->digest = v1_digest(s->md);
  v->scheme = (uint32_t)s->sig_scheme;
  v->has_signing_time = s->has_signing_time != 0;
  v->signing_time = s->signing_time;
  if (s->cert.len > 0) {
    STATUS ignored;
    ci = cert_info_memo_new(s->cert.data, s->cert.len, &ignored);
    if (ci != NULL && (v->certificate = facts_new(arena, ci)) == NULL) {
      incoming_oom(err);
      goto out;
    }
  }

  switch (s->status) {
    case CMS_SIGNER_VALID:
      break;
    case CMS_SIGNER_INVALID:
      v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_INVALID;
      note(comment, sizeof(comment), "the signature does not match the content: %s",
           s->reason);
      goto done;
    case CMS_SIGNER_NO_CERT:
      v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_UNTRUSTED;
      note(comment, sizeof(comment),
           "the signer's certificate is neither in the message nor in the store");
      v->missing_signer = identifier_new(arena, s->sid_issuer.data, s->sid_issuer.len,
                                         s->sid_serial.data, s->sid_serial.len,
                                         s->sid_ski.data, s->sid_ski.len);
      if (v->missing_signer == NULL) {
        incoming_oom(err);
        goto out;
      }
      goto done;
    case CMS_SIGNER_UNSUPPORTED:
      v->status = md_is_weak(s->md) || md_is_weak(s->sig_md)
                      ? SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_WEAK_ALGORITHM
                      : SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_MALFORMED;
      note(comment, sizeof(comment), "%s", s->reason);
      goto done;
    default:
      v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_MALFORMED;
      note(comment, sizeof(comment), "%s", s->reason);
      goto done;
  }
  if (ci == NULL) {
    v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_MALFORMED;
    note(comment, sizeof(comment), "the signer's certificate cannot be read");
    goto done;
  }

  if (s->has_signing_time && s->signing_time > q->now + FUTURE_SKEW_SECONDS) {
    format_time(s->signing_time, when, sizeof(when));
    v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_INVALID;
    note(comment, sizeof(comment), "the signing time (%s) is in the future", when);
    goto done;
  }
  if (s->has_signing_time && q->has_message_date &&
      (s->signing_time > q->message_date + DATE_SKEW_SECONDS ||
       s->signing_time < q->message_date - DATE_SKEW_SECONDS)) {
    char date[64];
    format_time(s->signing_time, when, sizeof(when));
    format_time(q->message_date, date, sizeof(date));
    v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_INVALID;
    note(comment, sizeof(comment),
         "the signing time (%s) is more than an hour away from the message's Date (%s)",
         when, date);
    goto done;
  }
  int weak = 0, untrusted = 0, expired = 0, not_sender = 0;
  if (md_is_weak(s->md) || md_is_weak(s->sig_md)) {
    weak = 1;
    note(comment, sizeof(comment), "signed with %s, which is no longer secure (RFC 8551)",
         cms_md_name(md_is_weak(s->md) ? s->md : s->sig_md));
  }
  if (ci->key_algorithm == CERT_KEY_RSA && ci->key_bits < MIN_RSA_BITS) {
    weak = 1;
    note(comment, sizeof(comment), "the signer's RSA key has only %u bits", ci->key_bits);
  }
  int64_t at = s->has_signing_time ? s->signing_time : q->now;
  chain_leaf_init(&leaf.memo, &trust->memo, s->cert.data, s->cert.len);
  long e = chain_check(trust, &leaf, at, &top);
  if (e == X509_V_OK) {
    if (s->has_signing_time && is_date_error(chain_check(trust, &leaf, q->now, NULL))) {
      format_time(ci->not_after, when, sizeof(when));
      note(comment, sizeof(comment),
           "the certificate was valid when the message was signed but has expired since (%s)",
           when);
    }
  } else if (e == CHAIN_TOO_LONG) {
    untrusted = 1;
    note(comment, sizeof(comment),
         "the certificate chain from the signer to a certificate imported by an admin is "
         "longer than %u certificates (--max-chain-length)",
         engine_limits()->max_chain_length);
  } else if (is_date_error(e)) {
    expired = 1;
    format_time(at, when, sizeof(when));
    note(comment, sizeof(comment), "a certificate of the chain was not valid %s (%s): %s",
         s->has_signing_time ? "at signing time" : "now", when,
         X509_verify_cert_error_string(e));
  } else {
    untrusted = 1;
    note(comment, sizeof(comment),
         "no chain to a certificate imported by an admin (%s)", X509_verify_cert_error_string(e));
    if (!set_missing(arena, v, ci, top)) {
      incoming_oom(err);
      goto out;
    }
  }
  if (!sender_matches(ci, q)) {
    not_sender = 1;
    if (q->n_senders == 0) {
      note(comment, sizeof(comment), "the message has no From address to check the signer against");
    } else {
      note(comment, sizeof(comment), "From/Sender %s is not an address of the signer (%s)",
           q->senders[0], ci->num_emails > 0 ? ci->emails[0] : "no address");
    }
  }
  if (weak) {
    v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_WEAK_ALGORITHM;
  } else if (untrusted) {
    v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_UNTRUSTED;
  } else if (expired) {
    v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_EXPIRED;
  } else if (not_sender) {
    v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_SIGNER_NOT_SENDER;
  } else {
    v->status = SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_VALID;
    char good[1024];
    snprintf(good, sizeof(good), "good signature by %s", ci->subject);
    if (comment[0] != '\0') {
      note(good, sizeof(good), "%s", comment);
    }
    snprintf(comment, sizeof(comment), "%s", good);
  }

done:
  v->comment = arena_strdup(arena, comment);
  if (v->comment == NULL) {
    incoming_oom(err);
    goto out;
  }
  ok = 1;

out:
  X509_free(top);
  X509_free(leaf.x509);
  cert_info_free(ci);
  return ok ? v : NULL;
}

/* set_inner sets the response's inner entity to |len| bytes at |p|. */
static int set_inner(ARENA *arena, Smime__Ipc__EngineVerifyLayerResponse *r, const uint8_t *p,
                     size_t len) {
  r->has_inner = 1;
  return incoming_copy_bytes(arena, &r->inner, p, len);
}

/* count_valid counts the signers of |res| whose signature verifies. */
static size_t count_valid(const CMS_VERIFY_RESULT *res) {
  size_t n = 0;
  for (size_t i = 0; i < res->num_signers; i++) {
    n += res->signers[i].status == CMS_SIGNER_VALID;
  }
  return n;
}

int engine_op_verify_layer(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                           Smime__Ipc__EngineResponse *resp, STATUS *err) {
  const Smime__Ipc__EngineVerifyLayerRequest *q = req->verify_layer;
  Smime__Ipc__EngineVerifyLayerResponse *r = arena_alloc(arena, sizeof(*r));
  CMS_BUF *store = NULL;
  CMS_VERIFY_RESULT *res = NULL, *res2 = NULL;
  TRUST trust;
  LAYER_INPUT in;
  STATUS why;
  const uint8_t *der;
  size_t der_len;
  int ok = 0;
  memset(&in, 0, sizeof(in));
  memset(&trust, 0, sizeof(trust));
  if (r == NULL) {
    return incoming_oom(err);
  }
  smime__ipc__engine_verify_layer_response__init(r);
  if (!layer_input_open(&q->entity, &in, err)) {
    goto out;
  }
  if (layer_kind_of(&in) != SMIME__IPC__LAYER_KIND__LAYER_KIND_SIGNED) {
    status_set(err, STATUS_INVALID_ARGUMENT, "verify_layer: the entity is not a signed layer");
    goto out;
  }
  const MIME_ENTITY *root = mime_tree_root(in.tree);
  r->detached = in.kind == MIME_SMIME_SIGNED;
  if (in.malformed || (in.p7 != NULL && in.p7->type != MIME_CMS_SIGNED_DATA)) {
    /* A broken multipart/signed still shows its first part. */
    r->malformed_reason = arena_strdup(arena, in.malformed ? in.why.message
                                                           : "not a CMS SignedData");
    if (r->malformed_reason == NULL ||
        (r->detached && root->num_children > 0 &&
         !set_inner(arena, r, root->children[0].whole.ptr, root->children[0].whole.len))) {
      incoming_oom(err);
      goto out;
    }
    goto done;
  }
  store = calloc(q->n_store_certificates + 1, sizeof(*store));
  if (store == NULL) {
    incoming_oom(err);
    goto out;
  }
  for (size_t i = 0; i < q->n_store_certificates; i++) {
    store[i].data = q->store_certificates[i].data;
    store[i].len = q->store_certificates[i].len;
  }
  signed_der(&in, &der, &der_len);
  /* Detached: verify over the CRLF form first, then over the bytes as received
   * (mime_smime.h says why); keep whichever verifies more signers. */
  if (!cms_verify(der, der_len, in.sig != NULL ? in.sig->canonical : NULL,
                  in.sig != NULL ? in.sig->canonical_len : 0, store, q->n_store_certificates,
                  &res, &why)) {
    if (why.code == STATUS_RESOURCE_EXHAUSTED && strstr(why.message, "memory") != NULL) {
      *err = why;
      goto out;
    }
    r->malformed_reason = arena_strdup(arena, why.message);
    if (r->malformed_reason == NULL ||
        (r->detached && !set_inner(arena, r, in.sig->content_bytes, in.sig->content_len))) {
      incoming_oom(err);
      goto out;
    }
    goto done;
  }
  if (in.sig != NULL && in.sig->canonical_differs && count_valid(res) < res->num_signers &&
      cms_verify(der, der_len, in.sig->content_bytes, in.sig->content_len, store,
                 q->n_store_certificates, &res2, &why) &&
      count_valid(res2) > count_valid(res)) {
    cms_verify_result_free(res);
    res = res2;
    res2 = NULL;
  }
  if (in.sig != NULL) {
    if (!set_inner(arena, r, in.sig->content_bytes, in.sig->content_len)) {
      incoming_oom(err);
      goto out;
    }
  } else if (res->has_content && !set_inner(arena, r, res->content.data, res->content.len)) {
    incoming_oom(err);
    goto out;
  }
  r->signers = arena_alloc(arena, (res->num_signers + 1) * sizeof(*r->signers));
  if (r->signers == NULL) {
    incoming_oom(err);
    goto out;
  }
  trust_init(&trust, q, res);
  for (size_t i = 0; i < res->num_signers; i++) {
    r->signers[i] = signer_verdict(arena, &trust, &res->signers[i], q, err);
    if (r->signers[i] == NULL) {
      goto out;
    }
    r->n_signers++;
  }
  if (res->num_signers == 0) {
    r->malformed_reason = arena_strdup(arena, "the SignedData has no signer");
    if (r->malformed_reason == NULL) {
      incoming_oom(err);
      goto out;
    }
  }

done:
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_VERIFY_LAYER;
  resp->verify_layer = r;
  ok = 1;

out:
  cms_verify_result_free(res);
  cms_verify_result_free(res2);
  trust_cleanup(&trust);
  free(store);
  layer_input_cleanup(&in);
  /* The inner entity is opened once the layer's own parse is freed (peak memory). */
  if (ok && r->has_inner) {
    incoming_answer_inner(arena, q->open_inner, &q->assemble_message, &r->inner,
                          &r->inner_opened, &r->inner_assembled);
  }
  return ok;
}
