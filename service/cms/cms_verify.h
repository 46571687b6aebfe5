/* cms_verify.h: checking CMS SignedData (RFC 5652 section 5), detached or opaque, as
 * received from any mail client: BER with indefinite lengths and chunked content is
 * accepted and the content is hashed exactly as received (never re-encoded); signed
 * attributes are hashed as received (their [0] tag replaced by SET OF, order kept).
 *
 * This library answers the cryptographic question only: does each SignerInfo verify
 * with a certificate that matches it, over this content. Trust (a chain to an anchor),
 * validity dates, key usage, the signer's address and weak-algorithm policy belong to
 * the caller, who gets the signer certificate, the carried certificates, the
 * algorithms and the signing time to decide them. */
#ifndef SMIMED_CMS_VERIFY_H
#define SMIMED_CMS_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "service/cms/cms_types.h"
#include "service/common/status.h"

/* CMS_SIGNER_* are the outcomes for one SignerInfo. */
enum {
  CMS_SIGNER_VALID = 1,       /* the signature and the content digest verify */
  CMS_SIGNER_INVALID = 2,     /* the content or the signature does not match */
  CMS_SIGNER_MALFORMED = 3,   /* this SignerInfo is malformed or inconsistent */
  CMS_SIGNER_NO_CERT = 4,     /* no carried or given certificate matches its sid */
  CMS_SIGNER_UNSUPPORTED = 5, /* a digest or signature algorithm we do not implement */
  CMS_SIGNER_UNCHECKED = 6,   /* cms_verify_outline: well-formed, not verified */
};

/* CMS_SIGNER_RESULT is the outcome for one SignerInfo. */
typedef struct cms_signer_result_st {
  int status;              /* CMS_SIGNER_* */
  char reason[256];        /* for a person; empty when valid */
  CMS_BYTES cert;          /* the DER certificate whose key verifies the signature; when
                            * none does, the first that matches the sid; else empty */
  int md;                  /* digestAlgorithm, CMS_MD_* (NONE if unknown) */
  int sig_scheme;          /* CMS_SIG_* (NONE if unknown) */
  int sig_md;              /* the hash the signature was made with (usually == md) */
  int key_bits;            /* size of the signer's key, 0 when no certificate */
  int has_signing_time;
  int64_t signing_time;    /* seconds since 1970, UTC, when has_signing_time */
  int sid_is_ski;          /* the sid: subjectKeyIdentifier ... */
  CMS_BYTES sid_ski;
  CMS_BYTES sid_issuer;    /* ... or issuer Name (DER) and serial (INTEGER contents) */
  CMS_BYTES sid_serial;
} CMS_SIGNER_RESULT;

/* CMS_VERIFY_RESULT is the outcome for one SignedData. */
typedef struct cms_verify_result_st {
  CMS_SIGNER_RESULT *signers; /* one per SignerInfo, in order */
  size_t num_signers;
  CMS_BYTES *certs;           /* every certificate carried in the message, DER */
  size_t num_certs;
  int has_content;            /* the message carried its content (opaque) ... */
  CMS_BYTES content;          /* ... these bytes (chunks joined) */
  int econtent_is_data;       /* eContentType is id-data */
  char econtent_type[64];     /* eContentType, dotted */
} CMS_VERIFY_RESULT;

/* cms_verify_result_free frees |res| and everything in it; NULL is allowed. */
void cms_verify_result_free(CMS_VERIFY_RESULT *res);

/* CMS_VERIFY_MAX_SIGNERS and CMS_VERIFY_MAX_CERTS bound the work one message can cause
 * (each signer may try each matching certificate). */
#define CMS_VERIFY_MAX_SIGNERS 16
#define CMS_VERIFY_MAX_CERTS 256

/* CMS_VERIFY_MAX_CANDIDATES bounds the certificates tried for one signer (those that
 * match its sid), so that a message full of look-alikes costs a few public-key
 * operations, not hundreds. */
#define CMS_VERIFY_MAX_CANDIDATES 8

/* cms_verify checks the SignedData ContentInfo |in| (BER or DER). |detached| is the
 * signed content for a detached signature (for S/MIME: the exact bytes of the first
 * part of multipart/signed); NULL for an opaque one. When both are there, |detached| is
 * what is verified and an eContent that differs from it makes every signer invalid
 * (what is shown must be what was signed). |extra_certs| are more DER certificates to
 * find signers among (e.g. the store's). On success |*out| holds one result per
 * SignerInfo (each may be invalid: that is not an error here). Returns 0 with
 * INVALID_ARGUMENT when |in| is not a well-formed SignedData (malformed), or
 * RESOURCE_EXHAUSTED over the limits above. */
int cms_verify(const uint8_t *in, size_t in_len, const uint8_t *detached,
               size_t detached_len, const CMS_BUF *extra_certs, size_t num_extra_certs,
               CMS_VERIFY_RESULT **out, STATUS *err);

/* cms_verify_outline is cms_verify without the cryptography, for a caller that needs
 * only to know who signed before verifying (which certificates to look up): the same
 * structure checks and errors, limits, signer identifiers, algorithms, signing times,
 * carried certificates and content; no certificate is parsed, no digest computed and
 * no signature checked, so each well-formed SignerInfo is CMS_SIGNER_UNCHECKED (one
 * that is malformed or names an algorithm we lack says so, as with cms_verify) and
 * |cert| and |key_bits| are empty. */
int cms_verify_outline(const uint8_t *in, size_t in_len, const uint8_t *detached,
                       size_t detached_len, CMS_VERIFY_RESULT **out, STATUS *err);

#endif /* SMIMED_CMS_VERIFY_H */
