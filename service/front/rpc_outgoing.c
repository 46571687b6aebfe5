/* rpc_outgoing.c: MessageService.GetSecurityOptions and SignEncrypt (outgoing mail).
 *
 * SignEncrypt: the front parses nothing (DESIGN.md section 2). An engine reads the
 * message's addresses (analyze_message); the front chooses the certificates
 * (outgoing_store.h) and names every address that has none usable; then an engine
 * prepares the signature (sign_prepare; or the analyzing engine already did, for the
 * signer the front guessed: sign_hint.h), the keystore signs the digest with the
 * wrapped key (sign), and an engine assembles the signed and, if asked, encrypted
 * message (sign_finish), or only encrypts it (encrypt). Every call, failed or not,
 * writes one audit entry (direction outgoing) before it answers; nothing else is
 * written, so there is nothing to leave half done. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/cms/cms_types.h"
#include "service/common/log.h"
#include "service/db/certificate_store.h"
#include "service/db/log_store.h"
#include "service/db/outgoing_store.h"
#include "service/db/settings_store.h"
#include "service/front/app.h"
#include "service/front/audit.h"
#include "service/front/worker_calls.h"
#include "smime/v1/message.pb-c.h"

/* MAX_RECIPIENTS bounds one message's encryption recipients whatever --max-recipients
 * says (cms_envelope's cap). */
#define MAX_RECIPIENTS APP_MAX_RECIPIENTS

/* MAX_ADDRESS_LEN bounds an address given in a request (RFC 5321: 254 in practice). */
#define MAX_ADDRESS_LEN 320

static int oom(STATUS *err) { return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory"); }

/* SE_OPTIONS is SignEncryptOptions in the workers' numbers (cms_types.h). */
typedef struct se_options_st {
  int md;
  int scheme; /* a SignatureScheme asked for, or 0 */
  int opaque;
  int cipher;
  int key_method;
  int allow_expired;
  const char *signer_fingerprint;
} SE_OPTIONS;

/* map_options checks |o| (NULL: defaults) and converts it. */
static int map_options(const Smime__V1__SignEncryptOptions *o, SE_OPTIONS *out, STATUS *err) {
  memset(out, 0, sizeof(*out));
  out->md = CMS_MD_SHA256;
  out->cipher = CMS_CIPHER_AES256_CBC;
  out->key_method = CMS_KEY_RSA_PKCS1;
  if (o == NULL) {
    return 1;
  }
  switch (o->digest) {
    case SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_UNSPECIFIED:
    case SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_SHA256:
      out->md = CMS_MD_SHA256;
      break;
    case SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_SHA384:
      out->md = CMS_MD_SHA384;
      break;
    case SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_SHA512:
      out->md = CMS_MD_SHA512;
      break;
    default:
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "options.digest: only SHA-256, SHA-384 and SHA-512 are used for "
                        "signing");
  }
  switch (o->signature_scheme) {
    case SMIME__V1__SIGNATURE_SCHEME__SIGNATURE_SCHEME_UNSPECIFIED:
    case SMIME__V1__SIGNATURE_SCHEME__SIGNATURE_SCHEME_RSA_PKCS1:
    case SMIME__V1__SIGNATURE_SCHEME__SIGNATURE_SCHEME_RSA_PSS:
    case SMIME__V1__SIGNATURE_SCHEME__SIGNATURE_SCHEME_ECDSA:
    case SMIME__V1__SIGNATURE_SCHEME__SIGNATURE_SCHEME_ED25519:
      out->scheme = (int)o->signature_scheme;
      break;
    default:
      return status_set(err, STATUS_INVALID_ARGUMENT, "options.signature_scheme %d is unknown",
                        (int)o->signature_scheme);
  }
  switch (o->signature_format) {
    case SMIME__V1__SIGNATURE_FORMAT__SIGNATURE_FORMAT_UNSPECIFIED:
    case SMIME__V1__SIGNATURE_FORMAT__SIGNATURE_FORMAT_DETACHED:
      out->opaque = 0;
      break;
    case SMIME__V1__SIGNATURE_FORMAT__SIGNATURE_FORMAT_OPAQUE:
      out->opaque = 1;
      break;
    default:
      return status_set(err, STATUS_INVALID_ARGUMENT, "options.signature_format %d is unknown",
                        (int)o->signature_format);
  }
  switch (o->cipher) {
    case SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_UNSPECIFIED:
    case SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES256_CBC:
      out->cipher = CMS_CIPHER_AES256_CBC;
      break;
    case SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES128_CBC:
      out->cipher = CMS_CIPHER_AES128_CBC;
      break;
    case SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES192_CBC:
      out->cipher = CMS_CIPHER_AES192_CBC;
      break;
    case SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES128_GCM:
      out->cipher = CMS_CIPHER_AES128_GCM;
      break;
    case SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES256_GCM:
      out->cipher = CMS_CIPHER_AES256_GCM;
      break;
    default:
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "options.cipher: only AES-128/192/256-CBC and AES-128/256-GCM are used "
                        "for encryption");
  }
  switch (o->key_transport) {
    case SMIME__V1__KEY_TRANSPORT__KEY_TRANSPORT_UNSPECIFIED:
    case SMIME__V1__KEY_TRANSPORT__KEY_TRANSPORT_RSA_PKCS1:
    case SMIME__V1__KEY_TRANSPORT__KEY_TRANSPORT_ECDH:
      /* map_options: ECDH is what EC recipients always get; RSA ones keep the
       * default. */
      out->key_method = CMS_KEY_RSA_PKCS1;
      break;
    case SMIME__V1__KEY_TRANSPORT__KEY_TRANSPORT_RSA_OAEP:
      out->key_method = CMS_KEY_RSA_OAEP;
      break;
    default:
      return status_set(err, STATUS_INVALID_ARGUMENT, "options.key_transport %d is unknown",
                        (int)o->key_transport);
  }
  out->allow_expired = o->allow_expired;
  if (o->signer_sha256_fingerprint != NULL && o->signer_sha256_fingerprint[0] != '\0') {
    out->signer_fingerprint = o->signer_sha256_fingerprint;
  }
  return 1;
}

