/* cms_keystore_ops.h: the private-key halves of CMS, linked by the keystore process.
 *
 * The engine parses and builds CMS; the keystore holds the private keys and runs only
 * these functions. Their inputs are plain values that the engine extracted (numbers,
 * byte strings): nothing here parses ASN.1 from a message, so untrusted encodings stay
 * in the engine (DESIGN.md section 2). Each function validates sizes against the key
 * and algorithm, as the keystore must ("digest length matches the algorithm").
 *
 * Signing: the keystore receives CMS_SIGN_REQUEST's scheme, hash and input (see
 * cms_sign.h): for RSA PKCS#1 v1.5, RSASSA-PSS and ECDSA the input is the digest of the
 * DER signed attributes; for Ed25519 it is the DER signed attributes themselves (a few
 * hundred bytes; Ed25519 does not sign digests).
 *
 * Decryption: the keystore receives a CMS_UNWRAP_REQUEST (filled by
 * cms_envelope_unwrap_request from a parsed message) and returns the content-encryption
 * key (CEK) only: for RSA it decrypts encryptedKey; for ECDH it computes the shared
 * secret Z with the originator's ephemeral public key, derives the key-encryption key
 * with the X9.63 KDF and unwraps encryptedKey with AES key wrap. Z and the KEK never
 * leave the keystore; the engine needs the CEK anyway to decrypt the content. */
#ifndef SMIMED_CMS_KEYSTORE_OPS_H
#define SMIMED_CMS_KEYSTORE_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "service/cms/cms_types.h"
#include "service/common/status.h"

/* CMS_DECRYPT_FAILED is the one message of every failed decryption, whatever the cause
 * (wrong key, bad padding, bad key-wrap check, bad tag): a caller must not be able to
 * tell them apart (padding oracles). The STATUS code is then STATUS_DATA_LOSS. */
#define CMS_DECRYPT_FAILED "decryption failed"

/* CMS_MAX_CEK_LEN is the longest content-encryption key (AES-256). */
#define CMS_MAX_CEK_LEN 32

/* cms_keystore_sign signs |in| with |key|: |scheme| is a CMS_SIG_*, |md| a CMS_MD_*
 * (SHA-256/384/512). For RSA PKCS#1 v1.5, RSASSA-PSS (MGF1 with |md|, salt length =
 * digest length) and ECDSA, |in| must be a digest of |md|'s length. For Ed25519 |in| is
 * the message and |md| must be SHA-512 (the digestAlgorithm RFC 8419 pairs with it).
 * On success |*out_sig| (free with OPENSSL_free) holds the signature: PKCS#1 or PSS
 * octets, a DER ECDSA-Sig-Value, or 64 Ed25519 bytes. */
int cms_keystore_sign(EVP_PKEY *key, int scheme, int md, const uint8_t *in, size_t in_len,
                      uint8_t **out_sig, size_t *out_sig_len, STATUS *err);

/* CMS_UNWRAP_REQUEST is what the keystore needs to recover one CEK. The byte ranges are
 * borrowed (from the IPC request in the keystore, from a CMS_ENVELOPE in the engine). */
typedef struct cms_unwrap_request_st {
  int method;             /* CMS_KEY_RSA_PKCS1, CMS_KEY_RSA_OAEP or CMS_KEY_ECDH */
  size_t cek_len;         /* the content cipher's key length: 16, 24 or 32 */
  CMS_BUF encrypted_key;  /* RSA: the ciphertext; ECDH: the AES-wrapped CEK */
  int oaep_md;            /* RSAES-OAEP: hash (CMS_MD_*) */
  int mgf1_md;            /* RSAES-OAEP: MGF1 hash */
  CMS_BUF oaep_label;     /* RSAES-OAEP: label (pSpecified), empty for none */
  CMS_BUF peer_point;     /* ECDH: originator's ephemeral public key, X9.62 octets */
  int kdf_md;             /* ECDH: X9.63 KDF hash */
  size_t kek_len;         /* ECDH: AES key-wrap key length: 16, 24 or 32 */
  CMS_BUF shared_info;    /* ECDH: DER ECC-CMS-SharedInfo (KDF input) */
} CMS_UNWRAP_REQUEST;

/* cms_keystore_unwrap_cek recovers the CEK of |req| with |key| into |out_cek|, which
 * has room for |req->cek_len| bytes; it dispatches to the two functions below. Returns
 * 1, or 0 with STATUS_INVALID_ARGUMENT (request does not fit the key: a protocol
 * error) or STATUS_DATA_LOSS and CMS_DECRYPT_FAILED. */
int cms_keystore_unwrap_cek(EVP_PKEY *key, const CMS_UNWRAP_REQUEST *req, uint8_t *out_cek,
                            STATUS *err);

/* cms_rsa_decrypt_cek decrypts an RSA key-transport encryptedKey. For PKCS#1 v1.5 it
 * uses implicit rejection: the padding is checked in constant time and a random CEK is
 * returned (with success) when it is wrong or the key length is not |req->cek_len|, so
 * a wrong key or a forged ciphertext surfaces only later, when the content fails to
 * decrypt, as the one CMS_DECRYPT_FAILED result (Bleichenbacher). OAEP failures return
 * 0 with CMS_DECRYPT_FAILED. */
int cms_rsa_decrypt_cek(EVP_PKEY *key, const CMS_UNWRAP_REQUEST *req, uint8_t *out_cek,
                        STATUS *err);

/* cms_ecdh_unwrap_cek computes Z = ECDH(key, req->peer_point) (cofactor 1 curves: the
 * standard and cofactor schemes agree), KEK = X9.63-KDF(req->kdf_md, Z,
 * req->shared_info) and the CEK = AES-key-unwrap(KEK, req->encrypted_key). The point is
 * checked to be on the key's curve. Z and the KEK are cleansed. */
int cms_ecdh_unwrap_cek(EVP_PKEY *key, const CMS_UNWRAP_REQUEST *req, uint8_t *out_cek,
                        STATUS *err);

#endif /* SMIMED_CMS_KEYSTORE_OPS_H */
