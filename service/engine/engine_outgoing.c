/* engine_outgoing.c: engine operations of outgoing mail (SignEncrypt).
 *
 * The front has the message and resends it with each request (the engine is
 * stateless); each operation cuts it again into outer header fields and the content
 * entity (mime_split_new) and makes that entity canonical and 7-bit safe
 * (mime_build_signable), which is deterministic, so sign_finish rebuilds the very
 * bytes sign_prepare digested (cms_sign_finish checks them against the digest in the
 * signing state). Signing and encryption of one message happen in sign_finish
 * together, so the signed entity, as large as the message, never travels back to the
 * front only to be sent here again.
 *
 *   analyze_message  From (or Sender), To+Cc, Message-ID; malformed MIME refused; and
 *                    sign_prepare ahead, for the signer the front guessed (prepare_ahead)
 *   sign_prepare     cms_sign_prepare over the signable entity -> digest for the keystore
 *   sign_finish      cms_sign_finish -> multipart/signed or signed-data [-> enveloped]
 *   encrypt          cms_envelope over the entity -> enveloped or authEnveloped-data */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/mem.h>

#include "service/cms/cms_envelope.h"
#include "service/cms/cms_sign.h"
#include "service/cms/cms_types.h"
#include "service/engine/engine_limits.h"
#include "service/engine/engine_ops.h"
#include "service/ipc/frame.h"
#include "service/mime/mime_address.h"
#include "service/mime/mime_build.h"
#include "service/mime/mime_parse.h"

/* kResponseSlack is room left in a frame for the EngineResponse around a message. */
static const size_t kResponseSlack = 4096;

static int oom(STATUS *err) {
  return status_set(err, STATUS_RESOURCE_EXHAUSTED, "engine out of memory");
}

/* copy_bytes sets |out| to a copy of |len| bytes of |p| in |arena|. */
static int copy_bytes(ARENA *arena, ProtobufCBinaryData *out, const uint8_t *p, size_t len) {
  out->data = arena_memdup(arena, p, len);
  out->len = len;
  return out->data != NULL;
}

/* check_structure refuses MIME that cannot be protected faithfully: a multipart
 * without a boundary, or a multipart hidden under a transfer encoding (RFC 2045
 * forbids both; what the recipient would see is anybody's guess). */
static int check_structure(const MIME_ENTITY *e, STATUS *err) {
  char path[64];
  if ((e->flags & MIME_F_NO_BOUNDARY) != 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "malformed MIME: part %s is multipart/%s without a boundary parameter",
                      mime_entity_path(e, path, sizeof(path)), e->subtype);
  }
  if ((e->flags & MIME_F_ENCODED_MULTIPART) != 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "malformed MIME: part %s is %s/%s with transfer encoding %s, which "
                      "RFC 2045 forbids",
                      mime_entity_path(e, path, sizeof(path)), e->type, e->subtype,
                      e->cte_name);
  }
  for (size_t i = 0; i < e->num_children; i++) {
    if (!check_structure(&e->children[i], err)) {
      return 0;
    }
  }
  return 1;
}

/* pick_sender sets |*out| to the one sender address: From's, or Sender's when From
 * names several mailboxes (RFC 5322 section 3.6.2). */
static int pick_sender(const MIME_ENTITY *root, const char **out, MIME_ADDRESS_LIST *from,
                       MIME_ADDRESS_LIST *sender, STATUS *err) {
  *out = NULL;
  const char *raw = mime_entity_header(root, "From");
  if (raw == NULL) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "the message has no From address");
  }
  if (!mime_address_from_header(from, root, "From", err)) {
    return 0;
  }
  if (from->num == 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "the message has no From address (From: \"%.200s\" is not an address)",
                      raw);
  }
  if (from->num == 1) {
    *out = from->addrs[0].addr;
    return 1;
  }
  if (!mime_address_from_header(sender, root, "Sender", err)) {
    return 0;
  }
  if (sender->num != 1) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "From names %zu addresses and there is no Sender field with one "
                      "address to sign for",
                      from->num);
  }
  *out = sender->addrs[0].addr;
  return 1;
}

/* prepare_ahead runs sign_prepare on the analyzed message |r| for the signer the front
 * guessed, when |sender| is the address it guessed for, and sets |out|->prepared. The
 * message moves to the prepare request (make_signable frees it once split): analyze is
 * done with it. A failure here is not the call's: |out|->prepared stays unset and the
 * front prepares as usual, which reports it. */