/* check_scheme refuses a signature scheme that the signer's key cannot make. */
static int check_scheme(const SE_OPTIONS *o, const Smime__V1__Certificate *c, STATUS *err) {
  int rsa = c->key_algorithm == SMIME__V1__KEY_ALGORITHM__KEY_ALGORITHM_RSA;
  int ec = c->key_algorithm == SMIME__V1__KEY_ALGORITHM__KEY_ALGORITHM_EC_P256 ||
           c->key_algorithm == SMIME__V1__KEY_ALGORITHM__KEY_ALGORITHM_EC_P384;
  int ed = c->key_algorithm == SMIME__V1__KEY_ALGORITHM__KEY_ALGORITHM_ED25519;
  int fits;
  switch (o->scheme) {
    case SMIME__V1__SIGNATURE_SCHEME__SIGNATURE_SCHEME_RSA_PKCS1:
    case SMIME__V1__SIGNATURE_SCHEME__SIGNATURE_SCHEME_RSA_PSS:
      fits = rsa;
      break;
    case SMIME__V1__SIGNATURE_SCHEME__SIGNATURE_SCHEME_ECDSA:
      fits = ec;
      break;
    case SMIME__V1__SIGNATURE_SCHEME__SIGNATURE_SCHEME_ED25519:
      fits = ed;
      break;
    default:
      fits = 1;
      break;
  }
  if (!fits) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "options.signature_scheme does not fit the signing certificate %s "
                      "(its key is %s)",
                      c->sha256_fingerprint, rsa ? "RSA" : ec ? "EC" : ed ? "Ed25519" : "other");
  }
  return 1;
}

/* lower_copy returns a malloc'd ASCII-lowercased copy of the address |s| with
 * surrounding blanks and angle brackets removed (no parsing: request addresses are
 * plain addr-specs). */
static char *lower_copy(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '<') {
    s++;
  }
  size_t len = strlen(s);
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '>')) {
    len--;
  }
  char *out = strndup(s, len);
  if (out == NULL) {
    return NULL;
  }
  for (char *p = out; *p != '\0'; p++) {
    if (*p >= 'A' && *p <= 'Z') {
      *p = (char)(*p - 'A' + 'a');
    }
  }
  return out;
}

