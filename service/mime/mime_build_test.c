/* mime_build_test.c: splitting, making entities safe to sign, and wrapping CMS
 * objects, with round trips through our parser and through the OpenSSL command line
 * (which must verify what we sign and decrypt what we wrap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/mime/mime_build.h"
#include "service/mime/mime_codec.h"
#include "service/mime/mime_parse.h"
#include "service/mime/mime_smime.h"
#include "service/mime/mime_test_util.h"

#define CORPUS "service/mime/testdata/thunderbird/"
#define OPENSSL "/usr/bin/openssl"

/* A message the helpdesk might send: 8-bit text, a long line, trailing blanks, a
 * "From " line, a binary attachment, an 8bit attachment that is not text, a nested
 * message, LF line ends. */
static const char kMessage[] =
    "From: Agent <agent@example.com>\n"
    "To: Bob <bob@example.com>\n"
    "Subject: =?UTF-8?Q?R=C3=A9ponse?=\n"
    "MIME-Version: 1.0\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
    "Message-ID: <1@example.com>\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "X-After-Content: kept outside\n"
    "\n"
    "preamble\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Bonjour, voil\xc3\xa0 la r\xc3\xa9ponse.  \n"
    "From here on it is plain.\n"
    "--inner\n"
    "Content-Type: text/html; charset=us-ascii\n"
    "\n"
    "<p>a line that is much too long: "
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    " end</p>\n"
    "--inner--\n"
    "\n"
    "--outer\n"
    "Content-Type: application/octet-stream; name=blob.bin\n"
    "Content-Transfer-Encoding: binary\n"
    "Content-Disposition: attachment; filename=blob.bin\n"
    "\n"
    "\x00\x01\x02\n\r\n\xff\xfe binary\n"
    "--outer\n"
    "Content-Type: application/json\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "{\"name\": \"J\xc3\xbcrgen\"}\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: someone@example.org\n"
    "Subject: forwarded\n"
    "\n"
    "forwarded body \xe2\x82\xac\n"
    "--outer\n"
    "Content-Type: image/png; name=x.png\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "iVBORw0KGgo=\n"
    "--outer--\n"
    "epilogue \xff\n";

/* decoded_leaves appends, for every leaf of |e| in order, its decoded body to |buf|
 * with a separator, and its type. A fingerprint of the content that must survive
 * re-encoding (text line ends normalized to CRLF). */
static void decoded_leaves(const MIME_ENTITY *e, char *buf, size_t cap, size_t *n) {
  if (e->num_children > 0) {
    for (size_t i = 0; i < e->num_children; i++) {
      decoded_leaves(&e->children[i], buf, cap, n);
    }
    return;
  }
  uint8_t *out;
  size_t len;
  STATUS err;
  CHECK_MSG(mime_entity_decode(e, &out, &len, &err), "%s", err.message);
  uint8_t *canon = out;
  size_t canon_len = len;
  if (e->cte != MIME_CTE_BINARY && e->cte != MIME_CTE_BASE64) {
    CHECK(mime_crlf(out, len, &canon, &canon_len, &err));
    free(out);
  }
  CHECK(*n + canon_len + 64 < cap);
  *n += (size_t)snprintf(buf + *n, cap - *n, "[%s/%s]", e->type, e->subtype);
  memcpy(buf + *n, canon, canon_len);
  *n += canon_len;
  free(canon);
}

/* span_eq_str says whether |s| holds exactly |want|. */
static int span_eq_str(const MIME_SPAN *s, const char *want) {
  return s->len == strlen(want) && memcmp(s->ptr, want, s->len) == 0;
}

/* check_transport_safe: CRLF only, 7-bit, no NUL, lines of at most 998 octets. */
static void check_transport_safe(const uint8_t *p, size_t n) {
  size_t col = 0;
  for (size_t i = 0; i < n; i++) {
    CHECK(p[i] != 0 && p[i] < 128);
    if (p[i] == '\n') {
      CHECK(i > 0 && p[i - 1] == '\r');
      col = 0;
      continue;
    }
    if (p[i] == '\r') {
      CHECK(i + 1 < n && p[i + 1] == '\n');
      continue;
    }
    col++;
    CHECK(col <= 998);
  }
}

static void test_split_and_signable(void) {
  STATUS err;
  MIME_SPLIT *s = mime_split_new((const uint8_t *)kMessage, sizeof(kMessage) - 1, NULL, &err);
  CHECK(s != NULL);
  const char *outer =
      "From: Agent <agent@example.com>\r\n"
      "To: Bob <bob@example.com>\r\n"
      "Subject: =?UTF-8?Q?R=C3=A9ponse?=\r\n"
      "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
      "Message-ID: <1@example.com>\r\n"
      "X-After-Content: kept outside\r\n";
  CHECK(s->outer_len == strlen(outer) && memcmp(s->outer, outer, s->outer_len) == 0);
  const char *head = "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\npreamble\n";
  CHECK(memcmp(s->content, head, strlen(head)) == 0);

  uint8_t *signable;
  size_t signable_len;
  CHECK_MSG(mime_build_signable(s->content, s->content_len, NULL, &signable, &signable_len, &err),
            "%s", err.message);
  check_transport_safe(signable, signable_len);

  /* Same structure, same decoded content. */
  MIME_TREE *before = mime_parse(s->content, s->content_len, NULL, &err);
  MIME_TREE *after = mime_parse(signable, signable_len, NULL, &err);
  CHECK(before != NULL && after != NULL);
  CHECK(mime_tree_num_entities(before) == mime_tree_num_entities(after));
  static char fp1[1 << 16];
  static char fp2[1 << 16];
  size_t n1 = 0;
  size_t n2 = 0;
  decoded_leaves(mime_tree_root(before), fp1, sizeof(fp1), &n1);
  decoded_leaves(mime_tree_root(after), fp2, sizeof(fp2), &n2);
  CHECK(n1 == n2 && memcmp(fp1, fp2, n1) == 0);

  /* What was re-encoded, and how. */
  const MIME_ENTITY *r = mime_tree_root(after);
  const MIME_ENTITY *alt = &r->children[0];
  CHECK(strcmp(alt->cte_name, "7bit") == 0);
  CHECK(alt->children[0].cte == MIME_CTE_QUOTED_PRINTABLE);
  CHECK(alt->children[1].cte == MIME_CTE_QUOTED_PRINTABLE);
  CHECK(r->children[1].cte == MIME_CTE_BASE64);
  CHECK(r->children[2].cte == MIME_CTE_BASE64);
  CHECK(mime_entity_is(&r->children[3], "message", "rfc822"));
  CHECK(r->children[3].children[0].cte == MIME_CTE_QUOTED_PRINTABLE);
  CHECK(r->children[4].cte == MIME_CTE_BASE64);
  CHECK(span_eq_str(&r->children[4].body, "iVBORw0KGgo="));
  CHECK(r->epilogue.len == 0); /* 8-bit epilogue dropped */
  /* The binary attachment is byte-exact. */
  uint8_t *bin;
  size_t bin_len;
  CHECK(mime_entity_decode(&r->children[1], &bin, &bin_len, &err));
  CHECK(bin_len == 15 && memcmp(bin, "\x00\x01\x02\n\r\n\xff\xfe binary", 15) == 0);
  free(bin);

  /* Idempotent: the safe form is its own safe form. */
  uint8_t *again;
  size_t again_len;
  CHECK(mime_build_signable(signable, signable_len, NULL, &again, &again_len, &err));
  CHECK(again_len == signable_len && memcmp(again, signable, signable_len) == 0);
  free(again);

  /* CRLF input gives the same result as LF input (for line-oriented content: a
   * binary part would differ, its bytes being different). */
  const char *lf = "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                   "Content-Type: multipart/alternative; boundary=c\n\n--c\n"
                   "Content-Type: text/plain; charset=utf-8\n\n\xc3\xa9t\xc3\xa9 \nFrom me\n"
                   "--c\nContent-Type: text/html\n\n<p>\xc3\xa9</p>\n--c--\n"
                   "--b\nContent-Type: application/json\n\n{\"k\": \"\xc3\xa9\"}\n--b--\n";
  uint8_t *crlf;
  size_t crlf_len;
  uint8_t *from_lf;
  size_t from_lf_len;
  CHECK(mime_crlf((const uint8_t *)lf, strlen(lf), &crlf, &crlf_len, &err));
  CHECK(mime_build_signable((const uint8_t *)lf, strlen(lf), NULL, &from_lf, &from_lf_len, &err));
  CHECK(mime_build_signable(crlf, crlf_len, NULL, &again, &again_len, &err));
  check_transport_safe(again, again_len);
  CHECK(again_len == from_lf_len && memcmp(again, from_lf, from_lf_len) == 0);
  free(again);
  free(from_lf);
  free(crlf);

  mime_tree_free(before);
  mime_tree_free(after);
  free(signable);
  mime_split_free(s);

  /* No Content-Type: the default is added, charset by content. */
  s = mime_split_new((const uint8_t *)"From: a@b\nSubject: x\n\nplain\n", 28, NULL, &err);
  CHECK(s != NULL);
  CHECK(s->content_len == strlen("Content-Type: text/plain; charset=us-ascii\r\n\r\nplain\n"));
  CHECK(memcmp(s->content, "Content-Type: text/plain; charset=us-ascii\r\n\r\nplain\n", s->content_len) == 0);
  mime_split_free(s);
  const char *u = "From: a@b\n\ncaf\xc3\xa9\n";
  s = mime_split_new((const uint8_t *)u, strlen(u), NULL, &err);
  CHECK(s != NULL && test_contains(s->content, s->content_len, "charset=utf-8"));
  mime_split_free(s);
  u = "From: a@b\n\ncaf\xe9\n";
  s = mime_split_new((const uint8_t *)u, strlen(u), NULL, &err);
  CHECK(s != NULL && test_contains(s->content, s->content_len, "charset=us-ascii"));
  mime_split_free(s);

  /* Bad base64 that needs re-encoding is an error naming the part. */
  const char *bad = "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                    "Content-Transfer-Encoding: base64\n\n\xff\xfe\n--b--\n";
  status_clear(&err);
  CHECK(!mime_build_signable((const uint8_t *)bad, strlen(bad), NULL, &again, &again_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT && strstr(err.message, "MIME part 1"));
  const char *unk = "Content-Transfer-Encoding: x-foo\n\n\xff\n";
  status_clear(&err);
  CHECK(!mime_build_signable((const uint8_t *)unk, strlen(unk), NULL, &again, &again_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT && strstr(err.message, "x-foo"));
}

static void test_signed_round_trip(void) {
  const char *content = "Content-Type: text/plain\r\n\r\nhello\r\n";
  uint8_t sig[300];
  for (size_t i = 0; i < sizeof(sig); i++) {
    sig[i] = (uint8_t)(i * 13);
  }
  uint8_t *out;
  size_t out_len;
  STATUS err;
  CHECK(mime_build_signed((const uint8_t *)content, strlen(content), sig, sizeof(sig),
                          "sha-256", NULL, &out, &out_len, &err));
  check_transport_safe(out, out_len);
  MIME_TREE *t = mime_parse(out, out_len, NULL, &err);
  CHECK(t != NULL);
  const MIME_ENTITY *e = mime_tree_root(t);
  CHECK(mime_smime_classify(e, NULL) == MIME_SMIME_SIGNED);
  CHECK(strcmp(mime_entity_param(e, "protocol"), "application/pkcs7-signature") == 0);
  CHECK(strcmp(mime_entity_param(e, "micalg"), "sha-256") == 0);
  CHECK(strncmp(mime_entity_param(e, "boundary"), "----=_smimed_", 13) == 0);
  MIME_SIGNED *s = mime_signed_new(e, &err);
  CHECK(s != NULL);
  CHECK(s->content_len == strlen(content) && memcmp(s->content_bytes, content, s->content_len) == 0);
  CHECK(!s->canonical_differs);
  CHECK(s->signature_len == sizeof(sig) && memcmp(s->signature, sig, sizeof(sig)) == 0);
  CHECK(mime_entity_is(s->signature_part, "application", "pkcs7-signature"));
  char *fn = mime_entity_filename(s->signature_part);
  CHECK(strcmp(fn, "smime.p7s") == 0);
  free(fn);
  CHECK(strcmp(s->signature_part->disposition, "attachment") == 0);
  mime_signed_free(s);
  mime_tree_free(t);
  free(out);

  /* Two calls pick different boundaries. */
  uint8_t *o2;
  size_t o2_len;
  CHECK(mime_build_signed((const uint8_t *)content, strlen(content), sig, 1, "sha-512",
                          NULL, &out, &out_len, &err));
  CHECK(mime_build_signed((const uint8_t *)content, strlen(content), sig, 1, "sha-512",
                          NULL, &o2, &o2_len, &err));
  CHECK(out_len == o2_len && memcmp(out, o2, out_len) != 0);
  free(out);
  free(o2);

  /* Refusals. */
  status_clear(&err);
  CHECK(!mime_build_signed((const uint8_t *)"a\nb", 3, sig, 1, "sha-256", NULL, &out, &out_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT && strstr(err.message, "CRLF"));
  CHECK(!mime_build_signed((const uint8_t *)"x", 1, sig, 1, "SHA 256", NULL, &out, &out_len, &err));
  CHECK(!mime_build_signed((const uint8_t *)"x", 1, sig, 1, "", NULL, &out, &out_len, &err));
  CHECK(!mime_build_signed((const uint8_t *)"x", 1, sig, 0, "sha-256", NULL, &out, &out_len, &err));
  CHECK(!mime_build_signed((const uint8_t *)"--bnd--", 7, sig, 1, "sha-256", "bnd", &out, &out_len, &err));
  CHECK(strstr(err.message, "boundary occurs"));
  CHECK(!mime_build_signed((const uint8_t *)"x", 1, sig, 1, "sha-256", "a\"b", &out, &out_len, &err));
  CHECK(out == NULL && out_len == 0);

  /* pkcs7-mime, every smime-type. */
  static const MIME_CMS_TYPE types[] = {MIME_CMS_SIGNED_DATA, MIME_CMS_ENVELOPED_DATA,
                                        MIME_CMS_AUTH_ENVELOPED_DATA, MIME_CMS_COMPRESSED_DATA,
                                        MIME_CMS_CERTS_ONLY};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    CHECK(mime_build_pkcs7(sig, sizeof(sig), types[i], &out, &out_len, &err));
    check_transport_safe(out, out_len);
    t = mime_parse(out, out_len, NULL, &err);
    CHECK(t != NULL);
    MIME_CMS_TYPE declared;
    CHECK(mime_smime_classify(mime_tree_root(t), &declared) == MIME_SMIME_PKCS7);
    CHECK(declared == types[i]);
    MIME_PKCS7 *p = mime_pkcs7_new(mime_tree_root(t), &err);
    CHECK(p != NULL && p->der_len == sizeof(sig) && memcmp(p->der, sig, sizeof(sig)) == 0);
    mime_pkcs7_free(p);
    mime_tree_free(t);
    free(out);
  }
  CHECK(test_contains((const uint8_t *)"", 0, "") == 1);
  status_clear(&err);
  CHECK(!mime_build_pkcs7(sig, sizeof(sig), MIME_CMS_DATA, &out, &out_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  CHECK(!mime_build_pkcs7(sig, 0, MIME_CMS_ENVELOPED_DATA, &out, &out_len, &err));
}

static void test_message_and_replace(void) {
  STATUS err;
  uint8_t *out;
  size_t out_len;
  const char *outer = "From: a@example.com\r\nSubject: hi\r\n";
  const char *entity = "Content-Type: text/plain\r\n\r\nbody\r\n";
  CHECK(mime_build_message((const uint8_t *)outer, strlen(outer), (const uint8_t *)entity,
                           strlen(entity), &out, &out_len, &err));
  const char *want = "From: a@example.com\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: text/plain\r\n\r\nbody\r\n";
  CHECK(out_len == strlen(want) && memcmp(out, want, out_len) == 0);
  free(out);
  status_clear(&err);
  CHECK(!mime_build_message((const uint8_t *)"From: a\r\n\r\nX: b\r\n", 18,
                            (const uint8_t *)entity, strlen(entity), &out, &out_len, &err));
  CHECK(strstr(err.message, "empty line"));
  CHECK(!mime_build_message((const uint8_t *)"MIME-Version: 1.0\r\n", 19,
                            (const uint8_t *)entity, strlen(entity), &out, &out_len, &err));
  CHECK(!mime_build_message((const uint8_t *)"content-type: x/y\r\n", 19,
                            (const uint8_t *)entity, strlen(entity), &out, &out_len, &err));

  /* DecryptVerify's opened message: outer headers kept, content replaced, the inner
   * entity's own non-Content fields dropped, its body byte for byte. */
  const char *msg = "From: a@example.com\nTo: b@example.com\nMIME-Version: 1.0\n"
                    "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
                    "Content-Transfer-Encoding: base64\n\nMIAGCSqG\n";
  const char *inner = "MIME-Version: 1.0\r\nSubject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\n";
  CHECK(mime_build_replace_content((const uint8_t *)msg, strlen(msg), (const uint8_t *)inner,
                                   strlen(inner), NULL, &out, &out_len, &err));
  want = "From: a@example.com\r\nTo: b@example.com\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
         "caf\xc3\xa9\n";
  CHECK_MSG(out_len == strlen(want) && memcmp(out, want, out_len) == 0, "%s", out);
  free(out);
}

/* test_openssl_interop: what we build, OpenSSL reads. Alice signs (detached with our
 * multipart/signed, and opaque), Bob's certificate encrypts; openssl cms -verify and
 * -decrypt parse our MIME themselves. */
static void test_openssl_interop(void) {
  char dir[512];
  snprintf(dir, sizeof(dir), "%s", test_tmpdir());
  char alice[600], bob[600], ca[600], content[600], sigf[600], msgf[600], outf[600], log[600];
  snprintf(alice, sizeof(alice), "%s/alice.pem", dir);
  snprintf(bob, sizeof(bob), "%s/bob.pem", dir);
  snprintf(ca, sizeof(ca), CORPUS "smime/TestCA.pem");
  snprintf(content, sizeof(content), "%s/content", dir);
  snprintf(sigf, sizeof(sigf), "%s/sig.der", dir);
  snprintf(msgf, sizeof(msgf), "%s/msg.eml", dir);
  snprintf(outf, sizeof(outf), "%s/out", dir);
  snprintf(log, sizeof(log), "%s/openssl.log", dir);
  /* -clcerts: the user's certificate only (the files also hold the CA's). */
  const char *p1[] = {OPENSSL, "pkcs12", "-in", CORPUS "smime/Alice.p12", "-nodes", "-clcerts",
                      "-passin", "pass:nss", "-out", alice, NULL};
  CHECK(test_run(p1, log) == 0);
  const char *p2[] = {OPENSSL, "pkcs12", "-in", CORPUS "smime/Bob.p12", "-nodes", "-clcerts",
                      "-passin", "pass:nss", "-out", bob, NULL};
  CHECK(test_run(p2, log) == 0);

  STATUS err;
  MIME_SPLIT *s = mime_split_new((const uint8_t *)kMessage, sizeof(kMessage) - 1, NULL, &err);
  CHECK(s != NULL);
  uint8_t *signable;
  size_t signable_len;
  CHECK(mime_build_signable(s->content, s->content_len, NULL, &signable, &signable_len, &err));
  CHECK(test_write_file(content, signable, signable_len));

  /* Detached: openssl signs our bytes, we assemble, openssl verifies the message. */
  const char *sign[] = {OPENSSL, "cms", "-sign", "-binary", "-in", content, "-signer", alice,
                        "-md", "sha256", "-outform", "DER", "-out", sigf, NULL};
  CHECK(test_run(sign, log) == 0);
  size_t sig_len;
  uint8_t *sig = test_read_file(sigf, &sig_len);
  CHECK(sig != NULL);
  uint8_t *entity;
  size_t entity_len;
  CHECK(mime_build_signed(signable, signable_len, sig, sig_len, "sha-256", NULL, &entity,
                          &entity_len, &err));
  uint8_t *msg;
  size_t msg_len;
  CHECK(mime_build_message(s->outer, s->outer_len, entity, entity_len, &msg, &msg_len, &err));
  check_transport_safe(msg, msg_len);
  CHECK(test_write_file(msgf, msg, msg_len));
  const char *verify[] = {OPENSSL, "cms", "-verify", "-in", msgf, "-CAfile", ca, "-out", outf, NULL};
  CHECK_MSG(test_run(verify, log) == 0, "openssl cms -verify failed on our multipart/signed (%s)", log);
  /* And our own parser finds the very bytes that were signed. */
  MIME_TREE *t = mime_parse(msg, msg_len, NULL, &err);
  CHECK(t != NULL);
  MIME_SIGNED *sd = mime_signed_new(mime_tree_root(t), &err);
  CHECK(sd != NULL);
  CHECK(sd->content_len == signable_len && memcmp(sd->content_bytes, signable, signable_len) == 0);
  CHECK(sd->signature_len == sig_len && memcmp(sd->signature, sig, sig_len) == 0);
  CHECK(strcmp(mime_entity_header(mime_tree_root(t), "message-id"), "<1@example.com>") == 0);
  mime_signed_free(sd);
  mime_tree_free(t);
  free(msg);

  /* Sign then encrypt: the signed entity goes into EnvelopedData for Bob. */
  CHECK(test_write_file(content, entity, entity_len));
  const char *enc[] = {OPENSSL, "cms", "-encrypt", "-binary", "-aes256", "-in", content,
                       "-outform", "DER", "-out", sigf, bob, NULL};
  CHECK(test_run(enc, log) == 0);
  size_t env_len;
  uint8_t *env = test_read_file(sigf, &env_len);
  CHECK(env != NULL);
  uint8_t *wrapped;
  size_t wrapped_len;
  CHECK(mime_build_pkcs7(env, env_len, MIME_CMS_ENVELOPED_DATA, &wrapped, &wrapped_len, &err));
  CHECK(mime_build_message(s->outer, s->outer_len, wrapped, wrapped_len, &msg, &msg_len, &err));
  CHECK(test_write_file(msgf, msg, msg_len));
  const char *dec[] = {OPENSSL, "cms", "-decrypt", "-binary", "-in", msgf, "-inkey", bob,
                       "-out", outf, NULL};
  CHECK_MSG(test_run(dec, log) == 0, "openssl cms -decrypt failed on our pkcs7-mime (%s)", log);
  size_t plain_len;
  uint8_t *plain = test_read_file(outf, &plain_len);
  CHECK(plain_len == entity_len && memcmp(plain, entity, entity_len) == 0);
  free(plain);
  free(msg);
  free(wrapped);
  free(env);

  /* Opaque: SignedData with the content inside, as application/pkcs7-mime. */
  CHECK(test_write_file(content, signable, signable_len));
  const char *opq[] = {OPENSSL, "cms", "-sign", "-binary", "-nodetach", "-in", content,
                       "-signer", alice, "-outform", "DER", "-out", sigf, NULL};
  CHECK(test_run(opq, log) == 0);
  free(sig);
  sig = test_read_file(sigf, &sig_len);
  CHECK(sig != NULL);
  CHECK(mime_build_pkcs7(sig, sig_len, MIME_CMS_SIGNED_DATA, &wrapped, &wrapped_len, &err));
  CHECK(mime_build_message(s->outer, s->outer_len, wrapped, wrapped_len, &msg, &msg_len, &err));
  CHECK(test_write_file(msgf, msg, msg_len));
  const char *vo[] = {OPENSSL, "cms", "-verify", "-in", msgf, "-CAfile", ca, "-out", outf, NULL};
  CHECK_MSG(test_run(vo, log) == 0, "openssl cms -verify failed on our opaque message (%s)", log);
  free(msg);
  free(wrapped);
  free(sig);
  free(entity);
  free(signable);
  mime_split_free(s);
}

/* test_pkcs7_message: mime_build_pkcs7_message writes, in one buffer, exactly what
 * mime_build_message around mime_build_pkcs7 writes: for lengths around the base64
 * line (57 bytes make 76 characters), outer headers with LF, CRLF or no final line
 * end, and every smime-type; and refuses what either refuses. */
static void test_pkcs7_message(void) {
  static const size_t kLens[] = {1, 2, 3, 56, 57, 58, 114, 1000, 100000};
  static const char *kOuters[] = {"From: a@example.com\r\nSubject: hi\r\n",
                                  "From: a@example.com\nSubject: hi", ""};
  static const MIME_CMS_TYPE kTypes[] = {MIME_CMS_SIGNED_DATA, MIME_CMS_ENVELOPED_DATA,
                                         MIME_CMS_AUTH_ENVELOPED_DATA};
  STATUS err;
  for (size_t i = 0; i < sizeof(kLens) / sizeof(kLens[0]); i++) {
    uint8_t *der = malloc(kLens[i]);
    CHECK(der != NULL);
    for (size_t k = 0; k < kLens[i]; k++) {
      der[k] = (uint8_t)(k * 29 + i);
    }
    for (size_t o = 0; o < sizeof(kOuters) / sizeof(kOuters[0]); o++) {
      for (size_t t = 0; t < sizeof(kTypes) / sizeof(kTypes[0]); t++) {
        const uint8_t *outer = (const uint8_t *)kOuters[o];
        size_t outer_len = strlen(kOuters[o]);
        uint8_t *entity, *want, *got;
        size_t entity_len, want_len, got_len;
        status_clear(&err);
        CHECK(mime_build_pkcs7(der, kLens[i], kTypes[t], &entity, &entity_len, &err));
        CHECK(mime_build_message(outer, outer_len, entity, entity_len, &want, &want_len, &err));
        CHECK(mime_build_pkcs7_message(outer, outer_len, der, kLens[i], kTypes[t], &got,
                                       &got_len, &err));
        CHECK(got_len == want_len && memcmp(got, want, want_len) == 0);
        CHECK(got[got_len] == '\0');
        free(entity);
        free(want);
        free(got);
      }
    }
    free(der);
  }
  uint8_t *out = (uint8_t *)"x";
  size_t out_len = 1;
  const uint8_t der[3] = {1, 2, 3};
  status_clear(&err);
  CHECK(!mime_build_pkcs7_message((const uint8_t *)"From: a\r\n", 9, der, sizeof(der),
                                  MIME_CMS_DATA, &out, &out_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT && out == NULL && out_len == 0);
  status_clear(&err);
  CHECK(!mime_build_pkcs7_message((const uint8_t *)"From: a\r\n", 9, der, 0,
                                  MIME_CMS_ENVELOPED_DATA, &out, &out_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  status_clear(&err);
  CHECK(!mime_build_pkcs7_message((const uint8_t *)"Content-Type: text/plain\r\n", 26, der,
                                  sizeof(der), MIME_CMS_ENVELOPED_DATA, &out, &out_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
}

int main(void) {
  test_split_and_signable();
  test_pkcs7_message();
  test_signed_round_trip();
  test_message_and_replace();
  test_openssl_interop();
  printf("PASS\n");
  return 0;
}
