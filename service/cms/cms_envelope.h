/* cms_envelope.h: encrypting for recipients: CMS EnvelopedData (RFC 5652 section 6)
 * with AES-CBC, or AuthEnvelopedData (RFC 5083/5084) with AES-GCM. Only public keys are
 * needed, so all of it runs in the engine in one call.
 *
 * Recipients: RSA keys get a KeyTransRecipientInfo (rsaEncryption, i.e. PKCS#1 v1.5, or
 * id-RSAES-OAEP); EC keys (P-256, P-384, P-521) a KeyAgreeRecipientInfo per RFC 5753:
 * ephemeral-static ECDH with an originatorKey (id-ecPublicKey, parameters absent, as
 * OpenSSL writes it), no ukm, dhSinglePass-stdDH-sha256kdf-scheme for P-256 (sha384kdf
 * for P-384, sha512kdf for P-521) and AES key wrap of the content key's size
 * (id-aes128-wrap for a 128-bit key, ...), as `openssl cms -encrypt` chooses it. The
 * recipient is named by issuerAndSerialNumber (default) or subjectKeyIdentifier. */
#ifndef SMIMED_CMS_ENVELOPE_H
#define SMIMED_CMS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "service/cms/cms_types.h"
#include "service/common/status.h"

/* CMS_RECIPIENT is one recipient of cms_envelope. */
typedef struct cms_recipient_st {
  const uint8_t *cert;  /* DER certificate (RSA or EC key) */
  size_t cert_len;
  int key_method;       /* RSA keys: CMS_KEY_RSA_PKCS1 (default when 0) or
                         * CMS_KEY_RSA_OAEP; EC keys always use CMS_KEY_ECDH */
  int oaep_md;          /* RSAES-OAEP hash, MGF1 with the same: CMS_MD_SHA1 (default
                         * when 0: the RFC 3560 defaults, empty parameters), SHA-256,
                         * SHA-384 or SHA-512 */
  int use_ski;          /* 1: name the recipient by subjectKeyIdentifier (the
                         * certificate must have one) */
} CMS_RECIPIENT;

/* CMS_ENVELOPE_OPTIONS: zero means the default. */
typedef struct cms_envelope_options_st {
  int cipher; /* CMS_CIPHER_AES256_CBC (default), AES128_CBC, AES192_CBC: EnvelopedData;
               * AES128_GCM, AES256_GCM: AuthEnvelopedData (12-byte nonce, 16-byte tag) */
} CMS_ENVELOPE_OPTIONS;

/* CMS_ENVELOPE_MAX_RECIPIENTS bounds one message's recipients. */
#define CMS_ENVELOPE_MAX_RECIPIENTS 256

/* cms_envelope encrypts |content| (for S/MIME: the MIME entity, id-data) for
 * |recipients| with a fresh random content key and writes the DER ContentInfo to
 * |*out| (free with OPENSSL_free). Returns 1, or 0 with |err|: INVALID_ARGUMENT naming
 * the recipient (by index) whose certificate or key cannot be used. */
int cms_envelope(const uint8_t *content, size_t content_len, const CMS_RECIPIENT *recipients,
                 size_t num_recipients, const CMS_ENVELOPE_OPTIONS *options, uint8_t **out,
                 size_t *out_len, STATUS *err);

#endif /* SMIMED_CMS_ENVELOPE_H */