/* ADDRESSES is a list of distinct owned address strings, at most |limit|. */
typedef struct addresses_st {
  char *addr[MAX_RECIPIENTS + 1];
  size_t n;
  size_t limit; /* <= MAX_RECIPIENTS + 1 */
} ADDRESSES;

static void addresses_free(ADDRESSES *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->addr[i]);
  }
  l->n = 0;
}

/* addresses_add appends |addr| (lowercased copy) unless it is there; checks that it
 * looks like an address, naming |field| otherwise. */
static int addresses_add(ADDRESSES *l, const char *addr, const char *field, STATUS *err) {
  char *a = lower_copy(addr != NULL ? addr : "");
  if (a == NULL) {
    return oom(err);
  }
  const char *at = strrchr(a, '@');
  if (at == NULL || at == a || at[1] == '\0' || strlen(a) > MAX_ADDRESS_LEN ||
      strpbrk(a, " \t\r\n,;<>\"") != NULL) {
    status_set(err, STATUS_INVALID_ARGUMENT, "%s: \"%.200s\" is not a mail address", field,
               addr != NULL ? addr : "");
    free(a);
    return 0;
  }
  for (size_t i = 0; i < l->n; i++) {
    if (strcmp(l->addr[i], a) == 0) {
      free(a);
      return 1;
    }
  }
  if (l->n >= l->limit || l->n >= MAX_RECIPIENTS + 1) {
    free(a);
    return status_set(err, STATUS_RESOURCE_EXHAUSTED,
                      "more than %zu addresses (recipients and sender); this service takes at "
                      "most %zu recipients (--max-recipients)",
                      l->limit, l->limit - 1);
  }
  l->addr[l->n++] = a;
  return 1;
}

/* problems_add appends |reason| to the list of unusable addresses in |buf|. */
static void problems_add(char *buf, size_t size, const char *reason) {
  size_t used = strlen(buf);
  snprintf(buf + used, size - used, "%s%s", used > 0 ? "; " : "", reason);
}

/* take_bytes moves |from|'s bytes to |to| (so a large message is not copied). */
static void take_bytes(ProtobufCBinaryData *to, ProtobufCBinaryData *from) {
  *to = *from;
  from->data = NULL;
  from->len = 0;
}

/* prepare_request fills |sp|, but its message, for the signer |chain|[0] (the store's
 * export: leaf first) with the issuers after it. */
static void prepare_request(Smime__Ipc__EngineSignPrepareRequest *sp,
                            ProtobufCBinaryData *chain, size_t n_chain, const SE_OPTIONS *opt,
                            time_t now) {
  sp->signer_der = chain[0];
  sp->chain_der = n_chain > 1 ? chain + 1 : NULL;
  sp->n_chain_der = n_chain > 1 ? n_chain - 1 : 0;
  sp->md = (uint32_t)opt->md;
  sp->rsa_pss = opt->scheme == SMIME__V1__SIGNATURE_SCHEME__SIGNATURE_SCHEME_RSA_PSS;
  sp->opaque = opt->opaque;
  sp->signing_time = (int64_t)now;
}

/* GUESS is the signer guessed before the message is analyzed (sign_hint.h), and the
 * sign_prepare request for it that goes along with analyze_message. */
typedef struct guess_st {
  int made;
  char from[SIGN_HINT_MAX_ADDRESS + 1];
  uint8_t sha256[CERT_SHA256_LEN];
  ProtobufCBinaryData *chain; /* the guessed certificate first, then its issuers */
  size_t n_chain;
  Smime__Ipc__EngineSignPrepareRequest prepare;
} GUESS;

/* guess_signer fills |g| when the call signs with the store's choice (no signer named)
 * and there is a last signer whose certificate is still stored: |g|->made says whether.
 * Nothing here fails the call: without a guess the call goes as it always did. */
