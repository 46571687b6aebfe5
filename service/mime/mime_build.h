/* mime_build.h: builds the MIME side of outgoing S/MIME (RFC 8551 section 3, RFC
 * 1847) and of DecryptVerify's opened message. The CMS objects come from elsewhere;
 * this module only wraps them.
 *
 * SignEncrypt is meant to go:
 *
 *   split   = mime_split_new(message)                  outer headers | content entity
 *   content = mime_build_signable(split->content)      CRLF, 7-bit safe: sign THESE bytes
 *   detached: entity = mime_build_signed(content, SignedData(content), "sha-256")
 *   opaque:   entity = mime_build_pkcs7(SignedData(content, embedded), SIGNED_DATA)
 *   encrypt:  entity = mime_build_pkcs7(EnvelopedData(entity or content), ENVELOPED_DATA)
 *   result  = mime_build_message(split->outer, entity)
 *   (or, for a pkcs7-mime result, result = mime_build_pkcs7_message(split->outer, der,
 *   type) in one step)
 *
 * Every output is CRLF throughout and 7-bit, with lines of at most 998 octets (base64
 * lines are 76), so MTAs have no reason to rewrite signed bytes. All functions return
 * 1 or 0 (or a pointer or NULL); outputs are malloc'd (NUL-terminated, the NUL not
 * counted), cleared on entry and set only on success. */
#ifndef SMIMED_MIME_BUILD_H
#define SMIMED_MIME_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/mime/mime_parse.h"
#include "service/mime/mime_smime.h"

/* mime_build_signable returns the MIME entity |entity| (header fields, empty line,
 * body) in the form to sign and send (RFC 8551 sections 3.1.1-3.1.3): every line end
 * CRLF, and every body that a 7-bit transport could alter re-encoded -- 8-bit or
 * binary data, NULs, a CR alone, lines over 998 octets, and for identity encodings
 * also whitespace at the end of a line or a line starting "From " -- as
 * quoted-printable for text types and base64 otherwise (binary bodies always base64,
 * byte-exact), with its Content-Transfer-Encoding field replaced or added. Bodies
 * already base64 or quoted-printable and 7-bit clean are kept. Multiparts are
 * rebuilt part by part with their own boundaries (a missing close delimiter is added;
 * a preamble or epilogue that is not 7-bit clean is dropped), and message/rfc822 is
 * descended into. Header fields are kept as they are, folding included, except that
 * line ends become CRLF and a NUL or stray CR a space: raw 8-bit bytes and lines over
 * 998 octets in header fields are left alone (re-encoding them would need RFC 2047 or
 * RFC 2231 rewriting; the helpdesk writes 7-bit headers).
 * Fails with INVALID_ARGUMENT for a body that cannot be decoded (bad base64) or made
 * safe (unknown transfer encoding with 8-bit data), RESOURCE_EXHAUSTED over |lim|
 * (NULL: defaults). */
int mime_build_signable(const uint8_t *entity, size_t len, const MIME_LIMITS *lim,
                        uint8_t **out, size_t *out_len, STATUS *err);

/* MIME_SPLIT is an RFC 5322 message cut into what stays outside the protection and
 * the entity that gets protected. */
typedef struct mime_split_st {
  /* outer is every header field except Content-* and MIME-Version (From, To, Cc,
   * Subject, Date, Message-ID, Received, X-*, ... in their order), each as received
   * but with CRLF line ends; no empty line at the end. */
  uint8_t *outer;
  size_t outer_len;
  /* content is the MIME entity: the Content-* fields (CRLF), an empty line, and the
   * body as received. Without a Content-Type field it gets "Content-Type: text/plain;
   * charset=us-ascii" (RFC 2045's default), or charset=utf-8 when the body has 8-bit
   * bytes that are valid UTF-8, which is what such mail means. */
  uint8_t *content;
  size_t content_len;
} MIME_SPLIT;

/* mime_split_new splits |msg|. Fails only for limits (RESOURCE_EXHAUSTED); checking
 * that From is there is the caller's business. */
MIME_SPLIT *mime_split_new(const uint8_t *msg, size_t len, const MIME_LIMITS *lim,
                           STATUS *err);

/* mime_split_free frees |s|. Accepts NULL. */
void mime_split_free(MIME_SPLIT *s);

/* mime_build_signed assembles a multipart/signed entity (RFC 8551 section 3.5.3):
 * protocol="application/pkcs7-signature", micalg=|micalg| ("sha-256", "sha-384",
 * "sha-512"), the first part exactly |content| (which must be CRLF-canonical: what
 * mime_build_signable returned and was signed), the second part the detached
 * signature |sig| as application/pkcs7-signature; name=smime.p7s, attachment, base64
 * in 76-character lines. |boundary| NULL picks a random one (getrandom) that does
 * not occur in |content|; a given boundary is checked the same way (for tests).
 * Fails with INVALID_ARGUMENT for a content that is not CRLF-canonical, a bad micalg
 * or boundary. */
int mime_build_signed(const uint8_t *content, size_t content_len, const uint8_t *sig,
                      size_t sig_len, const char *micalg, const char *boundary,
                      uint8_t **out, size_t *out_len, STATUS *err);

/* mime_build_pkcs7 wraps CMS object |der| as application/pkcs7-mime with smime-type
 * signed-data, enveloped-data, authEnveloped-data, compressed-data or certs-only per
 * |type| (name smime.p7m, or smime.p7c for certs-only), attachment, base64 in
 * 76-character lines. Fails with INVALID_ARGUMENT for another |type|. */
int mime_build_pkcs7(const uint8_t *der, size_t der_len, MIME_CMS_TYPE type,
                     uint8_t **out, size_t *out_len, STATUS *err);

/* mime_build_message joins |outer| header fields (as in MIME_SPLIT; line ends made
 * CRLF), "MIME-Version: 1.0" and |entity| into the final message. Fails with
 * INVALID_ARGUMENT when |outer| contains an empty line or a MIME-Version or Content-*
 * field. */
int mime_build_message(const uint8_t *outer, size_t outer_len, const uint8_t *entity,
                       size_t entity_len, uint8_t **out, size_t *out_len, STATUS *err);

/* mime_build_pkcs7_message is mime_build_message(|outer|, mime_build_pkcs7(|der|,
 * |type|)) built in one buffer, the base64 written in place: the entity never exists
 * apart (for a 25 MiB message, 34 MiB of base64 once instead of three times). */
int mime_build_pkcs7_message(const uint8_t *outer, size_t outer_len, const uint8_t *der,
                             size_t der_len, MIME_CMS_TYPE type, uint8_t **out,
                             size_t *out_len, STATUS *err);

/* mime_build_replace_content returns |msg| with its content replaced by |entity| (an
 * opened layer, say the bytes of the innermost entity's |whole| span): the outer
 * header fields of |msg| as mime_split_new keeps them, "MIME-Version: 1.0", the
 * Content-* fields of |entity| (its other fields are dropped: the outer header is
 * what the agent sees), an empty line and the body of |entity| byte for byte. */
int mime_build_replace_content(const uint8_t *msg, size_t msg_len,
                               const uint8_t *entity, size_t entity_len,
                               const MIME_LIMITS *lim, uint8_t **out, size_t *out_len,
                               STATUS *err);

#endif /* SMIMED_MIME_BUILD_H */