static void prepare_ahead(ARENA *arena, Smime__Ipc__EngineAnalyzeMessageRequest *r,
                          const char *sender, Smime__Ipc__EngineAnalyzeMessageResponse *out) {
  if (r->sign_prepare == NULL || r->prepare_if_from == NULL ||
      strcasecmp(r->prepare_if_from, sender) != 0) {
    return;
  }
  Smime__Ipc__EngineRequest sub = SMIME__IPC__ENGINE_REQUEST__INIT;
  Smime__Ipc__EngineResponse sub_resp = SMIME__IPC__ENGINE_RESPONSE__INIT;
  STATUS ignored;
  status_clear(&ignored);
  free(r->sign_prepare->message.data);
  r->sign_prepare->message = r->message;
  r->message.data = NULL;
  r->message.len = 0;
  sub.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_SIGN_PREPARE;
  sub.sign_prepare = r->sign_prepare;
  if (engine_op_sign_prepare(arena, &sub, &sub_resp, &ignored)) {
    out->prepared = sub_resp.sign_prepare;
  }
}

int engine_op_analyze_message(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                              Smime__Ipc__EngineResponse *resp, STATUS *err) {
  const Smime__Ipc__EngineAnalyzeMessageRequest *r = req->analyze_message;
  Smime__Ipc__EngineAnalyzeMessageResponse *out = NULL;
  MIME_TREE *tree = NULL;
  MIME_ADDRESS_LIST *from = NULL, *sender = NULL, *rcpt = NULL;
  char *message_id = NULL;
  const char *sender_addr = NULL;
  int ok = 0;

  if (r->message.len == 0) {
    status_set(err, STATUS_INVALID_ARGUMENT, "the message is empty");
    goto err;
  }
  tree = engine_mime_parse(r->message.data, r->message.len, err);
  if (tree == NULL) {
    goto err;
  }
  const MIME_ENTITY *root = mime_tree_root(tree);
  if (root->num_headers == 0) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "the message has no header fields: give a complete RFC 5322 message "
               "(From, To, Subject, ..., an empty line, the body)");
    goto err;
  }
  if (!check_structure(root, err)) {
    goto err;
  }
  from = mime_address_list_new();
  sender = mime_address_list_new();
  rcpt = mime_address_list_new();
  if (from == NULL || sender == NULL || rcpt == NULL) {
    oom(err);
    goto err;
  }
  if (!pick_sender(root, &sender_addr, from, sender, err) ||
      !mime_address_from_header(rcpt, root, "To", err) ||
      !mime_address_from_header(rcpt, root, "Cc", err)) {
    goto err;
  }
  const char *mid = mime_entity_header(root, "Message-ID");
  if (mid != NULL) {
    message_id = mime_message_id(mid);
  }

  out = arena_alloc(arena, sizeof(*out));
  if (out == NULL) {
    oom(err);
    goto err;
  }
  smime__ipc__engine_analyze_message_response__init(out);
  out->from = arena_strdup(arena, sender_addr);
  out->message_id = arena_strdup(arena, message_id != NULL ? message_id : "");
  out->recipients = arena_alloc(arena, (rcpt->num + 1) * sizeof(char *));
  out->invalid_recipients = arena_alloc(arena, (rcpt->num_invalid + 1) * sizeof(char *));
  if (out->from == NULL || out->message_id == NULL || out->recipients == NULL ||
      out->invalid_recipients == NULL) {
    oom(err);
    goto err;
  }
  for (size_t i = 0; i < rcpt->num; i++) {
    out->recipients[i] = arena_strdup(arena, rcpt->addrs[i].addr);
    if (out->recipients[i] == NULL) {
      oom(err);
      goto err;
    }
    out->n_recipients++;
  }
  for (size_t i = 0; i < rcpt->num_invalid; i++) {
    out->invalid_recipients[i] = arena_strdup(arena, rcpt->invalid[i]);
    if (out->invalid_recipients[i] == NULL) {
      oom(err);
      goto err;
    }
    out->n_invalid_recipients++;
  }
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_ANALYZE_MESSAGE;
  resp->analyze_message = out;
  ok = 1;

err:
  free(message_id);
  mime_address_list_free(from);
  mime_address_list_free(sender);
  mime_address_list_free(rcpt);
  mime_tree_free(tree);
  if (ok) {
    /* After the tree is freed: the message may move on and be freed. */
    prepare_ahead(arena, req->analyze_message, out->from, out);
  }
  return ok;
}

