/* cms_decrypt.h: opening CMS EnvelopedData and AuthEnvelopedData, split around the
 * private-key operation, which happens in the keystore:
 *
 *   engine:   env = cms_envelope_parse(BER message)
 *             for a recipient i whose rid matches a certificate we hold a key for
 *             (cms_recipient_matches_cert): cms_envelope_unwrap_request(env, i, &req)
 *   keystore: cek = cms_keystore_unwrap_cek(key, &req)      (cms_keystore_ops.h)
 *   engine:   plaintext = cms_envelope_decrypt(env, cek)
 *
 * Input: BER as any client writes it (indefinite lengths, chunked encryptedContent),
 * KeyTransRecipientInfo (rsaEncryption, RSAES-OAEP with any hash, MGF1 hash and label),
 * KeyAgreeRecipientInfo with an ephemeral originatorKey (dhSinglePass-stdDH and
 * -cofactorDH with SHA-1/224/256/384/512 KDF, AES-128/192/256 key wrap), content
 * ciphers AES-128/192/256-CBC, DES-EDE3-CBC (old mail), AES-128/192/256-GCM.
 * Other recipient types are listed as unsupported, not refused.
 *
 * Failure: a wrong key, bad padding, a bad key-wrap check or a bad GCM tag all give the
 * same result, STATUS_DATA_LOSS with CMS_DECRYPT_FAILED (cms_keystore_ops.h), so that no
 * one can use us as a padding oracle. */
#ifndef SMIMED_CMS_DECRYPT_H
#define SMIMED_CMS_DECRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "service/cms/cms_keystore_ops.h"
#include "service/cms/cms_types.h"
#include "service/common/status.h"

/* CMS_RI_* are the RecipientInfo types. */
enum {
  CMS_RI_KTRI = 1,  /* KeyTransRecipientInfo */
  CMS_RI_KARI = 2,  /* one RecipientEncryptedKey of a KeyAgreeRecipientInfo */
  CMS_RI_OTHER = 3, /* kekri, pwri, ori: listed, not supported */
};

/* CMS_RECIPIENT_INFO is one recipient of a parsed message. Its byte ranges point into
 * the CMS_ENVELOPE that holds it. */
typedef struct cms_recipient_info_st {
  int type;               /* CMS_RI_* */
  int method;             /* CMS_KEY_*; CMS_KEY_NONE when unsupported (see reason) */
  char reason[128];       /* why unsupported, else empty */
  int rid_is_ski;         /* the recipient: subjectKeyIdentifier ... */
  CMS_BUF rid_ski;
  CMS_BUF rid_issuer;     /* ... or issuer Name (DER) and serial (INTEGER contents) */
  CMS_BUF rid_serial;
  CMS_BUF encrypted_key;
  int oaep_md;            /* RSAES-OAEP parameters */
  int mgf1_md;
  CMS_BUF oaep_label;
  CMS_BUF originator_point; /* ECDH: the originator's ephemeral public key (X9.62) */
  CMS_BUF ukm;              /* ECDH: user keying material, usually empty */
  int kdf_md;               /* ECDH: KDF hash */
  size_t kek_len;           /* ECDH: key-wrap key length */
  CMS_BUF shared_info;      /* ECDH: ECC-CMS-SharedInfo for the KDF (built here) */
  uint8_t *owned_ski;       /* storage (internal) */
  uint8_t *owned_shared_info;
} CMS_RECIPIENT_INFO;

/* CMS_ENVELOPE is a parsed EnvelopedData or AuthEnvelopedData. */
typedef struct cms_envelope_st {
  int auth;                 /* 1: AuthEnvelopedData */
  int cipher;               /* CMS_CIPHER_*; CMS_CIPHER_NONE when unsupported */
  char cipher_oid[64];      /* the content cipher, dotted (for messages) */
  CMS_BUF iv;               /* CBC IV or GCM nonce */
  size_t tag_len;           /* GCM */
  CMS_BUF tag;              /* GCM: the mac */
  CMS_BUF aad;              /* GCM: authAttrs as DER SET OF, empty when absent */
  CMS_BUF encrypted_content; /* chunks joined */
  int content_is_data;      /* the encrypted content type is id-data */
  char content_type[64];    /* dotted */
  CMS_RECIPIENT_INFO *recipients;
  size_t num_recipients;
  uint8_t *owned_der;       /* storage (internal) */
  uint8_t *owned_content;
  uint8_t *owned_aad;
} CMS_ENVELOPE;

/* CMS_DECRYPT_MAX_RECIPIENTS bounds the recipients one message may list. */
#define CMS_DECRYPT_MAX_RECIPIENTS 1024

/* cms_envelope_free frees |env|; NULL is allowed. */
void cms_envelope_free(CMS_ENVELOPE *env);

/* cms_envelope_parse parses the ContentInfo |in| (BER or DER; copied, |in| need not
 * outlive the result). Returns 1 with |*out|, or 0 with INVALID_ARGUMENT when |in| is
 * not a well-formed EnvelopedData or AuthEnvelopedData (malformed), RESOURCE_EXHAUSTED
 * over the limit above. An unsupported content cipher or recipient type is not an error
 * here (see the cipher and method fields). */
int cms_envelope_parse(const uint8_t *in, size_t in_len, CMS_ENVELOPE **out, STATUS *err);

/* cms_recipient_matches_cert returns 1 if recipient |i| of |env| names the DER
 * certificate |cert| (issuer and serial, or subject key identifier). */
int cms_recipient_matches_cert(const CMS_ENVELOPE *env, size_t i, const uint8_t *cert,
                               size_t cert_len);

/* cms_envelope_unwrap_request fills |out| with what the keystore needs to recover the
 * content key for recipient |i|; its byte ranges point into |env|. Returns 0 with
 * UNIMPLEMENTED when the recipient or the content cipher is unsupported. */
int cms_envelope_unwrap_request(const CMS_ENVELOPE *env, size_t i, CMS_UNWRAP_REQUEST *out,
                                STATUS *err);

/* cms_envelope_decrypt decrypts the content with |cek| into |*out| (free with
 * OPENSSL_free). Returns 1, or 0 with STATUS_DATA_LOSS and CMS_DECRYPT_FAILED for a
 * wrong key, bad padding or bad tag alike, or UNIMPLEMENTED for an unsupported cipher. */
int cms_envelope_decrypt(const CMS_ENVELOPE *env, const uint8_t *cek, size_t cek_len,
                         uint8_t **out, size_t *out_len, STATUS *err);

#endif /* SMIMED_CMS_DECRYPT_H */
