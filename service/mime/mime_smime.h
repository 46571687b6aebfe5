/* mime_smime.h: recognizes the S/MIME shapes of an entity (RFC 8551 section 3, RFC
 * 1847) and hands the CMS code the exact bytes it needs: for multipart/signed the
 * signed content as received and the decoded signature, for application/pkcs7-mime
 * the decoded CMS object. No ASN.1 parsing beyond a look at the outer ContentInfo OID
 * (mime_smime_sniff), which is a hint: the CMS code decides.
 *
 * How DecryptVerify is meant to walk a message (one layer per step, depth-limited by
 * the caller; a layer's result never depends on Thunderbird's display policy):
 *
 *   e = mime_tree_root(tree)
 *   loop:
 *     switch (mime_smime_classify(e, &declared)):
 *       MIME_SMIME_NONE:   e is the innermost entity: stop.
 *       MIME_SMIME_SIGNED: s = mime_signed_new(e); verify s->signature over
 *                          s->canonical, and if that fails and s->canonical_differs,
 *                          over s->content_bytes; e = s->content (same tree).
 *       MIME_SMIME_PKCS7:  p = mime_pkcs7_new(e); by p->type: decrypt or verify
 *                          p->der; parse the plaintext or the encapsulated content
 *                          with mime_parse_take; e = its root. certs-only: stop.
 *
 * Only the entity given is classified: a pkcs7-mime attachment inside multipart/mixed
 * is an attachment, not a layer (Thunderbird agrees: see the corpus test), and a
 * multipart/signed with another protocol (OpenPGP) is MIME_SMIME_NONE. */
#ifndef SMIMED_MIME_SMIME_H
#define SMIMED_MIME_SMIME_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/mime/mime_parse.h"

/* MIME_SMIME_KIND is what mime_smime_classify says an entity is. */
typedef enum mime_smime_kind_t {
  /* MIME_SMIME_NONE: not S/MIME (including multipart/signed with a non-S/MIME
   * protocol). */
  MIME_SMIME_NONE = 0,
  /* MIME_SMIME_SIGNED: multipart/signed with protocol application/pkcs7-signature or
   * application/x-pkcs7-signature, or with no protocol (as Outlook sometimes sends
   * it) and a second part that is a PKCS #7 signature by type or by file name. */
  MIME_SMIME_SIGNED,
  /* MIME_SMIME_PKCS7: application/pkcs7-mime or application/x-pkcs7-mime, or
   * application/octet-stream named *.p7m, *.p7s or *.p7c (smime.p7m attachments). */
  MIME_SMIME_PKCS7,
} MIME_SMIME_KIND;

/* MIME_CMS_TYPE is the type of a CMS object, as declared by smime-type or the file
 * name, or as sniffed from the ContentInfo. */
typedef enum mime_cms_type_t {
  MIME_CMS_UNKNOWN = 0,
  MIME_CMS_DATA,
  MIME_CMS_SIGNED_DATA,
  MIME_CMS_ENVELOPED_DATA,
  MIME_CMS_AUTH_ENVELOPED_DATA,
  MIME_CMS_COMPRESSED_DATA,
  /* MIME_CMS_CERTS_ONLY is only ever declared (smime-type=certs-only, *.p7c): the
   * object itself is a SignedData without signers. */
  MIME_CMS_CERTS_ONLY,
} MIME_CMS_TYPE;

/* mime_cms_type_name returns the smime-type spelling of |t| ("signed-data",
 * "authEnveloped-data", ...; "unknown", "data"). */
const char *mime_cms_type_name(MIME_CMS_TYPE t);

/* mime_smime_classify says what |e| is. For MIME_SMIME_PKCS7 it sets |*declared| (if
 * not NULL) from the smime-type parameter (case-insensitive) or the file name
 * extension, MIME_CMS_UNKNOWN when neither tells; otherwise to MIME_CMS_UNKNOWN. It
 * decodes nothing and cannot fail. */