static void guess_signer(APP *app, const Smime__V1__SignEncryptRequest *req,
                         const SE_OPTIONS *opt, time_t now, GUESS *g) {
  STATUS ignored;
  memset(g, 0, sizeof(*g));
  smime__ipc__engine_sign_prepare_request__init(&g->prepare);
  status_clear(&ignored);
  if (!req->sign || opt->signer_fingerprint != NULL ||
      !sign_hint_guess(&app->sign_hint, g->from, sizeof(g->from), g->sha256) ||
      !certificate_store_export(app->db, g->sha256, 1, &g->chain, &g->n_chain, &ignored) ||
      g->n_chain == 0) {
    return;
  }
  prepare_request(&g->prepare, g->chain, g->n_chain, opt, now);
  g->made = 1;
}

int rpc_sign_encrypt(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *msg,
                     ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  Smime__V1__SignEncryptRequest *req = (Smime__V1__SignEncryptRequest *)msg;
  Smime__V1__SignEncryptResponse *resp = NULL;
  Smime__Ipc__EngineResponse *analyzed = NULL, *prepared = NULL, *finished = NULL;
  Smime__Ipc__KeystoreResponse *signed_ = NULL;
  OUTGOING_CHOICE signer;
  OUTGOING_CHOICE *rcpt = NULL;
  ADDRESSES rcpt_addrs;
  ProtobufCBinaryData *chain = NULL, wrapped = {0, NULL};
  ProtobufCBinaryData *rcpt_der = NULL;
  size_t n_chain = 0, n_rcpt_der = 0;
  char *from = NULL;
  char problems[2048];
  SE_OPTIONS opt;
  GUESS guess;
  AUDIT audit;
  time_t now = time(NULL);
  int ok = 0;

  *out_resp = NULL;
  memset(&guess, 0, sizeof(guess));
  memset(&signer, 0, sizeof(signer));
  memset(&rcpt_addrs, 0, sizeof(rcpt_addrs));
  rcpt_addrs.limit = (size_t)app->max_recipients + 1;
  problems[0] = '\0';
  audit_init(&audit, info, SMIME__V1__DIRECTION__DIRECTION_OUTGOING);
  if (req->sign) {
    audit_add_operation(&audit, SMIME__V1__OPERATION__OPERATION_SIGN);
  }
  if (req->encrypt) {
    audit_add_operation(&audit, SMIME__V1__OPERATION__OPERATION_ENCRYPT);
  }

  if (!req->sign && !req->encrypt) {
    status_set(err, STATUS_INVALID_ARGUMENT, "nothing to do: set sign, encrypt or both");
    goto out;
  }
  if (req->message.len == 0) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "message is empty: give the complete RFC 5322 message");
    goto out;
  }
  if (!map_options(req->options, &opt, err)) {
    goto out;
  }

  /* Addresses and Message-ID, read by an engine; with the signature prepared for the
   * guessed signer when the sender is its address. */
  guess_signer(app, req, &opt, now, &guess);
  {
    Smime__Ipc__EngineAnalyzeMessageRequest a = SMIME__IPC__ENGINE_ANALYZE_MESSAGE_REQUEST__INIT;
    Smime__Ipc__EngineRequest er = SMIME__IPC__ENGINE_REQUEST__INIT;
    a.message = req->message;
    if (guess.made) {
      a.sign_prepare = &guess.prepare;
      a.prepare_if_from = guess.from;
    }
    er.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_ANALYZE_MESSAGE;
    er.analyze_message = &a;
    if (!engine_call(app, info, &er, SMIME__IPC__ENGINE_RESPONSE__BODY_ANALYZE_MESSAGE,
                     &analyzed, err)) {
      goto out;
    }
  }
  Smime__Ipc__EngineAnalyzeMessageResponse *an = analyzed->analyze_message;
  audit.entry.message_id = an->message_id;
  from = lower_copy(an->from);
  if (from == NULL) {
    oom(err);
    goto out;
  }
  audit_add_address(&audit, from);

  /* Recipients: the request's, or To and Cc; and the sender, so that the sent copy
   * stays readable. */
  if (req->encrypt) {
    if (req->n_recipients > 0) {
      for (size_t i = 0; i < req->n_recipients; i++) {
        if (!addresses_add(&rcpt_addrs, req->recipients[i], "recipients", err)) {
          goto out;
        }
      }
    } else {
      if (an->n_invalid_recipients > 0) {
        status_set(err, STATUS_INVALID_ARGUMENT,
                   "To/Cc entry \"%.200s\" is not a mail address: the message cannot be "
                   "encrypted for it",
                   an->invalid_recipients[0]);
        goto out;
      }
      for (size_t i = 0; i < an->n_recipients; i++) {
        if (!addresses_add(&rcpt_addrs, an->recipients[i], "To/Cc", err)) {
          goto out;
        }
      }
    }
    if (!addresses_add(&rcpt_addrs, from, "From", err)) {
      goto out;
    }
    for (size_t i = 0; i < rcpt_addrs.n; i++) {
      audit_add_address(&audit, rcpt_addrs.addr[i]);
    }
  } else {
    for (size_t i = 0; i < an->n_recipients; i++) {
      audit_add_address(&audit, an->recipients[i]);
    }
  }

  /* Certificates: every address that has none usable is named, all at once. */
  if (req->sign) {
    int chosen;
    if (opt.signer_fingerprint != NULL) {
      uint8_t sha256[CERT_SHA256_LEN];
      if (!certificate_fingerprint_parse(opt.signer_fingerprint,
                                         "options.signer_sha256_fingerprint", sha256, err)) {
        goto out;
      }
      chosen = outgoing_store_choose_signer(app->db, sha256, from, opt.allow_expired, now,
                                            &signer, err);
    } else {
      chosen = outgoing_store_choose(app->db, from, OUTGOING_PURPOSE_SIGN, opt.allow_expired,
                                     now, &signer, err);
    }
    if (!chosen) {
      goto out;
    }
    if (signer.cert == NULL) {
      problems_add(problems, sizeof(problems), signer.reason);
    } else if (!check_scheme(&opt, signer.cert, err)) {
      goto out;
    } else if (opt.signer_fingerprint == NULL) {
      sign_hint_remember(&app->sign_hint, from, signer.sha256);
    }
  }
  if (req->encrypt) {
    rcpt = calloc(rcpt_addrs.n, sizeof(*rcpt));
    rcpt_der = calloc(rcpt_addrs.n, sizeof(*rcpt_der));
    if (rcpt == NULL || rcpt_der == NULL) {
      oom(err);
      goto out;
    }
    int purposes[MAX_RECIPIENTS + 1];
    for (size_t i = 0; i < rcpt_addrs.n; i++) {
      purposes[i] = OUTGOING_PURPOSE_ENCRYPT;
    }
    if (!outgoing_store_choose_all(app->db, (const char *const *)rcpt_addrs.addr, purposes,
                                   rcpt_addrs.n, opt.allow_expired, now, rcpt, err)) {
      goto out;
    }
    for (size_t i = 0; i < rcpt_addrs.n; i++) {
      if (rcpt[i].cert == NULL) {
        problems_add(problems, sizeof(problems), rcpt[i].reason);
        continue;
      }
      /* One RecipientInfo per certificate, even when two addresses share one. */
      int seen = 0;
      for (size_t j = 0; j < i; j++) {
        seen |= rcpt[j].cert != NULL && memcmp(rcpt[j].sha256, rcpt[i].sha256, CERT_SHA256_LEN) == 0;
      }
      if (!seen) {
        rcpt_der[n_rcpt_der++] = rcpt[i].der;
      }
    }
  }
  if (signer.cert != NULL) {
    audit_add_certificate(&audit, signer.cert);
  }
  for (size_t i = 0; rcpt != NULL && i < rcpt_addrs.n; i++) {
    if (rcpt[i].cert != NULL) {
      audit_add_certificate(&audit, rcpt[i].cert);
    }
  }
  if (problems[0] != '\0') {
    /* The status holds what fits in it; the audit comment (by audit_failure) the same,
     * and the entry's addresses name every address concerned. */
    status_set(err, STATUS_FAILED_PRECONDITION, "%s", problems);
    goto out;
  }
  if (signer.expired_used) {
    audit_comment(&audit, "signer certificate expired (allow_expired); ");
  }
  for (size_t i = 0; rcpt != NULL && i < rcpt_addrs.n; i++) {
    if (rcpt[i].expired_used) {
      audit_comment(&audit, "certificate of %s expired (allow_expired); ", rcpt_addrs.addr[i]);
    }
  }

  Smime__Ipc__EngineEncryptParams params = SMIME__IPC__ENGINE_ENCRYPT_PARAMS__INIT;
  params.recipient_der = rcpt_der;
  params.n_recipient_der = n_rcpt_der;
  params.cipher = (uint32_t)opt.cipher;
  params.key_method = (uint32_t)opt.key_method;
  ProtobufCBinaryData *result = NULL;

  if (req->sign) {
    Smime__Ipc__EngineSignPrepareResponse *p = NULL;
    Smime__Ipc__EngineRequest er = SMIME__IPC__ENGINE_REQUEST__INIT;
    if (!outgoing_store_wrapped_key(app->db, signer.sha256, &wrapped, err)) {
      goto out;
    }
    if (guess.made && an->prepared != NULL &&
        memcmp(guess.sha256, signer.sha256, CERT_SHA256_LEN) == 0) {
      /* The guess was right: the engine prepared the signature while it analyzed the
       * message, for this certificate, chain, options and time. */
      p = an->prepared;
    } else {
      Smime__Ipc__EngineSignPrepareRequest sp = SMIME__IPC__ENGINE_SIGN_PREPARE_REQUEST__INIT;
      if (!certificate_store_export(app->db, signer.sha256, 1, &chain, &n_chain, err)) {
        goto out;
      }
      if (n_chain == 0) {
        status_set(err, STATUS_INTERNAL, "the signing certificate is no longer stored");
        goto out;
      }
      prepare_request(&sp, chain, n_chain, &opt, now);
      sp.message = req->message;
      er.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_SIGN_PREPARE;
      er.sign_prepare = &sp;
      if (!engine_call(app, info, &er, SMIME__IPC__ENGINE_RESPONSE__BODY_SIGN_PREPARE,
                       &prepared, err)) {
        goto out;
      }
      p = prepared->sign_prepare;
    }

    Smime__Ipc__KeystoreSignRequest ks = SMIME__IPC__KEYSTORE_SIGN_REQUEST__INIT;
    Smime__Ipc__KeystoreRequest kr = SMIME__IPC__KEYSTORE_REQUEST__INIT;
    ks.wrapped_key = wrapped;
    ks.certificate_sha256.data = signer.sha256;
    ks.certificate_sha256.len = CERT_SHA256_LEN;
    ks.scheme = p->scheme;
    ks.md = p->md;
    if (p->scheme == CMS_SIG_ED25519) {
      ks.tbs = p->tbs;
    } else {
      ks.digest = p->digest;
    }
    kr.body_case = SMIME__IPC__KEYSTORE_REQUEST__BODY_SIGN;
    kr.sign = &ks;
    if (!keystore_call(app, info, &kr, SMIME__IPC__KEYSTORE_RESPONSE__BODY_SIGN, &signed_, err)) {
      goto out;
    }

    Smime__Ipc__EngineSignFinishRequest sf = SMIME__IPC__ENGINE_SIGN_FINISH_REQUEST__INIT;
    sf.message = req->message;
    sf.state = p->state;
    sf.signature = signed_->sign->signature;
    sf.md = p->md;
    sf.opaque = opt.opaque;
    sf.encrypt = req->encrypt ? &params : NULL;
    smime__ipc__engine_request__init(&er);
    er.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_SIGN_FINISH;
    er.sign_finish = &sf;
    /* The message goes to an engine for the last time: dropped once it is written. */
    if (!engine_call_dropping(app, info, &er, &req->message,
                              SMIME__IPC__ENGINE_RESPONSE__BODY_SIGN_FINISH, &finished, err)) {
      goto out;
    }
    result = &finished->sign_finish->message;
    audit_comment(&audit, "signed (%s, %s, %s)", cms_sig_name((int)p->scheme),
                  cms_md_name((int)p->md), opt.opaque ? "opaque" : "detached");
  } else {
    Smime__Ipc__EngineEncryptRequest en = SMIME__IPC__ENGINE_ENCRYPT_REQUEST__INIT;
    Smime__Ipc__EngineRequest er = SMIME__IPC__ENGINE_REQUEST__INIT;
    en.message = req->message;
    en.params = &params;
    er.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_ENCRYPT;
    er.encrypt = &en;
    if (!engine_call_dropping(app, info, &er, &req->message,
                              SMIME__IPC__ENGINE_RESPONSE__BODY_ENCRYPT, &finished, err)) {
      goto out;
    }
    result = &finished->encrypt->message;
  }
  if (req->encrypt) {
    audit_comment(&audit, "%sencrypted for %zu certificate(s) (%s)", req->sign ? "; " : "",
                  n_rcpt_der, cms_cipher_name(opt.cipher));
  }

  resp = malloc(sizeof(*resp));
  if (resp == NULL) {
    oom(err);
    goto out;
  }
  smime__v1__sign_encrypt_response__init(resp);
  if (req->encrypt) {
    resp->recipients = calloc(rcpt_addrs.n, sizeof(*resp->recipients));
    if (resp->recipients == NULL) {
      oom(err);
      goto out;
    }
  }
  /* The entry is committed before the answer leaves: a protected message without
   * its log entry is never handed out. */
  if (!audit_write(app, NULL, &audit, 1, &resp->log_entry_id, err)) {
    goto out;
  }
  take_bytes(&resp->message, result);
  if (req->sign) {
    resp->signer = signer.cert;
    signer.cert = NULL;
  }
  for (size_t i = 0; req->encrypt && i < rcpt_addrs.n; i++) {
    int seen = 0;
    for (size_t j = 0; j < resp->n_recipients; j++) {
      seen |= strcmp(resp->recipients[j]->sha256_fingerprint,
                     rcpt[i].cert->sha256_fingerprint) == 0;
    }
    if (!seen) {
      resp->recipients[resp->n_recipients++] = rcpt[i].cert;
      rcpt[i].cert = NULL;
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
    smime__v1__sign_encrypt_response__free_unpacked(resp, NULL);
  }
  if (analyzed != NULL) {
    smime__ipc__engine_response__free_unpacked(analyzed, NULL);
  }
  if (prepared != NULL) {
    smime__ipc__engine_response__free_unpacked(prepared, NULL);
  }
  if (finished != NULL) {
    smime__ipc__engine_response__free_unpacked(finished, NULL);
  }
  if (signed_ != NULL) {
    smime__ipc__keystore_response__free_unpacked(signed_, NULL);
  }
  for (size_t i = 0; rcpt != NULL && i < rcpt_addrs.n; i++) {
    outgoing_choice_cleanup(&rcpt[i]);
  }
  free(rcpt);
  free(rcpt_der);
  outgoing_choice_cleanup(&signer);
  certificate_ders_free(chain, n_chain);
  certificate_ders_free(guess.chain, guess.n_chain);
  free(wrapped.data);
  addresses_free(&rcpt_addrs);
  free(from);
  return ok;
}