/* make_signable splits |msg| and returns its outer header fields in |*out_split|
 * (content already freed) and the canonical, 7-bit safe content entity in
 * |*out_content| (malloc'd). |msg| (the request's field) is freed once split: it is
 * not needed again, and for a large message it is the biggest buffer alive. */
static int make_signable(ProtobufCBinaryData *msg, MIME_SPLIT **out_split,
                         uint8_t **out_content, size_t *out_content_len, STATUS *err) {
  *out_split = NULL;
  *out_content = NULL;
  *out_content_len = 0;
  if (msg->len == 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "the message is empty");
  }
  MIME_LIMITS lim;
  engine_mime_limits(&lim);
  MIME_SPLIT *split = mime_split_new(msg->data, msg->len, &lim, err);
  if (split == NULL) {
    return 0;
  }
  free(msg->data);
  msg->data = NULL;
  msg->len = 0;
  if (!mime_build_signable(split->content, split->content_len, &lim, out_content,
                           out_content_len, err)) {
    mime_split_free(split);
    return 0;
  }
  /* make_signable frees the raw content at once: for a large message it is the
   * biggest buffer alive besides the signable one. */
  free(split->content);
  split->content = NULL;
  split->content_len = 0;
  *out_split = split;
  return 1;
}

/* set_message gives the malloc'd |msg| to |arena| as |*out|, if it fits in a frame
 * (it is freed otherwise). */
static int set_message(ARENA *arena, ProtobufCBinaryData *out, uint8_t *msg, size_t len,
                       STATUS *err) {
  if (len > FRAME_MAX_BODY - kResponseSlack) {
    free(msg);
    return status_set(err, STATUS_RESOURCE_EXHAUSTED,
                      "the protected message would be %zu bytes, more than the service "
                      "handles (%u)",
                      len, (unsigned)(FRAME_MAX_BODY - kResponseSlack));
  }
  out->data = arena_adopt(arena, msg, len);
  out->len = len;
  if (out->data == NULL) {
    return oom(err);
  }
  return 1;
}

/* set_assembled puts |split|'s outer header around |entity| and stores the message in
 * |out| (in |arena|): the last step of a signed-only sign_finish. */
static int set_assembled(ARENA *arena, const MIME_SPLIT *split, const uint8_t *entity,
                         size_t entity_len, ProtobufCBinaryData *out, STATUS *err) {
  uint8_t *msg = NULL;
  size_t msg_len = 0;
  if (!mime_build_message(split->outer, split->outer_len, entity, entity_len, &msg, &msg_len,
                          err)) {
    return 0;
  }
  return set_message(arena, out, msg, msg_len, err);
}

/* set_pkcs7 puts |split|'s outer header around the application/pkcs7-mime entity of
 * |der| (|type|) and stores the message in |out| (in |arena|), built in one buffer:
 * the last step of an encrypting call. */
static int set_pkcs7(ARENA *arena, const MIME_SPLIT *split, const uint8_t *der, size_t der_len,
                     MIME_CMS_TYPE type, ProtobufCBinaryData *out, STATUS *err) {
  uint8_t *msg = NULL;
  size_t msg_len = 0;
  if (!mime_build_pkcs7_message(split->outer, split->outer_len, der, der_len, type, &msg,
                                &msg_len, err)) {
    return 0;
  }
  return set_message(arena, out, msg, msg_len, err);
}

/* envelope encrypts |entity| for |p|'s recipients: the EnvelopedData or
 * AuthEnvelopedData in |*out| (OPENSSL_free it) and its smime-type in |*out_type|. */