MIME_SMIME_KIND mime_smime_classify(const MIME_ENTITY *e, MIME_CMS_TYPE *declared);

/* mime_smime_sniff returns the content type of the CMS ContentInfo at the start of
 * |der| (BER or DER, definite or indefinite length) by comparing its contentType OID
 * with the known ones; MIME_CMS_UNKNOWN when it is none of them or not a ContentInfo.
 * A hint for dispatch: the CMS parser must still check everything. */
MIME_CMS_TYPE mime_smime_sniff(const uint8_t *der, size_t len);

/* MIME_SIGNED is a multipart/signed entity taken apart. */
typedef struct mime_signed_st {
  /* content and signature_part are the first two parts (in the caller's tree). */
  const MIME_ENTITY *content;
  const MIME_ENTITY *signature_part;
  /* content_bytes are the signed content exactly as received (header and body of the
   * first part, without the line end before the next delimiter): they point into the
   * tree's data. */
  const uint8_t *content_bytes;
  size_t content_len;
  /* canonical is the same with every bare LF turned into CRLF. RFC 8551 senders sign
   * the CRLF form, and a message that arrives with bare LF was almost always
   * converted after signing (by a delivery agent or a Unix mail store), so verify over
   * |canonical| first, and over |content_bytes| only if that fails and
   * |canonical_differs| (a few broken senders hash what they store). When the content
   * is already CRLF, |canonical| == |content_bytes|. */
  const uint8_t *canonical;
  size_t canonical_len;
  int canonical_differs;
  /* signature is the second part decoded (a BER/DER ContentInfo, normally
   * SignedData), owned by this structure. */
  uint8_t *signature;
  size_t signature_len;
  /* micalg and protocol are the Content-Type parameters as received, or NULL. */
  const char *micalg;
  const char *protocol;
  /* owned_canonical is private: |canonical| when it was allocated. */
  uint8_t *owned_canonical;
} MIME_SIGNED;

/* mime_signed_new takes multipart/signed |e| apart. Fails with INVALID_ARGUMENT when
 * |e| is not S/MIME multipart/signed, has fewer than two parts, or the signature part
 * is empty or cannot be decoded (the message says which and where). A third and later
 * part is ignored. The result points into |e|'s tree, which must outlive it. */
MIME_SIGNED *mime_signed_new(const MIME_ENTITY *e, STATUS *err);

/* mime_signed_free frees |s|. Accepts NULL. */
void mime_signed_free(MIME_SIGNED *s);

/* MIME_PKCS7 is an application/pkcs7-mime entity decoded. */
typedef struct mime_pkcs7_st {
  /* der is the decoded body (BER or DER), owned by this structure. */
  uint8_t *der;
  size_t der_len;
  /* declared is what smime-type or the file name said; sniffed what the ContentInfo
   * says; type is |sniffed| when known (the data decides, since senders mislabel),
   * else |declared|, except that a declared certs-only stays certs-only when the data
   * is a SignedData. */
  MIME_CMS_TYPE declared;
  MIME_CMS_TYPE sniffed;
  MIME_CMS_TYPE type;
} MIME_PKCS7;

/* mime_pkcs7_new decodes pkcs7-mime |e|. Besides the transfer encoding it declares,
 * a body declared 7bit (or without encoding) that is entirely base64 text is decoded
 * as base64, as some gateways drop the Content-Transfer-Encoding field. Fails with
 * INVALID_ARGUMENT when |e| is not MIME_SMIME_PKCS7, its body is empty or cannot be
 * decoded. */
MIME_PKCS7 *mime_pkcs7_new(const MIME_ENTITY *e, STATUS *err);

/* mime_pkcs7_free frees |p|. Accepts NULL. */
void mime_pkcs7_free(MIME_PKCS7 *p);

#endif /* SMIMED_MIME_SMIME_H */
