/* cms_sign.h: CMS SignedData (RFC 5652 section 5) for S/MIME (RFC 8551), built in two
 * steps around the private-key operation, which happens in another process:
 *
 *   engine:   cms_sign_prepare(content, options, signer cert, chain, time)
 *               -> CMS_SIGN_REQUEST { scheme, md, tbs, digest, state }
 *   keystore: signature = cms_keystore_sign(key, scheme, md, digest)   (Ed25519: tbs)
 *   engine:   cms_sign_finish(state, content, signature) -> DER ContentInfo
 *
 * What the keystore signs: the DER encoding of the signed attributes as a SET OF
 * (tag 0x31; RFC 5652 section 5.4), |tbs|. RSA PKCS#1 v1.5, RSASSA-PSS and ECDSA sign
 * |digest| = md(tbs) (the keystore never sees the message); Ed25519 signs |tbs| itself.
 * The state is plain bytes (a DER structure of our own) so it can travel between
 * processes with the request; nothing in it is secret.
 *
 * The SignedData: version 1; digestAlgorithms { md }; encapContentInfo id-data with
 * the content as eContent (opaque) or without (detached); certificates [0] the signer's
 * and the given chain (DER SET OF order); one SignerInfo, version 1, sid
 * issuerAndSerialNumber, signed attributes contentType, signingTime, messageDigest and
 * smimeCapabilities (DER SET OF order), signatureAlgorithm rsaEncryption (PKCS#1 v1.5,
 * as OpenSSL and NSS write it), RSASSA-PSS (MGF1 same hash, salt = hash length),
 * ecdsa-with-SHA256/384/512 or id-Ed25519 (with SHA-512). */
#ifndef SMIMED_CMS_SIGN_H
#define SMIMED_CMS_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "service/cms/cms_types.h"
#include "service/common/status.h"

/* CMS_SIGN_OPTIONS: zero means the default for each field. */
typedef struct cms_sign_options_st {
  int md;       /* CMS_MD_SHA256 (default), CMS_MD_SHA384, CMS_MD_SHA512; Ed25519
                 * keys always use SHA-512 */
  int rsa_pss;  /* 1: RSASSA-PSS for an RSA key; default PKCS#1 v1.5. Ignored for EC. */
  int opaque;   /* 1: the content goes inside (eContent); default detached */
  int no_smime_capabilities; /* 1: leave out the smimeCapabilities attribute */
} CMS_SIGN_OPTIONS;

/* CMS_SIGN_REQUEST is what cms_sign_prepare hands back: the keystore's input and the
 * state that cms_sign_finish needs. */
typedef struct cms_sign_request_st {
  int scheme;          /* CMS_SIG_*, from the signer's key type and the options */
  int md;              /* CMS_MD_* */
  uint8_t *tbs;        /* DER signed attributes, SET OF (0x31) */
  size_t tbs_len;
  uint8_t digest[64];  /* md(tbs): what RSA and ECDSA sign */
  size_t digest_len;
  uint8_t *state;      /* opaque; give it back to cms_sign_finish */
  size_t state_len;
} CMS_SIGN_REQUEST;

/* cms_sign_request_free frees |req| and what it holds; NULL is allowed. */
void cms_sign_request_free(CMS_SIGN_REQUEST *req);

/* cms_sign_prepare computes the digest of |content| (the exact bytes to be signed: for
 * S/MIME the canonical MIME entity), builds the signed attributes with |signing_time|
 * (seconds since 1970, UTC), and returns the request in |*out|. |signer_cert| is the
 * signer's DER certificate (RSA, EC P-256/P-384/P-521 or Ed25519 key) and |chain| the
 * DER certificates to carry with it (intermediates; may be empty). Returns 1, or 0 with
 * |err| (INVALID_ARGUMENT: bad certificate, key type or option). */
int cms_sign_prepare(const uint8_t *content, size_t content_len,
                     const CMS_SIGN_OPTIONS *options, const uint8_t *signer_cert,
                     size_t signer_cert_len, const CMS_BUF *chain, size_t num_chain,
                     int64_t signing_time, CMS_SIGN_REQUEST **out, STATUS *err);

/* cms_sign_finish checks |signature| against the signer certificate (a key that does
 * not match the certificate, or a faulty signature, is refused: INTERNAL) and writes
 * the DER ContentInfo to |*out| (free with OPENSSL_free). |content| must be the same
 * bytes given to cms_sign_prepare, checked against the digest the state holds
 * (INVALID_ARGUMENT when they differ), and goes inside for an opaque signature: one
 * digest of the content per step, the one the signature needs. Returns 1, or 0 with
 * |err|. */
int cms_sign_finish(const uint8_t *state, size_t state_len, const uint8_t *content,
                    size_t content_len, const uint8_t *signature, size_t signature_len,
                    uint8_t **out, size_t *out_len, STATUS *err);

#endif /* SMIMED_CMS_SIGN_H */