static int envelope(const uint8_t *entity, size_t entity_len,
                    const Smime__Ipc__EngineEncryptParams *p, uint8_t **out, size_t *out_len,
                    MIME_CMS_TYPE *out_type, STATUS *err) {
  CMS_RECIPIENT *rcpts = NULL;
  CMS_ENVELOPE_OPTIONS opts;
  *out = NULL;
  *out_len = 0;
  if (p->n_recipient_der == 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "encrypt: no recipient");
  }
  if (p->n_recipient_der > CMS_ENVELOPE_MAX_RECIPIENTS) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "encrypt: %zu recipients, at most %d are allowed", p->n_recipient_der,
                      CMS_ENVELOPE_MAX_RECIPIENTS);
  }
  if (p->cipher != CMS_CIPHER_AES128_CBC && p->cipher != CMS_CIPHER_AES192_CBC &&
      p->cipher != CMS_CIPHER_AES256_CBC && p->cipher != CMS_CIPHER_AES128_GCM &&
      p->cipher != CMS_CIPHER_AES256_GCM) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "encrypt: content cipher %u not allowed",
                      p->cipher);
  }
  if (p->key_method != CMS_KEY_RSA_PKCS1 && p->key_method != CMS_KEY_RSA_OAEP) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "encrypt: key transport %u not allowed",
                      p->key_method);
  }
  rcpts = calloc(p->n_recipient_der, sizeof(*rcpts));
  if (rcpts == NULL) {
    return oom(err);
  }
  for (size_t i = 0; i < p->n_recipient_der; i++) {
    rcpts[i].cert = p->recipient_der[i].data;
    rcpts[i].cert_len = p->recipient_der[i].len;
    rcpts[i].key_method = (int)p->key_method;
  }
  memset(&opts, 0, sizeof(opts));
  opts.cipher = (int)p->cipher;
  int ok = cms_envelope(entity, entity_len, rcpts, p->n_recipient_der, &opts, out, out_len,
                        err);
  *out_type = cms_cipher_is_aead((int)p->cipher) ? MIME_CMS_AUTH_ENVELOPED_DATA
                                                 : MIME_CMS_ENVELOPED_DATA;
  free(rcpts);
  return ok;
}

int engine_op_sign_prepare(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                           Smime__Ipc__EngineResponse *resp, STATUS *err) {
  Smime__Ipc__EngineSignPrepareRequest *r = req->sign_prepare;
  Smime__Ipc__EngineSignPrepareResponse *out = NULL;
  MIME_SPLIT *split = NULL;
  uint8_t *content = NULL;
  size_t content_len = 0;
  CMS_SIGN_REQUEST *sreq = NULL;
  CMS_BUF chain[ENGINE_MAX_CHAIN_LENGTH_MAX];
  CMS_SIGN_OPTIONS opts;
  unsigned max_chain = engine_limits()->max_chain_length;
  int ok = 0;

  if (r->signer_der.len == 0) {
    status_set(err, STATUS_INVALID_ARGUMENT, "sign_prepare: no signer");
    goto err;
  }
  /* engine_op_sign_prepare carries the signer's whole chain as the store has it (up to
   * the root when stored) or refuses: a chain cut short would leave recipients unable
   * to verify. */
  if (r->n_chain_der > max_chain - 1) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED,
               "the signer's certificate chain, as stored, has %zu certificates, more "
               "than %u (--max-chain-length)",
               r->n_chain_der + 1, max_chain);
    goto err;
  }
  for (size_t i = 0; i < r->n_chain_der; i++) {
    chain[i].data = r->chain_der[i].data;
    chain[i].len = r->chain_der[i].len;
  }
  memset(&opts, 0, sizeof(opts));
  opts.md = (int)r->md;
  opts.rsa_pss = r->rsa_pss;
  opts.opaque = r->opaque;
  if (!make_signable(&r->message, &split, &content, &content_len, err) ||
      !cms_sign_prepare(content, content_len, &opts, r->signer_der.data, r->signer_der.len,
                        chain, r->n_chain_der, r->signing_time, &sreq, err)) {
    goto err;
  }
  out = arena_alloc(arena, sizeof(*out));
  if (out == NULL) {
    oom(err);
    goto err;
  }
  smime__ipc__engine_sign_prepare_response__init(out);
  out->scheme = (uint32_t)sreq->scheme;
  out->md = (uint32_t)sreq->md;
  if (!copy_bytes(arena, &out->digest, sreq->digest, sreq->digest_len) ||
      !copy_bytes(arena, &out->tbs, sreq->tbs, sreq->tbs_len) ||
      !copy_bytes(arena, &out->state, sreq->state, sreq->state_len)) {
    oom(err);
    goto err;
  }
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_SIGN_PREPARE;
  resp->sign_prepare = out;
  ok = 1;

err:
  cms_sign_request_free(sreq);
  mime_split_free(split);
  free(content);
  return ok;
}

/* micalg_of names |md| for multipart/signed (RFC 8551 section 3.5.3.2). */
static const char *micalg_of(uint32_t md) {
  switch (md) {
    case CMS_MD_SHA256:
      return "sha-256";
    case CMS_MD_SHA384:
      return "sha-384";
    case CMS_MD_SHA512:
      return "sha-512";
    default:
      return NULL;
  }
}

