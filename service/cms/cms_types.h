/* cms_types.h: the vocabulary shared by the CMS modules and their callers (the engine,
 * and the keystore through cms_keystore_ops.h): algorithm numbers that cross process
 * boundaries as plain integers, and a borrowed byte range. No ASN.1 and no BoringSSL
 * types here, so that IPC code can include it. */
#ifndef SMIMED_CMS_TYPES_H
#define SMIMED_CMS_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* CMS_MD_* name digest algorithms. The values are stable: they travel over IPC. */
enum {
  CMS_MD_NONE = 0,
  CMS_MD_MD5 = 1,
  CMS_MD_SHA1 = 2,
  CMS_MD_SHA224 = 3,
  CMS_MD_SHA256 = 4,
  CMS_MD_SHA384 = 5,
  CMS_MD_SHA512 = 6,
};

/* CMS_SIG_* name signature schemes; the hash is a separate CMS_MD_*. */
enum {
  CMS_SIG_NONE = 0,
  CMS_SIG_RSA_PKCS1 = 1, /* RSASSA-PKCS1-v1_5 over a digest */
  CMS_SIG_RSA_PSS = 2,   /* RSASSA-PSS over a digest */
  CMS_SIG_ECDSA = 3,     /* ECDSA over a digest, DER Ecdsa-Sig-Value */
  CMS_SIG_ED25519 = 4,   /* pure Ed25519 over the to-be-signed bytes themselves */
};

/* CMS_CIPHER_* name content-encryption algorithms. */
enum {
  CMS_CIPHER_NONE = 0,
  CMS_CIPHER_AES128_CBC = 1,
  CMS_CIPHER_AES192_CBC = 2,
  CMS_CIPHER_AES256_CBC = 3,
  CMS_CIPHER_AES128_GCM = 4, /* AuthEnvelopedData */
  CMS_CIPHER_AES192_GCM = 5, /* AuthEnvelopedData, decrypt only */
  CMS_CIPHER_AES256_GCM = 6, /* AuthEnvelopedData */
  CMS_CIPHER_DES_EDE3_CBC = 7, /* legacy, decrypt only */
};

/* CMS_KEY_* name how a content-encryption key (CEK) is protected for one recipient. */
enum {
  CMS_KEY_NONE = 0,
  CMS_KEY_RSA_PKCS1 = 1, /* KeyTransRecipientInfo, rsaEncryption (PKCS#1 v1.5) */
  CMS_KEY_RSA_OAEP = 2,  /* KeyTransRecipientInfo, id-RSAES-OAEP */
  CMS_KEY_ECDH = 3,      /* KeyAgreeRecipientInfo, ephemeral-static ECDH, X9.63 KDF,
                          * AES key wrap (RFC 5753) */
};

/* CMS_BUF is a borrowed byte range (never owned by whoever holds the CMS_BUF). */
typedef struct cms_buf_st {
  const uint8_t *data;
  size_t len;
} CMS_BUF;

/* CMS_BYTES is an owned byte string (freed by whoever frees the structure holding it,
 * with OPENSSL_free). */
typedef struct cms_bytes_st {
  uint8_t *data;
  size_t len;
} CMS_BYTES;

/* cms_md_name returns "SHA-256" etc. for a CMS_MD_*, "unknown" for others. */
const char *cms_md_name(int md);

/* cms_md_size returns the output length of a CMS_MD_* in bytes, 0 for others. */
size_t cms_md_size(int md);

/* cms_sig_name returns "RSA PKCS#1 v1.5" etc. for a CMS_SIG_*. */
const char *cms_sig_name(int scheme);

/* cms_cipher_name returns "AES-256-CBC" etc. for a CMS_CIPHER_*. */
const char *cms_cipher_name(int cipher);

/* cms_cipher_key_len returns the key length in bytes of a CMS_CIPHER_*, 0 for others. */
size_t cms_cipher_key_len(int cipher);

/* cms_cipher_is_aead returns 1 for the GCM ciphers (AuthEnvelopedData), else 0. */
int cms_cipher_is_aead(int cipher);

/* cms_key_name returns "RSA PKCS#1 v1.5" etc. for a CMS_KEY_*. */
const char *cms_key_name(int method);

#endif /* SMIMED_CMS_TYPES_H */