/* option_add appends |address|'s verdict to |opt|, taking |c|'s certificate. */
static int option_add(Smime__V1__SecurityOption *opt, const char *address, OUTGOING_CHOICE *c,
                      STATUS *err) {
  Smime__V1__AddressOption *a = malloc(sizeof(*a));
  if (a == NULL) {
    return oom(err);
  }
  smime__v1__address_option__init(a);
  opt->addresses[opt->n_addresses++] = a;
  a->address = strdup(address);
  a->reason = strdup(c->cert != NULL ? "" : c->reason);
  if (a->address == NULL || a->reason == NULL) {
    return oom(err);
  }
  a->usable = c->cert != NULL;
  a->certificate = c->cert;
  c->cert = NULL;
  return 1;
}

/* group_defaults looks up |group|'s defaults in the settings. */
static int group_defaults(APP *app, const char *group, int *out_sign, int *out_encrypt,
                          STATUS *err) {
  Smime__V1__Settings *s = NULL;
  *out_sign = 0;
  *out_encrypt = 0;
  if (group == NULL || group[0] == '\0') {
    return 1;
  }
  if (!settings_store_get(app->db, &s, err)) {
    return 0;
  }
  for (size_t i = 0; i < s->n_group_defaults; i++) {
    if (strcmp(s->group_defaults[i]->group, group) == 0) {
      *out_sign = s->group_defaults[i]->default_sign;
      *out_encrypt = s->group_defaults[i]->default_encrypt;
    }
  }
  smime__v1__settings__free_unpacked(s, NULL);
  return 1;
}