int engine_op_sign_finish(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                          Smime__Ipc__EngineResponse *resp, STATUS *err) {
  Smime__Ipc__EngineSignFinishRequest *r = req->sign_finish;
  Smime__Ipc__EngineSignFinishResponse *out = NULL;
  MIME_SPLIT *split = NULL;
  uint8_t *content = NULL, *der = NULL, *entity = NULL, *sealed = NULL;
  size_t content_len = 0, der_len = 0, entity_len = 0, sealed_len = 0;
  const char *micalg = micalg_of(r->md);
  int ok = 0;

  if (micalg == NULL) {
    status_set(err, STATUS_INVALID_ARGUMENT, "sign_finish: hash %u not allowed", r->md);
    goto err;
  }
  if (!make_signable(&r->message, &split, &content, &content_len, err)) {
    goto err;
  }
  /* cms_sign_finish checks that these are the bytes sign_prepare digested: a rebuild
   * that differed would be a fault here (INTERNAL), not the caller's. */
  if (!cms_sign_finish(r->state.data, r->state.len, content, content_len, r->signature.data,
                       r->signature.len, &der, &der_len, err)) {
    if (err->code == STATUS_INVALID_ARGUMENT) {
      char why[sizeof(err->message)];
      snprintf(why, sizeof(why), "%s", err->message);
      status_set(err, STATUS_INTERNAL, "sign_finish: %s", why);
    }
    goto err;
  }
  if (r->opaque) {
    /* The content is inside the SignedData now: free it before base64 doubles up. */
    free(content);
    content = NULL;
    if (!mime_build_pkcs7(der, der_len, MIME_CMS_SIGNED_DATA, &entity, &entity_len, err)) {
      goto err;
    }
  } else if (!mime_build_signed(content, content_len, der, der_len, micalg, NULL, &entity,
                                &entity_len, err)) {
    goto err;
  }
  free(content);
  content = NULL;
  OPENSSL_free(der);
  der = NULL;
  out = arena_alloc(arena, sizeof(*out));
  if (out == NULL) {
    oom(err);
    goto err;
  }
  smime__ipc__engine_sign_finish_response__init(out);
  if (r->encrypt != NULL) {
    /* Sign, then encrypt the signed entity (RFC 8551 section 3.7); the signed entity
     * is freed before the base64 of the enveloped one is written. */
    MIME_CMS_TYPE type;
    if (!envelope(entity, entity_len, r->encrypt, &sealed, &sealed_len, &type, err)) {
      goto err;
    }
    free(entity);
    entity = NULL;
    if (!set_pkcs7(arena, split, sealed, sealed_len, type, &out->message, err)) {
      goto err;
    }
  } else if (!set_assembled(arena, split, entity, entity_len, &out->message, err)) {
    goto err;
  }
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_SIGN_FINISH;
  resp->sign_finish = out;
  ok = 1;

err:
  mime_split_free(split);
  free(content);
  OPENSSL_free(der);
  free(entity);
  OPENSSL_free(sealed);
  return ok;
}

int engine_op_encrypt(ARENA *arena, const Smime__Ipc__EngineRequest *req,
                      Smime__Ipc__EngineResponse *resp, STATUS *err) {
  Smime__Ipc__EngineEncryptRequest *r = req->encrypt;
  Smime__Ipc__EngineEncryptResponse *out = NULL;
  MIME_SPLIT *split = NULL;
  uint8_t *content = NULL, *der = NULL;
  size_t content_len = 0, der_len = 0;
  int ok = 0;

  if (r->params == NULL) {
    status_set(err, STATUS_INVALID_ARGUMENT, "encrypt: no parameters");
    goto err;
  }
  /* The content is made canonical (CRLF) before encryption too (RFC 8551 section
   * 3.1.1): the recipient's client may verify an inner signature or save the entity. */
  MIME_CMS_TYPE type;
  if (!make_signable(&r->message, &split, &content, &content_len, err) ||
      !envelope(content, content_len, r->params, &der, &der_len, &type, err)) {
    goto err;
  }
  free(content);
  content = NULL;
  out = arena_alloc(arena, sizeof(*out));
  if (out == NULL) {
    oom(err);
    goto err;
  }
  smime__ipc__engine_encrypt_response__init(out);
  if (!set_pkcs7(arena, split, der, der_len, type, &out->message, err)) {
    goto err;
  }
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_ENCRYPT;
  resp->encrypt = out;
  ok = 1;

err:
  mime_split_free(split);
  free(content);
  OPENSSL_free(der);
  return ok;
}