static Smime__V1__SecurityOption *option_new(size_t n) {
  Smime__V1__SecurityOption *o = malloc(sizeof(*o));
  if (o == NULL) {
    return NULL;
  }
  smime__v1__security_option__init(o);
  o->addresses = calloc(n > 0 ? n : 1, sizeof(*o->addresses));
  if (o->addresses == NULL) {
    free(o);
    return NULL;
  }
  return o;
}

int rpc_get_security_options(void *app_ptr, const CALL_INFO *info, ProtobufCMessage *msg,
                             ProtobufCMessage **out_resp, STATUS *err) {
  APP *app = app_ptr;
  const Smime__V1__GetSecurityOptionsRequest *req =
      (const Smime__V1__GetSecurityOptionsRequest *)msg;
  Smime__V1__GetSecurityOptionsResponse *resp = NULL;
  ADDRESSES addrs;
  OUTGOING_CHOICE *choices = NULL;
  size_t n_choices = 0;
  char *from = NULL;
  int def_sign = 0, def_encrypt = 0, ok = 0;
  time_t now = time(NULL);
  (void)info;
  *out_resp = NULL;
  memset(&addrs, 0, sizeof(addrs));
  addrs.limit = (size_t)app->max_recipients + 1;

  if (req->from == NULL || req->from[0] == '\0') {
    return status_set(err, STATUS_INVALID_ARGUMENT, "from is empty: give the sender address");
  }
  if (!addresses_add(&addrs, req->from, "from", err)) {
    goto out;
  }
  from = strdup(addrs.addr[0]);
  if (from == NULL) {
    oom(err);
    goto out;
  }
  addresses_free(&addrs);
  for (size_t i = 0; i < req->n_recipients; i++) {
    if (!addresses_add(&addrs, req->recipients[i], "recipients", err)) {
      goto out;
    }
  }
  /* The sender is an encryption recipient too, as in SignEncrypt. */
  if (!addresses_add(&addrs, from, "from", err) ||
      !group_defaults(app, req->group, &def_sign, &def_encrypt, err)) {
    goto out;
  }
  resp = malloc(sizeof(*resp));
  if (resp == NULL) {
    oom(err);
    goto out;
  }
  smime__v1__get_security_options_response__init(resp);
  resp->sign = option_new(1);
  resp->encrypt = option_new(addrs.n);
  if (resp->sign == NULL || resp->encrypt == NULL) {
    oom(err);
    goto out;
  }
  /* One query for the sender (signing) and every encryption address. */
  const char *ask[MAX_RECIPIENTS + 2];
  int purposes[MAX_RECIPIENTS + 2];
  ask[0] = from;
  purposes[0] = OUTGOING_PURPOSE_SIGN;
  for (size_t i = 0; i < addrs.n; i++) {
    ask[1 + i] = addrs.addr[i];
    purposes[1 + i] = OUTGOING_PURPOSE_ENCRYPT;
  }
  choices = calloc(addrs.n + 1, sizeof(*choices));
  if (choices == NULL) {
    oom(err);
    goto out;
  }
  n_choices = addrs.n + 1;
  if (!outgoing_store_choose_all(app->db, ask, purposes, n_choices, 0, now, choices, err) ||
      !option_add(resp->sign, from, &choices[0], err)) {
    goto out;
  }
  resp->sign->possible = resp->sign->addresses[0]->usable;
  resp->sign->default_on = resp->sign->possible && def_sign;
  resp->encrypt->possible = 1;
  for (size_t i = 0; i < addrs.n; i++) {
    if (!option_add(resp->encrypt, addrs.addr[i], &choices[1 + i], err)) {
      goto out;
    }
    resp->encrypt->possible &= resp->encrypt->addresses[i]->usable;
  }
  resp->encrypt->default_on = resp->encrypt->possible && def_encrypt;
  *out_resp = &resp->base;
  resp = NULL;
  ok = 1;

out:
  for (size_t i = 0; i < n_choices; i++) {
    outgoing_choice_cleanup(&choices[i]);
  }
  free(choices);
  if (resp != NULL) {
    smime__v1__get_security_options_response__free_unpacked(resp, NULL);
  }
  addresses_free(&addrs);
  free(from);
  return ok;
}
